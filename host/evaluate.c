/*
 * evaluate.c -- pass@1, pass@k, maj@k and the component means of a set of
 * scored completions (see evaluate.h).
 */
#include "evaluate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "math_verifier.h"
#include "util.h"

void rlvr_eval_result_free(struct rlvr_eval_result *r)
{
    free(r->comp_mean);
    free(r->comp_abstain);
    free(r->comp_error);
    r->comp_mean = r->comp_abstain = r->comp_error = NULL;
}

double rlvr_pass_at_k(int n, int c, int k)
{
    if (k < 1 || n < 1 || k > n)
        return NAN;
    if (n - c < k)
        return 1.0;
    /* C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i) */
    double q = 1.0;
    for (int i = n - c + 1; i <= n; i++)
        q *= 1.0 - (double)k / i;
    return 1.0 - q;
}

/* The gold answer of a problem as text, or NULL. */
static const char *gold_of(const struct rlvr_problem *pr)
{
    json_object *a;
    if (!json_object_object_get_ex(pr->fields, "answer", &a) || json_object_is_type(a, json_type_null))
        return NULL;
    return json_object_get_string(a);
}

/* maj@k of one problem: 1 solved, 0 not, -1 no gold answer, -2 out of memory. */
static int majority(const struct rlvr_completion *c, int k)
{
    const char *gold = gold_of(c[0].problem);
    if (!gold)
        return -1;
    rlvr_math_verdict *v = malloc((size_t)k * sizeof *v);
    int *votes = calloc((size_t)k, sizeof *votes), *rep = malloc((size_t)k * sizeof *rep);
    if (!v || !votes || !rep) {
        free(v), free(votes), free(rep);
        return -2;
    }
    int n_rep = 0, rc = 0;
    for (int i = 0; i < k; i++) {
        if (rlvr_math_verify(gold, strlen(gold), c[i].text, c[i].text_len, NULL, &v[i])) {
            rc = -2;
            break;
        }
        if (!v[i].pred_source[0] || !v[i].pred_extracted[0])
            continue; /* nothing to vote with */
        int found = -1;
        for (int r = 0; r < n_rep && found < 0; r++) {
            rlvr_math_verdict same;
            const char *a = v[rep[r]].pred_extracted, *b = v[i].pred_extracted;
            if (!strcmp(a, b))
                found = r;
            else if (rlvr_math_verify(a, strlen(a), b, strlen(b), NULL, &same) == 0 &&
                     same.status == RLVR_MATH_EQUAL)
                found = r;
        }
        if (found < 0) {
            found = n_rep;
            rep[n_rep++] = i;
        }
        votes[found]++;
    }
    if (!rc) {
        int best = -1;
        for (int r = 0; r < n_rep; r++)
            if (best < 0 || votes[r] > votes[best])
                best = r;
        rc = best >= 0 && v[rep[best]].status == RLVR_MATH_EQUAL;
    }
    free(v), free(votes), free(rep);
    return rc;
}

