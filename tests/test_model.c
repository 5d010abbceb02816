/*
 * test_model.c -- the transformer (host/model.c) against torch and against
 * itself.
 *
 *   test_model                 everything, with tests/fixtures/model/cases.txt
 *                              (found through $srcdir) as the torch reference
 *   test_model --fixture FILE  only the torch comparison, against FILE (used
 *                              by test_model_torch.py with a fresh seed)
 *
 * The fixture's weights are not stored: both sides compute them from the
 * same counter hash (make_fixture.py states the formula). Torch computes in
 * float64, rlvr in float32; a value passes when
 *     |rlvr - torch| <= 2e-5 * max|torch over the tensor| + 2e-4 * |torch|,
 * which float32 rounding through two layers stays well inside (the largest
 * error seen is printed as a diagnostic).
 *
 * Self-consistency checks: the KV-cache step (prefill, decode, many slots)
 * gives the logits of the whole-sequence forward; right padding does not
 * change earlier logits; gradients accumulate; refusals name what is wrong.
 * Built twice: test_model links the library as configured (BLAS when found)
 * and test_model_noblas compiles model.c with RLVR_NO_BLAS, so the plain
 * loops are held to torch too.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "fixture_words.h"
#include "tap.h"

static char err[512];

static void fill_weights(struct rlvr_model *m, uint64_t seed)
{
    for (int t = 0; t < m->n_tensors; t++) {
        const struct rlvr_tensor *x = &m->tensors[t];
        int norm = strstr(x->name, "norm") != NULL;
        for (size_t j = 0; j < x->numel; j++)
            m->params[x->offset + j] = fixture_hash_value(seed, (uint64_t)t, j) * 0.25f + (norm ? 1.0f : 0.0f);
    }
}

/* ---- the fixture reader ---------------------------------------------------------- */

static char *cursor;
static char *word(void) { return fixture_word(&cursor); }
static double num(void) { return fixture_num(&cursor); }

static int expect(const char *want)
{
    char *w = word();
    if (!w || strcmp(w, want)) {
        diag("fixture: expected '%s', got '%s'", want, w ? w : "end of file");
        return 0;
    }
    return 1;
}

/* Compares n values with the stated tolerance; returns the worst error
 * relative to the tolerance (<= 1 passes). */
static double compare(const float *got, const double *want, size_t n, double *max_abs_err)
{
    double scale = 0, worst = 0;
    for (size_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(want[i]));
    *max_abs_err = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]);
        double tol = 2e-5 * scale + 2e-4 * fabs(want[i]) + 1e-30;
        if (!isfinite((double)got[i]))
            e = INFINITY;
        *max_abs_err = fmax(*max_abs_err, e);
        worst = fmax(worst, e / tol);
    }
    return worst;
}

