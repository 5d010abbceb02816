/*
 * serve_sleep.c -- a test plugin for rlvr serve: it sleeps `delay_ms` and
 * then scores 1, standing in for a slow reward (a judge over HTTP, a code
 * sandbox) in the tests of the server's scheduling (a slow plugin in one
 * client's mix must not hold up another client's fast requests), its
 * request timeout, its queue bound and its graceful shutdown.
 *
 * Reentrant: concurrent calls sleep concurrently, as an I/O-bound plugin
 * waits. The sleep is restarted after a signal, so a call always takes at
 * least delay_ms.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include "rlvr_plugin.h"

static const rlvr_host *host;

static const rlvr_option options[] = {
    {"delay_ms", RLVR_OPT_INT, "1000", 0, 60000, NULL, "how long each call sleeps, in milliseconds"},
};

/* The instance is the delay. */
static void *create(const rlvr_host *h, const rlvr_config *cfg, char *err, size_t err_len)
{
    long *d = h->alloc(sizeof *d);
    if (!d) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    *d = (long)h->config_int(cfg, "delay_ms");
    return d;
}

static void destroy(void *instance) { host->free(instance); }

static int score(void *instance, const rlvr_call *call, const rlvr_sample *s, rlvr_result *r)
{
    (void)call;
    (void)s;
    long ms = *(const long *)instance;
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
    host->set_status(r, RLVR_OK, 1.0);
    host->set_reason(r, "slept %ld ms", ms);
    return 0;
}

static const rlvr_plugin desc = {
    .struct_size = sizeof(rlvr_plugin),
    .abi_major = RLVR_ABI_MAJOR,
    .abi_minor = RLVR_ABI_MINOR,
    .name = "serve_sleep",
    .version = "1.0",
    .description = "sleeps delay_ms, then scores 1 (a stand-in for a slow reward)",
    .flags = RLVR_REENTRANT,
    .options = options,
    .n_options = sizeof options / sizeof options[0],
    .create = create,
    .destroy = destroy,
    .score = score,
};

RLVR_PLUGIN_EXPORT const rlvr_plugin *rlvr_plugin_entry(const rlvr_host *h)
{
    host = h;
    return &desc;
}
