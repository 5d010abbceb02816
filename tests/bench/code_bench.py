"""code_bench.py -- figures for bench/code.sh (see there).

For each of a trivial Python program and a trivial C program (already
compiled: the plugin's compile cache serves every run after the first):
  - rlvr: N samples scored by `rlvr score --plugin code` with max_parallel
    slots; programs/s over the whole command, peak RSS of rlvr;
  - the sandbox's cost per run: rlvr's mean wall time per run (from the
    details) with one slot, minus the bare run's mean time (both serial;
    the same with all slots busy is printed too, inflated by contention);
  - bare: the program run with subprocess, no limits (serial);
  - "py cold": the Python program with python_warm = false (a fresh
    interpreter per run, as `python3 p.py` starts; by default each run is a
    fork of the slot's warm interpreter), beside the same bare run;
  - "py -S": the Python program again with the plugin's python_site = false
    (python -S: no site, no .pth files), beside bare python -S;
  - reference: a Python runner as open-r1/verl run local code (subprocess,
    setrlimit in the child, a timeout, no namespaces, no seccomp) with the
    same number of threads as slots.
"""
import concurrent.futures as cf
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

RLVR = os.environ.get("RLVR", "rlvr")
N_PY = int(os.environ.get("CODE_BENCH_PY", "300"))
N_C = int(os.environ.get("CODE_BENCH_C", "600"))
SLOTS = int(os.environ.get("CODE_BENCH_SLOTS", str(os.cpu_count() or 2)))
PY_SRC = "print(int(input()) + 1)\n"
C_SRC = '#include <stdio.h>\nint main(void){int x; if (scanf("%d", &x) != 1) return 1; printf("%d\\n", x + 1); return 0;}\n'


def rlvr_run(lang, src, n, extra="", slots=None):
    slots = slots or SLOTS
    rows = "".join(json.dumps({"id": i, "completion": "```%s\n%s```\n" % (lang, src),
                               "tests": {"cases": [{"stdin": "%d\n" % i, "stdout": "%d\n" % (i + 1)}]}}) + "\n"
                   for i in range(n))
    mix = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
    mix.write('return mix { plugin("code", { config = { max_parallel = %d%s } }) }\n' % (slots, extra))
    mix.close()
    t0 = time.perf_counter()
    p = subprocess.Popen([RLVR, "score", "--mix", mix.name, "--quiet", "--threads", "1"], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = p.communicate(rows.encode())
    dt = time.perf_counter() - t0
    os.unlink(mix.name)
    res = [json.loads(l) for l in out.decode().splitlines()]
    good = sum(1 for r in res if r["reward"] == 1.0)
    walls = [r["details"]["code"]["wall_ms"] for r in res if "wall_ms" in r["details"]["code"]]
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return n / dt, good, sum(walls) / max(1, len(walls)), peak, err.decode()[-300:]


def bare(argv, n):
    t0 = time.perf_counter()
    for i in range(n):
        subprocess.run(argv, input=b"%d\n" % i, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=True)
    return (time.perf_counter() - t0) / n * 1000


def limits():
    resource.setrlimit(resource.RLIMIT_AS, (256 << 20, 256 << 20))
    resource.setrlimit(resource.RLIMIT_CPU, (3, 3))
    resource.setrlimit(resource.RLIMIT_NPROC, (4096, 4096))
    resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 20, 64 << 20))


def reference(argv, n):
    def one(i):
        r = subprocess.run(argv, input=b"%d\n" % i, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           preexec_fn=limits, timeout=3)
        return r.stdout.decode() == "%d\n" % (i + 1)
    t0 = time.perf_counter()
    with cf.ThreadPoolExecutor(SLOTS) as ex:
        good = sum(ex.map(one, range(n)))
    return n / (time.perf_counter() - t0), good


def main():
    d = tempfile.mkdtemp()
    try:
        py = os.path.join(d, "p.py")
        open(py, "w").write(PY_SRC)
        csrc = os.path.join(d, "p.c")
        open(csrc, "w").write(C_SRC)
        cbin = os.path.join(d, "p")
        subprocess.run(["/usr/bin/gcc", "-O2", "-o", cbin, csrc], check=True)
        print("code sandbox: %d slots, %d CPUs (figures under whatever else runs here)" % (SLOTS, os.cpu_count()))
        print("%-8s %-34s %10s %12s %10s" % ("program", "runner", "programs/s", "ms/run", "peak MiB"))
        for name, lang, src, n, argv, extra in [
                ("python", "python", PY_SRC, N_PY, ["/usr/bin/python3", "-B", "-s", py], ""),
                ("py cold", "python", PY_SRC, N_PY, ["/usr/bin/python3", "-B", "-s", py], ", python_warm = false"),
                ("py -S", "python", PY_SRC, N_PY, ["/usr/bin/python3", "-B", "-s", "-S", py], ", python_site = false"),
                ("c", "c", C_SRC, N_C, [cbin], "")]:
            b = bare(argv, min(n, 200))
            rate, good, wall, peak, err = rlvr_run(lang, src, n, extra)
            if good != n:
                print("# rlvr: only %d of %d passed: %s" % (good, n, err))
            ref_rate, ref_good = reference(argv, n)
            print("%-8s %-34s %10.1f %12.2f %10.1f" % (name, "rlvr sandbox (%d slots)" % SLOTS, rate, wall, peak / 1024))
            print("%-8s %-34s %10.1f %12s %10s" % (name, "subprocess + rlimits (%d threads)" % SLOTS, ref_rate, "-", "-"))
            print("%-8s %-34s %10.1f %12.2f %10s" % (name, "bare, serial", 1000 / b, b, "-"))
            # the overhead, serially: one slot, so that the two CPUs' contention
            # between parallel runs does not count as the sandbox's cost
            _, good1, wall1, _, err1 = rlvr_run(lang, src, min(n, 200), extra, slots=1)
            if good1 != min(n, 200):
                print("# rlvr (1 slot): only %d passed: %s" % (good1, err1))
            print("%-8s %-34s %10s %12.2f %10s" % (name, "rlvr sandbox (1 slot)", "-", wall1, "-"))
            # (negative for a warm Python run: no interpreter start, where
            # the bare run pays one)
            print("%-8s sandboxed run minus bare run: %.2f ms serially (1 slot %.2f ms - bare %.2f ms); %.2f ms with %d slots busy"
                  % (name, wall1 - b, wall1, b, wall - b, SLOTS))
        # a large caller: the sandbox from a process with 1 GiB touched (a
        # trainer scoring in-process), beside a fork of that process
        big = os.path.join(os.environ.get("BENCH_BIN", "."), "code_bigcaller")
        if os.path.exists(big):
            r = subprocess.run([big, os.environ.get("CODE_BENCH_BIG_MIB", "1024"), "100"], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            for line in r.stdout.splitlines():
                print("big caller: " + line)
        else:
            print("big caller: %s not built (make bench builds it)" % big)
    finally:
        shutil.rmtree(d)


main()
