/*
 * math_int.h -- the math verifier's internals, shared by its source files
 * (math.c, math_extract.c, math_parse.c, math_num.c, math_eq.c); not
 * installed, not for plugins.
 *
 * Invariants:
 *   - All memory of one check lives in one arena (mx_arena): a first block
 *     on the caller's stack, further blocks from malloc up to a cap, freed
 *     together at the end. GMP numbers are recorded in the context and
 *     cleared at the end, so nothing outlives the call.
 *   - Every recursive walk carries a depth and every loop a bound taken from
 *     the options; exceeding one sets ctx->costly and unwinds, never aborts.
 *   - Exact numbers are rationals: two int64 (numerator, positive
 *     denominator, in lowest terms) while they fit, a GMP mpq past that.
 */
#ifndef RLVR_MATH_INT_H
#define RLVR_MATH_INT_H
#include "math_verifier.h"

#include <complex.h>
#include <gmp.h>
#include <stddef.h>
#include <stdint.h>

/* ---- arena ---------------------------------------------------------- */

typedef struct mx_block {
    struct mx_block *next;
    size_t cap, used;
    max_align_t data[];
} mx_block;

typedef struct mx_arena {
    char *first;          /* caller's buffer */
    size_t first_cap, first_used;
    mx_block *blocks;     /* malloc'ed, freed by mx_arena_free */
    size_t total, limit;  /* bytes handed out beyond `first`, and the cap */
    int oom;              /* the cap was reached or malloc failed */
} mx_arena;

void mx_arena_init(mx_arena *a, void *buf, size_t cap, size_t limit);
void *mx_alloc(mx_arena *a, size_t n);
char *mx_strndup(mx_arena *a, const char *s, size_t n);
void mx_arena_free(mx_arena *a);

/* ---- exact rationals ------------------------------------------------ */

typedef struct mx_q {
    int64_t n, d;   /* small form: d > 0, gcd(n, d) = 1; valid when big == NULL */
    mpq_ptr big;    /* big form, owned by the context */
} mx_q;

/* ---- the context of one check -------------------------------------- */

typedef struct mx_ctx {
    const rlvr_math_options *o;
    mx_arena arena;
    mpq_ptr *bigs;         /* every mpq made, cleared at the end */
    int n_bigs, cap_bigs;
    int costly;            /* a bound was exceeded: the side is too costly */
    int nodes;             /* nodes made for the side being parsed */
    long work;             /* evaluation steps, bounded */
    long work_cap;
    uint64_t rng;
} mx_ctx;

int mx_q_from_int(mx_ctx *c, mx_q *r, int64_t v);
int mx_q_from_decimal(mx_ctx *c, mx_q *r, const char *digits, size_t n, int *decimals);
int mx_q_add(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b);
int mx_q_sub(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b);
int mx_q_mul(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b);
int mx_q_div(mx_ctx *c, mx_q *r, const mx_q *a, const mx_q *b); /* -1: by zero */
int mx_q_pow(mx_ctx *c, mx_q *r, const mx_q *a, int64_t e);     /* -1: 0^neg or costly */
int mx_q_fact(mx_ctx *c, mx_q *r, const mx_q *a);                /* -1: not a small natural */
int mx_q_binom(mx_ctx *c, mx_q *r, const mx_q *n, const mx_q *k);
int mx_q_sqrt(mx_ctx *c, mx_q *r, const mx_q *a);                /* -1: not a perfect square */
int mx_q_cmp(const mx_q *a, const mx_q *b);
int mx_q_sign(const mx_q *a);
int mx_q_is_int(const mx_q *a, int64_t *v);                      /* 1 when an int64 integer */
double mx_q_to_double(const mx_q *a);
void mx_q_neg(mx_ctx *c, mx_q *r, const mx_q *a);
void mx_q_abs(mx_ctx *c, mx_q *r, const mx_q *a);
size_t mx_q_bits(const mx_q *a);
/* |a - b| <= 5 * 10^-(k+1) exactly. */
int mx_q_within_half_ulp(mx_ctx *c, const mx_q *a, const mx_q *b, int k);
int mx_q_print(const mx_q *a, char *buf, size_t cap);

/* ---- expressions ----------------------------------------------------- */

typedef enum mx_kind {
    MX_NUM = 1,   /* q; decimals >= 0 when written with a decimal point */
    MX_SYM,       /* s: a variable's name ("x", "x_1", "\alpha", "f'") */
    MX_CONST,     /* op: MX_C_* */
    MX_ADD,       /* n >= 2 terms */
    MX_MUL,       /* n >= 2 factors */
    MX_NEG,       /* 1 */
    MX_DIV,       /* 2: numerator, denominator */
    MX_POW,       /* 2: base, exponent */
    MX_FUNC,      /* op: MX_F_*, n arguments */
    MX_FACT,      /* 1 */
    MX_PM,        /* 2: a \pm b (a may be NULL-free: unary is 0 \pm b) */
    MX_PCT,       /* 1: x percent */
    MX_RATIO,     /* 2: a:b */
    MX_TUPLE,     /* n >= 2, ordered; (a, b) may also be an open interval */
    MX_SET,       /* \{...\}: n >= 0, unordered */
    MX_LIST,      /* a bare list "1, 2, 3" */
    MX_INTERVAL,  /* 2: lo, hi; flags: MX_LO_CLOSED, MX_HI_CLOSED */
    MX_UNION,     /* n >= 2 */
    MX_MATRIX,    /* rows x cols children, row-major */
    MX_REL,       /* n >= 2 sides, ops[n-1] MX_R_* */
    MX_TEXT,      /* s: words */
    MX_CHOICE     /* s: a multiple-choice letter */
} mx_kind;