int rlvr_eval_summarise(const struct rlvr_completion *c, size_t n_problems, int k, size_t n_comp, int acc,
                        double threshold, const int *ks, size_t n_ks, int maj, struct rlvr_eval_result *r,
                        char *err, size_t err_len)
{
    memset(r, 0, sizeof *r);
    r->n_problems = n_problems;
    r->k = k;
    r->n_comp = n_comp;
    r->maj = NAN;
    if (n_ks > RLVR_EVAL_MAX_KS) {
        rlvr_errf(err, err_len, "at most %d values of k for pass@k", RLVR_EVAL_MAX_KS);
        return -1;
    }
    for (size_t j = 0; j < n_ks; j++) {
        if (ks[j] < 1 || ks[j] > k) {
            rlvr_errf(err, err_len, "pass@%d needs at least %d samples per problem (there are %d)", ks[j], ks[j], k);
            return -1;
        }
        r->ks[j] = ks[j];
    }
    r->n_ks = n_ks;
    r->comp_mean = calloc(n_comp ? n_comp : 1, sizeof(double));
    r->comp_abstain = calloc(n_comp ? n_comp : 1, sizeof(double));
    r->comp_error = calloc(n_comp ? n_comp : 1, sizeof(double));
    size_t *comp_ok = calloc(n_comp ? n_comp : 1, sizeof(size_t));
    if (!r->comp_mean || !r->comp_abstain || !r->comp_error || !comp_ok) {
        free(comp_ok);
        rlvr_eval_result_free(r);
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    double reward_sum = 0, len_sum = 0, pass1 = 0, maj_sum = 0;
    size_t rewards = 0, truncated = 0, n = n_problems * (size_t)k;
    for (size_t i = 0; i < n; i++) {
        const struct rlvr_completion *x = &c[i];
        if (isnan(x->reward))
            r->reward_null++;
        else
            reward_sum += x->reward, rewards++;
        r->failed += x->failed != 0;
        len_sum += x->seq.n_tokens;
        truncated += x->seq.finish == RLVR_FINISH_LENGTH;
        for (size_t j = 0; j < n_comp && x->comp_status; j++) {
            if (x->comp_status[j] == RLVR_COMP_OK)
                r->comp_mean[j] += x->comp[j], comp_ok[j]++;
            else if (x->comp_status[j] == RLVR_COMP_ABSTAIN)
                r->comp_abstain[j] += 1;
            else if (x->comp_status[j] == RLVR_COMP_ERROR)
                r->comp_error[j] += 1;
        }
    }
    for (size_t p = 0; p < n_problems; p++) {
        const struct rlvr_completion *g = c + p * (size_t)k;
        int correct = 0;
        for (int i = 0; acc >= 0 && i < k; i++)
            correct += g[i].comp_status && g[i].comp_status[acc] == RLVR_COMP_OK && g[i].comp[acc] >= threshold;
        pass1 += (double)correct / k;
        for (size_t j = 0; j < n_ks; j++)
            r->pass_at[j] += rlvr_pass_at_k(k, correct, ks[j]);
        if (maj) {
            int m = majority(g, k);
            if (m == -2) {
                free(comp_ok);
                rlvr_eval_result_free(r);
                rlvr_errf(err, err_len, "out of memory");
                return -1;
            }
            if (m == -1)
                r->maj_no_gold++;
            else
                maj_sum += m;
        }
    }
    double np = n_problems ? (double)n_problems : NAN;
    r->samples = n;
    r->pass1 = acc >= 0 ? pass1 / np : NAN;
    for (size_t j = 0; j < n_ks; j++)
        r->pass_at[j] = acc >= 0 ? r->pass_at[j] / np : NAN;
    if (maj)
        r->maj = maj_sum / np;
    r->reward_mean = rewards ? reward_sum / (double)rewards : NAN;
    r->mean_length = n ? len_sum / (double)n : NAN;
    r->truncated = n ? (double)truncated / (double)n : NAN;
    for (size_t j = 0; j < n_comp; j++) {
        r->comp_mean[j] = comp_ok[j] ? r->comp_mean[j] / (double)comp_ok[j] : NAN;
        r->comp_abstain[j] = n ? r->comp_abstain[j] / (double)n : NAN;
        r->comp_error[j] = n ? r->comp_error[j] / (double)n : NAN;
    }
    free(comp_ok);
    return 0;
}

int rlvr_evaluate(struct rlvr_policy *p, const struct rlvr_sampling *s, struct rlvr_problem *const *problems,
                  size_t n, int k, uint64_t stream_base, int chunk_prompts, rlvr_scoring *sc, int acc,
                  double threshold, const int *ks, size_t n_ks, int maj, struct rlvr_eval_result *r,
                  struct rlvr_completion **kept, char *err, size_t err_len)
{
    double t0 = rlvr_now();
    struct rlvr_completion *c = calloc(n * (size_t)k + 1, sizeof *c);
    if (!c) {
        rlvr_errf(err, err_len, "out of memory");
        return -1;
    }
    int rc = rlvr_rollout(p, s, problems, n, k, stream_base, chunk_prompts, sc, c, NULL, err, err_len);
    int made = rc == 0; /* a failed rollout frees what it made */
    if (!rc)
        rc = rlvr_scoring_wait(sc, NULL, err, err_len);
    if (!rc)
        rc = rlvr_eval_summarise(c, n, k, rlvr_scoring_components(sc), acc, threshold, ks, n_ks, maj, r, err,
                                 err_len);
    if (!rc)
        r->seconds = rlvr_now() - t0;
    if (!rc && kept) {
        *kept = c;
        return 0;
    }
    if (made)
        rlvr_completions_free(c, n * (size_t)k);
    free(c);
    return rc;
}
