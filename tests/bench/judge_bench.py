"""judge_bench.py -- the judge's throughput and client overhead (make bench,
through bench/judge.sh).

A scripted chat-completions server (tests/judge_server.py) runs in its own
process and answers every request after DELAY ms (BENCH_DELAYS, default
"0 50": 0 shows what the clients cost when the server is instant; 50 ms is
a judge's latency, where 64 in flight bound the rate at 1280/s). Against it,
in the same run and on the same BENCH_N samples (default 2000, all distinct,
so nothing is cached):

  rlvr    rlvr score --mix (the judge plugin, template r1_json,
          max_concurrency 64, cache off) --threads 2, as a subprocess;
  python  a standard-library client, as a subprocess: the same template
          file rendered with the same fields, the same request body,
          urllib.request in a ThreadPoolExecutor of 64, the reply parsed with
          json and the verdict read as the last "correctness" in the content.

For each: judged samples/s (wall time of the subprocess), the client's own
CPU time per request (user + system of the subprocess, from
getrusage(RUSAGE_CHILDREN), process start included), and the most requests
the server saw in flight at once. The machine is shared: figures are
indicative and both clients run under the same load.
"""
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
TOP = os.path.dirname(TESTS)
RLVR = os.environ.get("RLVR", "rlvr")
N = int(os.environ.get("BENCH_N", "2000"))
DELAYS = [int(x) for x in os.environ.get("BENCH_DELAYS", "0 50").split()]
TEMPLATE = os.path.join(TOP, "plugins", "judge_templates", "r1_json.txt")


def samples(n):
    return [{"id": i, "prompt": "What is %d + %d?" % (i, i + 1), "answer": str(2 * i + 1),
             "completion": "<think>Adding %d and %d.</think>The sum is \\boxed{%d}. [[v=correct]]" % (i, i + 1, 2 * i + 1)}
            for i in range(n)]


# ---- the Python reference client ---------------------------------------------------------------

def render(text, fields):
    system = None
    if text.startswith("[system]\n"):
        system, text = text[len("[system]\n"):].split("\n[user]\n", 1)

    def fill(t):
        out, i = [], 0
        while i < len(t):
            c = t[i]
            if c in "{}" and t[i:i + 2] in ("{{", "}}"):
                out.append(c)
                i += 2
            elif c == "{":
                j = t.index("}", i)
                out.append(fields[t[i + 1:j]])
                i = j + 1
            else:
                out.append(c)
                i += 1
        return "".join(out)
    return (fill(system) if system is not None else None), fill(text)


def escape(s):
    return re.sub(r"<(?=\|)|<(?=/?(?:question|reference|response|final_answer|answer|think|verdict|judgment|score)\b)",
                  "&lt;", s, flags=re.I)


def python_client(url, path):
    import urllib.request
    from concurrent.futures import ThreadPoolExecutor
    tpl = open(TEMPLATE).read()
    rows = [json.loads(l) for l in open(path)]
    verdict_re = re.compile(r'"correctness"\s*:\s*"([^"]*)"')

    def judge(s):
        resp = s["completion"].split("</think>")[-1]
        system, user = render(tpl, {"question": escape(s["prompt"]), "reference": escape(s["answer"]),
                                    "response": escape(resp), "final_answer": ""})
        msgs = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": user}]
        body = json.dumps({"model": "bench", "temperature": 0, "max_tokens": 2048, "messages": msgs}).encode()
        req = urllib.request.Request(url + "/chat/completions", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            reply = json.loads(r.read())
        content = reply["choices"][0]["message"]["content"] or ""
        found = verdict_re.findall(content.split("</think>")[-1])
        return 1.0 if found and found[-1] == "correct" else 0.0

    with ThreadPoolExecutor(64) as pool:
        scores = list(pool.map(judge, rows))
    print(json.dumps({"n": len(scores), "correct": sum(scores)}))


# ---- the run ---------------------------------------------------------------------------------------

def get(url):
    import urllib.request
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def timed(cmd, env=None):
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p, wall, cpu


def main():
    work = tempfile.mkdtemp(prefix="rlvr_judge_bench")
    data = os.path.join(work, "samples.jsonl")
    with open(data, "w") as f:
        for s in samples(N):
            f.write(json.dumps(s) + "\n")
    print("judge: %d samples per run, 64 requests in flight, template r1_json; the machine may be shared "
          "(figures indicative)" % N)
    print("%-10s %-36s %12s %16s %14s" % ("delay", "client", "samples/s", "CPU us/request", "max in flight"))
    for delay in DELAYS:
        portfile = os.path.join(work, "port%d" % delay)
        server = subprocess.Popen([sys.executable, os.path.join(TESTS, "judge_server.py"), portfile, str(delay)])
        try:
            for _ in range(200):
                if os.path.exists(portfile):
                    break
                time.sleep(0.05)
            base = "http://127.0.0.1:%s" % open(portfile).read().strip()
            url = base + "/v1"
            mix = os.path.join(work, "mix.lua")
            with open(mix, "w") as f:
                f.write('return mix { plugin("judge", { config = { base_url = "%s", model = "bench", '
                        'max_concurrency = 64, cache = false } }) }\n' % url)
            results = []
            get(base + "/reset")
            p, wall, cpu = timed([RLVR, "score", "--mix", mix, "--threads", "2", "--quiet", "--in", data,
                                  "--out", os.path.join(work, "out.jsonl")])
            outs = [json.loads(l) for l in open(os.path.join(work, "out.jsonl"))]
            good = p.returncode == 0 and len(outs) == N and all(o["reward"] == 1.0 for o in outs)
            results.append(("rlvr judge (libcurl multi)", wall, cpu, get(base + "/stats"), good))
            get(base + "/reset")
            p, wall, cpu = timed([sys.executable, os.path.abspath(__file__), "--client", url, data])
            good = p.returncode == 0 and json.loads(p.stdout)["correct"] == N
            results.append(("python urllib, thread pool of 64", wall, cpu, get(base + "/stats"), good))
            for name, wall, cpu, st, good in results:
                print("%-10s %-36s %12.0f %16.0f %14d%s" % ("%d ms" % delay, name, N / wall, cpu / N * 1e6,
                                                          st["max_in_flight"], "" if good else "  (WRONG RESULTS)"))
        finally:
            server.terminate()
            server.wait()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--client":
        python_client(sys.argv[2], sys.argv[3])
        sys.exit(0)
    sys.exit(main())
