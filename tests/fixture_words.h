/*
 * fixture_words.h -- what test_model.c and test_optim.c share (header only):
 * the counter hash their torch fixtures draw weights from (stated in
 * tests/fixtures/model/make_fixture.py), and a reader of whitespace-separated
 * fixture text with '#' comments.
 */
#ifndef RLVR_FIXTURE_WORDS_H
#define RLVR_FIXTURE_WORDS_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* splitmix64's finaliser of x + the golden-ratio increment. */
static inline uint64_t fixture_mix(uint64_t x)
{
    uint64_t z = x + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* (2u - 1), u = the top 24 bits of the hash of (seed, tensor t, element
 * j): exact in float. */
static inline float fixture_hash_value(uint64_t seed, uint64_t t, uint64_t j)
{
    return (float)(fixture_mix(seed ^ (t << 32 | j)) >> 40) / (float)(1 << 24) * 2.0f - 1.0f;
}

/* The whole file, NUL-terminated (malloc'd), or NULL. */
static inline char *fixture_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = n >= 0 ? malloc((size_t)n + 1) : NULL;
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

/* The next word at *cursor (cut in place), skipping blanks and '#'
 * comment lines; NULL at the end. */
static inline char *fixture_word(char **cursor)
{
    char *c = *cursor;
    for (;;) {
        while (*c == ' ' || *c == '\n' || *c == '\t')
            c++;
        if (*c != '#')
            break;
        while (*c && *c != '\n')
            c++;
    }
    if (!*c) {
        *cursor = c;
        return NULL;
    }
    char *w = c;
    while (*c && *c != ' ' && *c != '\n' && *c != '\t')
        c++;
    if (*c)
        *c++ = 0;
    *cursor = c;
    return w;
}

static inline double fixture_num(char **cursor)
{
    char *w = fixture_word(cursor);
    return w ? strtod(w, NULL) : NAN;
}

#endif
