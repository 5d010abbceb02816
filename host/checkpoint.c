/*
 * checkpoint.c -- Hugging Face checkpoints for the policy: config.json and
 * safetensors, read and written (checkpoint.h has the formats and the
 * refusal policy).
 *
 * A load checks everything before it converts anything. Every safetensors
 * file is mapped read-only and its header validated on its own (parse_header:
 * length, JSON, dtypes, shapes, data_offsets that tile the data section with
 * no gap and no overlap); then every tensor of every file is matched to the
 * model's table by name, shape and dtype (match_file), and the model's
 * tensors are checked to be all there. Only then are the bytes converted to
 * float32 into params, so a refused checkpoint leaves params as they were.
 * The files stay mapped until the load ends, which is what lets a tied
 * model's redundant lm_head.weight be compared with the embedding wherever
 * the two are stored.
 *
 * A save converts params in fixed-size chunks through one buffer; every file
 * is written under a temporary name beside its final one, synced and renamed
 * into place. On disk everything is little-endian, and the code reads and
 * writes bytes explicitly so that it does not depend on the host's order.
 */
#if defined(HAVE_CONFIG_H)
#include "config.h"
#endif

#include "checkpoint.h"
#include "numeric.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#define INDEX_NAME "model.safetensors.index.json"
#define SINGLE_NAME "model.safetensors"
/* The safetensors library's own bound on a header. */
#define MAX_HEADER_BYTES 100000000u
/* config.json and the index are small; anything bigger is not one of them. */
#define MAX_JSON_FILE_BYTES (64u << 20)
#define MAX_DIMS 8

/* ---- float conversions ------------------------------------------------------------ */

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

uint16_t rlvr_f32_to_bf16(float f)
{
    uint32_t u = f32_bits(f);
    if ((u & 0x7FFFFFFFu) > 0x7F800000u)
        return 0x7FC0; /* torch's quiet NaN */
    u += 0x7FFFu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

uint16_t rlvr_f32_to_f16(float f)
{
    uint32_t u = f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7FFFFFFFu;
    if (u > 0x7F800000u)
        return sign | 0x7E00; /* NaN */
    if (u >= 0x477FF000u)     /* 65520 and above round to infinity */
        return sign | 0x7C00;
    if (u >= 0x38800000u) {   /* a normal half: drop 13 mantissa bits, rebias */
        u += 0xFFFu + ((u >> 13) & 1u);
        return sign | (uint16_t)((u - 0x38000000u) >> 13);
    }
    if (u <= 0x33000000u)     /* at most 2^-25: rounds to zero (the tie goes to even) */
        return sign;
    /* A subnormal half: count in units of 2^-24. */
    uint32_t e = u >> 23, mant = (u & 0x7FFFFFu) | 0x800000u;
    uint32_t shift = 126 - e; /* 14 .. 24 */
    uint32_t r = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1u)))
        r++;
    return sign | (uint16_t)r;
}

float rlvr_bf16_to_f32(uint16_t h) { return bits_f32((uint32_t)h << 16); }

float rlvr_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1Fu, m = h & 0x3FFu;
    if (e == 0x1F)
        return bits_f32(sign | 0x7F800000u | (m << 13));
    if (e == 0) {
        float v = (float)m * 0x1.0p-24f; /* exact: at most 10 bits */
        return sign ? -v : v;
    }
    return bits_f32(sign | ((e + 112) << 23) | (m << 13));
}

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }
static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}
static void put32(unsigned char *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

const char *rlvr_dtype_name(enum rlvr_dtype d)
{
    switch (d) {
    case RLVR_DTYPE_F32: return "F32";
    case RLVR_DTYPE_BF16: return "BF16";
    case RLVR_DTYPE_F16: return "F16";
    }
    return "?";
}

static const char *torch_dtype_name(enum rlvr_dtype d)
{
    switch (d) {
    case RLVR_DTYPE_F32: return "float32";
    case RLVR_DTYPE_BF16: return "bfloat16";
    case RLVR_DTYPE_F16: return "float16";
    }
    return "?";
}

static size_t dtype_bytes(enum rlvr_dtype d) { return d == RLVR_DTYPE_F32 ? 4 : 2; }

int rlvr_dtype_parse(const char *s, enum rlvr_dtype *d)
{
    static const struct {
        const char *name;
        enum rlvr_dtype d;
    } names[] = {{"f32", RLVR_DTYPE_F32},  {"float32", RLVR_DTYPE_F32},
                 {"bf16", RLVR_DTYPE_BF16}, {"bfloat16", RLVR_DTYPE_BF16},
                 {"f16", RLVR_DTYPE_F16},  {"float16", RLVR_DTYPE_F16}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcasecmp(s, names[i].name)) {
            *d = names[i].d;
            return 0;
        }
    return -1;
}

/* ---- small file helpers ----------------------------------------------------------- */

static char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    p[a] = '/';
    memcpy(p + a + 1, name, b + 1);
    return p;
}

static char *join_or_fail(const char *dir, const char *name, char *err, size_t err_len)
{
    char *p = path_join(dir, name);
    if (!p)
        rlvr_num_fail(err, err_len, "%s: out of memory", dir);
    return p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* Reads a whole (small) file, NUL-terminated. */
static char *read_text(const char *path, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        rlvr_num_fail(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    rlvr_buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        rlvr_buf_add(&b, chunk, n);
        if (b.len > MAX_JSON_FILE_BYTES)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad || b.oom || b.len > MAX_JSON_FILE_BYTES || !b.ptr) {
        rlvr_num_fail(err, err_len, "%s: %s", path,
             bad     ? "read error"
             : b.oom ? "out of memory"
             : b.ptr ? "file too large"
                     : "empty file");
        rlvr_buf_free(&b);
        return NULL;
    }
    *len = b.len;
    return b.ptr;
}

/* Parses text[len] as one JSON value (strict, nesting bounded by depth);
 * only whitespace may follow it. */
static json_object *parse_json(const char *text, size_t len, int depth, const char *name,
                               const char *what, char *err, size_t err_len)
{
    if (len > INT_MAX) {
        rlvr_num_fail(err, err_len, "%s: %s is too large", name, what);
        return NULL;
    }
    json_tokener *tok = json_tokener_new_ex(depth);
    if (!tok) {
        rlvr_num_fail(err, err_len, "%s: out of memory", name);
        return NULL;
    }
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
    json_object *o = json_tokener_parse_ex(tok, text, (int)len);
    enum json_tokener_error e = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!o || e != json_tokener_success) {
        json_object_put(o);
        rlvr_num_fail(err, err_len, "%s: %s is not valid JSON (%s at byte %zu)", name, what,
             e == json_tokener_continue ? "it ends early" : json_tokener_error_desc(e), end);
        return NULL;
    }
    for (size_t i = end; i < len; i++)
        if (!strchr(" \t\r\n", text[i]) || !text[i]) {
            json_object_put(o);
            rlvr_num_fail(err, err_len, "%s: %s has bytes after its JSON (at byte %zu)", name, what, i);
            return NULL;
        }
    return o;
}

/* A JSON value for a message, cut short when long. */
static const char *json_brief(json_object *v, char *buf, size_t cap)
{
    const char *s = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                             JSON_C_TO_STRING_NOSLASHESCAPE);
    snprintf(buf, cap, "%s", s ? s : "?");
    if (strlen(s ? s : "") >= cap && cap > 4)
        memcpy(buf + cap - 4, "...", 4);
    return buf;
}

static int json_is_int(json_object *v) { return json_object_is_type(v, json_type_int); }
static int json_is_number(json_object *v)
{
    return json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
}

/* ---- safetensors: the header ------------------------------------------------------ */

struct st_dtype {
    const char *name;
    int size;
};
/* Every dtype of the safetensors format; the first four are what rlvr reads
 * as weights. */
static const struct st_dtype st_dtypes[] = {
    {"F32", 4},     {"BF16", 2},    {"F16", 2},  {"F64", 8},  {"BOOL", 1}, {"U8", 1},
    {"I8", 1},      {"F8_E5M2", 1}, {"F8_E4M3", 1}, {"I16", 2}, {"U16", 2},  {"I32", 4},
    {"U32", 4},     {"I64", 8},     {"U64", 8},
};
enum { DT_F32, DT_BF16, DT_F16, DT_F64, N_WEIGHT_DTYPES };

struct st_tensor {
    const char *name;            /* a key of the header JSON (lives as long as it) */
    int dtype;                   /* index into st_dtypes */
    int ndim;
    int64_t shape[MAX_DIMS];
    uint64_t begin, end;         /* bytes, within the data section */
    int slot;                    /* model table index; -1 a buffer; -2 a tied lm_head */
};

struct st_file {
    char *path;                  /* for messages (owned) */
    void *map;                   /* the file mapped, or NULL (a caller's buffer) */
    size_t map_size;
    const unsigned char *data;   /* the data section */
    uint64_t data_size;
    json_object *header;
    struct st_tensor *t;         /* [n], sorted by begin */
    int n;
};

static void st_close(struct st_file *f)
{
    if (f->map)
        munmap(f->map, f->map_size);
    json_object_put(f->header);
    free(f->t);
    free(f->path);
    memset(f, 0, sizeof *f);
}

