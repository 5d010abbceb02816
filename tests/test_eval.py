"""test_eval.py -- `rlvr eval`: pass@1, pass@k (unbiased estimator), maj@k by
the math verifier's equivalence, component means, and its errors.

- Completions made elsewhere (fixtures/train/eval_completions.jsonl, four
  problems of four samples with known answers) give exactly the figures a
  Python computation of the same definitions gives; majority vote groups
  "0.5", "1/2" and "\\frac{1}{2}" as one answer and "2" with "2.0", so a
  vote that string grouping would win is lost here (and the reverse).
- A policy: a tiny model is trained for a few SFT steps, then evaluated
  with k samples per problem; the same seed gives the same figures, the
  scored samples are written, and pass@1 agrees with them.
- Errors: no mix, both a model and completions, pass@k over k, uneven groups.
"""
import json
import math
import os
import shutil
import subprocess
import tempfile

from taplib import ok, is_eq, done, RLVR, SRCDIR

FIX = os.path.abspath(os.path.join(SRCDIR, "fixtures", "train"))
EXAMPLES = os.path.abspath(os.path.join(SRCDIR, "..", "examples"))
work = tempfile.mkdtemp(prefix="rlvr-eval-")


def run(*args, timeout=120):
    return subprocess.run([RLVR, "eval"] + list(args), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def pass_at_k(n, c, k):
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


# -- completions made elsewhere ------------------------------------------------------------------
comps = os.path.join(FIX, "eval_completions.jsonl")
mix = os.path.join(FIX, "math_mix.lua")
out = os.path.join(work, "r.json")
p = run("--completions=" + comps, "--mix=" + mix, "--pass_k=[1,2,4]", "--output=" + out,
        "--samples_out=" + os.path.join(work, "s.jsonl"))
ok(p.returncode == 0, "eval of completions made elsewhere", p.stderr)
r = json.load(open(out))
correct = {"A": 3, "B": 1, "C": 2, "D": 1}
is_eq(r["problems"], 4, "four problems")
is_eq(r["samples_per_problem"], 4, "k is read from the groups")
ok(abs(r["pass@1"] - sum(c / 4 for c in correct.values()) / 4) < 1e-12, "pass@1 = %s" % r["pass@1"])
for k in (2, 4):
    want = sum(pass_at_k(4, c, k) for c in correct.values()) / 4
    ok(abs(r["pass@%d" % k] - want) < 1e-12, "pass@%d is the unbiased estimator (%s, want %s)" % (k, r["pass@%d" % k],
                                                                                                 want))
# A: 1/2 wins (3 equivalent votes); B: 7 wins, wrong; C: 2 and 2.0 are one
# answer, tied with 3, the earlier wins: wrong; D: 5 is the only vote.
is_eq(r["maj@4"], 0.5, "maj@4 groups answers by mathematical equivalence")
ok(r["components"]["format"]["mean"] == 1 / 16, "the format component's mean is reported")
ok(abs(r["reward_mean"] - (7 / 16 + 0.2 / 16)) < 1e-12, "the mean reward")
lines = [json.loads(l) for l in open(os.path.join(work, "s.jsonl"))]
is_eq(len(lines), 16, "every scored sample is written")
ok(all("result" in l and "sample" in l for l in lines), "each with its result")
ok("pass@1" in p.stdout and "maj@4" in p.stdout and "accuracy (mean)" in p.stdout, "a readable table", p.stdout)
p = run("--completions=" + comps, "--mix=" + mix, "--maj=false", "--output=" + out)
ok("maj@4" not in json.load(open(out)), "maj can be turned off")

# -- a policy --------------------------------------------------------------------------------------
sft = subprocess.run([RLVR, "sft", os.path.join(EXAMPLES, "sft_tiny.lua"), "--output_dir=model", "--max_steps=20"],
                     cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
ok(sft.returncode == 0, "a tiny model to evaluate", sft.stderr[-500:])
data = os.path.join(EXAMPLES, "sft_addition.jsonl")
args = ["--model=model", "--data=" + data, "--mix=" + mix, "--num_samples=3", "--max_problems=12",
        "--max_completion_length=24", "--temperature=1.0", "--top_p=1.0", "--seed=5"]
p = run(*args, "--output=a.json", "--samples_out=a.jsonl")
ok(p.returncode == 0, "eval of a policy", p.stderr[-800:])
a = json.load(open(os.path.join(work, "a.json")))
is_eq((a["problems"], a["samples_per_problem"]), (12, 3), "12 problems x 3 samples")
samples = [json.loads(l) for l in open(os.path.join(work, "a.jsonl"))]
is_eq(len(samples), 36, "36 scored samples")
acc = [s["result"]["components"]["accuracy"] for s in samples]
ok(abs(a["pass@1"] - sum(1 for x in acc if x is not None and x >= 1) / 36) < 1e-12,
   "pass@1 agrees with the scored samples")
ok(a["temperature"] == 1.0 and a["top_p"] == 1.0, "the sampling settings are in the results")
p = run(*args, "--output=b.json")
b = json.load(open(os.path.join(work, "b.json")))
a.pop("seconds"), b.pop("seconds")
is_eq(b, a, "the same seed gives the same figures")

# -- errors -----------------------------------------------------------------------------------------
for args, expect, what in [
        (["--completions=" + comps], "'mix' is required", "no mix"),
        (["--completions=" + comps, "--model=model", "--mix=" + mix], "one or the other", "model and completions"),
        (["--completions=" + comps, "--mix=" + mix, "--pass_k=[8]"], "pass@8 needs at least 8", "pass@k over k"),
        (["--completions=" + comps, "--mix=" + mix, "--pass_k=3"], "'pass_k' must be a list", "pass_k not a list"),
        (["--completions=" + comps, "--mix=" + mix, "--bogus=1"], "unknown key 'bogus'", "an unknown key")]:
    p = run(*args)
    ok(p.returncode == 2 and expect in p.stderr, "refused: %s" % what, p.stderr[-300:])
uneven = os.path.join(work, "uneven.jsonl")
with open(uneven, "w") as f:
    for l in open(comps).readlines()[:-1]:
        f.write(l)
p = run("--completions=" + uneven, "--mix=" + mix)
ok(p.returncode == 2 and "every problem needs the same number" in p.stderr, "uneven groups are refused", p.stderr)

shutil.rmtree(work, ignore_errors=True)
done()
