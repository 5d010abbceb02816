/*
 * test_cublas_load.c -- cuBLAS loaded on first use (gpu/cublas_load.c).
 *
 * With CUDA (RLVR_TEST_CUDA): libcublas is not mapped before the first call
 * (/proc/self/maps); in child processes (fork, before this process loads
 * anything) RLVR_CUBLAS_LIBRARY names a missing file, then a library that is
 * not cuBLAS (libm), then the full path configure found: the first two fail
 * with a message naming the file (and the missing function), every
 * forwarder returns CUBLAS_STATUS_NOT_INITIALIZED, cublasGetStatusString
 * gives the reason and nothing of cuBLAS is mapped; the third loads that
 * very file. Then this process loads it by its soname: it is mapped,
 * cublasGetStatusString is the library's own (the same string as the
 * function dlsym finds in the library, through a different address: the
 * forwarder), and neither the forwarders nor cuBLAS are in the global
 * scope (dlsym(RTLD_DEFAULT) finds no cublasCreate_v2), so nothing can
 * interpose on cuBLAS's own calls. With a GPU: a handle, a workspace, and
 * two small products through cublasGemmEx and cublasGemmStridedBatchedEx,
 * checked against their values by hand (a TAP skip without a GPU).
 * Without CUDA: rlvr_cublas_load fails with "built without CUDA".
 * Built as test_cublas_fallback (RLVR_TEST_FALLBACK, with gpu/cublas_load.c
 * compiled for a soname that no library has): loading falls back to the
 * full path configure found.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* RTLD_DEFAULT, fork, realpath (the autotools build defines it) */
#endif
#include "gpu.h"
#include "tap.h"

#include <dlfcn.h>
#include <string.h>

/* Whether a line of /proc/self/maps names a file whose name contains
 * `part`. */
static int mapped(const char *part)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    int found = 0;
    if (!f) return -1;
    while (!found && fgets(line, sizeof line, f))
        if (strstr(line, part)) found = 1;
    fclose(f);
    return found;
}

#if defined RLVR_TEST_FALLBACK

/* test_cublas_fallback: gpu/cublas_load.c built with a soname that no
 * library has, so that loading falls back to the full path. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <cublas_v2.h>
#pragma GCC diagnostic pop
#include <stdlib.h>

int main(void)
{
    char err[1024] = "", real[4096];
    ok(mapped("libcublas") == 0, "before the first call, libcublas is not mapped");
    ok(rlvr_cublas_load(err, sizeof err) == 0, "%s is missing: rlvr_cublas_load loads %s", RLVR_CUBLAS_SONAME,
       RLVR_CUBLAS_PATH);
    if (err[0]) diag("  %s", err);
    ok(realpath(RLVR_CUBLAS_PATH, real) && mapped(real) == 1, "%s is mapped", RLVR_CUBLAS_PATH);
    const char *s = cublasGetStatusString(CUBLAS_STATUS_SUCCESS);
    ok(s && strncmp(s, "cannot load", 11) != 0, "cublasGetStatusString is cuBLAS's (%s)", s ? s : "(null)");
    return done_testing();
}

#elif !defined RLVR_TEST_CUDA

int main(void)
{
    char err[256] = "";
    ok(mapped("libcublas") == 0, "libcublas is not mapped");
    ok(rlvr_cublas_load(err, sizeof err) == -1, "rlvr_cublas_load fails without CUDA");
    is_str(err, "built without CUDA", "and says why");
    ok(rlvr_cublas_load(NULL, 0) == -1, "err may be NULL");
    return done_testing();
}

#else

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <cublas_v2.h>
#pragma GCC diagnostic pop
#include <cuda_runtime_api.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

/* A child's checks travel to the parent over a pipe, one per line:
 * "1 name" or "0 name\tdiagnostic". */
static int child_fd = -1;

static void child_ok(int cond, const char *name, const char *diagnostic)
{
    char line[1536];
    int n = snprintf(line, sizeof line, "%d %s%s%s\n", cond ? 1 : 0, name, cond ? "" : "\t",
                     cond ? "" : diagnostic ? diagnostic : "");
    if (n > (int)sizeof line - 1) n = (int)sizeof line - 1, line[n - 1] = '\n';
    if (write(child_fd, line, (size_t)n) != n) _exit(3);
}

