/*
 * registry.c -- finding, loading and checking plugins (see registry.h), and
 * validating their configuration.
 *
 * Invariants: a loaded plugin's descriptor copy (desc) has every field this
 * host knows, zero where the plugin's struct was shorter; a plugin is in
 * the registry only after every check passed; the registry lock guards the
 * item list and the default instances.
 */
#include "registry.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rlvr_lua.h"
#include "sample.h"
#include "util.h"

#ifndef RLVR_PKGLIBDIR
#define RLVR_PKGLIBDIR "/usr/local/lib/rlvr"
#endif

static int add_dir(rlvr_registry *r, const char *d, size_t n)
{
    if (n == 0) return 0;
    char **dirs = realloc(r->dirs, (r->n_dirs + 1) * sizeof *dirs);
    if (!dirs) return -1;
    r->dirs = dirs;
    if (!(dirs[r->n_dirs] = strndup(d, n))) return -1;
    r->n_dirs++;
    return 0;
}

/* The built-in folder: $RLVR_BUILTIN_DIR, else the build tree's
 * plugins/.libs when rlvr runs from its build tree, else the installed one. */
static int builtin_dir(char *out, size_t len)
{
    const char *env = getenv("RLVR_BUILTIN_DIR");
    if (env && *env) { rlvr_errf(out, len, "%s", env); return 0; }
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            char cand[PATH_MAX + 32];
            snprintf(cand, sizeof cand, "%s/../plugins/.libs/exact_match.so", exe);
            if (access(cand, R_OK) == 0 && (size_t)snprintf(out, len, "%s/../plugins/.libs", exe) < len)
                return 0;
        }
    }
    rlvr_errf(out, len, "%s", RLVR_PKGLIBDIR);
    return 0;
}

int rlvr_registry_init(rlvr_registry *r, char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    const char *path = getenv("RLVR_PLUGIN_PATH");
    while (path && *path) {
        const char *colon = strchr(path, ':');
        size_t n = colon ? (size_t)(colon - path) : strlen(path);
        if (add_dir(r, path, n)) goto oom;
        path = colon ? colon + 1 : NULL;
    }
    char b[PATH_MAX];
    builtin_dir(b, sizeof b);
    if (add_dir(r, b, strlen(b))) goto oom;
    return 0;
oom:
    rlvr_errf(err, err_len, "out of memory");
    return -1;
}

static void unload(rlvr_loaded *p)
{
    if (!p) return;
    if (p->default_instance && p->desc.destroy) p->desc.destroy(p->default_instance);
    rlvr_config_free(p->default_config);
    if (p->is_lua) rlvr_lua_plugin_free(p->raw);
    else if (p->dl) dlclose(p->dl);
    free(p->name);
    free(p->path);
    free(p);
}

void rlvr_registry_free(rlvr_registry *r)
{
    for (size_t i = 0; i < r->n; i++) unload(r->items[i]);
    free(r->items);
    for (size_t i = 0; i < r->n_dirs; i++) free(r->dirs[i]);
    free(r->dirs);
    pthread_mutex_destroy(&r->lock);
    memset(r, 0, sizeof *r);
}

const char *rlvr_option_type_name(rlvr_option_type t)
{
    switch (t) {
    case RLVR_OPT_BOOL: return "bool";
    case RLVR_OPT_INT: return "int";
    case RLVR_OPT_NUMBER: return "number";
    case RLVR_OPT_STRING: return "string";
    case RLVR_OPT_JSON: return "json";
    }
    return "?";
}

void rlvr_flags_text(uint32_t flags, char *buf, size_t len)
{
    static const struct { uint32_t f; const char *w; } words[] = {
        {RLVR_REENTRANT, "reentrant"}, {RLVR_DETERMINISTIC, "deterministic"},
        {RLVR_BATCH, "batch"}, {RLVR_GROUPS, "groups"}, {RLVR_ISOLATE, "isolate"},
    };
    rlvr_buf b = {0};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (flags & words[i].f) {
            if (b.len) rlvr_buf_addc(&b, ' ');
            rlvr_buf_adds(&b, words[i].w);
        }
    rlvr_errf(buf, len, "%s", b.ptr ? b.ptr : "-");
    rlvr_buf_free(&b);
}

static int valid_name(const char *s)
{
    if (!s || !*s || strlen(s) > 64) return 0;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_')) return 0;
    return 1;
}

