"""test_device.py -- the `device` key of rlvr sft, train, eval and sample
(host/device.c), rlvr sft's GPU path, and generation on the GPU in rlvr
eval and rlvr sample (host/generate_gpu.c).

On any machine: device = "cuda" is refused before any work, naming the
reason (eval and sample reading completions made elsewhere generate
nothing; train, unless it has a GPU path by then; for sft, eval and sample,
a build without CUDA or no device, when the machine has none); "auto" falls
back to the CPU and says so once on stderr, and its run is the CPU run byte
for byte; an unknown value is refused naming the key. With a GPU (else
those cases are a TAP skip): rlvr sft of the tiny model on the GPU (fp32)
follows the CPU run's loss curve within 1e-4 relative per logged step, and
its final weights are the CPU run's within 2e-4 relative L2 (and 1e-3
absolute per weight) after 8 AdamW steps; the saved model has the CPU run's
format, and its checkpoints hold optimizer.bin in the CPU's format, so that
checkpoint-4 continued to step 8 with --resume (the GPU's on the GPU, the
GPU's on the CPU, the CPU's on the GPU) ends as the uninterrupted run within
the same tolerances; without a GPU, --resume with device = "cuda" fails only
for want of a device, before any work. rlvr eval and rlvr sample on the GPU (fp32, TF32 off) give the CPU's
completions, greedy and sampled, on a tiny model trained for the purpose:
the same tokens wherever the logits round to the same choices, which for a
model this small (differences of a few 1e-6) is everywhere -- a mismatch
would mean the GPU's step is wrong, not rounding.
"""
import json
import os
import shutil
import subprocess
import tempfile

from taplib import ok, done, same_file, RLVR, SRCDIR
from taplib import safetensors_floats as weights
import taplib

EXAMPLES = os.path.abspath(os.path.join(SRCDIR, "..", "examples"))
CONFIG = os.path.join(EXAMPLES, "sft_tiny.lua")
work = tempfile.mkdtemp(prefix="rlvr-device-")
EMPTY = os.path.join(work, "empty.lua")
with open(EMPTY, "w") as f:
    f.write("return {}\n")


