"""test_serve.py -- `rlvr serve` over HTTP: each endpoint's protocol (the
batch endpoint byte for byte against `rlvr score`), OpenRLHF's /get_reward
(completions cut from queries, labels as answer or tests, abstain_value
substitutions counted), /health and /metrics, malformed requests answered
with a clear 4xx while the server stays well, the bearer token, the queue
bound (503 + Retry-After), the request timeout (504), concurrent clients,
a 1 s plugin in one client's mix beside another client's 1-sample requests
(p99 under 20 ms), and graceful shutdown on SIGTERM finishing the request
in flight."""
import http.client
import json
import os
import signal
import socket
import threading
import time

from taplib import ok, is_eq, done, run_raw, tempfile_with
from serve_lib import Server, fixture, mix_path

R1 = mix_path("r1_mix.lua")
SLOW = fixture("serve", "slow_mix.lua")
SHAPE = fixture("serve", "shape_mix.lua")
with open(os.path.join(os.path.dirname(R1), "..", "..", "examples", "r1_samples.jsonl"), "rb") as f:
    EXAMPLES = f.read()


def math_sample(i, right=True):
    ans = 3 * i + 1
    got = ans if right else ans + 1
    return {"id": i, "completion": "<think>sum</think><answer>\\boxed{%d}</answer>" % got, "answer": str(ans)}


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


# == the batch endpoint and the main server ====================================
srv = Server(["--mix", R1, "--threads", "2"])

st, hd, body = srv.request("POST", "/score", EXAMPLES)
p = run_raw(["score", "--mix", R1, "--quiet"], EXAMPLES)
is_eq(st, 200, "/score: 200 for the example set")
is_eq(hd.get("content-type"), "application/x-ndjson", "/score: JSON Lines in, JSON Lines out")
ok(body == p.stdout, "/score answers byte for byte what rlvr score writes (24 samples, 2 threads)",
   "serve:\n%s\nscore:\n%s" % (body[:600], p.stdout[:600]))

bad = (b'\xef\xbb\xbf{"id":1,"completion":"<answer>4</answer>","answer":"4"}\r\n\r\n'
       b'{"id":2,"completion":\n'
       b'not json\n'
       b'{"id":4}\n'
       b'{"id":5,"completion":"x\xff"}\n'
       b'{"id":6,"completion":"\\boxed{2}","answer":"2"}')
st, hd, body = srv.request("POST", "/score", bad)
p = run_raw(["score", "--mix", R1, "--quiet"], bad)
is_eq(st, 200, "/score: bad samples are per-sample errors, the request is 200")
ok(body == p.stdout, "/score: BOM, CRLF, blank lines, bad JSON, a missing completion, invalid UTF-8: as rlvr score",
   "serve:\n%s\nscore:\n%s" % (body.decode("utf-8", "replace"), p.stdout.decode("utf-8", "replace")))
lines = [json.loads(l) for l in body.decode().splitlines()]
is_eq([l.get("error", {}).get("line") for l in lines], [None, 3, 4, 5, 6, None],
      "/score: error results name the request's line numbers (blank lines counted)")

rows = [math_sample(i, i % 2 == 0) for i in range(5)]
st, hd, data = srv.json("POST", "/score", rows)
is_eq(st, 200, "/score: a JSON array of samples")
is_eq(hd.get("content-type"), "application/json", "/score: a JSON array in, a JSON array out")
ok(isinstance(data, list) and [r["id"] for r in data] == list(range(5)), "/score: the array's results in order", data)
is_eq([r["components"]["accuracy"] for r in data], [1.0, 0.0, 1.0, 0.0, 1.0], "/score: each sample scored")

# == /get_reward (OpenRLHF) ======================================================
PROMPT = "<|im_start|>user\nWhat is 6*7?<|im_end|>\n<|im_start|>assistant\n"
q_right = PROMPT + "<think>6*7=42</think>\n<answer>\\boxed{42}</answer><|im_end|>\n<|endoftext|><|endoftext|>"
q_wrong = "<|endoftext|><|endoftext|>" + PROMPT + "<think>no</think>\n<answer>41</answer><|im_end|>"
st, hd, data = srv.json("POST", "/get_reward", {"query": [q_right, q_wrong, PROMPT + "\\boxed{5}", "unrelated"],
                                                 "prompts": [PROMPT, PROMPT, PROMPT, PROMPT],
                                                 "labels": ["42", "42", None, "5"]})
