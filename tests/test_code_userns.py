"""test_code_userns.py -- the code sandbox's unprivileged mode: `rlvr exec`
run as nobody (setpriv --reuid=65534), where every run gets a user namespace
of its own, against a representative subset of the security suite (fork
bomb, memory hog, sleep, network, /etc/shadow, the runner's environment,
execve after start, ptrace, the helper at pid 1 with the program's uid, a
daemon and files left behind, capabilities), and the code plugin loaded and
scoring as nobody.

Each hostile program prints ESCAPED on any success and BLOCKED once every
attempt failed, as in test_code_security.py. After each run the host is
checked: no process of nobody that was not there before, no file of nobody
in /tmp, the mount table unchanged. The rlvr binary and the plugin are
copied into a temporary folder that nobody can read. Skips (exit 77) when
not root (dropping to nobody needs root), without setpriv, or where the
kernel forbids unprivileged user namespaces, naming which.
"""
import json
import os
import shutil
import subprocess
import tempfile

from taplib import RLVR, ok, done, skip_all
from code_lib import SECRET, require_sandbox, mount_count

NOBODY = 65534

if os.geteuid() != 0:
    skip_all("not root: dropping to nobody needs root (run as root, as CI does)")
SETPRIV = shutil.which("setpriv")
if not SETPRIV:
    skip_all("no setpriv (util-linux) to drop to nobody")
try:
    with open("/proc/sys/user/max_user_namespaces") as f:
        if int(f.read().strip() or 0) <= 0:
            skip_all("unprivileged user namespaces are disabled (user.max_user_namespaces = 0)")
except OSError:
    skip_all("no /proc/sys/user/max_user_namespaces: this kernel has no user namespaces")
require_sandbox()  # the code tests' lock, and a sandbox as root

work = tempfile.mkdtemp(prefix="rlvr-userns-")
os.chmod(work, 0o755)
rlvr = os.path.join(work, "rlvr")
shutil.copy(RLVR, rlvr)
os.chmod(rlvr, 0o755)
plugdir = os.path.join(work, "plugins")
os.mkdir(plugdir, 0o755)
os.chmod(plugdir, 0o755)
builtin = os.environ.get("RLVR_BUILTIN_DIR", "")
code_so = os.path.join(builtin, "code.so")
if os.path.exists(code_so):
    shutil.copy(code_so, os.path.join(plugdir, "code.so"))
    os.chmod(os.path.join(plugdir, "code.so"), 0o755)
DROP = [SETPRIV, "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
# the sandbox's helper program, found through RLVR_SANDBOX_HELPER (the copies
# of rlvr and code.so are outside the build tree), and beside it the module
# of the warm Python interpreter
verifiers = os.path.join(os.path.dirname(os.path.dirname(RLVR)), "verifiers")
helper = os.path.join(work, "rlvr-sandbox")
shutil.copy(os.path.join(verifiers, "rlvr-sandbox"), helper)
os.chmod(helper, 0o755)
shutil.copy(os.path.join(verifiers, ".libs", "rlvr_sandbox_python.so"), os.path.join(work, "rlvr_sandbox_python.so"))
os.chmod(os.path.join(work, "rlvr_sandbox_python.so"), 0o755)
ENV = dict(os.environ, OPENAI_API_KEY=SECRET, RLVR_BUILTIN_DIR=plugdir, HOME="/", TMPDIR="/tmp",
           RLVR_SANDBOX_HELPER=helper)


def as_nobody(args, input=b"", timeout=120):
    return subprocess.run(DROP + [rlvr] + args, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env=ENV, timeout=timeout, cwd=work)


def nobody_pids():
    n = set()
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) == NOBODY:
                            n.add(pid)
                        break
        except OSError:
            pass
    return n


def nobody_tmp_files():
    bad = []
    for name in os.listdir("/tmp"):
        try:
            st = os.lstat(os.path.join("/tmp", name))
        except OSError:
            continue
        if st.st_uid == NOBODY or "rlvr_escape" in name:
            bad.append(name)
    return bad


def nexec(lang, src, stdin="", time_limit=1000, memory=256):
    d = tempfile.mkdtemp(dir=work)
    os.chmod(d, 0o755)
    path = os.path.join(d, "prog")
    with open(path, "w") as f:
        f.write(src)
    os.chmod(path, 0o644)
    ip = os.path.join(d, "stdin")
    with open(ip, "w") as f:
        f.write(stdin)
    os.chmod(ip, 0o644)
    p = as_nobody(["exec", "--lang", lang, "--time-limit", str(time_limit), "--memory-limit", str(memory),
                   "--stdin", ip, path])
    shutil.rmtree(d)
    out = p.stdout.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(out) if out else None
    except ValueError:
        obj = None
    return p.returncode, obj, p.stderr.decode("utf-8", "replace")


