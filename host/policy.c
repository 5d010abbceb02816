/*
 * policy.c -- loading, making and saving a policy (see policy.h).
 */
#include "policy.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int load_tokenizer(struct rlvr_policy *p, const char *dir, const char *spec, char *err,
                          size_t err_len)
{
    char path[4096];
    if (!spec && dir) {
        snprintf(path, sizeof path, "%s/tokenizer.json", dir);
        if (exists(path)) {
            spec = path;
        } else {
            char marker[4096];
            snprintf(marker, sizeof marker, "%s/rlvr.json", dir);
            FILE *f = fopen(marker, "rb");
            char buf[256] = "";
            size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
            if (f)
                fclose(f);
            buf[n] = 0;
            if (!strstr(buf, "\"bytes\"")) {
                rlvr_errf(err, err_len, "%s has no tokenizer.json (pass a tokenizer: a tokenizer.json "
                          "path, or \"bytes\")", dir);
                return -1;
            }
            spec = "bytes";
        }
    }
    if (!spec) {
        rlvr_errf(err, err_len, "no tokenizer given (a tokenizer.json path, or \"bytes\")");
        return -1;
    }
    snprintf(p->tokenizer_path, sizeof p->tokenizer_path, "%s", spec);
    if (!strcmp(spec, "bytes"))
        return rlvr_tokenizer_bytes(&p->tok, err, err_len);
    return rlvr_tokenizer_load(spec, &p->tok, err, err_len);
}

static int check_vocab(struct rlvr_policy *p, char *err, size_t err_len)
{
    int32_t tv = rlvr_tok_vocab_size(p->tok);
    if (tv > p->model.cfg.vocab_size) {
        rlvr_errf(err, err_len, "the tokenizer (%s) has %d ids but the model's vocabulary has %d rows",
                  p->tokenizer_path, tv, p->model.cfg.vocab_size);
        return -1;
    }
    return 0;
}

int rlvr_policy_load(struct rlvr_policy *p, const char *dir, const char *tokenizer, char *err,
                     size_t err_len)
{
    memset(p, 0, sizeof *p);
    if (rlvr_checkpoint_load_meta(dir, &p->model, &p->meta, err, err_len))
        return -1;
    if (load_tokenizer(p, dir, tokenizer, err, err_len) || check_vocab(p, err, err_len)) {
        rlvr_policy_free(p);
        return -1;
    }
    return 0;
}

int rlvr_policy_init(struct rlvr_policy *p, const struct rlvr_model_config *cfg, uint64_t seed,
                     const char *tokenizer, char *err, size_t err_len)
{
    memset(p, 0, sizeof *p);
    p->meta.pad_token_id = -1;
    if (rlvr_model_create(&p->model, cfg, err, err_len))
        return -1;
    rlvr_model_init_random(&p->model, seed, 0.02f);
    if (p->model.cfg.eos_token_id >= 0) {
        p->meta.n_eos = 1;
        p->meta.eos_token_ids[0] = p->model.cfg.eos_token_id;
    }
    if (load_tokenizer(p, NULL, tokenizer, err, err_len) || check_vocab(p, err, err_len)) {
        rlvr_policy_free(p);
        return -1;
    }
    return 0;
}

static int copy_file(const char *from, const char *to, char *err, size_t err_len)
{
    char tmp[4400];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    FILE *in = fopen(from, "rb"), *out = in ? fopen(tmp, "wb") : NULL;
    if (!in || !out) {
        if (in)
            fclose(in);
        rlvr_errf(err, err_len, "cannot copy %s to %s: %s", from, to, strerror(errno));
        return -1;
    }
    char buf[1 << 16];
    size_t n;
    int bad = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        bad |= fwrite(buf, 1, n, out) != n;
    bad |= ferror(in);
    fclose(in);
    if (fclose(out) || bad || rename(tmp, to)) {
        remove(tmp);
        rlvr_errf(err, err_len, "copying %s to %s failed", from, to);
        return -1;
    }
    return 0;
}

int rlvr_policy_save(const struct rlvr_policy *p, const char *dir, enum rlvr_dtype dtype, char *err,
                     size_t err_len)
{
    if (rlvr_checkpoint_save_meta(&p->model, &p->meta, dir, dtype, 0, err, err_len))
        return -1;
    char path[4200];
    if (!strcmp(p->tokenizer_path, "bytes")) {
        snprintf(path, sizeof path, "%s/rlvr.json", dir);
        FILE *f = fopen(path, "wb");
        if (!f || fputs("{\"tokenizer\": \"bytes\"}\n", f) < 0 || fclose(f)) {
            rlvr_errf(err, err_len, "cannot write %s", path);
            return -1;
        }
        return 0;
    }
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    char a[4096], b[4096];
    if (realpath(p->tokenizer_path, a) && realpath(path, b) && !strcmp(a, b))
        return 0; /* saving over the folder it came from */
    return copy_file(p->tokenizer_path, path, err, err_len);
}

void rlvr_policy_free(struct rlvr_policy *p)
{
    rlvr_model_free(&p->model);
    rlvr_tokenizer_free(p->tok);
    memset(p, 0, sizeof *p);
}

int rlvr_policy_stop_ids(const struct rlvr_policy *p, int32_t *ids, int max)
{
    int n = 0;
    for (int i = 0; i < p->meta.n_eos && n < max; i++)
        ids[n++] = p->meta.eos_token_ids[i];
    const char *names[] = {"<|im_end|>", "<|endoftext|>"};
    for (int k = 0; k < 2 && n < max; k++) {
        int32_t id = rlvr_tok_token_id(p->tok, names[k], strlen(names[k]));
        int dup = 0;
        for (int i = 0; i < n; i++)
            dup |= ids[i] == id;
        if (id >= 0 && !dup && id < p->model.cfg.vocab_size)
            ids[n++] = id;
    }
    return n;
}

const char *rlvr_policy_piece(void *tokenizer, int32_t id, size_t *len)
{
    return rlvr_tok_token_bytes(tokenizer, id, len);
}
