/*
 * test_gpu_grpo_linear.cc -- the GRPO loss fused with the LM head on a GPU
 * (gpu/grpo_linear.cu: rlvr_gpu_grpo_linear_loss_dev, rlvr_gpu_grpo_linear_plan)
 * held to two references:
 *  - the unfused path on the device: the logits h W^T formed on the host
 *    (fp32, from the same operand values) and uploaded, rlvr_gpu_grpo_loss_dev
 *    on them, its dlogits downloaded and multiplied into dh and dW in
 *    double. The test does not call cuBLAS itself (gpu/ opens cuBLAS for
 *    its own use; the test links only librlvr_gpu): the fused call's
 *    products are what is under test;
 *  - the CPU reference of gpu_grpo_linear_cases.h (host/logprob.c,
 *    host/grpo_loss.c, double products), as in test_gpu_grpo_linear_host.
 * Cases: every loss type x both importance levels x the variants, fp32 and
 * bf16 operands, chunks of 1, 5 and 7 rows (cutting through 33-position
 * sequences), all rows, more rows than there are, and the default; dW added
 * onto a non-zero dW; the workspace's bytes, measured as the rise of
 * rlvr_gpu_grpo_memory's high-water mark during the call, equal to what
 * rlvr_gpu_grpo_linear_plan says; run-to-run determinism (bit for bit);
 * Qwen2.5-0.5B's head (V 151,936, D 896) on a few rows; the refusals, word
 * for word as rlvr_gpu_grpo_loss_dev's (a token out of range, a non-finite
 * old_logp, NaN hidden states against NaN logits, dapo_tokens) and the
 * shape refusals; no device memory left behind. Without a device (or CUDA)
 * it prints a TAP skip and exits 77.
 *
 * Tolerances: against the CPU, those of test_gpu_grpo_linear_host (argued
 * there), whose margins also cover the device's other summation orders
 * (cuBLAS's products, the kernels' 512-way merges: a few float steps).
 * Against the unfused device path: metrics 5e-5 * max(1, |x|), dL/dlogp
 * and the dlogits bound 5e-5 of the sequence's scale, logp and entropy
 * 5e-5 * max(1, |x|): the same kernels, and only the logits' rounding
 * differs (the host's order of the D products against cuBLAS's: a few
 * float steps of a logit, up to ~1e-5 in a log-probability near -10,
 * which moves dL/dlogp by w |A| r times as much); dh and dW through the
 * same products' bounds as against the CPU, in bf16 plus the bf16 rounding
 * of the fused path's dlogits operand.
 */
extern "C" {
#include "gpu.h"
}

#include "gpu_grpo_linear_cases.h"

static char err[512];

/* Device arrays freed together. */
struct Dev {
    std::vector<void *> ptrs;
    bool failed = false;
    void *alloc(size_t bytes)
    {
        void *p = NULL;
        if (rlvr_gpu_grpo_alloc(&p, bytes ? bytes : 1, err, sizeof err)) failed = true, diag("alloc: %s", err);
        ptrs.push_back(p);
        return p;
    }
    void *up(const void *src, size_t bytes)
    {
        void *p = alloc(bytes);
        if (p && bytes && rlvr_gpu_grpo_upload(p, src, bytes, err, sizeof err)) failed = true, diag("upload: %s", err);
        return p;
    }
    void down(void *dst, const void *d, size_t bytes)
    {
        if (bytes && rlvr_gpu_grpo_download(dst, d, bytes, err, sizeof err)) failed = true, diag("download: %s", err);
    }
    ~Dev()
    {
        for (void *p : ptrs) rlvr_gpu_grpo_free(p);
    }
};

struct Out {
    std::vector<float> logp, ent, dlogp, dh, dW;
    rlvr_gpu_grpo_metrics m;
    int rc;
    char err[512];
    size_t chunk, plan_bytes, peak_rise;
};

/* The batch's device arrays (old / ref / mask / truncated as lc says). */
struct DevBatch {
    rlvr_gpu_grpo_batch b;
    float *logp, *ent, *dlogp;
};

