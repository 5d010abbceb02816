/*
 * model_kernels.cu -- the policy's kernels (gpu_model.h's kernel entry
 * points) and struct cuda_ops, the CUDA backend that gpu/model.cu runs the
 * graph of model_graph.cuh on. CPU references: host/model.c (layers),
 * host/logprob.c (cross-entropy), host/optim.c (AdamW).
 *
 * Shapes and launches (blockDim always a multiple of 32, so that warp
 * shuffles see full warps):
 *   row kernels       one block of kRow (256) threads per row, a
 *                     blockDim-strided loop over the row, shuffle + shared
 *                     reductions (RMSNorm, softmax rows, cross-entropy);
 *   element kernels   grid-stride loops, kEl (256) threads, the grid capped
 *                     at kMaxBlocks (embedding, RoPE, permutes, SwiGLU,
 *                     adds, bf16 rounding, AdamW);
 *   column sums       blocks of 32 x 8 threads over 32 columns and a slice
 *                     of rows, atomically added (RMSNorm weight and bias
 *                     gradients);
 *   rowdot            one warp per row;
 *   decoding attention one block of kAttWarps (4) warps per (row, query
 *                     head), positions dealt round-robin to the warps, an
 *                     online softmax per warp merged through shared memory
 *                     (head_dim <= 256: 8 values per lane in registers).
 * The arithmetic of each element is model_math.cuh's, shared with the CPU
 * test; what only a GPU checks is the indexing and the reductions here.
 * Atomic adds (embedding backward, column sums, the gradient norm) make the
 * order of those additions vary from run to run: results agree with the
 * CPU to rounding, not bit for bit.
 *
 * Invariants: no kernel reads outside the shapes it is given (a token or
 * target outside the vocabulary is never used as an index); every entry
 * point checks its launch; nothing synchronises except rlvr_gpu_sync and the
 * copies.
 */
#include "gpu.h"
#include "gpu_fail.h"
#include "model_ops.cuh"

#include <stdarg.h>
#include <stdio.h>

