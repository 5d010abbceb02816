/*
 * grpo_loss.cu -- the GRPO policy loss and its gradient to the logits on
 * the GPU, straight from the logits (rlvr_gpu_grpo_loss* of gpu_grpo.h; CPU
 * reference: host/logprob.c + host/grpo_loss.c, whose formulas live in
 * grpo_math.cuh and are shared with the CPU check of this code).
 *
 * Order of work for one micro-batch of B sequences x T positions = R rows:
 *  1. k_prep     (grid B, kSeqThreads): per sequence, its active tokens n_b,
 *                and the input checks of the CPU's first pass (old_logp,
 *                ref_logp finite where active; the advantage when n_b > 0).
 *  2. k_weights  (1 block, kSeqThreads): N = sum n_b, each sequence's
 *                aggregation weight w_b (grpo, bnpo, dapo, dr_grpo), the
 *                dapo_tokens >= N check. Every weight depends only on the
 *                mask, so it is known before any logit is read.
 *  3. token-level ratios: k_loss<PHASE_FUSED> (grid R, kRowThreads): per
 *                row, a sweep for the online log-sum-exp (and entropy), the
 *                token's log-probability, its loss terms and dL/dlogp, then
 *                a second, backwards sweep over the same row writing
 *                dlogits = dL/dlogp / T * (onehot - softmax).
 *     sequence-level ratios (GSPO), whose ratio needs every token of the
 *     sequence first: k_loss<PHASE_STATS> (the first sweep; logp, lse,
 *                entropy kept per row), k_seq (grid B: the sequence's mean
 *                log-ratio, ratio, surrogate and per-token gradient), then
 *                k_loss<PHASE_GRAD> (the terms and the gradient sweep, from
 *                the kept lse). Both ways read the logits twice and write
 *                the gradient once.
 *  4. k_reduce   (1 block): the per-token records summed in a fixed order
 *                (deterministic), finished into the metrics.
 * One status block (refusal key, N, metrics) is read back at the end.
 *
 * Refusal kinds (key = row * 8 + kind; the first position wins, kinds in
 * the CPU's order at a position): 0 token out of range, 1 unusable logits,
 * 2 taken logit -Inf, 3 old_logp, 4 ref_logp, 7 the advantage (keyed on the
 * sequence's last position: the CPU checks it after the sequence's
 * tokens); kKeyDapo after every position.
 *
 * The pipeline (loss_checks, loss_begin, loss_prep, loss_rows, loss_seq,
 * loss_end; declared in grpo_kernels.cuh) is shared with the fused linear
 * loss (grpo_linear.cu), which runs the row kernels on chunks of rows: a
 * row kernel's block i works on row row0 + i of the batch (its sequence,
 * weight, token and outputs) and on row i of the chunk's logits and
 * gradient. rlvr_gpu_grpo_loss_dev is the case of one chunk, row0 = 0.
 *
 * Invariants: rows that do not count are never read (neither logits nor
 * token) and get zero outputs; every loss value is computed in double as
 * on the CPU; one workspace allocation per call (grpo_math.cuh's
 * loss_ws_bytes), freed on every path; nothing is copied back by the host
 * wrapper unless the call succeeded.
 */
#include "gpu.h"
#include "grpo_kernels.cuh"

#include <math.h>
#include <stdint.h>
#include <string.h>

using namespace rlvr_grpo;

