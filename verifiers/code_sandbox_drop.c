/*
 * code_sandbox_drop.c -- see code_sandbox_drop.h. System calls only, on
 * data the caller prepared.
 */
#include "code_sandbox_drop.h"

#include <errno.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

static void set_limit(int res, rlim_t v)
{
    struct rlimit r = {v, v};
    setrlimit(res, &r);
}

int sbx_drop_privileges(const sbx_drop *d)
{
    setsid();
    /* no capability survives: the bounding set (while CAP_SETPCAP is still
     * held), then the uid change, the ambient set and every set of ours (in
     * a user namespace we hold all of them in it, and a uid change between
     * two non-zero uids would keep them) */
    for (int cap = 0; cap < 64; cap++)
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) && errno == EINVAL) break;
    if ((!d->userns && syscall(SYS_setgroups, 0, NULL)) || syscall(SYS_setresgid, d->uid, d->uid, d->uid)
        || syscall(SYS_setresuid, d->uid, d->uid, d->uid))
        return -1;
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
    struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct caps[2] = {{0, 0, 0}, {0, 0, 0}};
    if (syscall(SYS_capset, &h, caps)) return -1;
    rlim_t cpu = (rlim_t)((d->time_ms + 999) / 1000 + 1);
    struct rlimit rc = {cpu, cpu + 1};
    setrlimit(RLIMIT_CPU, &rc);
    rlim_t mem = (rlim_t)d->memory_mb << 20;
    /* With a memory cgroup the address space only stops absurd mappings;
     * without one it is the memory limit. */
    set_limit(RLIMIT_AS, d->has_mem_cgroup ? mem * 4 + ((rlim_t)1 << 30) : mem);
    set_limit(RLIMIT_FSIZE, (rlim_t)d->tmpfs_mb << 20);
    set_limit(RLIMIT_NOFILE, 256);
    /* in a user namespace the run's pid 1 has the program's uid and counts */
    set_limit(RLIMIT_NPROC, (rlim_t)d->pids_max + (d->userns ? 1 : 0));
    set_limit(RLIMIT_CORE, 0);
    set_limit(RLIMIT_MEMLOCK, 0);
    set_limit(RLIMIT_MSGQUEUE, 0);
    struct rlimit st = {(rlim_t)64 << 20, (rlim_t)64 << 20};
    if (st.rlim_cur > mem) st.rlim_cur = st.rlim_max = mem;
    setrlimit(RLIMIT_STACK, &st);
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) return -1;
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, d->prog)) return -1;
    return 0;
}
