/*
 * math_eq.c -- the math verifier's equivalence: is the prediction's tree
 * equal to the gold's?
 *
 * Rules, tried in this order for two scalars: both infinite (same sign);
 * both exact rationals (GMP-backed, bounded); a decimal written with at
 * least float_rounding places against an exact value it rounds to; both
 * constant (evaluated in complex double, equal within rel_tol); with
 * variables, evaluated at seeded random points, where a point at which
 * either side is NaN, infinite or ambiguous is no evidence, and fewer than
 * min_valid_points agreeing points leave the question undecided. The
 * structured kinds compare element by element: tuples in order, sets and
 * bare lists as sets, intervals with their ends, unions as sets of parts,
 * matrices by shape, equations up to a constant factor (inequalities up to
 * a positive one), `\pm` as a two-element set, percentages as the options
 * say, a named left side (x = 5) dropped when the other side is a value.
 *
 * Invariants: recursion carries a depth bounded by max_depth; every
 * evaluated node costs one unit of ctx->work, bounded by ctx->work_cap
 * (past it the comparison is "costly"); new nodes (intervals from
 * inequalities, matrix sums) come from the arena; nothing here allocates
 * with malloc except GMP inside math_num.c.
 */
#include "math_int.h"

#include <math.h>
#include <string.h>

#define MAX_SYMS 24

typedef struct syms {
    const char *name[MAX_SYMS];
    int len[MAX_SYMS];
    int n;
    int overflow;
} syms;

typedef struct env {
    const syms *s;
    double complex v[MAX_SYMS];
    const char *alias_from, *alias_to; /* non-strict: one name read as another */
    int alias_from_len, alias_to_len;
} env;

enum { EV_OK = 0, EV_UNDEF = -1, EV_STRUCT = -2, EV_COSTLY = -3 };

static int work(mx_ctx *c)
{
    if (++c->work > c->work_cap) {
        c->costly = 1;
        return -1;
    }
    return 0;
}


/* ---- symbols --------------------------------------------------------- */

static void collect(const mx_node *e, syms *s, int depth)
{
    if (!e || depth > 400) return;
    if (e->kind == MX_SYM) {
        for (int k = 0; k < s->n; k++)
            if (s->len[k] == e->slen && memcmp(s->name[k], e->s, (size_t)e->slen) == 0) return;
        if (s->n == MAX_SYMS) {
            s->overflow = 1;
            return;
        }
        s->name[s->n] = e->s;
        s->len[s->n] = e->slen;
        s->n++;
        return;
    }
    for (int k = 0; k < e->n; k++) collect(e->kid[k], s, depth + 1);
}

static int sym_index(const env *v, const char *name, int len)
{
    if (v->alias_from && len == v->alias_from_len && memcmp(name, v->alias_from, (size_t)len) == 0) {
        name = v->alias_to;
        len = v->alias_to_len;
    }
    for (int k = 0; k < v->s->n; k++)
        if (v->s->len[k] == len && memcmp(v->s->name[k], name, (size_t)len) == 0) return k;
    return -1;
}

static int has_kind(const mx_node *e, int kind, int depth)
{
    if (!e || depth > 400) return 0;
    if (e->kind == kind) return 1;
    for (int k = 0; k < e->n; k++)
        if (has_kind(e->kid[k], kind, depth + 1)) return 1;
    return 0;
}

/* ---- exact evaluation ------------------------------------------------ */

static int ex(mx_ctx *c, const mx_node *e, mx_q *r, int depth)
{
    if (depth > c->o->max_depth * 2 || work(c)) {
        c->costly = 1;
        return EV_COSTLY;
    }
    mx_q a, b;
    int s;
    switch (e->kind) {
    case MX_NUM: *r = e->q; return EV_OK;
    case MX_NEG:
        if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
        mx_q_neg(c, r, &a);
        return c->costly ? EV_COSTLY : EV_OK;
    case MX_ADD:
        if ((s = ex(c, e->kid[0], r, depth + 1))) return s;
        for (int k = 1; k < e->n; k++) {
            if ((s = ex(c, e->kid[k], &a, depth + 1))) return s;
            if (mx_q_add(c, r, r, &a)) return EV_COSTLY;
        }
        return EV_OK;
    case MX_MUL:
        if ((s = ex(c, e->kid[0], r, depth + 1))) return s;
        for (int k = 1; k < e->n; k++) {
            if ((s = ex(c, e->kid[k], &a, depth + 1))) return s;
            if (mx_q_mul(c, r, r, &a)) return EV_COSTLY;
        }
        return EV_OK;
    case MX_DIV:
        if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
        if ((s = ex(c, e->kid[1], &b, depth + 1))) return s;
        if (mx_q_div(c, r, &a, &b)) return c->costly ? EV_COSTLY : EV_UNDEF;
        return EV_OK;
    case MX_POW: {
        if ((s = ex(c, e->kid[1], &b, depth + 1))) return s;
        int64_t ev;
        if (mx_q_is_int(&b, &ev)) {
            if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
            if (ev > (int64_t)1 << 40 || ev < -((int64_t)1 << 40)) {
                if (mx_q_sign(&a) == 0 || mx_q_bits(&a) <= 3) {
                    /* 0, 1, -1 to a huge power: still small */
                    if (mx_q_pow(c, r, &a, ev % 2 ? 1 : 2)) return c->costly ? EV_COSTLY : EV_UNDEF;
                    if (mx_q_sign(&a) > 0 || mx_q_sign(&a) == 0) return EV_OK;
                }
                c->costly = 1;
                return EV_COSTLY;
            }
            if (mx_q_pow(c, r, &a, ev)) return c->costly ? EV_COSTLY : EV_UNDEF;
            return EV_OK;
        }
        /* a^(p/2) with a perfect square */
        mx_q two, twice;
        mx_q_from_int(c, &two, 2);
        if (mx_q_mul(c, &twice, &b, &two) == 0 && mx_q_is_int(&twice, &ev)) {
            if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
            mx_q root;
            if (mx_q_sqrt(c, &root, &a)) return c->costly ? EV_COSTLY : EV_STRUCT;
            if (mx_q_pow(c, r, &root, ev)) return c->costly ? EV_COSTLY : EV_UNDEF;
            return EV_OK;
        }
        return EV_STRUCT;
    }
    case MX_FACT:
        if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
        if (mx_q_fact(c, r, &a)) return c->costly ? EV_COSTLY : EV_STRUCT;
        return EV_OK;
    case MX_PCT:
        if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
        if (c->o->percent == RLVR_MATH_PERCENT_STRIP) {
            *r = a;
            return EV_OK;
        }
        mx_q_from_int(c, &b, 100);
        if (mx_q_div(c, r, &a, &b)) return EV_COSTLY;
        return EV_OK;
    case MX_FUNC:
        if (e->op == MX_F_SQRT) {
            if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
            if (mx_q_sqrt(c, r, &a)) return c->costly ? EV_COSTLY : EV_STRUCT;
            return EV_OK;
        }
        if (e->op == MX_F_ROOT) {
            int64_t k;
            if ((s = ex(c, e->kid[1], &b, depth + 1))) return s;
            if (!mx_q_is_int(&b, &k) || k < 2 || k > 64) return EV_STRUCT;
            if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
            int neg = mx_q_sign(&a) < 0;
            if (neg && k % 2 == 0) return EV_STRUCT;
            mx_q x;
            mx_q_abs(c, &x, &a);
            double approx = pow(mx_q_to_double(&x), 1.0 / (double)k);
            if (!(approx < 1e15)) return EV_STRUCT;
            /* a rational root r = p/q: test the nearest candidates exactly */
            if (x.big) return EV_STRUCT;
            double dn = pow((double)x.n, 1.0 / (double)k), dd = pow((double)x.d, 1.0 / (double)k);
            int64_t rn = (int64_t)llround(dn), rd = (int64_t)llround(dd);
            if (rd <= 0) return EV_STRUCT;
            mx_q cand, pw, nq, dq;
            mx_q_from_int(c, &nq, rn);
            mx_q_from_int(c, &dq, rd);
            if (mx_q_div(c, &cand, &nq, &dq) || mx_q_pow(c, &pw, &cand, k)) return c->costly ? EV_COSTLY : EV_STRUCT;
            if (mx_q_cmp(&pw, &x) != 0) return EV_STRUCT;
            if (neg) mx_q_neg(c, &cand, &cand);
            *r = cand;
            return EV_OK;
        }
        if (e->op == MX_F_ABS) {
            if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
            mx_q_abs(c, r, &a);
            return EV_OK;
        }
        if (e->op == MX_F_BINOM) {
            if ((s = ex(c, e->kid[0], &a, depth + 1))) return s;
            if ((s = ex(c, e->kid[1], &b, depth + 1))) return s;
            if (mx_q_binom(c, r, &a, &b)) return c->costly ? EV_COSTLY : EV_STRUCT;
            return EV_OK;
        }
        if ((e->op == MX_F_GCD || e->op == MX_F_LCM) && e->n >= 1) {
            int64_t acc = 0;
            for (int k = 0; k < e->n; k++) {
                int64_t v;
                if ((s = ex(c, e->kid[k], &a, depth + 1))) return s;
                if (!mx_q_is_int(&a, &v) || v < -((int64_t)1 << 31) || v > ((int64_t)1 << 31)) return EV_STRUCT;
                if (v < 0) v = -v;
                if (k == 0) acc = v;
                else if (e->op == MX_F_GCD) {
                    int64_t x = acc, y = v;
                    while (y) {
                        int64_t t = x % y;
                        x = y;
                        y = t;
                    }
                    acc = x;
                } else {
                    int64_t x = acc, y = v;
                    while (y) {
                        int64_t t = x % y;
                        x = y;
                        y = t;
                    }
                    if (x == 0) acc = 0;
                    else if (__builtin_mul_overflow(acc / x, v, &acc)) return EV_STRUCT;
                }
            }
            return mx_q_from_int(c, r, acc) ? EV_COSTLY : EV_OK;
        }
        return EV_STRUCT;
    default: return EV_STRUCT;
    }
}

