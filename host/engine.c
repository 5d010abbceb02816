/*
 * engine.c -- scoring samples with a mix (see engine.h).
 *
 * Memory: one slot per sample of the largest slice seen, reused from slice
 * to slice (the parsed JSON is freed as soon as the result line is made),
 * so a stream of any length runs in memory bounded by the slice size.
 * Invariants: a slot's comps[k] belongs to entry k of the slot's leaf;
 * comps[k].ran is set once entry k has been called (or failed to be);
 * `cur` is the entry running now, which sample_component uses to refuse
 * components that have not run yet.
 */
#include "engine.h"

#include <lauxlib.h>
#include <math.h>
#include <sys/types.h>
#include <stdlib.h>
#include <string.h>

#include "isolate.h"
#include "rlvr_lua.h"

#define BATCH_SLICE 64

typedef struct slot {
    rlvr_hsample s;
    rlvr_hresult *comps;       /* [mix->max_entries] */
    const rlvr_leaf *leaf;
    struct rlvr_engine *eng;
    int worker;
    int cur;                   /* entry being run, -1 outside entries */
    double reward;
    int reward_null;
    int failed;
    int combine_status;        /* -1: none; else the combine's rlvr_status */
    rlvr_buf combine_reason;
    rlvr_buf out;
    char first_error[600];
} slot;

struct rlvr_engine {
    rlvr_mix *mix;
    const rlvr_field_map *map;
    rlvr_pool *pool;
    int n_threads;
    int worker_base, n_workers; /* what plugins see: worker_base + pool worker, of n_workers */
    json_tokener **tok;        /* [n_threads] */
    lua_State **L;             /* [n_threads] combine states, or NULL */
    slot **slots;              /* one allocation each: slots never move */
    size_t n_slots;
    rlvr_entry_stats *stats;   /* [mix->n_entries] */
    /* the slice being scored */
    const rlvr_line *lines;
    size_t n;
    /* batch stages */
    size_t *idx;               /* samples of one leaf, in order */
    size_t n_idx, cap_idx;
    size_t *bstart;            /* batches: [bstart[b], bstart[b+1]) of idx */
    size_t n_batches, cap_b;
    int stage_entry;
    const rlvr_leaf *stage_leaf;
};

/* ---- running entries ------------------------------------------------------- */

static void run_entry(rlvr_engine *eng, slot *sl, int k, int worker);

static int engine_component(rlvr_hsample *hs, const char *name, double *value)
{
    slot *sl = hs->engine_data;
    const rlvr_leaf *leaf = sl->leaf;
    if (!leaf) return -1;
    for (size_t k = 0; k < leaf->n; k++) {
        if (strcmp(leaf->entries[k].name, name) != 0) continue;
        rlvr_hresult *r = &sl->comps[k];
        if ((int)k == sl->cur || r->running) return -1;
        if (!r->ran) {
            if (!leaf->entries[k].lazy) return -1; /* a later stage */
            int saved = sl->cur;
            run_entry(sl->eng, sl, (int)k, sl->worker);
            sl->cur = saved;
        }
        *value = r->pub.status == RLVR_OK ? r->pub.score : 0;
        return r->pub.status;
    }
    return -1;
}

static void finish_result(rlvr_hresult *r, const rlvr_entry *e, int batch)
{
    r->running = 0;
    r->ran = 1;
    if (!r->pub.filled && r->pub.status == RLVR_ERROR && r->reason.len == 0)
        rlvr_hresult_fail(r, batch ? "%s returned without filling this sample's result"
                                   : "%s reported an error without a message (or set no status)",
                          e->plugin->name);
    rlvr_hresult_check(r, e->plugin->name);
}

