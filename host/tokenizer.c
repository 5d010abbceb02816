/*
 * tokenizer.c -- byte-level BPE from a Hugging Face tokenizer.json, the byte
 * tokenizer, and ChatML (contracts in tokenizer.h).
 *
 * How encode runs, in HF's order:
 *   1. invalid UTF-8 -> U+FFFD (BPE only);
 *   2. added tokens that are not "normalized" are cut out of the raw text;
 *   3. each remaining segment is NFC-normalised, then the "normalized" added
 *      tokens are cut out of it;
 *   4. the pre-tokenizer steps split each segment into pieces (PCRE2);
 *   5. each piece's bytes start as one symbol each (byte_id[]), and merges
 *      apply lowest rank first, leftmost first among equal ranks, through a
 *      binary heap of candidate pairs over a linked list of symbols (the
 *      same queue discipline as HF's Word::merge_all, stale entries
 *      included, so ties resolve identically).
 *
 * Invariants of a loaded tokenizer (nothing changes after load):
 *  - every id in [0, n_ids) with TOKF_PRESENT has its bytes at
 *    arena[off[id] .. off[id] + len[id]); a token's bytes are its
 *    tokenizer.json string mapped back through GPT-2's byte <-> unicode
 *    table when every character is in that table, else the string's own
 *    UTF-8 (TOKF_RAW), which is what HF's ByteLevel decoder produces;
 *  - vmap finds a model-vocabulary id by (raw flag, bytes), so a lookup by
 *    tokenizer.json string is exact; added tokens live in two tries keyed
 *    by the text they match (content, or NFC(content) when "normalized");
 *  - mmap maps the pair (left id, right id) to (rank, merged id); a later
 *    duplicate merge overrides an earlier one, as in HF.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <pcre2.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

enum { KIND_BPE = 1, KIND_BYTES = 2 };
enum { TOKF_PRESENT = 1, TOKF_RAW = 2, TOKF_ADDED = 4, TOKF_SPECIAL = 8 };
#define MAX_IDS (1 << 24)
#define MAX_STAGES 8
/* PCRE2 limits for one match of a Split pattern: generous for any real
 * pattern (the Qwen and GPT-2 patterns need a few steps per character),
 * small enough that a pathological pattern fails instead of hanging. */
#define MATCH_LIMIT 50000000u
#define DEPTH_LIMIT 100000u

/* ---- GPT-2's byte <-> unicode table ----------------------------------------- */

/* Printable Latin-1 bytes stand for themselves; the other 68 bytes take the
 * code points 256, 257, ... in byte order: 0x00-0x20 (33 bytes), 0x7F-0xA0
 * (34) and 0xAD (1). */
static unsigned byte_to_cp(unsigned b)
{
    if (b <= 0x20) return 256 + b;
    if (b >= 0x7F && b <= 0xA0) return 256 + 33 + (b - 0x7F);
    if (b == 0xAD) return 256 + 67;
    return b;
}
#define U2B_SIZE 324 /* 256 + 68 */
static void unicode_to_byte_table(int16_t u2b[U2B_SIZE])
{
    for (int i = 0; i < U2B_SIZE; i++) u2b[i] = -1;
    for (unsigned b = 0; b < 256; b++) u2b[byte_to_cp(b)] = (int16_t)b;
}

/* ---- UTF-8 ---------------------------------------------------------------------- */

/* Decodes one character of valid UTF-8 at s (n > 0 bytes left). */
static uint32_t utf8_next(const unsigned char *s, size_t *adv)
{
    unsigned c = s[0];
    if (c < 0x80) { *adv = 1; return c; }
    if (c < 0xE0) { *adv = 2; return ((c & 0x1Fu) << 6) | (s[1] & 0x3Fu); }
    if (c < 0xF0) { *adv = 3; return ((c & 0x0Fu) << 12) | ((s[1] & 0x3Fu) << 6) | (s[2] & 0x3Fu); }
    *adv = 4;
    return ((c & 0x07u) << 18) | ((s[1] & 0x3Fu) << 12) | ((s[2] & 0x3Fu) << 6) | (s[3] & 0x3Fu);
}

/* Length of a well-formed UTF-8 sequence starting at s[0..n), or 0 when
 * s begins a maximal invalid subpart, whose length goes to *bad (Unicode's
 * "U+FFFD substitution of maximal subparts", Table 3-7 ranges). */
static size_t utf8_wellformed(const unsigned char *s, size_t n, size_t *bad)
{
    unsigned c = s[0], lo = 0x80, hi = 0xBF;
    size_t need;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 2;
    else if (c >= 0xE0 && c <= 0xEF) {
        need = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else { *bad = 1; return 0; }
    if (n < 2 || s[1] < lo || s[1] > hi) { *bad = 1; return 0; }
    for (size_t k = 2; k < need; k++)
        if (k >= n || (s[k] & 0xC0) != 0x80) { *bad = k; return 0; }
    return need;
}

/* The replacement pass; out may be NULL to count only. */
static size_t utf8_scan(const char *str, size_t n, rlvr_buf *out)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0, run = 0, count = 0;
    while (i < n) {
        while (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull) break;
            i += 8;
        }
        if (i >= n) break;
        size_t bad = 0, k = utf8_wellformed(s + i, n - i, &bad);
        if (k) { i += k; continue; }
        if (out) {
            rlvr_buf_add(out, s + run, i - run);
            rlvr_buf_add(out, "\xEF\xBF\xBD", 3);
        }
        count++;
        i += bad;
        run = i;
    }
    if (out) rlvr_buf_add(out, s + run, n - run);
    return count;
}

size_t rlvr_tok_utf8_replace(const char *s, size_t n, rlvr_buf *out) { return utf8_scan(s, n, out); }

/* Code points that are NFC-stable in any context: they are their own NFC,
 * have combining class 0 and never combine with a preceding character (nor
 * does the first character of their decomposition). Text made only of them
 * is already NFC, so encode skips utf8proc for it; test_tokenizer proves the
 * set against utf8proc's tables. */
int rlvr_tok_nfc_quick(uint32_t c)
{
    if (c < 0x300) return 1;
    if (c >= 0x4E00 && c <= 0x9FFF) return 1;   /* CJK unified ideographs */
    if (c >= 0x3400 && c <= 0x4DBF) return 1;   /* CJK extension A */
    if (c >= 0x3000 && c <= 0x3029) return 1;   /* CJK symbols and punctuation */
    if (c >= 0x3041 && c <= 0x3096) return 1;   /* hiragana */
    if (c >= 0x30A1 && c <= 0x30FA) return 1;   /* katakana */
    if (c == 0x30FC) return 1;                  /* prolonged sound mark */
    if (c >= 0xAC00 && c <= 0xD7A3) return 1;   /* Hangul syllables */
    if (c >= 0xFF01 && c <= 0xFFEE) return 1;   /* full- and halfwidth forms */
    if (c >= 0x2010 && c <= 0x205E) return 1;   /* dashes, quotes, ellipsis, primes */
    if (c >= 0x0391 && c <= 0x03A9) return 1;   /* Greek capitals */
    if (c >= 0x03B1 && c <= 0x03C9) return 1;   /* Greek small letters */
    if (c >= 0x0410 && c <= 0x044F) return 1;   /* basic Cyrillic */
    if (c >= 0x2190 && c <= 0x22FF) return 1;   /* arrows, mathematical operators */
    if (c == 0x200D || (c >= 0xFE00 && c <= 0xFE0F)) return 1; /* ZWJ, variation selectors */
    if (c >= 0x1F300 && c <= 0x1FAFF) return 1; /* emoji */
    return 0;
}

/* ---- ids array ------------------------------------------------------------------- */

