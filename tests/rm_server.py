"""rm_server.py -- a scripted reward-model server on 127.0.0.1 for the rm
plugin's tests (Python's threaded http.server). It speaks the scoring
endpoints of text-embeddings-inference (POST /predict, /rerank) and vLLM
(POST /pooling, /classify, /score), and checks every request's shape as those
servers document it: a request of the wrong shape (missing or mistyped
fields, a model where TEI takes none, text_1 and text_2 of different
lengths, ...) is answered 422 and recorded in state.shape_errors, so a test
that sees no shape error knows the plugin sent the right body.

Scores come from tokens in each input's text: [[s=X]] is the raw score
(0 when absent). A token in any input of a request scripts the whole request:

  [[id=NAME]]   a key for counting attempts (retries)
  [[b=KIND]]    malformed (a cut-off body), short (one score too few),
                extra (one too many), nan (a NaN score), dupindex (an index
                twice), err500x2 (500 on the first 2 attempts, then scores),
                r429 (429 with Retry-After: 1 once), slow (3 s), e400,
                close (closes without a reply), error200 (a 2xx error object),
                delay=MS

It counts requests per path, the inputs per request, attempts per id, the
Authorization headers and the bodies; state.reset() clears them.
state.classes (1 or 2) sets how many classes /predict and /classify return
(with 2: LABEL_1 scores s and LABEL_0 scores 1 - s; /classify probs [1 - s, s]).
"""
import json
import re
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = re.compile(r"\[\[(\w+)=([^\]]*)\]\]")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.classes = 1
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = 0
            self.paths = {}
            self.sizes = []
            self.attempts = {}
            self.auth = set()
            self.bodies = []
            self.shape_errors = []


def is_str(x):
    return isinstance(x, str)