static void run_entry(rlvr_engine *eng, slot *sl, int k, int worker)
{
    rlvr_entry *e = &sl->leaf->entries[k];
    rlvr_hresult *r = &sl->comps[k];
    if (r->ran || r->running) return;
    rlvr_hresult_reset(r);
    r->running = 1;
    sl->cur = k;
    sl->worker = worker;
    const rlvr_plugin *d = &e->plugin->desc;
    if (e->isolate) {
        rlvr_hsample *hs = &sl->s;
        rlvr_isolate_run(e, eng->worker_base + worker, eng->n_workers, eng->mix->step, &hs, &r, 1);
    } else {
        rlvr_call call = {sizeof call, eng->worker_base + worker, eng->n_workers, eng->mix->step, e->name, NULL};
        int serial = !(d->flags & RLVR_REENTRANT);
        if (serial) pthread_mutex_lock(&e->lock);
        if (d->score) {
            d->score(e->instance, &call, &sl->s.pub, &r->pub);
            r->pub.filled = 1;
            if (r->pub.status == RLVR_ERROR && r->reason.len == 0) r->pub.filled = 0;
        } else {
            const rlvr_sample *ss[1] = {&sl->s.pub};
            rlvr_result *rr[1] = {&r->pub};
            d->score_batch(e->instance, &call, 1, ss, rr);
        }
        if (serial) pthread_mutex_unlock(&e->lock);
    }
    finish_result(r, e, !d->score);
    sl->cur = -1;
}

/* ---- combining -------------------------------------------------------------- */

static void combine_sum(slot *sl)
{
    const rlvr_leaf *leaf = sl->leaf;
    double sum = 0;
    int null = 0;
    for (size_t k = 0; k < leaf->n; k++) {
        const rlvr_entry *e = &leaf->entries[k];
        const rlvr_hresult *r = &sl->comps[k];
        if (!r->ran) continue;
        if (r->pub.status == RLVR_OK) sum += e->weight * r->pub.score;
        else if (!e->optional) null = 1;
    }
    sl->reward_null = null;
    sl->reward = null ? 0 : sum;
}

#define COMP_MT "rlvr.components"

typedef struct comp_ref { slot *sl; } comp_ref;

static slot *check_comp(lua_State *L)
{
    comp_ref *c = luaL_checkudata(L, 1, COMP_MT);
    if (!c->sl) luaL_error(L, "the components object is valid only during combine");
    return c->sl;
}

static int find_entry(const slot *sl, const char *name)
{
    for (size_t k = 0; k < sl->leaf->n; k++)
        if (strcmp(sl->leaf->entries[k].name, name) == 0) return (int)k;
    return -1;
}

/* c:get(name) -> value or nil, status */
static int comp_get(lua_State *L)
{
    slot *sl = check_comp(L);
    const char *name = luaL_checkstring(L, 2);
    int k = find_entry(sl, name);
    if (k < 0) return luaL_error(L, "no component named '%s' in this mix", name);
    double v;
    int st = engine_component(&sl->s, name, &v);
    if (st == RLVR_OK) lua_pushnumber(L, v);
    else lua_pushnil(L);
    lua_pushstring(L, st < 0 ? "pending" : rlvr_status_name((rlvr_status)st));
    return 2;
}

static int comp_status(lua_State *L)
{
    comp_get(L);
    lua_remove(L, -2);
    return 1;
}

static int comp_weight(lua_State *L)
{
    slot *sl = check_comp(L);
    const char *name = luaL_checkstring(L, 2);
    int k = find_entry(sl, name);
    if (k < 0) return luaL_error(L, "no component named '%s' in this mix", name);
    lua_pushnumber(L, sl->leaf->entries[k].weight);
    return 1;
}

static int comp_sum(lua_State *L)
{
    slot *sl = check_comp(L);
    combine_sum(sl);
    if (sl->reward_null) lua_pushnil(L);
    else lua_pushnumber(L, sl->reward);
    return 1;
}

static int comp_index(lua_State *L)
{
    const char *key = luaL_checkstring(L, 2);
    static const luaL_Reg methods[] = {{"get", comp_get}, {"status", comp_status}, {"weight", comp_weight},
                                       {"sum", comp_sum}, {NULL, NULL}};
    for (const luaL_Reg *m = methods; m->name; m++)
        if (strcmp(key, m->name) == 0) {
            lua_pushcfunction(L, m->func);
            return 1;
        }
    lua_settop(L, 2);
    comp_get(L);
    lua_pop(L, 1);
    return 1;
}

