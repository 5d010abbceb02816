/*
 * luamod.c -- the global `rlvr` module and the sample userdata.
 *
 *   rlvr.call(plugin, sample) -> score | nil, reason, "abstain"|"error"
 *   rlvr.log(level, message)     level: "error", "warn", "info", "debug"
 *   rlvr.re                      regular expressions (luare.c)
 *   rlvr.json                    JSON (luajson.c)
 *
 * A sample is a read-only full userdata pointing at the host's rlvr_sample.
 * It is valid only while the call that pushed it lasts: it records the
 * state's call_serial, which rlvr_lua_set_call(L, NULL) changes, and every access
 * checks it, so a sample a script kept in a global raises a clean error
 * later instead of reading freed memory. Fields: id (a string id, or the
 * JSON text of a numeric id), prompt, completion, answer, language, group,
 * finish_reason (strings or nil), completion_tokens and line (integers or
 * nil); any other name is read with host->sample_field and decoded from
 * JSON; s:field("a.b.c") reads dotted paths; s:component(name) returns the
 * value of an earlier mix component or nil, with its status. Values are
 * cached in the userdata's user value, so a long completion becomes a Lua
 * string once per call, not once per access.
 */
#include "rlvr_lua_int.h"

#include <stddef.h>
#include <string.h>

#define SAMPLE_MT "rlvr.sample"

typedef struct lsample {
    const rlvr_sample *s;
    unsigned serial;
} lsample;

/* The sample struct may come from an older minor: read only what it has. */
#define HAS(s, field) ((s)->struct_size >= offsetof(rlvr_sample, field) + sizeof((s)->field))

void rlvr_lua_push_sample(lua_State *L, const rlvr_sample *s)
{
    lsample *u = lua_newuserdatauv(L, sizeof *u, 1);
    u->s = s;
    u->serial = rlvr_lua_ctx_of(L)->call_serial;
    lua_newtable(L);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, SAMPLE_MT);
}

static const rlvr_sample *check_sample(lua_State *L, int idx)
{
    lsample *u = luaL_checkudata(L, idx, SAMPLE_MT);
    if (!u->s || u->serial != rlvr_lua_ctx_of(L)->call_serial)
        luaL_error(L, "the sample was used after its scoring call ended");
    return u->s;
}

static void push_text(lua_State *L, rlvr_text t)
{
    if (t.ptr) lua_pushlstring(L, t.ptr, t.len);
    else lua_pushnil(L);
}

/* Pushes host field `path` decoded from JSON, or nil. */
static void push_host_field(lua_State *L, const rlvr_sample *s, const char *path)
{
    const rlvr_host *h = rlvr_lua_ctx_of(L)->host;
    rlvr_text t = {NULL, 0};
    if (h && h->sample_field && h->sample_field(s, path, &t) == 0 && t.ptr)
        rlvr_lua_json_decode(L, t.ptr, t.len);
    else
        lua_pushnil(L);
}

/* Pushes the value of field k (never a method). */
static void push_field(lua_State *L, const rlvr_sample *s, const char *k)
{
    if (strcmp(k, "completion") == 0 && HAS(s, completion)) push_text(L, s->completion);
    else if (strcmp(k, "prompt") == 0 && HAS(s, prompt)) push_text(L, s->prompt);
    else if (strcmp(k, "answer") == 0 && HAS(s, answer)) push_text(L, s->answer);
    else if (strcmp(k, "language") == 0 && HAS(s, language)) push_text(L, s->language);
    else if (strcmp(k, "group") == 0 && HAS(s, group)) push_text(L, s->group);
    else if (strcmp(k, "finish_reason") == 0 && HAS(s, finish_reason)) push_text(L, s->finish_reason);
    else if (strcmp(k, "id") == 0 && HAS(s, id)) {
        if (s->id.ptr && s->id.len && s->id.ptr[0] == '"') rlvr_lua_json_decode(L, s->id.ptr, s->id.len);
        else push_text(L, s->id);
    } else if (strcmp(k, "completion_tokens") == 0 && HAS(s, completion_tokens)) {
        if (s->completion_tokens < 0) lua_pushnil(L);
        else lua_pushinteger(L, (lua_Integer)s->completion_tokens);
    } else if (strcmp(k, "line") == 0 && HAS(s, line)) {
        if (s->line <= 0) lua_pushnil(L);
        else lua_pushinteger(L, (lua_Integer)s->line);
    } else {
        push_host_field(L, s, k);
    }
}