p = as_nobody(["exec", "--describe"])
desc = p.stdout.decode().strip()
if p.returncode != 0:
    msg = p.stderr.decode(errors="replace").strip()
    if "user namespace" in msg or "user.max_user_namespaces" in msg:
        skip_all("no unprivileged user namespaces here: " + msg[:300])
ok(p.returncode == 0 and "mode: unprivileged" in desc, "as nobody, rlvr exec --describe names the unprivileged mode",
   p.stdout.decode() + p.stderr.decode())
print("# sandbox as nobody: " + desc)
note = p.stderr.decode()
USERNS_MEM = "cgroup v1 memory" in desc or "cgroup v2 memory" in desc
USERNS_PIDS = "cgroup v1 pids" in desc or "cgroup v2 pids" in desc
if not (USERNS_MEM and USERNS_PIDS):
    ok("rlimit" in note.lower() and "RLIMIT_" in note,
       "as nobody without delegated cgroups, stderr says which limits are rlimit-only", note)

PY = r'''
import os, sys, ctypes, socket, signal, errno, time
libc = ctypes.CDLL(None, use_errno=True)
def escaped(what):
    print("ESCAPED", what, flush=True)
    sys.exit(0)
def attempt(what, f):
    try:
        r = f()
    except BaseException:
        return
    if r:
        escaped(what)
SECRET = "sk-rlvr-" + "test-SECRET"
'''
C = r'''
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
static void escaped(const char *w) { printf("ESCAPED %s\n", w); fflush(stdout); _exit(0); }
'''
OKB = ("ok", True)
VIOL = ("sandbox_violation", False)
TIME = ("time_limit", False)
cases = [
    ("python", "read /etc/shadow", 'attempt("shadow", lambda: open("/etc/shadow").read())\nprint("BLOCKED")', OKB),
    ("python", "the runner's environment", '''
attempt("environ", lambda: any(SECRET in v for v in os.environ.values()))
for p in os.listdir("/proc"):
    attempt("/proc/%s/environ" % p, lambda: SECRET.encode() in open("/proc/%s/environ" % p, "rb").read())
print("BLOCKED")''', OKB),
    ("python", "the helper at pid 1 has our uid: environ, mem, root, fd", '''
attempt("/proc/1/environ", lambda: open("/proc/1/environ", "rb").read() is not None)
attempt("/proc/1/mem", lambda: open("/proc/1/mem", "rb") is not None)
attempt("/proc/1/root", lambda: os.listdir("/proc/1/root") is not None)
attempt("/proc/1/fd", lambda: os.listdir("/proc/1/fd") is not None)
for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGKILL):
    os.kill(1, s)
time.sleep(0.05)
print("BLOCKED")''', OKB),
    ("python", "capabilities, uid and groups", '''
st = open("/proc/self/status").read()
for key in ("CapEff", "CapPrm", "CapInh", "CapAmb", "CapBnd"):
    v = [l for l in st.splitlines() if l.startswith(key + ":")][0].split()[1]
    if int(v, 16):
        escaped("%s %s" % (key, v))
attempt("setuid(0)", lambda: os.setuid(0) or True)
attempt("uid 0", lambda: os.getuid() == 0 or os.geteuid() == 0)
attempt("chown", lambda: os.chown("/work", 0, 0) or True)
print("BLOCKED")''', OKB),
    ("python", "TCP, UDP and abstract unix sockets", '''
def tcp():
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(1)
    s.connect(("127.0.0.1", 22))
    return True
attempt("tcp", tcp)
attempt("udp", lambda: socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b"x", ("8.8.8.8", 53)) > 0)
def abstract():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect("\\0rlvr-code-uids-0")
    return True
attempt("the host's abstract unix socket", abstract)
print("BLOCKED")''', OKB),
    ("python", "execve of a shell after start", 'os.execv("/bin/sh", ["sh", "-c", "echo ESCAPED shell"])', VIOL),
    ("python", "ptrace", 'libc.ptrace(0, 0, 0, 0)\nescaped("ptrace returned")', VIOL),
    ("python", "fork bomb", '''
n = 0
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(30)
        os._exit(0)
    n += 1
    if n > 500:
        escaped("fork bomb unbounded: %d" % n)
print("BLOCKED", n)''', OKB),
    ("python", "memory hog", '''
chunks = []
try:
    while len(chunks) < 64:
        chunks.append(bytearray(16 << 20))
except MemoryError:
    pass
if len(chunks) * 16 >= 512:
    escaped("allocated %d MiB" % (len(chunks) * 16))
print("BLOCKED", len(chunks) * 16)''', OKB),
    ("python", "sleep", 'time.sleep(30)\nprint("ESCAPED woke")', TIME),
    ("python", "a double-forked daemon and files left behind", '''
open("/tmp/rlvr_escape_left", "w").write("x")
open("/dev/shm/rlvr_escape_shm", "w").write("x")
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        time.sleep(60)
        open("/tmp/rlvr_escape_daemon", "w")
    os._exit(0)
os.wait()
print("BLOCKED")''', OKB),
    ("c", "C: ptrace", 'int main(void){ ptrace(PTRACE_TRACEME, 0, 0, 0); escaped("ptrace returned"); }', VIOL),
    ("c", "C: fork bomb", 'int main(void){ int n = 0; for (;;) { pid_t p = fork(); if (p < 0) break; if (p == 0) { sleep(30); _exit(0); } if (++n > 500) escaped("fork bomb"); } printf("BLOCKED %d\\n", n); return 0; }', OKB),
    ("c", "C: daemon", 'int main(void){ if (fork() == 0) { setsid(); if (fork() == 0) { signal(SIGTERM, SIG_IGN); sleep(60); open("/tmp/rlvr_escape_cdaemon", O_CREAT | O_WRONLY, 0644); } _exit(0); } wait(0); puts("BLOCKED"); }', OKB),
]

