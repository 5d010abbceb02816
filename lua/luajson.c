/*
 * luajson.c -- rlvr.json: JSON text <-> Lua values, through json-c.
 *
 * Decoding is strict JSON (json-c's strict tokener, UTF-8 validated, nothing
 * after the value but white space): objects become tables, arrays become
 * sequences marked with the rlvr.json.array metatable (so that an empty one
 * encodes back as []), null becomes the rlvr.json.null sentinel, integers
 * that fit in 64 bits stay integers. Strings keep embedded NULs ("\u0000");
 * invalid UTF-8, NaN, Infinity and numbers beyond the double range are
 * errors; a lone surrogate escape ("\ud800") becomes U+FFFD, as json-c
 * decodes it (every decoded string is checked to be valid UTF-8).
 *
 * Encoding: nil and rlvr.json.null give null; integers stay integers,
 * floats are written in the shortest form that reads back the same (with a
 * ".0" when they look whole); strings must be valid UTF-8 and are escaped
 * by json-c (NUL as \u0000); a table whose keys are exactly 1..n is an
 * array, a table with string keys an object written with its keys sorted
 * bytewise (so equal tables give equal text), an empty table {} unless it
 * carries the array mark. Anything else (functions, mixed or sparse keys,
 * nesting deeper than JSON_MAX_DEPTH, which is also what a cycle becomes)
 * raises an error.
 *
 * json-c's objects live outside the Lua allocator: every tree is owned by a
 * small "box" userdata with a __gc, so a Lua error in the middle (a memory
 * cap, a bad value) never leaks it; on success the box is emptied at once.
 */
#include "rlvr_lua_int.h"

#include <json-c/json.h>

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 200
#define NULL_KEY "rlvr.json.null"
#define ARRAY_MT "rlvr.json.array"
#define BOX_MT "rlvr.json.box"

int rlvr_lua_utf8_check(const char *s, size_t n, size_t *bad)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t k;
        uint32_t cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            goto bad;
        }
        if (k >= n - i) goto bad;
        for (size_t j = 1; j <= k; j++) {
            if ((p[i + j] & 0xC0) != 0x80) goto bad;
            cp = cp << 6 | (p[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) goto bad;
        i += k + 1;
    }
    return 1;
bad:
    if (bad) *bad = i;
    return 0;
}

/* ---- ownership of json-c trees ------------------------------------------ */

typedef struct jbox {
    json_object *o;
    json_tokener *tok;
} jbox;

static void jbox_clear(jbox *b)
{
    if (b->o) json_object_put(b->o);
    if (b->tok) json_tokener_free(b->tok);
    b->o = NULL;
    b->tok = NULL;
}

static int jbox_gc(lua_State *L)
{
    jbox_clear(lua_touserdata(L, 1));
    return 0;
}