def check_shape(path, req):
    """The inputs of a well-shaped request as (query or None, text), or a string saying what is wrong."""
    if not isinstance(req, dict):
        return "the body is not an object"
    if path == "/predict":
        if "model" in req:
            return "TEI takes no model"
        if not isinstance(req.get("raw_scores"), bool) or not isinstance(req.get("truncate"), bool):
            return "raw_scores and truncate must be booleans"
        inp = req.get("inputs")
        if not isinstance(inp, list) or not inp:
            return "inputs must be a non-empty list"
        if len(inp) == 2 and all(is_str(x) for x in inp):
            return "a list of two texts is one pair to TEI: ambiguous batch"
        out = []
        for x in inp:
            if is_str(x):
                out.append((None, x))
            elif isinstance(x, list) and len(x) == 2 and all(is_str(y) for y in x):
                out.append((x[0], x[1]))
            else:
                return "an input is neither a text nor a pair of texts"
        if len({q is None for q, _ in out}) > 1:
            return "texts and pairs mixed"
        return out
    if path == "/rerank":
        if "model" in req:
            return "TEI takes no model"
        if not is_str(req.get("query")) or not isinstance(req.get("texts"), list) or not req["texts"]:
            return "query must be a string and texts a non-empty list"
        if not all(is_str(t) for t in req["texts"]):
            return "texts must be strings"
        return [(req["query"], t) for t in req["texts"]]
    if "model" in req and (not is_str(req["model"]) or not req["model"]):
        return "vLLM's model, when sent, is a non-empty name (absent: the served model)"
    if path in ("/pooling", "/classify"):
        inp = req.get("input")
        if not isinstance(inp, list) or not inp or not all(is_str(x) for x in inp):
            return "input must be a non-empty list of texts"
        return [(None, x) for x in inp]
    if path == "/score":
        t1, t2 = req.get("text_1"), req.get("text_2")
        if not isinstance(t1, list) or not isinstance(t2, list) or len(t1) != len(t2) or not t1:
            return "text_1 and text_2 must be lists of one length"
        if not all(is_str(x) for x in t1 + t2):
            return "text_1 and text_2 hold texts"
        return list(zip(t1, t2))
    return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def setup(self):
        super().setup()
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, code, obj=None, raw=None, headers=()):
        data = raw if raw is not None else json.dumps(obj).encode()
        try:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for k, v in headers:
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def do_POST(self):
        st = self.server.state
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with st.lock:
            st.requests += 1
            st.paths[self.path] = st.paths.get(self.path, 0) + 1
            st.auth.add(self.headers.get("Authorization"))
            st.bodies.append((self.path, body))
        try:
            req = json.loads(body)
        except ValueError:
            req = None
        if self.path not in ("/predict", "/rerank", "/pooling", "/classify", "/score"):
            with st.lock:
                st.shape_errors.append("no such route: " + self.path)
            return self.send(404, {"error": "no such route"})
        inputs = check_shape(self.path, req)
        if not isinstance(inputs, list):
            with st.lock:
                st.shape_errors.append("%s: %s" % (self.path, inputs))
            return self.send(422, {"error": inputs, "error_type": "Validation"})
        with st.lock:
            st.sizes.append(len(inputs))
        tokens = {}
        scores = []
        for q, t in inputs:
            tk = dict(TOKEN.findall(t))
            tokens.update(tk)
            scores.append(float(tk.get("s", "0")))
        b, key = tokens.get("b", ""), tokens.get("id", "")
        with st.lock:
            st.attempts[key] = st.attempts.get(key, 0) + 1
            attempt = st.attempts[key]
        if b.startswith("delay="):
            time.sleep(int(b[6:]) / 1000.0)
        if b == "slow":
            time.sleep(3)
        m = re.match(r"err500x(\d+)$", b)
        if m and attempt <= int(m.group(1)):
            return self.send(500, {"error": "internal error"})
        if b == "r429" and attempt == 1:
            return self.send(429, {"error": "slow down"}, headers=[("Retry-After", "1")])
        if b == "e400":
            return self.send(400, {"error": "input too long"})
        if b == "close":
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if b == "malformed":
            return self.send(200, raw=b'{"data": [{"index": 0, "sco')
        if b == "error200":
            return self.send(200, {"error": {"message": "model overloaded"}})
        if b == "nan":
            scores[0] = float("nan")
        if b == "short":
            scores = scores[:-1]
        if b == "extra":
            scores = scores + [0.5]
        self.send(200, raw=json.dumps(self.reply(st, scores, b == "dupindex")).encode())

    def reply(self, st, scores, dup):
        idx = list(range(len(scores)))
        if dup and len(idx) > 1:
            idx[1] = 0
        if self.path == "/predict":
            out = []
            for s in scores:
                if st.classes == 1:
                    out.append([{"label": "LABEL_0", "score": s}])
                else:
                    out.append(sorted([{"label": "LABEL_1", "score": s}, {"label": "LABEL_0", "score": 1 - s}],
                                      key=lambda p: -p["score"]))
            return out
        if self.path == "/rerank":
            return sorted([{"index": i, "score": s} for i, s in zip(idx, scores)], key=lambda r: -r["score"])
        # vLLM: the data in reverse order, so that a reader must place entries by index
        if self.path == "/pooling":
            data = [{"index": i, "object": "pooling", "data": [0.125, -3.0, s]} for i, s in zip(idx, scores)]
        elif self.path == "/classify":
            data = [{"index": i, "label": "LABEL_1" if s >= 0.5 else "LABEL_0",
                     "probs": [1 - s, s] if st.classes == 2 else [s], "num_classes": st.classes}
                    for i, s in zip(idx, scores)]
        else:
            data = [{"index": i, "object": "score", "score": s} for i, s in zip(idx, scores)]
        return {"id": "x", "object": "list", "created": 0, "model": "rm", "data": data[::-1],
                "usage": {"prompt_tokens": 1, "total_tokens": 1}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


def start():
    """Serve on 127.0.0.1 in a thread; returns (server, base_url)."""
    srv = _Server(("127.0.0.1", 0), Handler)
    srv.state = State()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, "http://127.0.0.1:%d" % srv.server_address[1]