/* Runs body() in a child with RLVR_CUBLAS_LIBRARY=library; reports its checks. */
static void in_child(const char *library, void (*body)(const char *library))
{
    int fds[2];
    if (pipe(fds) != 0) {
        ok(0, "pipe for the child with RLVR_CUBLAS_LIBRARY=%s", library);
        return;
    }
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) {
        ok(0, "fork for the child with RLVR_CUBLAS_LIBRARY=%s", library);
        return;
    }
    if (pid == 0) {
        close(fds[0]);
        child_fd = fds[1];
        setenv("RLVR_CUBLAS_LIBRARY", library, 1);
        body(library);
        _exit(0);
    }
    close(fds[1]);
    FILE *f = fdopen(fds[0], "r");
    char line[2048];
    int checks = 0;
    while (f && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (tab) *tab++ = '\0';
        checks++;
        ok(line[0] == '1', "[RLVR_CUBLAS_LIBRARY=%s] %s", library, line + 2);
        if (line[0] != '1' && tab) diag("  %s", tab);
    }
    if (f) fclose(f);
    int status = 0;
    waitpid(pid, &status, 0);
    ok(WIFEXITED(status) && WEXITSTATUS(status) == 0 && checks > 0,
       "[RLVR_CUBLAS_LIBRARY=%s] the child ran its %d checks and exited 0", library, checks);
}

/* A library that cannot be used: everything fails, plainly, and the reason
 * names `expect` (the file, or the missing function). */
static void check_refused(const char *library, const char *expect)
{
    char err[1024] = "", again[1024] = "", line[1200];
    int rc = rlvr_cublas_load(err, sizeof err);
    child_ok(rc == -1, "rlvr_cublas_load fails", err);
    child_ok(strncmp(err, "cannot load cuBLAS (RLVR_CUBLAS_LIBRARY): ", 42) == 0,
             "its message says that cuBLAS cannot be loaded, and why the file was tried", err);
    snprintf(line, sizeof line, "its message names %s", expect);
    child_ok(strstr(err, expect) != NULL, line, err);
    child_ok(strstr(err, library) != NULL, "its message names the file", err);
    rlvr_cublas_load(again, sizeof again);
    child_ok(strcmp(err, again) == 0, "a second call says the same (loading is tried once)", again);

    cublasHandle_t h = (cublasHandle_t)(uintptr_t)0x1234;
    child_ok(cublasCreate(&h) == CUBLAS_STATUS_NOT_INITIALIZED, "cublasCreate: CUBLAS_STATUS_NOT_INITIALIZED", NULL);
    child_ok(h == (cublasHandle_t)(uintptr_t)0x1234, "cublasCreate leaves the handle untouched", NULL);
    child_ok(cublasSetMathMode(h, CUBLAS_DEFAULT_MATH) == CUBLAS_STATUS_NOT_INITIALIZED,
             "cublasSetMathMode: CUBLAS_STATUS_NOT_INITIALIZED", NULL);
    child_ok(cublasSetWorkspace(h, NULL, 0) == CUBLAS_STATUS_NOT_INITIALIZED,
             "cublasSetWorkspace: CUBLAS_STATUS_NOT_INITIALIZED", NULL);
    float alpha = 1, beta = 0;
    child_ok(cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &alpha, NULL, CUDA_R_32F, 1, NULL, CUDA_R_32F, 1,
                          &beta, NULL, CUDA_R_32F, 1, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT) ==
                 CUBLAS_STATUS_NOT_INITIALIZED,
             "cublasGemmEx: CUBLAS_STATUS_NOT_INITIALIZED", NULL);
    child_ok(cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, 1, 1, 1, &alpha, NULL, CUDA_R_32F, 1, 1, NULL,
                                        CUDA_R_32F, 1, 1, &beta, NULL, CUDA_R_32F, 1, 1, 1, CUBLAS_COMPUTE_32F,
                                        CUBLAS_GEMM_DEFAULT) == CUBLAS_STATUS_NOT_INITIALIZED,
             "cublasGemmStridedBatchedEx: CUBLAS_STATUS_NOT_INITIALIZED", NULL);
    child_ok(cublasDestroy(h) == CUBLAS_STATUS_NOT_INITIALIZED, "cublasDestroy: CUBLAS_STATUS_NOT_INITIALIZED",
             NULL);
    const char *s = cublasGetStatusString(CUBLAS_STATUS_NOT_INITIALIZED);
    child_ok(s && strcmp(s, err) == 0, "cublasGetStatusString gives the reason", s);
    child_ok(mapped("libcublas") == 0, "nothing of cuBLAS is mapped", NULL);
}

