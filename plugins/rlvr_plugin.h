/*
 * rlvr_plugin.h -- the reward plugin ABI of rlvr.
 *
 * This header is the whole contract between the rlvr host and a reward plugin.
 * A plugin is a shared object that exports exactly one symbol,
 * rlvr_plugin_entry (declare it with RLVR_PLUGIN_EXPORT and build with
 * -fvisibility=hidden, which `pkg-config --cflags rlvr` adds). The host loads
 * it with dlopen(RTLD_NOW | RTLD_LOCAL), calls the entry once with a table of
 * host services, and gets back a constant descriptor: what the plugin is
 * called, what configuration it takes, and the functions that score.
 *
 *   cc -shared $(pkg-config --cflags rlvr) my.c -o my.so
 *   rlvr score --plugin ./my.so < samples.jsonl
 *
 * Versioning. Every struct here begins with its own size, and structs only
 * grow at the end. RLVR_ABI_MAJOR changes when something is removed or changes
 * meaning: the host refuses a plugin of another major, naming it.
 * RLVR_ABI_MINOR grows when fields or services are appended:
 *   - a plugin built against an older minor works with a newer host; the
 *     host reads only descriptor->struct_size bytes of the descriptor and
 *     treats absent fields as zero;
 *   - a plugin built against a newer minor than the host is loaded too: the
 *     host uses the fields it knows and ignores the rest. A plugin that needs
 *     a service added in minor N must check host->abi_minor >= N (or
 *     host->struct_size) before calling it, and may refuse to load by
 *     returning NULL from its entry after logging why.
 *
 * Threads. The host scores samples on a pool of worker threads. A plugin that
 * sets RLVR_REENTRANT is called concurrently (call->worker tells which worker,
 * 0 <= worker < call->n_workers, for per-thread scratch); otherwise the host
 * serialises its calls. Services are safe to call from any thread; the ones
 * that write a result may be called concurrently for distinct results.
 *
 * Status. Every score ends in one of three states (see DESIGN.md):
 *   RLVR_OK       a score, possibly 0: the model is accountable for it; a low
 *                 score carries a reason in the details (set_reason).
 *   RLVR_ABSTAIN  the grader cannot judge this sample (gold unparseable,
 *                 judge unreachable, nothing countable). Give a reason.
 *   RLVR_ERROR    the plugin failed on this sample (a bug, a resource
 *                 failure). Give a message.
 * A score that is NaN or infinite is turned into an error by the host.
 *
 * Rules. A plugin never calls exit(), never writes to stdout (the host
 * redirects stdout while plugins run, so a stray printf lands on stderr and
 * cannot corrupt results), and keeps no pointer to a sample, a result or a
 * configuration after the call that passed it returns. Text is UTF-8 and is
 * passed with its length: it may contain NUL bytes.
 */
#ifndef RLVR_PLUGIN_H
#define RLVR_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RLVR_ABI_MAJOR 1
#define RLVR_ABI_MINOR 0

/* The one symbol a plugin exports. */
#define RLVR_PLUGIN_ENTRY_NAME "rlvr_plugin_entry"
#if defined(__GNUC__)
#define RLVR_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define RLVR_PLUGIN_EXPORT
#endif

typedef enum rlvr_status {
    RLVR_OK = 0,
    RLVR_ABSTAIN = 1,
    RLVR_ERROR = 2
} rlvr_status;

/* Text with a length. ptr is NULL when the value is absent; otherwise it
 * points at len bytes followed by a NUL (which is not counted). */
typedef struct rlvr_text {
    const char *ptr;
    size_t len;
} rlvr_text;

/* One sample, as read from a JSONL line after the field map was applied.
 * The common fields are here; any other field is read with
 * host->sample_field. Absent text fields have ptr == NULL. */
