/*
 * grpo.h -- the GRPO numeric core on the CPU: token log-probabilities from
 * logits, the per-token policy loss with its aggregation and metrics, and the
 * gradient of the loss with respect to the logits.
 *
 * This is the reference that the CUDA kernels (gpu/) are held to, and the
 * code the trainer calls on the CPU. It depends on libc and libm only. The
 * conventions it shares with the GPU side (loss types, KL estimators,
 * importance-ratio levels, the log-ratio clamp, struct rlvr_grpo_config) are
 * defined once, in gpu/gpu.h; DESIGN.md's "GRPO, as the field defines it"
 * states them in words.
 *
 * A training step on a micro-batch of B completions padded to T tokens, with
 * a vocabulary of V, is three calls:
 *
 *   rlvr_logprobs            logits [B*T, V] + tokens [B*T] -> logp [B*T],
 *                            lse [B*T] (and entropy [B*T] if wanted)
 *   rlvr_grpo_loss           logp, old_logp, ref_logp [B, T], advantages [B],
 *                            mask [B, T] -> loss, metrics, dlogp [B, T]
 *   rlvr_logprobs_backward   dlogp, lse, logits -> dlogits [B*T, V],
 *                            in place over the logits if the caller wants
 *
 * No [B*T, V] probability array is ever allocated: softmax values are
 * recomputed from the logits and the saved log-sum-exp, one vocabulary chunk
 * at a time, and written straight into the gradient.
 *
 * Conventions: arrays are row-major, shapes in brackets; a status is returned
 * (0, or -1 with a one-line message in err[err_len], which may be NULL);
 * nothing here prints, exits or keeps state between calls.
 */
#ifndef RLVR_GRPO_H
#define RLVR_GRPO_H

#include <stddef.h>
#include <stdint.h>

#include "gpu.h"

/* ---- log-probabilities -------------------------------------------------------- */

/* Log-probabilities of the taken tokens under softmax(logits / temperature):
 *   logits[n, vocab]  raw logits, one row per token position; -Inf entries
 *                     are allowed (masked vocabulary), NaN and +Inf are not.
 *   tokens[n]         the token taken at each position, 0 <= id < vocab.
 *   rows[n]           optional (NULL = every row): rows with 0 are skipped
 *                     (padding); their outputs are set to 0 and their
 *                     logits and tokens are never read.
 *   temperature       > 0 and finite; TRL divides the logits by the
 *                     sampling temperature before the log-softmax.
 *   logp[n]           out: z[token] - lse, z = logits / temperature.
 *   lse[n]            optional out: log(sum(exp(z))), which
 *                     rlvr_logprobs_backward needs (it recomputes it if not
 *                     given).
 *   entropy[n]        optional out: -sum(p * log p) of the row.
 * Each row is read once from memory, in chunks of RLVR_LOGPROB_CHUNK
 * entries: the chunk's maximum, then its sum of exp() (and sum of p * z for
 * the entropy), merged into running values rescaled to the larger maximum
 * (the online log-sum-exp). Sums are kept in float within a chunk and in
 * double across chunks. Refused (with the row named): a token out of range,
 * a row whose log-sum-exp or taken logit is not finite. */
#define RLVR_LOGPROB_CHUNK 4096
int rlvr_logprobs(const float *logits, const int32_t *tokens, const uint8_t *rows, size_t n,
                  size_t vocab, float temperature, float *logp, float *lse, float *entropy,
                  char *err, size_t err_len);

/* The gradient of a loss L with respect to the logits, given dL/dlogp:
 *   dlogits[t, v] = dlogp[t] / temperature * ([v == tokens[t]] - p[t, v]),
 *   p[t, v] = exp(logits[t, v] / temperature - lse[t]).
 * dlogits may be the logits array itself (in place: each entry is read
 * before it is written). lse may be NULL (recomputed). Rows with dlogp 0 or
 * rows[t] == 0 get an all-zero gradient without reading their logits.
 * Written, not accumulated: a caller accumulating micro-batches adds the
 * result to its own buffer. */
int rlvr_logprobs_backward(const float *logits, const int32_t *tokens, const uint8_t *rows,
                           const float *lse, const float *dlogp, size_t n, size_t vocab,
                           float temperature, float *dlogits, char *err, size_t err_len);

/* ---- the policy loss ------------------------------------------------------------ */

/* R1's defaults (DESIGN.md): loss_type grpo, beta 0.001, epsilon 0.2 on both
 * sides, token-level ratios, k3 KL, no delta, no dual clip, truncated
 * completions kept, max_completion_length 256 (TRL's), one accumulation step. */
void rlvr_grpo_config_default(struct rlvr_grpo_config *cfg);