/* ---- numeric evaluation ------------------------------------------- */

static int cfinite(double complex z)
{
    return isfinite(creal(z)) && isfinite(cimag(z));
}

static double complex apply_unknown(const mx_node *e, const double complex *a, int n)
{
    /* an unknown function f(x): a fixed smooth function chosen by its name */
    uint64_t h = 1469598103934665603ULL;
    for (int k = 0; k < e->slen; k++) h = (h ^ (unsigned char)e->s[k]) * 1099511628211ULL;
    double complex r = 0.3 + (double)(h % 97) / 97.0;
    for (int k = 0; k < n; k++) {
        double w = 0.5 + (double)((h >> (8 * (k % 7))) % 89) / 89.0;
        r += csin(w * a[k] + 0.1 * (k + 1)) * (1.0 + k * 0.37);
    }
    return r;
}

static int nv(mx_ctx *c, const mx_node *e, const env *v, double complex *r, int depth)
{
    if (depth > c->o->max_depth * 2 || work(c)) {
        c->costly = 1;
        return EV_COSTLY;
    }
    double complex a, b;
    int s;
    switch (e->kind) {
    case MX_NUM: *r = mx_q_to_double(&e->q); return EV_OK;
    case MX_SYM: {
        int k = v ? sym_index(v, e->s, e->slen) : -1;
        if (k < 0) return EV_STRUCT;
        *r = v->v[k];
        return EV_OK;
    }
    case MX_CONST:
        switch (e->op) {
        case MX_C_PI: *r = M_PI; return EV_OK;
        case MX_C_E: *r = M_E; return EV_OK;
        case MX_C_I: *r = I; return EV_OK;
        default: return EV_UNDEF;
        }
    case MX_NEG:
        if ((s = nv(c, e->kid[0], v, &a, depth + 1))) return s;
        *r = -a;
        return EV_OK;
    case MX_ADD:
        *r = 0;
        for (int k = 0; k < e->n; k++) {
            if ((s = nv(c, e->kid[k], v, &a, depth + 1))) return s;
            *r += a;
        }
        return EV_OK;
    case MX_MUL:
        *r = 1;
        for (int k = 0; k < e->n; k++) {
            if ((s = nv(c, e->kid[k], v, &a, depth + 1))) return s;
            *r *= a;
        }
        return EV_OK;
    case MX_DIV:
        if ((s = nv(c, e->kid[0], v, &a, depth + 1))) return s;
        if ((s = nv(c, e->kid[1], v, &b, depth + 1))) return s;
        if (cabs(b) == 0) return EV_UNDEF;
        *r = a / b;
        break;
    case MX_POW: {
        if ((s = nv(c, e->kid[0], v, &a, depth + 1))) return s;
        if ((s = nv(c, e->kid[1], v, &b, depth + 1))) return s;
        if (cabs(b) > 1e6 && cabs(a) > 1.0001) return EV_UNDEF;
        if (cimag(b) == 0 && creal(b) == floor(creal(b)) && fabs(creal(b)) <= 64) {
            /* integer powers by multiplication: exact signs for negative bases */
            int n = (int)creal(b);
            double complex x = 1, base = n < 0 ? 1.0 / a : a;
            if (n < 0 && cabs(a) == 0) return EV_UNDEF;
            for (int k = 0; k < (n < 0 ? -n : n); k++) x *= base;
            *r = x;
        } else if (cabs(a) == 0) {
            *r = creal(b) > 0 ? 0 : NAN;
        } else {
            *r = cpow(a, b);
        }
        break;
    }
    case MX_FACT:
        if ((s = nv(c, e->kid[0], v, &a, depth + 1))) return s;
        if (cimag(a) != 0 || creal(a) < 0 || creal(a) > 170) return EV_UNDEF;
        *r = tgamma(creal(a) + 1);
        break;
    case MX_PCT:
        if ((s = nv(c, e->kid[0], v, &a, depth + 1))) return s;
        *r = c->o->percent == RLVR_MATH_PERCENT_STRIP ? a : a / 100.0;
        break;
    case MX_RATIO:
        if ((s = nv(c, e->kid[0], v, &a, depth + 1))) return s;
        if ((s = nv(c, e->kid[1], v, &b, depth + 1))) return s;
        if (cabs(b) == 0) return EV_UNDEF;
        *r = a / b;
        break;
    case MX_FUNC: {
        double complex args[8];
        int n = e->n < 8 ? e->n : 8;
        for (int k = 0; k < n; k++)
            if ((s = nv(c, e->kid[k], v, &args[k], depth + 1))) return s;
        a = args[0];
        switch (e->op) {
        case MX_F_SQRT: *r = csqrt(a); break;
        case MX_F_ROOT: {
            b = args[1];
            if (cabs(b) == 0) return EV_UNDEF;
            /* the principal root, as a^(1/n) is read (the exact path gives
             * \sqrt[3]{-8} = -2) */
            *r = cpow(a, 1.0 / b);
            break;
        }
        case MX_F_SIN: *r = csin(a); break;
        case MX_F_COS: *r = ccos(a); break;
        case MX_F_TAN: *r = ctan(a); break;
        case MX_F_SEC: *r = 1.0 / ccos(a); break;
        case MX_F_CSC: *r = 1.0 / csin(a); break;
        case MX_F_COT: *r = ccos(a) / csin(a); break;
        case MX_F_ASIN: *r = casin(a); break;
        case MX_F_ACOS: *r = cacos(a); break;
        case MX_F_ATAN: *r = catan(a); break;
        case MX_F_SINH: *r = csinh(a); break;
        case MX_F_COSH: *r = ccosh(a); break;
        case MX_F_TANH: *r = ctanh(a); break;
        case MX_F_LN: case MX_F_LOG:
            if (cabs(a) == 0) return EV_UNDEF;
            *r = clog(a);
            break;
        case MX_F_LOGB:
            if (cabs(a) == 0 || cabs(args[1]) == 0 || cabs(args[1] - 1.0) == 0) return EV_UNDEF;
            *r = clog(a) / clog(args[1]);
            break;
        case MX_F_EXP: *r = cexp(a); break;
        case MX_F_ABS: *r = cabs(a); break;
        case MX_F_FLOOR: if (cimag(a) != 0) return EV_UNDEF; *r = floor(creal(a)); break;
        case MX_F_CEIL: if (cimag(a) != 0) return EV_UNDEF; *r = ceil(creal(a)); break;
        case MX_F_BINOM:
            if (cimag(a) != 0 || cimag(args[1]) != 0) return EV_UNDEF;
            *r = tgamma(creal(a) + 1) / (tgamma(creal(args[1]) + 1) * tgamma(creal(a) - creal(args[1]) + 1));
            break;
        case MX_F_MAX: case MX_F_MIN: {
            double m = creal(args[0]);
            for (int k = 0; k < n; k++) {
                if (cimag(args[k]) != 0) return EV_UNDEF;
                m = e->op == MX_F_MAX ? fmax(m, creal(args[k])) : fmin(m, creal(args[k]));
            }
            *r = m;
            break;
        }
        case MX_F_APPLY: *r = apply_unknown(e, args, n); break;
        default: return EV_STRUCT; /* gcd/lcm of non-integers */
        }
        break;
    }
    default: return EV_STRUCT;
    }
    return cfinite(*r) ? EV_OK : EV_UNDEF;
}

