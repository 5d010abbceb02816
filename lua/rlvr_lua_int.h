/*
 * rlvr_lua_int.h -- what the files of lua/ share and nobody else sees.
 *
 * Every sandboxed state carries one rlvr_lua_ctx, the user data of its
 * allocator (so it is found from any thread of the state, coroutines
 * included, with lua_getallocf). The context owns the memory count, the
 * deadline of the current rlvr_lua_pcall, the host and the call in progress.
 * It is touched only by the thread that runs the state. Invariants: `used`
 * is the number of bytes Lua holds through the allocator; `armed` is the
 * nesting depth of rlvr_lua_pcall (the deadline holds while it is > 0);
 * `call_serial` changes whenever rlvr_lua_set_call(L, NULL) ends a call,
 * which is what invalidates the sample userdata pushed before.
 */
#ifndef RLVR_LUA_INT_H
#define RLVR_LUA_INT_H

#include <stdint.h>

#include <lauxlib.h>
#include <lua.h>

#include "rlvr_lua.h"

typedef struct rlvr_lua_ctx {
    size_t cap;             /* memory cap in bytes */
    size_t used;            /* bytes held by Lua now */
    int enforce;            /* the cap applies (not while closing) */
    int host_mem;           /* memory comes from host->realloc/free */
    int mem_hit;            /* an allocation was refused in this pcall */
    double time_ms;         /* time cap of one rlvr_lua_pcall */
    int64_t deadline_ns;    /* CLOCK_MONOTONIC, valid while armed */
    int armed;              /* rlvr_lua_pcall nesting depth */
    int time_hit;           /* the deadline passed in this pcall */
    int limits_hit;         /* RLVR_LUA_HIT_* seen since the state was made */
    char where[160];        /* where the deadline was noticed ("file:line") */
    const rlvr_host *host;  /* may be NULL */
    const rlvr_call *call;  /* the call in progress, or NULL */
    unsigned call_serial;   /* bumped by rlvr_lua_set_call(L, NULL) */
    char name[64];          /* for log lines and messages ("lua" by default) */
} rlvr_lua_ctx;

/* The context of a sandboxed state (any of its threads). */
rlvr_lua_ctx *rlvr_lua_ctx_of(lua_State *L);

/* CLOCK_MONOTONIC in nanoseconds. */
int64_t rlvr_lua_now_ns(void);

/* Installs the global `rlvr` and the metatables of samples and regexes
 * (called in protected mode while the state is built). */
void rlvr_lua_open_module(lua_State *L);
/* rlvr.re and rlvr.json, as tables pushed on the stack (luare.c, luajson.c). */
void rlvr_lua_open_re(lua_State *L);
void rlvr_lua_open_json(lua_State *L);

/* rlvr.json.decode/encode as Lua-level operations (they raise errors). */
void rlvr_lua_json_decode(lua_State *L, const char *json, size_t len);
/* Pushes the JSON text of the value at idx as a Lua string. */
void rlvr_lua_json_encode(lua_State *L, int idx);

/* 1 when s[0..n) is valid UTF-8 (no overlong forms, surrogates or code
 * points past U+10FFFF); else 0 with the offset of the first bad byte. */
int rlvr_lua_utf8_check(const char *s, size_t n, size_t *bad);

/* The string keys of the table at idx, sorted bytewise, in a userdata
 * pushed on the stack (the pointers are the table's own strings: valid
 * while the table is unchanged and reachable). Raises "what: keys must be
 * strings" on another key. */
typedef struct rlvr_lua_key {
    const char *s;
    size_t len;
} rlvr_lua_key;
rlvr_lua_key *rlvr_lua_sorted_keys(lua_State *L, int idx, size_t *n, const char *what);

/* Formats the error object on top of the stack (left there) after a failed
 * protected call of status `status`: the time and memory overruns get their
 * fixed wording. */
void rlvr_lua_describe_error(lua_State *L, int status, char *err, size_t err_len);

/* Rewrites a Lua message about chunk "@path" so that it begins with the
 * whole path ("path:line: ..." or "path: ..."). */
void rlvr_lua_where_path(const char *msg, const char *path, char *out, size_t cap);

/* One line to the host's log (stderr without a host), tagged with the
 * state's name. */
void rlvr_lua_log(lua_State *L, rlvr_log_level level, const char *msg);

/* Copies src into dst (capacity cap >= 1), truncating; always terminates. */
void rlvr_lua_strlcpy(char *dst, const char *src, size_t cap);

#endif
