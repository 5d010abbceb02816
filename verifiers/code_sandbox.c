/*
 * code_sandbox.c -- the code sandbox: namespaces, a minimal root, a
 * distinct uid per slot, rlimits, cgroups detected at run time, a seccomp
 * filter with a no-exec policy, a wall clock, output caps and a cleanup that
 * leaves nothing behind.
 *
 * One run:
 *   supervisor (caller's thread)
 *     clone(NEWPID|NEWNS|NEWIPC|NEWUTS)  ->  helper, pid 1 of the run
 *       joins the slot's empty network namespace (one per slot, made when
 *       the sandbox opens) and the slot's cgroups, unshares the cgroup
 *       namespace, wipes its
 *       copy of the host environment, mounts the minimal root on a private
 *       tmpfs, writes the job's files into /work, pivot_root()s into it,
 *       makes itself non-dumpable, then starts the program:
 *         fork  ->  program: stdin from a file (unlinked), setgroups/
 *                   setresgid/setresuid to the slot's uid, rlimits,
 *                   no_new_privs, the seccomp filter, execve
 *       reaps every process until the program ends, writes one record
 *       (wait status, CPU time, max RSS, the collected file) and exits:
 *       the kernel kills what is left of the namespace.
 *     reads stdout and stderr (caps), waits for the record, enforces the
 *     wall clock (SIGKILL to the helper, cgroup.kill), reaps the helper and
 *     reads the cgroup counters.
 *
 * Root or not: as root the helper is cloned straight into the namespaces
 * above and the program switches to the slot's uid. As any other user
 * (rlvr_sbx_open finds euid != 0) the clone also makes a user namespace and
 * a network namespace of the run's own: the helper maps the caller's uid
 * and gid to the slot's sandbox uid (setgroups denied, as the kernel wants
 * of an unprivileged map), holds every capability inside that namespace
 * only, and the program drops them all (bounding, ambient, permitted)
 * before its execve. RLIMIT_NPROC then counts in the run's user namespace,
 * so a fork bomb is bounded per run; cgroups are used only where a
 * writable (delegated) tree exists, else the limits that are rlimit-only
 * are named by rlvr_sbx_limits_note.
 *
 * The children of a multi-threaded caller must not take locks that another
 * thread may have held at clone time: the helper and the program only make
 * system calls (raw ones for the credential changes, which glibc would
 * broadcast to threads that do not exist in the child) on data prepared by
 * the supervisor beforehand. Everything the children need is in one
 * run_ctx built before the clone.
 *
 * The no-exec policy: the run filter kills any execve whose path pointer is
 * not the address of a page reserved at a random address when the sandbox
 * opens; the program child copies its path into that page for its single
 * execve. After the execve that page no longer exists in the program, and
 * guessing its address costs the program its life (SIGSYS).
 */
#include "code_sandbox.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PATH_CAP 512
#define MAX_TOP 8

/* The cgroup files of one slot ("" when that controller is missing). */
typedef struct sbx_slot {
    char mem[PATH_CAP];   /* v1 memory cgroup dir, or v2 dir when v2 has memory */
    char pids[PATH_CAP];  /* v1 pids cgroup dir, or v2 dir when v2 has pids */
    char v2[PATH_CAP];    /* v2 dir (for cgroup.kill and joining) */
    int netns;            /* an empty network namespace of this slot's own */
    int busy;
} sbx_slot;

/* A top-level entry of the host root that the sandbox root mirrors. */
typedef struct sbx_top {
    char name[16];
    char link[PATH_CAP]; /* symlink target, or "" for a directory to bind */
} sbx_top;

struct rlvr_sbx {
    int n_slots, uid_base;
    int userns;           /* 1: not root; each run in a user namespace of its own */
    int outer_uid, outer_gid;
    int uid_lock;         /* the abstract socket that holds the uid range */
    struct sock_fprog prog_run, prog_compile;
    char *exec_page;
    size_t page_size;
    int mem_v2, pids_v2, has_kill;
    sbx_slot *slots;
    sbx_top top[MAX_TOP];
    int n_top;
    int has_ldcache, has_alternatives;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char desc[768];
    char note[384];
};

/* ------------------------------------------------------------------ */
/* Small helpers (supervisor side: ordinary libc).                      */

static void errf(char *err, size_t err_len, const char *what, int e)
{
    if (err && err_len) snprintf(err, err_len, "%s: %s", what, strerror(e));
}

static int write_str(const char *path, const char *s)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    size_t n = strlen(s);
    ssize_t w = write(fd, s, n);
    int e = errno;
    close(fd);
    errno = e;
    return w == (ssize_t)n ? 0 : -1;
}

static int read_small(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    ssize_t r = read(fd, buf, cap - 1);
    close(fd);
    if (r < 0) return -1;
    buf[r] = 0;
    return 0;
}