/* ---- scalars ------------------------------------------------------- */

/* +1 / -1 for an infinite value (\infty, -\infty, +\infty), 0 otherwise. */
static int infinity_sign(const mx_node *e)
{
    if (e->kind == MX_CONST && e->op == MX_C_INF) return 1;
    if (e->kind == MX_NEG) return -infinity_sign(e->kid[0]);
    return 0;
}

/* A decimal literal (3.14, -0.5): its places, else -1. */
static int decimal_places(const mx_node *e)
{
    if (e->kind == MX_NEG) return decimal_places(e->kid[0]);
    if (e->kind == MX_NUM) return e->decimals;
    return -1;
}

static int is_scalar(const mx_node *e)
{
    switch (e->kind) {
    case MX_TUPLE: case MX_SET: case MX_LIST: case MX_INTERVAL: case MX_UNION: case MX_MATRIX:
    case MX_REL: case MX_TEXT: case MX_CHOICE: case MX_PM:
        return 0;
    default: return 1;
    }
}

static int close_enough(double complex a, double complex b, double tol)
{
    double d = cabs(a - b), m = fmax(cabs(a), cabs(b));
    return d <= tol * m + 1e-15;
}

static void point(mx_ctx *c, env *v, int k)
{
    for (int j = 0; j < v->s->n; j++) {
        double u = (double)(mx_rand(c) >> 11) / 9007199254740992.0;
        double x = 0.35 + 2.3 * u;         /* (0.35, 2.65): away from 0 and 1 */
        if (k % 3 == 2) x = -x;             /* some points negative */
        if (k % 4 == 3) v->v[j] = x + I * (0.2 + u); /* and some complex */
        else v->v[j] = x;
    }
}

