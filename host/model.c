/*
 * model.c -- the policy's transformer on the CPU (see model.h for the
 * tensor table and the memory layout).
 *
 * Three families of memory, each one allocation:
 *   params/grads  float32, the tensor table's order;
 *   acts          what a training forward keeps, carved out of one block
 *                 sized by rlvr_model_reserve for B sequences of T tokens;
 *   kv cache      keys and values for generation (rlvr_kv_cache_create).
 *
 * Matrix products go through lin_fwd/lin_bwd, which call cblas_sgemm when
 * configure found a BLAS (RLVR_HAVE_CBLAS) and plain loops otherwise
 * (or when built with RLVR_NO_BLAS), so the
 * file still builds with a C compiler and libm alone (gpu/Makefile.standalone).
 * Attention never stores the [T, T] probabilities: the forward keeps each
 * row's log-sum-exp and the backward recomputes the probabilities from it
 * (the flash-attention recurrence, on the CPU). Threads: BLAS's, in the
 * matrix products (OPENBLAS_NUM_THREADS), which hold nearly all of the
 * work; the rest runs on the calling thread. (OpenMP loops here were tried
 * and dropped: their spinning workers fought OpenBLAS's own threads and made
 * a two-thread run several times slower than one.)
 *
 * Numerics follow Hugging Face's Qwen2 modelling code in float32: RMSNorm
 * x * rsqrt(mean(x^2) + eps) * w; rotate-half RoPE with
 * inv_freq[i] = theta^(-2i/hd); softmax attention scaled by 1/sqrt(hd);
 * SwiGLU down(silu(gate(x)) * up(x)).
 */
#if defined(HAVE_CONFIG_H)
#include "config.h"
#endif

#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "numeric.h"

/* RLVR_NO_BLAS forces the plain loops (tests hold both paths to torch). */
#if defined(RLVR_HAVE_CBLAS) && !defined(RLVR_NO_BLAS)
#define USE_CBLAS 1
#include <cblas.h>
#endif

#define TWO_PI 6.283185307179586476925286766559

/* ---- configuration ---------------------------------------------------------------- */

void rlvr_model_config_tiny(struct rlvr_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 264;
    c->hidden_size = 64;
    c->intermediate_size = 176;
    c->num_hidden_layers = 2;
    c->num_attention_heads = 4;
    c->num_key_value_heads = 2;
    c->head_dim = 16;
    c->max_position_embeddings = 1024;
    c->rope_theta = 10000.0;
    c->rms_norm_eps = 1e-6;
    c->tie_word_embeddings = 1;
    c->attention_bias = 1;
    c->bos_token_id = -1;
    c->eos_token_id = 256;
}

void rlvr_model_config_qwen2_0_5b(struct rlvr_model_config *c)
{
    memset(c, 0, sizeof *c);
    c->vocab_size = 151936;
    c->hidden_size = 896;
    c->intermediate_size = 4864;
    c->num_hidden_layers = 24;
    c->num_attention_heads = 14;
    c->num_key_value_heads = 2;
    c->head_dim = 64;
    c->max_position_embeddings = 32768;
    c->rope_theta = 1000000.0;
    c->rms_norm_eps = 1e-6;
    c->tie_word_embeddings = 1;
    c->attention_bias = 1;
    c->bos_token_id = 151643;
    c->eos_token_id = 151645;
}