void rlvr_tok_ids_free(rlvr_tok_ids *a)
{
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

static int ids_reserve(rlvr_tok_ids *a, size_t extra)
{
    if (a->n + extra <= a->cap) return 0;
    size_t cap = a->cap ? a->cap : 64;
    while (cap < a->n + extra) {
        if (cap > SIZE_MAX / 2 / sizeof(int32_t)) return -1;
        cap *= 2;
    }
    int32_t *v = realloc(a->v, cap * sizeof(int32_t));
    if (!v) return -1;
    a->v = v;
    a->cap = cap;
    return 0;
}

int rlvr_tok_ids_push(rlvr_tok_ids *a, int32_t id)
{
    if (a->n == a->cap && ids_reserve(a, 1)) return -1;
    a->v[a->n++] = id;
    return 0;
}

/* ---- the tokenizer ----------------------------------------------------------------- */

/* A byte trie of added tokens: children as sibling lists (few tokens). */
struct tnode {
    int32_t child, sibling, tok; /* tok: index into added[], -1 if none */
    unsigned char byte;
};
struct trie {
    struct tnode *node;
    size_t n, cap, ntok;
    unsigned char first[256]; /* 1 where a token starts with that byte */
};

struct added {
    int32_t id;
    int special;
};

struct merge_slot {
    uint64_t key; /* left << 32 | right; UINT64_MAX when empty */
    uint32_t rank;
    int32_t id;
};

struct stage {
    pcre2_code *re;   /* NULL: no split (ByteLevel without use_regex) */
    int prefix_space; /* ByteLevel add_prefix_space */
};

struct rlvr_tokenizer {
    int kind;
    int32_t n_ids;
    char *arena;
    uint32_t *off, *len;
    uint8_t *flags;
    int32_t byte_id[256];
    int32_t *vmap; /* ids, -1 empty */
    size_t vmap_mask;
    struct merge_slot *mmap;
    size_t mmap_mask;
    struct added *added;
    size_t n_added;
    struct trie raw, norm;
    int nfc, ignore_merges, n_stages;
    struct stage stage[MAX_STAGES];
    pcre2_match_context *mctx;
};

static uint64_t hash_bytes(const void *p, size_t n, int raw)
{
    const unsigned char *s = p;
    uint64_t h = 1469598103934665603ull ^ (uint64_t)raw;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ s[i]) * 0x100000001b3ull;
    h ^= h >> 32;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) p *= 2;
    return p;
}

static int32_t vmap_find(const rlvr_tokenizer *t, const void *s, size_t n, int raw)
{
    if (!t->vmap) return -1;
    size_t i = hash_bytes(s, n, raw) & t->vmap_mask;
    for (;; i = (i + 1) & t->vmap_mask) {
        int32_t id = t->vmap[i];
        if (id < 0) return -1;
        if (t->len[id] == n && ((t->flags[id] & TOKF_RAW) != 0) == (raw != 0)
            && memcmp(t->arena + t->off[id], s, n) == 0)
            return id;
    }
}

/* Inserts id (its bytes already in the arena); the first of equal keys stays. */
static void vmap_insert(rlvr_tokenizer *t, int32_t id)
{
    const char *s = t->arena + t->off[id];
    size_t n = t->len[id];
    int raw = (t->flags[id] & TOKF_RAW) != 0;
    size_t i = hash_bytes(s, n, raw) & t->vmap_mask;
    for (;; i = (i + 1) & t->vmap_mask) {
        int32_t o = t->vmap[i];
        if (o < 0) { t->vmap[i] = id; return; }
        if (t->len[o] == n && ((t->flags[o] & TOKF_RAW) != 0) == (raw != 0)
            && memcmp(t->arena + t->off[o], s, n) == 0)
            return;
    }
}

static inline size_t pair_hash(uint64_t key)
{
    key *= 0x9E3779B97F4A7C15ull;
    return (size_t)(key ^ (key >> 31));
}

static inline const struct merge_slot *merge_find(const rlvr_tokenizer *t, int32_t a, int32_t b)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t i = pair_hash(key) & t->mmap_mask;
    for (;; i = (i + 1) & t->mmap_mask) {
        const struct merge_slot *m = &t->mmap[i];
        if (m->key == key) return m;
        if (m->key == UINT64_MAX) return NULL;
    }
}

static void merge_put(rlvr_tokenizer *t, int32_t a, int32_t b, uint32_t rank, int32_t id)
{
    uint64_t key = (uint64_t)(uint32_t)a << 32 | (uint32_t)b;
    size_t i = pair_hash(key) & t->mmap_mask;
    for (;; i = (i + 1) & t->mmap_mask) {
        struct merge_slot *m = &t->mmap[i];
        if (m->key == key || m->key == UINT64_MAX) {
            m->key = key;
            m->rank = rank;
            m->id = id;
            return;
        }
    }
}

static int trie_init(struct trie *tr)
{
    memset(tr, 0, sizeof *tr);
    tr->cap = 16;
    tr->node = malloc(tr->cap * sizeof *tr->node);
    if (!tr->node) return -1;
    tr->node[0] = (struct tnode){-1, -1, -1, 0};
    tr->n = 1;
    return 0;
}

/* Adds s[0..n) (n > 0) for added[tok]; the first of equal strings stays. */
static int trie_add(struct trie *tr, const unsigned char *s, size_t n, int32_t tok)
{
    int32_t cur = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t c = tr->node[cur].child;
        while (c >= 0 && tr->node[c].byte != s[i]) c = tr->node[c].sibling;
        if (c < 0) {
            if (tr->n == tr->cap) {
                struct tnode *p = realloc(tr->node, 2 * tr->cap * sizeof *p);
                if (!p) return -1;
                tr->node = p;
                tr->cap *= 2;
            }
            c = (int32_t)tr->n++;
            tr->node[c] = (struct tnode){-1, tr->node[cur].child, -1, s[i]};
            tr->node[cur].child = c;
        }
        cur = c;
    }
    if (tr->node[cur].tok < 0) tr->node[cur].tok = tok;
    tr->first[s[0]] = 1;
    tr->ntok++;
    return 0;
}

/* The longest token that is a prefix of s[0..n): its index, or -1. */
static int32_t trie_longest(const struct trie *tr, const unsigned char *s, size_t n, size_t *mlen)
{
    int32_t cur = 0, best = -1;
    for (size_t i = 0; i < n; i++) {
        int32_t c = tr->node[cur].child;
        while (c >= 0 && tr->node[c].byte != s[i]) c = tr->node[c].sibling;
        if (c < 0) break;
        cur = c;
        if (tr->node[cur].tok >= 0) { best = tr->node[cur].tok; *mlen = i + 1; }
    }
    return best;
}

void rlvr_tokenizer_free(rlvr_tokenizer *t)
{
    if (!t) return;
    free(t->arena);
    free(t->off);
    free(t->len);
    free(t->flags);
    free(t->vmap);
    free(t->mmap);
    free(t->added);
    free(t->raw.node);
    free(t->norm.node);
    for (int i = 0; i < t->n_stages; i++) pcre2_code_free(t->stage[i].re);
    pcre2_match_context_free(t->mctx);
    free(t);
}

int32_t rlvr_tok_vocab_size(const rlvr_tokenizer *t) { return t ? t->n_ids : 0; }

const char *rlvr_tok_token_bytes(const rlvr_tokenizer *t, int32_t id, size_t *len)
{
    if (!t || id < 0 || id >= t->n_ids || !(t->flags[id] & TOKF_PRESENT)) {
        if (len) *len = 0;
        return NULL;
    }
    if (len) *len = t->len[id];
    return t->arena + t->off[id];
}

int rlvr_tok_is_special(const rlvr_tokenizer *t, int32_t id)
{
    return t && id >= 0 && id < t->n_ids && (t->flags[id] & TOKF_SPECIAL) != 0;
}

int32_t rlvr_tok_token_id(const rlvr_tokenizer *t, const char *s, size_t len)
{
    if (!t || (!s && len)) return -1;
    /* Added tokens by the bytes they decode to. */
    for (size_t i = 0; i < t->n_added; i++) {
        int32_t id = t->added[i].id;
        if (t->len[id] == len && memcmp(t->arena + t->off[id], s, len) == 0) return id;
    }
    int32_t id = vmap_find(t, s, len, 0);
    return id >= 0 ? id : vmap_find(t, s, len, 1);
}

