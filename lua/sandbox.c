/*
 * sandbox.c -- sandboxed Lua 5.4 states with a memory cap and a time cap.
 *
 * A state is made by rlvr_lua_state_new with our own allocator, whose user
 * data is the state's rlvr_lua_ctx (rlvr_lua_int.h). The allocator counts
 * every byte Lua holds and refuses to grow past the cap; Lua then raises its
 * memory error, which rlvr_lua_pcall reports as "memory limit of N MiB
 * exceeded". Shrinking and freeing never fail. The time cap is armed by the
 * outermost rlvr_lua_pcall: a count hook (every HOOK_COUNT instructions, on
 * every thread of the state, coroutines inheriting it) and C code calling
 * rlvr_lua_check_deadline compare the monotonic clock with the deadline.
 * Once the deadline has passed the hook fires on every instruction, so a
 * script that catches the error with pcall cannot run on: the overrun always
 * reaches rlvr_lua_pcall, which reports "time limit of N ms exceeded".
 *
 * The globals are the base library without dofile, loadfile and warn, with
 * `load` forced to text mode, `setmetatable` refusing __gc (a finaliser
 * would run outside any deadline), `collectgarbage` limited to collect,
 * count, step and isrunning, `print` sent to the host's log; string without
 * dump (with find/match/gmatch/gsub budgeted by lpattern.c and a rep of
 * our own that copies by doubling), table (move done in slices between deadline checks), math
 * (seeded with a constant, so runs repeat), utf8, coroutine, and the `rlvr`
 * module (luamod.c). No io, os, package, debug or require. Loading is text
 * only everywhere: files, buffers and `load`.
 *
 * After a limit was hit the state stays usable: the memory is given back as
 * the interrupted script's values become garbage, and the next
 * rlvr_lua_pcall re-arms the hook. rlvr_lua_limits_hit tells the plugin
 * adapter, which prefers to start afresh.
 */
#define _POSIX_C_SOURCE 200809L

#include "rlvr_lua_int.h"
#include "lpattern.h"

#include <lualib.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOOK_COUNT 1000       /* instructions between two clock readings */
#define MOVE_SLICE 4096       /* table.move elements between deadline checks */

int64_t rlvr_lua_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

rlvr_lua_ctx *rlvr_lua_ctx_of(lua_State *L)
{
    void *ud = NULL;
    lua_getallocf(L, &ud);
    return ud;
}

void rlvr_lua_strlcpy(char *dst, const char *src, size_t cap)
{
    if (!dst || cap == 0) return;
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) n = cap - 1;
    if (n) memcpy(dst, src, n);
    dst[n] = '\0';
}

static double cap_mib(const rlvr_lua_ctx *c)
{
    return (double)c->cap / (1024.0 * 1024.0);
}

/* ---- the allocator ---------------------------------------------------- */

static void *sb_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    rlvr_lua_ctx *c = ud;
    size_t old = ptr ? osize : 0; /* without ptr, osize is a type tag */
    if (nsize == 0) {
        if (ptr) {
            c->used -= old;
            if (c->host_mem) c->host->free(ptr);
            else free(ptr);
        }
        return NULL;
    }
    if (nsize > old && c->enforce) {
        size_t grow = nsize - old;
        if (c->used > c->cap || grow > c->cap - c->used) {
            c->mem_hit = 1;
            return NULL;
        }
    }
    void *p = c->host_mem ? c->host->realloc(ptr, nsize) : realloc(ptr, nsize);
    if (!p) return nsize <= old ? ptr : NULL; /* a shrink keeps the old block */
    c->used = c->used - old + nsize;
    return p;
}

/* ---- the time cap ------------------------------------------------------ */

static void sb_hook(lua_State *L, lua_Debug *ar);

/* Records where the overrun was noticed (the innermost Lua function at or
 * above `level`), makes the hook fire on every instruction, and raises. */