static void upload_batch(Dev &dv, DevBatch &db, const LossCase &lc)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T;
    std::vector<float> nan(R, NAN);
    memset(&db.b, 0, sizeof db.b);
    db.b.n_seq = k.B, db.b.seq_len = k.T, db.b.vocab = k.V, db.b.temperature = k.temperature;
    db.b.tokens = (const int32_t *)dv.up(k.tok.data(), R * 4);
    db.b.old_logp = lc.old ? (const float *)dv.up(k.old.data(), R * 4) : NULL;
    db.b.ref_logp = lc.ref ? (const float *)dv.up(k.ref.data(), R * 4) : NULL;
    db.b.advantages = (const float *)dv.up(k.adv.data(), k.B * 4);
    db.b.mask = lc.mask ? (const uint8_t *)dv.up(k.mask.data(), R) : NULL;
    db.b.truncated = lc.trunc ? (const uint8_t *)dv.up(k.trunc.data(), k.B) : NULL;
    db.b.dapo_tokens = lc.dapo;
    db.b.logp = db.logp = (float *)dv.up(nan.data(), R * 4);
    db.b.entropy = db.ent = (float *)dv.up(nan.data(), R * 4);
    db.b.dlogp = db.dlogp = (float *)dv.up(nan.data(), R * 4);
}

static void download_batch(Dev &dv, const DevBatch &db, Out &o, size_t R)
{
    o.logp.resize(R), o.ent.resize(R), o.dlogp.resize(R);
    dv.down(o.logp.data(), db.logp, R * 4);
    dv.down(o.ent.data(), db.ent, R * 4);
    dv.down(o.dlogp.data(), db.dlogp, R * 4);
}

/* The fused call; h_nan_row: a row of h made NaN (SIZE_MAX: none). */
static void run_fused(Out &o, const LossCase &lc, const Head &hd, bool bf16, size_t chunk,
                      const std::vector<float> &dW0, size_t h_nan_row = SIZE_MAX)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T, V = k.V, D = hd.D, es = bf16 ? 2 : 4;
    Dev dv;
    DevBatch db;
    upload_batch(dv, db, lc);
    std::vector<float> hf = hd.h;
    std::vector<uint16_t> hb = hd.hb;
    if (h_nan_row != SIZE_MAX)
        for (size_t i = 0; i < D; i++) hf[h_nan_row * D + i] = NAN, (bf16 ? (void)(hb[h_nan_row * D + i] = 0x7fc0) : (void)0);
    rlvr_gpu_grpo_linear lin;
    memset(&lin, 0, sizeof lin);
    lin.hidden = D, lin.dtype = bf16 ? RLVR_GPU_BF16 : RLVR_GPU_F32;
    lin.h = dv.up(bf16 ? (const void *)hb.data() : (const void *)hf.data(), R * D * es);
    lin.weight = dv.up(bf16 ? (const void *)hd.Wb.data() : (const void *)hd.W.data(), V * D * es);
    std::vector<float> nan(R * D, NAN);
    lin.dh = (float *)dv.up(nan.data(), R * D * 4);
    lin.dweight = (float *)dv.up(dW0.data(), V * D * 4);
    lin.chunk_rows = chunk;
    o.rc = -1;
    if (dv.failed) return;
    o.chunk = o.plan_bytes = 0;
    if (rlvr_gpu_grpo_linear_plan(&db.b, &lin, &o.chunk, &o.plan_bytes, o.err, sizeof o.err)) return;
    size_t in_use = 0, peak = 0;
    rlvr_gpu_grpo_memory(&in_use, NULL);
    rlvr_gpu_grpo_memory_reset_peak();
    o.rc = rlvr_gpu_grpo_linear_loss_dev(&lc.c, &db.b, &lin, &o.m, o.err, sizeof o.err);
    rlvr_gpu_grpo_memory(NULL, &peak);
    o.peak_rise = peak - in_use;
    download_batch(dv, db, o, R);
    o.dh.resize(R * D), o.dW.resize(V * D);
    dv.down(o.dh.data(), lin.dh, R * D * 4);
    dv.down(o.dW.data(), lin.dweight, V * D * 4);
    if (dv.failed && o.rc == 0) o.rc = -1, snprintf(o.err, sizeof o.err, "device copies failed");
}