namespace rlvr_gm {

constexpr int kRow = 256;
constexpr int kEl = 256;
constexpr unsigned kMaxBlocks = 65535u;
constexpr unsigned kFull = 0xffffffffu;

static unsigned blocks_for(size_t n)
{
    size_t b = (n + kEl - 1) / kEl;
    return (unsigned)(b < 1 ? 1 : b > kMaxBlocks ? kMaxBlocks : b);
}

/* ---- reductions ------------------------------------------------------------------ */

template <class T>
__device__ T warp_sum(T v)
{
    for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(kFull, v, off);
    return v;
}

/* The block's sum, returned to every thread. Called by all threads. */
template <class T>
__device__ T block_sum(T v)
{
    __shared__ T part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_sum(v);
    __syncthreads(); /* part may still be read by a previous call */
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : T(0);
    return warp_sum(v);
}

__device__ float warp_max(float v)
{
    for (int off = 16; off > 0; off >>= 1) v = fmaxf(v, __shfl_xor_sync(kFull, v, off));
    return v;
}

__device__ float block_max(float v)
{
    __shared__ float part[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    v = warp_max(v);
    __syncthreads();
    if (lane == 0) part[warp] = v;
    __syncthreads();
    v = lane < nw ? part[lane] : -INFINITY;
    return warp_max(v);
}

__device__ lse_acc warp_lse(lse_acc a)
{
    for (int off = 16; off > 0; off >>= 1) {
        lse_acc b{__shfl_xor_sync(kFull, a.m, off), __shfl_xor_sync(kFull, a.s, off)};
        a = lse_merge(a, b);
    }
    return a;
}

__device__ lse_acc block_lse(lse_acc a)
{
    __shared__ float pm[32], ps[32];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = (blockDim.x + 31) >> 5;
    a = warp_lse(a);
    __syncthreads();
    if (lane == 0) {
        pm[warp] = a.m;
        ps[warp] = a.s;
    }
    __syncthreads();
    a = lane < nw ? lse_acc{pm[lane], ps[lane]} : lse_acc{-INFINITY, 0.0f};
    return warp_lse(a);
}

/* ---- kernels ------------------------------------------------------------------------ */

/* out[N, D] = E[tok[n]]; grid N, any block. */
__global__ void k_embed_fwd(float *out, const float *E, const int32_t *tok, int D, int V)
{
    size_t n = blockIdx.x;
    int t = tok[n];
    bool ok = t >= 0 && t < V;
    for (int i = threadIdx.x; i < D; i += blockDim.x)
        out[n * D + i] = ok ? E[(size_t)t * D + i] : 0.0f;
}

__global__ void k_embed_bwd(float *dE, const float *dx, const int32_t *tok, int D, int V)
{
    size_t n = blockIdx.x;
    int t = tok[n];
    if (t < 0 || t >= V) return;
    for (int i = threadIdx.x; i < D; i += blockDim.x) atomicAdd(&dE[(size_t)t * D + i], dx[n * D + i]);
}

/* grid N, block kRow */
__global__ void k_rms_fwd(float *y, float *rstd, const float *x, const float *w, int D, float eps)
{
    size_t n = blockIdx.x;
    const float *xr = x + n * D;
    float ss = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) ss += xr[i] * xr[i];
    float r = rms_rstd(block_sum(ss), D, eps);
    for (int i = threadIdx.x; i < D; i += blockDim.x) y[n * D + i] = rms_y(xr[i], r, w[i]);
    if (rstd && threadIdx.x == 0) rstd[n] = r;
}

/* The input gradient; grid N, block kRow. */
__global__ void k_rms_bwd(float *dx, int add, const float *dy, const float *x, const float *w,
                          const float *rstd, int D)
{
    size_t n = blockIdx.x;
    const float *xr = x + n * D, *dyr = dy + n * D;
    float dot = 0.0f;
    for (int i = threadIdx.x; i < D; i += blockDim.x) dot += dyr[i] * w[i] * xr[i];
    float r = rstd[n], c = rms_c(block_sum(dot), r, D);
    for (int i = threadIdx.x; i < D; i += blockDim.x) {
        float g = rms_dx(dyr[i], w[i], r, xr[i], c);
        dx[n * D + i] = add ? dx[n * D + i] + g : g;
    }
}

/* out[c] += sum over rows of a[n, c] (x == NULL) or of rms_dw(a, x, rstd[n]).
 * block (32, 8), grid (ceil(C / 32), slices); each block sums its slice of
 * rows for 32 columns and adds once per column. */
__global__ void k_colsum(float *out, const float *a, const float *x, const float *rstd, int N,
                         int C, int rows_per_slice)
{
    __shared__ float part[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * rows_per_slice, r1 = min(N, r0 + rows_per_slice);
    float s = 0.0f;
    if (c < C)
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            size_t i = (size_t)r * C + c;
            s += x ? rms_dw(a[i], x[i], rstd[r]) : a[i];
        }
    part[threadIdx.y][threadIdx.x] = s;
    __syncthreads();
    if (threadIdx.y == 0 && c < C) {
        float t = 0.0f;
        for (int k = 0; k < 8; k++) t += part[k][threadIdx.x];
        atomicAdd(&out[c], t);
    }
}

/* x[N, H, hd] rotated in place; one thread per (n, h, i < hd/2). Row n is
 * at position pos[n] when pos is given (generation), else n % T. */
__global__ void k_rope(float *x, const float *cs, const int32_t *pos, int N, int T, int H, int hd,
                       int inverse)
{
    int half = hd / 2;
    size_t total = (size_t)N * H * half;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(e % half);
        size_t nh = e / half;
        int n = (int)(nh / H);
        int p = pos ? pos[n] : n % T;
        float *v = x + nh * hd;
        rope_pair(&v[i], &v[i + half], cs[(size_t)p * hd + i], cs[(size_t)p * hd + half + i],
                  inverse);
    }
}

/* The rows' keys and values into the cache: kc/vc [slots, max_len, KD] (one
 * layer's part), row r at (slot[r], pos[r]); one thread per element of
 * k[N, KD]. The step refuses two rows at one (slot, pos) before it runs, so
 * no two threads write one element. */
__global__ void k_kv_store(float *kc, float *vc, const float *k, const float *v,
                           const int32_t *slot, const int32_t *pos, int N, int KD, int max_len)
{
    size_t total = (size_t)N * KD;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t r = e / KD, j = e % KD;
        size_t at = ((size_t)slot[r] * max_len + (size_t)pos[r]) * KD + j;
        kc[at] = k[e];
        vc[at] = v[e];
    }
}

/* Decoding attention: out[N, Hq*hd] for query rows q[N, Hq*hd] against
 * positions 0..pos[r] of slot[r] in one layer's cache kc/vc [slots,
 * max_len, Hk*hd]; query head h reads key-value head h / (Hq / Hk).
 * grid N * Hq (one block per (row, head)), block kAttWarps warps; hd <=
 * kAttMaxHd. Warp w takes positions w, w + kAttWarps, ...: its lanes split
 * the dot product (lane i, i + 32, ...) and hold the matching entries of
 * the running weighted sum of values (model_math.cuh attn_push); the
 * warps' parts are merged through shared memory at the end. */
constexpr int kAttWarps = 4;
constexpr int kAttMaxHd = 256;

