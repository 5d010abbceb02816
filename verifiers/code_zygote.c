/*
 * code_zygote.c -- rlvr-sandbox, the helper process of one sandbox slot.
 *
 * The supervisor (code_sandbox.c, in the caller) starts one helper per slot
 * with posix_spawn, an empty environment and a unix socket on fd 3, and
 * sends it one job at a time (code_sandbox_wire.h). The helper is small and
 * single-threaded, so starting a run costs the same whatever the caller's
 * size: forking it copies a few page tables, where forking a trainer with
 * gigabytes touched copied all of its own on every run.
 *
 * At start the helper reserves the exec page at a random address, builds
 * the two seccomp programs (run: no execve but the program's own; compile:
 * execve allowed) and, as root, moves into an empty network namespace of
 * its own, which its runs share. Then, per job:
 *
 *   helper
 *     clone(NEWPID|NEWNS|NEWIPC|NEWUTS [|NEWUSER|NEWNET when not root])
 *       -> pid 1 of the run: maps the slot's uid (user namespace), joins
 *          the slot's cgroups, unshares the cgroup namespace, mounts the
 *          minimal root on a private tmpfs, writes the job's files into
 *          /work, pivot_root()s into it, makes itself non-dumpable, then
 *          starts the program:
 *            clone(VM|VFORK) -> program: stdin from a file (unlinked),
 *                 setgroups/setresgid/setresuid to the slot's uid, no
 *                 capabilities, rlimits, no_new_privs, the seccomp filter,
 *                 execve
 *          reaps every process until the program ends, writes one record
 *          (wait status, CPU time, max RSS, the collected file) on the
 *          status pipe and exits: the kernel kills what is left of the
 *          namespace.
 *     reports the pid, kills the run when the supervisor says 'K', reaps
 *     pid 1 and reports its wait status.
 *
 * A warm Python run (the job's warm_argi, code_sandbox_python.c) differs
 * in how the program starts: the helper keeps a warm interpreter W per
 * interpreter and environment (started at the first such job, replaced
 * when it dies), pid 1 builds the root as for any run, says 'G' on the
 * run's channel instead of starting the program, and the program arrives
 * as a fork of W that joined pid 1's namespaces and was reparented to it;
 * pid 1 reaps it and reports as for any program.
 *
 * The supervisor keeps the wall clock, the output caps and the cgroups'
 * counters; the helper never decides an outcome. When the supervisor goes
 * away (its end of the socket closes) the helper kills its run and exits.
 *
 * The no-exec policy: the run filter kills any execve whose path pointer is
 * not the address of the helper's exec page; the program child copies its
 * path into that page for its single execve. After the execve that page no
 * longer exists in the program, and guessing its address costs the program
 * its life (SIGSYS).
 */
#include "code_sandbox.h"
#include "code_sandbox_drop.h"
#include "code_sandbox_wire.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATH_CAP 512
#define MAX_TOP 8
#define SOCK_FD 3

/* The slot's cgroup directories ("" when that controller is missing). */
typedef struct sbx_cgroups {
    char mem[PATH_CAP];
    char pids[PATH_CAP];
    char v2[PATH_CAP];
} sbx_cgroups;

/* A top-level entry of the host root that the sandbox root mirrors. */
typedef struct sbx_top {
    char name[16];
    char link[PATH_CAP]; /* symlink target, or "" for a directory to bind */
} sbx_top;

/* The helper's state, set up once at start. */
typedef struct zygote {
    int uid;                 /* the slot's sandbox uid */
    int userns;              /* 1: not root; each run in a user namespace of its own */
    int outer_uid, outer_gid;
    sbx_cgroups cg;
    struct sock_fprog prog_run, prog_compile, prog_warm;
    char *exec_page;
    size_t page_size;
    sbx_top top[MAX_TOP];
    int n_top;
    int has_ldcache, has_alternatives;
} zygote;

/* ------------------------------------------------------------------ */
/* The seccomp programs.                                                */

/* What a filter does with execve. */
enum { EXEC_AT_PAGE, EXEC_ALLOWED, EXEC_NEVER };

static int build_filter(int exec_rule, uintptr_t exec_addr, struct sock_fprog *out, char *err, size_t err_len)
{
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) {
        snprintf(err, err_len, "seccomp_init failed");
        return -1;
    }
    static const char *const killed[] = {
        "ptrace", "process_vm_readv", "process_vm_writev", "keyctl", "add_key", "request_key",
        "bpf", "perf_event_open", "io_uring_setup", "io_uring_enter", "io_uring_register",
        "userfaultfd", "mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
        "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
        "kexec_load", "kexec_file_load", "init_module", "finit_module", "delete_module",
        "reboot", "swapon", "swapoff", "acct", "quotactl", "iopl", "ioperm", "lookup_dcookie",
        "name_to_handle_at", "open_by_handle_at", "kcmp", "pidfd_getfd", "process_madvise",
        "uselib", "vhangup", "syslog", "fanotify_init", "settimeofday",
        "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof killed / sizeof killed[0] && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name(killed[i]);
        if (nr == __NR_SCMP_ERROR) continue; /* not on this architecture */
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, nr, 0);
    }
    /* Namespaces through clone; clone3's flags are behind a pointer, so it
     * answers ENOSYS and libc falls back to clone. */
    const uint64_t ns = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER
                        | CLONE_NEWPID | CLONE_NEWNET;
    for (int b = 0; b < 64 && !rc; b++) {
        uint64_t f = (uint64_t)1 << b;
        if (!(ns & f)) continue;
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, f, f));
    }
    if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
    /* Sockets: AF_UNIX only; others fail with EPERM and the program goes on. */
    if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socket), 1, SCMP_A0_32(SCMP_CMP_NE, AF_UNIX));
    if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(socketpair), 1, SCMP_A0_32(SCMP_CMP_NE, AF_UNIX));
    if (exec_rule == EXEC_AT_PAGE && !rc)
        rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execve), 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)exec_addr));
    if (exec_rule == EXEC_NEVER && !rc) rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execve), 0);
    if (exec_rule != EXEC_ALLOWED && !rc) rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execveat), 0);
    if (rc) {
        snprintf(err, err_len, "seccomp rule: %s", strerror(-rc));
        seccomp_release(ctx);
        return -1;
    }
    int fd = memfd_create("rlvr-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        snprintf(err, err_len, "memfd_create: %s", strerror(errno));
        seccomp_release(ctx);
        return -1;
    }
    rc = seccomp_export_bpf(ctx, fd);
    seccomp_release(ctx);
    off_t len = lseek(fd, 0, SEEK_END);
    if (rc || len <= 0 || len % (off_t)sizeof(struct sock_filter)) {
        close(fd);
        snprintf(err, err_len, "seccomp_export_bpf failed");
        return -1;
    }
    struct sock_filter *f = malloc((size_t)len);
    if (!f || pread(fd, f, (size_t)len, 0) != len) {
        free(f);
        close(fd);
        snprintf(err, err_len, "reading the seccomp program failed");
        return -1;
    }
    close(fd);
    out->len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
    out->filter = f;
    return 0;
}
/* ------------------------------------------------------------------ */
/* A run's pid 1 and its program. The helper is single-threaded, so its
 * children may use libc; they keep to system calls on data prepared
 * beforehand all the same, so that nothing a run does depends on the state
 * of a library.                                                        */