static void shape_str(char *buf, size_t cap, int ndim, const int64_t *shape)
{
    size_t k = 0;
    k += (size_t)snprintf(buf + k, cap - k, "[");
    for (int i = 0; i < ndim && k < cap; i++)
        k += (size_t)snprintf(buf + k, cap - k, "%s%" PRId64, i ? ", " : "", shape[i]);
    if (k < cap)
        snprintf(buf + k, cap - k, "]");
}

static int by_begin(const void *a, const void *b)
{
    const struct st_tensor *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

static int parse_tensor_entry(struct st_file *f, struct st_tensor *x, const char *name,
                              json_object *v, char *err, size_t err_len)
{
    const char *p = f->path;
    if (!*name)
        return rlvr_num_fail(err, err_len, "%s: a tensor has an empty name", p);
    if (!json_object_is_type(v, json_type_object))
        return rlvr_num_fail(err, err_len, "%s: tensor '%s' is not described by a JSON object", p, name);
    json_object *dt = NULL, *shape = NULL, *offs = NULL;
    json_object_object_foreach(v, key, val) {
        if (!strcmp(key, "dtype"))
            dt = val;
        else if (!strcmp(key, "shape"))
            shape = val;
        else if (!strcmp(key, "data_offsets"))
            offs = val;
        else
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' has an unknown key '%s'", p, name, key);
    }
    if (!dt || !shape || !offs)
        return rlvr_num_fail(err, err_len, "%s: tensor '%s' lacks '%s'", p, name,
                    !dt ? "dtype" : !shape ? "shape" : "data_offsets");
    x->name = name;
    x->dtype = -1;
    if (json_object_is_type(dt, json_type_string))
        for (size_t i = 0; i < sizeof st_dtypes / sizeof st_dtypes[0]; i++)
            if (!strcmp(json_object_get_string(dt), st_dtypes[i].name))
                x->dtype = (int)i;
    char buf[64];
    if (x->dtype < 0)
        return rlvr_num_fail(err, err_len, "%s: tensor '%s' has dtype %s, which rlvr does not know", p, name,
                    json_brief(dt, buf, sizeof buf));
    if (!json_object_is_type(shape, json_type_array) || json_object_array_length(shape) > MAX_DIMS)
        return rlvr_num_fail(err, err_len, "%s: tensor '%s' has a shape that is not an array of at most %d "
                                  "sizes", p, name, MAX_DIMS);
    x->ndim = (int)json_object_array_length(shape);
    uint64_t numel = 1;
    for (int i = 0; i < x->ndim; i++) {
        json_object *d = json_object_array_get_idx(shape, (size_t)i);
        int64_t s = json_is_int(d) ? json_object_get_int64(d) : -1;
        if (s < 0 || s > (INT64_C(1) << 48))
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' has a bad size in its shape: %s", p, name,
                        json_brief(d, buf, sizeof buf));
        x->shape[i] = s;
        numel = s == 0 ? 0 : numel > (UINT64_C(1) << 56) / (uint64_t)s ? UINT64_MAX
                                                                        : numel * (uint64_t)s;
        if (numel == UINT64_MAX)
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' has a shape too large", p, name);
    }
    if (!json_object_is_type(offs, json_type_array) || json_object_array_length(offs) != 2)
        return rlvr_num_fail(err, err_len, "%s: tensor '%s' has data_offsets that are not [begin, end]", p,
                    name);
    int64_t be[2];
    for (int i = 0; i < 2; i++) {
        json_object *o = json_object_array_get_idx(offs, (size_t)i);
        be[i] = json_is_int(o) ? json_object_get_int64(o) : -1;
        if (be[i] < 0)
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' has a bad data offset: %s", p, name,
                        json_brief(o, buf, sizeof buf));
    }
    x->begin = (uint64_t)be[0];
    x->end = (uint64_t)be[1];
    if (x->begin > x->end || x->end > f->data_size)
        return rlvr_num_fail(err, err_len,
                    "%s: tensor '%s' has data_offsets [%" PRIu64 ", %" PRIu64 "] outside the data "
                    "(%" PRIu64 " bytes)",
                    p, name, x->begin, x->end, f->data_size);
    uint64_t want = numel * (uint64_t)st_dtypes[x->dtype].size;
    if (x->end - x->begin != want) {
        shape_str(buf, sizeof buf, x->ndim, x->shape);
        return rlvr_num_fail(err, err_len,
                    "%s: tensor '%s' of shape %s in %s needs %" PRIu64 " bytes but its "
                    "data_offsets hold %" PRIu64,
                    p, name, buf, st_dtypes[x->dtype].name, want, x->end - x->begin);
    }
    x->slot = -1;
    return 0;
}

/* Validates the header of the file bytes[size] (f->path names it) and fills
 * f's tensor list, sorted by offset. */
static int parse_header(struct st_file *f, const unsigned char *bytes, size_t size, char *err,
                        size_t err_len)
{
    const char *p = f->path;
    if (size < 8)
        return rlvr_num_fail(err, err_len,
                    "%s: the file is %zu bytes, too short to hold even the header length", p, size);
    uint64_t n = le64(bytes);
    if (n > size - 8)
        return rlvr_num_fail(err, err_len,
                    "%s: the header length %" PRIu64 " goes beyond the end of the file (%zu bytes)",
                    p, n, size);
    if (n > MAX_HEADER_BYTES)
        return rlvr_num_fail(err, err_len, "%s: the header length %" PRIu64 " is over the limit of %u", p, n,
                    MAX_HEADER_BYTES);
    if (n < 2)
        return rlvr_num_fail(err, err_len, "%s: the header length %" PRIu64 " is too small", p, n);
    const char *h = (const char *)bytes + 8;
    size_t bad;
    if (h[0] != '{')
        return rlvr_num_fail(err, err_len, "%s: the header does not start with '{'", p);
    if (memchr(h, 0, (size_t)n))
        return rlvr_num_fail(err, err_len, "%s: the header holds a NUL byte", p);
    if (!rlvr_utf8_valid(h, (size_t)n, &bad))
        return rlvr_num_fail(err, err_len, "%s: the header is not valid UTF-8 (byte %zu)", p, bad);
    f->data = bytes + 8 + n;
    f->data_size = size - 8 - n;
    f->header = parse_json(h, (size_t)n, 8, p, "the header", err, err_len);
    if (!f->header)
        return -1;
    if (!json_object_is_type(f->header, json_type_object))
        return rlvr_num_fail(err, err_len, "%s: the header is not a JSON object", p);
    int count = json_object_object_length(f->header);
    f->t = calloc((size_t)(count ? count : 1), sizeof *f->t);
    if (!f->t)
        return rlvr_num_fail(err, err_len, "%s: out of memory", p);
    json_object_object_foreach(f->header, key, val) {
        if (!strcmp(key, "__metadata__")) {
            if (!json_object_is_type(val, json_type_object))
                return rlvr_num_fail(err, err_len, "%s: __metadata__ is not a JSON object", p);
            json_object_object_foreach(val, mk, mv) {
                if (!json_object_is_type(mv, json_type_string))
                    return rlvr_num_fail(err, err_len, "%s: __metadata__ entry '%s' is not a string", p, mk);
            }
            continue;
        }
        if (parse_tensor_entry(f, &f->t[f->n], key, val, err, err_len))
            return -1;
        f->n++;
    }
    qsort(f->t, (size_t)f->n, sizeof *f->t, by_begin);
    /* The data must be tiled exactly: no gap (a polyglot file), no overlap. */
    uint64_t at = 0;
    for (int i = 0; i < f->n; i++) {
        const struct st_tensor *x = &f->t[i];
        if (x->begin < at)
            return rlvr_num_fail(err, err_len, "%s: tensors '%s' and '%s' overlap in the data", p,
                        f->t[i - 1].name, x->name);
        if (x->begin > at)
            return rlvr_num_fail(err, err_len,
                        "%s: data bytes [%" PRIu64 ", %" PRIu64 ") belong to no tensor (before "
                        "'%s')",
                        p, at, x->begin, x->name);
        at = x->end;
    }
    if (at != f->data_size)
        return rlvr_num_fail(err, err_len,
                    "%s: data bytes [%" PRIu64 ", %" PRIu64 ") at the end belong to no tensor", p,
                    at, f->data_size);
    return 0;
}

