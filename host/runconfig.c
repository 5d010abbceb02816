/*
 * runconfig.c -- Lua configuration files with overrides (see runconfig.h).
 */
#include "runconfig.h"

#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "rlvr_lua.h"
#include "util.h"

/* Overridden keys are remembered under this member, so that their paths
 * resolve against the current directory. */
#define OVERRIDDEN "\x01overridden"

int rlvr_runconfig_load(const char *path, char *const *overrides, int n, json_object **out, char *err,
                        size_t err_len)
{
    char msg[1024];
    *out = NULL;
    lua_State *L = rlvr_lua_state_new(NULL, NULL, msg, sizeof msg);
    if (!L) {
        rlvr_errf(err, err_len, "%s: %s", path, msg);
        return -1;
    }
    char *json = NULL;
    if (rlvr_lua_load_file(L, path, msg, sizeof msg) || rlvr_lua_pcall(L, 0, 1, msg, sizeof msg) != LUA_OK) {
        rlvr_errf(err, err_len, "%s", msg);
        rlvr_lua_state_free(L);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        rlvr_errf(err, err_len, "%s: the file must return a table (return { ... }), not a %s", path,
                  luaL_typename(L, -1));
        rlvr_lua_state_free(L);
        return -1;
    }
    size_t len;
    json = rlvr_lua_to_json(L, -1, &len, msg, sizeof msg);
    rlvr_lua_state_free(L);
    if (!json) {
        rlvr_errf(err, err_len, "%s: %s", path, msg);
        return -1;
    }
    json_object *cfg = json_tokener_parse(json);
    free(json);
    if (!json_object_is_type(cfg, json_type_object)) {
        json_object_put(cfg);
        rlvr_errf(err, err_len, "%s: the file must return a table with named keys", path);
        return -1;
    }
    json_object *marks = json_object_new_object();
    for (int i = 0; i < n; i++) {
        const char *eq = strchr(overrides[i], '=');
        if (!eq || eq == overrides[i]) {
            rlvr_errf(err, err_len, "override '%s' is not KEY=VALUE", overrides[i]);
            json_object_put(cfg);
            json_object_put(marks);
            return -1;
        }
        char *key = strndup(overrides[i], (size_t)(eq - overrides[i]));
        json_tokener *tk = json_tokener_new();
        size_t vlen = strlen(eq + 1);
        /* the terminating NUL is passed too: it ends a bare number */
        json_object *v = json_tokener_parse_ex(tk, eq + 1, (int)vlen + 1);
        if (json_tokener_get_error(tk) != json_tokener_success || json_tokener_get_parse_end(tk) != vlen) {
            json_object_put(v);
            v = json_object_new_string(eq + 1);
        }
        json_tokener_free(tk);
        json_object_object_add(cfg, key, v);
        json_object_object_add(marks, key, json_object_new_boolean(1));
        free(key);
    }
    json_object_object_add(cfg, OVERRIDDEN, marks);
    *out = cfg;
    return 0;
}

static char *resolve(const char *cfg_path, const char *value, int from_cwd)
{
    if (value[0] == '/' || from_cwd || !strcmp(value, "bytes"))
        return strdup(value);
    const char *slash = strrchr(cfg_path, '/');
    if (!slash)
        return strdup(value);
    size_t d = (size_t)(slash - cfg_path);
    char *s = malloc(d + strlen(value) + 2);
    if (s)
        sprintf(s, "%.*s/%s", (int)d, cfg_path, value);
    return s;
}

int rlvr_runconfig_read(json_object *cfg, const char *path, const struct rlvr_key *keys, char *err,
                        size_t err_len)
{
    json_object *marks = NULL;
    json_object_object_get_ex(cfg, OVERRIDDEN, &marks);
    json_object_object_foreach(cfg, name, val)
    {
        if (!strcmp(name, OVERRIDDEN))
            continue;
        const struct rlvr_key *k = keys;
        while (k->name && strcmp(k->name, name))
            k++;
        if (!k->name) {
            rlvr_errf(err, err_len, "%s: unknown key '%s' (`--help` lists the keys)", path, name);
            return -1;
        }
        json_type t = json_object_get_type(val);
        int isnum = t == json_type_int || t == json_type_double;
        switch (k->type) {
        case RLVR_KEY_INT:
            if (t != json_type_int) {
                rlvr_errf(err, err_len, "%s: '%s' must be an integer", path, name);
                return -1;
            }
            *(long *)k->dst = (long)json_object_get_int64(val);
            break;
        case RLVR_KEY_NUM:
            if (!isnum) {
                rlvr_errf(err, err_len, "%s: '%s' must be a number", path, name);
                return -1;
            }
            *(double *)k->dst = json_object_get_double(val);
            break;
        case RLVR_KEY_BOOL:
            if (t != json_type_boolean) {
                rlvr_errf(err, err_len, "%s: '%s' must be true or false", path, name);
                return -1;
            }
            *(int *)k->dst = json_object_get_boolean(val);
            break;
        case RLVR_KEY_STR:
        case RLVR_KEY_PATH:
            if (t != json_type_string) {
                rlvr_errf(err, err_len, "%s: '%s' must be a string", path, name);
                return -1;
            }
            free(*(char **)k->dst);
            *(char **)k->dst = k->type == RLVR_KEY_STR
                                   ? strdup(json_object_get_string(val))
                                   : resolve(path, json_object_get_string(val),
                                             marks && json_object_object_get_ex(marks, name, NULL));
            break;
        case RLVR_KEY_JSON:
            *(json_object **)k->dst = val;
            break;
        }
    }
    return 0;
}

void rlvr_runconfig_print_keys(const struct rlvr_key *keys, FILE *f)
{
    for (const struct rlvr_key *k = keys; k->name; k++)
        fprintf(f, "  %-28s %s\n", k->name, k->help);
}
