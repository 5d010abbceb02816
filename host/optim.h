/*
 * optim.h -- the policy's optimizer: AdamW with decoupled weight decay,
 * gradient clipping by global norm, and learning-rate schedules (constant,
 * linear, cosine; each with linear warmup), with torch's and Hugging Face
 * transformers' semantics, so that a run configured as in TRL behaves the
 * same here.
 *
 *   torch.nn.utils.clip_grad_norm_   coef = max_norm / (norm + 1e-6), applied
 *                                    only when it is below 1
 *   torch.optim.AdamW                p -= lr * wd * p; m, v moments; bias
 *                                    corrections 1 - beta^t
 *   transformers' schedules          the multiplier at the optimizer's k-th
 *                                    step (k from 0) is lambda(k): with
 *                                    warmup, the first step's rate is 0
 *
 * Weight decay applies to the tensors the model marks (matrices, the
 * embedding included) and not to biases and norm weights, as the HF Trainer
 * groups parameters. State (moments and step count) is one allocation and
 * can be saved and loaded for exact resume. libc and libm only.
 */
#ifndef RLVR_OPTIM_H
#define RLVR_OPTIM_H

#include <stddef.h>

#include "model.h"

enum rlvr_lr_schedule { RLVR_LR_CONSTANT = 0, RLVR_LR_LINEAR = 1, RLVR_LR_COSINE = 2 };

struct rlvr_optim_config {
    double lr;                   /* peak learning rate (TRL's default 1e-6 for GRPO) */
    double beta1, beta2, eps;    /* 0.9, 0.999, 1e-8 */
    double weight_decay;         /* 0.0 (transformers' default) */
    double max_grad_norm;        /* 1.0; 0 turns clipping off */
    int schedule;                /* enum rlvr_lr_schedule */
    long warmup_steps;           /* linear warmup from 0 */
    long total_steps;            /* linear and cosine decay over this many steps */
    double min_lr_ratio;         /* cosine floor as a fraction of lr (0) */
};

void rlvr_optim_config_default(struct rlvr_optim_config *c);
int rlvr_optim_config_check(const struct rlvr_optim_config *c, char *err, size_t err_len);
/* The learning rate of the optimizer step with index `step` (from 0). */
double rlvr_lr_at(const struct rlvr_optim_config *c, long step);
/* Parses "constant", "linear" or "cosine"; -1 when unknown. */
int rlvr_lr_schedule_parse(const char *name);

struct rlvr_adamw {
    struct rlvr_optim_config cfg;
    size_t n;                    /* parameters */
    long step;                   /* optimizer steps taken */
    float *m, *v;                /* [n] each, one allocation */
};

int rlvr_adamw_create(struct rlvr_adamw *o, size_t n_params, const struct rlvr_optim_config *c,
                      char *err, size_t err_len);
void rlvr_adamw_free(struct rlvr_adamw *o);

/* What one step did. */
struct rlvr_optim_stats {
    double grad_norm;            /* before clipping */
    double lr;                   /* the rate used */
    int clipped;                 /* 1 when the gradients were scaled down */
};

/* One step over the model's parameters with its gradients (which are scaled
 * in place when clipped, and not zeroed). A non-finite gradient norm refuses
 * the step: nothing changes, the step count included, and the caller is
 * told. */
int rlvr_adamw_step(struct rlvr_adamw *o, struct rlvr_model *m, struct rlvr_optim_stats *stats,
                    char *err, size_t err_len);

/* The state as one binary file (magic, version, n, step, m, v), written to
 * a temporary name and renamed; load checks that n matches. */
int rlvr_adamw_save(const struct rlvr_adamw *o, const char *path, char *err, size_t err_len);
int rlvr_adamw_load(struct rlvr_adamw *o, const char *path, char *err, size_t err_len);

#endif