typedef struct run_ctx {
    const zygote *s;
    const rlvr_sbx_job *job;
    int uid;
    int status_fd, out_fd, err_fd;
    const sbx_cgroups *slot;
    char root[64];
    char opt_tmp[96], opt_work[96], opt_root[96], opt_proc[32];
    char passwd[256], group[128];
    char uid_map[64], gid_map[64];
    const struct sock_fprog *prog;
    int chan_fd; /* a warm run: pid 1's end of the run's channel; else -1 */
} run_ctx;

static size_t c_strlen(const char *s)
{
    size_t n = 0;
    while (s[n]) n++;
    return n;
}

static void c_cat(char *dst, size_t cap, const char *a, const char *b)
{
    size_t n = 0;
    for (; *a && n + 1 < cap; a++) dst[n++] = *a;
    for (; *b && n + 1 < cap; b++) dst[n++] = *b;
    dst[n] = 0;
}

static void c_write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = write(fd, c, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        c += w;
        n -= (size_t)w;
    }
}

static int c_read_all(int fd, void *p, size_t n)
{
    char *c = p;
    while (n) {
        ssize_t r = read(fd, c, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static const char *c_errname(int e)
{
    switch (e) {
    case EPERM: return "EPERM (operation not permitted)";
    case EACCES: return "EACCES (permission denied)";
    case ENOENT: return "ENOENT (no such file)";
    case EINVAL: return "EINVAL (invalid argument)";
    case ENOSPC: return "ENOSPC (no space)";
    case ENOMEM: return "ENOMEM (out of memory)";
    case EBUSY: return "EBUSY (busy)";
    case ENOSYS: return "ENOSYS (not supported)";
    case EAGAIN: return "EAGAIN (resource limit)";
    case ENOTDIR: return "ENOTDIR";
    case EEXIST: return "EEXIST";
    case ENOEXEC: return "ENOEXEC (not an executable)";
    case E2BIG: return "E2BIG";
    case EFAULT: return "EFAULT";
    default: return "an error";
    }
}

/* Report a setup failure to the supervisor and end the helper. */
__attribute__((noreturn)) static void c_fail(int fd, const char *what, int e)
{
    char msg[512];
    c_cat(msg, sizeof msg, what, ": ");
    c_cat(msg, sizeof msg, msg, c_errname(e));
    uint32_t n = (uint32_t)c_strlen(msg);
    char tag = 'E';
    c_write_all(fd, &tag, 1);
    c_write_all(fd, &n, sizeof n);
    c_write_all(fd, msg, n);
    _exit(111);
}

static void c_path(char *dst, const char *root, const char *rel)
{
    c_cat(dst, PATH_CAP, root, rel);
}

static void c_mkdir(const run_ctx *c, const char *rel, int mode)
{
    char p[PATH_CAP];
    c_path(p, c->root, rel);
    if (mkdir(p, (mode_t)mode) && errno != EEXIST) c_fail(c->status_fd, p, errno);
}

static void c_bind(const run_ctx *c, const char *src, const char *rel, int is_file, int rdonly)
{
    char p[PATH_CAP];
    c_path(p, c->root, rel);
    if (is_file) {
        int fd = open(p, O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
        if (fd < 0) c_fail(c->status_fd, p, errno);
        close(fd);
    } else if (mkdir(p, 0755) && errno != EEXIST) {
        c_fail(c->status_fd, p, errno);
    }
    if (mount(src, p, NULL, MS_BIND | MS_REC, NULL)) c_fail(c->status_fd, src, errno);
    unsigned long fl = MS_BIND | MS_REMOUNT | MS_NOSUID | (rdonly ? MS_RDONLY : 0) | (is_file ? 0 : MS_NODEV);
    if (mount(NULL, p, NULL, fl, NULL)) c_fail(c->status_fd, "remount read-only", errno);
}

static void c_tmpfs(const run_ctx *c, const char *rel, const char *opts)
{
    char p[PATH_CAP];
    c_path(p, c->root, rel);
    if (mkdir(p, 0755) && errno != EEXIST) c_fail(c->status_fd, p, errno);
    if (mount("tmpfs", p, "tmpfs", MS_NOSUID | MS_NODEV, opts)) c_fail(c->status_fd, "mount tmpfs", errno);
}

static void c_file(const run_ctx *c, const char *rel, const char *data, size_t len, int mode, int owned)
{
    char p[PATH_CAP];
    c_path(p, c->root, rel);
    int fd = open(p, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) c_fail(c->status_fd, p, errno);
    while (len) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) c_fail(c->status_fd, "writing a file into /work (is tmpfs_mb large enough?)", w < 0 ? errno : ENOSPC);
        data += w;
        len -= (size_t)w;
    }
    if (owned && fchown(fd, (uid_t)c->uid, (gid_t)c->uid)) c_fail(c->status_fd, "fchown", errno);
    if (fchmod(fd, (mode_t)mode)) c_fail(c->status_fd, "fchmod", errno);
    close(fd);
}

static void c_write_file(const run_ctx *c, const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t n = c_strlen(data);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n) c_fail(c->status_fd, path, errno);
    close(fd);
}

/* The program: never returns. */
__attribute__((noreturn)) static void c_program(const run_ctx *c, int stdin_fd, int exec_err)
{
    const rlvr_sbx_job *j = c->job;
    int e;
    if (dup2(stdin_fd, 0) < 0 || dup3(exec_err, 3, O_CLOEXEC) < 0) goto fail;
    syscall(SYS_close_range, 4u, ~0u, 0u);
    sbx_drop d = {c->uid, c->s->userns, c->slot->mem[0] != 0, j->time_ms, j->memory_mb, j->tmpfs_mb, j->pids_max, c->prog};
    if (sbx_drop_privileges(&d)) goto fail;
    {
        const char *a0 = j->argv[0];
        size_t n = c_strlen(a0);
        if (n + 1 > c->s->page_size) {
            errno = ENAMETOOLONG;
            goto fail;
        }
        for (size_t i = 0; i <= n; i++) c->s->exec_page[i] = a0[i];
        static const char *const default_env[] = SBX_DEFAULT_ENV;
        execve(c->s->exec_page, (char *const *)j->argv, (char *const *)(j->envp ? j->envp : default_env));
    }
fail:
    e = errno;
    c_write_all(3, &e, sizeof e);
    _exit(127);
}

typedef struct prog_start {
    const run_ctx *c;
    int stdin_fd, exec_err;
} prog_start;

static int c_program_start(void *arg)
{
    const prog_start *p = arg;
    c_program(p->c, p->stdin_fd, p->exec_err);
}


/* Starts the program with execve (clone(VM|VFORK) from pid 1): its pid,
 * and *exec_errno when the execve failed. */
static long c_start_program(const run_ctx *c, int in_fd, int32_t *exec_errno)
{
    int ep[2];
    if (pipe2(ep, O_CLOEXEC)) c_fail(3, "pipe", errno);
    /* the program shares our memory until its execve (CLONE_VM |
     * CLONE_VFORK, on a stack of its own; we wait meanwhile): no copy of
     * the page tables, the cheapest start there is */
    size_t stack_len = 256 << 10;
    char *stack = mmap(NULL, stack_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED) c_fail(3, "a stack for the program's start", errno);
    prog_start ps = {c, in_fd, ep[1]};
    long pid = clone(c_program_start, stack + stack_len, CLONE_VM | CLONE_VFORK | SIGCHLD, &ps);
    if (pid < 0) c_fail(3, "starting the program", errno);
    munmap(stack, stack_len);
    close(ep[1]);
    close(in_fd);
    close(1);
    close(2);
    int xe;
    ssize_t r;
    do r = read(ep[0], &xe, sizeof xe);
    while (r < 0 && errno == EINTR);
    close(ep[0]);
    if (r == (ssize_t)sizeof xe) *exec_errno = xe;
    return pid;
}

/* A warm run: pid 1 says 'G' on the run's channel (fd 4), then reads
 * what W's children say (code_sandbox_wire.h): 'P', the program's pid (a
 * fork of the slot's warm interpreter, already our child, which waits
 * until we have made ourselves non-dumpable and said 'D'), or 'E' with why
 * it could not start. The program's pid, or 0 with *exec_errno. */
static long c_warm_program(int32_t *exec_errno)
{
    close(1);
    close(2);
    char g = 'G';
    send(4, &g, 1, MSG_NOSIGNAL);
    int32_t pid = 0;
    for (;;) {
        char tag;
        int32_t v;
        if (c_read_all(4, &tag, 1) || c_read_all(4, &v, sizeof v)) break;
        if (tag == 'P') {
            pid = v;
            prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
            char d = 'D';
            send(4, &d, 1, MSG_NOSIGNAL);
            break;
        }
        if (tag == 'E' && !*exec_errno) *exec_errno = v ? v : EIO;
    }
    close(4);
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    if (pid <= 0 && !*exec_errno) *exec_errno = ESRCH;
    return pid > 0 ? pid : 0;
}

/* The helper, pid 1 of the run: never returns. */
__attribute__((noreturn)) static void c_init(run_ctx *c)
{
    const rlvr_sbx_job *j = c->job;
    const zygote *s = c->s;
    if (s->userns) {
        /* our own user namespace: the caller's uid and gid become the
         * slot's sandbox uid; setgroups stays denied (an unprivileged map
         * requires it); the network namespace is new and empty */
        c_write_file(c, "/proc/self/uid_map", c->uid_map);
        c_write_file(c, "/proc/self/setgroups", "deny");
        c_write_file(c, "/proc/self/gid_map", c->gid_map);
    }
    /* as root the run stays in the helper's network namespace: empty, made
     * when the helper started (one per slot; making one per run costs more
     * than the rest of the run's setup; no process outlives a run, and a
     * program without capabilities cannot configure it) */
    /* the helper's signal mask (SIGCHLD blocked for its signalfd) and
     * dispositions (SIGPIPE ignored) are no business of pid 1 or the
     * program (a program of the same uid may signal pid 1 in a user
     * namespace): defaults, which the kernel ignores for a namespace's init */
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* fds: 1, 2 = the program's stdout and stderr, 3 = the status pipe */
    int st = fcntl(c->status_fd, F_DUPFD, 100), o = fcntl(c->out_fd, F_DUPFD, 100), e = fcntl(c->err_fd, F_DUPFD, 100);
    int ch = c->chan_fd >= 0 ? fcntl(c->chan_fd, F_DUPFD, 100) : -1;
    if (st < 0 || o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(st, 3) < 0
        || (c->chan_fd >= 0 && (ch < 0 || dup2(ch, 4) < 0)))
        _exit(112);
    /* a warm run also keeps 4, the run's channel */
    syscall(SYS_close_range, c->chan_fd >= 0 ? 5u : 4u, ~0u, 0u);
    c->status_fd = 3;
    if (c->chan_fd >= 0) c->chan_fd = 4;
    int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (nul >= 0 && nul != 0) {
        dup2(nul, 0);
        close(nul);
    }
    /* cgroups first, then a cgroup namespace rooted there */
    const char *cgs[3] = {c->slot->mem, c->slot->pids, c->slot->v2};
    for (int i = 0; i < 3; i++) {
        if (!cgs[i][0]) continue;
        if (i > 0 && strcmp(cgs[i], cgs[0]) == 0) continue;
        if (i == 2 && strcmp(cgs[2], cgs[1]) == 0) continue;
        char p[PATH_CAP + 32];
        c_cat(p, sizeof p, cgs[i], "/cgroup.procs");
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || write(fd, "0", 1) != 1) c_fail(3, "joining the slot's cgroup", errno);
        close(fd);
    }
    if (unshare(CLONE_NEWCGROUP)) c_fail(3, "unshare(CLONE_NEWCGROUP)", errno);
    if (sethostname("sandbox", 7)) c_fail(3, "sethostname", errno);
    if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) c_fail(3, "making mounts private", errno);
    if (mount("tmpfs", c->root, "tmpfs", MS_NOSUID | MS_NODEV, c->opt_root)) c_fail(3, "mount root tmpfs", errno);
    c_bind(c, "/usr", "/usr", 0, 1);
    for (int i = 0; i < s->n_top; i++) {
        char p[PATH_CAP], src[PATH_CAP];
        c_cat(p, sizeof p, c->root, "/");
        c_cat(p, sizeof p, p, s->top[i].name);
        if (s->top[i].link[0]) {
            if (symlink(s->top[i].link, p)) c_fail(3, "symlink", errno);
        } else {
            c_cat(src, sizeof src, "/", s->top[i].name);
            c_bind(c, src, p + c_strlen(c->root), 0, 1);
        }
    }
    c_mkdir(c, "/etc", 0755);
    c_file(c, "/etc/passwd", c->passwd, c_strlen(c->passwd), 0644, 0);
    c_file(c, "/etc/group", c->group, c_strlen(c->group), 0644, 0);
    c_file(c, "/etc/hosts", "127.0.0.1 localhost\n", 20, 0644, 0);
    if (s->has_ldcache) c_bind(c, "/etc/ld.so.cache", "/etc/ld.so.cache", 1, 1);
    if (s->has_alternatives) c_bind(c, "/etc/alternatives", "/etc/alternatives", 0, 1);
    c_mkdir(c, "/dev", 0755);
    static const char *const devs[] = {"null", "zero", "full", "random", "urandom"};
    for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++) {
        char src[32], rel[32];
        c_cat(src, sizeof src, "/dev/", devs[i]);
        c_bind(c, src, src, 1, 0);
        (void)rel;
    }
    {
        static const char *const links[][2] = {{"/proc/self/fd", "/dev/fd"}, {"/proc/self/fd/0", "/dev/stdin"},
                                               {"/proc/self/fd/1", "/dev/stdout"}, {"/proc/self/fd/2", "/dev/stderr"}};
        for (size_t i = 0; i < 4; i++) {
            char p[PATH_CAP];
            c_path(p, c->root, links[i][1]);
            if (symlink(links[i][0], p)) c_fail(3, "symlink", errno);
        }
    }
    c_tmpfs(c, "/dev/shm", c->opt_tmp);
    c_tmpfs(c, "/tmp", c->opt_tmp);
    c_tmpfs(c, "/work", c->opt_work);
    c_mkdir(c, "/proc", 0555);
    {
        char p[PATH_CAP];
        c_path(p, c->root, "/proc");
        if (mount("proc", p, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, c->opt_proc)) c_fail(3, "mount /proc", errno);
    }
    for (size_t i = 0; i < j->n_files; i++) {
        char rel[PATH_CAP];
        c_cat(rel, sizeof rel, "/work/", j->files[i].name);
        c_file(c, rel, j->files[i].data, j->files[i].len, j->files[i].mode, 1);
    }
    /* stdin: a file, opened and unlinked, so nothing in the sandbox can name it */
    int in_fd = -1;
    {
        char p[PATH_CAP];
        c_path(p, c->root, "/work/.stdin");
        c_file(c, "/work/.stdin", j->stdin_data ? j->stdin_data : "", j->stdin_data ? j->stdin_len : 0, 0400, 0);
        /* a warm run's program opens and unlinks it itself, before it drops
         * its privileges */
        if (c->chan_fd < 0) {
            in_fd = open(p, O_RDONLY | O_CLOEXEC);
            if (in_fd < 0) c_fail(3, "opening stdin", errno);
            unlink(p);
        }
    }
    {
        char p[PATH_CAP];
        c_path(p, c->root, "/work");
        if (chown(p, (uid_t)c->uid, (gid_t)c->uid)) c_fail(3, "chown /work", errno);
        if (chdir(c->root)) c_fail(3, "chdir root", errno);
        if (syscall(SYS_pivot_root, ".", ".")) c_fail(3, "pivot_root", errno);
        if (umount2(".", MNT_DETACH)) c_fail(3, "detaching the host root", errno);
        if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, c->opt_root)) c_fail(3, "read-only root", errno);
        if (chdir("/work")) c_fail(3, "chdir /work", errno);
    }
    /* not dumpable: nothing of the run may read or write our memory (a warm
     * run's W's children join our namespaces first, which a non-dumpable
     * target refuses to an unprivileged caller: c_warm_program turns it off
     * before the program runs) */
    if (c->chan_fd < 0) prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    init_record rec = {0, 0, 0, 0};
    long pid = c->chan_fd >= 0 ? c_warm_program(&rec.exec_errno) : c_start_program(c, in_fd, &rec.exec_errno);
    for (;;) {
        if (pid <= 0) break; /* never started: the record says why */
        int ws;
        struct rusage ru;
        pid_t w = wait4(-1, &ws, 0, &ru);
        if (w < 0) {
            if (errno == EINTR) continue;
            c_fail(3, "wait4", errno);
        }
        rec.cpu_us += (int64_t)ru.ru_utime.tv_sec * 1000000 + ru.ru_utime.tv_usec + (int64_t)ru.ru_stime.tv_sec * 1000000
                      + ru.ru_stime.tv_usec;
        if (ru.ru_maxrss > rec.maxrss_kb) rec.maxrss_kb = ru.ru_maxrss;
        if (w == pid) {
            rec.wstatus = ws;
            break;
        }
    }
    char tag = 'R';
    c_write_all(3, &tag, 1);
    c_write_all(3, &rec, sizeof rec);
    if (j->collect) {
        int fd = open(j->collect, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        struct stat sb;
        uint64_t n = UINT64_MAX;
        if (fd >= 0 && fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && (uint64_t)sb.st_size <= j->collect_max)
            n = (uint64_t)sb.st_size;
        tag = 'C';
        c_write_all(3, &tag, 1);
        c_write_all(3, &n, sizeof n);
        if (n != UINT64_MAX) {
            char buf[16384];
            uint64_t left = n;
            while (left) {
                ssize_t k = read(fd, buf, left < sizeof buf ? (size_t)left : sizeof buf);
                if (k <= 0) break;
                c_write_all(3, buf, (size_t)k);
                left -= (uint64_t)k;
            }
            while (left) { /* the file shrank: pad so the record stays whole */
                char z[256] = {0};
                size_t k = left < sizeof z ? (size_t)left : sizeof z;
                c_write_all(3, z, k);
                left -= k;
            }
        }
        if (fd >= 0) close(fd);
    }
    _exit(0);
}