static void combine_fn(rlvr_engine *eng, slot *sl, int worker)
{
    lua_State *L = eng->L[worker];
    lua_settop(L, 0);
    rlvr_mix_push_combine(L, sl->leaf->index);
    comp_ref *c = lua_newuserdatauv(L, sizeof *c, 0);
    c->sl = sl;
    if (luaL_newmetatable(L, COMP_MT)) {
        lua_pushcfunction(L, comp_index);
        lua_setfield(L, -2, "__index");
    }
    lua_setmetatable(L, -2);
    rlvr_lua_push_sample(L, &sl->s.pub);
    lua_pushinteger(L, (lua_Integer)eng->mix->step);
    rlvr_call call = {sizeof call, eng->worker_base + worker, eng->n_workers, eng->mix->step, "combine", NULL};
    rlvr_lua_set_call(L, &call);
    sl->worker = worker;
    char err[512];
    int rc = rlvr_lua_pcall(L, 3, 2, err, sizeof err);
    c->sl = NULL;
    rlvr_lua_set_call(L, NULL);
    rlvr_buf_clear(&sl->combine_reason);
    if (rc != LUA_OK) {
        sl->reward_null = 1;
        sl->combine_status = RLVR_ERROR;
        rlvr_buf_adds(&sl->combine_reason, err);
        return;
    }
    if (lua_type(L, -2) == LUA_TNUMBER && isfinite(lua_tonumber(L, -2))) {
        sl->reward = lua_tonumber(L, -2);
        sl->reward_null = 0;
        sl->combine_status = -1;
    } else if (lua_isnil(L, -2)) {
        sl->reward_null = 1;
        sl->combine_status = RLVR_ABSTAIN;
    } else {
        sl->reward_null = 1;
        sl->combine_status = RLVR_ERROR;
        rlvr_buf_printf(&sl->combine_reason, "combine returned %s, not a finite number or nil",
                        lua_type(L, -2) == LUA_TNUMBER ? "a non-finite number" : luaL_typename(L, -2));
        lua_settop(L, 0);
        return;
    }
    if (lua_type(L, -1) == LUA_TSTRING) {
        if (sl->combine_status < 0) sl->combine_status = RLVR_OK;
        rlvr_buf_adds(&sl->combine_reason, lua_tostring(L, -1));
    }
    lua_settop(L, 0);
}

/* ---- output ------------------------------------------------------------------ */

static void write_error(slot *sl, const char *stage, const char *plugin, const char *msg)
{
    rlvr_buf *b = &sl->out;
    rlvr_buf_clear(b);
    rlvr_buf_adds(b, "{\"id\":");
    rlvr_buf_add(b, sl->s.pub.id.ptr, sl->s.pub.id.len);
    rlvr_buf_adds(b, ",\"reward\":null,\"error\":{\"stage\":");
    rlvr_buf_json_string(b, stage, strlen(stage));
    rlvr_buf_adds(b, ",\"plugin\":");
    if (plugin) rlvr_buf_json_string(b, plugin, strlen(plugin));
    else rlvr_buf_adds(b, "null");
    rlvr_buf_printf(b, ",\"line\":%lld,\"message\":", (long long)sl->s.pub.line);
    rlvr_buf_json_string(b, msg, strlen(msg));
    rlvr_buf_adds(b, "}}");
    sl->failed = 1;
    sl->reward_null = 1;
    snprintf(sl->first_error, sizeof sl->first_error, "line %lld, %s: %s", (long long)sl->s.pub.line, stage, msg);
}

