/*
 * test_gpu_model_step.h -- the generation scenario that tests/
 * test_gpu_model_host.cu (gpu/model_graph.cuh's graph_step on the host
 * emulation) and tests/test_gpu_model.c (rlvr_gpu_model_step on a device)
 * both hold to host/model.c's rlvr_model_step: included by each, C and C++.
 *
 * The scenario, on the model m the caller made: three prompts of different
 * lengths (5, 1 and 9 tokens) prefilled one at a time into slots 0, G and
 * 2G (the middle prompt's every row emitting, the others' last row only),
 * each copied to its G slots, then decode steps of one row per live slot
 * with random tokens: rows listed in reverse order on odd steps (nothing may
 * depend on the order of the rows), a mix of emit flags, one step with no
 * emitting row, slots that finish early and leave the steps. Every step's
 * logits are compared with the CPU's:
 *  - fp32: |got - want| <= 1e-5 * max|want| + 1e-4 * |want| per step (the
 *    emulation adds in the CPU's order except attention's online softmax;
 *    a device's cuBLAS adds in its own order: the caller passes its own
 *    A and R);
 *  - bf16: relative L2 error of each step's logits <= 5e-2 (see the
 *    tolerances of test_gpu_model_host.cu).
 */
#ifndef RLVR_TEST_GPU_MODEL_STEP_H
#define RLVR_TEST_GPU_MODEL_STEP_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "tap.h"

/* The implementation under test. Each returns 0 or -1 (with its message in
 * the caller's err). */
struct step_target {
    void *ctx;
    int (*create)(void *ctx, int slots, int max_len);
    int (*copy)(void *ctx, int from, int to, int len);
    int (*step)(void *ctx, int n, const int32_t *tok, const int *slot, const int *pos, const uint8_t *emit,
                float *logits);
    void (*destroy)(void *ctx);
};

/* The error of got against want in units of the tolerance (<= 1 passes). */
static double sc_error(const float *got, const float *want, size_t n, int bf16, double A, double R)
{
    if (bf16) {
        double num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
            double d = (double)got[i] - want[i];
            num += d * d;
            den += (double)want[i] * want[i];
        }
        double r = den > 0 ? sqrt(num / den) : sqrt(num);
        return isfinite(r) ? r / 5e-2 : INFINITY;
    }
    double scale = 0, w = 0;
    for (size_t i = 0; i < n; i++) scale = fmax(scale, fabs((double)want[i]));
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        if (!isfinite((double)got[i])) e = INFINITY;
        w = fmax(w, e / (A * scale + R * fabs((double)want[i]) + 1e-30));
    }
    return w;
}

static uint64_t sc_rng = 0x1234567887654321ull;

static int sc_token(int V)
{
    uint64_t z = (sc_rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return (int)((z ^ (z >> 31)) % (uint64_t)V);
}

/* Runs the scenario; TAP lines name `name`. A and R: the fp32 tolerance. */
static void step_scenario(const char *name, struct rlvr_model *m, const struct step_target *t, int bf16, double A,
                          double R)
{
    enum { P = 3, G = 3, S = P * G, STEPS = 6 };
    static const int plen[P] = {5, 1, 9};
    const int max_len = 9 + STEPS + 1, V = m->cfg.vocab_size;
    char cerr[256];
    struct rlvr_kv_cache kv;
    if (rlvr_kv_cache_create(&kv, m, S, max_len, cerr, sizeof cerr)) {
        ok(0, "%s: CPU cache: %s", name, cerr);
        return;
    }
    if (t->create(t->ctx, S, max_len)) {
        ok(0, "%s: the cache is created", name);
        rlvr_kv_cache_free(&kv);
        return;
    }
    size_t cap = (size_t)(S > 9 ? S : 9) * (size_t)V;
    float *want = (float *)malloc(cap * sizeof(float)), *got = (float *)malloc(cap * sizeof(float));
    int32_t tok[16];
    int slot[16], pos[16], len[S];
    uint8_t emit[16];
    double wp = 0, wd = 0;
    int fail = 0, none_ok = 1, ran = 0;
    /* prefill */
    for (int p = 0; p < P && !fail; p++) {
        int L = plen[p], ne = 0;
        for (int r = 0; r < L; r++) {
            tok[r] = sc_token(V);
            slot[r] = p * G;
            pos[r] = r;
            emit[r] = p == 1 || r == L - 1;
            ne += emit[r];
        }
        if (rlvr_model_step(m, &kv, L, tok, slot, pos, emit, want, cerr, sizeof cerr) ||
            t->step(t->ctx, L, tok, slot, pos, emit, got)) {
            fail = 1;
            break;
        }
        wp = fmax(wp, sc_error(got, want, (size_t)ne * V, bf16, A, R));
        for (int g = 1; g < G; g++) {
            rlvr_kv_cache_copy(&kv, p * G, p * G + g, L);
            if (t->copy(t->ctx, p * G, p * G + g, L)) fail = 1;
        }
        for (int g = 0; g < G; g++) len[p * G + g] = L;
    }
    ok(!fail && wp <= 1.0, "%s: prefill of prompts of 5, 1 and 9 tokens: logits match rlvr_model_step (worst %.3g "
       "of the tolerance)", name, wp);
    /* decode */
    for (int d = 0; d < STEPS && !fail; d++) {
        int n = 0, ne = 0;
        for (int k = 0; k < S; k++) {
            int i = d % 2 ? S - 1 - k : k;
            if ((i == 7 && d > 0) || (i == 4 && d > 2)) continue; /* finished */
            tok[n] = sc_token(V);
            slot[n] = i;
            pos[n] = len[i];
            emit[n] = d == 3 ? 0 : (uint8_t)((n + d) % 3 != 1);
            ne += emit[n];
            n++;
        }
        for (int r = 0; r < n; r++) len[slot[r]]++;
        memset(got, 0, cap * sizeof(float));
        if (rlvr_model_step(m, &kv, n, tok, slot, pos, emit, want, cerr, sizeof cerr) ||
            t->step(t->ctx, n, tok, slot, pos, emit, got)) {
            fail = 1;
            break;
        }
        ran++;
        if (ne == 0) {
            for (size_t i = 0; i < cap; i++) none_ok &= got[i] == 0.0f;
            continue;
        }
        wd = fmax(wd, sc_error(got, want, (size_t)ne * V, bf16, A, R));
    }
    ok(!fail && ran == STEPS && wd <= 1.0, "%s: %d decode steps (rows reordered, mixed emit flags, finished slots "
       "left out): logits match (worst %.3g of the tolerance)", name, ran, wd);
    ok(!fail && none_ok, "%s: a step with no emitting row writes no logits", name);
    t->destroy(t->ctx);
    rlvr_kv_cache_free(&kv);
    free(want);
    free(got);
}

#endif