static int cmp_scalar_once(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule)
{
    int sg = infinity_sign(g), sp = infinity_sign(p);
    if (sg || sp) {
        *rule = "numeric";
        return sg == sp ? MX_CMP_EQ : MX_CMP_NE;
    }
    mx_q qg, qp;
    int eg = ex(c, g, &qg, 0);
    if (eg == EV_COSTLY) return MX_CMP_COSTLY;
    int ep = ex(c, p, &qp, 0);
    if (ep == EV_COSTLY) return MX_CMP_COSTLY;
    int fr = c->o->float_rounding;
    if (eg == EV_OK && ep == EV_OK) {
        if (mx_q_cmp(&qg, &qp) == 0) {
            *rule = "rational";
            return MX_CMP_EQ;
        }
        int kp = decimal_places(p), kg = decimal_places(g);
        if (fr >= 0 && kp >= fr && kp >= 0 && mx_q_within_half_ulp(c, &qg, &qp, kp)) {
            *rule = "rounded";
            return MX_CMP_EQ;
        }
        if (fr >= 0 && kg >= fr && kg >= 0 && mx_q_within_half_ulp(c, &qg, &qp, kg)) {
            *rule = "rounded";
            return MX_CMP_EQ;
        }
        *rule = "rational";
        return MX_CMP_NE;
    }
    syms s = {0};
    collect(g, &s, 0);
    int ng = s.n;
    collect(p, &s, 0);
    if (s.overflow) return MX_CMP_COSTLY;
    env v = {&s, {0}, NULL, NULL, 0, 0};
    if (!c->o->strict && ng == 1 && s.n == 2) {
        /* f(x) against f(y): read the prediction's variable as the gold's */
        v.alias_from = s.name[1];
        v.alias_from_len = s.len[1];
        v.alias_to = s.name[0];
        v.alias_to_len = s.len[0];
    }
    if (s.n == 0) {
        double complex a, b;
        int rg = nv(c, g, &v, &a, 0);
        if (rg == EV_COSTLY) return MX_CMP_COSTLY;
        int rp = nv(c, p, &v, &b, 0);
        if (rp == EV_COSTLY) return MX_CMP_COSTLY;
        if (rg || rp) {
            /* a value against something undefined (1/0, 0^{-1}) differs; only a
             * gold that is itself undefined leaves the question open */
            *rule = "numeric";
            if (rg == EV_STRUCT || rp == EV_STRUCT) return MX_CMP_NE;
            return rg == EV_OK ? MX_CMP_NE : MX_CMP_UNDECIDED;
        }
        *rule = "numeric";
        if (close_enough(a, b, c->o->rel_tol)) return MX_CMP_EQ;
        int kp = decimal_places(p), kg = decimal_places(g);
        int k = kp >= 0 ? kp : kg;
        if (fr >= 0 && k >= fr && cimag(a) == 0 && cimag(b) == 0) {
            double half = 0.5 * pow(10.0, -k);
            if (fabs(creal(a) - creal(b)) <= half * (1 + 1e-9) + 1e-15 * fabs(creal(a))) {
                *rule = "rounded";
                return MX_CMP_EQ;
            }
        }
        return MX_CMP_NE;
    }
    /* variables: random points */
    *rule = "symbolic";
    int agree = 0, n = c->o->eval_points;
    for (int k = 0; k < n; k++) {
        point(c, &v, k);
        double complex a, b;
        int rg = nv(c, g, &v, &a, 0);
        if (rg == EV_COSTLY) return MX_CMP_COSTLY;
        int rp = nv(c, p, &v, &b, 0);
        if (rp == EV_COSTLY) return MX_CMP_COSTLY;
        if (rg == EV_STRUCT || rp == EV_STRUCT) return MX_CMP_NE;
        if (rg || rp) continue; /* NaN, infinite: no evidence either way */
        double d = cabs(a - b), m = fmax(cabs(a), cabs(b));
        if (d <= 1e-9 * (m > 1 ? m : 1)) agree++;
        else if (d > 1e-6 * m + 1e-9) return MX_CMP_NE;
    }
    return agree >= c->o->min_valid_points ? MX_CMP_EQ : MX_CMP_UNDECIDED;
}

static int cmp_scalar(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule)
{
    int r = cmp_scalar_once(c, g, p, rule);
    if (r == MX_CMP_NE && c->o->percent == RLVR_MATH_PERCENT_BOTH
        && (has_kind(g, MX_PCT, 0) || has_kind(p, MX_PCT, 0))) {
        /* 10% against 10: the percent sign dropped */
        rlvr_math_options o2 = *c->o;
        o2.percent = RLVR_MATH_PERCENT_STRIP;
        const rlvr_math_options *keep = c->o;
        c->o = &o2;
        r = cmp_scalar_once(c, g, p, rule);
        c->o = keep;
        if (r == MX_CMP_EQ) *rule = "percent";
    }
    return r;
}

/* ---- structure ----------------------------------------------------- */

static int cmp(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule, int depth);

/* A name: variables, subscripts, f(x), |AB|, ratios and quotients of
 * names, tuples of names. No numbers, no sums. */
static int is_label(const mx_node *e, int depth)
{
    if (!e || depth > 50) return 0;
    switch (e->kind) {
    case MX_SYM: return 1;
    case MX_CONST: return e->op == MX_C_E || e->op == MX_C_I; /* a letter read as a constant */
    case MX_FUNC:
        if (e->op == MX_F_APPLY || e->op == MX_F_ABS) {
            for (int k = 0; k < e->n; k++)
                if (!is_label(e->kid[k], depth + 1)) return 0;
            return 1;
        }
        return 0;
    case MX_MUL: case MX_DIV: case MX_RATIO: case MX_TUPLE:
        for (int k = 0; k < e->n; k++)
            if (!is_label(e->kid[k], depth + 1)) return 0;
        return 1;
    default: return 0;
    }
}

/* Reduce a relation: drop "\approx" tails, and an equality chain
 * (x = 5 + 5 + 1 = 11) to its named side and its last value. */
static const mx_node *reduce_rel(mx_ctx *c, const mx_node *e)
{
    if (e->kind != MX_REL) return e;
    int n = e->n;
    for (int k = 0; k < e->n - 1; k++)
        if (e->ops[k] == MX_R_APPROX) {
            n = k + 1;
            break;
        }
    if (n == 1) {
        /* x \approx 11 is x = 11; \frac{\sqrt3}{3} \approx 0.577 is the exact side */
        if (is_label(e->kid[0], 0)) {
            mx_node *r = mx_node_new(c, MX_REL, 2);
            uint8_t *ops = mx_alloc(&c->arena, 1);
            if (!r || !ops) return e;
            ops[0] = MX_R_EQ;
            r->kid[0] = e->kid[0];
            r->kid[1] = e->kid[1];
            r->ops = ops;
            return r;
        }
        return e->kid[0];
    }
    int all_eq = 1;
    for (int k = 0; k < n - 1; k++)
        if (e->ops[k] != MX_R_EQ) all_eq = 0;
    if (n == e->n && (n == 2 || !all_eq)) return e;
    if (!all_eq) {
        mx_node *r = mx_node_new(c, MX_REL, n);
        if (!r) return e;
        for (int k = 0; k < n; k++) r->kid[k] = e->kid[k];
        r->ops = e->ops;
        return r;
    }
    if (n == 2) {
        mx_node *r = mx_node_new(c, MX_REL, 2);
        if (!r) return e;
        r->kid[0] = e->kid[0];
        r->kid[1] = e->kid[1];
        r->ops = e->ops;
        return r;
    }
    const mx_node *label = NULL;
    for (int k = 0; k < n - 1; k++)
        if (is_label(e->kid[k], 0)) {
            label = e->kid[k];
            break;
        }
    if (!label) return e->kid[n - 1];
    mx_node *r = mx_node_new(c, MX_REL, 2);
    if (!r) return e;
    r->kid[0] = (mx_node *)label;
    r->kid[1] = e->kid[n - 1];
    r->ops = e->ops;
    return r;
}

