"""test_stream.py -- `rlvr score` streams: peak memory on 200,000 samples
stays within a few MiB of that on 20,000 (it reads, scores and writes in
slices), and the output has every line in order."""
import json
import os
import subprocess
import tempfile

from taplib import ok, done, RLVR


def gen(n, path):
    body = "reasoning " * 100
    with open(path, "w") as f:
        for i in range(n):
            f.write('{"id":%d,"group":"g%d","completion":"<think>%s</think>\\\\boxed{%d}","answer":"%d"}\n'
                    % (i, i // 8, body, i % 3, 1))


with tempfile.TemporaryDirectory() as d:
    rss = {}
    for n in (20000, 200000):
        src, summ = os.path.join(d, "in%d" % n), os.path.join(d, "s%d" % n)
        gen(n, src)
        with open(src, "rb") as fin:
            p = subprocess.run([RLVR, "score", "--plugin", "exact_match", "--threads", "2", "--quiet",
                                "--summary-json", summ], stdin=fin, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        lines = p.stdout.split(b"\n")[:-1]
        ok(p.returncode == 0 and len(lines) == n and json.loads(lines[-1])["id"] == n - 1,
           "%d samples in, %d results out, in order" % (n, n), p.stderr[-2000:])
        rss[n] = json.load(open(summ))["max_rss_kb"]
    ok(rss[200000] <= rss[20000] + 16 * 1024, "flat memory: peak RSS %d KiB on 200k samples vs %d KiB on 20k"
       % (rss[200000], rss[20000]))
    print("# peak RSS: 20k samples %d KiB, 200k samples %d KiB" % (rss[20000], rss[200000]))
done()
