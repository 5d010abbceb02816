/*
 * code_sandbox_python.c -- rlvr_sandbox_python.so, the C half of a slot's
 * warm Python interpreter, loaded into it with ctypes.
 *
 * A fresh CPython spends 7-11 ms starting (more than the rest of a
 * sandboxed run several times over), so a slot may keep one interpreter
 * that has started once, imported `site`, and then forks each Python run.
 * The interpreter (W) is a child of the slot's helper (code_zygote.c),
 * outside every sandbox, with the helper's credentials and an environment
 * that is the runs' own; it never runs a program's code. Per run:
 *
 *   helper: clone(new namespaces) -> the run's pid 1, which builds the
 *           minimal root as for any run, then says 'G' on the run's channel
 *   helper -> W: the job (pid 1's pid, which namespaces to join, limits,
 *           argv) with the program's stdout, stderr and the channel
 *   W:  fork -> R: waits for 'G', joins the slot's cgroups, then every
 *                  namespace of pid 1 at once (setns on a pidfd; the pid
 *                  namespace for its children)
 *               R: fork -> R2, pid 2 of the run: fork -> S, and exits, so
 *                  that S is reparented to pid 1, whose child it then is
 *                  (as a program pid 1 starts itself is: pid 1 reaps it,
 *                  and getppid() is 1)
 *               S: takes stdin (the unlinked /work/.stdin), stdout and
 *                  stderr, closes every other fd, enters /work and drops to
 *                  the slot's uid with the run's rlimits and a seccomp
 *                  filter that allows no execve at all
 *                  (code_sandbox_drop.h); once pid 1 is its parent it tells
 *                  pid 1 its pid and waits for pid 1's 'D' (pid 1 is then
 *                  not dumpable: it had to be while R joined its
 *                  namespaces), and Python runs the program as `python
 *                  script` would (the bootstrap, rlvr_sbxpy_boot).
 *   W:  reaps R (which reaped R2), closes its ends, waits for the next job.
 *
 * S cannot see R or W (they are outside its pid namespace) and holds
 * nothing of theirs but a copy of W's memory: the interpreter, the seccomp
 * program and the argv strings of earlier jobs (W never sees a job's files,
 * stdin, expected output or the caller's environment). Orphans of S are
 * reparented to pid 1; when pid 1 ends, the kernel kills what is left of
 * the namespace, as for any run.
 *
 * The bootstrap (Python) is rlvr_sbxpy_boot's text; W is started as
 *   PYTHON [options] -c WARM_ONE_LINER /path/to/rlvr_sandbox_python.so
 * with the helper's socket on fd 3 (code_sandbox_wire.h: 'S', 'J', 'O').
 */
#include "code_sandbox_drop.h"
#include "code_sandbox_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define SOCK_FD 3
#define CG_CAP 512

/* The public face: what the bootstrap calls through ctypes (the rest of
 * verifiers/ is built with hidden visibility). */
#define SBXPY_API __attribute__((visibility("default")))
SBXPY_API const char *rlvr_sbxpy_boot(void);
SBXPY_API int rlvr_sbxpy_init(void);
SBXPY_API int rlvr_sbxpy_ready(void);
SBXPY_API int rlvr_sbxpy_next(void);
SBXPY_API int rlvr_sbxpy_argc(void);
SBXPY_API const char *rlvr_sbxpy_arg(int i);
SBXPY_API int rlvr_sbxpy_enter(void);
SBXPY_API void rlvr_sbxpy_fail(int e);
SBXPY_API int rlvr_sbxpy_become(void);
SBXPY_API void rlvr_sbxpy_release(void);

/* The slot, from the 'S' message. */
static struct {
    int uid, userns, has_mem_cgroup;
    char cg[3][CG_CAP]; /* memory, pids, v2 cgroup dirs ("" when absent) */
    struct sock_fprog prog;
} slot;

/* The current job, from a 'J' message. */
static struct {
    struct sbx_warm_job w;
    char *args;
    const char **argv;
    int out_fd, err_fd, chan_fd; /* -1 when closed */
} job = {.out_fd = -1, .err_fd = -1, .chan_fd = -1};

