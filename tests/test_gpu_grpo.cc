/*
 * test_gpu_grpo.cc -- the GRPO kernels on a GPU (gpu/logprob.cu,
 * gpu/grpo_loss.cu) held to the CPU reference (host/logprob.c,
 * host/grpo_loss.c): log-probabilities, entropy and lse over vocabularies
 * around the block's edges up to 151,936 (one row, odd sizes, skipped rows
 * full of garbage, -Inf blocks, logits near 1e4, several temperatures);
 * their gradient with and without lse and in place; the loss matrix of
 * gpu_grpo_cases.h (every loss type x importance level x KL estimator x
 * temperature x variant: masked rows, a fully masked sequence, truncated
 * sequences, delta, dual clip, no old / ref, accumulation) for the metrics,
 * dL/dlogp, entropy and dlogits; bfloat16 logits; the device-pointer entry
 * point against the host wrapper bit for bit; run-to-run determinism; the
 * refusals, word for word where the CPU has the same one; no device memory
 * left behind. Without a device (or CUDA) it prints a TAP skip and exits 77.
 *
 * Tolerances are those of test_gpu_grpo_math.cc (stated and argued there;
 * the kernels do the same arithmetic in the same order, with the device's
 * expf/logf, within 2 ulp of the host's, and nvcc's FMA contraction, both
 * far below them). bfloat16: the CPU runs on the same bf16-rounded logits;
 * the gradient, stored in bf16, may differ by a bf16 rounding step (2^-8 of
 * its magnitude, at most the sequence's scale / T) more.
 */
extern "C" {
#include "gpu.h"
}

#include "gpu_grpo_cases.h"

static char err[512];


/* ---- log-probabilities ---------------------------------------------------------------------- */

static void logprob_case(size_t n, uint32_t V, float T, enum fill f, bool with_rows, bool bf16)
{
    std::vector<float> x(n * V);
    std::vector<int32_t> tok(n);
    std::vector<uint8_t> rows(n, 1);
    for (size_t r = 0; r < n; r++) {
        make_row(&x[r * V], V, f);
        tok[r] = f == NINF_CHUNK ? (int32_t)(V - 1) : (int32_t)(uniform() * V);
        if (with_rows && r % 3 == 1) { /* a skipped row: garbage that must not be read */
            rows[r] = 0;
            tok[r] = -3;
            x[r * V] = NAN;
        }
    }
    std::vector<uint16_t> xb;
    if (bf16) {
        xb.resize(n * V);
        for (size_t i = 0; i < n * V; i++) xb[i] = to_bf16(x[i]), x[i] = from_bf16(xb[i]);
    }
    const void *logits = bf16 ? (const void *)xb.data() : (const void *)x.data();
    const int dt = bf16 ? RLVR_GPU_BF16 : RLVR_GPU_F32;
    const uint8_t *rw = with_rows ? rows.data() : NULL;
    std::vector<float> lp(n), lse(n), ent(n), lp_c(n), lse_c(n), ent_c(n);
    int rc = rlvr_gpu_logprobs(logits, dt, tok.data(), rw, n, V, T, lp.data(), lse.data(), ent.data(), err, sizeof err);
    int rc_c = rlvr_logprobs(x.data(), tok.data(), rw, n, V, T, lp_c.data(), lse_c.data(), ent_c.data(), NULL, 0);
    size_t bad = 0;
    for (size_t r = 0; rc == 0 && r < n; r++) {
        double t = 2e-5 * fmax(1, fabs(lse_c[r]));
        if (f == OFFSET_1E4) t = 4 * ulp_of(lse_c[r]) + 1e-5;
        double te = f == OFFSET_1E4 ? t : 2e-5 * fmax(1, fabs(ent_c[r]));
        bad += !(fabs(lp[r] - lp_c[r]) <= t && fabs(lse[r] - lse_c[r]) <= t && fabs(ent[r] - ent_c[r]) <= te);
    }
    ok(rc == 0 && rc_c == 0 && bad == 0, "logprobs n %zu V %u T %g %s%s%s: = CPU (%s)", n, V, (double)T, fill_name[f],
       with_rows ? ", skipped rows" : "", bf16 ? ", bf16" : "", rc ? err : "");

    /* Backward: with lse, without, in place; some rows with dlogp 0. */
    std::vector<float> g(n);
    for (size_t r = 0; r < n; r++) g[r] = r % 4 == 2 ? 0.0f : (float)(normal() * 0.5);
    std::vector<float> d_c(n * V);
    rlvr_logprobs_backward(x.data(), tok.data(), rw, lse_c.data(), g.data(), n, V, T, d_c.data(), NULL, 0);
    for (int mode = 0; mode < 3; mode++) {
        std::vector<float> d(n * V, 7.0f);
        std::vector<uint16_t> db(bf16 ? n * V : 0, 0x40e0);
        void *out = bf16 ? (void *)db.data() : (void *)d.data();
        const void *in = logits;
        if (mode == 2) { /* in place over a copy of the logits */
            if (bf16) db = xb, in = db.data();
            else d = x, in = d.data();
        }
        rc = rlvr_gpu_logprobs_backward(in, dt, tok.data(), rw, mode == 1 ? NULL : lse.data(), g.data(), n, V, T, out,
                                        err, sizeof err);
        size_t off = 0;
        double worst = 0;
        for (size_t r = 0; rc == 0 && r < n; r++) {
            const double c = fabs(g[r]) / T;
            double tl = f == OFFSET_1E4 ? 4 * ulp_of(lse_c[r]) + 1e-5 : 2e-5 * fmax(1, fabs(lse_c[r]));
            for (size_t v = 0; v < V; v++) {
                double got = bf16 ? from_bf16(db[r * V + v]) : d[r * V + v];
                double e = fabs(got - d_c[r * V + v]);
                double tol = c * (tl + 1e-6) + (bf16 ? fabs(d_c[r * V + v]) * 0x1p-8 : 0.0);
                worst = fmax(worst, e);
                off += !(e <= tol);
            }
        }
        static const char *const mode_name[] = {"with lse", "lse recomputed", "in place"};
        if (!ok(rc == 0 && off == 0, "  backward %s: = CPU (%s)", mode_name[mode], rc ? err : ""))
            diag("  %zu entries off, worst %.3g", off, worst);
    }
}