/* ------------------------------------------------------------------ */
/* The helper: setup, then one job at a time.                           */

static zygote Z;

static int send_to(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_all(const void *p, size_t n) { return send_to(SOCK_FD, p, n); }

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

static void send_int(char tag, int32_t v)
{
    char m[5];
    m[0] = tag;
    memcpy(m + 1, &v, sizeof v);
    send_all(m, sizeof m);
}

/* A tag, a u32 length and a message to the supervisor. */
static void send_text(char tag, const char *msg)
{
    uint32_t n = (uint32_t)strlen(msg);
    send_all(&tag, 1);
    send_all(&n, sizeof n);
    send_all(msg, n);
}

__attribute__((noreturn)) static void start_failed(const char *what, int e)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s: %s", what, strerror(e));
    send_text('E', msg);
    _exit(1);
}

static int set_cgroup_arg(char *dst, const char *arg)
{
    if (strcmp(arg, "-") == 0) {
        dst[0] = 0;
        return 0;
    }
    if (arg[0] != '/' || strlen(arg) >= PATH_CAP - 64) return -1;
    strcpy(dst, arg);
    return 0;
}

static void setup(int argc, char **argv)
{
    if (argc != 8) start_failed("usage: rlvr-sandbox UID USERNS OUTER_UID OUTER_GID MEM PIDS V2", EINVAL);
    Z.uid = atoi(argv[1]);
    Z.userns = atoi(argv[2]) != 0;
    Z.outer_uid = atoi(argv[3]);
    Z.outer_gid = atoi(argv[4]);
    if (Z.uid <= 0 || set_cgroup_arg(Z.cg.mem, argv[5]) || set_cgroup_arg(Z.cg.pids, argv[6])
        || set_cgroup_arg(Z.cg.v2, argv[7]))
        start_failed("bad arguments", EINVAL);
    Z.page_size = (size_t)sysconf(_SC_PAGESIZE);
    /* the exec page, at a random page-aligned address in [2^40, 2^46) */
    for (int tries = 0; tries < 64 && !Z.exec_page; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) continue;
        uintptr_t a = (uintptr_t)(((uint64_t)1 << 40) + (r % (((uint64_t)1 << 46) - ((uint64_t)1 << 40))));
        a &= ~(uintptr_t)(Z.page_size - 1);
        void *p = mmap((void *)a, Z.page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) continue;
        if (p != (void *)a) {
            munmap(p, Z.page_size);
            continue;
        }
        Z.exec_page = p;
    }
    if (!Z.exec_page) start_failed("could not reserve the exec page", ENOMEM);
    char err[256];
    if (build_filter(EXEC_AT_PAGE, (uintptr_t)Z.exec_page, &Z.prog_run, err, sizeof err)
        || build_filter(EXEC_ALLOWED, 0, &Z.prog_compile, err, sizeof err)
        || build_filter(EXEC_NEVER, 0, &Z.prog_warm, err, sizeof err))
        start_failed(err, EINVAL);
    /* the host root's top-level entries that hold programs and libraries */
    static const char *const tops[] = {"bin", "sbin", "lib", "lib64", "lib32", "libx32"};
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        char p[64];
        struct stat sb;
        snprintf(p, sizeof p, "/%s", tops[i]);
        if (lstat(p, &sb)) continue;
        sbx_top *t = &Z.top[Z.n_top];
        snprintf(t->name, sizeof t->name, "%s", tops[i]);
        if (S_ISLNK(sb.st_mode)) {
            ssize_t n = readlink(p, t->link, sizeof t->link - 1);
            if (n <= 0) continue;
            t->link[n] = 0;
        } else if (!S_ISDIR(sb.st_mode)) {
            continue;
        }
        Z.n_top++;
    }
    struct stat sb;
    Z.has_ldcache = stat("/etc/ld.so.cache", &sb) == 0 && S_ISREG(sb.st_mode);
    Z.has_alternatives = stat("/etc/alternatives", &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!Z.userns && unshare(CLONE_NEWNET)) start_failed("an empty network namespace for the slot", errno);
    char m[9];
    uint32_t a = Z.prog_run.len, b = Z.prog_compile.len;
    m[0] = 'O';
    memcpy(m + 1, &a, 4);
    memcpy(m + 5, &b, 4);
    if (send_all(m, sizeof m)) _exit(0);
}

