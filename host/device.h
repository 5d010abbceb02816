/*
 * device.h -- the `device` key of rlvr sft, train, eval and sample: where a
 * command runs ("cpu", "cuda" or "auto"), resolved once, before any work,
 * by one helper that every command shares.
 *
 * Invariants: the value is one of the three words (anything else is refused,
 * naming the key); "cuda" resolves to the GPU only when the command has a
 * GPU path, the build has CUDA and a device is present, and otherwise is
 * refused with the reason; "auto" never fails on a sound value: it picks the
 * GPU under the same three conditions, else the CPU, and says which it
 * picked (one line on stderr, the only output of this module); "cpu" (the
 * default, also a missing key) changes nothing and prints nothing.
 */
#ifndef RLVR_DEVICE_H
#define RLVR_DEVICE_H

#include <stddef.h>

enum rlvr_device { RLVR_DEVICE_CPU = 0, RLVR_DEVICE_CUDA = 1 };

/* The key's help line, shared by the commands' key tables. */
#define RLVR_DEVICE_HELP "\"cpu\", \"cuda\" or \"auto\" (GPU when present and the command has a GPU path) (cpu)"

/* Resolves value (NULL: "cpu") for the command named cmd ("rlvr sft").
 * no_gpu_path is NULL when the command has a GPU path, else why it has none
 * (a phrase such as "the GRPO trainer has no GPU path yet (rlvr sft has
 * one)"). On success *out is set and 0 returned; "auto" writes one line on
 * stderr naming what it picked and why. On a refusal, -1 with a message in
 * err[err_len] that begins with the key and its value. */
int rlvr_device_resolve(const char *cmd, const char *value, const char *no_gpu_path, enum rlvr_device *out,
                        char *err, size_t err_len);

#endif
