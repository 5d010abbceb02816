"""test_pipeline.py -- `rlvr pipeline PIPELINE.lua`: the R1 stages chained.

- A four-stage tiny pipeline (cold-start SFT, GRPO from it, rejection
  sampling with the GRPO model, SFT on the kept samples) runs end to end:
  each stage in OUTPUT/NN-name with its log, its output streamed with a
  stage prefix, outputs chained by output(NAME), the state recording each
  stage's status, times, exit status and configuration hash.
- --resume after a finished run runs nothing; a fresh run over it is refused.
- A changed stage configuration is refused on --resume, named; --force-stage
  reruns it and the stages that read it, not the ones before.
- A stage that fails stops the pipeline naming the stage, its log and
  --resume; after the cause is fixed --resume skips the finished stages.
- SIGINT during the GRPO stage stops it with a checkpoint, exit 130 and the
  hint; --resume continues that stage from its newest checkpoint.
- --dry-run, --only, --from; bad pipeline files are refused before anything
  runs (no output folder made), naming the stage and the key.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile

from taplib import ok, is_eq, done, RLVR, SRCDIR

FIX = os.path.abspath(os.path.join(SRCDIR, "fixtures", "pipeline"))
TINY = os.path.join(FIX, "tiny.lua")
work = tempfile.mkdtemp(prefix="rlvr-pipeline-")
ENV = dict(os.environ)
ENV.pop("RLVR_TEST_GRPO_STEPS", None)
ENV.pop("RLVR_TEST_SAMPLE_DATA", None)


def pipeline(*args, env=None, timeout=120):
    e = dict(ENV)
    e.update(env or {})
    return subprocess.run([RLVR, "pipeline"] + list(args), cwd=work, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout, env=e)


def state(out):
    with open(os.path.join(work, out, "pipeline_state.json")) as f:
        return json.load(f)["stages"]


STAGES = ["cold_start", "reason", "reject", "distill"]

# -- end to end -----------------------------------------------------------------------------------------------
p = pipeline(TINY, "--output_dir=run")
ok(p.returncode == 0, "a four-stage pipeline runs end to end", p.stdout[-2000:] + p.stderr[-2000:])
s = state("run")
is_eq([s[n]["status"] for n in STAGES], ["done"] * 4, "every stage is done in the state")
ok(all(s[n]["exit_status"] == 0 and s[n]["started"] and s[n]["ended"] and len(s[n]["config_hash"]) == 64
       for n in STAGES), "each stage records its times, exit status and configuration hash")
for i, n in enumerate(STAGES):
    d = os.path.join(work, "run", "%02d-%s" % (i + 1, n))
    ok(os.path.getsize(os.path.join(d, "log.txt")) > 0, "stage %s writes into %02d-%s with its log" % (n, i + 1, n))
ok(os.path.exists(os.path.join(work, "run", "01-cold_start", "model.safetensors")) and
   os.path.exists(os.path.join(work, "run", "02-reason", "model.safetensors")), "the SFT and GRPO stages save models")
cold = os.path.join(work, "run", "01-cold_start")
ok("--model=" + cold in s["reason"]["command"], "stage 2 trains from stage 1's model", s["reason"]["command"])
ok("--model=" + os.path.join(work, "run", "02-reason") in s["reject"]["command"],
   "stage 3 samples with stage 2's model")
ok("--data=" + os.path.join(work, "run", "03-reject", "samples.jsonl") in s["distill"]["command"] and
   "--model=" + cold in s["distill"]["command"], "stage 4 trains on stage 3's samples, from stage 1's model")
with open(os.path.join(work, "run", "03-reject", "samples.jsonl")) as f:
    kept = sum(1 for _ in f)
ok(kept > 0 and ("rlvr sft: %d examples" % kept) in p.stdout, "stage 4 reads the %d samples stage 3 kept" % kept)
ok("[02-reason] step 1/3" in p.stdout and "[01-cold_start] rlvr sft:" in p.stdout,
   "the stages' output is streamed with a stage prefix")
ok(os.path.exists(os.path.join(work, "run", "03-reject", "summary.json")), "the sampling stage's summary is kept")

# -- resume after a finished run ------------------------------------------------------------------------------
mtime = os.path.getmtime(os.path.join(cold, "model.safetensors"))
p = pipeline(TINY, "--output_dir=run", "--resume")
ok(p.returncode == 0 and p.stdout.count("done; skipped") == 4, "--resume after a finished run runs nothing",
   p.stdout + p.stderr)
ok(os.path.getmtime(os.path.join(cold, "model.safetensors")) == mtime and
   all(state("run")[n]["runs"] == 1 for n in STAGES), "nothing was rewritten")
p = pipeline(TINY, "--output_dir=run")
ok(p.returncode == 2 and "--resume" in p.stderr, "a fresh run over a finished one is refused", p.stderr)

# -- a changed configuration ----------------------------------------------------------------------------------
p = pipeline(TINY, "--output_dir=run", "--resume", env={"RLVR_TEST_GRPO_STEPS": "2"})
ok(p.returncode == 2 and "'reason'" in p.stderr and "--force-stage reason" in p.stderr,
   "a changed stage configuration is detected and named", p.stderr)
p = pipeline(TINY, "--output_dir=run", "--resume", "--dry-run", "--force-stage", "reason",
             env={"RLVR_TEST_GRPO_STEPS": "2"})
ok(p.returncode == 0 and "01-cold_start: done" in p.stdout and "02-reason: rerun (configuration changed" in p.stdout
   and "03-reject: rerun (a stage it reads" in p.stdout and "--max_steps=2" in p.stdout,
   "--dry-run shows the forced stage and the stages that read it rerun", p.stdout + p.stderr)
p = pipeline(TINY, "--output_dir=run", "--resume", "--force-stage", "reason", env={"RLVR_TEST_GRPO_STEPS": "2"})
s = state("run")
ok(p.returncode == 0 and [s[n]["runs"] for n in STAGES] == [1, 2, 2, 2],
   "--force-stage reruns it and what reads it, not the stage before", p.stderr[-1000:])
ok(not os.path.exists(os.path.join(work, "run", "02-reason", "checkpoint-3")),
   "a stage started afresh starts in an empty folder")

# -- a stage that fails, then --resume --------------------------------------------------------------------------
later = os.path.join(work, "later.jsonl")
fenv = {"RLVR_TEST_SAMPLE_DATA": later}
p = pipeline(TINY, "--output_dir=fail", env=fenv)
s = state("fail")
ok(p.returncode == 1 and "stage 'reject'" in p.stderr and "03-reject/log.txt" in p.stderr and "--resume" in p.stderr,
   "a failing stage stops the pipeline naming the stage, its log and --resume", p.stderr[-1500:])
is_eq([s[n]["status"] for n in STAGES], ["done", "done", "failed", "pending"], "the state says where it stopped")
ok(s["reject"]["exit_status"] not in (0, None), "the failed stage's exit status is kept")
shutil.copy(os.path.join(FIX, "additions.jsonl"), later)
p = pipeline(TINY, "--output_dir=fail", "--resume", env=fenv)
s = state("fail")
ok(p.returncode == 0 and p.stdout.count("done; skipped") == 2 and [s[n]["runs"] for n in STAGES] == [1, 1, 2, 1],
   "--resume skips the done stages and finishes", p.stdout[-1500:] + p.stderr[-1500:])

# -- SIGINT during the GRPO stage, then --resume ------------------------------------------------------------------
e = dict(ENV)
e["RLVR_TEST_GRPO_STEPS"] = "40"
proc = subprocess.Popen([RLVR, "pipeline", TINY, "--output_dir=intr"], cwd=work, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True, env=e)
seen = []
for line in proc.stdout:
    seen.append(line)
    if line.startswith("[02-reason] step 2/"):
        proc.send_signal(signal.SIGINT)
        break
rest, err = proc.communicate(timeout=120)
s = state("intr")
ok(proc.returncode == 130 and "interrupted in stage 'reason'" in err and "--resume" in err,
   "SIGINT stops the pipeline with exit 130 and the resume hint", "".join(seen[-5:]) + rest[-800:] + err[-800:])
is_eq(s["reason"]["status"], "interrupted", "the interrupted stage is marked interrupted")
ck = [d for d in os.listdir(os.path.join(work, "intr", "02-reason")) if d.startswith("checkpoint-")]
ok(len(ck) > 0, "the GRPO stage saved a checkpoint when interrupted", ck)
p = pipeline(TINY, "--output_dir=intr", "--resume", "--dry-run", env={"RLVR_TEST_GRPO_STEPS": "40"})
ok("02-reason: resume (from its newest checkpoint)" in p.stdout, "--dry-run shows the stage resumes", p.stdout)
p = pipeline(TINY, "--output_dir=intr", "--resume", env={"RLVR_TEST_GRPO_STEPS": "40"})
s = state("intr")
ok(p.returncode == 0 and s["reason"]["command"][-1] == "--resume" and s["cold_start"]["runs"] == 1 and
   "resumed" in p.stdout, "--resume continues the GRPO stage from its checkpoint and finishes",
   p.stdout[-1500:] + p.stderr[-800:])
is_eq([s[n]["status"] for n in STAGES], ["done"] * 4, "after the resume every stage is done")

# -- --only, --from, --dry-run ---------------------------------------------------------------------------------
p = pipeline(TINY, "--output_dir=dry", "--dry-run")
ok(p.returncode == 0 and "rlvr sft " in p.stdout and "--output_dir=" + os.path.join(work, "dry", "01-cold_start")
   in p.stdout and not os.path.exists(os.path.join(work, "dry")), "--dry-run prints the commands and makes nothing",
   p.stdout + p.stderr)
p = pipeline(TINY, "--output_dir=only", "--only", "reject")
ok(p.returncode == 2 and "'reason' has not finished" in p.stderr, "--only a stage whose input never ran is refused",
   p.stderr)
p = pipeline(TINY, "--output_dir=run", "--only", "distill")
s = state("run")
ok(p.returncode == 0 and s["distill"]["runs"] == 3 and s["reject"]["runs"] == 2, "--only reruns that stage alone",
   p.stderr[-800:])
p = pipeline(TINY, "--output_dir=run", "--from", "nope")
ok(p.returncode == 2 and "nope" in p.stderr, "--from an unknown stage is refused", p.stderr)

# -- bad pipeline files ------------------------------------------------------------------------------------------
SFT = os.path.join(FIX, "sft.lua")


def bad(body, want, name):
    path = os.path.join(work, "bad.lua")
    with open(path, "w") as f:
        f.write('return { output_dir = "badout", stages = {\n%s\n} }\n' % body.replace("SFT", SFT))
    p = pipeline(path)
    ok(p.returncode == 2 and all(w in p.stderr for w in want) and not os.path.exists(os.path.join(work, "badout")),
       "refused before anything runs: " + name, p.stderr)


bad('{ name = "a", run = "sft", config = "SFT" }, { name = "b", run = "rl", config = "SFT" }',
    ["stage 'b'", "'run'", "'rl'"], "an unknown run")
bad('{ name = "a", run = "sft", config = "SFT" }, { name = "a", run = "sft", config = "SFT" }',
    ["stage 2", "'name'", "'a'"], "duplicate names")
bad('{ name = "a", run = "sft", config = "SFT", model = output("b") }, { name = "b", run = "sft", config = "SFT" }',
    ["stage 'a'", "'model'", "later stage"], "a reference to a later stage")
bad('{ name = "a", run = "sft", config = "SFT", model = output("a") }', ["stage 'a'", "'model'", "itself"],
    "a reference to the stage itself")
bad('{ name = "a", run = "sft", config = "SFT" }, { name = "b", run = "train", config = { model = output("zz") } }',
    ["stage 'b'", "'model'", "names no stage"], "a reference to an unknown stage")
bad('{ name = "a", run = "sft", config = "missing.lua" }', ["stage 'a'", "'config'", "missing.lua"],
    "a missing config file")
bad('{ name = "a", run = "sft", config = 42 }', ["stage 'a'", "'config'"], "a config that is neither file nor table")
bad('{ name = "a", run = "sft", config = "SFT", output_dir = "x" }', ["stage 'a'", "'output_dir'", "sets it"],
    "a key the pipeline sets")
bad('{ name = "a", run = "sft", config = "SFT" }, { name = "b", run = "sft", data = output("a") .. "/x" }',
    ["stage 'b'", "'data'", "whole value"], "output() joined to text")
bad('{ run = "sft", config = "SFT" }', ["stage 1", "'name'"], "a stage without a name")
bad('{ name = "a/b", run = "sft", config = "SFT" }', ["stage 1", "'name'"], "a name that is not a folder name")
bad('{ name = "a", config = "SFT" }', ["stage 'a'", "'run'"], "a stage without a run")
bad('{ name = "a", run = "sft", config = "SFT" }, { name = "b", run = "sft", config = { seed = 1 }, seed = 2 }', ["stage 'b'", "'seed'", "both"],
    "a key given twice")
bad('', ["'stages'"], "no stages")
p = pipeline(os.path.join(work, "nonexistent.lua"))
ok(p.returncode == 2 and "nonexistent.lua" in p.stderr, "a missing pipeline file is refused", p.stderr)
with open(os.path.join(work, "bad2.lua"), "w") as f:
    f.write('return { output_dir = "badout", stage = {} }\n')
p = pipeline(os.path.join(work, "bad2.lua"))
ok(p.returncode == 2 and "'stage'" in p.stderr, "an unknown top-level key is refused", p.stderr)
with open(os.path.join(work, "bad3.lua"), "w") as f:
    f.write('return { output_dir = env("RLVR_TEST_SURELY_UNSET"), stages = {} }\n')
p = pipeline(os.path.join(work, "bad3.lua"))
ok(p.returncode == 2 and "RLVR_TEST_SURELY_UNSET" in p.stderr, "env() of an unset variable without a default fails",
   p.stderr)

shutil.rmtree(work)
done()
