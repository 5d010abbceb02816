/*
 * lpattern.c -- Lua 5.4 patterns (string.find/match/gmatch/gsub) with a time
 * budget, for sandboxed reward scripts.
 *
 * A pattern is first translated into a flat program of items (a run of
 * literal bytes, a one-byte class with an optional * + - ? suffix, a capture
 * open/close, %b, %f, a back-reference, the final $, the end), with every
 * bracket set or %-class turned into a 256-bit map; then a backtracking
 * interpreter runs the program over the subject.  Invariants that keep it
 * exactly equivalent to Lua 5.4's matcher:
 *   - Malformed constructs are not reported by the translation: it emits an
 *     error item at the first malformed construct and stops, and the error is
 *     raised only when matching reaches that item, as Lua does (Lua reports
 *     them lazily: string.find("abc", "x[") returns nil).
 *   - The interpreter recurses at exactly the places Lua's matcher does
 *     (captures, a matched '?', each attempt of * + -) and counts active
 *     frames; the 201st nested frame raises "pattern too complex".  Shortcuts
 *     that skip an attempt are taken only where the attempt would certainly
 *     fail without any observable effect (its first item needs a byte that is
 *     not there) and the depth limit is not yet reached.
 *   - Single-byte repetition is iterative, so the C stack use is bounded by
 *     that depth limit, not by the subject's length.
 * Every loop charges "steps" (one per item or byte tested; bulk memchr and
 * memcmp work at one per 16 bytes), and about every 1000 steps the state's
 * check function is called; it may raise a Lua error.  All matcher storage is
 * on the C stack or in Lua userdata, so such an error leaks nothing.  The
 * check pointer and the class maps live in a userdata that is upvalue 1 of
 * the installed functions, so each state has its own.
 */
#include "lpattern.h"

#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <lauxlib.h>
#include <lua.h>

#define LP_MAXCAPTURES 32 /* Lua's LUA_MAXCAPTURES */
#define LP_MAXDEPTH 200   /* Lua's MAXCCALLS for the matcher */
#define LP_TICK 1000      /* steps between calls of check */
#define LP_BULK 16        /* bytes of memchr/memcmp work per step */
#define LP_SMALL 48       /* patterns up to this length compile onto the stack */

#define CAP_OPEN (-1) /* capture length while the capture is unfinished */
#define CAP_POS (-2)  /* capture length of a position capture () */

enum lp_op {
    OP_END,   /* success: the pattern is exhausted */
    OP_STR,   /* literal bytes ptr[0..len) (a = ptr[0]) */
    OP_CHAR,  /* the byte a, with rep */
    OP_ANY,   /* any byte, with rep */
    OP_SET,   /* a byte in the map ptr, with rep */
    OP_OPEN,  /* '(' */
    OP_POS,   /* '()' */
    OP_CLOSE, /* ')' */
    OP_EOS,   /* final '$' */
    OP_BAL,   /* %bab */
    OP_FRONT, /* %f[set], map in ptr */
    OP_BREF,  /* %1-%9 (and %0, always an error): a = the digit */
    OP_ERR    /* a malformed construct: a = index into lp_errmsg */
};

static const char *const lp_errmsg[] = {
    "malformed pattern (ends with '%')",
    "malformed pattern (missing ']')",
    "malformed pattern (missing arguments to '%b')",
    "missing '[' after '%f' in pattern",
};
enum { ERR_ENDS, ERR_BRACKET, ERR_BAL, ERR_FRONT };

typedef struct lp_item {
    const unsigned char *ptr; /* OP_STR/OP_CHAR: the literal text; OP_SET/OP_FRONT: map */
    uint32_t len;             /* OP_STR/OP_CHAR: bytes of literal text */
    unsigned char op, rep;    /* rep: 0 or one of * + - ? */
    unsigned char a, b;
} lp_item;

typedef unsigned char lp_map[32];

/* Per-state context: upvalue 1 of every installed function. */
typedef struct lp_ctx {
    void (*check)(lua_State *L);
    lp_map cls[22]; /* %a %c %d %g %l %p %s %u %w %x %z, then their complements */
} lp_ctx;

/* %z (the zero byte) is deprecated but still in Lua 5.4. */
static const char lp_class_letters[] = "acdglpsuwxz";
#define LP_NCLASSES 11

typedef struct lp_cap {
    const char *init;
    ptrdiff_t len; /* >= 0, CAP_OPEN or CAP_POS */
} lp_cap;

