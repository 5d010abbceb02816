/*
 * mix.c -- loading reward mixes from Lua (see mix.h and README.md).
 *
 * The mix file runs in a sandboxed state with three helpers defined:
 *   plugin(NAME, {weight=, name=, config=, optional=, lazy=, isolate=, timeout_ms=})
 *   mix{ entry, entry, ..., combine = "sum" | function(c, sample, step) }
 *   route{ field = "data_source", cases = { math = mix{...}, ... }, default = mix{...} }
 * Each records the line it was called from, so errors found later (when the
 * plugin's options are known) still name the file and line. Plain tables
 * are accepted too ({plugin = "math", weight = 1}); their errors name the
 * line of the enclosing mix{} call.
 */
#include "mix.h"

#include <lauxlib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isolate.h"
#include "rlvr_lua.h"
#include "util.h"

#define LINE_KEY "__rlvr_line"
#define KIND_KEY "__rlvr_kind"

static int caller_line(lua_State *L)
{
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "l", &ar)) return ar.currentline;
    return 0;
}

static void mark(lua_State *L, int idx, const char *kind)
{
    idx = lua_absindex(L, idx);
    lua_pushinteger(L, caller_line(L));
    lua_setfield(L, idx, LINE_KEY);
    lua_pushstring(L, kind);
    lua_setfield(L, idx, KIND_KEY);
}

static int l_plugin(lua_State *L)
{
    luaL_checkstring(L, 1);
    if (lua_isnoneornil(L, 2)) lua_newtable(L);
    else luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    lua_pushvalue(L, 1);
    lua_setfield(L, 2, "plugin");
    mark(L, 2, "entry");
    return 1;
}

static int l_mix(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    mark(L, 1, "mix");
    return 1;
}

static int l_route(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    mark(L, 1, "route");
    return 1;
}