namespace {

constexpr int kSeqThreads = 256;
constexpr unsigned long long kKeyDapo = kKeyNone - 1;
enum { K_TOKEN = 0, K_ROW = 1, K_TAKEN = 2, K_OLD = 3, K_REF = 4, K_ADV = 7 };

bool finite(float x)
{
    return x > -INFINITY && x < INFINITY;
}
__device__ bool finite_d(float x)
{
    return x > -INFINITY && x < INFINITY;
}

template <typename V>
__device__ V block_sum(V v)
{
    __shared__ V part[32];
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFullMask, v, off);
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    __syncthreads(); /* part[] may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    V total = 0;
    for (unsigned i = 0; i < blockDim.x / 32; i++) total += part[i];
    return total;
}

/* 1. n_b and the first pass's checks. mask [B*T] or NULL, truncated [B] or
 * NULL, old / ref [B*T] or NULL, adv [B]; nb [B] out. Grid B. */
__global__ void __launch_bounds__(kSeqThreads)
    k_prep(const uint8_t *mask, const uint8_t *trunc, int mask_truncated, const float *old, const float *ref,
           const float *adv, uint32_t T, int32_t *nb, unsigned long long *key)
{
    const size_t b = blockIdx.x;
    int count = 0;
    for (uint32_t t = threadIdx.x; t < T; t += blockDim.x) {
        size_t row = b * T + t;
        if (!position_active(mask, trunc, mask_truncated, b, row)) continue;
        count++;
        if (old && !finite_d(old[row])) atomicMin(key, (unsigned long long)row * 8 + K_OLD);
        else if (ref && !finite_d(ref[row])) atomicMin(key, (unsigned long long)row * 8 + K_REF);
    }
    count = block_sum(count);
    if (threadIdx.x == 0) {
        nb[b] = count;
        if (count && !finite_d(adv[b])) atomicMin(key, ((unsigned long long)b * T + T - 1) * 8 + K_ADV);
    }
}

/* 2. N, the weights w[B], the dapo check. One block. */
__global__ void __launch_bounds__(kSeqThreads)
    k_weights(rlvr_grpo_config cfg, const int32_t *nb, uint32_t B, double dapo_tokens, double *w, LossStatus *st)
{
    double n = 0.0;
    for (uint32_t b = threadIdx.x; b < B; b += blockDim.x) n += (double)nb[b];
    const double N = block_sum(n); /* integers: exact in any order */
    const double dapo = dapo_tokens > 0.0 ? dapo_tokens : N;
    for (uint32_t b = threadIdx.x; b < B; b += blockDim.x)
        w[b] = nb[b] ? seq_weight(cfg, (double)B, (double)nb[b], N, dapo) : 0.0;
    if (threadIdx.x == 0) {
        st->N = N;
        if (cfg.loss_type == RLVR_LOSS_DAPO && dapo < N) atomicMin(&st->key, kKeyDapo);
    }
}


/* 3. One row per block (grid n, kRowThreads): block i takes row row0 + i
 * of the batch, whose logits are logits[i * V ..] ([n, V], the chunk) and
 * whose gradient goes to dlogits[i * V ..] ([n, V] or NULL; may be logits
 * when TX == TD). */
template <typename TX, typename TD, int PHASE>
__global__ void __launch_bounds__(kRowThreads) k_loss(const TX *logits, TD *dlogits, size_t row0, LossArgs a)
{
    const size_t i = blockIdx.x, row = row0 + i, b = row / a.T;
    const uint32_t V = a.V;
    TD *d = dlogits ? dlogits + i * V : nullptr;
    if (!position_active(a.mask, a.trunc, a.cfg.mask_truncated, b, row)) {
        if (PHASE == PHASE_STATS) return;
        if (d) block_row_zero(d, V);
        if (threadIdx.x == 0) {
            TokRec z;
            z.pg_w = z.kl_w = z.kl = z.ratio = 0.0;
            z.entropy = 0.0f;
            z.flags = 0;
            a.rec[row] = z;
            if (a.out_logp) a.out_logp[row] = 0.0f;
            if (a.out_ent) a.out_ent[row] = 0.0f;
            if (a.out_dlogp) a.out_dlogp[row] = 0.0f;
        }
        return;
    }
    const int32_t id = a.tokens[row];
    if (id < 0 || (uint32_t)id >= V) {
        if (PHASE != PHASE_GRAD && threadIdx.x == 0) atomicMin(a.key, (unsigned long long)row * 8 + K_TOKEN);
        return;
    }
    const TX *x = logits + i * V;
    RowLogp r;
    if (PHASE == PHASE_GRAD) {
        r.status = ROW_OK;
        r.logp = a.lp[row];
        r.lse = a.lse[row];
        r.entropy = a.ent[row];
    } else {
        int bad;
        LseAcc acc = block_row_stats(x, V, a.inv_t, a.want_ent != 0, &bad);
        r = row_finish(acc, bad, to_float(x[id]), a.inv_t); /* the same in every thread */
        if (r.status != ROW_OK) {
            if (threadIdx.x == 0)
                atomicMin(a.key, (unsigned long long)row * 8 + (r.status == ROW_BAD_LOGITS ? K_ROW : K_TAKEN));
            return;
        }
        if (PHASE == PHASE_STATS) {
            if (threadIdx.x == 0) a.lp[row] = r.logp, a.lse[row] = r.lse, a.ent[row] = r.entropy;
            return;
        }
    }
    /* Every thread computes the token's terms (the same values), so the
     * decision below is uniform and needs no broadcast. */
    double g;
    TokRec rec = token_terms(a.cfg, r.logp, a.old ? a.old + row : nullptr, a.old ? a.old[row] : 0.0f,
                             a.ref ? a.ref + row : nullptr, a.ref ? a.ref[row] : 0.0f,
                             a.want_ent ? r.entropy : 0.0f, (double)a.adv[b], a.w[b],
                             PHASE == PHASE_GRAD ? &a.seq[b] : nullptr, &g);
    const float gf = (float)g;
    if (threadIdx.x == 0) {
        a.rec[row] = rec;
        if (a.out_logp) a.out_logp[row] = r.logp;
        if (a.out_ent) a.out_ent[row] = r.entropy;
        if (a.out_dlogp) a.out_dlogp[row] = gf;
    }
    if (!d) return;
    if (gf == 0.0f) {
        block_row_zero(d, V);
        return;
    }
    __syncthreads(); /* in place: every thread has read x[id] before it is overwritten */
    block_row_grad(x, d, V, a.inv_t, r.lse, gf * a.inv_t, (uint32_t)id);
}

/* GSPO: per sequence, the sum of its active log-ratios -> seq[b]. lp [R]
 * (PHASE_STATS), old [R] or NULL, nb [B], w [B], adv [B]. Grid B. */
__global__ void __launch_bounds__(kSeqThreads)
    k_seq(rlvr_grpo_config cfg, const uint8_t *mask, const uint8_t *trunc, const float *lp, const float *old,
          const int32_t *nb, const double *w, const float *adv, uint32_t T, SeqTerms *seq)
{
    const size_t b = blockIdx.x;
    if (nb[b] == 0) return; /* uniform: no position of b counts */
    double s = 0.0;
    if (old)
        for (uint32_t t = threadIdx.x; t < T; t += blockDim.x) {
            size_t row = b * T + t;
            if (position_active(mask, trunc, cfg.mask_truncated, b, row)) s += (double)lp[row] - (double)old[row];
        }
    s = block_sum(s);
    if (threadIdx.x == 0) seq[b] = seq_terms(cfg, s, (double)nb[b], (double)adv[b], w[b]);
}

__device__ Sums shfl_sums(Sums s, int off)
{
    Sums o;
    o.pg = __shfl_xor_sync(kFullMask, s.pg, off);
    o.kl_loss = __shfl_xor_sync(kFullMask, s.kl_loss, off);
    o.kl = __shfl_xor_sync(kFullMask, s.kl, off);
    o.entropy = __shfl_xor_sync(kFullMask, s.entropy, off);
    o.low = __shfl_xor_sync(kFullMask, s.low, off);
    o.high = __shfl_xor_sync(kFullMask, s.high, off);
    o.region = __shfl_xor_sync(kFullMask, s.region, off);
    o.dual = __shfl_xor_sync(kFullMask, s.dual, off);
    o.ratio = __shfl_xor_sync(kFullMask, s.ratio, off);
    o.ratio_max = __shfl_xor_sync(kFullMask, s.ratio_max, off);
    return o;
}

/* 4. The metrics from rec [R], in a fixed order. One block of kSeqThreads. */
__global__ void __launch_bounds__(kSeqThreads) k_reduce(rlvr_grpo_config cfg, const TokRec *rec, size_t R, LossStatus *st)
{
    __shared__ Sums part[kSeqThreads / 32];
    Sums s = sums_zero();
    for (size_t i = threadIdx.x; i < R; i += blockDim.x) sums_add(s, rec[i]);
    for (int off = 16; off > 0; off >>= 1) s = sums_merge(s, shfl_sums(s, off));
    const unsigned lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = s;
    __syncthreads();
    if (threadIdx.x == 0) {
        Sums t = part[0];
        for (unsigned i = 1; i < blockDim.x / 32; i++) t = sums_merge(t, part[i]);
        st->metrics = metrics_finish(cfg, t, st->N);
    }
}

} // namespace

