"""test_code_security.py -- the code sandbox against hostile programs.

Each hostile program reports on itself: it prints ESCAPED (and what) as soon
as an attempt succeeds, and BLOCKED once every attempt has failed. A run
passes when its verdict is the expected one, ESCAPED never appears, BLOCKED
appears wherever the program was expected to survive, and the host is clean
afterwards (no process of a sandbox uid, no file left in /tmp, no stale
cgroup, the mount table unchanged). The runner's environment holds a fake
OPENAI_API_KEY that no program may see. Benign programs (stdlib imports,
modest multiprocessing, stdin) must pass. Python programs run from the
slot's warm interpreter (the default) and, unless they are timed out, once
more from a fresh one. Skips where the machine cannot sandbox; the cgroup
checks skip, naming the controller, where it is absent.
"""
import os

from taplib import ok, done
from code_lib import (SECRET, require_sandbox, rexec, sandbox_processes, tmp_leftovers, stale_cgroups,
                      mount_count)

desc = require_sandbox()
print("# sandbox: " + desc)
HAS_MEM = "cgroup v1 memory" in desc or "cgroup v2 memory" in desc
HAS_PIDS = "cgroup v1 pids" in desc or "cgroup v2 pids" in desc

PY = r'''
import os, sys, ctypes, socket, signal, errno
libc = ctypes.CDLL(None, use_errno=True)
def escaped(what):
    print("ESCAPED", what, flush=True)
    sys.exit(0)
def attempt(what, f):
    try:
        r = f()
    except BaseException as e:
        return
    if r:
        escaped(what)
SECRET = "sk-rlvr-" + "test-SECRET"
'''

C = r'''
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
static void escaped(const char *w) { printf("ESCAPED %s\n", w); fflush(stdout); _exit(0); }
'''

OKB = ("ok", True)            # survives, prints BLOCKED
VIOL = ("sandbox_violation", False)
TIME = ("time_limit", False)
MEM = ("memory_limit", False)
OUTL = ("output_limit", False)

cases = []


def py(name, body, want=OKB, **kw):
    cases.append((name, "python", PY + body, want, kw))


def c(name, body, want=OKB, **kw):
    cases.append((name, "c", C + body, want, kw))


# -- secrets ------------------------------------------------------------------
py("read /etc/shadow", 'attempt("shadow", lambda: open("/etc/shadow").read())\nprint("BLOCKED")')
py("read the host's /etc/passwd entries",
   'attempt("passwd", lambda: "root:x:0:0:root:/root" in open("/etc/passwd").read())\nprint("BLOCKED")')