typedef struct rlvr_sample {
    size_t struct_size;
    rlvr_text id;          /* JSON text of the id (a number or a string) */
    rlvr_text prompt;      /* a chat prompt is its messages' contents, joined by "\n" */
    rlvr_text completion;  /* the model output (last assistant message of a chat) */
    rlvr_text answer;      /* gold answer; a non-string answer is its JSON text */
    rlvr_text language;    /* target language, ISO 639-1 */
    rlvr_text group;       /* prompt/group id; a number is its JSON text */
    rlvr_text finish_reason;
    int64_t completion_tokens; /* -1 when absent */
    int64_t line;              /* 1-based line of the input */
    const void *host_data;     /* the host's; pass the sample to services */
} rlvr_sample;

/* What a scoring function fills. The host zeroes it and sets struct_size. */
typedef struct rlvr_result {
    size_t struct_size;
    rlvr_status status;
    double score;
    int filled;            /* batch calls: set to 1 by the plugin (or by
                              host->set_status) once this result is final */
    void *host_data;       /* the host's; pass the result to services */
} rlvr_result;

/* The context of one scoring call. */
typedef struct rlvr_call {
    size_t struct_size;
    int worker;            /* 0 <= worker < n_workers */
    int n_workers;
    int64_t step;          /* training step (rlvr score --step; 0 by default) */
    const char *entry;     /* name of the mix entry being scored */
    void *host_data;
} rlvr_call;

/* Configuration: declared by the plugin, validated by the host at load.
 * Unknown keys, wrong types, values out of [min, max] and strings outside
 * `choices` are refused with an error naming plugin, key and reason, before
 * any sample is read. The plugin reads validated values with host->config_*;
 * every declared key has a value (its default when not given). */
typedef enum rlvr_option_type {
    RLVR_OPT_BOOL = 1,
    RLVR_OPT_INT = 2,     /* int64 */
    RLVR_OPT_NUMBER = 3,  /* double */
    RLVR_OPT_STRING = 4,
    RLVR_OPT_JSON = 5     /* any value (a Lua table, a list): read as JSON text */
} rlvr_option_type;

typedef struct rlvr_option {
    const char *name;
    rlvr_option_type type;
    const char *default_value; /* as text: "true", "3", "0.5", "exact", "[1,2]";
                                  NULL: no default (the key is then required) */
    double min, max;           /* INT and NUMBER: the range, when min < max */
    const char *choices;       /* STRING: allowed values separated by '|', or NULL */
    const char *help;          /* one line: what it means */
} rlvr_option;

typedef struct rlvr_config rlvr_config; /* opaque, host-owned */

/* Descriptor flags. */
#define RLVR_REENTRANT     (1u << 0) /* score/score_batch may run concurrently */
#define RLVR_DETERMINISTIC (1u << 1) /* same sample and config, same result */
#define RLVR_BATCH         (1u << 2) /* implements score_batch */
#define RLVR_GROUPS        (1u << 3) /* score_batch wants whole groups (same `group`) */
#define RLVR_ISOLATE       (1u << 4) /* run in a worker process by default */

typedef enum rlvr_log_level {
    RLVR_LOG_ERROR = 0,
    RLVR_LOG_WARN = 1,
    RLVR_LOG_INFO = 2,
    RLVR_LOG_DEBUG = 3
} rlvr_log_level;

/* Host services, handed to the entry function and valid while the plugin is
 * loaded. Functions returning int return 0 on success. */
typedef struct rlvr_host {
    size_t struct_size;
    uint16_t abi_major, abi_minor;

    /* Logging goes to the host's log (stderr), prefixed with the plugin. */
    void (*log)(rlvr_log_level level, const char *plugin, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 3, 4)))
