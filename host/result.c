/*
 * result.c -- results as plugins fill them (see result.h).
 */
#include "result.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void rlvr_hresult_reset(rlvr_hresult *r)
{
    memset(&r->pub, 0, sizeof r->pub);
    r->pub.struct_size = sizeof r->pub;
    r->pub.status = RLVR_ERROR;
    r->pub.host_data = r;
    rlvr_buf_clear(&r->details);
    rlvr_buf_clear(&r->reason);
    rlvr_buf_clear(&r->fault);
    r->ran = 0;
    r->running = 0;
}

void rlvr_hresult_free(rlvr_hresult *r)
{
    rlvr_buf_free(&r->details);
    rlvr_buf_free(&r->reason);
    rlvr_buf_free(&r->fault);
}

void rlvr_hresult_fail(rlvr_hresult *r, const char *fmt, ...)
{
    r->pub.status = RLVR_ERROR;
    r->pub.score = 0;
    r->pub.filled = 1;
    rlvr_buf_clear(&r->reason);
    va_list ap;
    va_start(ap, fmt);
    rlvr_buf_vprintf(&r->reason, fmt, ap);
    va_end(ap);
}

void rlvr_hresult_check(rlvr_hresult *r, const char *plugin)
{
    if (r->fault.len) {
        rlvr_hresult_fail(r, "%s: %s", plugin, r->fault.ptr);
        return;
    }
    if (r->pub.status != RLVR_OK && r->pub.status != RLVR_ABSTAIN && r->pub.status != RLVR_ERROR) {
        rlvr_hresult_fail(r, "%s returned an unknown status %d", plugin, (int)r->pub.status);
        return;
    }
    if (r->pub.status == RLVR_OK && !isfinite(r->pub.score)) {
        double s = r->pub.score;
        rlvr_hresult_fail(r, "%s returned a non-finite score (%s)", plugin,
                          isnan(s) ? "nan" : s > 0 ? "inf" : "-inf");
    }
    if (r->details.oom || r->reason.oom) rlvr_hresult_fail(r, "%s: out of memory writing details", plugin);
}

const char *rlvr_status_name(rlvr_status s)
{
    switch (s) {
    case RLVR_OK: return "ok";
    case RLVR_ABSTAIN: return "abstain";
    case RLVR_ERROR: return "error";
    }
    return "error";
}
