/*
 * luaplugin.c -- a Lua script as a reward plugin, adapted to rlvr_plugin.
 *
 * The script returns a table (see README.md, "Writing a plugin in Lua"):
 *   name (required, [a-z0-9_]+), version, description (one line),
 *   deterministic (boolean), config (option name -> {type = "bool"|"int"|
 *   "number"|"string"|"json", default, min, max, choices, help}), and
 *   score = function(sample, config, ctx) (required).
 * rlvr_lua_plugin_load reads the file once, runs it in a throw-away sandbox,
 * validates the table (an unknown key, a bad option or a missing score is an
 * error "path: message") and builds a heap descriptor: flags RLVR_REENTRANT
 * (each worker has its own state) and RLVR_DETERMINISTIC when declared; the
 * options are the script's, sorted by name, then time_limit_ms and
 * memory_limit_mb, which every Lua plugin has.
 *
 * Instances. create copies the validated configuration out of the host (no
 * pointer to it is kept). score finds the worker's slot (the slot array
 * grows under the instance's mutex; slots never move, so a worker uses its
 * own without the lock), makes the worker's state on first use from the
 * source read at load (so every worker runs the same text), with the
 * configuration table built once per state, and calls score inside
 * rlvr_lua_pcall. Everything that touches the state during a call runs
 * inside that protected call, so a memory error anywhere is caught. A state
 * whose call overran the time or memory cap is closed; the next call makes a
 * fresh one. Errors and the adapter's own reasons are prefixed with the
 * plugin's name. A worker re-entering its own busy state (a script calling
 * its own plugin through rlvr.call) is refused.
 *
 * One create serves every script: host->config_plugin tells it which
 * descriptor (the head of an lp_plugin) the configuration was built for.
 */
#define _POSIX_C_SOURCE 200809L

#include "rlvr_lua_int.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_MAX_LEN 63
#define TIME_OPT "time_limit_ms"
#define MEMORY_OPT "memory_limit_mb"

typedef struct lp_plugin {
    rlvr_plugin desc;      /* first: rlvr_lua_plugin_free casts back */
    char *path;
    char *source;
    size_t source_len;
    char *name, *version, *description;
    rlvr_option *options;  /* n_options, strings owned */
    size_t n_options;
} lp_plugin;

typedef struct lp_value {
    int b;
    int64_t i;
    double d;
    char *s;               /* STRING and JSON, NUL-terminated */
    size_t slen;
} lp_value;

typedef struct lp_worker {
    lua_State *L;
    int score_ref, config_ref;
    int busy;
} lp_worker;

typedef struct lp_instance {
    const lp_plugin *p;
    const rlvr_host *host;
    lp_value *vals;        /* one per option of p */
    rlvr_lua_limits lim;
    pthread_mutex_t lock;
    lp_worker **workers;   /* n_slots pointers; a slot never moves */
    int n_slots;
} lp_instance;

