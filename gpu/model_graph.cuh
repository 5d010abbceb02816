/*
 * model_graph.cuh -- the policy's forward and backward as a sequence of
 * operations, written once and run by two backends: the CUDA kernels and
 * cuBLAS (gpu/model.cu's cuda_ops) and a plain host emulation of the same
 * operations (tests/test_gpu_model_host.cu's host_ops), which is how the
 * order of the operations, the buffers each reads and writes and every
 * cuBLAS call's transposes, leading dimensions and strides are checked
 * against host/model.c on a machine without a GPU.
 *
 * What lives here:
 *  - the parameter layout (host/model.c's tensor table, recomputed
 *    arithmetically: same order, same offsets, same decay flags);
 *  - struct net: the pointers into the families of memory (params, grads,
 *    the bf16 copy, activations, scratch), carved from one block each by
 *    net_carve_acts; shapes in brackets; a forward-only net (fwd_only)
 *    carves one layer's activations, which every layer reuses, and nothing
 *    the backward or the loss needs; a net without logits (no_logits)
 *    carves no [N, V] logits and no [N, V] bf16 operand for their gradient;
 *  - graph_forward / graph_backward / attention templates over an Ops type,
 *    and their halves without the LM head: graph_forward_hidden (up to the
 *    final norm, h = xf) and graph_backward_hidden (from dh, the gradient
 *    at the final norm's output), for a loss that multiplies h by the head
 *    itself (gpu_grpo.h's fused LM-head loss): graph_forward is
 *    graph_forward_hidden then the head's product, graph_backward the
 *    head's two products then graph_backward_hidden, the same operations in
 *    the same order either way;
 *  - struct step_bufs and graph_step / graph_kv_copy: generation with a KV
 *    cache, host/model.c's rlvr_model_step and rlvr_kv_cache_copy.
 *
 * An Ops type provides (every pointer in its own memory space; 0 or -1):
 *   embed_fwd embed_bwd rms_fwd rms_bwd rope permute softmax_fwd softmax_p
 *   softmax_bwd rowdot swiglu_fwd swiglu_bwd add bias_add colsum copy zero
 *   to_bf16 gemm, and for the step: rope_at kv_store attend gather_rows
 * gemm is cuBLAS's column-major cublasGemmStridedBatchedEx with C in fp32:
 * kind GEMM_F32 (fp32 operands, TF32 off), GEMM_TF32 (fp32 operands, TF32
 * allowed) or GEMM_BF16 (operands as bf16 bits, fp32 accumulation).
 * Row-major products are mapped onto it by mm_xwT / mm_xw / mm_gTx below,
 * the only place that knows the mapping.
 *
 * Invariant: the graph reads only what earlier operations wrote; the
 * backward needs the activations of the last forward and nothing else;
 * within a layer of the forward, every activation is written before it is
 * read and the layer's input is last read before its output is written, so
 * that a forward-only net runs the very same operations on one layer's
 * buffers (and so gives the very same logits).
 */
#ifndef RLVR_MODEL_GRAPH_CUH
#define RLVR_MODEL_GRAPH_CUH

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "gpu_model.h"

