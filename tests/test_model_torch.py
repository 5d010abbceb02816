"""test_model_torch.py -- the transformer against torch, run now.

tests/test_model.c always compares host/model.c with the committed torch
fixture (fixtures/model/cases.txt). Where torch is installed, this test
also reruns the fixture's generator with a fresh seed and has test_model
compare against that output, so the C code is held to torch as it is today.
torch is looked for in the Python running this script, then in Debian's
/usr/bin/python3 (package python3-torch); the test skips when neither has it.
"""
import os
import random
import subprocess
import sys
import tempfile

from taplib import ok, done, skip_all, python_with, SRCDIR


exe = python_with("torch")
if not exe:
    skip_all("torch is not installed (pip install torch, or apt install python3-torch)")
binary = os.path.join(os.getcwd(), "test_model")
if not os.path.exists(binary):
    skip_all("test_model is not built here")
seed = random.SystemRandom().randrange(1, 1 << 30)
script = os.path.join(SRCDIR, "fixtures", "model", "make_fixture.py")
with tempfile.NamedTemporaryFile("w+", suffix=".txt") as f:
    gen = subprocess.run([exe, script, "--seed", str(seed)], stdout=f, stderr=subprocess.PIPE, text=True)
    if not ok(gen.returncode == 0, "torch writes fresh cases (seed %d)" % seed, gen.stderr):
        done()
    f.flush()
    run = subprocess.run([binary, "--fixture", f.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
lines = run.stdout.splitlines()
results = [l for l in lines if l.startswith("ok ") or l.startswith("not ok ")]
failed = [l for l in results if l.startswith("not ok")]
ok(run.returncode == 0 and len(results) > 20 and not failed,
   "test_model agrees with torch on seed %d (%d checks)" % (seed, len(results)),
   "\n".join(failed[:10] or lines[-10:]))
done()
