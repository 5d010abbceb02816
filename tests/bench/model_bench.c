/*
 * model_bench.c -- `make bench`: the policy on the CPU. Training tokens/s
 * (forward, cross-entropy through rlvr_logprobs, backward, AdamW step),
 * generation tokens/s (prefill and batched decode with the KV cache) and
 * peak memory, for a named shape with random weights.
 *
 *   model_bench train    tiny|qwen0.5b B T STEPS
 *   model_bench generate tiny|qwen0.5b PROMPT_TOKENS SAMPLES NEW_TOKENS
 *
 * One line of results per run; the first step of training is a warm-up and
 * is not timed. Peak memory is the process's maximum resident set (so one
 * mode per process). bench/model.sh runs it beside bench/model_torch.py,
 * which does the same with torch.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "generate.h"
#include "grpo.h"
#include "model.h"
#include "optim.h"

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

static int die(const char *what, const char *err)
{
    fprintf(stderr, "model_bench: %s: %s\n", what, err);
    return 1;
}

int main(int argc, char **argv)
{
    char err[512];
    if (argc != 6) {
        fprintf(stderr, "usage: model_bench train|generate tiny|qwen0.5b A B C\n");
        return 2;
    }
    struct rlvr_model_config c;
    if (!strcmp(argv[2], "tiny"))
        rlvr_model_config_tiny(&c);
    else
        rlvr_model_config_qwen2_0_5b(&c);
    int a = atoi(argv[3]), b = atoi(argv[4]), k = atoi(argv[5]);
    struct rlvr_model m;
    if (rlvr_model_create(&m, &c, err, sizeof err))
        return die("model", err);
    rlvr_model_init_random(&m, 1, 0.02f);
    int V = c.vocab_size;
    if (!strcmp(argv[1], "train")) {
        int B = a, T = b, steps = k, N = B * T;
        struct rlvr_optim_config oc;
        rlvr_optim_config_default(&oc);
        oc.schedule = RLVR_LR_CONSTANT;
        oc.lr = 1e-5;
        struct rlvr_adamw opt;
        if (rlvr_model_enable_grads(&m, err, sizeof err) ||
            rlvr_adamw_create(&opt, m.n_params, &oc, err, sizeof err))
            return die("optimizer", err);
        int32_t *tok = malloc((size_t)N * sizeof *tok), *target = malloc((size_t)N * sizeof *target);
        float *logits = malloc((size_t)N * V * sizeof(float));
        float *logp = malloc((size_t)N * sizeof(float)), *lse = malloc((size_t)N * sizeof(float));
        float *dlogp = malloc((size_t)N * sizeof(float));
        if (!tok || !target || !logits || !logp || !lse || !dlogp)
            return die("buffers", "out of memory");
        uint64_t s = 7;
        for (int i = 0; i < N; i++) {
            s = s * 6364136223846793005ull + 1442695040888963407ull;
            tok[i] = (int32_t)((s >> 33) % (uint64_t)V);
        }
        for (int i = 0; i < N; i++)
            target[i] = tok[(i + 1) % N];
        double t0 = 0, loss = 0;
        for (int step = 0; step <= steps; step++) {
            if (step == 1)
                t0 = now();
            rlvr_model_zero_grads(&m);
            if (rlvr_model_forward(&m, tok, B, T, logits, err, sizeof err) ||
                rlvr_logprobs(logits, target, NULL, (size_t)N, (size_t)V, 1.0f, logp, lse, NULL, err,
                              sizeof err))
                return die("forward", err);
            loss = 0;
            for (int i = 0; i < N; i++) {
                loss -= logp[i] / N;
                dlogp[i] = -1.0f / (float)N;
            }
            if (rlvr_logprobs_backward(logits, target, NULL, lse, dlogp, (size_t)N, (size_t)V, 1.0f, logits,
                                       err, sizeof err) ||
                rlvr_model_backward(&m, logits, err, sizeof err) ||
                rlvr_adamw_step(&opt, &m, NULL, err, sizeof err))
                return die("backward", err);
        }
        double dt = now() - t0;
        printf("rlvr  train    %-9s B=%d T=%d: %9.1f tokens/s  %8.1f ms/step  peak %7.0f MB  (loss %.4f)\n",
               argv[2], B, T, (double)N * steps / dt, dt / steps * 1e3, peak_mb(), loss);
        rlvr_adamw_free(&opt);
        return 0;
    }
    int P = a, G = b, M = k;
    int32_t *prompt = malloc((size_t)P * sizeof *prompt);
    for (int i = 0; i < P; i++)
        prompt[i] = (int32_t)((i * 7919 + 13) % V);
    struct rlvr_sampling sp;
    rlvr_sampling_default(&sp);
    sp.temperature = 1.0;
    sp.max_tokens = M;
    sp.seed = 1;
    const int32_t *prompts[1] = {prompt};
    int lens[1] = {P};
    struct rlvr_gen_sequence *out = calloc((size_t)G, sizeof *out);
    struct rlvr_gen_stats st;
    if (rlvr_generate(&m, &sp, prompts, lens, 1, G, 0, NULL, NULL, out, &st, err, sizeof err))
        return die("generate", err);
    printf("rlvr  generate %-9s prompt %d, %d x %d new: prefill %9.1f tokens/s, decode %9.1f tokens/s  "
           "peak %7.0f MB\n",
           argv[2], P, G, M, st.prompt_tokens / st.prefill_seconds,
           (st.generated_tokens - G) / st.decode_seconds, peak_mb());
    rlvr_gen_sequences_free(out, G);
    free(out);
    rlvr_model_free(&m);
    return 0;
}