int rlvr_model_config_check(struct rlvr_model_config *c, char *err, size_t err_len)
{
    const struct {
        const char *name;
        int value, max;
    } ranges[] = {
        {"vocab_size", c->vocab_size, 1 << 22},
        {"hidden_size", c->hidden_size, 1 << 16},
        {"intermediate_size", c->intermediate_size, 1 << 18},
        {"num_hidden_layers", c->num_hidden_layers, 1024},
        {"num_attention_heads", c->num_attention_heads, 1024},
        {"num_key_value_heads", c->num_key_value_heads, 1024},
        {"max_position_embeddings", c->max_position_embeddings, 1 << 24},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (ranges[i].value < 1 || ranges[i].value > ranges[i].max)
            return rlvr_num_fail(err, err_len, "model config: %s = %d is out of range [1, %d]",
                                 ranges[i].name, ranges[i].value, ranges[i].max);
    if (c->num_attention_heads % c->num_key_value_heads)
        return rlvr_num_fail(err, err_len,
                             "model config: num_attention_heads (%d) is not a multiple of "
                             "num_key_value_heads (%d)",
                             c->num_attention_heads, c->num_key_value_heads);
    if (c->head_dim == 0) {
        if (c->hidden_size % c->num_attention_heads)
            return rlvr_num_fail(err, err_len,
                                 "model config: hidden_size (%d) is not a multiple of "
                                 "num_attention_heads (%d) and head_dim is not given",
                                 c->hidden_size, c->num_attention_heads);
        c->head_dim = c->hidden_size / c->num_attention_heads;
    }
    if (c->head_dim < 2 || c->head_dim % 2 || c->head_dim > 1024)
        return rlvr_num_fail(err, err_len,
                             "model config: head_dim = %d must be even and in [2, 1024]",
                             c->head_dim);
    if (!(c->rope_theta > 1.0) || !isfinite(c->rope_theta))
        return rlvr_num_fail(err, err_len, "model config: rope_theta = %g must be > 1",
                             c->rope_theta);
    if (!(c->rms_norm_eps > 0.0) || !(c->rms_norm_eps < 1.0))
        return rlvr_num_fail(err, err_len, "model config: rms_norm_eps = %g must be in (0, 1)",
                             c->rms_norm_eps);
    if ((c->tie_word_embeddings != 0 && c->tie_word_embeddings != 1) ||
        (c->attention_bias != 0 && c->attention_bias != 1))
        return rlvr_num_fail(err, err_len,
                             "model config: tie_word_embeddings and attention_bias are 0 or 1");
    if (c->bos_token_id < -1 || c->bos_token_id >= c->vocab_size || c->eos_token_id < -1 ||
        c->eos_token_id >= c->vocab_size)
        return rlvr_num_fail(err, err_len,
                             "model config: bos_token_id %d or eos_token_id %d is outside the "
                             "vocabulary (%d)",
                             c->bos_token_id, c->eos_token_id, c->vocab_size);
    return 0;
}

/* ---- the tensor table ------------------------------------------------------------- */

/* Per-layer views into params (or grads): pointers set by layer_view(). */
struct layer_w {
    float *ln1, *wq, *bq, *wk, *bk, *wv, *bv, *wo, *ln2, *wg, *wu, *wd;
};

enum { PER_LAYER = 12 };
static const char *const layer_names[PER_LAYER] = {
    "input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.q_proj.bias",
    "self_attn.k_proj.weight", "self_attn.k_proj.bias", "self_attn.v_proj.weight",
    "self_attn.v_proj.bias", "self_attn.o_proj.weight", "post_attention_layernorm.weight",
    "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"};

/* Table index of the embedding, the first layer tensor, the final norm and
 * the head; a missing bias keeps its slot with numel 0 so indices stay
 * fixed. */
#define T_EMBED 0
#define T_LAYER(l, k) (1 + (l) * PER_LAYER + (k))
#define T_NORM(c) (1 + (c)->num_hidden_layers * PER_LAYER)
#define T_HEAD(c) (T_NORM(c) + 1)

static void add_tensor(struct rlvr_model *m, int *n, size_t *off, const char *name, int64_t d0,
                       int64_t d1)
{
    struct rlvr_tensor *t = &m->tensors[(*n)++];
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = d1 ? 2 : 1;
    t->shape[0] = d0;
    t->shape[1] = d1;
    t->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    t->offset = *off;
    t->decay = d1 != 0;
    *off += t->numel;
}

int rlvr_model_create(struct rlvr_model *m, const struct rlvr_model_config *cfg, char *err,
                      size_t err_len)
{
    memset(m, 0, sizeof *m);
    m->cfg = *cfg;
    struct rlvr_model_config *c = &m->cfg;
    if (rlvr_model_config_check(c, err, err_len))
        return -1;
    int64_t V = c->vocab_size, D = c->hidden_size, F = c->intermediate_size;
    int64_t QD = (int64_t)c->num_attention_heads * c->head_dim;
    int64_t KD = (int64_t)c->num_key_value_heads * c->head_dim;
    int n_max = T_HEAD(c) + 1;
    m->tensors = calloc((size_t)n_max, sizeof *m->tensors);
    if (!m->tensors)
        return rlvr_num_fail(err, err_len, "model: out of memory for the tensor table");
    int n = 0;
    size_t off = 0;
    char name[RLVR_TENSOR_NAME_MAX];
    add_tensor(m, &n, &off, "model.embed_tokens.weight", V, D);
    for (int l = 0; l < c->num_hidden_layers; l++) {
        const int64_t shapes[PER_LAYER][2] = {{D, 0},  {QD, D}, {QD, 0}, {KD, D},
                                              {KD, 0}, {KD, D}, {KD, 0}, {D, QD},
                                              {D, 0},  {F, D},  {F, D},  {D, F}};
        for (int k = 0; k < PER_LAYER; k++) {
            snprintf(name, sizeof name, "model.layers.%d.%s", l, layer_names[k]);
            int bias = k == 2 || k == 4 || k == 6;
            add_tensor(m, &n, &off, name, bias && !c->attention_bias ? 0 : shapes[k][0],
                       shapes[k][1]);
        }
    }
    add_tensor(m, &n, &off, "model.norm.weight", D, 0);
    if (!c->tie_word_embeddings)
        add_tensor(m, &n, &off, "lm_head.weight", V, D);
    m->n_tensors = n;
    m->n_params = off;
    m->params = calloc(off, sizeof(float));
    if (!m->params) {
        free(m->tensors);
        m->tensors = NULL;
        return rlvr_num_fail(err, err_len, "model: out of memory for %zu parameters (%.1f GB)",
                             off, (double)off * 4 / 1e9);
    }
    return 0;
}

const struct rlvr_tensor *rlvr_model_tensor(const struct rlvr_model *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].numel && !strcmp(m->tensors[i].name, name))
            return &m->tensors[i];
    return NULL;
}

static struct layer_w layer_view(const struct rlvr_model *m, float *base, int l)
{
    float *p[PER_LAYER];
    for (int k = 0; k < PER_LAYER; k++) {
        const struct rlvr_tensor *t = &m->tensors[T_LAYER(l, k)];
        p[k] = t->numel ? base + t->offset : NULL;
    }
    struct layer_w w = {p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8], p[9], p[10], p[11]};
    return w;
}