/* A job's payload, checked and laid out as an rlvr_sbx_job whose pointers
 * point into it. 0, or -1 on a malformed payload. */
typedef struct zjob {
    rlvr_sbx_job job;
    const char **argv, **envp;
    rlvr_sbx_file *files;
} zjob;

static const char *take_str(const char **p, const char *end)
{
    const char *s = *p;
    const char *z = memchr(s, 0, (size_t)(end - s));
    if (!z) return NULL;
    *p = z + 1;
    return s;
}

static int parse_job(const char *buf, uint64_t n, zjob *z)
{
    memset(z, 0, sizeof *z);
    struct sbx_wire_job w;
    if (n < sizeof w) return -1;
    memcpy(&w, buf, sizeof w);
    const char *p = buf + sizeof w, *end = buf + n;
    if (w.argc < 1 || w.argc > 4096 || w.envc < -1 || w.envc > 4096 || w.n_files < 0 || w.n_files > 4096) return -1;
    z->argv = calloc((size_t)w.argc + 1, sizeof *z->argv);
    z->envp = w.envc >= 0 ? calloc((size_t)w.envc + 1, sizeof *z->envp) : NULL;
    z->files = calloc((size_t)w.n_files + 1, sizeof *z->files);
    if (!z->argv || (w.envc >= 0 && !z->envp) || !z->files) return -1;
    for (int i = 0; i < w.argc; i++)
        if (!(z->argv[i] = take_str(&p, end))) return -1;
    for (int i = 0; i < w.envc; i++)
        if (!(z->envp[i] = take_str(&p, end))) return -1;
    const char *collect = take_str(&p, end);
    if (!collect) return -1;
    for (int i = 0; i < w.n_files; i++) {
        struct sbx_wire_file f;
        if ((size_t)(end - p) < sizeof f) return -1;
        memcpy(&f, p, sizeof f);
        p += sizeof f;
        if (f.name_len == 0 || f.name_len > 200 || (size_t)(end - p) < (size_t)f.name_len + 1
            || p[f.name_len] != 0 || memchr(p, 0, f.name_len) || memchr(p, '/', f.name_len))
            return -1;
        z->files[i].name = p;
        p += f.name_len + 1;
        if ((uint64_t)(end - p) < f.len) return -1;
        z->files[i].data = p;
        z->files[i].len = (size_t)f.len;
        z->files[i].mode = f.mode & 07777;
        p += f.len;
    }
    if ((uint64_t)(end - p) != w.stdin_len) return -1;
    rlvr_sbx_job *j = &z->job;
    j->argv = z->argv;
    j->envp = z->envp;
    j->stdin_data = p;
    j->stdin_len = (size_t)w.stdin_len;
    j->files = z->files;
    j->n_files = (size_t)w.n_files;
    j->collect = collect[0] ? collect : NULL;
    j->collect_max = (size_t)w.collect_max;
    j->time_ms = w.time_ms;
    j->wall_ms = w.wall_ms;
    j->memory_mb = w.memory_mb;
    j->stdout_max = w.stdout_max;
    j->stderr_max = w.stderr_max;
    j->pids_max = w.pids_max;
    j->tmpfs_mb = w.tmpfs_mb;
    j->allow_exec = w.allow_exec != 0;
    if (w.warm_argi < 0 || w.warm_argi >= w.argc) return -1;
    j->warm_argi = w.warm_argi;
    return 0;
}

