/*
 * runconfig.c -- Lua configuration files with overrides, and what the
 * training commands share (see runconfig.h).
 */
#include "runconfig.h"

#include <dirent.h>
#include <errno.h>
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "optim.h"
#include "policy.h"
#include "rlvr_lua.h"
#include "sampler.h"
#include "util.h"

/* Overridden keys are remembered under this member, so that their paths
 * resolve against the current directory. */
#define OVERRIDDEN "\x01overridden"

int rlvr_runconfig_load(const char *path, char *const *overrides, int n, json_object **out, char *err,
                        size_t err_len)
{
    char msg[1024];
    *out = NULL;
    json_object *cfg = NULL;
    if (!path) {
        cfg = json_object_new_object();
    } else {
        lua_State *L = rlvr_lua_state_new(NULL, NULL, msg, sizeof msg);
        if (!L) {
            rlvr_errf(err, err_len, "%s: %s", path, msg);
            return -1;
        }
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
        char *json = rlvr_lua_to_json(L, -1, &len, msg, sizeof msg);
        rlvr_lua_state_free(L);
        if (!json) {
            rlvr_errf(err, err_len, "%s: %s", path, msg);
            return -1;
        }
        cfg = json_tokener_parse(json);
        free(json);
        if (!json_object_is_type(cfg, json_type_object)) {
            json_object_put(cfg);
            rlvr_errf(err, err_len, "%s: the file must return a table with named keys", path);
            return -1;
        }
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

/* ---- what the training commands share ------------------------------------------------ */

int rlvr_run_args_parse(int argc, char **argv, int allow_resume, struct rlvr_run_args *a, char *err,
                        size_t err_len)
{
    memset(a, 0, sizeof *a);
    if (!(a->over = calloc((size_t)(argc > 0 ? argc : 1), sizeof *a->over))) {
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
            a->help = 1;
        else if (allow_resume && !strcmp(argv[i], "--resume"))
            a->resume = 1;
        else if (!strncmp(argv[i], "--", 2) && strchr(argv[i], '='))
            a->over[a->n_over++] = argv[i] + 2;
        else if (!a->path && argv[i][0] != '-')
            a->path = argv[i];
        else {
            rlvr_errf(err, err_len, "unexpected argument '%s'", argv[i]);
            return -1;
        }
    }
    return 0;
}

void rlvr_run_args_free(struct rlvr_run_args *a)
{
    free(a->over);
    a->over = NULL;
}

int rlvr_run_args_start(const char *cmd, int argc, char **argv, int allow_resume, int need_path,
                        void (*usage)(FILE *, struct rlvr_key *), struct rlvr_key *keys, struct rlvr_run_args *a)
{
    char err[512];
    int bad = rlvr_run_args_parse(argc, argv, allow_resume, a, err, sizeof err);
    if (bad || (need_path && !a->path && !a->help)) {
        if (bad)
            fprintf(stderr, "%s: %s\n", cmd, err);
        usage(stderr, keys);
        rlvr_run_args_free(a);
        return 2;
    }
    if (a->help) {
        usage(stdout, keys);
        rlvr_run_args_free(a);
        return 0;
    }
    return -1;
}

static int write_trainer_state(const char *dir, const char *state_json, char *err, size_t err_len)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/trainer_state.json", dir);
    FILE *f = fopen(path, "wb");
    int bad = !f || fprintf(f, "%s\n", state_json) < 0;
    if (f && fclose(f))
        bad = 1;
    if (bad) {
        rlvr_errf(err, err_len, "cannot write %s", path);
        return -1;
    }
    return 0;
}

int rlvr_run_checkpoint_save(const struct rlvr_policy *p, const struct rlvr_adamw *opt, const char *out_dir,
                             long step, const char *state_json, char *err, size_t err_len)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof dir, "%s/checkpoint-%ld", out_dir, step);
    if (rlvr_policy_save(p, dir, RLVR_DTYPE_F32, err, err_len))
        return -1;
    snprintf(path, sizeof path, "%s/optimizer.bin", dir);
    if (opt && rlvr_adamw_save(opt, path, err, err_len))
        return -1;
    return write_trainer_state(dir, state_json, err, err_len);
}

int rlvr_run_final_save(const struct rlvr_policy *p, const char *out_dir, enum rlvr_dtype dtype,
                        const char *state_json, char *err, size_t err_len)
{
    if (rlvr_policy_save(p, out_dir, dtype, err, err_len))
        return -1;
    return write_trainer_state(out_dir, state_json, err, err_len);
}

int rlvr_mkdirs(const char *dir)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *s = tmp + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(tmp, 0777) && errno != EEXIST)
                return -1;
            *s = '/';
        }
    return mkdir(tmp, 0777) && errno != EEXIST ? -1 : 0;
}

long rlvr_newest_checkpoint(const char *dir)
{
    DIR *d = opendir(dir);
    long best = -1;
    struct dirent *e;
    while (d && (e = readdir(d))) {
        char *end;
        if (strncmp(e->d_name, "checkpoint-", 11))
            continue;
        long n = strtol(e->d_name + 11, &end, 10);
        char state[4608];
        snprintf(state, sizeof state, "%s/%s/trainer_state.json", dir, e->d_name);
        if (!*end && n > best && access(state, R_OK) == 0)
            best = n;
    }
    if (d)
        closedir(d);
    return best;
}

void rlvr_data_order(size_t *perm, size_t n, uint64_t seed, long epoch)
{
    struct rlvr_rng rng;
    rlvr_rng_init(&rng, seed, (uint64_t)epoch);
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(rlvr_rng_uniform(&rng) * (double)i);
        size_t t = perm[i - 1];
        perm[i - 1] = perm[j];
        perm[j] = t;
    }
}

int rlvr_policy_from_config(struct rlvr_policy *p, const char *model, json_object *model_init, long init_seed,
                            const char *tokenizer, const char *cfg_path, char *err, size_t err_len)
{
    if ((model != NULL) == (model_init != NULL)) {
        rlvr_errf(err, err_len, "%s: give exactly one of 'model' (a checkpoint folder) and 'model_init' (a fresh model)",
                  cfg_path);
        return -1;
    }
    if (model)
        return rlvr_policy_load(p, model, tokenizer, err, err_len);
    struct rlvr_model_config mc;
    if (json_object_is_type(model_init, json_type_string) && !strcmp(json_object_get_string(model_init), "tiny")) {
        rlvr_model_config_tiny(&mc);
    } else if (json_object_is_type(model_init, json_type_object)) {
        const char *js = json_object_to_json_string(model_init);
        char msg[768];
        if (rlvr_config_parse(js, strlen(js), "model_init", &mc, NULL, msg, sizeof msg)) {
            rlvr_errf(err, err_len, "%s: %s", cfg_path, msg);
            return -1;
        }
    } else {
        rlvr_errf(err, err_len, "%s: 'model_init' must be \"tiny\" or a table of config.json fields", cfg_path);
        return -1;
    }
    return rlvr_policy_init(p, &mc, (uint64_t)init_seed, tokenizer ? tokenizer : "bytes", err, err_len);
}
