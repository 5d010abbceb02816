/*
 * isolate.h -- running a mix entry's plugin in worker processes (isolate.c):
 * a crash or a hang costs the samples of that call an error, not the batch.
 */
#ifndef RLVR_ISOLATE_H
#define RLVR_ISOLATE_H

#include "mix.h"
#include "result.h"
#include "sample.h"

/* Score samples[0..n) with entry e in the worker process of pool thread
 * `worker` (started on first use). Fills every result: the plugin's, or an
 * error naming the signal, the timeout or the failure. 0, or -1 when the
 * worker failed. */
int rlvr_isolate_run(rlvr_entry *e, int worker, int n_workers, int64_t step, rlvr_hsample **samples,
                     rlvr_hresult **results, size_t n);

/* End and reap the entry's worker processes. */
void rlvr_isolate_free_entry(rlvr_entry *e);

/* `rlvr __worker PLUGIN CONFIG_JSON`: the worker process's main loop. */
int rlvr_worker_main(int argc, char **argv);
#endif
