/*
 * test_checkpoint.c -- Hugging Face checkpoints (host/checkpoint.c): float
 * conversions against torch and against a rounding written here from its
 * definition, save/load round trips (F32 bit-exact, BF16 and F16 exactly as
 * the reference rounds; one file and sharded; tied and untied, with and
 * without q/k/v biases), config.json reading and writing, every refusal with
 * the field or tensor it must name, a bounded fuzz of the header and config
 * parsers, and a checkpoint of Qwen2.5-0.5B's exact layout.
 *
 * Fixtures come through $srcdir (tests/fixtures/checkpoint):
 *   dtypes.safetensors      torch 1.13's float32 -> bfloat16/float16 results
 *                           (make_dtype_fixture.py)
 *   make_qwen_layout.py     run when a python3 with numpy is found ($PYTHON3,
 *                           python3, /usr/bin/python3); its weights are
 *                           recomputed here from the formula in its
 *                           docstring, so the check does not trust the script
 * Temporary files live in one mkdtemp directory, removed at the end.
 * RLVR_FUZZ_ITERATIONS sets the fuzz length (default 50000, about half a
 * second); RLVR_SKIP_BIG skips the 1 GB layout checkpoint.
 */
#include "checkpoint.h"
#include "model.h"

#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"

static char err[1024];
static char tmp[512];

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint64_t next_u64(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}
static double uniform(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }
static double normal(void)
{
    double u = uniform() + 1e-12, v = uniform();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}
static float from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* A path inside the temporary directory. */
static const char *tpath(const char *name)
{
    static char buf[16][1024];
    static int k;
    k = (k + 1) % 16;
    snprintf(buf[k], sizeof buf[k], "%s/%s", tmp, name);
    return buf[k];
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t w = fwrite(data, 1, n, f);
    return fclose(f) || w != n ? -1 : 0;
}

static unsigned char *read_file(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)len + 1);
    if (p && fread(p, 1, (size_t)len, f) != (size_t)len) {
        free(p);
        p = NULL;
    }
    fclose(f);
    if (p)
        p[len] = 0;
    *n = (size_t)len;
    return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(p);
}
static void rm_rf(const char *dir) { nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS); }

static int exists(const char *p)
{
    struct stat st;
    return stat(p, &st) == 0;
}

/* Names in a directory, sorted, joined by spaces. */
static const char *listing(const char *dir)
{
    static char out[4096];
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "ls -A '%s' 2>/dev/null | tr '\\n' ' '", dir);
    out[0] = 0;
    FILE *p = popen(cmd, "r");
    if (p) {
        size_t n = fread(out, 1, sizeof out - 1, p);
        out[n] = 0;
        pclose(p);
    }
    return out;
}

static int contains(const char *s, const char *part) { return strstr(s, part) != NULL; }

/* ---- reference roundings, written from the definitions ---------------------- */

/* The nearest value a/q rounded to an integer, ties to even (rint in the
 * default rounding mode), times q; q a power of two so everything is exact
 * in double. */
static double round_to_quantum(double a, double q) { return rint(a / q) * q; }

static uint16_t ref_bf16(float x)
{
    if (isnan(x))
        return 0x7FC0;
    double a = fabs((double)x);
    int e;
    frexp(a, &e); /* a = m 2^e, m in [0.5, 1) */
    double q = a < 0x1.0p-126 ? 0x1.0p-133 : ldexp(1.0, e - 1 - 7);
    double r = a == 0 ? 0 : round_to_quantum(a, q);
    uint16_t mag = r >= 0x1.0p128 ? 0x7F80 : (uint16_t)(bits((float)r) >> 16);
    return (uint16_t)(signbit(x) ? mag | 0x8000 : mag);
}

static uint16_t ref_f16(float x)
{
    if (isnan(x))
        return 0x7E00;
    double a = fabs((double)x);
    uint16_t mag;
    if (a >= 65520.0) {
        mag = 0x7C00;
    } else if (a == 0) {
        mag = 0;
    } else {
        int e;
        frexp(a, &e);
        double q = a < 0x1.0p-14 ? 0x1.0p-24 : ldexp(1.0, e - 1 - 10);
        double r = round_to_quantum(a, q);
        if (r < 0x1.0p-14) {
            mag = (uint16_t)(r / 0x1.0p-24);
        } else {
            int er;
            double m = frexp(r, &er); /* r = m 2^er, exponent er - 1 */
            mag = (uint16_t)(((er - 1 + 15) << 10) | (int)((m * 2 - 1) * 1024));
        }
    }
    return (uint16_t)(signbit(x) ? mag | 0x8000 : mag);
}

static float decode(uint16_t h, enum rlvr_dtype d)
{
    return d == RLVR_DTYPE_BF16 ? rlvr_bf16_to_f32(h) : rlvr_f16_to_f32(h);
}

/* x as stored in dtype d and read back, by the reference rounding. */
static float ref_store(float x, enum rlvr_dtype d)
{
    if (d == RLVR_DTYPE_F32)
        return x;
    return decode(d == RLVR_DTYPE_BF16 ? ref_bf16(x) : ref_f16(x), d);
}

/* Same bits, or both NaN. */
static int same_value(float a, float b) { return bits(a) == bits(b) || (isnan(a) && isnan(b)); }

/* ---- a small safetensors reader and writer for the tests ------------------- */

struct raw_tensor {
    const char *dtype;
    const unsigned char *data;
    size_t n; /* elements */
};

/* Finds tensor `name` in a safetensors file's bytes (no validation: the
 * inputs are the committed fixtures). */
static int raw_get(const unsigned char *file, size_t size, const char *name, struct raw_tensor *t)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--)
        n = n << 8 | file[i];
    if (n + 8 > size)
        return -1;
    char *h = strndup((const char *)file + 8, (size_t)n);
    json_object *root = json_tokener_parse(h), *e, *v;
    free(h);
    int rc = -1;
    if (root && json_object_object_get_ex(root, name, &e)) {
        json_object_object_get_ex(e, "dtype", &v);
        t->dtype = strcmp(json_object_get_string(v), "F32") == 0    ? "F32"
                   : strcmp(json_object_get_string(v), "BF16") == 0 ? "BF16"
                                                                    : "F16";
        json_object_object_get_ex(e, "data_offsets", &v);
        int64_t b = json_object_get_int64(json_object_array_get_idx(v, 0));
        int64_t en = json_object_get_int64(json_object_array_get_idx(v, 1));
        t->data = file + 8 + n + b;
        t->n = (size_t)(en - b) / (strcmp(t->dtype, "F32") ? 2 : 4);
        rc = 0;
    }
    json_object_put(root);
    return rc;
}

static float raw_f32(const struct raw_tensor *t, size_t i)
{
    const unsigned char *p = t->data + 4 * i;
    return from_bits((uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24);
}
static uint16_t raw_u16(const struct raw_tensor *t, size_t i)
{
    return (uint16_t)(t->data[2 * i] | t->data[2 * i + 1] << 8);
}

/* Builds a safetensors file in memory, one entry at a time. */
struct entry {
    char name[128];
    char dtype[16];
    int ndim;
    int64_t shape[3];
    unsigned char *data;
    size_t nbytes;
};
struct builder {
    struct entry e[512];
    int n;
    const char *metadata; /* JSON object text, or NULL for {"format":"pt"} */
};

static void builder_free(struct builder *b)
{
    for (int i = 0; i < b->n; i++)
        free(b->e[i].data);
    b->n = 0;
}

static int dtype_size(const char *d)
{
    if (!strcmp(d, "F64") || !strcmp(d, "I64"))
        return 8;
    if (!strcmp(d, "F32") || !strcmp(d, "I32"))
        return 4;
    if (!strcmp(d, "I8") || !strcmp(d, "U8"))
        return 1;
    return 2;
}

/* Adds every tensor of m from its params in dtype d ("F32", "BF16", "F16",
 * "F64"). */
static void builder_add_model(struct builder *b, const struct rlvr_model *m, const char *d)
{
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rlvr_tensor *t = &m->tensors[i];
        if (!t->numel)
            continue;
        struct entry *e = &b->e[b->n++];
        snprintf(e->name, sizeof e->name, "%s", t->name);
        snprintf(e->dtype, sizeof e->dtype, "%s", d);
        e->ndim = t->ndim;
        e->shape[0] = t->shape[0];
        e->shape[1] = t->shape[1];
        int es = dtype_size(d);
        e->nbytes = t->numel * (size_t)es;
        e->data = malloc(e->nbytes);
        const float *p = m->params + t->offset;
        for (size_t j = 0; j < t->numel; j++) {
            unsigned char *q = e->data + j * (size_t)es;
            if (es == 4) {
                uint32_t u = bits(p[j]);
                for (int k = 0; k < 4; k++)
                    q[k] = (unsigned char)(u >> (8 * k));
            } else if (es == 8) {
                double v = p[j];
                uint64_t u;
                memcpy(&u, &v, 8);
                for (int k = 0; k < 8; k++)
                    q[k] = (unsigned char)(u >> (8 * k));
            } else {
                uint16_t h = !strcmp(d, "BF16") ? ref_bf16(p[j]) : ref_f16(p[j]);
                q[0] = (unsigned char)h;
                q[1] = (unsigned char)(h >> 8);
            }
        }
    }
}