/* Run the mix file in L; leaves its returned value on the stack. */
static int run_file(lua_State *L, const char *path, char *err, size_t err_len)
{
    lua_pushcfunction(L, l_plugin);
    lua_setglobal(L, "plugin");
    lua_pushcfunction(L, l_mix);
    lua_setglobal(L, "mix");
    lua_pushcfunction(L, l_route);
    lua_setglobal(L, "route");
    if (rlvr_lua_load_file(L, path, err, err_len)) return -1;
    if (rlvr_lua_pcall(L, 0, 1, err, err_len) != LUA_OK) return -1;
    if (!lua_istable(L, -1)) {
        rlvr_errf(err, err_len, "%s: the mix file must return a table (mix{...} or route{...}), not %s", path,
                  luaL_typename(L, -1));
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static int line_of(lua_State *L, int idx, int fallback)
{
    lua_getfield(L, idx, LINE_KEY);
    int line = lua_isinteger(L, -1) ? (int)lua_tointeger(L, -1) : fallback;
    lua_pop(L, 1);
    return line;
}

typedef struct walker {
    rlvr_mix *m;
    rlvr_registry *reg;
    int build;          /* 1: build C structures; 0: collect combine functions */
    int combine_tab;    /* collect mode: absolute index of the leaf->function table */
    int n_leaves;
    const char *path;
    char *err;
    size_t err_len;
} walker;

static int werr(walker *w, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int werr(walker *w, int line, const char *fmt, ...)
{
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (line > 0) rlvr_errf(w->err, w->err_len, "%s:%d: %s", w->path, line, msg);
    else rlvr_errf(w->err, w->err_len, "%s: %s", w->path, msg);
    return -1;
}

static int add_entry_ptr(rlvr_mix *m, rlvr_entry *e)
{
    rlvr_entry **all = realloc(m->all, (m->n_entries + 1) * sizeof *all);
    if (!all) return -1;
    m->all = all;
    e->gid = (int)m->n_entries;
    all[m->n_entries++] = e;
    return 0;
}

/* A plugin given by a relative path in a mix file is looked for beside the
 * mix file first, then from the current folder. */
static rlvr_loaded *get_plugin(rlvr_registry *reg, const char *plugin, const char *mix_path, char *m, size_t m_len)
{
    int is_path = strchr(plugin, '/') || strstr(plugin, ".so") || strstr(plugin, ".lua");
    const char *slash = mix_path ? strrchr(mix_path, '/') : NULL;
    if (is_path && plugin[0] != '/' && slash) {
        char beside[4096];
        if ((size_t)snprintf(beside, sizeof beside, "%.*s/%s", (int)(slash - mix_path), mix_path, plugin) < sizeof beside
            && access(beside, R_OK) == 0)
            return rlvr_registry_get(reg, beside, m, m_len);
    }
    return rlvr_registry_get(reg, plugin, m, m_len);
}

static int setup_entry(rlvr_entry *e, rlvr_registry *reg, const char *plugin, const char *mix_path,
                       json_object *cfg, char *err, size_t err_len)
{
    char m[600];
    pthread_mutex_init(&e->lock, NULL);
    e->plugin = get_plugin(reg, plugin, mix_path, m, sizeof m);
    if (!e->plugin) { rlvr_errf(err, err_len, "%s", m); return -1; }
    e->config = rlvr_config_build(e->plugin, cfg, m, sizeof m);
    if (!e->config) { rlvr_errf(err, err_len, "plugin %s: %s", e->plugin->name, m); return -1; }
    if (!e->name && !(e->name = strdup(e->plugin->name))) { rlvr_errf(err, err_len, "out of memory"); return -1; }
    if (e->plugin->desc.flags & RLVR_ISOLATE) e->isolate = 1;
    if (e->timeout_ms <= 0) e->timeout_ms = 30000;
    if (e->plugin->desc.create) {
        m[0] = 0;
        e->instance = e->plugin->desc.create(&rlvr_host_services, e->config, m, sizeof m);
        if (!e->instance) {
            rlvr_errf(err, err_len, "plugin %s: create failed: %s", e->plugin->name, m[0] ? m : "no reason given");
            return -1;
        }
    }
    return 0;
}

static const char *const entry_keys[] = {"plugin", "name", "weight", "config", "optional", "lazy",
                                         "isolate", "timeout_ms", LINE_KEY, KIND_KEY, NULL};

static int key_known(const char *k, const char *const *keys)
{
    for (; *keys; keys++)
        if (strcmp(k, *keys) == 0) return 1;
    return 0;
}

/* The entry table at the top of the stack. */
static int build_entry(walker *w, lua_State *L, rlvr_leaf *leaf, int mix_line)
{
    int t = lua_gettop(L);
    int line = line_of(L, t, mix_line);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING || !key_known(lua_tostring(L, -1), entry_keys)) {
            const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : luaL_typename(L, -1);
            return werr(w, line, "unknown entry key '%s' (known: plugin, name, weight, config, optional, "
                                 "lazy, isolate, timeout_ms)", k);
        }
    }
    rlvr_entry *e = &leaf->entries[leaf->n];
    memset(e, 0, sizeof *e);
    e->line = line;
    lua_getfield(L, t, "plugin");
    if (lua_type(L, -1) != LUA_TSTRING) return werr(w, line, "entry has no plugin name (plugin = \"NAME\")");
    char *plugin = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, t, "name");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TSTRING) { free(plugin); return werr(w, line, "entry name must be a string"); }
        e->name = strdup(lua_tostring(L, -1));
    }
    lua_pop(L, 1);
    lua_getfield(L, t, "weight");
    e->weight = 1.0;
    e->weight_ref = LUA_NOREF;
    if (lua_isfunction(L, -1)) {
        e->weight_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    } else {
        if (!lua_isnil(L, -1)) {
            if (lua_type(L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(L, -1))) {
                int rc = werr(w, line, "weight of '%s' must be a finite number or a function(step), not %s",
                              e->name ? e->name : plugin, luaL_typename(L, -1));
                free(plugin);
                return rc;
            }
            e->weight = lua_tonumber(L, -1);
        }
        lua_pop(L, 1);
    }
    static const char *const flags[] = {"optional", "lazy", "isolate"};
    int *dst[] = {&e->optional, &e->lazy, &e->isolate};
    for (int i = 0; i < 3; i++) {
        lua_getfield(L, t, flags[i]);
        if (!lua_isnil(L, -1) && !lua_isboolean(L, -1)) {
            free(plugin);
            return werr(w, line, "entry key '%s' must be true or false", flags[i]);
        }
        *dst[i] = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_getfield(L, t, "timeout_ms");
    if (!lua_isnil(L, -1)) {
        if (lua_type(L, -1) != LUA_TNUMBER || !(lua_tonumber(L, -1) > 0)) {
            free(plugin);
            return werr(w, line, "timeout_ms must be a positive number");
        }
        e->timeout_ms = lua_tonumber(L, -1);
    }
    lua_pop(L, 1);
    json_object *cfg = NULL;
    lua_getfield(L, t, "config");
    if (!lua_isnil(L, -1)) {
        if (!lua_istable(L, -1)) {
            free(plugin);
            return werr(w, line, "config must be a table");
        }
        char m[300];
        size_t n;
        char *js = rlvr_lua_to_json(L, -1, &n, m, sizeof m);
        if (!js) { free(plugin); return werr(w, line, "config: %s", m); }
        cfg = json_tokener_parse(js);
        free(js);
        if (lua_rawlen(L, -1) == 0 && json_object_is_type(cfg, json_type_array)) {
            json_object_put(cfg); /* {} is written as [] */
            cfg = json_object_new_object();
        }
    }
    lua_pop(L, 1);
    char m[700];
    int rc = setup_entry(e, w->reg, plugin, w->path, cfg, m, sizeof m);
    json_object_put(cfg);
    leaf->n++;
    if (rc) {
        free(plugin);
        return werr(w, line, "entry '%s': %s", e->name ? e->name : plugin, m);
    }
    free(plugin);
    for (size_t i = 0; i + 1 < leaf->n; i++)
        if (strcmp(leaf->entries[i].name, e->name) == 0)
            return werr(w, line, "two entries are named '%s': give one a name = \"...\"", e->name);
    if (add_entry_ptr(w->m, e)) return werr(w, line, "out of memory");
    return 0;
}

