/*
 * evaluate.h -- how well a policy does on a set of problems: k samples per
 * problem, scored by a mix, summarised as pass@1 (averaged over the k
 * samples), pass@k for chosen k (the unbiased estimator of Chen et al.,
 * 2021), majority vote maj@k (DeepSeek-R1's cons@64), the mean reward, each
 * component's mean and abstain/error rates, and the completions' lengths.
 *
 * A sample is correct when the accuracy component scored (status ok) at
 * least `threshold`. Majority vote groups the samples' final answers by the
 * math verifier's equivalence (so "0.5", "\frac{1}{2}" and "1/2" are one
 * answer), not by their text: the largest group (the earliest on a tie)
 * wins, and maj@k counts the problem solved when the math verifier finds
 * that group's answer equal to the problem's "answer". Samples with no
 * extractable answer do not vote.
 */
#ifndef RLVR_EVALUATE_H
#define RLVR_EVALUATE_H

#include "rollout.h"

#define RLVR_EVAL_MAX_KS 16

struct rlvr_eval_result {
    size_t n_problems;
    int k;                       /* samples per problem */
    double pass1;                /* mean over problems of (correct samples / k) */
    size_t n_ks;
    int ks[RLVR_EVAL_MAX_KS];    /* the k of each pass@k asked for (<= k) */
    double pass_at[RLVR_EVAL_MAX_KS];
    double maj;                  /* maj@k; NaN when not asked for */
    size_t maj_no_gold;          /* problems without an "answer" (maj@k counts them unsolved) */
    double reward_mean;          /* over non-null rewards; NaN when none */
    size_t samples, reward_null, failed;
    size_t n_comp;
    double *comp_mean;           /* [n_comp] over the samples where it scored */
    double *comp_abstain;        /* [n_comp] share of samples where it abstained */
    double *comp_error;          /* [n_comp] share of samples where it failed */
    double mean_length;          /* completion tokens */
    double truncated;            /* share that hit max_tokens */
    double seconds;
};
void rlvr_eval_result_free(struct rlvr_eval_result *r);

/* The unbiased pass@k of one problem with n samples of which c are
 * correct: 1 - C(n - c, k) / C(n, k) (1 when n - c < k). */
double rlvr_pass_at_k(int n, int c, int k);

/* Summarises scored completions c[n_problems * k] (problem i's samples at
 * c[i * k .. i * k + k)). acc is the accuracy component's index (-1: none,
 * then pass figures are NaN); ks[n_ks] the pass@k wanted; maj: compute
 * maj@k. n_comp is the number of components the completions carry. */
int rlvr_eval_summarise(const struct rlvr_completion *c, size_t n_problems, int k, size_t n_comp, int acc,
                        double threshold, const int *ks, size_t n_ks, int maj, struct rlvr_eval_result *r,
                        char *err, size_t err_len);

/* Samples k completions per problem with p under s (streams from
 * stream_base as rlvr_rollout), scores them with sc and summarises them.
 * *kept (may be NULL) receives the completions (free with
 * rlvr_completions_free and free()). */
int rlvr_evaluate(struct rlvr_policy *p, const struct rlvr_sampling *s, struct rlvr_problem *const *problems,
                  size_t n, int k, uint64_t stream_base, int chunk_prompts, rlvr_scoring *sc, int acc,
                  double threshold, const int *ks, size_t n_ks, int maj, struct rlvr_eval_result *r,
                  struct rlvr_completion **kept, char *err, size_t err_len);

#endif