/* ---- the pipeline (grpo_kernels.cuh) ------------------------------------------------------- */

int rlvr_grpo::loss_checks(const rlvr_grpo_config *c, const rlvr_gpu_grpo_batch *in, bool from_logits,
                           char *dapo_msg, size_t dapo_len, char *err, size_t err_len)
{
    if (err && err_len) err[0] = '\0';
    dapo_msg[0] = '\0';
    if (rlvr_grpo_config_check(c, err, err_len)) return -1;
    if (!in) return rlvr_gpu_fail(err, err_len, "grpo: no batch");
    const size_t B = in->n_seq, T = in->seq_len;
    if (from_logits && B && T && (!in->logits || !in->tokens || !in->advantages))
        return rlvr_gpu_fail(err, err_len, "grpo: logits, tokens or advantages is NULL");
    if (!from_logits && B && T && (!in->tokens || !in->advantages))
        return rlvr_gpu_fail(err, err_len, "grpo: tokens or advantages is NULL");
    if (c->beta > 0.0f && B && T && !in->ref_logp)
        return rlvr_gpu_fail(err, err_len, "grpo: beta is %g but there is no ref_logp", (double)c->beta);
    if (T && B > SIZE_MAX / T) return rlvr_gpu_fail(err, err_len, "grpo: %zu x %zu positions overflow", B, T);
    const size_t R = B * T;
    if (R > (size_t)INT32_MAX) return rlvr_gpu_fail(err, err_len, "grpo: %zu positions is too many for one call", R);
    if (B > (size_t)INT32_MAX || T > (size_t)UINT32_MAX) return rlvr_gpu_fail(err, err_len, "grpo: %zu x %zu is too large", B, T);
    if (R && in->vocab == 0) return rlvr_gpu_fail(err, err_len, "grpo: vocab is 0");
    if (in->vocab > (size_t)INT32_MAX) return rlvr_gpu_fail(err, err_len, "grpo: vocab %zu is too large", in->vocab);
    if (from_logits && R && in->vocab > SIZE_MAX / 4 / R)
        return rlvr_gpu_fail(err, err_len, "grpo: %zu x %zu logits overflow", R, in->vocab);
    if (!(in->temperature > 0.0f) || !finite(in->temperature))
        return rlvr_gpu_fail(err, err_len, "grpo: temperature %g must be finite and > 0", (double)in->temperature);
    if (from_logits && in->dtype != RLVR_GPU_F32 && in->dtype != RLVR_GPU_BF16)
        return rlvr_gpu_fail(err, err_len, "grpo: unknown dtype %d (want RLVR_GPU_F32 or RLVR_GPU_BF16)", in->dtype);
    if (c->loss_type == RLVR_LOSS_DAPO) {
        if (!isfinite(in->dapo_tokens) || in->dapo_tokens < 0.0)
            snprintf(dapo_msg, dapo_len, "grpo: dapo_tokens %g must be finite and >= 0", in->dapo_tokens);
        else if (in->dapo_tokens == 0.0 && c->grad_accum_steps > 1)
            snprintf(dapo_msg, dapo_len,
                     "grpo: loss_type dapo with %ld accumulation steps needs dapo_tokens, "
                     "the active tokens of the whole accumulated batch",
                     (long)c->grad_accum_steps);
    }
    return 0;
}