/* Maps path and validates its header. */
static int st_open(struct st_file *f, const char *path, char *err, size_t err_len)
{
    memset(f, 0, sizeof *f);
    f->path = strdup(path);
    if (!f->path)
        return rlvr_num_fail(err, err_len, "%s: out of memory", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return rlvr_num_fail(err, err_len, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
        close(fd);
        return rlvr_num_fail(err, err_len, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    static const unsigned char none[1];
    const unsigned char *bytes = none;
    if (size > 0) {
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            close(fd);
            return rlvr_num_fail(err, err_len, "%s: cannot map: %s", path, strerror(errno));
        }
        f->map = map;
        f->map_size = size;
        bytes = map;
        madvise(map, size, MADV_WILLNEED);
    }
    close(fd);
    return parse_header(f, bytes, size, err, err_len);
}

/* ---- safetensors: matching and converting ----------------------------------------- */

/* Tensors Hugging Face stored with some older models that carry no weights:
 * the rotary embedding's inverse frequencies, recomputed from rope_theta. */
static int is_buffer(const char *name)
{
    if (!strcmp(name, "model.rotary_emb.inv_freq"))
        return 1;
    const char *pre = "model.layers.";
    if (strncmp(name, pre, strlen(pre)))
        return 0;
    const char *s = name + strlen(pre);
    if (*s < '0' || *s > '9')
        return 0;
    while (*s >= '0' && *s <= '9')
        s++;
    return !strcmp(s, ".self_attn.rotary_emb.inv_freq");
}

struct loader {
    struct rlvr_model *m;
    int *where;                  /* [n_tensors]: file holding each tensor, -1 not yet seen */
    struct st_file *files;
    int n_files;
    const struct st_tensor *head; /* a tied model's lm_head.weight, if stored */
    int head_file;
};

static int match_file(struct loader *ld, int fi, char *err, size_t err_len)
{
    struct rlvr_model *m = ld->m;
    struct st_file *f = &ld->files[fi];
    char want[64], got[64];
    for (int i = 0; i < f->n; i++) {
        struct st_tensor *x = &f->t[i];
        if (is_buffer(x->name)) {
            x->slot = -1;
            continue;
        }
        const struct rlvr_tensor *t = rlvr_model_tensor(m, x->name);
        int tied_head = !t && m->cfg.tie_word_embeddings && !strcmp(x->name, "lm_head.weight");
        if (tied_head)
            t = rlvr_model_tensor(m, "model.embed_tokens.weight");
        if (!t) {
            const char *hint = "";
            size_t len = strlen(x->name);
            if (!m->cfg.attention_bias && len > 10 && !strcmp(x->name + len - 10, "_proj.bias"))
                hint = " (its config has no attention biases)";
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' is not a tensor of this model%s", f->path,
                        x->name, hint);
        }
        if (x->dtype >= N_WEIGHT_DTYPES)
            return rlvr_num_fail(err, err_len,
                        "%s: tensor '%s' has dtype %s; rlvr reads weights stored as F32, BF16, "
                        "F16 or F64",
                        f->path, x->name, st_dtypes[x->dtype].name);
        int same = x->ndim == t->ndim;
        for (int d = 0; same && d < t->ndim; d++)
            same = x->shape[d] == t->shape[d];
        if (!same) {
            shape_str(want, sizeof want, t->ndim, t->shape);
            shape_str(got, sizeof got, x->ndim, x->shape);
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' has shape %s but the model expects %s",
                        f->path, x->name, got, want);
        }
        if (tied_head) {
            if (ld->head)
                return rlvr_num_fail(err, err_len,
                            "%s: tensor 'lm_head.weight' is stored twice (also in %s)", f->path,
                            ld->files[ld->head_file].path);
            ld->head = x;
            ld->head_file = fi;
            x->slot = -2;
            continue;
        }
        int slot = (int)(t - m->tensors);
        if (ld->where[slot] >= 0)
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' is stored twice (also in %s)", f->path,
                        x->name, ld->files[ld->where[slot]].path);
        ld->where[slot] = fi;
        x->slot = slot;
    }
    return 0;
}

static void convert(float *dst, const unsigned char *src, size_t n, int dtype)
{
    switch (dtype) {
    case DT_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, src, n * 4);
#else
        for (size_t i = 0; i < n; i++)
            dst[i] = bits_f32(le32(src + 4 * i));
#endif
        break;
    case DT_BF16:
        for (size_t i = 0; i < n; i++)
            dst[i] = bits_f32((uint32_t)le16(src + 2 * i) << 16);
        break;
    case DT_F16:
        for (size_t i = 0; i < n; i++)
            dst[i] = rlvr_f16_to_f32(le16(src + 2 * i));
        break;
    case DT_F64:
        for (size_t i = 0; i < n; i++) {
            uint64_t u = le64(src + 8 * i);
            double d;
            memcpy(&d, &u, sizeof d);
            dst[i] = (float)d;
        }
        break;
    }
}

/* Where tensor `slot` of the model is stored. */
static const struct st_tensor *stored(const struct loader *ld, int slot,
                                      const unsigned char **data)
{
    const struct st_file *f = &ld->files[ld->where[slot]];
    for (int i = 0; i < f->n; i++)
        if (f->t[i].slot == slot) {
            *data = f->data + f->t[i].begin;
            return &f->t[i];
        }
    return NULL;
}

/* Checks that every tensor of the model was found (`where_name` names the
 * file or index in the message) and that a tied model's stored lm_head
 * equals its embedding, then converts. */
static int finish_load(struct loader *ld, const char *where_name, char *err, size_t err_len)
{
    struct rlvr_model *m = ld->m;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].numel && ld->where[i] < 0)
            return rlvr_num_fail(err, err_len, "%s: tensor '%s' is missing", where_name,
                        m->tensors[i].name);
    if (ld->head) {
        const struct rlvr_tensor *e = rlvr_model_tensor(m, "model.embed_tokens.weight");
        const unsigned char *esrc, *hsrc = ld->files[ld->head_file].data + ld->head->begin;
        const struct st_tensor *ex = stored(ld, (int)(e - m->tensors), &esrc);
        size_t hs = (size_t)st_dtypes[ld->head->dtype].size;
        size_t es = (size_t)st_dtypes[ex->dtype].size;
        float a[256], b[256];
        for (size_t i = 0; i < e->numel; i += 256) {
            size_t k = e->numel - i < 256 ? e->numel - i : 256;
            convert(a, hsrc + i * hs, k, ld->head->dtype);
            convert(b, esrc + i * es, k, ex->dtype);
            if (memcmp(a, b, k * sizeof(float)))
                return rlvr_num_fail(err, err_len,
                            "%s: tensor 'lm_head.weight' differs from 'model.embed_tokens.weight' "
                            "but config.json ties them (tie_word_embeddings)",
                            ld->files[ld->head_file].path);
        }
    }
    for (int fi = 0; fi < ld->n_files; fi++) {
        const struct st_file *f = &ld->files[fi];
        for (int i = 0; i < f->n; i++) {
            const struct st_tensor *x = &f->t[i];
            if (x->slot < 0)
                continue;
            const struct rlvr_tensor *t = &m->tensors[x->slot];
            convert(m->params + t->offset, f->data + x->begin, t->numel, x->dtype);
        }
    }
    return 0;
}

static int loader_init(struct loader *ld, struct rlvr_model *m, int n_files, char *err,
                       size_t err_len)
{
    memset(ld, 0, sizeof *ld);
    ld->m = m;
    ld->where = malloc((size_t)m->n_tensors * sizeof *ld->where);
    ld->files = calloc((size_t)n_files, sizeof *ld->files);
    if (!ld->where || !ld->files) {
        free(ld->where);
        free(ld->files);
        return rlvr_num_fail(err, err_len, "checkpoint: out of memory");
    }
    for (int i = 0; i < m->n_tensors; i++)
        ld->where[i] = -1;
    ld->n_files = n_files;
    return 0;
}

static void loader_free(struct loader *ld)
{
    for (int i = 0; i < ld->n_files; i++)
        st_close(&ld->files[i]);
    free(ld->files);
    free(ld->where);
}

int rlvr_safetensors_load_buffer(struct rlvr_model *m, const void *data, size_t size,
                                 const char *name, char *err, size_t err_len)
{
    struct loader ld;
    if (loader_init(&ld, m, 1, err, err_len))
        return -1;
    int rc = -1;
    ld.files[0].path = strdup(name);
    if (!ld.files[0].path)
        rlvr_num_fail(err, err_len, "%s: out of memory", name);
    else if (!parse_header(&ld.files[0], data, size, err, err_len) &&
             !match_file(&ld, 0, err, err_len))
        rc = finish_load(&ld, name, err, err_len);
    loader_free(&ld);
    return rc;
}

int rlvr_safetensors_load(struct rlvr_model *m, const char *path, char *err, size_t err_len)
{
    struct loader ld;
    if (loader_init(&ld, m, 1, err, err_len))
        return -1;
    int rc = -1;
    if (!st_open(&ld.files[0], path, err, err_len) && !match_file(&ld, 0, err, err_len))
        rc = finish_load(&ld, path, err, err_len);
    loader_free(&ld);
    return rc;
}

/* A shard's file name as the index gives it: a plain name in dir. */
static int shard_name_ok(json_object *v)
{
    if (!json_object_is_type(v, json_type_string))
        return 0;
    const char *s = json_object_get_string(v);
    size_t n = strlen(s);
    return n > 0 && n == (size_t)json_object_get_string_len(v) && !strchr(s, '/') &&
           strcmp(s, ".") && strcmp(s, "..");
}

