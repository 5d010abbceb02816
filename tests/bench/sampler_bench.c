/*
 * sampler_bench.c -- `make bench`: rlvr_sample_token at Qwen2's vocabulary,
 * one token at a time on one thread, for the five ways of sampling a
 * generation loop uses: greedy, temperature only, top-k 50, top-p 0.95 and
 * min-p 0.05 (temperature 1 for the last three, 0.7 for "temperature").
 *
 *   sampler_bench [V ROWS ROUNDS]       default 151936 64 5
 *
 * Inputs: ROWS rows of logits [ROWS, V] in two shapes, made once:
 *   flat     2 * N(0, 1): no token stands out, so the top-p nucleus is a
 *            large part of the vocabulary (the hard case for top-p);
 *   peaked   the same plus 8 tokens per row lifted to 16 + N(0, 1), as the
 *            few likely continuations of a trained model (they hold about
 *            99% of the mass; the top-p nucleus is a few tokens).
 * A round samples one token from every row (stream = row, seed 1), with
 * its log-probability (what GRPO keeps); the best of ROUNDS rounds is
 * printed as tokens/s and microseconds per token. bench/sampler.sh prints
 * torch doing the same (bench/sampler_torch.py) beside these.
 */
#include "sampler.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static uint64_t state = 0x9E3779B97F4A7C15ull;
static double unif(void) /* [0, 1) */
{
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    return (double)(state >> 11) / 9007199254740992.0;
}
static double gauss(void)
{
    double u = unif() + 1e-12, v = unif();
    return sqrt(-2 * log(u)) * cos(6.283185307179586 * v);
}

int main(int argc, char **argv)
{
    int V = argc > 1 ? atoi(argv[1]) : 151936;
    int rows = argc > 2 ? atoi(argv[2]) : 64;
    int rounds = argc > 3 ? atoi(argv[3]) : 5;
    if (V < 100 || rows < 1 || rounds < 1) {
        fprintf(stderr, "usage: sampler_bench [V >= 100] [ROWS >= 1] [ROUNDS >= 1]\n");
        return 2;
    }
    size_t n = (size_t)rows * (size_t)V;
    float *flat = malloc(n * sizeof *flat), *peaked = malloc(n * sizeof *peaked);
    struct rlvr_sample_scratch *sc = rlvr_sample_scratch_create(V);
    if (!flat || !peaked || !sc) {
        fprintf(stderr, "sampler_bench: out of memory\n");
        return 1;
    }
    for (size_t i = 0; i < n; i++) flat[i] = peaked[i] = (float)(2 * gauss());
    for (int r = 0; r < rows; r++)
        for (int j = 0; j < 8; j++) peaked[(size_t)r * V + (size_t)(unif() * V)] = (float)(16 + gauss());

    static const struct {
        const char *name;
        double t;
        int k;
        double p, minp;
    } modes[] = {
        {"greedy", 0, 0, 1, 0},       {"temperature 0.7", 0.7, 0, 1, 0}, {"top-k 50", 1, 50, 1, 0},
        {"top-p 0.95", 1, 0, 0.95, 0}, {"min-p 0.05", 1, 0, 1, 0.05},
    };
    const struct {
        const char *name;
        const float *x;
    } shapes[] = {{"flat", flat}, {"peaked", peaked}};
    for (size_t sh = 0; sh < 2; sh++)
        for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
            struct rlvr_sampling s;
            rlvr_sampling_default(&s);
            s.temperature = modes[m].t, s.top_k = modes[m].k, s.top_p = modes[m].p, s.min_p = modes[m].minp;
            s.seed = 1;
            double best = INFINITY, lpsum = 0;
            for (int rd = 0; rd < rounds; rd++) {
                double t0 = now();
                lpsum = 0;
                for (int r = 0; r < rows; r++) {
                    struct rlvr_rng rng;
                    rlvr_rng_init(&rng, s.seed, (uint64_t)r);
                    int32_t tok;
                    float lp;
                    if (rlvr_sample_token(shapes[sh].x + (size_t)r * V, V, &s, &rng, sc, &tok, &lp)) {
                        fprintf(stderr, "sampler_bench: %s\n", rlvr_sample_scratch_error(sc));
                        return 1;
                    }
                    lpsum += lp;
                }
                double dt = now() - t0;
                if (dt < best) best = dt;
            }
            printf("rlvr  1 thread  %-7s %-16s V=%d  %9.0f tokens/s  %8.1f us/token  (mean logprob %.3f)\n",
                   shapes[sh].name, modes[m].name, V, rows / best, best / rows * 1e6, lpsum / rows);
        }
    rlvr_sample_scratch_free(sc);
    free(flat), free(peaked);
    return 0;
}