static struct entry *builder_find(struct builder *b, const char *name)
{
    for (int i = 0; i < b->n; i++)
        if (!strcmp(b->e[i].name, name))
            return &b->e[i];
    return NULL;
}

static void builder_remove(struct builder *b, const char *name)
{
    struct entry *e = builder_find(b, name);
    if (!e)
        return;
    free(e->data);
    *e = b->e[--b->n];
}

static void entry_resize(struct entry *e, size_t nbytes)
{
    e->data = realloc(e->data, nbytes ? nbytes : 1);
    if (nbytes > e->nbytes)
        memset(e->data + e->nbytes, 0, nbytes - e->nbytes);
    e->nbytes = nbytes;
}

static struct entry *builder_add_copy(struct builder *b, const char *name, const struct entry *src)
{
    struct entry *e = &b->e[b->n++];
    *e = *src;
    snprintf(e->name, sizeof e->name, "%s", name);
    e->data = malloc(e->nbytes ? e->nbytes : 1);
    memcpy(e->data, src->data, e->nbytes);
    return e;
}

static unsigned char *builder_bytes(const struct builder *b, size_t *size)
{
    size_t cap = 1 << 16, len = 0, at = 0;
    char *h = malloc(cap);
    len += (size_t)snprintf(h + len, cap - len, "{\"__metadata__\":%s",
                            b->metadata ? b->metadata : "{\"format\":\"pt\"}");
    for (int i = 0; i < b->n; i++) {
        const struct entry *e = &b->e[i];
        len += (size_t)snprintf(h + len, cap - len, ",\"%s\":{\"dtype\":\"%s\",\"shape\":[",
                                e->name, e->dtype);
        for (int d = 0; d < e->ndim; d++)
            len += (size_t)snprintf(h + len, cap - len, "%s%" PRId64, d ? "," : "", e->shape[d]);
        len += (size_t)snprintf(h + len, cap - len, "],\"data_offsets\":[%zu,%zu]}", at,
                                at + e->nbytes);
        at += e->nbytes;
    }
    len += (size_t)snprintf(h + len, cap - len, "}");
    while (len % 8)
        h[len++] = ' ';
    unsigned char *out = malloc(8 + len + at);
    for (int k = 0; k < 8; k++)
        out[k] = (unsigned char)((uint64_t)len >> (8 * k));
    memcpy(out + 8, h, len);
    size_t o = 8 + len;
    for (int i = 0; i < b->n; i++) {
        memcpy(out + o, b->e[i].data, b->e[i].nbytes);
        o += b->e[i].nbytes;
    }
    free(h);
    *size = o;
    return out;
}

/* A raw file from header text and `data_len` zero bytes of data. */
static unsigned char *raw_file(const char *header, size_t data_len, size_t *size)
{
    size_t n = strlen(header);
    unsigned char *out = calloc(1, 8 + n + data_len);
    for (int k = 0; k < 8; k++)
        out[k] = (unsigned char)((uint64_t)n >> (8 * k));
    memcpy(out + 8, header, n);
    *size = 8 + n + data_len;
    return out;
}

/* ---- models ------------------------------------------------------------------ */

/* A very small config for the header tests and the fuzz. */
static void config_micro(struct rlvr_model_config *c)
{
    rlvr_model_config_tiny(c);
    c->vocab_size = 16;
    c->hidden_size = 8;
    c->intermediate_size = 12;
    c->num_hidden_layers = 1;
    c->num_attention_heads = 2;
    c->num_key_value_heads = 1;
    c->head_dim = 4;
    c->eos_token_id = 3;
}

/* Random values everywhere (biases and norms too), normal with std 0.02,
 * with a few large and tiny magnitudes for the rounding paths. */
static void fill_random(struct rlvr_model *m)
{
    for (size_t i = 0; i < m->n_params; i++) {
        double v = 0.02 * normal();
        if (i % 97 == 0)
            v *= 1e4;
        if (i % 89 == 0)
            v *= 1e-4;
        m->params[i] = (float)v;
    }
}

static int make_model(struct rlvr_model *m, const struct rlvr_model_config *c)
{
    if (rlvr_model_create(m, c, err, sizeof err)) {
        diag("model: %s", err);
        return -1;
    }
    fill_random(m);
    return 0;
}

/* ---- conversions against torch and the reference ----------------------------- */

static void test_conversions(const char *srcdir)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/fixtures/checkpoint/dtypes.safetensors", srcdir);
    size_t size;
    unsigned char *file = read_file(path, &size);
    struct raw_tensor x, bf, hf, bfx, hfx;
    if (!ok(file && !raw_get(file, size, "f32", &x) && !raw_get(file, size, "bf16", &bf) &&
                !raw_get(file, size, "f16", &hf) && !raw_get(file, size, "bf16_as_f32", &bfx) &&
                !raw_get(file, size, "f16_as_f32", &hfx),
            "the torch fixture %s reads", path)) {
        free(file);
        return;
    }
    size_t bad[8] = {0}, first[8];
    for (size_t i = 0; i < x.n; i++) {
        float v = raw_f32(&x, i);
        uint16_t tb = raw_u16(&bf, i), th = raw_u16(&hf, i);
        int nan = isnan(v);
        int checks[8] = {
            nan ? isnan(rlvr_bf16_to_f32(rlvr_f32_to_bf16(v))) : rlvr_f32_to_bf16(v) == tb,
            nan ? isnan(rlvr_f16_to_f32(rlvr_f32_to_f16(v))) : rlvr_f32_to_f16(v) == th,
            same_value(rlvr_bf16_to_f32(tb), raw_f32(&bfx, i)),
            same_value(rlvr_f16_to_f32(th), raw_f32(&hfx, i)),
            nan || ref_bf16(v) == tb,
            nan || ref_f16(v) == th,
            1,
            1,
        };
        for (int k = 0; k < 8; k++)
            if (!checks[k] && !bad[k]++)
                first[k] = i;
    }
    const char *what[] = {"f32 -> bf16 rounds as torch does", "f32 -> f16 rounds as torch does",
                          "bf16 -> f32 widens as torch does", "f16 -> f32 widens as torch does",
                          "the test's reference bf16 rounding agrees with torch",
                          "the test's reference f16 rounding agrees with torch"};
    for (int k = 0; k < 6; k++)
        if (!ok(bad[k] == 0, "%s (%zu values)", what[k], x.n))
            diag("  %zu differ, the first at %zu (input 0x%08" PRIx32 ")", bad[k], first[k],
                 bits(raw_f32(&x, first[k])));

    /* Every value of a long random walk over bit patterns, against the
     * reference (NaNs only need to stay NaN). */
    size_t nb = 0, nh = 0, nn = 0;
    uint32_t worst = 0;
    for (int i = 0; i < 2000000; i++) {
        uint32_t u = (uint32_t)next_u64();
        if (i < 65536)
            u = (uint32_t)i << 16 | (uint32_t)(next_u64() & 0xFFFF); /* every exponent */
        float v = from_bits(u);
        if (isnan(v)) {
            nn += !isnan(rlvr_bf16_to_f32(rlvr_f32_to_bf16(v))) ||
                  !isnan(rlvr_f16_to_f32(rlvr_f32_to_f16(v)));
            continue;
        }
        if (rlvr_f32_to_bf16(v) != ref_bf16(v) && !nb++)
            worst = u;
        if (rlvr_f32_to_f16(v) != ref_f16(v) && !nh++)
            worst = u;
    }
    if (!ok(nb == 0 && nh == 0, "2M random floats round to bf16 and f16 as the reference does"))
        diag("  %zu bf16 and %zu f16 differ (e.g. 0x%08" PRIx32 ")", nb, nh, worst);
    ok(nn == 0, "NaN stays NaN in bf16 and f16");
    int wide = 1;
    for (uint32_t h = 0; h < 65536; h++) {
        float b = rlvr_bf16_to_f32((uint16_t)h), f = rlvr_f16_to_f32((uint16_t)h);
        if (!isnan(b) && rlvr_f32_to_bf16(b) != h)
            wide = 0;
        if (!isnan(f) && rlvr_f32_to_f16(f) != h)
            wide = 0;
        if (isnan(b) != ((h & 0x7F80) == 0x7F80 && (h & 0x7F)))
            wide = 0;
    }
    ok(wide, "every bf16 and f16 value widens and narrows back to itself");
    ok(rlvr_f32_to_f16(65519.996f) == 0x7BFF && rlvr_f32_to_f16(65520.0f) == 0x7C00 &&
           rlvr_f32_to_f16(-1e10f) == 0xFC00 && rlvr_f32_to_bf16(3.4028235e38f) == 0x7F80,
       "overflow: 65520 and beyond become inf in f16; FLT_MAX rounds to inf in bf16");

    /* The loader's conversion path: a model whose tensors are the fixture's
     * BF16 (then F16) values, cycled; params must equal torch's widening. */
    struct rlvr_model_config c;
    config_micro(&c);
    struct rlvr_model m;
    if (!make_model(&m, &c)) {
        for (int pass = 0; pass < 2; pass++) {
            struct builder *b = calloc(1, sizeof *b);
            builder_add_model(b, &m, pass ? "F16" : "BF16");
            const struct raw_tensor *src = pass ? &hf : &bf, *want = pass ? &hfx : &bfx;
            size_t k = 0;
            for (int i = 0; i < b->n; i++)
                for (size_t j = 0; j < b->e[i].nbytes; j += 2, k++)
                    memcpy(b->e[i].data + j, src->data + 2 * (k % src->n), 2);
            size_t size2;
            unsigned char *bytes = builder_bytes(b, &size2);
            int rc = rlvr_safetensors_load_buffer(&m, bytes, size2, "fixture", err, sizeof err);
            size_t differ = 0;
            for (size_t i = 0; i < m.n_params; i++)
                differ += !same_value(m.params[i], raw_f32(want, i % want->n));
            ok(rc == 0 && differ == 0, "loading %s tensors gives torch's float32 (%zu differ)%s%s",
               pass ? "F16" : "BF16", differ, rc ? ": " : "", rc ? err : "");
            free(bytes);
            builder_free(b);
            free(b);
        }
        /* F64 is read too, rounded to float as a C cast rounds. */
        fill_random(&m);
        float *orig = malloc(m.n_params * sizeof(float));
        memcpy(orig, m.params, m.n_params * sizeof(float));
        struct builder *b = calloc(1, sizeof *b);
        builder_add_model(b, &m, "F64");
        memset(m.params, 0, m.n_params * sizeof(float));
        size_t size2;
        unsigned char *bytes = builder_bytes(b, &size2);
        int rc = rlvr_safetensors_load_buffer(&m, bytes, size2, "f64", err, sizeof err);
        ok(rc == 0 && !memcmp(orig, m.params, m.n_params * sizeof(float)),
           "F64 tensors load (exact for float-valued doubles)");
        free(bytes);
        builder_free(b);
        free(b);
        free(orig);
        rlvr_model_free(&m);
    }
    free(file);
}

