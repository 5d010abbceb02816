"""test_cublas_needed.py -- the built rlvr does not link cuBLAS
(gpu/cublas_load.c opens it on first use instead).

rlvr's ELF NEEDED entries name no libcublas (in a CUDA build they do name
libcudart: the GPU backend is there, only cuBLAS is deferred), and neither
rlvr nor librlvr_score.so has a cuBLAS symbol in its dynamic symbol table,
defined or undefined: nothing to resolve against cuBLAS at start, and no
forwarder exported that could stand in for cuBLAS's own functions. CPU-only
commands (--version, --help, plugins, score) run under LD_DEBUG=files, which
makes the dynamic loader report every file it loads, those the program
dlopens included (the plugins command's plugins show that it does): no
libcublas among them. Needs readelf (binutils); skips without it.
"""
import os
import shutil
import subprocess

from taplib import ok, done, skip_all, RLVR

READELF = shutil.which("readelf")
if not READELF:
    skip_all("no readelf (Debian: binutils)")


def elf(path):
    """The ELF file behind path (a libtool wrapper script names .libs/)."""
    with open(path, "rb") as f:
        if f.read(4) == b"\x7fELF":
            return path
    d, name = os.path.split(path)
    for cand in (os.path.join(d, ".libs", name), os.path.join(d, ".libs", "lt-" + name)):
        if os.path.exists(cand):
            return cand
    return path


def readelf(*args):
    p = subprocess.run([READELF, "-W"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return p.returncode, p.stdout + p.stderr


def needed(path):
    rc, out = readelf("-d", path)
    libs = [line.split("[", 1)[1].split("]", 1)[0] for line in out.splitlines() if "(NEEDED)" in line]
    return rc, libs


def cublas_symbols(path):
    rc, out = readelf("--dyn-syms", path)
    syms = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 8 and fields[0].endswith(":"):
            name = fields[7].split("@")[0]
            if name.startswith("cublas"):
                syms.append(fields[7] + " (" + fields[6] + ")")
    return rc, syms


rlvr = elf(RLVR)
rc, libs = needed(rlvr)
ok(rc == 0 and "libc.so.6" in libs, "readelf -d reads rlvr's NEEDED entries (%s)" % rlvr, libs)
cuda = any(l.startswith("libcudart") for l in libs)
ok(not any(l.startswith("libcublas") for l in libs),
   "rlvr needs no libcublas (%s build)" % ("CUDA" if cuda else "no-CUDA"), libs)
rc, syms = cublas_symbols(rlvr)
ok(rc == 0 and not syms, "rlvr has no cuBLAS symbol in its dynamic symbol table", syms)

score = os.path.join(os.path.dirname(rlvr), "librlvr_score.so")
if not os.path.exists(score):
    score = os.path.join(os.path.dirname(RLVR), ".libs", "librlvr_score.so")
ok(os.path.exists(score), "librlvr_score.so is built (%s)" % score)
if os.path.exists(score):
    rc, libs = needed(score)
    ok(rc == 0 and not any(l.startswith("libcublas") for l in libs), "librlvr_score.so needs no libcublas", libs)
    rc, syms = cublas_symbols(score)
    ok(rc == 0 and not syms, "librlvr_score.so has no cuBLAS symbol in its dynamic symbol table", syms)

SAMPLE = b'{"completion": "\\\\boxed{2}", "answer": "2"}\n'
for args, stdin in ((["--version"], b""), (["--help"], b""), (["plugins"], b""),
                    (["score", "--plugin", "exact_match", "--quiet"], SAMPLE)):
    env = dict(os.environ, LD_DEBUG="files")
    env.pop("LD_DEBUG_OUTPUT", None)
    p = subprocess.run([RLVR] + args, input=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                       timeout=120)
    err = p.stderr.decode(errors="replace")
    what = "rlvr " + " ".join(args)
    ok(p.returncode == 0, what + " runs", err[-2000:])
    ok("file=libc.so.6" in err, what + ": LD_DEBUG=files reports the files loaded", err[-2000:])
    if args == ["plugins"]:
        ok("dynamically loaded by" in err, what + ": ... those dlopen'ed included (its plugins)", err[-2000:])
    loaded = [l.strip() for l in err.splitlines() if "libcublas" in l]
    ok(not loaded, what + ": no libcublas loaded", loaded)

done()