/* Parse an option's default text as JSON and check it as a given value. */
static int check_value(const rlvr_option *o, json_object *v, struct rlvr_config_value *out,
                       char *err, size_t err_len);

static int check_descriptor(rlvr_loaded *p, char *err, size_t err_len)
{
    const rlvr_plugin *d = &p->desc;
    if (!valid_name(d->name)) {
        rlvr_errf(err, err_len, "%s: plugin name '%s' is not [a-z0-9_]+ (at most 64 bytes)", p->path,
                  d->name ? d->name : "(null)");
        return -1;
    }
    if ((d->flags & RLVR_BATCH) && !d->score_batch) {
        rlvr_errf(err, err_len, "plugin %s (%s): declares RLVR_BATCH but has no score_batch", d->name, p->path);
        return -1;
    }
    if (!d->score && !d->score_batch) {
        rlvr_errf(err, err_len, "plugin %s (%s): has neither score nor score_batch", d->name, p->path);
        return -1;
    }
    if ((d->flags & RLVR_GROUPS) && !d->score_batch) {
        rlvr_errf(err, err_len, "plugin %s (%s): declares RLVR_GROUPS but has no score_batch", d->name, p->path);
        return -1;
    }
    if (d->n_options && !d->options) {
        rlvr_errf(err, err_len, "plugin %s (%s): n_options is %zu but options is NULL", d->name, p->path, d->n_options);
        return -1;
    }
    for (size_t i = 0; i < d->n_options; i++) {
        const rlvr_option *o = &d->options[i];
        if (!o->name || !*o->name || o->type < RLVR_OPT_BOOL || o->type > RLVR_OPT_JSON) {
            rlvr_errf(err, err_len, "plugin %s (%s): option %zu has no name or an unknown type", d->name, p->path, i);
            return -1;
        }
        for (size_t j = 0; j < i; j++)
            if (strcmp(d->options[j].name, o->name) == 0) {
                rlvr_errf(err, err_len, "plugin %s (%s): option '%s' is declared twice", d->name, p->path, o->name);
                return -1;
            }
        if (o->default_value) {
            json_object *v = json_tokener_parse(o->default_value);
            if (!v && o->type == RLVR_OPT_STRING) v = json_object_new_string(o->default_value);
            struct rlvr_config_value cv = {0};
            char m[256];
            int bad = !v && strcmp(o->default_value, "null") != 0 ? 1 : check_value(o, v, &cv, m, sizeof m);
            free(cv.s);
            json_object_put(v);
            if (bad) {
                rlvr_errf(err, err_len, "plugin %s (%s): option '%s' has an invalid default '%s'", d->name,
                          p->path, o->name, o->default_value);
                return -1;
            }
        }
    }
    return 0;
}

static rlvr_loaded *load_c(const char *path, char *err, size_t err_len)
{
    void *dl = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!dl) {
        rlvr_errf(err, err_len, "%s: cannot load as a plugin: %s", path, dlerror());
        return NULL;
    }
    rlvr_plugin_entry_fn entry;
    void *sym = dlsym(dl, RLVR_PLUGIN_ENTRY_NAME);
    memcpy(&entry, &sym, sizeof entry);
    if (!sym) {
        rlvr_errf(err, err_len, "%s: not an rlvr plugin (it exports no %s)", path, RLVR_PLUGIN_ENTRY_NAME);
        dlclose(dl);
        return NULL;
    }
    const rlvr_plugin *d = entry(&rlvr_host_services);
    if (!d) {
        rlvr_errf(err, err_len, "%s: the plugin refused to load (its entry returned NULL; see its log)", path);
        dlclose(dl);
        return NULL;
    }
    size_t min_size = offsetof(rlvr_plugin, score_batch) + sizeof d->score_batch;
    if (d->abi_major != RLVR_ABI_MAJOR) {
        rlvr_errf(err, err_len,
                  "%s: plugin '%.64s' was built for plugin ABI %u.%u, this rlvr speaks ABI %d.%d: "
                  "rebuild it against this rlvr's rlvr_plugin.h",
                  path, d->struct_size >= min_size && d->name ? d->name : "?", d->abi_major, d->abi_minor,
                  RLVR_ABI_MAJOR, RLVR_ABI_MINOR);
        dlclose(dl);
        return NULL;
    }
    if (d->struct_size < min_size) {
        rlvr_errf(err, err_len, "%s: plugin descriptor is %zu bytes, ABI %d.0 needs at least %zu", path,
                  d->struct_size, RLVR_ABI_MAJOR, min_size);
        dlclose(dl);
        return NULL;
    }
    rlvr_loaded *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        dlclose(dl);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    p->dl = dl;
    p->raw = d;
    memcpy(&p->desc, d, d->struct_size < sizeof p->desc ? d->struct_size : sizeof p->desc);
    if (d->abi_minor > RLVR_ABI_MINOR)
        rlvr_host_services.log(RLVR_LOG_DEBUG, p->desc.name,
                               "built for ABI %u.%u, newer than this host's %d.%d: newer fields are ignored",
                               d->abi_major, d->abi_minor, RLVR_ABI_MAJOR, RLVR_ABI_MINOR);
    return p;
}