static int walk(walker *w, lua_State *L, rlvr_node **out, const char *label, int parent_line);

static int walk_leaf(walker *w, lua_State *L, rlvr_node **out, const char *label, int line)
{
    int t = lua_gettop(L);
    int index = w->n_leaves++;
    lua_getfield(L, t, "combine");
    int has_fn = lua_isfunction(L, -1);
    if (!w->build) {
        if (has_fn) lua_rawseti(L, w->combine_tab, index + 1);
        else lua_pop(L, 1);
        return 0;
    }
    if (!has_fn && !lua_isnil(L, -1)
        && !(lua_type(L, -1) == LUA_TSTRING && strcmp(lua_tostring(L, -1), "sum") == 0))
        return werr(w, line, "combine must be \"sum\" or a function(c, sample, step)");
    lua_pop(L, 1);
    /* Unknown keys of the mix table. */
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TNUMBER) continue;
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        if (strcmp(k, "combine") && strcmp(k, LINE_KEY) && strcmp(k, KIND_KEY)) {
            lua_pop(L, 1);
            return werr(w, line, "unknown mix key '%s' (a mix holds entries and combine)", k);
        }
    }
    size_t n = lua_rawlen(L, t);
    if (n == 0) return werr(w, line, "the mix has no entries");
    rlvr_node *node = calloc(1, sizeof *node);
    rlvr_leaf *leaf = node ? calloc(1, sizeof *leaf) : NULL;
    if (!leaf || !(leaf->entries = calloc(n, sizeof *leaf->entries)) || !(leaf->label = strdup(label))) {
        if (leaf) { free(leaf->entries); free(leaf); }
        free(node);
        return werr(w, line, "out of memory");
    }
    node->leaf = leaf;
    *out = node;
    leaf->index = index;
    leaf->has_combine_fn = has_fn;
    rlvr_leaf **leaves = realloc(w->m->leaves, (w->m->n_leaves + 1) * sizeof *leaves);
    if (!leaves) return werr(w, line, "out of memory");
    w->m->leaves = leaves;
    leaves[w->m->n_leaves++] = leaf;
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, t, (lua_Integer)i);
        if (!lua_istable(L, -1))
            return werr(w, line, "entry %zu is a %s: write plugin(\"NAME\", {...})", i, luaL_typename(L, -1));
        if (build_entry(w, L, leaf, line)) return -1;
        lua_settop(L, t);
    }
    int any_lazy = 0;
    for (size_t i = 0; i < leaf->n; i++) {
        rlvr_entry *e = &leaf->entries[i];
        any_lazy |= e->lazy;
        if (!e->lazy && e->plugin->desc.score_batch && !e->plugin->desc.score) leaf->has_batch = 1;
        if (!e->lazy && (e->plugin->desc.flags & RLVR_GROUPS)) leaf->has_batch = 1;
    }
    if (any_lazy && !has_fn)
        return werr(w, line, "lazy entries are computed only when a combine function asks for them: "
                             "add combine = function(c, sample, step) ... end");
    if (leaf->n > w->m->max_entries) w->m->max_entries = leaf->n;
    return 0;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_route(walker *w, lua_State *L, rlvr_node **out, const char *label, int line)
{
    int t = lua_gettop(L);
    lua_pushnil(L);
    while (lua_next(L, t)) {
        lua_pop(L, 1);
        const char *k = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : "?";
        if (strcmp(k, "field") && strcmp(k, "cases") && strcmp(k, "default") && strcmp(k, LINE_KEY)
            && strcmp(k, KIND_KEY)) {
            lua_pop(L, 1);
            return werr(w, line, "unknown route key '%s' (known: field, cases, default)", k);
        }
    }
    lua_getfield(L, t, "field");
    if (lua_type(L, -1) != LUA_TSTRING) return werr(w, line, "route needs field = \"NAME\" (a sample field)");
    char *field = strdup(lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_getfield(L, t, "cases");
    if (!lua_istable(L, -1)) { free(field); return werr(w, line, "route needs cases = { value = mix{...}, ... }"); }
    int ct = lua_gettop(L);
    char **keys = NULL;
    size_t nk = 0;
    lua_pushnil(L);
    while (lua_next(L, ct)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TSTRING) {
            lua_pop(L, 1);
            for (size_t i = 0; i < nk; i++) free(keys[i]);
            free(keys);
            free(field);
            return werr(w, line, "route case keys must be strings (the field's values)");
        }
        char **kk = realloc(keys, (nk + 1) * sizeof *kk);
        if (kk) { keys = kk; keys[nk++] = strdup(lua_tostring(L, -1)); }
    }
    qsort(keys, nk, sizeof *keys, cmp_keys);
    rlvr_node *node = w->build ? calloc(1, sizeof *node) : NULL;
    if (w->build) {
        if (!node) return werr(w, line, "out of memory");
        node->field = field;
        node->keys = keys;
        node->n_cases = nk;
        node->cases = calloc(nk ? nk : 1, sizeof *node->cases);
        *out = node;
    } else {
        free(field);
    }
    int rc = 0;
    for (size_t i = 0; i < nk && !rc; i++) {
        char sub[512];
        lua_getfield(L, t, "field");
        snprintf(sub, sizeof sub, "%s%s%s=%s", label, *label ? "," : "", lua_tostring(L, -1), keys[i]);
        lua_pop(L, 1);
        lua_getfield(L, ct, keys[i]);
        rc = walk(w, L, w->build ? &node->cases[i] : &(rlvr_node *){NULL}, sub, line);
        lua_settop(L, ct);
    }
    if (!w->build) {
        for (size_t i = 0; i < nk; i++) free(keys[i]);
        free(keys);
    }
    if (rc) return rc;
    lua_settop(L, t);
    lua_getfield(L, t, "default");
    if (!lua_isnil(L, -1)) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s%sdefault", label, *label ? "," : "");
        rlvr_node *dummy = NULL;
        rc = walk(w, L, w->build ? &node->fallback : &dummy, sub, line);
    }
    lua_settop(L, t);
    return rc;
}

