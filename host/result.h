/*
 * result.h -- the host side of an rlvr_result: status, score, reason and
 * the details a plugin writes, kept as JSON member text ("key":value, ...)
 * so that output needs no second serialisation. A detail key is written
 * once per result: a repeated key is dropped.
 */
#ifndef RLVR_RESULT_H
#define RLVR_RESULT_H

#include <pthread.h>

#include "rlvr_plugin.h"
#include "util.h"

typedef struct rlvr_hresult {
    rlvr_result pub;
    rlvr_buf details;   /* "\"k\":v,\"k2\":v2" */
    rlvr_buf reason;    /* empty: none */
    rlvr_buf fault;     /* the plugin misused a service (invalid detail JSON):
                           the result becomes an error when it returns */
    int ran;            /* the plugin was called (or failed to be) */
    int running;        /* guards lazy recursion */
} rlvr_hresult;

/* Ready for a new call: status ERROR (until set), score 0, empty texts. */
void rlvr_hresult_reset(rlvr_hresult *r);
void rlvr_hresult_free(rlvr_hresult *r);
/* Mark failed with a message (status error). */
void rlvr_hresult_fail(rlvr_hresult *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* After the plugin returned: a non-finite OK score becomes an error. */
void rlvr_hresult_check(rlvr_hresult *r, const char *plugin);
const char *rlvr_status_name(rlvr_status s);
#endif