static float *embed_of(const struct rlvr_model *m, float *base)
{
    return base + m->tensors[T_EMBED].offset;
}
static float *norm_of(const struct rlvr_model *m, float *base)
{
    return base + m->tensors[T_NORM(&m->cfg)].offset;
}
/* The LM head: its own tensor, or the embedding when tied. */
static float *head_of(const struct rlvr_model *m, float *base)
{
    return m->cfg.tie_word_embeddings ? embed_of(m, base)
                                      : base + m->tensors[T_HEAD(&m->cfg)].offset;
}

/* splitmix64 and a Box-Muller normal: reproducible across machines. */
static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void rlvr_model_init_random(struct rlvr_model *m, uint64_t seed, float std)
{
    uint64_t s = seed;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rlvr_tensor *t = &m->tensors[i];
        float *p = m->params + t->offset;
        if (t->ndim == 1) {
            int is_norm = strstr(t->name, "norm") != NULL;
            for (size_t j = 0; j < t->numel; j++)
                p[j] = is_norm ? 1.0f : 0.0f;
            continue;
        }
        for (size_t j = 0; j < t->numel; j += 2) {
            double u1 = ((double)(splitmix64(&s) >> 11) + 0.5) * 0x1.0p-53;
            double u2 = (double)(splitmix64(&s) >> 11) * 0x1.0p-53;
            double r = sqrt(-2.0 * log(u1));
            p[j] = (float)(std * r * cos(TWO_PI * u2));
            if (j + 1 < t->numel)
                p[j + 1] = (float)(std * r * sin(TWO_PI * u2));
        }
    }
}

int rlvr_model_enable_grads(struct rlvr_model *m, char *err, size_t err_len)
{
    if (m->grads)
        return 0;
    m->grads = calloc(m->n_params, sizeof(float));
    if (!m->grads)
        return rlvr_num_fail(err, err_len, "model: out of memory for %zu gradients (%.1f GB)",
                             m->n_params, (double)m->n_params * 4 / 1e9);
    return 0;
}

void rlvr_model_zero_grads(struct rlvr_model *m)
{
    if (m->grads)
        memset(m->grads, 0, m->n_params * sizeof(float));
}

/* ---- building blocks: products, norms, rotary embeddings -------------------------- */

/* y[N, Out] = x[N, In] . W[Out, In]^T (+ b[Out]) */
static void lin_fwd(float *y, const float *x, const float *W, const float *b, int N, int In, int Out)
{
#if defined(USE_CBLAS)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, Out, In, 1.0f, x, In, W, In, 0.0f, y, Out);
    if (b) {
        for (int n = 0; n < N; n++)
            for (int o = 0; o < Out; o++)
                y[(size_t)n * Out + o] += b[o];
    }
#else
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * In;
        for (int o = 0; o < Out; o++) {
            const float *wr = W + (size_t)o * In;
            float acc = 0.0f;
            for (int i = 0; i < In; i++)
                acc += xr[i] * wr[i];
            y[(size_t)n * Out + o] = acc + (b ? b[o] : 0.0f);
        }
    }
#endif
}

/* Given dy[N, Out] for y = x . W^T + b:
 *   dx[N, In] (=, or += when dx_add) dy . W      (dx NULL: skipped)
 *   dW[Out, In] += dy^T . x,   db[Out] += column sums of dy (db NULL: skipped) */
static void lin_bwd(const float *dy, const float *x, const float *W, float *dx, int dx_add,
                    float *dW, float *db, int N, int In, int Out)
{
#if defined(USE_CBLAS)
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, In, Out, 1.0f, dy, Out, W, In,
                    dx_add ? 1.0f : 0.0f, dx, In);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Out, In, N, 1.0f, dy, Out, x, In, 1.0f, dW, In);
#else
    if (dx) {
        for (int n = 0; n < N; n++) {
            float *dxr = dx + (size_t)n * In;
            if (!dx_add)
                memset(dxr, 0, (size_t)In * sizeof(float));
            for (int o = 0; o < Out; o++) {
                float g = dy[(size_t)n * Out + o];
                const float *wr = W + (size_t)o * In;
                for (int i = 0; i < In; i++)
                    dxr[i] += g * wr[i];
            }
        }
    }
    for (int o = 0; o < Out; o++) {
        float *dwr = dW + (size_t)o * In;
        for (int n = 0; n < N; n++) {
            float g = dy[(size_t)n * Out + o];
            const float *xr = x + (size_t)n * In;
            for (int i = 0; i < In; i++)
                dwr[i] += g * xr[i];
        }
    }
#endif
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < Out; o++)
                db[o] += dy[(size_t)n * Out + o];
}

/* y[N, D] = x * rsqrt(mean(x^2) + eps) * w; rstd[N] kept when not NULL. */
static void rmsnorm_fwd(float *y, float *rstd, const float *x, const float *w, int N, int D,
                        float eps)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D;
        float *yr = y + (size_t)n * D;
        float ss = 0.0f;
        for (int i = 0; i < D; i++)
            ss += xr[i] * xr[i];
        float r = 1.0f / sqrtf(ss / (float)D + eps);
        for (int i = 0; i < D; i++)
            yr[i] = xr[i] * r * w[i];
        if (rstd)
            rstd[n] = r;
    }
}

/* Given dy for y = x * r * w: dx (=, or += when dx_add) and dw +=. */
static void rmsnorm_bwd(float *dx, int dx_add, float *dw, const float *dy, const float *x,
                        const float *w, const float *rstd, int N, int D)
{
    for (int n = 0; n < N; n++) {
        const float *xr = x + (size_t)n * D, *dyr = dy + (size_t)n * D;
        float *dxr = dx + (size_t)n * D;
        float r = rstd[n], dot = 0.0f;
        for (int i = 0; i < D; i++)
            dot += dyr[i] * w[i] * xr[i];
        float c = dot * r * r * r / (float)D;
        for (int i = 0; i < D; i++) {
            float g = dyr[i] * w[i] * r - xr[i] * c;
            dxr[i] = dx_add ? dxr[i] + g : g;
            dw[i] += dyr[i] * xr[i] * r;
        }
    }
}

