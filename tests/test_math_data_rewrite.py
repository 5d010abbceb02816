"""test_math_data_rewrite.py -- the `math` plugin (default configuration) on
MATH-500's official answers rewritten by math_rewrite.py: equivalent forms
(\\dfrac, a/b, exact decimals, reordered lists and sets, x= prefixes,
\\left( \\right), unreduced fractions, boxes inside short completions, ...)
must verify; near misses (off by one, sign flips, dropped radicals, swapped
interval ends, a hedge, a wrong final box, ...) must not. One TAP line per
rewrite kind; every failure is listed. Reads $RLVR_SHARED_DATA/math/
math500.jsonl and skips without it.
"""
import sys
sys.dont_write_bytecode = True  # no __pycache__ beside the sources

import os

from taplib import ok, done, skip_all
from math_data_lib import shared_math_dir, read_jsonl, score, diag, short
import math_rewrite

d = shared_math_dir()
if d is None:
    skip_all("RLVR_SHARED_DATA is empty or has no math/ folder")

rows = read_jsonl(os.path.join(d, "math500.jsonl"))
cases, skipped = math_rewrite.all_cases(rows)
neq = sum(1 for c in cases if c["expect"])
print("# %d answers, %d cases (%d equivalents, %d near misses); answer-specific rewrites skipped "
      "for %d answers whose shape the rewriter does not handle: %s"
      % (len(rows), len(cases), neq, len(cases) - neq, len(skipped), ", ".join(skipped)))
vs, rc, err = score([(c["completion"], c["gold"]) for c in cases])
ok(rc == 0, "rlvr score --plugin math exits 0 on the rewrites", err[-2000:])

kinds = {}
for c, v in zip(cases, vs):
    k = kinds.setdefault((c["kind"], c["expect"]), {"n": 0, "bad": []})
    k["n"] += 1
    good = v.equal if c["expect"] else (v.component == 0.0)
    if not good:
        k["bad"].append((c, v))

fp = sum(len(k["bad"]) for (name, e), k in kinds.items() if not e)
fn = sum(len(k["bad"]) for (name, e), k in kinds.items() if e)
print("# equivalents verified: %d/%d; near misses rejected: %d/%d"
      % (neq - fn, neq, len(cases) - neq - fp, len(cases) - neq))
for (name, expect) in sorted(kinds):
    k = kinds[(name, expect)]
    what = "equivalent" if expect else "near miss"
    ok(not k["bad"], "%s (%s): %d/%d" % (name, what, k["n"] - len(k["bad"]), k["n"]))
    diag(["%s gold=%s pred=%s -> %s" % (c["unique_id"], short(c["gold"], 40),
                                        short(c["form"], 90),
                                        v.brief()) for c, v in k["bad"]], limit=12)
done()