/* __index(sample, key); upvalue 1: the methods. */
static int sample_index(lua_State *L)
{
    const rlvr_sample *s = check_sample(L, 1);
    if (lua_type(L, 2) != LUA_TSTRING) return 0;
    lua_pushvalue(L, 2);
    if (lua_rawget(L, lua_upvalueindex(1)) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    lua_getiuservalue(L, 1, 1); /* the cache */
    int cache = lua_gettop(L);
    lua_pushvalue(L, 2);
    if (lua_rawget(L, cache) != LUA_TNIL) return 1;
    lua_pop(L, 1);
    push_field(L, s, lua_tostring(L, 2));
    lua_pushvalue(L, 2);
    lua_pushvalue(L, -2);
    lua_rawset(L, cache);
    return 1;
}

static int sample_newindex(lua_State *L)
{
    return luaL_error(L, "a sample is read-only");
}

static int sample_tostring(lua_State *L)
{
    lsample *u = luaL_checkudata(L, 1, SAMPLE_MT);
    if (u->s && u->serial == rlvr_lua_ctx_of(L)->call_serial && HAS(u->s, line))
        lua_pushfstring(L, "rlvr.sample (line %I)", (lua_Integer)u->s->line);
    else
        lua_pushliteral(L, "rlvr.sample (expired)");
    return 1;
}

/* s:field("a.b.c") */
static int sample_field(lua_State *L)
{
    const rlvr_sample *s = check_sample(L, 1);
    push_host_field(L, s, luaL_checkstring(L, 2));
    return 1;
}

/* s:component(name) -> value | nil, "ok"|"abstain"|"error"|"missing" */
static int sample_component(lua_State *L)
{
    const rlvr_sample *s = check_sample(L, 1);
    const char *name = luaL_checkstring(L, 2);
    const rlvr_host *h = rlvr_lua_ctx_of(L)->host;
    double v = 0;
    int st = h && h->sample_component ? h->sample_component(s, name, &v) : -1;
    switch (st) {
    case RLVR_OK:
        lua_pushnumber(L, v);
        lua_pushliteral(L, "ok");
        break;
    case RLVR_ABSTAIN:
        lua_pushnil(L);
        lua_pushliteral(L, "abstain");
        break;
    case RLVR_ERROR:
        lua_pushnil(L);
        lua_pushliteral(L, "error");
        break;
    default:
        lua_pushnil(L);
        lua_pushliteral(L, "missing");
    }
    return 2;
}

/* rlvr.call(plugin, sample) */
static int l_call(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const rlvr_sample *s = check_sample(L, 2);
    rlvr_lua_ctx *c = rlvr_lua_ctx_of(L);
    if (!c->host || !c->host->call_plugin)
        return luaL_error(L, "rlvr.call: no host to call plugins through");
    if (!c->call) return luaL_error(L, "rlvr.call: only available while a sample is scored");
    double score = 0;
    char reason[512] = "";
    int st = c->host->call_plugin(c->call, name, s, &score, reason, sizeof reason);
    if (st == RLVR_OK) {
        lua_pushnumber(L, score);
        return 1;
    }
    reason[sizeof reason - 1] = '\0';
    lua_pushnil(L);
    if (reason[0]) lua_pushstring(L, reason);
    else lua_pushfstring(L, "%s: %s", name, st == RLVR_ABSTAIN ? "abstained" : "failed");
    lua_pushstring(L, st == RLVR_ABSTAIN ? "abstain" : "error");
    return 3;
}

/* rlvr.log(level, message) */
static int l_log(lua_State *L)
{
    static const char *const levels[] = {"error", "warn", "info", "debug", NULL};
    int lv = luaL_checkoption(L, 1, NULL, levels);
    const char *msg = luaL_tolstring(L, 2, NULL);
    rlvr_lua_log(L, (rlvr_log_level)lv, msg);
    return 0;
}

void rlvr_lua_open_module(lua_State *L)
{
    static const luaL_Reg methods[] = {
        {"field", sample_field}, {"component", sample_component}, {NULL, NULL}};
    luaL_newmetatable(L, SAMPLE_MT);
    luaL_newlib(L, methods);
    lua_pushcclosure(L, sample_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, sample_newindex);
    lua_setfield(L, -2, "__newindex");
    lua_pushcfunction(L, sample_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, SAMPLE_MT);
    lua_setfield(L, -2, "__metatable");
    lua_pop(L, 1);

    static const luaL_Reg fns[] = {{"call", l_call}, {"log", l_log}, {NULL, NULL}};
    luaL_newlib(L, fns);
    rlvr_lua_open_re(L);
    lua_setfield(L, -2, "re");
    rlvr_lua_open_json(L);
    lua_setfield(L, -2, "json");
    lua_setglobal(L, "rlvr");
}