__global__ void __launch_bounds__(kAttWarps * 32)
k_attend(float *out, const float *q, const float *kc, const float *vc, const int32_t *slot,
         const int32_t *pos, int Hq, int Hk, int hd, int max_len, float scale)
{
    __shared__ float qs[kAttMaxHd];
    __shared__ float part_m[kAttWarps], part_s[kAttWarps];
    __shared__ float part_o[kAttWarps][kAttMaxHd];
    int r = blockIdx.x / Hq, h = blockIdx.x % Hq, kh = h / (Hq / Hk);
    int lane = threadIdx.x & 31, w = threadIdx.x >> 5;
    size_t QD = (size_t)Hq * hd, KD = (size_t)Hk * hd;
    const float *qr = q + (size_t)r * QD + (size_t)h * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) qs[i] = qr[i];
    __syncthreads();
    size_t base = (size_t)slot[r] * max_len * KD + (size_t)kh * hd;
    int P = pos[r];
    attn_state st{-INFINITY, 0.0f};
    float o[kAttMaxHd / 32];
#pragma unroll
    for (int j = 0; j < kAttMaxHd / 32; j++) o[j] = 0.0f;
    for (int s = w; s <= P; s += kAttWarps) {
        const float *kr = kc + base + (size_t)s * KD, *vr = vc + base + (size_t)s * KD;
        float d = 0.0f;
        for (int i = lane; i < hd; i += 32) d += qs[i] * kr[i];
        d = warp_sum(d);
        float corr, p;
        attn_push(&st, d * scale, &corr, &p);
#pragma unroll
        for (int j = 0; j < kAttMaxHd / 32; j++) {
            int i = lane + 32 * j;
            if (i < hd) o[j] = o[j] * corr + p * vr[i];
        }
    }
    if (lane == 0) {
        part_m[w] = st.m;
        part_s[w] = st.s;
    }
#pragma unroll
    for (int j = 0; j < kAttMaxHd / 32; j++) {
        int i = lane + 32 * j;
        if (i < hd) part_o[w][i] = o[j];
    }
    __syncthreads();
    float M = -INFINITY, S = 0.0f;
    for (int k = 0; k < kAttWarps; k++) M = part_m[k] > M ? part_m[k] : M;
    float f[kAttWarps];
    for (int k = 0; k < kAttWarps; k++) {
        f[k] = attn_rescale(part_m[k], M);
        S += part_s[k] * f[k];
    }
    float *orow = out + (size_t)r * QD + (size_t)h * hd;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < kAttWarps; k++) acc += part_o[k][i] * f[k];
        orow[i] = acc / S;
    }
}

/* dst[n, D] = src[rows[i], D]; one thread per element of dst. */
__global__ void k_gather_rows(float *dst, const float *src, const int32_t *rows, int n, int D)
{
    size_t total = (size_t)n * D;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        size_t i = e / D, j = e % D;
        dst[e] = src[(size_t)rows[i] * D + j];
    }
}

/* [B, T, H, hd] <-> [B, H, T, hd]; one thread per element of the tokens-first side. */
__global__ void k_permute(float *dst, const float *src, int B, int T, int H, int hd, int to_heads)
{
    size_t total = (size_t)B * T * H * hd;
    for (size_t e = (size_t)blockIdx.x * blockDim.x + threadIdx.x; e < total;
         e += (size_t)gridDim.x * blockDim.x) {
        int i = (int)(e % hd);
        size_t r = e / hd;
        int h = (int)(r % H);
        size_t bt = r / H;
        int t = (int)(bt % T);
        size_t b = bt / T;
        size_t hm = ((b * H + h) * T + t) * hd + i;
        if (to_heads) dst[hm] = src[e];
        else dst[e] = src[hm];
    }
}

/* Causal softmax of S[rows, T] in place (row r is query position r % T,
 * keys 0..t); lse[rows] written. grid rows, block kRow. */
__global__ void k_softmax_fwd(float *S, float *lse, int T, float scale)
{
    size_t r = blockIdx.x;
    int t = (int)(r % T);
    float *row = S + r * T;
    float mx = -INFINITY;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) mx = fmaxf(mx, row[s] * scale);
    mx = block_max(mx);
    float sum = 0.0f;
    for (int s = threadIdx.x; s <= t; s += blockDim.x) sum += expf(row[s] * scale - mx);
    sum = block_sum(sum);
    float l = mx + logf(sum);
    for (int s = threadIdx.x; s < T; s += blockDim.x) row[s] = s <= t ? attn_p(row[s], scale, l) : 0.0f;
    if (threadIdx.x == 0) lse[r] = l;
}