static void missing_file(const char *library)
{
    check_refused(library, "No such file");
}

static void not_cublas(const char *library)
{
    check_refused(library, "cublasCreate_v2");
}

static void full_path(const char *library)
{
    char err[1024] = "";
    child_ok(rlvr_cublas_load(err, sizeof err) == 0, "rlvr_cublas_load loads the file named", err);
    char real[4096];
    child_ok(realpath(library, real) && mapped(real) == 1, "that very file is mapped", library);
    const char *s = cublasGetStatusString(CUBLAS_STATUS_SUCCESS);
    child_ok(s && strncmp(s, "cannot load", 11) != 0, "cublasGetStatusString is cuBLAS's", s);
}

/* C = A B by hand for column-major A (m x k) and B (k x n). */
static void product(int m, int n, int k, const float *a, const float *b, float *c)
{
    for (int j = 0; j < n; j++)
        for (int i = 0; i < m; i++) {
            float s = 0;
            for (int p = 0; p < k; p++) s += a[i + p * m] * b[p + j * k];
            c[i + j * m] = s;
        }
}

/* With a GPU: cuBLAS through the forwarders, on a device. */
static void on_device(void)
{
    enum { M = 3, N = 2, K = 4, BATCH = 2 };
    float a[BATCH * M * K], b[BATCH * K * N], want[BATCH * M * N], got[BATCH * M * N];
    for (int i = 0; i < BATCH * M * K; i++) a[i] = (float)(i % 7) - 3;
    for (int i = 0; i < BATCH * K * N; i++) b[i] = (float)(i % 5) * 0.5f - 1;
    for (int i = 0; i < BATCH; i++) product(M, N, K, a + i * M * K, b + i * K * N, want + i * M * N);

    cublasHandle_t h = NULL;
    void *da = NULL, *db = NULL, *dc = NULL, *work = NULL;
    cublasStatus_t st = cublasCreate(&h);
    ok(st == CUBLAS_STATUS_SUCCESS && h, "cublasCreate on the device (%s)", cublasGetStatusString(st));
    if (st != CUBLAS_STATUS_SUCCESS) return;
    st = cublasSetMathMode(h, CUBLAS_DEFAULT_MATH);
    ok(st == CUBLAS_STATUS_SUCCESS, "cublasSetMathMode (%s)", cublasGetStatusString(st));
    int mem = cudaMalloc(&da, sizeof a) == cudaSuccess && cudaMalloc(&db, sizeof b) == cudaSuccess &&
              cudaMalloc(&dc, sizeof got) == cudaSuccess && cudaMalloc(&work, 1 << 20) == cudaSuccess &&
              cudaMemcpy(da, a, sizeof a, cudaMemcpyHostToDevice) == cudaSuccess &&
              cudaMemcpy(db, b, sizeof b, cudaMemcpyHostToDevice) == cudaSuccess;
    ok(mem, "device memory for the products");
    if (mem) {
        st = cublasSetWorkspace(h, work, 1 << 20);
        ok(st == CUBLAS_STATUS_SUCCESS, "cublasSetWorkspace (%s)", cublasGetStatusString(st));
        float alpha = 1, beta = 0;
        st = cublasGemmEx(h, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, &alpha, da, CUDA_R_32F, M, db, CUDA_R_32F, K, &beta,
                          dc, CUDA_R_32F, M, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        ok(st == CUBLAS_STATUS_SUCCESS, "cublasGemmEx (%s)", cublasGetStatusString(st));
        memset(got, 0, sizeof got);
        ok(cudaMemcpy(got, dc, sizeof(float) * M * N, cudaMemcpyDeviceToHost) == cudaSuccess, "its result copied back");
        double worst = 0;
        for (int i = 0; i < M * N; i++) worst = fmax(worst, fabs(got[i] - want[i]));
        is_num(worst, 0, 1e-5, "cublasGemmEx: C = A B (%dx%dx%d, fp32) as by hand", M, N, K);
        st = cublasGemmStridedBatchedEx(h, CUBLAS_OP_N, CUBLAS_OP_N, M, N, K, &alpha, da, CUDA_R_32F, M, M * K, db,
                                        CUDA_R_32F, K, K * N, &beta, dc, CUDA_R_32F, M, M * N, BATCH,
                                        CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        ok(st == CUBLAS_STATUS_SUCCESS, "cublasGemmStridedBatchedEx (%s)", cublasGetStatusString(st));
        memset(got, 0, sizeof got);
        ok(cudaMemcpy(got, dc, sizeof got, cudaMemcpyDeviceToHost) == cudaSuccess, "its result copied back");
        worst = 0;
        for (int i = 0; i < BATCH * M * N; i++) worst = fmax(worst, fabs(got[i] - want[i]));
        is_num(worst, 0, 1e-5, "cublasGemmStridedBatchedEx: %d products as by hand", BATCH);
    }
    st = cublasDestroy(h);
    ok(st == CUBLAS_STATUS_SUCCESS, "cublasDestroy (%s)", cublasGetStatusString(st));
    cudaFree(da), cudaFree(db), cudaFree(dc), cudaFree(work);
}

int main(void)
{
    ok(mapped("libcublas") == 0, "before the first call, libcublas is not mapped");

    /* Each child forks before this process has loaded anything. */
    in_child("/nonexistent/" RLVR_CUBLAS_SONAME, missing_file);
    in_child("libm.so.6", not_cublas);
    in_child(RLVR_CUBLAS_PATH, full_path);
    ok(mapped("libcublas") == 0, "the children left this process without cuBLAS");

    char err[1024] = "";
    int rc = rlvr_cublas_load(err, sizeof err);
    ok(rc == 0, "rlvr_cublas_load loads %s", RLVR_CUBLAS_SONAME);
    if (rc != 0) diag("  %s", err);
    ok(mapped("/" RLVR_CUBLAS_SONAME) == 1, "%s is now mapped", RLVR_CUBLAS_SONAME);
    ok(rlvr_cublas_load(NULL, 0) == 0, "a second call succeeds too (err may be NULL)");

    void *lib = dlopen(RLVR_CUBLAS_SONAME, RTLD_NOW | RTLD_NOLOAD);
    ok(lib != NULL, "dlopen(RTLD_NOLOAD) finds the library loaded");
    const char *(*real)(cublasStatus_t) = NULL;
    if (lib) {
        void *sym = dlsym(lib, "cublasGetStatusString");
        memcpy(&real, &sym, sizeof sym);
    }
    ok(real != NULL && real != cublasGetStatusString,
       "the library's cublasGetStatusString is its own, not the forwarder of that name");
    const char *want = real ? real(CUBLAS_STATUS_SUCCESS) : NULL;
    const char *got = cublasGetStatusString(CUBLAS_STATUS_SUCCESS);
    is_str(got, want, "cublasGetStatusString(CUBLAS_STATUS_SUCCESS) is the library's string");
    ok(got && strncmp(got, "cannot load", 11) != 0, "and not a loading failure");
    ok(dlsym(RTLD_DEFAULT, "cublasCreate_v2") == NULL && dlsym(RTLD_DEFAULT, "cublasGemmEx") == NULL,
       "neither the forwarders nor cuBLAS are in the global scope");
    if (lib) dlclose(lib);

    if (rlvr_gpu_available() > 0)
        on_device();
    else
        ok(1, "cuBLAS on a device # SKIP no GPU");
    return done_testing();
}

#endif