py("host secret in os.environ", 'attempt("environ", lambda: any(SECRET in v for v in os.environ.values()))\nprint("BLOCKED")')
py("host secret through /proc/*/environ", '''
for p in os.listdir("/proc"):
    attempt("/proc/%s/environ" % p, lambda: SECRET.encode() in open("/proc/%s/environ" % p, "rb").read())
    attempt("/proc/%s/cmdline" % p, lambda: SECRET.encode() in open("/proc/%s/cmdline" % p, "rb").read())
print("BLOCKED")''')
py("the helper at pid 1: environ, mem, root", '''
attempt("/proc/1/environ", lambda: open("/proc/1/environ", "rb").read() is not None)
attempt("/proc/1/mem", lambda: open("/proc/1/mem", "rb") is not None)
attempt("/proc/1/root", lambda: os.listdir("/proc/1/root") is not None)
attempt("/proc/1/fd", lambda: os.listdir("/proc/1/fd") is not None)
print("BLOCKED")''')
py("the runner through the parent pid", '''
pp = os.getppid()
attempt("ppid environ", lambda: SECRET.encode() in open("/proc/%d/environ" % pp, "rb").read())
attempt("ppid is visible", lambda: os.path.exists("/proc/%d/status" % pp) and pp != 1)
print("BLOCKED")''')
py("host home, root and tmp", '''
attempt("/root", lambda: os.listdir("/root") is not None)
attempt("/home", lambda: os.listdir("/home") is not None)
attempt("host /tmp", lambda: any(n.startswith(("rlvr", "tmp", "bcode", "pytest")) for n in os.listdir("/tmp")))
attempt("/sys", lambda: os.listdir("/sys/fs/cgroup") is not None)
print("BLOCKED")''')
py("symlink escapes", '''
os.symlink("/etc/shadow", "/work/s1")
attempt("symlink shadow", lambda: open("/work/s1").read() is not None)
os.symlink("/proc/1/root/etc/shadow", "/work/s2")
attempt("symlink via /proc/1/root", lambda: open("/work/s2").read() is not None)
attempt("/proc/self/root/..", lambda: "home" in os.listdir("/proc/self/root/.."))
print("BLOCKED")''')
py("devices", '''
for d in ["/dev/sda", "/dev/vda", "/dev/mem", "/dev/kmem", "/dev/kmsg", "/dev/port", "/dev/tty", "/dev/nvme0"]:
    attempt(d, lambda: os.open(d, os.O_RDONLY) >= 0)
attempt("mknod", lambda: os.mknod("/work/mem", 0o600 | 0o020000, os.makedev(1, 1)) or True)
print("BLOCKED")''')
py("write outside the work dir", '''
for p in ["/usr/rlvr_escape", "/etc/rlvr_escape", "/rlvr_escape", "/bin/rlvr_escape", "/proc/sys/kernel/hostname"]:
    attempt(p, lambda: open(p, "w").write("x") >= 0)
print("BLOCKED")''')
py("a file left in /tmp", 'open("/tmp/rlvr_escape_left", "w").write("x")\nopen("/dev/shm/rlvr_escape_shm", "w").write("x")\nprint("BLOCKED")')
# -- network --------------------------------------------------------------------
py("TCP to loopback and outside", '''
def tcp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(0.5)
    s.connect(addr)
    return True
attempt("tcp 127.0.0.1:22", lambda: tcp(("127.0.0.1", 22)))
attempt("tcp 1.1.1.1:80", lambda: tcp(("1.1.1.1", 80)))
print("BLOCKED")''')
py("UDP to loopback and DNS", '''
def udp(addr):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    return s.sendto(b"x", addr) > 0
attempt("udp 127.0.0.1", lambda: udp(("127.0.0.1", 9)))
attempt("udp 8.8.8.8:53", lambda: udp(("8.8.8.8", 53)))
print("BLOCKED")''')
py("DNS resolution", 'attempt("getaddrinfo", lambda: len(socket.getaddrinfo("example.com", 80)) > 0)\nprint("BLOCKED")')
py("IPv6, netlink and packet sockets", '''
attempt("inet6", lambda: socket.socket(socket.AF_INET6, socket.SOCK_STREAM) is not None)
attempt("netlink", lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) is not None)
attempt("packet", lambda: socket.socket(17, socket.SOCK_RAW, 0) is not None)
print("BLOCKED")''')
py("unix sockets to the host's daemons", '''
def unix(p):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(p)
    return True
for p in ["/run/systemd/private", "/var/run/docker.sock", "/run/dbus/system_bus_socket", "\\0/tmp/.X11-unix/X0"]:
    attempt(p, lambda: unix(p))
print("BLOCKED")''')
# -- exec --------------------------------------------------------------------------
py("execve of a shell", 'os.execv("/bin/sh", ["sh", "-c", "echo ESCAPED shell"])', VIOL)
py("execve of a setuid binary", 'os.execv("/usr/bin/passwd", ["passwd"])', VIOL)
py("execve of python itself", 'os.execv(sys.executable, [sys.executable, "-c", "print(\'ESCAPED re-exec\')"])', VIOL)
py("subprocess: the child dies, the parent goes on", '''
import subprocess
r = subprocess.run(["/bin/sh", "-c", "echo ESCAPED subprocess"], capture_output=True)
if r.returncode == 0:
    escaped("subprocess")
print("BLOCKED", r.returncode)''')
py("fexecve of a memfd", '''
fd = os.memfd_create("x")
os.write(fd, open("/bin/sh", "rb").read())
os.execve(fd, ["sh", "-c", "echo ESCAPED memfd"], {})''', VIOL)
py("execve through ctypes at a guessed address", '''
buf = ctypes.create_string_buffer(b"/bin/sh")
libc.syscall(59, buf, None, None)
print("ESCAPED execve returned")''', VIOL)
# -- killed system calls ------------------------------------------------------------
for nr, name, args in [(101, "ptrace", "0, 0, 0, 0"), (310, "process_vm_readv", "1, 0, 0, 0, 0, 0"),
                       (250, "keyctl", "0, 0, 0, 0, 0"), (321, "bpf", "0, 0, 0"),
                       (298, "perf_event_open", "0, 0, -1, -1, 0"), (425, "io_uring_setup", "1, 0"),
                       (323, "userfaultfd", "0"), (165, "mount", "0, 0, 0, 0, 0"), (161, "chroot", "0"),
                       (272, "unshare (user namespace)", "0x10000000"), (308, "setns", "0, 0"),
                       (155, "pivot_root", "0, 0"), (170, "sethostname", "0, 0"), (246, "kexec_load", "0, 0, 0, 0")]:
    py("%s is killed" % name, 'libc.syscall(%d, %s)\nprint("ESCAPED %s returned")' % (nr, args, name), VIOL)
