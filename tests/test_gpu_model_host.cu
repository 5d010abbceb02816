/*
 * test_gpu_model_host.cu -- the GPU model's arithmetic and orchestration,
 * checked on the CPU (no device needed, nothing skips).
 *
 * Compiled by nvcc as host code only. It runs gpu/model_graph.cuh's
 * forward and backward -- the very templates gpu/model.cu runs on CUDA --
 * on host_ops below, a plain emulation of each operation built from
 * gpu/model_math.cuh's __host__ __device__ functions (the kernels' per-element
 * arithmetic) and of cuBLAS's column-major cublasGemmStridedBatchedEx. So
 * this holds to host/model.c (compiled with its plain loops), host/optim.c
 * and host/logprob.c: the parameter layout and the AdamW tensor table, the
 * order of operations, which buffer each reads and writes, every product's
 * transposes, leading dimensions and batch strides, the bf16 rounding of
 * operands, the math of every kernel, the cross-entropy's online
 * log-sum-exp and AdamW's update; and generation: graph_step and
 * graph_kv_copy against rlvr_model_step and rlvr_kv_cache_copy
 * (test_gpu_model_step.h's scenario), with the cache NaN-filled so that a
 * read of a position nothing wrote shows, and the decoding attention's
 * online softmax split over 4 parts as the kernel's 4 warps split it; the
 * forward-only net (RLVR_GPU_FORWARD_ONLY: one layer's activations reused by
 * every layer, no gradients) against the training net, bit for bit, with
 * nothing written past the blocks net_carve_acts sizes for either, its
 * carve smaller and its backward refused, the generation scenario on it,
 * and both modes' device memory for a Qwen2.5-0.5B shape (TAP comments); the
 * halves without the LM head (graph_forward_hidden, graph_backward_hidden)
 * on a net without logits (RLVR_GPU_NO_LOGITS), against the training net bit
 * for bit: h, h W^T against the logits, and dW += dlogits^T h plus
 * backward_hidden(dlogits W) against graph_backward's gradients, in fp32 and
 * bf16, tied and untied (hidden_case), its carve without the logits and the
 * memory it saves for the Qwen2.5-0.5B shape (TAP comments), the generation
 * scenario on it too. What
 * it cannot check -- the kernels' indexing, reductions and launches, and
 * cuBLAS itself -- is tests/test_gpu_model.c's job on a GPU.
 *
 * Tolerances (|got - want| <= A * max|want over the tensor| + R * |want|):
 *  - fp32 emulation vs host/model.c: A = 1e-5, R = 1e-4. The products add
 *    in the same order on both sides; what differs is attention (the
 *    reference normalises exp(s - max) by the sum, the graph takes
 *    exp(s - lse)) and the log-sum-exp's rounding: a few ulp per value.
 *  - AdamW emulation vs host/optim.c: 1e-6 absolute on parameters of size
 *    ~1 (the same float expressions; the norm is a double sum in another
 *    order).
 *  - bf16 emulation vs host/model.c in fp32: relative L2 error of each
 *    tensor <= 5e-2. bf16 keeps 8 significant bits (unit roundoff 2^-9, 0.2%);
 *    both operands of every linear product are rounded, and the error
 *    compounds through the layers' products (norms and attention stay fp32),
 *    so a few tenths of a percent per product grow to about 1% here; 5%
 *    leaves room while still failing on any wrong operand (which gives
 *    errors of order 100%).
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern "C" {
#include "grpo.h"
#include "model.h"
#include "optim.h"
}
#include "model_graph.cuh"
#include "model_math.cuh"
#include "tap.h"
#include "test_gpu_model_step.h"

using namespace rlvr_gm;

/* ---- the emulated backend ----------------------------------------------------------- */