/* The unfused path: host logits (NaN in row h_nan_row), rlvr_gpu_grpo_loss_dev,
 * its dlogits [R, V] in d. */
static void run_unfused(Out &o, std::vector<float> &d, const LossCase &lc, const Head &hd,
                        size_t h_nan_row = SIZE_MAX)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T, V = k.V;
    Dev dv;
    DevBatch db;
    upload_batch(dv, db, lc);
    std::vector<float> x;
    head_logits(hd, R, V, x);
    if (h_nan_row != SIZE_MAX)
        for (size_t v = 0; v < V; v++) x[h_nan_row * V + v] = NAN;
    db.b.dtype = RLVR_GPU_F32;
    db.b.logits = dv.up(x.data(), R * V * 4);
    void *d_d = dv.alloc(R * V * 4);
    o.rc = -1;
    if (dv.failed) return;
    o.rc = rlvr_gpu_grpo_loss_dev(&lc.c, &db.b, d_d, &o.m, o.err, sizeof o.err);
    download_batch(dv, db, o, R);
    d.resize(R * V);
    dv.down(d.data(), d_d, R * V * 4);
}

/* Each row's dlogits bound at rel of its sequence's scale, from g [R]. */
static void bounds_from(const std::vector<float> &g, const Case &k, double rel, std::vector<double> &e)
{
    const size_t T = k.T, R = k.B * T;
    e.assign(R, 0.0);
    for (size_t r = 0; r < R; r++) {
        double gs = 1e-12;
        for (size_t t = 0; t < T; t++) gs = fmax(gs, fabs(g[r / T * T + t]));
        e[r] = gs / k.temperature * rel;
    }
}

static double mrel(const rlvr_gpu_grpo_metrics &a, const rlvr_gpu_grpo_metrics &b)
{
    double m = fmax(fmax(rel(a.loss, b.loss, 1), rel(a.pg_loss, b.pg_loss, 1)), fmax(rel(a.kl_loss, b.kl_loss, 1), rel(a.kl, b.kl, 1)));
    m = fmax(m, fmax(rel(a.ratio_mean, b.ratio_mean, 1), rel(a.ratio_max, b.ratio_max, 1)));
    m = fmax(m, fmax(rel(a.entropy, b.entropy, 1), rel(a.active_tokens, b.active_tokens, 1)));
    return fmax(m, fmax(rel(a.clip_low, b.clip_low, 1), fmax(rel(a.clip_high, b.clip_high, 1), rel(a.clip_dual, b.clip_dual, 1))));
}

/* One case against both references. */
static void both_refs(const char *name, LossCase &lc, const Head &hd, bool bf16, size_t chunk, LossStats &st)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T, V = k.V, D = hd.D;
    std::vector<float> dW0(V * D);
    for (float &x : dW0) x = (float)normal();
    Out f;
    run_fused(f, lc, hd, bf16, chunk, dW0);
    snprintf(lc.name, sizeof lc.name, "%s, chunk %zu", name, chunk);
    compare_loss(lc, f.rc, f.err, f.dlogp.data(), NULL, f.ent.data(), f.m, st);
    if (f.rc) return;
    /* the CPU */
    std::vector<float> d;
    std::vector<double> e;
    reference(lc, d, e);
    GradRef gr;
    add_dW_ref(gr, hd, d, e, R, V, bf16);
    double wdh = 0, wdw = 0;
    bool c_lp = check_logp(f.logp.data(), lc), c_dh = check_dh(f.dh.data(), hd, d, e, R, V, bf16, &wdh),
         c_dw = check_dW(f.dW, dW0, gr, &wdw);
    if (!ok(c_lp && c_dh && c_dw && f.peak_rise == f.plan_bytes,
            "  chunk %zu: logp, dh, dW += = CPU; workspace %zu bytes = the plan's", f.chunk, f.peak_rise))
        diag("  logp %d dh %d (%.3g of the bound) dW %d (%.3g); workspace %zu, plan %zu", c_lp, c_dh, wdh, c_dw, wdw,
             f.peak_rise, f.plan_bytes);
    /* the unfused device path */
    Out u;
    std::vector<float> du;
    run_unfused(u, du, lc, hd);
    std::vector<double> eu;
    bounds_from(u.dlogp, k, 5e-5, eu);
    GradRef gu;
    add_dW_ref(gu, hd, du, eu, R, V, bf16);
    size_t off = 0;
    for (size_t r = 0; u.rc == 0 && r < R; r++)
        off += !(fabs(f.dlogp[r] - u.dlogp[r]) <= eu[r] * k.temperature + 1e-30 &&
                 fabs(f.ent[r] - u.ent[r]) <= 5e-5 * fmax(1, fabs(u.ent[r])) &&
                 fabs(f.logp[r] - u.logp[r]) <= 5e-5 * fmax(1, fabs(u.logp[r])));
    wdh = wdw = 0;
    bool u_dh = u.rc == 0 && check_dh(f.dh.data(), hd, du, eu, R, V, bf16, &wdh);
    bool u_dw = u.rc == 0 && check_dW(f.dW, dW0, gu, &wdw);
    double em = u.rc == 0 ? mrel(f.m, u.m) : 1.0;
    if (!ok(u.rc == 0 && off == 0 && em <= 5e-5 && u_dh && u_dw,
            "  = rlvr_gpu_grpo_loss_dev on the same logits, its dlogits through dh and dW"))
        diag("  rc %d (%s); per-token off %zu; metrics %.3g; dh %d (%.3g) dW %d (%.3g)", u.rc, u.rc ? u.err : "", off,
             em, u_dh, wdh, u_dw, wdw);
}