void rlvr_grpo::loss_begin(LossRun &run, const rlvr_grpo_config &c, const rlvr_gpu_grpo_batch *in, const LossWs &ws)
{
    run.c = c;
    run.in = in;
    run.B = in->n_seq, run.T = in->seq_len, run.R = run.B * run.T;
    run.ws = ws;
    LossArgs &a = run.a;
    a.tokens = in->tokens;
    a.mask = in->mask;
    a.trunc = in->truncated;
    a.old = in->old_logp;
    a.ref = in->ref_logp;
    a.adv = in->advantages;
    a.T = (uint32_t)run.T;
    a.V = (uint32_t)in->vocab;
    a.inv_t = 1.0f / in->temperature;
    a.want_ent = in->entropy != nullptr;
    a.cfg = c;
    a.w = ws.w;
    a.seq = ws.seq;
    a.lp = ws.lp;
    a.lse = ws.lse;
    a.ent = ws.ent;
    a.rec = ws.rec;
    a.out_logp = in->logp;
    a.out_ent = in->entropy;
    a.out_dlogp = in->dlogp;
    a.key = &ws.st->key;
}

cudaError_t rlvr_grpo::loss_prep(const LossRun &run)
{
    const rlvr_gpu_grpo_batch *in = run.in;
    cudaError_t e = cudaMemset(run.ws.st, 0xff, sizeof run.ws.st->key);
    if (e != cudaSuccess) return e;
    k_prep<<<(unsigned)run.B, kSeqThreads>>>(in->mask, in->truncated, run.c.mask_truncated, in->old_logp,
                                              in->ref_logp, in->advantages, (uint32_t)run.T, run.ws.nb,
                                              run.a.key);
    k_weights<<<1, kSeqThreads>>>(run.c, run.ws.nb, (uint32_t)run.B, in->dapo_tokens, run.ws.w, run.ws.st);
    return cudaGetLastError();
}

