"""test_distill.py -- examples/distill (make distill-vs-rl) in miniature.

run_distill.sh runs with tiny models (tests/fixtures/distill), one-digit
additions, a few steps and one seed:
- the table and results.json are written, with the teacher, the student's
  cold start and both arms, each evaluated on the same held-out problems;
- the two arms' budgets in tokens are equal (within one SFT step), the RL
  arm's being its trained plus its generated tokens, both counted;
- a finished run's teacher folder is reused as a demo folder by a second
  run, which then trains no teacher; a folder on other data is not reused;
- bad usage and a failing stage stop the script with a non-zero status;
- report.py refuses unequal budgets, unreadable metrics and an empty
  distillation set.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

from taplib import ok, is_eq, done, RLVR, SRCDIR

TOP = os.path.abspath(os.environ.get("top_srcdir", os.path.join(SRCDIR, "..")))
FIX = os.path.abspath(os.path.join(SRCDIR, "fixtures", "distill"))
SCRIPT = os.path.join(TOP, "examples", "distill", "run_distill.sh")
REPORT = os.path.join(TOP, "examples", "distill", "report.py")
PY = os.environ.get("PYTHON3") or sys.executable
work = tempfile.mkdtemp(prefix="rlvr-distill-")
TINY = {
    "DISTILL_SEEDS": "1",
    "DISTILL_DATA_ARGS": "--digits 1 --sft 30 --train 12 --test 8",
    "DISTILL_TEACHER_SFT": os.path.join(FIX, "teacher_sft.lua"),
    "DISTILL_TEACHER_GRPO": os.path.join(FIX, "teacher_grpo.lua"),
    "DISTILL_STUDENT_SFT": os.path.join(FIX, "student_sft.lua"),
    "DISTILL_STUDENT_GRPO": os.path.join(FIX, "student_grpo.lua"),
    "DISTILL_BATCH": "8",
    "DISTILL_EVAL_SAMPLES": "2",
    "DISTILL_MAX_TOKENS": "24",
    "OPENBLAS_NUM_THREADS": "1",
}


def distill(out, *extra, env=None, rlvr=None):
    e = dict(os.environ)
    e.update(TINY)
    e.update(env or {})
    return subprocess.run(["sh", SCRIPT, rlvr or RLVR, TOP, out] + list(extra), cwd=work, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=300, env=e)


def report(*args):
    return subprocess.run([PY, REPORT] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60)


# -- a whole run ----------------------------------------------------------------------------------------------
p = distill("one")
ok(p.returncode == 0, "the tiny experiment runs end to end", p.stdout[-3000:] + p.stderr[-3000:])
one = os.path.join(work, "one")
res = json.load(open(os.path.join(one, "results.json")))
table = open(os.path.join(one, "results.txt")).read()
for label in ("teacher: SFT + GRPO", "student cold start", "(a) distillation", "(b) RL", "(a) - (b) in pass@1",
              "budget, seed 1", "teacher's sampling (charged separately)"):
    ok(label in table, "the table has its line: " + label, table)
s1 = res["seeds"]["1"]
a, b = s1["distill"], s1["rl"]
ok(a["tokens"] > 0 and b["tokens"] > 0, "both arms spend tokens", s1)
ok(abs(a["tokens"] - b["tokens"]) <= res["tolerance_tokens"] and res["budgets_equal"],
   "the arms' budgets are equal within one SFT step", s1)
is_eq(b["tokens"], b["tokens_trained"] + b["tokens_generated"], "the RL arm's budget is its trained plus generated tokens")
ok(b["tokens_trained"] > 0 and b["tokens_generated"] > b["tokens_trained"],
   "the RL arm is charged for what it trained on and for more generated tokens (dropped groups too)", b)
# the counts are rlvr's own: the distillation arm's from its metrics, the RL arm's from its rates and times
sft_rows = [json.loads(x) for x in open(os.path.join(one, "seed-1", "distill", "metrics.jsonl"))]
is_eq(a["tokens"], sum(r["completion_tokens"] for r in sft_rows), "the distillation arm's tokens are its SFT's")
is_eq(a["steps"], sft_rows[-1]["step"], "the distillation arm ran the steps it was given")
ok(str(b["tokens"]) in p.stdout + p.stderr, "the script says what the RL arm spent before sizing the other arm")
for arm in ("cold", "rl", "distill"):
    ok(0 <= s1[arm]["pass@1"] <= 1 and 0 <= s1[arm]["format"] <= 1, "pass@1 and format rate of %s in [0, 1]" % arm)
evals = [json.load(open(os.path.join(one, "seed-1", "eval_%s.json" % x))) for x in ("cold", "rl", "distill")]
evals.append(json.load(open(os.path.join(one, "eval_teacher.json"))))
ok(len({(e["problems"], e["samples_per_problem"], e["temperature"], e["top_p"]) for e in evals}) == 1
   and evals[0]["problems"] == 8, "every model is evaluated on the same 8 held-out problems with the same sampling",
   [(e["problems"], e["samples_per_problem"], e["temperature"]) for e in evals])
ok(res["teacher"]["source"].startswith("trained here"), "with no demo folder the teacher is trained here",
   res["teacher"])
summ = res["teacher_sampling"]
ok(0 < summ["kept"] <= summ["generated"] == 12 * 4, "the teacher's samples are filtered (kept of 48)", summ)
kept = [json.loads(x) for x in open(os.path.join(one, "kept.jsonl"))]
ok(all(int(k["prompt"][:-1].split("+")[0]) + int(k["prompt"][:-1].split("+")[1]) == int(k["answer"])
       and "\\boxed{%s}" % k["answer"] in k["completion"] for k in kept), "kept traces answer their problem", kept[:3])
ok(res["student_params"] < res["teacher_params"], "the student is smaller than the teacher",
   (res["student_params"], res["teacher_params"]))

# -- the teacher reused from a demo folder, and refused on other data ----------------------------------------
p = distill("two", os.path.join(one, "teacher"), env={"DISTILL_SEEDS": "2"})
ok(p.returncode == 0, "a second run with the first one's teacher folder runs", p.stdout[-2000:] + p.stderr[-2000:])
two = json.load(open(os.path.join(work, "two", "results.json")))
ok(two["teacher"]["source"].startswith("reused"), "the teacher is reused and the output says so", two["teacher"])
ok(not os.path.exists(os.path.join(work, "two", "teacher")) and "seconds" not in two["teacher"],
   "no teacher is trained when one is reused")
is_eq(two["teacher"]["pass@1"], res["teacher"]["pass@1"], "the reused teacher evaluates as it did")
ok(list(two["seeds"]) == ["2"] and two["budgets_equal"], "the second run's seed 2 has equal budgets", two["seeds"])
other = os.path.join(work, "other-demo")
shutil.copytree(os.path.join(one, "teacher"), other)
with open(os.path.join(other, "data", "test.jsonl"), "a") as f:
    f.write('{"id": "test-x", "prompt": "1+1=", "answer": "2"}\n')
p = distill("three", other, env={"DISTILL_TEACHER_SFT": os.path.join(work, "missing.lua")})
ok(p.returncode != 0 and "not a finished seed-1 demo on this run's data" in p.stderr,
   "a demo folder on other data is not reused (and a failing stage stops the script)", p.stderr[-2000:])
ok(not os.path.exists(os.path.join(work, "three", "results.json")), "a failed run writes no results")

# -- bad usage -------------------------------------------------------------------------------------------------
p = distill("four", rlvr=os.path.join(work, "no-such-rlvr"))
is_eq(p.returncode, 2, "a missing rlvr program is refused (exit 2)")
p = subprocess.run(["sh", SCRIPT, RLVR], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ok(p.returncode == 2 and "usage" in p.stderr, "too few arguments print the usage (exit 2)", p.stderr)

# -- report.py on bad inputs -----------------------------------------------------------------------------------
bad = os.path.join(work, "bad")
shutil.copytree(one, bad, ignore=shutil.ignore_patterns("*.safetensors", "teacher"))
mpath = os.path.join(bad, "seed-1", "distill", "metrics.jsonl")
rows = [json.loads(x) for x in open(mpath)]
rows[-1]["completion_tokens"] += 10 * res["tolerance_tokens"]
with open(mpath, "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
r = report("report", bad, "8", "1")
ok(r.returncode == 1 and "BUDGETS DIFFER" in r.stdout, "unequal budgets are refused and said", r.stdout + r.stderr)
ok(json.load(open(os.path.join(bad, "results.json")))["budgets_equal"] is False, "results.json records them")
cases = [
    ("a truncated metrics line", "seed-1/rl/metrics.jsonl", lambda t: t[:-20], "cannot read"),
    ("a step without its rates", "seed-1/rl/metrics.jsonl",
     lambda t: t.replace('"tokens_per_second/generation"', '"x"'), "lacks tokens_per_second/generation"),
    ("SFT metrics without token counts", "seed-1/distill/metrics.jsonl",
     lambda t: t.replace('"completion_tokens"', '"y"'), "no completion token counts"),
    ("no training step in the RL metrics", "seed-1/rl/metrics.jsonl",
     lambda t: "".join(x + "\n" for x in t.splitlines() if '"loss"' not in x), "no training step"),
]
for name, rel, edit, msg in cases:
    d = os.path.join(work, "case")
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree(one, d, ignore=shutil.ignore_patterns("*.safetensors", "teacher"))
    path = os.path.join(d, rel)
    text = open(path).read()
    open(path, "w").write(edit(text))
    r = report("report", d, "8", "1")
    ok(r.returncode == 1 and msg in r.stderr, "report.py refuses %s" % name, r.stdout[-500:] + r.stderr)
empty = os.path.join(work, "empty.jsonl")
open(empty, "w").close()
for args, name in (((empty, "1000", "8"), "an empty distillation set"),
                   ((os.path.join(one, "kept.jsonl"), "0", "8"), "a zero budget"),
                   ((os.path.join(one, "kept.jsonl"), "1000", "0"), "a zero batch")):
    r = report("steps", *args)
    ok(r.returncode == 1 and r.stderr.startswith("report.py:"), "steps refuses %s" % name, r.stderr)
r = report("steps", os.path.join(one, "kept.jsonl"), "100000", "8")
mean = sum(k["completion_tokens"] for k in kept) / len(kept)
is_eq(int(r.stdout), round(100000 / (8 * mean)), "steps rounds the budget to the nearest step")
r = report("budget", os.path.join(one, "seed-1", "rl"))
is_eq(int(r.stdout), b["tokens"], "budget prints the RL arm's tokens")
r = report("nonsense")
is_eq(r.returncode, 2, "an unknown command prints the usage (exit 2)")

shutil.rmtree(work, ignore_errors=True)
done()
