/*
 * misbehave.c -- a test plugin that does what plugins must not, on demand,
 * chosen by the sample's completion:
 *   "nan" / "inf"   returns a non-finite score
 *   "crash"         dereferences NULL (SIGSEGV)
 *   "hang"          never returns
 *   "print"         writes to stdout
 *   "abort"         calls abort()
 *   "nostatus"      returns without setting a status
 *   "abstain"       abstains with a reason
 *   "error"         reports an error with a message
 *   "literals"      writes details that are bare JSON literals, then scores 1
 *   "badjson"       writes a detail that is not JSON, then sets status OK
 * anything else scores 1 with a detail. For tests of the host's guards.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rlvr_plugin.h"

static const rlvr_host *H;

static int is(const rlvr_sample *s, const char *w)
{
    return s->completion.ptr && s->completion.len == strlen(w) && memcmp(s->completion.ptr, w, s->completion.len) == 0;
}

static int mb_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)inst;
    (void)call;
    if (is(s, "nan")) { H->set_status(r, RLVR_OK, NAN); return 0; }
    if (is(s, "inf")) { H->set_status(r, RLVR_OK, INFINITY); return 0; }
    if (is(s, "crash")) { volatile int *p = NULL; *p = 1; }
    if (is(s, "abort")) abort();
    if (is(s, "hang")) for (;;) pause();
    if (is(s, "print")) { printf("{\"id\": \"forged\", \"reward\": 99}\n"); fflush(stdout); }
    if (is(s, "nostatus")) return 0;
    if (is(s, "abstain")) { H->set_status(r, RLVR_ABSTAIN, 0); H->set_reason(r, "cannot judge this"); return 0; }
    if (is(s, "error")) { H->set_status(r, RLVR_ERROR, 0); H->set_reason(r, "deliberate failure"); return 0; }
    if (is(s, "literals")) {
        H->detail_json(r, "t", "true", 4);
        H->detail_json(r, "n", "12", 2);
        H->detail_json(r, "z", "null", 4);
        H->detail_json(r, "e", "-1.5e3", 6);
    }
    if (is(s, "badjson")) H->detail_json(r, "broken", "{\"a\":", 5);
    H->set_status(r, RLVR_OK, 1.0);
    H->detail_number(r, "length", (double)s->completion.len);
    return 0;
}

static const rlvr_plugin desc = {
    .struct_size = sizeof(rlvr_plugin), .abi_major = RLVR_ABI_MAJOR, .abi_minor = RLVR_ABI_MINOR,
    .name = "misbehave", .version = "1", .description = "test plugin that misbehaves on demand",
    .flags = RLVR_REENTRANT, .score = mb_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    H = host;
    return &desc;
}
