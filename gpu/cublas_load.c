/*
 * cublas_load.c -- cuBLAS, loaded on first use (dlopen) instead of linked.
 *
 * A CUDA build of rlvr links the CUDA runtime but not cuBLAS: linking it made
 * every rlvr process, even one that never leaves the CPU, map libcublas and
 * libcublasLt at start (about 90 ms and 225 MB resident for `rlvr --help`).
 * Instead this file defines the cuBLAS functions that gpu/ calls, under their
 * own names and with the prototypes of <cublas_v2.h> (a definition that differs
 * from the header's declaration does not compile, and each function pointer
 * has the type __typeof__ of that declaration), so the .cu files call cuBLAS
 * as usual. The first call to any of them (or to rlvr_cublas_load) opens the
 * library once (pthread_once) and looks each function up; later calls go
 * straight through the pointer. A call to a function of cuBLAS that is not
 * defined here fails to link: add it to CUBLAS_FUNCS and write its forwarder.
 *
 * Which file: $RLVR_CUBLAS_LIBRARY when set (for tests and unusual
 * installs; nothing else is tried then); else the soname that configure read
 * from the cuBLAS it found (RLVR_CUBLAS_SONAME, e.g. libcublas.so.13), which
 * the dynamic loader looks for along the program's run path (CUDA_LIBS sets
 * it to $CUDA_HOME/lib64), LD_LIBRARY_PATH and ld.so.cache; then the full
 * path configure saw (RLVR_CUBLAS_PATH). If the library cannot be opened or
 * lacks a function, every forwarder returns CUBLAS_STATUS_NOT_INITIALIZED and
 * cublasGetStatusString returns the reason ("cannot load cuBLAS: <file>:
 * <dlerror>"), so the callers' existing messages ("gpu model: cuBLAS: %s")
 * say what went wrong. Nothing here prints or exits.
 *
 * Why defining cuBLAS's names is safe. (1) Each function is looked up with
 * dlsym(handle, name) on the handle of the library just opened, which
 * searches that library (and its dependencies), never the program: it finds
 * cuBLAS's own definition, not the forwarder of the same name here (which
 * RTLD_DEFAULT or RTLD_NEXT could find, calling itself forever). (2) The
 * forwarders have hidden visibility: they never enter the dynamic symbol
 * table of the program or shared library they are linked into, so they
 * cannot interpose on cuBLAS's calls to its own functions, nor on another
 * library's use of cuBLAS in the same process (PyTorch beside librlvr_score
 * in one Python process). (3) The library is opened RTLD_LOCAL: its symbols
 * do not join the global scope either. tests/test_cublas_load.c checks (1)
 * and (2); tests/test_cublas_needed.py checks that rlvr neither needs nor
 * exports any cuBLAS symbol.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* dlinfo (the autotools build defines it everywhere) */
#endif
#include "gpu.h"

/* CUDA 13's fp16/bf16 headers, which cublas_api.h includes, test
 * __cplusplus and _MSC_FULL_VER without defining them: -Wundef is off for
 * them alone. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wundef"
#include <cublas_v2.h>
#pragma GCC diagnostic pop
#include <dlfcn.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RLVR_CUBLAS_SONAME
#error "RLVR_CUBLAS_SONAME (the soname of cuBLAS, e.g. \"libcublas.so.13\") must be defined by the build"
#endif

#define RLVR_HIDDEN __attribute__((visibility("hidden")))

/* The functions forwarded: every cuBLAS function that gpu/ calls. */
#define CUBLAS_FUNCS(X)                                                                         \
    X(cublasCreate_v2)                                                                          \
    X(cublasDestroy_v2)                                                                         \
    X(cublasSetMathMode)                                                                        \
    X(cublasSetWorkspace_v2)                                                                    \
    X(cublasGetStatusString)                                                                    \
    X(cublasGemmEx)                                                                             \
    X(cublasGemmStridedBatchedEx)

#define CUBLAS_POINTER(name) __typeof__(name) *name;
static struct {
    CUBLAS_FUNCS(CUBLAS_POINTER)
} fn;
#undef CUBLAS_POINTER

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int loaded;     /* written once, inside `once`: 1 when every function resolved */
static char why[1024]; /* written once, inside `once`: the reason when not loaded */

/* Appends "; file: error" (or the first "file: error") to list[size],
 * naming the file where dlerror's text does not already. */
static void append_error(char *list, size_t size, const char *file, const char *error)
{
    size_t used = strlen(list);
    if (!error) error = "unknown error";
    if (used + 1 >= size) return;
    snprintf(list + used, size - used, "%s%s%s%s", used ? "; " : "", strstr(error, file) ? "" : file,
             strstr(error, file) ? "" : ": ", error);
}

static void *open_library(const char *file, char *tried, size_t tried_size)
{
    void *h = dlopen(file, RTLD_NOW | RTLD_LOCAL);
    if (!h) append_error(tried, tried_size, file, dlerror());
    return h;
}