typedef struct lp_match {
    lua_State *L;
    void (*check)(lua_State *L);
    const char *src, *end; /* the subject */
    ptrdiff_t budget;      /* steps left before the next check */
    int level;             /* captures in use */
    int depth;             /* nested interpreter frames */
    lp_cap cap[LP_MAXCAPTURES];
} lp_match;

static void lp_tick(lp_match *ms)
{
    ms->budget = LP_TICK;
    if (ms->check) ms->check(ms->L);
}

#define LP_STEP(ms, n)                                  \
    do {                                                \
        if (((ms)->budget -= (ptrdiff_t)(n)) <= 0) lp_tick(ms); \
    } while (0)

static void ms_init(lp_match *ms, lua_State *L, const lp_ctx *ctx, const char *s, size_t ls)
{
    ms->L = L;
    ms->check = ctx->check;
    ms->src = s;
    ms->end = s + ls;
    ms->budget = LP_TICK;
    ms->level = 0;
    ms->depth = 0;
}

/* ---------------------------------------------------------------- */
/* Translation of a pattern into items                               */

static int map_has(const unsigned char *map, unsigned char c)
{
    return (map[c >> 3] >> (c & 7)) & 1;
}

static void map_add(unsigned char *map, unsigned c)
{
    map[c >> 3] = (unsigned char)(map[c >> 3] | (1u << (c & 7)));
}

/* Adds the bytes lo..hi (none when lo > hi). */
static void map_add_range(unsigned char *map, unsigned lo, unsigned hi)
{
    while (lo <= hi && (lo & 7) != 0) map_add(map, lo++);
    while (lo + 7 <= hi) {
        map[lo >> 3] = 0xff;
        lo += 8;
    }
    while (lo <= hi) map_add(map, lo++);
}

/* Index into lp_ctx.cls of the class %cl, or -1 when %cl is the literal cl. */
static int class_index(unsigned char cl)
{
    int lower = tolower(cl);
    const char *q;
    if (lower == 0 || lower > 127) return -1;
    q = strchr(lp_class_letters, lower);
    if (!q) return -1;
    return (int)(q - lp_class_letters) + (isupper(cl) ? LP_NCLASSES : 0);
}

typedef struct lp_comp {
    const lp_ctx *ctx;
    lp_match *ms;   /* charged for the work (a pattern can be huge) */
    lp_item *items; /* NULL: only count items and maps */
    lp_map *maps;
    size_t n, nmaps;
    lp_item last;   /* the item most recently emitted (when n > 0) */
} lp_comp;

static void emit(lp_comp *c, lp_item it)
{
    /* A literal byte right after a literal run that ends just before it in
     * the pattern text extends the run (also for escapes: "%.a" is ".a"). */
    if (it.op == OP_CHAR && it.rep == 0 && c->n > 0 &&
        (c->last.op == OP_STR || (c->last.op == OP_CHAR && c->last.rep == 0)) &&
        c->last.ptr + c->last.len == it.ptr && c->last.len < UINT32_MAX) {
        c->last.op = OP_STR;
        c->last.len++;
        if (c->items) c->items[c->n - 1] = c->last;
        return;
    }
    c->last = it;
    if (c->items) c->items[c->n] = it;
    c->n++;
}

/* The end (one past ']') of the set starting at p ('['), or NULL if the set
 * is not closed.  The first byte (after an optional '^') is always a member,
 * so "[]]" is the set of ']'; "%x" escapes x. */
static const unsigned char *set_end(const unsigned char *p, const unsigned char *pe)
{
    const unsigned char *q = p + 1;
    if (*q == '^') q++;
    do {
        if (q == pe) return NULL;
        if (*q++ == '%' && q < pe) q++;
    } while (*q != ']');
    return q + 1;
}

/* The map of the set from p ('[') to close (its ']'). */
static const unsigned char *set_map(lp_comp *c, const unsigned char *p, const unsigned char *close)
{
    unsigned char *map;
    int negate = 0;
    if (!c->items) {
        c->nmaps++;
        return NULL;
    }
    map = c->maps[c->nmaps++];
    memset(map, 0, sizeof(lp_map));
    p++;
    if (*p == '^') {
        negate = 1;
        p++;
    }
    for (; p < close; p++) {
        if (*p == '%') {
            int k;
            p++;
            k = class_index(*p);
            if (k < 0) {
                map_add(map, *p);
            } else {
                for (int i = 0; i < 32; i++) map[i] |= c->ctx->cls[k][i];
                LP_STEP(c->ms, 2);
            }
        } else if (p[1] == '-' && p + 2 < close) {
            map_add_range(map, p[0], p[2]);
            LP_STEP(c->ms, 2);
            p += 2;
        } else {
            map_add(map, *p);
        }
    }
    if (negate)
        for (int i = 0; i < 32; i++) map[i] = (unsigned char)~map[i];
    return map;
}

