"""taplib.py -- TAP output and helpers for rlvr's Python-driven tests.

ok(cond, name) prints one TAP line; run(args, input) runs the rlvr binary and
returns (exit status, results as a list of objects, stderr text); done()
prints the plan and exits with the right status. skip_all(reason) prints a
skip plan and exits 77. Paths come from the environment that tests/Makefile.am
sets (RLVR, RLVR_TEST_PLUGINS, srcdir).
"""
import json
import os
import subprocess
import sys
import tempfile

RLVR = os.environ.get("RLVR", "rlvr")
PLUGINS = os.environ.get("RLVR_TEST_PLUGINS", ".libs")
SRCDIR = os.environ.get("srcdir", os.path.dirname(os.path.abspath(__file__)))
_n = 0
_failed = 0


def ok(cond, name, diag=None):
    global _n, _failed
    _n += 1
    if not cond:
        _failed += 1
    print(("ok" if cond else "not ok") + " %d - %s" % (_n, name))
    if not cond and diag is not None:
        for line in str(diag).splitlines()[:40]:
            print("#   " + line)
    sys.stdout.flush()
    return cond


def is_eq(got, want, name):
    return ok(got == want, name, "got:  %r\nwant: %r" % (got, want))


def done():
    print("1..%d" % _n)
    sys.exit(1 if _failed else 0)


def skip_all(reason):
    print("1..0 # SKIP " + reason)
    sys.exit(77)


def python_with(module):
    """A Python that can import `module`: the one running this script, else
    Debian's /usr/bin/python3 (where python3-torch and python3-numpy
    install); None when neither can."""
    for exe in (sys.executable, "/usr/bin/python3"):
        if exe and os.path.exists(exe) and subprocess.run(
                [exe, "-c", "import " + module], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0:
            return exe
    return None


def plugin(name):
    return os.path.join(PLUGINS, name + ".so")


def fixture(*parts):
    return os.path.join(SRCDIR, "fixtures", *parts)


def run_raw(args, input=b"", env=None, timeout=120):
    """Run rlvr with args (the command included); returns the CompletedProcess."""
    if isinstance(input, str):
        input = input.encode()
    e = dict(os.environ)
    if env:
        e.update(env)
    return subprocess.run([RLVR] + list(args), input=input, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, env=e, timeout=timeout)


def run(args, input=b"", env=None, timeout=120):
    """Run `rlvr score` with args; input is bytes or str. Returns (rc, results, stderr)."""
    p = run_raw(["score"] + list(args), input, env, timeout)
    out = []
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            out.append({"__unparsable__": line})
    return p.returncode, out, p.stderr.decode("utf-8", "replace")


def jsonl(rows):
    return "".join(json.dumps(r) + "\n" for r in rows)


def safetensors_floats(path):
    """A float32 safetensors file as {name: (dtype, array of floats)}."""
    import array
    import struct
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    head = json.loads(blob[8:8 + n])
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        v = array.array("f")
        v.frombytes(blob[8 + n + a:8 + n + b])
        if sys.byteorder != "little":
            v.byteswap()
        out[name] = (t["dtype"], v)
    return out


def weight_gap(a, b):
    """(relative L2, largest difference) of the float32 weights in folder b's model.safetensors against
    folder a's; (1, inf) when a has none or they differ in tensors, dtypes or sizes."""
    wa = safetensors_floats(os.path.join(a, "model.safetensors"))
    wb = safetensors_floats(os.path.join(b, "model.safetensors"))
    if not wa or sorted(wa) != sorted(wb) or any(wa[k][0] != wb[k][0] or len(wa[k][1]) != len(wb[k][1]) for k in wa):
        return 1.0, float("inf")
    num = den = big = 0.0
    for k in wa:
        for x, y in zip(wa[k][1], wb[k][1]):
            num += (x - y) ** 2
            den += x * x
            big = max(big, abs(x - y))
    return ((num / den) ** 0.5 if den else 1.0), big


def copy_checkpoint(src, dst, step):
    """dst/checkpoint-STEP := src/checkpoint-STEP (dst made): a run interrupted after that checkpoint."""
    import shutil
    os.makedirs(dst)
    shutil.copytree(os.path.join(src, "checkpoint-%d" % step), os.path.join(dst, "checkpoint-%d" % step))


def same_file(a, b):
    """Whether two files hold the same bytes."""
    with open(a, "rb") as fa, open(b, "rb") as fb:
        return fa.read() == fb.read()


def tempfile_with(text, suffix=".lua"):
    f = tempfile.NamedTemporaryFile("w", suffix=suffix, delete=False)
    f.write(text)
    f.close()
    return f.name