/* x = 5 -> 5, x \in S -> S (when the left side is a name). */
static const mx_node *value_of(const mx_ctx *c, const mx_node *e)
{
    if (e->kind != MX_REL || e->n != 2) return NULL;
    if (e->ops[0] == MX_R_IN && is_label(e->kid[0], 0)) return e->kid[1];
    if (e->ops[0] == MX_R_EQ && c->o->equation_rhs) {
        if (is_label(e->kid[0], 0)) return e->kid[1];
    }
    return NULL;
}

static int flip(int op)
{
    switch (op) {
    case MX_R_LT: return MX_R_GT;
    case MX_R_LE: return MX_R_GE;
    case MX_R_GT: return MX_R_LT;
    case MX_R_GE: return MX_R_LE;
    default: return op;
    }
}

static mx_node *infinity(mx_ctx *c, int sign)
{
    mx_node *i = mx_node_new(c, MX_CONST, 0);
    if (!i) return NULL;
    i->op = MX_C_INF;
    if (sign > 0) return i;
    mx_node *n = mx_node_new(c, MX_NEG, 1);
    if (n) n->kid[0] = i;
    return n;
}

/* An inequality in one variable as an interval: a < x <= b, x > a, 5 >= x. */
static mx_node *as_interval(mx_ctx *c, const mx_node *e)
{
    if (e->kind != MX_REL || e->n < 2 || e->n > 3) return NULL;
    for (int k = 0; k < e->n - 1; k++)
        if (e->ops[k] < MX_R_LT || e->ops[k] > MX_R_GE) return NULL;
    syms s = {0};
    mx_node *lo = NULL, *hi = NULL;
    int flags = 0;
    if (e->n == 3) {
        int up = e->ops[0] == MX_R_LT || e->ops[0] == MX_R_LE;
        int up2 = e->ops[1] == MX_R_LT || e->ops[1] == MX_R_LE;
        if (up != up2 || !is_label(e->kid[1], 0)) return NULL;
        collect(e->kid[0], &s, 0);
        collect(e->kid[2], &s, 0);
        if (s.n) return NULL;
        lo = up ? e->kid[0] : e->kid[2];
        hi = up ? e->kid[2] : e->kid[0];
        int lo_op = up ? e->ops[0] : e->ops[1], hi_op = up ? e->ops[1] : e->ops[0];
        if (lo_op == MX_R_LE || lo_op == MX_R_GE) flags |= MX_LO_CLOSED;
        if (hi_op == MX_R_LE || hi_op == MX_R_GE) flags |= MX_HI_CLOSED;
    } else {
        int op = e->ops[0];
        const mx_node *var = e->kid[0], *bound = e->kid[1];
        if (!is_label(var, 0)) {
            var = e->kid[1];
            bound = e->kid[0];
            op = flip(op);
            if (!is_label(var, 0)) return NULL;
        }
        collect(bound, &s, 0);
        if (s.n) return NULL;
        if (op == MX_R_LT || op == MX_R_LE) {
            lo = infinity(c, -1);
            hi = (mx_node *)bound;
            if (op == MX_R_LE) flags |= MX_HI_CLOSED;
        } else {
            lo = (mx_node *)bound;
            hi = infinity(c, 1);
            if (op == MX_R_GE) flags |= MX_LO_CLOSED;
        }
    }
    if (!lo || !hi) return NULL;
    mx_node *r = mx_node_new(c, MX_INTERVAL, 2);
    if (!r) return NULL;
    r->kid[0] = lo;
    r->kid[1] = hi;
    r->flags = (uint8_t)flags;
    return r;
}

/* Relations: the same relation up to a constant factor of (left - right). */
static int cmp_rel(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule, int depth)
{
    *rule = "equation";
    if (g->n != p->n) return MX_CMP_NE;
    if (g->n > 2) {
        /* chains: side by side, or reversed */
        for (int dir = 0; dir < 2; dir++) {
            int ok = 1;
            for (int k = 0; k < g->n && ok; k++) {
                int pk = dir ? p->n - 1 - k : k;
                if (k < g->n - 1) {
                    int po = dir ? flip(p->ops[p->n - 2 - k]) : p->ops[k];
                    if (po != g->ops[k]) ok = 0;
                }
                const char *r;
                if (ok && cmp(c, g->kid[k], p->kid[pk], &r, depth + 1) != MX_CMP_EQ) ok = 0;
            }
            if (ok) {
                *rule = "inequality";
                return MX_CMP_EQ;
            }
        }
        return MX_CMP_NE;
    }
    int go = g->ops[0], po = p->ops[0];
    const mx_node *gl = g->kid[0], *gr = g->kid[1], *pl = p->kid[0], *pr = p->kid[1];
    if (go == MX_R_GT || go == MX_R_GE) {
        go = flip(go);
        const mx_node *t = gl;
        gl = gr;
        gr = t;
    }
    if (po == MX_R_GT || po == MX_R_GE) {
        po = flip(po);
        const mx_node *t = pl;
        pl = pr;
        pr = t;
    }
    if (go != po) return MX_CMP_NE;
    if (go != MX_R_EQ && go != MX_R_NE) *rule = "inequality";
    const char *r;
    /* side by side */
    if (cmp(c, gl, pl, &r, depth + 1) == MX_CMP_EQ && cmp(c, gr, pr, &r, depth + 1) == MX_CMP_EQ) return MX_CMP_EQ;
    if ((go == MX_R_EQ || go == MX_R_NE) && cmp(c, gl, pr, &r, depth + 1) == MX_CMP_EQ
        && cmp(c, gr, pl, &r, depth + 1) == MX_CMP_EQ)
        return MX_CMP_EQ;
    if (!is_scalar(gl) || !is_scalar(gr) || !is_scalar(pl) || !is_scalar(pr)) return MX_CMP_NE;
    /* (gl - gr) = k (pl - pr) for one constant k (k > 0 for inequalities) */
    syms s = {0};
    collect(g, &s, 0);
    collect(p, &s, 0);
    if (s.overflow) return MX_CMP_COSTLY;
    if (s.n == 0) return MX_CMP_NE;
    env v = {&s, {0}, NULL, NULL, 0, 0};
    double complex ratio = 0;
    int have = 0, agree = 0;
    for (int k = 0; k < c->o->eval_points + 4; k++) {
        point(c, &v, k);
        double complex a, b, d, e2;
        int s1 = nv(c, gl, &v, &a, 0), s2 = nv(c, gr, &v, &b, 0), s3 = nv(c, pl, &v, &d, 0),
            s4 = nv(c, pr, &v, &e2, 0);
        if (c->costly) return MX_CMP_COSTLY;
        if (s1 == EV_STRUCT || s2 == EV_STRUCT || s3 == EV_STRUCT || s4 == EV_STRUCT) return MX_CMP_NE;
        if (s1 || s2 || s3 || s4) continue;
        double complex fg = a - b, fp = d - e2;
        double mg = fmax(cabs(a), cabs(b)), mp = fmax(cabs(d), cabs(e2));
        int zg = cabs(fg) <= 1e-10 * (mg > 1 ? mg : 1), zp = cabs(fp) <= 1e-10 * (mp > 1 ? mp : 1);
        if (zg != zp) return MX_CMP_NE;
        if (zg) continue;
        double complex q = fg / fp;
        if (!have) {
            ratio = q;
            have = 1;
            if (go != MX_R_EQ && go != MX_R_NE && (cimag(q) != 0 || creal(q) <= 0)) {
                if (cimag(v.v[0]) == 0) return MX_CMP_NE;
                have = 0;
                continue;
            }
            agree++;
        } else if (cabs(q - ratio) <= 1e-8 * cabs(ratio)) {
            agree++;
        } else if (cabs(q - ratio) > 1e-6 * cabs(ratio)) {
            return MX_CMP_NE;
        }
    }
    return agree >= c->o->min_valid_points ? MX_CMP_EQ : MX_CMP_UNDECIDED;
}