struct host_ops {
    int embed_fwd(float *out, const float *E, const int32_t *tok, int N, int D, int V)
    {
        for (int n = 0; n < N; n++) {
            bool ok = tok[n] >= 0 && tok[n] < V;
            for (int i = 0; i < D; i++)
                out[(size_t)n * D + i] = ok ? E[(size_t)tok[n] * D + i] : 0.0f;
        }
        return 0;
    }
    int embed_bwd(float *dE, const float *dx, const int32_t *tok, int N, int D, int V)
    {
        for (int n = 0; n < N; n++)
            if (tok[n] >= 0 && tok[n] < V)
                for (int i = 0; i < D; i++) dE[(size_t)tok[n] * D + i] += dx[(size_t)n * D + i];
        return 0;
    }
    int rms_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps)
    {
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * D;
            float ss = 0.0f;
            for (int i = 0; i < D; i++) ss += xr[i] * xr[i];
            float r = rms_rstd(ss, D, eps);
            for (int i = 0; i < D; i++) y[(size_t)n * D + i] = rms_y(xr[i], r, w[i]);
            if (rstd) rstd[n] = r;
        }
        return 0;
    }
    int rms_bwd(float *dx, int add, float *dw, const float *dy, const float *x, const float *w,
                const float *rstd, int N, int D)
    {
        for (int n = 0; n < N; n++) {
            const float *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
            float r = rstd[n], dot = 0.0f;
            for (int i = 0; i < D; i++) dot += dyr[i] * w[i] * xr[i];
            float c = rms_c(dot, r, D);
            for (int i = 0; i < D; i++) {
                float g = rms_dx(dyr[i], w[i], r, xr[i], c);
                dx[(size_t)n * D + i] = add ? dx[(size_t)n * D + i] + g : g;
                dw[i] += rms_dw(dyr[i], xr[i], r);
            }
        }
        return 0;
    }
    int rope(float *x, const float *cs, int N, int T, int H, int hd, int inverse)
    {
        int half = hd / 2;
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++) {
                float *v = x + ((size_t)n * H + h) * hd;
                int p = n % T;
                for (int i = 0; i < half; i++)
                    rope_pair(&v[i], &v[i + half], cs[(size_t)p * hd + i],
                              cs[(size_t)p * hd + half + i], inverse);
            }
        return 0;
    }
    int permute(float *dst, const float *src, int B, int T, int H, int hd, int to_heads)
    {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < T; t++)
                for (int h = 0; h < H; h++)
                    for (int i = 0; i < hd; i++) {
                        size_t tm = (((size_t)b * T + t) * H + h) * hd + i;
                        size_t hm = (((size_t)b * H + h) * T + t) * hd + i;
                        if (to_heads) dst[hm] = src[tm];
                        else dst[tm] = src[hm];
                    }
        return 0;
    }
    int softmax_fwd(float *S, float *lse, int rows, int T, float scale)
    {
        for (int r = 0; r < rows; r++) {
            float *row = S + (size_t)r * T;
            int t = r % T;
            float mx = -INFINITY, sum = 0.0f;
            for (int s = 0; s <= t; s++) mx = fmaxf(mx, row[s] * scale);
            for (int s = 0; s <= t; s++) sum += expf(row[s] * scale - mx);
            float l = mx + logf(sum);
            for (int s = 0; s < T; s++) row[s] = s <= t ? attn_p(row[s], scale, l) : 0.0f;
            lse[r] = l;
        }
        return 0;
    }
    int softmax_p(float *S, const float *lse, int rows, int T, float scale)
    {
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < T; s++)
                S[(size_t)r * T + s] = s <= r % T ? attn_p(S[(size_t)r * T + s], scale, lse[r]) : 0.0f;
        return 0;
    }
    int softmax_bwd(float *dP, const float *P, const float *Dt, int rows, int T, float scale)
    {
        for (int r = 0; r < rows; r++)
            for (int s = 0; s < T; s++) {
                size_t i = (size_t)r * T + s;
                dP[i] = s <= r % T ? attn_ds(P[i], dP[i], Dt[r], scale) : 0.0f;
            }
        return 0;
    }
    int rowdot(float *out, const float *a, const float *b, int rows, int len)
    {
        for (int r = 0; r < rows; r++) {
            float s = 0.0f;
            for (int i = 0; i < len; i++) s += a[(size_t)r * len + i] * b[(size_t)r * len + i];
            out[r] = s;
        }
        return 0;
    }
    int swiglu_fwd(float *h, const float *g, const float *u, size_t n)
    {
        for (size_t i = 0; i < n; i++) h[i] = silu(g[i]) * u[i];
        return 0;
    }
    int swiglu_bwd(float *dg, float *du, const float *dh, const float *g, const float *u, size_t n)
    {
        for (size_t i = 0; i < n; i++) {
            float a, b;
            rlvr_gm::swiglu_bwd(dh[i], g[i], u[i], &a, &b);
            dg[i] = a;
            du[i] = b;
        }
        return 0;
    }
    int add(float *y, const float *x, size_t n)
    {
        for (size_t i = 0; i < n; i++) y[i] += x[i];
        return 0;
    }
    int bias_add(float *y, const float *b, int N, int C)
    {
        for (size_t i = 0; i < (size_t)N * C; i++) y[i] += b[i % C];
        return 0;
    }
    int colsum(float *out, const float *a, int N, int C)
    {
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) out[c] += a[(size_t)n * C + c];
        return 0;
    }
    int copy(float *dst, const float *src, size_t n)
    {
        memmove(dst, src, n * sizeof(float));
        return 0;
    }
    int zero(void *p, size_t bytes)
    {
        memset(p, 0, bytes);
        return 0;
    }
    int to_bf16(uint16_t *dst, const float *src, size_t n)
    {
        for (size_t i = 0; i < n; i++) dst[i] = rlvr_gm::to_bf16(src[i]);
        return 0;
    }
    /* generation (graph_step): the kernels' indexing restated as loops */
    int rope_at(float *x, const float *cs, const int32_t *pos, int N, int H, int hd)
    {
        int half = hd / 2;
        for (int n = 0; n < N; n++)
            for (int h = 0; h < H; h++) {
                float *v = x + ((size_t)n * H + h) * hd;
                const float *row = cs + (size_t)pos[n] * hd;
                for (int i = 0; i < half; i++) rope_pair(&v[i], &v[i + half], row[i], row[half + i], 0);
            }
        return 0;
    }
    int kv_store(float *kc, float *vc, const float *k, const float *v, const int32_t *slot,
                 const int32_t *pos, int N, int KD, int max_len)
    {
        for (int r = 0; r < N; r++)
            for (int j = 0; j < KD; j++) {
                size_t at = ((size_t)slot[r] * max_len + (size_t)pos[r]) * KD + j;
                kc[at] = k[(size_t)r * KD + j];
                vc[at] = v[(size_t)r * KD + j];
            }
        return 0;
    }
    /* k_attend's structure: kAttWarps parts, part w taking positions w,
     * w + kAttWarps, ...; merged by rescaling to the largest maximum. */
    static const int kAttWarps = 4; /* model_kernels.cu's */
    int attend(float *out, const float *q, const float *kc, const float *vc, const int32_t *slot,
               const int32_t *pos, int N, int Hq, int Hk, int hd, int max_len, float scale)
    {
        size_t QD = (size_t)Hq * hd, KD = (size_t)Hk * hd;
        float *o = (float *)malloc((size_t)kAttWarps * hd * sizeof(float));
        for (int r = 0; r < N; r++)
            for (int h = 0; h < Hq; h++) {
                int kh = h / (Hq / Hk);
                const float *qr = q + (size_t)r * QD + (size_t)h * hd;
                size_t base = (size_t)slot[r] * max_len * KD + (size_t)kh * hd;
                attn_state st[kAttWarps];
                for (int w = 0; w < kAttWarps; w++) {
                    st[w] = attn_state{-INFINITY, 0.0f};
                    for (int i = 0; i < hd; i++) o[w * hd + i] = 0.0f;
                    for (int sp = w; sp <= pos[r]; sp += kAttWarps) {
                        const float *kr = kc + base + (size_t)sp * KD, *vr = vc + base + (size_t)sp * KD;
                        float d = 0.0f;
                        for (int i = 0; i < hd; i++) d += qr[i] * kr[i];
                        float corr, p;
                        attn_push(&st[w], d * scale, &corr, &p);
                        for (int i = 0; i < hd; i++) o[w * hd + i] = o[w * hd + i] * corr + p * vr[i];
                    }
                }
                float M = -INFINITY, S = 0.0f, f[kAttWarps];
                for (int w = 0; w < kAttWarps; w++) M = st[w].m > M ? st[w].m : M;
                for (int w = 0; w < kAttWarps; w++) {
                    f[w] = attn_rescale(st[w].m, M);
                    S += st[w].s * f[w];
                }
                for (int i = 0; i < hd; i++) {
                    float acc = 0.0f;
                    for (int w = 0; w < kAttWarps; w++) acc += o[w * hd + i] * f[w];
                    out[(size_t)r * QD + (size_t)h * hd + i] = acc / S;
                }
            }
        free(o);
        return 0;
    }
    int gather_rows(float *dst, const float *src, const int32_t *rows, int n, int D)
    {
        for (int i = 0; i < n; i++)
            memcpy(dst + (size_t)i * D, src + (size_t)rows[i] * D, (size_t)D * sizeof(float));
        return 0;
    }
    int gemms = 0;
    /* cuBLAS's semantics: column-major, op(A) m x k, op(B) k x n, C m x n. */
    int gemm(int tA, int tB, int m, int n, int k, const void *A, int lda, long long sA,
             const void *B, int ldb, long long sB, float beta, float *C, int ldc, long long sC,
             int batch, int kind)
    {
        gemms++;
        bool h = kind == GEMM_BF16;
        if ((tA ? lda < k : lda < m) || (tB ? ldb < n : ldb < k) || ldc < m) {
            diag("gemm: leading dimension too small (m %d n %d k %d, lda %d ldb %d ldc %d)", m, n,
                 k, lda, ldb, ldc);
            return -1;
        }
        for (int bt = 0; bt < batch; bt++)
            for (int j = 0; j < n; j++)
                for (int i = 0; i < m; i++) {
                    float acc = 0.0f;
                    for (int l = 0; l < k; l++) {
                        size_t ia = (size_t)(bt * sA) + (tA ? (size_t)l + (size_t)i * lda : (size_t)i + (size_t)l * lda);
                        size_t ib = (size_t)(bt * sB) + (tB ? (size_t)j + (size_t)l * ldb : (size_t)l + (size_t)j * ldb);
                        float a = h ? from_bf16(((const uint16_t *)A)[ia]) : ((const float *)A)[ia];
                        float b = h ? from_bf16(((const uint16_t *)B)[ib]) : ((const float *)B)[ib];
                        acc += a * b;
                    }
                    float *c = C + (size_t)(bt * sC) + (size_t)i + (size_t)j * ldc;
                    *c = beta == 0.0f ? acc : acc + beta * *c;
                }
        return 0;
    }
};

