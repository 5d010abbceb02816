/*
 * group_rank.c -- a test plugin that scores by batch over whole groups
 * (RLVR_BATCH | RLVR_GROUPS): each sample's score is its completion length
 * divided by the longest completion of its group, and the details record
 * the size of the batch it was scored in. A sample whose completion is
 * "skip" is left unfilled (the host must turn that into an error). Results
 * are filled from the last to the first, to show order does not matter.
 */
#include <string.h>

#include "rlvr_plugin.h"

static const rlvr_host *H;

static int gr_batch(void *inst, const rlvr_call *call, size_t n, const rlvr_sample *const *s, rlvr_result *const *r)
{
    (void)inst;
    (void)call;
    size_t longest = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i]->completion.len > longest) longest = s[i]->completion.len;
    for (size_t i = n; i-- > 0;) {
        if (s[i]->completion.len == 4 && memcmp(s[i]->completion.ptr, "skip", 4) == 0) continue;
        H->set_status(r[i], RLVR_OK, longest ? (double)s[i]->completion.len / (double)longest : 0.0);
        H->detail_number(r[i], "batch_size", (double)n);
    }
    return 0;
}

static const rlvr_plugin desc = {
    .struct_size = sizeof(rlvr_plugin), .abi_major = RLVR_ABI_MAJOR, .abi_minor = RLVR_ABI_MINOR,
    .name = "group_rank", .version = "1", .description = "test plugin: length relative to the group's longest",
    .flags = RLVR_REENTRANT | RLVR_DETERMINISTIC | RLVR_BATCH | RLVR_GROUPS, .score_batch = gr_batch,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *host)
{
    H = host;
    return &desc;
}