py("clone with a new user namespace", 'libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)\nprint("ESCAPED clone returned")', VIOL)
py("clone3 is refused, the program goes on", '''
r = libc.syscall(435, 0, 0)
if r >= 0:
    escaped("clone3")
print("BLOCKED", ctypes.get_errno())''')
# -- credentials, signals, limits ------------------------------------------------------
py("become root", '''
attempt("setuid", lambda: os.setuid(0) or os.getuid() == 0)
attempt("setgid", lambda: os.setgid(0) or os.getgid() == 0)
attempt("seteuid", lambda: os.seteuid(0) or os.geteuid() == 0)
attempt("already root", lambda: os.getuid() == 0 or os.geteuid() == 0)
print("BLOCKED")''')
py("raise rlimits", '''
import resource
for r in [resource.RLIMIT_CPU, resource.RLIMIT_NPROC, resource.RLIMIT_AS, resource.RLIMIT_NOFILE, resource.RLIMIT_FSIZE]:
    s, h = resource.getrlimit(r)
    if h != resource.RLIM_INFINITY:
        attempt("raise %d" % r, lambda: resource.setrlimit(r, (h * 2 + 1, h * 2 + 1)) or True)
    attempt("unlimited %d" % r, lambda: resource.setrlimit(r, (resource.RLIM_INFINITY, resource.RLIM_INFINITY)) or True)
print("BLOCKED")''')
py("signals to the helper and the runner", '''
attempt("kill 1", lambda: os.kill(1, signal.SIGKILL) or True)
attempt("kill ppid", lambda: os.kill(os.getppid(), signal.SIGKILL) or True)
attempt("sees other processes", lambda: len([p for p in os.listdir("/proc") if p.isdigit()]) > 2)
print("BLOCKED")''')
py("kill(-1) reaches nothing outside", 'attempt("kill(-1)", lambda: os.kill(-1, signal.SIGKILL) or True)\nprint("BLOCKED")')
py("capabilities", '''
for line in open("/proc/self/status"):
    if line.startswith(("CapEff", "CapPrm")) and int(line.split()[1], 16) != 0:
        escaped(line.strip())
    if line.startswith("NoNewPrivs") and line.split()[1] != "1":
        escaped("no_new_privs off")
    if line.startswith("Seccomp:") and line.split()[1] != "2":
        escaped("no seccomp filter")
print("BLOCKED")''')
py("SysV IPC and hostname stay in the sandbox", '''
attempt("hostname", lambda: socket.gethostname() != "sandbox")
libc.shmget(0x524c5652, 4096, 0o1000 | 0o666)
print("BLOCKED")''')
# -- time ---------------------------------------------------------------------------------
py("spin", 'while True:\n    pass', TIME)
py("sleep", 'import time\ntime.sleep(30)\nprint("ESCAPED woke")', TIME)
py("blocking read on a pipe", 'r, w = os.pipe()\nos.read(r, 1)\nprint("ESCAPED read")', TIME)
py("blocking read on stdin while stdin is empty", 'sys.stdin.read()\nprint("BLOCKED")')
py("a spinning thread", 'import threading\ndef spin():\n    while True:\n        pass\nthreading.Thread(target=spin, daemon=True).start()\nimport time\ntime.sleep(30)', TIME)
# -- processes ---------------------------------------------------------------------------------
py("fork bomb stops at the pids limit", '''
import time
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
print("BLOCKED", n)''')
py("thread bomb", '''
import threading, time
n = 0
try:
    while n < 5000:
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
        n += 1
except RuntimeError:
    pass
if n >= 5000:
    escaped("thread bomb unbounded")
print("BLOCKED", n, flush=True)
os._exit(0)''')
py("a double-forked daemon must die with the run", '''
import time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        time.sleep(60)
        open("/tmp/rlvr_escape_daemon", "w")
    os._exit(0)
os.wait()
print("BLOCKED")''')
# -- memory, output, disk ------------------------------------------------------------------------
py("memory hog", 'x = bytearray(1 << 30)\nfor i in range(0, len(x), 4096):\n    x[i] = 1\nprint("ESCAPED allocated 1 GiB")', MEM)
py("memory hog in children", '''
import time
kids = []
for i in range(8):
    pid = os.fork()
    if pid == 0:
        x = bytearray(100 << 20)
        for j in range(0, len(x), 4096):
            x[j] = 1
        time.sleep(0.8)
        os._exit(0)
    kids.append(pid)
held = sum(1 for p in kids if os.waitpid(p, 0)[1] == 0)
if held == 8:
    escaped("8 x 100 MiB held at once")
print("BLOCKED")''', ("ok", True), memory=128)
py("stdout flood", 'while True:\n    sys.stdout.write("A" * 65536)', OUTL)
py("stderr flood is capped", 'for i in range(300):\n    sys.stderr.write("E" * 65536)\nprint("BLOCKED")')
py("fill the disk", '''
for d in ["/work", "/tmp", "/dev/shm"]:
    try:
        with open(d + "/fill", "wb") as f:
            for i in range(4096):
                f.write(b"\\0" * (1 << 20))
        escaped("wrote 4 GiB to " + d)
    except OSError:
        pass
print("BLOCKED")''')
# -- reward hacks at the process level -------------------------------------------------------------
py("overwrite the program and the stdin file", '''
attempt("stdin name", lambda: os.path.exists("/work/.stdin"))
open("/work/main.py", "w").write("print('ESCAPED rewritten')")
print("BLOCKED")''')