static void fmt(char *err, size_t err_len, const char *f, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void fmt(char *err, size_t err_len, const char *f, ...)
{
    if (!err || !err_len) return;
    va_list ap;
    va_start(ap, f);
    vsnprintf(err, err_len, f, ap);
    va_end(ap);
}

static char *dupn(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static char *dup0(const char *s)
{
    return s ? dupn(s, strlen(s)) : NULL;
}

static int valid_name(const char *s, size_t n)
{
    if (n == 0 || n > NAME_MAX_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_')) return 0;
    return 1;
}

/* ---- validation at load (runs protected, raises plain messages) ---------- */

typedef struct lp_load {
    lp_plugin *p;
    int deterministic;
} lp_load;

static void fail(lua_State *L, const char *f, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void fail(lua_State *L, const char *f, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, f);
    vsnprintf(buf, sizeof buf, f, ap);
    va_end(ap);
    lua_pushstring(L, buf);
    lua_error(L);
}

static char *need_dup(lua_State *L, const char *s, size_t n)
{
    char *d = dupn(s, n);
    if (!d) fail(L, "out of memory");
    return d;
}

/* The string field k of the table at t, or NULL when absent. */
static const char *opt_string(lua_State *L, int t, const char *k, const char *where, size_t *len)
{
    int ty = lua_getfield(L, t, k);
    if (ty == LUA_TNIL) {
        lua_pop(L, 1);
        return NULL;
    }
    if (ty != LUA_TSTRING) fail(L, "%s%s must be a string (got a %s)", where, k, lua_typename(L, ty));
    const char *s = lua_tolstring(L, -1, len);
    lua_pop(L, 1); /* still referenced by the table */
    if (strlen(s) != *len) fail(L, "%s%s must not contain NUL bytes", where, k);
    return s;
}

static int checked_number(lua_State *L, int idx, const char *what, double *out)
{
    if (lua_type(L, idx) == LUA_TNIL) return 0;
    if (lua_type(L, idx) != LUA_TNUMBER) fail(L, "%s must be a number", what);
    *out = (double)lua_tonumber(L, idx);
    if (isnan(*out)) fail(L, "%s must not be NaN", what);
    return 1;
}

/* Fills o from the spec table at index spec (o->name is set). */
static void parse_option(lua_State *L, int spec, rlvr_option *o)
{
    char where[128];
    snprintf(where, sizeof where, "config.%s: ", o->name);
    if (lua_type(L, spec) != LUA_TTABLE)
        fail(L, "%sthe option must be a table like {type = \"int\", default = 1} (got a %s)", where,
             luaL_typename(L, spec));
    static const char *const fields[] = {"type", "default", "min", "max", "choices", "help", NULL};
    lua_pushnil(L);
    while (lua_next(L, spec)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; fields[i] && !known; i++) known = strcmp(lua_tostring(L, -1), fields[i]) == 0;
        if (!known)
            fail(L, "%sunknown field '%s' (known: type, default, min, max, choices, help)", where,
                 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
    }
    size_t n;
    const char *type = opt_string(L, spec, "type", where, &n);
    static const char *const types[] = {"bool", "int", "number", "string", "json", NULL};
    static const rlvr_option_type codes[] = {RLVR_OPT_BOOL, RLVR_OPT_INT, RLVR_OPT_NUMBER,
                                             RLVR_OPT_STRING, RLVR_OPT_JSON};
    if (!type) fail(L, "%smissing type (bool, int, number, string or json)", where);
    int ti = -1;
    for (int i = 0; types[i]; i++)
        if (strcmp(type, types[i]) == 0) ti = i;
    if (ti < 0) fail(L, "%sunknown type \"%s\" (bool, int, number, string or json)", where, type);
    o->type = codes[ti];

    const char *help = opt_string(L, spec, "help", where, &n);
    o->help = need_dup(L, help ? help : "", help ? n : 0);

    /* range */
    double mn = -DBL_MAX, mx = DBL_MAX;
    lua_getfield(L, spec, "min");
    lua_getfield(L, spec, "max");
    int has_min = lua_type(L, -2) != LUA_TNIL, has_max = lua_type(L, -1) != LUA_TNIL;
    if ((has_min || has_max) && o->type != RLVR_OPT_INT && o->type != RLVR_OPT_NUMBER)
        fail(L, "%smin and max apply to int and number options only", where);
    char what[160];
    snprintf(what, sizeof what, "%smin", where);
    checked_number(L, -2, what, &mn);
    snprintf(what, sizeof what, "%smax", where);
    checked_number(L, -1, what, &mx);
    lua_pop(L, 2);
    if (has_min && has_max && !(mn < mx)) fail(L, "%smin must be below max", where);
    if (o->type == RLVR_OPT_INT || o->type == RLVR_OPT_NUMBER) {
        o->min = mn;
        o->max = mx;
    }

    /* choices */
    int ct = lua_getfield(L, spec, "choices");
    if (ct != LUA_TNIL) {
        if (o->type != RLVR_OPT_STRING) fail(L, "%schoices apply to string options only", where);
        if (ct != LUA_TTABLE) fail(L, "%schoices must be a list of strings", where);
        luaL_Buffer b;
        int ci = lua_gettop(L);
        lua_Integer nc = (lua_Integer)lua_rawlen(L, ci);
        if (nc == 0) fail(L, "%schoices must be a non-empty list of strings", where);
        luaL_buffinit(L, &b);
        for (lua_Integer i = 1; i <= nc; i++) {
            if (lua_rawgeti(L, ci, i) != LUA_TSTRING) fail(L, "%schoices must be a list of strings", where);
            size_t cl;
            const char *c = lua_tolstring(L, -1, &cl);
            if (cl == 0 || strlen(c) != cl || strchr(c, '|'))
                fail(L, "%sa choice must be a non-empty string without '|'", where);
            lua_pop(L, 1);
            if (i > 1) luaL_addchar(&b, '|');
            luaL_addlstring(&b, c, cl);
        }
        luaL_pushresult(&b);
        size_t jl;
        const char *joined = lua_tolstring(L, -1, &jl);
        o->choices = need_dup(L, joined, jl);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);

    /* default */
    int dt = lua_getfield(L, spec, "default");
    int d = lua_gettop(L);
    char buf[64];
    if (dt == LUA_TNIL) {
        o->default_value = NULL; /* required */
    } else if (o->type == RLVR_OPT_BOOL) {
        if (dt != LUA_TBOOLEAN) fail(L, "%sdefault must be a boolean", where);
        o->default_value = need_dup(L, lua_toboolean(L, d) ? "true" : "false", lua_toboolean(L, d) ? 4 : 5);
    } else if (o->type == RLVR_OPT_INT) {
        lua_Integer v = 0;
        double x = dt == LUA_TNUMBER ? (double)lua_tonumber(L, d) : 0.5;
        if (dt == LUA_TNUMBER && lua_isinteger(L, d)) v = lua_tointeger(L, d);
        else if (x == floor(x) && fabs(x) < 9e15) v = (lua_Integer)x;
        else fail(L, "%sdefault must be an integer", where);
        if ((double)v < o->min) fail(L, "%sdefault %lld is below the min %g", where, (long long)v, o->min);
        if ((double)v > o->max) fail(L, "%sdefault %lld is above the max %g", where, (long long)v, o->max);
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        o->default_value = need_dup(L, buf, strlen(buf));
    } else if (o->type == RLVR_OPT_NUMBER) {
        if (dt != LUA_TNUMBER) fail(L, "%sdefault must be a number", where);
        double v = (double)lua_tonumber(L, d);
        if (!isfinite(v)) fail(L, "%sdefault must be finite", where);
        if (v < o->min) fail(L, "%sdefault %g is below the min %g", where, v, o->min);
        if (v > o->max) fail(L, "%sdefault %g is above the max %g", where, v, o->max);
        snprintf(buf, sizeof buf, "%.17g", v);
        o->default_value = need_dup(L, buf, strlen(buf));
    } else if (o->type == RLVR_OPT_STRING) {
        if (dt != LUA_TSTRING) fail(L, "%sdefault must be a string", where);
        size_t dl;
        const char *dv = lua_tolstring(L, d, &dl);
        if (strlen(dv) != dl) fail(L, "%sdefault must not contain NUL bytes", where);
        if (o->choices) {
            int found = 0;
            for (const char *c = o->choices; *c && !found;) {
                size_t cl = strcspn(c, "|");
                found = cl == dl && memcmp(c, dv, dl) == 0;
                c += cl + (c[cl] == '|');
            }
            if (!found) fail(L, "%sdefault \"%s\" is not one of the choices %s", where, dv, o->choices);
        }
        o->default_value = need_dup(L, dv, dl);
    } else { /* JSON */
        rlvr_lua_json_encode(L, d);
        size_t jl;
        const char *j = lua_tolstring(L, -1, &jl);
        o->default_value = need_dup(L, j, jl);
        lua_pop(L, 1);
    }
    lua_settop(L, d - 1);
}

static const rlvr_option limit_options[2] = {
    {TIME_OPT, RLVR_OPT_NUMBER, "1000", 1, 600000, NULL,
     "time limit of one score call (and of the script's first run), in milliseconds"},
    {MEMORY_OPT, RLVR_OPT_INT, "64", 1, 65536, NULL,
     "memory limit of the plugin's Lua state (one per worker), in MiB"},
};

static void parse_config(lua_State *L, int t, lp_plugin *p)
{
    size_t n = 0;
    rlvr_lua_key *keys = NULL;
    if (lua_type(L, t) != LUA_TNIL) {
        if (lua_type(L, t) != LUA_TTABLE)
            fail(L, "config must be a table of options (got a %s)", luaL_typename(L, t));
        keys = rlvr_lua_sorted_keys(L, t, &n, "config");
    }
    p->options = calloc(n + 2, sizeof *p->options);
    if (!p->options) fail(L, "out of memory");
    for (size_t i = 0; i < n; i++) {
        rlvr_option *o = &p->options[i];
        p->n_options = i + 1; /* so that a failure frees what was made */
        if (!valid_name(keys[i].s, keys[i].len))
            fail(L, "config: option name \"%s\" must be made of a-z, 0-9 and _", keys[i].s);
        if (strcmp(keys[i].s, TIME_OPT) == 0 || strcmp(keys[i].s, MEMORY_OPT) == 0)
            fail(L, "config.%s: reserved (every Lua plugin has it)", keys[i].s);
        o->name = need_dup(L, keys[i].s, keys[i].len);
        lua_pushlstring(L, keys[i].s, keys[i].len);
        lua_rawget(L, t);
        parse_option(L, lua_gettop(L), o);
        lua_pop(L, 1);
    }
    if (keys) lua_pop(L, 1);
    for (int k = 0; k < 2; k++) {
        rlvr_option *o = &p->options[n + (size_t)k];
        *o = limit_options[k];
        o->name = need_dup(L, o->name, strlen(o->name));
        o->default_value = need_dup(L, o->default_value, strlen(o->default_value));
        o->help = need_dup(L, o->help, strlen(o->help));
        p->n_options = n + (size_t)k + 1;
    }
}

static int lp_validate(lua_State *L)
{
    lp_load *ld = lua_touserdata(L, 1);
    lp_plugin *p = ld->p;
    int t = 2;
    if (lua_type(L, t) != LUA_TTABLE)
        fail(L, "the script must return the plugin table (it returned a %s)", luaL_typename(L, t));
    static const char *const keys[] = {"name", "version", "description", "deterministic",
                                       "config", "score", NULL};
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        int known = 0;
        if (lua_type(L, -1) == LUA_TSTRING)
            for (int i = 0; keys[i] && !known; i++) known = strcmp(lua_tostring(L, -1), keys[i]) == 0;
        if (!known)
            fail(L, "unknown key '%s' in the plugin table (known: name, version, description, "
                    "deterministic, config, score)",
                 lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1));
    }
    size_t n;
    const char *s = opt_string(L, t, "name", "", &n);
    if (!s) fail(L, "the plugin table has no name");
    if (!valid_name(s, n)) fail(L, "name \"%s\" must be 1 to %d characters of a-z, 0-9 and _", s, NAME_MAX_LEN);
    p->name = need_dup(L, s, n);
    s = opt_string(L, t, "version", "", &n);
    p->version = need_dup(L, s ? s : "0", s ? n : 1);
    s = opt_string(L, t, "description", "", &n);
    if (s && strchr(s, '\n')) fail(L, "description must be one line");
    p->description = need_dup(L, s ? s : "", s ? n : 0);
    int dt = lua_getfield(L, t, "deterministic");
    if (dt != LUA_TNIL && dt != LUA_TBOOLEAN) fail(L, "deterministic must be a boolean");
    ld->deterministic = lua_toboolean(L, -1);
    lua_pop(L, 1);
    int st = lua_getfield(L, t, "score");
    if (st == LUA_TNIL) fail(L, "the plugin table has no score function");
    if (st != LUA_TFUNCTION) fail(L, "score must be a function (got a %s)", lua_typename(L, st));
    lua_pop(L, 1);
    lua_getfield(L, t, "config");
    parse_config(L, lua_gettop(L), p);
    return 0;
}

/* ---- create: the descriptor comes from the configuration ----------------- */

static void *lp_create(const lp_plugin *p, const rlvr_host *host, const rlvr_config *cfg,
                       char *err, size_t err_len);

/* One create for every loaded script: the host says which descriptor the
 * configuration was built for, and the descriptor is the head of lp_plugin. */
static void *lp_create_any(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t err_len)
{
    const rlvr_plugin *d = host && host->struct_size > offsetof(rlvr_host, config_plugin) && host->config_plugin
                               ? host->config_plugin(cfg) : NULL;
    if (!d || d->create != lp_create_any) {
        fmt(err, err_len, "the host did not say which Lua plugin this configuration is for");
        return NULL;
    }
    return lp_create((const lp_plugin *)(const void *)d, host, cfg, err, err_len);
}

/* ---- instances ------------------------------------------------------------ */

static void set_status(const rlvr_host *h, rlvr_result *r, rlvr_status st, double score)
{
    if (h && h->set_status) {
        h->set_status(r, st, score);
    } else {
        r->status = st;
        r->score = score;
        r->filled = 1;
    }
}

static void fail_result(const lp_instance *in, rlvr_result *r, rlvr_status st, const char *msg)
{
    const rlvr_host *h = in->host;
    if (h && h->set_reason) h->set_reason(r, "%s: %s", in->p->name, msg);
    set_status(h, r, st, 0);
}

/* Parses an option's default text (used when there is no configuration). */
static int default_value(const rlvr_option *o, lp_value *v)
{
    const char *t = o->default_value;
    if (!t) return -1;
    switch (o->type) {
    case RLVR_OPT_BOOL: v->b = strcmp(t, "true") == 0; break;
    case RLVR_OPT_INT: v->i = strtoll(t, NULL, 10); break;
    case RLVR_OPT_NUMBER: v->d = strtod(t, NULL); break;
    default:
        v->s = dup0(t);
        if (!v->s) return -1;
        v->slen = strlen(t);
    }
    return 0;
}

static void free_instance(lp_instance *in)
{
    if (!in) return;
    for (int i = 0; i < in->n_slots; i++) {
        if (!in->workers[i]) continue;
        rlvr_lua_state_free(in->workers[i]->L);
        free(in->workers[i]);
    }
    free(in->workers);
    if (in->vals)
        for (size_t i = 0; i < in->p->n_options; i++) free(in->vals[i].s);
    free(in->vals);
    free(in);
}

static void *lp_create(const lp_plugin *p, const rlvr_host *host, const rlvr_config *cfg,
                       char *err, size_t err_len)
{
    lp_instance *in = calloc(1, sizeof *in);
    if (!in) {
        fmt(err, err_len, "%s: out of memory", p->name);
        return NULL;
    }
    in->p = p;
    in->host = host;
    in->vals = calloc(p->n_options, sizeof *in->vals);
    if (!in->vals) {
        free(in);
        fmt(err, err_len, "%s: out of memory", p->name);
        return NULL;
    }
    int from_host = cfg && host && host->config_bool && host->config_int && host->config_number &&
                    host->config_string;
    for (size_t i = 0; i < p->n_options; i++) {
        const rlvr_option *o = &p->options[i];
        lp_value *v = &in->vals[i];
        if (!from_host) {
            if (default_value(o, v) != 0) {
                fmt(err, err_len, "%s: config key %s is required", p->name, o->name);
                free_instance(in);
                return NULL;
            }
            continue;
        }
        switch (o->type) {
        case RLVR_OPT_BOOL: v->b = host->config_bool(cfg, o->name); break;
        case RLVR_OPT_INT: v->i = host->config_int(cfg, o->name); break;
        case RLVR_OPT_NUMBER: v->d = host->config_number(cfg, o->name); break;
        default: {
            rlvr_text t = host->config_string(cfg, o->name);
            v->s = dupn(t.ptr ? t.ptr : "", t.ptr ? t.len : 0);
            v->slen = t.ptr ? t.len : 0;
            if (!v->s) {
                fmt(err, err_len, "%s: out of memory", p->name);
                free_instance(in);
                return NULL;
            }
        }
        }
    }
    double ms = in->vals[p->n_options - 2].d;
    int64_t mb = in->vals[p->n_options - 1].i;
    in->lim.time_ms = ms >= 1 && ms <= 600000 ? ms : RLVR_LUA_DEFAULT_TIME_MS;
    in->lim.memory_bytes = mb >= 1 && mb <= 65536 ? (size_t)mb << 20 : RLVR_LUA_DEFAULT_MEMORY;
    if (pthread_mutex_init(&in->lock, NULL) != 0) {
        fmt(err, err_len, "%s: cannot make a mutex", p->name);
        free_instance(in);
        return NULL;
    }
    return in;
}

static void lp_destroy(void *instance)
{
    lp_instance *in = instance;
    if (!in) return;
    pthread_mutex_destroy(&in->lock);
    free_instance(in);
}

static lp_worker *get_worker(lp_instance *in, int w, int n_workers)
{
    pthread_mutex_lock(&in->lock);
    lp_worker *ws = NULL;
    if (w >= in->n_slots) {
        int n = w + 1;
        if (n < n_workers) n = n_workers;
        if (n < 2 * in->n_slots) n = 2 * in->n_slots;
        lp_worker **grown = realloc(in->workers, (size_t)n * sizeof *grown);
        if (!grown) goto out;
        memset(grown + in->n_slots, 0, (size_t)(n - in->n_slots) * sizeof *grown);
        in->workers = grown;
        in->n_slots = n;
    }
    ws = in->workers[w];
    if (!ws) {
        ws = calloc(1, sizeof *ws);
        in->workers[w] = ws;
    }
out:
    pthread_mutex_unlock(&in->lock);
    return ws;
}

/* Runs protected in a fresh state with the script's table on top: keeps
 * score and the configuration table in the registry. */
static int lp_bind(lua_State *L)
{
    lp_instance *in = lua_touserdata(L, 1);
    lp_worker *ws = lua_touserdata(L, 2);
    if (lua_type(L, 3) != LUA_TTABLE) fail(L, "the script did not return the plugin table");
    if (lua_getfield(L, 3, "score") != LUA_TFUNCTION) fail(L, "the plugin table has no score function");
    ws->score_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    const lp_plugin *p = in->p;
    lua_createtable(L, 0, (int)p->n_options);
    for (size_t i = 0; i < p->n_options; i++) {
        const lp_value *v = &in->vals[i];
        switch (p->options[i].type) {
        case RLVR_OPT_BOOL: lua_pushboolean(L, v->b); break;
        case RLVR_OPT_INT: lua_pushinteger(L, (lua_Integer)v->i); break;
        case RLVR_OPT_NUMBER: lua_pushnumber(L, v->d); break;
        case RLVR_OPT_STRING: lua_pushlstring(L, v->s, v->slen); break;
        default: rlvr_lua_json_decode(L, v->s, v->slen);
        }
        lua_setfield(L, -2, p->options[i].name);
    }
    ws->config_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int worker_open(lp_instance *in, lp_worker *ws, char *err, size_t err_len)
{
    const lp_plugin *p = in->p;
    char msg[1024];
    lua_State *L = rlvr_lua_state_new(&in->lim, in->host, msg, sizeof msg);
    if (!L) {
        rlvr_lua_strlcpy(err, msg, err_len);
        return -1;
    }
    rlvr_lua_set_name(L, p->name);
    if (rlvr_lua_load_buffer(L, p->source, p->source_len, p->path, err, err_len) != 0) goto fail;
    if (rlvr_lua_pcall(L, 0, 1, msg, sizeof msg) != LUA_OK) {
        rlvr_lua_where_path(msg, p->path, err, err_len);
        goto fail;
    }
    lua_pushcfunction(L, lp_bind);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, in);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, ws);
    lua_insert(L, -2);
    if (rlvr_lua_pcall(L, 3, 0, msg, sizeof msg) != LUA_OK) {
        rlvr_lua_where_path(msg, p->path, err, err_len);
        goto fail;
    }
    ws->L = L;
    return 0;
fail:
    rlvr_lua_state_free(L);
    return -1;
}

