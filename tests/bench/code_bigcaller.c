/*
 * code_bigcaller.c -- bench/code.sh's figure for a large caller: the cost of
 * one sandboxed run of /bin/true from a process that has touched a large
 * heap (a trainer that scores code in-process), beside fork() + waitpid of
 * that same process, which is what a runner that forks its caller pays on
 * every run (rlvr's sandbox did until its slots got helper processes).
 *
 *   code_bigcaller [MiB [RUNS]]     default 1024 MiB, 100 runs
 *
 * Prints one line per figure: ms per run with a small heap, then with MiB
 * touched, and the fork reference with MiB touched.
 */
#include "code_sandbox.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double runs_ms(rlvr_sbx *s, int runs)
{
    const char *const argv[] = {"/bin/true", NULL};
    rlvr_sbx_job job = {.argv = argv, .time_ms = 2000, .wall_ms = 5000, .memory_mb = 64, .stdout_max = 4096,
                        .stderr_max = 4096, .pids_max = 8, .tmpfs_mb = 1};
    double t0 = now_s();
    for (int i = 0; i < runs; i++) {
        rlvr_sbx_result res;
        char err[512];
        int slot = rlvr_sbx_acquire(s);
        int rc = rlvr_sbx_run(s, slot, &job, &res, err, sizeof err);
        rlvr_sbx_release(s, slot);
        if (rc) {
            fprintf(stderr, "code_bigcaller: %s\n", err);
            exit(1);
        }
        rlvr_sbx_result_free(&res);
    }
    return (now_s() - t0) * 1000.0 / runs;
}

int main(int argc, char **argv)
{
    long mib = argc > 1 ? atol(argv[1]) : 1024;
    int runs = argc > 2 ? atoi(argv[2]) : 100;
    if (mib < 0 || runs < 1) {
        fprintf(stderr, "usage: code_bigcaller [MiB [RUNS]]\n");
        return 2;
    }
    char err[512];
    rlvr_sbx *s = rlvr_sbx_open(1, 0, err, sizeof err);
    if (!s) {
        fprintf(stderr, "code_bigcaller: %s\n", err);
        return 1;
    }
    double small = runs_ms(s, runs);
    size_t n = (size_t)mib << 20;
    char *heap = malloc(n ? n : 1);
    if (!heap) {
        fprintf(stderr, "code_bigcaller: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    /* in 4 KiB pages, as a heap of many allocations is (transparent huge
     * pages would make the page tables, and a fork, 512 times smaller) */
    madvise(heap, n, MADV_NOHUGEPAGE);
    memset(heap, 1, n);
    double big = runs_ms(s, runs);
    int forks = runs < 20 ? runs : 20;
    double t0 = now_s();
    for (int i = 0; i < forks; i++) {
        pid_t p = fork();
        if (p == 0) _exit(0);
        if (p > 0) waitpid(p, NULL, 0);
    }
    double fork_ms = (now_s() - t0) * 1000.0 / forks;
    printf("sandboxed /bin/true, caller with a small heap: %.2f ms/run\n", small);
    printf("sandboxed /bin/true, caller with %ld MiB touched: %.2f ms/run\n", mib, big);
    printf("reference: fork() + waitpid of that caller (%ld MiB touched): %.2f ms/fork\n", mib, fork_ms);
    free(heap);
    rlvr_sbx_close(s);
    return 0;
}