/* ---- helpers ------------------------------------------------------------------------- */

static char err[512];
static uint64_t rng = 0x2545f4914f6cdd1dull;

static double uniform(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (double)((z ^ (z >> 31)) >> 11) * 0x1.0p-53;
}

static float noise(void)
{
    return (float)(2.0 * uniform() - 1.0);
}

static rlvr_gpu_model_config gpu_cfg(const rlvr_model_config &c)
{
    rlvr_gpu_model_config g;
    g.vocab_size = c.vocab_size, g.hidden_size = c.hidden_size;
    g.intermediate_size = c.intermediate_size, g.num_hidden_layers = c.num_hidden_layers;
    g.num_attention_heads = c.num_attention_heads, g.num_key_value_heads = c.num_key_value_heads;
    g.head_dim = c.head_dim, g.max_position_embeddings = c.max_position_embeddings;
    g.rope_theta = c.rope_theta, g.rms_norm_eps = c.rms_norm_eps;
    g.tie_word_embeddings = c.tie_word_embeddings, g.attention_bias = c.attention_bias;
    return g;
}

/* Weights large enough that attention is far from uniform and norms and
 * biases matter: matrices uniform in +-0.3, norms 1 +- 0.3, biases +-0.3. */
static void fill(rlvr_model *m)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const rlvr_tensor *x = &m->tensors[t];
        int norm = strstr(x->name, "norm") != NULL;
        for (size_t j = 0; j < x->numel; j++)
            m->params[x->offset + j] = 0.3f * noise() + (norm ? 1.0f : 0.0f);
    }
}

/* worst of |got - want| / (A * max|want| + R * |want|) over n values */
static double worst(const float *got, const float *want, size_t n, double A, double R)
{
    double scale = 0, w = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!isfinite((double)got[i])) e = INFINITY;
        w = fmax(w, e / (A * scale + R * fabs((double)want[i]) + 1e-30));
    }
    return w;
}

static double rel_l2(const float *got, const float *want, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)got[i] - want[i];
        num += d * d;
        den += (double)want[i] * want[i];
    }
    return den > 0 ? sqrt(num / den) : sqrt(num);
}

/* An emulated model: the net over malloc'd blocks (a training net, or a
 * forward-only one: no gradients, net_carve_acts's forward-only block). Each
 * block is followed by kGuard entries of a sentinel, so that a write past
 * what the carve sized shows (emu_guards_intact). */
struct emu {
    net n;
    float *acts;
    uint16_t *halves;
    uint16_t *params_h;
    size_t n_floats, n_halves;
};

static const size_t kGuard = 256;
static const uint32_t kGuardBits = 0x7fc0beefu; /* a NaN no operation makes */
static const uint16_t kGuardHalf = 0x7fbe;

static void emu_init(emu *e, const rlvr_model *m, int prec, int B, int T, int fwd_only = 0, int no_logits = 0)
{
    memset(e, 0, sizeof *e);
    e->n.c = make_layout(gpu_cfg(m->cfg));
    e->n.prec = prec;
    e->n.fwd_only = fwd_only;
    e->n.no_logits = no_logits;
    e->n.params = (float *)malloc(m->n_params * sizeof(float));
    e->n.grads = fwd_only ? nullptr : (float *)calloc(m->n_params, sizeof(float));
    memcpy(e->n.params, m->params, m->n_params * sizeof(float));
    if (prec == RLVR_GPU_BF16) {
        e->params_h = (uint16_t *)malloc(m->n_params * sizeof(uint16_t));
        for (size_t i = 0; i < m->n_params; i++) e->params_h[i] = to_bf16(m->params[i]);
        e->n.params_h = e->params_h;
    }
    acts_size s = net_carve_acts(e->n, B, T, nullptr, nullptr);
    e->n_floats = s.floats, e->n_halves = s.halves;
    /* NaN-filled: a read of anything not written first shows up */
    e->acts = (float *)malloc((s.floats + kGuard) * sizeof(float));
    for (size_t i = 0; i < s.floats; i++) e->acts[i] = NAN;
    for (size_t i = 0; i < kGuard; i++) memcpy(&e->acts[s.floats + i], &kGuardBits, sizeof(float));
    e->halves = s.halves ? (uint16_t *)malloc((s.halves + kGuard) * sizeof(uint16_t)) : nullptr;
    if (e->halves) {
        memset(e->halves, 0xff, s.halves * sizeof(uint16_t));
        for (size_t i = 0; i < kGuard; i++) e->halves[s.halves + i] = kGuardHalf;
    }
    net_carve_acts(e->n, B, T, e->acts, e->halves);
    rlvr_gpu_rope_table(e->n.cos_sin, T, e->n.c.hd, e->n.c.theta);
}

/* 1 when nothing was written past the carved blocks. */
static int emu_guards_intact(const emu *e)
{
    for (size_t i = 0; i < kGuard; i++) {
        uint32_t b;
        memcpy(&b, &e->acts[e->n_floats + i], sizeof b);
        if (b != kGuardBits || (e->halves && e->halves[e->n_halves + i] != kGuardHalf)) return 0;
    }
    return 1;
}

/* Bytes of the activation blocks (fp32 and bf16) net_carve_acts sizes for
 * B x T in a training or a forward-only net, with or without logits. */
static size_t carve_bytes(const layout &y, int prec, int fwd_only, int B, int T, int no_logits = 0)
{
    net n;
    memset(&n, 0, sizeof n);
    n.c = y;
    n.prec = prec;
    n.fwd_only = fwd_only;
    n.no_logits = no_logits;
    acts_size s = net_carve_acts(n, B, T, nullptr, nullptr);
    return s.floats * sizeof(float) + s.halves * sizeof(uint16_t);
}

static void emu_free(emu *e)
{
    free(e->n.params);
    free(e->n.grads);
    free(e->params_h);
    free(e->acts);
    free(e->halves);
}

/* ---- the cases ----------------------------------------------------------------------- */

struct shape {
    const char *name;
    int V, D, F, L, Hq, Hk, hd, tied, bias, B, T;
};

static const shape shapes[] = {
    {"tiny (tied, bias, GQA 4/2)", 264, 64, 176, 2, 4, 2, 16, 1, 1, 2, 9},
    {"odd sizes (untied, no bias, GQA 6/2)", 37, 24, 40, 2, 6, 2, 8, 0, 0, 3, 7},
    {"multi-head 3/3, one sequence", 50, 30, 20, 1, 3, 3, 10, 1, 0, 1, 13},
    {"a single row", 19, 16, 24, 2, 2, 1, 8, 0, 1, 1, 1},
};