/* Expand \pm into its two values: e with every \pm read as + (sign 1) or
 * - (sign -1). */
static mx_node *pm_pick(mx_ctx *c, const mx_node *e, int sign, int depth)
{
    if (!e || depth > 200) return (mx_node *)e;
    if (!has_kind(e, MX_PM, 0)) return (mx_node *)e;
    if (e->kind == MX_PM) {
        mx_node *a = pm_pick(c, e->kid[0], sign, depth + 1), *b = pm_pick(c, e->kid[1], sign, depth + 1);
        mx_node *r = mx_node_new(c, MX_ADD, 2);
        if (!r) return NULL;
        r->kid[0] = a;
        if (sign > 0) r->kid[1] = b;
        else {
            mx_node *n = mx_node_new(c, MX_NEG, 1);
            if (!n) return NULL;
            n->kid[0] = b;
            r->kid[1] = n;
        }
        return r;
    }
    mx_node *r = mx_node_new(c, e->kind, e->n);
    if (!r) return NULL;
    mx_node **kid = r->kid;
    *r = *e;
    r->kid = kid;
    for (int k = 0; k < e->n; k++) r->kid[k] = pm_pick(c, e->kid[k], sign, depth + 1);
    return r;
}

/* Elements of a collection, with \pm elements expanded. */
typedef struct elems {
    const mx_node **v;
    int n;
} elems;

static int gather(mx_ctx *c, const mx_node *e, elems *out)
{
    int n = 0;
    int cap = 2 * (e->n ? e->n : 1);
    out->v = mx_alloc(&c->arena, (size_t)cap * sizeof(mx_node *));
    if (!out->v) {
        c->costly = 1;
        return -1;
    }
    for (int k = 0; k < e->n; k++) {
        const mx_node *x = e->kid[k];
        if (is_scalar(x) || x->kind == MX_PM) {
            if (has_kind(x, MX_PM, 0)) {
                out->v[n++] = pm_pick(c, x, 1, 0);
                out->v[n++] = pm_pick(c, x, -1, 0);
                continue;
            }
        }
        out->v[n++] = x;
    }
    out->n = n;
    return c->costly ? -1 : 0;
}

/* Sets: every element of each side equals some element of the other. */
static int cmp_sets(mx_ctx *c, const elems *g, const elems *p, int depth)
{
    if (g->n == 0 || p->n == 0) return g->n == p->n ? MX_CMP_EQ : MX_CMP_NE;
    if ((size_t)g->n * (size_t)p->n > 65536) {
        c->costly = 1;
        return MX_CMP_COSTLY;
    }
    uint8_t *m = mx_alloc(&c->arena, (size_t)g->n * (size_t)p->n);
    if (!m) return MX_CMP_COSTLY;
    int undecided = 0;
    for (int i = 0; i < g->n; i++)
        for (int j = 0; j < p->n; j++) {
            const char *r;
            int x = cmp(c, g->v[i], p->v[j], &r, depth + 1);
            if (x == MX_CMP_COSTLY) return x;
            if (x == MX_CMP_UNDECIDED) undecided = 1;
            m[i * p->n + j] = x == MX_CMP_EQ;
        }
    for (int i = 0; i < g->n; i++) {
        int any = 0;
        for (int j = 0; j < p->n; j++) any |= m[i * p->n + j];
        if (!any) return undecided ? MX_CMP_UNDECIDED : MX_CMP_NE;
    }
    for (int j = 0; j < p->n; j++) {
        int any = 0;
        for (int i = 0; i < g->n; i++) any |= m[i * p->n + j];
        if (!any) return undecided ? MX_CMP_UNDECIDED : MX_CMP_NE;
    }
    return MX_CMP_EQ;
}

static int cmp_ordered(mx_ctx *c, const mx_node *g, const mx_node *p, int depth)
{
    if (g->n != p->n) return MX_CMP_NE;
    int undecided = 0;
    for (int k = 0; k < g->n; k++) {
        const char *r;
        int x = cmp(c, g->kid[k], p->kid[k], &r, depth + 1);
        if (x == MX_CMP_COSTLY || x == MX_CMP_NE) return x;
        if (x != MX_CMP_EQ) undecided = 1;
    }
    return undecided ? MX_CMP_UNDECIDED : MX_CMP_EQ;
}

static int text_eq(const char *a, int an, const char *b, int bn)
{
    int i = 0, j = 0;
    for (;;) {
        while (i < an && (a[i] == ' ' || a[i] == '\\' || a[i] == '~' || a[i] == '{' || a[i] == '}')) i++;
        while (j < bn && (b[j] == ' ' || b[j] == '\\' || b[j] == '~' || b[j] == '{' || b[j] == '}')) j++;
        if (i == an || j == bn) return i == an && j == bn;
        int x = (unsigned char)a[i], y = (unsigned char)b[j];
        if (x >= 'A' && x <= 'Z') x += 32;
        if (y >= 'A' && y <= 'Z') y += 32;
        if (x != y) return 0;
        i++;
        j++;
    }
}

/* The letters of a node that reads as text: a text, a variable, a product
 * of variables (odd read as o*d*d), e read as the constant. */
static int as_letters(const mx_node *e, char *buf, int cap, int *n)
{
    if (e->kind == MX_TEXT || e->kind == MX_SYM || e->kind == MX_CHOICE) {
        if (*n + e->slen > cap) return 0;
        memcpy(buf + *n, e->s, (size_t)e->slen);
        *n += e->slen;
        return 1;
    }
    if (e->kind == MX_CONST && (e->op == MX_C_E || e->op == MX_C_I)) {
        if (*n + 1 > cap) return 0;
        buf[(*n)++] = e->op == MX_C_E ? 'e' : 'i';
        return 1;
    }
    if (e->kind == MX_MUL) {
        for (int k = 0; k < e->n; k++)
            if (!as_letters(e->kid[k], buf, cap, n)) return 0;
        return 1;
    }
    return 0;
}