# -- C ------------------------------------------------------------------------------------------------
c("C: fork bomb", '''int main(void){ int n = 0; for (;;) { pid_t p = fork(); if (p < 0) break; if (p == 0) { sleep(30); _exit(0); } if (++n > 500) escaped("fork bomb"); } printf("BLOCKED %d\\n", n); return 0; }''')
c("C: ptrace", '#include <sys/ptrace.h>\nint main(void){ ptrace(PTRACE_TRACEME, 0, 0, 0); escaped("ptrace returned"); }', VIOL)
c("C: socket AF_INET", 'int main(void){ if (socket(AF_INET, SOCK_STREAM, 0) >= 0) escaped("socket"); if (socket(AF_INET, SOCK_DGRAM, 0) >= 0) escaped("udp"); puts("BLOCKED"); }')
c("C: execve /bin/sh", 'int main(void){ char *a[] = {"sh", "-c", "echo ESCAPED", 0}; execve("/bin/sh", a, 0); escaped("execve returned"); }', VIOL)
c("C: memory hog", 'int main(void){ size_t n = (size_t)1 << 30; char *p = malloc(n); if (!p) { puts("BLOCKED"); return 0; } for (size_t i = 0; i < n; i += 4096) p[i] = 1; escaped("1 GiB"); }', MEM)
c("C: spin", 'int main(void){ volatile unsigned long x = 0; for (;;) x++; }', TIME)
c("C: sleep", 'int main(void){ sleep(30); escaped("woke"); }', TIME)
c("C: output flood", 'int main(void){ static char b[65536]; memset(b, 65, sizeof b); for (;;) fwrite(b, 1, sizeof b, stdout); }', OUTL)
c("C: read /etc/shadow", 'int main(void){ if (open("/etc/shadow", O_RDONLY) >= 0) escaped("shadow"); puts("BLOCKED"); }')
c("C: host environment", '''extern char **environ;
int main(void){ for (char **e = environ; *e; e++) if (strstr(*e, "SECRET")) escaped(*e); if (getenv("OPENAI_API_KEY")) escaped("getenv"); puts("BLOCKED"); }''')
c("C: kill(-1)", 'int main(void){ kill(-1, SIGKILL); puts("BLOCKED"); }')
c("C: raise the hard limits", 'int main(void){ struct rlimit r = {RLIM_INFINITY, RLIM_INFINITY}; if (setrlimit(RLIMIT_NPROC, &r) == 0) escaped("nproc"); if (setrlimit(RLIMIT_CPU, &r) == 0) escaped("cpu"); puts("BLOCKED"); }')
c("C: mount", '#include <sys/mount.h>\nint main(void){ mount("none", "/tmp", "tmpfs", 0, 0); escaped("mount returned"); }', VIOL)
c("C: unshare", '#include <sched.h>\nint main(void){ unshare(CLONE_NEWUSER); escaped("unshare returned"); }', VIOL)
c("C: clone with a new pid namespace", '#include <sched.h>\nint main(void){ syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, 0, 0, 0, 0); escaped("clone returned"); }', VIOL)
c("C: io_uring", 'int main(void){ syscall(425, 1, 0); escaped("io_uring returned"); }', VIOL)
c("C: keyctl", 'int main(void){ syscall(SYS_keyctl, 0, 0, 0, 0, 0); escaped("keyctl returned"); }', VIOL)
c("C: /dev/mem and raw disks", 'int main(void){ if (open("/dev/mem", O_RDONLY) >= 0) escaped("mem"); if (open("/dev/sda", O_RDONLY) >= 0) escaped("sda"); puts("BLOCKED"); }')
c("C: write into /usr", 'int main(void){ if (open("/usr/rlvr_escape", O_CREAT | O_WRONLY, 0644) >= 0) escaped("usr"); puts("BLOCKED"); }')
c("C: daemon", 'int main(void){ if (fork() == 0) { setsid(); if (fork() == 0) { signal(SIGTERM, SIG_IGN); sleep(60); open("/tmp/rlvr_escape_cdaemon", O_CREAT | O_WRONLY, 0644); } _exit(0); } wait(0); puts("BLOCKED"); }')
c("C: vfork + exec: the child dies, the parent goes on", 'int main(void){ pid_t p = vfork(); if (p == 0) { execl("/bin/sh", "sh", (char *)0); _exit(0); } int st; waitpid(p, &st, 0); if (WIFEXITED(st)) escaped("exec survived"); puts("BLOCKED"); }')

