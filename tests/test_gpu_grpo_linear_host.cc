/*
 * test_gpu_grpo_linear_host.cc -- the GRPO loss fused with the LM head
 * (gpu_grpo.h's rlvr_gpu_grpo_linear_*), its orchestration run on the CPU:
 * gpu/grpo_linear.cuh's plan and chunk driver -- the very templates
 * gpu/grpo_linear.cu runs with cuBLAS and gpu/grpo_loss.cu's kernels -- on
 * host_ops below, a plain emulation of each operation: cublasGemmEx's
 * column-major product (fp32, or bf16 operands with fp32 accumulation),
 * and grpo_loss.cu's kernels (k_prep + k_weights, k_loss on a chunk of rows
 * in its three phases, k_seq, k_reduce) replayed row by row with the
 * functions they call (gpu/grpo_math.cuh), over the workspace as
 * loss_ws_carve lays it out. No GPU and no CUDA are needed: it is C++ and
 * runs in every build.
 *
 * Held to the unfused CPU reference: logits = h W^T (a host product),
 * host/logprob.c's rlvr_logprobs, host/grpo_loss.c's rlvr_grpo_loss,
 * rlvr_logprobs_backward, then dh = dlogits W and dW += dlogits^T h in
 * double. Cases: every loss type x both importance levels x the variants
 * of gpu_grpo_cases.h (masks with a fully masked sequence, truncated
 * sequences masked, delta and dual clip, no old_logp, no ref / no mask /
 * two accumulation steps; the KL estimator and temperature rotate), each
 * in fp32 and bf16 operands and with a chunk of 1, 4, 7 (both cut through
 * the 9-position sequences), 9, 13, all 45 rows, more rows than there are,
 * and the default (from a budget); a budget that gives 7 rows; one row;
 * dW accumulated over two micro-batches onto a non-zero dW; dh alone, dW
 * alone, neither (forward only: no gradient product, and in GSPO's second
 * sweep no product at all); the number of products of each sweep; every
 * product's operands inside the arrays and workspace regions they belong
 * to; the plan's chunk, bytes and refusals. A negative control runs the
 * driver on ops that see each chunk's rows from 0 (what a driver that lost
 * row0 would give) and must be caught.
 *
 * Tolerances:
 *  - metrics, dL/dlogp, entropy: compare_loss's (gpu_grpo_cases.h, argued
 *    in test_gpu_grpo_math.cc): the emulated rows sweep in another order
 *    than host/logprob.c (one accumulator instead of 512 merged), a few
 *    float steps of lse; the logits are bit for bit the reference's (the
 *    same float products in the same order);
 *  - logp: 2e-5 * max(1, |lse|), test_grpo's bound for the CPU reference;
 *  - dh[r, i] against the double product of the CPU's dlogits: the bound
 *    on row r's dlogits (compare_loss's, e_r = (1e-4 + 4 ulp(20)) * s_r /
 *    temperature, s_r the sequence's largest |dL/dlogp|) through the
 *    product, sum_v e_r |W[v, i]|, plus 1e-5 sum_v |dlogits| |W| for the
 *    float accumulation; in bf16 plus 2^-7 sum_v |dlogits| |W|: the
 *    dlogits operand is rounded to bf16 (8 significant bits: half an ulp
 *    is 2^-8 of the value), doubled for slack (worst seen: 0.46 of the
 *    bound, where one term dominates its sum). dW[v, i] the same with h in
 *    place of W, summed over the rows (and over both micro-batches when
 *    accumulated), plus a float rounding of the sum onto dW0.
 */
#include "grpo_linear.cuh"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vector>

#include "gpu_grpo_linear_cases.h"

using namespace rlvr_grpo;

/* ---- the emulated backend ----------------------------------------------------------------- */

struct Region {
    const char *base;
    size_t bytes;
    const char *name;
};

struct host_ops {
    rlvr_grpo_config c;
    const rlvr_gpu_grpo_batch *in;
    LossWs ws;
    size_t B, T, R, V;
    std::vector<Region> regions;
    int gemms = 0, stats_rows = 0, grad_rows = 0, bad = 0; /* bad: operands outside their regions */
    bool lost_row0 = false;                                /* the negative control */