static void zjob_free(zjob *z)
{
    free(z->argv);
    free(z->envp);
    free(z->files);
}

/* Receive one 'J' message with its three pipe ends. 1: a job; 0: the
 * supervisor is gone; exits on a protocol error. */
static int receive_job(char **buf, uint64_t *n, int fds[3])
{
    char head[9];
    int got;
    for (;;) {
        ssize_t r = sbx_recv_fds(SOCK_FD, head, fds, &got);
        if (r < 0) _exit(3);
        if (r == 0) return 0;
        if (head[0] != 'K') break;
        for (int i = 0; i < got; i++) close(fds[i]); /* a kill for a run that already ended */
    }
    if (head[0] != 'J' || got != 3 || recv_all(head + 1, 8)) _exit(3);
    memcpy(n, head + 1, 8);
    if (*n > SBX_WIRE_MAX || !(*buf = malloc((size_t)*n + 1))) _exit(3);
    if (recv_all(*buf, (size_t)*n)) return 0;
    return 1;
}

/* ------------------------------------------------------------------ */
/* The slot's warm Python interpreter (code_sandbox_python.c).          */

/* The command that loads the bootstrap from the module (argv[-1]). */
#define WARM_ONE_LINER                                                                                       \
    "import ctypes,sys;L=ctypes.CDLL(sys.argv[1]);L.rlvr_sbxpy_boot.restype=ctypes.c_char_p;"               \
    "exec(compile(L.rlvr_sbxpy_boot(),'<rlvr-sandbox>','exec'),{'_rlvr_lib':L})"

