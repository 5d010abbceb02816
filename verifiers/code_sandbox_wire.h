/*
 * code_sandbox_wire.h -- what the sandbox's supervisor (code_sandbox.c, in
 * the caller) and a slot's helper process (code_zygote.c, the program
 * rlvr-sandbox) say to each other over their unix stream socket. Internal
 * to the sandbox: nothing else includes it.
 *
 * Why a helper: a run's processes used to be cloned from the caller, so a
 * caller with a large address space (a trainer with gigabytes touched) paid
 * for copying its page tables on every run, and every child of a
 * multi-threaded caller had to live by the rules of a fork from threads.
 * Each slot now has one small single-threaded helper, started once by
 * posix_spawn (no page-table copy) with an empty environment; it forks the
 * run's pid 1 itself.
 *
 * The helper is started as
 *   rlvr-sandbox UID USERNS OUTER_UID OUTER_GID MEM_DIR PIDS_DIR V2_DIR
 * with the socket on fd 3 (cgroup dirs are "-" when absent). Messages, all
 * integers in host byte order:
 *
 *   helper -> supervisor, once at start:
 *     'O' u32 run_len u32 compile_len     ready; the seccomp programs' sizes
 *     'E' u32 n, n bytes                  could not start (the message); exits
 *   supervisor -> helper, per run:
 *     'J' u64 n, then n bytes of payload; the first byte carries, as
 *        SCM_RIGHTS, the write ends of the run's status, stdout and stderr
 *        pipes, in that order
 *     'K'                                 kill the current run (SIGKILL to its pid 1)
 *   helper -> supervisor, per run:
 *     'P' i32 pid                         the run's pid 1 started
 *     'F' i32 errno                       it could not be started
 *     'X' u32 n, n bytes                  the job could not be started (the
 *                                         message: a warm interpreter that
 *                                         would not start)
 *     'W' i32 wait_status                 the run's pid 1 ended and was reaped
 *   EOF from the supervisor: the helper kills its run, if any, and exits.
 *
 * The payload: struct sbx_wire_job, then argc NUL-terminated argv strings,
 * envc NUL-terminated environment strings (envc -1: the default
 * environment), the collect name (NUL-terminated; empty: none), n_files
 * times (struct sbx_wire_file, name, NUL, data), then stdin_len bytes.
 */
#ifndef RLVR_CODE_SANDBOX_WIRE_H
#define RLVR_CODE_SANDBOX_WIRE_H

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* Sends the n bytes at p with the three descriptors fds riding on them
 * (SCM_RIGHTS): what sendmsg returns, EINTR retried. */
static inline ssize_t sbx_send_fds(int sock, const void *p, size_t n, const int fds[3])
{
    union {
        char b[CMSG_SPACE(3 * sizeof(int))];
        struct cmsghdr align;
    } u;
    memset(&u, 0, sizeof u);
    struct iovec iov = {(void *)p, n};
    struct msghdr mh;
    memset(&mh, 0, sizeof mh);
    mh.msg_iov = &iov;
    mh.msg_iovlen = 1;
    mh.msg_control = u.b;
    mh.msg_controllen = sizeof u.b;
    struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
    cm->cmsg_level = SOL_SOCKET;
    cm->cmsg_type = SCM_RIGHTS;
    cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
    memcpy(CMSG_DATA(cm), fds, 3 * sizeof(int));
    ssize_t r;
    do r = sendmsg(sock, &mh, MSG_NOSIGNAL);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Receives one byte into *tag and the descriptors riding on it (close on
 * exec) into fds, *got of them: 1, 0 at the end of the stream, -1 on an
 * error or a message with more than three descriptors or cut short (any
 * that came are closed). */
static inline ssize_t sbx_recv_fds(int sock, char *tag, int fds[3], int *got)
{
    union {
        char b[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } u;
    struct iovec iov = {tag, 1};
    struct msghdr mh;
    ssize_t r;
    do {
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_control = u.b;
        mh.msg_controllen = sizeof u.b;
        r = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
    } while (r < 0 && errno == EINTR);
    *got = 0;
    if (r <= 0) return r;
    int bad = (mh.msg_flags & MSG_CTRUNC) != 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
        if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
        size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < k; i++) {
            int fd;
            memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
            if (*got < 3)
                fds[(*got)++] = fd;
            else {
                close(fd);
                bad = 1;
            }
        }
    }
    if (bad) {
        for (int i = 0; i < *got; i++) close(fds[i]);
        *got = 0;
        return -1;
    }
    return r;
}

/* The payload may not exceed this (files and stdin of one run). */
#define SBX_WIRE_MAX ((uint64_t)1 << 30)

struct sbx_wire_job {
    int64_t time_ms, wall_ms, memory_mb, stdout_max, stderr_max, pids_max, tmpfs_mb;
    uint64_t collect_max;
    uint64_t stdin_len;
    int32_t allow_exec;
    int32_t argc, envc, n_files;
    int32_t warm_argi; /* rlvr_sbx_job's */
};

struct sbx_wire_file {
    uint64_t len;
    uint32_t name_len;
    int32_t mode;
};

/* What a run's pid 1 writes on the status pipe (the supervisor reads it):
 *   'E' u32 n, n bytes      the run could not be set up (the message)
 *   'R' init_record         the program ended
 *   'C' u64 n, n bytes      the collected file (n = UINT64_MAX: none, or
 *                           over collect_max), after 'R' when asked for */
typedef struct init_record {
    int32_t wstatus;    /* the program's wait status */
    int32_t exec_errno; /* 0, or why its execve failed */
    int64_t cpu_us;     /* user + system time of every process reaped */
    int64_t maxrss_kb;
} init_record;

/* A slot's warm Python interpreter W (code_sandbox_python.c), a child of
 * the helper, over a unix stream socket on W's fd 3:
 *   helper -> W, once at start:
 *     'S' struct sbx_warm_setup, the three cgroup dirs (cg_len bytes each,
 *         memory, pids, v2), bpf_len struct sock_filter (the filter of
 *         warm runs: no execve at all)
 *   W -> helper, once: 'O' (ready)
 *   helper -> W, per run:
 *     'J' struct sbx_warm_job, args_len bytes of argc NUL-terminated
 *         strings (the script and its arguments); on the tag byte, as
 *         SCM_RIGHTS, the program's stdout and stderr and W's end of the
 *         run's channel
 * The run's channel, a socketpair between pid 1 and W's children: pid 1
 * sends 'G' once the root is built; then it reads tagged i32s: 'P' the
 * program's pid (in the run's namespace; the program is pid 1's child by
 * then), or 'E' an errno (it could not be started), until a 'P' or the
 * stream's end. After a 'P', pid 1 makes itself non-dumpable and answers
 * 'D'; the program waits for it before it runs. */
struct sbx_warm_setup {
    int32_t uid, userns, has_mem_cgroup;
    uint32_t bpf_len;
    uint32_t cg_len[3];
};

struct sbx_warm_job {
    int32_t pid1;     /* the run's pid 1, in W's pid namespace */
    uint32_t nsflags; /* CLONE_NEW* flags of the namespaces to join */
    int64_t time_ms, memory_mb, tmpfs_mb, pids_max;
    uint32_t argc, args_len;
};

#endif