    void begin(const rlvr_grpo_config &cfg, const rlvr_gpu_grpo_batch *batch, char *base)
    {
        c = cfg, in = batch;
        B = batch->n_seq, T = batch->seq_len, R = B * T, V = batch->vocab;
        ws = loss_ws_carve(base, B, R);
    }
    bool active(size_t row) const
    {
        return position_active(in->mask, in->truncated, c.mask_truncated, row / T, row);
    }
    /* Whether [p, p + bytes) lies inside one region; names it in a diag if not. */
    void inside(const void *p, size_t bytes, const char *what)
    {
        const char *q = (const char *)p;
        for (const Region &g : regions)
            if (q >= g.base && q + bytes <= g.base + g.bytes) return;
        bad++;
        diag("%s: %zu bytes at %p lie in no single region", what, bytes, p);
    }
    /* k_prep + k_weights */
    int prep()
    {
        double N = 0;
        for (size_t b = 0; b < B; b++) {
            int n = 0;
            for (size_t t = 0; t < T; t++) n += active(b * T + t);
            ws.nb[b] = n;
            N += n;
        }
        const double dapo = in->dapo_tokens > 0.0 ? in->dapo_tokens : N;
        for (size_t b = 0; b < B; b++)
            ws.w[b] = ws.nb[b] ? seq_weight(c, (double)B, (double)ws.nb[b], N, dapo) : 0.0;
        ws.st->N = N;
        ws.st->key = ~0ull;
        return 0;
    }
    /* k_loss<float, dt, phase> on batch rows row0 .. row0 + n - 1 */
    int rows(int phase, size_t row0, size_t n, const float *x, void *d, int dt)
    {
        inside(x, n * V * 4, "rows: logits");
        if (d) inside(d, n * V * (dt == RLVR_GPU_BF16 ? 2 : 4), "rows: gradient");
        if (row0 + n > R) return ok(0, "rows %zu + %zu beyond %zu", row0, n, R), -1;
        const float inv_t = 1.0f / in->temperature;
        for (size_t i = 0; i < n; i++) {
            const size_t row = (lost_row0 ? 0 : row0) + i, b = row / T;
            const float *xr = x + i * V;
            float *df = d && dt == RLVR_GPU_F32 ? (float *)d + i * V : nullptr;
            uint16_t *dh = d && dt == RLVR_GPU_BF16 ? (uint16_t *)d + i * V : nullptr;
            if (phase == PHASE_STATS) stats_rows++;
            else grad_rows++;
            if (!active(row)) {
                if (phase == PHASE_STATS) continue;
                for (size_t v = 0; d && v < V; v++) df ? (void)(df[v] = 0.0f) : (void)(dh[v] = 0);
                memset(&ws.rec[row], 0, sizeof ws.rec[row]);
                if (in->logp) in->logp[row] = 0.0f;
                if (in->entropy) in->entropy[row] = 0.0f;
                if (in->dlogp) in->dlogp[row] = 0.0f;
                continue;
            }
            const int32_t id = in->tokens[row];
            if (id < 0 || (size_t)id >= V) return ok(0, "row %zu: token %d", row, (int)id), -1;
            RowLogp r;
            if (phase == PHASE_GRAD) {
                r.status = ROW_OK, r.logp = ws.lp[row], r.lse = ws.lse[row], r.entropy = ws.ent[row];
            } else {
                int badrow = 0;
                LseAcc a = row_partial(xr, (uint32_t)V, 0, 1, inv_t, in->entropy != nullptr, &badrow);
                r = row_finish(a, badrow, xr[id], inv_t);
                if (r.status != ROW_OK) return ok(0, "row %zu: status %d", row, r.status), -1;
                if (phase == PHASE_STATS) {
                    ws.lp[row] = r.logp, ws.lse[row] = r.lse, ws.ent[row] = r.entropy;
                    continue;
                }
            }
            double g;
            const bool want_ent = in->entropy != nullptr;
            TokRec rec = token_terms(c, r.logp, in->old_logp ? in->old_logp + row : nullptr,
                                     in->old_logp ? in->old_logp[row] : 0.0f, in->ref_logp ? in->ref_logp + row : nullptr,
                                     in->ref_logp ? in->ref_logp[row] : 0.0f, want_ent ? r.entropy : 0.0f,
                                     (double)in->advantages[b], ws.w[b], phase == PHASE_GRAD ? &ws.seq[b] : nullptr, &g);
            const float gf = (float)g;
            ws.rec[row] = rec;
            if (in->logp) in->logp[row] = r.logp;
            if (in->entropy) in->entropy[row] = r.entropy;
            if (in->dlogp) in->dlogp[row] = gf;
            for (size_t v = 0; d && v < V; v++) {
                float e = gf == 0.0f ? 0.0f : grad_elem(xr[v], inv_t, r.lse, gf * inv_t, v == (size_t)id);
                if (df) df[v] = e;
                else dh[v] = to_bf16(e);
            }
        }
        return 0;
    }
    /* k_seq */
    int seq()
    {
        for (size_t b = 0; b < B; b++) {
            if (!ws.nb[b]) continue;
            double s = 0;
            for (size_t t = 0; in->old_logp && t < T; t++)
                if (active(b * T + t)) s += (double)ws.lp[b * T + t] - (double)in->old_logp[b * T + t];
            ws.seq[b] = seq_terms(c, s, (double)ws.nb[b], (double)in->advantages[b], ws.w[b]);
        }
        return 0;
    }
    /* k_reduce and the read-back */
    int finish(rlvr_gpu_grpo_metrics *m)
    {
        Sums s = sums_zero();
        for (size_t r = 0; r < R; r++) sums_add(s, ws.rec[r]);
        ws.st->metrics = metrics_finish(c, s, ws.st->N);
        if (m) *m = ws.st->metrics;
        return 0;
    }
    /* cublasGemmEx, column-major: C[m, n] = op(A)[m, k] op(B)[k, n] + beta C */
    int gemm(int tA, int tB, int m, int n, int k, const void *A, int lda, const void *Bm, int ldb, float beta,
             float *C, int ldc, int dt)
    {
        gemms++;
        const size_t es = dt == RLVR_GPU_BF16 ? 2 : 4;
        const int ar = tA ? k : m, ac = tA ? m : k, br = tB ? n : k, bc = tB ? k : n;
        if (lda < ar || ldb < br || ldc < m || m <= 0 || n <= 0 || k <= 0) {
            bad++;
            diag("gemm: m %d n %d k %d lda %d ldb %d ldc %d", m, n, k, lda, ldb, ldc);
            return -1;
        }
        inside(A, ((size_t)(ac - 1) * lda + ar) * es, "gemm: A");
        inside(Bm, ((size_t)(bc - 1) * ldb + br) * es, "gemm: B");
        inside(C, ((size_t)(n - 1) * ldc + m) * 4, "gemm: C");
        auto get = [&](const void *p, size_t i) {
            return dt == RLVR_GPU_BF16 ? from_bf16(((const uint16_t *)p)[i]) : ((const float *)p)[i];
        };
        for (int j = 0; j < n; j++)
            for (int i = 0; i < m; i++) {
                float acc = 0.0f;
                for (int l = 0; l < k; l++) {
                    size_t ia = tA ? (size_t)l + (size_t)i * lda : (size_t)i + (size_t)l * lda;
                    size_t ib = tB ? (size_t)j + (size_t)l * ldb : (size_t)l + (size_t)j * ldb;
                    acc += get(A, ia) * get(Bm, ib);
                }
                float *cp = C + (size_t)i + (size_t)j * ldc;
                *cp = beta == 0.0f ? acc : acc + beta * *cp;
            }
        return 0;
    }
};