host_mounts = mount_count()
before = nobody_pids()
for lang, name, body, (verdict, blocked) in cases:
    src = (PY if lang == "python" else C) + body
    rc, obj, err = nexec(lang, src, time_limit=300 if verdict == "time_limit" else 2000)
    if obj is None:
        ok(False, "as nobody, %s: a result" % name, err)
        continue
    out = obj.get("stdout", "")
    ok(obj["verdict"] == verdict and "ESCAPED" not in out and (not blocked or "BLOCKED" in out),
       "as nobody, %s: %s%s" % (name, verdict, ", BLOCKED" if blocked else ""),
       "got %s\nstdout: %s\nstderr: %s\n%s" % (obj["verdict"], out[:600], obj.get("stderr", "")[:600], err[:300]))
    ok(SECRET not in out and SECRET not in obj.get("stderr", ""), "as nobody, %s: the secret is not in the output" % name)
    left = nobody_pids() - before
    files = nobody_tmp_files()
    ok(not left and not files and mount_count() == host_mounts, "as nobody, %s: the host is clean after the run" % name,
       "processes %r, files %r" % (sorted(left), files))
    if name.endswith("fork bomb") and "BLOCKED" in out:
        n = int(out.split()[-1])
        ok(n < 64, "as nobody, %s stopped at the process limit (%d forks)" % (name, n))
    if name == "memory hog" and "BLOCKED" in out:
        mib = int(out.split()[-1])
        ok(mib <= 256, "as nobody, the hog got at most the 256 MiB limit (%d MiB)" % mib)

# a benign program, stdin and output
rc, obj, err = nexec("python", "import json, sys\nprint(sum(map(int, sys.stdin.read().split())))\n", stdin="1 2 3\n")
ok(obj and obj["verdict"] == "ok" and obj["stdout"] == "6\n", "as nobody, a benign program reads stdin and passes", obj)
rc, obj, err = nexec("c", '#include <stdio.h>\nint main(void){ int a, b; if (scanf("%d %d", &a, &b) == 2) printf("%d\\n", a * b); }\n',
                     stdin="6 7\n")
ok(obj and obj["verdict"] == "ok" and obj["stdout"] == "42\n", "as nobody, C compiles in the sandbox and runs", obj)

# the code plugin, loaded and scoring as nobody
if os.path.exists(os.path.join(plugdir, "code.so")):
    mix = os.path.join(work, "mix.lua")
    with open(mix, "w") as f:
        f.write('return mix { plugin("code", { config = { max_parallel = 2 } }) }\n')
    os.chmod(mix, 0o644)
    rows = [{"id": i, "completion": "```python\nprint(int(input()) * 2)\n```",
             "tests": {"cases": [{"stdin": "%d\n" % i, "stdout": "%d\n" % (2 * i)}]}} for i in range(4)]
    rows.append({"id": 9, "completion": "```python\nimport os\nprint(os.environ.get('OPENAI_API_KEY'))\n```",
                 "tests": {"cases": [{"stdin": "", "stdout": SECRET + "\n"}]}})
    p = as_nobody(["score", "--mix", mix, "--quiet"], input="".join(json.dumps(r) + "\n" for r in rows).encode())
    res = [json.loads(l) for l in p.stdout.decode().splitlines() if l.strip()]
    ok(p.returncode == 0 and len(res) == 5 and all(r["reward"] == 1.0 for r in res[:4]),
       "as nobody, the code plugin loads and scores", p.stdout.decode()[:600] + p.stderr.decode()[:600])
    ok(len(res) == 5 and res[4]["reward"] == 0.0, "as nobody, the plugin's programs do not see the runner's secret",
       res[4] if len(res) == 5 else p.stderr.decode()[:300])
    ok(not (nobody_pids() - before) and not nobody_tmp_files(), "as nobody, the plugin leaves nothing behind")
else:
    ok(True, "# SKIP no code.so under RLVR_BUILTIN_DIR")

shutil.rmtree(work)
done()