enum { MX_C_PI = 1, MX_C_E, MX_C_I, MX_C_INF };
enum {
    MX_F_SQRT = 1, MX_F_ROOT, MX_F_SIN, MX_F_COS, MX_F_TAN, MX_F_SEC, MX_F_CSC, MX_F_COT,
    MX_F_ASIN, MX_F_ACOS, MX_F_ATAN, MX_F_SINH, MX_F_COSH, MX_F_TANH, MX_F_LN, MX_F_LOG,
    MX_F_LOGB, MX_F_EXP, MX_F_ABS, MX_F_BINOM, MX_F_FLOOR, MX_F_CEIL, MX_F_GCD, MX_F_LCM,
    MX_F_MAX, MX_F_MIN, MX_F_APPLY /* an unknown function f(x): s is its name */
};
enum { MX_R_EQ = 1, MX_R_LT, MX_R_LE, MX_R_GT, MX_R_GE, MX_R_NE, MX_R_APPROX, MX_R_IN };
enum { MX_LO_CLOSED = 1, MX_HI_CLOSED = 2, MX_PAREN = 4, MX_BRACKETED = 8 };

typedef struct mx_node {
    uint8_t kind, op, flags;
    int decimals;             /* MX_NUM: places after the point, -1 for none */
    int n;                    /* children */
    int rows, cols;           /* MX_MATRIX */
    struct mx_node **kid;
    uint8_t *ops;             /* MX_REL: n-1 relations */
    mx_q q;                   /* MX_NUM */
    const char *s;            /* MX_SYM, MX_TEXT, MX_CHOICE, MX_F_APPLY */
    int slen;
} mx_node;

/* A node of `kind` with room for n children, zeroed (decimals -1), from the
 * check's arena; NULL (and ctx->costly set) when the arena is exhausted. */
mx_node *mx_node_new(mx_ctx *c, int kind, int n);

/* Parse s[0..n) (an extracted answer) into an expression. Returns the
 * node, or NULL: *why says "costly" (a bound: ctx->costly is set) or
 * "invalid" (with a short message in err). */
mx_node *mx_parse(mx_ctx *c, const char *s, size_t n, char *err, size_t err_len);

/* Print a node in a canonical LaTeX-like form (the normalised answer). */
void mx_print(const mx_node *e, char *buf, size_t cap);

/* Compare gold g with prediction p. Returns an MX_CMP_* and sets *rule. */
enum { MX_CMP_EQ = 0, MX_CMP_NE, MX_CMP_UNDECIDED, MX_CMP_COSTLY, MX_CMP_HEDGE };
int mx_compare(mx_ctx *c, const mx_node *g, const mx_node *p, const char **rule);

/* ---- extraction ------------------------------------------------------ */

enum {
    MX_SRC_NONE = 0, MX_SRC_TAG, MX_SRC_BOXED, MX_SRC_FINAL, MX_SRC_ANSWER, MX_SRC_GSM8K,
    MX_SRC_WHOLE, MX_SRC_LATEX, MX_SRC_NUMBER, MX_SRC_CHOICE, MX_SRC_N
};
const char *mx_source_name(int src);
/* Parse o->extract into up to MX_SRC_N sources (0-terminated): places are
 * separated by ',' (tried in turn) or '+' (tried together, the latest in
 * the text first); a source tied with the next one has MX_TIED set.
 * Returns the count, or -1 with the unknown name in err. */
#define MX_TIED 0x100
int mx_extract_order(const char *spec, int *order, char *err, size_t err_len);

/* One candidate answer: text (in the arena), where it came from. */
typedef struct mx_cand {
    const char *s;
    size_t n;
    int src;
    size_t at;     /* where it ends in the text read (latest first within a group) */
    int alternatives; /* boxes holding different answers joined by "or": a
                         hedge in a prediction, never a list */
} mx_cand;

/* The text to read: after the last think delimiter. Sets *missing when the
 * delimiter is required and absent. */
void mx_after_think(const rlvr_math_options *o, const char **t, size_t *n, int *missing);

/* Candidates from one source, latest first, at most max. */
int mx_extract(mx_ctx *c, int src, const char *t, size_t n, int is_gold, mx_cand *out, int max);

/* Multiple choice: the letter chosen in t, or 0. */
int mx_extract_choice(const char *letters, const char *t, size_t n, int is_gold);

/* Clean an extracted answer for parsing: strip $ and display delimiters,
 * \left/\right, spacing commands, doubled backslashes before commands,
 * trailing punctuation; the result lives in the arena. */
char *mx_clean(mx_ctx *c, const char *s, size_t n, size_t *out_n);

/* Random numbers (splitmix64), for the evaluation points. */
uint64_t mx_rand(mx_ctx *c);
#endif