struct Run {
    std::vector<float> logp, ent, dlogp, dh;
    rlvr_gpu_grpo_metrics m;
    int rc, gemms, stats_rows, grad_rows, bad;
    LinearPlan p;
    char err[256];
};

/* Runs the driver on host_ops for lc over hd; dW is added to (may be NULL). */
static void run_driver(Run &out, const LossCase &lc, const Head &hd, bool bf16, size_t chunk, size_t budget,
                       bool want_dh, float *dW, bool lost_row0 = false)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T;
    rlvr_gpu_grpo_batch b;
    memset(&b, 0, sizeof b);
    b.n_seq = k.B, b.seq_len = k.T, b.vocab = k.V, b.temperature = k.temperature;
    b.tokens = k.tok.data();
    b.old_logp = lc.old ? k.old.data() : NULL;
    b.ref_logp = lc.ref ? k.ref.data() : NULL;
    b.advantages = k.adv.data();
    b.mask = lc.mask ? k.mask.data() : NULL;
    b.truncated = lc.trunc ? k.trunc.data() : NULL;
    b.dapo_tokens = lc.dapo;
    out.logp.assign(R, NAN), out.ent.assign(R, NAN), out.dlogp.assign(R, NAN);
    out.dh.assign(want_dh ? R * hd.D : 0, NAN);
    b.logp = out.logp.data(), b.entropy = out.ent.data(), b.dlogp = out.dlogp.data();
    rlvr_gpu_grpo_linear lin;
    memset(&lin, 0, sizeof lin);
    lin.hidden = hd.D, lin.dtype = bf16 ? RLVR_GPU_BF16 : RLVR_GPU_F32;
    lin.h = bf16 ? (const void *)hd.hb.data() : (const void *)hd.h.data();
    lin.weight = bf16 ? (const void *)hd.Wb.data() : (const void *)hd.W.data();
    lin.dh = want_dh ? out.dh.data() : NULL;
    lin.dweight = dW;
    lin.chunk_rows = chunk, lin.budget = budget;
    out.rc = linear_plan(&out.p, &b, &lin, out.err, sizeof out.err);
    if (out.rc) return;
    /* NaN-filled, so that a read of what no operation wrote shows. */
    std::vector<float> wsf((out.p.bytes + 3) / 4, NAN);
    char *ws = (char *)wsf.data();
    host_ops o;
    o.begin(lc.c, &b, ws);
    o.lost_row0 = lost_row0;
    const LinearPlan &p = out.p;
    const size_t es = bf16 ? 2 : 4;
    o.regions = {{ws, p.o_logits, "loss arrays"},
                 {ws + p.o_logits, p.o_grad - p.o_logits, "logits"},
                 {ws + p.o_grad, p.o_blas - p.o_grad, "dlogits"},
                 {(const char *)lin.h, R * hd.D * es, "h"},
                 {(const char *)lin.weight, k.V * hd.D * es, "W"}};
    if (lin.dh) o.regions.push_back({(const char *)lin.dh, R * hd.D * 4, "dh"});
    if (dW) o.regions.push_back({(const char *)dW, k.V * hd.D * 4, "dW"});
    out.rc = linear_run(o, p, ws, lin, lc.c.importance_level == RLVR_IS_SEQUENCE, &out.m);
    out.gemms = o.gemms, out.stats_rows = o.stats_rows, out.grad_rows = o.grad_rows, out.bad = o.bad;
}

