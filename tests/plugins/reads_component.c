/*
 * reads_component.c -- a test plugin for staged mixes: scores twice the
 * component named by its `source` option (computed earlier in the mix),
 * abstains when that component is not there or not ok, and reads a sample
 * field named by `field` into its details through sample_field.
 */
#include <stdio.h>
#include <string.h>

#include "rlvr_plugin.h"

static const rlvr_host *H;

typedef struct { char source[64]; char field[64]; double factor; } rc_inst;

static const rlvr_option opts[] = {
    {"source", RLVR_OPT_STRING, "\"exact_match\"", 0, 0, NULL, "the component to read"},
    {"field", RLVR_OPT_STRING, "\"data_source\"", 0, 0, NULL, "a sample field to copy into the details"},
    {"factor", RLVR_OPT_NUMBER, "2", 0, 10, NULL, "multiplier"},
};

static void *rc_create(const rlvr_host *host, const rlvr_config *cfg, char *err, size_t len)
{
    (void)err;
    (void)len;
    rc_inst *i = host->alloc(sizeof *i);
    if (!i) return NULL;
    rlvr_text s = host->config_string(cfg, "source"), f = host->config_string(cfg, "field");
    snprintf(i->source, sizeof i->source, "%.*s", (int)s.len, s.ptr);
    snprintf(i->field, sizeof i->field, "%.*s", (int)f.len, f.ptr);
    i->factor = host->config_number(cfg, "factor");
    return i;
}

static void rc_destroy(void *inst) { H->free(inst); }

static int rc_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    rc_inst *i = inst;
    double v;
    rlvr_text t;
    if (H->sample_field(s, i->field, &t) == 0) H->detail_json(r, "field", t.ptr, t.len);
    int st = H->sample_component(s, i->source, &v);
    if (st != RLVR_OK) {
        H->set_status(r, RLVR_ABSTAIN, 0);
        H->set_reason(r, "component %s: %s", i->source, st < 0 ? "not available" : "not ok");
        return 0;
    }
    H->set_status(r, RLVR_OK, i->factor * v);
    return 0;
}

static const rlvr_plugin desc = {
    .struct_size = sizeof(rlvr_plugin), .abi_major = RLVR_ABI_MAJOR, .abi_minor = RLVR_ABI_MINOR,
    .name = "reads_component", .version = "1", .description = "test plugin: twice an earlier component",
    .flags = RLVR_REENTRANT, .options = opts, .n_options = 3,
    .create = rc_create, .destroy = rc_destroy, .score = rc_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    H = host;
    return &desc;
}