static void expire(lua_State *L, rlvr_lua_ctx *c, int level)
{
    c->time_hit = 1;
    if (!c->where[0]) {
        lua_Debug ar;
        for (int l = level; lua_getstack(L, l, &ar); l++) {
            if (lua_getinfo(L, "Sl", &ar) && ar.currentline > 0) {
                snprintf(c->where, sizeof c->where, "%s:%d", ar.short_src, ar.currentline);
                break;
            }
        }
    }
    lua_sethook(L, sb_hook, LUA_MASKCOUNT, 1);
    lua_pushfstring(L, "time limit of %f ms exceeded", (lua_Number)c->time_ms);
    lua_error(L);
}

static void sb_hook(lua_State *L, lua_Debug *ar)
{
    (void)ar;
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    if (c->armed > 0 && rlvr_lua_now_ns() >= c->deadline_ns) expire(L, c, 0);
}

void rlvr_lua_check_deadline(lua_State *L)
{
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    if (c->armed > 0 && rlvr_lua_now_ns() >= c->deadline_ns) expire(L, c, 1);
}

void rlvr_lua_describe_error(lua_State *L, int status, char *err, size_t err_len)
{
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    const char *msg = NULL;
    int t = lua_type(L, -1);
    if (t == LUA_TSTRING || t == LUA_TNUMBER) msg = lua_tostring(L, -1);
    if (!err || err_len == 0) return;
    if (c->time_hit) {
        if (c->where[0])
            snprintf(err, err_len, "time limit of %g ms exceeded (at %s)", c->time_ms, c->where);
        else
            snprintf(err, err_len, "time limit of %g ms exceeded", c->time_ms);
    } else if (status == LUA_ERRMEM || (c->mem_hit && msg && strcmp(msg, "not enough memory") == 0)) {
        snprintf(err, err_len, "memory limit of %g MiB exceeded", cap_mib(c));
    } else if (msg) {
        rlvr_lua_strlcpy(err, msg, err_len);
    } else {
        snprintf(err, err_len, "(error object is a %s value)", lua_typename(L, t));
    }
}

int rlvr_lua_pcall(lua_State *L, int nargs, int nresults, char *err, size_t err_len)
{
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    int outer = c->armed == 0;
    if (outer) {
        c->deadline_ns = rlvr_lua_now_ns() + (int64_t)(c->time_ms * 1e6);
        c->time_hit = 0;
        c->mem_hit = 0;
        c->where[0] = '\0';
        lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_COUNT);
    }
    c->armed++;
    int st = lua_pcall(L, nargs, nresults, 0);
    c->armed--;
    if (st != LUA_OK) {
        rlvr_lua_describe_error(L, st, err, err_len);
        if (c->time_hit) c->limits_hit |= RLVR_LUA_HIT_TIME;
        else if (st == LUA_ERRMEM || c->mem_hit) c->limits_hit |= RLVR_LUA_HIT_MEMORY;
        lua_pop(L, 1);
    } else if (err && err_len) {
        err[0] = '\0';
    }
    if (outer) lua_sethook(L, sb_hook, LUA_MASKCOUNT, HOOK_COUNT);
    return st;
}

/* ---- the library, sandboxed --------------------------------------------- */

/* Calls the original function (upvalue 1) with all the arguments. */
static int call_original(lua_State *L)
{
    int n = lua_gettop(L);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, n, LUA_MULTRET);
    return lua_gettop(L);
}

/* load(chunk [, chunkname [, mode [, env]]]) with mode always "t". */
static int sb_load(lua_State *L)
{
    if (lua_gettop(L) < 3) lua_settop(L, 3);
    lua_pushliteral(L, "t");
    lua_replace(L, 3);
    return call_original(L);
}

static int sb_setmetatable(lua_State *L)
{
    if (lua_type(L, 2) == LUA_TTABLE) {
        lua_pushliteral(L, "__gc");
        int t = lua_rawget(L, 2);
        lua_pop(L, 1);
        if (t != LUA_TNIL)
            return luaL_error(L, "setmetatable: __gc metamethods are not allowed in the sandbox");
    }
    return call_original(L);
}

