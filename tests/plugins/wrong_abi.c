/*
 * wrong_abi.c -- a test plugin built "for ABI 99": the host must refuse it
 * with a message naming it. Also, when built with -DNEWER_MINOR, a plugin of
 * a newer minor of this major, which the host must accept.
 */
#include "rlvr_plugin.h"

static int wa_score(void *inst, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)inst; (void)call; (void)s;
    r->status = RLVR_OK;
    r->score = 0.5;
    return 0;
}

static const rlvr_plugin desc = {
    .struct_size = sizeof(rlvr_plugin),
#ifdef NEWER_MINOR
    .abi_major = RLVR_ABI_MAJOR, .abi_minor = RLVR_ABI_MINOR + 7,
    .name = "newer_minor",
#else
    .abi_major = 99, .abi_minor = 0,
    .name = "wrong_abi",
#endif
    .version = "1", .description = "test plugin with another ABI version",
    .flags = RLVR_REENTRANT, .score = wa_score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    (void)host;
    return &desc;
}