/* ---- loading tokenizer.json ------------------------------------------------------ */

struct loader {
    const char *name;
    char *err;
    size_t err_len;
    rlvr_tokenizer *t;
    int16_t u2b[U2B_SIZE];
    rlvr_buf tmp;
};

static int lfail(struct loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int lfail(struct loader *L, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (L->err && L->err_len) rlvr_errf(L->err, L->err_len, "%s: %s", L->name, msg);
    return -1;
}

/* A short, printable rendering of a token string for messages. */
static const char *shown(const char *s, size_t n, char buf[64])
{
    size_t j = 0;
    for (size_t i = 0; i < n && j < 56; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7F) j += (size_t)snprintf(buf + j, 64 - j, "\\x%02x", c);
        else buf[j++] = (char)c;
    }
    if (j >= 56) { memcpy(buf + j, "...", 3); j += 3; }
    buf[j] = 0;
    return buf;
}

static struct json_object *jget(struct json_object *o, const char *key)
{
    struct json_object *v = NULL;
    if (!o || !json_object_is_type(o, json_type_object)) return NULL;
    return json_object_object_get_ex(o, key, &v) ? v : NULL;
}

/* A boolean field: absent or null gives dflt. */
static int jbool(struct loader *L, struct json_object *o, const char *key, const char *where, int dflt,
                 int *out)
{
    struct json_object *v = jget(o, key);
    if (!v) { *out = dflt; return 0; }
    if (!json_object_is_type(v, json_type_boolean)) return lfail(L, "%s.%s is not a boolean", where, key);
    *out = json_object_get_boolean(v);
    return 0;
}

/* The "type" string of a component; NULL (after a message) when missing. */
static const char *jtype(struct loader *L, struct json_object *o, const char *where)
{
    struct json_object *v = jget(o, "type");
    if (!v || !json_object_is_type(v, json_type_string)) {
        lfail(L, "%s has no \"type\" string", where);
        return NULL;
    }
    return json_object_get_string(v);
}

/* Converts a tokenizer.json token string into its bytes (appended to the
 * arena at *pos): mapped through the byte table when every character is in
 * it, else the string's own bytes (*raw = 1). */
static void token_to_bytes(const struct loader *L, const char *s, size_t n, char *dst, size_t *dlen, int *raw)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, j = 0;
    while (i < n) {
        size_t bad = 0, k = utf8_wellformed(u + i, n - i, &bad);
        if (!k) break;
        size_t adv;
        uint32_t cp = utf8_next(u + i, &adv);
        if (cp >= U2B_SIZE || L->u2b[cp] < 0) break;
        dst[j++] = (char)L->u2b[cp];
        i += adv;
    }
    if (i == n) { *dlen = j; *raw = 0; return; }
    memcpy(dst, s, n);
    *dlen = n;
    *raw = 1;
}

/* Looks a tokenizer.json string up in the model vocabulary. */
static int32_t vocab_lookup(struct loader *L, const char *s, size_t n)
{
    rlvr_buf_clear(&L->tmp);
    if (rlvr_buf_reserve(&L->tmp, n + 1)) return -2;
    size_t dl;
    int raw;
    token_to_bytes(L, s, n, L->tmp.ptr, &dl, &raw);
    return vmap_find(L->t, L->tmp.ptr, dl, raw);
}

struct ventry {
    const char *s;
    size_t n;
    int32_t id;
};

static int load_normalizer(struct loader *L, struct json_object *root)
{
    struct json_object *norm = jget(root, "normalizer");
    if (!norm) return 0;
    const char *ty = jtype(L, norm, "normalizer");
    if (!ty) return -1;
    if (strcmp(ty, "NFC") == 0) { L->t->nfc = 1; return 0; }
    if (strcmp(ty, "Sequence") != 0)
        return lfail(L, "normalizer type '%s' is not supported (rlvr supports NFC)", ty);
    struct json_object *arr = jget(norm, "normalizers");
    if (!arr || !json_object_is_type(arr, json_type_array))
        return lfail(L, "normalizer Sequence has no \"normalizers\" array");
    for (size_t i = 0; i < json_object_array_length(arr); i++) {
        const char *sub = jtype(L, json_object_array_get_idx(arr, i), "normalizer.normalizers[]");
        if (!sub) return -1;
        if (strcmp(sub, "NFC") != 0)
            return lfail(L, "normalizer type '%s' is not supported (rlvr supports NFC)", sub);
        L->t->nfc = 1;
    }
    return 0;
}

/* \s as Unicode White_Space, the set Oniguruma uses (PCRE2 10.42 would also
 * take U+180E). */
#define WS_BODY "\\t\\n\\x0B\\f\\r\\x20\\x{85}\\x{A0}\\x{1680}\\x{2000}-\\x{200A}\\x{2028}\\x{2029}\\x{202F}\\x{205F}\\x{3000}"

static void rewrite_regex(const char *p, size_t n, rlvr_buf *out)
{
    int in_class = 0;
    size_t i = 0;
    while (i < n) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char d = p[i + 1];
            if (d == 's') {
                rlvr_buf_adds(out, in_class ? WS_BODY : "[" WS_BODY "]");
                i += 2;
            } else if (d == 'S' && !in_class) {
                rlvr_buf_adds(out, "[^" WS_BODY "]");
                i += 2;
            } else if (d == 'Q') {
                /* \Q...\E is literal text: copy it as it is. */
                size_t j = i + 2;
                while (j + 1 < n && !(p[j] == '\\' && p[j + 1] == 'E')) j++;
                j = j + 1 < n ? j + 2 : n;
                rlvr_buf_add(out, p + i, j - i);
                i = j;
            } else {
                rlvr_buf_add(out, p + i, 2);
                i += 2;
            }
            continue;
        }
        if (!in_class && c == '[') {
            in_class = 1;
            rlvr_buf_addc(out, c);
            i++;
            if (i < n && p[i] == '^') rlvr_buf_addc(out, p[i++]);
            if (i < n && p[i] == ']') rlvr_buf_addc(out, p[i++]); /* a literal ] first */
            continue;
        }
        if (in_class && c == '[' && i + 1 < n && p[i + 1] == ':') {
            const char *end = NULL;
            for (size_t j = i + 2; j + 1 < n; j++)
                if (p[j] == ':' && p[j + 1] == ']') { end = p + j + 2; break; }
            if (end) {
                rlvr_buf_add(out, p + i, (size_t)(end - (p + i)));
                i = (size_t)(end - p);
                continue;
            }
        }
        if (in_class && c == ']') in_class = 0;
        rlvr_buf_addc(out, c);
        i++;
    }
}

static int add_stage(struct loader *L, const char *pat, size_t n, int literal, int prefix_space,
                     const char *where)
{
    rlvr_tokenizer *t = L->t;
    if (t->n_stages == MAX_STAGES) return lfail(L, "pre_tokenizer has more than %d steps", MAX_STAGES);
    struct stage *st = &t->stage[t->n_stages];
    st->prefix_space = prefix_space;
    st->re = NULL;
    if (pat) {
        rlvr_buf rx = {0};
        uint32_t opts = PCRE2_UTF | PCRE2_UCP;
        if (literal) {
            opts |= PCRE2_LITERAL;
            rlvr_buf_add(&rx, pat, n);
        } else
            rewrite_regex(pat, n, &rx);
        if (rx.oom) { rlvr_buf_free(&rx); return lfail(L, "out of memory"); }
        int ec;
        PCRE2_SIZE eo;
        st->re = pcre2_compile((PCRE2_SPTR)(rx.ptr ? rx.ptr : ""), rx.len, opts, &ec, &eo, NULL);
        rlvr_buf_free(&rx);
        if (!st->re) {
            PCRE2_UCHAR msg[160];
            pcre2_get_error_message(ec, msg, sizeof msg);
            return lfail(L, "%s: the pattern does not compile: %s", where, (const char *)msg);
        }
        (void)pcre2_jit_compile(st->re, PCRE2_JIT_COMPLETE); /* the interpreter is the fallback */
    }
    t->n_stages++;
    return 0;
}