static void emit_error(lp_comp *c, int code)
{
    lp_item it = {0};
    it.op = OP_ERR;
    it.a = (unsigned char)code;
    emit(c, it);
}

/* Translate p[0..pe) (with *pe readable, as Lua strings are NUL-terminated).
 * Ends with OP_END, or with OP_ERR at the first malformed construct. */
static void compile(lp_comp *c, const unsigned char *p, const unsigned char *pe)
{
    while (p < pe) {
        lp_item it = {0};
        const unsigned char *next;
        LP_STEP(c->ms, 1);
        switch (*p) {
        case '(':
            if (p[1] == ')') {
                it.op = OP_POS;
                p += 2;
            } else {
                it.op = OP_OPEN;
                p++;
            }
            emit(c, it);
            continue;
        case ')':
            it.op = OP_CLOSE;
            p++;
            emit(c, it);
            continue;
        case '$':
            if (p + 1 != pe) break; /* a literal '$' */
            it.op = OP_EOS;
            p++;
            emit(c, it);
            continue;
        case '%':
            if (p[1] == 'b') {
                if (p + 2 >= pe - 1) {
                    emit_error(c, ERR_BAL);
                    return;
                }
                it.op = OP_BAL;
                it.a = p[2];
                it.b = p[3];
                p += 4;
                emit(c, it);
                continue;
            }
            if (p[1] == 'f') {
                p += 2;
                if (*p != '[') {
                    emit_error(c, ERR_FRONT);
                    return;
                }
                next = set_end(p, pe);
                if (!next) {
                    emit_error(c, ERR_BRACKET);
                    return;
                }
                it.op = OP_FRONT;
                it.ptr = set_map(c, p, next - 1);
                p = next;
                emit(c, it);
                continue;
            }
            if (p[1] >= '0' && p[1] <= '9') {
                it.op = OP_BREF;
                it.a = p[1];
                p += 2;
                emit(c, it);
                continue;
            }
            break;
        default:
            break;
        }
        /* One byte class, then an optional repetition suffix. */
        if (*p == '%') {
            int k;
            if (p + 1 == pe) {
                emit_error(c, ERR_ENDS);
                return;
            }
            k = class_index(p[1]);
            if (k >= 0) {
                it.op = OP_SET;
                it.ptr = c->ctx->cls[k];
            } else {
                it.op = OP_CHAR;
                it.ptr = p + 1;
                it.len = 1;
                it.a = p[1];
            }
            next = p + 2;
        } else if (*p == '[') {
            next = set_end(p, pe);
            if (!next) {
                emit_error(c, ERR_BRACKET);
                return;
            }
            it.op = OP_SET;
            it.ptr = set_map(c, p, next - 1);
        } else if (*p == '.') {
            it.op = OP_ANY;
            next = p + 1;
        } else {
            it.op = OP_CHAR;
            it.ptr = p;
            it.len = 1;
            it.a = *p;
            next = p + 1;
        }
        if (*next == '*' || *next == '+' || *next == '-' || *next == '?') it.rep = *next++;
        p = next;
        emit(c, it);
    }
    {
        lp_item it = {0};
        it.op = OP_END;
        emit(c, it);
    }
}

/* Translate the pattern p[0..lp).  Short patterns go into the caller's
 * arrays (room for LP_SMALL + 1 items and LP_SMALL / 3 maps: every item
 * takes at least one byte, every map at least three); longer ones into a
 * userdata pushed onto the stack, sized by a counting pass. */
static const lp_item *prepare(lp_match *ms, const lp_ctx *ctx, const char *p, size_t lp,
                              lp_item *small_items, lp_map *small_maps)
{
    const unsigned char *up = (const unsigned char *)p;
    lp_comp c;
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.ms = ms;
    if (lp <= LP_SMALL) {
        c.items = small_items;
        c.maps = small_maps;
    } else {
        lp_item *items;
        compile(&c, up, up + lp);
        items = lua_newuserdatauv(ms->L, c.n * sizeof(lp_item) + c.nmaps * sizeof(lp_map), 0);
        c.maps = (lp_map *)(items + c.n);
        c.items = items;
        c.n = c.nmaps = 0;
    }
    compile(&c, up, up + lp);
    return c.items;
}

/* ---------------------------------------------------------------- */
/* The interpreter                                                   */