static void layout_case(const rlvr_model *m, const char *name)
{
    layout y = make_layout(gpu_cfg(m->cfg));
    ok(y.n_params == m->n_params, "%s: parameter count %zu (host %zu)", name, y.n_params, m->n_params);
    segment seg[3 + 12 * 8];
    int ns = make_segments(y, seg), k = 0, same = 1;
    for (int t = 0; t < m->n_tensors; t++) {
        const rlvr_tensor *x = &m->tensors[t];
        if (!x->numel) continue;
        if (k >= ns || seg[k].offset != x->offset || seg[k].numel != x->numel || seg[k].decay != x->decay) {
            diag("tensor %s: offset %zu numel %zu decay %d; gpu table %zu %zu %d", x->name, x->offset,
                 x->numel, x->decay, k < ns ? seg[k].offset : 0, k < ns ? seg[k].numel : 0,
                 k < ns ? seg[k].decay : -1);
            same = 0;
        }
        k++;
    }
    ok(same && k == ns, "%s: the AdamW tensor table is host/model.c's (%d tensors)", name, ns);
}

/* Cross-entropy as the kernel computes it (model_math.cuh), the row split in
 * `lanes` interleaved parts merged pairwise like a block reduction. */
static void emu_cross_entropy(float *x, const int32_t *tg, const uint8_t *rows, size_t n, size_t V,
                              float c, float *logp, float *lse, int lanes)
{
    lse_acc part[64];
    for (size_t r = 0; r < n; r++) {
        float *row = x + r * V;
        if (rows && !rows[r]) {
            memset(row, 0, V * sizeof(float));
            logp[r] = lse[r] = 0.0f;
            continue;
        }
        int bad = 0;
        for (int k = 0; k < lanes; k++) {
            part[k] = lse_acc{-INFINITY, 0.0f};
            for (size_t v = (size_t)k; v < V; v += (size_t)lanes) {
                if (isnan(row[v]) || row[v] == INFINITY) bad = 1;
                else part[k] = lse_push(part[k], row[v]);
            }
        }
        for (int w = 1; w < lanes; w *= 2)
            for (int k = 0; k + w < lanes; k += 2 * w) part[k] = lse_merge(part[k], part[k + w]);
        float l = part[0].m + logf(part[0].s);
        int id = tg[r];
        float z = id >= 0 && (size_t)id < V ? row[id] : -INFINITY;
        bool fail = bad || part[0].m == -INFINITY || z == -INFINITY;
        logp[r] = fail ? NAN : z - l;
        lse[r] = fail ? NAN : l;
        if (fail || c == 0.0f) {
            memset(row, 0, V * sizeof(float));
            continue;
        }
        float p = expf(z - l);
        for (size_t v = 0; v < V; v++) row[v] = ce_grad(row[v], l, c, v == (size_t)id, p);
    }
}

/* The halves without the LM head (graph_forward_hidden,
 * graph_backward_hidden) on a net without logits, against the training net
 * e that ran graph_forward and then graph_backward(dl) from zero gradients:
 *  - graph_forward and graph_backward refuse the net without logits before
 *    any work; its carve is the training net's less the logits (and, in
 *    bf16, less dlogits' room in hA), and nothing is written past it;
 *  - forward_hidden leaves h = xf (and its bf16 copy in hA) bit for bit as
 *    the training net's, and h W^T (the product the fused loss makes, as
 *    gpu_grpo.h states it: logits = h W^T on h [N, D] and W [V, D], in bf16
 *    on their bf16 copies) is e's logits bit for bit;
 *  - dh = dlogits W and dW += dlogits^T h (in bf16 on dlogits rounded to
 *    bf16 and h's bf16 copy, as the fused loss rounds its chunk's
 *    gradient) into the LM head's gradient slice, then
 *    backward_hidden(dh) in the model's dh buffer, give e's gradients bit
 *    for bit: every tensor, the tied embedding included;
 *  - a forward-only net refuses backward_hidden. */
static void hidden_case(const shape &s, const rlvr_model &m, const emu &e, int prec, const int32_t *tok,
                        const float *dl)
{
    const char *pn = prec == RLVR_GPU_BF16 ? "bf16" : "fp32";
    int B = s.B, T = s.T, N = B * T, V = s.V, D = s.D;
    size_t NV = (size_t)N * V, ND = (size_t)N * D, np = m.n_params;
    emu h;
    emu_init(&h, &m, prec, B, T, 0, 1);
    memcpy(h.n.tokens, tok, (size_t)N * sizeof(int32_t));
    host_ops o;
    ok(graph_forward(o, h.n, B, T) == -1 && graph_backward(o, h.n, dl) == -1 && o.gemms == 0 && h.n.logits == nullptr,
       "%s, %s: without logits: graph_forward and graph_backward refuse before any work", s.name, pn);
    size_t tb = carve_bytes(e.n.c, prec, 0, B, T), nb = carve_bytes(e.n.c, prec, 0, B, T, 1);
    size_t Dmax = (size_t)(s.F > s.Hq * s.hd ? s.F : s.Hq * s.hd);
    Dmax = Dmax > (size_t)D ? Dmax : (size_t)D;
    size_t want_saved = round64(NV) * sizeof(float) +
                        (prec == RLVR_GPU_BF16 && (size_t)V > Dmax ? (round64(NV) - round64((size_t)N * Dmax)) * 2 : 0);
    ok(tb - nb == want_saved, "%s, %s: without logits the carve is %zu bytes, the logits' %zu less than the training "
       "net's %zu", s.name, pn, nb, want_saved, tb);
    int rc = graph_forward_hidden(o, h.n, B, T);
    int same_h = rc == 0 && !memcmp(h.n.xf, e.n.xf, ND * sizeof(float)) && h.n.cur_B == B && h.n.cur_T == T &&
                 h.n.cur_logits == 0;
    if (prec == RLVR_GPU_BF16) {
        for (size_t i = 0; same_h && i < ND; i++) same_h = h.n.hA[i] == to_bf16(e.n.xf[i]);
    }
    ok(same_h, "%s, %s: forward_hidden: h (and its bf16 copy) is the training net's, bit for bit", s.name, pn);
    int lk = lin_kind(h.n);
    size_t head = head_offset(h.n.c);
    operand hop{h.n.xf, prec == RLVR_GPU_BF16 ? h.n.hA : nullptr};
    float *X = (float *)malloc(NV * sizeof(float));
    rc = rc || mm_xwT(o, lk, X, hop, weight(h.n, h.n.params + head), N, D, V, 0.0f);
    ok(rc == 0 && !memcmp(X, e.n.logits, NV * sizeof(float)),
       "%s, %s: h W^T after forward_hidden is graph_forward's logits, bit for bit", s.name, pn);
    ok(emu_guards_intact(&h), "%s, %s: without logits: nothing written past the carved blocks", s.name, pn);

    /* the fused loss's gradient products, then the backward from dh */
    uint16_t *Gh = nullptr;
    operand G{dl, nullptr};
    if (prec == RLVR_GPU_BF16) {
        Gh = (uint16_t *)malloc(NV * sizeof(uint16_t));
        for (size_t i = 0; i < NV; i++) Gh[i] = to_bf16(dl[i]);
        G.h = Gh;
    }
    int before = o.gemms;
    rc = rc || mm_xw(o, lk, h.n.dn, G, weight(h.n, h.n.params + head), N, D, V, 0.0f) ||
         mm_gTx(o, lk, h.n.grads + head, G, hop, N, D, V, 1.0f) || graph_backward_hidden(o, h.n, h.n.dn);
    int same = rc == 0 && !memcmp(h.n.grads, e.n.grads, np * sizeof(float));
    int off = -1;
    for (int t = 0; !same && t < m.n_tensors && off < 0; t++)
        if (memcmp(h.n.grads + m.tensors[t].offset, e.n.grads + m.tensors[t].offset,
                   m.tensors[t].numel * sizeof(float)))
            off = t;
    ok(same, "%s, %s: dW += dlogits^T h, then backward_hidden(dlogits W): graph_backward's gradients, bit for bit "
       "(%d products)%s%s", s.name, pn, o.gemms - before, off >= 0 ? "; first off: " : "",
       off >= 0 ? m.tensors[off].name : "");
    ok(emu_guards_intact(&h), "%s, %s: without logits: the backward writes nothing past the carved blocks", s.name,
       pn);
    free(Gh);
    free(X);
    emu_free(&h);

    emu f;
    emu_init(&f, &m, prec, B, T, 1, 1);
    memcpy(f.n.tokens, tok, (size_t)N * sizeof(int32_t));
    host_ops fo;
    rc = graph_forward_hidden(fo, f.n, B, T);
    ok(rc == 0 && !memcmp(f.n.xf, e.n.xf, ND * sizeof(float)) && f.n.logits == nullptr && emu_guards_intact(&f),
       "%s, %s: forward-only without logits: the same h, bit for bit, nothing past its carve", s.name, pn);
    int g0 = fo.gemms;
    ok(graph_backward_hidden(fo, f.n, e.n.xf) == -1 && fo.gemms == g0,
       "%s, %s: backward_hidden refuses a forward-only net before any work", s.name, pn);
    emu_free(&f);
}