/* ---- round trips ------------------------------------------------------------- */

static int configs_equal(const struct rlvr_model_config *a, const struct rlvr_model_config *b)
{
    return a->vocab_size == b->vocab_size && a->hidden_size == b->hidden_size &&
           a->intermediate_size == b->intermediate_size &&
           a->num_hidden_layers == b->num_hidden_layers &&
           a->num_attention_heads == b->num_attention_heads &&
           a->num_key_value_heads == b->num_key_value_heads && a->head_dim == b->head_dim &&
           a->max_position_embeddings == b->max_position_embeddings &&
           a->rope_theta == b->rope_theta && a->rms_norm_eps == b->rms_norm_eps &&
           a->tie_word_embeddings == b->tie_word_embeddings &&
           a->attention_bias == b->attention_bias && a->bos_token_id == b->bos_token_id &&
           a->eos_token_id == b->eos_token_id;
}

static void round_trip(const struct rlvr_model_config *c, const char *label, enum rlvr_dtype d,
                       size_t shard, int *n_shards_seen)
{
    struct rlvr_model m, r;
    if (make_model(&m, c))
        return;
    char dir[256];
    snprintf(dir, sizeof dir, "rt_%s_%s_%zu", label, rlvr_dtype_name(d), shard);
    const char *path = tpath(dir);
    int rc = rlvr_checkpoint_save(&m, path, d, shard, err, sizeof err);
    if (!ok(rc == 0, "%s %s shard %zu: saved", label, rlvr_dtype_name(d), shard)) {
        diag("  %s", err);
        rlvr_model_free(&m);
        return;
    }
    const char *ls = listing(path);
    int sharded = contains(ls, "model.safetensors.index.json");
    if (n_shards_seen) {
        int k = 0;
        for (const char *s = ls; (s = strstr(s, "model-0")); s++)
            k++;
        *n_shards_seen = k;
    }
    ok(contains(ls, "config.json") && (sharded ? !contains(ls, "model.safetensors ")
                                               : contains(ls, "model.safetensors ")) &&
           !contains(ls, ".tmp"),
       "%s %s: the directory holds %s", label, rlvr_dtype_name(d), ls);
    rc = rlvr_checkpoint_load(path, &r, err, sizeof err);
    if (!ok(rc == 0, "%s %s: loads back", label, rlvr_dtype_name(d))) {
        diag("  %s", err);
        rlvr_model_free(&m);
        return;
    }
    ok(configs_equal(&m.cfg, &r.cfg) && r.n_params == m.n_params, "%s: the config reads back",
       label);
    size_t differ = 0, first = 0;
    double worst = 0;
    for (size_t i = 0; i < m.n_params && r.n_params == m.n_params; i++) {
        if (!same_value(r.params[i], ref_store(m.params[i], d)) && !differ++)
            first = i;
        double rel = fabs((double)r.params[i] - m.params[i]) / fmax(fabs(m.params[i]), 1e-30);
        if (fabs(m.params[i]) > 1e-4 && rel > worst)
            worst = rel;
    }
    if (!ok(differ == 0, "%s %s: every weight is %s", label, rlvr_dtype_name(d),
            d == RLVR_DTYPE_F32 ? "bit-exact" : "exactly the reference rounding"))
        diag("  %zu differ, first %zu: %.9g -> %.9g", differ, first, m.params[first],
             r.params[first]);
    double bound = d == RLVR_DTYPE_F32 ? 0 : d == RLVR_DTYPE_BF16 ? 0x1.0p-8 : 0x1.0p-11;
    ok(worst <= bound, "%s %s: relative error %.3g within half an ulp of the dtype (%.3g)", label,
       rlvr_dtype_name(d), worst, bound);
    rlvr_model_free(&r);
    rlvr_model_free(&m);
}

