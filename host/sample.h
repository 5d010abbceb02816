/*
 * sample.h -- one JSONL line made into an rlvr_sample.
 *
 * The host's sample (rlvr_hsample) wraps the public rlvr_sample with the
 * parsed JSON object, the field map that renames trainers' fields, and the
 * storage of text that is not a plain string of the line (a chat prompt
 * joined, an answer that is a number). Every pointer in pub stays valid
 * until rlvr_sample_reset. Before parsing, the raw line is checked for
 * invalid UTF-8 and for \u escapes that are lone surrogates (json-c would
 * turn them into U+FFFD silently): either is an error for that sample.
 */
#ifndef RLVR_SAMPLE_H
#define RLVR_SAMPLE_H

#include <json-c/json.h>
#include <pthread.h>

#include "rlvr_plugin.h"
#include "util.h"

/* name=dotted.path pairs: the sample field `name` is read from `path`. */
typedef struct rlvr_field_map {
    size_t n;
    struct rlvr_field_rule {
        char *name;
        char *path;
    } *rules;
} rlvr_field_map;

int rlvr_field_map_add(rlvr_field_map *m, const char *spec, char *err, size_t err_len);
void rlvr_field_map_free(rlvr_field_map *m);

typedef struct rlvr_scratch {
    struct rlvr_scratch *next;
    size_t len;
    char data[];
} rlvr_scratch;

typedef struct rlvr_hsample {
    rlvr_sample pub;
    json_object *root;            /* the line's object (owned) */
    const rlvr_field_map *map;
    rlvr_buf prompt_buf;          /* a chat prompt, joined */
    rlvr_buf completion_buf;      /* chat content given as parts, joined */
    rlvr_buf id_buf;              /* the id's JSON text */
    rlvr_buf answer_buf, group_buf;
    const char *err_stage;        /* non-NULL: the sample failed before scoring */
    char err_msg[512];
    pthread_mutex_t scratch_lock;
    rlvr_scratch *scratch;        /* sample_field results, freed at reset */
    void *engine_data;            /* the engine's per-sample state */
    /* sample_component's answer: the engine's, or the isolation worker's */
    int (*component)(struct rlvr_hsample *s, const char *name, double *value);
} rlvr_hsample;

void rlvr_sample_init(rlvr_hsample *s);
/* Free what the last parse made; the sample can be parsed again. */
void rlvr_sample_reset(rlvr_hsample *s);
void rlvr_sample_destroy(rlvr_hsample *s);

/* Parse one line (without its newline) as line number `line`. Returns 0, or
 * -1 with s->err_stage ("parse" or "input") and s->err_msg set; pub.id is
 * then the id when one could be read, else the line number. */
int rlvr_sample_parse(rlvr_hsample *s, json_tokener *tok, const char *text, size_t len,
                      int64_t line, const rlvr_field_map *map);

/* A field by dotted path (the field map applies to the first segment), as
 * json-c holds it: NULL for JSON null; *found is 0 when absent. */
json_object *rlvr_sample_get(rlvr_hsample *s, const char *path, int *found);

/* JSON text of a field by dotted path (the field map applies to the first
 * segment); into scratch storage owned by the sample. -1 when absent. */
int rlvr_sample_field(rlvr_hsample *s, const char *path, rlvr_text *out);

/* Write a json-c value as JSON text (thread-safe: no json-c buffers). */
void rlvr_json_write(rlvr_buf *b, json_object *o);

/* Check raw JSON text: valid UTF-8 and no lone surrogate escapes. Returns
 * 0, or -1 with a message. */
int rlvr_json_text_check(const char *s, size_t n, char *err, size_t err_len);
#endif