/* Hugging Face's rotate-half RoPE on one head vector v[hd] at position pos:
 *   v'[i]      = v[i] cos - v[i+h] sin
 *   v'[i+h]    = v[i+h] cos + v[i] sin,   h = hd/2, angle = pos * inv_freq[i]
 * inverse = 1 applies the transpose (the backward pass). inv_freq and the
 * angle are float32 products, as in transformers. */
static void rope(float *v, int hd, int pos, const float *inv_freq, int inverse)
{
    int h = hd / 2;
    for (int i = 0; i < h; i++) {
        float ang = (float)pos * inv_freq[i];
        float c = (float)cos((double)ang), s = (float)sin((double)ang);
        if (inverse)
            s = -s;
        float a = v[i], b = v[i + h];
        v[i] = a * c - b * s;
        v[i + h] = b * c + a * s;
    }
}

static void rope_inv_freq(float *inv_freq, const struct rlvr_model_config *c)
{
    int hd = c->head_dim;
    for (int i = 0; i < hd / 2; i++)
        inv_freq[i] = 1.0f / (float)pow(c->rope_theta, (double)(2 * i) / (double)hd);
}

static inline float silu(float g)
{
    return g / (1.0f + expf(-g));
}

/* One query row against keys/values k[s, kv_stride], v[...] for s in
 * [0, len): out[hd] = softmax(q . k_s * scale) v_s; returns the row's
 * log-sum-exp. p[len] is scratch. */
static float attend_row(float *out, const float *q, const float *k, const float *v,
                        size_t kv_stride, int len, int hd, float scale, float *p)
{
    float mx = -INFINITY;
    for (int s = 0; s < len; s++) {
        const float *kr = k + (size_t)s * kv_stride;
        float d = 0.0f;
        for (int i = 0; i < hd; i++)
            d += q[i] * kr[i];
        p[s] = d * scale;
        if (p[s] > mx)
            mx = p[s];
    }
    float sum = 0.0f;
    for (int s = 0; s < len; s++) {
        p[s] = expf(p[s] - mx);
        sum += p[s];
    }
    float inv = 1.0f / sum;
    for (int i = 0; i < hd; i++)
        out[i] = 0.0f;
    for (int s = 0; s < len; s++) {
        const float *vr = v + (size_t)s * kv_stride;
        float w = p[s] * inv;
        for (int i = 0; i < hd; i++)
            out[i] += w * vr[i];
    }
    return mx + logf(sum);
}

/* ---- training activations ------------------------------------------------------------ */

struct rlvr_model_acts {
    int B, T;                    /* capacity */
    int cur_B, cur_T;            /* shape of the last forward */
    int32_t *tokens;             /* [B*T] */
    float *block;                /* the one allocation below */
    /* per layer, [L, ...] */
    float *x;                    /* [L, N, D]  layer input (residual stream) */
    float *xn1, *rstd1;          /* [L, N, D], [L, N] */
    float *q, *k, *v;            /* [L, N, QD], [L, N, KD], [L, N, KD]  q and k rotated */
    float *att, *lse;            /* [L, N, QD], [L, N, Hq] */
    float *xmid;                 /* [L, N, D]  residual after attention */
    float *xn2, *rstd2;          /* [L, N, D], [L, N] */
    float *gate, *up;            /* [L, N, F] each */
    /* after the last layer */
    float *xL, *xf, *rstdf;      /* [N, D], [N, D], [N] */
    /* scratch, reused by every layer */
    float *hbuf;                 /* [N, F]  silu(gate) * up */
    float *dx, *dmid, *dn;       /* [N, D] each */
    float *datt, *dq;            /* [N, QD] each */
    float *dk, *dv;              /* [N, KD] each */
    float *dgate, *dup;          /* [N, F] each */
    float *inv_freq;             /* [hd/2] */
    float *scores;               /* [T]  attention scratch */
};