/* The probabilities again, from the scores and the saved lse. */
__global__ void k_softmax_p(float *S, const float *lse, int T, float scale)
{
    size_t r = blockIdx.x;
    int t = (int)(r % T);
    float *row = S + r * T, l = lse[r];
    for (int s = threadIdx.x; s < T; s += blockDim.x) row[s] = s <= t ? attn_p(row[s], scale, l) : 0.0f;
}

/* dP -> dS in place. */
__global__ void k_softmax_bwd(float *dP, const float *P, const float *Dt, int T, float scale)
{
    size_t r = blockIdx.x;
    int t = (int)(r % T);
    float *row = dP + r * T, d = Dt[r];
    const float *p = P + r * T;
    for (int s = threadIdx.x; s < T; s += blockDim.x) row[s] = s <= t ? attn_ds(p[s], row[s], d, scale) : 0.0f;
}

/* out[r] = a[r, :] . b[r, :]; one warp per row, block kEl. */
__global__ void k_rowdot(float *out, const float *a, const float *b, int rows, int len)
{
    int warps = blockDim.x / 32;
    size_t r = (size_t)blockIdx.x * warps + threadIdx.x / 32;
    if (r >= (size_t)rows) return; /* whole warps leave together */
    float s = 0.0f;
    for (int i = threadIdx.x & 31; i < len; i += 32) s += a[r * len + i] * b[r * len + i];
    s = warp_sum(s);
    if ((threadIdx.x & 31) == 0) out[r] = s;
}

__global__ void k_swiglu_fwd(float *h, const float *g, const float *u, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        h[i] = silu(g[i]) * u[i];
}

__global__ void k_swiglu_bwd(float *dg, float *du, const float *dh, const float *g, const float *u,
                             size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x) {
        float a, b;
        swiglu_bwd(dh[i], g[i], u[i], &a, &b);
        dg[i] = a;
        du[i] = b;
    }
}

__global__ void k_add(float *y, const float *x, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += x[i];
}

__global__ void k_bias_add(float *y, const float *b, size_t n, int C)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        y[i] += b[i % C];
}

__global__ void k_to_bf16(uint16_t *dst, const float *src, size_t n)
{
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        dst[i] = to_bf16(src[i]);
}

/* One row of the cross-entropy; grid n, block kRow. */
__global__ void k_cross_entropy(float *logits, const int32_t *targets, const uint8_t *rows,
                                size_t V, float c, float *logp, float *lse_out)
{
    size_t r = blockIdx.x;
    float *x = logits + r * V;
    if (rows && !rows[r]) {
        for (size_t v = threadIdx.x; v < V; v += blockDim.x) x[v] = 0.0f;
        if (threadIdx.x == 0) logp[r] = lse_out[r] = 0.0f;
        return;
    }
    int id = targets[r];
    bool bad_id = id < 0 || (size_t)id >= V;
    lse_acc a{-INFINITY, 0.0f};
    int bad = 0;
    for (size_t v = threadIdx.x; v < V; v += blockDim.x) {
        float z = x[v];
        if (isnan(z) || z == INFINITY) bad = 1;
        else a = lse_push(a, z);
    }
    a = block_lse(a);
    bad = block_sum(bad);
    float l = a.m + logf(a.s);
    float z_id = bad_id ? -INFINITY : x[id];
    __syncthreads(); /* every thread has read x[id] before any writes */
    bool fail = bad || bad_id || a.m == -INFINITY || z_id == -INFINITY;
    if (threadIdx.x == 0) {
        logp[r] = fail ? NAN : z_id - l;
        lse_out[r] = fail ? NAN : l;
    }
    if (fail || c == 0.0f) {
        for (size_t v = threadIdx.x; v < V; v += blockDim.x) x[v] = 0.0f;
        return;
    }
    float p_id = expf(z_id - l);
    for (size_t v = threadIdx.x; v < V; v += blockDim.x) x[v] = ce_grad(x[v], l, c, v == (size_t)id, p_id);
}

/* *out += sum x^2 in double; grid-stride, block kEl. */
__global__ void k_sumsq(double *out, const float *x, size_t n)
{
    double s = 0.0;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (size_t)gridDim.x * blockDim.x)
        s += (double)x[i] * x[i];
    s = block_sum(s);
    if (threadIdx.x == 0) atomicAdd(out, s);
}

/* grid (x: over a tensor's elements, y: one tensor of the table). */
__global__ void k_adamw(float *p, float *g, float *m, float *v, uint16_t *ph, const segment *seg,
                        adamw_scalars s)
{
    segment sg = seg[blockIdx.y];
    float keep = sg.decay ? s.keep_decay : 1.0f;
    for (size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x; i < sg.numel;
         i += (size_t)gridDim.x * blockDim.x) {
        size_t j = sg.offset + i;
        adamw_elem(&p[j], &g[j], &m[j], &v[j], s, keep);
        if (ph) ph[j] = to_bf16(p[j]);
    }
}