host_mounts = mount_count()
# Python programs run from the slot's warm interpreter (the default); those
# not timed out run a second time from a fresh interpreter (--python-cold)
runs = []
for name, lang, src, want, kw in cases:
    runs.append((name, lang, src, want, kw, []))
    if lang == "python" and want != TIME:
        runs.append((name + " (fresh interpreter)", lang, src, want, kw, ["--python-cold"]))
for name, lang, src, (verdict, blocked), kw, extra in runs:
    tl = 300 if verdict == "time_limit" else 2000
    rc, obj, err = rexec(lang, src, time_limit=tl, memory=kw.get("memory", 256), extra=extra)
    if obj is None:
        ok(False, "%s: a result" % name, err)
        continue
    out = obj.get("stdout", "")
    good = obj["verdict"] == verdict and "ESCAPED" not in out and (not blocked or "BLOCKED" in out)
    if verdict == "memory_limit" and not HAS_MEM:
        good = "ESCAPED" not in out
    ok(good, "%s: %s%s" % (name, verdict, ", BLOCKED" if blocked else ""),
       "got %s\nstdout: %s\nstderr: %s\n%s" % (obj["verdict"], out[:600], obj.get("stderr", "")[:600], err[:300]))
    ok(SECRET not in out and SECRET not in obj.get("stderr", ""), "%s: the secret is not in the output" % name)
    procs, files, cgs = sandbox_processes(), tmp_leftovers(), stale_cgroups()
    ok(not procs and not files and not cgs and mount_count() == host_mounts,
       "%s: the host is clean after the run" % name, "processes %r, files %r, cgroups %r" % (procs, files, cgs))
    base = name.replace(" (fresh interpreter)", "")
    if base == "fork bomb stops at the pids limit" and "BLOCKED" in out:
        n = int(out.split()[-1])
        if HAS_PIDS:
            ok(n < 64, "the fork bomb stopped at the pids limit (%d forks)" % n)
        else:
            ok(True, "# SKIP no pids cgroup controller: RLIMIT_NPROC only")
    if base == "memory hog":
        if HAS_MEM:
            ok(obj["signal"] == 9, "the memory cgroup killed the hog (SIGKILL)", obj)
        else:
            ok(True, "# SKIP no memory cgroup controller")

