/*
 * generate_gpu.h -- generation with the policy on the GPU (gpu/gpu_model.h's
 * KV cache and step), with the semantics of generate.h's rlvr_generate.
 */
#ifndef RLVR_GENERATE_GPU_H
#define RLVR_GENERATE_GPU_H

#include "generate.h"

#endif