typedef struct lp_run_args {
    lp_instance *in;
    lp_worker *ws;
    const rlvr_call *call;
    const rlvr_sample *s;
    rlvr_result *r;
} lp_run_args;

/* details table at idx -> host details; a string "reason" -> set_reason. */
static void put_details(lua_State *L, int idx, const rlvr_host *h, rlvr_result *r)
{
    size_t nk;
    rlvr_lua_key *keys = rlvr_lua_sorted_keys(L, idx, &nk, "score's details table");
    for (size_t i = 0; i < nk; i++) {
        const char *k = keys[i].s;
        lua_pushlstring(L, k, keys[i].len);
        int t = lua_rawget(L, idx);
        if (t == LUA_TSTRING) {
            size_t len;
            const char *v = lua_tolstring(L, -1, &len);
            if (strcmp(k, "reason") == 0) {
                if (h && h->set_reason) h->set_reason(r, "%.*s", len > 4096 ? 4096 : (int)len, v);
            } else if (h && h->detail_string) {
                h->detail_string(r, k, v, len);
            }
        } else if (t == LUA_TNUMBER) {
            if (h && h->detail_number) h->detail_number(r, k, (double)lua_tonumber(L, -1));
        } else if (t == LUA_TBOOLEAN) {
            if (h && h->detail_json)
                h->detail_json(r, k, lua_toboolean(L, -1) ? "true" : "false", lua_toboolean(L, -1) ? 4 : 5);
        } else if (t == LUA_TTABLE || t == LUA_TUSERDATA) {
            rlvr_lua_json_encode(L, -1);
            size_t len;
            const char *j = lua_tolstring(L, -1, &len);
            if (h && h->detail_json) h->detail_json(r, k, j, len);
            lua_pop(L, 1);
        } else {
            fail(L, "score's details.%s: cannot record a %s value", k, lua_typename(L, t));
        }
        lua_pop(L, 1);
    }
    lua_pop(L, 1); /* the keys */
}