int rlvr_model_reserve(struct rlvr_model *m, int B, int T, char *err, size_t err_len)
{
    const struct rlvr_model_config *c = &m->cfg;
    if (B < 1 || T < 1 || T > c->max_position_embeddings)
        return rlvr_num_fail(err, err_len,
                             "model: cannot reserve %d sequences of %d tokens "
                             "(max_position_embeddings %d)",
                             B, T, c->max_position_embeddings);
    struct rlvr_model_acts *a = m->acts;
    if (a && a->B >= B && a->T >= T)
        return 0;
    if (a) {
        free(a->block);
        free(a->tokens);
        free(a);
        m->acts = NULL;
    }
    size_t N = (size_t)B * T, L = (size_t)c->num_hidden_layers, D = (size_t)c->hidden_size,
           F = (size_t)c->intermediate_size, Hq = (size_t)c->num_attention_heads,
           QD = Hq * (size_t)c->head_dim, KD = (size_t)c->num_key_value_heads * c->head_dim;
    size_t per_layer = N * (D + D + 1 + QD + KD + KD + QD + Hq + D + D + 1 + F + F);
    size_t total = L * per_layer + N * (D + D + 1) + N * F + 3 * N * D + 2 * N * QD +
                   2 * N * KD + 2 * N * F + (size_t)c->head_dim / 2 +
                   (size_t)T;
    a = calloc(1, sizeof *a);
    float *block = a ? malloc(total * sizeof(float)) : NULL;
    int32_t *tokens = block ? malloc(N * sizeof(int32_t)) : NULL;
    if (!tokens) {
        free(block);
        free(a);
        return rlvr_num_fail(err, err_len,
                             "model: out of memory for the activations of %d x %d tokens "
                             "(%.2f GB)",
                             B, T, (double)total * 4 / 1e9);
    }
    a->B = B;
    a->T = T;
    a->block = block;
    a->tokens = tokens;
    float *p = block;
#define TAKE(field, count) (a->field = p, p += (count))
    TAKE(x, L * N * D);
    TAKE(xn1, L * N * D);
    TAKE(rstd1, L * N);
    TAKE(q, L * N * QD);
    TAKE(k, L * N * KD);
    TAKE(v, L * N * KD);
    TAKE(att, L * N * QD);
    TAKE(lse, L * N * Hq);
    TAKE(xmid, L * N * D);
    TAKE(xn2, L * N * D);
    TAKE(rstd2, L * N);
    TAKE(gate, L * N * F);
    TAKE(up, L * N * F);
    TAKE(xL, N * D);
    TAKE(xf, N * D);
    TAKE(rstdf, N);
    TAKE(hbuf, N * F);
    TAKE(dx, N * D);
    TAKE(dmid, N * D);
    TAKE(dn, N * D);
    TAKE(datt, N * QD);
    TAKE(dq, N * QD);
    TAKE(dk, N * KD);
    TAKE(dv, N * KD);
    TAKE(dgate, N * F);
    TAKE(dup, N * F);
    TAKE(inv_freq, (size_t)c->head_dim / 2);
    TAKE(scores, (size_t)T);
#undef TAKE
    rope_inv_freq(a->inv_freq, c);
    m->acts = a;
    return 0;
}

void rlvr_model_free(struct rlvr_model *m)
{
    if (m->acts) {
        free(m->acts->block);
        free(m->acts->tokens);
        free(m->acts);
    }
    free(m->params);
    free(m->grads);
    free(m->tensors);
    memset(m, 0, sizeof *m);
}

/* Causal attention over whole sequences: q [N, QD], k/v [N, KD] (rotated),
 * out [N, QD], lse [N, Hq]; scratch holds T floats. */
static void attention_fwd(float *out, float *lse, const float *q, const float *k, const float *v,
                          int B, int T, const struct rlvr_model_config *c, float *scratch)
{
    int Hq = c->num_attention_heads, Hk = c->num_key_value_heads, hd = c->head_dim;
    int QD = Hq * hd, KD = Hk * hd, group = Hq / Hk;
    float scale = 1.0f / sqrtf((float)hd);
    for (int bh = 0; bh < B * Hq; bh++) {
        int b = bh / Hq, h = bh % Hq, kh = h / group;
        float *p = scratch;
        for (int t = 0; t < T; t++) {
            size_t n = (size_t)b * T + t;
            const float *kb = k + (size_t)b * T * KD + (size_t)kh * hd;
            const float *vb = v + (size_t)b * T * KD + (size_t)kh * hd;
            lse[n * Hq + h] = attend_row(out + n * QD + (size_t)h * hd, q + n * QD + (size_t)h * hd,
                                         kb, vb, (size_t)KD, t + 1, hd, scale, p);
        }
    }
}

/* The backward of attention_fwd: datt [N, QD] -> dq [N, QD], dk/dv [N, KD]
 * (written). Probabilities are recomputed from the saved log-sum-exp.
 * Ordered by (sequence, key-value head), so that a key's gradient is
 * complete once its group of query heads is done. */
static void attention_bwd(float *dq, float *dk, float *dv, const float *datt, const float *q,
                          const float *k, const float *v, const float *out, const float *lse,
                          int B, int T, const struct rlvr_model_config *c)
{
    int Hq = c->num_attention_heads, Hk = c->num_key_value_heads, hd = c->head_dim;
    int QD = Hq * hd, KD = Hk * hd, group = Hq / Hk;
    float scale = 1.0f / sqrtf((float)hd);
    for (int bk = 0; bk < B * Hk; bk++) {
        int b = bk / Hk, kh = bk % Hk;
        size_t base = (size_t)b * T;
        for (int t = 0; t < T; t++) {
            memset(dk + (base + t) * KD + (size_t)kh * hd, 0, (size_t)hd * sizeof(float));
            memset(dv + (base + t) * KD + (size_t)kh * hd, 0, (size_t)hd * sizeof(float));
        }
        for (int h = kh * group; h < (kh + 1) * group; h++) {
            for (int t = 0; t < T; t++) {
                size_t n = base + t;
                const float *qr = q + n * QD + (size_t)h * hd;
                const float *dor = datt + n * QD + (size_t)h * hd;
                const float *orow = out + n * QD + (size_t)h * hd;
                float *dqr = dq + n * QD + (size_t)h * hd;
                float L = lse[n * Hq + h], Dt = 0.0f;
                for (int i = 0; i < hd; i++) {
                    Dt += dor[i] * orow[i];
                    dqr[i] = 0.0f;
                }
                for (int s = 0; s <= t; s++) {
                    const float *kr = k + (base + s) * KD + (size_t)kh * hd;
                    const float *vr = v + (base + s) * KD + (size_t)kh * hd;
                    float sc = 0.0f, dp = 0.0f;
                    for (int i = 0; i < hd; i++) {
                        sc += qr[i] * kr[i];
                        dp += dor[i] * vr[i];
                    }
                    float p = expf(sc * scale - L);
                    float ds = p * (dp - Dt) * scale;
                    float *dkr = dk + (base + s) * KD + (size_t)kh * hd;
                    float *dvr = dv + (base + s) * KD + (size_t)kh * hd;
                    for (int i = 0; i < hd; i++) {
                        dqr[i] += ds * kr[i];
                        dkr[i] += ds * qr[i];
                        dvr[i] += p * dor[i];
                    }
                }
            }
        }
    }
}