static const char GPT2_PATTERN[] =
    "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

static int load_bytelevel(struct loader *L, struct json_object *o, const char *where)
{
    int prefix = 0, use_regex = 1;
    if (!jget(o, "add_prefix_space")) return lfail(L, "%s: add_prefix_space is missing", where);
    if (jbool(L, o, "add_prefix_space", where, 0, &prefix) || jbool(L, o, "use_regex", where, 1, &use_regex))
        return -1;
    if (use_regex) return add_stage(L, GPT2_PATTERN, strlen(GPT2_PATTERN), 0, prefix, where);
    return add_stage(L, NULL, 0, 0, prefix, where);
}

static int load_split(struct loader *L, struct json_object *o, const char *where)
{
    struct json_object *pat = jget(o, "pattern"), *v;
    const char *beh;
    int invert = 0;
    if (!pat) return lfail(L, "%s: pattern is missing", where);
    int literal = 0;
    if ((v = jget(pat, "Regex")) && json_object_is_type(v, json_type_string)) literal = 0;
    else if ((v = jget(pat, "String")) && json_object_is_type(v, json_type_string)) literal = 1;
    else return lfail(L, "%s: pattern is neither {\"Regex\": ...} nor {\"String\": ...}", where);
    struct json_object *b = jget(o, "behavior");
    beh = b && json_object_is_type(b, json_type_string) ? json_object_get_string(b) : NULL;
    if (!beh) return lfail(L, "%s: behavior is missing", where);
    if (strcmp(beh, "Isolated") != 0)
        return lfail(L, "%s: Split behavior '%s' is not supported (rlvr supports Isolated)", where, beh);
    if (jbool(L, o, "invert", where, 0, &invert)) return -1;
    if (invert) return lfail(L, "%s: Split with invert true is not supported", where);
    return add_stage(L, json_object_get_string(v), (size_t)json_object_get_string_len(v), literal, 0, where);
}

static int load_pre_tokenizer(struct loader *L, struct json_object *root)
{
    struct json_object *pt = jget(root, "pre_tokenizer");
    if (!pt) return lfail(L, "pre_tokenizer is null (rlvr supports ByteLevel, or a Sequence of Split ending in ByteLevel)");
    const char *ty = jtype(L, pt, "pre_tokenizer");
    if (!ty) return -1;
    if (strcmp(ty, "ByteLevel") == 0) return load_bytelevel(L, pt, "pre_tokenizer");
    if (strcmp(ty, "Sequence") != 0)
        return lfail(L, "pre_tokenizer type '%s' is not supported (rlvr supports ByteLevel, or a Sequence of Split ending in ByteLevel)", ty);
    struct json_object *arr = jget(pt, "pretokenizers");
    if (!arr || !json_object_is_type(arr, json_type_array))
        return lfail(L, "pre_tokenizer Sequence has no \"pretokenizers\" array");
    size_t n = json_object_array_length(arr);
    for (size_t i = 0; i < n; i++) {
        char where[64];
        snprintf(where, sizeof where, "pre_tokenizer.pretokenizers[%zu]", i);
        struct json_object *o = json_object_array_get_idx(arr, i);
        const char *sub = jtype(L, o, where);
        if (!sub) return -1;
        if (strcmp(sub, "Split") == 0) {
            if (load_split(L, o, where)) return -1;
        } else if (strcmp(sub, "ByteLevel") == 0) {
            if (i + 1 != n) return lfail(L, "%s: ByteLevel must be the last step", where);
            if (load_bytelevel(L, o, where)) return -1;
        } else
            return lfail(L, "pre_tokenizer type '%s' is not supported (rlvr supports Split and ByteLevel)", sub);
    }
    if (n == 0 || strcmp(json_object_get_string(jget(json_object_array_get_idx(arr, n - 1), "type")), "ByteLevel") != 0)
        return lfail(L, "pre_tokenizer Sequence does not end in ByteLevel (rlvr supports byte-level BPE only)");
    return 0;
}

static int load_decoder(struct loader *L, struct json_object *root)
{
    struct json_object *d = jget(root, "decoder");
    if (!d) return lfail(L, "decoder is null (rlvr supports ByteLevel)");
    const char *ty = jtype(L, d, "decoder");
    if (!ty) return -1;
    if (strcmp(ty, "ByteLevel") != 0) return lfail(L, "decoder type '%s' is not supported (rlvr supports ByteLevel)", ty);
    return 0;
}

static int check_model_options(struct loader *L, struct json_object *model)
{
    struct json_object *v;
    int b;
    if ((v = jget(model, "dropout")) && json_object_get_double(v) != 0.0)
        return lfail(L, "model.dropout is set (rlvr does not sample BPE dropout)");
    const char *affix[] = {"continuing_subword_prefix", "end_of_word_suffix"};
    for (int i = 0; i < 2; i++)
        if ((v = jget(model, affix[i]))
            && (!json_object_is_type(v, json_type_string) || json_object_get_string_len(v) != 0))
            return lfail(L, "model.%s is set, which is not supported", affix[i]);
    if (jbool(L, model, "byte_fallback", "model", 0, &b)) return -1;
    if (b) return lfail(L, "model.byte_fallback is true, which is not supported");
    if (jbool(L, model, "ignore_merges", "model", 0, &L->t->ignore_merges)) return -1;
    return 0;
}

static int json_id(struct json_object *v, int32_t *id)
{
    if (!v || !json_object_is_type(v, json_type_int)) return -1;
    int64_t x = json_object_get_int64(v);
    if (x < 0 || x >= MAX_IDS) return -1;
    *id = (int32_t)x;
    return 0;
}

static int load_merges(struct loader *L, struct json_object *model)
{
    rlvr_tokenizer *t = L->t;
    struct json_object *merges = jget(model, "merges");
    size_t n = merges ? json_object_array_length(merges) : 0;
    if (merges && !json_object_is_type(merges, json_type_array)) return lfail(L, "model.merges is not an array");
    t->mmap_mask = pow2_at_least(2 * n + 1) - 1;
    t->mmap = malloc((t->mmap_mask + 1) * sizeof *t->mmap);
    if (!t->mmap) return lfail(L, "out of memory");
    for (size_t i = 0; i <= t->mmap_mask; i++) t->mmap[i].key = UINT64_MAX;
    rlvr_buf cat = {0};
    int rc = -1;
    char s1[64], s2[64], s3[64];
    for (size_t i = 0; i < n; i++) {
        struct json_object *m = json_object_array_get_idx(merges, i);
        const char *a, *b;
        size_t an, bn;
        if (json_object_is_type(m, json_type_string)) {
            a = json_object_get_string(m);
            size_t len = (size_t)json_object_get_string_len(m);
            const char *sp = memchr(a, ' ', len);
            if (!sp || memchr(sp + 1, ' ', len - (size_t)(sp + 1 - a)) || sp == a || sp + 1 == a + len) {
                lfail(L, "model.merges[%zu]: '%s' is not two tokens separated by one space", i, shown(a, len, s1));
                goto out;
            }
            an = (size_t)(sp - a);
            b = sp + 1;
            bn = len - an - 1;
        } else if (json_object_is_type(m, json_type_array) && json_object_array_length(m) == 2
                   && json_object_is_type(json_object_array_get_idx(m, 0), json_type_string)
                   && json_object_is_type(json_object_array_get_idx(m, 1), json_type_string)) {
            struct json_object *ja = json_object_array_get_idx(m, 0), *jb = json_object_array_get_idx(m, 1);
            a = json_object_get_string(ja);
            an = (size_t)json_object_get_string_len(ja);
            b = json_object_get_string(jb);
            bn = (size_t)json_object_get_string_len(jb);
        } else {
            lfail(L, "model.merges[%zu] is neither \"a b\" nor [\"a\", \"b\"]", i);
            goto out;
        }
        int32_t ia = vocab_lookup(L, a, an), ib = vocab_lookup(L, b, bn);
        if (ia == -2 || ib == -2) { lfail(L, "out of memory"); goto out; }
        if (ia < 0 || ib < 0) {
            lfail(L, "model.merges[%zu]: token '%s' is not in the vocabulary", i,
                  ia < 0 ? shown(a, an, s1) : shown(b, bn, s1));
            goto out;
        }
        rlvr_buf_clear(&cat);
        rlvr_buf_add(&cat, a, an);
        rlvr_buf_add(&cat, b, bn);
        if (cat.oom) { lfail(L, "out of memory"); goto out; }
        int32_t id = vocab_lookup(L, cat.ptr, cat.len);
        if (id == -2) { lfail(L, "out of memory"); goto out; }
        if (id < 0) {
            lfail(L, "model.merges[%zu]: '%s' (the merge of '%s' and '%s') is not in the vocabulary", i,
                  shown(cat.ptr, cat.len, s1), shown(a, an, s2), shown(b, bn, s3));
            goto out;
        }
        merge_put(t, ia, ib, (uint32_t)i, id);
    }
    rc = 0;
out:
    rlvr_buf_free(&cat);
    return rc;
}

