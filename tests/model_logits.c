/*
 * model_logits.c -- a test helper: loads a checkpoint folder with
 * rlvr_checkpoint_load, runs the whole-sequence forward over the token ids
 * given, and prints, per position, the log-sum-exp of the logits, the argmax
 * and the logits at every STRIDE-th vocabulary id:
 *
 *   model_logits DIR STRIDE TOKEN...
 *   pos P lse L argmax A values v0 v1 ...
 *
 * test_qwen_layout.py compares its output with torch's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "checkpoint.h"
#include "model.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: model_logits DIR STRIDE TOKEN...\n");
        return 2;
    }
    char err[1024];
    struct rlvr_model m;
    if (rlvr_checkpoint_load(argv[1], &m, err, sizeof err)) {
        fprintf(stderr, "model_logits: %s\n", err);
        return 1;
    }
    int stride = atoi(argv[2]), T = argc - 3, V = m.cfg.vocab_size;
    int32_t *tok = malloc((size_t)T * sizeof *tok);
    float *logits = malloc((size_t)T * V * sizeof *logits);
    if (!tok || !logits || stride < 1)
        return 2;
    for (int t = 0; t < T; t++)
        tok[t] = (int32_t)atol(argv[3 + t]);
    if (rlvr_model_forward(&m, tok, 1, T, logits, err, sizeof err)) {
        fprintf(stderr, "model_logits: %s\n", err);
        return 1;
    }
    for (int t = 0; t < T; t++) {
        const float *row = logits + (size_t)t * V;
        double mx = -INFINITY, s = 0;
        int am = 0;
        for (int v = 0; v < V; v++)
            if (row[v] > mx)
                mx = row[v], am = v;
        for (int v = 0; v < V; v++)
            s += exp(row[v] - mx);
        printf("pos %d lse %.9g argmax %d values", t, mx + log(s), am);
        for (int v = 0; v < V; v += stride)
            printf(" %.9g", row[v]);
        printf("\n");
    }
    free(tok);
    free(logits);
    rlvr_model_free(&m);
    return 0;
}