static int hit(const lp_item *it, unsigned char ch)
{
    switch (it->op) {
    case OP_CHAR: return ch == it->a;
    case OP_SET: return map_has(it->ptr, ch);
    default: return 1; /* OP_ANY */
    }
}

/* Whether the program from it could match at s; 0 only when its first item
 * needs one byte at s and that byte is not there (no effect is skipped). */
static int may_start(const lp_match *ms, const lp_item *it, const char *s)
{
    switch (it->op) {
    case OP_STR:
    case OP_BAL: return s < ms->end && (unsigned char)*s == it->a;
    case OP_CHAR:
    case OP_ANY:
    case OP_SET:
        if (it->rep != 0 && it->rep != '+') return 1;
        return s < ms->end && hit(it, (unsigned char)*s);
    default: return 1;
    }
}

/* The first position in [s, end] at which an attempt of the whole program
 * it could succeed, or NULL.  Leading captures are looked through: at most
 * LP_MAXCAPTURES of them cannot raise an error and undo themselves on failure. */
static const char *next_start(lp_match *ms, const lp_item *it, const char *s)
{
    const char *end = ms->end;
    for (int i = 0; i < LP_MAXCAPTURES && (it->op == OP_OPEN || it->op == OP_POS); i++) it++;
    if (it->op == OP_STR || it->op == OP_BAL ||
        (it->op == OP_CHAR && (it->rep == 0 || it->rep == '+'))) {
        const char *q = s < end ? memchr(s, it->a, (size_t)(end - s)) : NULL;
        LP_STEP(ms, 1 + ((q ? q : end) - s) / LP_BULK);
        return q;
    }
    if ((it->op == OP_SET || it->op == OP_ANY) && (it->rep == 0 || it->rep == '+')) {
        const char *q = s;
        while (q < end && !hit(it, (unsigned char)*q)) q++;
        LP_STEP(ms, 1 + (q - s));
        return q < end ? q : NULL;
    }
    return s;
}

/* How many bytes from s on the one-byte item it matches. */
static size_t span(lp_match *ms, const char *s, const lp_item *it)
{
    size_t n = (size_t)(ms->end - s), i = 0;
    switch (it->op) {
    case OP_ANY:
        LP_STEP(ms, 1 + n / LP_BULK);
        return n;
    case OP_CHAR:
        while (i < n && (unsigned char)s[i] == it->a) i++;
        break;
    default:
        while (i < n && map_has(it->ptr, (unsigned char)s[i])) i++;
        break;
    }
    LP_STEP(ms, 1 + i);
    return i;
}

static const char *run(lp_match *ms, const char *s, const lp_item *it);

/* it* (or it+ after its first byte): the longest repetition first. */
static const char *greedy(lp_match *ms, const char *s, const lp_item *it)
{
    size_t i = span(ms, s, it);
    const lp_item *next = it + 1;
    int filter = ms->depth < LP_MAXDEPTH;
    for (;;) {
        if (!filter || may_start(ms, next, s + i)) {
            const char *r = run(ms, s + i, next);
            if (r) return r;
        } else {
            LP_STEP(ms, 1);
        }
        if (i == 0) return NULL;
        i--;
    }
}

/* it-: the shortest repetition first. */
static const char *lazy(lp_match *ms, const char *s, const lp_item *it)
{
    const lp_item *next = it + 1;
    int filter = ms->depth < LP_MAXDEPTH;
    int jump = filter && it->op == OP_ANY &&
               (next->op == OP_STR || (next->op == OP_CHAR && (next->rep == 0 || next->rep == '+')));
    for (;;) {
        if (jump) { /* .- then a literal: go straight to its next occurrence */
            const char *q = s < ms->end ? memchr(s, next->a, (size_t)(ms->end - s)) : NULL;
            LP_STEP(ms, 1 + ((q ? q : ms->end) - s) / LP_BULK);
            if (!q) return NULL;
            s = q;
        }
        if (!filter || may_start(ms, next, s)) {
            const char *r = run(ms, s, next);
            if (r) return r;
        } else {
            LP_STEP(ms, 1);
        }
        if (s < ms->end && hit(it, (unsigned char)*s))
            s++;
        else
            return NULL;
    }
}

static int lookup_close(lp_match *ms)
{
    for (int l = ms->level - 1; l >= 0; l--)
        if (ms->cap[l].len == CAP_OPEN) return l;
    return luaL_error(ms->L, "invalid pattern capture");
}