namespace {

template <typename TX, typename TD>
void launch_rows(int phase, unsigned n, const void *x, void *d, size_t row0, const LossArgs &a)
{
    const TX *xs = (const TX *)x;
    TD *ds = (TD *)d;
    if (phase == PHASE_STATS) k_loss<TX, TD, PHASE_STATS><<<n, kRowThreads>>>(xs, nullptr, row0, a);
    else if (phase == PHASE_GRAD) k_loss<TX, TD, PHASE_GRAD><<<n, kRowThreads>>>(xs, ds, row0, a);
    else k_loss<TX, TD, PHASE_FUSED><<<n, kRowThreads>>>(xs, ds, row0, a);
}

} // namespace

cudaError_t rlvr_grpo::loss_rows(const LossRun &run, int phase, size_t row0, size_t n, const void *x, int x_dtype,
                                 void *d, int d_dtype)
{
    if (n == 0) return cudaSuccess;
    if (n > (size_t)INT32_MAX || row0 + n > run.R) return cudaErrorInvalidValue;
    if (x_dtype == RLVR_GPU_F32 && d_dtype == RLVR_GPU_F32) launch_rows<float, float>(phase, (unsigned)n, x, d, row0, run.a);
    else if (x_dtype == RLVR_GPU_BF16 && d_dtype == RLVR_GPU_BF16)
        launch_rows<__nv_bfloat16, __nv_bfloat16>(phase, (unsigned)n, x, d, row0, run.a);
    else if (x_dtype == RLVR_GPU_F32 && d_dtype == RLVR_GPU_BF16)
        launch_rows<float, __nv_bfloat16>(phase, (unsigned)n, x, d, row0, run.a);
    else return cudaErrorInvalidValue;
    return cudaGetLastError();
}

cudaError_t rlvr_grpo::loss_seq(const LossRun &run)
{
    const rlvr_gpu_grpo_batch *in = run.in;
    k_seq<<<(unsigned)run.B, kSeqThreads>>>(run.c, in->mask, in->truncated, run.ws.lp, in->old_logp, run.ws.nb,
                                            run.ws.w, in->advantages, (uint32_t)run.T, run.ws.seq);
    return cudaGetLastError();
}

