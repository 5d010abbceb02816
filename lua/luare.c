/*
 * luare.c -- rlvr.re: PCRE2 regular expressions for Lua scripts.
 *
 *   local re = rlvr.re.compile("<answer>(.*?)</answer>", "s")
 *   re:match(s [, init])      -> captures, or the whole match without groups; nil
 *   re:find(s [, init])       -> start, end (1-based, inclusive), captures; nil
 *   re:gmatch(s)              -> iterator giving what :match gives
 *   re:gsub(s, repl [, n])    -> new string, number of replacements
 *   rlvr.re.match/find(s, pattern [, init]), rlvr.re.gmatch(s, pattern),
 *   rlvr.re.gsub(s, pattern, repl [, n]) compile through a small cache.
 *
 * Patterns are UTF-8 with Unicode properties (PCRE2_UTF | PCRE2_UCP); flags
 * are letters: i (caseless), m (multiline), s (dot matches newline), x
 * (extended). Positions are byte offsets as in Lua; a negative init counts
 * from the end. A group that did not take part in the match gives false.
 * gsub's repl is a string where %0 is the whole match, %1-%9 the groups and
 * %% a percent sign (Lua's convention, not $1); a table indexed by the first
 * group (or the whole match); or a function called with the groups (or the
 * whole match). A false or nil result keeps the match as it was. After an
 * empty match the next one may not be empty at the same place (Perl's rule).
 *
 * Cost bounds. Every match runs under a match limit (RLVR_RE_MATCH_LIMIT
 * backtracking steps), a depth limit and a heap limit, each per start
 * position: a catastrophic pattern such as (a+)+$ raises "match limit
 * exceeded" instead of running for ages. PCRE2 starts those budgets afresh
 * at every start position, so a subject with many costly positions could
 * still take long: every pattern is therefore compiled with a callout
 * (?C255) in front (after any leading (*VERB) settings), which PCRE2 calls
 * at each start position it tries, and that callout reads the clock now and
 * then and stops the match when the state's deadline has passed; the
 * overrun is then raised like any other (rlvr_lua_check_deadline). The
 * subject is checked for valid UTF-8 once per call (invalid UTF-8 is an
 * error naming the byte); later matches of the same gmatch/gsub skip it.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include "rlvr_lua_int.h"

#include <pcre2.h>

#include <stdlib.h>
#include <string.h>

#define REGEX_MT "rlvr.regex"
#define CACHE_KEY "rlvr.re.cache"
#define RLVR_RE_MATCH_LIMIT 1000000u
#define RLVR_RE_DEPTH_LIMIT 10000u
#define RLVR_RE_HEAP_KIB 16384u
#define CALLOUT "(?C255)"
#define NOPOS ((size_t)-1)

typedef struct lregex {
    pcre2_code *code;
    pcre2_match_data *md;
    pcre2_match_context *mctx;
    uint32_t ncap;    /* capture groups */
    unsigned ticks;   /* callouts seen (the clock is read every 8th) */
    lua_State *L;     /* the thread matching now, for the callout */
    int expired;      /* the callout stopped the match on the deadline */
} lregex;

static int re_gc(lua_State *L)
{
    lregex *r = luaL_checkudata(L, 1, REGEX_MT);
    pcre2_match_data_free(r->md);
    pcre2_match_context_free(r->mctx);
    pcre2_code_free(r->code);
    r->md = NULL;
    r->mctx = NULL;
    r->code = NULL;
    return 0;
}

static lregex *check_regex(lua_State *L, int idx)
{
    lregex *r = luaL_checkudata(L, idx, REGEX_MT);
    if (!r->code) luaL_error(L, "rlvr.re: the regex was released");
    return r;
}

static int re_callout(pcre2_callout_block *blk, void *data)
{
    (void)blk;
    lregex *r = data;
    if ((++r->ticks & 7) != 0) return 0;
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(r->L);
    if (c->armed > 0 && rlvr_lua_now_ns() >= c->deadline_ns) {
        r->expired = 1;
        return PCRE2_ERROR_CALLOUT;
    }
    return 0;
}