static void test_round_trips(void)
{
    struct rlvr_model_config tiny, untied;
    rlvr_model_config_tiny(&tiny);
    untied = tiny;
    untied.attention_bias = 0;
    untied.tie_word_embeddings = 0;
    untied.bos_token_id = 1;
    untied.rope_theta = 500000.0;
    untied.rms_norm_eps = 1e-5;
    enum rlvr_dtype ds[] = {RLVR_DTYPE_F32, RLVR_DTYPE_BF16, RLVR_DTYPE_F16};
    for (int i = 0; i < 3; i++) {
        round_trip(&tiny, "tiny", ds[i], 0, NULL);
        round_trip(&untied, "untied_nobias", ds[i], 0, NULL);
    }
    int n = 0;
    round_trip(&tiny, "tiny", RLVR_DTYPE_BF16, 60000, &n);
    ok(n > 2, "a 60 kB shard budget splits the tiny model into %d shards", n);
    round_trip(&untied, "untied_nobias", RLVR_DTYPE_F32, 100000, &n);
    round_trip(&untied, "untied_nobias", RLVR_DTYPE_F16, 1, &n);
    struct rlvr_model probe;
    rlvr_model_create(&probe, &untied, err, sizeof err);
    int present = 0;
    for (int i = 0; i < probe.n_tensors; i++)
        present += probe.tensors[i].numel > 0;
    rlvr_model_free(&probe);
    ok(n == present, "a 1-byte budget gives each of the %d tensors a shard of its own (%d)",
       present, n);

    /* What the files hold, byte by byte. */
    struct rlvr_model m;
    if (make_model(&m, &tiny))
        return;
    rlvr_checkpoint_save(&m, tpath("layout"), RLVR_DTYPE_BF16, 0, err, sizeof err);
    size_t size;
    unsigned char *f = read_file(tpath("layout/model.safetensors"), &size);
    uint64_t hl = 0;
    for (int i = 7; f && i >= 0; i--)
        hl = hl << 8 | f[i];
    int padded = f && hl % 8 == 0 && hl + 8 <= size;
    size_t last = padded ? 8 + (size_t)hl - 1 : 0;
    while (padded && f[last] == ' ')
        last--;
    ok(padded && f[last] == '}' && 8 + hl - 1 - last < 8,
       "the header is padded with spaces to a multiple of 8 (%" PRIu64 " bytes)", hl);
    ok(f && !memcmp(f + 8, "{\"__metadata__\":{\"format\":\"pt\"}", 31),
       "__metadata__ is {\"format\":\"pt\"}");
    ok(f && !strstr((const char *)f + 8, "lm_head"), "a tied model writes no lm_head.weight");
    free(f);
    char *cfg = (char *)read_file(tpath("layout/config.json"), &size);
    ok(cfg && contains(cfg, "\"Qwen2ForCausalLM\"") && contains(cfg, "\"model_type\": \"qwen2\"") &&
           contains(cfg, "\"torch_dtype\": \"bfloat16\"") &&
           contains(cfg, "\"tie_word_embeddings\": true") &&
           contains(cfg, "\"rope_theta\": 10000.0"),
       "config.json: Qwen2ForCausalLM, torch_dtype bfloat16, tied");
    free(cfg);
    rlvr_model_free(&m);
    if (make_model(&m, &untied))
        return;
    rlvr_checkpoint_save(&m, tpath("layout_llama"), RLVR_DTYPE_F16, 0, err, sizeof err);
    cfg = (char *)read_file(tpath("layout_llama/config.json"), &size);
    ok(cfg && contains(cfg, "\"LlamaForCausalLM\"") && contains(cfg, "\"model_type\": \"llama\"") &&
           contains(cfg, "\"attention_bias\": false") &&
           contains(cfg, "\"torch_dtype\": \"float16\"") &&
           contains(cfg, "\"rms_norm_eps\": 1e-05"),
       "config.json without attention biases: LlamaForCausalLM, attention_bias false");
    free(cfg);
    f = read_file(tpath("layout_llama/model.safetensors"), &size);
    ok(f && strstr((const char *)f + 8, "\"lm_head.weight\"") &&
           !strstr((const char *)f + 8, "q_proj.bias"),
       "an untied model writes lm_head.weight, a bias-free one no biases");
    free(f);

    /* Saving over a checkpoint of the other layout removes the stale files. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tpath("relayout"));
    int rc = rlvr_checkpoint_save(&m, dir, RLVR_DTYPE_F32, 50000, err, sizeof err);
    const char *ls = listing(dir);
    ok(rc == 0 && contains(ls, "model.safetensors.index.json") && contains(ls, "model-00001-of-"),
       "sharded save: %s", ls);
    rc = rlvr_checkpoint_save(&m, dir, RLVR_DTYPE_F32, 0, err, sizeof err);
    ls = listing(dir);
    ok(rc == 0 && !contains(ls, "index") && !contains(ls, "model-0") && !contains(ls, ".tmp"),
       "then a single-file save in place leaves only %s", ls);
    rc = rlvr_checkpoint_save(&m, dir, RLVR_DTYPE_F32, 30000, err, sizeof err);
    ls = listing(dir);
    ok(rc == 0 && !contains(ls, "model.safetensors ") && contains(ls, "model.safetensors.index"),
       "and sharded again: %s", ls);
    struct rlvr_model r;
    ok(rlvr_checkpoint_load(dir, &r, err, sizeof err) == 0 &&
           !memcmp(r.params, m.params, m.n_params * sizeof(float)),
       "the rewritten checkpoint loads bit-exact");
    rlvr_model_free(&r);
    /* Other files in the directory are left alone; nested new directories
     * are created. */
    write_file(tpath("relayout/tokenizer.json"), "{}", 2);
    rlvr_checkpoint_save(&m, dir, RLVR_DTYPE_BF16, 0, err, sizeof err);
    ok(exists(tpath("relayout/tokenizer.json")), "a save keeps the directory's other files");
    rc = rlvr_checkpoint_save(&m, tpath("nested/a/b/"), RLVR_DTYPE_F32, 0, err, sizeof err);
    ls = listing(tpath("nested/a"));
    ok(rc == 0 && exists(tpath("nested/a/b/model.safetensors")) && !contains(ls, "tmp"),
       "a missing directory and its parents are created (no staging left: '%s')", ls);
    write_file(tpath("plainfile"), "x", 1);
    rc = rlvr_checkpoint_save(&m, tpath("plainfile"), RLVR_DTYPE_F32, 0, err, sizeof err);
    ok(rc != 0 && contains(err, "plainfile"), "saving onto a file is refused: %s", err);

    /* A save that fails half way (here: a file size limit, so the large
     * MLP shard cannot be written after the small shards before it were)
     * leaves the old checkpoint as it was and no temporary files. */
    struct rlvr_model_config mc;
    config_micro(&mc);
    mc.intermediate_size = 256;
    struct rlvr_model a, bm;
    if (!make_model(&a, &mc) && !make_model(&bm, &mc)) {
        char keep[1024];
        snprintf(keep, sizeof keep, "%s", tpath("keep"));
        rc = rlvr_checkpoint_save(&a, keep, RLVR_DTYPE_F32, 100, err, sizeof err);
        struct rlimit old, lim;
        getrlimit(RLIMIT_FSIZE, &old);
        lim = old;
        lim.rlim_cur = 4096;
        void (*prev)(int) = signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &lim);
        int rc2 = rlvr_checkpoint_save(&bm, keep, RLVR_DTYPE_F32, 100, err, sizeof err);
        setrlimit(RLIMIT_FSIZE, &old);
        signal(SIGXFSZ, prev);
        ok(rc == 0 && rc2 != 0 && contains(err, "write failed"),
           "a save that cannot finish fails: %s", err);
        ls = listing(keep);
        rc = rlvr_checkpoint_load(keep, &r, err, sizeof err);
        ok(rc == 0 && !memcmp(r.params, a.params, a.n_params * sizeof(float)) &&
               !contains(ls, ".tmp"),
           "and leaves the checkpoint it was replacing intact, without temporary files%s%s",
           rc ? ": " : "", rc ? err : "");
        if (!rc)
            rlvr_model_free(&r);
        rlvr_model_free(&a);
        rlvr_model_free(&bm);
    }

    /* The eos list and pad id go through the meta. */
    struct rlvr_checkpoint_meta meta = {0}, back;
    meta.n_eos = 3;
    meta.eos_token_ids[0] = 256;
    meta.eos_token_ids[1] = 257;
    meta.eos_token_ids[2] = 258;
    meta.pad_token_id = 2;
    rc = rlvr_checkpoint_save_meta(&m, &meta, tpath("meta"), RLVR_DTYPE_F32, 0, err, sizeof err);
    struct rlvr_model_config cc;
    rc = rc ? rc : rlvr_config_read(tpath("meta/config.json"), &cc, &back, err, sizeof err);
    ok(rc == 0 && back.n_eos == 3 && back.eos_token_ids[2] == 258 && cc.eos_token_id == 256 &&
           back.pad_token_id == 2 && !strcmp(back.torch_dtype, "float32"),
       "eos_token_id as a list and pad_token_id round-trip through config.json%s%s",
       rc ? ": " : "", rc ? err : "");
    rlvr_model_free(&m);
}

/* ---- config.json -------------------------------------------------------------- */

static const char *qwen_config =
    "{\n"
    "  \"architectures\": [\"Qwen2ForCausalLM\"],\n"
    "  \"attention_dropout\": 0.0,\n"
    "  \"bos_token_id\": 151643,\n"
    "  \"eos_token_id\": 151645,\n"
    "  \"hidden_act\": \"silu\",\n"
    "  \"hidden_size\": 896,\n"
    "  \"initializer_range\": 0.02,\n"
    "  \"intermediate_size\": 4864,\n"
    "  \"max_position_embeddings\": 32768,\n"
    "  \"max_window_layers\": 21,\n"
    "  \"model_type\": \"qwen2\",\n"
    "  \"num_attention_heads\": 14,\n"
    "  \"num_hidden_layers\": 24,\n"
    "  \"num_key_value_heads\": 2,\n"
    "  \"rms_norm_eps\": 1e-06,\n"
    "  \"rope_theta\": 1000000.0,\n"
    "  \"sliding_window\": 32768,\n"
    "  \"tie_word_embeddings\": true,\n"
    "  \"torch_dtype\": \"bfloat16\",\n"
    "  \"transformers_version\": \"4.43.1\",\n"
    "  \"use_cache\": true,\n"
    "  \"use_sliding_window\": false,\n"
    "  \"vocab_size\": 151936\n"
    "}\n";

/* Llama-3.2-1B-Instruct's config.json. */
static const char *llama_config =
    "{\"architectures\": [\"LlamaForCausalLM\"], \"attention_bias\": false, "
    "\"attention_dropout\": 0.0, \"bos_token_id\": 128000, \"eos_token_id\": [128001, 128008, "
    "128009], \"head_dim\": 64, \"hidden_act\": \"silu\", \"hidden_size\": 2048, "
    "\"initializer_range\": 0.02, \"intermediate_size\": 8192, \"max_position_embeddings\": "
    "131072, \"mlp_bias\": false, \"model_type\": \"llama\", \"num_attention_heads\": 32, "
    "\"num_hidden_layers\": 16, \"num_key_value_heads\": 8, \"pretraining_tp\": 1, "
    "\"rms_norm_eps\": 1e-05, \"rope_scaling\": {\"factor\": 32.0, \"high_freq_factor\": 4.0, "
    "\"low_freq_factor\": 1.0, \"original_max_position_embeddings\": 8192, \"rope_type\": "
    "\"llama3\"}, \"rope_theta\": 500000.0, \"tie_word_embeddings\": true, \"torch_dtype\": "
    "\"bfloat16\", \"transformers_version\": \"4.45.0.dev0\", \"use_cache\": true, "
    "\"vocab_size\": 128256}";

/* Parses `base` with field `key` set to the JSON `value` (NULL: removed). */
static int parse_with(const char *base, const char *key, const char *value,
                      struct rlvr_model_config *c, struct rlvr_checkpoint_meta *meta)
{
    json_object *root = json_tokener_parse(base);
    if (key) {
        if (value)
            json_object_object_add(root, key, json_tokener_parse(value));
        else
            json_object_object_del(root, key);
    }
    const char *text = json_object_to_json_string(root);
    int rc = rlvr_config_parse(text, strlen(text), "dir/config.json", c, meta, err, sizeof err);
    json_object_put(root);
    return rc;
}

