"""test_qwen_layout.py -- a checkpoint of Qwen2.5-0.5B's real layout (its
config.json, 290 tensors by name and shape, BF16, tied embeddings, two
shards with an index), written by fixtures/checkpoint/make_qwen_layout.py
with random weights, loads in rlvr and gives torch's logits.

The reference (fixtures/model/qwen_layout_logits.txt) was made by
fixtures/model/make_qwen_logits.py with torch in float64 from the same
checkpoint; the checkpoint itself is rewritten here (numpy, about 1 GB in a
temporary folder) rather than committed. Tolerance: every compared logit
within 1e-4 + 1e-4 * |torch| (float32 through 24 layers), the log-sum-exp
within 1e-4, and the same argmax. Skips when no Python with numpy is found.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from taplib import ok, done, skip_all, python_with, SRCDIR


exe = python_with("numpy")
if not exe:
    skip_all("numpy is not installed (apt install python3-numpy): the test checkpoint cannot be written")
helper = os.path.join(os.getcwd(), "model_logits")
if not os.path.exists(helper):
    skip_all("model_logits is not built here")
ref = {}
with open(os.path.join(SRCDIR, "fixtures", "model", "qwen_layout_logits.txt")) as f:
    header = f.readline().split()
    tokens = header[header.index("tokens") + 1:header.index("stride")]
    tokens = [t.rstrip(";") for t in tokens]
    stride = header[header.index("stride") + 1]
    for line in f:
        w = line.split()
        ref[int(w[1])] = (float(w[3]), int(w[5]), [float(v) for v in w[7:]])
work = tempfile.mkdtemp(prefix="rlvr-qwen-layout-")
try:
    t0 = time.time()
    gen = subprocess.run([exe, os.path.join(SRCDIR, "fixtures", "checkpoint", "make_qwen_layout.py"), "--out", work],
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600)
    ok(gen.returncode == 0, "the Qwen2.5-0.5B-layout checkpoint is written (%.1f s)" % (time.time() - t0), gen.stdout)
    t0 = time.time()
    run = subprocess.run([helper, work, stride] + tokens, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         timeout=600)
    ok(run.returncode == 0, "rlvr loads it and runs %d tokens (%.1f s)" % (len(tokens), time.time() - t0), run.stderr)
    got = {}
    for line in run.stdout.splitlines():
        w = line.split()
        got[int(w[1])] = (float(w[3]), int(w[5]), [float(v) for v in w[7:]])
    ok(sorted(got) == sorted(ref), "a line per position (%d)" % len(ref))
    worst, worst_lse, argmax_same = 0.0, 0.0, True
    for pos, (lse, am, vals) in ref.items():
        if pos not in got:
            continue
        glse, gam, gvals = got[pos]
        worst_lse = max(worst_lse, abs(glse - lse))
        argmax_same &= gam == am
        for a, b in zip(gvals, vals):
            worst = max(worst, abs(a - b) / (1e-4 + 1e-4 * abs(b)))
        worst = worst if len(gvals) == len(vals) else float("inf")
    ok(worst <= 1, "logits match torch (worst %.2f of the tolerance)" % worst)
    ok(worst_lse <= 1e-4, "log-sum-exp matches (max error %.2g)" % worst_lse)
    ok(argmax_same, "the argmax matches at every position")
finally:
    shutil.rmtree(work, ignore_errors=True)
done()