static int run_case(void)
{
    char name[64];
    char *w = word();
    if (!w)
        return 0;
    if (strcmp(w, "case")) {
        ok(0, "fixture: expected 'case', got '%s'", w);
        return 0;
    }
    snprintf(name, sizeof name, "%s", word());
    struct rlvr_model_config c;
    memset(&c, 0, sizeof c);
    if (!expect("config"))
        return 0;
    c.vocab_size = (int)num();
    c.hidden_size = (int)num();
    c.intermediate_size = (int)num();
    c.num_hidden_layers = (int)num();
    c.num_attention_heads = (int)num();
    c.num_key_value_heads = (int)num();
    c.head_dim = (int)num();
    c.tie_word_embeddings = (int)num();
    c.attention_bias = (int)num();
    c.rope_theta = num();
    c.rms_norm_eps = num();
    c.max_position_embeddings = 64;
    c.bos_token_id = c.eos_token_id = -1;
    if (!expect("seed"))
        return 0;
    uint64_t seed = (uint64_t)num();
    if (!expect("shape"))
        return 0;
    int B = (int)num(), T = (int)num(), V = c.vocab_size;
    size_t N = (size_t)B * T;
    struct rlvr_model m;
    if (!ok(rlvr_model_create(&m, &c, err, sizeof err) == 0, "%s: model created", name)) {
        diag("%s", err);
        return 0;
    }
    fill_weights(&m, seed);
    int32_t *tokens = malloc(N * sizeof *tokens);
    float *logits = malloc(N * V * sizeof *logits);
    double *want = calloc(N * V > m.n_params ? N * V : m.n_params, sizeof *want);
    if (!tokens || !logits || !want) {
        ok(0, "%s: out of memory", name);
        exit(1);
    }
    if (!expect("tokens"))
        return 0;
    for (size_t i = 0; i < N; i++)
        tokens[i] = (int32_t)num();
    if (!expect("logits"))
        return 0;
    for (size_t i = 0; i < N * V; i++)
        want[i] = num();
    ok(rlvr_model_forward(&m, tokens, B, T, logits, err, sizeof err) == 0, "%s: forward runs", name);
    double mae, worst = compare(logits, want, N * V, &mae);
    ok(worst <= 1, "%s: logits [%d, %d, %d] match torch (max abs error %.3g, %.2f of the tolerance)",
       name, B, T, V, mae, worst);
    /* L = sum(logits * R): dlogits = R */
    for (size_t i = 0; i < N * V; i++)
        logits[i] = fixture_hash_value(seed, 999, i);
    rlvr_model_zero_grads(&m);
    ok(rlvr_model_backward(&m, logits, err, sizeof err) == 0, "%s: backward runs", name);
    int grads = 0, present = 0;
    for (int t = 0; t < m.n_tensors; t++)
        present += m.tensors[t].numel > 0;
    for (;;) {
        w = word();
        if (!w || !strcmp(w, "end"))
            break;
        if (strcmp(w, "grad")) {
            ok(0, "fixture: expected 'grad', got '%s'", w);
            break;
        }
        char tname[RLVR_TENSOR_NAME_MAX];
        snprintf(tname, sizeof tname, "%s", word());
        size_t n = (size_t)num();
        const struct rlvr_tensor *x = rlvr_model_tensor(&m, tname);
        if (!ok(x && x->numel == n, "%s: tensor %s exists with %zu values", name, tname, n))
            break;
        for (size_t i = 0; i < n; i++)
            want[i] = num();
        worst = compare(m.grads + x->offset, want, n, &mae);
        ok(worst <= 1, "%s: d%s matches torch (max abs error %.3g, %.2f of the tolerance)", name, tname,
           mae, worst);
        grads++;
    }
    ok(grads == present, "%s: every present tensor's gradient compared (%d of %d)", name, grads, present);
    free(tokens);
    free(logits);
    free(want);
    rlvr_model_free(&m);
    return 1;
}

static int run_fixture(const char *path)
{
    char *buf = fixture_slurp(path);
    if (!ok(buf != NULL, "fixture %s opens", path))
        return 0;
    cursor = buf;
    int cases = 0;
    while (run_case())
        cases++;
    ok(cases >= 2, "fixture %s: %d cases compared", path, cases);
    free(buf);
    return cases;
}

/* ---- self-consistency -------------------------------------------------------------- */

static double max_diff(const float *a, const float *b, size_t n)
{
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d = fmax(d, fabs((double)a[i] - b[i]));
    return d;
}

