/*
 * train_gpu.c -- see train_gpu.h.
 */
#include "train_gpu.h"

#include "gpu.h"