/* ---- cuda_ops ---------------------------------------------------------------------- */

int cuda_ops::fail(const char *op, const char *why)
{
    if (err && err_len) snprintf(err, err_len, "gpu model: %s: %s", op, why);
    return -1;
}

int cuda_ops::check(const char *op)
{
    cudaError_t e = cudaGetLastError();
    return e == cudaSuccess ? 0 : fail(op, cudaGetErrorString(e));
}

int cuda_ops::embed_fwd(float *out, const float *E, const int32_t *tok, int N, int D, int V)
{
    k_embed_fwd<<<N, kEl>>>(out, E, tok, D, V);
    return check("embedding forward");
}

int cuda_ops::embed_bwd(float *dE, const float *dx, const int32_t *tok, int N, int D, int V)
{
    k_embed_bwd<<<N, kEl>>>(dE, dx, tok, D, V);
    return check("embedding backward");
}

int cuda_ops::rms_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D, float eps)
{
    k_rms_fwd<<<N, kRow>>>(y, rstd, x, w, D, eps);
    return check("rmsnorm forward");
}

static int colsum_launch(float *out, const float *a, const float *x, const float *rstd, int N, int C)
{
    int slices = (N + 63) / 64;
    if (slices > 64) slices = 64;
    int per = (N + slices - 1) / slices;
    dim3 grid((unsigned)((C + 31) / 32), (unsigned)slices), block(32, 8);
    k_colsum<<<grid, block>>>(out, a, x, rstd, N, C, per);
    return 0;
}

int cuda_ops::rms_bwd(float *dx, int add_, float *dw, const float *dy, const float *x,
                      const float *w, const float *rstd, int N, int D)
{
    k_rms_bwd<<<N, kRow>>>(dx, add_, dy, x, w, rstd, D);
    if (check("rmsnorm backward")) return -1;
    colsum_launch(dw, dy, x, rstd, N, D);
    return check("rmsnorm weight gradient");
}

int cuda_ops::rope(float *x, const float *cs, int N, int T, int H, int hd, int inverse)
{
    k_rope<<<blocks_for((size_t)N * H * (hd / 2)), kEl>>>(x, cs, nullptr, N, T, H, hd, inverse);
    return check("rope");
}

int cuda_ops::rope_at(float *x, const float *cs, const int32_t *pos, int N, int H, int hd)
{
    k_rope<<<blocks_for((size_t)N * H * (hd / 2)), kEl>>>(x, cs, pos, N, 1, H, hd, 0);
    return check("rope at positions");
}

int cuda_ops::kv_store(float *kc, float *vc, const float *k, const float *v, const int32_t *slot,
                       const int32_t *pos, int N, int KD, int max_len)
{
    k_kv_store<<<blocks_for((size_t)N * KD), kEl>>>(kc, vc, k, v, slot, pos, N, KD, max_len);
    return check("kv cache store");
}

int cuda_ops::attend(float *out, const float *q, const float *kc, const float *vc,
                     const int32_t *slot, const int32_t *pos, int N, int Hq, int Hk, int hd,
                     int max_len, float scale)
{
    if (hd > kAttMaxHd) return fail("decoding attention", "head_dim over 256");
    if ((long long)N * Hq > 0x7fffffffll) return fail("decoding attention", "too many rows");
    k_attend<<<(unsigned)(N * Hq), kAttWarps * 32>>>(out, q, kc, vc, slot, pos, Hq, Hk, hd,
                                                    max_len, scale);
    return check("decoding attention");
}

int cuda_ops::gather_rows(float *dst, const float *src, const int32_t *rows, int n, int D)
{
    k_gather_rows<<<blocks_for((size_t)n * D), kEl>>>(dst, src, rows, n, D);
    return check("row gather");
}

int cuda_ops::permute(float *dst, const float *src, int B, int T, int H, int hd, int to_heads)
{
    k_permute<<<blocks_for((size_t)B * T * H * hd), kEl>>>(dst, src, B, T, H, hd, to_heads);
    return check("permute");
}

int cuda_ops::softmax_fwd(float *S, float *lse, int rows, int T, float scale)
{
    k_softmax_fwd<<<rows, kRow>>>(S, lse, T, scale);
    return check("attention softmax");
}

int cuda_ops::softmax_p(float *S, const float *lse, int rows, int T, float scale)
{
    k_softmax_p<<<rows, kRow>>>(S, lse, T, scale);
    return check("attention probabilities");
}

