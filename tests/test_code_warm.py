"""test_code_warm.py -- Python runs started from a slot's warm interpreter
(the code plugin's python_warm, on by default) against fresh ones.

A warm run must be indistinguishable from `python3 main.py` started afresh
for everything a program can observe through its result: each program of
the table runs both ways through `rlvr exec` (with and without
--python-cold), and verdict, exit code, signal, stdout and stderr must be
the same bytes (tracebacks, SystemExit's forms, atexit and finalizers,
threads at exit, KeyboardInterrupt, multiprocessing, pickling from
__main__, execve refused, stdin, encodings, warnings). Then what only a
warm start could get wrong: nothing of one run reaches the next run of its
slot (module state, environment, files, processes); the program's parent is
pid 1 and pid 1's memory is closed to it; the warm interpreter's module,
reachable from the program's frames, gives nothing; an interpreter that
cannot start warm is refused by name, never run some other way.
"""
import json
import os
import subprocess
import tempfile

from taplib import ok, done, run_raw
from code_lib import SECRET, require_sandbox, rexec, sandbox_processes, tmp_leftovers

require_sandbox()

FIELDS = ("verdict", "exit_code", "signal", "stdout", "stderr")

same = [
    ("hello", 'print("hello")'),
    ("an uncaught exception: the traceback", 'def f():\n    return 1 / 0\nprint("before")\nf()'),
    ("a syntax error", 'x = (\n'),
    ("sys.exit(3)", 'import sys\nprint("out")\nsys.exit(3)'),
    ("sys.exit with a message", 'import sys\nsys.exit("bye")'),
    ("sys.exit(None) and exit(0)", 'import sys\nprint(1)\nexit(0)'),
    ("a large exit code", 'import sys\nsys.exit(300)'),
    ("atexit, __del__ and an unclosed file at exit",
     'import atexit\natexit.register(lambda: print("atexit"))\nclass D:\n    def __del__(self):\n        print("del")\n'
     'd = D()\nf = open("/tmp/x.txt", "w")\nf.write("data")\nprint("main")'),
    ("a non-daemon thread outlives the main code",
     'import threading, time\ndef w():\n    time.sleep(0.05)\n    print("thread", flush=True)\n'
     'threading.Thread(target=w).start()\nprint("main")'),
    ("KeyboardInterrupt", 'raise KeyboardInterrupt'),
    ("an exception with a cause", 'try:\n    {}["k"]\nexcept KeyError as e:\n    raise ValueError("v") from e'),
    ("multiprocessing.Pool", 'import multiprocessing as mp\ndef sq(x):\n    return x * x\n'
     'if __name__ == "__main__":\n    with mp.Pool(2) as p:\n        print(p.map(sq, range(5)))'),
    ("__main__, argv, __file__, sys.path[0], pickling a function",
     'import __main__, sys, os, pickle\nprint(__name__, sys.argv, sys.orig_argv, __file__, sys.path[0], os.getcwd(), __spec__, __package__)\n'
     'print(sorted(k for k in vars(__main__) if not k.startswith("__")))\ndef g():\n    pass\n'
     'print(pickle.loads(pickle.dumps(g)) is g)'),
    ("execve is refused", 'import os\nos.execv("/bin/true", ["true"])'),
    ("a subprocess cannot exec", 'import subprocess\nprint(subprocess.run(["/bin/echo", "x"]).returncode)'),
    ("stdin, line by line", 'import sys\nfor line in sys.stdin:\n    print(line.strip()[::-1])'),
    ("deep recursion", 'import sys\ndef r(n):\n    return 0 if n == 0 else 1 + r(n - 1)\nprint(r(900), sys.getrecursionlimit())'),
    ("encodings and flags", 'import sys\nprint("h\\u00e9llo \\u2713", sys.stdout.encoding, sys.stdin.encoding, '
     'sys.flags.dont_write_bytecode, sys.flags.no_user_site, sys.flags.no_site)'),
    ("a warning", 'import warnings\nwarnings.warn("careful")\nprint("ok")'),
    ("the environment", 'import os\nprint(sorted(os.environ.items()))'),
    ("uid, gid, groups, parent", 'import os\nprint(os.getuid(), os.getgid(), os.getgroups(), os.getppid())'),
    ("signals to the parent are ignored", 'import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nprint("alive")'),
    ("stdout closed before exit", 'import sys, os\nprint("x")\nos.close(1)'),
    ("a memory hog", 'b = bytearray(1 << 30)\nprint(len(b))'),
    ("a CPU hog", 'while True:\n    pass'),
    ("modules a fresh interpreter has",
     'import sys\nprint(sorted(m for m in ("json", "re", "threading", "random", "socket") if m in sys.modules))'),
]

for name, src in same:
    tl = 300 if "CPU hog" in name else 2000
    rc_w, warm, err_w = rexec("python", src, stdin="abc\nxyz\n", time_limit=tl)
    rc_c, cold, err_c = rexec("python", src, stdin="abc\nxyz\n", time_limit=tl, extra=["--python-cold"])
    if warm is None or cold is None:
        ok(False, "%s: both runs give a result" % name, "warm: %s\ncold: %s" % (err_w[-300:], err_c[-300:]))
        continue
    w = {k: warm[k] for k in FIELDS}
    c = {k: cold[k] for k in FIELDS}
    ok(w == c and rc_w == rc_c, "%s: warm and fresh interpreters give the same result (%s)" % (name, w["verdict"]),
       "warm: %s\ncold: %s" % (json.dumps(w)[:900], json.dumps(c)[:900]))