/* ---- the matrix ---------------------------------------------------------------------------------- */

/* One case end to end: the driver against the reference, dh and dW (onto a
 * random dW0) included. Returns whether it held. */
static bool full_case(const char *name, LossCase &lc, Head &hd, bool bf16, size_t chunk, size_t budget,
                      LossStats &st, double *worst_dh, double *worst_dW)
{
    const Case &k = lc.k;
    const size_t R = k.B * k.T, V = k.V, D = hd.D;
    std::vector<float> dW0(V * D), dW;
    for (float &x : dW0) x = (float)normal();
    dW = dW0;
    Run run;
    run_driver(run, lc, hd, bf16, chunk, budget, true, dW.data());
    snprintf(lc.name, sizeof lc.name, "%s", name);
    bool good = compare_loss(lc, run.rc, run.rc ? run.err : "", run.dlogp.data(), NULL, run.ent.data(), run.m, st);
    std::vector<float> d;
    std::vector<double> e;
    reference(lc, d, e);
    GradRef gr;
    add_dW_ref(gr, hd, d, e, R, V, bf16);
    const bool seq = lc.c.importance_level == RLVR_IS_SEQUENCE;
    const size_t nc = run.p.n_chunks;
    bool shape = run.rc == 0 && run.bad == 0 && run.gemms == (int)((seq ? 4 : 3) * nc) &&
                 run.stats_rows == (int)(seq ? R : 0) && run.grad_rows == (int)R;
    bool lp = run.rc == 0 && check_logp(run.logp.data(), lc);
    bool gdh = run.rc == 0 && check_dh(run.dh.data(), hd, d, e, R, V, bf16, worst_dh);
    bool gdw = run.rc == 0 && check_dW(dW, dW0, gr, worst_dW);
    if (!ok(shape && lp && gdh && gdw, "  %s chunk %zu (%zu chunks): %d products, logp, dh, dW += = CPU", name,
            run.p.chunk, nc, run.gemms))
        diag("  rc %d (%s) bad operands %d, products %d, stats rows %d, grad rows %d; logp %d dh %d dW %d", run.rc,
             run.err, run.bad, run.gemms, run.stats_rows, run.grad_rows, lp, gdh, gdw);
    return good && shape && lp && gdh && gdw;
}