/* Match the program from it against the subject from s: the end of the
 * match, or NULL.  One call is one of the frames the depth limit counts. */
static const char *run(lp_match *ms, const char *s, const lp_item *it)
{
    if (ms->depth >= LP_MAXDEPTH) luaL_error(ms->L, "pattern too complex");
    ms->depth++;
    for (;;) {
        LP_STEP(ms, 1);
        switch (it->op) {
        case OP_END:
            goto out;
        case OP_STR:
            if ((size_t)(ms->end - s) < it->len || memcmp(s, it->ptr, it->len) != 0) goto fail;
            if (it->len > LP_BULK) LP_STEP(ms, it->len / LP_BULK);
            s += it->len;
            it++;
            continue;
        case OP_OPEN:
        case OP_POS: {
            int l = ms->level;
            if (l >= LP_MAXCAPTURES) luaL_error(ms->L, "too many captures");
            ms->cap[l].init = s;
            ms->cap[l].len = it->op == OP_POS ? CAP_POS : CAP_OPEN;
            ms->level = l + 1;
            s = run(ms, s, it + 1);
            if (!s) ms->level--;
            goto out;
        }
        case OP_CLOSE: {
            int l = lookup_close(ms);
            ms->cap[l].len = s - ms->cap[l].init;
            s = run(ms, s, it + 1);
            if (!s) ms->cap[l].len = CAP_OPEN;
            goto out;
        }
        case OP_EOS:
            if (s != ms->end) goto fail;
            it++;
            continue;
        case OP_BAL: {
            const char *q;
            int open = 1;
            if (s >= ms->end || (unsigned char)*s != it->a) goto fail;
            for (q = s + 1; q < ms->end; q++) {
                unsigned char ch = (unsigned char)*q;
                if (ch == it->b) {
                    if (--open == 0) break;
                } else if (ch == it->a) {
                    open++;
                }
            }
            LP_STEP(ms, q - s);
            if (q >= ms->end) goto fail;
            s = q + 1;
            it++;
            continue;
        }
        case OP_FRONT: {
            unsigned char before = s == ms->src ? 0 : (unsigned char)s[-1];
            unsigned char at = s < ms->end ? (unsigned char)*s : 0;
            if (map_has(it->ptr, before) || !map_has(it->ptr, at)) goto fail;
            it++;
            continue;
        }
        case OP_BREF: {
            int l = it->a - '1';
            ptrdiff_t len;
            if (l < 0 || l >= ms->level || ms->cap[l].len == CAP_OPEN)
                luaL_error(ms->L, "invalid capture index %%%d", l + 1);
            len = ms->cap[l].len;
            if (len < 0 || ms->end - s < len || memcmp(ms->cap[l].init, s, (size_t)len) != 0)
                goto fail; /* a position capture never matches */
            LP_STEP(ms, len / LP_BULK);
            s += len;
            it++;
            continue;
        }
        case OP_ERR:
            luaL_error(ms->L, "%s", lp_errmsg[it->a]);
            goto fail;
        default: { /* OP_CHAR, OP_ANY, OP_SET */
            int h = s < ms->end && hit(it, (unsigned char)*s);
            switch (it->rep) {
            case 0:
                if (!h) goto fail;
                s++;
                it++;
                continue;
            case '?':
                if (h) {
                    const char *r = run(ms, s + 1, it + 1);
                    if (r) {
                        s = r;
                        goto out;
                    }
                }
                it++;
                continue;
            case '+':
                if (!h) goto fail;
                s = greedy(ms, s + 1, it);
                goto out;
            case '*':
                if (!h) {
                    it++;
                    continue;
                }
                s = greedy(ms, s, it);
                goto out;
            default: /* '-' */
                if (!h) {
                    it++;
                    continue;
                }
                s = lazy(ms, s, it);
                goto out;
            }
        }
        }
    }
fail:
    s = NULL;
out:
    ms->depth--;
    return s;
}

/* One attempt at s from a fresh state. */
static const char *attempt(lp_match *ms, const char *s, const lp_item *prog)
{
    ms->level = 0;
    ms->depth = 0;
    return run(ms, s, prog);
}

/* ---------------------------------------------------------------- */
/* Captures as Lua values                                            */

/* Capture i of the match [s, e): pushes a position capture's integer and
 * returns CAP_POS, else sets *text and returns the length.  Capture 0 of a
 * pattern without captures is the whole match. */