def rlvr(*args, timeout=300, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([RLVR] + list(args), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, env=e)


def sft(out, *args):
    return rlvr("sft", CONFIG, "--output_dir=" + out, "--max_steps=8", "--logging_steps=1", "--save_steps=4",
                "--progress=false", *args)


def metrics(out):
    try:
        with open(os.path.join(work, out, "metrics.jsonl")) as f:
            return [json.loads(l) for l in f]
    except (OSError, ValueError):
        return []


def weight_gap(a, b):
    """taplib.weight_gap of two output folders under work."""
    return taplib.weight_gap(os.path.join(work, a), os.path.join(work, b))


def resume_from(src, dst, step):
    """dst/checkpoint-STEP := src's: a run interrupted after that checkpoint."""
    taplib.copy_checkpoint(os.path.join(work, src), os.path.join(work, dst), step)




try:
    # ---- where a GPU path exists: what auto picks tells whether this machine can run it
    p = sft("auto", "--device=auto")
    ok(p.returncode == 0, "sft with device = auto runs", p.stderr)
    said = [l for l in p.stderr.splitlines() if 'device = "auto"' in l]
    ok(len(said) == 1, "auto says once which device it picked", p.stderr)
    gpu = bool(said) and ': the GPU (' in said[0]
    ok(bool(said) and (gpu or ': the CPU (' in said[0]), "auto names the GPU or the CPU: " + (said[0] if said else ""))
    built_without_cuda = bool(said) and "built without CUDA" in said[0]

    # ---- cuda where nothing is generated: eval and sample of completions made elsewhere
    comps = os.path.join(SRCDIR, "fixtures", "train", "eval_completions.jsonl")
    for cmd in ("eval", "sample"):
        why = "rlvr %s reads completions here (nothing is generated)" % cmd
        p = rlvr(cmd, EMPTY, "--completions=" + comps, "--device=cuda", "--output=" + cmd + "_out")
        want = 'rlvr %s: device = "cuda": %s; use device = "cpu"' % (cmd, why)
        ok(p.returncode != 0 and want in p.stderr, "%s of completions: device = cuda refused" % cmd, p.stderr)
        ok(not os.path.exists(os.path.join(work, cmd + "_out")), "%s: nothing written before the refusal" % cmd)
        p = rlvr(cmd, EMPTY, "--completions=" + comps, "--device=auto")
        lines = [l for l in p.stderr.splitlines() if 'device = "auto"' in l]
        ok(lines == ['rlvr %s: device = "auto": the CPU (%s)' % (cmd, why)],
           "%s of completions: auto falls back to the CPU and says why, once" % cmd, p.stderr)

    # ---- cuda without a GPU: refused before any work for every command that generates or trains
    if not gpu:
        for cmd in ("train", "eval", "sample"):
            out_key = "--output_dir=" if cmd == "train" else "--output="
            p = rlvr(cmd, EMPTY, "--device=cuda", out_key + cmd + "_out")
            # train: "no GPU path" or, once it has one, the reasons below
            ok(p.returncode != 0 and ('rlvr %s: ' % cmd) in p.stderr and 'device = "cuda": ' in p.stderr and
               'use device = "cpu"' in p.stderr and
               (cmd == "train" or "built without CUDA" in p.stderr or "no CUDA device: " in p.stderr),
               "%s: device = cuda refused without a GPU, naming why" % cmd, p.stderr)
            ok(not os.path.exists(os.path.join(work, cmd + "_out")), "%s: nothing written before the refusal" % cmd)
            p = rlvr(cmd, EMPTY, "--device=auto")
            lines = [l for l in p.stderr.splitlines() if 'device = "auto"' in l]
            ok(len(lines) == 1 and lines[0].startswith('rlvr %s: device = "auto": the CPU (' % cmd),
               "%s: auto falls back to the CPU and says why, once" % cmd, p.stderr)
    else:
        for i in range(9):
            ok(True, "# SKIP a GPU is present: the refusals without one (%d)" % (i + 1))

    # ---- cuBLAS that cannot be loaded (it is opened on first use): cuda is
    # refused naming the file, auto stays on the CPU saying so, before any work
    if not built_without_cuda:
        nolib = {"RLVR_CUBLAS_LIBRARY": os.path.join(work, "no-such-dir", "libcublas.so.13")}
        for cmd in ("sft", "train", "eval", "sample"):
            out_key = "--output_dir=" if cmd in ("sft", "train") else "--output="
            p = rlvr(cmd, CONFIG if cmd == "sft" else EMPTY, "--device=cuda", out_key + "nolib", env=nolib)
            ok(p.returncode != 0 and 'device = "cuda": cannot load cuBLAS' in p.stderr and
               nolib["RLVR_CUBLAS_LIBRARY"] in p.stderr and 'use device = "cpu"' in p.stderr and
               not os.path.exists(os.path.join(work, "nolib")),
               "%s: device = cuda without a loadable cuBLAS: refused naming the file, nothing written" % cmd, p.stderr)
        p = rlvr("eval", EMPTY, "--device=auto", env=nolib)
        lines = [l for l in p.stderr.splitlines() if 'device = "auto"' in l]
        ok(len(lines) == 1 and lines[0].startswith('rlvr eval: device = "auto": the CPU (cannot load cuBLAS'),
           "eval: auto without a loadable cuBLAS stays on the CPU and says why", p.stderr)
    else:
        for i in range(5):
            ok(True, "# SKIP built without CUDA: no cuBLAS to load (%d)" % (i + 1))

    # ---- unknown values, named by key, for every command
    for value in ("gpu", "CUDA", "", "cuda:0", "cpu "):
        for cmd in ("sft", "train", "eval", "sample"):
            out_key = "--output_dir=" if cmd in ("sft", "train") else "--output="
            p = rlvr(cmd, CONFIG if cmd == "sft" else EMPTY, "--device=" + value, out_key + "unk")
            ok(p.returncode != 0 and "'device' must be \"cpu\", \"cuda\" or \"auto\"" in p.stderr,
               "%s: device = %r refused naming the key" % (cmd, value), p.stderr)
    ok(not os.path.exists(os.path.join(work, "unk")), "sft: nothing written for an unknown device")
    p = rlvr("sft", CONFIG, "--device=7", "--output_dir=unk")
    ok(p.returncode != 0 and "device" in p.stderr, "sft: a number for device refused", p.stderr)

    # ---- cpu (the default) and auto without a GPU are the same run
    p = sft("cpu", "--device=cpu")
    ok(p.returncode == 0 and 'device =' not in p.stderr, "sft with device = cpu runs and says nothing of it",
       p.stderr)
    p = sft("default")
    ok(p.returncode == 0, "sft without device runs", p.stderr)
    ok(same_file(os.path.join(work, "cpu", "model.safetensors"), os.path.join(work, "default", "model.safetensors")),
       "device = cpu is the default: the same model")

    if not gpu:
        p = sft("cuda", "--device=cuda")
        ok(p.returncode != 0 and 'rlvr sft: ' in p.stderr and 'device = "cuda": ' in p.stderr and
           ("built without CUDA" in p.stderr or "no CUDA device: " in p.stderr) and
           'use device = "cpu"' in p.stderr, "sft: device = cuda refused without a GPU, naming why", p.stderr)
        ok(not os.path.exists(os.path.join(work, "cuda")), "sft: nothing written before the refusal")
        # a GPU run resumes (from either device's checkpoint): here it fails only for want of a device
        resume_from("cpu", "cpu_then_cuda", 4)
        p = sft("cpu_then_cuda", "--device=cuda", "--resume")
        ok(p.returncode != 0 and 'rlvr sft: ' in p.stderr and 'device = "cuda": ' in p.stderr and
           ("built without CUDA" in p.stderr or "no CUDA device: " in p.stderr) and 'use device = "cpu"' in p.stderr and
           "cannot resume" not in p.stderr and not os.path.exists(os.path.join(work, "cpu_then_cuda", "metrics.jsonl")),
           "sft: --resume with device = cuda fails only for want of a device, before any work", p.stderr)
        ok(same_file(os.path.join(work, "cpu", "model.safetensors"), os.path.join(work, "auto", "model.safetensors")),
           "auto fell back to the CPU: the CPU run's model byte for byte")
        for i in range(9):
            ok(True, "# SKIP no GPU: the GPU SFT's comparison with the CPU, and its resume (%d)" % (i + 1))
    else:
        p = sft("cuda", "--device=cuda")
        ok(p.returncode == 0, "sft with device = cuda runs", p.stderr)
        mc, mg = metrics("cpu"), metrics("cuda")
        ok(len(mc) == 8 and len(mg) == 8, "metrics: 8 lines each (%d, %d)" % (len(mc), len(mg)))
        worst = max([abs(a["loss"] - b["loss"]) / max(abs(a["loss"]), 1e-12) for a, b in zip(mc, mg)] or [1])
        ok(worst <= 1e-4, "the loss curve matches the CPU's within 1e-4 relative (worst %.2e)" % worst,
           [(a["loss"], b["loss"]) for a, b in zip(mc, mg)])
        lr = [(a["learning_rate"], b["learning_rate"]) for a, b in zip(mc, mg)]
        ok(all(a == b for a, b in lr), "the same learning rate at every step", lr)
        wc = weights(os.path.join(work, "cpu", "model.safetensors"))
        wg = weights(os.path.join(work, "cuda", "model.safetensors"))
        ok(sorted(wc) == sorted(wg) and all(wc[k][0] == wg[k][0] == "F32" and len(wc[k][1]) == len(wg[k][1])
                                            for k in wc), "the GPU run saves the CPU run's tensors and dtypes")
        num = den = big = 0.0
        for k in wc:
            if k in wg:
                for x, y in zip(wc[k][1], wg[k][1]):
                    num += (x - y) ** 2
                    den += x * x
                    big = max(big, abs(x - y))
        rel = (num / den) ** 0.5 if den else 1.0
        ok(rel <= 2e-4 and big <= 1e-3,
           "final weights match the CPU's: relative L2 %.2e (<= 2e-4), largest difference %.2e (<= 1e-3)" % (rel, big))
        ck, cc = os.path.join(work, "cuda", "checkpoint-4"), os.path.join(work, "cpu", "checkpoint-4")
        ok(all(os.path.exists(os.path.join(ck, f)) for f in ("model.safetensors", "trainer_state.json",
                                                            "optimizer.bin")) and
           os.path.getsize(os.path.join(ck, "optimizer.bin")) == os.path.getsize(os.path.join(cc, "optimizer.bin")),
           "the GPU run's checkpoints hold the policy, trainer_state.json and optimizer.bin (the CPU's size)")
        with open(os.path.join(ck, "optimizer.bin"), "rb") as f, open(os.path.join(cc, "optimizer.bin"), "rb") as g:
            ok(f.read(32) == g.read(32), "optimizer.bin: the CPU's header (magic, version, size, step 4)")
        # checkpoint-4 continued to step 8: the GPU's on the GPU (against the uninterrupted GPU run), the GPU's
        # on the CPU and the CPU's on the GPU (against the uninterrupted CPU run), within the tolerances above
        for tag, src, dev, ref in (("g2g", "cuda", "cuda", "cuda"), ("g2c", "cuda", "cpu", "cpu"),
                                   ("c2g", "cpu", "cuda", "cpu")):
            resume_from(src, tag, 4)
            p = sft(tag, "--device=" + dev, "--resume")
            mr, mw = metrics(ref)[4:], metrics(tag)
            worst = max([abs(a["loss"] - b["loss"]) / max(abs(a["loss"]), 1e-12) for a, b in zip(mr, mw)] or [1])
            rel, big = weight_gap(ref, tag)
            ok(p.returncode == 0 and "resumed" in p.stderr and len(mw) == 4 and worst <= 1e-4 and rel <= 2e-4 and
               big <= 1e-3, "resume: %s's checkpoint-4 on the %s ends as the uninterrupted %s run: losses within 1e-4 "
               "(worst %.2e), weights within 2e-4 relative L2 (%.2e) and 1e-3 per weight (%.2e)" %
               (src, dev, ref, worst, rel, big), p.stderr[-2000:])

    # ---- generation on the GPU: rlvr eval and rlvr sample give the CPU's completions
    GEN_CASES = 11
    if not gpu:
        for i in range(GEN_CASES):
            ok(True, "# SKIP no GPU: eval and sample on the GPU against the CPU (%d)" % (i + 1))
    else:
        p = rlvr("sft", CONFIG, "--output_dir=gen_model", "--max_steps=40", "--progress=false")
        ok(p.returncode == 0, "a tiny model to generate with", p.stderr[-500:])
        data = os.path.join(EXAMPLES, "sft_addition.jsonl")
        mix = os.path.join(SRCDIR, "fixtures", "train", "math_mix.lua")
        for mode, extra in (("greedy", ["--temperature=0"]), ("sampled", ["--temperature=1.0", "--top_p=0.9"])):
            runs = {}
            for dev in ("cpu", "cuda"):
                tag = "%s_%s" % (mode, dev)
                p = rlvr("eval", "--model=gen_model", "--data=" + data, "--mix=" + mix, "--num_samples=3",
                         "--max_problems=8", "--max_completion_length=24", "--seed=11", "--device=" + dev,
                         "--output=%s.json" % tag, "--samples_out=%s.jsonl" % tag, *extra)
                runs[dev] = p
            ok(runs["cpu"].returncode == 0 and runs["cuda"].returncode == 0 and
               "generating on the GPU" in runs["cuda"].stderr, "eval, %s: runs on the CPU and on the GPU" % mode,
               runs["cuda"].stderr[-800:])
            try:
                sc = [json.loads(l)["sample"] for l in open(os.path.join(work, "%s_cpu.jsonl" % mode))]
                sg = [json.loads(l)["sample"] for l in open(os.path.join(work, "%s_cuda.jsonl" % mode))]
                rc = json.load(open(os.path.join(work, "%s_cpu.json" % mode)))
                rg = json.load(open(os.path.join(work, "%s_cuda.json" % mode)))
            except (OSError, ValueError):
                sc, sg, rc, rg = [], [None], {}, {}
            ok(len(sc) == 24 and [x.get("completion") for x in sc] == [x.get("completion") for x in sg],
               "eval, %s: the GPU's 24 completions are the CPU's" % mode,
               [(a.get("completion"), b.get("completion")) for a, b in zip(sc, sg) if a != b][:3])
            ok(rc.get("device") == "cpu" and rg.get("device") == "cuda" and rc.get("pass@1") == rg.get("pass@1"),
               "eval, %s: the results say where generation ran, with the same pass@1" % mode)
        cfg = os.path.join(SRCDIR, "fixtures", "sample", "sample_tiny.lua")
        for dev in ("cpu", "cuda"):
            p = rlvr("sample", cfg, "--model=gen_model", "--output=s_%s.jsonl" % dev, "--summary=s_%s.json" % dev,
                     "--rejected_out=r_%s.jsonl" % dev, "--device=" + dev)
            ok(p.returncode == 0, "sample on the %s runs" % dev, p.stderr[-800:])
        ok(same_file(os.path.join(work, "s_cpu.jsonl"), os.path.join(work, "s_cuda.jsonl")) and
           same_file(os.path.join(work, "r_cpu.jsonl"), os.path.join(work, "r_cuda.jsonl")),
           "sample: the GPU keeps and rejects exactly the CPU's completions")
        try:
            dc = json.load(open(os.path.join(work, "s_cpu.json"))).get("device")
            dg = json.load(open(os.path.join(work, "s_cuda.json"))).get("device")
        except (OSError, ValueError):
            dc = dg = None
        ok(dc == "cpu" and dg == "cuda", "sample: the summary says where generation ran (%s, %s)" % (dc, dg))
finally:
    shutil.rmtree(work, ignore_errors=True)
done()
