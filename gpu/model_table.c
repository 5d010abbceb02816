/*
 * model_table.c -- the host-side helper of gpu_model.h that needs no CUDA
 * (built in every configuration, with or without the kernels): the RoPE
 * cos/sin table, computed exactly as host/model.c computes its angles, so
 * that the GPU rotates by the very same float values as the CPU.
 * libc and libm only.
 */
#include "gpu.h"

#include <math.h>

void rlvr_gpu_rope_table(float *cos_sin, int T, int hd, double theta)
{
    int half = hd / 2;
    for (int p = 0; p < T; p++)
        for (int i = 0; i < half; i++) {
            /* host/model.c rope_inv_freq and rope: float inv_freq, float angle */
            float inv = 1.0f / (float)pow(theta, (double)(2 * i) / (double)hd);
            float ang = (float)p * inv;
            cos_sin[(size_t)p * hd + i] = (float)cos((double)ang);
            cos_sin[(size_t)p * hd + half + i] = (float)sin((double)ang);
        }
}
