/*
 * generate_gpu.c -- see generate_gpu.h.
 */
#include "generate_gpu.h"

#include "gpu.h"
