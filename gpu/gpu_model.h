/*
 * gpu_model.h -- part of gpu.h (included by it, never on its own).
 */
#ifndef RLVR_GPU_MODEL_H
#define RLVR_GPU_MODEL_H

#endif