static int load_from_json(struct loader *L, struct json_object *root)
{
    rlvr_tokenizer *t = L->t;
    struct ventry *ve = NULL, *ae = NULL;
    int rc = -1;
    char sbuf[64];
    if (!json_object_is_type(root, json_type_object)) return lfail(L, "the top level is not a JSON object");
    struct json_object *model = jget(root, "model");
    if (!model || !json_object_is_type(model, json_type_object)) return lfail(L, "model is missing");
    const char *ty = jtype(L, model, "model");
    if (!ty) return -1;
    if (strcmp(ty, "BPE") != 0) return lfail(L, "model type '%s' is not supported (rlvr supports BPE)", ty);
    if (check_model_options(L, model) || load_normalizer(L, root) || load_pre_tokenizer(L, root)
        || load_decoder(L, root))
        return -1;

    /* The vocabulary and the added tokens: ids and sizes. */
    struct json_object *vocab = jget(model, "vocab");
    if (!vocab || !json_object_is_type(vocab, json_type_object)) return lfail(L, "model.vocab is not an object");
    struct json_object *added = jget(root, "added_tokens");
    if (added && !json_object_is_type(added, json_type_array)) return lfail(L, "added_tokens is not an array");
    size_t nv = (size_t)json_object_object_length(vocab), na = added ? json_object_array_length(added) : 0;
    ve = malloc((nv + 1) * sizeof *ve);
    ae = malloc((na + 1) * sizeof *ae);
    t->added = malloc((na + 1) * sizeof *t->added);
    if (!ve || !ae || !t->added) { lfail(L, "out of memory"); goto out; }
    size_t k = 0, arena_size = 0;
    int32_t max_id = -1;
    struct json_object_iterator it = json_object_iter_begin(vocab), end = json_object_iter_end(vocab);
    for (; !json_object_iter_equal(&it, &end); json_object_iter_next(&it)) {
        const char *key = json_object_iter_peek_name(&it);
        struct json_object *v = json_object_iter_peek_value(&it);
        int32_t id;
        if (json_id(v, &id)) {
            lfail(L, "model.vocab['%s']: the id is not an integer in 0..%d", shown(key, strlen(key), sbuf), MAX_IDS - 1);
            goto out;
        }
        ve[k++] = (struct ventry){key, strlen(key), id};
        arena_size += strlen(key);
        if (id > max_id) max_id = id;
    }
    nv = k;
    for (size_t i = 0; i < na; i++) {
        struct json_object *o = json_object_array_get_idx(added, i), *c = jget(o, "content");
        int32_t id;
        if (!c || !json_object_is_type(c, json_type_string) || json_object_get_string_len(c) == 0) {
            lfail(L, "added_tokens[%zu]: content is missing or empty", i);
            goto out;
        }
        const char *cs = json_object_get_string(c);
        size_t cn = (size_t)json_object_get_string_len(c);
        if (json_id(jget(o, "id"), &id)) {
            lfail(L, "added_tokens[%zu] ('%s'): the id is not an integer in 0..%d", i, shown(cs, cn, sbuf), MAX_IDS - 1);
            goto out;
        }
        const char *unsup[] = {"lstrip", "rstrip", "single_word"};
        for (int u = 0; u < 3; u++) {
            int f;
            if (jbool(L, o, unsup[u], "added_tokens[]", 0, &f)) goto out;
            if (f) {
                lfail(L, "added_tokens[%zu] ('%s'): %s is not supported", i, shown(cs, cn, sbuf), unsup[u]);
                goto out;
            }
        }
        ae[i] = (struct ventry){cs, cn, id};
        arena_size += cn;
        if (id > max_id) max_id = id;
    }
    t->n_ids = max_id + 1;
    size_t nid = (size_t)t->n_ids + 1;
    t->arena = malloc(arena_size + 1);
    t->off = calloc(nid, sizeof *t->off);
    t->len = calloc(nid, sizeof *t->len);
    t->flags = calloc(nid, 1);
    t->vmap_mask = pow2_at_least(2 * nv + 1) - 1;
    t->vmap = malloc((t->vmap_mask + 1) * sizeof *t->vmap);
    if (!t->arena || !t->off || !t->len || !t->flags || !t->vmap || arena_size >= UINT32_MAX) {
        lfail(L, "out of memory");
        goto out;
    }
    for (size_t i = 0; i <= t->vmap_mask; i++) t->vmap[i] = -1;
    size_t pos = 0;
    for (size_t i = 0; i < nv; i++) {
        int32_t id = ve[i].id;
        if (t->flags[id] & TOKF_PRESENT) {
            lfail(L, "model.vocab: id %d is given to two tokens (one is '%s')", id, shown(ve[i].s, ve[i].n, sbuf));
            goto out;
        }
        size_t dl;
        int raw;
        token_to_bytes(L, ve[i].s, ve[i].n, t->arena + pos, &dl, &raw);
        t->off[id] = (uint32_t)pos;
        t->len[id] = (uint32_t)dl;
        t->flags[id] = (uint8_t)(TOKF_PRESENT | (raw ? TOKF_RAW : 0));
        pos += dl;
    }
    for (size_t i = 0; i < nv; i++) vmap_insert(t, ve[i].id);

    /* Every byte must be a symbol, else some text could not be encoded. */
    for (unsigned b = 0; b < 256; b++) {
        char c = (char)b;
        t->byte_id[b] = vmap_find(t, &c, 1, 0);
        if (t->byte_id[b] < 0) {
            char u[8];
            unsigned cp = byte_to_cp(b);
            size_t un = (size_t)utf8proc_encode_char((utf8proc_int32_t)cp, (utf8proc_uint8_t *)u);
            u[un] = 0;
            lfail(L, "model.vocab lacks the byte symbol '%s' (byte 0x%02x); rlvr supports byte-level BPE only", u, b);
            goto out;
        }
    }
    if (load_merges(L, model)) goto out;

    /* Added tokens: their bytes (for decode), flags and the two tries. */
    if (trie_init(&t->raw) || trie_init(&t->norm)) { lfail(L, "out of memory"); goto out; }
    for (size_t i = 0; i < na; i++) {
        struct json_object *o = json_object_array_get_idx(added, i);
        int special, normalized;
        if (jbool(L, o, "special", "added_tokens[]", 0, &special)
            || jbool(L, o, "normalized", "added_tokens[]", 0, &normalized))
            goto out;
        int32_t id = ae[i].id;
        size_t dl;
        int raw;
        token_to_bytes(L, ae[i].s, ae[i].n, t->arena + pos, &dl, &raw);
        if (t->flags[id] & TOKF_PRESENT) {
            if (t->len[id] != dl || memcmp(t->arena + t->off[id], t->arena + pos, dl) != 0
                || ((t->flags[id] & TOKF_RAW) != 0) != (raw != 0)) {
                lfail(L, "added_tokens[%zu] ('%s'): id %d is another token's id", i, shown(ae[i].s, ae[i].n, sbuf), id);
                goto out;
            }
        } else {
            t->off[id] = (uint32_t)pos;
            t->len[id] = (uint32_t)dl;
            t->flags[id] = (uint8_t)(TOKF_PRESENT | (raw ? TOKF_RAW : 0));
            pos += dl;
        }
        t->flags[id] |= (uint8_t)(TOKF_ADDED | (special ? TOKF_SPECIAL : 0));
        t->added[t->n_added] = (struct added){id, special};
        int32_t tok = (int32_t)t->n_added++;
        if (normalized && t->nfc) {
            utf8proc_uint8_t *nf = NULL;
            utf8proc_ssize_t nn = utf8proc_map((const utf8proc_uint8_t *)ae[i].s, (utf8proc_ssize_t)ae[i].n, &nf,
                                               UTF8PROC_STABLE | UTF8PROC_COMPOSE);
            if (nn <= 0) {
                free(nf);
                lfail(L, "added_tokens[%zu]: its content is not valid UTF-8", i);
                goto out;
            }
            int e = trie_add(&t->norm, nf, (size_t)nn, tok);
            free(nf);
            if (e) { lfail(L, "out of memory"); goto out; }
        } else if (trie_add(normalized ? &t->norm : &t->raw, (const unsigned char *)ae[i].s, ae[i].n, tok)) {
            lfail(L, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    free(ve);
    free(ae);
    return rc;
}

static rlvr_tokenizer *tok_new(void)
{
    rlvr_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->mctx = pcre2_match_context_create(NULL);
    if (!t->mctx) { free(t); return NULL; }
    pcre2_set_match_limit(t->mctx, MATCH_LIMIT);
    pcre2_set_depth_limit(t->mctx, DEPTH_LIMIT);
    return t;
}

int rlvr_tokenizer_load_json(const char *json, size_t len, const char *name, rlvr_tokenizer **out, char *err,
                             size_t err_len)
{
    struct loader L;
    memset(&L, 0, sizeof L);
    L.name = name ? name : "tokenizer.json";
    L.err = err;
    L.err_len = err_len;
    *out = NULL;
    if (!json && len) return lfail(&L, "no text");
    if (len > INT_MAX) return lfail(&L, "the file is larger than 2 GiB");
    unicode_to_byte_table(L.u2b);
    struct json_tokener *tok = json_tokener_new();
    if (!tok) return lfail(&L, "out of memory");
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT); /* no trailing commas, no single quotes */
    struct json_object *root = json_tokener_parse_ex(tok, json ? json : "", (int)len);
    enum json_tokener_error je = json_tokener_get_error(tok);
    size_t used = json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!root || je != json_tokener_success) {
        json_object_put(root);
        if (je == json_tokener_continue || (je == json_tokener_success && !root))
            return lfail(&L, "not valid JSON: the text ends early (truncated file?)");
        return lfail(&L, "not valid JSON: %s near byte %zu", json_tokener_error_desc(je), used);
    }
    for (size_t i = used; i < len; i++)
        if (!strchr(" \t\r\n", json[i])) {
            json_object_put(root);
            return lfail(&L, "not valid JSON: extra text after the value at byte %zu", i);
        }
    L.t = tok_new();
    if (!L.t) { json_object_put(root); return lfail(&L, "out of memory"); }
    L.t->kind = KIND_BPE;
    int rc = load_from_json(&L, root);
    json_object_put(root);
    rlvr_buf_free(&L.tmp);
    if (rc) { rlvr_tokenizer_free(L.t); return -1; }
    *out = L.t;
    return 0;
}

int rlvr_tokenizer_load(const char *path, rlvr_tokenizer **out, char *err, size_t err_len)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        rlvr_errf(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    rlvr_buf b = {0};
    char chunk[1 << 16];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) rlvr_buf_add(&b, chunk, n);
    int rd = ferror(f);
    fclose(f);
    if (rd || b.oom) {
        rlvr_buf_free(&b);
        rlvr_errf(err, err_len, "%s: %s", path, rd ? "read error" : "out of memory");
        return -1;
    }
    int rc = rlvr_tokenizer_load_json(b.ptr, b.len, path, out, err, err_len);
    rlvr_buf_free(&b);
    return rc;
}

