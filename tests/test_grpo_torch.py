"""test_grpo_torch.py -- the GRPO numeric core against torch, run now.

tests/test_grpo.c always compares the C code with the committed torch
fixture (fixtures/grpo/cases.txt). Where torch is installed, this test also
runs the fixture's generator afresh, with a new seed and two cases at
Qwen2's vocabulary of 151,936 (many chunks per row), and has test_grpo
compare against that output: the C code is held to torch as it is today,
not only to the numbers it was once checked against. torch is looked for
in the Python running this script, then in Debian's /usr/bin/python3
(package python3-torch); the test skips when neither has it.
"""
import os
import random
import subprocess
import sys
import tempfile

from taplib import ok, done, skip_all, python_with, SRCDIR

VOCAB = 151936


exe = python_with("torch")
if not exe:
    skip_all("torch is not installed (pip install torch, or apt install python3-torch)")
binary = os.path.join(os.getcwd(), "test_grpo")
if not os.path.exists(binary):
    skip_all("test_grpo is not built here")
seed = random.SystemRandom().randrange(1, 1 << 30)
script = os.path.join(SRCDIR, "fixtures", "grpo", "make_fixture.py")
with tempfile.NamedTemporaryFile("w+", suffix=".txt") as f:
    gen = subprocess.run([exe, script, "--seed", str(seed), "--large-vocab", str(VOCAB)],
                         stdout=f, stderr=subprocess.PIPE, text=True)
    if not ok(gen.returncode == 0, "torch writes fresh cases (seed %d)" % seed, gen.stderr):
        done()
    f.flush()
    run = subprocess.run([binary, "--fixture", f.name], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True)
lines = run.stdout.splitlines()
results = [l for l in lines if l.startswith("ok ") or l.startswith("not ok ")]
failed = [l for l in results if l.startswith("not ok")]
ok(run.returncode == 0 and results and not failed,
   "test_grpo agrees with torch on %d checks, V = %d included (seed %d)" % (len(results), VOCAB, seed),
   "\n".join(failed + [l for l in lines if l.startswith("#")]) or run.stdout[-2000:])
ok(any("large_vocab" in l for l in results), "the 151,936-token cases were compared")
done()
