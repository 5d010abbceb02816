/*
 * registry.h -- finding, loading and describing plugins.
 *
 * A plugin is named (looked up as NAME.so or NAME.lua in RLVR_PLUGIN_PATH's
 * folders, then in the built-in folder) or given by path (anything with a
 * '/' or ending in .so or .lua). Shared objects are opened with
 * dlopen(RTLD_NOW | RTLD_LOCAL) and checked against the ABI: a plugin of
 * another major, a descriptor too small, a bad name or an option table
 * that does not make sense is refused with a message naming the file.
 * Lua scripts are adapted by lua/ to the same descriptor. Each plugin is
 * loaded once per registry; loading is thread-safe (call_plugin loads
 * lazily from worker threads).
 */
#ifndef RLVR_REGISTRY_H
#define RLVR_REGISTRY_H

#include <json-c/json.h>
#include <pthread.h>

#include "rlvr_plugin.h"

typedef struct rlvr_loaded {
    char *name;          /* the descriptor's name */
    char *path;          /* the file it came from */
    int is_lua;
    void *dl;            /* dlopen handle (C plugins) */
    const rlvr_plugin *raw; /* as returned by the plugin */
    rlvr_plugin desc;    /* the fields this host knows; absent ones zero */
    void *default_instance;           /* for call_plugin, made on demand */
    struct rlvr_config *default_config;
    int default_failed;
} rlvr_loaded;

/* A validated configuration (the opaque rlvr_config of the ABI). */
struct rlvr_config {
    const rlvr_loaded *plugin;
    size_t n;
    struct rlvr_config_value {
        const rlvr_option *opt;
        int b;
        int64_t i;
        double d;
        char *s;        /* STRING and JSON values */
        size_t slen;
    } *values;
    char *json;         /* the whole configuration as JSON (for workers) */
};

typedef struct rlvr_registry {
    rlvr_loaded **items;
    size_t n;
    char **dirs;        /* search folders, in order */
    size_t n_dirs;
    pthread_mutex_t lock;
} rlvr_registry;

int rlvr_registry_init(rlvr_registry *r, char *err, size_t err_len);
void rlvr_registry_free(rlvr_registry *r);

/* Load (once) and return the plugin NAME or PATH; NULL with err. */
rlvr_loaded *rlvr_registry_get(rlvr_registry *r, const char *name_or_path, char *err, size_t err_len);

/* Every plugin file in the search folders, loaded: for `rlvr plugins`.
 * Files that fail to load are reported through report(path, message). */
void rlvr_registry_load_all(rlvr_registry *r, void (*report)(const char *path, const char *msg));

/* Validate `given` (a JSON object, or NULL for all defaults) against the
 * plugin's options. NULL with "key 'x': reason" in err. */
struct rlvr_config *rlvr_config_build(const rlvr_loaded *p, json_object *given, char *err, size_t err_len);
void rlvr_config_free(struct rlvr_config *c);

/* The default instance of a plugin, for call_plugin (thread-safe). */
void *rlvr_loaded_default_instance(rlvr_registry *r, rlvr_loaded *p, char *err, size_t err_len);

/* The flags as words: "reentrant deterministic batch". */
void rlvr_flags_text(uint32_t flags, char *buf, size_t len);
const char *rlvr_option_type_name(rlvr_option_type t);

/* The host services table handed to every plugin. */
extern const rlvr_host rlvr_host_services;
/* The registry that call_plugin uses (set by the program). */
void rlvr_services_set_registry(rlvr_registry *r);
/* Log verbosity: messages above this level are dropped (default WARN). */
void rlvr_services_set_log_level(rlvr_log_level level);
#endif
