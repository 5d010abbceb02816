/*
 * code_sandbox_drop.h -- the last steps before a sandboxed program's first
 * instruction, shared by the two ways a program starts: execve from the
 * run's pid 1 (code_zygote.c), and a fork of a slot's warm Python
 * interpreter (code_sandbox_python.c). Internal to the sandbox.
 *
 * In order: a session of its own, no capability left in any set (the
 * bounding set while CAP_SETPCAP is still held), no supplementary groups,
 * the slot's uid and gid, the run's rlimits, no_new_privs and the seccomp
 * filter. Nothing here allocates or uses libc state beyond errno and
 * setrlimit, so it may run in a vfork-style child sharing its parent's
 * memory.
 */
#ifndef RLVR_CODE_SANDBOX_DROP_H
#define RLVR_CODE_SANDBOX_DROP_H

#include <linux/filter.h>
#include <stdint.h>

/* The environment of a run whose job names none. */
#define SBX_DEFAULT_ENV                                                                                      \
    { "PATH=/usr/bin:/bin", "HOME=/work", "TMPDIR=/tmp", "LANG=C.UTF-8", "PYTHONDONTWRITEBYTECODE=1", NULL }

typedef struct sbx_drop {
    int uid;            /* the slot's sandbox uid (and gid) */
    int userns;         /* 1: the run has a user namespace of its own */
    int has_mem_cgroup; /* 1: the memory cgroup limits memory; else RLIMIT_AS does */
    int64_t time_ms, memory_mb, tmpfs_mb, pids_max;
    const struct sock_fprog *prog; /* the seccomp program, installed last */
} sbx_drop;

/* 0, or -1 with errno set (the program must then not run). */
int sbx_drop_privileges(const sbx_drop *d);

#endif