static ptrdiff_t capture(lp_match *ms, int i, const char *s, const char *e, const char **text)
{
    if (i >= ms->level) {
        if (i != 0) luaL_error(ms->L, "invalid capture index %%%d", i + 1);
        *text = s;
        return e - s;
    }
    *text = ms->cap[i].init;
    if (ms->cap[i].len == CAP_OPEN) luaL_error(ms->L, "unfinished capture");
    if (ms->cap[i].len == CAP_POS)
        lua_pushinteger(ms->L, (lua_Integer)(ms->cap[i].init - ms->src) + 1);
    return ms->cap[i].len;
}

static void push_capture(lp_match *ms, int i, const char *s, const char *e)
{
    const char *text;
    ptrdiff_t len = capture(ms, i, s, e, &text);
    if (len != CAP_POS) lua_pushlstring(ms->L, text, (size_t)len);
}

/* Pushes every capture (or the whole match when there are none and s is
 * not NULL); returns how many. */
static int push_captures(lp_match *ms, const char *s, const char *e)
{
    int n = (ms->level == 0 && s) ? 1 : ms->level;
    luaL_checkstack(ms->L, n, "too many captures");
    for (int i = 0; i < n; i++) push_capture(ms, i, s, e);
    return n;
}

/* ---------------------------------------------------------------- */
/* The library functions                                             */

/* Lua's rule for a start position: 1-based, negative from the end, clipped
 * below at 1; returns the 0-based offset (may exceed ls). */
static size_t start_offset(lua_Integer pos, size_t ls)
{
    if (pos > 0) return (size_t)pos - 1;
    if (pos == 0 || pos < -(lua_Integer)ls) return 0;
    return ls + (size_t)pos;
}

static int has_specials(const char *p, size_t lp)
{
    for (size_t i = 0; i < lp; i++) {
        switch (p[i]) {
        case '^': case '$': case '*': case '+': case '?':
        case '.': case '(': case '[': case '%': case '-':
            return 1;
        default:
            break;
        }
    }
    return 0;
}

/* The first occurrence of n[0..nl) in h[0..hl), or NULL. */
static const char *plain_find(lp_match *ms, const char *h, size_t hl, const char *n, size_t nl)
{
    const char *last, *q;
    if (nl == 0) return h;
    if (nl > hl) return NULL;
    last = h + (hl - nl);
    for (q = h; q <= last; q++) {
        const char *c = memchr(q, (unsigned char)n[0], (size_t)(last - q) + 1);
        LP_STEP(ms, 1 + ((c ? c : last) - q) / LP_BULK);
        if (!c) return NULL;
        LP_STEP(ms, nl / LP_BULK);
        if (memcmp(c + 1, n + 1, nl - 1) == 0) return c;
        q = c;
    }
    return NULL;
}

/* find/match with a pattern: the search from offset init. */
static int find_pattern(lp_match *ms, const lp_ctx *ctx, const char *p, size_t lp, size_t init,
                        int find)
{
    lp_item small_items[LP_SMALL + 1];
    lp_map small_maps[LP_SMALL / 3];
    lua_State *L = ms->L;
    int anchor = lp > 0 && *p == '^';
    const lp_item *prog;
    const char *s1 = ms->src + init;
    if (anchor) {
        p++;
        lp--;
    }
    prog = prepare(ms, ctx, p, lp, small_items, small_maps);
    for (;;) {
        const char *c1 = next_start(ms, prog, s1), *e;
        if (!c1 || (anchor && c1 != s1)) break;
        s1 = c1;
        e = attempt(ms, s1, prog);
        if (e) {
            if (!find) return push_captures(ms, s1, e);
            lua_pushinteger(L, (lua_Integer)(s1 - ms->src) + 1);
            lua_pushinteger(L, (lua_Integer)(e - ms->src));
            return push_captures(ms, NULL, NULL) + 2;
        }
        if (anchor || s1 >= ms->end) break;
        s1++;
    }
    luaL_pushfail(L);
    return 1;
}

static int find_or_match(lua_State *L, int find)
{
    const lp_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    lp_match ms;
    if (init > ls) {
        luaL_pushfail(L);
        return 1;
    }
    ms_init(&ms, L, ctx, s, ls);
    if (!find || !(lua_toboolean(L, 4) || !has_specials(p, lp)))
        return find_pattern(&ms, ctx, p, lp, init, find);
    {
        const char *at = plain_find(&ms, s + init, ls - init, p, lp);
        if (at) {
            lua_pushinteger(L, (lua_Integer)(at - s) + 1);
            lua_pushinteger(L, (lua_Integer)(at - s) + (lua_Integer)lp);
            return 2;
        }
    }
    luaL_pushfail(L);
    return 1;
}