/* "name":{"status":"...","reason"|"message":"..." (left open for details). */
static void write_status(rlvr_buf *b, const char *name, rlvr_status status, const rlvr_buf *reason)
{
    rlvr_buf_json_string(b, name, strlen(name));
    rlvr_buf_adds(b, ":{\"status\":\"");
    rlvr_buf_adds(b, rlvr_status_name(status));
    rlvr_buf_addc(b, '"');
    if (reason->len) {
        rlvr_buf_adds(b, status == RLVR_ERROR ? ",\"message\":" : ",\"reason\":");
        rlvr_buf_json_string(b, reason->ptr, reason->len);
    }
}

/* An error in a component or the combine: the sample counts as failed, and
 * the first such error is kept for the summary. */
static void note_failure(slot *sl, const char *who, const rlvr_buf *reason)
{
    sl->failed = 1;
    if (!sl->first_error[0])
        snprintf(sl->first_error, sizeof sl->first_error, "line %lld, %s: %s", (long long)sl->s.pub.line, who,
                 reason->len ? reason->ptr : "error");
}

static void write_result(slot *sl)
{
    const rlvr_leaf *leaf = sl->leaf;
    rlvr_buf *b = &sl->out;
    rlvr_buf_clear(b);
    rlvr_buf_adds(b, "{\"id\":");
    rlvr_buf_add(b, sl->s.pub.id.ptr, sl->s.pub.id.len);
    rlvr_buf_adds(b, ",\"reward\":");
    if (sl->reward_null) rlvr_buf_adds(b, "null");
    else rlvr_buf_json_number(b, sl->reward);
    rlvr_buf_adds(b, ",\"components\":{");
    int first = 1;
    for (size_t k = 0; k < leaf->n; k++) {
        const rlvr_hresult *r = &sl->comps[k];
        if (!r->ran) continue;
        if (!first) rlvr_buf_addc(b, ',');
        first = 0;
        rlvr_buf_json_string(b, leaf->entries[k].name, strlen(leaf->entries[k].name));
        rlvr_buf_addc(b, ':');
        if (r->pub.status == RLVR_OK) rlvr_buf_json_number(b, r->pub.score);
        else rlvr_buf_adds(b, "null");
    }
    rlvr_buf_adds(b, "},\"details\":{");
    first = 1;
    for (size_t k = 0; k < leaf->n; k++) {
        const rlvr_hresult *r = &sl->comps[k];
        if (!r->ran) continue;
        if (!first) rlvr_buf_addc(b, ',');
        first = 0;
        write_status(b, leaf->entries[k].name, r->pub.status, &r->reason);
        if (r->details.len) {
            rlvr_buf_addc(b, ',');
            rlvr_buf_add(b, r->details.ptr, r->details.len);
        }
        rlvr_buf_addc(b, '}');
        if (r->pub.status == RLVR_ERROR) {
            char who[160];
            snprintf(who, sizeof who, "plugin %s", leaf->entries[k].name);
            note_failure(sl, who, &r->reason);
        }
    }
    if (sl->combine_status >= 0) {
        if (!first) rlvr_buf_addc(b, ',');
        write_status(b, "combine", (rlvr_status)sl->combine_status, &sl->combine_reason);
        rlvr_buf_addc(b, '}');
        if (sl->combine_status == RLVR_ERROR) note_failure(sl, "combine", &sl->combine_reason);
    }
    rlvr_buf_adds(b, "}}");
    if (b->oom) write_error(sl, "output", NULL, "out of memory writing the result");
}

static void finish_sample(rlvr_engine *eng, slot *sl, int worker)
{
    if (sl->leaf->has_combine_fn && eng->L && eng->L[worker]) combine_fn(eng, sl, worker);
    else combine_sum(sl);
    write_result(sl);
    /* Keep the group text alive for the caller's statistics. */
    if (sl->s.pub.group.ptr && sl->s.pub.group.ptr != sl->s.group_buf.ptr) {
        rlvr_buf_clear(&sl->s.group_buf);
        rlvr_buf_add(&sl->s.group_buf, sl->s.pub.group.ptr, sl->s.pub.group.len);
        sl->s.pub.group.ptr = sl->s.group_buf.ptr;
    }
    if (sl->s.root) {
        json_object_put(sl->s.root);
        sl->s.root = NULL;
    }
}