static int walk(walker *w, lua_State *L, rlvr_node **out, const char *label, int parent_line)
{
    if (!lua_istable(L, -1)) return werr(w, parent_line, "expected mix{...} or route{...}, got %s", luaL_typename(L, -1));
    if (!lua_checkstack(L, 16)) return werr(w, parent_line, "the mix is nested too deeply");
    int line = line_of(L, -1, parent_line);
    lua_getfield(L, -1, KIND_KEY);
    const char *kind = lua_tostring(L, -1);
    int is_route = kind && strcmp(kind, "route") == 0;
    lua_pop(L, 1);
    if (!kind) {
        lua_getfield(L, -1, "cases");
        is_route = !lua_isnil(L, -1);
        lua_pop(L, 1);
    }
    return is_route ? walk_route(w, L, out, label, line) : walk_leaf(w, L, out, label, line);
}

static void free_node(rlvr_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n_cases; i++) {
        free(n->keys[i]);
        free_node(n->cases[i]);
    }
    free(n->keys);
    free(n->cases);
    free(n->field);
    free_node(n->fallback);
    free(n);
}

void rlvr_mix_free(rlvr_mix *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->n_leaves; i++) {
        rlvr_leaf *leaf = m->leaves[i];
        for (size_t k = 0; k < leaf->n; k++) {
            rlvr_entry *e = &leaf->entries[k];
            rlvr_isolate_free_entry(e);
            if (e->instance && e->plugin && e->plugin->desc.destroy) e->plugin->desc.destroy(e->instance);
            rlvr_config_free(e->config);
            free(e->name);
            pthread_mutex_destroy(&e->lock);
        }
        free(leaf->entries);
        free(leaf->label);
        free(leaf);
    }
    free(m->leaves);
    free(m->all);
    free_node(m->root);
    if (m->L) rlvr_lua_state_free(m->L);
    free(m->path);
    free(m);
}