static const char *const BYTES_SPECIALS[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>",
                                             "</think>", "<answer>", "</answer>"};

int rlvr_tokenizer_bytes(rlvr_tokenizer **out, char *err, size_t err_len)
{
    *out = NULL;
    rlvr_tokenizer *t = tok_new();
    size_t nsp = sizeof BYTES_SPECIALS / sizeof *BYTES_SPECIALS, arena = 256;
    for (size_t i = 0; i < nsp; i++) arena += strlen(BYTES_SPECIALS[i]);
    if (t) {
        t->kind = KIND_BYTES;
        t->n_ids = RLVR_TOK_BYTES_VOCAB;
        t->arena = malloc(arena);
        t->off = calloc(RLVR_TOK_BYTES_VOCAB, sizeof *t->off);
        t->len = calloc(RLVR_TOK_BYTES_VOCAB, sizeof *t->len);
        t->flags = calloc(RLVR_TOK_BYTES_VOCAB, 1);
        t->added = calloc(nsp, sizeof *t->added);
        t->vmap_mask = 511;
        t->vmap = malloc(512 * sizeof *t->vmap);
    }
    if (!t || !t->arena || !t->off || !t->len || !t->flags || !t->added || !t->vmap || trie_init(&t->raw)
        || trie_init(&t->norm)) {
        rlvr_tokenizer_free(t);
        rlvr_errf(err, err_len, "byte tokenizer: out of memory");
        return -1;
    }
    for (int i = 0; i < 512; i++) t->vmap[i] = -1;
    for (int b = 0; b < 256; b++) {
        t->arena[b] = (char)b;
        t->off[b] = (uint32_t)b;
        t->len[b] = 1;
        t->flags[b] = TOKF_PRESENT;
        t->byte_id[b] = b;
        vmap_insert(t, b);
    }
    size_t pos = 256;
    for (size_t i = 0; i < nsp; i++) {
        int32_t id = (int32_t)(256 + i);
        size_t n = strlen(BYTES_SPECIALS[i]);
        memcpy(t->arena + pos, BYTES_SPECIALS[i], n);
        t->off[id] = (uint32_t)pos;
        t->len[id] = (uint32_t)n;
        pos += n;
        int special = id <= RLVR_TOK_BYTES_IM_END;
        t->flags[id] = (uint8_t)(TOKF_PRESENT | TOKF_ADDED | (special ? TOKF_SPECIAL : 0));
        t->added[i] = (struct added){id, special};
        if (trie_add(&t->raw, (const unsigned char *)BYTES_SPECIALS[i], n, (int32_t)i)) {
            rlvr_tokenizer_free(t);
            rlvr_errf(err, err_len, "byte tokenizer: out of memory");
            return -1;
        }
    }
    t->n_added = nsp;
    *out = t;
    return 0;
}

/* ---- encoding ---------------------------------------------------------------------- */

struct sym {
    int32_t id, prev, next; /* id -1: merged into its left neighbour */
};
struct cand {
    uint32_t rank, pos;
    int32_t id;
};

/* Per-call state; nothing here is shared between threads. */
struct enc {
    const rlvr_tokenizer *t;
    rlvr_tok_ids *out;
    int allow_special;
    pcre2_match_data *md[MAX_STAGES];
    rlvr_buf pbuf[MAX_STAGES]; /* add_prefix_space copies */
    rlvr_buf nbuf;             /* NFC text of a segment */
    struct sym *sym;
    struct cand *heap;
    size_t cap;
    char *err;
    size_t err_len;
};

typedef int (*seg_fn)(struct enc *e, const char *s, size_t n);