/* Length of the leading "(*NAME)" settings, which must stay first. */
static size_t leading_settings(const char *p, size_t n)
{
    static const char *const names[] = {
        "UTF)", "UTF8)", "UCP)", "NOTEMPTY)", "NOTEMPTY_ATSTART)", "NO_AUTO_POSSESS)",
        "NO_DOTSTAR_ANCHOR)", "NO_JIT)", "NO_START_OPT)", "CR)", "LF)", "CRLF)", "ANYCRLF)",
        "ANY)", "NUL)", "BSR_ANYCRLF)", "BSR_UNICODE)", "LIMIT_", NULL};
    size_t at = 0;
    for (;;) {
        if (n - at < 3 || p[at] != '(' || p[at + 1] != '*') return at;
        const char *q = p + at + 2;
        size_t rest = n - at - 2;
        int known = 0;
        for (int i = 0; names[i] && !known; i++) {
            size_t l = strlen(names[i]);
            known = rest >= l && memcmp(q, names[i], l) == 0;
        }
        if (!known) return at;
        const char *close = memchr(q, ')', rest);
        if (!close) return at;
        at = (size_t)(close - p) + 1;
    }
}

static lregex *re_compile(lua_State *L, const char *pat, size_t plen, const char *flags)
{
    uint32_t opts = PCRE2_UTF | PCRE2_UCP;
    for (const char *f = flags; f && *f; f++) {
        switch (*f) {
        case 'i': opts |= PCRE2_CASELESS; break;
        case 'm': opts |= PCRE2_MULTILINE; break;
        case 's': opts |= PCRE2_DOTALL; break;
        case 'x': opts |= PCRE2_EXTENDED; break;
        default: luaL_error(L, "rlvr.re: unknown flag '%c' (known: i, m, s, x)", *f);
        }
    }
    lregex *r = lua_newuserdatauv(L, sizeof *r, 0);
    memset(r, 0, sizeof *r);
    luaL_setmetatable(L, REGEX_MT);

    size_t ins = leading_settings(pat, plen), cl = strlen(CALLOUT);
    char *full = malloc(plen + cl + 1);
    if (!full) luaL_error(L, "rlvr.re: out of memory");
    memcpy(full, pat, ins);
    memcpy(full + ins, CALLOUT, cl);
    memcpy(full + ins + cl, pat + ins, plen - ins);
    int code;
    PCRE2_SIZE off;
    r->code = pcre2_compile((PCRE2_SPTR)full, plen + cl, opts, &code, &off, NULL);
    free(full);
    if (!r->code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(code, msg, sizeof msg);
        if (off >= ins + cl) off -= cl;
        else if (off > ins) off = ins;
        luaL_error(L, "rlvr.re: %s at offset %d of the pattern", (const char *)msg, (int)off);
    }
    pcre2_pattern_info(r->code, PCRE2_INFO_CAPTURECOUNT, &r->ncap);
    r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    r->mctx = pcre2_match_context_create(NULL);
    if (!r->md || !r->mctx) luaL_error(L, "rlvr.re: out of memory");
    pcre2_set_match_limit(r->mctx, RLVR_RE_MATCH_LIMIT);
    pcre2_set_depth_limit(r->mctx, RLVR_RE_DEPTH_LIMIT);
    pcre2_set_heap_limit(r->mctx, RLVR_RE_HEAP_KIB);
    pcre2_set_callout(r->mctx, re_callout, r);
    return r;
}

/* The regex for pattern at idx (compiled once, then cached weakly), pushed. */
static lregex *cached(lua_State *L, int idx)
{
    size_t plen;
    const char *pat = luaL_checklstring(L, idx, &plen);
    lua_getfield(L, LUA_REGISTRYINDEX, CACHE_KEY);
    lua_pushvalue(L, idx);
    if (lua_rawget(L, -2) == LUA_TUSERDATA) {
        lua_remove(L, -2);
        return check_regex(L, -1);
    }
    lua_pop(L, 1);
    lregex *r = re_compile(L, pat, plen, NULL);
    lua_pushvalue(L, idx);
    lua_pushvalue(L, -2);
    lua_rawset(L, -4);
    lua_remove(L, -2);
    return r;
}