static void test_config(void)
{
    struct rlvr_model_config c, want;
    struct rlvr_checkpoint_meta meta;
    int rc = rlvr_config_parse(qwen_config, strlen(qwen_config), "config.json", &c, &meta, err,
                               sizeof err);
    rlvr_model_config_qwen2_0_5b(&want);
    if (!ok(rc == 0 && configs_equal(&c, &want),
            "Qwen2.5-0.5B-Instruct's config.json loads as rlvr_model_config_qwen2_0_5b"))
        diag("  %s", err);
    ok(meta.n_eos == 1 && meta.eos_token_ids[0] == 151645 && meta.pad_token_id == -1 &&
           !strcmp(meta.torch_dtype, "bfloat16"),
       "meta: one eos id, no pad id, torch_dtype bfloat16");

    /* Accepted variations. */
    static const struct {
        const char *key, *value, *what;
    } fine[] = {
        {"layer_types", NULL, "layer_types, all full_attention"},
        {"rope_parameters", "{\"rope_type\": \"default\", \"rope_theta\": 1000000.0}",
         "rope_parameters (transformers 5) with the default rope"},
        {"eos_token_id", "[151645, 151643]", "eos_token_id as a list"},
        {"bos_token_id", "null", "bos_token_id null"},
        {"rope_scaling", "null", "rope_scaling null"},
        {"_attn_implementation_autoset", "true", "_attn_implementation_autoset"},
        {"dtype", "\"bfloat16\"", "dtype (transformers 4.56+)"},
        {"attention_bias", "true", "attention_bias true for qwen2"},
        {"pad_token_id", "151643", "pad_token_id"},
        {"use_mrope", "false", "use_mrope false"},
        {"head_dim", "64", "head_dim given"},
        {"sliding_window", "null", "sliding_window null"},
        {"tie_word_embeddings", NULL, "tie_word_embeddings absent (false, as in HF)"},
    };
    for (size_t i = 0; i < sizeof fine / sizeof fine[0]; i++) {
        char lt[1024];
        const char *v = fine[i].value;
        if (!strcmp(fine[i].key, "layer_types")) {
            size_t k = (size_t)snprintf(lt, sizeof lt, "[");
            for (int l = 0; l < 24; l++)
                k += (size_t)snprintf(lt + k, sizeof lt - k, "%s\"full_attention\"", l ? "," : "");
            snprintf(lt + k, sizeof lt - k, "]");
            v = lt;
        }
        rc = parse_with(qwen_config, fine[i].key, v, &c, &meta);
        if (!ok(rc == 0, "accepted: %s", fine[i].what))
            diag("  %s", err);
    }
    parse_with(qwen_config, "eos_token_id", "[151645, 151643]", &c, &meta);
    ok(meta.n_eos == 2 && meta.eos_token_ids[1] == 151643 && c.eos_token_id == 151645,
       "an eos list keeps every id; the config takes the first");
    parse_with(qwen_config, "tie_word_embeddings", NULL, &c, &meta);
    ok(c.tie_word_embeddings == 0, "tie_word_embeddings defaults to false");

    /* Refusals: the message names the field (and the file). */
    static const struct {
        const char *key, *value, *needle;
    } bad[] = {
        {"rope_scaling", "{\"type\": \"linear\", \"factor\": 2.0}", "'rope_scaling'"},
        {"use_sliding_window", "true", "'use_sliding_window'"},
        {"hidden_act", "\"gelu\"", "'hidden_act'"},
        {"attention_dropout", "0.1", "'attention_dropout'"},
        {"mlp_bias", "true", "'mlp_bias'"},
        {"pretraining_tp", "2", "'pretraining_tp'"},
        {"num_experts", "8", "'num_experts'"},
        {"num_experts_per_tok", "2", "'num_experts_per_tok'"},
        {"moe_intermediate_size", "1408", "'moe_intermediate_size'"},
        {"shared_expert_intermediate_size", "5632", "'shared_expert_intermediate_size'"},
        {"quantization_config", "{\"quant_method\": \"awq\", \"bits\": 4}",
         "'quantization_config'"},
        {"layer_types", "[\"full_attention\", \"sliding_attention\"]", "'layer_types'"},
        {"use_mrope", "true", "'use_mrope'"},
        {"is_encoder_decoder", "true", "'is_encoder_decoder'"},
        {"foo", "1", "dir/config.json: field 'foo' is not supported by rlvr"},
        {"model_type", "\"mistral\"", "'model_type'"},
        {"architectures", "[\"Qwen2ForSequenceClassification\"]", "'architectures'"},
        {"attention_bias", "false", "'attention_bias'"},
        {"rope_parameters", "{\"rope_type\": \"yarn\", \"factor\": 4.0}", "rope_parameters"},
        {"rope_parameters", "{\"rope_theta\": 10000.0}", "'rope_theta' and 'rope_parameters"},
        {"vocab_size", NULL, "'vocab_size' is missing"},
        {"model_type", NULL, "'model_type' is missing"},
        {"hidden_size", "\"896\"", "'hidden_size'"},
        {"num_hidden_layers", "1.5", "'num_hidden_layers'"},
        {"tie_word_embeddings", "1", "'tie_word_embeddings'"},
        {"eos_token_id", "[1,2,3,4,5,6,7,8,9]", "'eos_token_id'"},
        {"eos_token_id", "999999", "'eos_token_id'"},
        {"eos_token_id", "[\"x\"]", "'eos_token_id'"},
        {"pad_token_id", "151936", "'pad_token_id'"},
        {"rms_norm_eps", "\"small\"", "'rms_norm_eps'"},
        {"sliding_window", "\"none\"", "'sliding_window'"},
        {"num_key_value_heads", "3", "num_key_value_heads"},
        {"transformers_version", "4", "'transformers_version'"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rc = parse_with(qwen_config, bad[i].key, bad[i].value, &c, &meta);
        ok(rc != 0 && contains(err, bad[i].needle) && contains(err, "config.json"),
           "refused: %s = %s -> %s", bad[i].key, bad[i].value ? bad[i].value : "(absent)",
           rc ? err : "(accepted)");
    }

    rc = rlvr_config_parse(llama_config, strlen(llama_config), "llama/config.json", &c, &meta, err,
                           sizeof err);
    ok(rc != 0 && contains(err, "'rope_scaling'"), "Llama 3.2's llama3 rope scaling is refused: %s",
       err);
    rc = parse_with(llama_config, "rope_scaling", "null", &c, &meta);
    ok(rc == 0 && c.attention_bias == 0 && c.head_dim == 64 && c.num_key_value_heads == 8 &&
           meta.n_eos == 3 && c.eos_token_id == 128001 && c.tie_word_embeddings == 1,
       "a llama config without rope scaling loads: no biases, head_dim 64, 3 eos ids%s%s",
       rc ? ": " : "", rc ? err : "");
    rc = parse_with(llama_config, "rope_scaling", NULL, &c, &meta);
    ok(rc == 0, "rope_scaling absent is fine");
    json_object *root = json_tokener_parse(llama_config);
    json_object_object_del(root, "rope_scaling");
    json_object_object_del(root, "bos_token_id");
    json_object_object_del(root, "eos_token_id");
    json_object_object_del(root, "attention_bias");
    const char *t = json_object_to_json_string(root);
    rc = rlvr_config_parse(t, strlen(t), "config.json", &c, &meta, err, sizeof err);
    ok(rc == 0 && c.bos_token_id == 1 && c.eos_token_id == 2 && c.attention_bias == 0,
       "llama's defaults: bos 1, eos 2, no attention bias");
    json_object_put(root);
    root = json_tokener_parse(llama_config);
    json_object_object_add(root, "rope_scaling", NULL);
    json_object_object_add(root, "attention_bias", json_object_new_boolean(1));
    t = json_object_to_json_string(root);
    rc = rlvr_config_parse(t, strlen(t), "config.json", &c, &meta, err, sizeof err);
    ok(rc == 0 && c.attention_bias == 1, "llama with attention_bias true has q/k/v biases");
    json_object_put(root);

    /* Not JSON at all, or JSON that is not an object. */
    rc = rlvr_config_parse("{\"a\": ", 6, "x/config.json", &c, &meta, err, sizeof err);
    ok(rc != 0 && contains(err, "x/config.json") && contains(err, "JSON"),
       "truncated JSON is refused: %s", err);
    rc = rlvr_config_parse("[1]", 3, "config.json", &c, &meta, err, sizeof err);
    ok(rc != 0, "a JSON list is refused: %s", err);
    rc = rlvr_config_read(tpath("no/such/config.json"), &c, &meta, err, sizeof err);
    ok(rc != 0 && contains(err, "no/such/config.json"), "a missing file is named: %s", err);

    /* Writing then reading gives the same config, for both families. */
    struct rlvr_model_config tiny, back;
    rlvr_model_config_tiny(&tiny);
    for (int pass = 0; pass < 2; pass++) {
        tiny.attention_bias = !pass;
        tiny.bos_token_id = pass ? 5 : -1;
        rc = rlvr_config_write(tpath("cfg.json"), &tiny, NULL, RLVR_DTYPE_BF16, err, sizeof err);
        rc = rc ? rc : rlvr_config_read(tpath("cfg.json"), &back, &meta, err, sizeof err);
        ok(rc == 0 && configs_equal(&tiny, &back),
           "config.json (%s) written reads back the same%s%s", pass ? "llama" : "qwen2",
           rc ? ": " : "", rc ? err : "");
    }
    size_t n;
    char *text = (char *)read_file(tpath("cfg.json"), &n);
    json_object *w = text ? json_tokener_parse(text) : NULL;
    ok(w && json_object_is_type(w, json_type_object) && n > 0 && text[n - 1] == '\n',
       "the written config.json is JSON");
    json_object_put(w);
    free(text);
}

/* ---- safetensors refusals ---------------------------------------------------- */

static int load_builder(struct rlvr_model *m, struct builder *b)
{
    size_t size;
    unsigned char *bytes = builder_bytes(b, &size);
    int rc = rlvr_safetensors_load_buffer(m, bytes, size, "dir/model.safetensors", err, sizeof err);
    free(bytes);
    return rc;
}

static void expect_refused(int rc, const char *needle, const char *what)
{
    ok(rc != 0 && contains(err, needle) && contains(err, "model.safetensors"), "refused: %s -> %s",
       what, rc ? err : "(accepted)");
}

static void test_refusals(void)
{
    struct rlvr_model_config c;
    config_micro(&c);
    struct rlvr_model m;
    if (make_model(&m, &c))
        return;
    struct builder *b = calloc(1, sizeof *b);
    builder_add_model(b, &m, "F32");
    int rc0 = load_builder(&m, b);
    ok(rc0 == 0, "the micro model loads from its own tensors%s%s", rc0 ? ": " : "", rc0 ? err : "");

    float *before = malloc(m.n_params * sizeof(float));
    memcpy(before, m.params, m.n_params * sizeof(float));
    struct entry saved = *builder_find(b, "model.norm.weight");
    saved.data = malloc(saved.nbytes);
    memcpy(saved.data, builder_find(b, "model.norm.weight")->data, saved.nbytes);

    builder_remove(b, "model.layers.0.mlp.up_proj.weight");
    expect_refused(load_builder(&m, b), "'model.layers.0.mlp.up_proj.weight' is missing",
                   "a missing tensor");
    builder_free(b);
    builder_add_model(b, &m, "F32");

    struct entry *e = builder_find(b, "model.norm.weight");
    e->shape[0] = 4;
    entry_resize(e, 16);
    for (size_t i = 0; i < m.n_params; i++)
        m.params[i] = 7.0f;
    expect_refused(load_builder(&m, b), "'model.norm.weight' has shape [4]", "a wrong shape");
    int untouched = 1;
    for (size_t i = 0; i < m.n_params; i++)
        untouched &= m.params[i] == 7.0f;
    ok(untouched, "a refused load leaves the parameters as they were");
    memcpy(m.params, before, m.n_params * sizeof(float));
    e->shape[0] = 8;
    e->ndim = 2;
    e->shape[1] = 1;
    entry_resize(e, 32);
    expect_refused(load_builder(&m, b), "'model.norm.weight' has shape [8, 1]", "a wrong rank");
    builder_free(b);
    builder_add_model(b, &m, "F32");

    builder_add_copy(b, "model.layers.0.mlp.extra.weight", &saved);
    expect_refused(load_builder(&m, b), "'model.layers.0.mlp.extra.weight' is not a tensor",
                   "an unknown tensor");
    builder_remove(b, "model.layers.0.mlp.extra.weight");
    builder_add_copy(b, "model.layers.0.self_attn.rotary_emb.inv_freq", &saved);
    builder_add_copy(b, "model.rotary_emb.inv_freq", &saved);
    ok(load_builder(&m, b) == 0, "rotary_emb.inv_freq buffers are accepted and skipped");
    builder_add_copy(b, "model.layers.x.self_attn.rotary_emb.inv_freq", &saved);
    expect_refused(load_builder(&m, b), "model.layers.x.self_attn", "a malformed buffer name");
    builder_free(b);
    builder_add_model(b, &m, "F32");

    e = builder_find(b, "model.norm.weight");
    snprintf(e->dtype, sizeof e->dtype, "I8");
    entry_resize(e, 8);
    expect_refused(load_builder(&m, b), "'model.norm.weight' has dtype I8", "dtype I8");
    snprintf(e->dtype, sizeof e->dtype, "I64");
    entry_resize(e, 64);
    expect_refused(load_builder(&m, b), "'model.norm.weight' has dtype I64", "dtype I64");
    snprintf(e->dtype, sizeof e->dtype, "Q4_K");
    expect_refused(load_builder(&m, b), "\"Q4_K\"", "an unknown dtype");
    builder_free(b);

    /* A tied model: lm_head.weight is accepted only when it equals the
     * embedding. */
    builder_add_model(b, &m, "BF16");
    struct entry *emb = builder_find(b, "model.embed_tokens.weight");
    struct entry *head = builder_add_copy(b, "lm_head.weight", emb);
    ok(load_builder(&m, b) == 0, "a tied checkpoint with lm_head.weight equal to the embedding");
    head->data[5] ^= 1;
    for (size_t i = 0; i < m.n_params; i++)
        m.params[i] = 7.0f;
    expect_refused(load_builder(&m, b), "'lm_head.weight' differs", "a different tied lm_head");
    untouched = 1;
    for (size_t i = 0; i < m.n_params; i++)
        untouched &= m.params[i] == 7.0f;
    ok(untouched, "(the parameters are untouched by that refusal too)");
    memcpy(m.params, before, m.n_params * sizeof(float));
    /* The same embedding stored in F32 and its copy in BF16 differ. */
    struct entry *e32 = builder_find(b, "model.embed_tokens.weight");
    snprintf(head->dtype, sizeof head->dtype, "F32");
    entry_resize(head, e32->nbytes * 2);
    for (size_t j = 0; j < e32->nbytes / 2; j++) { /* BF16 -> F32 bits, exact */
        head->data[4 * j] = head->data[4 * j + 1] = 0;
        head->data[4 * j + 2] = e32->data[2 * j];
        head->data[4 * j + 3] = e32->data[2 * j + 1];
    }
    ok(load_builder(&m, b) == 0, "a tied lm_head in F32 equal to a BF16 embedding is accepted");
    builder_free(b);

    /* Without attention biases the biases are unknown tensors. */
    struct rlvr_model nb;
    struct rlvr_model_config cn = c;
    cn.attention_bias = 0;
    if (!make_model(&nb, &cn)) {
        builder_add_model(b, &m, "F32");
        expect_refused(load_builder(&nb, b),
                       "_proj.bias' is not a tensor of this model (its config",
                       "q/k/v biases for a model without them");
        builder_free(b);
        rlvr_model_free(&nb);
    }

    /* Header-level damage. */
    static const struct {
        const char *header;
        size_t data;
        const char *needle, *what;
    } raw[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
         12, "overlap", "overlapping data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]}}",
         20, "belong to no tensor", "a gap between tensors"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
         "belong to no tensor", "bytes after the last tensor"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 4, "outside the data",
         "data_offsets beyond the file"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "outside the data",
         "data_offsets reversed"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12 bytes",
         "data_offsets that disagree with shape x dtype"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "bad size",
         "a negative size"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,-8]}}", 8, "bad data offset",
         "a negative offset"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8,
         "unknown key 'x'", "an unknown key"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, "lacks 'data_offsets'",
         "no data_offsets"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296,4294967296],"
         "\"data_offsets\":[0,8]}}",
         8, "too large", "a shape that overflows"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "not valid JSON",
         "malformed header JSON"},
        {"{\"a\":[1,2]}", 0, "'a' is not described", "a tensor that is not an object"},
        {"{\"__metadata__\":{\"format\":1}}", 0, "not a string", "non-string metadata"},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}} x", 8,
         "not valid JSON", "bytes after the header JSON"},
        {"[1]", 0, "does not start with '{'", "a header that is a list"},
        {"{\"\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "empty name",
         "an empty tensor name"},
        {"{\"a\xff\":1}", 0, "UTF-8", "invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        size_t size;
        unsigned char *bytes = raw_file(raw[i].header, raw[i].data, &size);
        int rc = rlvr_safetensors_load_buffer(&m, bytes, size, "dir/model.safetensors", err,
                                              sizeof err);
        expect_refused(rc, raw[i].needle, raw[i].what);
        free(bytes);
    }
    /* The length prefix. */
    builder_add_model(b, &m, "F32");
    size_t size;
    unsigned char *bytes = builder_bytes(b, &size);
    unsigned char *copy = malloc(size);
    memcpy(copy, bytes, size);
    copy[0] = 0xFF;
    copy[1] = 0xFF;
    copy[2] = 0xFF;
    int rc = rlvr_safetensors_load_buffer(&m, copy, size, "dir/model.safetensors", err, sizeof err);
    expect_refused(rc, "beyond the end of the file", "a header length beyond the file");
    memset(copy, 0, 8);
    copy[0] = 1;
    rc = rlvr_safetensors_load_buffer(&m, copy, size, "dir/model.safetensors", err, sizeof err);
    expect_refused(rc, "too small", "a header length of 1");
    memset(copy, 0, 8);
    copy[4] = 0x10; /* 2^36: fits no header */
    rc = rlvr_safetensors_load_buffer(&m, copy, size, "dir/model.safetensors", err, sizeof err);
    expect_refused(rc, "beyond the end", "a huge header length");
    rc = rlvr_safetensors_load_buffer(&m, bytes, 5, "dir/model.safetensors", err, sizeof err);
    expect_refused(rc, "too short", "a 5-byte file");
    int all_refused = 1;
    for (size_t cut = 0; cut < size; cut += 1 + cut / 16)
        all_refused &= rlvr_safetensors_load_buffer(&m, bytes, cut, "t", err, sizeof err) != 0;
    ok(all_refused, "every truncation of a valid file is refused");
    free(copy);

    /* The same through files, and a truncated file on disk. */
    write_file(tpath("trunc.safetensors"), bytes, size - 3);
    rc = rlvr_safetensors_load(&m, tpath("trunc.safetensors"), err, sizeof err);
    ok(rc != 0 && contains(err, "trunc.safetensors"), "a truncated file is refused: %s", err);
    write_file(tpath("empty.safetensors"), "", 0);
    rc = rlvr_safetensors_load(&m, tpath("empty.safetensors"), err, sizeof err);
    ok(rc != 0 && contains(err, "empty.safetensors"), "an empty file is refused: %s", err);
    rc = rlvr_safetensors_load(&m, tpath("absent.safetensors"), err, sizeof err);
    ok(rc != 0 && contains(err, "absent.safetensors"), "a missing file is named: %s", err);
    free(bytes);
    builder_free(b);

    /* Checkpoint directories: a missing shard, an index that lies, both
     * layouts at once, no weights at all. */
    char dir[1024];
    snprintf(dir, sizeof dir, "%s", tpath("sharded"));
    rc = rlvr_checkpoint_save(&m, dir, RLVR_DTYPE_F32, 500, err, sizeof err);
    ok(rc == 0, "a sharded micro checkpoint%s%s", rc ? ": " : "", rc ? err : "");
    char shard[64];
    snprintf(shard, sizeof shard, "sharded/model-00002-of-%05d.safetensors", 0);
    const char *ls = listing(dir);
    const char *s2 = strstr(ls, "model-00002-of-");
    snprintf(shard, sizeof shard, "sharded/%.32s", s2 ? s2 : "?");
    char moved[128];
    snprintf(moved, sizeof moved, "%s.away", tpath(shard));
    rename(tpath(shard), moved);
    struct rlvr_model r;
    rc = rlvr_checkpoint_load(dir, &r, err, sizeof err);
    ok(rc != 0 && contains(err, shard + 8), "an index naming a missing shard: %s", err);
    rename(moved, tpath(shard));
    rc = rlvr_checkpoint_load(dir, &r, err, sizeof err);
    ok(rc == 0, "with the shard back it loads");
    if (!rc)
        rlvr_model_free(&r);
    size_t n;
    char *index = (char *)read_file(tpath("sharded/model.safetensors.index.json"), &n);
    char *p = index ? strstr(index, "\"model.norm.weight\": \"model-000") : NULL;
    if (p) {
        char *digit = p + strlen("\"model.norm.weight\": \"model-0000");
        *digit = *digit == '1' ? '2' : '1';
        write_file(tpath("sharded/model.safetensors.index.json"), index, n);
        rc = rlvr_checkpoint_load(dir, &r, err, sizeof err);
        ok(rc != 0 && contains(err, "model.norm.weight"),
           "an index mapping a tensor to the wrong shard: %s", err);
        *digit = *digit == '1' ? '2' : '1';
        write_file(tpath("sharded/model.safetensors.index.json"), index, n);
    } else {
        ok(0, "the index maps model.norm.weight");
    }
    free(index);
    const char *lie = "{\"weight_map\": {\"x\": \"../y\"}}";
    write_file(tpath("sharded/model.safetensors.index.json"), lie, strlen(lie));
    rc = rlvr_checkpoint_load(dir, &r, err, sizeof err);
    ok(rc != 0 && contains(err, "'x'") && contains(err, "../y"), "a shard path with a slash: %s",
       err);
    lie = "{\"weight_map\": [}";
    write_file(tpath("sharded/model.safetensors.index.json"), lie, strlen(lie));
    rc = rlvr_checkpoint_load(dir, &r, err, sizeof err);
    ok(rc != 0 && contains(err, "index.json"), "a malformed index: %s", err);
    rlvr_safetensors_save(&m, tpath("sharded/model.safetensors"), RLVR_DTYPE_F32, err, sizeof err);
    rc = rlvr_checkpoint_load(dir, &r, err, sizeof err);
    ok(rc != 0 && contains(err, "ambiguous"), "both layouts at once: %s", err);
    rlvr_checkpoint_save(&m, tpath("noweights"), RLVR_DTYPE_F32, 0, err, sizeof err);
    remove(tpath("noweights/model.safetensors"));
    write_file(tpath("noweights/pytorch_model.bin"), "x", 1);
    rc = rlvr_checkpoint_load(tpath("noweights"), &r, err, sizeof err);
    ok(rc != 0 && contains(err, "pytorch_model.bin") && r.params == NULL,
       "no safetensors (only a pickle): %s", err);
    rlvr_checkpoint_save(&m, tpath("wrongcfg"), RLVR_DTYPE_F32, 0, err, sizeof err);
    struct rlvr_model_config other = c;
    other.intermediate_size = 16;
    rlvr_config_write(tpath("wrongcfg/config.json"), &other, NULL, RLVR_DTYPE_F32, err, sizeof err);
    rc = rlvr_checkpoint_load(tpath("wrongcfg"), &r, err, sizeof err);
    ok(rc != 0 && contains(err, "mlp.gate_proj.weight' has shape [12, 8] but the model expects "
                                "[16, 8]"),
       "weights that do not fit config.json: %s", err);

    free(saved.data);
    free(before);
    free(b);
    rlvr_model_free(&m);
}

