#!/usr/bin/env python3
"""serve_bench.py -- the load side of bench/serve.sh, and its reference.

    serve_bench.py corpus OUT.jsonl [--data DIR] [--n N]
    serve_bench.py ref-server PORT_FILE          (the Python reference server)
    serve_bench.py load NAME URL CORPUS [--batch B] [--clients C] [--seconds S]
    serve_bench.py recorded VERDICTS.jsonl

corpus: R1-shaped samples. With --data (../shared/data), MATH-500's
self-check cases (gold, the reference solution as prediction; the even ones
in the <think>/<answer> template with the gold answer in the tags, the odd
ones bare); else generated
arithmetic answers (right, wrong, boxed, in tags).

ref-server: http.server's ThreadingHTTPServer answering POST /score with
JSON Lines, scoring each sample as open-r1 and TRL do: accuracy is
math-verify's verify(parse(gold), parse(completion)) with its default
configurations (time limits off: math-verify's limits use signals, which
only work on the main thread), format is open-r1's regex; reward =
accuracy + 0.2 * format, the r1_mix.lua of rlvr. Without math_verify it
scores the format rule alone and says so in its first line.

load: C client processes, each with one keep-alive connection, send
requests of B samples (cycling through the corpus) for S seconds; prints
one line: requests/s, samples/s, median and p99 latency, errors.

recorded: math-verify's per-check time recorded in the shared data
(another machine, another run), for when math_verify is not importable.
"""
import http.client
import http.server
import json
import multiprocessing
import os
import re
import sys
import time

FORMAT = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL | re.MULTILINE)


def make_corpus(out, data=None, n=1000):
    rows = []
    path = os.path.join(data or "", "math", "math500_selfcheck.jsonl")
    if data and os.path.exists(path):
        for line in open(path, encoding="utf-8"):
            c = json.loads(line)
            pred = c["pred"]
            if len(rows) % 2 == 0:  # the solution as reasoning, the gold answer in the tags
                pred = "<think>\n" + pred + "\n</think>\n<answer>\n" + c["gold"] + "\n</answer>"
            rows.append({"id": c["id"], "completion": pred, "answer": c["gold"]})
    else:
        for i in range(n):
            a, b = 3 + i % 97, 7 + i % 89
            got = a * b + (1 if i % 3 == 0 else 0)
            if i % 2 == 0:
                comp = "<think>\n%d times %d\n</think>\n<answer>\n\\boxed{%d}\n</answer>" % (a, b, got)
            else:
                comp = "So %d * %d = %d, and the answer is $\\boxed{%d}$." % (a, b, got, got)
            rows.append({"id": i, "completion": comp, "answer": str(a * b)})
    with open(out, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print("corpus: %d samples (%s)" % (len(rows), "MATH-500 self-check" if data and os.path.exists(path) else "generated arithmetic"))


def ref_server(port_file):
    try:
        from math_verify import parse, verify
        have_mv = True
    except ImportError:
        have_mv = False

    def score(s):
        comp = s.get("completion", "")
        fmt = 1.0 if FORMAT.match(comp) else 0.0
        comps = {"format": fmt}
        reward = 0.2 * fmt
        if have_mv:
            gold = parse(s.get("answer", ""), parsing_timeout=None)
            if len(gold) == 0:
                comps["accuracy"] = None
                reward = None
            else:
                acc = float(verify(gold, parse(comp, parsing_timeout=None), timeout_seconds=None))
                comps["accuracy"] = acc
                reward += acc
        return {"id": s.get("id"), "reward": reward, "components": comps}

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            n = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(n).decode("utf-8")
            out = "".join(json.dumps(score(json.loads(l))) + "\n" for l in body.splitlines() if l.strip()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-ndjson")
            self.send_header("Content-Length", str(len(out)))
            self.end_headers()
            self.wfile.write(out)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    with open(port_file + ".tmp", "w") as f:
        f.write("%d %s\n" % (srv.server_address[1], "math-verify+format" if have_mv else "format-only"))
    os.rename(port_file + ".tmp", port_file)
    srv.serve_forever()


def _client(url, bodies, seconds, q):
    u = url.split("//", 1)[1]
    host, port = u.split(":")
    c = http.client.HTTPConnection(host, int(port), timeout=600)
    lat, errors, k = [], 0, 0
    t_end = time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        body = bodies[k % len(bodies)]
        k += 1
        t0 = time.perf_counter()
        try:
            c.request("POST", "/score", body=body, headers={"Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            data = r.read()
            if r.status != 200 or data.count(b"\n") != body.count(b"\n"):
                errors += 1
        except (OSError, http.client.HTTPException):
            errors += 1
            c.close()
        lat.append(time.perf_counter() - t0)
    q.put((lat, errors))


def load(name, url, corpus, batch, clients, seconds):
    lines = [l for l in open(corpus, "rb").read().splitlines() if l.strip()]
    bodies = []
    for i in range(0, max(len(lines), batch * 4), batch):
        chunk = [lines[(i + j) % len(lines)] for j in range(batch)]
        bodies.append(b"\n".join(chunk) + b"\n")
    q = multiprocessing.Queue()
    procs = []
    for k in range(clients):
        rot = bodies[k:] + bodies[:k]
        procs.append(multiprocessing.Process(target=_client, args=(url, rot, seconds, q)))
    t0 = time.perf_counter()
    for p in procs:
        p.start()
    got = [q.get(timeout=seconds + 900) for _ in procs]
    wall = time.perf_counter() - t0
    for p in procs:
        p.join(10)
    lat = sorted(x for g in got for x in g[0])
    errors = sum(g[1] for g in got)
    n = len(lat)
    if not n:
        print("%-34s %4d-sample requests: no request finished" % (name, batch))
        return
    span = min(wall, seconds + max(lat))
    print("%-34s %4d-sample requests x %d clients: %9.1f requests/s %10.0f samples/s  median %8.2f ms  "
          "p99 %8.2f ms  (%d requests, %d errors)"
          % (name, batch, clients, n / span, n * batch / span, lat[n // 2] * 1e3, lat[min(n - 1, int(0.99 * n))] * 1e3,
             n, errors))


def recorded(path):
    ms = sorted(json.loads(l)["ms_default"] for l in open(path) if l.strip())
    n = len(ms)
    print("math-verify recorded per check (%s, another machine and run): mean %.2f ms, median %.2f ms, p99 %.2f ms "
          "over %d checks -> at most %.0f checks/s per core"
          % (os.path.basename(path), sum(ms) / n, ms[n // 2], ms[int(0.99 * n)], n, 1000 * n / sum(ms)))


def main(argv):
    if len(argv) >= 3 and argv[1] == "corpus":
        data = argv[argv.index("--data") + 1] if "--data" in argv else None
        n = int(argv[argv.index("--n") + 1]) if "--n" in argv else 1000
        make_corpus(argv[2], data, n)
    elif len(argv) == 3 and argv[1] == "ref-server":
        ref_server(argv[2])
    elif len(argv) >= 5 and argv[1] == "load":
        opt = {"--batch": 1, "--clients": 4, "--seconds": 3.0}
        for k in opt:
            if k in argv:
                opt[k] = type(opt[k])(argv[argv.index(k) + 1])
        load(argv[2], argv[3], argv[4], opt["--batch"], opt["--clients"], opt["--seconds"])
    elif len(argv) == 3 and argv[1] == "recorded":
        recorded(argv[2])
    else:
        sys.stderr.write(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