static int load_sharded(struct rlvr_model *m, const char *dir, const char *index_path, char *err,
                        size_t err_len)
{
    size_t len;
    char *text = read_text(index_path, &len, err, err_len);
    if (!text)
        return -1;
    json_object *root = parse_json(text, len, 8, index_path, "the index", err, err_len);
    free(text);
    if (!root)
        return -1;
    int rc = -1, n_shards = 0;
    const char **shards = NULL;
    json_object *map = NULL;
    struct loader ld;
    int have_loader = 0;
    if (!json_object_is_type(root, json_type_object)) {
        rlvr_num_fail(err, err_len, "%s: not a JSON object", index_path);
        goto out;
    }
    json_object_object_foreach(root, key, val) {
        if (!strcmp(key, "weight_map") && json_object_is_type(val, json_type_object))
            map = val;
        else if (strcmp(key, "metadata") || !json_object_is_type(val, json_type_object)) {
            rlvr_num_fail(err, err_len, "%s: field '%s' is not supported by rlvr (an index holds an object "
                               "'metadata' and an object 'weight_map')", index_path, key);
            goto out;
        }
    }
    if (!map) {
        rlvr_num_fail(err, err_len, "%s: no weight_map", index_path);
        goto out;
    }
    int n_map = json_object_object_length(map);
    shards = calloc((size_t)(n_map ? n_map : 1), sizeof *shards);
    if (!shards) {
        rlvr_num_fail(err, err_len, "%s: out of memory", index_path);
        goto out;
    }
    json_object_object_foreach(map, tname, file) {
        if (!shard_name_ok(file)) {
            char buf[64];
            rlvr_num_fail(err, err_len, "%s: tensor '%s' maps to %s, which is not a file name in %s",
                 index_path, tname, json_brief(file, buf, sizeof buf), dir);
            goto out;
        }
        const char *s = json_object_get_string(file);
        int k = 0;
        while (k < n_shards && strcmp(shards[k], s))
            k++;
        if (k == n_shards)
            shards[n_shards++] = s;
    }
    if (loader_init(&ld, m, n_shards, err, err_len))
        goto out;
    have_loader = 1;
    int n_held = 0;
    for (int k = 0; k < n_shards; k++) {
        char *path = path_join(dir, shards[k]);
        if (!path) {
            rlvr_num_fail(err, err_len, "%s: out of memory", index_path);
            goto out;
        }
        int bad = st_open(&ld.files[k], path, err, err_len);
        free(path);
        if (bad)
            goto out;
        const struct st_file *f = &ld.files[k];
        for (int i = 0; i < f->n; i++) {
            json_object *v;
            if (!json_object_object_get_ex(map, f->t[i].name, &v)) {
                rlvr_num_fail(err, err_len, "%s: tensor '%s' is not in the weight_map of %s", f->path,
                     f->t[i].name, index_path);
                goto out;
            }
            if (strcmp(json_object_get_string(v), shards[k])) {
                rlvr_num_fail(err, err_len, "%s: tensor '%s' is in this shard but %s maps it to '%s'",
                     f->path, f->t[i].name, index_path, json_object_get_string(v));
                goto out;
            }
        }
        n_held += f->n;
    }
    if (n_held != n_map) {
        /* Some entry of the weight_map is in no shard: name it. */
        json_object_object_foreach(map, mname, mfile) {
            int k = 0, found = 0;
            while (strcmp(shards[k], json_object_get_string(mfile)))
                k++;
            for (int i = 0; i < ld.files[k].n && !found; i++)
                found = !strcmp(ld.files[k].t[i].name, mname);
            if (!found) {
                rlvr_num_fail(err, err_len, "%s: tensor '%s' is mapped to '%s', which does not hold it",
                     index_path, mname, shards[k]);
                goto out;
            }
        }
    }
    for (int k = 0; k < n_shards; k++)
        if (match_file(&ld, k, err, err_len))
            goto out;
    rc = finish_load(&ld, index_path, err, err_len);
out:
    if (have_loader)
        loader_free(&ld);
    free(shards);
    json_object_put(root);
    return rc;
}

/* ---- config.json: reading --------------------------------------------------------- */

/* Every field accepted in config.json. Anything else is refused. */
static const char *const config_fields[] = {
    /* read into the config */
    "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
    "num_attention_heads", "num_key_value_heads", "head_dim", "max_position_embeddings",
    "rope_theta", "rope_parameters", "rms_norm_eps", "tie_word_embeddings", "attention_bias",
    "bos_token_id", "eos_token_id", "pad_token_id", "torch_dtype", "dtype",
    /* accepted only with the value rlvr implements (checked one by one below) */
    "architectures", "hidden_act", "attention_dropout", "use_sliding_window", "rope_scaling",
    "mlp_bias", "pretraining_tp", "use_mrope", "layer_types", "is_encoder_decoder",
    "add_cross_attention",
    /* bookkeeping, or settings that change neither the weights nor the logits */
    "transformers_version", "_name_or_path", "initializer_range", "use_cache", "sliding_window",
    "max_window_layers", "_attn_implementation_autoset",
};

/* Why a known kind of field is refused, for the message. */
static const char *unsupported_why(const char *key)
{
    if (!strcmp(key, "quantization_config"))
        return " (quantized weights)";
    if (strstr(key, "expert") || !strncmp(key, "moe", 3) || strstr(key, "router"))
        return " (mixture of experts)";
    return "";
}

struct cfg_reader {
    json_object *root;
    const char *name;
    char *err;
    size_t err_len;
};

static json_object *field(const struct cfg_reader *r, const char *key)
{
    json_object *v = NULL;
    return json_object_object_get_ex(r->root, key, &v) ? v : NULL;
}
static int has(const struct cfg_reader *r, const char *key)
{
    return json_object_object_get_ex(r->root, key, NULL);
}

static int refuse_value(const struct cfg_reader *r, const char *key, json_object *v,
                        const char *why)
{
    char buf[96];
    return rlvr_num_fail(r->err, r->err_len, "%s: field '%s' = %s is not supported by rlvr (%s)", r->name,
                key, json_brief(v, buf, sizeof buf), why);
}

/* An integer field; `dflt` when absent; required when dflt is INT_MIN. A
 * null counts as -1 when null_ok. */
static int get_int(const struct cfg_reader *r, const char *key, int dflt, int null_ok, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(r->root, key, &v)) {
        if (dflt == INT_MIN)
            return rlvr_num_fail(r->err, r->err_len, "%s: field '%s' is missing", r->name, key);
        *out = dflt;
        return 0;
    }
    if (!v && null_ok) {
        *out = -1;
        return 0;
    }
    int64_t x = json_is_int(v) ? json_object_get_int64(v) : INT64_MIN;
    if (x < INT_MIN + 1 || x > INT_MAX)
        return rlvr_num_fail(r->err, r->err_len, "%s: field '%s' is not an integer%s", r->name, key,
                    null_ok ? " or null" : "");
    *out = (int)x;
    return 0;
}

static int get_double(const struct cfg_reader *r, const char *key, double dflt, double *out)
{
    json_object *v;
    if (!json_object_object_get_ex(r->root, key, &v)) {
        *out = dflt;
        return 0;
    }
    if (!v || !json_is_number(v) || !isfinite(json_object_get_double(v)))
        return rlvr_num_fail(r->err, r->err_len, "%s: field '%s' is not a finite number", r->name, key);
    *out = json_object_get_double(v);
    return 0;
}