/* The protected body of one score call. */
static int lp_run(lua_State *L)
{
    lp_run_args *a = lua_touserdata(L, 1);
    const rlvr_host *h = a->in->host;
    lua_settop(L, 0);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->ws->score_ref);
    rlvr_lua_push_sample(L, a->s);
    lua_rawgeti(L, LUA_REGISTRYINDEX, a->ws->config_ref);
    lua_createtable(L, 0, 4);
    lua_pushinteger(L, a->call ? (lua_Integer)a->call->step : 0);
    lua_setfield(L, -2, "step");
    lua_pushinteger(L, a->call ? a->call->worker : 0);
    lua_setfield(L, -2, "worker");
    lua_pushinteger(L, a->call ? a->call->n_workers : 1);
    lua_setfield(L, -2, "n_workers");
    if (a->call && a->call->entry) {
        lua_pushstring(L, a->call->entry);
        lua_setfield(L, -2, "entry");
    }
    lua_call(L, 3, LUA_MULTRET);
    int n = lua_gettop(L);
    if (n == 0) fail(L, "score returned nothing (return a number, or nil and a reason)");
    int t1 = lua_type(L, 1);
    if (t1 == LUA_TNIL) {
        int t2 = n >= 2 ? lua_type(L, 2) : LUA_TNIL;
        if (t2 != LUA_TNIL && t2 != LUA_TSTRING)
            fail(L, "score returned nil and a %s (the second value must be a reason string)",
                 lua_typename(L, t2));
        size_t len = 0;
        const char *why = t2 == LUA_TSTRING ? lua_tolstring(L, 2, &len) : "no reason given";
        if (t2 != LUA_TSTRING) len = strlen(why);
        if (h && h->set_reason) h->set_reason(a->r, "%.*s", len > 4096 ? 4096 : (int)len, why);
        set_status(h, a->r, RLVR_ABSTAIN, 0);
        return 0;
    }
    if (t1 != LUA_TNUMBER)
        fail(L, "score must return a number, or nil and a reason (it returned a %s)",
             lua_typename(L, t1));
    double score = (double)lua_tonumber(L, 1);
    if (n >= 2 && lua_type(L, 2) != LUA_TNIL) {
        if (lua_type(L, 2) != LUA_TTABLE)
            fail(L, "score's second value must be a details table (it is a %s)", luaL_typename(L, 2));
        put_details(L, 2, h, a->r);
    }
    set_status(h, a->r, RLVR_OK, score);
    return 0;
}