/* rlvr_grpo_config_check(cfg, err, err_len), the configuration's check,
 * is declared in gpu.h beside the struct (gpu/grpo_check.c, shared with
 * the GPU loss). */

/* One micro-batch of B completions, each padded to T positions:
 *   logp[B, T]        log pi_theta of the taken tokens (rlvr_logprobs).
 *   old_logp[B, T]    log pi_old from the sampling policy; NULL when the
 *                     batch is used for a single update (then old = logp,
 *                     detached: the ratio is 1 and its gradient is logp's).
 *   ref_logp[B, T]    log pi_ref; needed when beta > 0, and used for the kl
 *                     metric whenever given.
 *   advantages[B]     one per completion (rlvr_group_advantages).
 *   mask[B, T]        1 = a completion token that counts, 0 = prompt or
 *                     padding; NULL = every position counts. Values at
 *                     masked positions are never read, so padding may hold
 *                     anything, NaN included.
 *   truncated[B]      optional: 1 = the completion hit the length limit;
 *                     with cfg->mask_truncated its tokens leave the loss
 *                     (the sequence still counts in B, as in TRL).
 *   entropy[B, T]     optional: per-token entropy for the entropy metric.
 *   dapo_tokens       loss_type dapo only: the number of active tokens in
 *                     the whole accumulated batch (all micro-batches of the
 *                     optimizer step; TRL's num_items_in_batch divided by
 *                     the number of processes). 0 means this micro-batch's
 *                     own count, allowed only with grad_accum_steps = 1. */
struct rlvr_grpo_batch {
    size_t n_seq, seq_len; /* B, T */
    const float *logp;
    const float *old_logp;
    const float *ref_logp;
    const float *advantages;
    const uint8_t *mask;
    const uint8_t *truncated;
    const float *entropy;
    double dapo_tokens;
};

/* What one micro-batch reports. loss, pg_loss and kl_loss are this
 * micro-batch's contribution to the step's loss (aggregated, divided by
 * grad_accum_steps where the loss type says so): summing them over the
 * micro-batches of a step gives the step's loss. The rest are means over the
 * micro-batch's active tokens (0 when it has none), named as TRL logs them. */
struct rlvr_grpo_metrics {
    double loss;             /* pg_loss + beta * kl_loss */
    double pg_loss;          /* the clipped surrogate part */
    double kl_loss;          /* the KL part, before beta */
    double active_tokens;    /* positions that count after masking */
    double kl;               /* kl: mean per-token KL (needs ref_logp) */
    double entropy;          /* entropy: mean per-token entropy (needs entropy) */
    double clip_low;         /* clip_ratio/low_mean: ratio < 1 - eps_low, A < 0 */
    double clip_high;        /* clip_ratio/high_mean: ratio > 1 + eps_high, A > 0 */
    double clip_region;      /* clip_ratio/region_mean: either of the two */
    double clip_dual;        /* dual-clip bound active (A < 0) */
    double ratio_mean;       /* mean importance ratio */
    double ratio_max;        /* largest importance ratio (after the clamp) */
};

/* The loss of one micro-batch, its metrics, and dL/dlogp:
 *   dlogp[B, T]   out: dL/dlogp at every position (0 where masked); feed it
 *                 to rlvr_logprobs_backward. May be NULL (forward only).
 *   metrics       out; may be NULL.
 * Per active token, with r the importance ratio (per token or per
 * sequence), A the completion's advantage and the clamps of gpu.h:
 *   pg   = max(-A * min(r, delta), -A * clip(r, 1 - eps_low, 1 + eps_high))
 *          (min(r, delta) only when delta > 0)
 *   pg   = min(pg, -dual_clip * A)   where A < 0 and dual_clip > 0
 *   loss = pg + beta * KL            KL by cfg->kl_estimator
 * aggregated by cfg->loss_type with weights w[b, t]:
 *   grpo     1 / (B * max(1, n_b) * G)      n_b: active tokens of sequence b
 *   bnpo     1 / (max(1, N) * G)            N: active tokens of the micro-batch
 *   dapo     1 / max(1, dapo_tokens)
 *   dr_grpo  1 / (B * max_completion_length * G)
 * where G = grad_accum_steps. Gradients follow torch's autograd rules of the
 * same formula: clamped values pass none, the inactive branch of a max/min
 * passes none, and a tie splits it equally (which gives the same value
 * here). Refused, with the position named: a non-finite logp, old_logp,
 * ref_logp or advantage at an active position; ref_logp missing with
 * beta > 0; dapo_tokens missing with accumulation. */
int rlvr_grpo_loss(const struct rlvr_grpo_config *cfg, const struct rlvr_grpo_batch *batch,
                   float *dlogp, struct rlvr_grpo_metrics *metrics, char *err, size_t err_len);

#endif
