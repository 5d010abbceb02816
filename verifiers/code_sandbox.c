/*
 * code_sandbox.c -- the code sandbox's supervisor: the side of a run that
 * lives in the caller. It finds the cgroup controllers that exist and makes
 * one cgroup set per slot, holds a range of sandbox uids, starts one helper
 * process per slot (rlvr-sandbox, code_zygote.c, which makes the run's
 * namespaces, root, credentials, rlimits and seccomp filter), sends it each
 * job, and keeps the wall clock, the output caps and the cgroup counters
 * that decide a run's outcome.
 *
 * One run:
 *   supervisor (caller's thread)           helper of the slot (one per slot)
 *     job + pipe ends over the socket  ->    clone(new namespaces) -> pid 1
 *                                     <-    'P' pid
 *     reads stdout and stderr (caps) and the status pipe (pid 1's record),
 *     enforces the wall clock ('K': the helper SIGKILLs pid 1, and the
 *     kernel every process of the namespace; cgroup.kill where it exists)
 *                                     <-    'W' wait status (pid 1 reaped)
 *     reads the cgroup counters and decides the outcome.
 *
 * Why a helper per slot (code_sandbox_wire.h): forking the caller on every
 * run copied its page tables (a trainer with 2 GiB touched paid 100 ms and
 * more per run) and made every child of a multi-threaded caller live by the
 * rules of a fork among threads. The helpers are started with posix_spawn
 * (no copy) and an empty environment, so nothing of the caller's memory or
 * environment (a trainer's API keys) is ever in a sandboxed process.
 *
 * Finding the helper: $RLVR_SANDBOX_HELPER; else, when this code runs from
 * a build tree (the object that holds it sits in host/, plugins/.libs/ or
 * the like), that tree's verifiers/rlvr-sandbox; else the installed
 * RLVR_PKGLIBEXECDIR/rlvr-sandbox. A helper that is missing or fails to
 * start makes rlvr_sbx_open fail with the path and the reason: there is no
 * unsandboxed fallback.
 *
 * Root or not: as root the runs of a slot share the helper's empty network
 * namespace and the program switches to the slot's uid. As any other user
 * (rlvr_sbx_open finds euid != 0) each run also gets a user namespace and a
 * network namespace of its own: pid 1 maps the caller's uid and gid to the
 * slot's sandbox uid (setgroups denied, as the kernel wants of an
 * unprivileged map), and the program drops every capability before its
 * execve. RLIMIT_NPROC then counts in the run's user namespace, so a fork
 * bomb is bounded per run; cgroups are used only where a writable
 * (delegated) tree exists, else the limits that are rlimit-only are named
 * by rlvr_sbx_limits_note.
 */
#include "code_sandbox.h"
#include "code_sandbox_wire.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef RLVR_PKGLIBEXECDIR
#define RLVR_PKGLIBEXECDIR "/usr/local/libexec/rlvr"
#endif

#define PATH_CAP 512

/* One slot: its cgroup files ("" when that controller is missing) and its
 * helper process. */
typedef struct sbx_slot {
    char mem[PATH_CAP];   /* v1 memory cgroup dir, or v2 dir when v2 has memory */
    char pids[PATH_CAP];  /* v1 pids cgroup dir, or v2 dir when v2 has pids */
    char v2[PATH_CAP];    /* v2 dir (for cgroup.kill and joining) */
    int zfd;              /* the socket to the slot's helper; -1: none running */
    pid_t zpid;
    int busy;
} sbx_slot;

