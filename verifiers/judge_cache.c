/*
 * judge_cache.c -- the judge's reply cache and the SHA-256 that keys it.
 *
 * A key is SHA-256(model '\0' request body '\0' vote), so that the same
 * question asked again with the same settings costs nothing, while votes of
 * one sample (n > 1) stay distinct. The table lives in memory (open
 * addressing, one mutex, at most max_entries entries: a full cache keeps
 * what it has and refuses new entries) and is optionally persisted as JSON
 * Lines appended to a file, {"key":"<64 hex digits>","reply":"<body>"}, one
 * line per new entry, written whole under the mutex and flushed. Loading
 * skips lines that are not such objects (a file cut short by a crash loses
 * only its last line). The file holds request hashes and reply bodies only:
 * never a header, never the API key.
 *
 * The SHA-256 is FIPS 180-4's, written here because none of the build's
 * libraries exports one (libcurl keeps its own private); test_judge_units
 * holds it to the standard's test vectors.
 */
#include "judge.h"

#include <json-c/json.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 ------------------------------------------------------------------- */

typedef struct sha256_ctx {
    uint32_t h[8];
    unsigned char buf[64];
    size_t fill;
    uint64_t total;
} sha256_ctx;

static const uint32_t K[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))

static void sha256_block(uint32_t h[8], const unsigned char *p)
{
    uint32_t w[64];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 64; i++) {
        uint32_t s0 = ROR(w[i - 15], 7) ^ ROR(w[i - 15], 18) ^ (w[i - 15] >> 3);
        uint32_t s1 = ROR(w[i - 2], 17) ^ ROR(w[i - 2], 19) ^ (w[i - 2] >> 10);
        w[i] = w[i - 16] + s0 + w[i - 7] + s1;
    }
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], k = h[7];
    for (int i = 0; i < 64; i++) {
        uint32_t t1 = k + (ROR(e, 6) ^ ROR(e, 11) ^ ROR(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + w[i];
        uint32_t t2 = (ROR(a, 2) ^ ROR(a, 13) ^ ROR(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
        k = g;
        g = f;
        f = e;
        e = d + t1;
        d = c;
        c = b;
        b = a;
        a = t1 + t2;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
    h[4] += e; h[5] += f; h[6] += g; h[7] += k;
}

static void sha256_init(sha256_ctx *s)
{
    static const uint32_t iv[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                   0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    memcpy(s->h, iv, sizeof iv);
    s->fill = 0;
    s->total = 0;
}

static void sha256_update(sha256_ctx *s, const void *data, size_t len)
{
    const unsigned char *p = data;
    s->total += len;
    if (s->fill) {
        size_t k = 64 - s->fill < len ? 64 - s->fill : len;
        memcpy(s->buf + s->fill, p, k);
        s->fill += k;
        p += k;
        len -= k;
        if (s->fill < 64) return;
        sha256_block(s->h, s->buf);
        s->fill = 0;
    }
    for (; len >= 64; p += 64, len -= 64) sha256_block(s->h, p);
    memcpy(s->buf, p, len);
    s->fill = len;
}

static void sha256_final(sha256_ctx *s, unsigned char out[32])
{
    uint64_t bits = s->total * 8;
    unsigned char pad = 0x80, zero = 0, len[8];
    sha256_update(s, &pad, 1);
    while (s->fill != 56) sha256_update(s, &zero, 1);
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha256_update(s, len, 8);
    for (int i = 0; i < 8; i++) {
        out[4 * i] = (unsigned char)(s->h[i] >> 24);
        out[4 * i + 1] = (unsigned char)(s->h[i] >> 16);
        out[4 * i + 2] = (unsigned char)(s->h[i] >> 8);
        out[4 * i + 3] = (unsigned char)s->h[i];
    }
}

void rlvr_judge_sha256(const void *data, size_t len, unsigned char out[32])
{
    sha256_ctx s;
    sha256_init(&s);
    sha256_update(&s, data, len);
    sha256_final(&s, out);
}

void rlvr_judge_cache_key(const char *model, const char *body, size_t body_len, int vote, unsigned char key[32])
{
    sha256_ctx s;
    char v[24];
    int n = snprintf(v, sizeof v, "%d", vote);
    sha256_init(&s);
    sha256_update(&s, model, strlen(model) + 1);
    sha256_update(&s, body, body_len);
    sha256_update(&s, "", 1);
    sha256_update(&s, v, (size_t)n);
    sha256_final(&s, key);
}

/* ---- the table ------------------------------------------------------------------- */

typedef struct entry {
    unsigned char key[32];
    char *reply;                /* NULL: empty slot */
    size_t len;
} entry;

struct rlvr_judge_cache {
    pthread_mutex_t lock;
    entry *slots;
    size_t cap, count, max;
    FILE *file;
};

static size_t slot_of(const unsigned char key[32], size_t cap)
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++) h = h << 8 | key[i];
    return (size_t)(h & (cap - 1));
}

static entry *find(rlvr_judge_cache *c, const unsigned char key[32])
{
    size_t i = slot_of(key, c->cap);
    while (c->slots[i].reply) {
        if (memcmp(c->slots[i].key, key, 32) == 0) return &c->slots[i];
        i = (i + 1) & (c->cap - 1);
    }
    return &c->slots[i];
}

static int grow(rlvr_judge_cache *c)
{
    size_t cap = c->cap * 2;
    entry *s = calloc(cap, sizeof *s);
    if (!s) return -1;
    entry *old = c->slots;
    size_t oc = c->cap;
    c->slots = s;
    c->cap = cap;
    for (size_t i = 0; i < oc; i++)
        if (old[i].reply) *find(c, old[i].key) = old[i];
    free(old);
    return 0;
}

/* Insert a copy; 1 when inserted, 0 when present or full, -1 out of memory. */
static int insert(rlvr_judge_cache *c, const unsigned char key[32], const char *reply, size_t len)
{
    if (c->count >= c->max) return 0;
    if ((c->count + 1) * 2 > c->cap && grow(c)) return -1;
    entry *e = find(c, key);
    if (e->reply) return 0;
    char *copy = malloc(len + 1);
    if (!copy) return -1;
    memcpy(copy, reply, len);
    copy[len] = 0;
    memcpy(e->key, key, 32);
    e->reply = copy;
    e->len = len;
    c->count++;
    return 1;
}

static int unhex(const char *s, unsigned char out[32])
{
    for (int i = 0; i < 64; i++) {
        char ch = s[i];
        int v = ch >= '0' && ch <= '9' ? ch - '0' : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (v < 0) return -1;
        if (i % 2 == 0) out[i / 2] = (unsigned char)(v << 4);
        else out[i / 2] |= (unsigned char)v;
    }
    return s[64] == 0 ? 0 : -1;
}

rlvr_judge_cache *rlvr_judge_cache_new(const char *path, size_t max_entries, size_t *skipped, char *err,
                                       size_t err_len)
{
    if (skipped) *skipped = 0;
    rlvr_judge_cache *c = calloc(1, sizeof *c);
    if (!c || !(c->slots = calloc(64, sizeof *c->slots))) {
        free(c);
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    c->cap = 64;
    c->max = max_entries ? max_entries : 1;
    pthread_mutex_init(&c->lock, NULL);
    if (!path || !*path) return c;
    FILE *in = fopen(path, "r");
    if (in) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        while ((n = getline(&line, &cap, in)) > 0) {
            json_object *o = json_tokener_parse(line), *k, *r;
            unsigned char key[32];
            if (o && json_object_is_type(o, json_type_object) && json_object_object_get_ex(o, "key", &k)
                && json_object_is_type(k, json_type_string) && json_object_object_get_ex(o, "reply", &r)
                && json_object_is_type(r, json_type_string) && unhex(json_object_get_string(k), key) == 0) {
                if (insert(c, key, json_object_get_string(r), (size_t)json_object_get_string_len(r)) < 0) {
                    json_object_put(o);
                    free(line);
                    fclose(in);
                    rlvr_judge_cache_free(c);
                    snprintf(err, err_len, "out of memory reading the cache file");
                    return NULL;
                }
            } else if (skipped) {
                ++*skipped;
            }
            json_object_put(o);
        }
        free(line);
        fclose(in);
    }
    c->file = fopen(path, "a");
    if (!c->file) {
        snprintf(err, err_len, "cannot open the cache file %s for appending", path);
        rlvr_judge_cache_free(c);
        return NULL;
    }
    return c;
}

void rlvr_judge_cache_free(rlvr_judge_cache *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->cap; i++) free(c->slots[i].reply);
    free(c->slots);
    if (c->file) fclose(c->file);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

char *rlvr_judge_cache_get(rlvr_judge_cache *c, const unsigned char key[32], size_t *len)
{
    char *out = NULL;
    pthread_mutex_lock(&c->lock);
    entry *e = find(c, key);
    if (e->reply && (out = malloc(e->len + 1)) != NULL) {
        memcpy(out, e->reply, e->len + 1);
        *len = e->len;
    }
    pthread_mutex_unlock(&c->lock);
    return out;
}

int rlvr_judge_cache_put(rlvr_judge_cache *c, const unsigned char key[32], const char *reply, size_t len)
{
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    int added = insert(c, key, reply, len);
    if (added == 1 && c->file) {
        char hex[65];
        for (int i = 0; i < 32; i++) snprintf(hex + 2 * i, 3, "%02x", key[i]);
        json_object *o = json_object_new_object();
        if (o && json_object_object_add(o, "key", json_object_new_string(hex)) == 0
            && json_object_object_add(o, "reply", json_object_new_string_len(reply, (int)len)) == 0) {
            size_t n;
            const char *s = json_object_to_json_string_length(
                o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &n);
            if (!s || fwrite(s, 1, n, c->file) != n || fputc('\n', c->file) == EOF || fflush(c->file)) rc = -1;
        } else {
            rc = -1;
        }
        json_object_put(o);
    }
    pthread_mutex_unlock(&c->lock);
    return added < 0 ? -1 : rc;
}

size_t rlvr_judge_cache_count(rlvr_judge_cache *c)
{
    pthread_mutex_lock(&c->lock);
    size_t n = c->count;
    pthread_mutex_unlock(&c->lock);
    return n;
}