static struct {
    pid_t pid;  /* 0: none */
    int fd;     /* our end of its socket */
    char *key;  /* the interpreter, options and environment it was started with */
} W = {0, -1, NULL};

/* rlvr_sandbox_python.so beside this program (or in its .libs in a build
 * tree); "" when there is none. */
static char warm_module[PATH_CAP];

static void warm_find_module(void)
{
    char exe[PATH_CAP];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) return;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash) return;
    *slash = 0;
    static const char *const rel[] = {"/rlvr_sandbox_python.so", "/.libs/rlvr_sandbox_python.so"};
    for (size_t i = 0; i < 2; i++) {
        char p[PATH_CAP + 40];
        snprintf(p, sizeof p, "%s%s", exe, rel[i]);
        if (strlen(p) < sizeof warm_module && access(p, R_OK) == 0) {
            snprintf(warm_module, sizeof warm_module, "%s", p);
            return;
        }
    }
}

static void warm_stop(void)
{
    if (W.fd >= 0) close(W.fd);
    W.fd = -1;
    if (W.pid > 0) {
        kill(W.pid, SIGKILL);
        while (waitpid(W.pid, NULL, 0) < 0 && errno == EINTR) {}
    }
    W.pid = 0;
    free(W.key);
    W.key = NULL;
}