static int sb_collectgarbage(lua_State *L)
{
    static const char *const allowed[] = {"collect", "count", "step", "isrunning", NULL};
    const char *opt = luaL_optstring(L, 1, "collect");
    for (int i = 0; allowed[i]; i++)
        if (strcmp(opt, allowed[i]) == 0) return call_original(L);
    return luaL_error(L, "collectgarbage: option '%s' is not available in the sandbox", opt);
}

/* string.rep(s, n [, sep]), our own: the stock one copies piece by piece
 * (n calls of memcpy, and n iterations even when every piece is empty); this
 * one writes the first s..sep and then doubles what is written, since the
 * result is the prefix of length n*|s| + (n-1)*|sep| of (s..sep) repeated. */
#define REP_MAX ((size_t)0x7fffffff) /* Lua 5.4's limit on a string.rep result */
static int sb_rep(lua_State *L)
{
    size_t l, lsep;
    const char *s = luaL_checklstring(L, 1, &l);
    lua_Integer n = luaL_checkinteger(L, 2);
    const char *sep = luaL_optlstring(L, 3, "", &lsep);
    if (n <= 0 || l + lsep == 0) {
        lua_pushliteral(L, "");
        return 1;
    }
    size_t unit = l + lsep;
    if (unit < l || l > REP_MAX || lsep > REP_MAX || (lua_Unsigned)n > (REP_MAX + lsep) / unit)
        return luaL_error(L, "resulting string too large");
    size_t total = (size_t)n * unit - lsep;
    luaL_Buffer b;
    char *p = luaL_buffinitsize(L, &b, total);
    size_t first = unit < total ? unit : total;
    memcpy(p, s, l < first ? l : first);
    if (first > l) memcpy(p + l, sep, first - l);
    for (size_t filled = first; filled < total;) {
        size_t k = filled < total - filled ? filled : total - filled;
        memcpy(p + filled, p, k);
        filled += k;
    }
    luaL_pushresultsize(&b, total);
    return 1;
}

/* table.move(a1, f, e, t [, a2]): moves in slices, checking the deadline in
 * between (the stock loop runs no Lua code, so the hook never sees it). */
static int sb_move(lua_State *L)
{
    lua_Integer f = luaL_checkinteger(L, 2);
    lua_Integer e = luaL_checkinteger(L, 3);
    lua_Integer t = luaL_checkinteger(L, 4);
    if (e < f || (lua_Unsigned)e - (lua_Unsigned)f < MOVE_SLICE) return call_original(L);
    luaL_argcheck(L, f > 0 || e < LUA_MAXINTEGER + f, 3, "too many elements to move");
    lua_Integer n = e - f + 1;
    luaL_argcheck(L, t <= LUA_MAXINTEGER - n + 1, 4, "destination wrap around");
    int dst = lua_isnoneornil(L, 5) ? 1 : 5;
    int same = dst == 1 || lua_rawequal(L, 1, 5);
    int backward = same && t > f && t <= e;
    for (lua_Integer done = 0; done < n;) {
        lua_Integer k = n - done < MOVE_SLICE ? n - done : MOVE_SLICE;
        lua_Integer off = backward ? n - done - k : done;
        lua_pushvalue(L, lua_upvalueindex(1));
        lua_pushvalue(L, 1);
        lua_pushinteger(L, f + off);
        lua_pushinteger(L, f + off + k - 1);
        lua_pushinteger(L, t + off);
        lua_pushvalue(L, dst);
        lua_call(L, 5, 0);
        done += k;
        rlvr_lua_check_deadline(L);
    }
    lua_pushvalue(L, dst);
    return 1;
}

void rlvr_lua_log(lua_State *L, rlvr_log_level level, const char *msg)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    if (c->host && c->host->log) {
        c->host->log(level, c->name, "%s", msg);
    } else {
        int lv = (int)level;
        if (lv < 0 || lv > 3) lv = 2;
        fprintf(stderr, "rlvr: %s: %s: %s\n", c->name, names[lv], msg);
    }
}

static int sb_print(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addchar(&b, '\t');
        luaL_tolstring(L, i, NULL);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    rlvr_lua_log(L, RLVR_LOG_INFO, lua_tostring(L, -1));
    return 0;
}