static jbox *push_box(lua_State *L)
{
    jbox *b = lua_newuserdatauv(L, sizeof *b, 0);
    b->o = NULL;
    b->tok = NULL;
    if (luaL_newmetatable(L, BOX_MT)) {
        lua_pushcfunction(L, jbox_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    return b;
}

static void push_null(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, NULL_KEY);
}

static int is_null(lua_State *L, int idx)
{
    push_null(L);
    int r = lua_rawequal(L, idx, -1);
    lua_pop(L, 1);
    return r;
}

/* ---- decoding ------------------------------------------------------------ */

static void push_string_checked(lua_State *L, const char *s, size_t n)
{
    if (!rlvr_lua_utf8_check(s, n, NULL))
        luaL_error(L, "rlvr.json.decode: a string is not valid UTF-8");
    lua_pushlstring(L, s, n);
}

static void push_jo(lua_State *L, json_object *o)
{
    luaL_checkstack(L, 4, "rlvr.json.decode: nesting too deep");
    switch (json_object_get_type(o)) {
    case json_type_null:
        push_null(L);
        break;
    case json_type_boolean:
        lua_pushboolean(L, json_object_get_boolean(o));
        break;
    case json_type_int: {
        int64_t v = json_object_get_int64(o);
        uint64_t u = v == INT64_MAX ? json_object_get_uint64(o) : 0;
        if (u > (uint64_t)INT64_MAX) lua_pushnumber(L, (lua_Number)u);
        else lua_pushinteger(L, (lua_Integer)v);
        break;
    }
    case json_type_double: {
        double d = json_object_get_double(o);
        if (!isfinite(d))
            luaL_error(L, "rlvr.json.decode: NaN, Infinity and numbers out of range are not JSON");
        lua_pushnumber(L, d);
        break;
    }
    case json_type_string:
        push_string_checked(L, json_object_get_string(o), (size_t)json_object_get_string_len(o));
        break;
    case json_type_array: {
        size_t n = json_object_array_length(o);
        lua_createtable(L, n > INT_MAX ? INT_MAX : (int)n, 0);
        for (size_t i = 0; i < n; i++) {
            push_jo(L, json_object_array_get_idx(o, i));
            lua_rawseti(L, -2, (lua_Integer)i + 1);
        }
        luaL_setmetatable(L, ARRAY_MT);
        break;
    }
    case json_type_object: {
        int n = json_object_object_length(o);
        lua_createtable(L, 0, n > 0 ? n : 0);
        struct json_object_iterator it = json_object_iter_begin(o);
        struct json_object_iterator end = json_object_iter_end(o);
        while (!json_object_iter_equal(&it, &end)) {
            const char *k = json_object_iter_peek_name(&it);
            push_string_checked(L, k, strlen(k));
            push_jo(L, json_object_iter_peek_value(&it));
            lua_rawset(L, -3);
            json_object_iter_next(&it);
        }
        break;
    }
    }
}

void rlvr_lua_json_decode(lua_State *L, const char *json, size_t len)
{
    if (len >= INT_MAX) luaL_error(L, "rlvr.json.decode: text too long");
    jbox *b = push_box(L);
    int bi = lua_gettop(L);
    b->tok = json_tokener_new_ex(JSON_MAX_DEPTH);
    if (!b->tok) luaL_error(L, "rlvr.json.decode: out of memory");
    json_tokener_set_flags(b->tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *o = json_tokener_parse_ex(b->tok, json, (int)len);
    enum json_tokener_error e = json_tokener_get_error(b->tok);
    size_t at = json_tokener_get_parse_end(b->tok);
    if (e == json_tokener_continue) { /* a number, or the text stopped early */
        o = json_tokener_parse_ex(b->tok, "", 1);
        e = json_tokener_get_error(b->tok);
        at = len;
    }
    b->o = o;
    if (e != json_tokener_success)
        luaL_error(L, "rlvr.json.decode: %s at byte %d", json_tokener_error_desc(e), (int)at + 1);
    push_jo(L, o);
    jbox_clear(b);
    lua_remove(L, bi);
}

/* ---- encoding ------------------------------------------------------------ */

static int key_cmp(const void *a, const void *b)
{
    const rlvr_lua_key *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->s, y->s, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

rlvr_lua_key *rlvr_lua_sorted_keys(lua_State *L, int idx, size_t *n, const char *what)
{
    idx = lua_absindex(L, idx);
    size_t count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING)
            luaL_error(L, "%s: keys must be strings (found a %s key)", what, luaL_typename(L, -1));
        count++;
    }
    rlvr_lua_key *keys = lua_newuserdatauv(L, (count ? count : 1) * sizeof *keys, 0);
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (i < count) { /* the string stays alive as a key of the table */
            keys[i].s = lua_tolstring(L, -1, &keys[i].len);
            i++;
        }
    }
    qsort(keys, i, sizeof *keys, key_cmp);
    *n = i;
    return keys;
}