struct rlvr_sbx {
    int n_slots, uid_base;
    int userns;           /* 1: not root; each run in a user namespace of its own */
    int outer_uid, outer_gid;
    int uid_lock;         /* the abstract socket that holds the uid range */
    unsigned bpf_run, bpf_compile; /* the helpers' seccomp programs, in instructions */
    int mem_v2, pids_v2, has_kill;
    sbx_slot *slots;
    char helper[PATH_CAP];
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
/* The slots' helpers.                                                  */

static int exe_at(char *out, const char *dir, const char *rel)
{
    char p[PATH_CAP];
    if ((size_t)snprintf(p, sizeof p, "%s%s", dir, rel) >= sizeof p) return -1;
    struct stat sb;
    if (stat(p, &sb) || !S_ISREG(sb.st_mode) || access(p, X_OK)) return -1;
    if (!realpath(p, out)) return -1;
    return 0;
}

/* The helper program (see the file's comment). 0, or -1 with a message. */
static int find_helper(char *out, char *err, size_t err_len)
{
    const char *env = getenv("RLVR_SANDBOX_HELPER");
    if (env && *env) {
        if (exe_at(out, env, "") == 0) return 0;
        snprintf(err, err_len, "RLVR_SANDBOX_HELPER=%s is not an executable file; code is not run", env);
        return -1;
    }
    Dl_info di;
    if (dladdr((void *)find_helper, &di) && di.dli_fname && strchr(di.dli_fname, '/')) {
        char dir[PATH_CAP];
        snprintf(dir, sizeof dir, "%s", di.dli_fname);
        *strrchr(dir, '/') = 0;
        if (exe_at(out, dir, "/../verifiers/rlvr-sandbox") == 0 || exe_at(out, dir, "/../../verifiers/rlvr-sandbox") == 0)
            return 0;
    }
    if (exe_at(out, RLVR_PKGLIBEXECDIR, "/rlvr-sandbox") == 0) return 0;
    snprintf(err, err_len,
             "the code sandbox's helper program is missing: no %s/rlvr-sandbox (install rlvr, or set "
             "RLVR_SANDBOX_HELPER to the build tree's verifiers/rlvr-sandbox); code is not run",
             RLVR_PKGLIBEXECDIR);
    return -1;
}

/* Read exactly n bytes within timeout_ms; -1 on EOF, error or timeout. */
static int read_exact(int fd, void *p, size_t n, int timeout_ms)
{
    char *c = p;
    int64_t end = now_ms() + timeout_ms;
    while (n) {
        int left = (int)(end - now_ms());
        if (left <= 0) return -1;
        struct pollfd pf = {fd, POLLIN, 0};
        int pr = poll(&pf, 1, left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr <= 0) return -1;
        ssize_t r = read(fd, c, n);
        if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
        if (r <= 0) return -1;
        c += r;
        n -= (size_t)r;
    }
    return 0;
}

static int send_all(int fd, const void *p, size_t n)
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

static void stop_helper(sbx_slot *z)
{
    if (z->zfd >= 0) close(z->zfd);
    z->zfd = -1;
    if (z->zpid > 0) {
        /* it exits on its own when its socket closes, killing its run if
         * one is left; a helper that has not done so within a second is
         * killed */
        int gone = 0;
        for (int i = 0; i < 200 && !gone; i++) {
            pid_t w = waitpid(z->zpid, NULL, WNOHANG);
            gone = w == z->zpid || (w < 0 && errno == ECHILD);
            if (!gone) usleep(5000);
        }
        if (!gone) {
            kill(z->zpid, SIGKILL);
            while (waitpid(z->zpid, NULL, 0) < 0 && errno == EINTR) {}
        }
    }
    z->zpid = 0;
}

/* Start slot i's helper and wait for its 'O'. 0, or -1 with a message. */
static int start_helper(rlvr_sbx *s, int i, char *err, size_t err_len)
{
    sbx_slot *z = &s->slots[i];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
        errf(err, err_len, "socketpair", errno);
        return -1;
    }
    /* the child's end must not sit on fds 0..3, which the spawn rewires */
    int child_end = fcntl(sv[1], F_DUPFD_CLOEXEC, 10);
    close(sv[1]);
    if (child_end < 0) {
        errf(err, err_len, "fcntl", errno);
        close(sv[0]);
        return -1;
    }
    char a_uid[16], a_userns[4], a_ouid[16], a_ogid[16];
    snprintf(a_uid, sizeof a_uid, "%d", s->uid_base + i);
    snprintf(a_userns, sizeof a_userns, "%d", s->userns);
    snprintf(a_ouid, sizeof a_ouid, "%d", s->outer_uid);
    snprintf(a_ogid, sizeof a_ogid, "%d", s->outer_gid);
    char name[] = "rlvr-sandbox", none_mem[] = "-", none_pids[] = "-", none_v2[] = "-";
    char *const argv[] = {name, a_uid, a_userns, a_ouid, a_ogid, z->mem[0] ? z->mem : none_mem,
                          z->pids[0] ? z->pids : none_pids, z->v2[0] ? z->v2 : none_v2, NULL};
    char *const envp[] = {NULL};
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&at);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDWR, 0);
    posix_spawn_file_actions_adddup2(&fa, 0, 1);
    posix_spawn_file_actions_adddup2(&fa, 0, 2);
    posix_spawn_file_actions_adddup2(&fa, child_end, 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid;
    int rc = posix_spawn(&pid, s->helper, &fa, &at, argv, envp);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    close(child_end);
    if (rc) {
        snprintf(err, err_len, "starting the sandbox helper %s: %s", s->helper, strerror(rc));
        close(sv[0]);
        return -1;
    }
    z->zfd = sv[0];
    z->zpid = pid;
    char tag;
    if (read_exact(z->zfd, &tag, 1, 10000)) {
        snprintf(err, err_len, "the sandbox helper %s ended at start without a word", s->helper);
        stop_helper(z);
        return -1;
    }
    uint32_t a[2];
    if (tag == 'O' && read_exact(z->zfd, a, sizeof a, 10000) == 0) {
        s->bpf_run = a[0];
        s->bpf_compile = a[1];
        return 0;
    }
    char msg[512] = "";
    uint32_t n = 0;
    if (tag == 'E' && read_exact(z->zfd, &n, sizeof n, 10000) == 0 && n < sizeof msg) read_exact(z->zfd, msg, n, 10000);
    snprintf(err, err_len, "the sandbox helper %s could not start: %s", s->helper, msg[0] ? msg : "(no reason given)");
    stop_helper(z);
    return -1;
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
             s->uid_base + s->n_slots - 1, s->bpf_run, s->bpf_compile,
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
            stop_helper(z);
        }
        free(s->slots);
    }
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
    if (find_helper(s->helper, err, err_len)) goto fail;
    s->slots = calloc((size_t)n_slots, sizeof *s->slots);
    if (!s->slots) {
        snprintf(err, err_len, "out of memory");
        goto fail;
    }
    for (int i = 0; i < n_slots; i++) s->slots[i].zfd = -1;
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
        if (s->mem_v2) memcpy(z->mem, z->v2, sizeof z->mem);
        if (s->pids_v2) memcpy(z->pids, z->v2, sizeof z->pids);
    }
    for (int i = 0; i < n_slots; i++)
        if (start_helper(s, i, err, err_len)) goto fail;
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
    sbx_slot *z = &s->slots[slot];
    if (z->zfd < 0 && start_helper(s, slot, err, err_len)) return -1;
    /* the payload (code_sandbox_wire.h) */
    int argc = 0, envc = -1;
    while (job->argv[argc]) argc++;
    size_t len = sizeof(struct sbx_wire_job);
    for (int i = 0; i < argc; i++) len += strlen(job->argv[i]) + 1;
    if (job->envp) {
        envc = 0;
        while (job->envp[envc]) len += strlen(job->envp[envc++]) + 1;
    }
    len += (job->collect ? strlen(job->collect) : 0) + 1;
    for (size_t i = 0; i < job->n_files; i++)
        len += sizeof(struct sbx_wire_file) + strlen(job->files[i].name) + 1 + job->files[i].len;
    len += job->stdin_data ? job->stdin_len : 0;
    if ((uint64_t)len > SBX_WIRE_MAX) {
        snprintf(err, err_len, "the program's files and stdin exceed %llu bytes", (unsigned long long)SBX_WIRE_MAX);
        return -1;
    }
    char *pay = malloc(len), *q = pay;
    if (!pay) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    struct sbx_wire_job wj = {job->time_ms, job->wall_ms, job->memory_mb, job->stdout_max, job->stderr_max,
                             job->pids_max, job->tmpfs_mb, (uint64_t)job->collect_max,
                             job->stdin_data ? (uint64_t)job->stdin_len : 0, job->allow_exec, argc, envc,
                             (int32_t)job->n_files, job->warm_argi};
    memcpy(q, &wj, sizeof wj);
    q += sizeof wj;
