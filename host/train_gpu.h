/*
 * train_gpu.h -- the GRPO policy update of rlvr train on the GPU
 * (gpu/gpu_model.h and gpu/gpu_grpo.h), with the semantics of the CPU path
 * in train_cmd.c: per micro-batch rlvr_model_forward -> rlvr_logprobs ->
 * rlvr_grpo_loss -> rlvr_logprobs_backward -> rlvr_model_backward, gradients
 * accumulated over the micro-batches of an optimizer step, then AdamW
 * (host/optim.c's update, clipping and decay) at the schedule's rate.
 *
 * The trainer (train_cmd.c) keeps everything that is bookkeeping: which
 * completions make a micro-batch, how they are laid out as rows, the
 * accumulation count, the DAPO token count, the schedule and the metrics'
 * sums. It hands this module one micro-batch at a time as host arrays
 * (struct rlvr_train_micro, the CPU path's own buffers), so that both
 * devices run the very same bookkeeping.
 *
 * What lives on the device (struct rlvr_train_gpu):
 *  - the policy: a GPU model in fp32 with TF32 off (RLVR_GPU_FP32, the
 *    precision that matches the CPU), its gradients and AdamW's moments
 *    (brought to the host for a checkpoint's optimizer.bin and back for a
 *    resume by rlvr_adamw_from_gpu / rlvr_adamw_to_gpu below, in the CPU's
 *    format, so checkpoints move freely between the devices);
 *  - the reference model when beta > 0: a second GPU model, forward-only
 *    (RLVR_GPU_FORWARD_ONLY: no gradients, one layer's activations reused
 *    by every layer, so it costs its weights, the logits and little else),
 *    chosen over the CPU reference because its forward over the whole batch
 *    would cost as much CPU time as the CPU path's whole step;
 *  - one allocation of micro-batch inputs for the loss (targets, mask,
 *    truncated flags, advantages, old and reference log-probabilities, the
 *    entropy), sized once for max_seqs x max_T.
 * The logits never leave the device: the loss writes dL/dlogits over them
 * and the backward reads them there.
 *
 * With fused_lm_head (rlvr train's fused_lm_head_loss) the logits are never
 * all in memory: both models are created without them (gpu_model.h's
 * RLVR_GPU_NO_LOGITS, 4.64 GiB less per model at Qwen2.5-0.5B's vocabulary
 * and 8 x 1024 positions), and each micro-batch runs
 * rlvr_gpu_model_forward_hidden -> rlvr_gpu_grpo_linear_loss_dev (gpu_grpo.h:
 * the loss from the final hidden states and the LM head, chunk by chunk;
 * dh into the policy's buffer, the head's gradient added into the policy's
 * gradient) -> rlvr_gpu_model_backward_hidden; the reference's
 * log-probabilities come from the same fused call, forward only. The same
 * semantics as the unfused path; other summation orders on a GPU. The
 * fused loss allocates its workspace per call (its chunk of logits, 512 MiB
 * at most by default, and cuBLAS's 32 MiB: gpu_grpo.h), which
 * rlvr_train_gpu_bytes does not count.
 *
 * Invariants: every device call's status is checked and a failure comes
 * back as -1 with a one-line message (nothing prints or exits); the host
 * model's weights are not changed by anything here except
 * rlvr_train_gpu_download, which the trainer calls whenever the CPU needs
 * the current weights (checkpoints, the final save; generation runs on
 * rlvr_train_gpu_policy's model);
 * the gradients are zero between optimizer steps; a refused micro-batch
 * leaves the accumulated gradient of the earlier ones as it was, except
 * that with fused_lm_head a refusal the loss finds on the device (a token,
 * an advantage, old or reference log-probabilities, the logits) may have
 * added part of the micro-batch's LM-head gradient (the trainer stops the
 * run on any failure).
 */
#ifndef RLVR_TRAIN_GPU_H
#define RLVR_TRAIN_GPU_H

#include <stddef.h>
#include <stdint.h>

#include "grpo.h"
#include "model.h"
#include "optim.h"

struct rlvr_train_gpu;

/* Copies the host policy (and the reference, when ref is not NULL) to the
 * current device with room for micro-batches of up to max_seqs sequences
 * of up to max_T positions. The two models must have the same config.
 * fused_lm_head: 1 for the loss fused with the LM head (models without
 * logits; see above), 0 for the loss over the logits. Returns 0, or -1 with
 * a message (no device, out of device memory, a shape the GPU model
 * refuses). */
int rlvr_train_gpu_create(struct rlvr_train_gpu **out, const struct rlvr_model *policy, const struct rlvr_model *ref,
                          int max_seqs, int max_T, int fused_lm_head, char *err, size_t err_len);
void rlvr_train_gpu_free(struct rlvr_train_gpu *t); /* NULL is a no-op */

