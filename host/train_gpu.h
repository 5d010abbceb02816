/*
 * train_gpu.h -- the GRPO policy update of rlvr train on the GPU
 * (gpu/gpu_model.h and gpu/gpu_grpo.h).
 */
#ifndef RLVR_TRAIN_GPU_H
#define RLVR_TRAIN_GPU_H

#include "model.h"

#endif
