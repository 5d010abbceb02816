"""test_train_gpu.py -- `rlvr train` with device = "cuda" (host/train_gpu.c)
end to end, on the fresh tiny model of test_train.py.

On any machine: where the GPU cannot be used (a build without CUDA, or no
device) device = "cuda" is refused before any work with the exact message
naming why, nothing is written, and "auto" falls back to the CPU, saying so
once, with the CPU run's model byte for byte.

With a GPU (else these are TAP skips, a fixed number of them): for every
loss type (grpo, bnpo, dapo, dr_grpo) and for a run with every option that
changes the update (a reference model with beta 0.04, steps_per_generation
2 so that the ratio is taken against pi_old, mask_truncated_completions,
clip-higher), 4 steps on the GPU and on the CPU from the same start:
- the rewards of every step are the CPU run's (rollouts generate with the
  GPU's fp32 policy and draw on the host from the same streams, so they
  sample the same completions unless a draw lands within the logits'
  rounding of a boundary; the comparison stops at the first step where the
  rewards differ, which must not be step 1);
- per compared step: the learning rate exactly, the loss within 1e-4
  relative (1e-6 absolute), kl and entropy within 1e-4 relative, the
  gradient norm within 1e-3 relative, the clip fractions within 0.01;
- when every step compared: the final weights within 2e-4 relative L2 and
  1e-3 absolute per weight, with the CPU run's tensors and dtypes;
- checkpoints hold optimizer.bin in the CPU's format (its size and header);
- resume: checkpoint-2 of the "options" runs continued to step 4 with
  --resume -- the GPU's on the GPU, the GPU's on the CPU, the CPU's on the
  GPU -- ends as the uninterrupted run (the GPU one, or the CPU one) within
  the tolerances above, where the continued steps' rewards are the
  uninterrupted run's (else a TAP skip: a draw differed, the weights are
  not comparable).
Without a GPU, --resume with device = "cuda" from a CPU checkpoint fails
only for want of a device, with the one-line refusal above.

fused_lm_head_loss (the GRPO loss fused with the LM head, GPU only), on any
machine: true with device = "cpu" (given, or the default) is refused with one
line naming the key, before anything is written; with device = "auto" on the
CPU it is ignored, saying so once, and the run is the CPU run's byte for
byte; with device = "cuda" and no usable GPU the refusal is the device's
(the key itself is accepted); a value that is not a boolean is refused
naming the key. With a GPU (else TAP skips): the grpo and "options" cases
run fused on the GPU against the unfused GPU run: the run says it is fused,
the rewards of step 1 at least are the unfused run's, the loss of every
compared step within 1e-4 relative, and the final weights within 2e-4
relative L2 and 1e-3 per weight (the same fp32 products in other orders
and chunks: the tolerances of the GPU-vs-CPU comparison).
The tolerances are those of rlvr sft's GPU test (fp32, TF32 off, other
summation orders); tighten or loosen them after the first GPU run.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

from taplib import ok, done, same_file, RLVR, SRCDIR
from taplib import safetensors_floats as weights
import taplib

FIX = os.path.abspath(os.path.join(SRCDIR, "fixtures", "train"))
CONFIG = os.path.join(FIX, "train_tiny.lua")
work = tempfile.mkdtemp(prefix="rlvr-train-gpu-")
STEPS = 4


def train(*args, timeout=300):
    return subprocess.run([RLVR, "train", CONFIG, "--progress=false", "--plot=false"] + list(args), cwd=work,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)


def metrics(out):
    try:
        with open(os.path.join(work, out, "metrics.jsonl")) as f:
            return [r for r in (json.loads(l) for l in f) if "reward" in r]
    except (OSError, ValueError):
        return []




def weight_gap(a, b):
    """taplib.weight_gap of two output folders under work."""
    return taplib.weight_gap(os.path.join(work, a), os.path.join(work, b))


def resume_from(src, dst, step):
    """dst/checkpoint-STEP := src's: a run interrupted after that checkpoint."""
    taplib.copy_checkpoint(os.path.join(work, src), os.path.join(work, dst), step)


def rel(a, b):
    if a is None or b is None:
        return float("inf") if a != b else 0.0
    return abs(a - b) / max(abs(a), 1e-12)


# every loss type, then every option that changes the update
CASES = [
    ("grpo", ["--loss_type=grpo"]),
    ("bnpo", ["--loss_type=bnpo"]),
    ("dapo", ["--loss_type=dapo", "--epsilon_high=0.28"]),
    ("dr_grpo", ["--loss_type=dr_grpo"]),
    ("options", ["--loss_type=grpo", "--beta=0.04", "--steps_per_generation=2", "--per_device_train_batch_size=24",
                 "--mask_truncated_completions=true", "--epsilon_high=0.28", "--lr_scheduler_type=linear",
                 "--warmup_steps=1", "--weight_decay=0.1", "--max_grad_norm=0.5", "--save_steps=2"]),
]
CHECKS_PER_CASE = 9
FUSED = ("grpo", "options")  # the cases also run with fused_lm_head_loss = true on a GPU
FUSED_CHECKS = 4
RESUMES = [("gpu_to_gpu", "options_gpu", "cuda", "options_gpu"), ("gpu_to_cpu", "options_gpu", "cpu", "options_cpu"),
           ("cpu_to_gpu", "options_cpu", "cuda", "options_cpu")]