int cuda_ops::softmax_bwd(float *dP, const float *P, const float *Dt, int rows, int T, float scale)
{
    k_softmax_bwd<<<rows, kRow>>>(dP, P, Dt, T, scale);
    return check("attention softmax backward");
}

int cuda_ops::rowdot(float *out, const float *a, const float *b, int rows, int len)
{
    int per = kEl / 32;
    k_rowdot<<<(unsigned)((rows + per - 1) / per), kEl>>>(out, a, b, rows, len);
    return check("attention row dot");
}

int cuda_ops::swiglu_fwd(float *h, const float *g, const float *u, size_t n)
{
    k_swiglu_fwd<<<blocks_for(n), kEl>>>(h, g, u, n);
    return check("swiglu forward");
}

int cuda_ops::swiglu_bwd(float *dg, float *du, const float *dh, const float *g, const float *u,
                         size_t n)
{
    k_swiglu_bwd<<<blocks_for(n), kEl>>>(dg, du, dh, g, u, n);
    return check("swiglu backward");
}

int cuda_ops::add(float *y, const float *x, size_t n)
{
    k_add<<<blocks_for(n), kEl>>>(y, x, n);
    return check("residual add");
}

int cuda_ops::bias_add(float *y, const float *b, int N, int C)
{
    size_t n = (size_t)N * C;
    k_bias_add<<<blocks_for(n), kEl>>>(y, b, n, C);
    return check("bias add");
}

int cuda_ops::colsum(float *out, const float *a, int N, int C)
{
    colsum_launch(out, a, nullptr, nullptr, N, C);
    return check("bias gradient");
}

int cuda_ops::copy(float *dst, const float *src, size_t n)
{
    cudaError_t e = cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, 0);
    return e == cudaSuccess ? 0 : fail("copy", cudaGetErrorString(e));
}

int cuda_ops::zero(void *p, size_t bytes)
{
    cudaError_t e = cudaMemsetAsync(p, 0, bytes, 0);
    return e == cudaSuccess ? 0 : fail("clear", cudaGetErrorString(e));
}

int cuda_ops::to_bf16(uint16_t *dst, const float *src, size_t n)
{
    k_to_bf16<<<blocks_for(n), kEl>>>(dst, src, n);
    return check("bf16 rounding");
}

int cuda_ops::gemm(int tA, int tB, int m, int n, int k, const void *A, int lda, long long sA,
                   const void *B, int ldb, long long sB, float beta, float *C, int ldc,
                   long long sC, int batch, int kind)
{
    const float alpha = 1.0f;
    cudaDataType_t ab = kind == GEMM_BF16 ? CUDA_R_16BF : CUDA_R_32F;
    cublasComputeType_t ct = kind == GEMM_TF32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    cublasOperation_t oa = tA ? CUBLAS_OP_T : CUBLAS_OP_N, ob = tB ? CUBLAS_OP_T : CUBLAS_OP_N;
    cublasStatus_t st;
    if (batch == 1)
        st = cublasGemmEx(blas, oa, ob, m, n, k, &alpha, A, ab, lda, B, ab, ldb, &beta, C,
                          CUDA_R_32F, ldc, ct, CUBLAS_GEMM_DEFAULT);
    else
        st = cublasGemmStridedBatchedEx(blas, oa, ob, m, n, k, &alpha, A, ab, lda, sA, B, ab, ldb,
                                        sB, &beta, C, CUDA_R_32F, ldc, sC, batch, ct,
                                        CUBLAS_GEMM_DEFAULT);
    if (st != CUBLAS_STATUS_SUCCESS) {
        char why[160];
        snprintf(why, sizeof why, "%s (m %d n %d k %d batch %d)", cublasGetStatusString(st), m,
                 n, k, batch);
        return fail("matrix product", why);
    }
    return 0;
}

int cuda_ops::cross_entropy(float *logits, const int32_t *targets, const uint8_t *rows, size_t n,
                            size_t vocab, float dlogp, float *logp, float *lse)
{
    if (n == 0) return 0;
    if (n > 0x7fffffffu) return fail("cross-entropy", "too many rows");
    k_cross_entropy<<<(unsigned)n, kRow>>>(logits, targets, rows, vocab, dlogp, logp, lse);
    return check("cross-entropy");
}

int cuda_ops::sumsq(double *d_out, const float *x, size_t n)
{
    k_sumsq<<<blocks_for(n) < 1024 ? blocks_for(n) : 1024, kEl>>>(d_out, x, n);
    return check("gradient norm");
}

int cuda_ops::adamw(float *p, float *g, float *m, float *v, uint16_t *ph, const segment *d_seg,
                    int n_seg, size_t max_numel, const adamw_scalars &s)
{
    unsigned bx = blocks_for(max_numel);
    if (bx > 1024) bx = 1024;
    dim3 grid(bx, (unsigned)n_seg);
    k_adamw<<<grid, kEl>>>(p, g, m, v, ph, d_seg, s);
    return check("adamw");
}

} // namespace rlvr_gm