ok(not sandbox_processes() and not tmp_leftovers(), "the host is clean after the table")


# -- nothing of a run reaches the next run of its slot ------------------------------------------
def score(rows, extra=""):
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as mix:
        mix.write('return mix { plugin("code", { config = { max_parallel = 1%s } }) }\n' % extra)
    try:
        p = run_raw(["score", "--mix", mix.name, "--threads", "1"],
                    input="".join(json.dumps(r) + "\n" for r in rows).encode(), env={"OPENAI_API_KEY": SECRET})
    finally:
        os.unlink(mix.name)
    return p, [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]


LEAVE = '''import json, os, sys, subprocess, time
json.rlvr_leak = 1
sys.modules["os"].rlvr_leak = 1
os.environ["RLVR_LEAK"] = "1"
open("/tmp/rlvr_leak", "w").write("x")
open("/work/rlvr_leak", "w").write("x")
if os.fork() == 0:
    os.setsid()
    time.sleep(30)
    os._exit(0)
print("left")
'''
LOOK = '''import json, os, sys
seen = [hasattr(json, "rlvr_leak"), hasattr(os, "rlvr_leak"), "RLVR_LEAK" in os.environ,
        os.path.exists("/tmp/rlvr_leak"), os.path.exists("/work/rlvr_leak"),
        len([p for p in os.listdir("/proc") if p.isdigit()])]
print("clean" if seen == [False] * 5 + [1] else seen)
'''
rows = [{"id": 0, "completion": "```python\n%s```" % LEAVE, "tests": {"cases": [{"stdin": "", "stdout": "left\n"}]}}]
rows += [{"id": i, "completion": "```python\n%s```" % LOOK, "tests": {"cases": [{"stdin": "", "stdout": "clean\n"}]}}
         for i in (1, 2)]
p, res = score(rows)
ok(len(res) == 3 and all(r["reward"] == 1.0 for r in res),
   "one slot: a run that changes modules, the environment and files and leaves a daemon; the next runs see none of it",
   p.stderr.decode()[-500:] + "\n" + json.dumps([r.get("details") for r in res])[:1500])

# -- the warm interpreter is out of reach ------------------------------------------------------------
rc, obj, err = rexec("python", '''import os, sys
print(os.getppid())
try:
    open("/proc/1/mem", "rb").read(1)
    print("ESCAPED /proc/1/mem")
except OSError:
    pass
f = sys._getframe()
lib = None
while f is not None:
    lib = f.f_globals.get("_rlvr_lib") or lib
    f = f.f_back
print("module", lib is not None)
if lib is not None:
    print(lib.rlvr_sbxpy_next(), lib.rlvr_sbxpy_become(), lib.rlvr_sbxpy_argc())
    lib.rlvr_sbxpy_fail(1)
print("BLOCKED")''')
out = obj["stdout"] if obj else ""
ok(obj and obj["verdict"] == "ok" and out.startswith("1\n") and "BLOCKED" in out and "ESCAPED" not in out,
   "the program's parent is pid 1, pid 1's memory is closed, and the warm module's calls give nothing", obj or err)
rc, obj, err = rexec("python", '''import os, sys
f = sys._getframe()
while f is not None and "_rlvr_lib" not in f.f_globals:
    f = f.f_back
print(f.f_globals["_rlvr_lib"].rlvr_sbxpy_enter())
if len([p for p in os.listdir("/proc") if p.isdigit()]) != 1 or os.path.exists("/home") or os.getppid() != 1:
    print("ESCAPED the run's namespaces were left")
os.setns(os.open("/proc/1/ns/mnt", os.O_RDONLY), 0) if hasattr(os, "setns") else None
print("BLOCKED")''')
ok(obj and obj["stdout"].startswith("-1\n") and "ESCAPED" not in obj["stdout"]
   and (obj["verdict"] == "sandbox_violation" or "BLOCKED" in obj["stdout"]),
   "the warm module's enter fails inside the run (no channel), and the program stays in its namespaces", obj or err)
ok(not sandbox_processes() and not tmp_leftovers(), "the host is clean after the hostile runs")

# -- an interpreter that cannot start warm is refused by name -------------------------------------------
rc, obj, err = rexec("python", 'print(1)', extra=["--python", "/bin/false"])
ok(rc == 2 and obj is None and "python_warm" in err and "/bin/false" in err and "python_warm = false" in err,
   "a warm interpreter that does not start: refused, naming it and the way out", err[-400:])
rc, obj, err = rexec("python", 'print(1)', extra=["--python", "/bin/false", "--python-cold"])
ok(obj is not None and obj["verdict"] == "runtime_error" and obj["exit_code"] == 1,
   "the same interpreter with --python-cold runs (and /bin/false exits 1)", obj or err)
p, res = score([{"id": 0, "completion": "```python\nprint(1)\n```", "tests": {"cases": [{"stdin": "", "stdout": "1\n"}]}}],
               ', python = "/bin/false"')
ok(len(res) == 1 and res[0]["details"]["code"]["status"] == "abstain" and "python_warm" in json.dumps(res[0]),
   "in the plugin, a warm interpreter that does not start abstains with the reason", json.dumps(res)[:600])
done()