static void test_matrix(void)
{
    LossStats st;
    double wdh[2] = {0, 0}, wdw[2] = {0, 0};
    const size_t chunks[] = {1, 4, 7, 9, 13, 45, 100, 0};
    const size_t B = 5, T = 9, D = 16;
    int n = 0;
    for (int bf = 0; bf < 2; bf++)
        for (int lt = RLVR_LOSS_GRPO; lt <= RLVR_LOSS_DR_GRPO; lt++)
            for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++)
                for (size_t vi = 0; vi < sizeof variants / sizeof variants[0]; vi++, n++) {
                    const Variant &va = variants[vi];
                    LossCase lc;
                    config_case(lc, lt, is, n % 3, va, B, T);
                    const uint32_t V = (vi % 2) ? 131 : 96;
                    const float temp = n % 2 ? 0.7f : 1.0f;
                    Head hd;
                    make_linear_case(lc, hd, B, T, V, D, temp, bf != 0);
                    const size_t chunk = chunks[(size_t)n % (sizeof chunks / sizeof chunks[0])];
                    char name[200];
                    snprintf(name, sizeof name, "%s: loss %s, %s-level, k%d, T %g, %s", bf ? "bf16" : "fp32",
                             lt_name[lt], is_name[is], n % 3 == 0 ? 3 : n % 3, (double)temp, va.name);
                    full_case(name, lc, hd, bf != 0, chunk, 0, st, &wdh[bf], &wdw[bf]);
                }
    st.report();
    diag("worst dh error %.3g, dW error %.3g of their bounds in fp32, %.3g and %.3g in bf16", wdh[0], wdw[0], wdh[1],
         wdw[1]);
}