/* What tells two interpreters apart: argv[0..argi-1] and the environment. */
static char *warm_key(const rlvr_sbx_job *j)
{
    static const char *const default_env[] = SBX_DEFAULT_ENV;
    const char *const *env = j->envp ? j->envp : default_env;
    size_t n = 2;
    for (int i = 0; i < j->warm_argi; i++) n += strlen(j->argv[i]) + 1;
    for (int i = 0; env[i]; i++) n += strlen(env[i]) + 1;
    char *k = malloc(n), *q = k;
    if (!k) return NULL;
    for (int i = 0; i < j->warm_argi; i++) q += sprintf(q, "%s\1", j->argv[i]);
    *q++ = '\2';
    for (int i = 0; env[i]; i++) q += sprintf(q, "%s\1", env[i]);
    *q = 0;
    return k;
}

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Starts W for job j and waits for its 'O'. 0, or -1 with a message. */
static int warm_start(const rlvr_sbx_job *j, char *key, char *msg, size_t msg_len)
{
    if (!warm_module[0]) {
        snprintf(msg, msg_len,
                 "python_warm: rlvr_sandbox_python.so is missing beside the sandbox helper (reinstall rlvr, or set "
                 "python_warm = false)");
        free(key);
        return -1;
    }
    int sv[2], ep[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        snprintf(msg, msg_len, "python_warm: socketpair: %s", strerror(errno));
        free(key);
        return -1;
    }
    if (pipe2(ep, O_CLOEXEC)) {
        snprintf(msg, msg_len, "python_warm: pipe: %s", strerror(errno));
        close(sv[0]);
        close(sv[1]);
        free(key);
        return -1;
    }
    const char *argv[64];
    int argc = 0;
    for (int i = 0; i < j->warm_argi && argc < 60; i++) argv[argc++] = j->argv[i];
    argv[argc++] = "-c";
    argv[argc++] = WARM_ONE_LINER;
    argv[argc++] = warm_module;
    argv[argc] = NULL;
    static const char *const default_env[] = SBX_DEFAULT_ENV;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    posix_spawn_file_actions_addchdir_np(&fa, "/");
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, argv[0], &fa, &at, (char *const *)argv,
                         (char *const *)(j->envp ? j->envp : default_env));
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(sv[1]);
    close(ep[1]);
    if (rc) {
        snprintf(msg, msg_len, "python_warm: cannot start %s: %s", argv[0], strerror(rc));
        close(sv[0]);
        close(ep[0]);
        free(key);
        return -1;
    }
    W.pid = pid;
    W.fd = sv[0];
    W.key = key;
    /* the slot: 'S', the setup, the cgroup dirs, the filter of warm runs */
    struct sbx_warm_setup su = {Z.uid, Z.userns, Z.cg.mem[0] != 0, Z.prog_warm.len,
                                {(uint32_t)strlen(Z.cg.mem), (uint32_t)strlen(Z.cg.pids), (uint32_t)strlen(Z.cg.v2)}};
    char tag = 'S';
    int ok = send_to(W.fd, &tag, 1) == 0 && send_to(W.fd, &su, sizeof su) == 0
             && send_to(W.fd, Z.cg.mem, su.cg_len[0]) == 0 && send_to(W.fd, Z.cg.pids, su.cg_len[1]) == 0
             && send_to(W.fd, Z.cg.v2, su.cg_len[2]) == 0
             && send_to(W.fd, Z.prog_warm.filter, Z.prog_warm.len * sizeof(struct sock_filter)) == 0;
    /* its 'O', reading its stderr meanwhile (the last 2 KiB kept) */
    char eb[2048];
    size_t el = 0;
    int ready = 0, err_open = 1;
    int64_t end = mono_ms() + 30000;
    while (ok && !ready) {
        int64_t left = end - mono_ms();
        if (left <= 0) break;
        struct pollfd pf[2] = {{W.fd, POLLIN, 0}, {err_open ? ep[0] : -1, POLLIN, 0}};
        int pr = poll(pf, 2, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) break;
        if (pf[1].revents) {
            if (el > sizeof eb - 512) {
                memmove(eb, eb + el - 256, 256);
                el = 256;
            }
            ssize_t r = read(ep[0], eb + el, sizeof eb - 1 - el);
            if (r > 0) el += (size_t)r;
            else if (r == 0 || errno != EINTR) err_open = 0;
        }
        if (pf[0].revents) {
            char t;
            ssize_t r = recv(W.fd, &t, 1, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r == 1 && t == 'O') ready = 1;
            else break;
        }
    }
    if (ready) {
        close(ep[0]);
        return 0;
    }
    /* what it said last, if anything */
    for (;;) {
        if (el > sizeof eb - 512) {
            memmove(eb, eb + el - 256, 256);
            el = 256;
        }
        struct pollfd pf = {ep[0], POLLIN, 0};
        if (!err_open || poll(&pf, 1, 200) <= 0) break;
        ssize_t r = read(ep[0], eb + el, sizeof eb - 1 - el);
        if (r <= 0) break;
        el += (size_t)r;
    }
    close(ep[0]);
    eb[el] = 0;
    while (el && (eb[el - 1] == '\n' || eb[el - 1] == ' ')) eb[--el] = 0;
    const char *last = strrchr(eb, '\n');
    last = last ? last + 1 : eb;
    snprintf(msg, msg_len, "python_warm: the warm interpreter %.200s did not start (%.300s); set python_warm = false "
             "to start a fresh interpreter per run", j->argv[0], last[0] ? last : "no message");
    warm_stop();
    return -1;
}

/* W for job j, started or restarted when absent, dead or made for another
 * interpreter or environment. 0, or -1 with a message. */
static int warm_ensure(const rlvr_sbx_job *j, char *msg, size_t msg_len)
{
    char *key = warm_key(j);
    if (!key) {
        snprintf(msg, msg_len, "python_warm: out of memory");
        return -1;
    }
    if (W.pid > 0 && waitpid(W.pid, NULL, WNOHANG) == W.pid) {
        W.pid = 0;
        warm_stop();
    }
    if (W.pid > 0 && strcmp(W.key, key) == 0) {
        free(key);
        return 0;
    }
    warm_stop();
    return warm_start(j, key, msg, msg_len);
}

/* The job to W: 'J' with the program's stdout and stderr and W's end of
 * the run's channel. 0, or -1 when W is gone. */
