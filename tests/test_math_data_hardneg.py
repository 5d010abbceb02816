"""test_math_data_hardneg.py -- the `math` plugin (default configuration)
on our own hard-negative set, fixtures/math_data/hard_negatives.jsonl
(written by math_data_hardneg.py with a fixed seed; no dataset answer in
it): near misses, hedges, echoes of the question (those rows carry the
`prompt`, which the plugin passes on), wrong final boxes. Not
one may verify (zero false positives: a false positive rewards wrong
reasoning in RL). Every gold is well formed, so none may abstain either.
Results are reported per category; every false positive is listed.
"""
import sys
sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import os
import subprocess

from taplib import ok, done, SRCDIR
from math_data_lib import read_jsonl, score, diag, short

fixture = os.path.join(SRCDIR, "fixtures", "math_data", "hard_negatives.jsonl")
gen = os.path.join(SRCDIR, "math_data_hardneg.py")
p = subprocess.run([sys.executable, gen, "--check", fixture], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
ok(p.returncode == 0, "the committed hard-negative set is what math_data_hardneg.py generates",
   p.stdout.decode("utf-8", "replace"))

rows = read_jsonl(fixture)
ok(len(rows) >= 300, "at least 300 hard negatives (%d)" % len(rows))
vs, rc, err = score([(r["completion"], r["gold"], r.get("prompt")) for r in rows])
ok(rc == 0, "rlvr score --plugin math exits 0 on the set", err[-2000:])

cats = {}
for r, v in zip(rows, vs):
    c = cats.setdefault(r["category"], {"n": 0, "fp": [], "abstain": [], "reasons": {}})
    c["n"] += 1
    c["reasons"][v.reason] = c["reasons"].get(v.reason, 0) + 1
    if v.equal:
        c["fp"].append((r, v))
    elif v.abstained:
        c["abstain"].append((r, v))

print("# %-20s %5s %4s %8s  reasons" % ("category", "cases", "FP", "abstain"))
for name in sorted(cats):
    c = cats[name]
    print("# %-20s %5d %4d %8d  %s" % (name, c["n"], len(c["fp"]), len(c["abstain"]),
                                        ", ".join("%s %d" % kv for kv in sorted(c["reasons"].items()))))
for name in sorted(cats):
    c = cats[name]
    ok(not c["fp"], "%s: no false positive (%d of %d verified)" % (name, len(c["fp"]), c["n"]))
    diag(["FP %s gold=%s pred=%s -> %s" % (r["id"], short(r["gold"], 40), short(r["completion"], 120), v.brief())
          for r, v in c["fp"]])
total_fp = sum(len(c["fp"]) for c in cats.values())
ab = [x for c in cats.values() for x in c["abstain"]]
print("# hard negatives: %d cases, %d false positives, %d abstentions" % (len(rows), total_fp, len(ab)))
ok(not ab, "no gold answer of the set makes the verifier abstain (%d)" % len(ab))
diag(["ABSTAIN %s gold=%s -> %s" % (r["id"], short(r["gold"], 60), v.brief()) for r, v in ab])
done()
