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
 * The SHA-256 is nettle's (Debian's nettle-dev); test_judge_units holds
 * it to FIPS 180-4's test vectors.
 */
#include "judge.h"

#include <json-c/json.h>
#include <nettle/sha2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- SHA-256 ------------------------------------------------------------------- */

void rlvr_judge_sha256(const void *data, size_t len, unsigned char out[32])
{
    struct sha256_ctx s;
    sha256_init(&s);
    sha256_update(&s, len, data);
    sha256_digest(&s, SHA256_DIGEST_SIZE, out);
}

void rlvr_judge_cache_key(const char *model, const char *body, size_t body_len, int vote, unsigned char key[32])
{
    struct sha256_ctx s;
    char v[24];
    int n = snprintf(v, sizeof v, "%d", vote);
    sha256_init(&s);
    sha256_update(&s, strlen(model) + 1, (const uint8_t *)model);
    sha256_update(&s, body_len, (const uint8_t *)body);
    sha256_update(&s, 1, (const uint8_t *)"");
    sha256_update(&s, (size_t)n, (const uint8_t *)v);
    sha256_digest(&s, SHA256_DIGEST_SIZE, key);
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
