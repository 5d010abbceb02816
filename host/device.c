/*
 * device.c -- resolves the `device` key (device.h): "cpu", "cuda" or
 * "auto", checked against the command's GPU path, the build (CUDA or not)
 * and the machine (rlvr_gpu_available, rlvr_gpu_describe, rlvr_cublas_load
 * in gpu/gpu.h).
 *
 * Invariants: nothing here starts work on the device beyond the runtime's
 * own query; a refusal names the key, its value and one reason (no GPU
 * path, built without CUDA, cuBLAS that cannot be loaded, no device with the
 * runtime's description); the only output is the single line "auto" writes
 * on stderr. cuBLAS is opened on first use (gpu/cublas_load.c), so a GPU
 * choice opens it here, where a missing library is one clear refusal (or
 * "auto"'s reason to stay on the CPU) rather than a failure mid-run.
 */
#include <stdio.h>
#include <string.h>

#include "device.h"
#include "gpu.h"
#include "util.h"

/* Why the GPU cannot be used now (NULL: it can), into why[len]. */
static const char *gpu_obstacle(const char *no_gpu_path, char *why, size_t len)
{
    if (no_gpu_path) {
        snprintf(why, len, "%s", no_gpu_path);
        return why;
    }
    char desc[512], blas[400];
    if (rlvr_gpu_describe(desc, sizeof desc))
        snprintf(desc, sizeof desc, "no description");
    if (strstr(desc, "without CUDA")) {
        snprintf(why, len, "this rlvr was built without CUDA");
        return why;
    }
    if (rlvr_cublas_load(blas, sizeof blas)) {
        snprintf(why, len, "%s", blas);
        return why;
    }
    if (rlvr_gpu_available())
        return NULL;
    snprintf(why, len, "no CUDA device: %s", desc);
    return why;
}

int rlvr_device_resolve(const char *cmd, const char *value, const char *no_gpu_path, enum rlvr_device *out,
                        char *err, size_t err_len)
{
    char why[700];
    if (!value || !strcmp(value, "cpu")) {
        *out = RLVR_DEVICE_CPU;
        return 0;
    }
    if (!strcmp(value, "cuda")) {
        if (gpu_obstacle(no_gpu_path, why, sizeof why)) {
            rlvr_errf(err, err_len, "device = \"cuda\": %s; use device = \"cpu\"", why);
            return -1;
        }
        *out = RLVR_DEVICE_CUDA;
        return 0;
    }
    if (!strcmp(value, "auto")) {
        if (gpu_obstacle(no_gpu_path, why, sizeof why)) {
            *out = RLVR_DEVICE_CPU;
            fprintf(stderr, "%s: device = \"auto\": the CPU (%s)\n", cmd, why);
        } else {
            char desc[512];
            rlvr_gpu_describe(desc, sizeof desc);
            *out = RLVR_DEVICE_CUDA;
            fprintf(stderr, "%s: device = \"auto\": the GPU (%s)\n", cmd, desc);
        }
        return 0;
    }
    rlvr_errf(err, err_len, "'device' must be \"cpu\", \"cuda\" or \"auto\", not \"%.100s\"", value);
    return -1;
}