namespace rlvr_gm {

enum { GEMM_F32 = 0, GEMM_TF32 = 1, GEMM_BF16 = 2 };
enum { PER_LAYER = 12 };
/* Indices of a layer's tensors (host/model.c layer_names). */
enum { T_LN1, T_WQ, T_BQ, T_WK, T_BK, T_WV, T_BV, T_WO, T_LN2, T_WG, T_WU, T_WD };

/* ---- the parameter layout ------------------------------------------------------------ */

struct layout {
    int V, D, F, L, Hq, Hk, hd, QD, KD, tied, bias, max_pos;
    float eps;
    double theta;
    size_t layer_size;        /* floats per layer */
    size_t in_layer[PER_LAYER + 1]; /* offsets within a layer; [12] = layer_size */
    size_t n_params;
};

static inline layout make_layout(const rlvr_gpu_model_config &c)
{
    layout y;
    y.V = c.vocab_size, y.D = c.hidden_size, y.F = c.intermediate_size;
    y.L = c.num_hidden_layers, y.Hq = c.num_attention_heads, y.Hk = c.num_key_value_heads;
    y.hd = c.head_dim, y.QD = y.Hq * y.hd, y.KD = y.Hk * y.hd;
    y.tied = c.tie_word_embeddings, y.bias = c.attention_bias;
    y.max_pos = c.max_position_embeddings;
    y.eps = (float)c.rms_norm_eps, y.theta = c.rope_theta;
    size_t D = (size_t)y.D, F = (size_t)y.F, QD = (size_t)y.QD, KD = (size_t)y.KD;
    size_t b = y.bias ? 1 : 0;
    const size_t numel[PER_LAYER] = {D,      QD * D, b * QD, KD * D, b * KD, KD * D,
                                     b * KD, D * QD, D,      F * D,  F * D,  D * F};
    size_t off = 0;
    for (int k = 0; k < PER_LAYER; k++) {
        y.in_layer[k] = off;
        off += numel[k];
    }
    y.in_layer[PER_LAYER] = off;
    y.layer_size = off;
    size_t V = (size_t)y.V;
    y.n_params = V * D + (size_t)y.L * off + D + (y.tied ? 0 : V * D);
    return y;
}

static inline size_t off_embed(const layout &)
{
    return 0;
}
static inline size_t off_layer(const layout &y, int l, int k)
{
    return (size_t)y.V * y.D + (size_t)l * y.layer_size + y.in_layer[k];
}
static inline size_t off_norm(const layout &y)
{
    return (size_t)y.V * y.D + (size_t)y.L * y.layer_size;
}
static inline size_t off_head(const layout &y)
{
    return y.tied ? 0 : off_norm(y) + (size_t)y.D;
}

/* One tensor of the table for AdamW: offset, numel, decayed (a matrix). */
struct segment {
    size_t offset, numel;
    int decay;
};

/* Fills seg[] (room for 3 + L * 12) with the non-empty tensors in table
 * order; returns their count. */
static inline int make_segments(const layout &y, segment *seg)
{
    int n = 0;
    seg[n++] = segment{0, (size_t)y.V * y.D, 1};
    for (int l = 0; l < y.L; l++)
        for (int k = 0; k < PER_LAYER; k++) {
            size_t numel = y.in_layer[k + 1] - y.in_layer[k];
            if (!numel) continue;
            int vec = k == T_LN1 || k == T_LN2 || k == T_BQ || k == T_BK || k == T_BV;
            seg[n++] = segment{off_layer(y, l, k), numel, !vec};
        }
    seg[n++] = segment{off_norm(y), (size_t)y.D, 0};
    if (!y.tied) seg[n++] = segment{off_head(y), (size_t)y.V * y.D, 1};
    return n;
}

/* ---- the activations and scratch --------------------------------------------------- */

struct net {
    layout c;
    int prec;                 /* RLVR_GPU_FP32 or RLVR_GPU_BF16 */
    int fwd_only;             /* 1: forward only: grads NULL; the per-layer arrays
                                 below hold one layer ([1, ...]), reused by every
                                 layer; the backward's scratch and the loss's
                                 buffers NULL */
    int no_logits;            /* 1: no logits buffer (logits NULL), hA without the
                                 room for dlogits: graph_forward and graph_backward
                                 refuse, the _hidden halves run */
    int B, T;                 /* capacity of the activations */
    int cur_B, cur_T;         /* shape of the last forward (0: none) */
    int cur_logits;           /* 1: the last forward computed the logits (graph_forward),
                                 0: it stopped at the final norm (graph_forward_hidden) */
    float *params, *grads;    /* [n_params] each */
    uint16_t *params_h;       /* [n_params] bf16 copy (BF16 only, else NULL) */
    /* per layer, [L, ...] ([1, ...] when fwd_only); N = B * T */
    float *x;                 /* [L, N, D]  layer input (residual stream) */
    float *xn1, *rstd1;       /* [L, N, D], [L, N] */
    float *q, *k, *v;         /* [L, B, Hq, T, hd], [L, B, Hk, T, hd] x2: rotated, heads first */
    float *att, *lse;         /* [L, N, QD] tokens first, [L, B, Hq, T] */
    float *xmid;              /* [L, N, D]  residual after attention */
    float *xn2, *rstd2;       /* [L, N, D], [L, N] */
    float *gate, *up;         /* [L, N, F] each */
    float *xL, *xf, *rstdf;   /* [N, D], [N, D], [N] */
    float *logits;            /* [N, V]  (the gradient in place after the loss); NULL
                                 when no_logits */
    int32_t *tokens;          /* [N] */
    /* scratch, reused by every layer */
    float *tq, *tk, *tv;      /* [N, QD], [N, KD] x2  projections / their gradients */
    float *hbuf, *dup;        /* [N, F] each (hbuf also holds dh, then dgate) */
    float *dx, *dmid, *dn;    /* [N, D] each */
    float *datt;              /* [N, QD] */
    float *oh, *doh, *dqh;    /* [B, Hq, T, hd] each */
    float *dkh, *dvh;         /* [B, Hk, T, hd] each */
    float *attn_scratch;      /* attention_scratch(B, Hq, T); [B, Hq, T, T] when fwd_only */
    float *cos_sin;           /* [T, hd] */
    int32_t *targets;         /* [N]  the SFT loss's next tokens */
    uint8_t *rowmask;         /* [N]  rows inside the loss */
    float *logp, *ce_lse;     /* [N] each */
    uint16_t *hA, *hB;        /* bf16 operands: [N * max(V, F, QD, D)], [N * max(F, QD, D)];
                                 no_logits: [N * max(F, QD, D)] for hA;
                                 fwd_only: [N * max(QD, D)], [N * F] */
};

/* Scores, their gradient, Dt: [B, Hq, T, T] x2 + [B, Hq, T] floats. */
static inline size_t attention_scratch(int B, int Hq, int T)
{
    size_t rows = (size_t)B * Hq * T;
    return 2 * rows * (size_t)T + rows;
}

static inline size_t max3(size_t a, size_t b, size_t c)
{
    size_t m = a > b ? a : b;
    return m > c ? m : c;
}

/* Floats of the activation block for B x T (tokens included, as floats'
 * worth of int32), and bf16 entries of the two operand buffers. Every
 * sub-array starts on a 64-float (256-byte) boundary. */
static inline size_t round64(size_t n)
{
    return (n + 63) & ~(size_t)63;
}

struct acts_size {
    size_t floats, halves;
};

/* Carves the block (base may be NULL to size it only); hbase likewise for
 * the bf16 operands (NULL when prec is FP32). A forward-only net (n.fwd_only
 * set by the caller) gets one layer's activations and none of the
 * backward's or the loss's buffers (those pointers NULL). A net without
 * logits (n.no_logits set by the caller) gets no logits (NULL) and an hA
 * without room for dlogits [N, V]. */
static inline acts_size net_carve_acts(net &n, int B, int T, float *base, uint16_t *hbase)
{
    const layout &c = n.c;
    bool fo = n.fwd_only != 0;
    size_t N = (size_t)B * T, L = fo ? 1 : (size_t)c.L, D = (size_t)c.D, F = (size_t)c.F;
    size_t QD = (size_t)c.QD, KD = (size_t)c.KD, Hq = (size_t)c.Hq, V = (size_t)c.V;
    size_t at = 0;
    auto take = [&](size_t count) -> float * {
        float *p = base ? base + at : nullptr;
        at += round64(count);
        return p;
    };
    /* the backward's and the loss's: nothing for a forward-only net */
    auto take_train = [&](size_t count) -> float * { return fo ? nullptr : take(count); };
    n.x = take(L * N * D);
    n.xn1 = take(L * N * D);
    n.rstd1 = take(L * N);
    n.q = take(L * N * QD);
    n.k = take(L * N * KD);
    n.v = take(L * N * KD);
    n.att = take(L * N * QD);
    n.lse = take(L * N * Hq);
    n.xmid = take(L * N * D);
    n.xn2 = take(L * N * D);
    n.rstd2 = take(L * N);
    n.gate = take(L * N * F);
    n.up = take(L * N * F);
    n.xL = take(N * D);
    n.xf = take(N * D);
    n.rstdf = take(N);
    n.logits = n.no_logits ? nullptr : take(N * V);
    n.tokens = (int32_t *)take(N);
    n.tq = take(N * QD);
    n.tk = take(N * KD);
    n.tv = take(N * KD);
    n.hbuf = take(N * F);
    n.dup = take_train(N * F);
    n.dx = take_train(N * D);
    n.dmid = take_train(N * D);
    n.dn = take_train(N * D);
    n.datt = take_train(N * QD);
    n.oh = take(N * QD);
    n.doh = take_train(N * QD);
    n.dqh = take_train(N * QD);
    n.dkh = take_train(N * KD);
    n.dvh = take_train(N * KD);
    /* the forward's scores only: [B, Hq, T, T] */
    n.attn_scratch = take(fo ? (size_t)B * Hq * T * (size_t)T : attention_scratch(B, (int)Hq, T));
    n.cos_sin = take((size_t)T * c.hd);
    n.targets = (int32_t *)take_train(N);
    n.rowmask = (uint8_t *)take_train(N / 4 + 1);
    n.logp = take_train(N);
    n.ce_lse = take_train(N);
    acts_size s;
    s.floats = at;
    /* the forward rounds xn1, att, xn2, xf into hA and h into hB; the
     * backward also dlogits [N, V] (hA; not without logits) and every
     * gradient */
    size_t VA = n.no_logits ? 0 : V;
    size_t a = fo ? round64(N * (QD > D ? QD : D)) : round64(N * (max3(VA, F, QD) > D ? max3(VA, F, QD) : D));
    size_t b = fo ? round64(N * F) : round64(N * max3(F, QD, D));
    s.halves = n.prec == RLVR_GPU_BF16 ? a + b : 0;
    n.hA = hbase ? hbase : nullptr;
    n.hB = hbase ? hbase + a : nullptr;
    n.B = B;
    n.T = T;
    return s;
}

/* ---- row-major products on a column-major gemm ------------------------------------ */

/* An operand: fp32 values, and their bf16 copy in BF16 mode. */
struct operand {
    const float *f;
    const uint16_t *h;
};

/* Where a product's operands sit in batched calls: element strides. */
struct strides {
    long long a, b, c;
};

/* y[N, Out] = x[N, In] . W[Out, In]^T (beta: y = that + beta * y). */
template <class O>
int mm_xwT(O &o, int kind, float *y, operand x, operand W, int N, int In, int Out, float beta,
           int batch = 1, strides s = strides{0, 0, 0})
{
    bool h = kind == GEMM_BF16;
    return o.gemm(1, 0, Out, N, In, h ? (const void *)W.h : W.f, In, s.b,
                  h ? (const void *)x.h : x.f, In, s.a, beta, y, Out, s.c, batch, kind);
}

/* dx[N, In] = dy[N, Out] . W[Out, In] (+ beta * dx). */
template <class O>
int mm_xw(O &o, int kind, float *dx, operand dy, operand W, int N, int In, int Out, float beta,
          int batch = 1, strides s = strides{0, 0, 0})
{
    bool h = kind == GEMM_BF16;
    return o.gemm(0, 0, In, N, Out, h ? (const void *)W.h : W.f, In, s.b,
                  h ? (const void *)dy.h : dy.f, Out, s.a, beta, dx, In, s.c, batch, kind);
}

/* dW[Out, In] = dy[N, Out]^T . x[N, In] (+ beta * dW). */
template <class O>
int mm_gTx(O &o, int kind, float *dW, operand dy, operand x, int N, int In, int Out, float beta,
           int batch = 1, strides s = strides{0, 0, 0})
{
    bool h = kind == GEMM_BF16;
    return o.gemm(0, 1, In, Out, N, h ? (const void *)x.h : x.f, In, s.b,
                  h ? (const void *)dy.h : dy.f, Out, s.a, beta, dW, In, s.c, batch, kind);
}

/* ---- attention (heads first; see gpu_model.h) ------------------------------------- */

/* Scores S[bk][R, T] = Q[bk][R, hd] . K[bk][T, hd]^T for each of the B*Hk
 * key-value heads bk, R = group * T query rows (the group's query heads
 * are consecutive in [B, Hq, T, hd]). */
template <class O>
int attention_scores(O &o, int kind, float *S, const float *q, const float *k, int B, int T,
                     int Hq, int Hk, int hd)
{
    int R = Hq / Hk * T;
    strides s{(long long)R * hd, (long long)T * hd, (long long)R * T};
    return mm_xwT(o, kind, S, operand{q, nullptr}, operand{k, nullptr}, R, hd, T, 0.0f, B * Hk, s);
}

template <class O>
int attention_forward(O &o, int kind, float *out, float *lse, const float *q, const float *k,
                      const float *v, int B, int T, int Hq, int Hk, int hd, float *scratch)
{
    int R = Hq / Hk * T, rows = B * Hq * T;
    float scale = 1.0f / sqrtf((float)hd);
    float *S = scratch;
    if (attention_scores(o, kind, S, q, k, B, T, Hq, Hk, hd) ||
        o.softmax_fwd(S, lse, rows, T, scale))
        return -1;
    /* out[bk][R, hd] = P[bk][R, T] . V[bk][T, hd] */
    strides s{(long long)R * T, (long long)T * hd, (long long)R * hd};
    return mm_xw(o, kind, out, operand{S, nullptr}, operand{v, nullptr}, R, hd, T, 0.0f, B * Hk, s);
}

template <class O>
int attention_backward(O &o, int kind, float *dq, float *dk, float *dv, const float *dout,
                       const float *q, const float *k, const float *v, const float *out,
                       const float *lse, int B, int T, int Hq, int Hk, int hd, float *scratch)
{
    int R = Hq / Hk * T, rows = B * Hq * T, batch = B * Hk;
    float scale = 1.0f / sqrtf((float)hd);
    float *P = scratch, *dP = scratch + (size_t)rows * T, *Dt = dP + (size_t)rows * T;
    if (o.rowdot(Dt, dout, out, rows, hd) ||
        attention_scores(o, kind, P, q, k, B, T, Hq, Hk, hd) ||
        o.softmax_p(P, lse, rows, T, scale))
        return -1;
    strides sRT_R_T{(long long)R * T, (long long)R * hd, (long long)T * hd};
    /* dv[bk][T, hd] = P[bk]^T . dout[bk] */
    if (mm_gTx(o, kind, dv, operand{P, nullptr}, operand{dout, nullptr}, R, hd, T, 0.0f, batch,
               sRT_R_T))
        return -1;
    /* dP[bk][R, T] = dout[bk][R, hd] . V[bk][T, hd]^T */
    strides sP{(long long)R * hd, (long long)T * hd, (long long)R * T};
    if (mm_xwT(o, kind, dP, operand{dout, nullptr}, operand{v, nullptr}, R, hd, T, 0.0f, batch,
               sP) ||
        o.softmax_bwd(dP, P, Dt, rows, T, scale))
        return -1;
    /* dq[bk][R, hd] = dS[bk][R, T] . K[bk][T, hd];  dk[bk] = dS[bk]^T . Q[bk] */
    strides sQ{(long long)R * T, (long long)T * hd, (long long)R * hd};
    if (mm_xw(o, kind, dq, operand{dP, nullptr}, operand{k, nullptr}, R, hd, T, 0.0f, batch, sQ))
        return -1;
    strides sK{(long long)R * T, (long long)R * hd, (long long)T * hd};
    return mm_gTx(o, kind, dk, operand{dP, nullptr}, operand{q, nullptr}, R, hd, T, 0.0f, batch,
                  sK);
}

/* ---- the model ---------------------------------------------------------------------- */

struct layer_ptrs {
    float *ln1, *wq, *bq, *wk, *bk, *wv, *bv, *wo, *ln2, *wg, *wu, *wd;
};

static inline layer_ptrs layer_at(const layout &y, float *base, int l)
{
    float *p[PER_LAYER];
    for (int k = 0; k < PER_LAYER; k++)
        p[k] = y.in_layer[k + 1] > y.in_layer[k] ? base + off_layer(y, l, k) : nullptr;
    return layer_ptrs{p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
}

/* A weight as an operand (its bf16 copy in BF16 mode). */
static inline operand weight(const net &n, const float *w)
{
    return operand{w, n.params_h ? n.params_h + (w - n.params) : nullptr};
}

/* An activation as an operand: in BF16 mode rounded into buf first. */
template <class O>
int act(O &o, const net &n, operand *out, const float *x, size_t count, uint16_t *buf)
{
    out->f = x;
    out->h = nullptr;
    if (n.prec != RLVR_GPU_BF16) return 0;
    out->h = buf;
    return o.to_bf16(buf, x, count);
}

static inline int lin_kind(const net &n)
{
    return n.prec == RLVR_GPU_BF16 ? GEMM_BF16 : GEMM_F32;
}
static inline int attn_kind(const net &n)
{
    return n.prec == RLVR_GPU_BF16 ? GEMM_TF32 : GEMM_F32;
}

/* The forward up to the final norm: tokens[B*T] already in n.tokens; the
 * rope table in n.cos_sin covers T. Leaves the final hidden states
 * h = n.xf [N, D] and, in BF16, their bf16 copy in n.hA (the operand the
 * head's product reads: graph_forward's next operation); sets cur_B, cur_T
 * and cur_logits = 0. */
template <class O>
int graph_forward_hidden(O &o, net &n, int B, int T)
{
    const layout &c = n.c;
    int N = B * T, D = c.D, F = c.F, QD = c.QD, KD = c.KD, Hq = c.Hq, Hk = c.Hk, hd = c.hd;
    size_t sN = (size_t)N;
    int lk = lin_kind(n), ak = attn_kind(n);
    operand a, b;
    if (o.embed_fwd(n.x, n.params + off_embed(c), n.tokens, N, D, c.V)) return -1;
    /* layer l's activations: its own slice, or (forward only) the one set
     * every layer reuses; then the next layer's input overwrites this one's,
     * which the layer no longer reads once the residual add has run */
    size_t ls = n.fwd_only ? 0 : 1;
    for (int l = 0; l < c.L; l++) {
        layer_ptrs w = layer_at(c, n.params, l);
        size_t at = ls * (size_t)l * sN;
        float *x = n.x + at * D, *xn1 = n.xn1 + at * D, *rstd1 = n.rstd1 + at;
        float *q = n.q + at * QD, *k = n.k + at * KD, *v = n.v + at * KD;
        float *att = n.att + at * QD, *lse = n.lse + at * Hq;
        float *xmid = n.xmid + at * D, *xn2 = n.xn2 + at * D, *rstd2 = n.rstd2 + at;
        float *gate = n.gate + at * F, *up = n.up + at * F;
        float *xnext = l + 1 < c.L ? n.x + ls * (size_t)(l + 1) * sN * D : n.xL;

        if (o.rms_fwd(xn1, rstd1, x, w.ln1, N, D, c.eps) || act(o, n, &a, xn1, sN * D, n.hA) ||
            mm_xwT(o, lk, n.tq, a, weight(n, w.wq), N, D, QD, 0.0f) ||
            mm_xwT(o, lk, n.tk, a, weight(n, w.wk), N, D, KD, 0.0f) ||
            mm_xwT(o, lk, n.tv, a, weight(n, w.wv), N, D, KD, 0.0f))
            return -1;
        if (w.bq && (o.bias_add(n.tq, w.bq, N, QD) || o.bias_add(n.tk, w.bk, N, KD) ||
                     o.bias_add(n.tv, w.bv, N, KD)))
            return -1;
        if (o.rope(n.tq, n.cos_sin, N, T, Hq, hd, 0) || o.rope(n.tk, n.cos_sin, N, T, Hk, hd, 0) ||
            o.permute(q, n.tq, B, T, Hq, hd, 1) || o.permute(k, n.tk, B, T, Hk, hd, 1) ||
            o.permute(v, n.tv, B, T, Hk, hd, 1) ||
            attention_forward(o, ak, n.oh, lse, q, k, v, B, T, Hq, Hk, hd, n.attn_scratch) ||
            o.permute(att, n.oh, B, T, Hq, hd, 0))
            return -1;
        if (act(o, n, &a, att, sN * QD, n.hA) ||
            mm_xwT(o, lk, xmid, a, weight(n, w.wo), N, QD, D, 0.0f) || o.add(xmid, x, sN * D) ||
            o.rms_fwd(xn2, rstd2, xmid, w.ln2, N, D, c.eps) || act(o, n, &a, xn2, sN * D, n.hA) ||
            mm_xwT(o, lk, gate, a, weight(n, w.wg), N, D, F, 0.0f) ||
            mm_xwT(o, lk, up, a, weight(n, w.wu), N, D, F, 0.0f) ||
            o.swiglu_fwd(n.hbuf, gate, up, sN * F) || act(o, n, &b, n.hbuf, sN * F, n.hB) ||
            mm_xwT(o, lk, xnext, b, weight(n, w.wd), N, F, D, 0.0f) || o.add(xnext, xmid, sN * D))
            return -1;
    }
    if (o.rms_fwd(n.xf, n.rstdf, n.xL, n.params + off_norm(c), N, D, c.eps) ||
        act(o, n, &a, n.xf, sN * D, n.hA))
        return -1;
    n.cur_B = B;
    n.cur_T = T;
    n.cur_logits = 0;
    return 0;
}

/* Where the LM head's weight [V, D] sits in params (and in grads, and in
 * the bf16 copy): the embedding when tied, else lm_head. */
static inline size_t head_offset(const layout &c)
{
    return c.tied ? off_embed(c) : off_head(c);
}

/* tokens[B*T] already in n.tokens; the rope table in n.cos_sin covers T.
 * graph_forward_hidden, then logits[N, V] = h W^T; -1 for a net without
 * logits. */
template <class O>
int graph_forward(O &o, net &n, int B, int T)
{
    if (n.no_logits || !n.logits) return -1;
    if (graph_forward_hidden(o, n, B, T)) return -1;
    const layout &c = n.c;
    /* the operand graph_forward_hidden left: xf, and its bf16 copy in hA */
    operand a{n.xf, n.prec == RLVR_GPU_BF16 ? n.hA : nullptr};
    if (mm_xwT(o, lin_kind(n), n.logits, a, weight(n, n.params + head_offset(c)), B * T, c.D, c.V, 0.0f)) {
        n.cur_B = n.cur_T = 0;
        return -1;
    }
    n.cur_logits = 1;
    return 0;
}

template <class O>
int graph_backward_hidden(O &o, net &n, const float *dh);

/* dlogits[N, V] (may be n.logits) -> adds into n.grads: the head's two
 * products (dn = dlogits W, dW += dlogits^T xf), then graph_backward_hidden
 * from dn. Not for a forward-only net (-1: it kept neither the activations
 * nor gradients), nor for one without logits (its hA has no room for
 * dlogits). */
template <class O>
int graph_backward(O &o, net &n, const float *dlogits)
{
    if (n.fwd_only || n.no_logits) return -1;
    const layout &c = n.c;
    int N = n.cur_B * n.cur_T, D = c.D;
    size_t sN = (size_t)N;
    int lk = lin_kind(n);
    operand a, b;
    /* head: hA holds dlogits, hB xf */
    size_t head_off = head_offset(c);
    if (act(o, n, &a, dlogits, sN * c.V, n.hA) || act(o, n, &b, n.xf, sN * D, n.hB) ||
        mm_xw(o, lk, n.dn, a, weight(n, n.params + head_off), N, D, c.V, 0.0f) ||
        mm_gTx(o, lk, n.grads + head_off, a, b, N, D, c.V, 1.0f))
        return -1;
    return graph_backward_hidden(o, n, n.dn);
}

/* dh[N, D], the gradient at the final norm's output (may be n.dn) -> adds
 * into n.grads every gradient below the LM head: the final norm's, the
 * layers', the embedding's (the LM head's own is the caller's: dW +=
 * dlogits^T h). Reads dh once, first. Not for a forward-only net. */
template <class O>
int graph_backward_hidden(O &o, net &n, const float *dh)
{
    if (n.fwd_only) return -1;
    const layout &c = n.c;
    int B = n.cur_B, T = n.cur_T;
    int N = B * T, D = c.D, F = c.F, QD = c.QD, KD = c.KD, Hq = c.Hq, Hk = c.Hk, hd = c.hd;
    size_t sN = (size_t)N;
    int lk = lin_kind(n), ak = attn_kind(n);
    float *G = n.grads;
    operand a, b;

    /* final norm */
    if (o.rms_bwd(n.dx, 0, G + off_norm(c), dh, n.xL, n.params + off_norm(c), n.rstdf, N, D))
        return -1;

    for (int l = c.L - 1; l >= 0; l--) {
        layer_ptrs w = layer_at(c, n.params, l), g = layer_at(c, G, l);
        float *x = n.x + l * sN * D, *xn1 = n.xn1 + l * sN * D, *rstd1 = n.rstd1 + l * sN;
        float *q = n.q + l * sN * QD, *k = n.k + l * sN * KD, *v = n.v + l * sN * KD;
        float *att = n.att + l * sN * QD, *lse = n.lse + l * sN * Hq;
        float *xmid = n.xmid + l * sN * D, *xn2 = n.xn2 + l * sN * D, *rstd2 = n.rstd2 + l * sN;
        float *gate = n.gate + l * sN * F, *up = n.up + l * sN * F;

        /* MLP: dx is the gradient at the layer's output. hbuf = h, then dh
         * (= dgate after swiglu_bwd). */
        if (o.swiglu_fwd(n.hbuf, gate, up, sN * F) || act(o, n, &a, n.dx, sN * D, n.hA) ||
            act(o, n, &b, n.hbuf, sN * F, n.hB) ||
            mm_gTx(o, lk, g.wd, a, b, N, F, D, 1.0f) ||
            mm_xw(o, lk, n.hbuf, a, weight(n, w.wd), N, F, D, 0.0f) ||
            o.swiglu_bwd(n.hbuf, n.dup, n.hbuf, gate, up, sN * F))
            return -1;
        if (act(o, n, &a, n.hbuf, sN * F, n.hA) || act(o, n, &b, xn2, sN * D, n.hB) ||
            mm_xw(o, lk, n.dn, a, weight(n, w.wg), N, D, F, 0.0f) ||
            mm_gTx(o, lk, g.wg, a, b, N, D, F, 1.0f) || act(o, n, &a, n.dup, sN * F, n.hA) ||
            mm_xw(o, lk, n.dn, a, weight(n, w.wu), N, D, F, 1.0f) ||
            mm_gTx(o, lk, g.wu, a, b, N, D, F, 1.0f) || o.copy(n.dmid, n.dx, sN * D) ||
            o.rms_bwd(n.dmid, 1, g.ln2, n.dn, xmid, w.ln2, rstd2, N, D))
            return -1;

        /* attention: datt, then the heads-first gradients into dqh/dkh/dvh,
         * back to tokens first in tq/tk/tv */
        if (act(o, n, &a, n.dmid, sN * D, n.hA) || act(o, n, &b, att, sN * QD, n.hB) ||
            mm_xw(o, lk, n.datt, a, weight(n, w.wo), N, QD, D, 0.0f) ||
            mm_gTx(o, lk, g.wo, a, b, N, QD, D, 1.0f) ||
            o.permute(n.doh, n.datt, B, T, Hq, hd, 1) || o.permute(n.oh, att, B, T, Hq, hd, 1) ||
            attention_backward(o, ak, n.dqh, n.dkh, n.dvh, n.doh, q, k, v, n.oh, lse, B, T, Hq,
                               Hk, hd, n.attn_scratch) ||
            o.permute(n.tq, n.dqh, B, T, Hq, hd, 0) || o.permute(n.tk, n.dkh, B, T, Hk, hd, 0) ||
            o.permute(n.tv, n.dvh, B, T, Hk, hd, 0) ||
            o.rope(n.tq, n.cos_sin, N, T, Hq, hd, 1) || o.rope(n.tk, n.cos_sin, N, T, Hk, hd, 1))
            return -1;
        if (act(o, n, &b, xn1, sN * D, n.hB) || act(o, n, &a, n.tq, sN * QD, n.hA) ||
            mm_xw(o, lk, n.dn, a, weight(n, w.wq), N, D, QD, 0.0f) ||
            mm_gTx(o, lk, g.wq, a, b, N, D, QD, 1.0f) || act(o, n, &a, n.tk, sN * KD, n.hA) ||
            mm_xw(o, lk, n.dn, a, weight(n, w.wk), N, D, KD, 1.0f) ||
            mm_gTx(o, lk, g.wk, a, b, N, D, KD, 1.0f) || act(o, n, &a, n.tv, sN * KD, n.hA) ||
            mm_xw(o, lk, n.dn, a, weight(n, w.wv), N, D, KD, 1.0f) ||
            mm_gTx(o, lk, g.wv, a, b, N, D, KD, 1.0f))
            return -1;
        if (g.bq && (o.colsum(g.bq, n.tq, N, QD) || o.colsum(g.bk, n.tk, N, KD) ||
                     o.colsum(g.bv, n.tv, N, KD)))
            return -1;
        if (o.copy(n.dx, n.dmid, sN * D) ||
            o.rms_bwd(n.dx, 1, g.ln1, n.dn, x, w.ln1, rstd1, N, D))
            return -1;
    }
    return o.embed_bwd(G + off_embed(c), n.dx, n.tokens, N, D, c.V);
}

/* ---- generation: a step over rows with a KV cache ---------------------------------- */

/* The cache and one step's rows, all in the backend's memory. Row r is
 * token tokens[r] at position pos[r] of sequence slot[r]; gather[ne] lists
 * the rows that emit logits, in row order. The cache is
 *   kc, vc   [L, slots, max_len, KD] each  (keys rotated, as host/model.c's)
 * and cos_sin [max_len, hd] is the RoPE table of its positions. The rows'
 * buffers hold n rows (ne <= n emitting):
 *   x, xn, tmp [n, D]   the residual stream, its norm, a product's output
 *   q, att     [n, QD]  k, v [n, KD]   gate, up, h [n, F]
 *   logits     [ne, V]
 *   hA         bf16 operand, n * max(D, QD, F) (BF16 only, else NULL) */
struct step_bufs {
    int n, ne;
    int slots, max_len;
    float *kc, *vc, *cos_sin;
    const int32_t *tokens, *slot, *pos, *gather;
    float *x, *xn, *tmp, *q, *att, *k, *v, *gate, *up, *h, *logits;
    uint16_t *hA;
};

/* Sizes for a step of up to R rows, E of them emitting: floats of the rows'
 * buffers, bf16 entries of hA, int32 entries of the row table (tokens,
 * slot, pos: R each; gather: E), each sub-array on a 64-entry boundary. */
struct step_size {
    size_t floats, halves, ints;
};

/* Carves the rows' buffers from base / hbase / ibase (NULL to size only);
 * sets the row table's pointers (tokens, slot, pos, gather: in that order
 * in ibase, R, R, R, E entries). n and ne are the caller's. */
static inline step_size step_carve(const layout &c, int prec, step_bufs &b, int R, int E, float *base,
                                   uint16_t *hbase, int32_t *ibase)
{
    size_t sR = (size_t)R, D = (size_t)c.D, F = (size_t)c.F, QD = (size_t)c.QD, KD = (size_t)c.KD;
    size_t at = 0;
    auto take = [&](size_t count) -> float * {
        float *p = base ? base + at : nullptr;
        at += round64(count);
        return p;
    };
    b.x = take(sR * D);
    b.xn = take(sR * D);
    b.tmp = take(sR * D);
    b.q = take(sR * QD);
    b.att = take(sR * QD);
    b.k = take(sR * KD);
    b.v = take(sR * KD);
    b.gate = take(sR * F);
    b.up = take(sR * F);
    b.h = take(sR * F);
    b.logits = take((size_t)E * c.V);
    step_size s;
    s.floats = at;
    s.halves = prec == RLVR_GPU_BF16 ? round64(sR * max3(D, QD, F)) : 0;
    b.hA = hbase && s.halves ? hbase : nullptr;
    size_t ri = round64(sR), ei = round64((size_t)E);
    b.tokens = ibase ? ibase : nullptr;
    b.slot = ibase ? ibase + ri : nullptr;
    b.pos = ibase ? ibase + 2 * ri : nullptr;
    b.gather = ibase ? ibase + 3 * ri : nullptr;
    s.ints = 3 * ri + ei;
    return s;
}

/* Elements of one layer's part of the cache, and where layer l begins. */
static inline size_t kv_layer_size(const layout &c, int slots, int max_len)
{
    return (size_t)slots * max_len * c.KD;
}

/* rlvr_model_step's forward on b.n rows (b's row table already filled):
 * per layer, the rows' keys and values are rotated and stored at (slot,
 * pos) before any row attends, so a prefill's rows see each other; row r
 * attends to positions 0..pos[r] of its slot. Then the emitting rows are
 * gathered and only they go through the final norm and the head. */
template <class O>
int graph_step(O &o, const net &n, step_bufs &b)
{
    const layout &c = n.c;
    int N = b.n, D = c.D, F = c.F, QD = c.QD, KD = c.KD, Hq = c.Hq, Hk = c.Hk, hd = c.hd;
    size_t sN = (size_t)N;
    int lk = lin_kind(n);
    size_t per_layer = kv_layer_size(c, b.slots, b.max_len);
    float scale = 1.0f / sqrtf((float)hd);
    operand a;
    if (o.embed_fwd(b.x, n.params + off_embed(c), b.tokens, N, D, c.V)) return -1;
    for (int l = 0; l < c.L; l++) {
        layer_ptrs w = layer_at(c, n.params, l);
        float *kc = b.kc + (size_t)l * per_layer, *vc = b.vc + (size_t)l * per_layer;
        if (o.rms_fwd(b.xn, nullptr, b.x, w.ln1, N, D, c.eps) || act(o, n, &a, b.xn, sN * D, b.hA) ||
            mm_xwT(o, lk, b.q, a, weight(n, w.wq), N, D, QD, 0.0f) ||
            mm_xwT(o, lk, b.k, a, weight(n, w.wk), N, D, KD, 0.0f) ||
            mm_xwT(o, lk, b.v, a, weight(n, w.wv), N, D, KD, 0.0f))
            return -1;
        if (w.bq && (o.bias_add(b.q, w.bq, N, QD) || o.bias_add(b.k, w.bk, N, KD) ||
                     o.bias_add(b.v, w.bv, N, KD)))
            return -1;
        if (o.rope_at(b.q, b.cos_sin, b.pos, N, Hq, hd) || o.rope_at(b.k, b.cos_sin, b.pos, N, Hk, hd) ||
            o.kv_store(kc, vc, b.k, b.v, b.slot, b.pos, N, KD, b.max_len) ||
            o.attend(b.att, b.q, kc, vc, b.slot, b.pos, N, Hq, Hk, hd, b.max_len, scale))
            return -1;
        if (act(o, n, &a, b.att, sN * QD, b.hA) ||
            mm_xwT(o, lk, b.tmp, a, weight(n, w.wo), N, QD, D, 0.0f) || o.add(b.x, b.tmp, sN * D) ||
            o.rms_fwd(b.xn, nullptr, b.x, w.ln2, N, D, c.eps) || act(o, n, &a, b.xn, sN * D, b.hA) ||
            mm_xwT(o, lk, b.gate, a, weight(n, w.wg), N, D, F, 0.0f) ||
            mm_xwT(o, lk, b.up, a, weight(n, w.wu), N, D, F, 0.0f) ||
            o.swiglu_fwd(b.h, b.gate, b.up, sN * F) || act(o, n, &a, b.h, sN * F, b.hA) ||
            mm_xwT(o, lk, b.tmp, a, weight(n, w.wd), N, F, D, 0.0f) || o.add(b.x, b.tmp, sN * D))
            return -1;
    }
    if (!b.ne) return 0;
    float *head = n.params + (c.tied ? off_embed(c) : off_head(c));
    size_t sE = (size_t)b.ne;
    return o.gather_rows(b.xn, b.x, b.gather, b.ne, D) ||
                   o.rms_fwd(b.tmp, nullptr, b.xn, n.params + off_norm(c), b.ne, D, c.eps) ||
                   act(o, n, &a, b.tmp, sE * D, b.hA) ||
                   mm_xwT(o, lk, b.logits, a, weight(n, head), b.ne, D, c.V, 0.0f)
               ? -1
               : 0;
}

/* rlvr_kv_cache_copy: the first len positions of slot from into slot to, in
 * every layer, keys and values. */
template <class O>
int graph_kv_copy(O &o, const layout &c, float *kc, float *vc, int slots, int max_len, int from, int to,
                  int len)
{
    if (from == to || len <= 0) return 0;
    size_t per_layer = kv_layer_size(c, slots, max_len), row = (size_t)max_len * c.KD;
    size_t count = (size_t)len * c.KD;
    for (int l = 0; l < c.L; l++) {
        size_t at = (size_t)l * per_layer;
        if (o.copy(kc + at + (size_t)to * row, kc + at + (size_t)from * row, count) ||
            o.copy(vc + at + (size_t)to * row, vc + at + (size_t)from * row, count))
            return -1;
    }
    return 0;
}

} // namespace rlvr_gm

#endif