static void model_case(const shape &s)
{
    rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.vocab_size = s.V, c.hidden_size = s.D, c.intermediate_size = s.F, c.num_hidden_layers = s.L;
    c.num_attention_heads = s.Hq, c.num_key_value_heads = s.Hk, c.head_dim = s.hd;
    c.tie_word_embeddings = s.tied, c.attention_bias = s.bias, c.eos_token_id = -1;
    c.rope_theta = 10000.0;
    rlvr_model m;
    if (rlvr_model_create(&m, &c, err, sizeof err) || rlvr_model_enable_grads(&m, err, sizeof err)) {
        ok(0, "%s: host model: %s", s.name, err);
        return;
    }
    fill(&m);
    layout_case(&m, s.name);
    int B = s.B, T = s.T, N = B * T, V = s.V;
    size_t NV = (size_t)N * V;
    int32_t *tok = (int32_t *)malloc((size_t)N * sizeof(int32_t));
    int32_t *tg = (int32_t *)malloc((size_t)N * sizeof(int32_t));
    uint8_t *rows = (uint8_t *)malloc((size_t)N);
    float *logits = (float *)malloc(NV * sizeof(float)), *dl = (float *)malloc(NV * sizeof(float));
    float *logp = (float *)malloc((size_t)N * sizeof(float)), *lse = (float *)malloc((size_t)N * sizeof(float));
    float *elogp = (float *)malloc((size_t)N * sizeof(float)), *elsev = (float *)malloc((size_t)N * sizeof(float));
    float *dlogp = (float *)malloc((size_t)N * sizeof(float));
    int active = 0;
    for (int i = 0; i < N; i++) {
        tok[i] = (int32_t)(uniform() * V);
        tg[i] = (int32_t)(uniform() * V);
        rows[i] = N == 1 || i % 5 != 2; /* some rows outside the loss */
        active += rows[i];
    }
    if (rlvr_model_forward(&m, tok, B, T, logits, err, sizeof err)) {
        ok(0, "%s: host forward: %s", s.name, err);
        goto done;
    }
    for (int prec = RLVR_GPU_FP32; prec <= RLVR_GPU_BF16; prec++) {
        const char *pn = prec == RLVR_GPU_BF16 ? "bf16" : "fp32";
        emu e;
        emu_init(&e, &m, prec, B, T);
        memcpy(e.n.tokens, tok, (size_t)N * sizeof(int32_t));
        host_ops o;
        int rc = graph_forward(o, e.n, B, T);
        ok(rc == 0, "%s, %s: the graph's forward runs (%d products)", s.name, pn, o.gemms);
        if (prec == RLVR_GPU_FP32) {
            double w = worst(e.n.logits, logits, NV, 1e-5, 1e-4);
            ok(w <= 1.0, "%s, fp32: logits match host/model.c (worst %.3g of the tolerance)", s.name, w);
        } else {
            double r = rel_l2(e.n.logits, logits, NV);
            ok(r <= 5e-2, "%s, bf16: logits within 5%% of fp32 (relative L2 %.3g)", s.name, r);
            ok(r > 0, "%s, bf16: the bf16 path rounds (relative L2 %.3g is not 0)", s.name, r);
        }
        ok(emu_guards_intact(&e), "%s, %s: the forward writes nothing past the carved blocks", s.name, pn);

        /* the forward-only net: one layer's activations, the same logits */
        {
            emu f;
            emu_init(&f, &m, prec, B, T, 1);
            memcpy(f.n.tokens, tok, (size_t)N * sizeof(int32_t));
            host_ops fo;
            int frc = graph_forward(fo, f.n, B, T);
            ok(frc == 0 && fo.gemms == o.gemms && !memcmp(f.n.logits, e.n.logits, NV * sizeof(float)),
               "%s, %s: the forward-only net's logits are the training net's, bit for bit (%d products)", s.name,
               pn, fo.gemms);
            ok(emu_guards_intact(&f), "%s, %s: forward-only: nothing written past the carved blocks", s.name, pn);
            size_t tb = carve_bytes(e.n.c, prec, 0, B, T), fb = carve_bytes(e.n.c, prec, 1, B, T);
            size_t gb = s.L > 1 ? (size_t)(s.L - 1) * (size_t)N * (4 * s.D + 2 * s.Hq * s.hd + 2 * s.Hk * s.hd + 2 * s.F)
                                        * sizeof(float) : 0;
            ok(fb + gb <= tb && f.n.grads == nullptr && f.n.dx == nullptr && f.n.logp == nullptr,
               "%s, %s: forward-only: no gradients, no backward or loss buffers, %zu bytes of activations where "
               "the training net carves %zu", s.name, pn, fb, tb);
            ok(graph_backward(fo, f.n, f.n.logits) == -1 && fo.gemms == o.gemms,
               "%s, %s: the backward refuses a forward-only net before any work", s.name, pn);
            emu_free(&f);
        }

        /* the loss: the kernel's arithmetic vs rlvr_logprobs + backward */
        float cscale = -1.0f / (float)active;
        for (int i = 0; i < N; i++) dlogp[i] = rows[i] ? cscale : 0.0f;
        memcpy(dl, logits, NV * sizeof(float));
        if (rlvr_logprobs(dl, tg, rows, (size_t)N, (size_t)V, 1.0f, logp, lse, NULL, err, sizeof err) ||
            rlvr_logprobs_backward(dl, tg, rows, lse, dlogp, (size_t)N, (size_t)V, 1.0f, dl, err, sizeof err)) {
            ok(0, "%s: host loss: %s", s.name, err);
            emu_free(&e);
            goto done;
        }
        if (prec == RLVR_GPU_FP32) {
            float *x = (float *)malloc(NV * sizeof(float));
            memcpy(x, logits, NV * sizeof(float));
            emu_cross_entropy(x, tg, rows, (size_t)N, (size_t)V, cscale, elogp, elsev, 32);
            ok(worst(elogp, logp, (size_t)N, 1e-6, 1e-5) <= 1.0 && worst(elsev, lse, (size_t)N, 1e-6, 1e-5) <= 1.0,
               "%s: cross-entropy logp and lse (32 lanes merged) match rlvr_logprobs", s.name);
            double w = worst(x, dl, NV, 1e-5, 1e-4);
            ok(w <= 1.0, "%s: cross-entropy gradient matches rlvr_logprobs_backward (worst %.3g)", s.name, w);
            free(x);
        }

        /* backward from the same dlogits */
        rlvr_model_zero_grads(&m);
        float *dcopy = (float *)malloc(NV * sizeof(float));
        memcpy(dcopy, dl, NV * sizeof(float));
        if (rlvr_model_backward(&m, dcopy, err, sizeof err)) {
            ok(0, "%s: host backward: %s", s.name, err);
            free(dcopy);
            emu_free(&e);
            goto done;
        }
        memcpy(dcopy, dl, NV * sizeof(float));
        rc = graph_backward(o, e.n, dcopy);
        ok(rc == 0, "%s, %s: the graph's backward runs", s.name, pn);
        hidden_case(s, m, e, prec, tok, dl);
        int bad = 0;
        double wmax = 0, rmax = 0;
        for (int t = 0; t < m.n_tensors; t++) {
            const rlvr_tensor *x = &m.tensors[t];
            if (!x->numel) continue;
            const float *got = e.n.grads + x->offset, *want = m.grads + x->offset;
            if (prec == RLVR_GPU_FP32) {
                double w = worst(got, want, x->numel, 1e-5, 1e-4);
                wmax = fmax(wmax, w);
                if (!(w <= 1.0)) {
                    bad++;
                    diag("%s: gradient of %s off (worst %.3g of the tolerance)", s.name, x->name, w);
                }
            } else {
                double r = rel_l2(got, want, x->numel);
                rmax = fmax(rmax, r);
                if (!(r <= 5e-2)) {
                    bad++;
                    diag("%s, bf16: gradient of %s off by %.3g (relative L2)", s.name, x->name, r);
                }
            }
        }
        if (prec == RLVR_GPU_FP32)
            ok(!bad, "%s, fp32: every weight gradient matches host/model.c (worst %.3g of the tolerance)", s.name, wmax);
        else
            ok(!bad, "%s, bf16: every weight gradient within 5%% (worst relative L2 %.3g)", s.name, rmax);
        free(dcopy);
        emu_free(&e);
    }
done:
    free(tok), free(tg), free(rows), free(logits), free(dl), free(logp), free(lse), free(elogp);
    free(elsev), free(dlogp);
    rlvr_model_free(&m);
}