/* ---- routing ------------------------------------------------------------------- */

static const rlvr_leaf *route(slot *sl, const rlvr_node *node, char *err, size_t err_len)
{
    while (node && !node->leaf) {
        const rlvr_node *next = node->fallback;
        int found;
        json_object *o = rlvr_sample_get(&sl->s, node->field, &found);
        /* A string routes by its text; any other value by its JSON text. */
        rlvr_buf text = {0};
        const char *val = NULL;
        if (found && json_object_is_type(o, json_type_string)) {
            val = json_object_get_string(o);
        } else if (found) {
            rlvr_json_write(&text, o);
            val = text.ptr;
        }
        for (size_t i = 0; val && i < node->n_cases; i++)
            if (strcmp(node->keys[i], val) == 0) { next = node->cases[i]; break; }
        if (!next)
            rlvr_errf(err, err_len, "no route for %s=%s (and the route has no default)", node->field,
                      val ? val : "(absent)");
        rlvr_buf_free(&text);
        if (!next) return NULL;
        node = next;
    }
    return node ? node->leaf : NULL;
}

/* ---- the passes ---------------------------------------------------------------- */

static void pass_first(void *ctx, size_t i, int worker)
{
    rlvr_engine *eng = ctx;
    slot *sl = eng->slots[i];
    const rlvr_line *ln = &eng->lines[i];
    sl->leaf = NULL;
    sl->failed = 0;
    sl->reward_null = 1;
    sl->reward = 0;
    sl->cur = -1;
    sl->combine_status = -1;
    sl->first_error[0] = 0;
    sl->worker = worker;
    if (rlvr_sample_parse(&sl->s, eng->tok[worker], ln->ptr, ln->len, ln->line, eng->map)) {
        write_error(sl, sl->s.err_stage, NULL, sl->s.err_msg);
        return;
    }
    sl->s.engine_data = sl;
    sl->s.component = engine_component;
    char err[400];
    const rlvr_leaf *leaf = route(sl, eng->mix->root, err, sizeof err);
    if (!leaf) {
        write_error(sl, "route", NULL, err);
        return;
    }
    sl->leaf = leaf;
    for (size_t k = 0; k < leaf->n; k++) rlvr_hresult_reset(&sl->comps[k]);
    if (leaf->has_batch) return; /* staged below */
    for (size_t k = 0; k < leaf->n; k++)
        if (!leaf->entries[k].lazy) run_entry(eng, sl, (int)k, worker);
    finish_sample(eng, sl, worker);
}

static void pass_entry(void *ctx, size_t j, int worker)
{
    rlvr_engine *eng = ctx;
    run_entry(eng, eng->slots[eng->idx[j]], eng->stage_entry, worker);
}

