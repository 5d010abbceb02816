"""code_lib.py -- helpers shared by the code sandbox's Python tests: whether
this machine can sandbox (else the tests skip, naming what is missing),
running `rlvr exec`, and the host checks made after each hostile run (no
process of a sandbox uid, no file a sandbox uid owns in /tmp, no cgroup of
a dead runner, the host's mount table unchanged)."""
import json
import os

from taplib import run_raw, skip_all

SECRET = "sk-rlvr-test-SECRET-7f3a9c"
SANDBOX_UIDS = range(61000, 61000 + 512 * 1024)  # RLVR_SBX_UID_FIRST..LAST


_lock = None


def require_sandbox():
    """Skip unless this machine can sandbox. Holds code-sandbox.lock (in the
    build's tests folder) for the life of the test, so that the code tests,
    which check the host for sandbox processes, never run beside each other
    under make -j."""
    global _lock
    import fcntl
    _lock = open("code-sandbox.lock", "a")
    fcntl.flock(_lock, fcntl.LOCK_EX)
    p = run_raw(["exec", "--describe"], env={"OPENAI_API_KEY": SECRET})
    if p.returncode != 0:
        skip_all("no code sandbox here: " + p.stderr.decode(errors="replace").strip()[:300])
    return p.stdout.decode().strip()


def rexec(lang, src, stdin=None, time_limit=1000, memory=256, extra=None, timeout=120):
    """Run src with rlvr exec; returns (exit status, result object or None, stderr)."""
    d = os.environ.get("TMPDIR", "/tmp")
    import tempfile
    with tempfile.TemporaryDirectory(dir=d) as t:
        path = os.path.join(t, "prog")
        with open(path, "w" if isinstance(src, str) else "wb") as f:
            f.write(src)
        args = ["exec", "--lang", lang, "--time-limit", str(time_limit), "--memory-limit", str(memory)]
        if stdin is not None:
            ip = os.path.join(t, "stdin")
            with open(ip, "wb") as f:
                f.write(stdin.encode() if isinstance(stdin, str) else stdin)
            args += ["--stdin", ip]
        args += (extra or []) + [path]
        p = run_raw(args, env={"OPENAI_API_KEY": SECRET}, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace").strip()
    try:
        obj = json.loads(out) if out else None
    except ValueError:
        obj = None
    return p.returncode, obj, p.stderr.decode("utf-8", "replace")


def sandbox_processes():
    n = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("Uid:"):
                        if int(line.split()[1]) in SANDBOX_UIDS:
                            n.append(pid)
                        break
        except OSError:
            pass
    return n


def tmp_leftovers():
    bad = []
    for name in os.listdir("/tmp"):
        p = os.path.join("/tmp", name)
        try:
            st = os.lstat(p)
        except OSError:
            continue
        if st.st_uid in SANDBOX_UIDS or "rlvr_escape" in name:
            bad.append(name)
    return bad


def stale_cgroups():
    bad = []
    for root, dirs, files in os.walk("/sys/fs/cgroup"):
        depth = root.count("/") - 3
        for d in dirs:
            if d.startswith("rlvr_code."):
                try:
                    pid = int(d.split(".")[1])
                    os.kill(pid, 0)
                except ProcessLookupError:
                    bad.append(os.path.join(root, d))
                except (ValueError, PermissionError, IndexError):
                    pass
        if depth >= 4:
            dirs[:] = []
        else:
            dirs[:] = [d for d in dirs if not d.startswith("rlvr_code.")]
    return bad


def mount_count():
    with open("/proc/self/mountinfo") as f:
        return sum(1 for _ in f)