/* The number after "key " in a flat-keyed cgroup file; -1 when absent. */
static long long read_key(const char *dir, const char *file, const char *key)
{
    if (!dir[0]) return -1;
    char path[PATH_CAP + 64], buf[4096];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (read_small(path, buf, sizeof buf)) return -1;
    size_t kl = strlen(key);
    for (char *p = buf; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
        if (strncmp(p, key, kl) == 0 && p[kl] == ' ') return strtoll(p + kl + 1, NULL, 10);
    return -1;
}

static long long read_num(const char *dir, const char *file)
{
    if (!dir[0]) return -1;
    char path[PATH_CAP + 64], buf[64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    if (read_small(path, buf, sizeof buf)) return -1;
    return strtoll(buf, NULL, 10);
}

static int set_file(const char *dir, const char *file, const char *val)
{
    char path[PATH_CAP + 64];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    return write_str(path, val);
}

static int64_t now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

const char *rlvr_sbx_outcome_name(rlvr_sbx_outcome o)
{
    switch (o) {
    case RLVR_SBX_EXITED: return "exited";
    case RLVR_SBX_SIGNALED: return "signaled";
    case RLVR_SBX_TIME: return "time_limit";
    case RLVR_SBX_MEMORY: return "memory_limit";
    case RLVR_SBX_OUTPUT: return "output_limit";
    case RLVR_SBX_VIOLATION: return "sandbox_violation";
    }
    return "unknown";
}

/* ------------------------------------------------------------------ */
/* The seccomp programs.                                                */

static int build_filter(int allow_exec, uintptr_t exec_addr, struct sock_fprog *out, char *err, size_t err_len)
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
    if (!allow_exec) {
        if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execve), 1, SCMP_A0(SCMP_CMP_NE, (scmp_datum_t)exec_addr));
        if (!rc) rc = seccomp_rule_add(ctx, SCMP_ACT_KILL_PROCESS, SCMP_SYS(execveat), 0);
    }
    if (rc) {
        snprintf(err, err_len, "seccomp rule: %s", strerror(-rc));
        seccomp_release(ctx);
        return -1;
    }
    int fd = memfd_create("rlvr-seccomp", MFD_CLOEXEC);
    if (fd < 0) {
        errf(err, err_len, "memfd_create", errno);
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
/* cgroups.                                                             */

/* The directory of this process's cgroup in the hierarchy mounted at a
 * mount whose super options (v1) contain ctl, or the v2 one (ctl NULL). */
static int cgroup_dir(const char *ctl, char *dir, size_t cap)
{
    FILE *mi = fopen("/proc/self/mountinfo", "re");
    if (!mi) return -1;
    char line[4096], mnt[PATH_CAP] = "", root[PATH_CAP] = "";
    while (fgets(line, sizeof line, mi)) {
        char r[PATH_CAP], m[PATH_CAP];
        if (sscanf(line, "%*d %*d %*s %511s %511s", r, m) != 2) continue;
        char *dash = strstr(line, " - ");
        if (!dash) continue;
        char fstype[64], src[256], opts[1024] = "";
        if (sscanf(dash + 3, "%63s %255s %1023s", fstype, src, opts) < 2) continue;
        if (ctl) {
            if (strcmp(fstype, "cgroup") != 0) continue;
            int found = 0;
            for (char *t = strtok(opts, ","); t; t = strtok(NULL, ","))
                if (strcmp(t, ctl) == 0) found = 1;
            if (!found) continue;
        } else if (strcmp(fstype, "cgroup2") != 0) {
            continue;
        }
        snprintf(mnt, sizeof mnt, "%s", m);
        snprintf(root, sizeof root, "%s", r);
        break;
    }
    fclose(mi);
    if (!mnt[0]) return -1;
    FILE *cg = fopen("/proc/self/cgroup", "re");
    if (!cg) return -1;
    int ok = -1;
    while (fgets(line, sizeof line, cg)) {
        line[strcspn(line, "\n")] = 0;
        char *a = strchr(line, ':');
        char *b = a ? strchr(a + 1, ':') : NULL;
        if (!b) continue;
        *b = 0;
        const char *ctls = a + 1, *path = b + 1;
        int match = 0;
        if (!ctl) {
            match = line[0] == '0' && line[1] == ':' && ctls[0] == 0;
        } else {
            char tmp[256];
            snprintf(tmp, sizeof tmp, "%s", ctls);
            for (char *t = strtok(tmp, ","); t; t = strtok(NULL, ","))
                if (strcmp(t, ctl) == 0) match = 1;
        }
        if (!match) continue;
        /* path is relative to our cgroup namespace, whose root is the mount's root */
        if (strcmp(root, "/") != 0 && strncmp(path, root, strlen(root)) == 0) path += strlen(root);
        snprintf(dir, cap, "%s%s", mnt, strcmp(path, "/") == 0 ? "" : path);
        ok = 0;
        break;
    }
    fclose(cg);
    return ok;
}

/* Remove this prefix's cgroups left by dead processes (a crashed host). */
static void remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        int pid;
        if (sscanf(e->d_name, "rlvr_code.%d.", &pid) != 1) continue;
        if (kill(pid, 0) == 0 || errno != ESRCH) continue;
        char p[PATH_CAP + 300];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        rmdir(p);
    }
    closedir(d);
}

static int cg_writable(const char *dir)
{
    char p[PATH_CAP + 32];
    snprintf(p, sizeof p, "%s/cgroup.procs", dir);
    return access(dir, W_OK) == 0 && access(p, W_OK) == 0;
}

static int make_cg(const char *parent, int slot, char *out)
{
    char p[PATH_CAP];
    int n = snprintf(p, sizeof p, "%s/rlvr_code.%d.%d", parent, (int)getpid(), slot);
    if (n < 0 || (size_t)n >= sizeof p) return -1;
    if (mkdir(p, 0755) && errno != EEXIST) return -1;
    memcpy(out, p, (size_t)n + 1);
    return 0;
}

static int v2_has(const char *dir, const char *ctl)
{
    char path[PATH_CAP + 64], buf[512];
    snprintf(path, sizeof path, "%s/cgroup.subtree_control", dir);
    if (read_small(path, buf, sizeof buf)) return 0;
    for (char *t = strtok(buf, " \n"); t; t = strtok(NULL, " \n"))
        if (strcmp(t, ctl) == 0) return 1;
    return 0;
}

/* ------------------------------------------------------------------ */
/* The children. Only system calls and plain memory work from here to the
 * execve (see the file's comment).                                     */

