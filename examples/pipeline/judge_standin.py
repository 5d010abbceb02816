#!/usr/bin/env python3
"""judge_standin.py -- a local stand-in for stage 5's judge: an
OpenAI-compatible chat-completions server on 127.0.0.1 that answers the
judge plugin's score_10 rubric for the demo's addition task, so that
r1.lua runs end to end on a machine with no LLM to serve.

It is a rule, not a model: it reads the <reference> and the <response> of
the rubric prompt (the judge plugin sends the response after its </think>,
with its tags escaped as &lt;answer>), takes the response's final answer
(the last \\boxed{...}, else the text of the last answer tag), and replies
with a short explanation and "Score: N" on its last line:
  10  the final answer, in \\boxed{} inside the answer tag, equals the reference;
   6  it equals the reference but is not boxed inside the answer tag;
   1  a wrong or missing final answer (the rubric's own words).
Anything it cannot read (no rubric tags, bad JSON) gets a 400 reply, which
the judge plugin turns into an abstention, never a score. GET /stats gives
the number of requests and of each score. Standard library only.

usage: judge_standin.py [PORT] [PORT_FILE]   (PORT 8000, mix_all.lua's; 0: any
free port, written to PORT_FILE)
"""
import json
import re
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BOXED = re.compile(r"\\boxed\{([^{}]*)\}")
ANSWER = re.compile(r"(?:<|&lt;)answer>(.*?)(?:<|&lt;)/answer>", re.S)
MAX_BODY = 1 << 20


def tagged(text, tag):
    m = re.search(r"<%s>\n?(.*?)\n?</%s>" % (tag, tag), text, re.S)
    return m.group(1) if m else None


def norm(s):
    return re.sub(r"\s+", "", s or "")


def grade(reference, response):
    """(score, explanation) of a response against the reference."""
    tags = ANSWER.findall(response)
    inside = tags[-1] if tags else ""
    boxed_inside = BOXED.findall(inside)
    boxed_any = BOXED.findall(response)
    final = boxed_inside[-1] if boxed_inside else (boxed_any[-1] if boxed_any else inside.strip())
    if not final:
        return 1, "The response gives no final answer."
    if norm(final) != norm(reference):
        return 1, "The final answer %s differs from the reference %s." % (final[:40], reference[:40])
    if boxed_inside:
        return 10, "The final answer %s matches the reference, boxed in the answer tag." % final[:40]
    return 6, "The final answer %s matches the reference but is not boxed inside the answer tag." % final[:40]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/").endswith("/stats"):
            with self.server.lock:
                return self.reply(200, dict(self.server.stats))
        self.reply(404, {"error": {"message": "no such route"}})

    def do_POST(self):
        try:
            n = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            n = -1
        if n < 0 or n > MAX_BODY:
            self.close_connection = True
            return self.reply(413, {"error": {"message": "body too large or without a length"}})
        body = self.rfile.read(n)
        if not self.path.endswith("/chat/completions"):
            return self.reply(404, {"error": {"message": "no such route"}})
        try:
            req = json.loads(body)
            prompt = "\n".join(m["content"] for m in req["messages"] if isinstance(m.get("content"), str))
            model = req.get("model", "stand-in")
        except (ValueError, KeyError, TypeError, AttributeError):
            return self.reply(400, {"error": {"message": "not a chat-completions request"}})
        reference, response = tagged(prompt, "reference"), tagged(prompt, "response")
        if reference is None or response is None or "Score: N" not in prompt:
            return self.reply(400, {"error": {"message": "this stand-in answers the score_10 rubric only"}})
        score, why = grade(reference, response)
        with self.server.lock:
            self.server.stats["requests"] += 1
            self.server.stats["score_%d" % score] = self.server.stats.get("score_%d" % score, 0) + 1
        self.reply(200, {"id": "chatcmpl-standin", "object": "chat.completion", "created": 0, "model": model,
                         "choices": [{"index": 0, "finish_reason": "stop",
                                      "message": {"role": "assistant", "content": "%s\nScore: %d" % (why, score)}}],
                         "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}})


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8000
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    srv.lock = threading.Lock()
    srv.stats = {"requests": 0}
    if len(sys.argv) > 2:
        with open(sys.argv[2] + ".tmp", "w") as f:
            f.write(str(srv.server_address[1]))
        import os
        os.rename(sys.argv[2] + ".tmp", sys.argv[2])
    srv.serve_forever()


if __name__ == "__main__":
    main()
