/*
 * rlvr_score.h -- scoring samples with a reward mix from another program,
 * in process: the C face of librlvr_score, which Python reaches through
 * ctypes (clients/rlvr_inprocess.py) so a trainer on one machine scores
 * through rlvr without a server.
 *
 * A scorer holds a loaded mix and a pool of threads. rlvr_scorer_score
 * takes samples as JSON Lines (the format of `rlvr score`, field map
 * included) and returns the results as JSON Lines, one per sample in input
 * order, exactly as `rlvr score` writes them. Calls on one scorer are
 * serialised; several scorers may run at once. Errors are returned as
 * status codes with a message, never printed; the library never exits.
 * Plugins' per-process settings (the registry that call_plugin uses) are
 * those of the scorer made last.
 */
#ifndef RLVR_SCORE_H
#define RLVR_SCORE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct rlvr_scorer rlvr_scorer;

/* Load the mix file (plugins are found as `rlvr score` finds them) and start
 * `threads` threads (0: all cores). fields: "NAME=PATH" renames (as
 * --field), n_fields of them. NULL with a message in err on failure. */
rlvr_scorer *rlvr_scorer_new(const char *mix_path, int threads, const char *const *fields, size_t n_fields,
                             char *err, size_t err_len);

/* Score the JSON Lines in jsonl[0..len). On success returns 0 and sets *out
 * (NUL-terminated, *out_len bytes without the NUL; free with
 * rlvr_scorer_free_text); a sample that fails is an error result in the
 * output, not a failure of the call. -1 with err when nothing could be
 * scored (out of memory). */
int rlvr_scorer_score(rlvr_scorer *s, const char *jsonl, size_t len, char **out, size_t *out_len, char *err,
                      size_t err_len);
void rlvr_scorer_free_text(char *text);
void rlvr_scorer_free(rlvr_scorer *s);

/* "rlvr VERSION". */
const char *rlvr_scorer_version(void);

#ifdef __cplusplus
}
#endif
#endif