/* ---- the C entry points ------------------------------------------------------------- */

using rlvr_gm::cuda_ops;

namespace {


cuda_ops ops_for(char *err, size_t err_len)
{
    cuda_ops o;
    o.blas = nullptr;
    o.err = err;
    o.err_len = err_len;
    return o;
}

/* One cuBLAS handle for the kernel-level attention entry points, created on
 * first use and kept for the process (the model object has its own). */
cublasHandle_t shared_blas(cublasStatus_t *st)
{
    static cublasStatus_t status = CUBLAS_STATUS_NOT_INITIALIZED;
    static cublasHandle_t h = [] {
        cublasHandle_t x = nullptr;
        status = cublasCreate(&x);
        if (status == CUBLAS_STATUS_SUCCESS) status = cublasSetMathMode(x, CUBLAS_DEFAULT_MATH);
        return x;
    }();
    *st = status;
    return h;
}

bool bad_dims(int a, int b)
{
    return a < 1 || b < 1;
}

} // namespace

extern "C" {

int rlvr_gpu_mem_alloc(void **d_ptr, size_t bytes, char *err, size_t err_len)
{
    *d_ptr = nullptr;
    cudaError_t e = cudaMalloc(d_ptr, bytes ? bytes : 1);
    if (e != cudaSuccess) {
        (void)cudaGetLastError();
        *d_ptr = nullptr;
        return rlvr_gpu_fail(err, err_len, "gpu: cudaMalloc of %zu bytes: %s", bytes, cudaGetErrorString(e));
    }
    return 0;
}

void rlvr_gpu_mem_free(void *d_ptr)
{
    if (d_ptr) cudaFree(d_ptr);
}

int rlvr_gpu_mem_upload(void *d_dst, const void *src, size_t bytes, char *err, size_t err_len)
{
    cudaError_t e = cudaMemcpy(d_dst, src, bytes, cudaMemcpyHostToDevice);
    return e == cudaSuccess ? 0 : rlvr_gpu_fail(err, err_len, "gpu: copy to device: %s", cudaGetErrorString(e));
}

int rlvr_gpu_mem_download(void *dst, const void *d_src, size_t bytes, char *err, size_t err_len)
{
    cudaError_t e = cudaMemcpy(dst, d_src, bytes, cudaMemcpyDeviceToHost);
    return e == cudaSuccess ? 0 : rlvr_gpu_fail(err, err_len, "gpu: copy from device: %s", cudaGetErrorString(e));
}

int rlvr_gpu_sync(char *err, size_t err_len)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e == cudaSuccess) e = cudaGetLastError();
    return e == cudaSuccess ? 0 : rlvr_gpu_fail(err, err_len, "gpu: %s", cudaGetErrorString(e));
}

int rlvr_gpu_embedding_forward(float *d_out, const float *d_E, const int32_t *d_tokens, int N,
                               int D, int V, char *err, size_t err_len)
{
    if (bad_dims(N, D) || V < 1) return rlvr_gpu_fail(err, err_len, "embedding: bad shape %d x %d (V %d)", N, D, V);
    cuda_ops o = ops_for(err, err_len);
    return o.embed_fwd(d_out, d_E, d_tokens, N, D, V);
}

int rlvr_gpu_embedding_backward(float *d_dE, const float *d_dx, const int32_t *d_tokens, int N,
                                int D, int V, char *err, size_t err_len)
{
    if (bad_dims(N, D) || V < 1) return rlvr_gpu_fail(err, err_len, "embedding: bad shape %d x %d (V %d)", N, D, V);
    cuda_ops o = ops_for(err, err_len);
    return o.embed_bwd(d_dE, d_dx, d_tokens, N, D, V);
}

int rlvr_gpu_rmsnorm_forward(float *d_y, float *d_rstd, const float *d_x, const float *d_w,
                             int N, int D, float eps, char *err, size_t err_len)
{
    if (bad_dims(N, D) || !(eps > 0.0f)) return rlvr_gpu_fail(err, err_len, "rmsnorm: bad shape %d x %d or eps", N, D);
    cuda_ops o = ops_for(err, err_len);
    return o.rms_fwd(d_y, d_rstd, d_x, d_w, N, D, eps);
}

int rlvr_gpu_rmsnorm_backward(float *d_dx, int dx_add, float *d_dw, const float *d_dy,
                              const float *d_x, const float *d_w, const float *d_rstd, int N,
                              int D, char *err, size_t err_len)
{
    if (bad_dims(N, D)) return rlvr_gpu_fail(err, err_len, "rmsnorm: bad shape %d x %d", N, D);
    cuda_ops o = ops_for(err, err_len);
    return o.rms_bwd(d_dx, dx_add, d_dw, d_dy, d_x, d_w, d_rstd, N, D);
}

