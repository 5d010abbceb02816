"""test_train.py -- `rlvr train` end to end on a fresh tiny model.

- GRPO learns: a fresh byte-level model, rewarded by a Lua plugin for the
  share of digits it writes, raises its reward within 20 steps (seconds);
  the metrics, sample completions, checkpoint, final model and plot are
  written, and the same configuration gives the same metrics again.
- Resume: 2 steps, then --resume to 4, ends with the very weights and step
  metrics of an unbroken 4-step run; Ctrl-C saves a checkpoint that
  --resume continues from.
- Periodic evaluation on held-out problems with its own mix.
- Dynamic sampling: when every group's rewards are equal it says so plainly,
  counts its generation batches, and the run goes on.
- A reference model (beta > 0) gives a KL metric; num_iterations > 1 runs.
- steps_per_generation cuts each batch into mini-batches, one optimizer
  step each: its runs differ from one-step runs, are reproducible, resume
  exactly, and a resume with another value is refused.
- Bad configurations fail before any work with a message naming the key.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET

from taplib import ok, is_eq, done, RLVR, SRCDIR

FIX = os.path.abspath(os.path.join(SRCDIR, "fixtures", "train"))
CONFIG = os.path.join(FIX, "train_tiny.lua")
work = tempfile.mkdtemp(prefix="rlvr-train-")
TIMING = ("time/", "tokens_per_second", "elapsed", "eval/seconds")


def train(*args, timeout=120):
    return subprocess.run([RLVR, "train", CONFIG] + list(args), cwd=work, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, timeout=timeout)


def metrics(out):
    with open(os.path.join(work, out, "metrics.jsonl")) as f:
        return [json.loads(l) for l in f]


def steps_only(rows):
    """Step lines without timings (which differ between runs)."""
    return [{k: v for k, v in r.items() if not k.startswith(TIMING)} for r in rows if "reward" in r]


def weights(out):
    with open(os.path.join(work, out, "model.safetensors"), "rb") as f:
        return f.read()


# -- GRPO learns -------------------------------------------------------------------------
p = train("--output_dir=learn", "--max_steps=20")
ok(p.returncode == 0, "a 20-step run on a fresh tiny model finishes", p.stderr[-2000:])
rows = [r for r in metrics("learn") if "reward" in r]
is_eq(len(rows), 20, "metrics.jsonl has a line per step")
first = sum(r["reward"] for r in rows[:4]) / 4
last = sum(r["reward"] for r in rows[-4:]) / 4
ok(last > first + 0.05 and last > 2 * first, "the reward rises (first steps %.3f, last steps %.3f)" % (first, last))
keys = set(rows[-1])
for k in ("reward", "reward_std", "rewards/accuracy/mean", "rewards/accuracy/abstain_rate", "accuracy",
          "completions/mean_length", "completions/max_length", "completions/clipped_ratio", "entropy",
          "clip_ratio/region_mean", "frac_reward_zero_std", "grad_norm", "learning_rate",
          "tokens_per_second/generation", "tokens_per_second/training", "time/generation", "time/training"):
    ok(k in keys, "metric %s is logged" % k)
ok(rows[-1]["accuracy"] == rows[-1]["rewards/accuracy/mean"], "accuracy is the accuracy component's mean")
ok("step 20/20" in p.stderr and "reward" in p.stderr, "a readable line per step")
ok("--- step 10, problem" in p.stderr and "completion:" in p.stderr, "sample completions are printed")
with open(os.path.join(work, "learn", "completions.jsonl")) as f:
    logged = [json.loads(l) for l in f]
ok(len(logged) == 2 and logged[0]["step"] == 10 and "completion" in logged[0]["sample"],
   "printed completions are kept in completions.jsonl with their results")
for name in ("config.json", "model.safetensors", "checkpoint-20/trainer_state.json", "checkpoint-20/optimizer.bin"):
    ok(os.path.exists(os.path.join(work, "learn", name)), "the run wrote %s" % name)
svg = os.path.join(work, "learn", "training.svg")
try:
    root = ET.parse(svg).getroot()
    ok(root.tag.endswith("svg") and len(list(root.iter("{http://www.w3.org/2000/svg}polyline"))) >= 2,
       "training.svg is an SVG with the reward and accuracy lines")
except Exception as e:  # noqa: BLE001
    ok(False, "training.svg is an SVG", str(e))
p2 = train("--output_dir=learn2", "--max_steps=20")
is_eq(steps_only(metrics("learn2")), steps_only(metrics("learn")), "the same configuration gives the same metrics")

# -- resume ---------------------------------------------------------------------------------
p = train("--output_dir=whole", "--max_steps=4", "--log_completions_steps=0")
ok(p.returncode == 0, "an unbroken 4-step run", p.stderr[-1000:])
p = train("--output_dir=broken", "--max_steps=2", "--log_completions_steps=0")
p = train("--output_dir=broken", "--max_steps=4", "--log_completions_steps=0", "--resume")
ok(p.returncode == 0 and "resumed" in p.stderr, "--resume continues from checkpoint-2", p.stderr[-1000:])
is_eq(steps_only(metrics("broken")), steps_only(metrics("whole")), "resumed metrics equal the unbroken run's")
ok(weights("broken") == weights("whole"), "resumed weights are bit for bit the unbroken run's")

proc = subprocess.Popen([RLVR, "train", CONFIG, "--output_dir=ctrlc", "--max_steps=100000",
                         "--log_completions_steps=0"], cwd=work, stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE, text=True)
mpath = os.path.join(work, "ctrlc", "metrics.jsonl")
deadline = time.time() + 60
while time.time() < deadline and not (os.path.exists(mpath) and os.path.getsize(mpath) > 0):
    time.sleep(0.05)
proc.send_signal(signal.SIGINT)
out, errs = proc.communicate(timeout=60)
is_eq(proc.returncode, 130, "Ctrl-C exits with 130 after the step")
ck = [d for d in os.listdir(os.path.join(work, "ctrlc")) if d.startswith("checkpoint-")]
ok(len(ck) == 1 and "--resume continues" in errs, "Ctrl-C saves a checkpoint and says how to go on", errs[-500:])
n = int(ck[0].split("-")[1]) if ck else 0
p = train("--output_dir=ctrlc", "--max_steps=%d" % (n + 2), "--log_completions_steps=0", "--resume")
ok(p.returncode == 0 and os.path.exists(os.path.join(work, "ctrlc", "checkpoint-%d" % (n + 2))),
   "the interrupted run resumes and finishes", p.stderr[-500:])

# -- evaluation, reference model, iterations ------------------------------------------------------
p = train("--output_dir=ev", "--max_steps=4", "--eval_data=" + os.path.join(FIX, "prompts.jsonl"), "--eval_steps=2",
          "--eval_max_problems=10", "--eval_num_samples=2", "--beta=0.04", "--num_iterations=2",
          "--log_completions_steps=0")
ok(p.returncode == 0, "a run with eval, a reference model and two iterations", p.stderr[-1500:])
ev = [r for r in metrics("ev") if "eval/accuracy" in r]
is_eq([r["step"] for r in ev], [0, 2, 4], "evaluated at the start, every eval_steps and at the end")
ok(all(r["eval/problems"] == 10 and r["eval/samples_per_problem"] == 2 for r in ev), "eval size as configured")
kl = [r["kl"] for r in metrics("ev") if "kl" in r]
ok(kl[0] is not None and kl[0] < 1e-4 and kl[-1] is not None and kl[-1] > kl[0],
   "kl against the frozen start grows from 0 (%s)" % kl)
ok(all(r["learning_rate"] > 0 for r in metrics("ev") if "learning_rate" in r), "two optimizer steps per step")

# -- mini-batches: steps_per_generation ----------------------------------------------------------
p = train("--output_dir=spg", "--max_steps=4", "--steps_per_generation=4", "--log_completions_steps=0")
ok(p.returncode == 0, "a run with four optimizer steps per generated batch", p.stderr[-1000:])
ok(weights("spg") != weights("whole"), "four mini-batch steps move the policy otherwise than one step")
rows = [r for r in metrics("spg") if "reward" in r]
ok(all(r["clip_ratio/region_mean"] >= 0 and r["grad_norm"] > 0 for r in rows), "its clip and gradient metrics")
p = train("--output_dir=spg_broken", "--max_steps=2", "--steps_per_generation=4", "--log_completions_steps=0")
p = train("--output_dir=spg_broken", "--max_steps=4", "--steps_per_generation=4", "--log_completions_steps=0",
          "--resume")
ok(p.returncode == 0 and weights("spg_broken") == weights("spg"),
   "a resumed mini-batch run ends with the unbroken run's weights, bit for bit", p.stderr[-1000:])
is_eq(steps_only(metrics("spg_broken")), steps_only(metrics("spg")), "and with its metrics")
p = train("--output_dir=spg_broken", "--max_steps=6", "--steps_per_generation=2", "--log_completions_steps=0",
          "--resume")
ok(p.returncode == 2 and "holds optimizer step 16, expected 8" in p.stderr,
   "resuming with another steps_per_generation is refused", p.stderr[-500:])

# -- dynamic sampling -------------------------------------------------------------------------
p = train("--output_dir=dyn", "--max_steps=2", "--mix=" + os.path.join(FIX, "constant_mix.lua"), "--dynamic_sampling=true",
          "--max_num_gen_batches=3", "--log_completions_steps=0")
ok(p.returncode == 0, "dynamic sampling with no signal anywhere still runs", p.stderr[-1000:])
ok("dynamic sampling kept 0 of 8 groups after max_num_gen_batches (3)" in p.stderr,
   "it says plainly that the cap was hit", p.stderr[-1000:])
rows = [r for r in metrics("dyn") if "reward" in r]
ok(all(r["num_gen_batches"] == 3 and r["groups_trained"] == 0 and r["frac_reward_zero_std"] == 1 for r in rows),
   "three generation batches per step, nothing trained, all groups zero-std")

# -- bad configurations ------------------------------------------------------------------------
for args, expect, what in [
        (["--num_generation=4"], "unknown key 'num_generation'", "a misspelt key"),
        (["--num_generations=1"], "'num_generations' must be at least 2", "one generation per prompt"),
        (["--steps_per_generation=0"], "steps_per_generation", "no mini-batch"),
        (["--steps_per_generation=65"], "'steps_per_generation' is more than the completions of a step",
         "more mini-batches than completions"),
        (["--loss_type=ppo"], "'loss_type' must be grpo, bnpo, dapo or dr_grpo", "an unknown loss type"),
        (["--scale_rewards=std"], "'scale_rewards' must be group, batch or none", "an unknown scaling"),
        (["--eval_steps=5"], "'eval_steps' needs 'eval_data'", "eval_steps without eval_data"),
        (["--epsilon=1.5"], "epsilon", "an epsilon out of range"),
        (["--mix=nowhere.lua"], "nowhere.lua", "a missing mix"),
        (["--data=nowhere.jsonl"], "cannot open", "missing data"),
        (["--max_steps=\"ten\""], "'max_steps' must be an integer", "a string for an integer"),
        (["--prompt_template=Q:"], "{prompt}", "a template without {prompt}"),
        (["--accuracy_component=acc"], "accuracy_component 'acc' is not a component", "an unknown accuracy component"),
        (["--max_completion_length=5000"], "max_position_embeddings", "prompt + completion over the context")]:
    p = train("--output_dir=bad", *args)
    ok(p.returncode == 2 and expect in p.stderr, "refused: %s" % what, p.stderr[-500:])
ok(not os.path.exists(os.path.join(work, "bad", "metrics.jsonl")), "a refused config trains nothing")

shutil.rmtree(work, ignore_errors=True)
done()