/* ---- fuzz -------------------------------------------------------------------- */

static void fuzz(long iterations)
{
    struct rlvr_model_config c;
    config_micro(&c);
    struct rlvr_model m;
    if (make_model(&m, &c))
        return;
    struct builder *b = calloc(1, sizeof *b);
    builder_add_model(b, &m, "BF16");
    struct entry *emb = builder_find(b, "model.embed_tokens.weight");
    builder_add_copy(b, "lm_head.weight", emb);
    size_t size;
    unsigned char *base = builder_bytes(b, &size);
    size_t hlen = (size_t)base[0] | (size_t)base[1] << 8;
    unsigned char *buf = malloc(size + 64);
    const char tokens[] = "{}[]\",:0123456789-e. tfnu\\";
    long loaded = 0, refused = 0, silent = 0;
    double t0 = now();
    for (long it = 0; it < iterations; it++) {
        memcpy(buf, base, size);
        size_t n = size, cut = size;
        int k = 1 + (int)(next_u64() % 4);
        for (int j = 0; j < k; j++) {
            uint64_t r = next_u64();
            size_t at = 8 + (size_t)((r >> 8) % (hlen + 8)); /* mostly the header */
            if (at >= n)
                at = n - 1;
            switch (r % 8) {
            case 0: buf[at] ^= (unsigned char)(1u << ((r >> 40) % 8)); break;
            case 1: buf[at] = (unsigned char)tokens[(r >> 40) % (sizeof tokens - 1)]; break;
            case 2: buf[at] = (unsigned char)(r >> 40); break;
            case 3: cut = (size_t)((r >> 8) % (n + 1)); break; /* truncate, below */
            case 4: buf[(r >> 40) % 8] ^= (unsigned char)(1u << ((r >> 50) % 8)); break;
            case 5: { /* a digit run becomes another number */
                while (at < n && (buf[at] < '0' || buf[at] > '9'))
                    at++;
                if (at < n)
                    buf[at] = (unsigned char)('0' + (r >> 40) % 10);
                if (at + 1 < n && buf[at + 1] >= '0' && buf[at + 1] <= '9')
                    buf[at + 1] = (r >> 44) & 1 ? '9' : '-';
                break;
            }
            case 6: /* a byte of data */
                if (n > 8 + hlen)
                    buf[8 + hlen + (size_t)((r >> 8) % (n - 8 - hlen))] ^= 0x40;
                break;
            default: /* swap two header bytes */
                {
                    size_t at2 = 8 + (size_t)((r >> 32) % hlen);
                    if (at2 < n) {
                        unsigned char t = buf[at];
                        buf[at] = buf[at2];
                        buf[at2] = t;
                    }
                }
            }
        }
        n = cut;
        err[0] = 0;
        if (rlvr_safetensors_load_buffer(&m, buf, n, "fuzz", err, sizeof err) == 0)
            loaded++;
        else
            refused++, silent += !contains(err, "fuzz");
        /* The config parser too, on a mutated Qwen config. */
        if (it % 4 == 0) {
            size_t cn = strlen(qwen_config);
            char *ct = malloc(cn + 1);
            memcpy(ct, qwen_config, cn + 1);
            uint64_t r = next_u64();
            ct[(r >> 8) % cn] = tokens[(r >> 40) % (sizeof tokens - 1)];
            if (r & 1)
                ct[(r >> 24) % cn] = (char)(r >> 48);
            struct rlvr_model_config cc;
            rlvr_config_parse(ct, (r >> 16) & 1 ? cn : (size_t)((r >> 20) % cn), "fuzz", &cc, NULL,
                              err, sizeof err);
            free(ct);
        }
    }
    ok(loaded + refused == iterations && silent == 0,
       "fuzz: %ld mutated files (%ld loaded, %ld refused, each with a message naming the file) "
       "and configs, no crash, %.1f s",
       iterations, loaded, refused, now() - t0);
    free(buf);
    free(base);
    builder_free(b);
    free(b);
    rlvr_model_free(&m);
}