int rlvr_gpu_rope(float *d_x, const float *d_cos_sin, int N, int T, int H, int hd, int inverse,
                  char *err, size_t err_len)
{
    if (bad_dims(N, T) || H < 1 || hd < 2 || hd % 2)
        return rlvr_gpu_fail(err, err_len, "rope: bad shape N %d T %d H %d hd %d", N, T, H, hd);
    cuda_ops o = ops_for(err, err_len);
    return o.rope(d_x, d_cos_sin, N, T, H, hd, inverse);
}

int rlvr_gpu_swiglu_forward(float *d_h, const float *d_gate, const float *d_up, size_t n,
                            char *err, size_t err_len)
{
    if (!n) return 0;
    cuda_ops o = ops_for(err, err_len);
    return o.swiglu_fwd(d_h, d_gate, d_up, n);
}

int rlvr_gpu_swiglu_backward(float *d_dgate, float *d_dup, const float *d_dh,
                             const float *d_gate, const float *d_up, size_t n, char *err,
                             size_t err_len)
{
    if (!n) return 0;
    cuda_ops o = ops_for(err, err_len);
    return o.swiglu_bwd(d_dgate, d_dup, d_dh, d_gate, d_up, n);
}

int rlvr_gpu_add(float *d_y, const float *d_x, size_t n, char *err, size_t err_len)
{
    if (!n) return 0;
    cuda_ops o = ops_for(err, err_len);
    return o.add(d_y, d_x, n);
}

size_t rlvr_gpu_attention_scratch(int B, int Hq, int T)
{
    return rlvr_gm::attention_scratch(B, Hq, T);
}

static int attention_args(int B, int T, int Hq, int Hk, int hd, char *err, size_t err_len)
{
    if (bad_dims(B, T) || Hq < 1 || Hk < 1 || Hq % Hk || hd < 1)
        return rlvr_gpu_fail(err, err_len, "attention: bad shape B %d T %d Hq %d Hk %d hd %d", B, T, Hq, Hk, hd);
    return 0;
}

int rlvr_gpu_attention_forward(float *d_out, float *d_lse, const float *d_q, const float *d_k,
                               const float *d_v, int B, int T, int Hq, int Hk, int hd,
                               float *d_scratch, char *err, size_t err_len)
{
    if (attention_args(B, T, Hq, Hk, hd, err, err_len)) return -1;
    cuda_ops o = ops_for(err, err_len);
    cublasStatus_t st;
    o.blas = shared_blas(&st);
    if (st != CUBLAS_STATUS_SUCCESS) return o.fail("attention", cublasGetStatusString(st));
    return rlvr_gm::attention_forward(o, rlvr_gm::GEMM_F32, d_out, d_lse, d_q, d_k, d_v, B, T, Hq,
                                      Hk, hd, d_scratch);
}

int rlvr_gpu_attention_backward(float *d_dq, float *d_dk, float *d_dv, const float *d_dout,
                                const float *d_q, const float *d_k, const float *d_v,
                                const float *d_out, const float *d_lse, int B, int T, int Hq,
                                int Hk, int hd, float *d_scratch, char *err, size_t err_len)
{
    if (attention_args(B, T, Hq, Hk, hd, err, err_len)) return -1;
    cuda_ops o = ops_for(err, err_len);
    cublasStatus_t st;
    o.blas = shared_blas(&st);
    if (st != CUBLAS_STATUS_SUCCESS) return o.fail("attention", cublasGetStatusString(st));
    return rlvr_gm::attention_backward(o, rlvr_gm::GEMM_F32, d_dq, d_dk, d_dv, d_dout, d_q, d_k,
                                       d_v, d_out, d_lse, B, T, Hq, Hk, hd, d_scratch);
}

int rlvr_gpu_cross_entropy(float *d_logits, const int32_t *d_targets, const uint8_t *d_rows,
                           size_t n, size_t vocab, float dlogp, float *d_logp, float *d_lse,
                           char *err, size_t err_len)
{
    if (n && vocab == 0) return rlvr_gpu_fail(err, err_len, "cross-entropy: vocab is 0");
    if (!isfinite(dlogp)) return rlvr_gpu_fail(err, err_len, "cross-entropy: dlogp %g is not finite", (double)dlogp);
    cuda_ops o = ops_for(err, err_len);
    return o.cross_entropy(d_logits, d_targets, d_rows, n, vocab, dlogp, d_logp, d_lse);
}

} // extern "C"
