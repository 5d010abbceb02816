/*
 * grpo_bench.c -- `make bench`: the GRPO numeric core on the CPU at Qwen2's
 * vocabulary: token log-probabilities, the policy loss and the gradient with
 * respect to the logits, per token, on one thread.
 *
 *   grpo_bench [B T V ROUNDS]       default 2 128 151936 5
 *
 * Inputs: B x T positions of random logits (one allocation, [B*T, V]),
 * taken tokens, old and ref log-probabilities near the current ones, and
 * one advantage per sequence; every position active. A round is:
 *   rlvr_logprobs (with lse) -> rlvr_grpo_loss (R1 defaults) ->
 *   rlvr_logprobs_backward (into a separate [B*T, V] gradient, as torch's
 *   .grad), then the same with the gradient written over the logits (in
 *   place), and once with the entropy as well. The best round is kept.
 * Prints one line per variant: tokens/s, ms per round, and the peak RSS the
 * rounds added above the inputs (the logits are allocated and touched
 * first), in MB. bench/grpo.sh prints torch's figures for the same job
 * beside these.
 */
#include "grpo.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double peak_mb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_maxrss / 1024.0;
}

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float uniform_pm(void) /* [-1, 1) */
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (float)((double)(rng >> 11) / 4503599627370496.0 - 1.0);
}

static void die(const char *what, const char *err)
{
    fprintf(stderr, "grpo_bench: %s: %s\n", what, err);
    exit(1);
}

/* One timed job: logits -> logp (+ entropy) -> loss -> dlogits. */
struct step {
    const struct rlvr_grpo_config *cfg;
    struct rlvr_grpo_batch batch;
    struct rlvr_grpo_metrics m;
    const float *logits;
    const int32_t *tok;
    float *logp, *lse, *dlogp; /* logp is batch.logp, writable */
    size_t n, V;
};

/* The best of `rounds` steps, in seconds; the gradient goes to dlogits
 * (which may be the logits), the entropy to ent when it is not NULL. */
static double best_of(struct step *s, int rounds, float *ent, float *dlogits)
{
    char err[256];
    double best = INFINITY;
    for (int r = 0; r < rounds; r++) {
        double t0 = now();
        if (rlvr_logprobs(s->logits, s->tok, NULL, s->n, s->V, 1.0f, s->logp, s->lse, ent, err,
                          sizeof err) ||
            rlvr_grpo_loss(s->cfg, &s->batch, s->dlogp, &s->m, err, sizeof err) ||
            rlvr_logprobs_backward(s->logits, s->tok, NULL, s->lse, s->dlogp, s->n, s->V, 1.0f, dlogits, err,
                                   sizeof err))
            die("round", err);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv)
{
    size_t B = argc > 1 ? strtoul(argv[1], NULL, 10) : 2;
    size_t T = argc > 2 ? strtoul(argv[2], NULL, 10) : 128;
    size_t V = argc > 3 ? strtoul(argv[3], NULL, 10) : 151936;
    int rounds = argc > 4 ? atoi(argv[4]) : 5;
    size_t n = B * T;
    char err[256];

    /* logits[n, V]: a spread like a trained LM head's (a few units). */
    float *logits = malloc(n * V * sizeof *logits);
    int32_t *tok = malloc(n * sizeof *tok);
    float *logp = malloc(n * sizeof *logp), *lse = malloc(n * sizeof *lse), *ent = malloc(n * sizeof *ent);
    float *old = malloc(n * sizeof *old), *ref = malloc(n * sizeof *ref), *dlogp = malloc(n * sizeof *dlogp);
    float *adv = malloc(B * sizeof *adv);
    if (!logits || !tok || !logp || !lse || !ent || !old || !ref || !dlogp || !adv) die("setup", "out of memory");
    for (size_t i = 0; i < n * V; i++) logits[i] = 4.0f * uniform_pm();
    for (size_t i = 0; i < n; i++) tok[i] = (int32_t)((size_t)((uniform_pm() + 1.0f) * 0.5f * (float)V) % V);
    for (size_t b = 0; b < B; b++) adv[b] = uniform_pm();
    if (rlvr_logprobs(logits, tok, NULL, n, V, 1.0f, logp, NULL, NULL, err, sizeof err)) die("setup", err);
    for (size_t i = 0; i < n; i++) {
        old[i] = logp[i] + 0.05f * uniform_pm();
        ref[i] = logp[i] + 0.05f * uniform_pm();
    }
    struct rlvr_grpo_config cfg;
    rlvr_grpo_config_default(&cfg);
    struct step st = {.cfg = &cfg,
                      .batch = {.n_seq = B, .seq_len = T, .logp = logp, .old_logp = old, .ref_logp = ref,
                                .advantages = adv},
                      .logits = logits, .tok = tok, .logp = logp, .lse = lse, .dlogp = dlogp, .n = n, .V = V};

    /* Out of place: dlogits[n, V] beside the logits, like torch's .grad. */
    float *dlogits = malloc(n * V * sizeof *dlogits);
    if (!dlogits) die("setup", "out of memory");
    double base = peak_mb(), best = best_of(&st, rounds, NULL, dlogits);
    printf("rlvr  out of place  B=%zu T=%zu V=%zu  %10.0f tokens/s  %8.1f ms  peak +%.0f MB  (loss %.6g)\n", B, T,
           V, (double)n / best, best * 1e3, peak_mb() - base, st.m.loss);

    /* With the entropy too (TRL logs it), still out of place. */
    best = best_of(&st, rounds, ent, dlogits);
    printf("rlvr  + entropy     B=%zu T=%zu V=%zu  %10.0f tokens/s  %8.1f ms\n", B, T, V, (double)n / best,
           best * 1e3);
    free(dlogits);

    /* In place: the gradient overwrites the logits; one round only (the
     * logits are gone after it), so it is the noisier figure. */
    double dt = best_of(&st, 1, NULL, logits);
    printf("rlvr  in place      B=%zu T=%zu V=%zu  %10.0f tokens/s  %8.1f ms  (one round; no gradient buffer)\n", B,
           T, V, (double)n / dt, dt * 1e3);
    free(logits), free(tok), free(logp), free(lse), free(ent), free(old), free(ref), free(dlogp), free(adv);
    return 0;
}