/* ---- Qwen2.5-0.5B's layout --------------------------------------------------- */

static uint32_t fnv1a32(const char *s)
{
    uint32_t h = 0x811C9DC5u;
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 0x01000193u;
    return h;
}

/* Which of the layout script's three formulas a tensor takes. */
enum { MATRIX, NORM, BIAS };
static int layout_kind(const char *name, int ndim)
{
    size_t len = strlen(name);
    if (ndim == 2)
        return MATRIX;
    return len >= 11 && !strcmp(name + len - 11, "norm.weight") ? NORM : BIAS;
}

/* The layout script's weight, as its docstring defines it (float32, before
 * the BF16 rounding). */
static float layout_weight(int kind, uint32_t seed, uint32_t i)
{
    uint32_t x = i ^ seed;
    x ^= x >> 16;
    x *= 0x7FEB352Du;
    x ^= x >> 15;
    x *= 0x846CA68Bu;
    x ^= x >> 16;
    if (kind == MATRIX)
        return (float)((int32_t)(x >> 8) - (1 << 23)) * 0x1.0p-28f;
    if (kind == NORM)
        return 1.0f + (float)((int32_t)(x >> 12) - (1 << 19)) * 0x1.0p-23f;
    return (float)((int32_t)(x >> 8) - (1 << 23)) * 0x1.0p-30f;
}