static void test_cache_matches_forward(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    struct rlvr_model m;
    ok(rlvr_model_create(&m, &c, err, sizeof err) == 0, "tiny model created (%zu parameters)", m.n_params);
    rlvr_model_init_random(&m, 7, 0.2f);
    /* init_random: matrices random, norms 1, biases 0; give the biases
     * values too so that they are exercised. */
    for (int t = 0; t < m.n_tensors; t++)
        if (strstr(m.tensors[t].name, "bias"))
            for (size_t j = 0; j < m.tensors[t].numel; j++)
                m.params[m.tensors[t].offset + j] = fixture_hash_value(3, (uint64_t)t, j) * 0.1f;
    enum { B = 3, T = 9 };
    int V = c.vocab_size;
    int32_t tokens[B * T];
    for (int i = 0; i < B * T; i++)
        tokens[i] = (int32_t)(fixture_mix((uint64_t)i) % (uint64_t)V);
    float *full = malloc((size_t)B * T * V * sizeof(float));
    float *step = malloc((size_t)B * T * V * sizeof(float));
    ok(rlvr_model_forward(&m, tokens, B, T, full, err, sizeof err) == 0, "forward of %d x %d", B, T);

    struct rlvr_kv_cache kv;
    ok(rlvr_kv_cache_create(&kv, &m, B, T, err, sizeof err) == 0, "kv cache created");
    /* Sequence 0: prefill its first 4 tokens in one call (all rows emit),
     * then decode the rest one token at a time. */
    int slot[T], pos[T];
    for (int t = 0; t < 4; t++)
        slot[t] = 0, pos[t] = t;
    ok(rlvr_model_step(&m, &kv, 4, tokens, slot, pos, NULL, step, err, sizeof err) == 0, "prefill of 4");
    for (int t = 4; t < T; t++) {
        int s0 = 0, p0 = t;
        rlvr_model_step(&m, &kv, 1, tokens + t, &s0, &p0, NULL, step + (size_t)t * V, err, sizeof err);
    }
    double d = max_diff(step, full, (size_t)T * V);
    ok(d < 1e-4, "prefill + decode = whole-sequence forward (max diff %.2g)", d);
    /* Sequences 1 and 2 together, one row per slot per step, with the
     * prefill emitting only its last row. */
    uint8_t emit[2 * T];
    int32_t rows_tok[2 * T];
    for (int t = 0; t < 3; t++)
        for (int b = 0; b < 2; b++) {
            int r = t * 2 + b;
            rows_tok[r] = tokens[(b + 1) * T + t];
            emit[r] = t == 2;
        }
    int sl[6], ps[6];
    for (int r = 0; r < 6; r++)
        sl[r] = 1 + r % 2, ps[r] = r / 2;
    float two[2 * 264];
    ok(rlvr_model_step(&m, &kv, 6, rows_tok, sl, ps, emit, two, err, sizeof err) == 0,
       "interleaved prefill of two slots");
    d = fmax(max_diff(two, full + ((size_t)1 * T + 2) * V, (size_t)V),
             max_diff(two + V, full + ((size_t)2 * T + 2) * V, (size_t)V));
    ok(d < 1e-4, "two slots prefilled together, last rows emitted (max diff %.2g)", d);
    for (int t = 3; t < T; t++) {
        int32_t tk[2] = {tokens[1 * T + t], tokens[2 * T + t]};
        int s2[2] = {1, 2}, p2[2] = {t, t};
        rlvr_model_step(&m, &kv, 2, tk, s2, p2, NULL, two, err, sizeof err);
    }
    d = fmax(max_diff(two, full + ((size_t)1 * T + T - 1) * V, (size_t)V),
             max_diff(two + V, full + ((size_t)2 * T + T - 1) * V, (size_t)V));
    ok(d < 1e-4, "batched decode of two slots (max diff %.2g)", d);
    /* Copy slot 0's first 5 positions to slot 2, then decode token 5 there. */
    rlvr_kv_cache_copy(&kv, 0, 2, 5);
    int s1 = 2, p1 = 5;
    rlvr_model_step(&m, &kv, 1, tokens + 5, &s1, &p1, NULL, two, err, sizeof err);
    d = max_diff(two, full + (size_t)5 * V, (size_t)V);
    ok(d < 1e-4, "a copied prefix decodes as the original (max diff %.2g)", d);
    /* Refusals. */
    int bad_pos = T;
    ok(rlvr_model_step(&m, &kv, 1, tokens, &s1, &bad_pos, NULL, two, err, sizeof err) == -1 &&
           strstr(err, "position"),
       "a position outside the cache is refused: %s", err);
    int32_t bad_tok = V;
    ok(rlvr_model_step(&m, &kv, 1, &bad_tok, &s1, &p1, NULL, two, err, sizeof err) == -1 &&
           strstr(err, "vocabulary"),
       "a token outside the vocabulary is refused: %s", err);
    ok(rlvr_model_forward(&m, &bad_tok, 1, 1, two, err, sizeof err) == -1 && strstr(err, "vocabulary"),
       "forward refuses it too");
    rlvr_kv_cache_free(&kv);

    /* Right padding leaves the earlier positions alone. */
    int32_t padded[T];
    memcpy(padded, tokens, sizeof padded);
    for (int t = 5; t < T; t++)
        padded[t] = 0;
    rlvr_model_forward(&m, padded, 1, T, step, err, sizeof err);
    d = max_diff(step, full, (size_t)5 * V);
    /* not bit-exact: BLAS may block a product of another shape differently */
    ok(d < 1e-5, "right padding does not change the logits before it (max diff %.2g)", d);

    /* Gradients accumulate: two backwards of the same loss give twice one. */
    for (size_t i = 0; i < (size_t)B * T * V; i++)
        step[i] = fixture_hash_value(5, 1, i);
    rlvr_model_forward(&m, tokens, B, T, full, err, sizeof err);
    rlvr_model_zero_grads(&m);
    ok(rlvr_model_backward(&m, step, err, sizeof err) == 0, "backward");
    float *once = malloc(m.n_params * sizeof(float));
    memcpy(once, m.grads, m.n_params * sizeof(float));
    rlvr_model_backward(&m, step, err, sizeof err);
    double worst = 0, gmax = 0;
    for (size_t i = 0; i < m.n_params; i++)
        gmax = fmax(gmax, fabs(once[i]));
    for (size_t i = 0; i < m.n_params; i++)
        worst = fmax(worst, fabs(m.grads[i] - 2 * once[i]) / (1e-6 * gmax + 1e-5 * fabs(once[i])));
    ok(worst <= 1, "a second backward adds the same gradient (%.2f of the tolerance)", worst);

    /* A finite-difference check of one weight through the whole model, in
     * float32 (coarse: it guards the sign and scale, torch guards the rest). */
    const struct rlvr_tensor *wq = rlvr_model_tensor(&m, "model.layers.0.self_attn.q_proj.weight");
    size_t idx = wq->offset + 17;
    double g = once[idx], h = 1e-2, lp, lm;
    float keep = m.params[idx];
    m.params[idx] = keep + (float)h;
    rlvr_model_forward(&m, tokens, B, T, full, err, sizeof err);
    lp = 0;
    for (size_t i = 0; i < (size_t)B * T * V; i++)
        lp += (double)full[i] * step[i];
    m.params[idx] = keep - (float)h;
    rlvr_model_forward(&m, tokens, B, T, full, err, sizeof err);
    lm = 0;
    for (size_t i = 0; i < (size_t)B * T * V; i++)
        lm += (double)full[i] * step[i];
    m.params[idx] = keep;
    double fd = (lp - lm) / (2 * h);
    ok(fabs(fd - g) <= 0.02 * fabs(g) + 1e-3, "finite difference of a q_proj weight: %.5g vs %.5g", fd, g);
    free(once);
    free(full);
    free(step);
    rlvr_model_free(&m);
}