static rlvr_loaded *load_lua(const char *path, char *err, size_t err_len)
{
    const rlvr_plugin *d = rlvr_lua_plugin_load(path, &rlvr_host_services, err, err_len);
    if (!d) return NULL;
    rlvr_loaded *p = calloc(1, sizeof *p);
    if (!p || !(p->path = strdup(path))) {
        free(p);
        rlvr_lua_plugin_free(d);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    p->is_lua = 1;
    p->raw = d;
    memcpy(&p->desc, d, sizeof p->desc);
    return p;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* Load a file and register it (lock held). */
static rlvr_loaded *load_path(rlvr_registry *r, const char *path, char *err, size_t err_len)
{
    char real[PATH_MAX];
    if (!realpath(path, real)) {
        rlvr_errf(err, err_len, "%s: %s", path, strerror(errno));
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i]->path, real) == 0) return r->items[i];
    rlvr_loaded *p = ends_with(real, ".lua") ? load_lua(real, err, err_len) : load_c(real, err, err_len);
    if (!p) return NULL;
    if (check_descriptor(p, err, err_len)) {
        unload(p);
        return NULL;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i]->name, p->desc.name) == 0) {
            rlvr_errf(err, err_len, "%s: a plugin named '%s' is already loaded from %s", real, p->desc.name,
                      r->items[i]->path);
            unload(p);
            return NULL;
        }
    rlvr_loaded **items = realloc(r->items, (r->n + 1) * sizeof *items);
    if (!items || !(p->name = strdup(p->desc.name))) {
        if (items) r->items = items;
        unload(p);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    r->items = items;
    r->items[r->n++] = p;
    return p;
}

rlvr_loaded *rlvr_registry_get(rlvr_registry *r, const char *spec, char *err, size_t err_len)
{
    rlvr_loaded *p = NULL;
    pthread_mutex_lock(&r->lock);
    if (strchr(spec, '/') || ends_with(spec, ".so") || ends_with(spec, ".lua")) {
        p = load_path(r, spec, err, err_len);
        goto done;
    }
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->items[i]->name, spec) == 0) { p = r->items[i]; goto done; }
    if (!valid_name(spec)) {
        rlvr_errf(err, err_len, "'%s' is not a plugin name ([a-z0-9_]+) nor a path", spec);
        goto done;
    }
    for (size_t d = 0; d < r->n_dirs; d++) {
        static const char *const exts[] = {".so", ".lua"};
        for (int k = 0; k < 2; k++) {
            char path[PATH_MAX];
            snprintf(path, sizeof path, "%s/%s%s", r->dirs[d], spec, exts[k]);
            if (access(path, R_OK) != 0) continue;
            p = load_path(r, path, err, err_len);
            if (p && strcmp(p->name, spec) != 0) {
                rlvr_errf(err, err_len, "%s declares the name '%s', not '%s'", path, p->name, spec);
                p = NULL;
            }
            goto done;
        }
    }
    {
        rlvr_buf b = {0};
        for (size_t d = 0; d < r->n_dirs; d++) {
            if (d) rlvr_buf_adds(&b, ", ");
            rlvr_buf_adds(&b, r->dirs[d]);
        }
        rlvr_errf(err, err_len, "unknown plugin '%s' (looked for %s.so and %s.lua in %s; see `rlvr plugins`)",
                  spec, spec, spec, b.ptr ? b.ptr : "no folder");
        rlvr_buf_free(&b);
    }