/* Every chunk size on one GSPO and one token-level case, fp32 and bf16. */
static void test_chunks(void)
{
    LossStats st;
    double wdh = 0, wdw = 0;
    const size_t chunks[] = {1, 2, 4, 7, 8, 9, 10, 13, 44, 45, 46, 1000, 0};
    for (int bf = 0; bf < 2; bf++)
        for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++)
            for (size_t ci = 0; ci < sizeof chunks / sizeof chunks[0]; ci++) {
                LossCase lc;
                config_case(lc, RLVR_LOSS_GRPO, is, RLVR_KL_K3, variants[1], 5, 9);
                Head hd;
                make_linear_case(lc, hd, 5, 9, 77, 8, 1.0f, bf != 0);
                char name[160];
                snprintf(name, sizeof name, "%s %s-level, chunk %zu", bf ? "bf16" : "fp32", is_name[is], chunks[ci]);
                full_case(name, lc, hd, bf != 0, chunks[ci], 0, st, &wdh, &wdw);
            }
    /* A budget of 7 rows and a little: 7 rows of 4 V bytes (fp32), 6 V (bf16 with a gradient). */
    for (int bf = 0; bf < 2; bf++) {
        LossCase lc;
        config_case(lc, RLVR_LOSS_DAPO, RLVR_IS_SEQUENCE, RLVR_KL_K2, variants[2], 5, 9);
        Head hd;
        make_linear_case(lc, hd, 5, 9, 77, 8, 0.7f, bf != 0);
        const size_t budget = 7 * 77 * (bf ? 6 : 4) + 5;
        Run run;
        std::vector<float> dW(77 * 8, 0.0f);
        run_driver(run, lc, hd, bf != 0, 0, budget, true, dW.data());
        ok(run.rc == 0 && run.p.chunk == 7 && run.p.n_chunks == 7, "%s: a budget of %zu bytes gives chunks of 7 rows",
           bf ? "bf16" : "fp32", budget);
        full_case(bf ? "bf16 dapo GSPO, budget of 7 rows" : "fp32 dapo GSPO, budget of 7 rows", lc, hd, bf != 0, 0,
                  budget, st, &wdh, &wdw);
    }
    /* One row; one sequence of one position. */
    for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++) {
        LossCase lc;
        config_case(lc, RLVR_LOSS_BNPO, is, RLVR_KL_K3, variants[0], 1, 1);
        Head hd;
        make_linear_case(lc, hd, 1, 1, 50, 4, 1.0f, false);
        lc.k.mask[0] = 1; /* the one position counts */
        char name[96];
        snprintf(name, sizeof name, "one row, %s-level", is_name[is]);
        full_case(name, lc, hd, false, 0, 0, st, &wdh, &wdw);
    }
    st.report();
    diag("worst dh error %.3g, dW error %.3g (of their bounds)", wdh, wdw);
}

/* dW accumulated over two micro-batches onto a non-zero dW (gradient
 * accumulation, or a tied embedding's gradient already holding the input
 * side's); dh alone; dW alone; forward only. */
static void test_accumulate_and_outputs(void)
{
    for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++) {
        const size_t V = 61, D = 12;
        LossCase l1, l2;
        config_case(l1, RLVR_LOSS_DAPO, is, RLVR_KL_K3, variants[0], 4, 6);
        config_case(l2, RLVR_LOSS_DAPO, is, RLVR_KL_K3, variants[0], 4, 6);
        l1.c.grad_accum_steps = l2.c.grad_accum_steps = 2;
        l1.dapo = l2.dapo = 48;
        Head h1, h2;
        make_linear_case(l1, h1, 4, 6, V, D, 1.0f, false);
        make_linear_case(l2, h2, 4, 6, V, D, 1.0f, false, &h1); /* one head */
        std::vector<float> dW0(V * D), dW;
        for (float &x : dW0) x = (float)normal();
        dW = dW0;
        Run r1, r2;
        run_driver(r1, l1, h1, false, 5, 0, true, dW.data());
        run_driver(r2, l2, h2, false, 11, 0, true, dW.data());
        GradRef gr;
        std::vector<float> d;
        std::vector<double> e;
        reference(l1, d, e);
        add_dW_ref(gr, h1, d, e, 24, V, false);
        reference(l2, d, e);
        add_dW_ref(gr, h2, d, e, 24, V, false);
        double worst = 0;
        bool good = r1.rc == 0 && r2.rc == 0 && check_dW(dW, dW0, gr, &worst);
        if (!ok(good, "%s-level: dW accumulated over two micro-batches onto a non-zero dW = the sum of both references",
                is_name[is]))
            diag("  rc %d %d, worst %.3g of the bound", r1.rc, r2.rc, worst);

        /* dh alone, dW alone, neither. */
        const bool seq = is == RLVR_IS_SEQUENCE;
        const size_t nc = (24 + 4) / 5;
        Run ro;
        run_driver(ro, l1, h1, false, 5, 0, true, NULL);
        ok(ro.rc == 0 && ro.gemms == (int)((seq ? 3 : 2) * nc) && ro.p.o_grad == ro.p.o_blas,
           "%s-level, dh alone: %d products (%zu chunks)", is_name[is], ro.gemms, nc);
        std::vector<float> dWo(V * D, 0.0f);
        run_driver(ro, l1, h1, false, 5, 0, false, dWo.data());
        ok(ro.rc == 0 && ro.gemms == (int)((seq ? 3 : 2) * nc), "%s-level, dW alone: %d products", is_name[is],
           ro.gemms);
        LossStats st;
        run_driver(ro, l1, h1, false, 5, 0, false, NULL);
        bool fwd = ro.rc == 0 && ro.gemms == (int)nc && ro.p.o_grad == ro.p.o_blas && !ro.p.grad;
        snprintf(l1.name, sizeof l1.name, "%s-level, forward only: metrics, dL/dlogp = CPU", is_name[is]);
        bool m = compare_loss(l1, ro.rc, ro.err, ro.dlogp.data(), NULL, ro.ent.data(), ro.m, st);
        ok(fwd && m, "%s-level, forward only: %d products (one per chunk: none for the second sweep), no dlogits buffer",
           is_name[is], ro.gemms);
    }
}

