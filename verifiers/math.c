/*
 * math.c -- the math verifier's entry points: options, the order of a
 * check (extract, clean, parse, compare) and the verdict.
 *
 * A check reads the gold first: multiple-choice letter, or the first of
 * the anchored places (tag, boxed, final_answer, answer, gsm8k, in the
 * configured order) whose text parses, else the whole gold. A gold that
 * cannot be read abstains. Then the prediction: the text after the think
 * delimiter, the places of options->extract in order, the first candidate
 * that parses wins; a tag or box that does not parse is final (the model
 * committed to it: pred_unparseable), the other places fall through. Last,
 * the two trees are compared and the verdict says why.
 *
 * Invariants: one arena per call (a 16 KiB stack block, then heap blocks up
 * to a cap), every GMP number cleared before returning, the verdict always
 * filled (status, reason, rule, sources, texts), no output, no global
 * state: reentrant and deterministic (the random points come from
 * options->seed alone).
 */
#include "math_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define ARENA_LIMIT ((size_t)64 << 20)

void rlvr_math_options_init(rlvr_math_options *o)
{
    memset(o, 0, sizeof *o);
    snprintf(o->extract, sizeof o->extract, "%s", "tag,boxed+final_answer+gsm8k,answer,whole,latex+number");
    snprintf(o->think_delimiter, sizeof o->think_delimiter, "%s", "</think>");
    o->require_think_end = 0;
    o->choices[0] = 0;
    o->decimal_comma = 0;
    o->rel_tol = 1e-9;
    o->float_rounding = 6;
    o->equation_rhs = 1;
    o->percent = RLVR_MATH_PERCENT_BOTH;
    o->unordered_lists = 1;
    o->allow_set_relation_comp = 1;
    o->strict = 1;
    o->hedge = 1;
    o->max_input_bytes = (size_t)8 << 20;
    o->max_answer_bytes = 4096;
    o->max_depth = 100;
    o->max_nodes = 4096;
    o->max_number_bits = 8192;
    o->max_elements = 256;
    o->eval_points = 8;
    o->min_valid_points = 4;
    o->seed = 0x5eed;
}

int rlvr_math_options_check(const rlvr_math_options *o, char *err, size_t err_len)
{
    int order[MX_SRC_N];
    if (mx_extract_order(o->extract, order, err, err_len) < 0) return -1;
    if (!(o->rel_tol >= 0 && o->rel_tol < 1)) {
        snprintf(err, err_len, "rel_tol must be in [0, 1)");
        return -1;
    }
    if (o->eval_points < 1 || o->min_valid_points < 1 || o->min_valid_points > o->eval_points) {
        snprintf(err, err_len, "need 1 <= min_valid_points <= eval_points");
        return -1;
    }
    if (o->max_depth < 4 || o->max_nodes < 16 || o->max_number_bits < 64 || o->max_elements < 1
        || o->max_answer_bytes < 16) {
        snprintf(err, err_len, "cost bounds too small to read any answer");
        return -1;
    }
    for (const char *p = o->choices; *p; p++)
        if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'))) {
            snprintf(err, err_len, "choices must be letters or digits, like \"ABCD\"");
            return -1;
        }
    return 0;
}

const char *rlvr_math_status_name(rlvr_math_status s)
{
    switch (s) {
    case RLVR_MATH_EQUAL: return "equal";
    case RLVR_MATH_NOT_EQUAL: return "not_equal";
    case RLVR_MATH_NO_ANSWER: return "no_answer";
    case RLVR_MATH_PRED_INVALID: return "pred_unparseable";
    case RLVR_MATH_PRED_TOO_COSTLY: return "pred_too_costly";
    case RLVR_MATH_HEDGE: return "hedge";
    case RLVR_MATH_GOLD_INVALID: return "gold_unparseable";
    case RLVR_MATH_GOLD_TOO_COSTLY: return "gold_too_costly";
    case RLVR_MATH_UNDECIDED: return "undecided";
    case RLVR_MATH_ECHO: return "echo";
    default: return "unknown";
    }
}