int rlvr_grpo::loss_end(const LossRun &run, const char *dapo_msg, rlvr_gpu_grpo_metrics *metrics, char *err,
                        size_t err_len)
{
    const rlvr_gpu_grpo_batch *in = run.in;
    const size_t T = run.T;
    k_reduce<<<1, kSeqThreads>>>(run.c, run.ws.rec, run.R, run.ws.st);
    cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(err, err_len, "grpo", "launch", e);
    LossStatus h;
    if ((e = cudaMemcpy(&h, run.ws.st, sizeof h, cudaMemcpyDeviceToHost)) != cudaSuccess)
        return cuda_fail(err, err_len, "grpo", "run", e);

    if (h.key != kKeyNone && h.key != kKeyDapo) {
        const size_t row = (size_t)(h.key / 8), b = row / T, t = row % T;
        const int kind = (int)(h.key % 8);
        int32_t id = 0;
        if ((kind == K_TOKEN || kind == K_TAKEN) &&
            (e = cudaMemcpy(&id, in->tokens + row, sizeof id, cudaMemcpyDeviceToHost)) != cudaSuccess)
            return cuda_fail(err, err_len, "grpo", "read token", e);
        switch (kind) {
        case K_TOKEN:
            return rlvr_gpu_fail(err, err_len, "grpo: row %zu (sequence %zu, position %zu): token %ld is outside 0..%zu", row,
                        b, t, (long)id, in->vocab - 1);
        case K_ROW:
            return rlvr_gpu_fail(err, err_len,
                        "grpo: row %zu (sequence %zu, position %zu): logits hold NaN or +Inf, or are all -Inf", row,
                        b, t);
        case K_TAKEN:
            return rlvr_gpu_fail(err, err_len, "grpo: row %zu (sequence %zu, position %zu): the logit of token %ld is -Inf",
                        row, b, t, (long)id);
        case K_OLD: return rlvr_gpu_fail(err, err_len, "grpo: old_logp[%zu][%zu] is not finite", b, t);
        case K_REF: return rlvr_gpu_fail(err, err_len, "grpo: ref_logp[%zu][%zu] is not finite", b, t);
        default: return rlvr_gpu_fail(err, err_len, "grpo: advantages[%zu] is not finite", b);
        }
    }
    if (dapo_msg[0]) return rlvr_gpu_fail(err, err_len, "%s", dapo_msg);
    if (h.key == kKeyDapo)
        return rlvr_gpu_fail(err, err_len, "grpo: dapo_tokens %g is fewer than this micro-batch's %g active tokens",
                    in->dapo_tokens, h.N);
    if (metrics) *metrics = h.metrics;
    return 0;
}

/* ---- the entry points ----------------------------------------------------------------------- */

namespace {

struct Arena {
    char *base = nullptr;
    ~Arena() { counted_free(base); }
};

} // namespace

extern "C" int rlvr_gpu_grpo_loss_dev(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *in,
                                      void *d_dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err,
                                      size_t err_len)
{
    char dapo_msg[256];
    if (loss_checks(cfg, in, true, dapo_msg, sizeof dapo_msg, err, err_len)) return -1;
    const size_t B = in->n_seq, T = in->seq_len, R = B * T;
    if (R == 0) {
        if (dapo_msg[0]) return rlvr_gpu_fail(err, err_len, "%s", dapo_msg);
        if (metrics) memset(metrics, 0, sizeof *metrics);
        return 0;
    }
    Arena ws;
    cudaError_t e = counted_malloc((void **)&ws.base, loss_ws_bytes(B, R));
    if (e != cudaSuccess) return cuda_fail(err, err_len, "grpo", "workspace", e);
    LossRun run;
    loss_begin(run, *cfg, in, loss_ws_carve(ws.base, B, R));
    /* The whole batch is one chunk: row0 = 0, n = R. */
    if ((e = loss_prep(run)) != cudaSuccess) return cuda_fail(err, err_len, "grpo", "launch", e);
    if (cfg->importance_level == RLVR_IS_SEQUENCE) {
        if ((e = loss_rows(run, PHASE_STATS, 0, R, in->logits, in->dtype, nullptr, in->dtype)) != cudaSuccess ||
            (e = loss_seq(run)) != cudaSuccess ||
            (e = loss_rows(run, PHASE_GRAD, 0, R, in->logits, in->dtype, d_dlogits, in->dtype)) != cudaSuccess)
            return cuda_fail(err, err_len, "grpo", "launch", e);
    } else if ((e = loss_rows(run, PHASE_FUSED, 0, R, in->logits, in->dtype, d_dlogits, in->dtype)) != cudaSuccess)
        return cuda_fail(err, err_len, "grpo", "launch", e);
    return loss_end(run, dapo_msg, metrics, err, err_len);
}