static void test_matrix(void)
{
    LossStats st;
    const size_t chunks[] = {1, 5, 7, 132, 1000, 0};
    const size_t B = 4, T = 33, D = 64;
    int n = 0;
    for (int bf = 0; bf < 2; bf++)
        for (int lt = RLVR_LOSS_GRPO; lt <= RLVR_LOSS_DR_GRPO; lt++)
            for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++)
                for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++, n++) {
                    LossCase lc;
                    config_case(lc, lt, is, n % 3, variants[vi], B, T);
                    Head hd;
                    const float temp = n % 2 ? 0.7f : 1.0f;
                    make_linear_case(lc, hd, B, T, vi % 2 ? 1031 : 600, D, temp, bf != 0);
                    char name[200];
                    snprintf(name, sizeof name, "%s: loss %s, %s-level, k%d, T %g, %s", bf ? "bf16" : "fp32",
                             lt_name[lt], is_name[is], n % 3 == 0 ? 3 : n % 3, (double)temp, variants[vi].name);
                    both_refs(name, lc, hd, bf != 0, chunks[(size_t)n % (sizeof chunks / sizeof chunks[0])], st);
                }
    st.report();
}

/* Qwen2.5-0.5B's head on a few rows: 2 sequences of 4, chunks of 3. */
static void test_qwen_head(void)
{
    LossStats st;
    for (int bf = 0; bf < 2; bf++) {
        LossCase lc;
        config_case(lc, RLVR_LOSS_GRPO, bf ? RLVR_IS_TOKEN : RLVR_IS_SEQUENCE, RLVR_KL_K3, variants[0], 2, 4);
        Head hd;
        make_linear_case(lc, hd, 2, 4, 151936, 896, 1.0f, bf != 0);
        both_refs(bf ? "Qwen2.5-0.5B head, bf16, token-level" : "Qwen2.5-0.5B head, fp32, GSPO", lc, hd, bf != 0, 3, st);
    }
    st.report();
}

static void test_determinism(void)
{
    LossCase lc;
    config_case(lc, RLVR_LOSS_DAPO, RLVR_IS_SEQUENCE, RLVR_KL_K3, variants[1], 4, 33);
    Head hd;
    make_linear_case(lc, hd, 4, 33, 1031, 64, 1.0f, false);
    std::vector<float> dW0(1031 * 64, 0.5f);
    Out a, b;
    run_fused(a, lc, hd, false, 7, dW0);
    run_fused(b, lc, hd, false, 7, dW0);
    ok(a.rc == 0 && b.rc == 0 && !memcmp(&a.m, &b.m, sizeof a.m) && a.dh == b.dh && a.dW == b.dW &&
           !memcmp(a.dlogp.data(), b.dlogp.data(), a.dlogp.size() * 4),
       "two runs: the same bits (metrics, dL/dlogp, dh, dW)");
}