/* One pcre2_match: 1 on a match (offsets in r->md), 0 on none; raises on
 * errors, limits and the deadline. */
static int re_exec(lua_State *L, lregex *r, const char *s, size_t len, size_t off, uint32_t opts)
{
    r->L = L;
    r->expired = 0;
    int rc = pcre2_match(r->code, (PCRE2_SPTR)s, len, off, opts, r->md, r->mctx);
    if (rc >= 0) return 1;
    if (rc == PCRE2_ERROR_NOMATCH || rc == PCRE2_ERROR_PARTIAL) return 0;
    if (r->expired) {
        rlvr_lua_check_deadline(L);
        luaL_error(L, "rlvr.re: stopped at the deadline");
    }
    PCRE2_UCHAR msg[256];
    pcre2_get_error_message(rc, msg, sizeof msg);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT || rc == PCRE2_ERROR_HEAPLIMIT)
        luaL_error(L, "rlvr.re: %s (the pattern backtracks too much on this subject)",
                   (const char *)msg);
    if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21)
        luaL_error(L, "rlvr.re: the subject is not valid UTF-8 at byte %d (%s)",
                   (int)pcre2_get_startchar(r->md) + 1, (const char *)msg);
    luaL_error(L, "rlvr.re: %s", (const char *)msg);
    return 0;
}

static size_t get_init(lua_State *L, int arg, size_t len)
{
    lua_Integer i = luaL_optinteger(L, arg, 1);
    if (i > 0) return (lua_Unsigned)i - 1 > len ? NOPOS : (size_t)i - 1;
    if (i == 0) return 0;
    lua_Unsigned back = (lua_Unsigned)0 - (lua_Unsigned)i;
    return back > len ? 0 : len - (size_t)back;
}

/* Pushes the groups (false when unset), or the whole match without groups. */
static int push_captures(lua_State *L, lregex *r, const char *s, int whole)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    if (r->ncap == 0 || whole) {
        size_t a = ov[0], b = ov[1] > ov[0] ? ov[1] : ov[0];
        lua_pushlstring(L, s + a, b - a);
        return 1;
    }
    luaL_checkstack(L, (int)r->ncap, "rlvr.re: too many groups");
    for (uint32_t i = 1; i <= r->ncap; i++) {
        if (ov[2 * i] == PCRE2_UNSET) lua_pushboolean(L, 0);
        else lua_pushlstring(L, s + ov[2 * i], ov[2 * i + 1] - ov[2 * i]);
    }
    return (int)r->ncap;
}

static size_t char_len(const char *s, size_t pos, size_t len)
{
    unsigned char c = (unsigned char)s[pos];
    size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    return k > len - pos ? len - pos : k;
}

static int do_match(lua_State *L, lregex *r, int sarg, int iarg, int find)
{
    size_t len;
    const char *s = luaL_checklstring(L, sarg, &len);
    size_t off = get_init(L, iarg, len);
    if (off == NOPOS || !re_exec(L, r, s, len, off, 0)) {
        lua_pushnil(L);
        return 1;
    }
    if (!find) return push_captures(L, r, s, 0);
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    lua_pushinteger(L, (lua_Integer)ov[0] + 1);
    lua_pushinteger(L, (lua_Integer)(ov[1] > ov[0] ? ov[1] : ov[0]));
    return r->ncap ? 2 + push_captures(L, r, s, 0) : 2;
}

/* Upvalues: regex, subject, next offset, flags (1: last match empty, 2:
 * subject checked). */