/* Replaces t[name] by f with the old value as upvalue 1 (t: absolute). */
static void wrap(lua_State *L, int t, const char *name, lua_CFunction f)
{
    lua_getfield(L, t, name);
    lua_pushcclosure(L, f, 1);
    lua_setfield(L, t, name);
}

static int sb_setup(lua_State *L)
{
    static const luaL_Reg libs[] = {
        {LUA_GNAME, luaopen_base},         {LUA_STRLIBNAME, luaopen_string},
        {LUA_TABLIBNAME, luaopen_table},   {LUA_MATHLIBNAME, luaopen_math},
        {LUA_UTF8LIBNAME, luaopen_utf8},   {LUA_COLIBNAME, luaopen_coroutine},
        {NULL, NULL}};
    for (const luaL_Reg *lib = libs; lib->func; lib++) {
        luaL_requiref(L, lib->name, lib->func, 1);
        lua_pop(L, 1);
    }
    lua_pushglobaltable(L);
    int g = lua_gettop(L);
    static const char *const removed[] = {"dofile", "loadfile", "warn", NULL};
    for (int i = 0; removed[i]; i++) {
        lua_pushnil(L);
        lua_setfield(L, g, removed[i]);
    }
    wrap(L, g, "load", sb_load);
    wrap(L, g, "setmetatable", sb_setmetatable);
    wrap(L, g, "collectgarbage", sb_collectgarbage);
    lua_pushcfunction(L, sb_print);
    lua_setfield(L, g, "print");

    lua_getfield(L, g, LUA_STRLIBNAME);
    int s = lua_gettop(L);
    lua_pushnil(L);
    lua_setfield(L, s, "dump");
    lua_pushcfunction(L, sb_rep);
    lua_setfield(L, s, "rep");
    lua_pop(L, 1);

    lua_getfield(L, g, LUA_TABLIBNAME);
    wrap(L, lua_gettop(L), "move", sb_move);
    lua_pop(L, 1);

    lua_getfield(L, g, LUA_MATHLIBNAME);
    lua_getfield(L, -1, "randomseed");
    lua_pushinteger(L, 0x5eed);
    lua_call(L, 1, 0);
    lua_pop(L, 1);

    rlvr_lpattern_install(L, rlvr_lua_check_deadline);
    rlvr_lua_open_module(L);
    lua_pop(L, 1); /* the global table */
    return 0;
}

static int sb_panic(lua_State *L)
{
    const char *msg = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "(not a string)";
    fprintf(stderr, "rlvr: unprotected Lua error: %s\n", msg);
    return 0; /* Lua aborts */
}

lua_State *rlvr_lua_state_new(const rlvr_lua_limits *lim, const rlvr_host *host,
                              char *err, size_t err_len)
{
    rlvr_lua_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        rlvr_lua_strlcpy(err, "out of memory", err_len);
        return NULL;
    }
    c->cap = lim && lim->memory_bytes ? lim->memory_bytes : RLVR_LUA_DEFAULT_MEMORY;
    c->time_ms = lim && lim->time_ms > 0 ? lim->time_ms : RLVR_LUA_DEFAULT_TIME_MS;
    c->host = host;
    c->host_mem = host && host->realloc && host->free;
    c->enforce = 1;
    rlvr_lua_strlcpy(c->name, "lua", sizeof c->name);
    lua_State *L = lua_newstate(sb_alloc, c);
    if (!L) {
        if (err && err_len)
            snprintf(err, err_len, "cannot make a Lua state (memory limit of %g MiB)", cap_mib(c));
        free(c);
        return NULL;
    }
    lua_atpanic(L, sb_panic);
    lua_pushcfunction(L, sb_setup);
    char msg[256];
    if (rlvr_lua_pcall(L, 0, 0, msg, sizeof msg) != LUA_OK) {
        if (err && err_len) snprintf(err, err_len, "cannot set up the Lua sandbox: %s", msg);
        rlvr_lua_state_free(L);
        return NULL;
    }
    c->limits_hit = 0;
    return L;
}

void rlvr_lua_state_free(lua_State *L)
{
    if (!L) return;
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    c->enforce = 0;
    lua_close(L);
    free(c);
}