rlvr_mix *rlvr_mix_load(const char *path, rlvr_registry *reg, char *err, size_t err_len)
{
    rlvr_mix *m = calloc(1, sizeof *m);
    if (!m || !(m->path = strdup(path))) {
        free(m);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    char msg[600];
    m->L = rlvr_lua_state_new(NULL, &rlvr_host_services, msg, sizeof msg);
    if (!m->L) {
        rlvr_errf(err, err_len, "%s: %s", path, msg);
        rlvr_mix_free(m);
        return NULL;
    }
    if (run_file(m->L, path, err, err_len)) {
        rlvr_mix_free(m);
        return NULL;
    }
    walker w = {.m = m, .reg = reg, .build = 1, .path = path, .err = err, .err_len = err_len};
    if (walk(&w, m->L, &m->root, "", 0)) {
        rlvr_mix_free(m);
        return NULL;
    }
    lua_settop(m->L, 0);
    if (rlvr_mix_set_step(m, 0, err, err_len)) {
        rlvr_mix_free(m);
        return NULL;
    }
    return m;
}

rlvr_mix *rlvr_mix_from_plugins(char **specs, size_t n, rlvr_registry *reg, char *err, size_t err_len)
{
    rlvr_mix *m = calloc(1, sizeof *m);
    rlvr_node *node = calloc(1, sizeof *node);
    rlvr_leaf *leaf = calloc(1, sizeof *leaf);
    if (!m || !node || !leaf || !(leaf->entries = calloc(n ? n : 1, sizeof *leaf->entries))
        || !(leaf->label = strdup("")) || !(m->leaves = malloc(sizeof *m->leaves))) {
        free(m); free(node);
        if (leaf) { free(leaf->entries); free(leaf->label); }
        free(leaf);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    m->root = node;
    node->leaf = leaf;
    m->leaves[0] = leaf;
    m->n_leaves = 1;
    for (size_t i = 0; i < n; i++) {
        char *spec = strdup(specs[i]);
        char *eq = strrchr(spec, '=');
        rlvr_entry *e = &leaf->entries[i];
        e->weight = 1.0;
        e->weight_ref = LUA_NOREF;
        if (eq) {
            char *end;
            *eq = 0;
            e->weight = strtod(eq + 1, &end);
            if (end == eq + 1 || *end || !isfinite(e->weight)) {
                rlvr_errf(err, err_len, "--plugin %s: the weight '%s' is not a number", specs[i], eq + 1);
                free(spec);
                rlvr_mix_free(m);
                return NULL;
            }
        }
        char msg[700];
        int rc = setup_entry(e, reg, spec, NULL, NULL, msg, sizeof msg);
        leaf->n++;
        free(spec);
        if (rc) {
            rlvr_errf(err, err_len, "--plugin %s: %s", specs[i], msg);
            rlvr_mix_free(m);
            return NULL;
        }
        for (size_t k = 0; k < i; k++)
            if (strcmp(leaf->entries[k].name, e->name) == 0) {
                rlvr_errf(err, err_len, "--plugin %s: the plugin '%s' is given twice (use a mix file to name entries)",
                          specs[i], e->name);
                rlvr_mix_free(m);
                return NULL;
            }
        if (!e->plugin->desc.score) leaf->has_batch = 1;
        if (e->plugin->desc.flags & RLVR_GROUPS) leaf->has_batch = 1;
        if (add_entry_ptr(m, e)) { rlvr_errf(err, err_len, "out of memory"); rlvr_mix_free(m); return NULL; }
    }
    m->max_entries = n;
    return m;
}

int rlvr_mix_set_step(rlvr_mix *m, int64_t step, char *err, size_t err_len)
{
    m->step = step;
    for (size_t i = 0; i < m->n_entries; i++) {
        rlvr_entry *e = m->all[i];
        if (e->weight_ref == LUA_NOREF) continue;
        lua_rawgeti(m->L, LUA_REGISTRYINDEX, e->weight_ref);
        lua_pushinteger(m->L, (lua_Integer)step);
        char msg[512];
        if (rlvr_lua_pcall(m->L, 1, 1, msg, sizeof msg) != LUA_OK) {
            rlvr_errf(err, err_len, "%s:%d: weight function of '%s' failed at step %lld: %s", m->path, e->line,
                      e->name, (long long)step, msg);
            return -1;
        }
        if (lua_type(m->L, -1) != LUA_TNUMBER || !isfinite(lua_tonumber(m->L, -1))) {
            rlvr_errf(err, err_len, "%s:%d: weight function of '%s' returned %s at step %lld, not a finite number",
                      m->path, e->line, e->name, luaL_typename(m->L, -1), (long long)step);
            lua_pop(m->L, 1);
            return -1;
        }
        e->weight = lua_tonumber(m->L, -1);
        lua_pop(m->L, 1);
    }
    return 0;
}

#define COMBINE_KEY "rlvr.combine"

lua_State *rlvr_mix_worker_state(rlvr_mix *m, char *err, size_t err_len)
{
    int any = 0;
    for (size_t i = 0; i < m->n_leaves; i++) any |= m->leaves[i]->has_combine_fn;
    if (!any || !m->path) return NULL;
    lua_State *L = rlvr_lua_state_new(NULL, &rlvr_host_services, err, err_len);
    if (!L) return NULL;
    if (run_file(L, m->path, err, err_len)) {
        rlvr_lua_state_free(L);
        return NULL;
    }
    lua_newtable(L);
    lua_pushvalue(L, -1);
    lua_setfield(L, LUA_REGISTRYINDEX, COMBINE_KEY);
    walker w = {.m = m, .build = 0, .combine_tab = lua_gettop(L), .path = m->path, .err = err, .err_len = err_len};
    lua_pushvalue(L, -2);
    rlvr_node *dummy = NULL;
    if (walk(&w, L, &dummy, "", 0) || w.n_leaves != (int)m->n_leaves) {
        if (w.n_leaves != (int)m->n_leaves)
            rlvr_errf(err, err_len, "%s: the mix file returned a different mix on a second run "
                                    "(it must be deterministic)", m->path);
        rlvr_lua_state_free(L);
        return NULL;
    }
    lua_settop(L, 0);
    return L;
}

void rlvr_mix_push_combine(lua_State *L, int leaf)
{
    lua_getfield(L, LUA_REGISTRYINDEX, COMBINE_KEY);
    lua_rawgeti(L, -1, leaf + 1);
    lua_remove(L, -2);
}