static void test_config(void)
{
    struct rlvr_model_config c;
    rlvr_model_config_tiny(&c);
    c.num_key_value_heads = 3;
    ok(rlvr_model_config_check(&c, err, sizeof err) == -1 && strstr(err, "num_key_value_heads"),
       "heads not a multiple of kv heads refused: %s", err);
    rlvr_model_config_tiny(&c);
    c.head_dim = 0;
    c.hidden_size = 66;
    ok(rlvr_model_config_check(&c, err, sizeof err) == -1 && strstr(err, "hidden_size"),
       "hidden_size not divisible and no head_dim: %s", err);
    rlvr_model_config_tiny(&c);
    c.head_dim = 0;
    ok(rlvr_model_config_check(&c, err, sizeof err) == 0 && c.head_dim == 16, "head_dim derived (16)");
    c.rope_theta = NAN;
    ok(rlvr_model_config_check(&c, err, sizeof err) == -1 && strstr(err, "rope_theta"), "NaN rope_theta refused");
    rlvr_model_config_tiny(&c);
    c.eos_token_id = c.vocab_size;
    ok(rlvr_model_config_check(&c, err, sizeof err) == -1 && strstr(err, "eos_token_id"),
       "eos outside the vocabulary refused");
    rlvr_model_config_qwen2_0_5b(&c);
    struct rlvr_model m;
    ok(rlvr_model_config_check(&c, err, sizeof err) == 0, "Qwen2.5-0.5B's shape checks");
    /* Count its parameters without allocating: 494,032,768 with tied
     * embeddings, as Hugging Face reports for Qwen2.5-0.5B. */
    size_t V = 151936, D = 896, F = 4864, QD = 896, KD = 128, L = 24;
    size_t n = V * D + L * (D + QD * D + QD + 2 * (KD * D + KD) + D * QD + D + 3 * F * D) + D;
    ok(n == 494032768u, "Qwen2.5-0.5B's parameter count from the table formula: %zu", n);
    rlvr_model_config_tiny(&c);
    ok(rlvr_model_create(&m, &c, err, sizeof err) == 0 && rlvr_model_tensor(&m, "lm_head.weight") == NULL &&
           rlvr_model_tensor(&m, "model.layers.1.mlp.down_proj.weight") != NULL,
       "tied: no lm_head tensor; layer tensors named as in HF");
    rlvr_model_free(&m);
    c.tie_word_embeddings = 0;
    c.attention_bias = 0;
    ok(rlvr_model_create(&m, &c, err, sizeof err) == 0 && rlvr_model_tensor(&m, "lm_head.weight") != NULL &&
           rlvr_model_tensor(&m, "model.layers.0.self_attn.q_proj.bias") == NULL,
       "untied, no bias: lm_head present, q_proj.bias absent");
    ok(rlvr_model_backward(&m, NULL, err, sizeof err) == -1 && strstr(err, "forward"),
       "backward before any forward refused: %s", err);
    rlvr_model_free(&m);
}

int main(int argc, char **argv)
{
    plan_no_plan();
    if (argc == 3 && !strcmp(argv[1], "--fixture")) {
        run_fixture(argv[2]);
        return done_testing();
    }
    test_config();
    test_cache_matches_forward();
    const char *srcdir = getenv("srcdir");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/model/cases.txt", srcdir ? srcdir : ".");
    run_fixture(path);
    return done_testing();
}