/* AdamW: three steps of the emulation vs rlvr_adamw_step. */
static void adamw_case(double max_norm, double wd, const char *name)
{
    rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.vocab_size = 23, c.hidden_size = 16, c.intermediate_size = 24, c.num_hidden_layers = 2;
    c.num_attention_heads = 2, c.num_key_value_heads = 1, c.head_dim = 8, c.tie_word_embeddings = 0;
    c.eos_token_id = -1;
    rlvr_model m;
    if (rlvr_model_create(&m, &c, err, sizeof err) || rlvr_model_enable_grads(&m, err, sizeof err)) {
        ok(0, "adamw: %s", err);
        return;
    }
    fill(&m);
    rlvr_optim_config oc;
    rlvr_optim_config_default(&oc);
    oc.lr = 1e-2, oc.weight_decay = wd, oc.max_grad_norm = max_norm, oc.schedule = RLVR_LR_CONSTANT;
    rlvr_adamw opt;
    if (rlvr_adamw_create(&opt, m.n_params, &oc, err, sizeof err)) {
        ok(0, "adamw: %s", err);
        rlvr_model_free(&m);
        return;
    }
    layout y = make_layout(gpu_cfg(c));
    segment seg[3 + 12 * 2];
    int ns = make_segments(y, seg);
    size_t n = m.n_params;
    float *p = (float *)malloc(n * sizeof(float)), *g = (float *)malloc(n * sizeof(float));
    float *mv = (float *)calloc(2 * n, sizeof(float));
    memcpy(p, m.params, n * sizeof(float));
    int clipped_all = 1, clipped_any = 0;
    double wp = 0, wg = 0;
    for (int step = 1; step <= 3; step++) {
        for (size_t i = 0; i < n; i++) m.grads[i] = g[i] = 0.5f * noise();
        struct rlvr_optim_stats st;
        if (rlvr_adamw_step(&opt, &m, &st, err, sizeof err)) {
            ok(0, "adamw: %s", err);
            break;
        }
        double ss = 0;
        for (size_t i = 0; i < n; i++) ss += (double)g[i] * g[i];
        adamw_scalars s = adamw_prepare(sqrt(ss), max_norm, oc.lr, oc.beta1, oc.beta2, oc.eps, wd, step);
        for (int k = 0; k < ns; k++)
            for (size_t i = 0; i < seg[k].numel; i++) {
                size_t j = seg[k].offset + i;
                adamw_elem(&p[j], &g[j], &mv[j], &mv[n + j], s, seg[k].decay ? s.keep_decay : 1.0f);
            }
        clipped_all &= s.clipped == st.clipped;
        clipped_any |= s.clipped;
        for (size_t i = 0; i < n; i++) {
            wp = fmax(wp, fabs((double)p[i] - m.params[i]));
            wg = fmax(wg, fabs((double)g[i] - m.grads[i]));
        }
    }
    ok(wp <= 1e-6, "adamw (%s): parameters after 3 steps match host/optim.c (max error %.3g)", name, wp);
    ok(wg <= 1e-7, "adamw (%s): gradients, clipped in place, match (max error %.3g)", name, wg);
    ok(clipped_all && clipped_any == (max_norm > 0 && max_norm < 1),
       "adamw (%s): clipping decided as the host does", name);
    free(p), free(g), free(mv);
    rlvr_adamw_free(&opt);
    rlvr_model_free(&m);
}

/* bf16 rounding against hand-worked values, and the online log-sum-exp's
 * edge cases. */