static int lp_find(lua_State *L) { return find_or_match(L, 1); }
static int lp_match_fn(lua_State *L) { return find_or_match(L, 0); }

/* gmatch's iterator state; the program follows it in the same userdata. */
typedef struct lp_gmatch {
    lp_match ms;
    size_t pos;            /* offset where the next search starts; > length: done */
    const char *lastmatch; /* end of the previous match, or NULL */
    const lp_item *prog;
    lp_item items[];       /* then the maps */
} lp_gmatch;

static int gmatch_step(lua_State *L)
{
    lp_gmatch *gm = lua_touserdata(L, lua_upvalueindex(3));
    lp_match *ms = &gm->ms;
    size_t ls = (size_t)(ms->end - ms->src);
    const char *src;
    ms->L = L;
    ms->budget = LP_TICK;
    if (gm->pos > ls) return 0;
    for (src = ms->src + gm->pos;; src++) {
        const char *e;
        src = next_start(ms, gm->prog, src);
        if (!src) break;
        e = attempt(ms, src, gm->prog);
        if (e && e != gm->lastmatch) {
            gm->pos = (size_t)(e - ms->src);
            gm->lastmatch = e;
            return push_captures(ms, src, e);
        }
        if (src >= ms->end) break;
    }
    gm->pos = ls + 1;
    return 0;
}

static int lp_gmatch_fn(lua_State *L)
{
    const lp_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    size_t init = start_offset(luaL_optinteger(L, 3, 1), ls);
    const unsigned char *up = (const unsigned char *)p;
    lp_gmatch *gm;
    lp_comp c;
    lp_match budget;
    lua_settop(L, 2); /* the closure keeps s and p alive */
    ms_init(&budget, L, ctx, s, ls);
    memset(&c, 0, sizeof c);
    c.ctx = ctx;
    c.ms = &budget;
    compile(&c, up, up + lp);
    gm = lua_newuserdatauv(L, sizeof(lp_gmatch) + c.n * sizeof(lp_item) + c.nmaps * sizeof(lp_map), 0);
    c.items = gm->items;
    c.maps = (lp_map *)(gm->items + c.n);
    c.n = c.nmaps = 0;
    compile(&c, up, up + lp); /* '^' is no anchor for gmatch */
    ms_init(&gm->ms, L, ctx, s, ls);
    gm->pos = init > ls ? ls + 1 : init;
    gm->lastmatch = NULL;
    gm->prog = gm->items;
    lua_pushvalue(L, lua_upvalueindex(1)); /* the maps of %-classes live there */
    lua_pushcclosure(L, gmatch_step, 4);
    return 1;
}

/* Appends the string replacement (argument 3) for the match [s, e). */
static void add_template(lp_match *ms, luaL_Buffer *b, const char *s, const char *e)
{
    lua_State *L = ms->L;
    size_t l;
    const char *r = lua_tolstring(L, 3, &l);
    const char *rend = r + l, *pc;
    while ((pc = memchr(r, '%', (size_t)(rend - r))) != NULL) {
        unsigned char d = (unsigned char)pc[1]; /* the NUL after the string at worst */
        luaL_addlstring(b, r, (size_t)(pc - r));
        if (d == '%') {
            luaL_addchar(b, '%');
        } else if (d == '0') {
            luaL_addlstring(b, s, (size_t)(e - s));
        } else if (d >= '1' && d <= '9') {
            const char *text;
            ptrdiff_t len = capture(ms, d - '1', s, e, &text);
            if (len == CAP_POS)
                luaL_addvalue(b);
            else
                luaL_addlstring(b, text, (size_t)len);
        } else {
            luaL_error(L, "invalid use of '%%' in replacement string");
        }
        r = pc + 2;
    }
    luaL_addlstring(b, r, (size_t)(rend - r));
}

/* Appends the replacement for the match [s, e); returns 0 when the match
 * was kept as it was (a false or nil replacement value). */
static int add_replacement(lp_match *ms, luaL_Buffer *b, const char *s, const char *e, int type)
{
    lua_State *L = ms->L;
    if (type == LUA_TFUNCTION) {
        int n;
        lua_pushvalue(L, 3);
        n = push_captures(ms, s, e);
        lua_call(L, n, 1);
    } else if (type == LUA_TTABLE) {
        push_capture(ms, 0, s, e);
        lua_gettable(L, 3);
    } else {
        add_template(ms, b, s, e);
        return 1;
    }
    if (!lua_toboolean(L, -1)) {
        lua_pop(L, 1);
        luaL_addlstring(b, s, (size_t)(e - s));
        return 0;
    }
    if (!lua_isstring(L, -1))
        return luaL_error(L, "invalid replacement value (a %s)", luaL_typename(L, -1));
    luaL_addvalue(b);
    return 1;
}