static int efail(struct enc *e, const char *msg)
{
    rlvr_errf(e->err, e->err_len, "encode: %s", msg);
    return -1;
}

static int emit(struct enc *e, int32_t id)
{
    if (rlvr_tok_ids_push(e->out, id)) return efail(e, "out of memory");
    return 0;
}

static inline int cand_less(const struct cand *a, const struct cand *b)
{
    return a->rank < b->rank || (a->rank == b->rank && a->pos < b->pos);
}

static void heap_push(struct cand *h, size_t *n, struct cand c)
{
    size_t i = (*n)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!cand_less(&c, &h[p])) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = c;
}

static struct cand heap_pop(struct cand *h, size_t *n)
{
    struct cand top = h[0], last = h[--*n];
    size_t i = 0, m = *n;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, s = i;
        const struct cand *best = &last;
        if (l < m && cand_less(&h[l], best)) { s = l; best = &h[l]; }
        if (r < m && cand_less(&h[r], best)) s = r;
        if (s == i) break;
        h[i] = h[s];
        i = s;
    }
    if (m) h[i] = last;
    return top;
}

/* One pre-tokenized piece (its bytes) -> ids. */
static int bpe_piece(struct enc *e, const char *s, size_t n)
{
    const rlvr_tokenizer *t = e->t;
    const unsigned char *u = (const unsigned char *)s;
    if (n == 1) return emit(e, t->byte_id[u[0]]);
    if (t->ignore_merges) {
        int32_t id = vmap_find(t, s, n, 0);
        if (id >= 0) return emit(e, id);
    }
    if (n == 2) {
        const struct merge_slot *m = merge_find(t, t->byte_id[u[0]], t->byte_id[u[1]]);
        if (m) return emit(e, m->id);
        return emit(e, t->byte_id[u[0]]) || emit(e, t->byte_id[u[1]]);
    }
    if (n > e->cap) {
        size_t cap = e->cap ? e->cap : 64;
        while (cap < n) cap *= 2;
        struct sym *ns = realloc(e->sym, cap * sizeof *ns);
        if (ns) e->sym = ns;
        struct cand *nh = ns ? realloc(e->heap, cap * 2 * sizeof *nh) : NULL;
        if (!nh) return efail(e, "out of memory");
        e->heap = nh;
        e->cap = cap;
    }
    struct sym *sy = e->sym;
    struct cand *h = e->heap;
    size_t hn = 0;
    for (size_t i = 0; i < n; i++)
        sy[i] = (struct sym){t->byte_id[u[i]], (int32_t)i - 1, i + 1 < n ? (int32_t)i + 1 : -1};
    for (size_t i = 0; i + 1 < n; i++) {
        const struct merge_slot *m = merge_find(t, sy[i].id, sy[i + 1].id);
        if (m) heap_push(h, &hn, (struct cand){m->rank, (uint32_t)i, m->id});
    }
    /* Entries go stale when a neighbour merges first; one is used only if
     * the pair now at its position still merges into the same token (HF's
     * test), so the heap never holds more than ~2n entries at once: each
     * merge removes one and adds at most two, and merges are < n. */
    while (hn) {
        struct cand c = heap_pop(h, &hn);
        struct sym *a = &sy[c.pos];
        if (a->id < 0 || a->next < 0) continue;
        struct sym *b = &sy[a->next];
        const struct merge_slot *m = merge_find(t, a->id, b->id);
        if (!m || m->id != c.id) continue;
        a->id = c.id;
        b->id = -1;
        a->next = b->next;
        if (a->next >= 0) sy[a->next].prev = (int32_t)c.pos;
        if (a->prev >= 0 && (m = merge_find(t, sy[a->prev].id, a->id)))
            heap_push(h, &hn, (struct cand){m->rank, (uint32_t)a->prev, m->id});
        if (a->next >= 0 && (m = merge_find(t, a->id, sy[a->next].id)))
            heap_push(h, &hn, (struct cand){m->rank, c.pos, m->id});
    }
    if (ids_reserve(e->out, n)) return efail(e, "out of memory");
    for (int32_t i = 0; i >= 0; i = sy[i].next) e->out->v[e->out->n++] = sy[i].id;
    return 0;
}

/* Pre-tokenizer step k over one piece, then the next steps, then BPE. */
static int pre_step(struct enc *e, int k, const char *s, size_t n)
{
    const rlvr_tokenizer *t = e->t;
    if (n == 0) return 0;
    if (k == t->n_stages) return bpe_piece(e, s, n);
    const struct stage *st = &t->stage[k];
    if (st->prefix_space && s[0] != ' ') {
        rlvr_buf *pb = &e->pbuf[k];
        rlvr_buf_clear(pb);
        rlvr_buf_addc(pb, ' ');
        rlvr_buf_add(pb, s, n);
        if (pb->oom) return efail(e, "out of memory");
        s = pb->ptr;
        n = pb->len;
    }
    if (!st->re) return pre_step(e, k + 1, s, n);
    if (!e->md[k] && !(e->md[k] = pcre2_match_data_create_from_pattern(st->re, NULL)))
        return efail(e, "out of memory");
    PCRE2_SIZE off = 0, last = 0;
    while (off < n) {
        int rc = pcre2_match(st->re, (PCRE2_SPTR)s, n, off, PCRE2_NO_UTF_CHECK, e->md[k], t->mctx);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
            PCRE2_UCHAR msg[160];
            char full[240];
            pcre2_get_error_message(rc, msg, sizeof msg);
            snprintf(full, sizeof full, "pre_tokenizer step %d: %s", k, (const char *)msg);
            return efail(e, full);
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(e->md[k]);
        if (ov[1] == ov[0]) { /* an empty match yields nothing: step one character */
            off = ov[0] + 1;
            while (off < n && ((unsigned char)s[off] & 0xC0) == 0x80) off++;
            continue;
        }
        if (ov[0] > last && pre_step(e, k + 1, s + last, ov[0] - last)) return -1;
        if (pre_step(e, k + 1, s + ov[0], ov[1] - ov[0])) return -1;
        last = off = ov[1];
    }
    return last < n ? pre_step(e, k + 1, s + last, n - last) : 0;
}

static int seg_pre(struct enc *e, const char *s, size_t n) { return pre_step(e, 0, s, n); }

/* Cuts the tokens of trie tr out of s: the leftmost, then longest, match
 * wins; a special token that is not allowed stays text, and the search goes
 * on after it (HF skips such a match the same way). */
static int split_added(struct enc *e, const struct trie *tr, const char *s, size_t n, seg_fn seg)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t start = 0, pos = 0;
    if (tr->ntok == 0) return n ? seg(e, s, n) : 0;
    while (pos < n) {
        if (!tr->first[u[pos]]) { pos++; continue; }
        size_t ml = 0;
        int32_t k = trie_longest(tr, u + pos, n - pos, &ml);
        if (k < 0) { pos++; continue; }
        const struct added *a = &e->t->added[k];
        if (a->special && !e->allow_special) { pos += ml; continue; }
        if (pos > start && seg(e, s + start, pos - start)) return -1;
        if (emit(e, a->id)) return -1;
        start = pos = pos + ml;
    }
    return n > start ? seg(e, s + start, n - start) : 0;
}

/* A segment between raw-matched added tokens: NFC, then normalized tokens.
 * NFC is applied only to the stretches that can change: a run of code
 * points outside rlvr_tok_nfc_quick together with the one character
 * before it (which may absorb combining marks). Text can be normalised
 * piecewise at the start of any quick character (it has combining class 0
 * and never composes with what precedes it), so the rest is copied. */