#define PUT_STR(str) do { size_t n_ = strlen(str) + 1; memcpy(q, (str), n_); q += n_; } while (0)
    for (int i = 0; i < argc; i++) PUT_STR(job->argv[i]);
    for (int i = 0; i < envc; i++) PUT_STR(job->envp[i]);
    PUT_STR(job->collect ? job->collect : "");
    for (size_t i = 0; i < job->n_files; i++) {
        struct sbx_wire_file f = {job->files[i].len, (uint32_t)strlen(job->files[i].name), job->files[i].mode};
        memcpy(q, &f, sizeof f);
        q += sizeof f;
        PUT_STR(job->files[i].name);
        if (f.len) memcpy(q, job->files[i].data, job->files[i].len);
        q += f.len;
    }
#undef PUT_STR
    if (job->stdin_data && job->stdin_len) memcpy(q, job->stdin_data, job->stdin_len);
    reset_counters(z, s->mem_v2, job);
    long long oom0 = s->mem_v2 ? read_key(z->mem, "memory.events", "oom_kill") : read_key(z->mem, "memory.oom_control", "oom_kill");
    long long pmax0 = read_key(z->pids, "pids.events", "max");

    int pp[6];
    for (int i = 0; i < 3; i++)
        if (pipe2(pp + 2 * i, O_CLOEXEC)) {
            errf(err, err_len, "pipe", errno);
            for (int k = 0; k < 2 * i; k++) close(pp[k]);
            free(pay);
            return -1;
        }
    /* read ends: status, stdout, stderr; the write ends go to the helper */
    int sp0 = pp[0], op0 = pp[2], ep0 = pp[4];
    int ends[3] = {pp[1], pp[3], pp[5]};
    int64_t t0 = now_ms();
    char head[9];
    uint64_t plen = (uint64_t)len;
    head[0] = 'J';
    memcpy(head + 1, &plen, 8);
    ssize_t sent = sbx_send_fds(z->zfd, head, sizeof head, ends);
    if (sent < 0 && (errno == EPIPE || errno == ECONNRESET)) {
        /* the helper died between runs (killed from outside): nothing of
         * this job has started, so a new helper takes it */
        stop_helper(z);
        if (start_helper(s, slot, err, err_len)) {
            free(pay);
            for (int i = 0; i < 6; i++) close(pp[i]);
            return -1;
        }
        sent = sbx_send_fds(z->zfd, head, sizeof head, ends);
    }
    int sent_ok = sent == (ssize_t)sizeof head && send_all(z->zfd, pay, len) == 0;
    free(pay);
    for (int i = 0; i < 3; i++) close(ends[i]);
    char ztag = 0;
    int32_t pid = 0;
    if (!sent_ok || read_exact(z->zfd, &ztag, 1, 60000) || read_exact(z->zfd, &pid, sizeof pid, 30000)
        || (ztag != 'P' && ztag != 'F' && ztag != 'X')) {
        snprintf(err, err_len, "the sandbox helper of slot %d stopped answering; it is restarted for the next run", slot);
        stop_helper(z);
        close(sp0);
        close(op0);
        close(ep0);
        return -1;
    }
    if (ztag == 'X') {
        /* pid holds the message's length */
        char msg[1024] = "";
        if (pid > 0 && (size_t)pid < sizeof msg && read_exact(z->zfd, msg, (size_t)pid, 10000) == 0)
            snprintf(err, err_len, "sandbox: %s", msg);
        else
            snprintf(err, err_len, "sandbox: the job could not be started (no reason given)");
        close(sp0);
        close(op0);
        close(ep0);
        return -1;
    }
    if (ztag == 'F') {
        errf(err, err_len, "clone with new namespaces", pid);
        close(sp0);
        close(op0);
        close(ep0);
        return -1;
    }
    fcntl(sp0, F_SETFL, O_NONBLOCK);
    fcntl(op0, F_SETFL, O_NONBLOCK);
    fcntl(ep0, F_SETFL, O_NONBLOCK);
    buf bs = {NULL, 0, 0, sizeof(init_record) + 64 + job->collect_max, 0};
    buf bo = {NULL, 0, 0, (size_t)job->stdout_max, 0};
    buf be = {NULL, 0, 0, (size_t)job->stderr_max, 0};
    int open_s = 1, open_o = 1, open_e = 1, killed = 0, timed_out = 0, output_over = 0;
    int64_t wall = job->wall_ms > 0 ? job->wall_ms : job->time_ms + 1000;
    static const char kill_msg = 'K';
    while (open_s || open_o || open_e) {
        int64_t left = t0 + wall - now_ms();
        if (left <= 0 && !killed) {
            timed_out = 1;
            send_all(z->zfd, &kill_msg, 1);
            killed = 1;
        }
        struct pollfd pf[3];
        int np = 0, idx_s = -1, idx_o = -1, idx_e = -1;
        if (open_s) { idx_s = np; pf[np++] = (struct pollfd){sp0, POLLIN, 0}; }
        if (open_o) { idx_o = np; pf[np++] = (struct pollfd){op0, POLLIN, 0}; }
        if (open_e) { idx_e = np; pf[np++] = (struct pollfd){ep0, POLLIN, 0}; }
        int to = killed ? 1000 : (int)(left > 1000 ? 1000 : left);
        int pr = poll(pf, (nfds_t)np, to);
        if (pr < 0 && errno != EINTR) break;
        if (pr == 0 && killed) {
            /* pid 1 is dead but a pipe is still open: only possible if a
             * process escaped the namespace kill; end it through the cgroup */
            if (s->has_kill) set_file(z->v2, "cgroup.kill", "1");
            if (now_ms() - t0 > wall + 5000) break;
            continue;
        }
        if (idx_s >= 0 && pf[idx_s].revents) open_s = drain(sp0, &bs, 1);
        if (idx_o >= 0 && pf[idx_o].revents) {
            open_o = drain(op0, &bo, 0);
            if (bo.over && !killed) {
                output_over = 1;
                send_all(z->zfd, &kill_msg, 1);
                killed = 1;
            }
        }
        if (idx_e >= 0 && pf[idx_e].revents) open_e = drain(ep0, &be, 1);
        /* once the record is in, pid 1 exits and the namespace dies */
    }
    close(sp0);
    close(op0);
    close(ep0);
    int ws = 0;
    {
        /* pid 1's wait status from the helper; one that does not come means
         * a broken helper: it is replaced before the next run */
        int32_t v;
        if (read_exact(z->zfd, &ztag, 1, 10000) || ztag != 'W' || read_exact(z->zfd, &v, sizeof v, 10000)) {
            send_all(z->zfd, &kill_msg, 1);
            stop_helper(z);
        } else {
            ws = v;
        }
    }
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
        snprintf(err, err_len, "sandbox: cannot start %s%s: %s", job->argv[0],
                 job->warm_argi > 0 ? " (from the slot's warm interpreter)" : "", strerror(rec.exec_errno));
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