void rlvr_lua_set_name(lua_State *L, const char *name)
{
    rlvr_lua_strlcpy(rlvr_lua_ctx_of(L)->name, name ? name : "lua", sizeof rlvr_lua_ctx_of(L)->name);
}

int rlvr_lua_limits_hit(lua_State *L)
{
    return rlvr_lua_ctx_of(L)->limits_hit;
}

size_t rlvr_lua_memory_used(lua_State *L)
{
    return rlvr_lua_ctx_of(L)->used;
}

void rlvr_lua_set_call(lua_State *L, const rlvr_call *call)
{
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    c->call = call;
    if (!call) c->call_serial++; /* the end of a call expires its samples */
}

/* ---- loading text chunks ------------------------------------------------ */

/* Lua names a chunk "@path" by its path shortened to LUA_IDSIZE bytes
 * ("...tail"). Rewrites msg so that it begins with the whole path:
 * "path:line: ..." or "path: ...". */
void rlvr_lua_where_path(const char *msg, const char *path, char *out, size_t cap)
{
    size_t pl = strlen(path);
    if (strncmp(msg, path, pl) == 0 && msg[pl] == ':') {
        rlvr_lua_strlcpy(out, msg, cap);
        return;
    }
    if (strncmp(msg, "...", 3) == 0) {
        /* find ":<digits>:" such that msg[3..p) is a tail of path */
        for (const char *p = strchr(msg + 3, ':'); p; p = strchr(p + 1, ':')) {
            size_t tl = (size_t)(p - (msg + 3));
            const char *q = p + 1;
            while (*q >= '0' && *q <= '9') q++;
            if (q > p + 1 && *q == ':' && tl <= pl &&
                strncmp(path + pl - tl, msg + 3, tl) == 0) {
                snprintf(out, cap, "%s%s", path, p);
                return;
            }
        }
    }
    snprintf(out, cap, "%s: %s", path, msg);
}

typedef struct load_args {
    const char *buf;
    size_t len;
    const char *path;
    int from_file;
} load_args;

static int load_run(lua_State *L)
{
    load_args *a = lua_touserdata(L, 1);
    int st;
    if (a->from_file) {
        st = luaL_loadfilex(L, a->path, "t");
    } else {
        const char *b = a->buf;
        size_t n = a->len;
        if (n && b[0] == '#') { /* skip a "#!" line, keeping its newline */
            const char *nl = memchr(b, '\n', n);
            n = nl ? n - (size_t)(nl - b) : 0;
            b = nl ? nl : b + a->len;
        }
        lua_pushfstring(L, "@%s", a->path);
        st = luaL_loadbufferx(L, b, n, lua_tostring(L, -1), "t");
    }
    if (st != LUA_OK) return lua_error(L);
    return 1;
}

static int load_common(lua_State *L, load_args *a, char *err, size_t err_len)
{
    if (!lua_checkstack(L, 3)) {
        rlvr_lua_strlcpy(err, "Lua stack overflow", err_len);
        return -1;
    }
    lua_pushcfunction(L, load_run);
    lua_pushlightuserdata(L, a);
    int st = lua_pcall(L, 1, 1, 0);
    if (st == LUA_OK) return 0;
    char msg[1024];
    rlvr_lua_describe_error(L, st, msg, sizeof msg);
    lua_pop(L, 1);
    if (err && err_len) {
        if (strstr(msg, "cannot open") || strstr(msg, "cannot read"))
            rlvr_lua_strlcpy(err, msg, err_len); /* already names the path */
        else
            rlvr_lua_where_path(msg, a->path, err, err_len);
    }
    return -1;
}

int rlvr_lua_load_file(lua_State *L, const char *path, char *err, size_t err_len)
{
    load_args a = {NULL, 0, path, 1};
    return load_common(L, &a, err, err_len);
}

int rlvr_lua_load_buffer(lua_State *L, const char *buf, size_t len, const char *name,
                         char *err, size_t err_len)
{
    load_args a = {buf, len, name, 0};
    return load_common(L, &a, err, err_len);
}