static int seg_normalize(struct enc *e, const char *s, size_t n)
{
    const rlvr_tokenizer *t = e->t;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0, adv = 1, prev = 0, done = 0;
    if (!t->nfc) return split_added(e, &t->norm, s, n, seg_pre);
    rlvr_buf *nb = &e->nbuf;
    rlvr_buf_clear(nb);
    while (i < n) {
        if (u[i] < 0x80 || rlvr_tok_nfc_quick(utf8_next(u + i, &adv))) {
            if (u[i] < 0x80) adv = 1;
            prev = i;
            i += adv;
            continue;
        }
        size_t start = i > done ? prev : i, j = i;
        while (j < n && !(u[j] < 0x80 || rlvr_tok_nfc_quick(utf8_next(u + j, &adv)))) j += adv;
        utf8proc_uint8_t *nf = NULL;
        utf8proc_ssize_t nn = utf8proc_map(u + start, (utf8proc_ssize_t)(j - start), &nf,
                                           UTF8PROC_STABLE | UTF8PROC_COMPOSE);
        if (nn < 0) {
            free(nf);
            return efail(e, nn == UTF8PROC_ERROR_NOMEM ? "out of memory" : utf8proc_errmsg(nn));
        }
        rlvr_buf_add(nb, s + done, start - done);
        rlvr_buf_add(nb, nf, (size_t)nn);
        free(nf);
        done = i = j;
    }
    if (done == 0) return split_added(e, &t->norm, s, n, seg_pre);
    rlvr_buf_add(nb, s + done, n - done);
    if (nb->oom) return efail(e, "out of memory");
    return split_added(e, &t->norm, nb->ptr, nb->len, seg_pre);
}

static int seg_bytes(struct enc *e, const char *s, size_t n)
{
    if (ids_reserve(e->out, n)) return efail(e, "out of memory");
    for (size_t i = 0; i < n; i++) e->out->v[e->out->n++] = (unsigned char)s[i];
    return 0;
}

int rlvr_tok_encode(const rlvr_tokenizer *t, const char *text, size_t len, int allow_special,
                    rlvr_tok_ids *out, size_t *n_invalid, char *err, size_t err_len)
{
    if (n_invalid) *n_invalid = 0;
    if (!t || !out || (!text && len)) {
        rlvr_errf(err, err_len, "encode: no tokenizer, text or output");
        return -1;
    }
    struct enc e;
    memset(&e, 0, sizeof e);
    e.t = t;
    e.out = out;
    e.allow_special = allow_special;
    e.err = err;
    e.err_len = err_len;
    size_t n0 = out->n;
    rlvr_buf fixed = {0};
    const char *s = text ? text : "";
    if (!rlvr_utf8_valid(s, len, NULL)) {
        size_t bad = utf8_scan(s, len, t->kind == KIND_BPE ? &fixed : NULL);
        if (n_invalid) *n_invalid = bad;
        if (t->kind == KIND_BPE) {
            if (fixed.oom) { rlvr_buf_free(&fixed); return efail(&e, "out of memory"); }
            s = fixed.ptr;
            len = fixed.len;
        }
    }
    int rc = split_added(&e, &t->raw, s, len, t->kind == KIND_BPE ? seg_normalize : seg_bytes);
    rlvr_buf_free(&fixed);
    rlvr_buf_free(&e.nbuf);
    for (int k = 0; k < MAX_STAGES; k++) {
        pcre2_match_data_free(e.md[k]);
        rlvr_buf_free(&e.pbuf[k]);
    }
    free(e.sym);
    free(e.heap);
    if (rc) out->n = n0;
    return rc;
}

/* ---- decoding ---------------------------------------------------------------------- */

int rlvr_tok_decode(const rlvr_tokenizer *t, const int32_t *ids, size_t n, int skip_special, rlvr_buf *out,
                    char *err, size_t err_len)
{
    if (!t || !out || (!ids && n)) {
        rlvr_errf(err, err_len, "decode: no tokenizer, ids or output");
        return -1;
    }
    size_t n0 = out->len;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        if (id < 0 || id >= t->n_ids || !(t->flags[id] & TOKF_PRESENT)) {
            rlvr_errf(err, err_len, "decode: id %d (position %zu) has no token (vocabulary of %d ids)", id, i, t->n_ids);
            out->len = n0;
            if (out->ptr) out->ptr[n0] = 0;
            return -1;
        }
        if (skip_special && (t->flags[id] & TOKF_SPECIAL)) continue;
        rlvr_buf_add(out, t->arena + t->off[id], t->len[id]);
    }
    if (out->oom) {
        rlvr_errf(err, err_len, "decode: out of memory");
        return -1;
    }
    return 0;
}

/* ---- ChatML ---------------------------------------------------------------------- */

static int check_msgs(const rlvr_tok_chat_msg *m, size_t n, char *err, size_t err_len)
{
    if (!m && n) {
        rlvr_errf(err, err_len, "chat: no messages");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!m[i].role || !m[i].role[0] || strchr(m[i].role, '\n')) {
            rlvr_errf(err, err_len, "chat: message %zu has an empty role or one with a newline", i);
            return -1;
        }
        if (!m[i].content && m[i].content_len) {
            rlvr_errf(err, err_len, "chat: message %zu has no content", i);
            return -1;
        }
    }
    return 0;
}

int rlvr_tok_chatml_render(const rlvr_tok_chat_msg *msgs, size_t n, int add_generation_prompt, rlvr_buf *out,
                           char *err, size_t err_len)
{
    if (!out || check_msgs(msgs, n, err, err_len)) {
        if (!out) rlvr_errf(err, err_len, "chat: no output");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        rlvr_buf_adds(out, "<|im_start|>");
        rlvr_buf_adds(out, msgs[i].role);
        rlvr_buf_addc(out, '\n');
        rlvr_buf_add(out, msgs[i].content, msgs[i].content_len);
        rlvr_buf_adds(out, "<|im_end|>\n");
    }
    if (add_generation_prompt) rlvr_buf_adds(out, "<|im_start|>assistant\n");
    if (out->oom) {
        rlvr_errf(err, err_len, "chat: out of memory");
        return -1;
    }
    return 0;
}

int rlvr_tok_encode_chat(const rlvr_tokenizer *t, const rlvr_tok_chat_msg *msgs, size_t n,
                         int add_generation_prompt, rlvr_tok_ids *out, size_t *n_invalid, char *err,
                         size_t err_len)
{
    if (n_invalid) *n_invalid = 0;
    if (!t || !out) {
        rlvr_errf(err, err_len, "chat: no tokenizer or output");
        return -1;
    }
    if (check_msgs(msgs, n, err, err_len)) return -1;
    int32_t start = rlvr_tok_token_id(t, "<|im_start|>", 12), end = rlvr_tok_token_id(t, "<|im_end|>", 10);
    if (start < 0 || end < 0) {
        rlvr_errf(err, err_len, "chat: the tokenizer has no %s token", start < 0 ? "<|im_start|>" : "<|im_end|>");
        return -1;
    }
    size_t n0 = out->n, bad;
    rlvr_buf seg = {0};
    int rc = 0;
    /* Rendered, the text is START role\ncontent END \n ... [START assistant\n]:
     * control tokens by id, the text between them encoded as text. */
    for (size_t i = 0; i <= n && !rc; i++) {
        if (i == n && !add_generation_prompt) break;
        rlvr_buf_clear(&seg);
        rlvr_buf_adds(&seg, i < n ? msgs[i].role : "assistant");
        rlvr_buf_addc(&seg, '\n');
        if (i < n) rlvr_buf_add(&seg, msgs[i].content, msgs[i].content_len);
        if (seg.oom || rlvr_tok_ids_push(out, start)) {
            rlvr_errf(err, err_len, "chat: out of memory");
            rc = -1;
            break;
        }
        if ((rc = rlvr_tok_encode(t, seg.ptr, seg.len, 0, out, &bad, err, err_len))) break;
        if (n_invalid) *n_invalid += bad;
        if (i == n) break;
        if (rlvr_tok_ids_push(out, end)) {
            rlvr_errf(err, err_len, "chat: out of memory");
            rc = -1;
            break;
        }
        rc = rlvr_tok_encode(t, "\n", 1, 0, out, NULL, err, err_len);
    }
    rlvr_buf_free(&seg);
    if (rc) out->n = n0;
    return rc;
}
