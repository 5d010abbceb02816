/*
 * math_fuzz.c -- the math verifier's fuzz target: one input is split into
 * a gold answer and a prediction, rlvr_math_verify checks them with the
 * default options, and the verdict's invariants are checked.
 *
 * Built two ways from this one file:
 *   - with clang -fsanitize=fuzzer,address,undefined for `make fuzz-math`
 *     (libFuzzer calls LLVMFuzzerTestOneInput; a broken invariant aborts);
 *   - with fuzz/driver.c for the short run of `make check` (the driver
 *     calls math_fuzz_one and reports TAP).
 *
 * The split: the input's first 0x1E byte (ASCII record separator) ends the
 * gold and starts the prediction; without one, the whole input is both (a
 * self-check). A second 0x1E ends the prediction and starts a prompt, and
 * then rlvr_math_verify_prompt is called (the echo check reads it). Any
 * bytes may appear in each part, NULs included.
 *
 * Invariants checked on every input (math_fuzz_one returns 1 and describes
 * the first one broken):
 *   - rlvr_math_verify returns 0 or -1;
 *   - the status is one of math_verifier.h's (EQUAL .. ECHO) and has a name;
 *   - the score is exactly 1 for EQUAL and exactly 0 otherwise;
 *   - abstain is set exactly for GOLD_INVALID and GOLD_TOO_COSTLY;
 *   - reason, rule, pred_source and gold_source are non-NULL,
 *     NUL-terminated strings;
 *     the five text buffers are NUL-terminated within RLVR_MATH_TEXT_CAP;
 *   - the verdict is deterministic: a second call gives the same status,
 *     reason and rule (random points are seeded, nothing is global).
 */
#include "math_verifier.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int math_fuzz_one(const uint8_t *data, size_t size, char *why, size_t why_cap);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int terminated(const char *s, size_t cap)
{
    return memchr(s, 0, cap) != NULL;
}

static int cstring_ok(const char *s)
{
    /* a static string: non-NULL and ends within a sane length */
    return s != NULL && memchr(s, 0, 4096) != NULL;
}

int math_fuzz_one(const uint8_t *data, size_t size, char *why, size_t why_cap)
{
    const char *gold = (const char *)data, *pred = (const char *)data, *prompt = NULL;
    size_t gold_len = size, pred_len = size, prompt_len = 0;
    const uint8_t *sep = size ? memchr(data, 0x1E, size) : NULL;
    if (sep) {
        gold_len = (size_t)(sep - data);
        pred = (const char *)sep + 1;
        pred_len = size - gold_len - 1;
        const uint8_t *sep2 = pred_len ? memchr(pred, 0x1E, pred_len) : NULL;
        if (sep2) {
            prompt = (const char *)sep2 + 1;
            prompt_len = pred_len - (size_t)((const char *)sep2 - pred) - 1;
            pred_len = (size_t)((const char *)sep2 - pred);
        }
    }
    if (size == 0)
        gold = pred = "";

    rlvr_math_verdict v, w;
    memset(&v, 0xA5, sizeof v); /* no field may be left unset */
    int rc = prompt ? rlvr_math_verify_prompt(gold, gold_len, pred, pred_len, prompt, prompt_len, NULL, &v)
                    : rlvr_math_verify(gold, gold_len, pred, pred_len, NULL, &v);
    if (rc == -1) {
        if (!terminated(v.message, sizeof v.message)) {
            snprintf(why, why_cap, "out-of-memory verdict's message is not NUL-terminated");
            return 1;
        }
        return 0;
    }
    if (rc != 0) {
        snprintf(why, why_cap, "rlvr_math_verify returned %d (expected 0 or -1)", rc);
        return 1;
    }
    int st = (int)v.status;
    if (st < (int)RLVR_MATH_EQUAL || st > (int)RLVR_MATH_ECHO) {
        snprintf(why, why_cap, "status %d out of range", st);
        return 1;
    }
    if (!cstring_ok(rlvr_math_status_name(v.status))) {
        snprintf(why, why_cap, "status %d has no name", st);
        return 1;
    }
    int abstain_expected = v.status == RLVR_MATH_GOLD_INVALID || v.status == RLVR_MATH_GOLD_TOO_COSTLY;
    if ((v.abstain != 0) != abstain_expected) {
        snprintf(why, why_cap, "abstain=%d with status %s", v.abstain, rlvr_math_status_name(v.status));
        return 1;
    }
    if (!abstain_expected) {
        double want = v.status == RLVR_MATH_EQUAL ? 1.0 : 0.0;
        if (!(v.score == want)) {
            snprintf(why, why_cap, "score %g with status %s", v.score, rlvr_math_status_name(v.status));
            return 1;
        }
    }
    if (!cstring_ok(v.reason) || !cstring_ok(v.rule) || !cstring_ok(v.pred_source) || !cstring_ok(v.gold_source)) {
        snprintf(why, why_cap, "reason, rule, pred_source or gold_source is NULL or unterminated (status %s)",
                 rlvr_math_status_name(v.status));
        return 1;
    }
    if (!terminated(v.pred_extracted, RLVR_MATH_TEXT_CAP) || !terminated(v.gold_extracted, RLVR_MATH_TEXT_CAP) ||
        !terminated(v.pred_normalised, RLVR_MATH_TEXT_CAP) || !terminated(v.gold_normalised, RLVR_MATH_TEXT_CAP) ||
        !terminated(v.message, RLVR_MATH_TEXT_CAP)) {
        snprintf(why, why_cap, "a text field of the verdict is not NUL-terminated (status %s)",
                 rlvr_math_status_name(v.status));
        return 1;
    }
    memset(&w, 0x5A, sizeof w);
    rc = prompt ? rlvr_math_verify_prompt(gold, gold_len, pred, pred_len, prompt, prompt_len, NULL, &w)
                : rlvr_math_verify(gold, gold_len, pred, pred_len, NULL, &w);
    if (rc != 0)
        return 0; /* out of memory the second time: nothing to compare */
    if (w.status != v.status || strcmp(w.reason, v.reason) != 0 || strcmp(w.rule, v.rule) != 0) {
        snprintf(why, why_cap, "not deterministic: %s/%s/%s then %s/%s/%s", rlvr_math_status_name(v.status), v.reason,
                 v.rule, rlvr_math_status_name(w.status), w.reason, w.rule);
        return 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char why[512];
    if (math_fuzz_one(data, size, why, sizeof why)) {
        fprintf(stderr, "math_fuzz: invariant broken: %s\n", why);
        abort();
    }
    return 0;
}