#endif
        ;

    /* Memory: plain malloc semantics; counted by the host. */
    void *(*alloc)(size_t size);
    void *(*realloc)(void *ptr, size_t size);
    void (*free)(void *ptr);

    /* Validated configuration (see rlvr_option). Reading a key that was not
     * declared, or with the wrong type, returns the zero value and logs. */
    int (*config_bool)(const rlvr_config *cfg, const char *key);
    int64_t (*config_int)(const rlvr_config *cfg, const char *key);
    double (*config_number)(const rlvr_config *cfg, const char *key);
    rlvr_text (*config_string)(const rlvr_config *cfg, const char *key); /* STRING and JSON */

    /* Any field of the sample's original JSON object, by dotted path
     * ("reward_model.ground_truth", "tests.cases.0.stdin"): its JSON text,
     * valid until the call returns. Returns -1 (and out->ptr = NULL) when
     * absent. */
    int (*sample_field)(const rlvr_sample *s, const char *path, rlvr_text *out);

    /* A component computed earlier in the mix for this sample (plugins run
     * in the mix's order). Returns RLVR_OK with *value set, RLVR_ABSTAIN or
     * RLVR_ERROR as that component ended, or -1 when no such component
     * exists or it has not run yet. */
    int (*sample_component)(const rlvr_sample *s, const char *name, double *value);

    /* Writing a result. set_status also marks the result filled; details
     * appear in the output under details[entry]; keys must be unique per
     * result (a repeated key replaces nothing: the first one stays). */
    void (*set_status)(rlvr_result *r, rlvr_status status, double score);
    void (*set_reason)(rlvr_result *r, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(printf, 2, 3)))
#endif
        ;
    void (*detail_string)(rlvr_result *r, const char *key, const char *s, size_t len);
    void (*detail_number)(rlvr_result *r, const char *key, double v);
    /* JSON text, validated by the host: invalid JSON becomes an error. */
    void (*detail_json)(rlvr_result *r, const char *key, const char *json, size_t len);

    /* Score a sample with another loaded plugin (by name, default
     * configuration). Returns its status; *score is set when RLVR_OK, and
     * reason (NUL-terminated, possibly truncated) when not. */
    int (*call_plugin)(const rlvr_call *call, const char *plugin,
                       const rlvr_sample *s, double *score,
                       char *reason, size_t reason_len);

    /* The descriptor a configuration was built for, exactly as the plugin's
     * entry returned it: lets one create() serve several descriptors (an
     * adapter that makes descriptors at run time, as rlvr's Lua one does). */
    const struct rlvr_plugin *(*config_plugin)(const rlvr_config *cfg);
} rlvr_host;

/* The descriptor a plugin returns. Constant: the host never writes it. */
typedef struct rlvr_plugin {
    size_t struct_size;         /* sizeof(rlvr_plugin) as the plugin saw it */
    uint16_t abi_major, abi_minor; /* RLVR_ABI_MAJOR, RLVR_ABI_MINOR */
    const char *name;           /* [a-z0-9_]+, unique among loaded plugins */
    const char *version;        /* free text, e.g. "1.2.0" */
    const char *description;    /* one line */
    uint32_t flags;             /* RLVR_REENTRANT | ... */
    const rlvr_option *options; /* n_options entries */
    size_t n_options;

    /* Make an instance for one mix entry from its validated configuration.
     * Return NULL with a message in err (at most err_len bytes) to refuse.
     * May be NULL: the instance is then NULL. */
    void *(*create)(const rlvr_host *host, const rlvr_config *cfg,
                    char *err, size_t err_len);
    void (*destroy)(void *instance);

    /* Score one sample: fill r with host->set_status (or r->status and
     * r->score) and optionally details. Return value: ignored in 1.0 (use
     * the status). Required unless RLVR_BATCH is set. */
    int (*score)(void *instance, const rlvr_call *call,
                 const rlvr_sample *s, rlvr_result *r);

    /* Score n samples at once (RLVR_BATCH): a whole group when RLVR_GROUPS
     * is set, else a slice of the input. The plugin may work on them
     * concurrently and fill the results in any order and from threads of
     * its own, but must fill every one (set filled = 1, or use
     * host->set_status) before returning; a result left unfilled becomes
     * an error. */
    int (*score_batch)(void *instance, const rlvr_call *call, size_t n,
                       const rlvr_sample *const *samples,
                       rlvr_result *const *results);
} rlvr_plugin;

/* The entry point. Called once after dlopen; returns the descriptor, or
 * NULL to refuse to load (log why through host->log). */
typedef const rlvr_plugin *(*rlvr_plugin_entry_fn)(const rlvr_host *host);

/* Its declaration: define it in your plugin with RLVR_PLUGIN_EXPORT. */
RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host);

#ifdef __cplusplus
}
#endif
#endif /* RLVR_PLUGIN_H */