static const char *find_numpy_python(void)
{
    static char chosen[512];
    const char *cands[] = {getenv("PYTHON3"), "python3", "/usr/bin/python3"};
    for (size_t i = 0; i < sizeof cands / sizeof cands[0]; i++) {
        if (!cands[i] || !*cands[i] || strchr(cands[i], '\''))
            continue;
        char cmd[700];
        snprintf(cmd, sizeof cmd, "'%s' -c 'import numpy' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) {
            snprintf(chosen, sizeof chosen, "%s", cands[i]);
            return chosen;
        }
    }
    return NULL;
}

static void skip_tests(int n, const char *reason)
{
    for (int i = 0; i < n; i++) {
        tap_n++;
        printf("ok %d # skip %s\n", tap_n, reason);
    }
    fflush(stdout);
}

static int files_equal(const char *a, const char *b)
{
    FILE *x = fopen(a, "rb"), *y = fopen(b, "rb");
    int same = x && y;
    static unsigned char bx[1 << 16], by[1 << 16];
    while (same) {
        size_t nx = fread(bx, 1, sizeof bx, x), ny = fread(by, 1, sizeof by, y);
        same = nx == ny && !memcmp(bx, by, nx);
        if (nx < sizeof bx)
            break;
    }
    if (x)
        fclose(x);
    if (y)
        fclose(y);
    return same;
}

/* Compares every `stride`-th weight of m with the layout script's formula,
 * rounded to BF16 as its docstring says (integer rounding, no NaNs).
 * Returns the number that differ; *first names the first tensor with one. */
static size_t check_layout(const struct rlvr_model *m, size_t stride, const char **first)
{
    size_t differ = 0;
    for (int i = 0; i < m->n_tensors; i++) {
        const struct rlvr_tensor *t = &m->tensors[i];
        uint32_t seed = fnv1a32(t->name);
        int kind = layout_kind(t->name, t->ndim);
        const float *p = m->params + t->offset;
        for (size_t j = 0; j < t->numel; j += stride) {
            uint32_t b = bits(layout_weight(kind, seed, (uint32_t)j));
            b = (b + 0x7FFFu + ((b >> 16) & 1u)) >> 16 << 16;
            if (b != bits(p[j]) && !differ++)
                *first = t->name;
        }
    }
    return differ;
}

static void test_qwen_layout(const char *srcdir)
{
    enum { N_TESTS = 8 };
    const char *py = find_numpy_python();
    if (!py) {
        skip_tests(N_TESTS, "no python3 with numpy to run make_qwen_layout.py");
        return;
    }
    if (getenv("RLVR_SKIP_BIG")) {
        skip_tests(N_TESTS, "RLVR_SKIP_BIG is set");
        return;
    }
    const char *dir = tpath("qwen");
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' '%s/fixtures/checkpoint/make_qwen_layout.py' --out '%s' >'%s' 2>&1", py,
             srcdir, dir, tpath("layout.log"));
    double t0 = now();
    int rc = system(cmd);
    double t_script = now() - t0;
    if (!ok(rc == 0, "make_qwen_layout.py wrote a Qwen2.5-0.5B-shaped checkpoint in %.1f s (%s)",
            t_script, py)) {
        size_t n;
        char *log = (char *)read_file(tpath("layout.log"), &n);
        for (char *line = log ? strtok(log, "\n") : NULL; line; line = strtok(NULL, "\n"))
            diag("  %s", line);
        free(log);
        skip_tests(N_TESTS - 1, "the layout script failed");
        rm_rf(dir);
        return;
    }
    struct rlvr_model m;
    struct rlvr_checkpoint_meta meta;
    t0 = now();
    rc = rlvr_checkpoint_load_meta(dir, &m, &meta, err, sizeof err);
    double t_load = now() - t0;
    if (!ok(rc == 0, "rlvr_checkpoint_load reads it in %.1f s", t_load)) {
        diag("  %s", err);
        skip_tests(N_TESTS - 2, "the load failed");
        rm_rf(dir);
        return;
    }
    struct rlvr_model_config want;
    rlvr_model_config_qwen2_0_5b(&want);
    ok(configs_equal(&m.cfg, &want) && meta.n_eos == 1 && !strcmp(meta.torch_dtype, "bfloat16"),
       "its config is Qwen2.5-0.5B's");
    struct rlvr_model ref;
    int same_table = rlvr_model_create(&ref, &want, err, sizeof err) == 0;
    if (same_table) {
        same_table = ref.n_tensors == m.n_tensors;
        for (int i = 0; same_table && i < m.n_tensors; i++)
            same_table = !strcmp(ref.tensors[i].name, m.tensors[i].name) &&
                         ref.tensors[i].ndim == m.tensors[i].ndim &&
                         ref.tensors[i].shape[0] == m.tensors[i].shape[0] &&
                         ref.tensors[i].shape[1] == m.tensors[i].shape[1] &&
                         ref.tensors[i].numel == m.tensors[i].numel;
        rlvr_model_free(&ref);
    }
    int present = 0;
    for (int i = 0; i < m.n_tensors; i++)
        present += m.tensors[i].numel > 0;
    ok(same_table && present == 290 && m.n_params == 494032768,
       "every tensor name and shape is Qwen2.5-0.5B's (%d tensors, %zu parameters)", present,
       m.n_params);
    /* Every weight, recomputed here from the documented formula. */
    t0 = now();
    const char *first = NULL;
    size_t differ = check_layout(&m, 1, &first);
    if (!ok(differ == 0, "all %zu weights equal the formula's, recomputed in C (%.1f s)",
            m.n_params, now() - t0))
        diag("  %zu differ, the first in %s", differ, first);
    const struct rlvr_tensor *q = rlvr_model_tensor(&m, "model.layers.3.self_attn.q_proj.bias");
    const struct rlvr_tensor *nw = rlvr_model_tensor(&m, "model.layers.23.input_layernorm.weight");
    ok(q && nw && fabsf(m.params[q->offset]) < 0.008f && fabsf(m.params[nw->offset] - 1) < 0.07f,
       "biases are small and norm weights near 1 (%.5f, %.5f)", q ? m.params[q->offset] : 0.0,
       nw ? m.params[nw->offset] : 0.0);

    /* Saved again in BF16 with the script's shard split, the weight files
     * and the index are the script's, byte for byte. */
    const char *out = tpath("qwen_again");
    t0 = now();
    rc = rlvr_checkpoint_save(&m, out, RLVR_DTYPE_BF16, 500000000, err, sizeof err);
    double t_save = now() - t0;
    int same = rc == 0;
    const char *names[] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
                           "model.safetensors.index.json"};
    for (int i = 0; i < 3 && same; i++) {
        char a[600], b2[600];
        snprintf(a, sizeof a, "%s/%s", dir, names[i]);
        snprintf(b2, sizeof b2, "%s/%s", out, names[i]);
        same = files_equal(a, b2);
        if (!same)
            diag("  %s differs", names[i]);
    }
    ok(same, "saved back as BF16 (%.1f s), both shards and the index equal the script's byte for "
             "byte%s%s", t_save, rc ? ": " : "", rc ? err : "");
    rlvr_model_free(&m);
    rc = rlvr_checkpoint_load(out, &m, err, sizeof err);
    ok(rc == 0 && check_layout(&m, 97, &first) == 0,
       "and rlvr's own config.json and shards load back the same weights%s%s", rc ? ": " : "",
       rc ? err : "");
    if (!rc)
        rlvr_model_free(&m);
    rm_rf(out);
    rm_rf(dir);
}

int main(void)
{
    const char *srcdir = getenv("srcdir");
    if (!srcdir)
        srcdir = ".";
    const char *base = getenv("TMPDIR");
    snprintf(tmp, sizeof tmp, "%s/rlvr_ckpt_XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(tmp)) {
        printf("1..0 # SKIP cannot create a temporary directory: %s\n", strerror(errno));
        return 0;
    }
    plan_no_plan();
    test_conversions(srcdir);
    test_round_trips();
    test_config();
    test_refusals();
    const char *it = getenv("RLVR_FUZZ_ITERATIONS");
    fuzz(it ? atol(it) : 50000);
    test_qwen_layout(srcdir);
    rm_rf(tmp);
    return done_testing();
}