/* 1: an array of *n elements; 0: an object. Raises on other tables. */
static int table_is_array(lua_State *L, int idx, lua_Integer *n)
{
    lua_Integer count = 0, max = 0;
    int strs = 0, nums = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        count++;
        if (lua_type(L, -1) == LUA_TSTRING) {
            strs = 1;
        } else if (lua_isinteger(L, -1) && lua_tointeger(L, -1) >= 1) {
            nums = 1;
            if (lua_tointeger(L, -1) > max) max = lua_tointeger(L, -1);
        } else {
            const char *tn = lua_type(L, -1) == LUA_TNUMBER ? "non-positive or fractional number"
                                                             : luaL_typename(L, -1);
            luaL_error(L, "rlvr.json.encode: cannot encode a table with a %s key "
                          "(arrays have keys 1..n, objects string keys)", tn);
        }
    }
    if (count == 0) {
        int marked = 0;
        if (lua_getmetatable(L, idx)) {
            luaL_getmetatable(L, ARRAY_MT);
            marked = lua_rawequal(L, -1, -2);
            lua_pop(L, 2);
        }
        *n = 0;
        return marked;
    }
    if (strs && nums)
        luaL_error(L, "rlvr.json.encode: cannot encode a table that mixes string keys and array indices");
    if (nums) {
        if (max != count)
            luaL_error(L, "rlvr.json.encode: cannot encode a sparse array (its keys are not 1..n)");
        *n = max;
        return 1;
    }
    return 0;
}

static void format_double(double d, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.15g", d);
    if (strtod(buf, NULL) != d) snprintf(buf, cap, "%.17g", d);
    for (char *p = buf; *p; p++)
        if (*p == ',') *p = '.'; /* a locale with a decimal comma */
    if (!strpbrk(buf, ".eE") && strlen(buf) + 2 < cap) strcat(buf, ".0");
}

/* Makes the JSON value of the Lua value at idx, hands it to its owner (the
 * box for the root, else the parent under key or at the end), then fills it
 * when it is a container. */
static void enc(lua_State *L, int idx, int depth, jbox *box, json_object *parent,
                const char *key)
{
    idx = lua_absindex(L, idx);
    json_object *o = NULL;
    int kind = -1; /* 1 array, 0 object, -1 scalar */
    lua_Integer n = 0;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        break;
    case LUA_TBOOLEAN:
        o = json_object_new_boolean(lua_toboolean(L, idx));
        break;
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            o = json_object_new_int64((int64_t)lua_tointeger(L, idx));
        } else {
            double d = (double)lua_tonumber(L, idx);
            if (!isfinite(d)) luaL_error(L, "rlvr.json.encode: cannot encode NaN or infinity");
            char buf[40];
            format_double(d, buf, sizeof buf);
            o = json_object_new_double_s(d, buf);
        }
        break;
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        size_t bad = 0;
        if (!rlvr_lua_utf8_check(s, len, &bad))
            luaL_error(L, "rlvr.json.encode: a string is not valid UTF-8 (byte %d)", (int)bad + 1);
        if (len >= INT_MAX) luaL_error(L, "rlvr.json.encode: string too long");
        o = json_object_new_string_len(s, (int)len);
        break;
    }
    case LUA_TTABLE:
        if (depth >= JSON_MAX_DEPTH)
            luaL_error(L, "rlvr.json.encode: nesting deeper than %d (a cycle?)", JSON_MAX_DEPTH);
        kind = table_is_array(L, idx, &n);
        o = kind ? json_object_new_array_ext(n > INT_MAX ? INT_MAX : (int)n) : json_object_new_object();
        break;
    default:
        if (is_null(L, idx)) break;
        luaL_error(L, "rlvr.json.encode: cannot encode a %s value", luaL_typename(L, idx));
    }
    int t = lua_type(L, idx);
    if (!o && t != LUA_TNIL && !(t == LUA_TUSERDATA || t == LUA_TLIGHTUSERDATA))
        luaL_error(L, "rlvr.json.encode: out of memory");
    if (!parent) {
        box->o = o;
    } else if (key) {
        if (json_object_object_add(parent, key, o) != 0) {
            json_object_put(o);
            luaL_error(L, "rlvr.json.encode: out of memory");
        }
    } else if (json_object_array_add(parent, o) != 0) {
        json_object_put(o);
        luaL_error(L, "rlvr.json.encode: out of memory");
    }
    if (kind < 0) return;
    luaL_checkstack(L, 6, "rlvr.json.encode: nesting too deep");
    if (kind == 1) {
        for (lua_Integer i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, i);
            enc(L, -1, depth + 1, box, o, NULL);
            lua_pop(L, 1);
        }
        return;
    }
    size_t nk;
    rlvr_lua_key *keys = rlvr_lua_sorted_keys(L, idx, &nk, "rlvr.json.encode");
    for (size_t i = 0; i < nk; i++) {
        if (strlen(keys[i].s) != keys[i].len)
            luaL_error(L, "rlvr.json.encode: object keys cannot hold NUL bytes");
        lua_pushlstring(L, keys[i].s, keys[i].len);
        lua_rawget(L, idx);
        enc(L, -1, depth + 1, box, o, keys[i].s);
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the keys */
}

