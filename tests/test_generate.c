/*
 * test_generate.c -- the generation loop (host/generate.c) on a tiny random
 * model: greedy decoding equals the argmax of the whole-sequence forward at
 * every step; samples are reproducible and each depends only on its own
 * stream (not on the batch); stop tokens, stop strings and the token budget
 * end sequences with the right finish reason; refusals.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "generate.h"
#include "tap.h"

static char err[512];

/* Byte pieces: token id < 256 is that byte, others decode to nothing. */
static const char *piece(void *ctx, int32_t id, size_t *len)
{
    static char bytes[256];
    (void)ctx;
    if (id < 256) {
        bytes[id] = (char)id;
        *len = 1;
        return &bytes[id];
    }
    *len = 0;
    return "";
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

int main(void)
{
    plan_no_plan();
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.max_position_embeddings = 64;
    struct rlvr_model m;
    ok(rlvr_model_create(&m, &c, err, sizeof err) == 0, "tiny model");
    rlvr_model_init_random(&m, 11, 0.3f);
    int V = c.vocab_size;
    const int32_t p0[] = {72, 101, 108, 108, 111}, p1[] = {10, 20, 30};
    const int32_t *prompts[2] = {p0, p1};
    int lens[2] = {5, 3};

    /* greedy = argmax of the forward, step by step */
    struct rlvr_sampling s;
    rlvr_sampling_default(&s);
    s.temperature = 0;
    s.max_tokens = 12;
    struct rlvr_gen_sequence out[8];
    struct rlvr_gen_stats st;
    ok(rlvr_generate(&m, &s, prompts, lens, 2, 1, 0, NULL, NULL, out, &st, err, sizeof err) == 0,
       "greedy generation of two prompts (%s)", err);
    ok(st.prompt_tokens == 8 && st.generated_tokens == 24, "stats: 8 prompt tokens, 24 generated");
    int same = 1;
    for (int p = 0; p < 2; p++) {
        int32_t seq[64];
        memcpy(seq, prompts[p], (size_t)lens[p] * sizeof(int32_t));
        int n = lens[p];
        float *logits = malloc((size_t)64 * V * sizeof(float));
        for (int t = 0; t < out[p].n_tokens; t++) {
            rlvr_model_forward(&m, seq, 1, n, logits, err, sizeof err);
            int want = argmax(logits + (size_t)(n - 1) * V, V);
            same &= out[p].tokens[t] == want;
            seq[n++] = want;
        }
        free(logits);
    }
    ok(same, "greedy tokens equal the argmax of the whole-sequence forward at every step");
    ok(out[0].finish == RLVR_FINISH_LENGTH && !strcmp(rlvr_finish_name(out[0].finish), "length"),
       "the budget ends with finish_reason length");
    int32_t third = out[0].tokens[2];
    rlvr_gen_sequences_free(out, 2);

    /* stop token: the greedy third token */
    s.stop_token_ids = &third;
    s.n_stop_token_ids = 1;
    rlvr_generate(&m, &s, prompts, lens, 1, 1, 0, NULL, NULL, out, NULL, err, sizeof err);
    int first_at = -1;
    for (int t = 0; t < out[0].n_tokens && first_at < 0; t++)
        if (out[0].tokens[t] == third)
            first_at = t;
    ok(out[0].finish == RLVR_FINISH_STOP_TOKEN && out[0].n_tokens == first_at + 1 &&
           !strcmp(rlvr_finish_name(out[0].finish), "stop"),
       "a stop token ends the sequence and is kept as its last token (%d tokens)", out[0].n_tokens);
    rlvr_gen_sequences_free(out, 1);
    s.stop_token_ids = NULL;
    s.n_stop_token_ids = 0;

    /* sampling: reproducible, and sample (p, g) depends on its stream only */
    s.temperature = 1.0;
    s.seed = 42;
    s.max_tokens = 10;
    struct rlvr_gen_sequence a[6], b[6], one[3];
    ok(rlvr_generate(&m, &s, prompts, lens, 2, 3, 0, NULL, NULL, a, NULL, err, sizeof err) == 0 &&
           rlvr_generate(&m, &s, prompts, lens, 2, 3, 0, NULL, NULL, b, NULL, err, sizeof err) == 0,
       "two sampled runs of 2 prompts x 3");
    int equal = 1, differ = 0;
    for (int i = 0; i < 6; i++)
        equal &= a[i].n_tokens == b[i].n_tokens &&
                 !memcmp(a[i].tokens, b[i].tokens, (size_t)a[i].n_tokens * sizeof(int32_t));
    for (int i = 1; i < 3; i++)
        differ |= memcmp(a[0].tokens, a[i].tokens, 10 * sizeof(int32_t)) != 0;
    ok(equal, "the same seed gives the same samples");
    ok(differ, "the samples of one prompt differ from each other");
    /* prompt 1 alone, with stream_base 3, draws what it drew as prompt 1 of
     * the batch */
    ok(rlvr_generate(&m, &s, prompts + 1, lens + 1, 1, 3, 3, NULL, NULL, one, NULL, err, sizeof err) == 0,
       "prompt 1 alone");
    equal = 1;
    for (int g = 0; g < 3; g++)
        equal &= !memcmp(one[g].tokens, a[3 + g].tokens, 10 * sizeof(int32_t));
    ok(equal, "a sample depends on its stream, not on the batch it ran in");
    int lp_ok = 1;
    for (int t = 0; t < 10; t++)
        lp_ok &= a[0].logprobs[t] <= 0 && isfinite(a[0].logprobs[t]);
    ok(lp_ok, "log-probabilities are finite and <= 0");
    rlvr_gen_sequences_free(a, 6);
    rlvr_gen_sequences_free(b, 6);
    rlvr_gen_sequences_free(one, 3);

    /* stop string: make the stop string the bytes of a greedy run's tokens
     * 3..4 (when both are bytes) */
    s.temperature = 0;
    s.max_tokens = 12;
    rlvr_generate(&m, &s, prompts, lens, 1, 1, 0, NULL, NULL, out, NULL, err, sizeof err);
    char text[64];
    size_t tl = 0;
    for (int t = 0; t < out[0].n_tokens; t++)
        if (out[0].tokens[t] < 256)
            text[tl++] = (char)out[0].tokens[t];
    rlvr_gen_sequences_free(out, 1);
    /* seed 11 is fixed, so the greedy run is too: it must give bytes */
    if (ok(tl >= 4, "the greedy run gives at least 4 byte tokens (%zu)", tl)) {
        char stop[3] = {text[2], text[3], 0};
        const char *stops[1] = {stop};
        s.stop_strings = stops;
        s.n_stop_strings = 1;
        ok(rlvr_generate(&m, &s, prompts, lens, 1, 1, 0, piece, NULL, out, NULL, err, sizeof err) == 0,
           "greedy run with a stop string");
        /* the first appearance of the stop string in the byte text */
        size_t want = 0;
        for (size_t i = 0; i + 1 < tl; i++)
            if (text[i] == stop[0] && text[i + 1] == stop[1]) {
                want = i;
                break;
            }
        ok(out[0].finish == RLVR_FINISH_STOP_STRING && out[0].text_cut == want,
           "a stop string ends the sequence and cuts the text at %zu bytes (got %zu)", want, out[0].text_cut);
        rlvr_gen_sequences_free(out, 1);
        ok(rlvr_generate(&m, &s, prompts, lens, 1, 1, 0, NULL, NULL, out, NULL, err, sizeof err) == -1 &&
               strstr(err, "stop strings"),
           "stop strings without pieces are refused: %s", err);
        s.stop_strings = NULL;
        s.n_stop_strings = 0;
    }

    /* refusals */
    s.max_tokens = 60;
    ok(rlvr_generate(&m, &s, prompts, lens, 1, 1, 0, NULL, NULL, out, NULL, err, sizeof err) == -1 &&
           strstr(err, "max_position_embeddings"),
       "prompt + max_tokens beyond the context is refused: %s", err);
    s.max_tokens = 4;
    int zero = 0;
    ok(rlvr_generate(&m, &s, prompts, &zero, 1, 1, 0, NULL, NULL, out, NULL, err, sizeof err) == -1 &&
           strstr(err, "empty"),
       "an empty prompt is refused: %s", err);
    s.top_p = 2;
    ok(rlvr_generate(&m, &s, prompts, lens, 1, 1, 0, NULL, NULL, out, NULL, err, sizeof err) == -1 &&
           strstr(err, "top_p"),
       "a bad sampling config is refused: %s", err);
    rlvr_model_free(&m);
    return done_testing();
}
