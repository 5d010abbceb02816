/*
 * pipeline_cmd.c -- `rlvr pipeline PIPELINE.lua`: the DeepSeek-R1 stages
 * (cold-start SFT, reasoning GRPO, rejection sampling, SFT, GRPO for all
 * scenarios) chained, each stage an rlvr command (sft, train, sample, eval)
 * run as a child process of this very binary, resumable stage by stage.
 *
 * A pipeline file is Lua returning { output_dir = DIR, stages = { ... } };
 * each stage is { name = N, run = CMD, config = FILE or { KEY = VALUE },
 * KEY = VALUE ... }. Besides name, run and config, every key of a stage is a
 * key of its command, passed as --KEY=VALUE. The file may call output(NAME)
 * (the output of an earlier stage: its model folder, the samples file or
 * the evaluation), env(NAME [, DEFAULT]) and here(PATH) (a path from the
 * pipeline file's folder).
 *
 * Invariants: the whole file is checked before anything runs (an unknown
 * command, a duplicate or malformed name, a missing config file, a
 * reference to an unknown, later or the same stage, a key the pipeline sets
 * itself are errors naming the stage and the key). Stage i writes into
 * OUTPUT/NN-name/ (NN = i + 1), its log in OUTPUT/NN-name/log.txt. The
 * state (OUTPUT/pipeline_state.json) is written atomically (a temporary
 * file renamed) before and after each stage, and one lock file keeps two
 * pipelines off the same output folder. A stage is "done" only when its
 * child exited 0; a finished stage is skipped on --resume only when the hash
 * of its resolved configuration (command, keys, the config file's bytes and
 * the hashes of the stages it reads) is the one recorded; when only its
 * own keys changed it is refused unless --force-stage names it, and a stage
 * whose input stage runs again runs again. A stage started afresh starts in
 * an empty folder. SIGINT and SIGTERM are forwarded to the child (its own
 * process group, so the terminal's Ctrl-C reaches it once, through us) and
 * the pipeline exits 130 with the resume hint.
 */
#include "commands.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <json-c/json.h>
#include <lauxlib.h>
#include <limits.h>
#include <nettle/sha2.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rlvr_lua.h"
#include "runconfig.h"
#include "util.h"

#define MAX_STAGES 64
/* output("x") is this prefix, the name and a \x01: a string no file name
 * holds, whose both ends show when it was joined to other text */
#define REF_MARK "\x01rlvr-output\x01"

enum run_kind { RUN_SFT, RUN_TRAIN, RUN_SAMPLE, RUN_EVAL };
static const char *const RUN_NAMES[] = {"sft", "train", "sample", "eval"};

struct stage {
    char name[64];
    enum run_kind run;
    char *config;                /* absolute path of the config file, or NULL */
    int gen_config;              /* argv[2] is OUTPUT/NN-name/stage_config.lua, an empty table we write */
    json_object *keys;           /* KEY -> value (references resolved), owned */
    int refs[MAX_STAGES];        /* indices of the stages it reads */
    int n_refs;
    char dir[PATH_MAX];          /* OUTPUT/NN-name */
    char out[PATH_MAX + 32];     /* what output(name) gives */
    char own_hash[65], hash[65]; /* own: this stage alone; hash: with its inputs' */
    char **argv;                 /* the resolved command line */
    int argc;
    /* the plan */
    int selected, run_it, resume_it;
    const char *why;
};

struct pipeline {
    char path[PATH_MAX];         /* the pipeline file, absolute */
    char folder[PATH_MAX];       /* its folder */
    char out[PATH_MAX - 128];    /* output_dir, absolute */
    struct stage st[MAX_STAGES];
    int n;
};

/* ---- the pipeline file --------------------------------------------------------------- */

static const char *g_folder; /* for here() */

static int l_output(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    lua_pushfstring(L, REF_MARK "%s\x01", name);
    return 1;
}

static int l_env(lua_State *L)
{
    const char *name = luaL_checkstring(L, 1);
    const char *v = getenv(name);
    if (v && *v) {
        lua_pushstring(L, v);
        return 1;
    }
    if (lua_gettop(L) >= 2 && !lua_isnil(L, 2)) {
        lua_pushvalue(L, 2);
        return 1;
    }
    return luaL_error(L, "env(\"%s\"): the environment variable is not set and no default was given", name);
}

static int l_here(lua_State *L)
{
    const char *p = luaL_checkstring(L, 1);
    if (p[0] == '/')
        lua_pushstring(L, p);
    else
        lua_pushfstring(L, "%s/%s", g_folder, p);
    return 1;
}

static int run_kind(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, RUN_NAMES[i]))
            return i;
    return -1;
}

static int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 48)
        return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
              *c == '-'))
            return 0;
    return 1;
}

/* The key the pipeline sets itself: where the stage writes. */
static const char *out_key(enum run_kind k) { return k == RUN_SFT || k == RUN_TRAIN ? "output_dir" : "output"; }