static int get_bool(const struct cfg_reader *r, const char *key, int dflt, int *out)
{
    json_object *v;
    if (!json_object_object_get_ex(r->root, key, &v)) {
        *out = dflt;
        return 0;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return rlvr_num_fail(r->err, r->err_len, "%s: field '%s' is not true or false", r->name, key);
    *out = json_object_get_boolean(v);
    return 0;
}

/* A field rlvr accepts only with one value (absent counts as that value).
 * kind 'b' boolean `want`, 'n' a number equal to `want`, '0' null, 's' the
 * string `ws`. */
static int require_value(const struct cfg_reader *r, const char *key, int kind, double want,
                         const char *ws, const char *why)
{
    json_object *v;
    if (!json_object_object_get_ex(r->root, key, &v))
        return 0;
    int good = 0;
    switch (kind) {
    case 'b': good = json_object_is_type(v, json_type_boolean) &&
                     json_object_get_boolean(v) == (want != 0); break;
    case 'n': good = v && json_is_number(v) && json_object_get_double(v) == want; break;
    case '0': good = v == NULL; break;
    case 's': good = json_object_is_type(v, json_type_string) &&
                     !strcmp(json_object_get_string(v), ws); break;
    }
    return good ? 0 : refuse_value(r, key, v, why);
}

static int read_rope(const struct cfg_reader *r, double *theta)
{
    if (get_double(r, "rope_theta", 10000.0, theta))
        return -1;
    json_object *rp = field(r, "rope_parameters");
    if (!rp)
        return 0;
    if (!json_object_is_type(rp, json_type_object))
        return refuse_value(r, "rope_parameters", rp, "expected an object");
    json_object_object_foreach(rp, key, v) {
        if ((!strcmp(key, "rope_type") || !strcmp(key, "type"))) {
            if (!json_object_is_type(v, json_type_string) ||
                strcmp(json_object_get_string(v), "default"))
                return refuse_value(r, "rope_parameters.rope_type", v,
                                    "only the default rotary embedding");
        } else if (!strcmp(key, "rope_theta")) {
            if (!json_is_number(v) || !isfinite(json_object_get_double(v)))
                return rlvr_num_fail(r->err, r->err_len,
                            "%s: field 'rope_parameters.rope_theta' is not a finite number",
                            r->name);
            double t = json_object_get_double(v);
            if (has(r, "rope_theta") && t != *theta)
                return rlvr_num_fail(r->err, r->err_len,
                            "%s: fields 'rope_theta' and 'rope_parameters.rope_theta' disagree",
                            r->name);
            *theta = t;
        } else {
            return rlvr_num_fail(r->err, r->err_len, "%s: field 'rope_parameters.%s' is not supported by "
                                            "rlvr", r->name, key);
        }
    }
    return 0;
}

static int read_eos(const struct cfg_reader *r, int dflt, struct rlvr_model_config *c,
                    struct rlvr_checkpoint_meta *meta)
{
    json_object *v;
    meta->n_eos = 0;
    if (!json_object_object_get_ex(r->root, "eos_token_id", &v)) {
        if (dflt >= 0)
            meta->eos_token_ids[meta->n_eos++] = dflt;
    } else if (json_object_is_type(v, json_type_array)) {
        size_t n = json_object_array_length(v);
        if (n > RLVR_CKPT_MAX_EOS)
            return rlvr_num_fail(r->err, r->err_len, "%s: field 'eos_token_id' lists %zu ids; rlvr keeps "
                                            "at most %d", r->name, n, RLVR_CKPT_MAX_EOS);
        for (size_t i = 0; i < n; i++) {
            json_object *e = json_object_array_get_idx(v, i);
            int64_t x = json_is_int(e) ? json_object_get_int64(e) : -1;
            if (x < 0 || x >= c->vocab_size)
                return rlvr_num_fail(r->err, r->err_len,
                            "%s: field 'eos_token_id' holds an entry that is not a token id of "
                            "the vocabulary (%d)", r->name, c->vocab_size);
            meta->eos_token_ids[meta->n_eos++] = (int)x;
        }
    } else if (v) {
        int64_t x = json_is_int(v) ? json_object_get_int64(v) : -1;
        if (x < 0 || x >= c->vocab_size)
            return rlvr_num_fail(r->err, r->err_len,
                        "%s: field 'eos_token_id' is not a token id of the vocabulary (%d), a "
                        "list of them or null", r->name, c->vocab_size);
        meta->eos_token_ids[meta->n_eos++] = (int)x;
    }
    c->eos_token_id = meta->n_eos ? meta->eos_token_ids[0] : -1;
    return 0;
}

static int check_values(const struct cfg_reader *r, int qwen2, int n_layers)
{
    const char *arch = qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM";
    json_object *v = field(r, "architectures");
    if (has(r, "architectures")) {
        if (!json_object_is_type(v, json_type_array))
            return refuse_value(r, "architectures", v, "expected a list");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *a = json_object_array_get_idx(v, i);
            if (!json_object_is_type(a, json_type_string) ||
                strcmp(json_object_get_string(a), arch))
                return refuse_value(r, "architectures", v,
                                    qwen2 ? "only Qwen2ForCausalLM" : "only LlamaForCausalLM");
        }
    }
    if (require_value(r, "hidden_act", 's', 0, "silu", "only silu") ||
        require_value(r, "attention_dropout", 'n', 0, NULL, "attention dropout") ||
        require_value(r, "use_sliding_window", 'b', 0, NULL, "sliding-window attention") ||
        require_value(r, "rope_scaling", '0', 0, NULL, "rope scaling") ||
        require_value(r, "mlp_bias", 'b', 0, NULL, "MLP biases") ||
        require_value(r, "pretraining_tp", 'n', 1, NULL, "tensor-parallel slicing") ||
        require_value(r, "use_mrope", 'b', 0, NULL, "multimodal rotary embeddings") ||
        require_value(r, "is_encoder_decoder", 'b', 0, NULL, "encoder-decoder models") ||
        require_value(r, "add_cross_attention", 'b', 0, NULL, "cross-attention"))
        return -1;
    if (qwen2 && require_value(r, "attention_bias", 'b', 1, NULL,
                               "Qwen2's q, k and v projections always have biases"))
        return -1;
    v = field(r, "layer_types");
    if (has(r, "layer_types")) {
        if (!json_object_is_type(v, json_type_array) ||
            json_object_array_length(v) != (size_t)n_layers)
            return refuse_value(r, "layer_types", v, "expected one entry per layer");
        for (size_t i = 0; i < json_object_array_length(v); i++) {
            json_object *a = json_object_array_get_idx(v, i);
            if (!json_object_is_type(a, json_type_string) ||
                strcmp(json_object_get_string(a), "full_attention"))
                return refuse_value(r, "layer_types", v, "only full_attention layers");
        }
    }
    /* The bookkeeping fields still have to be of their kind. */
    static const struct {
        const char *key;
        json_type type;
    } kinds[] = {{"transformers_version", json_type_string}, {"_name_or_path", json_type_string},
                 {"use_cache", json_type_boolean},          {"max_window_layers", json_type_int},
                 {"_attn_implementation_autoset", json_type_boolean}};
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (has(r, kinds[i].key) && !json_object_is_type(field(r, kinds[i].key), kinds[i].type))
            return refuse_value(r, kinds[i].key, field(r, kinds[i].key), "unexpected type");
    if (has(r, "initializer_range") && !json_is_number(field(r, "initializer_range")))
        return refuse_value(r, "initializer_range", field(r, "initializer_range"), "not a number");
    if (has(r, "sliding_window") && field(r, "sliding_window") &&
        !json_is_int(field(r, "sliding_window")))
        return refuse_value(r, "sliding_window", field(r, "sliding_window"),
                            "expected an integer or null");
    return 0;
}

static int parse_config_object(const struct cfg_reader *r, struct rlvr_model_config *c,
                               struct rlvr_checkpoint_meta *meta)
{
    if (!json_object_is_type(r->root, json_type_object))
        return rlvr_num_fail(r->err, r->err_len, "%s: not a JSON object", r->name);
    json_object_object_foreach(r->root, key, val) {
        (void)val;
        size_t i = 0, n = sizeof config_fields / sizeof config_fields[0];
        while (i < n && strcmp(config_fields[i], key))
            i++;
        if (i == n)
            return rlvr_num_fail(r->err, r->err_len, "%s: field '%s' is not supported by rlvr%s", r->name,
                        key, unsupported_why(key));
    }
    json_object *mt = field(r, "model_type");
    if (!has(r, "model_type"))
        return rlvr_num_fail(r->err, r->err_len, "%s: field 'model_type' is missing", r->name);
    int qwen2 = json_object_is_type(mt, json_type_string) &&
                !strcmp(json_object_get_string(mt), "qwen2");
    int llama = json_object_is_type(mt, json_type_string) &&
                !strcmp(json_object_get_string(mt), "llama");
    if (!qwen2 && !llama)
        return refuse_value(r, "model_type", mt, "only qwen2 and llama");
    memset(c, 0, sizeof *c);
    memset(meta, 0, sizeof *meta);
    if (get_int(r, "vocab_size", INT_MIN, 0, &c->vocab_size) ||
        get_int(r, "hidden_size", INT_MIN, 0, &c->hidden_size) ||
        get_int(r, "intermediate_size", INT_MIN, 0, &c->intermediate_size) ||
        get_int(r, "num_hidden_layers", INT_MIN, 0, &c->num_hidden_layers) ||
        get_int(r, "num_attention_heads", INT_MIN, 0, &c->num_attention_heads) ||
        get_int(r, "num_key_value_heads", c->num_attention_heads, 0, &c->num_key_value_heads) ||
        get_int(r, "head_dim", 0, 0, &c->head_dim) ||
        get_int(r, "max_position_embeddings", qwen2 ? 32768 : 2048, 0,
                &c->max_position_embeddings) ||
        read_rope(r, &c->rope_theta) || get_double(r, "rms_norm_eps", 1e-6, &c->rms_norm_eps) ||
        get_bool(r, "tie_word_embeddings", 0, &c->tie_word_embeddings) ||
        get_bool(r, "attention_bias", qwen2, &c->attention_bias) ||
        get_int(r, "bos_token_id", qwen2 ? -1 : 1, 1, &c->bos_token_id) ||
        get_int(r, "pad_token_id", -1, 1, &meta->pad_token_id))
        return -1;
    if (c->head_dim < 0)
        return rlvr_num_fail(r->err, r->err_len, "%s: field 'head_dim' is negative", r->name);
    if (read_eos(r, qwen2 ? -1 : 2, c, meta) || check_values(r, qwen2, c->num_hidden_layers))
        return -1;
    const char *dk = has(r, "torch_dtype") ? "torch_dtype" : has(r, "dtype") ? "dtype" : NULL;
    if (dk) {
        json_object *v = field(r, dk);
        if (v && !json_object_is_type(v, json_type_string))
            return refuse_value(r, dk, v, "expected a string");
        snprintf(meta->torch_dtype, sizeof meta->torch_dtype, "%s",
                 v ? json_object_get_string(v) : "");
    }
    char msg[256];
    if (rlvr_model_config_check(c, msg, sizeof msg))
        return rlvr_num_fail(r->err, r->err_len, "%s: %s", r->name, msg);
    if (meta->pad_token_id >= c->vocab_size || meta->pad_token_id < -1)
        return rlvr_num_fail(r->err, r->err_len, "%s: field 'pad_token_id' is outside the vocabulary",
                    r->name);
    return 0;
}

int rlvr_config_parse(const char *text, size_t len, const char *name,
                      struct rlvr_model_config *cfg, struct rlvr_checkpoint_meta *meta, char *err,
                      size_t err_len)
{
    struct rlvr_checkpoint_meta scratch;
    struct cfg_reader r = {NULL, name, err, err_len};
    r.root = parse_json(text, len, 16, name, "the file", err, err_len);
    if (!r.root)
        return -1;
    int rc = parse_config_object(&r, cfg, meta ? meta : &scratch);
    json_object_put(r.root);
    return rc;
}