/* Rotates every head of q [N, QD] and k [N, KD]; position = row % T. */
static void rope_rows(float *q, float *k, int N, int T, const int *pos,
                      const struct rlvr_model_config *c, const float *inv_freq, int inverse)
{
    int Hq = c->num_attention_heads, Hk = c->num_key_value_heads, hd = c->head_dim;
    for (int n = 0; n < N; n++) {
        int p = pos ? pos[n] : n % T;
        for (int h = 0; h < Hq; h++)
            rope(q + (size_t)n * Hq * hd + (size_t)h * hd, hd, p, inv_freq, inverse);
        for (int h = 0; h < Hk; h++)
            rope(k + (size_t)n * Hk * hd + (size_t)h * hd, hd, p, inv_freq, inverse);
    }
}

static int check_tokens(const int32_t *tokens, size_t n, int V, char *err, size_t err_len)
{
    for (size_t i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= V)
            return rlvr_num_fail(err, err_len, "model: token %d at row %zu is outside the "
                                 "vocabulary (%d)", tokens[i], i, V);
    return 0;
}

int rlvr_model_forward(struct rlvr_model *m, const int32_t *tokens, int B, int T, float *logits,
                       char *err, size_t err_len)
{
    if (rlvr_model_reserve(m, B, T, err, err_len))
        return -1;
    const struct rlvr_model_config *c = &m->cfg;
    struct rlvr_model_acts *a = m->acts;
    int N = B * T, D = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    int Hq = c->num_attention_heads, QD = Hq * c->head_dim, KD = c->num_key_value_heads * c->head_dim;
    float eps = (float)c->rms_norm_eps;
    if (check_tokens(tokens, (size_t)N, V, err, err_len))
        return -1;
    memcpy(a->tokens, tokens, (size_t)N * sizeof(int32_t));
    a->cur_B = B;
    a->cur_T = T;
    const float *E = embed_of(m, m->params);
    for (int n = 0; n < N; n++)
        memcpy(a->x + (size_t)n * D, E + (size_t)tokens[n] * D, (size_t)D * sizeof(float));
    size_t sN = (size_t)N;
    for (int l = 0; l < c->num_hidden_layers; l++) {
        struct layer_w w = layer_view(m, m->params, l);
        float *x = a->x + l * sN * D, *xn1 = a->xn1 + l * sN * D, *rstd1 = a->rstd1 + l * sN;
        float *q = a->q + l * sN * QD, *k = a->k + l * sN * KD, *v = a->v + l * sN * KD;
        float *att = a->att + l * sN * QD, *lse = a->lse + l * sN * Hq;
        float *xmid = a->xmid + l * sN * D, *xn2 = a->xn2 + l * sN * D, *rstd2 = a->rstd2 + l * sN;
        float *gate = a->gate + l * sN * F, *up = a->up + l * sN * F;
        float *xnext = l + 1 < c->num_hidden_layers ? a->x + (l + 1) * sN * D : a->xL;

        rmsnorm_fwd(xn1, rstd1, x, w.ln1, N, D, eps);
        lin_fwd(q, xn1, w.wq, w.bq, N, D, QD);
        lin_fwd(k, xn1, w.wk, w.bk, N, D, KD);
        lin_fwd(v, xn1, w.wv, w.bv, N, D, KD);
        rope_rows(q, k, N, T, NULL, c, a->inv_freq, 0);
        attention_fwd(att, lse, q, k, v, B, T, c, a->scores);
        lin_fwd(xmid, att, w.wo, NULL, N, QD, D);
        for (size_t i = 0; i < sN * D; i++)
            xmid[i] += x[i];
        rmsnorm_fwd(xn2, rstd2, xmid, w.ln2, N, D, eps);
        lin_fwd(gate, xn2, w.wg, NULL, N, D, F);
        lin_fwd(up, xn2, w.wu, NULL, N, D, F);
        for (size_t i = 0; i < sN * F; i++)
            a->hbuf[i] = silu(gate[i]) * up[i];
        lin_fwd(xnext, a->hbuf, w.wd, NULL, N, F, D);
        for (size_t i = 0; i < sN * D; i++)
            xnext[i] += xmid[i];
    }
    rmsnorm_fwd(a->xf, a->rstdf, a->xL, norm_of(m, m->params), N, D, eps);
    lin_fwd(logits, a->xf, head_of(m, m->params), NULL, N, D, V);
    return 0;
}