extern "C" int rlvr_gpu_grpo_loss(const struct rlvr_grpo_config *cfg, const struct rlvr_gpu_grpo_batch *in,
                                  void *dlogits, struct rlvr_gpu_grpo_metrics *metrics, char *err, size_t err_len)
{
    char dapo_msg[256];
    if (loss_checks(cfg, in, true, dapo_msg, sizeof dapo_msg, err, err_len)) return -1;
    const size_t B = in->n_seq, T = in->seq_len, R = B * T, V = in->vocab;
    if (R == 0) return rlvr_gpu_grpo_loss_dev(cfg, in, dlogits, metrics, err, err_len);

    /* One allocation: logits (the gradient is written over them), tokens,
     * old, ref, mask [R]; advantages, truncated [B]; logp, entropy, dlogp. */
    const size_t xb = R * V * dtype_size(in->dtype);
    const size_t o_tok = align_up(xb), o_old = o_tok + align_up(R * 4), o_ref = o_old + align_up(R * 4);
    const size_t o_mask = o_ref + align_up(R * 4), o_adv = o_mask + align_up(R), o_tr = o_adv + align_up(B * 4);
    const size_t o_lp = o_tr + align_up(B), o_ent = o_lp + align_up(R * 4), o_g = o_ent + align_up(R * 4);
    const size_t bytes = o_g + align_up(R * 4);
    Arena ar;
    cudaError_t e = counted_malloc((void **)&ar.base, bytes);
    if (e != cudaSuccess) return cuda_fail(err, err_len, "grpo", "cudaMalloc", e);
    char *m = ar.base;
    rlvr_gpu_grpo_batch d = *in;
    d.logits = m;
    d.tokens = (const int32_t *)(m + o_tok);
    d.old_logp = in->old_logp ? (const float *)(m + o_old) : nullptr;
    d.ref_logp = in->ref_logp ? (const float *)(m + o_ref) : nullptr;
    d.mask = in->mask ? (const uint8_t *)(m + o_mask) : nullptr;
    d.advantages = (const float *)(m + o_adv);
    d.truncated = in->truncated ? (const uint8_t *)(m + o_tr) : nullptr;
    d.logp = in->logp ? (float *)(m + o_lp) : nullptr;
    d.entropy = in->entropy ? (float *)(m + o_ent) : nullptr;
    d.dlogp = in->dlogp ? (float *)(m + o_g) : nullptr;
    const cudaMemcpyKind up = cudaMemcpyHostToDevice, down = cudaMemcpyDeviceToHost;
    if ((e = cudaMemcpy(m, in->logits, xb, up)) != cudaSuccess ||
        (e = cudaMemcpy(m + o_tok, in->tokens, R * 4, up)) != cudaSuccess ||
        (in->old_logp && (e = cudaMemcpy(m + o_old, in->old_logp, R * 4, up)) != cudaSuccess) ||
        (in->ref_logp && (e = cudaMemcpy(m + o_ref, in->ref_logp, R * 4, up)) != cudaSuccess) ||
        (in->mask && (e = cudaMemcpy(m + o_mask, in->mask, R, up)) != cudaSuccess) ||
        (e = cudaMemcpy(m + o_adv, in->advantages, B * 4, up)) != cudaSuccess ||
        (in->truncated && (e = cudaMemcpy(m + o_tr, in->truncated, B, up)) != cudaSuccess))
        return cuda_fail(err, err_len, "grpo", "copy to device", e);
    if (rlvr_gpu_grpo_loss_dev(cfg, &d, dlogits ? m : nullptr, metrics, err, err_len)) return -1;
    if ((dlogits && (e = cudaMemcpy(dlogits, m, xb, down)) != cudaSuccess) ||
        (in->logp && (e = cudaMemcpy(in->logp, m + o_lp, R * 4, down)) != cudaSuccess) ||
        (in->entropy && (e = cudaMemcpy(in->entropy, m + o_ent, R * 4, down)) != cudaSuccess) ||
        (in->dlogp && (e = cudaMemcpy(in->dlogp, m + o_g, R * 4, down)) != cudaSuccess))
        return cuda_fail(err, err_len, "grpo", "copy from device", e);
    return 0;
}