is_eq(st, 200, "/get_reward: 200")
is_eq(hd.get("content-type"), "application/json", "/get_reward: JSON")
ok(isinstance(data, dict) and set(data) == {"rewards", "scores", "extra_logs"}, "/get_reward: rewards, scores, extra_logs", data)
is_eq(data["rewards"], [1.2, 0.2, 0.0, 0.0],
      "/get_reward: a right answer in format, a wrong one in format (left padding ignored), nulls given abstain_value 0")
is_eq(data["scores"], [1.0, 0.0, 0.0, 0.0], "/get_reward: scores are the accuracy component")
is_eq(data["extra_logs"]["accuracy"], [1.0, 0.0, 0.0, 0.0], "/get_reward: extra_logs has a list per component")
is_eq(data["extra_logs"]["format"], [1.0, 1.0, 0.0, 0.0], "/get_reward: the format component")
is_eq(data["extra_logs"]["rlvr_abstain_substituted"], [0, 0, 1, 1],
      "/get_reward: substitutions are counted (a missing label abstains; a query without its prompt)")
is_eq(data["extra_logs"]["rlvr_sample_error"], [0, 0, 0, 1], "/get_reward: a query without its prompt is a sample error")
st, hd, data = srv.json("POST", "/get_reward", {"query": ["\\boxed{3}", "\\boxed{4}"], "labels": ["3", "3"]})
is_eq((st, data.get("extra_logs", {}).get("accuracy")), (200, [1.0, 0.0]),
      "/get_reward: without prompts the whole query is the completion")
st, hd, data = srv.json("POST", "/get_reward", {"query": []})
is_eq((st, data), (200, {"rewards": [], "scores": [], "extra_logs": {"accuracy": [], "format": [],
                                                                         "rlvr_abstain_substituted": [],
                                                                         "rlvr_sample_error": []}}),
      "/get_reward: an empty batch")

# Completions, labels and groups as the server builds them (shape.lua reports them).
sh = Server(["--mix", SHAPE, "--threads", "2", "--abstain-value", "-0.5"])
P2 = "<|im_start|>user\nq2<|im_end|>\n<|im_start|>assistant\n"
queries = [PROMPT + "abc<|im_end|>\n<|endoftext|>", PROMPT + "abc \n<|im_end|>", P2 + "a<|eot_id|>",
           P2 + "<|im_end|>", PROMPT + "x"]
st, hd, data = sh.json("POST", "/get_reward", {
    "query": queries, "prompts": [PROMPT, PROMPT, P2, P2, PROMPT],
    "labels": ['{"cases": [{"stdin": "1", "stdout": "1"}]}', "7", [{"input": "1"}], 12, None]})
is_eq(st, 200, "/get_reward with the shape plugin: 200")
logs = data["extra_logs"]
is_eq(logs["length"], [3.0, 5.0, 1.0, 0.0, 1.0],
      "end tokens (and the whitespace between them) are cut; the model's own trailing whitespace is kept")
is_eq(logs["kind"], [2.0, 1.0, 2.0, 1.0, 0.0],
      "labels: a JSON object string and a list of objects are tests; text and numbers are answers; null is neither")
is_eq(logs["group"], [1.0, 1.0, 3.0, 3.0, 5.0], "consecutive samples with one prompt share a group")
is_eq(logs["accuracy"], [-0.5, 0.0, -0.5, 0.0, -0.5], "a null component (no answer: math abstains) is logged as abstain_value")
is_eq(data["scores"], [0.0, 0.0, 0.0, 0.0, 0.0], "scores are clipped to [0, 1] (abstain_value -0.5 gives 0)")
st, hd, data = sh.json("POST", "/get_reward", {"query": ["y<|custom|>"]})
is_eq(data["extra_logs"]["length"], [11.0], "a token outside the list is kept")
sh.stop()
sh = Server(["--mix", SHAPE, "--threads", "1", "--end-token", "<|custom|>", "--scores-component", "length"])
st, hd, data = sh.json("POST", "/get_reward", {"query": ["y<|custom|>", "yy<|im_end|>"]})
is_eq((data["extra_logs"]["length"], data["scores"]), ([1.0, 12.0], [1.0, 1.0]),
      "--end-token replaces the list; --scores-component picks the scores (clipped)")