static void pass_batch(void *ctx, size_t b, int worker)
{
    rlvr_engine *eng = ctx;
    size_t lo = eng->bstart[b], hi = eng->bstart[b + 1], n = hi - lo;
    rlvr_entry *e = &eng->stage_leaf->entries[eng->stage_entry];
    rlvr_hsample *hs[BATCH_SLICE];
    rlvr_hresult *hr[BATCH_SLICE];
    const rlvr_sample *ps[BATCH_SLICE];
    rlvr_result *pr[BATCH_SLICE];
    rlvr_hsample **hsv = hs;
    rlvr_hresult **hrv = hr;
    const rlvr_sample **psv = ps;
    rlvr_result **prv = pr;
    if (n > BATCH_SLICE) { /* a large group */
        hsv = malloc(n * sizeof *hsv);
        hrv = malloc(n * sizeof *hrv);
        psv = malloc(n * sizeof *psv);
        prv = malloc(n * sizeof *prv);
    }
    if (!hsv || !hrv || !psv || !prv) {
        for (size_t j = lo; j < hi; j++) {
            slot *sl = eng->slots[eng->idx[j]];
            rlvr_hresult_reset(&sl->comps[eng->stage_entry]);
            rlvr_hresult_fail(&sl->comps[eng->stage_entry], "out of memory for a batch of %zu", n);
            sl->comps[eng->stage_entry].ran = 1;
        }
        goto out;
    }
    for (size_t j = 0; j < n; j++) {
        slot *sl = eng->slots[eng->idx[lo + j]];
        rlvr_hresult *r = &sl->comps[eng->stage_entry];
        rlvr_hresult_reset(r);
        r->running = 1;
        sl->cur = eng->stage_entry;
        sl->worker = worker;
        hsv[j] = &sl->s;
        hrv[j] = r;
        psv[j] = &sl->s.pub;
        prv[j] = &r->pub;
    }
    if (e->isolate) {
        rlvr_isolate_run(e, eng->worker_base + worker, eng->n_workers, eng->mix->step, hsv, hrv, n);
    } else {
        rlvr_call call = {sizeof call, eng->worker_base + worker, eng->n_workers, eng->mix->step, e->name, NULL};
        int serial = !(e->plugin->desc.flags & RLVR_REENTRANT);
        if (serial) pthread_mutex_lock(&e->lock);
        e->plugin->desc.score_batch(e->instance, &call, n, psv, prv);
        if (serial) pthread_mutex_unlock(&e->lock);
    }
    for (size_t j = 0; j < n; j++) {
        finish_result(hrv[j], e, 1);
        eng->slots[eng->idx[lo + j]]->cur = -1;
    }
out:
    if (hsv != hs) { free(hsv); free(hrv); free(psv); free(prv); }
}

static void pass_finish(void *ctx, size_t j, int worker)
{
    rlvr_engine *eng = ctx;
    finish_sample(eng, eng->slots[eng->idx[j]], worker);
}

/* Room for n entries in a size_t array; -1 when memory ran out. */
static int reserve(size_t **arr, size_t *cap, size_t n)
{
    if (n <= *cap) return 0;
    size_t *p = realloc(*arr, n * sizeof *p);
    if (!p) return -1;
    *arr = p;
    *cap = n;
    return 0;
}

static int same_group(const slot *a, const slot *b)
{
    return a->s.pub.group.ptr && b->s.pub.group.ptr && a->s.pub.group.len == b->s.pub.group.len
           && memcmp(a->s.pub.group.ptr, b->s.pub.group.ptr, a->s.pub.group.len) == 0;
}

static int leaf_wants_groups(const rlvr_leaf *leaf)
{
    for (size_t k = 0; k < leaf->n; k++)
        if (!leaf->entries[k].lazy && (leaf->entries[k].plugin->desc.flags & RLVR_GROUPS)) return 1;
    return 0;
}

/* Run the staged leaves over slots [0, done). */
static void run_stages(rlvr_engine *eng, size_t done)
{
    for (size_t li = 0; li < eng->mix->n_leaves; li++) {
        const rlvr_leaf *leaf = eng->mix->leaves[li];
        if (!leaf->has_batch) continue;
        int oom = reserve(&eng->idx, &eng->cap_idx, done) || reserve(&eng->bstart, &eng->cap_b, done + 1);
        eng->n_idx = 0;
        for (size_t i = 0; i < done; i++) {
            slot *sl = eng->slots[i];
            if (sl->leaf != leaf) continue;
            if (oom) write_error(sl, "score", NULL, "out of memory staging a batch");
            else eng->idx[eng->n_idx++] = i;
        }
        if (eng->n_idx == 0) continue;
        eng->stage_leaf = leaf;
        for (size_t k = 0; k < leaf->n; k++) {
            const rlvr_entry *e = &leaf->entries[k];
            if (e->lazy) continue;
            eng->stage_entry = (int)k;
            if (e->plugin->desc.score && !(e->plugin->desc.flags & RLVR_GROUPS)) {
                rlvr_pool_for(eng->pool, eng->n_idx, pass_entry, eng);
                continue;
            }
            /* Batches: runs of one group, or slices of BATCH_SLICE. */
            int groups = (e->plugin->desc.flags & RLVR_GROUPS) != 0;
            eng->n_batches = 0;
            for (size_t j = 0; j < eng->n_idx; j++) {
                int start = j == 0;
                if (!start && groups) start = !same_group(eng->slots[eng->idx[j]], eng->slots[eng->idx[j - 1]]);
                if (!start && !groups) start = j - eng->bstart[eng->n_batches - 1] >= BATCH_SLICE;
                if (start) eng->bstart[eng->n_batches++] = j;
            }
            eng->bstart[eng->n_batches] = eng->n_idx; /* the end of the last batch */
            rlvr_pool_for(eng->pool, eng->n_batches, pass_batch, eng);
        }
        rlvr_pool_for(eng->pool, eng->n_idx, pass_finish, eng);
    }
}