static void same_logprob_refusal(const char *name, const float *x, const int32_t *tok, size_t n, uint32_t V, float T)
{
    char e_cpu[256] = "", e_gpu[256] = "";
    float lp[4] = {5, 5, 5, 5}, lp_c[4];
    int rc_c = rlvr_logprobs(x, tok, NULL, n, V, T, lp_c, NULL, NULL, e_cpu, sizeof e_cpu);
    int rc = rlvr_gpu_logprobs(x, RLVR_GPU_F32, tok, NULL, n, V, T, lp, NULL, NULL, e_gpu, sizeof e_gpu);
    ok(rc == -1 && rc_c == -1 && !strcmp(e_cpu, e_gpu) && lp[0] == 5, "logprobs refusal, %s: '%s'", name, e_gpu);
}

static void test_logprobs(void)
{
    const uint32_t vocabs[] = {1, 2, 31, 511, 512, 513, 2049, 4099, 151936};
    const float temps[] = {1.0f, 0.7f, 1.6f};
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        uint32_t V = vocabs[i];
        size_t n = V > 100000 ? 6 : 1 + (i * 7) % 37;
        logprob_case(n, V, temps[i % 3], NORMAL3, i % 2 == 0, false);
        if (V >= 4) logprob_case(n, V, temps[(i + 1) % 3], NINF_CHUNK, true, false);
        logprob_case(n, V, 1.0f, PEAKED, false, true);
    }
    logprob_case(5, 3 * 4096 + 123, 1.0f, OFFSET_1E4, false, false);
    logprob_case(7, 5000, 1.3f, WIDE, true, true);
    logprob_case(1, 151936, 1.0f, NORMAL3, false, false); /* a single row */

    const uint32_t V = 3000;
    std::vector<float> x(2 * V);
    make_row(x.data(), V, NORMAL3);
    make_row(&x[V], V, NORMAL3);
    int32_t tok[2] = {3, 5};
    int32_t bad_tok[2] = {3, (int32_t)V};
    same_logprob_refusal("token out of range", x.data(), bad_tok, 2, V, 1.0f);
    x[V + 2999] = NAN;
    same_logprob_refusal("NaN in row 1", x.data(), tok, 2, V, 1.0f);
    x[V + 2999] = INFINITY;
    same_logprob_refusal("+Inf", x.data(), tok, 2, V, 1.0f);
    x[V + 2999] = 0.0f;
    x[V + 5] = -INFINITY;
    same_logprob_refusal("taken logit -Inf", x.data(), tok, 2, V, 1.0f);
    for (uint32_t v = 0; v < V; v++) x[v] = -INFINITY;
    same_logprob_refusal("all -Inf", x.data(), tok, 2, V, 1.0f);
    same_logprob_refusal("temperature 0", x.data(), tok, 2, V, 0.0f);
}

