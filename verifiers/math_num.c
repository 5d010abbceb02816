/*
 * math_num.c -- the math verifier's arena and exact rational numbers.
 *
 * The arena hands out aligned memory from the caller's stack buffer first,
 * then from malloc'ed blocks, never past its limit (then it reports oom and
 * returns NULL, which callers turn into "too costly").
 *
 * Rationals stay in two int64 while they fit (the fast path: no GMP, no
 * allocation); an overflow moves the operation to GMP. Every GMP number is
 * registered in the context and cleared by math.c at the end of the check.
 * Sizes are bounded by options->max_number_bits: an operation whose result
 * would be larger sets ctx->costly and fails, and powers and factorials are
 * estimated before they are computed, so 10^(10^9) or (10^9)! cost nothing.
 */
#include "math_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---------------------------------------------------------- */

void mx_arena_init(mx_arena *a, void *buf, size_t cap, size_t limit)
{
    a->first = buf;
    a->first_cap = cap;
    a->first_used = 0;
    a->blocks = NULL;
    a->total = 0;
    a->limit = limit;
    a->oom = 0;
}

void *mx_alloc(mx_arena *a, size_t n)
{
    const size_t al = sizeof(max_align_t);
    n = (n + al - 1) / al * al;
    if (n == 0) n = al;
    if (a->first_cap - a->first_used >= n) {
        void *p = a->first + a->first_used;
        a->first_used += n;
        return p;
    }
    if (a->blocks && a->blocks->cap - a->blocks->used >= n) {
        void *p = (char *)a->blocks->data + a->blocks->used;
        a->blocks->used += n;
        return p;
    }
    size_t cap = n > 65536 ? n : 65536;
    if (a->total + cap > a->limit) {
        a->oom = 1;
        return NULL;
    }
    mx_block *b = malloc(sizeof(mx_block) + cap);
    if (!b) {
        a->oom = 1;
        return NULL;
    }
    b->next = a->blocks;
    b->cap = cap;
    b->used = n;
    a->blocks = b;
    a->total += cap;
    return b->data;
}

mx_node *mx_node_new(mx_ctx *c, int kind, int n)
{
    mx_node *e = mx_alloc(&c->arena, sizeof *e + (size_t)n * sizeof(mx_node *));
    if (!e) {
        c->costly = 1;
        return NULL;
    }
    memset(e, 0, sizeof *e);
    e->kind = (uint8_t)kind;
    e->n = n;
    e->decimals = -1;
    e->kid = (mx_node **)(e + 1);
    return e;
}