size_t rlvr_engine_score(rlvr_engine *eng, const rlvr_line *lines, size_t n, int last)
{
    if (n > eng->n_slots) {
        slot **s = realloc(eng->slots, n * sizeof *s);
        if (!s) return 0;
        eng->slots = s;
        for (size_t i = eng->n_slots; i < n; i++) {
            slot *sl = calloc(1, sizeof *sl);
            if (!sl || !(sl->comps = calloc(eng->mix->max_entries ? eng->mix->max_entries : 1, sizeof *sl->comps))) {
                free(sl);
                return 0;
            }
            rlvr_sample_init(&sl->s);
            sl->eng = eng;
            s[i] = sl;
            eng->n_slots = i + 1;
        }
    }
    eng->lines = lines;
    eng->n = n;
    rlvr_pool_for(eng->pool, n, pass_first, eng);

    size_t done = n;
    int staged = 0;
    for (size_t i = 0; i < n && !staged; i++) staged = eng->slots[i]->leaf && eng->slots[i]->leaf->has_batch;
    if (!staged) return n;
    if (!last) {
        /* Hold back the trailing group of group-wanting samples. */
        ssize_t j = (ssize_t)n - 1;
        while (j >= 0 && !(eng->slots[j]->leaf && leaf_wants_groups(eng->slots[j]->leaf))) j--;
        if (j >= 0 && eng->slots[j]->s.pub.group.ptr) {
            const slot *g = eng->slots[j];
            ssize_t i = j;
            while (i > 0) {
                const slot *p = eng->slots[i - 1];
                if (p->leaf && leaf_wants_groups(p->leaf) && !same_group(p, g)) break;
                i--;
            }
            /* The whole slice is one group that may go on: ask for more. */
            if (i == 0) return 0;
            done = (size_t)i;
        }
    }
    run_stages(eng, done);
    return done;
}

void rlvr_engine_components_json(rlvr_hsample *hs, rlvr_buf *b)
{
    const slot *sl = hs->engine_data;
    rlvr_buf_addc(b, '{');
    int first = 1;
    for (size_t k = 0; sl && sl->leaf && k < sl->leaf->n; k++) {
        const rlvr_hresult *r = &sl->comps[k];
        if (!r->ran) continue;
        if (!first) rlvr_buf_addc(b, ',');
        first = 0;
        rlvr_buf_json_string(b, sl->leaf->entries[k].name, strlen(sl->leaf->entries[k].name));
        rlvr_buf_printf(b, ":[%d,", (int)r->pub.status);
        rlvr_buf_json_number(b, r->pub.status == RLVR_OK ? r->pub.score : 0);
        rlvr_buf_addc(b, ']');
    }
    rlvr_buf_addc(b, '}');
}

void rlvr_engine_outcome(rlvr_engine *eng, size_t i, rlvr_outcome *out)
{
    slot *sl = eng->slots[i];
    out->json = &sl->out;
    out->failed = sl->failed;
    out->reward_null = sl->reward_null;
    out->reward = sl->reward;
    out->group = sl->s.pub.group;
    out->first_error = sl->first_error[0] ? sl->first_error : NULL;
}