static void math_cases(void)
{
    const struct {
        float in;
        uint16_t out;
    } bf[] = {
        {1.0f, 0x3f80}, {-2.0f, 0xc000}, {0.0f, 0x0000}, {-0.0f, 0x8000},
        {1.00390625f, 0x3f80},  /* 1 + 2^-8: a tie, to even (down) */
        {1.01171875f, 0x3f82},  /* 1 + 3 * 2^-8: a tie, to even (up) */
        {1.0078125f, 0x3f81},   /* exactly representable */
        {INFINITY, 0x7f80}, {-INFINITY, 0xff80},
        {3.4028235e38f, 0x7f80}, /* FLT_MAX rounds up to infinity, as the device does */
    };
    int good = 1;
    for (size_t i = 0; i < sizeof bf / sizeof bf[0]; i++)
        if (to_bf16(bf[i].in) != bf[i].out) {
            diag("to_bf16(%g) = 0x%04x, want 0x%04x", (double)bf[i].in, to_bf16(bf[i].in), bf[i].out);
            good = 0;
        }
    ok(good, "bf16 rounding: to nearest even, signed zeros, infinities");
    ok(isnan(from_bf16(to_bf16(NAN))), "bf16 rounding keeps NaN a NaN");
    lse_acc a{-INFINITY, 0.0f};
    a = lse_push(a, -INFINITY);
    ok(a.m == -INFINITY && a.s == 0.0f, "log-sum-exp: -Inf adds nothing");
    a = lse_push(a, 1000.0f);
    a = lse_push(a, 1000.0f);
    ok(fabsf(a.m + logf(a.s) - (1000.0f + logf(2.0f))) < 1e-3f, "log-sum-exp: large equal values do not overflow");
    lse_acc b = lse_merge(lse_acc{-INFINITY, 0.0f}, a), c2 = lse_merge(a, lse_acc{-INFINITY, 0.0f});
    ok(b.m == a.m && b.s == a.s && c2.m == a.m && c2.s == a.s, "log-sum-exp: merging an empty part is the identity");
    float p = attn_p(0.0f, 1.0f, 0.0f), ds = attn_ds(0.5f, 2.0f, 1.0f, 0.25f);
    ok(p == 1.0f && ds == 0.125f, "attention: p = exp(s * scale - lse), ds = p (dp - Dt) scale");
    float ra = 1.0f, rb = 0.0f;
    rope_pair(&ra, &rb, 0.0f, 1.0f, 0);
    float ia = ra, ib = rb;
    rope_pair(&ia, &ib, 0.0f, 1.0f, 1);
    ok(ra == 0.0f && rb == 1.0f && ia == 1.0f && ib == 0.0f, "rope: a quarter turn and back (rotate-half)");
}

/* ---- generation: graph_step on the emulation vs rlvr_model_step ---------------------- */

/* The emulated cache and step: the model's weights (an emu without
 * activations), the cache and the rows' buffers NaN-filled so that a read of
 * an entry nothing wrote shows up in the logits. */
struct emu_gen {
    emu e;
    layout c;
    int prec, slots, max_len;
    float *kc, *vc, *cos_sin, *rows;
    uint16_t *halves;
    int32_t *table;
    int steps_run;
};

static int emu_gen_create(void *ctx, int slots, int max_len)
{
    emu_gen *g = (emu_gen *)ctx;
    g->slots = slots, g->max_len = max_len;
    size_t n = kv_layer_size(g->c, slots, max_len) * (size_t)g->c.L;
    g->kc = (float *)malloc(n * sizeof(float));
    g->vc = (float *)malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) g->kc[i] = g->vc[i] = NAN;
    g->cos_sin = (float *)malloc((size_t)max_len * g->c.hd * sizeof(float));
    rlvr_gpu_rope_table(g->cos_sin, max_len, g->c.hd, g->c.theta);
    return 0;
}

static int emu_gen_copy(void *ctx, int from, int to, int len)
{
    emu_gen *g = (emu_gen *)ctx;
    host_ops o;
    return graph_kv_copy(o, g->c, g->kc, g->vc, g->slots, g->max_len, from, to, len);
}

static int emu_gen_step(void *ctx, int n, const int32_t *tok, const int *slot, const int *pos,
                        const uint8_t *emit, float *logits)
{
    emu_gen *g = (emu_gen *)ctx;
    int ne = 0;
    for (int r = 0; r < n; r++) ne += !emit || emit[r];
    step_bufs b;
    step_size z = step_carve(g->c, g->prec, b, n, ne > 0 ? ne : 1, nullptr, nullptr, nullptr);
    free(g->rows), free(g->halves), free(g->table);
    g->rows = (float *)malloc(z.floats * sizeof(float));
    for (size_t i = 0; i < z.floats; i++) g->rows[i] = NAN;
    g->halves = z.halves ? (uint16_t *)malloc(z.halves * sizeof(uint16_t)) : nullptr;
    if (g->halves) memset(g->halves, 0xff, z.halves * sizeof(uint16_t));
    g->table = (int32_t *)malloc(z.ints * sizeof(int32_t));
    step_carve(g->c, g->prec, b, n, ne > 0 ? ne : 1, g->rows, g->halves, g->table);
    int32_t *tk = (int32_t *)b.tokens, *sl = (int32_t *)b.slot, *ps = (int32_t *)b.pos, *ga = (int32_t *)b.gather;
    for (int r = 0, e = 0; r < n; r++) {
        tk[r] = tok[r], sl[r] = slot[r], ps[r] = pos[r];
        if (!emit || emit[r]) ga[e++] = r;
    }
    b.n = n, b.ne = ne, b.slots = g->slots, b.max_len = g->max_len;
    b.kc = g->kc, b.vc = g->vc, b.cos_sin = g->cos_sin;
    host_ops o;
    if (graph_step(o, g->e.n, b)) return -1;
    if (ne) memcpy(logits, b.logits, (size_t)ne * g->c.V * sizeof(float));
    g->steps_run++;
    return 0;
}

static void emu_gen_destroy(void *ctx)
{
    emu_gen *g = (emu_gen *)ctx;
    free(g->kc), free(g->vc), free(g->cos_sin), free(g->rows), free(g->halves), free(g->table);
    g->kc = g->vc = g->cos_sin = g->rows = nullptr, g->halves = nullptr, g->table = nullptr;
}

struct gen_shape {
    const char *name;
    int V, D, F, L, Hq, Hk, hd, tied, bias;
};

static const gen_shape gen_shapes[] = {
    {"step: tied, bias, GQA 4/2, hd 16", 264, 64, 176, 2, 4, 2, 16, 1, 1},
    {"step: odd sizes, untied, no bias, GQA 6/2, hd 8", 37, 24, 40, 2, 6, 2, 8, 0, 0},
    {"step: MHA 3/3, hd 10, one layer", 50, 30, 20, 1, 3, 3, 10, 1, 0},
    {"step: GQA 8/1, hd 40 (over a warp's 32 lanes), untied, bias", 61, 40, 56, 2, 8, 1, 40, 0, 1},
};