try:
    p = train("--device=cuda", "--output_dir=refused", "--max_steps=%d" % STEPS)
    err = p.stderr.strip().splitlines()
    prefix = 'rlvr train: %s: device = "cuda": ' % CONFIG
    no_cuda = prefix + 'this rlvr was built without CUDA; use device = "cpu"'
    no_dev = re.compile(re.escape(prefix) + r'no CUDA device: .+; use device = "cpu"$')
    refused = p.returncode != 0
    gpu = not refused
    if refused:
        ok(p.returncode == 2 and len(err) == 1 and (err[0] == no_cuda or no_dev.match(err[0]) is not None),
           "device = cuda without a usable GPU: refused with one line naming why", p.stderr)
        ok(not os.path.exists(os.path.join(work, "refused")), "nothing written before the refusal")
    else:
        ok(p.returncode == 0, "device = cuda runs on this machine's GPU", p.stderr[-3000:])
        ok(any("the policy update and generation on the GPU (" in l for l in err), "the run says it trains on the GPU",
           p.stderr)

    p = train("--device=auto", "--output_dir=auto", "--max_steps=2")
    said = [l for l in p.stderr.splitlines() if 'device = "auto"' in l]
    ok(p.returncode == 0 and len(said) == 1 and
       said[0].startswith('rlvr train: device = "auto": the %s (' % ("GPU" if gpu else "CPU")),
       "auto picks the %s and says so once" % ("GPU" if gpu else "CPU"), p.stderr[-3000:])
    p = train("--device=cpu", "--output_dir=cpu2", "--max_steps=2")
    ok(p.returncode == 0 and 'device =' not in p.stderr, "device = cpu runs and says nothing of it", p.stderr[-3000:])
    # fused_lm_head_loss is a GPU option: refused on the CPU, given or by default
    want = ("rlvr train: %s: 'fused_lm_head_loss' is a GPU option (the loss fused with the GPU's LM head); with "
            "device = \"cpu\" set it to false" % CONFIG)
    for dev in (["--device=cpu"], []):
        p = train(*(dev + ["--output_dir=cpu_fused", "--max_steps=2", "--fused_lm_head_loss=true"]))
        ok(p.returncode == 2 and p.stderr.strip().splitlines() == [want] and
           not os.path.exists(os.path.join(work, "cpu_fused")),
           "fused_lm_head_loss = true with device = cpu (%s) is refused in one line naming the key, nothing written" %
           ("given" if dev else "the default"), p.stderr)
    p = train("--device=cpu", "--output_dir=cpu_fused", "--max_steps=2", "--fused_lm_head_loss=maybe")
    ok(p.returncode != 0 and "fused_lm_head_loss" in p.stderr and not os.path.exists(os.path.join(work, "cpu_fused")),
       "fused_lm_head_loss = maybe is refused naming the key", p.stderr)
    p = train("--device=cpu", "--output_dir=cpu_unfused", "--max_steps=1", "--fused_lm_head_loss=false")
    ok(p.returncode == 0 and "fused_lm_head_loss" not in p.stderr, "fused_lm_head_loss = false runs on the CPU",
       p.stderr[-3000:])
    if not gpu:
        ok(same_file(os.path.join(work, "cpu2", "model.safetensors"), os.path.join(work, "auto", "model.safetensors")),
           "auto fell back to the CPU: the CPU run's model byte for byte")
        # a GPU run resumes (from either device's checkpoint): here it fails only for want of a device
        resume_from("cpu2", "cpu2_then_cuda", 2)
        p = train("--device=cuda", "--output_dir=cpu2_then_cuda", "--max_steps=2", "--resume")
        err = p.stderr.strip().splitlines()
        ok(p.returncode == 2 and len(err) == 1 and (err[0] == no_cuda or no_dev.match(err[0]) is not None) and
           not os.path.exists(os.path.join(work, "cpu2_then_cuda", "metrics.jsonl")),
           "--resume with device = cuda fails only for want of a device, before any work", p.stderr)
        for name, _ in CASES:
            for i in range(CHECKS_PER_CASE):
                ok(True, "# SKIP no GPU: %s, GPU run against the CPU's (%d)" % (name, i + 1))
        for tag, _, _, _ in RESUMES:
            for i in range(2):
                ok(True, "# SKIP no GPU: resume %s (%d)" % (tag, i + 1))
        # fused_lm_head_loss where no GPU runs: auto falls back to the CPU and ignores it
        p = train("--device=auto", "--output_dir=auto_fused", "--max_steps=2", "--fused_lm_head_loss=true")
        said = [l for l in p.stderr.splitlines() if "fused_lm_head_loss" in l]
        ok(p.returncode == 0 and said == ["rlvr train: fused_lm_head_loss is a GPU option; the run is on the CPU, "
                                          "which ignores it"] and
           same_file(os.path.join(work, "cpu2", "model.safetensors"),
                     os.path.join(work, "auto_fused", "model.safetensors")),
           "fused_lm_head_loss with auto on the CPU: ignored, said once, the CPU run's model byte for byte",
           p.stderr[-3000:])
        p = train("--device=cuda", "--output_dir=cuda_fused", "--max_steps=2", "--fused_lm_head_loss=true")
        err = p.stderr.strip().splitlines()
        ok(p.returncode == 2 and len(err) == 1 and (err[0] == no_cuda or no_dev.match(err[0]) is not None) and
           not os.path.exists(os.path.join(work, "cuda_fused")),
           "fused_lm_head_loss with cuda and no usable GPU: the key is accepted, the device refused", p.stderr)
        for name in FUSED:
            for i in range(FUSED_CHECKS):
                ok(True, "# SKIP no GPU: %s, fused LM-head loss against the unfused GPU run (%d)" % (name, i + 1))
    else:
        ok(os.path.exists(os.path.join(work, "auto", "model.safetensors")), "auto's GPU run saved its model")
        for name, extra in CASES:
            args = ["--max_steps=%d" % STEPS, "--logging_steps=1"] + extra
            pc = train("--device=cpu", "--output_dir=%s_cpu" % name, *args)
            pg = train("--device=cuda", "--output_dir=%s_gpu" % name, *args)
            ok(pc.returncode == 0 and pg.returncode == 0, "%s: the CPU and GPU runs finish" % name,
               (pc.stderr + pg.stderr)[-3000:])
            mc, mg = metrics(name + "_cpu"), metrics(name + "_gpu")
            ok(len(mc) == STEPS and len(mg) == STEPS, "%s: %d step lines each (%d, %d)" % (name, STEPS, len(mc),
                                                                                          len(mg)))
            same = 0
            while same < min(len(mc), len(mg)) and mc[same]["reward"] == mg[same]["reward"] and \
                    mc[same]["completions/mean_length"] == mg[same]["completions/mean_length"]:
                same += 1
            ok(same >= 1, "%s: the rewards of %d of %d steps are the CPU's (step 1 at least)" % (name, same, STEPS),
               [(a["reward"], b["reward"]) for a, b in zip(mc, mg)])
            pairs = list(zip(mc[:same], mg[:same]))
            ok(all(a["learning_rate"] == b["learning_rate"] for a, b in pairs), "%s: the same learning rates" % name,
               [(a["learning_rate"], b["learning_rate"]) for a, b in pairs])
            bad = [(i + 1, a["loss"], b["loss"]) for i, (a, b) in enumerate(pairs)
                   if abs(a["loss"] - b["loss"]) > max(1e-4 * abs(a["loss"]), 1e-6)]
            ok(not bad, "%s: the loss of every compared step within 1e-4 relative" % name, bad)
            bad = []
            for i, (a, b) in enumerate(pairs):
                for k, tol in (("entropy", 1e-4), ("grad_norm", 1e-3)):
                    if rel(a[k], b[k]) > tol:
                        bad.append((i + 1, k, a[k], b[k]))
                if a["kl"] is not None and rel(a["kl"], b["kl"]) > 1e-4 and abs(a["kl"] - b["kl"]) > 1e-9:
                    bad.append((i + 1, "kl", a["kl"], b["kl"]))
                for k in ("clip_ratio/low_mean", "clip_ratio/high_mean", "clip_ratio/region_mean"):
                    if abs(a[k] - b[k]) > 0.01:
                        bad.append((i + 1, k, a[k], b[k]))
            ok(not bad, "%s: kl, entropy, gradient norm and clip fractions as the CPU's" % name, bad)
            if same == STEPS:
                wc = weights(os.path.join(work, name + "_cpu", "model.safetensors"))
                wg = weights(os.path.join(work, name + "_gpu", "model.safetensors"))
                ok(sorted(wc) == sorted(wg) and all(wc[k][0] == wg[k][0] and len(wc[k][1]) == len(wg[k][1])
                                                    for k in wc), "%s: the CPU run's tensors and dtypes" % name)
                num = den = big = 0.0
                for k in wc:
                    if k in wg:
                        for x, y in zip(wc[k][1], wg[k][1]):
                            num += (x - y) ** 2
                            den += x * x
                            big = max(big, abs(x - y))
                r = (num / den) ** 0.5 if den else 1.0
                ok(r <= 2e-4 and big <= 1e-3, "%s: final weights within 2e-4 relative L2 (%.2e) and 1e-3 per weight "
                   "(%.2e) of the CPU's" % (name, r, big))
            else:
                for i in range(2):
                    ok(True, "# SKIP %s: a draw differed at step %d, the weights are not comparable (%d)" %
                       (name, same + 1, i + 1))
            ck = os.path.join(work, name + "_gpu", "checkpoint-%d" % STEPS)
            cc = os.path.join(work, name + "_cpu", "checkpoint-%d" % STEPS)
            try:
                with open(os.path.join(ck, "optimizer.bin"), "rb") as f, \
                        open(os.path.join(cc, "optimizer.bin"), "rb") as g:
                    same_head = f.read(32) == g.read(32) and len(f.read()) == len(g.read())
            except OSError:
                same_head = False
            ok(os.path.exists(os.path.join(ck, "model.safetensors")) and
               os.path.exists(os.path.join(ck, "trainer_state.json")) and same_head,
               "%s: the GPU run's checkpoint holds the policy, its state and optimizer.bin (the CPU's header and "
               "size)" % name)
        # the loss fused with the LM head against the unfused GPU run of the same case
        for name, extra in CASES:
            if name not in FUSED:
                continue
            args = ["--max_steps=%d" % STEPS, "--logging_steps=1"] + extra
            pf = train("--device=cuda", "--output_dir=%s_fused" % name, "--fused_lm_head_loss=true", *args)
            ok(pf.returncode == 0 and any("the loss fused with the LM head, without logits" in l
                                          for l in pf.stderr.splitlines()),
               "%s, fused: the run finishes and says the loss is fused with the LM head" % name, pf.stderr[-3000:])
            mg, mf = metrics(name + "_gpu"), metrics(name + "_fused")
            same = 0
            while same < min(len(mg), len(mf)) and mg[same]["reward"] == mf[same]["reward"] and \
                    mg[same]["completions/mean_length"] == mf[same]["completions/mean_length"]:
                same += 1
            ok(len(mf) == STEPS and same >= 1, "%s, fused: the rewards of %d of %d steps are the unfused run's "
               "(step 1 at least)" % (name, same, STEPS), [(a["reward"], b["reward"]) for a, b in zip(mg, mf)])
            bad = [(i + 1, a["loss"], b["loss"]) for i, (a, b) in enumerate(zip(mg[:same], mf[:same]))
                   if abs(a["loss"] - b["loss"]) > max(1e-4 * abs(a["loss"]), 1e-6) or
                   rel(a["grad_norm"], b["grad_norm"]) > 1e-3]
            ok(not bad, "%s, fused: the loss (1e-4) and gradient norm (1e-3) of every compared step as the "
               "unfused run's" % name, bad)
            if same == STEPS:
                r, big = weight_gap(name + "_gpu", name + "_fused")
                ok(r <= 2e-4 and big <= 1e-3, "%s, fused: final weights within 2e-4 relative L2 (%.2e) and 1e-3 "
                   "per weight (%.2e) of the unfused GPU run's" % (name, r, big))
            else:
                ok(True, "# SKIP %s, fused: a draw differed at step %d, the weights are not comparable" %
                   (name, same + 1))
        # resume: checkpoint-2 of the options runs continued to step 4 on either device
        args = ["--max_steps=%d" % STEPS, "--logging_steps=1"] + CASES[-1][1]
        for tag, src, dev, ref in RESUMES:
            resume_from(src, tag, 2)
            p = train("--device=" + dev, "--output_dir=" + tag, "--resume", *args)
            mr, mw = metrics(ref)[2:], metrics(tag)
            ok(p.returncode == 0 and "resumed" in p.stderr and len(mw) == STEPS - 2,
               "resume %s: --resume on the %s continues checkpoint-2 of %s to step %d" % (tag, dev, src, STEPS),
               p.stderr[-3000:])
            if len(mr) == len(mw) and all(a["reward"] == b["reward"] and
                                          a["completions/mean_length"] == b["completions/mean_length"]
                                          for a, b in zip(mr, mw)):
                r, big = weight_gap(ref, tag)
                ok(r <= 2e-4 and big <= 1e-3, "resume %s: the final weights are the uninterrupted %s run's within 2e-4 "
                   "relative L2 (%.2e) and 1e-3 per weight (%.2e)" % (tag, ref, r, big))
            else:
                ok(True, "# SKIP resume %s: a draw differed from the uninterrupted run's, the weights are not "
                   "comparable" % tag)
finally:
    shutil.rmtree(work, ignore_errors=True)
done()