void rlvr_engine_count(rlvr_engine *eng, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        slot *sl = eng->slots[i];
        if (!sl->leaf) continue;
        for (size_t k = 0; k < sl->leaf->n; k++) {
            rlvr_entry_stats *st = &eng->stats[sl->leaf->entries[k].gid];
            const rlvr_hresult *r = &sl->comps[k];
            if (!r->ran) { st->skipped++; continue; }
            switch (r->pub.status) {
            case RLVR_OK: st->ok++; st->sum += r->pub.score; break;
            case RLVR_ABSTAIN: st->abstain++; break;
            default: st->error++; break;
            }
        }
    }
}

const rlvr_entry_stats *rlvr_engine_stats(const rlvr_engine *e) { return e->stats; }
int rlvr_engine_threads(const rlvr_engine *e) { return e->n_threads; }

void rlvr_engine_set_workers(rlvr_engine *e, int base, int n_workers)
{
    if (base < 0 || n_workers < base + e->n_threads) return; /* would overlap or overflow: keep the default */
    e->worker_base = base;
    e->n_workers = n_workers;
}

rlvr_engine *rlvr_engine_new(rlvr_mix *mix, const rlvr_field_map *map, int n_threads, char *err, size_t err_len)
{
    rlvr_engine *eng = calloc(1, sizeof *eng);
    if (!eng) { rlvr_errf(err, err_len, "out of memory"); return NULL; }
    eng->mix = mix;
    eng->map = map;
    eng->pool = rlvr_pool_new(n_threads);
    if (!eng->pool) { free(eng); rlvr_errf(err, err_len, "cannot start threads"); return NULL; }
    eng->n_threads = rlvr_pool_size(eng->pool);
    eng->n_workers = eng->n_threads;
    eng->tok = calloc((size_t)eng->n_threads, sizeof *eng->tok);
    eng->stats = calloc(mix->n_entries ? mix->n_entries : 1, sizeof *eng->stats);
    if (!eng->tok || !eng->stats) goto oom;
    for (int i = 0; i < eng->n_threads; i++) {
        eng->tok[i] = json_tokener_new_ex(64);
        if (!eng->tok[i]) goto oom;
        json_tokener_set_flags(eng->tok[i], JSON_TOKENER_STRICT);
    }
    int any_fn = 0;
    for (size_t i = 0; i < mix->n_leaves; i++) any_fn |= mix->leaves[i]->has_combine_fn;
    if (any_fn) {
        eng->L = calloc((size_t)eng->n_threads, sizeof *eng->L);
        if (!eng->L) goto oom;
        for (int i = 0; i < eng->n_threads; i++) {
            eng->L[i] = rlvr_mix_worker_state(mix, err, err_len);
            if (!eng->L[i]) { rlvr_engine_free(eng); return NULL; }
        }
    }
    return eng;
oom:
    rlvr_engine_free(eng);
    rlvr_errf(err, err_len, "out of memory");
    return NULL;
}

void rlvr_engine_free(rlvr_engine *eng)
{
    if (!eng) return;
    rlvr_pool_free(eng->pool);
    for (int i = 0; eng->tok && i < eng->n_threads; i++)
        if (eng->tok[i]) json_tokener_free(eng->tok[i]);
    for (int i = 0; eng->L && i < eng->n_threads; i++)
        if (eng->L[i]) rlvr_lua_state_free(eng->L[i]);
    for (size_t i = 0; i < eng->n_slots; i++) {
        slot *sl = eng->slots[i];
        rlvr_sample_destroy(&sl->s);
        for (size_t k = 0; k < eng->mix->max_entries; k++) rlvr_hresult_free(&sl->comps[k]);
        free(sl->comps);
        rlvr_buf_free(&sl->out);
        rlvr_buf_free(&sl->combine_reason);
        free(sl);
    }
    free(eng->slots);
    free(eng->tok);
    free(eng->L);
    free(eng->stats);
    free(eng->idx);
    free(eng->bstart);
    free(eng);
}