is_eq(sh.stop(), 0, "the shape server stops with status 0")
p = run_raw(["serve", "--mix", SHAPE, "--scores-component", "nope", "--listen", "127.0.0.1:0"])
ok(p.returncode == 2 and b"no component named 'nope'" in p.stderr, "--scores-component must name a component", p.stderr)

# == /health and /metrics ===========================================================
st, hd, data = srv.json("GET", "/health")
ok(st == 200 and data.get("status") == "ok" and data.get("threads", 0) >= 2, "/health: 200, status ok, the threads", data)
st, hd, body = srv.request("GET", "/metrics")
text = body.decode()
is_eq(st, 200, "/metrics: 200")
ok(hd.get("content-type", "").startswith("text/plain; version=0.0.4"), "/metrics: Prometheus text format", hd)
ok('rlvr_http_requests_total{endpoint="/score",code="200"} 3' in text, "/metrics: requests by endpoint and code", text[:800])
ok('rlvr_http_request_duration_seconds_bucket{endpoint="/score",le="+Inf"} 3' in text
   and 'rlvr_http_request_duration_seconds_count{endpoint="/get_reward"} 3' in text, "/metrics: a latency histogram")
ok('rlvr_component_abstain_total{component="accuracy",plugin="math",route=""} 1' in text,
   "/metrics: per-plugin abstains", [l for l in text.splitlines() if "component" in l])
ok(srv.metric('rlvr_component_ok_total{component="accuracy"') >= 30
   and srv.metric('rlvr_component_score_sum{component="accuracy"') > 0, "/metrics: per-plugin scores")
is_eq(srv.metric("rlvr_samples_total"), 24 + 6 + 5 + 4 + 2.0, "/metrics: samples by endpoint")
is_eq(srv.metric("rlvr_abstain_substitutions_total"), 2.0, "/metrics: abstain_value substitutions")
for line in text.splitlines():
    if line and not line.startswith("#"):
        name, _, value = line.rpartition(" ")
        if not (name and (value.replace(".", "", 1).replace("e-", "", 1).isdigit() or value == "0")):
            ok(False, "/metrics: a line that is not NAME VALUE: %r" % line)
            break
else:
    ok(True, "/metrics: every sample line is NAME{labels} VALUE")

# == malformed requests: a clear 4xx, the server unharmed =============================
def err_of(st, data):
    return st, (data.get("error", {}).get("message", "") if isinstance(data, dict) else data)


cases = [
    ("POST", "/get_reward", b"{not json", 400, "malformed JSON"),
    ("POST", "/get_reward", b'{"query": "a"}', 400, "'query' must be a list"),
    ("POST", "/get_reward", b'{"query": ["a", 1]}', 400, "query[1] is not a string"),
    ("POST", "/get_reward", b'{"query": ["a"], "prompts": ["a", "b"]}', 400, "'prompts' has 2 items but 'query' has 1"),
    ("POST", "/get_reward", b'{"query": ["a"], "labels": "x"}', 400, "'labels' must be a list"),
    ("POST", "/get_reward", b'{"query": ["a"], "prompts": [3]}', 400, "prompts[0] is not a string"),
    ("POST", "/get_reward", b'[1, 2]', 400, "must be a JSON object"),
    ("POST", "/get_reward", b'{"query": ["\xff"]}', 400, "invalid UTF-8"),
    ("POST", "/get_reward", b'{"query": ["\\ud800"]}', 400, "surrogate"),
    ("POST", "/get_reward", b'{"query": []} trailing', 400, "malformed JSON"),
    ("POST", "/get_reward", b'[' * 100000, 400, "malformed JSON"),
    ("POST", "/get_reward", b'', 400, "malformed JSON"),
    ("POST", "/score", b'', 400, "no samples"),
    ("POST", "/score", b'\n\n  \n', 400, "no samples"),
    ("POST", "/score", b'[{"id": 1}, ', 400, "malformed JSON"),
    ("GET", "/score", None, 405, "method not allowed"),
    ("POST", "/health", b"x", 405, "method not allowed"),
    ("GET", "/nope", None, 404, "no such endpoint"),
    ("DELETE", "/metrics", None, 405, "method not allowed"),
]
for method, path, body, want, msg in cases:
    st, hd, data = srv.json(method, path, None) if body is None else (lambda r: (r[0], r[1], json.loads(r[2])))(
        srv.request(method, path, body, {"Content-Type": "application/json"}))
    code, text = err_of(st, data)
    ok(code == want and msg in text, "%s %s %r: %d (%s)" % (method, path, body[:30] if body else body, want, msg),
       (code, text))