int rlvr_config_read(const char *path, struct rlvr_model_config *cfg,
                     struct rlvr_checkpoint_meta *meta, char *err, size_t err_len)
{
    size_t len;
    char *text = read_text(path, &len, err, err_len);
    if (!text)
        return -1;
    int rc = rlvr_config_parse(text, len, path, cfg, meta, err, err_len);
    free(text);
    return rc;
}

/* ---- writing files atomically ----------------------------------------------------- */

/* An open file under a temporary name beside `final`. */
struct out_file {
    int fd;
    char *tmp;
    const char *final;
};

static int out_open(struct out_file *o, const char *final, char *err, size_t err_len)
{
    static unsigned counter;
    o->final = final;
    o->fd = -1;
    const char *slash = strrchr(final, '/');
    size_t dlen = slash ? (size_t)(slash - final) + 1 : 0;
    size_t cap = strlen(final) + 64;
    o->tmp = malloc(cap);
    if (!o->tmp)
        return rlvr_num_fail(err, err_len, "%s: out of memory", final);
    for (int tries = 0; tries < 100; tries++) {
        snprintf(o->tmp, cap, "%.*s.%s.tmp-%ld-%u", (int)dlen, final, final + dlen, (long)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (o->fd >= 0 || errno != EEXIST)
            break;
    }
    if (o->fd < 0) {
        rlvr_num_fail(err, err_len, "%s: cannot create %s: %s", final, o->tmp, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    return 0;
}

static int out_write(struct out_file *o, const void *p, size_t n, char *err, size_t err_len)
{
    const char *s = p;
    while (n) {
        ssize_t w = write(o->fd, s, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return rlvr_num_fail(err, err_len, "%s: write failed: %s", o->final,
                        w < 0 ? strerror(errno) : "no progress");
        s += w;
        n -= (size_t)w;
    }
    return 0;
}

static void out_abort(struct out_file *o)
{
    if (o->fd >= 0)
        close(o->fd);
    if (o->tmp)
        unlink(o->tmp);
    free(o->tmp);
    o->tmp = NULL;
    o->fd = -1;
}

/* Files written and synced under temporary names, waiting to be renamed
 * into place together (staged_commit) or removed (staged_abort): a save
 * into an existing directory replaces nothing until every file is ready. */
struct staged {
    char **tmp, **final;
    int n, cap;
};

static void staged_abort(struct staged *st)
{
    for (int i = 0; i < st->n; i++) {
        if (st->tmp[i])
            unlink(st->tmp[i]);
        free(st->tmp[i]);
        free(st->final[i]);
    }
    free(st->tmp);
    free(st->final);
    memset(st, 0, sizeof *st);
}

/* Renames in the order the files were staged (weights, index, config). */
static int staged_commit(struct staged *st, char *err, size_t err_len)
{
    int rc = 0;
    for (int i = 0; i < st->n && !rc; i++) {
        if (rename(st->tmp[i], st->final[i]))
            rc = rlvr_num_fail(err, err_len, "%s: cannot rename into place: %s", st->final[i],
                      strerror(errno));
        else {
            free(st->tmp[i]);
            st->tmp[i] = NULL;
        }
    }
    staged_abort(st);
    return rc;
}

/* Syncs and closes the file, then renames it to its final name, or stages
 * the rename in st when st is not NULL. */
static int out_commit(struct out_file *o, struct staged *st, char *err, size_t err_len)
{
    int bad = fsync(o->fd);
    int e = errno;
    if (close(o->fd) && !bad) {
        bad = 1;
        e = errno;
    }
    o->fd = -1;
    if (!bad && !st && rename(o->tmp, o->final)) {
        bad = 1;
        e = errno;
    }
    if (!bad && st) {
        if (st->n == st->cap) {
            int cap = st->cap ? 2 * st->cap : 8;
            char **t = realloc(st->tmp, (size_t)cap * sizeof *t);
            if (t)
                st->tmp = t;
            char **f = t ? realloc(st->final, (size_t)cap * sizeof *f) : NULL;
            if (f)
                st->final = f;
            if (!t || !f) {
                bad = 1;
                e = ENOMEM;
            } else {
                st->cap = cap;
            }
        }
        char *fin = bad ? NULL : strdup(o->final);
        if (!bad && !fin) {
            bad = 1;
            e = ENOMEM;
        }
        if (!bad) {
            st->tmp[st->n] = o->tmp;
            st->final[st->n++] = fin;
            o->tmp = NULL;
            return 0;
        }
    }
    if (bad) {
        rlvr_num_fail(err, err_len, "%s: could not be written: %s", o->final, strerror(e));
        out_abort(o);
        return -1;
    }
    free(o->tmp);
    o->tmp = NULL;
    return 0;
}

static int write_text_file(const char *path, const char *text, size_t len, struct staged *st,
                           char *err, size_t err_len)
{
    struct out_file o;
    if (out_open(&o, path, err, err_len))
        return -1;
    if (out_write(&o, text, len, err, err_len)) {
        out_abort(&o);
        return -1;
    }
    return out_commit(&o, st, err, err_len);
}

static void sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* ---- config.json: writing --------------------------------------------------------- */

/* A JSON number as Python's json writes a float: integral values keep ".0". */
static void fmt_float(char *s, size_t cap, double v)
{
    if (v == floor(v) && fabs(v) < 1e16) {
        snprintf(s, cap, "%.1f", v);
        return;
    }
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(s, cap, "%.*g", prec, v);
        if (strtod(s, NULL) == v)
            break;
    }
}

static void fmt_id(char *s, size_t cap, int id)
{
    if (id < 0)
        snprintf(s, cap, "null");
    else
        snprintf(s, cap, "%d", id);
}

struct kv {
    const char *key;
    char value[160];
};

static int by_key(const void *a, const void *b)
{
    return strcmp(((const struct kv *)a)->key, ((const struct kv *)b)->key);
}

static int config_write(const char *path, const struct rlvr_model_config *cfg,
                        const struct rlvr_checkpoint_meta *meta, enum rlvr_dtype dtype,
                        struct staged *st, char *err, size_t err_len)
{
    int qwen2 = cfg->attention_bias != 0;
    int hd = cfg->head_dim ? cfg->head_dim : cfg->hidden_size / cfg->num_attention_heads;
    struct kv f[32];
    int n = 0;
#define KV(k, ...) (f[n].key = (k), snprintf(f[n].value, sizeof f[n].value, __VA_ARGS__), n++)
    KV("architectures", "[\n    \"%s\"\n  ]", qwen2 ? "Qwen2ForCausalLM" : "LlamaForCausalLM");
    KV("attention_dropout", "0.0");
    fmt_id(f[n].value, sizeof f[n].value, cfg->bos_token_id);
    f[n++].key = "bos_token_id";
    if (meta && meta->n_eos > 1) {
        size_t k = (size_t)snprintf(f[n].value, sizeof f[n].value, "[");
        for (int i = 0; i < meta->n_eos && i < RLVR_CKPT_MAX_EOS; i++)
            k += (size_t)snprintf(f[n].value + k, sizeof f[n].value - k, "%s\n    %d",
                                  i ? "," : "", meta->eos_token_ids[i]);
        snprintf(f[n].value + k, sizeof f[n].value - k, "\n  ]");
    } else {
        fmt_id(f[n].value, sizeof f[n].value,
               meta && meta->n_eos == 1 ? meta->eos_token_ids[0] : cfg->eos_token_id);
    }
    f[n++].key = "eos_token_id";
    KV("head_dim", "%d", hd);
    KV("hidden_act", "\"silu\"");
    KV("hidden_size", "%d", cfg->hidden_size);
    KV("initializer_range", "0.02");
    KV("intermediate_size", "%d", cfg->intermediate_size);
    KV("max_position_embeddings", "%d", cfg->max_position_embeddings);
    KV("model_type", "\"%s\"", qwen2 ? "qwen2" : "llama");
    KV("num_attention_heads", "%d", cfg->num_attention_heads);
    KV("num_hidden_layers", "%d", cfg->num_hidden_layers);
    KV("num_key_value_heads", "%d", cfg->num_key_value_heads);
    if (meta && meta->pad_token_id >= 0)
        KV("pad_token_id", "%d", meta->pad_token_id);
    fmt_float(f[n].value, sizeof f[n].value, cfg->rms_norm_eps);
    f[n++].key = "rms_norm_eps";
    fmt_float(f[n].value, sizeof f[n].value, cfg->rope_theta);
    f[n++].key = "rope_theta";
    KV("tie_word_embeddings", "%s", cfg->tie_word_embeddings ? "true" : "false");
    KV("torch_dtype", "\"%s\"", torch_dtype_name(dtype));
    KV("use_cache", "true");
    KV("vocab_size", "%d", cfg->vocab_size);
    if (qwen2) {
        KV("max_window_layers", "%d", cfg->num_hidden_layers);
        /* null, not a length: some transformers versions apply a window
         * whenever one is set, whatever use_sliding_window says. */
        KV("sliding_window", "null");
        KV("use_sliding_window", "false");
    } else {
        KV("attention_bias", "false");
        KV("mlp_bias", "false");
        KV("pretraining_tp", "1");
        KV("rope_scaling", "null");
    }
#undef KV
    qsort(f, (size_t)n, sizeof f[0], by_key);
    rlvr_buf b = {0};
    rlvr_buf_adds(&b, "{\n");
    for (int i = 0; i < n; i++)
        rlvr_buf_printf(&b, "  \"%s\": %s%s\n", f[i].key, f[i].value, i + 1 < n ? "," : "");
    rlvr_buf_adds(&b, "}\n");
    int rc = b.oom ? rlvr_num_fail(err, err_len, "%s: out of memory", path)
                   : write_text_file(path, b.ptr, b.len, st, err, err_len);
    rlvr_buf_free(&b);
    return rc;
}

int rlvr_config_write(const char *path, const struct rlvr_model_config *cfg,
                      const struct rlvr_checkpoint_meta *meta, enum rlvr_dtype dtype, char *err,
                      size_t err_len)
{
    return config_write(path, cfg, meta, dtype, NULL, err, err_len);
}

/* ---- safetensors: writing --------------------------------------------------------- */

static void encode(unsigned char *dst, const float *src, size_t n, enum rlvr_dtype d)
{
    switch (d) {
    case RLVR_DTYPE_F32:
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(dst, src, n * 4);
#else
        for (size_t i = 0; i < n; i++)
            put32(dst + 4 * i, f32_bits(src[i]));
#endif
        break;
    case RLVR_DTYPE_BF16:
        for (size_t i = 0; i < n; i++)
            put16(dst + 2 * i, rlvr_f32_to_bf16(src[i]));
        break;
    case RLVR_DTYPE_F16:
        for (size_t i = 0; i < n; i++)
            put16(dst + 2 * i, rlvr_f32_to_f16(src[i]));
        break;
    }
}

/* Writes the tensors idx[0..n) of m (table indices) into one file. */
static int write_safetensors(const struct rlvr_model *m, const int *idx, int n,
                             enum rlvr_dtype dtype, const char *path, struct staged *st, char *err,
                             size_t err_len)
{
    size_t es = dtype_bytes(dtype);
    rlvr_buf h = {0};
    rlvr_buf_adds(&h, "{\"__metadata__\":{\"format\":\"pt\"}");
    uint64_t at = 0;
    for (int i = 0; i < n; i++) {
        const struct rlvr_tensor *t = &m->tensors[idx[i]];
        rlvr_buf_addc(&h, ',');
        rlvr_buf_json_string(&h, t->name, strlen(t->name));
        rlvr_buf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[%" PRId64, rlvr_dtype_name(dtype),
                        t->shape[0]);
        if (t->ndim == 2)
            rlvr_buf_printf(&h, ",%" PRId64, t->shape[1]);
        uint64_t bytes = (uint64_t)t->numel * es;
        rlvr_buf_printf(&h, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", at, at + bytes);
        at += bytes;
    }
    rlvr_buf_addc(&h, '}');
    while (h.len % 8)
        rlvr_buf_addc(&h, ' ');
    if (h.oom) {
        rlvr_buf_free(&h);
        return rlvr_num_fail(err, err_len, "%s: out of memory", path);
    }
    enum { CHUNK = 1 << 16 };
    unsigned char *buf = malloc(CHUNK * 4);
    struct out_file o;
    if (!buf) {
        rlvr_buf_free(&h);
        return rlvr_num_fail(err, err_len, "%s: out of memory", path);
    }
    if (out_open(&o, path, err, err_len)) {
        free(buf);
        rlvr_buf_free(&h);
        return -1;
    }
    unsigned char len8[8];
    put32(len8, (uint32_t)h.len);
    put32(len8 + 4, (uint32_t)((uint64_t)h.len >> 32));
    int bad = out_write(&o, len8, 8, err, err_len) || out_write(&o, h.ptr, h.len, err, err_len);
    for (int i = 0; i < n && !bad; i++) {
        const struct rlvr_tensor *t = &m->tensors[idx[i]];
        const float *src = m->params + t->offset;
        for (size_t j = 0; j < t->numel && !bad; j += CHUNK) {
            size_t k = t->numel - j < CHUNK ? t->numel - j : CHUNK;
            encode(buf, src + j, k, dtype);
            bad = out_write(&o, buf, k * es, err, err_len);
        }
    }
    free(buf);
    rlvr_buf_free(&h);
    if (bad) {
        out_abort(&o);
        return -1;
    }
    return out_commit(&o, st, err, err_len);
}

static int *present_tensors(const struct rlvr_model *m, int *n)
{
    int *idx = malloc((size_t)(m->n_tensors ? m->n_tensors : 1) * sizeof *idx);
    *n = 0;
    if (idx)
        for (int i = 0; i < m->n_tensors; i++)
            if (m->tensors[i].numel)
                idx[(*n)++] = i;
    return idx;
}

int rlvr_safetensors_save(const struct rlvr_model *m, const char *path, enum rlvr_dtype dtype,
                          char *err, size_t err_len)
{
    if (dtype != RLVR_DTYPE_F32 && dtype != RLVR_DTYPE_BF16 && dtype != RLVR_DTYPE_F16)
        return rlvr_num_fail(err, err_len, "%s: unknown dtype %d", path, (int)dtype);
    int n;
    int *idx = present_tensors(m, &n);
    if (!idx)
        return rlvr_num_fail(err, err_len, "%s: out of memory", path);
    int rc = write_safetensors(m, idx, n, dtype, path, NULL, err, err_len);
    free(idx);
    return rc;
}

/* ---- whole checkpoints ------------------------------------------------------------ */

int rlvr_checkpoint_load_meta(const char *dir, struct rlvr_model *m,
                              struct rlvr_checkpoint_meta *meta, char *err, size_t err_len)
{
    memset(m, 0, sizeof *m);
    char *cfg_path = path_join(dir, "config.json");
    char *single = path_join(dir, SINGLE_NAME);
    char *index = path_join(dir, INDEX_NAME);
    char *bin = path_join(dir, "pytorch_model.bin");
    int rc = -1;
    struct rlvr_model_config cfg;
    if (!cfg_path || !single || !index || !bin) {
        rlvr_num_fail(err, err_len, "%s: out of memory", dir);
        goto out;
    }
    if (rlvr_config_read(cfg_path, &cfg, meta, err, err_len))
        goto out;
    int has_single = file_exists(single), has_index = file_exists(index);
    if (has_single && has_index) {
        rlvr_num_fail(err, err_len, "%s: both %s and %s are present; which one holds the weights is "
                           "ambiguous", dir, SINGLE_NAME, INDEX_NAME);
        goto out;
    }
    if (!has_single && !has_index) {
        rlvr_num_fail(err, err_len, "%s: no %s or %s%s", dir, SINGLE_NAME, INDEX_NAME,
             file_exists(bin) ? " (pytorch_model.bin is a pickle, which rlvr does not read)" : "");
        goto out;
    }
    if (rlvr_model_create(m, &cfg, err, err_len))
        goto out;
    rc = has_single ? rlvr_safetensors_load(m, single, err, err_len)
                    : load_sharded(m, dir, index, err, err_len);
    if (rc) {
        rlvr_model_free(m);
        memset(m, 0, sizeof *m);
    }
out:
    free(cfg_path);
    free(single);
    free(index);
    free(bin);
    return rc;
}

int rlvr_checkpoint_load(const char *dir, struct rlvr_model *m, char *err, size_t err_len)
{
    return rlvr_checkpoint_load_meta(dir, m, NULL, err, err_len);
}

/* mkdir -p. */
static int make_dirs(const char *path, char *err, size_t err_len)
{
    char *p = strdup(path);
    if (!p)
        return rlvr_num_fail(err, err_len, "%s: out of memory", path);
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = 0;
        struct stat st;
        if (mkdir(p, 0777) && errno != EEXIST) {
            int e = errno;
            rlvr_num_fail(err, err_len, "%s: cannot create: %s", p, strerror(e));
            free(p);
            return -1;
        }
        if (stat(p, &st) || !S_ISDIR(st.st_mode)) {
            rlvr_num_fail(err, err_len, "%s: not a directory", p);
            free(p);
            return -1;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return 0;
}

/* HF's shard name pattern: model-NNNNN-of-MMMMM.safetensors; *k and *of get
 * the numbers. */
static int is_shard_name(const char *s, int *k, int *of)
{
    char tail[32];
    int used = 0;
    if (strlen(s) != strlen("model-00001-of-00002.safetensors") ||
        sscanf(s, "model-%5d-of-%5d%n", k, of, &used) != 2 || used != 20)
        return 0;
    snprintf(tail, sizeof tail, "%s", s + used);
    return !strcmp(tail, ".safetensors");
}

/* Removes weight files an earlier save of the other layout (or another shard
 * count) left in dir. */
static int remove_stale(const char *dir, int n_shards, char *err, size_t err_len)
{
    char *path = path_join(dir, n_shards > 1 ? SINGLE_NAME : INDEX_NAME);
    if (!path)
        return rlvr_num_fail(err, err_len, "%s: out of memory", dir);
    if (unlink(path) && errno != ENOENT) {
        rlvr_num_fail(err, err_len, "%s: saved, but the stale %s could not be removed: %s", dir, path,
             strerror(errno));
        free(path);
        return -1;
    }
    free(path);
    DIR *d = opendir(dir);
    if (!d)
        return rlvr_num_fail(err, err_len, "%s: cannot list: %s", dir, strerror(errno));
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) && !rc) {
        int k, of;
        if (!is_shard_name(e->d_name, &k, &of) || (n_shards > 1 && of == n_shards && k >= 1 &&
                                                   k <= n_shards))
            continue;
        path = path_join(dir, e->d_name);
        if (!path || (unlink(path) && errno != ENOENT))
            rc = rlvr_num_fail(err, err_len, "%s: saved, but the stale %s could not be removed", dir,
                      e->d_name);
        free(path);
    }
    closedir(d);
    return rc;
}

/* Removes what a failed save wrote into its staging directory. */
static void remove_tree_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        while ((e = readdir(d)))
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
                char *p = path_join(dir, e->d_name);
                if (p)
                    unlink(p);
                free(p);
            }
        closedir(d);
    }
    rmdir(dir);
}