/* Matrix arithmetic written out: A + B, A B, k A. */
static const mx_node *fold_matrix(mx_ctx *c, const mx_node *e, int depth)
{
    if (!e || depth > 20) return e;
    if (e->kind == MX_NEG) {
        const mx_node *a = fold_matrix(c, e->kid[0], depth + 1);
        if (a->kind != MX_MATRIX) return e;
        mx_node *r = mx_node_new(c, MX_MATRIX, a->n);
        if (!r) return e;
        r->rows = a->rows;
        r->cols = a->cols;
        for (int k = 0; k < a->n; k++) {
            mx_node *n = mx_node_new(c, MX_NEG, 1);
            if (!n) return e;
            n->kid[0] = a->kid[k];
            r->kid[k] = n;
        }
        return r;
    }
    if (e->kind != MX_ADD && e->kind != MX_MUL) return e;
    const mx_node *acc = fold_matrix(c, e->kid[0], depth + 1);
    int any = acc->kind == MX_MATRIX;
    for (int k = 1; k < e->n; k++) {
        const mx_node *b = fold_matrix(c, e->kid[k], depth + 1);
        any |= b->kind == MX_MATRIX;
        if (!any) return e;
        if (e->kind == MX_ADD) {
            if (acc->kind != MX_MATRIX || b->kind != MX_MATRIX || acc->rows != b->rows || acc->cols != b->cols) return e;
            mx_node *r = mx_node_new(c, MX_MATRIX, acc->n);
            if (!r) return e;
            r->rows = acc->rows;
            r->cols = acc->cols;
            for (int q = 0; q < acc->n; q++) {
                mx_node *s = mx_node_new(c, MX_ADD, 2);
                if (!s) return e;
                s->kid[0] = acc->kid[q];
                s->kid[1] = b->kid[q];
                r->kid[q] = s;
            }
            acc = r;
        } else if (acc->kind == MX_MATRIX && b->kind == MX_MATRIX) {
            if (acc->cols != b->rows || acc->rows * b->cols > c->o->max_elements) return e;
            mx_node *r = mx_node_new(c, MX_MATRIX, acc->rows * b->cols);
            if (!r) return e;
            r->rows = acc->rows;
            r->cols = b->cols;
            for (int i = 0; i < acc->rows; i++)
                for (int j = 0; j < b->cols; j++) {
                    mx_node *s = mx_node_new(c, MX_ADD, acc->cols);
                    if (!s) return e;
                    for (int q = 0; q < acc->cols; q++) {
                        mx_node *m = mx_node_new(c, MX_MUL, 2);
                        if (!m) return e;
                        m->kid[0] = acc->kid[i * acc->cols + q];
                        m->kid[1] = b->kid[q * b->cols + j];
                        s->kid[q] = m;
                    }
                    r->kid[i * b->cols + j] = s;
                }
            acc = r;
        } else {
            const mx_node *m = acc->kind == MX_MATRIX ? acc : b, *k2 = acc->kind == MX_MATRIX ? b : acc;
            mx_node *r = mx_node_new(c, MX_MATRIX, m->n);
            if (!r) return e;
            r->rows = m->rows;
            r->cols = m->cols;
            for (int q = 0; q < m->n; q++) {
                mx_node *s = mx_node_new(c, MX_MUL, 2);
                if (!s) return e;
                s->kid[0] = (mx_node *)k2;
                s->kid[1] = m->kid[q];
                r->kid[q] = s;
            }
            acc = r;
        }
    }
    return acc;
}

static int is_collection(const mx_node *e)
{
    return e->kind == MX_LIST || e->kind == MX_SET || e->kind == MX_TUPLE;
}