void rlvr_lua_json_encode(lua_State *L, int idx)
{
    idx = lua_absindex(L, idx);
    jbox *b = push_box(L);
    int bi = lua_gettop(L);
    enc(L, idx, 0, b, NULL, NULL);
    size_t len = 0;
    const char *s = json_object_to_json_string_length(
        b->o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &len);
    if (!s) luaL_error(L, "rlvr.json.encode: out of memory");
    lua_pushlstring(L, s, len);
    jbox_clear(b);
    lua_remove(L, bi);
}

/* ---- the Lua functions ---------------------------------------------------- */

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    rlvr_lua_json_decode(L, s, n);
    return 1;
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    rlvr_lua_json_encode(L, 1);
    return 1;
}

/* rlvr.json.array([t]) -> t marked as an array (a new table without t). */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        lua_settop(L, 1);
    }
    luaL_setmetatable(L, ARRAY_MT);
    return 1;
}

static int null_tostring(lua_State *L)
{
    lua_pushliteral(L, "rlvr.json.null");
    return 1;
}

void rlvr_lua_open_json(lua_State *L)
{
    luaL_newmetatable(L, ARRAY_MT);
    lua_pop(L, 1);
    lua_newuserdatauv(L, 1, 0); /* the null sentinel */
    lua_newtable(L);
    lua_pushcfunction(L, null_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pushliteral(L, "rlvr.json.null");
    lua_setfield(L, -2, "__metatable");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, NULL_KEY);

    static const luaL_Reg fns[] = {
        {"decode", l_decode}, {"encode", l_encode}, {"array", l_array}, {NULL, NULL}};
    luaL_newlib(L, fns);
    push_null(L);
    lua_setfield(L, -2, "null");
}

/* ---- the C side ------------------------------------------------------------ */

typedef struct json_args {
    const char *json;
    size_t len;
} json_args;

static int push_json_run(lua_State *L)
{
    json_args *a = lua_touserdata(L, 1);
    rlvr_lua_json_decode(L, a->json, a->len);
    return 1;
}

int rlvr_lua_push_json(lua_State *L, const char *json, size_t len, char *err, size_t err_len)
{
    if (!lua_checkstack(L, 3)) {
        rlvr_lua_strlcpy(err, "Lua stack overflow", err_len);
        return -1;
    }
    json_args a = {json ? json : "", json ? len : 0};
    lua_pushcfunction(L, push_json_run);
    lua_pushlightuserdata(L, &a);
    int st = lua_pcall(L, 1, 1, 0);
    if (st == LUA_OK) return 0;
    rlvr_lua_describe_error(L, st, err, err_len);
    lua_pop(L, 1);
    return -1;
}

static int to_json_run(lua_State *L)
{
    rlvr_lua_json_encode(L, 1);
    return 1;
}

char *rlvr_lua_to_json(lua_State *L, int idx, size_t *len, char *err, size_t err_len)
{
    idx = lua_absindex(L, idx);
    if (!lua_checkstack(L, 3)) {
        rlvr_lua_strlcpy(err, "Lua stack overflow", err_len);
        return NULL;
    }
    lua_pushcfunction(L, to_json_run);
    lua_pushvalue(L, idx);
    int st = lua_pcall(L, 1, 1, 0);
    if (st != LUA_OK) {
        rlvr_lua_describe_error(L, st, err, err_len);
        lua_pop(L, 1);
        return NULL;
    }
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    char *out = malloc(n + 1);
    if (!out) {
        lua_pop(L, 1);
        rlvr_lua_strlcpy(err, "out of memory", err_len);
        return NULL;
    }
    memcpy(out, s, n + 1);
    lua_pop(L, 1);
    if (len) *len = n;
    return out;
}