/* s[0..n) into a verdict's text field. s need not be NUL-terminated: only
 * s[0..n) is read. Truncated to the field, the cut never falls inside a
 * UTF-8 sequence: when the first byte left out (s[n] after the cut, still
 * inside the text) continues a sequence, the cut backs off to the sequence's
 * start (at most 3 bytes: a longer run of continuation bytes is not UTF-8
 * and is cut where it falls). */
static void copy_text(char *dst, const char *s, size_t n)
{
    if (n >= RLVR_MATH_TEXT_CAP) {
        n = RLVR_MATH_TEXT_CAP - 1;
        for (int k = 0; k < 3 && n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80; k++) n--;
    }
    memcpy(dst, s, n);
    dst[n] = 0;
}

static void finish(rlvr_math_verdict *v, rlvr_math_status st, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static void finish(rlvr_math_verdict *v, rlvr_math_status st, const char *fmt, ...)
{
    v->status = st;
    v->score = st == RLVR_MATH_EQUAL ? 1.0 : 0.0;
    v->abstain = st == RLVR_MATH_GOLD_INVALID || st == RLVR_MATH_GOLD_TOO_COSTLY;
    v->reason = rlvr_math_status_name(st);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(v->message, sizeof v->message, fmt, ap);
    va_end(ap);
}

/* One side's answer. */
typedef struct side {
    mx_node *e;
    const char *clean;
    size_t clean_n;
    int src;
    int found;         /* a candidate existed */
    int costly;
    char err[96];
    const char *first_s; /* the first candidate, for the verdict when none parses */
    size_t first_n;
    int alternatives;  /* the answer read is boxes joined by "or" */
} side;

static int try_cand(mx_ctx *c, side *sd, const mx_cand *cd)
{
    /* an anchor (box, tag, "answer is") found is an answer given, parsed or
     * not; the fallbacks (whole text, spans, numbers) only guess */
    int anchored = cd->src != MX_SRC_WHOLE && cd->src != MX_SRC_LATEX && cd->src != MX_SRC_NUMBER;
    if (!sd->found && (anchored || !sd->first_s)) {
        sd->first_s = cd->s;
        sd->first_n = cd->n;
        sd->found = anchored;
    }
    if (cd->n > c->o->max_answer_bytes) {
        if (cd->src == MX_SRC_WHOLE || cd->src == MX_SRC_LATEX || cd->src == MX_SRC_NUMBER) return 0;
        sd->costly = 1;
        snprintf(sd->err, sizeof sd->err, "answer longer than %zu bytes", c->o->max_answer_bytes);
        return -1;
    }
    size_t n;
    char *s = mx_clean(c, cd->s, cd->n, &n);
    if (!s) {
        sd->costly = 1;
        return -1;
    }
    c->costly = 0;
    char err[96];
    mx_node *e = mx_parse(c, s, n, err, sizeof err);
    if (!e) {
        if (c->costly) {
            sd->costly = 1;
            snprintf(sd->err, sizeof sd->err, "%s", err);
            c->costly = 0;
            return -1;
        }
        if (!sd->err[0]) snprintf(sd->err, sizeof sd->err, "%s", err);
        return 0;
    }
    sd->e = e;
    sd->clean = s;
    sd->clean_n = n;
    sd->src = cd->src;
    sd->alternatives = cd->alternatives;
    sd->first_s = cd->s;
    sd->first_n = cd->n;
    return 1;
}

/* Read one side. Returns 1 found and parsed, 0 nothing parsed, -1 costly. */
static int read_side(mx_ctx *c, side *sd, const char *t, size_t n, const int *order, int is_gold)
{
    mx_cand cands[32];
    for (int k = 0; order[k];) {
        /* a group: sources tied by '+', their candidates latest first */
        int nc = 0;
        for (;;) {
            int src = order[k] & 0xff, tied = order[k] & MX_TIED;
            k++;
            if (!(is_gold && (src == MX_SRC_WHOLE || src == MX_SRC_LATEX || src == MX_SRC_NUMBER))) {
                nc += mx_extract(c, src, t, n, is_gold, cands + nc, 8);
                if (c->costly) {
                    sd->costly = 1;
                    return -1;
                }
            }
            if (!tied || !order[k] || nc > 24) break;
        }
        /* stable: latest first, a source's own order kept */
        for (int i = 1; i < nc; i++) {
            mx_cand x = cands[i];
            int j = i;
            while (j > 0 && cands[j - 1].at < x.at) {
                cands[j] = cands[j - 1];
                j--;
            }
            cands[j] = x;
        }
        for (int j = 0; j < nc; j++) {
            int r = try_cand(c, sd, &cands[j]);
            if (r < 0) return -1;
            if (r > 0) return 1;
            /* a box or tag that does not parse is the model's answer all the same */
            if (!is_gold && (cands[j].src == MX_SRC_TAG || cands[j].src == MX_SRC_BOXED)
                && (j + 1 == nc || cands[j + 1].src != cands[j].src))
                return 0;
        }
    }
    if (is_gold) {
        const char *s = t;
        size_t m = n;
        while (m && (*s == ' ' || *s == '\n' || *s == '\t' || *s == '\r')) {
            s++;
            m--;
        }
        mx_cand whole = {s, m, MX_SRC_WHOLE, m, 0};
        if (m) {
            if (m > c->o->max_answer_bytes) {
                sd->found = 1;
                sd->costly = 1;
                return -1;
            }
            int r = try_cand(c, sd, &whole);
            if (r) return r;
        }
    }
    return 0;
}

/* A choice letter against the same letter with its option: "C" and
 * "C. x = 42", "(C)" and "C) 42". */
static int choice_prefix(const char *a, size_t an, const char *b, size_t bn)
{
    if (an == 3 && a[0] == '(' && a[2] == ')') {
        a++;
        an = 1;
    }
    if (an != 1 || a[0] < 'A' || a[0] > 'Z') return 0;
    if (bn >= 3 && b[0] == '(' && b[1] == a[0] && b[2] == ')') return 1;
    return bn >= 3 && b[0] == a[0] && (b[1] == '.' || b[1] == ')' || b[1] == ':') && b[2] == ' ';
}

/* Does the prompt contain the prediction's answer verbatim (spaces and $
 * ignored)? Only for answers with an operator: a bare number may well
 * appear in the question. */
static int echoed(const char *prompt, size_t pn, const char *ans, size_t an)
{
    int op = 0;
    char a[512];
    size_t k = 0;
    for (size_t i = 0; i < an && k < sizeof a; i++) {
        char ch = ans[i];
        if (ch == ' ' || ch == '$') continue;
        if (ch == '+' || ch == '*' || ch == '^' || ch == '/' || ch == '\\' || ((ch == '-') && k > 0)) op = 1;
        a[k++] = ch;
    }
    if (!op || k < 3 || k >= sizeof a) return 0;
    /* scan the prompt skipping spaces and $ */
    for (size_t i = 0; i < pn; i++) {
        size_t j = i, m = 0;
        while (j < pn && m < k) {
            char ch = prompt[j];
            if (ch == ' ' || ch == '$') {
                j++;
                continue;
            }
            if (ch != a[m]) break;
            j++;
            m++;
        }
        if (m == k) return 1;
    }
    return 0;
}

int rlvr_math_verify_prompt(const char *gold, size_t gold_len, const char *pred, size_t pred_len,
                            const char *prompt, size_t prompt_len, const rlvr_math_options *opt,
                            rlvr_math_verdict *v)
{
    rlvr_math_options defaults;
    if (!opt) {
        rlvr_math_options_init(&defaults);
        opt = &defaults;
    }
    memset(v, 0, sizeof *v);
    v->rule = "";
    v->pred_source = "";
    v->gold_source = "";
    _Alignas(max_align_t) char stack[16384];
    mx_ctx c;
    memset(&c, 0, sizeof c);
    c.o = opt;
    c.rng = opt->seed;
    c.work_cap = 200000;
    mx_arena_init(&c.arena, stack, sizeof stack, ARENA_LIMIT);
    int rc = 0;

    int order[MX_SRC_N];
    if (mx_extract_order(opt->extract, order, NULL, 0) < 0) {
        /* unknown names: keep the known ones */
        int k = 0;
        const char *q = opt->extract;
        while (*q) {
            while (*q == ',' || *q == ' ') q++;
            const char *b = q;
            while (*q && *q != ',' && *q != ' ') q++;
            char one_name[32];
            int one[MX_SRC_N];
            size_t len = (size_t)(q - b);
            if (len == 0 || len >= sizeof one_name) continue;
            memcpy(one_name, b, len);
            one_name[len] = 0;
            if (mx_extract_order(one_name, one, NULL, 0) == 1 && k < MX_SRC_N - 1) order[k++] = one[0];
        }
        order[k] = 0;
    }

    if (!gold || gold_len == 0) {
        finish(v, RLVR_MATH_GOLD_INVALID, "no gold answer");
        goto out;
    }
    if (gold_len > opt->max_input_bytes) {
        finish(v, RLVR_MATH_GOLD_TOO_COSTLY, "gold longer than max_input_bytes");
        goto out;
    }
    if (opt->choices[0]) {
        int g = mx_extract_choice(opt->choices, gold, gold_len, 1);
        v->gold_source = "choice";
        v->rule = "choice";
        if (!g) {
            copy_text(v->gold_extracted, gold, gold_len);
            finish(v, RLVR_MATH_GOLD_INVALID, "no choice letter in the gold answer");
            goto out;
        }
        v->gold_extracted[0] = (char)g;
        v->gold_normalised[0] = (char)g;
        if (!pred || pred_len > opt->max_input_bytes) {
            finish(v, pred ? RLVR_MATH_PRED_TOO_COSTLY : RLVR_MATH_NO_ANSWER, "no prediction");
            goto out;
        }
        const char *t = pred;
        size_t n = pred_len;
        int missing;
        mx_after_think(opt, &t, &n, &missing);
        int p = missing ? 0 : mx_extract_choice(opt->choices, t, n, 0);
        if (!p) {
            finish(v, RLVR_MATH_NO_ANSWER, "no choice letter in the prediction");
            goto out;
        }
        v->pred_source = "choice";
        v->pred_extracted[0] = (char)p;
        v->pred_normalised[0] = (char)p;
        int same = p == g || (p ^ 32) == g;
        finish(v, same ? RLVR_MATH_EQUAL : RLVR_MATH_NOT_EQUAL, "%s", same ? "the same choice" : "a different choice");
        goto out;
    }

    side gs = {0}, ps = {0};
    int r = read_side(&c, &gs, gold, gold_len, order, 1);
    if (gs.first_s) copy_text(v->gold_extracted, gs.first_s, gs.first_n);
    if (r < 0 || gs.costly) {
        finish(v, RLVR_MATH_GOLD_TOO_COSTLY, "gold answer over the cost bound: %s", gs.err);
        goto out;
    }
    if (r == 0) {
        finish(v, RLVR_MATH_GOLD_INVALID, "gold answer unparseable: %s", gs.err[0] ? gs.err : "nothing found");
        goto out;
    }
    v->gold_source = mx_source_name(gs.src);
    mx_print(gs.e, v->gold_normalised, sizeof v->gold_normalised);

    if (!pred) {
        finish(v, RLVR_MATH_NO_ANSWER, "no prediction");
        goto out;
    }
    if (pred_len > opt->max_input_bytes) {
        finish(v, RLVR_MATH_PRED_TOO_COSTLY, "prediction longer than max_input_bytes");
        goto out;
    }
    const char *t = pred;
    size_t n = pred_len;
    int missing;
    mx_after_think(opt, &t, &n, &missing);
    if (missing) {
        finish(v, RLVR_MATH_NO_ANSWER, "no %s: the reasoning never ended", opt->think_delimiter);
        goto out;
    }
    c.work = 0;
    r = read_side(&c, &ps, t, n, order, 0);
    if (ps.first_s) copy_text(v->pred_extracted, ps.first_s, ps.first_n);
    if (r < 0 || ps.costly) {
        finish(v, RLVR_MATH_PRED_TOO_COSTLY, "prediction over the cost bound: %s", ps.err);
        goto out;
    }
    if (r == 0) {
        if (!ps.found) finish(v, RLVR_MATH_NO_ANSWER, "no answer found in the prediction%s%s", ps.err[0] ? ": " : "", ps.err);
        else finish(v, RLVR_MATH_PRED_INVALID, "prediction unparseable: %s", ps.err);
        goto out;
    }
    v->pred_source = mx_source_name(ps.src);
    mx_print(ps.e, v->pred_normalised, sizeof v->pred_normalised);

    if (ps.alternatives && !gs.alternatives) {
        /* \boxed{3} or \boxed{4}: two answers offered, whatever the gold */
        finish(v, opt->hedge ? RLVR_MATH_HEDGE : RLVR_MATH_NOT_EQUAL,
               "different boxed answers joined by 'or': alternatives, not one answer");
        goto out;
    }
    int x;
    const char *rule = "";
    if (gs.clean_n == ps.clean_n && memcmp(gs.clean, ps.clean, gs.clean_n) == 0) {
        x = MX_CMP_EQ;
        rule = "string";
    } else if (choice_prefix(gs.clean, gs.clean_n, ps.clean, ps.clean_n)
               || choice_prefix(ps.clean, ps.clean_n, gs.clean, gs.clean_n)) {
        x = MX_CMP_EQ;
        rule = "choice";
    } else {
        c.work = 0;
        c.costly = 0;
        x = mx_compare(&c, gs.e, ps.e, &rule);
    }
    v->rule = rule;
    switch (x) {
    case MX_CMP_EQ:
        if (prompt && prompt_len && ps.src != MX_SRC_NUMBER && !(gs.clean_n == ps.clean_n && memcmp(gs.clean, ps.clean, gs.clean_n) == 0)
            && echoed(prompt, prompt_len, ps.clean, ps.clean_n) && !echoed(prompt, prompt_len, gs.clean, gs.clean_n)) {
            finish(v, RLVR_MATH_ECHO, "the answer repeats the question's expression");
            break;
        }
        finish(v, RLVR_MATH_EQUAL, "equal (%s)", rule);
        break;
    case MX_CMP_NE: finish(v, RLVR_MATH_NOT_EQUAL, "not equal (%s)", rule[0] ? rule : "kinds differ"); break;
    case MX_CMP_HEDGE: finish(v, RLVR_MATH_HEDGE, "several answers offered, one of them the gold"); break;
    case MX_CMP_UNDECIDED: finish(v, RLVR_MATH_UNDECIDED, "too few valid points to decide (%s)", rule); break;
    default: {
        /* over the bound: the gold's fault when it cannot even be compared
         * with itself */
        const char *r2;
        c.work = 0;
        c.costly = 0;
        if (mx_compare(&c, gs.e, gs.e, &r2) == MX_CMP_COSTLY)
            finish(v, RLVR_MATH_GOLD_TOO_COSTLY, "the gold answer is over the cost bound");
        else
            finish(v, RLVR_MATH_PRED_TOO_COSTLY, "comparison over the cost bound");
        break;
    }
    }
out:
    for (int k = 0; k < c.n_bigs; k++) mpq_clear(c.bigs[k]);
    if (c.arena.oom && v->status == RLVR_MATH_EQUAL) {
        /* cannot happen: an out-of-memory arena makes its side costly */
        finish(v, RLVR_MATH_PRED_TOO_COSTLY, "out of memory");
    }
    mx_arena_free(&c.arena);
    return rc;
}

int rlvr_math_verify(const char *gold, size_t gold_len, const char *pred, size_t pred_len,
                     const rlvr_math_options *o, rlvr_math_verdict *v)
{
    return rlvr_math_verify_prompt(gold, gold_len, pred, pred_len, NULL, 0, o, v);
}