static void load(void)
{
    const char *env = getenv("RLVR_CUBLAS_LIBRARY");
    char tried[sizeof why - 64] = "";
    void *h;
    if (env && *env) {
        h = open_library(env, tried, sizeof tried);
    } else {
        h = open_library(RLVR_CUBLAS_SONAME, tried, sizeof tried);
#ifdef RLVR_CUBLAS_PATH
        if (!h && strcmp(RLVR_CUBLAS_PATH, RLVR_CUBLAS_SONAME) != 0)
            h = open_library(RLVR_CUBLAS_PATH, tried, sizeof tried);
#endif
    }
    const char *head = env && *env ? "cannot load cuBLAS (RLVR_CUBLAS_LIBRARY)" : "cannot load cuBLAS";
    if (!h) {
        snprintf(why, sizeof why, "%s: %s", head, tried);
        return;
    }
    /* The file that was opened, to name it if a function is missing. */
    tried[0] = '\0';
    const char *file = env && *env ? env : RLVR_CUBLAS_SONAME;
    struct link_map *map = NULL;
    if (dlinfo(h, RTLD_DI_LINKMAP, &map) == 0 && map && map->l_name && *map->l_name) file = map->l_name;
#define CUBLAS_RESOLVE(name)                                                                    \
    {                                                                                           \
        dlerror();                                                                              \
        void *sym = dlsym(h, #name);                                                            \
        if (!sym) {                                                                             \
            append_error(tried, sizeof tried, file, dlerror());                                 \
            snprintf(why, sizeof why, "%s: %s", head, tried);                                    \
            memset(&fn, 0, sizeof fn);                                                          \
            dlclose(h);                                                                         \
            return;                                                                             \
        }                                                                                       \
        _Static_assert(sizeof fn.name == sizeof sym, "a function pointer is a data pointer's size"); \
        memcpy(&fn.name, &sym, sizeof sym);                                                     \
    }
    CUBLAS_FUNCS(CUBLAS_RESOLVE)
#undef CUBLAS_RESOLVE
    loaded = 1;
}

/* 1 when cuBLAS is loaded (loading it on the first call). */
static int ready(void)
{
    pthread_once(&once, load);
    return loaded;
}

int rlvr_cublas_load(char *err, size_t err_len)
{
    if (ready()) return 0;
    if (err && err_len) snprintf(err, err_len, "%s", why);
    return -1;
}

/* ---- the forwarders: cuBLAS's names and prototypes, hidden (see above) ---- */

RLVR_HIDDEN cublasStatus_t cublasCreate_v2(cublasHandle_t *handle)
{
    return ready() ? fn.cublasCreate_v2(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

RLVR_HIDDEN cublasStatus_t cublasDestroy_v2(cublasHandle_t handle)
{
    return ready() ? fn.cublasDestroy_v2(handle) : CUBLAS_STATUS_NOT_INITIALIZED;
}

RLVR_HIDDEN cublasStatus_t cublasSetMathMode(cublasHandle_t handle, cublasMath_t mode)
{
    return ready() ? fn.cublasSetMathMode(handle, mode) : CUBLAS_STATUS_NOT_INITIALIZED;
}

RLVR_HIDDEN cublasStatus_t cublasSetWorkspace_v2(cublasHandle_t handle, void *workspace, size_t workspaceSizeInBytes)
{
    return ready() ? fn.cublasSetWorkspace_v2(handle, workspace, workspaceSizeInBytes) : CUBLAS_STATUS_NOT_INITIALIZED;
}

/* Not loaded: the reason, whatever the status (every status the callers can
 * hold then is a forwarder's CUBLAS_STATUS_NOT_INITIALIZED). */
RLVR_HIDDEN const char *cublasGetStatusString(cublasStatus_t status)
{
    return ready() ? fn.cublasGetStatusString(status) : why;
}

RLVR_HIDDEN cublasStatus_t cublasGemmEx(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                                        int m, int n, int k, const void *alpha, const void *A, cudaDataType Atype,
                                        int lda, const void *B, cudaDataType Btype, int ldb, const void *beta, void *C,
                                        cudaDataType Ctype, int ldc, cublasComputeType_t computeType,
                                        cublasGemmAlgo_t algo)
{
    if (!ready()) return CUBLAS_STATUS_NOT_INITIALIZED;
    return fn.cublasGemmEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, B, Btype, ldb, beta, C, Ctype, ldc,
                           computeType, algo);
}

RLVR_HIDDEN cublasStatus_t cublasGemmStridedBatchedEx(cublasHandle_t handle, cublasOperation_t transa,
                                                      cublasOperation_t transb, int m, int n, int k,
                                                      const void *alpha, const void *A, cudaDataType Atype, int lda,
                                                      long long int strideA, const void *B, cudaDataType Btype,
                                                      int ldb, long long int strideB, const void *beta, void *C,
                                                      cudaDataType Ctype, int ldc, long long int strideC,
                                                      int batchCount, cublasComputeType_t computeType,
                                                      cublasGemmAlgo_t algo)
{
    if (!ready()) return CUBLAS_STATUS_NOT_INITIALIZED;
    return fn.cublasGemmStridedBatchedEx(handle, transa, transb, m, n, k, alpha, A, Atype, lda, strideA, B, Btype,
                                         ldb, strideB, beta, C, Ctype, ldc, strideC, batchCount, computeType, algo);
}