# -- the compiler in its own sandbox ---------------------------------------------------------------------
rc, obj, err = rexec("c", '#include "/etc/shadow"\nint main(void){return 0;}\n')
ok(obj and obj["verdict"] == "compile_error" and "root:" not in obj["stderr"], "#include \"/etc/shadow\": compile error, nothing leaks", obj)
rc, obj, err = rexec("c", '#include "/proc/self/environ"\nint main(void){return 0;}\n')
ok(obj and obj["verdict"] in ("compile_error", "ok") and SECRET not in obj["stderr"] + obj["stdout"],
   "#include \"/proc/self/environ\": the host's environment is not there", obj)
rc, obj, err = rexec("c", '#include "/dev/zero"\n', timeout=60)
ok(obj and obj["verdict"] == "compile_error", "#include \"/dev/zero\": a compile error, no hang", obj)
rc, obj, err = rexec("cpp", '#include </etc/shadow>\nint main(){}\n')
ok(obj and obj["verdict"] == "compile_error" and "root:" not in obj["stderr"], "C++ #include </etc/shadow>: compile error", obj)

# -- signals reported ------------------------------------------------------------------------------------------
rc, obj, err = rexec("c", 'int main(void){ volatile int *p = 0; return *p; }')
ok(obj and obj["verdict"] == "runtime_error" and obj["signal"] == 11, "SIGSEGV: runtime_error with signal 11", obj)
rc, obj, err = rexec("c", '#include <stdlib.h>\nint main(void){ abort(); }')
ok(obj and obj["verdict"] == "runtime_error" and obj["signal"] == 6, "abort: runtime_error with signal 6", obj)
rc, obj, err = rexec("python", 'import sys\nsys.exit(3)')
ok(obj and obj["verdict"] == "runtime_error" and obj["exit_code"] == 3 and rc == 1, "exit 3: runtime_error, exit_code 3, rlvr exec exits 1", obj)

# -- benign programs pass -----------------------------------------------------------------------------------------
rc, obj, err = rexec("python", '''import json, re, collections, itertools, math, fractions, decimal, heapq, bisect, functools, datetime, random, string, statistics, typing, dataclasses
print(sum(map(int, input().split())), math.comb(10, 3), fractions.Fraction(1, 3) + fractions.Fraction(1, 6))''', stdin="1 2 3\n")
ok(obj and obj["verdict"] == "ok" and obj["stdout"] == "6 120 1/2\n", "stdlib imports and stdin", obj)
rc, obj, err = rexec("python", '''import multiprocessing as mp
def sq(x):
    return x * x
if __name__ == "__main__":
    with mp.Pool(2) as p:
        print(sum(p.map(sq, range(100))))''')
ok(obj and obj["verdict"] == "ok" and obj["stdout"] == "328350\n", "modest multiprocessing (Pool(2))", obj)
rc, obj, err = rexec("python", 'import threading\nr = []\nts = [threading.Thread(target=r.append, args=(i,)) for i in range(8)]\n[t.start() for t in ts]\n[t.join() for t in ts]\nprint(sorted(r) == list(range(8)))')
ok(obj and obj["stdout"] == "True\n", "threads", obj)
rc, obj, err = rexec("cpp", '#include <bits/stdc++.h>\nint main(){ std::vector<long> v; long x; while (std::cin >> x) v.push_back(x); std::sort(v.begin(), v.end()); for (long y : v) std::cout << y << " "; std::cout << "\\n"; }', stdin="3 1 2")
ok(obj and obj["verdict"] == "ok" and obj["stdout"] == "1 2 3 \n", "C++17 with the STL and stdin", obj)
rc, obj, err = rexec("c", '#include <math.h>\n#include <stdio.h>\nint main(void){ printf("%.3f\\n", sqrt(2.0)); }')
ok(obj and obj["stdout"] == "1.414\n", "C with libm", obj)
rc, obj, err = rexec("python", 'open("/tmp/x", "w").write("ok")\nprint(open("/tmp/x").read())')
ok(obj and obj["stdout"] == "ok\n", "a private /tmp is writable", obj)
ok(len(cases) >= 60, "at least 60 hostile programs (%d)" % len(cases))
done()