done:
    pthread_mutex_unlock(&r->lock);
    return p;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void rlvr_registry_load_all(rlvr_registry *r, void (*report)(const char *path, const char *msg))
{
    for (size_t d = 0; d < r->n_dirs; d++) {
        DIR *dir = opendir(r->dirs[d]);
        if (!dir) continue;
        char **names = NULL;
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(dir))) {
            if (e->d_name[0] == '.' || !(ends_with(e->d_name, ".so") || ends_with(e->d_name, ".lua"))) continue;
            char **nn = realloc(names, (n + 1) * sizeof *nn);
            if (!nn) break;
            names = nn;
            if ((names[n] = strdup(e->d_name))) n++;
        }
        closedir(dir);
        qsort(names, n, sizeof *names, cmp_str);
        for (size_t i = 0; i < n; i++) {
            char path[PATH_MAX], err[512];
            snprintf(path, sizeof path, "%s/%s", r->dirs[d], names[i]);
            char stem[256];
            snprintf(stem, sizeof stem, "%.*s", (int)(strrchr(names[i], '.') - names[i]), names[i]);
            int shadowed = 0;
            pthread_mutex_lock(&r->lock);
            for (size_t k = 0; k < r->n; k++)
                if (strcmp(r->items[k]->name, stem) == 0) shadowed = 1;
            pthread_mutex_unlock(&r->lock);
            /* An earlier folder's plugin of the same name wins. */
            if (!shadowed && !rlvr_registry_get(r, path, err, sizeof err) && report) report(path, err);
            free(names[i]);
        }
        free(names);
    }
}

/* ---- configuration -------------------------------------------------------- */

static const char *json_type_word(json_object *v)
{
    switch (json_object_get_type(v)) {
    case json_type_null: return "null";
    case json_type_boolean: return "a boolean";
    case json_type_int: return "an integer";
    case json_type_double: return "a number";
    case json_type_string: return "a string";
    case json_type_array: return "a list";
    case json_type_object: return "a table";
    }
    return "?";
}

static int check_value(const rlvr_option *o, json_object *v, struct rlvr_config_value *out,
                       char *err, size_t err_len)
{
    out->opt = o;
    int has_range = o->min < o->max;
    switch (o->type) {
    case RLVR_OPT_BOOL:
        if (!json_object_is_type(v, json_type_boolean)) goto type;
        out->b = json_object_get_boolean(v);
        return 0;
    case RLVR_OPT_INT: {
        double d;
        if (json_object_is_type(v, json_type_int)) {
            out->i = json_object_get_int64(v);
            d = (double)out->i;
        } else if (json_object_is_type(v, json_type_double)) {
            d = json_object_get_double(v);
            if (!isfinite(d) || d != floor(d) || fabs(d) > 9.0e15) goto type;
            out->i = (int64_t)d;
        } else {
            goto type;
        }
        if (has_range && (d < o->min || d > o->max)) goto range;
        out->d = d;
        return 0;
    }
    case RLVR_OPT_NUMBER:
        if (!json_object_is_type(v, json_type_int) && !json_object_is_type(v, json_type_double)) goto type;
        out->d = json_object_get_double(v);
        if (!isfinite(out->d)) goto type;
        if (has_range && (out->d < o->min || out->d > o->max)) goto range;
        return 0;
    case RLVR_OPT_STRING: {
        if (!json_object_is_type(v, json_type_string)) goto type;
        const char *s = json_object_get_string(v);
        size_t n = (size_t)json_object_get_string_len(v);
        if (o->choices) {
            int okc = 0;
            for (const char *c = o->choices; *c;) {
                const char *bar = strchr(c, '|');
                size_t m = bar ? (size_t)(bar - c) : strlen(c);
                if (m == n && memcmp(c, s, n) == 0) okc = 1;
                c = bar ? bar + 1 : c + m;
            }
            if (!okc) {
                rlvr_errf(err, err_len, "key '%s': '%s' is not one of %s", o->name, s, o->choices);
                return -1;
            }
        }
        if (!(out->s = malloc(n + 1))) { rlvr_errf(err, err_len, "out of memory"); return -1; }
        memcpy(out->s, s, n + 1);
        out->slen = n;
        return 0;
    }
    case RLVR_OPT_JSON: {
        rlvr_buf b = {0};
        rlvr_json_write(&b, v);
        if (b.oom) { rlvr_buf_free(&b); rlvr_errf(err, err_len, "out of memory"); return -1; }
        out->s = b.ptr;
        out->slen = b.len;
        return 0;
    }
    }
type:
    rlvr_errf(err, err_len, "key '%s': expected %s, got %s", o->name,
              o->type == RLVR_OPT_BOOL ? "a boolean (true or false)"
              : o->type == RLVR_OPT_INT ? "an integer"
              : o->type == RLVR_OPT_NUMBER ? "a finite number" : "a string",
              json_type_word(v));
    return -1;
range:
    rlvr_errf(err, err_len, "key '%s': %g is out of range [%g, %g]", o->name,
              o->type == RLVR_OPT_INT ? (double)out->i : out->d, o->min, o->max);
    return -1;
}