static int warm_send(const rlvr_sbx_job *j, long pid1, uint32_t nsflags, int out_fd, int err_fd, int chan_fd)
{
    int argc = 0;
    size_t args_len = 0;
    for (int i = j->warm_argi; j->argv[i]; i++, argc++) args_len += strlen(j->argv[i]) + 1;
    struct sbx_warm_job w = {(int32_t)pid1, nsflags, j->time_ms, j->memory_mb, j->tmpfs_mb, j->pids_max,
                             (uint32_t)argc, (uint32_t)args_len};
    int fds[3] = {out_fd, err_fd, chan_fd};
    char tag = 'J';
    ssize_t sent = sbx_send_fds(W.fd, &tag, 1, fds);
    if (sent != 1 || send_to(W.fd, &w, sizeof w)) return -1;
    for (int i = j->warm_argi; j->argv[i]; i++)
        if (send_to(W.fd, j->argv[i], strlen(j->argv[i]) + 1)) return -1;
    return 0;
}

static void serve(int sfd)
{
    char *buf = NULL;
    uint64_t n = 0;
    int fds[3];
    if (!receive_job(&buf, &n, fds)) {
        warm_stop(); /* nothing of ours outlives us */
        _exit(0);
    }
    zjob zj;
    if (parse_job(buf, n, &zj)) _exit(3);
    const rlvr_sbx_job *job = &zj.job;
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.s = &Z;
    c.job = job;
    c.uid = Z.uid;
    c.slot = &Z.cg;
    c.prog = job->allow_exec ? &Z.prog_compile : &Z.prog_run;
    c.status_fd = fds[0];
    c.out_fd = fds[1];
    c.err_fd = fds[2];
    c.chan_fd = -1;
    /* a warm run: W ready (started now if need be) and the run's channel */
    int chan[2] = {-1, -1};
    if (job->warm_argi > 0) {
        char msg[800] = "";
        if (warm_ensure(job, msg, sizeof msg) == 0 && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, chan))
            snprintf(msg, sizeof msg, "python_warm: socketpair: %s", strerror(errno));
        if (msg[0]) {
            send_text('X', msg);
            for (int i = 0; i < 3; i++) close(fds[i]);
            zjob_free(&zj);
            free(buf);
            return;
        }
        c.chan_fd = chan[1];
        c.prog = &Z.prog_warm;
    }
    /* the root is built on a tmpfs mounted over /tmp in the private mount
     * namespace: the host's /tmp is untouched and nothing is created there */
    snprintf(c.root, sizeof c.root, "/tmp");
    long long tmpfs = job->tmpfs_mb > 0 ? job->tmpfs_mb : 16;
    snprintf(c.opt_root, sizeof c.opt_root, "size=1m,nr_inodes=256,mode=755");
    snprintf(c.opt_tmp, sizeof c.opt_tmp, "size=%lldm,nr_inodes=4096,mode=1777", tmpfs);
    snprintf(c.opt_work, sizeof c.opt_work, "size=%lldk,nr_inodes=4096,mode=755",
             tmpfs * 1024 + (long long)(job->stdin_len / 1024) + 64);
    snprintf(c.opt_proc, sizeof c.opt_proc, "hidepid=2");
    snprintf(c.passwd, sizeof c.passwd, "root:x:0:0:root:/:/usr/sbin/nologin\nsandbox:x:%d:%d:sandbox:/work:/usr/sbin/nologin\n",
             c.uid, c.uid);
    snprintf(c.group, sizeof c.group, "root:x:0:\nsandbox:x:%d:\n", c.uid);
    snprintf(c.uid_map, sizeof c.uid_map, "%d %d 1\n", c.uid, Z.outer_uid);
    snprintf(c.gid_map, sizeof c.gid_map, "%d %d 1\n", c.uid, Z.outer_gid);
    long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
    if (Z.userns) flags |= CLONE_NEWUSER | CLONE_NEWNET;
    long pid = syscall(SYS_clone, flags, 0, NULL, NULL, 0);
    if (pid == 0) c_init(&c);
    int clone_errno = errno;
    if (c.chan_fd >= 0) {
        close(chan[1]);
        if (pid > 0) {
            uint32_t ns = CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWPID | CLONE_NEWCGROUP
                          | (Z.userns ? CLONE_NEWUSER | CLONE_NEWNET : 0);
            if (warm_send(job, pid, ns, fds[1], fds[2], chan[0])) {
                /* W died since it was checked: a new one takes the job; if
                 * that fails too, pid 1 sees the channel end with no program
                 * and the run reports that it could not start */
                char msg[800];
                warm_stop();
                if (warm_ensure(job, msg, sizeof msg) || warm_send(job, pid, ns, fds[1], fds[2], chan[0])) warm_stop();
            }
        }
        close(chan[0]);
    }
    for (int i = 0; i < 3; i++) close(fds[i]);
    if (pid < 0) {
        send_int('F', clone_errno);
        zjob_free(&zj);
        free(buf);
        return;
    }
    send_int('P', (int32_t)pid);
    for (;;) {
        struct pollfd pf[2] = {{SOCK_FD, POLLIN, 0}, {sfd, POLLIN, 0}};
        int ws;
        if (waitpid((pid_t)pid, &ws, WNOHANG) == (pid_t)pid) {
            send_int('W', ws);
            break;
        }
        if (poll(pf, 2, -1) < 0 && errno != EINTR) _exit(4);
        if (pf[1].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {}
        }
        if (pf[0].revents) {
            char t;
            ssize_t r = recv(SOCK_FD, &t, 1, 0);
            if (r < 0 && errno == EINTR) continue;
            if (r == 1 && t == 'K') {
                kill((pid_t)pid, SIGKILL);
                continue;
            }
            /* the supervisor is gone (or speaks out of turn): end the run, then us */
            kill((pid_t)pid, SIGKILL);
            while (waitpid((pid_t)pid, &ws, 0) < 0 && errno == EINTR) {}
            warm_stop();
            _exit(0);
        }
    }
    zjob_free(&zj);
    free(buf);
}

int main(int argc, char **argv)
{
    struct stat sb;
    if (fstat(SOCK_FD, &sb) || !S_ISSOCK(sb.st_mode)) {
        /* not started by a sandbox: there is nobody to tell but a person */
        fprintf(stderr, "rlvr-sandbox: the helper of rlvr's code sandbox; started by rlvr itself, not by hand\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    /* runs' ends arrive on a signalfd (the runs unblock SIGCHLD again) */
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, NULL);
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) start_failed("signalfd", errno);
    setup(argc, argv);
    warm_find_module();
    for (;;) serve(sfd);
}