int rlvr_model_backward(struct rlvr_model *m, const float *dlogits, char *err, size_t err_len)
{
    struct rlvr_model_acts *a = m->acts;
    if (!a || !a->cur_B)
        return rlvr_num_fail(err, err_len, "model: backward without a forward");
    if (!m->grads && rlvr_model_enable_grads(m, err, err_len))
        return -1;
    const struct rlvr_model_config *c = &m->cfg;
    int B = a->cur_B, T = a->cur_T, N = B * T;
    int D = c->hidden_size, F = c->intermediate_size, V = c->vocab_size;
    int Hq = c->num_attention_heads, QD = Hq * c->head_dim, KD = c->num_key_value_heads * c->head_dim;
    size_t sN = (size_t)N;
    float *G = m->grads;

    /* head and final norm */
    lin_bwd(dlogits, a->xf, head_of(m, m->params), a->dn, 0, head_of(m, G), NULL, N, D, V);
    rmsnorm_bwd(a->dx, 0, norm_of(m, G), a->dn, a->xL, norm_of(m, m->params), a->rstdf, N, D);

    for (int l = c->num_hidden_layers - 1; l >= 0; l--) {
        struct layer_w w = layer_view(m, m->params, l), g = layer_view(m, G, l);
        float *x = a->x + l * sN * D, *xn1 = a->xn1 + l * sN * D, *rstd1 = a->rstd1 + l * sN;
        float *q = a->q + l * sN * QD, *k = a->k + l * sN * KD, *v = a->v + l * sN * KD;
        float *att = a->att + l * sN * QD, *lse = a->lse + l * sN * Hq;
        float *xmid = a->xmid + l * sN * D, *xn2 = a->xn2 + l * sN * D, *rstd2 = a->rstd2 + l * sN;
        float *gate = a->gate + l * sN * F, *up = a->up + l * sN * F;

        /* MLP: dx is the gradient at the layer's output */
        for (size_t i = 0; i < sN * F; i++)
            a->hbuf[i] = silu(gate[i]) * up[i];
        lin_bwd(a->dx, a->hbuf, w.wd, a->dgate, 0, g.wd, NULL, N, F, D); /* dgate = dh */
        for (size_t i = 0; i < sN * F; i++) {
            float gt = gate[i], sg = 1.0f / (1.0f + expf(-gt)), dh = a->dgate[i];
            a->dup[i] = dh * gt * sg;
            a->dgate[i] = dh * up[i] * sg * (1.0f + gt * (1.0f - sg));
        }
        lin_bwd(a->dgate, xn2, w.wg, a->dn, 0, g.wg, NULL, N, D, F);
        lin_bwd(a->dup, xn2, w.wu, a->dn, 1, g.wu, NULL, N, D, F);
        memcpy(a->dmid, a->dx, sN * D * sizeof(float));
        rmsnorm_bwd(a->dmid, 1, g.ln2, a->dn, xmid, w.ln2, rstd2, N, D);

        /* attention */
        lin_bwd(a->dmid, att, w.wo, a->datt, 0, g.wo, NULL, N, QD, D);
        attention_bwd(a->dq, a->dk, a->dv, a->datt, q, k, v, att, lse, B, T, c);
        rope_rows(a->dq, a->dk, N, T, NULL, c, a->inv_freq, 1);
        lin_bwd(a->dq, xn1, w.wq, a->dn, 0, g.wq, g.bq, N, D, QD);
        lin_bwd(a->dk, xn1, w.wk, a->dn, 1, g.wk, g.bk, N, D, KD);
        lin_bwd(a->dv, xn1, w.wv, a->dn, 1, g.wv, g.bv, N, D, KD);
        memcpy(a->dx, a->dmid, sN * D * sizeof(float));
        rmsnorm_bwd(a->dx, 1, g.ln1, a->dn, x, w.ln1, rstd1, N, D);
    }
    float *dE = embed_of(m, G);
    for (int n = 0; n < N; n++) {
        float *row = dE + (size_t)a->tokens[n] * D;
        const float *d = a->dx + (size_t)n * D;
        for (int i = 0; i < D; i++)
            row[i] += d[i];
    }
    return 0;
}

/* ---- generation ---------------------------------------------------------------------- */

int rlvr_kv_cache_create(struct rlvr_kv_cache *c, const struct rlvr_model *m, int slots,
                         int max_len, char *err, size_t err_len)
{
    memset(c, 0, sizeof *c);
    if (slots < 1 || max_len < 1 || max_len > m->cfg.max_position_embeddings)
        return rlvr_num_fail(err, err_len,
                             "kv cache: %d slots of %d positions (max_position_embeddings %d)",
                             slots, max_len, m->cfg.max_position_embeddings);
    c->slots = slots;
    c->max_len = max_len;
    c->n_layers = m->cfg.num_hidden_layers;
    c->kv_dim = m->cfg.num_key_value_heads * m->cfg.head_dim;
    size_t n = (size_t)c->n_layers * slots * max_len * c->kv_dim;
    c->k = malloc(2 * n * sizeof(float));
    if (!c->k)
        return rlvr_num_fail(err, err_len, "kv cache: out of memory (%.2f GB)",
                             (double)n * 8 / 1e9);
    c->v = c->k + n;
    return 0;
}

void rlvr_kv_cache_free(struct rlvr_kv_cache *c)
{
    free(c->k);
    memset(c, 0, sizeof *c);
}

static size_t kv_index(const struct rlvr_kv_cache *c, int layer, int slot, int pos)
{
    return (((size_t)layer * c->slots + slot) * c->max_len + pos) * c->kv_dim;
}

