/*
 * code_sandbox.h -- running one untrusted program under Linux namespaces, an
 * unprivileged uid, rlimits, cgroups and a seccomp filter.
 *
 * A sandbox (rlvr_sbx) is opened once: it checks that the machine can
 * sandbox at all (namespaces, seccomp, a uid to drop to), builds the two
 * seccomp programs (run: no execve after start; compile: execve allowed),
 * finds the cgroup controllers that exist (v1 memory/pids, v2 with or without
 * controllers, cgroup.kill) and makes one cgroup set and one uid per slot.
 * Each run then happens in a slot: a fresh PID, mount, network, IPC, UTS and
 * cgroup namespace whose pid 1 is a small helper (root in the sandbox, not
 * dumpable, its environment wiped) that builds a minimal root (read-only
 * /usr and libraries, a few /dev nodes, a fresh /proc with hidepid, tmpfs
 * for /work, /tmp and /dev/shm), starts the program as the slot's uid, reaps
 * it and reports. The supervisor (the caller's thread) enforces the wall
 * clock and the output caps and kills the helper when they are exceeded;
 * the kernel then kills every process of the namespace, daemons included.
 *
 * As root this is set up directly; as an ordinary user each run also gets
 * an unprivileged user namespace (the caller's uid mapped to the slot's
 * sandbox uid) and a network namespace of its own, and cgroups are used
 * only where a subtree is delegated to the user (rlvr_sbx_limits_note
 * names what is then left to rlimits).
 *
 * Invariants: there is no unsandboxed path (rlvr_sbx_open fails with a
 * message naming what is missing, and a run whose setup fails reports
 * -1, never runs the program outside); every child started is reaped; no
 * file, mount or process outlives a run; the slots' cgroups are removed by
 * rlvr_sbx_close. The library never prints or exits; functions that can
 * fail return -1 (or NULL) with a message in err.
 */
#ifndef RLVR_CODE_SANDBOX_H
#define RLVR_CODE_SANDBOX_H

#include <stddef.h>
#include <stdint.h>

typedef struct rlvr_sbx rlvr_sbx;

/* How a run ended, from the sandbox's point of view. */
typedef enum rlvr_sbx_outcome {
    RLVR_SBX_EXITED = 0,    /* exited by itself: see exit_code */
    RLVR_SBX_SIGNALED,      /* killed by a signal of its own making: see signal */
    RLVR_SBX_TIME,          /* wall clock or CPU limit */
    RLVR_SBX_MEMORY,        /* the memory cgroup (or the address-space limit) */
    RLVR_SBX_OUTPUT,        /* stdout over its cap */
    RLVR_SBX_VIOLATION      /* killed by the seccomp filter (SIGSYS) */
} rlvr_sbx_outcome;

const char *rlvr_sbx_outcome_name(rlvr_sbx_outcome o);

/* A file placed in /work before the program starts. */
typedef struct rlvr_sbx_file {
    const char *name;   /* a plain name: no '/', not "." or ".." */
    const char *data;
    size_t len;
    int mode;           /* e.g. 0644, 0755 */
} rlvr_sbx_file;

typedef struct rlvr_sbx_job {
    const char *const *argv;  /* argv[0]: an absolute path, or "./name" in /work */
    const char *const *envp;  /* NULL: the sandbox's minimal environment */
    const char *stdin_data;   /* may be NULL (empty stdin) */
    size_t stdin_len;
    const rlvr_sbx_file *files;
    size_t n_files;
    const char *collect;      /* a file of /work to bring back (compiler output), or NULL */
    size_t collect_max;
    int64_t time_ms;          /* CPU time limit */
    int64_t wall_ms;          /* wall-clock limit (0: time_ms + 1000) */
    int64_t memory_mb;
    int64_t stdout_max;       /* bytes; more is an output_limit */
    int64_t stderr_max;       /* bytes kept; more is dropped */
    int64_t pids_max;         /* processes and threads */
    int64_t tmpfs_mb;         /* size of /work, /tmp and /dev/shm each */
    int allow_exec;           /* 1: execve allowed after start (compilers) */
    int warm_argi;            /* 0: argv[0] is executed. k > 0: argv[0..k-1] is a Python
                                 interpreter with its options and argv[k] a script in
                                 /work: the run is a fork of the slot's warm interpreter
                                 (started once with those options and envp), which
                                 runs the script as `argv[0..k]` would, with no execve
                                 allowed at all (code_sandbox_python.c) */
} rlvr_sbx_job;

typedef struct rlvr_sbx_result {
    rlvr_sbx_outcome outcome;
    int exit_code;            /* when EXITED */
    int signal;               /* when killed by a signal (any outcome) */
    char *out;                /* stdout (NUL-terminated), at most stdout_max bytes */
    size_t out_len;
    char *err;                /* stderr, at most stderr_max bytes */
    size_t err_len;
    int err_truncated;
    char *collected;          /* the collect file, or NULL when absent */
    size_t collected_len;
    int64_t cpu_ms, wall_ms, memory_kb;
    int pids_limit_hit;       /* a fork or clone failed at the pids limit */
    int memory_limit_hit;     /* the memory cgroup refused or OOM-killed */
} rlvr_sbx_result;

/* Sandbox uids: each open sandbox takes a range of 1024 uids from
 * RLVR_SBX_UID_FIRST on, free among the processes of this machine. */
#define RLVR_SBX_UID_FIRST 61000
#define RLVR_SBX_UID_LAST (61000 + 512 * 1024 - 1)

/* Open a sandbox with n_slots slots (runs that may go at once); uid_base is
 * the first of n_slots uids (0: a free range of its own, see above). NULL
 * with a message when this machine cannot sandbox. */
rlvr_sbx *rlvr_sbx_open(int n_slots, int uid_base, char *err, size_t err_len);
void rlvr_sbx_close(rlvr_sbx *s);
int rlvr_sbx_slots(const rlvr_sbx *s);

/* One line: the mechanisms in use and those missing. */
const char *rlvr_sbx_describe(const rlvr_sbx *s);
/* NULL when cgroups enforce the memory and pids limits; else one sentence
 * naming the limits that only rlimits enforce (to be said once, at load). */
const char *rlvr_sbx_limits_note(const rlvr_sbx *s);
/* 1 when not root: each run in an unprivileged user namespace of its own. */
int rlvr_sbx_unprivileged(const rlvr_sbx *s);
/* 1 when the memory and pids limits are enforced by cgroups. */
int rlvr_sbx_has_cgroup_memory(const rlvr_sbx *s);
int rlvr_sbx_has_cgroup_pids(const rlvr_sbx *s);

/* Take a free slot (waits for one) and give it back. Thread-safe. */
int rlvr_sbx_acquire(rlvr_sbx *s);
void rlvr_sbx_release(rlvr_sbx *s, int slot);

/* Run job in slot (held by the caller). 0: the program ran (any outcome;
 * res filled, free it with rlvr_sbx_result_free); -1: the sandbox could
 * not be set up, with a message (res is then empty). */
int rlvr_sbx_run(rlvr_sbx *s, int slot, const rlvr_sbx_job *job, rlvr_sbx_result *res,
                 char *err, size_t err_len);
void rlvr_sbx_result_free(rlvr_sbx_result *res);

#endif