typedef struct run_ctx {
    const rlvr_sbx *s;
    const rlvr_sbx_job *job;
    int uid;
    int status_fd, out_fd, err_fd;
    const sbx_slot *slot;
    char root[64];
    char opt_tmp[96], opt_work[96], opt_root[96], opt_proc[32];
    char passwd[256], group[128];
    char uid_map[64], gid_map[64];
    const struct sock_fprog *prog;
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

/* Wipe this process's copy of the host environment: the strings environ
 * points at, and the original block that /proc/PID/environ shows. */
extern char **environ;
static void c_wipe_env(void)
{
    for (char **e = environ; e && *e; e++) {
        size_t n = c_strlen(*e);
        for (size_t i = 0; i < n; i++) (*e)[i] = 0;
    }
    environ = NULL;
    char buf[2048];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t r = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (r <= 0) return;
    buf[r] = 0;
    /* fields after the command name: skip to the last ')' */
    char *p = buf + r;
    while (p > buf && *p != ')') p--;
    int field = 2;
    unsigned long long v[64];
    int nv = 0;
    for (char *q = p + 1; *q && nv < 64;) {
        while (*q == ' ') q++;
        if (!*q) break;
        field++;
        unsigned long long x = 0;
        while (*q >= '0' && *q <= '9') x = x * 10 + (unsigned)(*q++ - '0');
        while (*q && *q != ' ') q++;
        if (field >= 3) v[nv++] = x;
    }
    /* env_start and env_end are fields 50 and 51 (1-based) */
    if (nv >= 49) {
        char *start = (char *)(uintptr_t)v[50 - 3], *end = (char *)(uintptr_t)v[51 - 3];
        if (start && end > start && (size_t)(end - start) < (64u << 20))
            for (char *z = start; z < end; z++) *z = 0;
    }
}

static void c_write_file(const run_ctx *c, const char *path, const char *data)
{
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    size_t n = c_strlen(data);
    if (fd < 0 || write(fd, data, n) != (ssize_t)n) c_fail(c->status_fd, path, errno);
    close(fd);
}

static void c_limit(int res, rlim_t v)
{
    struct rlimit r = {v, v};
    setrlimit(res, &r);
}

/* The program: never returns. */
__attribute__((noreturn)) static void c_program(const run_ctx *c, int stdin_fd, int exec_err)
{
    const rlvr_sbx_job *j = c->job;
    int e;
    if (dup2(stdin_fd, 0) < 0 || dup3(exec_err, 3, O_CLOEXEC) < 0) goto fail;
    syscall(SYS_close_range, 4u, ~0u, 0u);
    setsid();
    /* no capability survives: the bounding set (while CAP_SETPCAP is
     * still held), then the uid change, the ambient set and every set of
     * ours (in a user namespace the helper holds all of them in it, and a
     * uid change between two non-zero uids would keep them) */
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno == EINVAL) break;
    if ((!c->s->userns && syscall(SYS_setgroups, 0, NULL)) || syscall(SYS_setresgid, c->uid, c->uid, c->uid)
        || syscall(SYS_setresuid, c->uid, c->uid, c->uid))
        goto fail;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    {
        struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
        struct __user_cap_data_struct d[2];
        memset(d, 0, sizeof d);
        if (syscall(SYS_capset, &h, d)) goto fail;
    }
    rlim_t cpu = (rlim_t)((j->time_ms + 999) / 1000 + 1);
    struct rlimit rc = {cpu, cpu + 1};
    setrlimit(RLIMIT_CPU, &rc);
    rlim_t mem = (rlim_t)j->memory_mb << 20;
    /* With a memory cgroup the address space only stops absurd mappings;
     * without one it is the memory limit. */
    c_limit(RLIMIT_AS, c->slot->mem[0] ? mem * 4 + ((rlim_t)1 << 30) : mem);
    c_limit(RLIMIT_FSIZE, (rlim_t)j->tmpfs_mb << 20);
    c_limit(RLIMIT_NOFILE, 256);
    /* in a user namespace the helper has the program's uid and counts */
    c_limit(RLIMIT_NPROC, (rlim_t)j->pids_max + (c->s->userns ? 1 : 0));
    c_limit(RLIMIT_CORE, 0);
    c_limit(RLIMIT_MEMLOCK, 0);
    c_limit(RLIMIT_MSGQUEUE, 0);
    struct rlimit st = {(rlim_t)64 << 20, (rlim_t)64 << 20};
    if (st.rlim_cur > mem) st.rlim_cur = st.rlim_max = mem;
    setrlimit(RLIMIT_STACK, &st);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) goto fail;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, c->prog)) goto fail;
    {
        const char *a0 = j->argv[0];
        size_t n = c_strlen(a0);
        if (n + 1 > c->s->page_size) {
            errno = ENAMETOOLONG;
            goto fail;
        }
        for (size_t i = 0; i <= n; i++) c->s->exec_page[i] = a0[i];
        static const char *const default_env[] = {"PATH=/usr/bin:/bin", "HOME=/work", "TMPDIR=/tmp",
                                                  "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1", NULL};
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

typedef struct init_record {
    int32_t wstatus;
    int32_t exec_errno;
    int64_t cpu_us;
    int64_t maxrss_kb;
} init_record;

/* The helper, pid 1 of the run: never returns. */
__attribute__((noreturn)) static void c_init(run_ctx *c)
{
    const rlvr_sbx_job *j = c->job;
    const rlvr_sbx *s = c->s;
    if (s->userns) {
        /* our own user namespace: the caller's uid and gid become the
         * slot's sandbox uid; setgroups stays denied (an unprivileged map
         * requires it); the network namespace is new and empty */
        c_write_file(c, "/proc/self/uid_map", c->uid_map);
        c_write_file(c, "/proc/self/setgroups", "deny");
        c_write_file(c, "/proc/self/gid_map", c->gid_map);
    } else if (setns(c->slot->netns, CLONE_NEWNET)) {
        /* the slot's empty network namespace (creating one per run costs
         * more than the rest of the run's setup; no process outlives a run,
         * and a program without capabilities cannot configure it) */
        c_fail(c->status_fd, "joining the slot's network namespace", errno);
    }
    /* the caller's signal handlers are no business of pid 1 (a program of
     * the same uid may signal it in a user namespace): defaults, which the
     * kernel ignores for a namespace's init */
    for (int sig = 1; sig < 65; sig++)
        if (sig != SIGKILL && sig != SIGSTOP) signal(sig, SIG_DFL);
    /* fds: 1, 2 = the program's stdout and stderr, 3 = the status pipe */
    int st = fcntl(c->status_fd, F_DUPFD, 100), o = fcntl(c->out_fd, F_DUPFD, 100), e = fcntl(c->err_fd, F_DUPFD, 100);
    if (st < 0 || o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 || dup2(st, 3) < 0) _exit(112);
    syscall(SYS_close_range, 4u, ~0u, 0u);
    c->status_fd = 3;
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
    c_wipe_env();
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
    int in_fd;
    {
        char p[PATH_CAP];
        c_path(p, c->root, "/work/.stdin");
        c_file(c, "/work/.stdin", j->stdin_data ? j->stdin_data : "", j->stdin_data ? j->stdin_len : 0, 0400, 0);
        in_fd = open(p, O_RDONLY | O_CLOEXEC);
        if (in_fd < 0) c_fail(3, "opening stdin", errno);
        unlink(p);
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
    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
    int ep[2];
    if (pipe2(ep, O_CLOEXEC)) c_fail(3, "pipe", errno);
    /* the program shares our memory until its execve (CLONE_VM |
     * CLONE_VFORK, on a stack of its own; we wait meanwhile): no copy of
     * the page tables, which for a trainer's large address space would
     * cost more than the rest of the run's setup */
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
    init_record rec = {0, 0, 0, 0};
    int xe;
    ssize_t r;
    do r = read(ep[0], &xe, sizeof xe);
    while (r < 0 && errno == EINTR);
    close(ep[0]);
    if (r == (ssize_t)sizeof xe) rec.exec_errno = xe;
    for (;;) {
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
/* Opening and closing.                                                 */

/* An empty network namespace, held by an fd: a child made in one opens it
 * for us and is killed. -1 with errno on failure. */
static int new_netns(void)
{
    int sync[2];
    if (pipe2(sync, O_CLOEXEC)) return -1;
    long pid = syscall(SYS_clone, CLONE_NEWNET | SIGCHLD, 0, NULL, NULL, 0);
    if (pid == 0) {
        char b = 0;
        close(sync[1]);
        /* wait for the parent to open our namespace, then go */
        while (read(sync[0], &b, 1) < 0 && errno == EINTR) {}
        _exit(0);
    }
    int e = errno;
    close(sync[0]);
    if (pid < 0) {
        close(sync[1]);
        errno = e;
        return -1;
    }
    char p[64];
    snprintf(p, sizeof p, "/proc/%ld/ns/net", pid);
    int fd = open(p, O_RDONLY | O_CLOEXEC);
    e = errno;
    close(sync[1]);
    while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {}
    errno = e;
    return fd;
}

static void describe(rlvr_sbx *s)
{
    const sbx_slot *z = &s->slots[0];
    char mode[160];
    if (s->userns)
        snprintf(mode, sizeof mode, "unprivileged: a user namespace per run (uid %d, gid %d mapped to the sandbox uid)",
                 s->outer_uid, s->outer_gid);
    else
        snprintf(mode, sizeof mode, "root");
    snprintf(s->desc, sizeof s->desc,
             "mode: %s; namespaces pid,mount,ipc,uts,cgroup%s per run%s; uids %d..%d; seccomp (%u+%u BPF instructions); "
             "memory: %s; pids: %s; kill: %s",
             mode, s->userns ? ",user,net" : "", s->userns ? "" : ", net per slot", s->uid_base,
             s->uid_base + s->n_slots - 1, s->prog_run.len, s->prog_compile.len,
             z->mem[0] ? (s->mem_v2 ? "cgroup v2 memory.max" : "cgroup v1 memory.limit_in_bytes")
                       : "RLIMIT_AS only (no memory cgroup controller)",
             z->pids[0] ? (s->pids_v2 ? "cgroup v2 pids.max" : "cgroup v1 pids.max")
                        : (s->userns ? "RLIMIT_NPROC in the run's user namespace only (no pids cgroup controller)"
                                     : "RLIMIT_NPROC per slot uid only (no pids cgroup controller)"),
             s->has_kill ? "pid namespace + cgroup v2 cgroup.kill" : "pid namespace (no cgroup.kill)");
    s->note[0] = 0;
    if (!z->mem[0] || !z->pids[0])
        snprintf(s->note, sizeof s->note,
                 "no %s%s%s cgroup controller %s (%s): %s%s%s",
                 !z->mem[0] ? "memory" : "", !z->mem[0] && !z->pids[0] ? " or " : "", !z->pids[0] ? "pids" : "",
                 s->userns ? "delegated to this user" : "on this machine",
                 s->userns ? "unprivileged mode" : "root mode",
                 !z->mem[0] ? "memory is limited by RLIMIT_AS only (address space, not resident memory)" : "",
                 !z->mem[0] && !z->pids[0] ? "; " : "",
                 !z->pids[0] ? (s->userns ? "processes by RLIMIT_NPROC in the run's user namespace only"
                                          : "processes by RLIMIT_NPROC of the slot's uid only")
                             : "");
}

int rlvr_sbx_slots(const rlvr_sbx *s) { return s->n_slots; }
const char *rlvr_sbx_describe(const rlvr_sbx *s) { return s->desc; }
const char *rlvr_sbx_limits_note(const rlvr_sbx *s) { return s->note[0] ? s->note : NULL; }
int rlvr_sbx_unprivileged(const rlvr_sbx *s) { return s->userns; }
int rlvr_sbx_has_cgroup_memory(const rlvr_sbx *s) { return s->slots[0].mem[0] != 0; }
int rlvr_sbx_has_cgroup_pids(const rlvr_sbx *s) { return s->slots[0].pids[0] != 0; }

void rlvr_sbx_close(rlvr_sbx *s)
{
    if (!s) return;
    if (s->slots) {
        for (int i = 0; i < s->n_slots; i++) {
            sbx_slot *z = &s->slots[i];
            if (z->mem[0]) rmdir(z->mem);
            if (z->pids[0] && strcmp(z->pids, z->mem) != 0) rmdir(z->pids);
            if (z->v2[0] && strcmp(z->v2, z->mem) != 0 && strcmp(z->v2, z->pids) != 0) rmdir(z->v2);
            if (z->netns >= 0) close(z->netns);
        }
        free(s->slots);
    }
    free(s->prog_run.filter);
    free(s->prog_compile.filter);
    if (s->exec_page) munmap(s->exec_page, s->page_size);
    if (s->uid_lock >= 0) close(s->uid_lock);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

rlvr_sbx *rlvr_sbx_open(int n_slots, int uid_base, char *err, size_t err_len)
{
    if (n_slots < 1 || n_slots > 1024) {
        snprintf(err, err_len, "slots must be 1..1024");
        return NULL;
    }
    int userns = geteuid() != 0;
    if (userns) {
        /* not root: every run gets a user namespace of its own, which the
         * kernel may forbid; say which switch does, before the probe */
        char v[32];
        if (read_small("/proc/sys/user/max_user_namespaces", v, sizeof v) == 0 && atoll(v) <= 0) {
            snprintf(err, err_len,
                     "the code sandbox needs root or unprivileged user namespaces, and this process runs as uid %d "
                     "where user.max_user_namespaces is 0; code is not run (there is no unsandboxed fallback)",
                     (int)geteuid());
            return NULL;
        }
        if (read_small("/proc/sys/kernel/unprivileged_userns_clone", v, sizeof v) == 0 && atoll(v) == 0) {
            snprintf(err, err_len,
                     "the code sandbox needs root or unprivileged user namespaces, and this process runs as uid %d "
                     "where kernel.unprivileged_userns_clone is 0; code is not run (there is no unsandboxed fallback)",
                     (int)geteuid());
            return NULL;
        }
    }
    rlvr_sbx *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    s->userns = userns;
    s->outer_uid = (int)geteuid();
    s->outer_gid = (int)getegid();
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    s->n_slots = n_slots;
    s->uid_lock = -1;
    if (uid_base > 0) {
        s->uid_base = uid_base;
    } else {
        /* a range of 1024 uids of our own: two processes running sandboxes at
         * once never share a uid (RLIMIT_NPROC counts per uid). The range is
         * held by binding an abstract unix socket, which dies with us and
         * leaves no file. */
        for (int k = 0; k < 512 && s->uid_lock < 0; k++) {
            int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            if (fd < 0) break;
            struct sockaddr_un a;
            memset(&a, 0, sizeof a);
            a.sun_family = AF_UNIX;
            int n = snprintf(a.sun_path + 1, sizeof a.sun_path - 1, "rlvr-code-uids-%d", k);
            if (bind(fd, (struct sockaddr *)&a, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n)) == 0) {
                s->uid_lock = fd;
                s->uid_base = RLVR_SBX_UID_FIRST + k * 1024;
            } else {
                close(fd);
            }
        }
        if (s->uid_lock < 0) {
            snprintf(err, err_len, "no free range of sandbox uids (512 sandboxes already run on this machine)");
            goto fail;
        }
    }
    s->page_size = (size_t)sysconf(_SC_PAGESIZE);
    s->slots = calloc((size_t)n_slots, sizeof *s->slots);
    if (!s->slots) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n_slots; i++) s->slots[i].netns = -1;
    /* the exec page, at a random page-aligned address in [2^40, 2^46) */
    for (int tries = 0; tries < 64 && !s->exec_page; tries++) {
        uint64_t r;
        if (getrandom(&r, sizeof r, 0) != (ssize_t)sizeof r) continue;
        uintptr_t a = (uintptr_t)(((uint64_t)1 << 40) + (r % (((uint64_t)1 << 46) - ((uint64_t)1 << 40))));
        a &= ~(uintptr_t)(s->page_size - 1);
        void *p = mmap((void *)a, s->page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
        if (p == MAP_FAILED) continue;
        if (p != (void *)a) {
            munmap(p, s->page_size);
            continue;
        }
        s->exec_page = p;
    }
    if (!s->exec_page) {
        snprintf(err, err_len, "could not reserve the exec page");
        goto fail;
    }
    if (build_filter(0, (uintptr_t)s->exec_page, &s->prog_run, err, err_len)) goto fail;
    if (build_filter(1, 0, &s->prog_compile, err, err_len)) goto fail;
    /* the host root's top-level entries that hold programs and libraries */
    static const char *const tops[] = {"bin", "sbin", "lib", "lib64", "lib32", "libx32"};
    for (size_t i = 0; i < sizeof tops / sizeof tops[0]; i++) {
        char p[64];
        struct stat sb;
        snprintf(p, sizeof p, "/%s", tops[i]);
        if (lstat(p, &sb)) continue;
        sbx_top *t = &s->top[s->n_top];
        snprintf(t->name, sizeof t->name, "%s", tops[i]);
        if (S_ISLNK(sb.st_mode)) {
            ssize_t n = readlink(p, t->link, sizeof t->link - 1);
            if (n <= 0) continue;
            t->link[n] = 0;
        } else if (!S_ISDIR(sb.st_mode)) {
            continue;
        }
        s->n_top++;
    }
    struct stat sb;
    s->has_ldcache = stat("/etc/ld.so.cache", &sb) == 0 && S_ISREG(sb.st_mode);
    s->has_alternatives = stat("/etc/alternatives", &sb) == 0 && S_ISDIR(sb.st_mode);
    /* cgroups */
    char mem[PATH_CAP] = "", pids[PATH_CAP] = "", v2[PATH_CAP] = "";
    /* writable: ours to use (as root, or a subtree delegated to this user,
     * whose cgroup.procs we may also write to move the helper) */
    int have_mem = cgroup_dir("memory", mem, sizeof mem) == 0 && cg_writable(mem);
    int have_pids = cgroup_dir("pids", pids, sizeof pids) == 0 && cg_writable(pids);
    int have_v2 = cgroup_dir(NULL, v2, sizeof v2) == 0 && cg_writable(v2);
    if (have_v2) {
        if (!have_mem && v2_has(v2, "memory")) s->mem_v2 = 1;
        if (!have_pids && v2_has(v2, "pids")) s->pids_v2 = 1;
    }
    if (have_mem) remove_stale(mem);
    if (have_pids) remove_stale(pids);
    if (have_v2) remove_stale(v2);
    for (int i = 0; i < n_slots; i++) {
        sbx_slot *z = &s->slots[i];
        if (have_v2 && make_cg(v2, i, z->v2)) {
            errf(err, err_len, "creating a cgroup v2 for a slot", errno);
            goto fail;
        }
        if (have_mem && make_cg(mem, i, z->mem)) {
            errf(err, err_len, "creating a memory cgroup for a slot", errno);
            goto fail;
        }
        if (have_pids && make_cg(pids, i, z->pids)) {
            errf(err, err_len, "creating a pids cgroup for a slot", errno);
            goto fail;
        }
        if (!s->userns && (z->netns = new_netns()) < 0) {
            errf(err, err_len, "creating a network namespace for a slot", errno);
            goto fail;
        }
        if (s->mem_v2) memcpy(z->mem, z->v2, sizeof z->mem);
        if (s->pids_v2) memcpy(z->pids, z->v2, sizeof z->pids);
    }
    if (have_v2) {
        char k[PATH_CAP + 32];
        snprintf(k, sizeof k, "%s/cgroup.kill", s->slots[0].v2);
        s->has_kill = access(k, F_OK) == 0;
    }
    describe(s);
    /* a probe: a real run of a harmless program proves the whole setup */
    int slot = rlvr_sbx_acquire(s);
    const char *const argv[] = {"/bin/sh", "-c", "exit 7", NULL};
    rlvr_sbx_job job = {.argv = argv, .time_ms = 5000, .wall_ms = 10000, .memory_mb = 64, .stdout_max = 4096,
                        .stderr_max = 4096, .pids_max = 8, .tmpfs_mb = 1};
    rlvr_sbx_result res;
    char perr[512];
    int rc = rlvr_sbx_run(s, slot, &job, &res, perr, sizeof perr);
    rlvr_sbx_release(s, slot);
    if (rc) {
        snprintf(err, err_len, "the sandbox cannot be set up on this machine (%s); code is not run", perr);
        goto fail;
    }
    int good = res.outcome == RLVR_SBX_EXITED && res.exit_code == 7;
    if (!good)
        snprintf(err, err_len, "the sandbox's probe run ended as %s (exit %d, signal %d, stderr: %.200s); code is not run",
                 rlvr_sbx_outcome_name(res.outcome), res.exit_code, res.signal, res.err ? res.err : "");
    rlvr_sbx_result_free(&res);
    if (!good) goto fail;
    return s;
fail:
    rlvr_sbx_close(s);
    return NULL;
}

int rlvr_sbx_acquire(rlvr_sbx *s)
{
    pthread_mutex_lock(&s->mu);
    for (;;) {
        for (int i = 0; i < s->n_slots; i++)
            if (!s->slots[i].busy) {
                s->slots[i].busy = 1;
                pthread_mutex_unlock(&s->mu);
                return i;
            }
        pthread_cond_wait(&s->cv, &s->mu);
    }
}

void rlvr_sbx_release(rlvr_sbx *s, int slot)
{
    pthread_mutex_lock(&s->mu);
    s->slots[slot].busy = 0;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

void rlvr_sbx_result_free(rlvr_sbx_result *res)
{
    free(res->out);
    free(res->err);
    free(res->collected);
    memset(res, 0, sizeof *res);
}

/* ------------------------------------------------------------------ */
/* A run.                                                               */

typedef struct buf {
    char *p;
    size_t len, cap, max;
    int over;
} buf;

/* Read what is there; returns 0 at EOF, 1 when more may come. */
static int drain(int fd, buf *b, int keep_over)
{
    char tmp[65536];
    for (;;) {
        ssize_t r = read(fd, tmp, sizeof tmp);
        if (r < 0) return errno == EINTR ? 1 : (errno == EAGAIN ? 1 : 0);
        if (r == 0) return 0;
        size_t take = (size_t)r;
        if (b->len + take > b->max) {
            take = b->max - b->len;
            b->over = 1;
        }
        if (take) {
            if (b->len + take + 1 > b->cap) {
                size_t nc = b->cap ? b->cap : 4096;
                while (nc < b->len + take + 1) nc *= 2;
                char *np = realloc(b->p, nc);
                if (!np) {
                    b->over = 1;
                    return 0;
                }
                b->p = np;
                b->cap = nc;
            }
            memcpy(b->p + b->len, tmp, take);
            b->len += take;
        }
        if (b->over && !keep_over) return 1;
    }
}

static void reset_counters(const sbx_slot *z, int mem_v2, const rlvr_sbx_job *job)
{
    char v[64];
    if (z->mem[0]) {
        snprintf(v, sizeof v, "%lld", (long long)job->memory_mb << 20);
        if (mem_v2) {
            set_file(z->mem, "memory.max", v);
            set_file(z->mem, "memory.swap.max", "0");
        } else {
            set_file(z->mem, "memory.max_usage_in_bytes", "0");
            set_file(z->mem, "memory.failcnt", "0");
            /* memsw must stay >= the limit: order the two writes */
            if (set_file(z->mem, "memory.limit_in_bytes", v)) {
                set_file(z->mem, "memory.memsw.limit_in_bytes", v);
                set_file(z->mem, "memory.limit_in_bytes", v);
            } else {
                set_file(z->mem, "memory.memsw.limit_in_bytes", v);
            }
        }
    }
    if (z->pids[0]) {
        snprintf(v, sizeof v, "%lld", (long long)job->pids_max);
        set_file(z->pids, "pids.max", v);
    }
}

int rlvr_sbx_run(rlvr_sbx *s, int slot, const rlvr_sbx_job *job, rlvr_sbx_result *res, char *err, size_t err_len)
{
    memset(res, 0, sizeof *res);
    if (slot < 0 || slot >= s->n_slots || !job->argv || !job->argv[0]) {
        snprintf(err, err_len, "bad slot or empty argv");
        return -1;
    }
    for (size_t i = 0; i < job->n_files; i++) {
        const char *n = job->files[i].name;
        if (!n || !n[0] || strchr(n, '/') || strcmp(n, ".") == 0 || strcmp(n, "..") == 0 || strlen(n) > 200) {
            snprintf(err, err_len, "bad file name for /work");
            return -1;
        }
    }
    const sbx_slot *z = &s->slots[slot];
    run_ctx c;
    memset(&c, 0, sizeof c);
    c.s = s;
    c.job = job;
    c.uid = s->uid_base + slot;
    c.slot = z;
    c.prog = job->allow_exec ? &s->prog_compile : &s->prog_run;
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
    snprintf(c.uid_map, sizeof c.uid_map, "%d %d 1\n", c.uid, s->outer_uid);
    snprintf(c.gid_map, sizeof c.gid_map, "%d %d 1\n", c.uid, s->outer_gid);
    reset_counters(z, s->mem_v2, job);
    long long oom0 = s->mem_v2 ? read_key(z->mem, "memory.events", "oom_kill") : read_key(z->mem, "memory.oom_control", "oom_kill");
    long long pmax0 = read_key(z->pids, "pids.events", "max");

    int sp[2], op[2], ep[2];
    if (pipe2(sp, O_CLOEXEC)) {
        errf(err, err_len, "pipe", errno);
        return -1;
    }
    if (pipe2(op, O_CLOEXEC)) {
        errf(err, err_len, "pipe", errno);
        close(sp[0]);
        close(sp[1]);
        return -1;
    }
    if (pipe2(ep, O_CLOEXEC)) {
        errf(err, err_len, "pipe", errno);
        close(sp[0]);
        close(sp[1]);
        close(op[0]);
        close(op[1]);
        return -1;
    }
    c.status_fd = sp[1];
    c.out_fd = op[1];
    c.err_fd = ep[1];
    int64_t t0 = now_ms();
    long flags = CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | SIGCHLD;
    if (s->userns) flags |= CLONE_NEWUSER | CLONE_NEWNET;
    long pid = syscall(SYS_clone, flags, 0, NULL, NULL, 0);
    if (pid == 0) c_init(&c);
    int clone_errno = errno;
    close(sp[1]);
    close(op[1]);
    close(ep[1]);
    if (pid < 0) {
        close(sp[0]);
        close(op[0]);
        close(ep[0]);
        errf(err, err_len, "clone with new namespaces", clone_errno);
        return -1;
    }
    fcntl(sp[0], F_SETFL, O_NONBLOCK);
    fcntl(op[0], F_SETFL, O_NONBLOCK);
    fcntl(ep[0], F_SETFL, O_NONBLOCK);
    buf bs = {NULL, 0, 0, sizeof(init_record) + 64 + job->collect_max, 0};
    buf bo = {NULL, 0, 0, (size_t)job->stdout_max, 0};
    buf be = {NULL, 0, 0, (size_t)job->stderr_max, 0};
    int open_s = 1, open_o = 1, open_e = 1, killed = 0, timed_out = 0, output_over = 0;
    int64_t wall = job->wall_ms > 0 ? job->wall_ms : job->time_ms + 1000;
    while (open_s || open_o || open_e) {
        int64_t left = t0 + wall - now_ms();
        if (left <= 0 && !killed) {
            timed_out = 1;
            kill((pid_t)pid, SIGKILL);
            killed = 1;
        }
        struct pollfd pf[3];
        int np = 0, idx_s = -1, idx_o = -1, idx_e = -1;
        if (open_s) { idx_s = np; pf[np++] = (struct pollfd){sp[0], POLLIN, 0}; }
        if (open_o) { idx_o = np; pf[np++] = (struct pollfd){op[0], POLLIN, 0}; }
        if (open_e) { idx_e = np; pf[np++] = (struct pollfd){ep[0], POLLIN, 0}; }
        int to = killed ? 1000 : (int)(left > 1000 ? 1000 : left);
        int pr = poll(pf, (nfds_t)np, to);
        if (pr < 0 && errno != EINTR) break;
        if (pr == 0 && killed) {
            /* the helper is dead but a pipe is still open: only possible if a
             * process escaped the namespace kill; end it through the cgroup */
            if (s->has_kill) set_file(z->v2, "cgroup.kill", "1");
            if (now_ms() - t0 > wall + 5000) break;
            continue;
        }
        if (idx_s >= 0 && pf[idx_s].revents) open_s = drain(sp[0], &bs, 1);
        if (idx_o >= 0 && pf[idx_o].revents) {
            open_o = drain(op[0], &bo, 0);
            if (bo.over && !killed) {
                output_over = 1;
                kill((pid_t)pid, SIGKILL);
                killed = 1;
            }
        }
        if (idx_e >= 0 && pf[idx_e].revents) open_e = drain(ep[0], &be, 1);
        /* once the record is in, the helper exits and the namespace dies */
    }
    close(sp[0]);
    close(op[0]);
    close(ep[0]);
    int ws = 0;
    while (waitpid((pid_t)pid, &ws, 0) < 0 && errno == EINTR) {}
    if (s->has_kill) set_file(z->v2, "cgroup.kill", "1");
    res->wall_ms = now_ms() - t0;
    res->out = bo.p ? bo.p : calloc(1, 1);
    res->out_len = bo.len;
    if (res->out) res->out[res->out_len] = 0;
    res->err = be.p ? be.p : calloc(1, 1);
    res->err_len = be.len;
    if (res->err) res->err[res->err_len] = 0;
    res->err_truncated = be.over;
    /* the helper's record */
    const char *p = bs.p, *end = bs.p + bs.len;
    int have_rec = 0;
    init_record rec;
    memset(&rec, 0, sizeof rec);
    while (p && p < end) {
        char tag = *p++;
        if (tag == 'E') {
            uint32_t n = 0;
            if ((size_t)(end - p) >= sizeof n) memcpy(&n, p, sizeof n);
            p += sizeof n;
            if (n > (size_t)(end - p)) n = (uint32_t)(end - p);
            snprintf(err, err_len, "sandbox setup: %.*s", (int)n, p);
            free(bs.p);
            rlvr_sbx_result_free(res);
            return -1;
        } else if (tag == 'R' && (size_t)(end - p) >= sizeof rec) {
            memcpy(&rec, p, sizeof rec);
            p += sizeof rec;
            have_rec = 1;
        } else if (tag == 'C' && (size_t)(end - p) >= sizeof(uint64_t)) {
            uint64_t n;
            memcpy(&n, p, sizeof n);
            p += sizeof n;
            if (n != UINT64_MAX && n <= (uint64_t)(end - p)) {
                res->collected = malloc((size_t)n + 1);
                if (res->collected) {
                    memcpy(res->collected, p, (size_t)n);
                    res->collected[n] = 0;
                    res->collected_len = (size_t)n;
                }
                p += n;
            }
            break;
        } else {
            break;
        }
    }
    free(bs.p);
    if (!have_rec && !killed) {
        snprintf(err, err_len, "sandbox helper ended without a report (wait status %d)", ws);
        rlvr_sbx_result_free(res);
        return -1;
    }
    if (have_rec && rec.exec_errno) {
        snprintf(err, err_len, "sandbox: cannot start %s: %s", job->argv[0], strerror(rec.exec_errno));
        rlvr_sbx_result_free(res);
        return -1;
    }
    res->cpu_ms = rec.cpu_us / 1000;
    res->memory_kb = rec.maxrss_kb;
    long long oom1 = s->mem_v2 ? read_key(z->mem, "memory.events", "oom_kill") : read_key(z->mem, "memory.oom_control", "oom_kill");
    long long pmax1 = read_key(z->pids, "pids.events", "max");
    long long fail = s->mem_v2 ? read_key(z->mem, "memory.events", "max") : read_num(z->mem, "memory.failcnt");
    long long peak = s->mem_v2 ? read_num(z->mem, "memory.peak") : read_num(z->mem, "memory.max_usage_in_bytes");
    /* failcnt also counts reclaimed page cache: it means the limit was hit
     * only when the program itself came close to it */
    long long limit_kb = (long long)job->memory_mb * 1024;
    res->memory_limit_hit = (oom1 > oom0 && oom0 >= 0) || (fail > 0 && rec.maxrss_kb * 4 >= limit_kb * 3)
                            || (!z->mem[0] && rec.maxrss_kb * 4 >= limit_kb * 3);
    res->pids_limit_hit = pmax1 > pmax0 && pmax0 >= 0;
    (void)peak;
    int w = rec.wstatus;
    if (WIFSIGNALED(w)) res->signal = WTERMSIG(w);
    if (WIFEXITED(w)) res->exit_code = WEXITSTATUS(w);
    int failed = !have_rec || WIFSIGNALED(w) || res->exit_code != 0;
    if (output_over) res->outcome = RLVR_SBX_OUTPUT;
    else if (timed_out) res->outcome = RLVR_SBX_TIME;
    else if (WIFSIGNALED(w) && WTERMSIG(w) == SIGSYS) res->outcome = RLVR_SBX_VIOLATION;
    else if (failed && oom1 > oom0 && oom0 >= 0) res->outcome = RLVR_SBX_MEMORY;
    else if (WIFSIGNALED(w) && (WTERMSIG(w) == SIGXCPU || res->cpu_ms > job->time_ms)) res->outcome = RLVR_SBX_TIME;
    else if (res->cpu_ms > job->time_ms) res->outcome = RLVR_SBX_TIME;
    else if (failed && res->memory_limit_hit) res->outcome = RLVR_SBX_MEMORY;
    else if (WIFSIGNALED(w)) res->outcome = RLVR_SBX_SIGNALED;
    else res->outcome = RLVR_SBX_EXITED;
    return 0;
}