void rlvr_kv_cache_copy(struct rlvr_kv_cache *c, int from, int to, int len)
{
    if (from == to || len <= 0)
        return;
    for (int l = 0; l < c->n_layers; l++) {
        size_t bytes = (size_t)len * c->kv_dim * sizeof(float);
        memcpy(c->k + kv_index(c, l, to, 0), c->k + kv_index(c, l, from, 0), bytes);
        memcpy(c->v + kv_index(c, l, to, 0), c->v + kv_index(c, l, from, 0), bytes);
    }
}

int rlvr_model_step(struct rlvr_model *m, struct rlvr_kv_cache *kv, int n, const int32_t *tokens,
                    const int *slot, const int *pos, const uint8_t *emit, float *logits, char *err,
                    size_t err_len)
{
    const struct rlvr_model_config *c = &m->cfg;
    int D = c->hidden_size, F = c->intermediate_size, V = c->vocab_size, hd = c->head_dim;
    int Hq = c->num_attention_heads, Hk = c->num_key_value_heads, QD = Hq * hd, KD = Hk * hd;
    if (n < 1)
        return 0;
    if (check_tokens(tokens, (size_t)n, V, err, err_len))
        return -1;
    for (int r = 0; r < n; r++)
        if (slot[r] < 0 || slot[r] >= kv->slots || pos[r] < 0 || pos[r] >= kv->max_len)
            return rlvr_num_fail(err, err_len,
                                 "model step: row %d has slot %d, position %d outside the cache "
                                 "(%d slots of %d positions)",
                                 r, slot[r], pos[r], kv->slots, kv->max_len);
    int max_pos = 0;
    for (int r = 0; r < n; r++)
        if (pos[r] > max_pos)
            max_pos = pos[r];
    size_t sn = (size_t)n;
    size_t total = sn * (3 * (size_t)D + 2 * (size_t)QD + 2 * (size_t)KD + 3 * (size_t)F) +
                   (size_t)hd / 2 + (size_t)(max_pos + 1);
    float *block = malloc(total * sizeof(float));
    if (!block)
        return rlvr_num_fail(err, err_len, "model step: out of memory for %d rows", n);
    float *x = block, *xn = x + sn * D, *tmp = xn + sn * D, *q = tmp + sn * D, *att = q + sn * QD;
    float *k = att + sn * QD, *v = k + sn * KD, *gate = v + sn * KD, *up = gate + sn * F;
    float *h = up + sn * F, *inv_freq = h + sn * F, *scores = inv_freq + hd / 2;
    rope_inv_freq(inv_freq, c);
    float eps = (float)c->rms_norm_eps, scale = 1.0f / sqrtf((float)hd);
    const float *E = embed_of(m, m->params);
    for (int r = 0; r < n; r++)
        memcpy(x + (size_t)r * D, E + (size_t)tokens[r] * D, (size_t)D * sizeof(float));
    for (int l = 0; l < c->num_hidden_layers; l++) {
        struct layer_w w = layer_view(m, m->params, l);
        rmsnorm_fwd(xn, NULL, x, w.ln1, n, D, eps);
        lin_fwd(q, xn, w.wq, w.bq, n, D, QD);
        lin_fwd(k, xn, w.wk, w.bk, n, D, KD);
        lin_fwd(v, xn, w.wv, w.bv, n, D, KD);
        rope_rows(q, k, n, 0, pos, c, inv_freq, 0);
        for (int r = 0; r < n; r++) {
            memcpy(kv->k + kv_index(kv, l, slot[r], pos[r]), k + (size_t)r * KD,
                   (size_t)KD * sizeof(float));
            memcpy(kv->v + kv_index(kv, l, slot[r], pos[r]), v + (size_t)r * KD,
                   (size_t)KD * sizeof(float));
        }
        for (int rh = 0; rh < n * Hq; rh++) {
            int r = rh / Hq, hh = rh % Hq, kh = hh / (Hq / Hk);
            float *p = scores;
            const float *kb = kv->k + kv_index(kv, l, slot[r], 0) + (size_t)kh * hd;
            const float *vb = kv->v + kv_index(kv, l, slot[r], 0) + (size_t)kh * hd;
            attend_row(att + (size_t)r * QD + (size_t)hh * hd, q + (size_t)r * QD + (size_t)hh * hd,
                       kb, vb, (size_t)KD, pos[r] + 1, hd, scale, p);
        }
        lin_fwd(tmp, att, w.wo, NULL, n, QD, D);
        for (size_t i = 0; i < sn * D; i++)
            x[i] += tmp[i];
        rmsnorm_fwd(xn, NULL, x, w.ln2, n, D, eps);
        lin_fwd(gate, xn, w.wg, NULL, n, D, F);
        lin_fwd(up, xn, w.wu, NULL, n, D, F);
        for (size_t i = 0; i < sn * F; i++)
            h[i] = silu(gate[i]) * up[i];
        lin_fwd(tmp, h, w.wd, NULL, n, F, D);
        for (size_t i = 0; i < sn * D; i++)
            x[i] += tmp[i];
    }
    /* gather the emitting rows, then the final norm and the head on them */
    int ne = 0;
    for (int r = 0; r < n; r++)
        if (!emit || emit[r]) {
            if (ne != r)
                memcpy(x + (size_t)ne * D, x + (size_t)r * D, (size_t)D * sizeof(float));
            ne++;
        }
    if (ne) {
        rmsnorm_fwd(xn, NULL, x, norm_of(m, m->params), ne, D, eps);
        lin_fwd(logits, xn, head_of(m, m->params), NULL, ne, D, V);
    }
    free(block);
    return 0;
}