static int recv_all(void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = recv(SOCK_FD, c, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A tagged i32 on the run's channel (pid 1 may be gone: no SIGPIPE). */
static void chan_say(char tag, int32_t v)
{
    char b[5];
    if (job.chan_fd < 0) return;
    b[0] = tag;
    memcpy(b + 1, &v, sizeof v);
    ssize_t w;
    do w = send(job.chan_fd, b, sizeof b, MSG_NOSIGNAL);
    while (w < 0 && errno == EINTR);
}

int rlvr_sbxpy_init(void)
{
    char tag;
    struct sbx_warm_setup s;
    if (recv_all(&tag, 1) || tag != 'S' || recv_all(&s, sizeof s)) return -1;
    if (s.bpf_len == 0 || s.bpf_len > 4096) return -1;
    for (int i = 0; i < 3; i++) {
        if (s.cg_len[i] >= CG_CAP || recv_all(slot.cg[i], s.cg_len[i])) return -1;
        slot.cg[i][s.cg_len[i]] = 0;
    }
    struct sock_filter *f = malloc(s.bpf_len * sizeof *f);
    if (!f || recv_all(f, s.bpf_len * sizeof *f)) {
        free(f);
        return -1;
    }
    slot.uid = s.uid;
    slot.userns = s.userns;
    slot.has_mem_cgroup = s.has_mem_cgroup;
    slot.prog.len = (unsigned short)s.bpf_len;
    slot.prog.filter = f;
    return 0;
}

int rlvr_sbxpy_ready(void)
{
    char o = 'O';
    return send(SOCK_FD, &o, 1, MSG_NOSIGNAL) == 1 ? 0 : -1;
}

void rlvr_sbxpy_release(void)
{
    int *fds[3] = {&job.out_fd, &job.err_fd, &job.chan_fd};
    for (int i = 0; i < 3; i++)
        if (*fds[i] >= 0) {
            close(*fds[i]);
            *fds[i] = -1;
        }
    free(job.args);
    free(job.argv);
    job.args = NULL;
    job.argv = NULL;
}

/* 1: a job; 0: the helper is gone; -1: a malformed message (W exits). */
int rlvr_sbxpy_next(void)
{
    rlvr_sbxpy_release();
    char tag;
    int fds[3], got;
    ssize_t r = sbx_recv_fds(SOCK_FD, &tag, fds, &got);
    if (r <= 0) return (int)r;
    if (got == 3) {
        job.out_fd = fds[0];
        job.err_fd = fds[1];
        job.chan_fd = fds[2];
    } else {
        for (int i = 0; i < got; i++) close(fds[i]);
    }
    if (tag != 'J' || got != 3 || recv_all(&job.w, sizeof job.w)) return -1;
    if (job.w.argc < 1 || job.w.argc > 4096 || job.w.args_len > (1u << 20)) return -1;
    job.args = malloc(job.w.args_len + 1);
    job.argv = calloc(job.w.argc + 1, sizeof *job.argv);
    if (!job.args || !job.argv || recv_all(job.args, job.w.args_len)) return -1;
    job.args[job.w.args_len] = 0;
    const char *p = job.args, *end = job.args + job.w.args_len;
    for (uint32_t i = 0; i < job.w.argc; i++) {
        const char *z = memchr(p, 0, (size_t)(end - p));
        if (!z) return -1;
        job.argv[i] = p;
        p = z + 1;
    }
    return 1;
}

int rlvr_sbxpy_argc(void) { return job.argv ? (int)job.w.argc : 0; }

const char *rlvr_sbxpy_arg(int i) { return job.argv && i >= 0 && (uint32_t)i < job.w.argc ? job.argv[i] : NULL; }

void rlvr_sbxpy_fail(int e) { chan_say('E', e); }

/* R: after pid 1's 'G', the slot's cgroups, then pid 1's namespaces. */
int rlvr_sbxpy_enter(void)
{
    char g = 0;
    ssize_t r;
    do r = read(job.chan_fd, &g, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1 || g != 'G') return -1; /* pid 1 failed or was killed: it reports */
    int e = 0;
    for (int i = 0; i < 3 && !e; i++) {
        if (!slot.cg[i][0]) continue;
        char p[CG_CAP + 16];
        snprintf(p, sizeof p, "%s/cgroup.procs", slot.cg[i]);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) e = errno ? errno : EIO;
        if (fd >= 0) close(fd);
    }
    int pfd = e ? -1 : (int)syscall(SYS_pidfd_open, (pid_t)job.w.pid1, 0);
    if (!e && pfd < 0) e = errno;
    if (!e && setns(pfd, (int)job.w.nsflags)) e = errno;
    if (pfd >= 0) close(pfd);
    if (e) {
        rlvr_sbxpy_fail(e);
        return -1;
    }
    return 0;
}

/* S: the program's fds, /work, the slot's uid, limits and filter. */
int rlvr_sbxpy_become(void)
{
    int in = open("/work/.stdin", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (in < 0) goto fail;
    unlink("/work/.stdin");
    if (dup2(in, 0) < 0 || dup2(job.out_fd, 1) < 0 || dup2(job.err_fd, 2) < 0) goto fail;
    if (in != 0) close(in);
    if (dup3(job.chan_fd, 3, O_CLOEXEC) < 0) goto fail;
    job.chan_fd = 3;
    job.out_fd = job.err_fd = -1;
    syscall(SYS_close_range, 4u, ~0u, 0u);
    if (chdir("/work")) goto fail;
    sbx_drop d = {slot.uid, slot.userns, slot.has_mem_cgroup, job.w.time_ms, job.w.memory_mb, job.w.tmpfs_mb,
                  job.w.pids_max, &slot.prog};
    if (sbx_drop_privileges(&d)) goto fail;
    /* our parent, pid 2 of the run, has exited or is exiting: once we are
     * pid 1's child (as a program pid 1 starts is), pid 1 may wait for us */
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (getppid() != 1) {
        clock_gettime(CLOCK_MONOTONIC, &t);
        if (t.tv_sec - t0.tv_sec > 5) {
            errno = ETIMEDOUT;
            goto fail;
        }
        sched_yield();
    }
    /* our pid to pid 1, then its 'D': pid 1 is no longer dumpable (it was
     * while W's children joined its namespaces), so the program cannot
     * reach its memory */
    chan_say('P', (int32_t)getpid());
    char ack = 0;
    ssize_t r;
    do r = read(3, &ack, 1);
    while (r < 0 && errno == EINTR);
    if (r != 1 || ack != 'D') {
        errno = ECONNRESET;
        goto fail;
    }
    close(3);
    job.chan_fd = -1;
    return 0;
fail:
    rlvr_sbxpy_fail(errno ? errno : EIO);
    return -1;
}

/* The bootstrap, run by W with the module's handle as _rlvr_lib: set up,
 * serve jobs; in S, run the program as the interpreter runs a script
 * (sys.argv, sys.path[0], a fresh __main__; an uncaught exception printed
 * by sys.excepthook without our frames, status 1; SystemExit's status),
 * then end as the interpreter ends: non-daemon threads joined, atexit
 * handlers, std streams flushed (status 120 when that fails), the
 * program's module torn down as Py_Finalize does (names with '_' first)
 * and a garbage collection, so its objects' finalizers run and its files
 * are flushed; the rest of the interpreter, which the program did not
 * make, is not torn down. */
static const char boot[] =
    "import atexit, ctypes, gc, os, sys\n"
    "def _rlvr_serve(L):\n"
    "    while True:\n"
    "        if L.rlvr_sbxpy_next() != 1:\n"
    "            os._exit(0)\n"
    "        try:\n"
    "            r = os.fork()\n"
    "        except OSError as e:\n"
    "            L.rlvr_sbxpy_fail(e.errno or 11)\n"
    "            L.rlvr_sbxpy_release()\n"
    "            continue\n"
    "        if r == 0:\n"
    "            try:\n"
    "                if L.rlvr_sbxpy_enter() == 0:\n"
    "                    r2 = os.fork()\n"
    "                    if r2 == 0:\n"
    "                        if os.fork() == 0:\n"
    "                            if L.rlvr_sbxpy_become() == 0:\n"
    "                                return\n"
    "                            os._exit(127)\n"
    "                        os._exit(0)\n"
    "                    os.waitpid(r2, 0)\n"
    "            except BaseException as e:\n"
    "                L.rlvr_sbxpy_fail(getattr(e, 'errno', None) or 5)\n"
    "            os._exit(0)\n"
    "        try:\n"
    "            os.waitpid(r, 0)\n"
    "        except ChildProcessError:\n"
    "            pass\n"
    "        L.rlvr_sbxpy_release()\n"
    "def _rlvr_flush(say):\n"
    "    ok = True\n"
    "    for f in (sys.stdout, sys.stderr):\n"
    "        try:\n"
    "            if f is not None and not f.closed:\n"
    "                f.flush()\n"
    "        except BaseException as e:\n"
    "            ok = False\n"
    "            if say:\n"
    "              try:\n"
    "                os.write(2, ('Exception ignored in: %r\\n%s: %s\\n' % (f, type(e).__name__, e)).encode())\n"
    "              except BaseException:\n"
    "                pass\n"
    "    return ok\n"
    "def _rlvr_finish(status, main):\n"
    "    t = sys.modules.get('threading')\n"
    "    if t is not None:\n"
    "        try:\n"
    "            t._shutdown()\n"
    "        except BaseException:\n"
    "            pass\n"
    "    atexit._run_exitfuncs()\n"
    "    if not _rlvr_flush(True) and status == 0:\n"
    "        status = 120\n"
    "    d = main.__dict__\n"
    "    for k in list(d):\n"
    "        if k[:1] == '_' and k != '__builtins__':\n"
    "            d[k] = None\n"
    "    for k in list(d):\n"
    "        if k != '__builtins__':\n"
    "            d[k] = None\n"
    "    del d, main\n"
    "    gc.collect()\n"
    "    _rlvr_flush(False)\n"
    "    if status == -2:\n"
    "        import signal\n"
    "        signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
    "        os.kill(os.getpid(), signal.SIGINT)\n"
    "        status = 130\n"
    "    os._exit(status)\n"
    "def _rlvr_status(e):\n"
    "    c = e.code\n"
    "    if c is None:\n"
    "        return 0\n"
    "    if isinstance(c, int):\n"
    "        return c & 255 if -2**31 <= c < 2**31 else 255\n"
    "    try:\n"
    "        print(c, file=sys.stderr)\n"
    "    except BaseException:\n"
    "        pass\n"
    "    return 1\n"
    "def _rlvr_run(L):\n"
    "    import builtins\n"
    "    argv = [os.fsdecode(L.rlvr_sbxpy_arg(i)) for i in range(L.rlvr_sbxpy_argc())]\n"
    "    path = os.path.abspath(argv[0])\n"
    "    sys.argv = argv\n"
    "    sys.orig_argv = sys.orig_argv[:-3] + argv\n"
    "    sys.path[0] = os.path.dirname(path)\n"
    "    main = type(sys)('__main__')\n"
    "    loader = sys.modules['_frozen_importlib_external'].SourceFileLoader('__main__', path)\n"
    "    main.__dict__.update(__file__=path, __cached__=None, __loader__=loader, __builtins__=builtins,\n"
    "                         __annotations__={})\n"
    "    sys.modules['__main__'] = main\n"
    "    try:\n"
    "        with open(path, 'rb') as f:\n"
    "            source = f.read()\n"
    "        exec(compile(source, path, 'exec', dont_inherit=True), main.__dict__)\n"
    "        status = 0\n"
    "    except SystemExit as e:\n"
    "        status = _rlvr_status(e)\n"
    "    except BaseException as e:\n"
    "        tb = e.__traceback__\n"
    "        while tb is not None and tb.tb_frame.f_code.co_filename == '<rlvr-sandbox>':\n"
    "            tb = tb.tb_next\n"
    "        e.__traceback__ = tb\n"
    "        try:\n"
    "            sys.excepthook(type(e), e, tb)\n"
    "        except BaseException:\n"
    "            pass\n"
    "        status = -2 if isinstance(e, KeyboardInterrupt) else 1\n"
    "        del e, tb\n"
    "    _rlvr_finish(status, main)\n"
    "_rlvr_lib.rlvr_sbxpy_arg.restype = ctypes.c_char_p\n"
    "if _rlvr_lib.rlvr_sbxpy_init() != 0:\n"
    "    os._exit(3)\n"
    "gc.collect()\n"
    "gc.freeze()\n"
    "if _rlvr_lib.rlvr_sbxpy_ready() != 0:\n"
    "    os._exit(3)\n"
    "_rlvr_serve(_rlvr_lib)\n"
    "_rlvr_run(_rlvr_lib)\n";

const char *rlvr_sbxpy_boot(void) { return boot; }