static int lp_score(void *instance, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    lp_instance *in = instance;
    char msg[1024];
    if (!in) {
        set_status(NULL, r, RLVR_ERROR, 0);
        return 0;
    }
    int w = call && call->worker > 0 ? call->worker : 0;
    lp_worker *ws = get_worker(in, w, call ? call->n_workers : 1);
    if (!ws) {
        fail_result(in, r, RLVR_ERROR, "out of memory");
        return 0;
    }
    if (ws->busy) {
        fail_result(in, r, RLVR_ERROR, "called again while scoring on the same worker (rlvr.call into itself?)");
        return 0;
    }
    if (!ws->L && worker_open(in, ws, msg, sizeof msg) != 0) {
        fail_result(in, r, RLVR_ERROR, msg);
        return 0;
    }
    ws->busy = 1;
    lua_State *L = ws->L;
    lp_run_args a = {in, ws, call, s, r};
    rlvr_lua_set_call(L, call);
    lua_pushcfunction(L, lp_run);
    lua_pushlightuserdata(L, &a);
    int st = rlvr_lua_pcall(L, 1, 0, msg, sizeof msg);
    rlvr_lua_set_call(L, NULL);
    lua_settop(L, 0);
    if (st != LUA_OK) fail_result(in, r, RLVR_ERROR, msg);
    if (rlvr_lua_limits_hit(L)) {
        rlvr_lua_state_free(L);
        ws->L = NULL;
    }
    ws->busy = 0;
    return 0;
}