st, hd, data = srv.json("GET", "/score")
is_eq(hd.get("allow"), "POST", "405 names the allowed method")

big = Server(["--mix", R1, "--threads", "1", "--max-body", "1K", "--max-samples", "3"])
st, hd, body = big.request("POST", "/score", b"x" * 2000)
ok(st == 413 and b"--max-body" in body, "a body over --max-body: 413 before it is read", body)
st, hd, body = big.request("POST", "/score", "".join(json.dumps(math_sample(i)) + "\n" for i in range(4)))
ok(st == 413 and b"--max-samples" in body, "more samples than --max-samples: 413", body)
st, hd, body = big.request("POST", "/get_reward", json.dumps({"query": ["a"] * 4}))
ok(st == 413 and b"--max-samples" in body, "/get_reward over --max-samples: 413", body)
# A chunked body over the limit: read to its end and answered 413; one still
# going 1 MiB past the limit is cut off (the connection closes).
s = socket.create_connection(("127.0.0.1", big.port), timeout=10)
try:
    s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"y" * 600
    for _ in range(4):
        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    s.sendall(b"0\r\n\r\n")
    got = s.recv(100)
except OSError:
    got = b""
s.close()
ok(got.startswith(b"HTTP/1.1 413"), "a chunked body over --max-body is answered 413", got)
s = socket.create_connection(("127.0.0.1", big.port), timeout=10)
try:
    s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    for _ in range(2000):
        s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    s.sendall(b"0\r\n\r\n")
    got = s.recv(100)
except OSError:
    got = b""
s.close()
ok(not got.startswith(b"HTTP/1.1 200"), "a chunked body still going 1 MiB past --max-body is cut off", got)
st, res = big.score([math_sample(1)])
ok(st == 200 and res[0]["reward"] == 1.2, "after all that the small server still scores", res)
is_eq(big.stop(), 0, "and stops with status 0")

# Slow clients: headers sent slowly, then nothing. The idle timeout closes them.
idle = Server(["--mix", R1, "--threads", "1", "--idle-timeout", "1"])
s = socket.create_connection(("127.0.0.1", idle.port), timeout=10)
s.sendall(b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"id\":")
t0 = time.time()
try:
    got = s.recv(100)
except OSError:
    got = b""
ok(time.time() - t0 < 5 and not got.startswith(b"HTTP/1.1 200"), "a client that stops sending is dropped after --idle-timeout",
   (time.time() - t0, got))
s.close()
st, res = idle.score([math_sample(2)])
is_eq(st, 200, "the server scores after dropping an idle client")
idle.stop()

st, res = srv.score([math_sample(7)])
ok(st == 200 and res[0]["reward"] == 1.2, "after every malformed request the main server still scores", res)

# == the bearer token ===================================================================
tok = tempfile_with("s3cret-token\n", suffix=".txt")
auth = Server(["--mix", R1, "--threads", "1", "--token-file", tok])
st, hd, body = auth.request("POST", "/score", json.dumps(math_sample(1)))
ok(st == 401 and hd.get("www-authenticate", "").startswith("Bearer"), "no token: 401 with WWW-Authenticate", (st, hd))
st, hd, body = auth.request("POST", "/score", json.dumps(math_sample(1)), {"Authorization": "Bearer s3cret-toke"})
is_eq(st, 401, "a wrong token (a prefix): 401")
st, hd, body = auth.request("POST", "/score", json.dumps(math_sample(1)), {"Authorization": "Bearer s3cret-tokenX"})
is_eq(st, 401, "a wrong token (longer): 401")
st, hd, body = auth.request("GET", "/metrics", None, {"Authorization": "Basic czNjcmV0LXRva2Vu"})
is_eq(st, 401, "/metrics wants the token too")
st, res = auth.score([math_sample(1)], headers={"Authorization": "Bearer s3cret-token"})
ok(st == 200 and res[0]["reward"] == 1.2, "the right token: scored", res)
st, hd, body = auth.request("GET", "/health")
is_eq(st, 200, "/health needs no token")
is_eq(auth.stop(), 0, "the token server stops")
ok("s3cret" not in auth.stderr(), "the token is never logged", auth.stderr())
envsrv = Server(["--mix", R1, "--threads", "1"], env={"RLVR_SERVE_TOKEN": "from-env"})
st, hd, body = envsrv.request("POST", "/score", json.dumps(math_sample(1)))
st2, hd, body = envsrv.request("POST", "/score", json.dumps(math_sample(1)), {"Authorization": "Bearer from-env"})
is_eq((st, st2), (401, 200), "the token can come from $RLVR_SERVE_TOKEN")
envsrv.stop()
empty = tempfile_with("\n", suffix=".txt")
p = run_raw(["serve", "--mix", R1, "--token-file", empty, "--listen", "127.0.0.1:0"])
ok(p.returncode == 2 and b"empty" in p.stderr, "an empty token file is refused at start", p.stderr)
p = run_raw(["serve", "--mix", R1, "--listen", "nowhere.invalid:1"])
is_eq(p.returncode, 2, "an address that does not resolve: exit 2")
p = run_raw(["serve", "--listen", "127.0.0.1:0"])
is_eq(p.returncode, 2, "no mix: exit 2")