static int absolute(const char *p, char *dst, size_t cap)
{
    if (p[0] == '/') {
        snprintf(dst, cap, "%s", p);
        return 0;
    }
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof cwd))
        return -1;
    if ((size_t)snprintf(dst, cap, "%s/%s", cwd, p) >= cap)
        return -1;
    return 0;
}

static void hex(const uint8_t *d, char *out)
{
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", d[i]);
}

/* Resolves the value's references (strings REF_MARK name) in place:
 * stage s may read only the stages before it. */
static int resolve_refs(struct pipeline *pl, int s, const char *key, json_object *parent, const char *pkey,
                        size_t pidx, json_object *v, char *err, size_t err_len)
{
    struct stage *st = &pl->st[s];
    if (json_object_is_type(v, json_type_object)) {
        json_object_object_foreach(v, k, sub) if (resolve_refs(pl, s, key, v, k, 0, sub, err, err_len)) return -1;
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            if (resolve_refs(pl, s, key, v, NULL, i, json_object_array_get_idx(v, i), err, err_len))
                return -1;
    } else if (json_object_is_type(v, json_type_string)) {
        const char *str = json_object_get_string(v);
        const char *m = strstr(str, "\x01");
        if (!m)
            return 0;
        size_t sl = strlen(str), ml = strlen(REF_MARK);
        if (strncmp(str, REF_MARK, ml) || sl < ml + 2 || str[sl - 1] != '\x01' ||
            memchr(str + ml, '\x01', sl - ml - 1)) {
            rlvr_errf(err, err_len,
                      "stage '%s', key '%s': output(...) must be the whole value (not joined to other text)",
                      st->name, key);
            return -1;
        }
        char ref[64];
        snprintf(ref, sizeof ref, "%.*s", (int)(sl - ml - 1), str + ml);
        int j = 0;
        while (j < pl->n && strcmp(pl->st[j].name, ref))
            j++;
        if (j >= pl->n) {
            rlvr_errf(err, err_len, "stage '%s', key '%s': output(\"%s\") names no stage", st->name, key, ref);
            return -1;
        }
        if (j >= s) {
            rlvr_errf(err, err_len, "stage '%s', key '%s': output(\"%s\") names %s; a stage reads only earlier stages",
                      st->name, key, ref, j == s ? "the stage itself" : "a later stage");
            return -1;
        }
        int seen = 0;
        for (int r = 0; r < st->n_refs; r++)
            seen |= st->refs[r] == j;
        if (!seen)
            st->refs[st->n_refs++] = j;
        json_object *nv = json_object_new_string(pl->st[j].out);
        if (pkey)
            json_object_object_add(parent, pkey, nv);
        else
            json_object_array_put_idx(parent, pidx, nv);
    }
    return 0;
}

/* One --KEY=VALUE: a string goes as it is unless it would read as JSON (a
 * number, true, null...), then quoted; anything else as compact JSON. */