static int gmatch_iter(lua_State *L)
{
    lregex *r = check_regex(L, lua_upvalueindex(1));
    size_t len;
    const char *s = lua_tolstring(L, lua_upvalueindex(2), &len);
    lua_Integer pos = lua_tointeger(L, lua_upvalueindex(3));
    lua_Integer fl = lua_tointeger(L, lua_upvalueindex(4));
    while (pos >= 0 && (size_t)pos <= len) {
        uint32_t opts = (fl & 2) ? PCRE2_NO_UTF_CHECK : 0;
        if (fl & 1) opts |= PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
        int m = re_exec(L, r, s, len, (size_t)pos, opts);
        fl |= 2;
        if (!m) {
            if ((fl & 1) && (size_t)pos < len) {
                pos += (lua_Integer)char_len(s, (size_t)pos, len);
                fl &= ~1;
                continue;
            }
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        size_t e = ov[1] > ov[0] ? ov[1] : ov[0];
        fl = (fl & ~1) | (ov[0] == e ? 1 : 0);
        lua_pushinteger(L, (lua_Integer)e);
        lua_replace(L, lua_upvalueindex(3));
        lua_pushinteger(L, fl);
        lua_replace(L, lua_upvalueindex(4));
        return push_captures(L, r, s, 0);
    }
    lua_pushinteger(L, -1);
    lua_replace(L, lua_upvalueindex(3));
    return 0;
}

static int do_gmatch(lua_State *L, int rarg, int sarg)
{
    luaL_checkstring(L, sarg);
    lua_pushvalue(L, rarg);
    lua_pushvalue(L, sarg);
    lua_pushinteger(L, 0);
    lua_pushinteger(L, 0);
    lua_pushcclosure(L, gmatch_iter, 4);
    return 1;
}

/* Appends the replacement of the match now in r->md to b. */
static void add_replacement(lua_State *L, luaL_Buffer *b, lregex *r, const char *s, int rarg)
{
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    size_t ms = ov[0], me = ov[1] > ov[0] ? ov[1] : ov[0];
    int t = lua_type(L, rarg);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) {
        size_t rl;
        const char *rp = lua_tolstring(L, rarg, &rl);
        for (size_t i = 0; i < rl; i++) {
            if (rp[i] != '%') {
                luaL_addchar(b, rp[i]);
                continue;
            }
            if (++i == rl) luaL_error(L, "rlvr.re.gsub: replacement ends with a lone '%%'");
            if (rp[i] == '%') {
                luaL_addchar(b, '%');
            } else if (rp[i] >= '0' && rp[i] <= '9') {
                uint32_t g = (uint32_t)(rp[i] - '0');
                if (g > r->ncap)
                    luaL_error(L, "rlvr.re.gsub: no group %d in the pattern (it has %d)", (int)g,
                               (int)r->ncap);
                if (ov[2 * g] != PCRE2_UNSET && ov[2 * g + 1] > ov[2 * g])
                    luaL_addlstring(b, s + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
            } else {
                luaL_error(L, "rlvr.re.gsub: invalid use of '%%' in the replacement "
                              "(use %%0-%%9 or %%%%)");
            }
        }
        return;
    }
    if (t == LUA_TTABLE) {
        push_captures(L, r, s, r->ncap == 0);
        if (r->ncap > 1) lua_pop(L, (int)r->ncap - 1); /* keep the first group */
        lua_gettable(L, rarg);
    } else {
        lua_pushvalue(L, rarg);
        int n = push_captures(L, r, s, 0);
        lua_call(L, n, 1);
    }
    /* r->md may have been reused by the callee: ms and me were kept */
    int vt = lua_type(L, -1);
    if (vt == LUA_TNIL || (vt == LUA_TBOOLEAN && !lua_toboolean(L, -1))) {
        lua_pop(L, 1);
        luaL_addlstring(b, s + ms, me - ms);
    } else if (vt == LUA_TSTRING || vt == LUA_TNUMBER) {
        luaL_addvalue(b);
    } else {
        luaL_error(L, "rlvr.re.gsub: invalid replacement value (a %s)", luaL_typename(L, -1));
    }
}

/* gsub with the subject at sarg, repl at rarg, max count at narg. */
static int do_gsub(lua_State *L, lregex *r, int sarg, int rarg, int narg)
{
    size_t len;
    const char *s = luaL_checklstring(L, sarg, &len);
    int t = lua_type(L, rarg);
    luaL_argexpected(L, t == LUA_TSTRING || t == LUA_TNUMBER || t == LUA_TTABLE || t == LUA_TFUNCTION,
                     rarg, "string/function/table");
    lua_Integer max_n = luaL_optinteger(L, narg, LUA_MAXINTEGER);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    size_t pos = 0, copied = 0;
    int last_empty = 0, checked = 0;
    lua_Integer count = 0;
    while (count < max_n && pos <= len) {
        uint32_t opts = checked ? PCRE2_NO_UTF_CHECK : 0;
        if (last_empty) opts |= PCRE2_NOTEMPTY_ATSTART | PCRE2_ANCHORED;
        int m = re_exec(L, r, s, len, pos, opts);
        checked = 1;
        if (!m) {
            if (last_empty && pos < len) {
                pos += char_len(s, pos, len);
                last_empty = 0;
                continue;
            }
            break;
        }
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        size_t ms = ov[0] < copied ? copied : ov[0];
        size_t me = ov[1] > ms ? ov[1] : ms;
        luaL_addlstring(&b, s + copied, ms - copied);
        add_replacement(L, &b, r, s, rarg);
        copied = me;
        count++;
        last_empty = ms == me;
        pos = me;
    }
    luaL_addlstring(&b, s + copied, len - copied);
    luaL_pushresult(&b);
    lua_pushinteger(L, count);
    return 2;
}

/* ---- methods and module functions ---------------------------------------- */

static int m_match(lua_State *L) { return do_match(L, check_regex(L, 1), 2, 3, 0); }
static int m_find(lua_State *L) { return do_match(L, check_regex(L, 1), 2, 3, 1); }
static int m_gmatch(lua_State *L) { check_regex(L, 1); return do_gmatch(L, 1, 2); }
static int m_gsub(lua_State *L) { return do_gsub(L, check_regex(L, 1), 2, 3, 4); }

static int m_tostring(lua_State *L)
{
    lregex *r = check_regex(L, 1);
    lua_pushfstring(L, "rlvr.regex (%d groups): %p", (int)r->ncap, (void *)r);
    return 1;
}

static int f_compile(lua_State *L)
{
    size_t plen;
    const char *pat = luaL_checklstring(L, 1, &plen);
    const char *flags = luaL_optstring(L, 2, "");
    re_compile(L, pat, plen, flags);
    return 1;
}

/* rlvr.re.match/find(s, pattern [, init]): the compiled pattern is pushed
 * above the arguments and stays there for the call. */
static int f_match(lua_State *L)
{
    lua_settop(L, 3);
    return do_match(L, cached(L, 2), 1, 3, 0);
}

static int f_find(lua_State *L)
{
    lua_settop(L, 3);
    return do_match(L, cached(L, 2), 1, 3, 1);
}

static int f_gmatch(lua_State *L)
{
    lua_settop(L, 2);
    cached(L, 2);
    return do_gmatch(L, 3, 1);
}

/* rlvr.re.gsub(s, pattern, repl [, n]) */
static int f_gsub(lua_State *L)
{
    lua_settop(L, 4);
    return do_gsub(L, cached(L, 2), 1, 3, 4);
}

void rlvr_lua_open_re(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"match", m_match}, {"find", m_find}, {"gmatch", m_gmatch}, {"gsub", m_gsub}, {NULL, NULL}};
    luaL_newmetatable(L, REGEX_MT);
    luaL_newlib(L, methods);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, re_gc);
    lua_setfield(L, -2, "__gc");
    lua_pushcfunction(L, m_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, REGEX_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    lua_newtable(L); /* the cache, with weak values */
    lua_newtable(L);
    lua_pushliteral(L, "v");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, CACHE_KEY);

    static const luaL_Reg fns[] = {{"compile", f_compile}, {"match", f_match}, {"find", f_find},
                                   {"gmatch", f_gmatch},   {"gsub", f_gsub},   {NULL, NULL}};
    luaL_newlib(L, fns);
}