static int lp_gsub(lua_State *L)
{
    const lp_ctx *ctx = lua_touserdata(L, lua_upvalueindex(1));
    size_t ls, lp;
    const char *s = luaL_checklstring(L, 1, &ls);
    const char *p = luaL_checklstring(L, 2, &lp);
    int type = lua_type(L, 3);
    lua_Integer max = luaL_optinteger(L, 4, (lua_Integer)ls + 1);
    int anchor = lp > 0 && *p == '^';
    lua_Integer n = 0;
    int changed = 0;
    const char *src = s, *lastmatch = NULL;
    lp_item small_items[LP_SMALL + 1];
    lp_map small_maps[LP_SMALL / 3];
    const lp_item *prog;
    lp_match ms;
    luaL_Buffer b;
    luaL_argexpected(L, type == LUA_TNUMBER || type == LUA_TSTRING || type == LUA_TFUNCTION ||
                         type == LUA_TTABLE,
                     3, "string/function/table");
    if (anchor) {
        p++;
        lp--;
    }
    ms_init(&ms, L, ctx, s, ls);
    prog = prepare(&ms, ctx, p, lp, small_items, small_maps);
    luaL_buffinit(L, &b);
    while (n < max) {
        const char *e;
        if (!anchor) {
            const char *c1 = next_start(&ms, prog, src);
            if (!c1) break; /* no match in the rest, which is appended below */
            luaL_addlstring(&b, src, (size_t)(c1 - src));
            src = c1;
        }
        e = attempt(&ms, src, prog);
        if (e && e != lastmatch) {
            n++;
            changed |= add_replacement(&ms, &b, src, e, type);
            src = lastmatch = e;
        } else if (src < ms.end) {
            luaL_addchar(&b, *src++);
        } else {
            break;
        }
        if (anchor) break;
    }
    if (!changed) {
        lua_pushvalue(L, 1);
    } else {
        luaL_addlstring(&b, src, (size_t)(ms.end - src));
        luaL_pushresult(&b);
    }
    lua_pushinteger(L, n);
    return 2;
}

/* ---------------------------------------------------------------- */

static void set_functions(lua_State *L, int table, int ctx)
{
    static const struct {
        const char *name;
        lua_CFunction fn;
    } fns[] = {{"find", lp_find}, {"match", lp_match_fn}, {"gmatch", lp_gmatch_fn}, {"gsub", lp_gsub}};
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        lua_pushvalue(L, ctx);
        lua_pushcclosure(L, fns[i].fn, 1);
        lua_setfield(L, table, fns[i].name);
    }
}

void rlvr_lpattern_install(lua_State *L, void (*check)(lua_State *L))
{
    int top = lua_gettop(L);
    lp_ctx *ctx = lua_newuserdatauv(L, sizeof *ctx, 0);
    int ctx_idx = lua_gettop(L);
    memset(ctx, 0, sizeof *ctx);
    ctx->check = check;
    for (int k = 0; k < LP_NCLASSES; k++) {
        for (unsigned ch = 0; ch < 256; ch++) {
            int in;
            switch (lp_class_letters[k]) {
            case 'a': in = isalpha((int)ch); break;
            case 'c': in = iscntrl((int)ch); break;
            case 'd': in = isdigit((int)ch); break;
            case 'g': in = isgraph((int)ch); break;
            case 'l': in = islower((int)ch); break;
            case 'p': in = ispunct((int)ch); break;
            case 's': in = isspace((int)ch); break;
            case 'u': in = isupper((int)ch); break;
            case 'w': in = isalnum((int)ch); break;
            case 'x': in = isxdigit((int)ch); break;
            default: in = ch == 0; break; /* 'z' */
            }
            map_add(in ? ctx->cls[k] : ctx->cls[k + LP_NCLASSES], ch);
        }
    }
    if (lua_getglobal(L, "string") == LUA_TTABLE) set_functions(L, lua_gettop(L), ctx_idx);
    /* Strings' __index, should it be a table other than the global one. */
    lua_pushliteral(L, "");
    if (lua_getmetatable(L, -1) && lua_getfield(L, -1, "__index") == LUA_TTABLE &&
        !lua_rawequal(L, -1, top + 2))
        set_functions(L, lua_gettop(L), ctx_idx);
    lua_settop(L, top);
}