/* The refusals, word for word as the unfused path's on the same inputs. */
static void test_refusals(void)
{
    const size_t B = 3, T = 5, V = 97, D = 16;
    struct Bad {
        const char *what;
        int kind; /* 0 token, 1 old NaN, 2 NaN hidden states, 3 dapo_tokens */
    } bad[] = {{"a token out of range", 0}, {"a non-finite old_logp", 1}, {"NaN hidden states", 2},
               {"dapo_tokens below the micro-batch's tokens", 3}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++) {
            LossCase lc;
            config_case(lc, bad[i].kind == 3 ? RLVR_LOSS_DAPO : RLVR_LOSS_GRPO, is, RLVR_KL_K3, variants[0], B, T);
            Head hd;
            make_linear_case(lc, hd, B, T, V, D, 1.0f, false);
            size_t row = SIZE_MAX;
            for (size_t r = 0; r < B * T; r++)
                if (lc.k.mask[r]) row = r; /* the last active position */
            size_t nan_row = SIZE_MAX;
            if (bad[i].kind == 0) lc.k.tok[row] = (int32_t)V;
            if (bad[i].kind == 1) lc.k.old[row] = NAN;
            if (bad[i].kind == 2) nan_row = row;
            if (bad[i].kind == 3) lc.dapo = 1.0;
            std::vector<float> dW0(V * D, 0.0f), d;
            Out f, u;
            run_fused(f, lc, hd, false, 4, dW0, nan_row);
            run_unfused(u, d, lc, hd, nan_row);
            if (!ok(f.rc == -1 && u.rc == -1 && !strcmp(f.err, u.err), "%s-level, refused: %s, as the unfused call",
                    is_name[is], bad[i].what))
                diag("  fused %d \"%s\"; unfused %d \"%s\"", f.rc, f.err, u.rc, u.err);
        }
    /* Shapes. */
    LossCase lc;
    config_case(lc, RLVR_LOSS_GRPO, RLVR_IS_TOKEN, RLVR_KL_K3, variants[0], B, T);
    Head hd;
    make_linear_case(lc, hd, B, T, V, D, 1.0f, false);
    Dev dv;
    DevBatch db;
    upload_batch(dv, db, lc);
    rlvr_gpu_grpo_linear lin;
    memset(&lin, 0, sizeof lin);
    lin.hidden = D, lin.dtype = 5;
    lin.h = dv.up(hd.h.data(), B * T * D * 4);
    lin.weight = dv.up(hd.W.data(), V * D * 4);
    rlvr_gpu_grpo_metrics m;
    int rc = rlvr_gpu_grpo_linear_loss_dev(&lc.c, &db.b, &lin, &m, err, sizeof err);
    ok(rc == -1 && !strcmp(err, "grpo linear: unknown dtype 5 (want RLVR_GPU_F32 or RLVR_GPU_BF16)"),
       "refused: an unknown dtype (%s)", err);
    rc = rlvr_gpu_grpo_linear_loss_dev(&lc.c, &db.b, NULL, &m, err, sizeof err);
    ok(rc == -1 && !strcmp(err, "grpo linear: no LM head (struct rlvr_gpu_grpo_linear)"), "refused: no LM head (%s)",
       err);
    lin.dtype = RLVR_GPU_F32, lin.budget = 100;
    rc = rlvr_gpu_grpo_linear_loss_dev(&lc.c, &db.b, &lin, &m, err, sizeof err);
    ok(rc == -1 && !strcmp(err, "grpo linear: a budget of 100 bytes holds no row of logits (one row needs 388)"),
       "refused: a budget too small for one row (%s)", err);
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
    test_matrix();
    test_qwen_head();
    test_determinism();
    test_refusals();
    rlvr_gpu_grpo_memory(&after, NULL);
    ok(after == before, "no device memory left behind (%zu bytes before, %zu after)", before, after);
    return done_testing();
}
