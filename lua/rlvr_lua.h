/*
 * rlvr_lua.h -- the Lua 5.4 embedding of rlvr.
 *
 * Sandboxed states: the base library without dofile, loadfile or binary
 * chunks (load accepts text only), string (no dump; find/match/gmatch/gsub
 * replaced by budgeted versions, see lpattern.h), table, math, utf8 and
 * coroutine; no io, os, package or debug. print goes to the host's log. Each
 * state has a memory cap (its allocator refuses past it) and, during
 * rlvr_lua_pcall, a time cap checked by an instruction-count hook and by
 * long-running C functions (pattern matching, rlvr.re) through
 * rlvr_lua_check_deadline. A state is used by one thread at a time.
 *
 * Every state has the global module `rlvr`:
 *   rlvr.call(plugin, sample)   -> score | nil, reason, status
 *   rlvr.re.compile(pattern [, flags]) -> regex with :match(s [, init]),
 *       :find(s [, init]), :gmatch(s), :gsub(s, repl [, n]) (PCRE2, UTF,
 *       match and depth limits); rlvr.re.match/find(s, pattern [, init]),
 *       rlvr.re.gmatch(s, pattern), rlvr.re.gsub(s, pattern, repl [, n]).
 *       Flags: i, m, s, x. gsub's string replacement uses %0-%9 and %% as
 *       Lua's string.gsub does (not $1). An unset group gives false. A
 *       match over the limits raises "rlvr.re: match limit exceeded ...".
 *   rlvr.json.decode(text) / rlvr.json.encode(value); rlvr.json.null;
 *       rlvr.json.array([t]) marks a table as an array (so {} encodes as
 *       []); decoded arrays carry that mark. Objects encode with sorted keys.
 *   rlvr.log(level, message) with level "error"|"warn"|"info"|"debug"
 */
#ifndef RLVR_LUA_H
#define RLVR_LUA_H

#include <lua.h>
#include <stddef.h>

#include "rlvr_plugin.h"

typedef struct rlvr_lua_limits {
    size_t memory_bytes;   /* 0: RLVR_LUA_DEFAULT_MEMORY */
    double time_ms;        /* per rlvr_lua_pcall; 0: RLVR_LUA_DEFAULT_TIME_MS */
} rlvr_lua_limits;

#define RLVR_LUA_DEFAULT_MEMORY ((size_t)64 << 20)
#define RLVR_LUA_DEFAULT_TIME_MS 1000.0

/* A new sandboxed state, or NULL with a message in err. host may be NULL
 * (then rlvr.call and sample fields beyond the common ones are unavailable
 * and rlvr.log writes to stderr). */
lua_State *rlvr_lua_state_new(const rlvr_lua_limits *lim, const rlvr_host *host,
                              char *err, size_t err_len);
void rlvr_lua_state_free(lua_State *L);

/* The name this state's log lines and messages carry (default "lua"; the
 * plugin adapter sets the plugin's name). */
void rlvr_lua_set_name(lua_State *L, const char *name);

/* The limits an rlvr_lua_pcall of this state failed on since it was made
 * (RLVR_LUA_HIT_* bits): such a state may be left in an odd place by the
 * interrupted script, so long-lived users close it and make a new one. */
#define RLVR_LUA_HIT_TIME 1
#define RLVR_LUA_HIT_MEMORY 2
int rlvr_lua_limits_hit(lua_State *L);

/* Bytes the state holds now (counted by its allocator). */
size_t rlvr_lua_memory_used(lua_State *L);

/* Load a file as a text chunk (binary chunks refused) and push the
 * function. Returns 0, or -1 with "path:line: message" in err. */
int rlvr_lua_load_file(lua_State *L, const char *path, char *err, size_t err_len);

/* The same for a chunk in memory, buf[0..len), named "@name" (a first line
 * starting with '#' is skipped, keeping line numbers). */
int rlvr_lua_load_buffer(lua_State *L, const char *buf, size_t len, const char *name,
                         char *err, size_t err_len);

/* lua_pcall with the time cap armed for this call (and the memory cap, as
 * always). Returns a LUA_* status; on error the message is in err (the
 * error object is popped). Overruns read "time limit of N ms exceeded" and
 * "memory limit of N MiB exceeded". */
int rlvr_lua_pcall(lua_State *L, int nargs, int nresults, char *err, size_t err_len);

/* Raise a Lua error when the armed deadline has passed (cheap: for long
 * loops inside C functions). */
void rlvr_lua_check_deadline(lua_State *L);

/* The call and sample that rlvr.call and sample:component refer to during a
 * scoring call (NULL outside one). */
void rlvr_lua_set_call(lua_State *L, const rlvr_call *call);

/* Push a sample as a read-only userdata, valid during the current call
 * (until rlvr_lua_set_call(L, NULL); it may be pushed before or after the
 * call is set; a sample used later raises an error instead of reading freed
 * memory). Like other Lua API calls that allocate, call it in protected
 * mode or accept Lua's panic on a memory error:
 * s.id, s.prompt, s.completion, s.answer, s.language, s.group,
 * s.finish_reason (strings or nil), s.completion_tokens, s.line (integers
 * or nil); any other field by name through host->sample_field, decoded from
 * JSON; s:field("a.b.c") for dotted paths; s:component(name) -> value or
 * nil, status ("ok"|"abstain"|"error"|"missing"). */
void rlvr_lua_push_sample(lua_State *L, const rlvr_sample *s);

/* JSON text -> Lua value (objects become tables, arrays sequences, null
 * rlvr.json.null). Returns 0 or -1 with err. */
int rlvr_lua_push_json(lua_State *L, const char *json, size_t len, char *err, size_t err_len);
/* Lua value at idx -> JSON text (malloc'd, NUL-terminated), or NULL with err.
 * Tables with keys 1..n are arrays; others need string keys (written in
 * sorted order); an empty table is {} unless marked by rlvr.json.array. */
char *rlvr_lua_to_json(lua_State *L, int idx, size_t *len, char *err, size_t err_len);

/* A Lua script as a plugin, adapted to the C descriptor: returns a
 * heap-allocated descriptor to free with rlvr_lua_plugin_free, or NULL with
 * "path:line: message" in err. See README.md "Writing a plugin in Lua". */
const rlvr_plugin *rlvr_lua_plugin_load(const char *path, const rlvr_host *host,
                                        char *err, size_t err_len);
void rlvr_lua_plugin_free(const rlvr_plugin *p);

#endif