static void gen_case(const gen_shape &s)
{
    rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.vocab_size = s.V, c.hidden_size = s.D, c.intermediate_size = s.F, c.num_hidden_layers = s.L;
    c.num_attention_heads = s.Hq, c.num_key_value_heads = s.Hk, c.head_dim = s.hd;
    c.tie_word_embeddings = s.tied, c.attention_bias = s.bias, c.eos_token_id = -1;
    c.rope_theta = 10000.0;
    rlvr_model m;
    if (rlvr_model_create(&m, &c, err, sizeof err)) {
        ok(0, "%s: host model: %s", s.name, err);
        return;
    }
    fill(&m);
    for (int prec = RLVR_GPU_FP32; prec <= RLVR_GPU_BF16; prec++)
        for (int mode = 0; mode <= 2; mode++) { /* training, forward-only, without logits */
            int fwd_only = mode == 1, no_logits = mode == 2;
            emu_gen g;
            memset(&g, 0, sizeof g);
            emu_init(&g.e, &m, prec, 1, 1, fwd_only, no_logits);
            g.c = g.e.n.c;
            g.prec = prec;
            step_target t = {&g, emu_gen_create, emu_gen_copy, emu_gen_step, emu_gen_destroy};
            char name[160];
            snprintf(name, sizeof name, "%s, %s%s", s.name, prec == RLVR_GPU_BF16 ? "bf16" : "fp32",
                     fwd_only ? ", forward-only" : no_logits ? ", without logits" : "");
            step_scenario(name, &m, &t, prec == RLVR_GPU_BF16, 1e-5, 1e-4);
            emu_free(&g.e);
        }
    rlvr_model_free(&m);
}

/* The cache copy moves exactly [len, KD] per layer and slot, nothing else. */
static void kv_copy_case(void)
{
    layout y{};
    y.L = 3, y.KD = 5;
    const int slots = 4, max_len = 6;
    size_t n = kv_layer_size(y, slots, max_len) * (size_t)y.L;
    float *k = (float *)malloc(n * sizeof(float)), *v = (float *)malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) k[i] = (float)i, v[i] = -(float)i;
    host_ops o;
    int rc = graph_kv_copy(o, y, k, v, slots, max_len, 1, 3, 4);
    int good = rc == 0;
    for (int l = 0; l < y.L; l++)
        for (int sl = 0; sl < slots; sl++)
            for (int p = 0; p < max_len; p++)
                for (int j = 0; j < y.KD; j++) {
                    size_t at = (((size_t)l * slots + sl) * max_len + p) * y.KD + j;
                    size_t src = sl == 3 && p < 4 ? (((size_t)l * slots + 1) * max_len + p) * y.KD + j : at;
                    good &= k[at] == (float)src && v[at] == -(float)src;
                }
    ok(good, "kv copy: slot 1's first 4 positions into slot 3 in every layer, nothing else touched");
    free(k), free(v);
}

/* The device memory of a Qwen2.5-0.5B-shaped model (vocabulary 151936,
 * hidden 896, 24 layers, 14/2 heads of 64, intermediate 4864, tied, biases)
 * as a training model and as a forward-only one, from the carve functions
 * and the families model.cu allocates (its 32 MiB cuBLAS workspace and the
 * tensor table aside): printed as TAP comments for the README. */
static void memory_figures(void)
{
    rlvr_gpu_model_config g;
    memset(&g, 0, sizeof g);
    g.vocab_size = 151936, g.hidden_size = 896, g.intermediate_size = 4864, g.num_hidden_layers = 24;
    g.num_attention_heads = 14, g.num_key_value_heads = 2, g.head_dim = 64, g.max_position_embeddings = 32768;
    g.rope_theta = 1e6, g.rms_norm_eps = 1e-6, g.tie_word_embeddings = 1, g.attention_bias = 1;
    layout y = make_layout(g);
    const double GiB = 1024.0 * 1024.0 * 1024.0;
    size_t np = y.n_params;
    ok(np == 494032768, "Qwen2.5-0.5B shape: %zu parameters (494032768)", np);
    const struct {
        int B, T;
    } sizes[] = {{1, 1024}, {8, 1024}, {4, 2048}};
    for (int prec = RLVR_GPU_FP32; prec <= RLVR_GPU_BF16; prec++)
        for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
            int B = sizes[i].B, T = sizes[i].T;
            const char *pn = prec == RLVR_GPU_BF16 ? "bf16" : "fp32";
            size_t tr = carve_bytes(y, prec, 0, B, T), fo = carve_bytes(y, prec, 1, B, T);
            size_t w = np * 4 + (prec == RLVR_GPU_BF16 ? np * 2 : 0);
            size_t train_total = w + np * 4 + np * 8 + tr, fwd_total = w + fo;
            diag("Qwen2.5-0.5B, %s, %d x %d positions: training model %.2f GiB (weights %.2f, gradients %.2f, "
                 "AdamW moments %.2f, activations %.2f); forward-only %.2f GiB (weights %.2f, activations %.2f)",
                 pn, B, T, train_total / GiB, w / GiB, np * 4 / GiB, np * 8 / GiB, tr / GiB, fwd_total / GiB,
                 w / GiB, fo / GiB);
            ok(fo * 2 < tr, "Qwen2.5-0.5B, %s, %d x %d: the forward-only activations (%.2f GiB) under half of "
               "the training model's (%.2f GiB)", pn, B, T, fo / GiB, tr / GiB);
            /* without logits (RLVR_GPU_NO_LOGITS): the policy of the fused LM-head loss, and its reference */
            size_t trn = carve_bytes(y, prec, 0, B, T, 1), fon = carve_bytes(y, prec, 1, B, T, 1);
            size_t train_nl = w + np * 4 + np * 8 + trn, fwd_nl = w + fon;
            diag("Qwen2.5-0.5B, %s, %d x %d positions, without logits: training model %.2f GiB (activations %.2f, "
                 "%.2f GiB less than with logits); forward-only %.2f GiB (activations %.2f, %.2f GiB less)", pn, B, T,
                 train_nl / GiB, trn / GiB, (tr - trn) / GiB, fwd_nl / GiB, fon / GiB, (fo - fon) / GiB);
            size_t NV = (size_t)B * T * (size_t)y.V, NF = (size_t)B * T * (size_t)y.F;
            size_t want = NV * 4 + (prec == RLVR_GPU_BF16 ? (NV - NF) * 2 : 0);
            ok(tr - trn == want && fo - fon == NV * 4,
               "Qwen2.5-0.5B, %s, %d x %d: without logits the training model saves the logits%s (%.2f GiB), the "
               "forward-only one the logits (%.2f GiB)", pn, B, T,
               prec == RLVR_GPU_BF16 ? " and their gradient's bf16 operand" : "", (tr - trn) / GiB, (fo - fon) / GiB);
        }
}

int main(void)
{
    plan_no_plan();
    memory_figures();
    math_cases();
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) model_case(shapes[i]);
    adamw_case(0.5, 0.1, "clipped, decay 0.1");
    adamw_case(0.0, 0.0, "no clipping, no decay");
    adamw_case(1e6, 0.01, "norm under the bound");
    kv_copy_case();
    for (size_t i = 0; i < sizeof gen_shapes / sizeof gen_shapes[0]; i++) gen_case(gen_shapes[i]);
    return done_testing();
}