/* ---- the loss -------------------------------------------------------------------------------- */

static rlvr_gpu_grpo_batch gpu_batch(const LossCase &lc, const void *logits, int dtype)
{
    rlvr_gpu_grpo_batch in;
    memset(&in, 0, sizeof in);
    const Case &k = lc.k;
    in.n_seq = k.B, in.seq_len = k.T, in.vocab = k.V, in.dtype = dtype, in.temperature = k.temperature;
    in.logits = logits;
    in.tokens = k.tok.data();
    in.old_logp = lc.old ? k.old.data() : NULL;
    in.ref_logp = lc.ref ? k.ref.data() : NULL;
    in.advantages = k.adv.data();
    in.mask = lc.mask ? k.mask.data() : NULL;
    in.truncated = lc.trunc ? k.trunc.data() : NULL;
    in.dapo_tokens = lc.dapo;
    return in;
}

static void test_loss_matrix(void)
{
    LossStats st;
    int n = 0;
    loss_matrix([&](const LossCase &lc) {
        const Case &k = lc.k;
        const size_t R = k.B * k.T;
        std::vector<float> d(R * k.V, 7.0f), g(R, 7.0f), ent(R, 7.0f), lp(R, 7.0f);
        rlvr_gpu_grpo_batch in = gpu_batch(lc, k.logits.data(), RLVR_GPU_F32);
        in.dlogp = g.data(), in.entropy = ent.data(), in.logp = lp.data();
        rlvr_gpu_grpo_metrics m;
        int rc = rlvr_gpu_grpo_loss(&lc.c, &in, d.data(), &m, err, sizeof err);
        compare_loss(lc, rc, err, g.data(), d.data(), ent.data(), m, st);
        if (n++ % 17) return;
        /* Now and then: forward only gives the same metrics and dL/dlogp;
         * a second run is bit-identical (the metrics' order is fixed). */
        std::vector<float> g2(R);
        rlvr_gpu_grpo_metrics m2;
        in.dlogp = g2.data(), in.entropy = ent.data();
        int rc2 = rlvr_gpu_grpo_loss(&lc.c, &in, NULL, &m2, err, sizeof err);
        ok(rc2 == 0 && !memcmp(&m, &m2, sizeof m) && g == g2, "  %s: forward only = with gradient, bit for bit",
           lc.name);
    });
    st.report();
}

/* bfloat16 logits, and the device-pointer entry point against the host
 * wrapper, on a few cases of a wider batch. */