static int cmp(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule, int depth)
{
    *rule = "";
    if (depth > c->o->max_depth || work(c)) {
        c->costly = 1;
        return MX_CMP_COSTLY;
    }
    g = reduce_rel(c, g);
    p = reduce_rel(c, p);
    /* x = 5 against 5; x \in S against S */
    if (g->kind == MX_REL && p->kind != MX_REL) {
        const mx_node *v = value_of(c, g);
        if (v) return cmp(c, v, p, rule, depth + 1);
        mx_node *iv = as_interval(c, g);
        if (iv && (p->kind == MX_INTERVAL || p->kind == MX_UNION || (p->kind == MX_TUPLE && p->n == 2)))
            return cmp(c, iv, p, rule, depth + 1);
        *rule = "equation";
        return MX_CMP_NE;
    }
    if (p->kind == MX_REL && g->kind != MX_REL) {
        const mx_node *v = value_of(c, p);
        if (!v && c->o->equation_rhs && p->n == 2 && p->ops[0] == MX_R_EQ) v = p->kid[1]; /* 2 + 3 = 5: the result */
        if (v) return cmp(c, g, v, rule, depth + 1);
        if (c->o->allow_set_relation_comp) {
            mx_node *iv = as_interval(c, p);
            if (iv && (g->kind == MX_INTERVAL || g->kind == MX_UNION)) return cmp(c, g, iv, rule, depth + 1);
        }
        *rule = "equation";
        return MX_CMP_NE;
    }
    if (g->kind == MX_REL && p->kind == MX_REL) {
        if (g->n == 2 && p->n == 2 && g->ops[0] == MX_R_IN && p->ops[0] == MX_R_IN) {
            const mx_node *a = value_of(c, g), *b = value_of(c, p);
            if (a && b) return cmp(c, a, b, rule, depth + 1);
        }
        int r = cmp_rel(c, g, p, rule, depth);
        if (r == MX_CMP_NE) {
            /* x \in [a, b] against a <= x <= b */
            const mx_node *gv = g->n == 2 && g->ops[0] == MX_R_IN ? value_of(c, g) : NULL;
            const mx_node *pv = p->n == 2 && p->ops[0] == MX_R_IN ? value_of(c, p) : NULL;
            mx_node *gi = gv ? NULL : as_interval(c, g), *pi = pv ? NULL : as_interval(c, p);
            if (gv && pi && c->o->allow_set_relation_comp) return cmp(c, gv, pi, rule, depth + 1);
            if (pv && gi) return cmp(c, gi, pv, rule, depth + 1);
        }
        return r;
    }
    /* single-element wrappers */
    if ((g->kind == MX_LIST || g->kind == MX_SET) && g->n == 1 && !(p->kind == MX_SET && g->kind == MX_SET))
        return cmp(c, g->kid[0], p, rule, depth + 1);
    if ((p->kind == MX_LIST || p->kind == MX_SET) && p->n == 1 && !(p->kind == MX_SET && g->kind == MX_SET))
        return cmp(c, g, p->kid[0], rule, depth + 1);
    g = fold_matrix(c, g, 0);
    p = fold_matrix(c, p, 0);
    /* text */
    if (g->kind == MX_TEXT || p->kind == MX_TEXT || g->kind == MX_CHOICE || p->kind == MX_CHOICE) {
        char a[256], b[256];
        int an = 0, bn = 0;
        *rule = "string";
        if (as_letters(g, a, sizeof a, &an) && as_letters(p, b, sizeof b, &bn))
            return text_eq(a, an, b, bn) ? MX_CMP_EQ : MX_CMP_NE;
        return MX_CMP_NE;
    }
    if (g->kind == MX_MATRIX || p->kind == MX_MATRIX) {
        *rule = "matrix";
        const mx_node *m = g->kind == MX_MATRIX ? g : p, *o = g->kind == MX_MATRIX ? p : g;
        if (g->kind == MX_MATRIX && p->kind == MX_MATRIX) {
            if (g->rows != p->rows || g->cols != p->cols) return MX_CMP_NE;
            return cmp_ordered(c, g, p, depth);
        }
        /* a vector against a tuple */
        if (o->kind == MX_TUPLE && (m->rows == 1 || m->cols == 1) && m->n == o->n)
            return cmp_ordered(c, g, p, depth);
        return MX_CMP_NE;
    }
    if (g->kind == MX_INTERVAL || p->kind == MX_INTERVAL) {
        *rule = "interval";
        const mx_node *a = g, *b = p;
        int fa = a->flags & (MX_LO_CLOSED | MX_HI_CLOSED), fb = b->flags & (MX_LO_CLOSED | MX_HI_CLOSED);
        if (a->kind == MX_TUPLE && a->n == 2 && (a->flags & MX_PAREN)) fa = 0;
        else if (a->kind != MX_INTERVAL) return MX_CMP_NE;
        if (b->kind == MX_TUPLE && b->n == 2 && (b->flags & MX_PAREN)) fb = 0;
        else if (b->kind != MX_INTERVAL) return MX_CMP_NE;
        if (fa != fb) return MX_CMP_NE;
        return cmp_ordered(c, a, b, depth);
    }
    if (g->kind == MX_UNION || p->kind == MX_UNION) {
        *rule = "interval";
        if (g->kind != MX_UNION || p->kind != MX_UNION) return MX_CMP_NE;
        elems a = {(const mx_node **)g->kid, g->n}, b = {(const mx_node **)p->kid, p->n};
        return cmp_sets(c, &a, &b, depth);
    }
    if (g->kind == MX_RATIO && p->kind == MX_RATIO) {
        *rule = "ratio";
        const char *r;
        if (cmp(c, g->kid[0], p->kid[0], &r, depth + 1) == MX_CMP_EQ
            && cmp(c, g->kid[1], p->kid[1], &r, depth + 1) == MX_CMP_EQ)
            return MX_CMP_EQ;
        int x = cmp_scalar(c, g, p, rule);
        /* 12:00 against 1:00: not proportions, and not the same */
        return x == MX_CMP_UNDECIDED ? MX_CMP_NE : x;
    }
    int gc = is_collection(g) || g->kind == MX_PM, pc = is_collection(p) || p->kind == MX_PM;
    if (gc || pc) {
        elems a, b;
        if (g->kind == MX_PM || p->kind == MX_PM) {
            /* a \pm b is the set {a + b, a - b} */
            const mx_node *gs = g, *ps = p;
            mx_node *wg = NULL, *wp = NULL;
            if (g->kind == MX_PM || !gc) {
                wg = mx_node_new(c, MX_SET, 1);
                if (!wg) return MX_CMP_COSTLY;
                wg->kid[0] = (mx_node *)g;
                gs = wg;
            }
            if (p->kind == MX_PM || !pc) {
                wp = mx_node_new(c, MX_SET, 1);
                if (!wp) return MX_CMP_COSTLY;
                wp->kid[0] = (mx_node *)p;
                ps = wp;
            }
            if (gather(c, gs, &a) || gather(c, ps, &b)) return MX_CMP_COSTLY;
            *rule = "set";
            if (a.n == 1 && b.n > 1 && c->o->hedge) {
                for (int j = 0; j < b.n; j++) {
                    const char *r;
                    if (cmp(c, a.v[0], b.v[j], &r, depth + 1) == MX_CMP_EQ) return MX_CMP_HEDGE;
                }
            }
            return cmp_sets(c, &a, &b, depth);
        }
        if (gc && pc) {
            int ordered = 0;
            if (g->kind == MX_TUPLE && p->kind == MX_TUPLE) ordered = 1;
            else if ((g->kind == MX_TUPLE && p->kind == MX_LIST) || (g->kind == MX_LIST && p->kind == MX_TUPLE)) ordered = 1;
            else if (g->kind == MX_LIST && p->kind == MX_LIST && !c->o->unordered_lists) ordered = 1;
            else if ((g->kind == MX_TUPLE) != (p->kind == MX_TUPLE)) {
                *rule = "set";
                return MX_CMP_NE;
            }
            if (ordered) {
                *rule = "tuple";
                return cmp_ordered(c, g, p, depth);
            }
            *rule = "set";
            if (gather(c, g, &a) || gather(c, p, &b)) return MX_CMP_COSTLY;
            return cmp_sets(c, &a, &b, depth);
        }
        if (pc) {
            /* one gold value against several: a hedge when one of them is it */
            if (gather(c, p, &b)) return MX_CMP_COSTLY;
            *rule = "set";
            int eq = 0, all = 1;
            for (int j = 0; j < b.n; j++) {
                const char *r;
                int x = cmp(c, g, b.v[j], &r, depth + 1);
                if (x == MX_CMP_COSTLY) return x;
                if (x == MX_CMP_EQ) eq = 1;
                else all = 0;
            }
            if (eq && all && p->kind != MX_TUPLE) return MX_CMP_EQ; /* \boxed{3}, \boxed{3} */
            if (eq && c->o->hedge && p->kind != MX_TUPLE) return MX_CMP_HEDGE;
            return MX_CMP_NE;
        }
        /* several gold values against one prediction */
        if (gather(c, g, &a)) return MX_CMP_COSTLY;
        *rule = "set";
        int all = a.n > 0;
        for (int j = 0; j < a.n && all; j++) {
            const char *r;
            int x = cmp(c, a.v[j], p, &r, depth + 1);
            if (x == MX_CMP_COSTLY) return x;
            if (x != MX_CMP_EQ) all = 0;
        }
        return all && g->kind != MX_TUPLE ? MX_CMP_EQ : MX_CMP_NE;
    }
    if (!is_scalar(g) || !is_scalar(p)) return MX_CMP_NE;
    return cmp_scalar(c, g, p, rule);
}

int mx_compare(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule)
{
    const char *r = "";
    int x = cmp(c, g, p, &r, 0);
    if (c->costly) x = MX_CMP_COSTLY;
    *rule = r;
    return x;
}