/* The negative control: ops that see every chunk's rows from 0 (a driver
 * that lost row0: rows get the wrong sequence's weight, token and inputs)
 * must be caught by the comparison. */
static void test_negative_control(void)
{
    for (int is = RLVR_IS_TOKEN; is <= RLVR_IS_SEQUENCE; is++) {
        LossCase lc;
        config_case(lc, RLVR_LOSS_GRPO, is, RLVR_KL_K3, variants[0], 5, 9);
        Head hd;
        make_linear_case(lc, hd, 5, 9, 64, 8, 1.0f, false);
        for (size_t r = 0; r < 45; r++) /* every token readable from any row */
            if (lc.k.tok[r] < 0) lc.k.tok[r] = 3;
        Run run;
        run_driver(run, lc, hd, false, 4, 0, true, NULL, true);
        std::vector<float> d, g;
        rlvr_grpo_metrics mc;
        char err[256];
        cpu_loss(lc.c, lc.k, lc.old, lc.ref, lc.mask, lc.trunc, lc.dapo, d, g, mc, err, sizeof err);
        size_t off = 0;
        for (size_t r = 0; run.rc == 0 && r < 45; r++) off += !(fabs(run.dlogp[r] - g[r]) <= 1e-4 * fabs(g[r]) + 1e-9);
        ok(run.rc != 0 || off > 0 || fabs(run.m.loss - mc.loss) > 1e-4,
           "%s-level: a driver whose chunks lose row0 is caught (%zu of 45 dL/dlogp off, loss %.6g vs %.6g)",
           is_name[is], off, run.m.loss, mc.loss);
    }
}