static void test_loss_bf16_and_dev(void)
{
    LossStats st;
    int n = 0;
    loss_matrix([&](const LossCase &lc0) {
        if (n++ % 23) return;
        LossCase lc = lc0;
        Case &k = lc.k;
        const size_t R = k.B * k.T;
        std::vector<uint16_t> xb(R * k.V);
        for (size_t i = 0; i < R * k.V; i++) xb[i] = to_bf16(k.logits[i]), k.logits[i] = from_bf16(xb[i]);
        snprintf(lc.name + strlen(lc.name), sizeof lc.name - strlen(lc.name), ", bf16");
        std::vector<uint16_t> db(R * k.V);
        std::vector<float> d(R * k.V), g(R);
        rlvr_gpu_grpo_batch in = gpu_batch(lc, xb.data(), RLVR_GPU_BF16);
        in.dlogp = g.data();
        rlvr_gpu_grpo_metrics m;
        int rc = rlvr_gpu_grpo_loss(&lc.c, &in, db.data(), &m, err, sizeof err);
        for (size_t i = 0; i < R * k.V; i++) d[i] = from_bf16(db[i]);
        compare_loss(lc, rc, err, g.data(), d.data(), NULL, m, st, 0x1p-8);

        /* The same case through device memory. */
        void *d_x = NULL, *d_tok = NULL, *d_old = NULL, *d_ref = NULL, *d_adv = NULL, *d_mask = NULL, *d_tr = NULL;
        void *d_g = NULL;
        int up = rlvr_gpu_grpo_alloc(&d_x, xb.size() * 2, err, sizeof err) ||
                 rlvr_gpu_grpo_alloc(&d_tok, R * 4, err, sizeof err) || rlvr_gpu_grpo_alloc(&d_old, R * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_alloc(&d_ref, R * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_alloc(&d_adv, k.B * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_alloc(&d_mask, R, err, sizeof err) || rlvr_gpu_grpo_alloc(&d_tr, k.B, err, sizeof err) ||
                 rlvr_gpu_grpo_alloc(&d_g, R * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_x, xb.data(), xb.size() * 2, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_tok, k.tok.data(), R * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_old, k.old.data(), R * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_ref, k.ref.data(), R * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_adv, k.adv.data(), k.B * 4, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_mask, k.mask.data(), R, err, sizeof err) ||
                 rlvr_gpu_grpo_upload(d_tr, k.trunc.data(), k.B, err, sizeof err);
        rlvr_gpu_grpo_batch dv = in;
        dv.logits = d_x, dv.tokens = (const int32_t *)d_tok, dv.advantages = (const float *)d_adv;
        dv.old_logp = lc.old ? (const float *)d_old : NULL;
        dv.ref_logp = lc.ref ? (const float *)d_ref : NULL;
        dv.mask = lc.mask ? (const uint8_t *)d_mask : NULL;
        dv.truncated = lc.trunc ? (const uint8_t *)d_tr : NULL;
        dv.dlogp = (float *)d_g;
        rlvr_gpu_grpo_metrics md;
        std::vector<uint16_t> db2(R * k.V);
        std::vector<float> g2(R);
        int rc2 = up || rlvr_gpu_grpo_loss_dev(&lc.c, &dv, d_x, &md, err, sizeof err) ||
                  rlvr_gpu_grpo_download(db2.data(), d_x, db2.size() * 2, err, sizeof err) ||
                  rlvr_gpu_grpo_download(g2.data(), d_g, R * 4, err, sizeof err);
        ok(rc2 == 0 && !memcmp(&md, &m, sizeof m) && db2 == db && g2 == g,
           "  %s: device pointers, gradient in place = host wrapper, bit for bit (%s)", lc.name, rc2 ? err : "");
        void *all[] = {d_x, d_tok, d_old, d_ref, d_adv, d_mask, d_tr, d_g};
        for (void *p : all) rlvr_gpu_grpo_free(p);
    });
    st.report();
}

/* A Qwen-sized vocabulary on a few sequences, token- and sequence-level. */
static void test_loss_wide_vocab(void)
{
    LossStats st;
    for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++) {
        LossCase lc;
        rlvr_grpo_config_default(&lc.c);
        lc.c.importance_level = is;
        lc.c.beta = 0.04f;
        make_case(lc.k, lc.c, 4, 9, 151936, 0.9f);
        lc.old = lc.ref = lc.mask = lc.trunc = true;
        lc.dapo = 0;
        snprintf(lc.name, sizeof lc.name, "V 151936, 4 x 9, %s-level", is ? "sequence" : "token");
        const size_t R = 36;
        std::vector<float> d(R * 151936), g(R), ent(R);
        rlvr_gpu_grpo_batch in = gpu_batch(lc, lc.k.logits.data(), RLVR_GPU_F32);
        in.dlogp = g.data(), in.entropy = ent.data();
        rlvr_gpu_grpo_metrics m;
        int rc = rlvr_gpu_grpo_loss(&lc.c, &in, d.data(), &m, err, sizeof err);
        compare_loss(lc, rc, err, g.data(), d.data(), ent.data(), m, st);
    }
}

/* A refusal: the GPU's message must equal the CPU's (want NULL) or contain want. */
static void loss_refusal(const char *name, const rlvr_grpo_config &c, const LossCase &lc, const char *want)
{
    char e_cpu[256] = "", e_gpu[256] = "";
    std::vector<float> d_cpu, g_cpu;
    rlvr_grpo_metrics mc;
    int rc_c = cpu_loss(c, lc.k, lc.old, lc.ref, lc.mask, lc.trunc, lc.dapo, d_cpu, g_cpu, mc, e_cpu, sizeof e_cpu);
    rlvr_gpu_grpo_batch in = gpu_batch(lc, lc.k.logits.data(), RLVR_GPU_F32);
    const size_t R = lc.k.B * lc.k.T;
    std::vector<float> d(R * lc.k.V, 7.0f);
    rlvr_gpu_grpo_metrics m;
    m.loss = 7.0;
    int rc = rlvr_gpu_grpo_loss(&c, &in, d.data(), &m, e_gpu, sizeof e_gpu);
    int same = want ? strstr(e_gpu, want) != NULL && rc_c == -1 : !strcmp(e_cpu, e_gpu);
    if (!ok(rc == -1 && same && d[0] == 7.0f && m.loss == 7.0, "loss refusal, %s: '%s'", name, e_gpu))
        diag("  cpu: '%s'", e_cpu);
}

static void test_loss_refusals(void)
{
    LossCase lc;
    rlvr_grpo_config_default(&lc.c);
    make_case(lc.k, lc.c, 4, 6, 700, 1.0f);
    lc.old = lc.ref = lc.mask = true;
    lc.trunc = false;
    lc.dapo = 0;
    Case &k = lc.k;
    size_t r0 = 0; /* the first active position of sequence 0 */
    rlvr_grpo_config c = lc.c;
    c.epsilon_low = 1.5f;
    loss_refusal("epsilon_low 1.5", c, lc, NULL);
    c = lc.c, c.loss_type = 9;
    loss_refusal("unknown loss_type", c, lc, NULL);
    c = lc.c, c.dual_clip = 0.5f;
    loss_refusal("dual_clip 0.5", c, lc, NULL);
    LossCase noref = lc;
    noref.ref = false;
    loss_refusal("beta > 0 without ref_logp", lc.c, noref, NULL);

    LossCase e = lc;
    e.k.old[r0] = NAN;
    loss_refusal("NaN old_logp at an active position", lc.c, e, NULL);
    e = lc;
    e.k.ref[r0] = INFINITY;
    loss_refusal("+Inf ref_logp", lc.c, e, NULL);
    e = lc;
    e.k.adv[0] = NAN;
    loss_refusal("NaN advantage", lc.c, e, NULL);
    e = lc;
    e.k.tok[r0] = (int32_t)k.V;
    loss_refusal("token out of range", lc.c, e, "grpo: row 0 (sequence 0, position 0): token 700 is outside 0..699");
    e = lc;
    e.k.logits[r0 * k.V + 9] = NAN;
    loss_refusal("NaN logit", lc.c, e, "grpo: row 0 (sequence 0, position 0): logits hold NaN");
    c = lc.c, c.loss_type = RLVR_LOSS_DAPO, c.grad_accum_steps = 2;
    loss_refusal("dapo with accumulation and no dapo_tokens", c, lc, NULL);
    e = lc;
    e.dapo = 1.0;
    c = lc.c, c.loss_type = RLVR_LOSS_DAPO;
    loss_refusal("dapo_tokens below the active tokens", c, e, NULL);

    /* Garbage at masked positions is never read (make_case puts NaN logits,
     * token -7 and NaN old / ref there). */
    const size_t R = k.B * k.T;
    std::vector<float> d(R * k.V);
    rlvr_gpu_grpo_batch in = gpu_batch(lc, k.logits.data(), RLVR_GPU_F32);
    rlvr_gpu_grpo_metrics m;
    size_t zero_rows = 0, masked = 0;
    int rc = rlvr_gpu_grpo_loss(&lc.c, &in, d.data(), &m, err, sizeof err);
    for (size_t r = 0; r < R; r++)
        if (!k.mask[r]) {
            masked++;
            size_t nz = 0;
            for (size_t v = 0; v < k.V; v++) nz += d[r * k.V + v] != 0.0f;
            zero_rows += nz == 0;
        }
    ok(rc == 0 && masked > 0 && zero_rows == masked, "masked positions: garbage unread, zero gradient rows (%s)", err);

    rlvr_gpu_grpo_batch empty;
    memset(&empty, 0, sizeof empty);
    empty.temperature = 1.0f;
    m.loss = 7.0;
    ok(rlvr_gpu_grpo_loss(&lc.c, &empty, NULL, &m, err, sizeof err) == 0 && m.loss == 0.0 && m.active_tokens == 0.0,
       "an empty batch: loss 0 (%s)", err);
}

int main(void)
{
    char desc[512];
    rlvr_gpu_describe(desc, sizeof desc);
    if (rlvr_gpu_available() <= 0) {
        diag("%s", desc);
        skip_all("no CUDA device");
    }
    plan_no_plan();
    diag("%s", desc);
    size_t before = 0, after = 0;
    rlvr_gpu_grpo_memory(&before, NULL);
    test_logprobs();
    test_loss_matrix();
    test_loss_bf16_and_dev();
    test_loss_wide_vocab();
    test_loss_refusals();
    rlvr_gpu_grpo_memory(&after, NULL);
    ok(after == before, "no device memory left behind (%zu bytes before, %zu after)", before, after);
    return done_testing();
}