static char *flag(const char *key, json_object *v)
{
    rlvr_buf b = {0};
    rlvr_buf_printf(&b, "--%s=", key);
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        json_object *probe = json_tokener_parse(s);
        int looks_json = probe != NULL || !strcmp(s, "null");
        json_object_put(probe);
        if (looks_json)
            rlvr_buf_json_string(&b, s, strlen(s));
        else
            rlvr_buf_adds(&b, s);
    } else {
        rlvr_buf_adds(&b, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
    }
    return b.ptr;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The command line and the hashes of stage s (its inputs' hashes known). */
static int build_stage(struct pipeline *pl, int s, char *err, size_t err_len)
{
    struct stage *st = &pl->st[s];
    int nk = json_object_object_length(st->keys);
    st->argv = calloc((size_t)nk + 8, sizeof *st->argv);
    if (!st->argv) {
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    int a = 0;
    st->argv[a++] = strdup("rlvr");
    st->argv[a++] = strdup(RUN_NAMES[st->run]);
    if (st->config) {
        st->argv[a++] = strdup(st->config);
    } else { /* every command wants a config file: an empty one, the keys go as flags */
        char cp[PATH_MAX + 32];
        snprintf(cp, sizeof cp, "%s/stage_config.lua", st->dir);
        st->argv[a++] = strdup(cp);
        st->gen_config = 1;
    }
    int first = a;
    json_object_object_foreach(st->keys, k, v) st->argv[a++] = flag(k, v);
    qsort(st->argv + first, (size_t)(a - first), sizeof *st->argv, cmp_str);
    char ob[PATH_MAX + 32];
    snprintf(ob, sizeof ob, "--%s=%s", out_key(st->run), st->out);
    st->argv[a++] = strdup(ob);
    if (st->run == RUN_SAMPLE) {
        snprintf(ob, sizeof ob, "--summary=%s/summary.json", st->dir);
        if (!json_object_object_get_ex(st->keys, "summary", NULL))
            st->argv[a++] = strdup(ob);
    }
    if (st->run == RUN_SFT || st->run == RUN_TRAIN)
        st->argv[a++] = strdup("--progress=false");
    st->argc = a;
    for (int i = 0; i < a; i++)
        if (!st->argv[i]) {
            rlvr_errf(err, err_len, "out of memory");
            return -1;
        }
    /* own hash: the command line without the output paths' folder (so a
     * moved output folder is the same configuration) and the config bytes */
    struct sha256_ctx h;
    sha256_init(&h);
    for (int i = 1; i < a; i++) {
        const char *arg = st->argv[i];
        if (i == 2 && st->gen_config)
            continue;
        if (!strncmp(arg, "--", 2) && strstr(arg, pl->out) && i >= first)
            arg = strstr(arg, pl->out) + strlen(pl->out); /* outputs of this pipeline, by stage folder */
        sha256_update(&h, strlen(arg) + 1, (const uint8_t *)arg);
    }
    if (st->config) {
        FILE *f = fopen(st->config, "rb");
        if (!f) {
            rlvr_errf(err, err_len, "stage '%s', key 'config': cannot read %s: %s", st->name, st->config,
                      strerror(errno));
            return -1;
        }
        uint8_t buf[8192];
        size_t got;
        while ((got = fread(buf, 1, sizeof buf, f)) > 0)
            sha256_update(&h, got, buf);
        fclose(f);
    }
    uint8_t d[32];
    sha256_digest(&h, sizeof d, d);
    hex(d, st->own_hash);
    sha256_init(&h);
    sha256_update(&h, 64, (const uint8_t *)st->own_hash);
    for (int r = 0; r < st->n_refs; r++)
        sha256_update(&h, 64, (const uint8_t *)pl->st[st->refs[r]].hash);
    sha256_digest(&h, sizeof d, d);
    hex(d, st->hash);
    return 0;
}

static int load_pipeline(struct pipeline *pl, const char *path, const char *out_override, char *err,
                         size_t err_len)
{
    char msg[1024];
    if (!realpath(path, pl->path)) {
        rlvr_errf(err, err_len, "%s: %s", path, strerror(errno));
        return -1;
    }
    snprintf(pl->folder, sizeof pl->folder, "%s", pl->path);
    *strrchr(pl->folder, '/') = 0;
    if (!pl->folder[0])
        strcpy(pl->folder, "/");
    g_folder = pl->folder;
    lua_State *L = rlvr_lua_state_new(NULL, NULL, msg, sizeof msg);
    if (!L) {
        rlvr_errf(err, err_len, "%s: %s", path, msg);
        return -1;
    }
    lua_register(L, "output", l_output);
    lua_register(L, "env", l_env);
    lua_register(L, "here", l_here);
    if (rlvr_lua_load_file(L, path, msg, sizeof msg) || rlvr_lua_pcall(L, 0, 1, msg, sizeof msg) != LUA_OK) {
        rlvr_errf(err, err_len, "%s", msg);
        rlvr_lua_state_free(L);
        return -1;
    }
    if (!lua_istable(L, -1)) {
        rlvr_errf(err, err_len, "%s: the file must return a table ({ output_dir = ..., stages = { ... } })", path);
        rlvr_lua_state_free(L);
        return -1;
    }
    size_t len;
    char *js = rlvr_lua_to_json(L, -1, &len, msg, sizeof msg);
    rlvr_lua_state_free(L);
    if (!js) {
        rlvr_errf(err, err_len, "%s: %s", path, msg);
        return -1;
    }
    json_object *top = json_tokener_parse(js);
    free(js);
    int rc = -1;
    if (!json_object_is_type(top, json_type_object)) {
        rlvr_errf(err, err_len, "%s: the file must return a table with named keys", path);
        goto done;
    }
    json_object *stages = NULL, *od = NULL;
    json_object_object_foreach(top, tk, tv)
    {
        (void)tv;
        if (strcmp(tk, "output_dir") && strcmp(tk, "stages")) {
            rlvr_errf(err, err_len, "%s: unknown key '%s' (a pipeline has output_dir and stages)", path, tk);
            goto done;
        }
    }
    json_object_object_get_ex(top, "output_dir", &od);
    json_object_object_get_ex(top, "stages", &stages);
    if (!out_override && !json_object_is_type(od, json_type_string)) {
        rlvr_errf(err, err_len, "%s: 'output_dir' (a folder, from the current one) is required, a string", path);
        goto done;
    }
    if (absolute(out_override ? out_override : json_object_get_string(od), pl->out, sizeof pl->out)) {
        rlvr_errf(err, err_len, "%s: output folder path too long", path);
        goto done;
    }
    if (!json_object_is_type(stages, json_type_array) || json_object_array_length(stages) == 0) {
        rlvr_errf(err, err_len, "%s: 'stages' must be a list of stages ({ name = ..., run = ... }, ...)", path);
        goto done;
    }
    if (json_object_array_length(stages) > MAX_STAGES) {
        rlvr_errf(err, err_len, "%s: more than %d stages", path, MAX_STAGES);
        goto done;
    }
    pl->n = (int)json_object_array_length(stages);
    /* names, commands and output paths first: references need them all */
    for (int i = 0; i < pl->n; i++) {
        struct stage *st = &pl->st[i];
        json_object *so = json_object_array_get_idx(stages, (size_t)i), *v;
        if (!json_object_is_type(so, json_type_object)) {
            rlvr_errf(err, err_len, "%s: stage %d must be a table { name = ..., run = ... }", path, i + 1);
            goto done;
        }
        if (!json_object_object_get_ex(so, "name", &v) || !json_object_is_type(v, json_type_string) ||
            !name_ok(json_object_get_string(v))) {
            rlvr_errf(err, err_len, "%s: stage %d, key 'name': required, 1 to 48 letters, digits, '_' or '-'", path,
                      i + 1);
            goto done;
        }
        snprintf(st->name, sizeof st->name, "%s", json_object_get_string(v));
        for (int j = 0; j < i; j++)
            if (!strcmp(pl->st[j].name, st->name)) {
                rlvr_errf(err, err_len, "%s: stage %d, key 'name': '%s' is already stage %d's name", path, i + 1,
                          st->name, j + 1);
                goto done;
            }
        int k;
        if (!json_object_object_get_ex(so, "run", &v) || !json_object_is_type(v, json_type_string) ||
            (k = run_kind(json_object_get_string(v))) < 0) {
            rlvr_errf(err, err_len, "stage '%s', key 'run': %s%s%s must be one of sft, train, sample, eval",
                      st->name, v ? "'" : "required; it", v ? json_object_get_string(v) : "", v ? "'" : "");
            goto done;
        }
        st->run = (enum run_kind)k;
        snprintf(st->dir, sizeof st->dir, "%s/%02d-%s", pl->out, i + 1, st->name);
        if (st->run == RUN_SFT || st->run == RUN_TRAIN)
            snprintf(st->out, sizeof st->out, "%s", st->dir);
        else
            snprintf(st->out, sizeof st->out, "%s/%s", st->dir,
                     st->run == RUN_SAMPLE ? "samples.jsonl" : "eval.json");
    }
    for (int i = 0; i < pl->n; i++) {
        struct stage *st = &pl->st[i];
        json_object *so = json_object_array_get_idx(stages, (size_t)i);
        st->keys = json_object_new_object();
        json_object_object_foreach(so, key, val)
        {
            if (!strcmp(key, "name") || !strcmp(key, "run"))
                continue;
            if (!strcmp(key, "config")) {
                if (json_object_is_type(val, json_type_string)) {
                    const char *c = json_object_get_string(val);
                    char p[PATH_MAX];
                    if ((size_t)snprintf(p, sizeof p, "%s/%s", pl->folder, c) >= sizeof p)
                        p[0] = 0;
                    if (c[0] == '/')
                        snprintf(p, sizeof p, "%s", c);
                    if (!*c || access(p, R_OK)) {
                        rlvr_errf(err, err_len, "stage '%s', key 'config': cannot read %s: %s", st->name,
                                  *c ? p : "(empty)", strerror(*c ? errno : ENOENT));
                        goto done;
                    }
                    st->config = strdup(p);
                } else if (json_object_is_type(val, json_type_object)) {
                    json_object_object_foreach(val, ck, cv)
                    {
                        if (json_object_object_get_ex(so, ck, NULL)) {
                            rlvr_errf(err, err_len, "stage '%s', key '%s': given both in the stage and in its config",
                                      st->name, ck);
                            goto done;
                        }
                        json_object_object_add(st->keys, ck, json_object_get(cv));
                    }
                } else {
                    rlvr_errf(err, err_len,
                              "stage '%s', key 'config': a config file (a path from the pipeline file's folder) or a "
                              "table of keys",
                              st->name);
                    goto done;
                }
                continue;
            }
            json_object_object_add(st->keys, key, json_object_get(val));
        }
        const char *bad[] = {out_key(st->run), "resume_from_checkpoint", NULL};
        for (int b = 0; bad[b]; b++)
            if (json_object_object_get_ex(st->keys, bad[b], NULL)) {
                rlvr_errf(err, err_len, "stage '%s', key '%s': the pipeline sets it (the stage writes into %s)",
                          st->name, bad[b], st->dir);
                goto done;
            }
        json_object_object_foreach(st->keys, key2, val2)
        {
            if (strchr(key2, '=') || !*key2) {
                rlvr_errf(err, err_len, "stage '%s', key '%s': not a key name", st->name, key2);
                goto done;
            }
            if (resolve_refs(pl, i, key2, st->keys, key2, 0, val2, err, err_len))
                goto done;
        }
        if (build_stage(pl, i, err, err_len))
            goto done;
    }
    rc = 0;
done:
    json_object_put(top);
    return rc;
}

static void free_pipeline(struct pipeline *pl)
{
    for (int i = 0; i < pl->n; i++) {
        struct stage *st = &pl->st[i];
        free(st->config);
        json_object_put(st->keys);
        for (int a = 0; st->argv && a < st->argc; a++)
            free(st->argv[a]);
        free(st->argv);
    }
}

/* ---- the state file ------------------------------------------------------------------ */

static void iso_now(char *buf, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int state_save(const struct pipeline *pl, json_object *state, char *err, size_t err_len)
{
    char path[PATH_MAX + 32], tmp[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/pipeline_state.json", pl->out);
    snprintf(tmp, sizeof tmp, "%s/.pipeline_state.json.tmp", pl->out);
    FILE *f = fopen(tmp, "wb");
    const char *s = json_object_to_json_string_ext(state, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    if (!f || fprintf(f, "%s\n", s) < 0 || fflush(f) || fsync(fileno(f)) || fclose(f) || rename(tmp, path)) {
        rlvr_errf(err, err_len, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static json_object *stage_state(json_object *state, const char *name)
{
    json_object *stages, *s = NULL;
    if (json_object_object_get_ex(state, "stages", &stages))
        json_object_object_get_ex(stages, name, &s);
    return s;
}

static const char *sfield(json_object *o, const char *k)
{
    json_object *v;
    return o && json_object_object_get_ex(o, k, &v) && json_object_is_type(v, json_type_string)
               ? json_object_get_string(v)
               : "";
}

static int rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag;
    if (ftw->level == 0)
        return 0;
    return remove(p);
}

/* Empties the folder (keeps the folder itself). */
static int empty_dir(const char *dir)
{
    if (access(dir, F_OK))
        return 0;
    return nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- running one stage --------------------------------------------------------------- */

static volatile sig_atomic_t g_signals;

static void on_signal(int sig)
{
    (void)sig;
    g_signals++;
}

static void put_prefixed(const char *prefix, const char *line, size_t n)
{
    fputs(prefix, stdout);
    fwrite(line, 1, n, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

/* Runs argv as a child of /proc/self/exe, its output (stdout and stderr
 * together) prefixed on our stdout and copied to log. Returns the child's
 * exit status (128 + N for a signal), or -1 with a message. */
static int run_child(char **argv, const char *prefix, const char *log_path, int *interrupted, char *err,
                     size_t err_len)
{
    int fds[2];
    FILE *log = fopen(log_path, "ab");
    if (!log) {
        rlvr_errf(err, err_len, "cannot write %s: %s", log_path, strerror(errno));
        return -1;
    }
    if (pipe(fds)) {
        fclose(log);
        rlvr_errf(err, err_len, "pipe: %s", strerror(errno));
        return -1;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        fclose(log);
        close(fds[0]), close(fds[1]);
        rlvr_errf(err, err_len, "fork: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0)
            dup2(nul, 0);
        dup2(fds[1], 1);
        dup2(fds[1], 2);
        close(fds[0]), close(fds[1]);
        execv("/proc/self/exe", argv);
        fprintf(stderr, "cannot run /proc/self/exe: %s\n", strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    close(fds[1]);
    char buf[65536], line[8192];
    size_t ll = 0;
    int forwarded = 0;
    for (;;) {
        if (g_signals > forwarded) {
            /* the first is forwarded as SIGINT (a clean stop with a
             * checkpoint), any later one as SIGKILL */
            kill(pid, forwarded == 0 ? SIGINT : SIGKILL);
            forwarded = g_signals;
            *interrupted = 1;
        }
        struct pollfd p = {.fd = fds[0], .events = POLLIN};
        int r = poll(&p, 1, 200);
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0)
            continue;
        ssize_t got = read(fds[0], buf, sizeof buf);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        fwrite(buf, 1, (size_t)got, log);
        fflush(log);
        for (ssize_t i = 0; i < got; i++) {
            char c = buf[i];
            if (c == '\n' || c == '\r') {
                if (ll)
                    put_prefixed(prefix, line, ll);
                ll = 0;
            } else {
                if (ll == sizeof line) { /* an endless line goes out in pieces */
                    put_prefixed(prefix, line, ll);
                    ll = 0;
                }
                line[ll++] = c;
            }
        }
    }
    if (ll)
        put_prefixed(prefix, line, ll);
    close(fds[0]);
    fclose(log);
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        if (errno != EINTR) {
            rlvr_errf(err, err_len, "waitpid: %s", strerror(errno));
            return -1;
        }
        if (g_signals > forwarded) {
            kill(pid, forwarded == 0 ? SIGINT : SIGKILL);
            forwarded = g_signals;
            *interrupted = 1;
        }
    }
    if (WIFSIGNALED(status))
        return 128 + WTERMSIG(status);
    return WEXITSTATUS(status);
}

/* ---- the command --------------------------------------------------------------------- */

static void usage(FILE *f)
{
    fputs("usage: rlvr pipeline PIPELINE.lua [--resume] [--only NAME | --from NAME] [--force-stage NAME]...\n"
          "                    [--dry-run] [--output_dir=DIR]\n"
          "Runs the stages of a pipeline file (Lua returning { output_dir = DIR, stages = { ... } }) in\n"
          "order, each an rlvr command (sft, train, sample, eval) writing into OUTPUT/NN-name/.\n"
          "A stage: { name = \"cold_start\", run = \"sft\", config = \"sft.lua\" or { KEY = VALUE },\n"
          "           KEY = VALUE, model = output(\"earlier_stage\") }.\n"
          "The file may call output(NAME), env(NAME [, DEFAULT]) and here(PATH).\n"
          "\n"
          "  --resume            continue a run: skip finished stages, resume an interrupted sft or\n"
          "                      train from its newest checkpoint, restart other interrupted stages\n"
          "  --only NAME         run that stage alone (the stages it reads must have finished)\n"
          "  --from NAME         run from that stage on\n"
          "  --force-stage NAME  rerun that stage even though its configuration changed since it ran\n"
          "  --dry-run           print what would run (the resolved commands) and stop\n"
          "  --output_dir=DIR    the output folder instead of the file's output_dir\n"
          "\n"
          "Exit status: 0 all ran, 1 a stage failed, 2 nothing ran (a bad file or option), 130 interrupted.\n",
          f);
}

static int find_stage(const struct pipeline *pl, const char *name)
{
    for (int i = 0; i < pl->n; i++)
        if (!strcmp(pl->st[i].name, name))
            return i;
    return -1;
}

static void print_cmd(FILE *f, const struct stage *st, int resume)
{
    for (int a = 0; a < st->argc; a++) {
        const char *s = st->argv[a];
        int plain = 1;
        for (const char *c = s; *c; c++)
            if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_=./,:+@%", *c))
                plain = 0;
        if (a)
            fputc(' ', f);
        if (plain) {
            fputs(s, f);
        } else {
            fputc('\'', f);
            for (const char *c = s; *c; c++)
                *c == '\'' ? fputs("'\\''", f) : fputc(*c, f);
            fputc('\'', f);
        }
    }
    if (resume)
        fputs(" --resume", f);
    fputc('\n', f);
}

int rlvr_cmd_pipeline(int argc, char **argv)
{
    const char *path = NULL, *only = NULL, *from = NULL, *out_override = NULL;
    const char *force[MAX_STAGES];
    int n_force = 0, resume = 0, dry = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--resume"))
            resume = 1;
        else if (!strcmp(a, "--dry-run"))
            dry = 1;
        else if ((!strcmp(a, "--only") || !strcmp(a, "--from") || !strcmp(a, "--force-stage")) && i + 1 < argc) {
            if (a[2] == 'o')
                only = argv[++i];
            else if (a[3] == 'r')
                from = argv[++i];
            else if (n_force < MAX_STAGES)
                force[n_force++] = argv[++i];
        } else if (!strncmp(a, "--only=", 7))
            only = a + 7;
        else if (!strncmp(a, "--from=", 7))
            from = a + 7;
        else if (!strncmp(a, "--force-stage=", 14) && n_force < MAX_STAGES)
            force[n_force++] = a + 14;
        else if (!strncmp(a, "--output_dir=", 13) && a[13])
            out_override = a + 13;
        else if (!path && a[0] != '-')
            path = a;
        else {
            fprintf(stderr, "rlvr pipeline: unexpected argument '%s'\n", a);
            usage(stderr);
            return 2;
        }
    }
    if (!path) {
        usage(stderr);
        return 2;
    }
    if (only && from) {
        fprintf(stderr, "rlvr pipeline: give --only or --from, not both\n");
        return 2;
    }
    static struct pipeline pl;
    memset(&pl, 0, sizeof pl);
    char err[2048];
    int rc = 2, lock_fd = -1;
    json_object *state = NULL;
    if (load_pipeline(&pl, path, out_override, err, sizeof err)) {
        fprintf(stderr, "rlvr pipeline: %s\n", err);
        goto out;
    }
    int start = 0, end = pl.n;
    const char *sel = only ? only : from;
    if (sel) {
        if ((start = find_stage(&pl, sel)) < 0) {
            fprintf(stderr, "rlvr pipeline: --%s %s: no stage has that name\n", only ? "only" : "from", sel);
            goto out;
        }
        if (only)
            end = start + 1;
    }
    for (int f = 0; f < n_force; f++)
        if (find_stage(&pl, force[f]) < 0) {
            fprintf(stderr, "rlvr pipeline: --force-stage %s: no stage has that name\n", force[f]);
            goto out;
        }
    /* the state, if a run was made before */
    char spath[PATH_MAX + 32];
    snprintf(spath, sizeof spath, "%s/pipeline_state.json", pl.out);
    if (access(spath, F_OK) == 0) {
        state = json_object_from_file(spath);
        if (!json_object_is_type(state, json_type_object)) {
            fprintf(stderr, "rlvr pipeline: %s is not a pipeline state (JSON object); move it away\n", spath);
            goto out;
        }
    }
    if (!state) {
        state = json_object_new_object();
        json_object_object_add(state, "stages", json_object_new_object());
    }
    if (!json_object_object_get_ex(state, "stages", NULL))
        json_object_object_add(state, "stages", json_object_new_object());
    json_object_object_add(state, "pipeline", json_object_new_string(pl.path));
    /* a fresh run over an earlier one would mix two runs' outputs */
    if (!resume && !sel) {
        for (int i = 0; i < pl.n; i++) {
            const char *s = sfield(stage_state(state, pl.st[i].name), "status");
            if (*s && strcmp(s, "pending")) {
                fprintf(stderr,
                        "rlvr pipeline: %s already holds a run of this pipeline (stage '%s' is %s); --resume "
                        "continues it, --from NAME reruns from a stage, or choose another output_dir\n",
                        pl.out, pl.st[i].name, s);
                goto out;
            }
        }
    }
    /* the plan, all of it decided before anything runs */
    for (int i = 0; i < pl.n; i++) {
        struct stage *st = &pl.st[i];
        json_object *ss = stage_state(state, st->name);
        const char *status = sfield(ss, "status");
        int forced = 0;
        for (int f = 0; f < n_force; f++)
            forced |= !strcmp(force[f], st->name);
        st->selected = i >= start && i < end;
        int input_runs = 0;
        for (int r = 0; r < st->n_refs; r++)
            input_runs |= pl.st[st->refs[r]].run_it;
        if (!st->selected)
            continue;
        for (int r = 0; r < st->n_refs; r++) {
            struct stage *in = &pl.st[st->refs[r]];
            if (!in->run_it && strcmp(sfield(stage_state(state, in->name), "status"), "done")) {
                fprintf(stderr,
                        "rlvr pipeline: stage '%s' reads output(\"%s\"), and stage '%s' has not finished; run it "
                        "first (--from %s)\n",
                        st->name, in->name, in->name, in->name);
                goto out;
            }
        }
        int same_own = !strcmp(sfield(ss, "own_hash"), st->own_hash);
        int same = !strcmp(sfield(ss, "config_hash"), st->hash);
        st->run_it = 1;
        if (!resume || !*status || !strcmp(status, "pending")) {
            st->why = *status && strcmp(status, "pending") ? "rerun (selected)" : "run";
        } else if (!strcmp(status, "done")) {
            if (!same_own && !forced) {
                fprintf(stderr,
                        "rlvr pipeline: stage '%s' finished with another configuration than the file gives now; "
                        "--force-stage %s reruns it (and the stages that read it), or restore its configuration\n",
                        st->name, st->name);
                goto out;
            }
            if (!same_own)
                st->why = "rerun (configuration changed, --force-stage)";
            else if (input_runs || !same)
                st->why = "rerun (a stage it reads ran again)";
            else {
                st->run_it = 0;
                st->why = "done";
            }
        } else { /* running (a killed pipeline), interrupted, failed */
            if (!same_own && !forced) {
                fprintf(stderr,
                        "rlvr pipeline: stage '%s' was %s with another configuration than the file gives now; "
                        "--force-stage %s starts it afresh\n",
                        st->name, status, st->name);
                goto out;
            }
            if (same_own && !input_runs && same && (st->run == RUN_SFT || st->run == RUN_TRAIN)) {
                st->resume_it = 1;
                st->why = "resume (from its newest checkpoint)";
            } else {
                st->why = same_own ? "restart" : "restart (configuration changed, --force-stage)";
            }
        }
    }
    if (dry) {
        printf("pipeline %s -> %s\n", pl.path, pl.out);
        for (int i = 0; i < pl.n; i++) {
            struct stage *st = &pl.st[i];
            printf("%02d-%s: %s\n", i + 1, st->name, !st->selected ? "not selected" : st->why);
            if (st->selected && st->run_it) {
                fputs("  ", stdout);
                print_cmd(stdout, st, st->resume_it);
            }
        }
        rc = 0;
        goto out;
    }
    if (rlvr_mkdirs(pl.out)) {
        fprintf(stderr, "rlvr pipeline: cannot create %s: %s\n", pl.out, strerror(errno));
        goto out;
    }
    char lpath[PATH_MAX + 32];
    snprintf(lpath, sizeof lpath, "%s/.pipeline.lock", pl.out);
    if ((lock_fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC, 0666)) < 0 || flock(lock_fd, LOCK_EX | LOCK_NB)) {
        fprintf(stderr, "rlvr pipeline: %s is in use by another rlvr pipeline\n", pl.out);
        goto out;
    }
    json_object *sstages;
    json_object_object_get_ex(state, "stages", &sstages);
    for (int i = 0; i < pl.n; i++) {
        if (stage_state(state, pl.st[i].name))
            continue;
        json_object *o = json_object_new_object();
        json_object_object_add(o, "status", json_object_new_string("pending"));
        json_object_object_add(sstages, pl.st[i].name, o);
    }
    if (state_save(&pl, state, err, sizeof err)) {
        fprintf(stderr, "rlvr pipeline: %s\n", err);
        goto out;
    }
    struct sigaction sa = {0}, old_int, old_term;
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    rc = 0;
    for (int i = 0; i < pl.n && rc == 0; i++) {
        struct stage *st = &pl.st[i];
        if (!st->selected)
            continue;
        char prefix[96], log_path[PATH_MAX + 16], when[32];
        snprintf(prefix, sizeof prefix, "[%02d-%s] ", i + 1, st->name);
        if (!st->run_it) {
            printf("%sdone; skipped\n", prefix);
            continue;
        }
        if (!st->resume_it && empty_dir(st->dir)) {
            fprintf(stderr, "rlvr pipeline: cannot empty %s: %s\n", st->dir, strerror(errno));
            rc = 2;
            break;
        }
        if (rlvr_mkdirs(st->dir)) {
            fprintf(stderr, "rlvr pipeline: cannot create %s: %s\n", st->dir, strerror(errno));
            rc = 2;
            break;
        }
        snprintf(log_path, sizeof log_path, "%s/log.txt", st->dir);
        if (st->gen_config) {
            FILE *g = fopen(st->argv[2], "wb");
            if (!g || fputs("-- written by rlvr pipeline: this stage's keys are given as --KEY=VALUE\nreturn {}\n", g) < 0 ||
                fclose(g)) {
                fprintf(stderr, "rlvr pipeline: cannot write %s: %s\n", st->argv[2], strerror(errno));
                rc = 2;
                break;
            }
        }
        json_object *ss = json_object_new_object();
        long runs = json_object_get_int64(json_object_object_get(stage_state(state, st->name), "runs"));
        iso_now(when, sizeof when);
        json_object_object_add(ss, "status", json_object_new_string("running"));
        json_object_object_add(ss, "run", json_object_new_string(RUN_NAMES[st->run]));
        json_object_object_add(ss, "folder", json_object_new_string(st->dir));
        json_object_object_add(ss, "started", json_object_new_string(when));
        json_object_object_add(ss, "resumed", json_object_new_boolean(st->resume_it));
        json_object_object_add(ss, "runs", json_object_new_int64(runs + 1));
        json_object_object_add(ss, "own_hash", json_object_new_string(st->own_hash));
        json_object_object_add(ss, "config_hash", json_object_new_string(st->hash));
        json_object *cmd = json_object_new_array();
        for (int a = 0; a < st->argc; a++)
            json_object_array_add(cmd, json_object_new_string(st->argv[a]));
        if (st->resume_it)
            json_object_array_add(cmd, json_object_new_string("--resume"));
        json_object_object_add(ss, "command", cmd);
        json_object_object_add(sstages, st->name, ss);
        if (state_save(&pl, state, err, sizeof err)) {
            fprintf(stderr, "rlvr pipeline: %s\n", err);
            rc = 2;
            break;
        }
        printf("%s%s: ", prefix, st->why);
        print_cmd(stdout, st, st->resume_it);
        fflush(stdout);
        char **av = st->argv; /* calloc'd with room for --resume and the NULL */
        if (st->resume_it)
            av[st->argc] = (char *)"--resume";
        int interrupted = 0;
        double t0 = rlvr_now();
        int status = run_child(av, prefix, log_path, &interrupted, err, sizeof err);
        av[st->argc] = NULL;
        iso_now(when, sizeof when);
        json_object_object_add(ss, "ended", json_object_new_string(when));
        json_object_object_add(ss, "exit_status", json_object_new_int(status));
        json_object_object_add(ss, "seconds", json_object_new_double(rlvr_now() - t0));
        const char *how = status == 0 ? "done" : interrupted || status == 130 ? "interrupted" : "failed";
        json_object_object_add(ss, "status", json_object_new_string(how));
        if (state_save(&pl, state, err, sizeof err)) {
            fprintf(stderr, "rlvr pipeline: %s\n", err);
            rc = 1;
            break;
        }
        if (status == 0) {
            printf("%sdone in %.1f s\n", prefix, rlvr_now() - t0);
            continue;
        }
        if (status < 0)
            fprintf(stderr, "rlvr pipeline: stage '%s': %s\n", st->name, err);
        if (!strcmp(how, "interrupted")) {
            fprintf(stderr,
                    "rlvr pipeline: interrupted in stage '%s' (its log: %s); `rlvr pipeline %s --resume` "
                    "continues%s\n",
                    st->name, log_path, path,
                    st->run == RUN_SFT || st->run == RUN_TRAIN ? " it from its newest checkpoint" : " (it restarts)");
            rc = 130;
        } else {
            fprintf(stderr,
                    "rlvr pipeline: stage '%s' (rlvr %s) failed with exit status %d; its log: %s; fix the cause, "
                    "then `rlvr pipeline %s --resume` continues from it\n",
                    st->name, RUN_NAMES[st->run], status, log_path, path);
            rc = 1;
        }
    }
    if (rc == 0 && g_signals) {
        fprintf(stderr, "rlvr pipeline: interrupted; `rlvr pipeline %s --resume` continues\n", path);
        rc = 130;
    }
    if (rc == 0)
        printf("pipeline finished: %s\n", pl.out);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
out:
    if (lock_fd >= 0)
        close(lock_fd);
    json_object_put(state);
    free_pipeline(&pl);
    return rc;
}