/* The plan: chunk, bytes, refusals. */
static void test_plan(void)
{
    rlvr_gpu_grpo_batch b;
    memset(&b, 0, sizeof b);
    b.n_seq = 8, b.seq_len = 1024, b.vocab = 151936, b.temperature = 1.0f;
    rlvr_gpu_grpo_linear lin;
    memset(&lin, 0, sizeof lin);
    float dummy;
    lin.hidden = 896, lin.dtype = RLVR_GPU_F32, lin.h = &dummy, lin.weight = &dummy, lin.dh = &dummy;
    LinearPlan p;
    char err[256];
    int rc = linear_plan(&p, &b, &lin, err, sizeof err);
    ok(rc == 0 && p.chunk == 883 && p.n_chunks == 10, "Qwen2.5-0.5B, fp32, default budget: 883 rows a chunk, 10 chunks");
    const size_t R = 8192, B = 8;
    size_t want = align_up(sizeof(LossStatus)) + align_up(B * 4) + align_up(B * 8) + align_up(B * sizeof(SeqTerms)) +
                  3 * align_up(R * 4) + align_up(R * sizeof(TokRec)) + align_up(883ull * 151936 * 4) + ((size_t)32 << 20);
    ok(rc == 0 && p.bytes == want && sizeof(TokRec) == 40 && sizeof(SeqTerms) == 32,
       "workspace: the loss arrays (52 bytes a position, 44 a sequence), 883 x V fp32 logits, 32 MiB for cuBLAS: %zu bytes",
       p.bytes);
    lin.dtype = RLVR_GPU_BF16;
    rc = linear_plan(&p, &b, &lin, err, sizeof err);
    ok(rc == 0 && p.chunk == 588 && p.o_blas - p.o_grad == align_up(588ull * 151936 * 2),
       "bf16 with a gradient: 588 rows a chunk, a bf16 dlogits buffer beside the fp32 logits");
    lin.dh = NULL;
    rc = linear_plan(&p, &b, &lin, err, sizeof err);
    ok(rc == 0 && p.chunk == 883 && p.o_blas == p.o_grad, "bf16 forward only: 883 rows, no dlogits buffer");
    lin.chunk_rows = 100000;
    rc = linear_plan(&p, &b, &lin, err, sizeof err);
    ok(rc == 0 && p.chunk == R && p.n_chunks == 1, "chunk_rows beyond B*T: one chunk of B*T rows");
    lin.chunk_rows = 0;

    struct {
        const char *what, *msg;
        void (*set)(rlvr_gpu_grpo_linear &, size_t &);
    } bad[] = {
        {"dtype 7", "grpo linear: unknown dtype 7 (want RLVR_GPU_F32 or RLVR_GPU_BF16)",
         [](rlvr_gpu_grpo_linear &l, size_t &) { l.dtype = 7; }},
        {"hidden 0", "grpo linear: hidden size 0 must be 1 .. 2147483647",
         [](rlvr_gpu_grpo_linear &l, size_t &) { l.hidden = 0; }},
        {"h NULL", "grpo linear: h or weight is NULL", [](rlvr_gpu_grpo_linear &l, size_t &) { l.h = NULL; }},
        {"weight NULL", "grpo linear: h or weight is NULL",
         [](rlvr_gpu_grpo_linear &l, size_t &) { l.weight = NULL; }},
        {"a budget of 1000 bytes", "grpo linear: a budget of 1000 bytes holds no row of logits (one row needs 607744)",
         [](rlvr_gpu_grpo_linear &l, size_t &) { l.budget = 1000; }},
        {"vocab 0", "grpo linear: vocab 0 must be 1 .. 2147483647", [](rlvr_gpu_grpo_linear &, size_t &v) { v = 0; }},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        rlvr_gpu_grpo_linear l = lin;
        l.dtype = RLVR_GPU_F32;
        size_t v = b.vocab;
        bad[i].set(l, v);
        rlvr_gpu_grpo_batch bb = b;
        bb.vocab = v;
        err[0] = '\0';
        rc = linear_plan(&p, &bb, &l, err, sizeof err);
        if (!ok(rc == -1 && !strcmp(err, bad[i].msg), "refused: %s", bad[i].what)) diag("  got \"%s\"", err);
    }
    err[0] = '\0';
    ok(linear_plan(&p, &b, NULL, err, sizeof err) == -1 &&
           !strcmp(err, "grpo linear: no LM head (struct rlvr_gpu_grpo_linear)"),
       "refused: no struct rlvr_gpu_grpo_linear");
    /* No positions: nothing to read, no chunk. */
    rlvr_gpu_grpo_batch e = b;
    e.n_seq = 0;
    lin.h = lin.weight = NULL;
    ok(linear_plan(&p, &e, &lin, err, sizeof err) == 0 && p.chunk == 0 && p.n_chunks == 0,
       "no positions: planned, no chunk (h and weight may be NULL)");
}

int main(void)
{
    plan_no_plan();
    test_plan();
    test_matrix();
    test_chunks();
    test_accumulate_and_outputs();
    test_negative_control();
    return done_testing();
}