/* ---- loading ---------------------------------------------------------------- */

static void free_plugin(lp_plugin *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n_options; i++) {
        free((char *)p->options[i].name);
        free((char *)p->options[i].default_value);
        free((char *)p->options[i].choices);
        free((char *)p->options[i].help);
    }
    free(p->options);
    free(p->path);
    free(p->source);
    free(p->name);
    free(p->version);
    free(p->description);
    free(p);
}

static int read_file(const char *path, char **out, size_t *len, char *err, size_t err_len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fmt(err, err_len, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) break;
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *grown = cap > ((size_t)1 << 30) ? NULL : realloc(buf, cap * 2);
        if (!grown) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = grown;
        cap *= 2;
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf || bad) {
        free(buf);
        fmt(err, err_len, "%s: cannot read%s", path, buf ? "" : " (out of memory or too large)");
        return -1;
    }
    buf[n] = '\0'; /* n < cap: the loop ends on a short read */
    *out = buf;
    *len = n;
    return 0;
}

const rlvr_plugin *rlvr_lua_plugin_load(const char *path, const rlvr_host *host, char *err,
                                        size_t err_len)
{
    if (!path) {
        fmt(err, err_len, "no path given");
        return NULL;
    }
    lp_plugin *p = calloc(1, sizeof *p);
    if (!p || !(p->path = dup0(path))) {
        free(p);
        fmt(err, err_len, "%s: out of memory", path);
        return NULL;
    }
    if (read_file(path, &p->source, &p->source_len, err, err_len) != 0) {
        free_plugin(p);
        return NULL;
    }
    char msg[1024];
    lua_State *L = rlvr_lua_state_new(NULL, host, msg, sizeof msg);
    if (!L) {
        fmt(err, err_len, "%s: %s", path, msg);
        free_plugin(p);
        return NULL;
    }
    const char *base = strrchr(path, '/');
    rlvr_lua_set_name(L, base ? base + 1 : path);
    lp_load ld = {p, 0};
    if (rlvr_lua_load_buffer(L, p->source, p->source_len, path, err, err_len) != 0) goto fail;
    if (rlvr_lua_pcall(L, 0, 1, msg, sizeof msg) != LUA_OK) {
        rlvr_lua_where_path(msg, path, err, err_len);
        goto fail;
    }
    lua_pushcfunction(L, lp_validate);
    lua_insert(L, -2);
    lua_pushlightuserdata(L, &ld);
    lua_insert(L, -2);
    if (rlvr_lua_pcall(L, 2, 0, msg, sizeof msg) != LUA_OK) {
        rlvr_lua_where_path(msg, path, err, err_len);
        goto fail;
    }
    rlvr_lua_state_free(L);
    L = NULL;

    rlvr_plugin *d = &p->desc;
    d->struct_size = sizeof *d;
    d->abi_major = RLVR_ABI_MAJOR;
    d->abi_minor = RLVR_ABI_MINOR;
    d->name = p->name;
    d->version = p->version;
    d->description = p->description;
    d->flags = RLVR_REENTRANT | (ld.deterministic ? RLVR_DETERMINISTIC : 0);
    d->options = p->options;
    d->n_options = p->n_options;
    d->create = lp_create_any;
    d->destroy = lp_destroy;
    d->score = lp_score;
    d->score_batch = NULL;
    return d;
fail:
    rlvr_lua_state_free(L);
    free_plugin(p);
    return NULL;
}

void rlvr_lua_plugin_free(const rlvr_plugin *d)
{
    if (!d) return;
    free_plugin((lp_plugin *)(void *)d);
}