/* Device memory held now: both models and the micro-batch buffers. */
size_t rlvr_train_gpu_bytes(const struct rlvr_train_gpu *t);

/* The policy's GPU model (for generation on the GPU). */
struct rlvr_gpu_model *rlvr_train_gpu_policy(struct rlvr_train_gpu *t);

/* One micro-batch of n_seq completions padded to seq_len positions, as the
 * trainer lays it out (host memory): row r = b * seq_len + t of sequence b
 * takes tokens[r] as input and predicts targets[r]; it counts in the loss
 * when rows[r] is 1 (a completion token). */
struct rlvr_train_micro {
    int n_seq, seq_len;        /* B, T: 1 <= B <= max_seqs, 1 <= T <= max_T */
    const int32_t *tokens;     /* [B*T] the model's input */
    const int32_t *targets;    /* [B*T] the token each row predicts (any value where rows is 0) */
    const uint8_t *rows;       /* [B*T] 1: the row counts */
    const uint8_t *truncated;  /* [B] 1: the completion hit max_completion_length */
    const float *advantages;   /* [B] */
    const float *old_logp;     /* [B*T] log pi_old, or NULL: on policy (ratio 1, as on the CPU) */
    const float *ref_logp;     /* [B*T] log pi_ref, or NULL; required when cfg->beta > 0 */
    double dapo_tokens;        /* loss_type dapo: the accumulated batch's active tokens */
    int entropy;               /* 1: compute the entropy metric (the CPU does on the first pass) */
};

/* The reference model's log-probabilities of m's targets at temperature
 * (rlvr_logprobs of its forward; fused: of h W^T, chunk by chunk):
 * logp[B*T] host, 0 where rows is 0. Only
 * tokens, targets, rows, n_seq and seq_len of m are read. Fails when the
 * trainer was created without a reference. */
int rlvr_train_gpu_ref_logprobs(struct rlvr_train_gpu *t, const struct rlvr_train_micro *m, float temperature,
                                float *logp, char *err, size_t err_len);

/* The loss of micro-batch m under cfg (grad_accum_steps set by the caller
 * as on the CPU) at temperature: forward on the policy, rlvr_gpu_grpo_loss_dev
 * over the device logits, backward adding to the accumulated gradient
 * (fused: forward_hidden, rlvr_gpu_grpo_linear_loss_dev, backward_hidden).
 * metrics: rlvr_grpo_loss's, field for field. */
int rlvr_train_gpu_micro(struct rlvr_train_gpu *t, const struct rlvr_grpo_config *cfg,
                         const struct rlvr_train_micro *m, float temperature, struct rlvr_grpo_metrics *metrics,
                         char *err, size_t err_len);

/* One AdamW step over the accumulated gradient at rate lr with oc's betas,
 * eps, weight decay and clipping (oc's schedule is the caller's: lr is
 * rlvr_lr_at's), then the gradient cleared. stats gets the norm before
 * clipping, whether it clipped, and lr. A non-finite norm refuses the step
 * and changes nothing (the gradient is left as it was). */
int rlvr_train_gpu_step(struct rlvr_train_gpu *t, const struct rlvr_optim_config *oc, double lr,
                        struct rlvr_optim_stats *stats, char *err, size_t err_len);

/* The policy's current weights into the host model (same config). */
int rlvr_train_gpu_download(const struct rlvr_train_gpu *t, struct rlvr_model *policy, char *err, size_t err_len);

/* ---- AdamW's state between a GPU model and host/optim.h's struct rlvr_adamw ----------
 * What a checkpoint's optimizer.bin holds (rlvr_adamw_save / rlvr_adamw_load,
 * the CPU's format), so that a GPU run resumes on the GPU or on the CPU and a
 * CPU run on the GPU. Used by rlvr sft and rlvr train (device = "cuda"),
 * which keep the moments on the device between checkpoints: o's host moments
 * exist only for a save or a load (rlvr_adamw_drop_moments after it). */

/* g's moments and step count into o (o->n must be g's parameter count; o's
 * moments are allocated, one block [2, n] as rlvr_adamw_create's, when it
 * has none; o->cfg is left as it is). A model that has not stepped gives
 * zeros and step 0. */
int rlvr_adamw_from_gpu(struct rlvr_adamw *o, const struct rlvr_gpu_model *g, char *err, size_t err_len);
/* o's moments and step count (o with its moments, e.g. rlvr_adamw_load's)
 * into g, whose next AdamW step is then the one o would take. */
int rlvr_adamw_to_gpu(const struct rlvr_adamw *o, struct rlvr_gpu_model *g, char *err, size_t err_len);
/* Frees o's host moments, keeping its config, size and step count. */
void rlvr_adamw_drop_moments(struct rlvr_adamw *o);

#endif