# == concurrent clients ===================================================================
errors = []


def client(k):
    try:
        c = srv.conn(30)
        for r in range(15):
            n = 1 + (k * 7 + r * 13) % 40
            rows = [math_sample(1000 * k + i, (i + r) % 3 != 0) for i in range(n)]
            body = "".join(json.dumps(s) + "\n" for s in rows)
            st, hd, data = srv.request("POST", "/score", body, conn=c)
            res = [json.loads(l) for l in data.decode().splitlines()]
            want = [1.2 if (i + r) % 3 != 0 else 0.2 for i in range(n)]
            if st != 200 or [x["id"] for x in res] != [s["id"] for s in rows] or [x["reward"] for x in res] != want:
                errors.append((k, r, st, data[:200]))
        c.close()
    except Exception as e:  # noqa: BLE001 -- reported as a failure
        errors.append((k, repr(e)))


threads = [threading.Thread(target=client, args=(k,)) for k in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join(60)
ok(not errors and not any(t.is_alive() for t in threads),
   "8 clients x 15 requests of 1..40 samples on keep-alive connections: every result right and in order", errors[:3])

# == a slow plugin beside fast requests ======================================================
slow = Server(["--mix", SLOW, "--threads", "2"])
for _ in range(20):  # warm up the fast path
    slow.score([math_sample(0)])
stop_slow = threading.Event()
slow_done = []


def slow_client():
    c = slow.conn(30)
    while not stop_slow.is_set():
        st, hd, data = slow.request("POST", "/score", json.dumps({"id": "s", "completion": "x", "data_source": "slow"}),
                                    conn=c)
        slow_done.append(st)
    c.close()


slow_threads = [threading.Thread(target=slow_client) for _ in range(4)]
for t in slow_threads:
    t.start()
time.sleep(0.3)  # four 1 s samples hold more threads than --threads
lat = []
c = slow.conn(30)
body = json.dumps(math_sample(5))
t_end = time.time() + 2.5
while time.time() < t_end:
    t0 = time.perf_counter()
    st, hd, data = slow.request("POST", "/score", body, conn=c)
    lat.append(time.perf_counter() - t0)
    if st != 200 or json.loads(data)["reward"] != 1.2:
        errors.append(data)
c.close()
stop_slow.set()
for t in slow_threads:
    t.join(10)
started = slow.metric("rlvr_scoring_threads_started_total")
ok(len(lat) >= 50 and not errors, "fast requests keep being answered while four 1 s samples run (%d answered)" % len(lat))
ok(max(lat) < 0.5, "no fast request waited behind a 1 s plugin (max %.1f ms)" % (max(lat) * 1000))
ok(p99(lat) < 0.020, "1-sample math requests beside a 1 s plugin: p99 %.2f ms < 20 ms (median %.2f ms, %d requests)"
   % (p99(lat) * 1000, sorted(lat)[len(lat) // 2] * 1000, len(lat)))
ok(started >= 2 and all(s == 200 for s in slow_done) and len(slow_done) >= 8,
   "the slow samples got threads of their own (%d started) and were all answered (%d)" % (started, len(slow_done)))
slow.stop()

# == the queue bound and the request timeout ===================================================
# glibc fills freed memory with 0xa5 here (tcache off, so every free is
# filled): a sample read after its request was freed would be garbage.
q = Server(["--mix", SLOW, "--threads", "1", "--max-threads", "1", "--queue", "4", "--request-timeout", "5"],
           env={"MALLOC_PERTURB_": "165", "GLIBC_TUNABLES": "glibc.malloc.tcache_count=0"})
slow4 = "".join(json.dumps({"id": i, "completion": "x", "data_source": "slow"}) + "\n" for i in range(4))
answers = {}


def post(name, body):
    answers[name] = q.request("POST", "/score", body, timeout=30)


def wait_health(key, value, limit=5):
    t0 = time.time()
    while time.time() - t0 < limit:
        st, hd, h = q.json("GET", "/health")
        if h.get(key) == value:
            return True
        time.sleep(0.01)
    return False


t1 = threading.Thread(target=post, args=("first", slow4))
t1.start()
ok(wait_health("busy", 1), "the first request occupies the only thread")
t2 = threading.Thread(target=post, args=("second", slow4))
t2.start()
ok(wait_health("queued_samples", 4), "the second waits in the queue (4 samples)")
st, hd, body = q.request("POST", "/score", json.dumps(math_sample(1)))
ok(st == 503 and hd.get("retry-after") == "1" and b"queue is full" in body, "a full queue: 503 with Retry-After", (st, hd, body))
t1.join(30)
t2.join(30)
is_eq(answers["first"][0], 200, "the first request is answered")
is_eq(answers["second"][0], 504, "the second ran past --request-timeout 5 s: 504")
ok(b"--request-timeout" in answers["second"][2], "and says why", answers["second"][2])
st, res = q.score([math_sample(3)])
ok(st == 200 and res[0]["reward"] == 1.2, "the server goes on after a timeout", res)
ok(q.metric('rlvr_http_requests_total{endpoint="/score",code="503"}') == 1
   and q.metric('rlvr_http_requests_total{endpoint="/score",code="504"}') == 1, "/metrics counts the 503 and the 504")
# The timed-out request's samples still being scored read the job's own
# copy of them, not the freed request body: all 8 slow samples are scored
# (a bug once read them from freed memory).
t0 = time.time()
while time.time() - t0 < 10 and q.metric('rlvr_component_ok_total{component="slow"') < 8:
    time.sleep(0.1)
is_eq((q.metric('rlvr_component_ok_total{component="slow"'), q.metric('rlvr_component_error_total')), (8.0, 0.0),
      "the samples of a timed-out request scored after its 504 are read intact")
ok(q.proc.poll() is None, "the server is still up")
q.stop()

# == graceful shutdown =============================================================================
g = Server(["--mix", SLOW, "--threads", "1"])
keep = g.conn(30)
st, hd, data = g.request("GET", "/health", conn=keep)
is_eq(st, 200, "a keep-alive connection is open before the signal")
res_box = {}
tq = threading.Thread(target=lambda: res_box.update(r=g.request("POST", "/score", json.dumps(
    {"id": "inflight", "completion": "x", "data_source": "slow"}), timeout=30)))
tq.start()
t0 = time.time()
while time.time() - t0 < 5 and json.loads(g.request("GET", "/health")[2]).get("busy") != 1:
    time.sleep(0.01)
g.signal(signal.SIGTERM)
time.sleep(0.2)
try:
    st, hd, data = g.request("GET", "/health", conn=keep)
    drain_ok = st == 503 and json.loads(data).get("status") == "draining" and hd.get("connection") == "close"
except (OSError, http.client.HTTPException) as e:
    drain_ok, data = False, repr(e)
ok(drain_ok, "while draining, a request on an open connection: 503 draining, Connection: close", data)
try:
    socket.create_connection(("127.0.0.1", g.port), timeout=2).close()
    refused = False
except OSError:
    refused = True
ok(refused, "while draining, new connections are refused")
tq.join(10)
r = res_box.get("r")
ok(r is not None and r[0] == 200 and json.loads(r[2])["id"] == "inflight" and json.loads(r[2])["reward"] == 1.0,
   "the request in flight at SIGTERM is answered in full", r)
rc = g.wait(15)
is_eq(rc, 0, "then the server exits with status 0")
ok("finishing the requests in flight" in g.stderr() and "stopped after" in g.stderr(), "and says so", g.stderr())

# == stop the main server ===========================================================================
is_eq(srv.stop(), 0, "the main server stops on SIGTERM with status 0")
done()