static int by_row(const void *a, const void *b) { return strcmp(a, b); }

static int write_index(const struct rlvr_model *m, const int *idx, const int *shard_of, int n,
                       int n_shards, uint64_t total, const char *path, struct staged *st,
                       char *err, size_t err_len)
{
    /* Sorted by name as json.dumps(sort_keys=True) sorts; the shard goes in
     * after the name's terminating NUL so that one sort carries both. */
    char (*rows)[RLVR_TENSOR_NAME_MAX + 16] = malloc((size_t)(n ? n : 1) * sizeof *rows);
    if (!rows)
        return rlvr_num_fail(err, err_len, "%s: out of memory", path);
    for (int i = 0; i < n; i++) {
        const char *nm = m->tensors[idx[i]].name;
        size_t l = strlen(nm);
        memcpy(rows[i], nm, l + 1);
        snprintf(rows[i] + l + 1, 14, "%d", shard_of[i] + 1);
    }
    qsort(rows, (size_t)n, sizeof rows[0], by_row);
    rlvr_buf b = {0};
    rlvr_buf_printf(&b, "{\n  \"metadata\": {\n    \"total_size\": %" PRIu64 "\n  },\n"
                        "  \"weight_map\": {\n", total);
    for (int i = 0; i < n; i++) {
        const char *nm = rows[i];
        int s = atoi(nm + strlen(nm) + 1);
        rlvr_buf_adds(&b, "    ");
        rlvr_buf_json_string(&b, nm, strlen(nm));
        rlvr_buf_printf(&b, ": \"model-%05d-of-%05d.safetensors\"%s\n", s, n_shards,
                        i + 1 < n ? "," : "");
    }
    rlvr_buf_adds(&b, "  }\n}\n");
    int rc = b.oom ? rlvr_num_fail(err, err_len, "%s: out of memory", path)
                   : write_text_file(path, b.ptr, b.len, st, err, err_len);
    rlvr_buf_free(&b);
    free(rows);
    return rc;
}

