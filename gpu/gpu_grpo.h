/*
 * gpu_grpo.h -- part of gpu.h (included by it, never on its own).
 */
#ifndef RLVR_GPU_GRPO_H
#define RLVR_GPU_GRPO_H

#endif