void rlvr_config_free(struct rlvr_config *c)
{
    if (!c) return;
    for (size_t i = 0; i < c->n; i++) free(c->values[i].s);
    free(c->values);
    free(c->json);
    free(c);
}

struct rlvr_config *rlvr_config_build(const rlvr_loaded *p, json_object *given, char *err, size_t err_len)
{
    const rlvr_plugin *d = &p->desc;
    if (given && !json_object_is_type(given, json_type_object)) {
        rlvr_errf(err, err_len, "the configuration must be a table of key = value");
        return NULL;
    }
    if (given) {
        json_object_object_foreach(given, key, val) {
            (void)val;
            size_t i;
            for (i = 0; i < d->n_options; i++)
                if (strcmp(d->options[i].name, key) == 0) break;
            if (i == d->n_options) {
                rlvr_buf b = {0};
                for (size_t k = 0; k < d->n_options; k++) {
                    if (k) rlvr_buf_adds(&b, ", ");
                    rlvr_buf_adds(&b, d->options[k].name);
                }
                rlvr_errf(err, err_len, "unknown configuration key '%s' (known keys: %s)", key,
                          b.ptr ? b.ptr : "none");
                rlvr_buf_free(&b);
                return NULL;
            }
        }
    }
    struct rlvr_config *c = calloc(1, sizeof *c);
    if (!c || (d->n_options && !(c->values = calloc(d->n_options, sizeof *c->values)))) {
        free(c);
        rlvr_errf(err, err_len, "out of memory");
        return NULL;
    }
    c->plugin = p;
    rlvr_buf js = {0};
    rlvr_buf_addc(&js, '{');
    for (size_t i = 0; i < d->n_options; i++) {
        const rlvr_option *o = &d->options[i];
        json_object *v = NULL, *owned = NULL;
        if (!given || !json_object_object_get_ex(given, o->name, &v)) {
            if (!o->default_value) {
                rlvr_errf(err, err_len, "key '%s' is required (%s)", o->name, o->help ? o->help : "no default");
                goto fail;
            }
            owned = v = json_tokener_parse(o->default_value);
            if (!v && o->type == RLVR_OPT_STRING) owned = v = json_object_new_string(o->default_value);
        }
        int bad = check_value(o, v, &c->values[i], err, err_len);
        c->n = i + 1;
        if (!bad) {
            if (i) rlvr_buf_addc(&js, ',');
            rlvr_buf_json_string(&js, o->name, strlen(o->name));
            rlvr_buf_addc(&js, ':');
            rlvr_json_write(&js, v);
        }
        json_object_put(owned);
        if (bad) goto fail;
    }
    rlvr_buf_addc(&js, '}');
    if (js.oom) { rlvr_errf(err, err_len, "out of memory"); goto fail; }
    c->json = js.ptr;
    return c;
fail:
    rlvr_buf_free(&js);
    rlvr_config_free(c);
    return NULL;
}

void *rlvr_loaded_default_instance(rlvr_registry *r, rlvr_loaded *p, char *err, size_t err_len)
{
    void *inst = NULL;
    pthread_mutex_lock(&r->lock);
    if (p->default_config) {
        inst = p->default_instance;
    } else if (p->default_failed) {
        rlvr_errf(err, err_len, "plugin %s: its default configuration failed earlier", p->name);
    } else {
        char m[256];
        p->default_config = rlvr_config_build(p, NULL, m, sizeof m);
        if (!p->default_config) {
            p->default_failed = 1;
            rlvr_errf(err, err_len, "plugin %s: %s", p->name, m);
        } else if (p->desc.create) {
            m[0] = 0;
            p->default_instance = p->desc.create(&rlvr_host_services, p->default_config, m, sizeof m);
            if (!p->default_instance) {
                p->default_failed = 1;
                rlvr_config_free(p->default_config);
                p->default_config = NULL;
                rlvr_errf(err, err_len, "plugin %s: create failed: %s", p->name, m[0] ? m : "no reason given");
            }
        }
        inst = p->default_instance;
    }
    pthread_mutex_unlock(&r->lock);
    return inst;
}
