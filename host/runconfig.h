/*
 * runconfig.h -- the configuration files of rlvr's long-running commands
 * (`rlvr sft`, later `rlvr train`): a Lua file returning a table, run in a
 * sandboxed state (lua/), turned into JSON, with command-line overrides
 * (--KEY=VALUE) applied on top, then read into typed fields.
 *
 * Every key must be known: a misspelt key is an error naming it, never a
 * silently ignored setting. Relative paths in the file are relative to the
 * file's folder; paths given on the command line are relative to the
 * current directory.
 */
#ifndef RLVR_RUNCONFIG_H
#define RLVR_RUNCONFIG_H

#include <json-c/json.h>
#include <stddef.h>
#include <stdio.h>

#include "checkpoint.h"

enum rlvr_key_type { RLVR_KEY_INT, RLVR_KEY_NUM, RLVR_KEY_STR, RLVR_KEY_BOOL, RLVR_KEY_PATH, RLVR_KEY_JSON };

struct rlvr_key {
    const char *name;
    enum rlvr_key_type type;
    void *dst;                   /* long *, double *, char ** (malloc'd), int *, json_object ** */
    const char *help;
};

/* Runs the Lua file and returns its table as a JSON object (*out, owned by
 * the caller), with each "KEY=VALUE" of overrides[n] set on it: VALUE is
 * read as JSON when it parses (numbers, true/false, quoted strings, tables
 * in JSON) and as a string otherwise. Keys from overrides are marked so
 * that their paths resolve against the current directory. path NULL starts
 * from an empty table (every key from the command line). */
int rlvr_runconfig_load(const char *path, char *const *overrides, int n, json_object **out, char *err,
                        size_t err_len);
/* Reads the object into the keys' destinations (absent keys keep their
 * defaults), refusing unknown keys and wrong types by name. */
int rlvr_runconfig_read(json_object *cfg, const char *path, const struct rlvr_key *keys, char *err,
                        size_t err_len);
/* Prints the keys with their help lines (for --help). */
void rlvr_runconfig_print_keys(const struct rlvr_key *keys, FILE *f);

/* ---- what the training commands share ------------------------------------------------ */

struct rlvr_policy;
struct rlvr_adamw;

/* The command line of a command driven by a config file:
 *   [CONFIG.lua] [--resume] [--KEY=VALUE ...] [--help | -h] */
struct rlvr_run_args {
    const char *path;            /* CONFIG.lua, or NULL */
    int resume;                  /* --resume was given */
    int help;                    /* --help or -h was given */
    char **over;                 /* "KEY=VALUE" of each --KEY=VALUE ([n_over], pointing into argv) */
    int n_over;
};

/* Reads argv[1..argc); --resume only when allow_resume. Returns 0, or -1
 * with a message (an unexpected argument, out of memory). Free with
 * rlvr_run_args_free in either case. */
int rlvr_run_args_parse(int argc, char **argv, int allow_resume, struct rlvr_run_args *a, char *err,
                        size_t err_len);
void rlvr_run_args_free(struct rlvr_run_args *a);
/* The start the long-running commands share: rlvr_run_args_parse, then on
 * a bad argument (or no CONFIG.lua where need_path) "CMD: message" and the
 * usage on stderr, status 2; on --help the usage on stdout, status 0; in
 * both cases a is freed. Returns -1 when the command goes on (a filled; the
 * caller frees it), else that exit status. */
int rlvr_run_args_start(const char *cmd, int argc, char **argv, int allow_resume, int need_path,
                        void (*usage)(FILE *, struct rlvr_key *), struct rlvr_key *keys, struct rlvr_run_args *a);

/* Writes out_dir/checkpoint-STEP: the policy in float32, optimizer.bin
 * (none when opt is NULL) and trainer_state.json holding state_json (one
 * JSON object). A GPU run brings AdamW's state to the host first
 * (train_gpu.h's rlvr_adamw_from_gpu), so its checkpoints are the CPU's. */
int rlvr_run_checkpoint_save(const struct rlvr_policy *p, const struct rlvr_adamw *opt, const char *out_dir,
                             long step, const char *state_json, char *err, size_t err_len);
/* The finished run's model at the top of out_dir, in dtype, with a
 * trainer_state.json holding state_json, so that what reads the folder
 * (rlvr sample's source.step) knows the step it is from. */
int rlvr_run_final_save(const struct rlvr_policy *p, const char *out_dir, enum rlvr_dtype dtype,
                        const char *state_json, char *err, size_t err_len);

/* mkdir -p; 0 or -1 (errno set). */
int rlvr_mkdirs(const char *dir);
/* The largest N of dir/checkpoint-N holding a trainer_state.json, or -1. */
long rlvr_newest_checkpoint(const char *dir);
/* perm[0..n) := the data order of epoch `epoch`: a permutation drawn from
 * (seed, epoch) alone, so a resumed run sees the order an unbroken one saw. */
void rlvr_data_order(size_t *perm, size_t n, uint64_t seed, long epoch);
/* The policy a config names: a checkpoint folder (`model`), or a fresh model
 * from `model_init` ("tiny" or a table of config.json fields) with weights
 * drawn from init_seed. Exactly one of the two must be given. */
int rlvr_policy_from_config(struct rlvr_policy *p, const char *model, json_object *model_init, long init_seed,
                            const char *tokenizer, const char *cfg_path, char *err, size_t err_len);

#endif