char *mx_strndup(mx_arena *a, const char *s, size_t n)
{
    char *d = mx_alloc(a, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

void mx_arena_free(mx_arena *a)
{
    mx_block *b = a->blocks;
    while (b) {
        mx_block *nx = b->next;
        free(b);
        b = nx;
    }
    a->blocks = NULL;
}

uint64_t mx_rand(mx_ctx *c)
{
    uint64_t z = (c->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* ---- rationals ------------------------------------------------------ */

static mpq_ptr new_big(mx_ctx *c)
{
    if (c->n_bigs == c->cap_bigs) {
        int nc = c->cap_bigs ? c->cap_bigs * 2 : 16;
        mpq_ptr *nb = mx_alloc(&c->arena, (size_t)nc * sizeof *nb);
        if (!nb) {
            c->costly = 1;
            return NULL;
        }
        if (c->n_bigs) memcpy(nb, c->bigs, (size_t)c->n_bigs * sizeof *nb);
        c->bigs = nb;
        c->cap_bigs = nc;
    }
    mpq_ptr q = mx_alloc(&c->arena, sizeof(__mpq_struct));
    if (!q) {
        c->costly = 1;
        return NULL;
    }
    mpq_init(q);
    c->bigs[c->n_bigs++] = q;
    return q;
}

static int64_t gcd64(int64_t a, int64_t b)
{
    uint64_t x = a < 0 ? -(uint64_t)a : (uint64_t)a, y = b < 0 ? -(uint64_t)b : (uint64_t)b;
    while (y) {
        uint64_t t = x % y;
        x = y;
        y = t;
    }
    return (int64_t)x;
}

/* Set r to n/d (d != 0), reduced. Values of INT64_MIN are avoided by the
 * callers (they go big). */
static void set_small(mx_q *r, int64_t n, int64_t d)
{
    if (d < 0) {
        n = -n;
        d = -d;
    }
    int64_t g = gcd64(n, d);
    if (g > 1) {
        n /= g;
        d /= g;
    }
    r->n = n;
    r->d = d;
    r->big = NULL;
}

static void to_mpq(mpq_ptr dst, const mx_q *a)
{
    if (a->big) {
        mpq_set(dst, a->big);
        return;
    }
    mpz_set_si(mpq_numref(dst), (long)a->n);
    mpz_set_si(mpq_denref(dst), (long)a->d);
}

/* Bring a big result back to the small form when it fits; check its size. */
static int settle(mx_ctx *c, mx_q *r, mpq_ptr q)
{
    if (mpz_fits_slong_p(mpq_numref(q)) && mpz_fits_slong_p(mpq_denref(q))) {
        long n = mpz_get_si(mpq_numref(q)), d = mpz_get_si(mpq_denref(q));
        if (n != INT64_MIN && d != INT64_MIN) {
            r->n = n;
            r->d = d;
            r->big = NULL;
            return 0;
        }
    }
    size_t bits = mpz_sizeinbase(mpq_numref(q), 2) + mpz_sizeinbase(mpq_denref(q), 2);
    if (bits > (size_t)c->o->max_number_bits) {
        c->costly = 1;
        return -1;
    }
    r->big = q;
    return 0;
}

int mx_q_from_int(mx_ctx *c, mx_q *r, int64_t v)
{
    (void)c;
    r->n = v;
    r->d = 1;
    r->big = NULL;
    return 0;
}

int mx_q_from_decimal(mx_ctx *c, mx_q *r, const char *s, size_t n, int *decimals)
{
    /* digits with at most one '.', no sign */
    char buf[64];
    size_t k = 0, nd = 0;
    int dec = -1;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '.') {
            dec = 0;
            continue;
        }
        if (dec >= 0) dec++;
        nd++;
    }
    *decimals = dec;
    if ((double)nd * 3.33 > c->o->max_number_bits) {
        c->costly = 1;
        return -1;
    }
    if (nd <= 18) {
        int64_t v = 0;
        for (size_t i = 0; i < n; i++)
            if (s[i] != '.') v = v * 10 + (s[i] - '0');
        int64_t d = 1;
        for (int i = 0; i < (dec > 0 ? dec : 0); i++) d *= 10;
        set_small(r, v, d);
        return 0;
    }
    mpq_ptr q = new_big(c);
    if (!q) return -1;
    char *digits = nd < sizeof buf ? buf : mx_alloc(&c->arena, nd + 1);
    if (!digits) {
        c->costly = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (s[i] != '.') digits[k++] = s[i];
    digits[k] = 0;
    mpz_set_str(mpq_numref(q), digits, 10);
    mpz_ui_pow_ui(mpq_denref(q), 10, (unsigned long)(dec > 0 ? dec : 0));
    mpq_canonicalize(q);
    return settle(c, r, q);
}

int mx_q_add(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b)
{
    if (!a->big && !b->big) {
        int64_t x, y, n, d;
        if (!__builtin_mul_overflow(a->n, b->d, &x) && !__builtin_mul_overflow(b->n, a->d, &y)
            && !__builtin_add_overflow(x, y, &n) && !__builtin_mul_overflow(a->d, b->d, &d)
            && n != INT64_MIN) {
            set_small(r, n, d);
            return 0;
        }
    }
    mpq_ptr q = new_big(c), t = new_big(c);
    if (!q || !t) return -1;
    to_mpq(q, a);
    to_mpq(t, b);
    mpq_add(q, q, t);
    return settle(c, r, q);
}

void mx_q_neg(mx_ctx *c, mx_q *r, const mx_q *a)
{
    if (!a->big && a->n != INT64_MIN) {
        r->n = -a->n;
        r->d = a->d;
        r->big = NULL;
        return;
    }
    mpq_ptr q = new_big(c);
    if (!q) return;
    to_mpq(q, a);
    mpq_neg(q, q);
    settle(c, r, q);
}

void mx_q_abs(mx_ctx *c, mx_q *r, const mx_q *a)
{
    if (mx_q_sign(a) < 0) mx_q_neg(c, r, a);
    else *r = *a;
}

int mx_q_sub(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b)
{
    mx_q nb;
    mx_q_neg(c, &nb, b);
    if (c->costly) return -1;
    return mx_q_add(c, r, a, &nb);
}

int mx_q_mul(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b)
{
    if (!a->big && !b->big) {
        int64_t n, d;
        if (!__builtin_mul_overflow(a->n, b->n, &n) && !__builtin_mul_overflow(a->d, b->d, &d)
            && n != INT64_MIN) {
            set_small(r, n, d);
            return 0;
        }
    }
    if ((double)mx_q_bits(a) + (double)mx_q_bits(b) > 2.0 * c->o->max_number_bits) {
        c->costly = 1;
        return -1;
    }
    mpq_ptr q = new_big(c), t = new_big(c);
    if (!q || !t) return -1;
    to_mpq(q, a);
    to_mpq(t, b);
    mpq_mul(q, q, t);
    return settle(c, r, q);
}

int mx_q_div(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b)
{
    if (mx_q_sign(b) == 0) return -1;
    mx_q inv;
    if (!b->big) {
        if (b->n == INT64_MIN) return -1;
        set_small(&inv, b->d, b->n);
    } else {
        mpq_ptr q = new_big(c);
        if (!q) return -1;
        mpq_inv(q, b->big);
        if (settle(c, &inv, q)) return -1;
    }
    return mx_q_mul(c, r, a, &inv);
}

size_t mx_q_bits(const mx_q *a)
{
    if (a->big) return mpz_sizeinbase(mpq_numref(a->big), 2) + mpz_sizeinbase(mpq_denref(a->big), 2);
    uint64_t n = a->n < 0 ? -(uint64_t)a->n : (uint64_t)a->n;
    size_t b = 1;
    while (n >>= 1) b++;
    uint64_t d = (uint64_t)a->d;
    size_t e = 1;
    while (d >>= 1) e++;
    return b + e;
}

int mx_q_pow(mx_ctx *c, mx_q *r, const mx_q *a, int64_t e)
{
    int s = mx_q_sign(a);
    if (s == 0) {
        if (e < 0) return -1;
        return mx_q_from_int(c, r, e == 0 ? 1 : 0);
    }
    /* |a| = 1: trivially small */
    if (!a->big && a->d == 1 && (a->n == 1 || a->n == -1)) {
        int64_t v = (a->n == -1 && (e % 2 != 0)) ? -1 : 1;
        return mx_q_from_int(c, r, v);
    }
    uint64_t ue = e < 0 ? -(uint64_t)e : (uint64_t)e;
    double est = (double)(mx_q_bits(a) > 2 ? mx_q_bits(a) - 1 : 1) * (double)ue;
    if (est > c->o->max_number_bits) {
        c->costly = 1;
        return -1;
    }
    mpq_ptr q = new_big(c);
    if (!q) return -1;
    to_mpq(q, a);
    mpz_pow_ui(mpq_numref(q), mpq_numref(q), (unsigned long)ue);
    mpz_pow_ui(mpq_denref(q), mpq_denref(q), (unsigned long)ue);
    if (e < 0) mpq_inv(q, q);
    return settle(c, r, q);
}

int mx_q_fact(mx_ctx *c, mx_q *r, const mx_q *a)
{
    int64_t n;
    if (!mx_q_is_int(a, &n) || n < 0) return -1;
    /* log2(n!) ~ n log2 n - n log2 e */
    double bits = n < 2 ? 1 : (double)n * (log2((double)n) - 1.4427) + 1;
    if (bits > c->o->max_number_bits) {
        c->costly = 1;
        return -1;
    }
    if (n <= 20) {
        int64_t v = 1;
        for (int64_t i = 2; i <= n; i++) v *= i;
        return mx_q_from_int(c, r, v);
    }
    mpq_ptr q = new_big(c);
    if (!q) return -1;
    mpz_fac_ui(mpq_numref(q), (unsigned long)n);
    mpz_set_ui(mpq_denref(q), 1);
    return settle(c, r, q);
}

int mx_q_binom(mx_ctx *c, mx_q *r, const mx_q *n, const mx_q *k)
{
    int64_t nn, kk;
    if (!mx_q_is_int(n, &nn) || !mx_q_is_int(k, &kk) || nn < 0) return -1;
    if (kk < 0 || kk > nn) return mx_q_from_int(c, r, 0);
    if (kk > nn - kk) kk = nn - kk;
    double bits = (double)kk * log2((double)nn + 1);
    if (bits > c->o->max_number_bits) {
        c->costly = 1;
        return -1;
    }
    mpq_ptr q = new_big(c);
    if (!q) return -1;
    mpz_bin_uiui(mpq_numref(q), (unsigned long)nn, (unsigned long)kk);
    mpz_set_ui(mpq_denref(q), 1);
    return settle(c, r, q);
}

int mx_q_sqrt(mx_ctx *c, mx_q *r, const mx_q *a)
{
    if (mx_q_sign(a) < 0) return -1;
    if (!a->big) {
        int64_t sn = (int64_t)llround(sqrt((double)a->n)), sd = (int64_t)llround(sqrt((double)a->d));
        for (int64_t dn = -1; dn <= 1; dn++)
            for (int64_t dd = -1; dd <= 1; dd++) {
                int64_t x = sn + dn, y = sd + dd;
                if (x < 0 || y <= 0 || x > 3037000499LL || y > 3037000499LL) continue;
                if (x * x == a->n && y * y == a->d) {
                    set_small(r, x, y);
                    return 0;
                }
            }
        return -1;
    }
    if (!mpz_perfect_square_p(mpq_numref(a->big)) || !mpz_perfect_square_p(mpq_denref(a->big))) return -1;
    mpq_ptr q = new_big(c);
    if (!q) return -1;
    mpz_sqrt(mpq_numref(q), mpq_numref(a->big));
    mpz_sqrt(mpq_denref(q), mpq_denref(a->big));
    return settle(c, r, q);
}

int mx_q_sign(const mx_q *a)
{
    if (a->big) return mpq_sgn(a->big);
    return (a->n > 0) - (a->n < 0);
}

int mx_q_cmp(const mx_q *a, const mx_q *b)
{
    if (!a->big && !b->big) {
        if (a->d == b->d) return (a->n > b->n) - (a->n < b->n);
        __int128 x = (__int128)a->n * b->d, y = (__int128)b->n * a->d;
        return (x > y) - (x < y);
    }
    mpq_t x, y;
    mpq_init(x);
    mpq_init(y);
    to_mpq(x, a);
    to_mpq(y, b);
    int r = mpq_cmp(x, y);
    mpq_clear(x);
    mpq_clear(y);
    return (r > 0) - (r < 0);
}

int mx_q_is_int(const mx_q *a, int64_t *v)
{
    if (a->big) {
        if (mpz_cmp_ui(mpq_denref(a->big), 1) != 0 || !mpz_fits_slong_p(mpq_numref(a->big))) return 0;
        *v = mpz_get_si(mpq_numref(a->big));
        return 1;
    }
    if (a->d != 1) return 0;
    *v = a->n;
    return 1;
}

double mx_q_to_double(const mx_q *a)
{
    if (a->big) return mpq_get_d(a->big);
    return (double)a->n / (double)a->d;
}

int mx_q_within_half_ulp(mx_ctx *c, const mx_q *a, const mx_q *b, int k)
{
    if (k > 60) k = 60;
    mx_q diff, half, ten;
    if (mx_q_sub(c, &diff, a, b)) return 0;
    mx_q_abs(c, &diff, &diff);
    mx_q_from_int(c, &ten, 10);
    if (mx_q_pow(c, &half, &ten, -(int64_t)k)) return 0;
    mx_q two;
    mx_q_from_int(c, &two, 2);
    if (mx_q_div(c, &half, &half, &two)) return 0;
    return mx_q_cmp(&diff, &half) <= 0;
}

int mx_q_print(const mx_q *a, char *buf, size_t cap)
{
    if (!a->big) {
        if (a->d == 1) return snprintf(buf, cap, "%lld", (long long)a->n);
        return snprintf(buf, cap, "\\frac{%lld}{%lld}", (long long)a->n, (long long)a->d);
    }
    /* big numbers are summarised: their size, not their digits */
    size_t bits = mx_q_bits(a);
    if (mpz_cmp_ui(mpq_denref(a->big), 1) == 0 && bits < 200) {
        char tmp[80];
        mpz_get_str(tmp, 10, mpq_numref(a->big));
        return snprintf(buf, cap, "%s", tmp);
    }
    return snprintf(buf, cap, "<%zu-bit rational %.6g>", bits, mpq_get_d(a->big));
}