/* Writes config + weights into `target` (an existing directory): every
 * file under a temporary name first, then all renamed into place. */
static int write_checkpoint(const struct rlvr_model *m, const struct rlvr_checkpoint_meta *meta,
                            const char *target, enum rlvr_dtype dtype, size_t max_shard_bytes,
                            int *n_shards_out, char *err, size_t err_len)
{
    int n;
    int *idx = present_tensors(m, &n);
    int *shard_of = malloc((size_t)(n ? n : 1) * sizeof *shard_of);
    int *sub = malloc((size_t)(n ? n : 1) * sizeof *sub);
    char *path = NULL;
    struct staged st = {0};
    int rc = -1, n_shards = 1;
    if (!idx || !shard_of || !sub) {
        rlvr_num_fail(err, err_len, "%s: out of memory", target);
        goto out;
    }
    uint64_t cur = 0, total = 0;
    for (int i = 0; i < n; i++) {
        uint64_t bytes = (uint64_t)m->tensors[idx[i]].numel * dtype_bytes(dtype);
        if (max_shard_bytes && cur > 0 && cur + bytes > max_shard_bytes) {
            n_shards++;
            cur = 0;
        }
        shard_of[i] = n_shards - 1;
        cur += bytes;
        total += bytes;
    }
    if (n_shards > 99999) {
        rlvr_num_fail(err, err_len, "%s: %d shards are more than HF's names allow", target, n_shards);
        goto out;
    }
    if (n_shards == 1) {
        path = join_or_fail(target, SINGLE_NAME, err, err_len);
        if (!path || write_safetensors(m, idx, n, dtype, path, &st, err, err_len))
            goto out;
    } else {
        for (int s = 0; s < n_shards; s++) {
            char name[64];
            int k = 0;
            for (int i = 0; i < n; i++)
                if (shard_of[i] == s)
                    sub[k++] = idx[i];
            snprintf(name, sizeof name, "model-%05d-of-%05d.safetensors", s + 1, n_shards);
            free(path);
            path = join_or_fail(target, name, err, err_len);
            if (!path || write_safetensors(m, sub, k, dtype, path, &st, err, err_len))
                goto out;
        }
        free(path);
        path = join_or_fail(target, INDEX_NAME, err, err_len);
        if (!path ||
            write_index(m, idx, shard_of, n, n_shards, total, path, &st, err, err_len))
            goto out;
    }
    free(path);
    path = join_or_fail(target, "config.json", err, err_len);
    if (!path || config_write(path, &m->cfg, meta, dtype, &st, err, err_len))
        goto out;
    *n_shards_out = n_shards;
    rc = staged_commit(&st, err, err_len);
out:
    staged_abort(&st);
    free(path);
    free(sub);
    free(shard_of);
    free(idx);
    return rc;
}

int rlvr_checkpoint_save_meta(const struct rlvr_model *m, const struct rlvr_checkpoint_meta *meta,
                              const char *dir_in, enum rlvr_dtype dtype, size_t max_shard_bytes,
                              char *err, size_t err_len)
{
    if (dtype != RLVR_DTYPE_F32 && dtype != RLVR_DTYPE_BF16 && dtype != RLVR_DTYPE_F16)
        return rlvr_num_fail(err, err_len, "%s: unknown dtype %d", dir_in, (int)dtype);
    size_t len = strlen(dir_in);
    while (len > 1 && dir_in[len - 1] == '/')
        len--;
    if (!len)
        return rlvr_num_fail(err, err_len, "checkpoint: empty directory name");
    char *dir = strndup(dir_in, len);
    if (!dir)
        return rlvr_num_fail(err, err_len, "%s: out of memory", dir_in);
    int rc = -1, n_shards = 0;
    char *staging = NULL;
    struct stat st;
    if (stat(dir, &st) == 0) {
        if (!S_ISDIR(st.st_mode)) {
            rlvr_num_fail(err, err_len, "%s: exists and is not a directory", dir);
            goto out;
        }
        /* In place: each file replaces its old self atomically; the other
         * layout's files go only once the new ones are all there. */
        if (write_checkpoint(m, meta, dir, dtype, max_shard_bytes, &n_shards, err, err_len))
            goto out;
        sync_dir(dir);
        rc = remove_stale(dir, n_shards, err, err_len);
        goto out;
    }
    if (errno != ENOENT) {
        rlvr_num_fail(err, err_len, "%s: %s", dir, strerror(errno));
        goto out;
    }
    /* A new directory: built whole under a temporary name, then renamed. */
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = 0;
        int bad = make_dirs(dir, err, err_len);
        *slash = '/';
        if (bad)
            goto out;
    }
    staging = malloc(len + 64);
    if (!staging) {
        rlvr_num_fail(err, err_len, "%s: out of memory", dir);
        goto out;
    }
    static unsigned counter;
    int made = 0;
    for (int tries = 0; tries < 100 && !made; tries++) {
        snprintf(staging, len + 64, "%s.tmp-%ld-%u", dir, (long)getpid(),
                 __atomic_fetch_add(&counter, 1, __ATOMIC_RELAXED));
        made = mkdir(staging, 0777) == 0;
        if (!made && errno != EEXIST)
            break;
    }
    if (!made) {
        rlvr_num_fail(err, err_len, "%s: cannot create %s: %s", dir, staging, strerror(errno));
        goto out;
    }
    if (write_checkpoint(m, meta, staging, dtype, max_shard_bytes, &n_shards, err, err_len)) {
        remove_tree_files(staging);
        goto out;
    }
    sync_dir(staging);
    if (rename(staging, dir)) {
        rlvr_num_fail(err, err_len, "%s: cannot rename %s into place: %s", dir, staging, strerror(errno));
        remove_tree_files(staging);
        goto out;
    }
    if (slash && slash != dir)
        *slash = 0;
    sync_dir(slash ? (slash == dir ? "/" : dir) : ".");
    rc = 0;
out:
    free(staging);
    free(dir);
    return rc;
}

int rlvr_checkpoint_save(const struct rlvr_model *m, const char *dir, enum rlvr_dtype dtype,
                         size_t max_shard_bytes, char *err, size_t err_len)
{
    return rlvr_checkpoint_save_meta(m, NULL, dir, dtype, max_shard_bytes, err, err_len);
}
