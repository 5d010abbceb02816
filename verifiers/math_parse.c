/*
 * math_parse.c -- the math verifier's parser: a cleaned answer (see
 * mx_clean) into an expression tree, and the tree back into a canonical
 * text (the "normalised" answer of a verdict).
 *
 * A lexer turns the text into tokens (numbers, letters and words, LaTeX
 * commands, operators), classifying words on the way: function names,
 * units (dropped after a value), list words ("and", "or"), percent words,
 * and \text{...} contents. A recursive-descent parser builds the tree:
 *
 *   answer  := group (';' | and | or) group ...   groups of ','-items
 *   item    := set (relop set)*                   chains: a < x <= b
 *   set     := sum (\cup | \cap | \setminus sum)*
 *   sum     := term (('+' | '-' | \pm | \mp) term)*
 *   term    := unary (('*' | \cdot | \times | '/' | \div | juxtaposition) unary)*
 *   unary   := ('-' | '+' | \pm) unary | power
 *   power   := postfix ('^' exponent)?
 *   postfix := primary ('!' | '%' | percent word | unit)*
 *   primary := number | letter | constant | ( ) [ ] { } \{ \} | |x|
 *            | \frac | \sqrt | \binom | function argument | matrix | text
 *
 * Invariants: recursion depth is bounded by options->max_depth, the token
 * count by the answer's length (itself bounded by max_answer_bytes) and
 * node count by max_nodes; past a bound ctx->costly is set and parsing
 * stops. Nodes and strings live in the context's arena. The parser never
 * reads past the text's length.
 */
#include "math_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum {
    T_END = 0, T_NUM, T_ID, T_WORD, T_FUNC, T_CONST, T_OP, T_REL, T_SEP, T_UNIT, T_PCT, T_TEXT,
    T_FRAC, T_SQRT, T_BINOM, T_BEGIN, T_ENDENV, T_AMP, T_ROWSEP, T_CUP, T_CAP, T_SETMINUS,
    T_PM, T_MP, T_LSET, T_RSET, T_MUL, T_DIV, T_IGNORE, T_BAD
};

typedef struct tok {
    int type;
    int op;            /* T_FUNC, T_CONST, T_REL, T_OP (the char) */
    const char *s;     /* source text (T_NUM digits, T_ID name, T_WORD, T_TEXT) */
    int len;
    int space;         /* whitespace before it */
    int base;          /* T_NUM: a base written as 204_5; 0 otherwise */
    const char *bs;    /* T_NUM with a base: the digits */
    int blen;
} tok;

typedef struct parser {
    mx_ctx *c;
    tok *t;
    int n, i;
    int depth;
    int abs_depth;
    int bracket;       /* inside ( [ { */
    char *err;
    size_t err_len;
    int failed;
} parser;

static void fail(parser *p, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void fail(parser *p, const char *fmt, ...)
{
    if (p->failed) return;
    p->failed = 1;
    if (p->err && p->err_len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->err, p->err_len, fmt, ap);
        va_end(ap);
    }
}

/* ---- word lists ---------------------------------------------------- */

static int is_alpha(int ch) { return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'); }
static int is_digit(int ch) { return ch >= '0' && ch <= '9'; }
static int is_space(int ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v'; }

static int word_eq(const char *s, int n, const char *w)
{
    return (int)strlen(w) == n && memcmp(s, w, (size_t)n) == 0;
}

static int word_in(const char *s, int n, const char *const *list)
{
    for (; *list; list++)
        if (word_eq(s, n, *list)) return 1;
    return 0;
}

static int lower_eq(const char *s, int n, const char *w)
{
    if ((int)strlen(w) != n) return 0;
    for (int i = 0; i < n; i++) {
        int ch = s[i];
        if (ch >= 'A' && ch <= 'Z') ch += 32;
        if (ch != w[i]) return 0;
    }
    return 1;
}

static const struct { const char *name; int op; } functions[] = {
    {"sin", MX_F_SIN}, {"cos", MX_F_COS}, {"tan", MX_F_TAN}, {"sec", MX_F_SEC}, {"csc", MX_F_CSC},
    {"cot", MX_F_COT}, {"arcsin", MX_F_ASIN}, {"arccos", MX_F_ACOS}, {"arctan", MX_F_ATAN},
    {"asin", MX_F_ASIN}, {"acos", MX_F_ACOS}, {"atan", MX_F_ATAN}, {"sinh", MX_F_SINH},
    {"cosh", MX_F_COSH}, {"tanh", MX_F_TANH}, {"ln", MX_F_LN}, {"log", MX_F_LOG}, {"lg", MX_F_LOGB},
    {"exp", MX_F_EXP}, {"sqrt", MX_F_SQRT}, {"abs", MX_F_ABS}, {"floor", MX_F_FLOOR},
    {"ceil", MX_F_CEIL}, {"gcd", MX_F_GCD}, {"lcm", MX_F_LCM}, {"max", MX_F_MAX}, {"min", MX_F_MIN},
    {"cosec", MX_F_CSC}, {"ctg", MX_F_COT}, {"tg", MX_F_TAN},
};

static int function_op(const char *s, int n)
{
    for (size_t k = 0; k < sizeof functions / sizeof functions[0]; k++)
        if (word_eq(s, n, functions[k].name)) return functions[k].op;
    return 0;
}

/* Units and annotations dropped after a value (multi-letter words only:
 * single letters are variables unless inside \text{}). */
static const char *const units[] = {
    "cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter", "centimeters",
    "millimeter", "millimeters", "kilometer", "kilometers", "in", "inch", "inches", "ft", "feet",
    "foot", "yd", "yard", "yards", "mile", "miles", "mi", "kg", "g", "gram", "grams", "mg",
    "kilogram", "kilograms", "lb", "lbs", "pound", "pounds", "oz", "ounce", "ounces", "ton", "tons",
    "s", "sec", "second", "seconds", "min", "mins", "minute", "minutes", "h", "hr", "hrs", "hour",
    "hours", "day", "days", "week", "weeks", "month", "months", "year", "years", "degree",
    "degrees", "deg", "rad", "radian", "radians", "dollar", "dollars", "cent", "cents", "yuan",
    "euro", "euros", "unit", "units", "sq", "square", "cubic", "cu", "liter", "liters", "litre",
    "litres", "l", "ml", "L", "mL", "mph", "kmh", "gallon", "gallons", "cup", "cups", "people",
    "persons", "students", "times", "ways", "points", "pages", "apples", "items", "mins", "km/h",
    "m/s", "Rs", "rs", "USD", "dm", "ha", "acre", "acres", "kWh", "W", "V", "A", "N", "J", "Pa",
    "st", "nd", "rd", "th", NULL
};
/* Units that a bare word (outside \text) may be: not single letters, not
 * words that are also common variable products. */
static int bare_unit(const char *s, int n)
{
    if (n < 2) return 0;
    if (word_eq(s, n, "in") || word_eq(s, n, "mi") || word_eq(s, n, "st") || word_eq(s, n, "nd")
        || word_eq(s, n, "rd") || word_eq(s, n, "th") || word_eq(s, n, "ha") || word_eq(s, n, "cu")
        || word_eq(s, n, "Pa") || word_eq(s, n, "rs") || word_eq(s, n, "Rs") || word_eq(s, n, "mL"))
        return 0;
    return word_in(s, n, units);
}

static int text_unit_phrase(const char *s, int n)
{
    /* every word of the phrase is a unit (or "per", "of", "square") */
    int i = 0, any = 0;
    while (i < n) {
        while (i < n && (is_space(s[i]) || s[i] == '.' || s[i] == '^' || is_digit(s[i]) || s[i] == '/'
                         || s[i] == '{' || s[i] == '}'))
            i++;
        int st = i;
        while (i < n && is_alpha(s[i])) i++;
        if (i == st) {
            if (i < n) return 0;
            break;
        }
        if (!word_in(s + st, i - st, units) && !word_eq(s + st, i - st, "per")
            && !word_eq(s + st, i - st, "of"))
            return 0;
        any = 1;
    }
    return any;
}

static int pct_word(const char *s, int n)
{
    return word_eq(s, n, "percent") || word_eq(s, n, "pct") || word_eq(s, n, "percentage")
           || word_eq(s, n, "percents") || word_eq(s, n, "per cent");
}

static int sep_word(const char *s, int n)
{
    return lower_eq(s, n, "and") || lower_eq(s, n, "or") || word_eq(s, n, "et") || word_eq(s, n, "und")
           || word_eq(s, n, "ou") || word_eq(s, n, "oder");
}

/* ---- lexer ---------------------------------------------------------- */

typedef struct lexer {
    parser *p;
    const char *s;
    int n, i;
    int cap;
} lexer;

static tok *push(lexer *L, int type, const char *s, int len, int space)
{
    parser *p = L->p;
    if (p->n == L->cap) {
        int nc = L->cap * 2;
        tok *nt = mx_alloc(&p->c->arena, (size_t)nc * sizeof *nt);
        if (!nt) {
            p->c->costly = 1;
            fail(p, "out of memory");
            return NULL;
        }
        memcpy(nt, p->t, (size_t)p->n * sizeof *nt);
        p->t = nt;
        L->cap = nc;
    }
    tok *t = &p->t[p->n++];
    memset(t, 0, sizeof *t);
    t->type = type;
    t->s = s;
    t->len = len;
    t->space = space;
    return t;
}

/* The balanced {...} group at s[i] (s[i] == '{'): sets *b, *e to its
 * inside and returns the index after it, or -1 when unbalanced. */
static int group_at(const char *s, int n, int i, int *b, int *e)
{
    int depth = 0;
    for (int j = i; j < n; j++) {
        if (s[j] == '\\' && j + 1 < n) {
            j++;
            continue;
        }
        if (s[j] == '{') depth++;
        else if (s[j] == '}' && --depth == 0) {
            *b = i + 1;
            *e = j;
            return j + 1;
        }
    }
    return -1;
}

static void trim(const char **s, int *n)
{
    while (*n && is_space((*s)[0])) {
        (*s)++;
        (*n)--;
    }
    while (*n && is_space((*s)[*n - 1])) (*n)--;
}

/* Classify the inside of \text{...} and friends. */
static void lex_text(lexer *L, const char *s, int n, int space, int math_font)
{
    trim(&s, &n);
    while (n && (s[n - 1] == '.' || s[n - 1] == ',')) n--;
    trim(&s, &n);
    if (n == 0) return;
    if (n == 1 && is_alpha(s[0])) {
        push(L, T_ID, s, 1, space);
        return;
    }
    if (n == 3 && s[0] == '(' && is_alpha(s[1]) && s[2] == ')') {
        push(L, T_ID, s + 1, 1, space);
        return;
    }
    if (sep_word(s, n)) {
        push(L, T_SEP, s, n, space);
        return;
    }
    if (pct_word(s, n)) {
        push(L, T_PCT, s, n, space);
        return;
    }
    if (text_unit_phrase(s, n)) {
        push(L, T_UNIT, s, n, space);
        return;
    }
    int f = function_op(s, n);
    if (f) {
        tok *t = push(L, T_FUNC, s, n, space);
        if (t) t->op = f;
        return;
    }
    /* a phrase that ends or starts with a list word separates items */
    int a = 0;
    while (a < n && is_alpha(s[a])) a++;
    int z = n;
    while (z > 0 && is_alpha(s[z - 1])) z--;
    if ((z > 0 && sep_word(s + z, n - z)) || (a < n && sep_word(s, a))) {
        push(L, T_SEP, s, n, space);
        return;
    }
    if (math_font) {
        /* \mathrm{xy} and friends outside text mode: letters */
        int all = 1;
        for (int k = 0; k < n; k++)
            if (!is_alpha(s[k])) all = 0;
        if (all) {
            tok *t = push(L, T_WORD, s, n, space);
            (void)t;
            return;
        }
    }
    push(L, T_TEXT, s, n, space);
}

/* Read a subscript after position i (s[i] == '_'): returns the end. */
static int subscript_end(const char *s, int n, int i)
{
    if (i >= n || s[i] != '_') return i;
    int j = i + 1;
    while (j < n && s[j] == ' ') j++;
    if (j < n && s[j] == '{') {
        int b, e;
        int k = group_at(s, n, j, &b, &e);
        return k < 0 ? i : k;
    }
    if (j < n && (is_alpha(s[j]) || is_digit(s[j]))) return j + 1;
    if (j < n && s[j] == '\\') {
        int k = j + 1;
        while (k < n && is_alpha(s[k])) k++;
        return k > j + 1 ? k : i;
    }
    return i;
}

static int primes_end(const char *s, int n, int i)
{
    while (i < n && s[i] == '\'') i++;
    while (i + 6 <= n && memcmp(s + i, "^\\prime", 7) == 0) i += 7;
    return i;
}

static const struct { const char *name; int type, op; } commands[] = {
    {"frac", T_FRAC, 0}, {"dfrac", T_FRAC, 0}, {"tfrac", T_FRAC, 0}, {"cfrac", T_FRAC, 0},
    {"sqrt", T_SQRT, 0}, {"binom", T_BINOM, 0}, {"dbinom", T_BINOM, 0}, {"tbinom", T_BINOM, 0},
    {"choose", T_BAD, 0},
    {"pi", T_CONST, MX_C_PI}, {"infty", T_CONST, MX_C_INF}, {"infin", T_CONST, MX_C_INF},
    {"cdot", T_MUL, 0}, {"times", T_MUL, 0}, {"ast", T_MUL, 0}, {"div", T_DIV, 0},
    {"pm", T_PM, 0}, {"mp", T_MP, 0},
    {"le", T_REL, MX_R_LE}, {"leq", T_REL, MX_R_LE}, {"leqslant", T_REL, MX_R_LE},
    {"ge", T_REL, MX_R_GE}, {"geq", T_REL, MX_R_GE}, {"geqslant", T_REL, MX_R_GE},
    {"lt", T_REL, MX_R_LT}, {"gt", T_REL, MX_R_GT}, {"ne", T_REL, MX_R_NE}, {"neq", T_REL, MX_R_NE},
    {"approx", T_REL, MX_R_APPROX}, {"simeq", T_REL, MX_R_APPROX}, {"sim", T_REL, MX_R_APPROX},
    {"in", T_REL, MX_R_IN}, {"equiv", T_REL, MX_R_EQ},
    {"cup", T_CUP, 0}, {"cap", T_CAP, 0}, {"setminus", T_SETMINUS, 0},
    {"begin", T_BEGIN, 0}, {"end", T_ENDENV, 0},
    {"in", T_REL, MX_R_IN},
    {"percent", T_PCT, 0},
    {"quad", T_IGNORE, 0}, {"qquad", T_IGNORE, 0}, {"displaystyle", T_IGNORE, 0},
    {"left", T_IGNORE, 0}, {"right", T_IGNORE, 0}, {"bigl", T_IGNORE, 0}, {"bigr", T_IGNORE, 0},
    {"big", T_IGNORE, 0}, {"Big", T_IGNORE, 0}, {"Bigl", T_IGNORE, 0}, {"Bigr", T_IGNORE, 0},
    {"biggl", T_IGNORE, 0}, {"biggr", T_IGNORE, 0}, {"limits", T_IGNORE, 0},
    {"hline", T_IGNORE, 0}, {"cline", T_IGNORE, 0}, {"boxed", T_IGNORE, 0}, {"fbox", T_IGNORE, 0},
    {"circ", T_IGNORE, 0}, {"degree", T_IGNORE, 0}, {"dots", T_BAD, 0}, {"ldots", T_BAD, 0},
    {"cdots", T_BAD, 0}, {"vert", T_OP, '|'}, {"lvert", T_OP, '|'}, {"rvert", T_OP, '|'},
    {"mid", T_OP, '|'}, {"lbrace", T_LSET, 0}, {"rbrace", T_RSET, 0},
    {"langle", T_OP, '('}, {"rangle", T_OP, ')'}, {"lbrack", T_OP, '['}, {"rbrack", T_OP, ']'},
    {"colon", T_OP, ':'}, {"to", T_BAD, 0}, {"rightarrow", T_BAD, 0}, {"Rightarrow", T_BAD, 0},
    {"implies", T_BAD, 0}, {"iff", T_BAD, 0}, {"therefore", T_IGNORE, 0},
    {"emptyset", T_LSET, 1}, {"varnothing", T_LSET, 1}, {"infinity", T_CONST, MX_C_INF},
};

static int lex_command(lexer *L, int space)
{
    const char *s = L->s;
    int n = L->n, i = L->i; /* s[i] == '\\' */
    int j = i + 1;
    if (j >= n) {
        L->i = n;
        return 0;
    }
    if (!is_alpha(s[j])) {
        char ch = s[j];
        L->i = j + 1;
        switch (ch) {
        case '{': push(L, T_LSET, s + i, 2, space); return 0;
        case '}': push(L, T_RSET, s + i, 2, space); return 0;
        case '%': push(L, T_PCT, s + i, 2, space); return 0;
        case '\\': push(L, T_ROWSEP, s + i, 2, space); return 0;
        case '$': case ',': case '!': case ';': case ':': case ' ': case '>': case '<': return 0;
        case '|': {
            tok *t = push(L, T_OP, s + i, 2, space);
            if (t) t->op = '|';
            return 0;
        }
        default: push(L, T_BAD, s + i, 2, space); return 0;
        }
    }
    while (j < n && is_alpha(s[j])) j++;
    const char *name = s + i + 1;
    int len = j - i - 1;
    L->i = j;
    /* text-like commands take a braced argument */
    static const char *const textcmds[] = {"text", "textbf", "textit", "textrm", "textnormal", "mbox",
                                           "textsf", "texttt", "hbox", "textup", NULL};
    static const char *const fontcmds[] = {"mathrm", "mathbf", "mathit", "mathsf", "mathcal", "mathbb",
                                           "mathtt", "boldsymbol", "bm", "mathfrak", "operatorname",
                                           "mathscr", NULL};
    int is_text = word_in(name, len, textcmds), is_font = word_in(name, len, fontcmds);
    if (is_text || is_font) {
        int k = j;
        while (k < n && s[k] == ' ') k++;
        int b, e;
        if (k < n && s[k] == '{') {
            int end = group_at(s, n, k, &b, &e);
            if (end < 0) {
                fail(L->p, "unbalanced braces");
                return -1;
            }
            L->i = end;
            if (is_font) {
                /* the inside is math: lex it in place (fonts change nothing) */
                const char *in = s + b;
                int m = e - b;
                trim(&in, &m);
                int f = function_op(in, m);
                if (f) {
                    tok *t = push(L, T_FUNC, in, m, space);
                    if (t) t->op = f;
                    return 0;
                }
                if (m == 1 && is_alpha(in[0])) {
                    int sub_end = subscript_end(s, n, L->i);
                    sub_end = primes_end(s, n, sub_end);
                    if (sub_end > L->i) {
                        /* \mathrm{x}_1: name is the letter and what follows */
                        char *nm = mx_alloc(&L->p->c->arena, (size_t)(1 + sub_end - L->i) + 1);
                        if (!nm) return -1;
                        nm[0] = in[0];
                        memcpy(nm + 1, s + L->i, (size_t)(sub_end - L->i));
                        nm[1 + sub_end - L->i] = 0;
                        push(L, T_ID, nm, 1 + sub_end - L->i, space);
                        L->i = sub_end;
                        return 0;
                    }
                }
                lex_text(L, in, m, space, 1);
                return 0;
            }
            lex_text(L, s + b, e - b, space, 0);
            return 0;
        }
        return 0;
    }
    for (size_t k = 0; k < sizeof commands / sizeof commands[0]; k++) {
        if (!word_eq(name, len, commands[k].name)) continue;
        int ty = commands[k].type;
        if (ty == T_IGNORE) return 0;
        if (ty == T_LSET && commands[k].op == 1) {
            /* \emptyset: an empty set */
            push(L, T_LSET, name, len, space);
            push(L, T_RSET, name, len, 0);
            return 0;
        }
        tok *t = push(L, ty, name, len, space);
        if (t) t->op = commands[k].op;
        if (ty == T_BEGIN || ty == T_ENDENV) {
            int k2 = j, b, e;
            while (k2 < n && s[k2] == ' ') k2++;
            if (k2 < n && s[k2] == '{') {
                int end = group_at(s, n, k2, &b, &e);
                if (end < 0) {
                    fail(L->p, "unbalanced braces");
                    return -1;
                }
                if (t) {
                    t->s = s + b;
                    t->len = e - b;
                }
                L->i = end;
                /* \begin{array}{cc}: skip the column spec */
                if (ty == T_BEGIN && word_eq(s + b, e - b, "array")) {
                    int k3 = L->i;
                    while (k3 < n && s[k3] == ' ') k3++;
                    if (k3 < n && s[k3] == '{') {
                        int end2 = group_at(s, n, k3, &b, &e);
                        if (end2 > 0) L->i = end2;
                    }
                }
            }
        }
        return 0;
    }
    int f = function_op(name, len);
    if (f) {
        tok *t = push(L, T_FUNC, name, len, space);
        if (t) t->op = f;
        return 0;
    }
    if (word_eq(name, len, "arcsec") || word_eq(name, len, "arccsc") || word_eq(name, len, "arccot")) {
        fail(L->p, "unsupported function \\%.*s", len, name);
        return -1;
    }
    /* Greek letters and any other command word: a symbol named by it */
    int end = subscript_end(s, n, j);
    end = primes_end(s, n, end);
    push(L, T_ID, s + i, end - i, space);
    L->i = end;
    return 0;
}

static int lex(parser *p, const char *s, int n)
{
    lexer L = {p, s, n, 0, 64};
    p->t = mx_alloc(&p->c->arena, (size_t)L.cap * sizeof(tok));
    p->n = 0;
    if (!p->t) {
        p->c->costly = 1;
        return -1;
    }
    int decimal_comma = p->c->o->decimal_comma;
    while (L.i < n && !p->failed) {
        int space = 0;
        while (L.i < n && is_space(s[L.i])) {
            L.i++;
            space = 1;
        }
        if (L.i >= n) break;
        int i = L.i;
        unsigned char ch = (unsigned char)s[i];
        if (is_digit(ch) || (ch == '.' && i + 1 < n && is_digit(s[i + 1]))) {
            int j = i;
            while (j < n && is_digit(s[j])) j++;
            int intlen = j - i;
            /* thousands: 1,234,567 outside brackets (and not 1,2 lists) */
            if (p->bracket == 0 && intlen >= 1 && intlen <= 3 && j + 3 < n + 0 && s[j] == ','
                && is_digit(s[j + 1]) && is_digit(s[j + 2]) && is_digit(s[j + 3])
                && (j + 4 >= n || !is_digit(s[j + 4])) && !(s[i] == '0' && decimal_comma)) {
                /* take every ,ddd group */
                char *buf = mx_alloc(&p->c->arena, (size_t)(n - i) + 1);
                if (!buf) return -1;
                int k = 0;
                for (int q = i; q < j; q++) buf[k++] = s[q];
                while (j + 3 < n + 0 && s[j] == ',' && is_digit(s[j + 1]) && is_digit(s[j + 2])
                       && is_digit(s[j + 3]) && (j + 4 >= n || !is_digit(s[j + 4]))) {
                    buf[k++] = s[j + 1];
                    buf[k++] = s[j + 2];
                    buf[k++] = s[j + 3];
                    j += 4;
                }
                if (j + 1 < n && s[j] == '.' && is_digit(s[j + 1])) {
                    buf[k++] = '.';
                    j++;
                    while (j < n && is_digit(s[j])) buf[k++] = s[j++];
                }
                buf[k] = 0;
                push(&L, T_NUM, buf, k, space);
                L.i = j;
                continue;
            }
            if (decimal_comma && j + 1 < n && s[j] == ',' && is_digit(s[j + 1])) {
                int k = j + 1;
                while (k < n && is_digit(s[k])) k++;
                char *buf = mx_alloc(&p->c->arena, (size_t)(k - i) + 1);
                if (!buf) return -1;
                memcpy(buf, s + i, (size_t)(k - i));
                buf[j - i] = '.';
                buf[k - i] = 0;
                push(&L, T_NUM, buf, k - i, space);
                L.i = k;
                continue;
            }
            if (p->bracket == 0 && intlen >= 1 && intlen <= 3 && j + 3 < n && s[j] == ' ' && is_digit(s[j + 1])
                && is_digit(s[j + 2]) && is_digit(s[j + 3]) && (j + 4 >= n || (!is_digit(s[j + 4]) && s[j + 4] != '/'))
                && (p->n == 0 || p->t[p->n - 1].type != T_NUM)) {
                /* 1 000 and 14 916: groups of three after a space */
                char *buf = mx_alloc(&p->c->arena, (size_t)(n - i) + 1);
                if (!buf) return -1;
                int k = 0;
                for (int q = i; q < j; q++) buf[k++] = s[q];
                while (j + 3 < n && s[j] == ' ' && is_digit(s[j + 1]) && is_digit(s[j + 2]) && is_digit(s[j + 3])
                       && (j + 4 >= n || !is_digit(s[j + 4]))) {
                    buf[k++] = s[j + 1];
                    buf[k++] = s[j + 2];
                    buf[k++] = s[j + 3];
                    j += 4;
                }
                buf[k] = 0;
                push(&L, T_NUM, buf, k, space);
                L.i = j;
                continue;
            }
            if (j < n && s[j] == '.' && j + 1 < n && is_digit(s[j + 1])) {
                j++;
                while (j < n && is_digit(s[j])) j++;
            } else if (j < n && s[j] == '.' && (j + 1 >= n || !is_digit(s[j + 1])) && intlen > 0) {
                /* "5." a trailing point: the number is 5 */
            }
            tok *t = push(&L, T_NUM, s + i, j - i, space);
            L.i = j;
            /* a base: 204_5 or 204_{5} */
            if (t && j < n && s[j] == '_') {
                int e = subscript_end(s, n, j);
                int b0 = j + 1, b1 = e;
                if (b0 < n && s[b0] == '{') {
                    b0++;
                    b1--;
                }
                int base = 0, okb = b1 > b0;
                for (int q = b0; q < b1; q++) {
                    if (!is_digit(s[q])) okb = 0;
                    else base = base * 10 + (s[q] - '0');
                    if (base > 36) {
                        okb = 0;
                        break;
                    }
                }
                if (okb && base >= 2) {
                    t->base = base;
                    L.i = e;
                }
            }
            continue;
        }
        if (is_alpha(ch)) {
            int j = i;
            while (j < n && is_alpha(s[j])) j++;
            int len = j - i;
            if (len == 1) {
                int end = subscript_end(s, n, j);
                end = primes_end(s, n, end);
                push(&L, T_ID, s + i, end - i, space);
                L.i = end;
                continue;
            }
            L.i = j;
            int f = function_op(s + i, len);
            if (f) {
                tok *t = push(&L, T_FUNC, s + i, len, space);
                if (t) t->op = f;
            } else if (sep_word(s + i, len)) {
                push(&L, T_SEP, s + i, len, space);
            } else if (pct_word(s + i, len)) {
                push(&L, T_PCT, s + i, len, space);
            } else if (word_eq(s + i, len, "pi")) {
                tok *t = push(&L, T_CONST, s + i, len, space);
                if (t) t->op = MX_C_PI;
            } else if (word_eq(s + i, len, "inf") || word_eq(s + i, len, "infty")
                       || word_eq(s + i, len, "infinity") || word_eq(s + i, len, "oo")) {
                tok *t = push(&L, T_CONST, s + i, len, space);
                if (t) t->op = MX_C_INF;
            } else if (bare_unit(s + i, len)) {
                push(&L, T_UNIT, s + i, len, space);
            } else {
                int end = subscript_end(s, n, j);
                end = primes_end(s, n, end);
                push(&L, T_WORD, s + i, end - i, space);
                L.i = end;
            }
            continue;
        }
        if (ch == '\\') {
            if (lex_command(&L, space) < 0) return -1;
            continue;
        }
        L.i = i + 1;
        switch (ch) {
        case '!':
            if (i + 1 < n && s[i + 1] == '=') {
                tok *t = push(&L, T_REL, s + i, 2, space);
                if (t) t->op = MX_R_NE;
                L.i = i + 2;
                break;
            }
            /* fall through */
        case '+': case '-': case '*': case '/': case '^': case '(': case ')': case '[': case ']':
        case '{': case '}': case ',': case ';': case ':': case '|': case '_': case '\'': {
            if (ch == '(' || ch == '[' || ch == '{') p->bracket++;
            if ((ch == ')' || ch == ']' || ch == '}') && p->bracket > 0) p->bracket--;
            tok *t = push(&L, T_OP, s + i, 1, space);
            if (t) t->op = ch;
            break;
        }
        case '%': push(&L, T_PCT, s + i, 1, space); break;
        case '&': push(&L, T_AMP, s + i, 1, space); break;
        case '=': {
            int len = 1;
            if (i + 1 < n && s[i + 1] == '=') len = 2;
            tok *t = push(&L, T_REL, s + i, len, space);
            if (t) t->op = MX_R_EQ;
            L.i = i + len;
            break;
        }
        case '<': case '>': {
            int op = ch == '<' ? MX_R_LT : MX_R_GT, len = 1;
            if (i + 1 < n && s[i + 1] == '=') {
                op = ch == '<' ? MX_R_LE : MX_R_GE;
                len = 2;
            } else if (ch == '<' && i + 1 < n && s[i + 1] == '>') {
                op = MX_R_NE;
                len = 2;
            }
            tok *t = push(&L, T_REL, s + i, len, space);
            if (t) t->op = op;
            L.i = i + len;
            break;
        }
        case '~': break;
        case '.':
            /* a lone point: ignore (sentence end), unless an ellipsis */
            if (i + 2 < n && s[i + 1] == '.' && s[i + 2] == '.') {
                push(&L, T_BAD, s + i, 3, space);
                L.i = i + 3;
            }
            break;
        case '"': case '`': break;
        default:
            if (ch == '?' || ch == '#' || ch == '@') {
                push(&L, T_BAD, s + i, 1, space);
            } else if (ch >= 0x80) {
                /* a UTF-8 sequence mx_clean did not map: prose or a symbol we
                 * do not know */
                int j = i + 1;
                while (j < n && ((unsigned char)s[j] & 0xC0) == 0x80) j++;
                push(&L, T_BAD, s + i, j - i, space);
                L.i = j;
            }
            break;
        }
    }
    push(&L, T_END, s + n, 0, 0);
    p->bracket = 0;
    return p->failed ? -1 : 0;
}

/* ---- nodes ---------------------------------------------------------- */

static mx_node *node(parser *p, int kind, int n)
{
    mx_ctx *c = p->c;
    if (++c->nodes > c->o->max_nodes) {
        c->costly = 1;
        fail(p, "more than %d nodes", c->o->max_nodes);
        return NULL;
    }
    mx_node *e = mx_node_new(c, kind, n);
    if (!e) fail(p, "out of memory");
    return e;
}

static mx_node *node1(parser *p, int kind, mx_node *a)
{
    if (!a) return NULL;
    mx_node *e = node(p, kind, 1);
    if (e) e->kid[0] = a;
    return e;
}

static mx_node *node2(parser *p, int kind, mx_node *a, mx_node *b)
{
    if (!a || !b) return NULL;
    mx_node *e = node(p, kind, 2);
    if (e) {
        e->kid[0] = a;
        e->kid[1] = b;
    }
    return e;
}

/* A growable list of nodes (in the arena). */
typedef struct nlist {
    mx_node **v;
    int n, cap;
} nlist;

static int nl_push(parser *p, nlist *l, mx_node *e)
{
    if (!e) return -1;
    if (l->n >= p->c->o->max_elements * 4 + 16) {
        p->c->costly = 1;
        fail(p, "more than %d elements", p->c->o->max_elements);
        return -1;
    }
    if (l->n == l->cap) {
        int nc = l->cap ? l->cap * 2 : 8;
        mx_node **nv = mx_alloc(&p->c->arena, (size_t)nc * sizeof *nv);
        if (!nv) {
            p->c->costly = 1;
            return -1;
        }
        if (l->n) memcpy(nv, l->v, (size_t)l->n * sizeof *nv);
        l->v = nv;
        l->cap = nc;
    }
    l->v[l->n++] = e;
    return 0;
}

static mx_node *from_list(parser *p, int kind, nlist *l)
{
    mx_node *e = node(p, kind, l->n);
    if (!e) return NULL;
    for (int k = 0; k < l->n; k++) e->kid[k] = l->v[k];
    return e;
}

static mx_node *num_node(parser *p, const char *digits, int len)
{
    mx_node *e = node(p, MX_NUM, 0);
    if (!e) return NULL;
    int dec;
    if (mx_q_from_decimal(p->c, &e->q, digits, (size_t)len, &dec)) {
        fail(p, "number too large");
        return NULL;
    }
    e->decimals = dec;
    return e;
}

static mx_node *int_node(parser *p, int64_t v)
{
    mx_node *e = node(p, MX_NUM, 0);
    if (e) mx_q_from_int(p->c, &e->q, v);
    return e;
}

static mx_node *based_node(parser *p, const tok *t)
{
    /* digits in base t->base, exact: 204_5 = 54, 0.0011_2 = 3/16 */
    mx_node *e = int_node(p, 0);
    if (!e) return NULL;
    mx_q acc, b, scale;
    mx_q_from_int(p->c, &acc, 0);
    mx_q_from_int(p->c, &b, t->base);
    mx_q_from_int(p->c, &scale, 1);
    int frac = 0;
    for (int k = 0; k < t->len; k++) {
        if (t->s[k] == '.' && !frac) {
            frac = 1;
            continue;
        }
        int d = t->s[k] - '0';
        if (d < 0 || d >= t->base) {
            fail(p, "digit %c is not in base %d", t->s[k], t->base);
            return NULL;
        }
        mx_q dq;
        mx_q_from_int(p->c, &dq, d);
        if (mx_q_mul(p->c, &acc, &acc, &b) || mx_q_add(p->c, &acc, &acc, &dq)
            || (frac && mx_q_mul(p->c, &scale, &scale, &b))) {
            fail(p, "number too large");
            return NULL;
        }
    }
    if (mx_q_div(p->c, &e->q, &acc, &scale)) {
        fail(p, "number too large");
        return NULL;
    }
    return e;
}

/* ---- parser --------------------------------------------------------- */

static tok *cur(parser *p) { return &p->t[p->i]; }
static tok *peek(parser *p, int k) { return &p->t[p->i + k < p->n ? p->i + k : p->n - 1]; }
static int is_op(const tok *t, int ch) { return t->type == T_OP && t->op == ch; }

static int enter(parser *p)
{
    if (++p->depth > p->c->o->max_depth) {
        p->c->costly = 1;
        fail(p, "nested deeper than %d", p->c->o->max_depth);
        return -1;
    }
    return 0;
}

static mx_node *parse_seq(parser *p, int top);
static mx_node *parse_item(parser *p);
static mx_node *parse_sum(parser *p);
static mx_node *parse_unary(parser *p);
static mx_node *parse_power(parser *p);

/* A braced group {..} as one expression; or, without braces, one token's
 * worth (\frac12, \sqrt3, \frac{1}2). */
static mx_node *parse_arg(parser *p)
{
    tok *t = cur(p);
    if (is_op(t, '{')) {
        p->i++;
        p->bracket++;
        mx_node *e = parse_seq(p, 0);
        p->bracket--;
        if (!is_op(cur(p), '}')) {
            fail(p, "expected }");
            return NULL;
        }
        p->i++;
        return e;
    }
    if (t->type == T_NUM) {
        /* \frac12: one digit per argument */
        if (t->base == 0 && t->len > 1 && !memchr(t->s, '.', (size_t)t->len)) {
            mx_node *e = num_node(p, t->s, 1);
            t->s++;
            t->len--;
            return e;
        }
        p->i++;
        return t->base ? based_node(p, t) : num_node(p, t->s, t->len);
    }
    if (t->type == T_ID || t->type == T_CONST || t->type == T_WORD) {
        if (t->type == T_WORD) {
            /* \frac ab: one letter */
            mx_node *e = node(p, MX_SYM, 0);
            if (!e) return NULL;
            e->s = t->s;
            e->slen = 1;
            t->s++;
            t->len--;
            if (t->len == 1) t->type = T_ID;
            return e;
        }
        return parse_power(p);
    }
    if (t->type == T_FRAC || t->type == T_SQRT || t->type == T_BINOM) return parse_power(p);
    fail(p, "expected an argument");
    return NULL;
}

static mx_node *parse_matrix(parser *p)
{
    tok *b = cur(p);
    const char *env = b->s;
    int envlen = b->len;
    p->i++;
    if (!(word_eq(env, envlen, "pmatrix") || word_eq(env, envlen, "bmatrix") || word_eq(env, envlen, "matrix")
          || word_eq(env, envlen, "Bmatrix") || word_eq(env, envlen, "vmatrix") || word_eq(env, envlen, "array")
          || word_eq(env, envlen, "smallmatrix") || word_eq(env, envlen, "Vmatrix"))) {
        fail(p, "environment %.*s is not an answer", envlen, env);
        return NULL;
    }
    nlist cells = {0};
    int rows = 0, cols = -1, in_row = 0;
    for (;;) {
        tok *t = cur(p);
        if (t->type == T_END) {
            fail(p, "unterminated matrix");
            return NULL;
        }
        if (t->type == T_ROWSEP || t->type == T_ENDENV) {
            /* a row ends (an empty one, as after a trailing \\, is none) */
            p->i++;
            if (in_row) {
                if (cols >= 0 && in_row != cols) {
                    fail(p, "ragged matrix");
                    return NULL;
                }
                cols = in_row;
                rows++;
                in_row = 0;
            }
            if (t->type == T_ENDENV) break;
            continue;
        }
        mx_node *e = parse_item(p);
        if (!e || nl_push(p, &cells, e)) return NULL;
        in_row++;
        if (cur(p)->type == T_AMP) p->i++;
        else if (cur(p)->type != T_ROWSEP && cur(p)->type != T_ENDENV) {
            fail(p, "unexpected token in matrix");
            return NULL;
        }
    }
    if (rows == 0 || cols <= 0 || rows * cols != cells.n) {
        fail(p, "empty or ragged matrix");
        return NULL;
    }
    if (cells.n > p->c->o->max_elements) {
        p->c->costly = 1;
        fail(p, "matrix larger than %d elements", p->c->o->max_elements);
        return NULL;
    }
    mx_node *m = from_list(p, MX_MATRIX, &cells);
    if (m) {
        m->rows = rows;
        m->cols = cols;
    }
    return m;
}

/* ( [ opened: a group, a tuple, or an interval. */
static mx_node *parse_bracketed(parser *p, int open)
{
    p->i++;
    p->bracket++;
    nlist items = {0};
    if (!(is_op(cur(p), ')') || is_op(cur(p), ']'))) {
        for (;;) {
            mx_node *e = parse_item(p);
            if (!e || nl_push(p, &items, e)) return NULL;
            if (is_op(cur(p), ',') || is_op(cur(p), ';')) {
                p->i++;
                continue;
            }
            break;
        }
    }
    p->bracket--;
    tok *t = cur(p);
    int close = is_op(t, ')') ? ')' : is_op(t, ']') ? ']' : 0;
    if (!close) {
        fail(p, "expected a closing bracket");
        return NULL;
    }
    p->i++;
    if (items.n == 0) {
        fail(p, "empty brackets");
        return NULL;
    }
    if (items.n == 1) {
        if (open == '[' && close == ']') return items.v[0];
        if (open != close - 1 && !(open == '(' && close == ')')) {
            fail(p, "mismatched brackets");
            return NULL;
        }
        mx_node *e = items.v[0];
        e->flags |= MX_PAREN;
        return e;
    }
    if (items.n == 2 && (open == '[' || close == ']')) {
        mx_node *e = node2(p, MX_INTERVAL, items.v[0], items.v[1]);
        if (e) e->flags = (uint8_t)((open == '[' ? MX_LO_CLOSED : 0) | (close == ']' ? MX_HI_CLOSED : 0));
        return e;
    }
    if (open == '(' && close == ')') {
        mx_node *e = from_list(p, MX_TUPLE, &items);
        if (e) e->flags |= MX_PAREN;
        return e;
    }
    if (open == '[' && close == ']') {
        mx_node *e = from_list(p, MX_TUPLE, &items);
        if (e) e->flags |= MX_BRACKETED;
        return e;
    }
    fail(p, "mismatched brackets");
    return NULL;
}

static int starts_primary(parser *p, const tok *t)
{
    switch (t->type) {
    case T_NUM: case T_ID: case T_WORD: case T_FUNC: case T_CONST: case T_FRAC: case T_SQRT:
    case T_BINOM: case T_BEGIN: case T_LSET:
        return 1;
    case T_OP:
        if (t->op == '(' || t->op == '[') return t->op == '(' || !t->space;
        if (t->op == '{') return 1;
        if (t->op == '|') return p->abs_depth == 0;
        return 0;
    default: return 0;
    }
}

/* The arguments of a call, at '(': items separated by commas, then ')'.
 * Returns 0 with the arguments in *args, or -1 (the parser has failed). */
static int parse_call_args(parser *p, nlist *args)
{
    p->i++;
    p->bracket++;
    for (;;) {
        mx_node *e = parse_item(p);
        if (!e || nl_push(p, args, e)) return -1;
        if (!is_op(cur(p), ',')) break;
        p->i++;
    }
    p->bracket--;
    if (!is_op(cur(p), ')')) {
        fail(p, "expected ) after the arguments");
        return -1;
    }
    p->i++;
    return 0;
}

static mx_node *parse_function(parser *p)
{
    tok *t = cur(p);
    int op = t->op;
    p->i++;
    mx_node *base = NULL, *power = NULL;
    /* \log_b x */
    if (is_op(cur(p), '_')) {
        p->i++;
        base = parse_arg(p);
        if (!base) return NULL;
    }
    /* \sin^2 x */
    if (is_op(cur(p), '^')) {
        p->i++;
        power = parse_arg(p);
        if (!power) return NULL;
    }
    nlist args = {0};
    if (is_op(cur(p), '(')) {
        if (parse_call_args(p, &args)) return NULL;
    } else if (is_op(cur(p), '{')) {
        mx_node *e = parse_arg(p);
        if (nl_push(p, &args, e)) return NULL;
    } else {
        /* \sin x, \sin 2x, \ln 3: a product of simple factors */
        mx_node *e = parse_power(p);
        if (!e) return NULL;
        while (!p->failed) {
            tok *n = cur(p);
            if (n->type != T_NUM && n->type != T_ID && n->type != T_CONST && n->type != T_WORD) break;
            mx_node *f = parse_power(p);
            e = node2(p, MX_MUL, e, f);
            if (!e) return NULL;
        }
        if (nl_push(p, &args, e)) return NULL;
    }
    mx_node *f;
    if (op == MX_F_LOG && base) {
        f = node2(p, MX_FUNC, args.v[0], base);
        if (f) f->op = MX_F_LOGB;
    } else if (op == MX_F_LOGB) {
        mx_node *ten = int_node(p, 10);
        f = node2(p, MX_FUNC, args.v[0], ten);
        if (f) f->op = MX_F_LOGB;
    } else {
        f = from_list(p, MX_FUNC, &args);
        if (f) f->op = (uint8_t)op;
        int need = (op == MX_F_GCD || op == MX_F_LCM || op == MX_F_MAX || op == MX_F_MIN) ? -1
                   : (op == MX_F_BINOM) ? 2 : 1;
        if (f && need > 0 && f->n != need) {
            fail(p, "wrong number of arguments");
            return NULL;
        }
    }
    if (f && power) {
        /* \sin^{-1} x is the inverse */
        int64_t pv;
        if (power->kind == MX_NEG && power->kid[0]->kind == MX_NUM && mx_q_is_int(&power->kid[0]->q, &pv)
            && pv == 1 && f->op >= MX_F_SIN && f->op <= MX_F_TAN) {
            f->op = (uint8_t)(f->op == MX_F_SIN ? MX_F_ASIN : f->op == MX_F_COS ? MX_F_ACOS : MX_F_ATAN);
            return f;
        }
        f = node2(p, MX_POW, f, power);
    }
    return f;
}

static mx_node *parse_primary(parser *p)
{
    if (enter(p)) return NULL;
    tok *t = cur(p);
    mx_node *e = NULL;
    switch (t->type) {
    case T_NUM:
        p->i++;
        e = t->base ? based_node(p, t) : num_node(p, t->s, t->len);
        break;
    case T_ID: {
        p->i++;
        /* f(x), g(x), h(x): an unknown function applied */
        if (t->len == 1 && strchr("fghFGHPQWT", t->s[0]) && is_op(cur(p), '(') && !cur(p)->space) {
            nlist args = {0};
            if (parse_call_args(p, &args)) return NULL;
            e = from_list(p, MX_FUNC, &args);
            if (e) {
                e->op = MX_F_APPLY;
                e->s = t->s;
                e->slen = t->len;
            }
            break;
        }
        if (t->len == 1 && (t->s[0] == 'e' || t->s[0] == 'i')) {
            e = node(p, MX_CONST, 0);
            if (e) e->op = t->s[0] == 'e' ? MX_C_E : MX_C_I;
            break;
        }
        e = node(p, MX_SYM, 0);
        if (e) {
            e->s = t->s;
            e->slen = t->len;
        }
        break;
    }
    case T_WORD: {
        /* letters written together: a product of variables (xy), unless the
         * word is prose (checked by the caller through `words`) */
        p->i++;
        nlist f = {0};
        for (int k = 0; k < t->len; k++) {
            int end = k + 1;
            if (k + 1 < t->len && !is_alpha(t->s[k + 1])) end = t->len; /* a subscript at the end */
            mx_node *v = node(p, MX_SYM, 0);
            if (!v) return NULL;
            v->s = t->s + k;
            v->slen = end - k;
            if (v->slen == 1 && (t->s[k] == 'e' || t->s[k] == 'i')) {
                v->kind = MX_CONST;
                v->op = t->s[k] == 'e' ? MX_C_E : MX_C_I;
            }
            if (nl_push(p, &f, v)) return NULL;
            k = end - 1;
        }
        e = f.n == 1 ? f.v[0] : from_list(p, MX_MUL, &f);
        break;
    }
    case T_CONST:
        p->i++;
        e = node(p, MX_CONST, 0);
        if (e) e->op = (uint8_t)t->op;
        break;
    case T_FUNC: e = parse_function(p); break;
    case T_FRAC: {
        p->i++;
        mx_node *a = parse_arg(p);
        mx_node *b = a ? parse_arg(p) : NULL;
        e = node2(p, MX_DIV, a, b);
        break;
    }
    case T_BINOM: {
        p->i++;
        mx_node *a = parse_arg(p);
        mx_node *b = a ? parse_arg(p) : NULL;
        e = node2(p, MX_FUNC, a, b);
        if (e) e->op = MX_F_BINOM;
        break;
    }
    case T_SQRT: {
        p->i++;
        mx_node *idx = NULL;
        if (is_op(cur(p), '[')) {
            p->i++;
            idx = parse_sum(p);
            if (!idx || !is_op(cur(p), ']')) {
                fail(p, "expected ] after root index");
                return NULL;
            }
            p->i++;
        }
        mx_node *a = parse_arg(p);
        if (idx) {
            e = node2(p, MX_FUNC, a, idx);
            if (e) e->op = MX_F_ROOT;
        } else {
            e = node1(p, MX_FUNC, a);
            if (e) e->op = MX_F_SQRT;
        }
        break;
    }
    case T_BEGIN: e = parse_matrix(p); break;
    case T_LSET: {
        p->i++;
        nlist items = {0};
        p->bracket++;
        if (cur(p)->type != T_RSET) {
            for (;;) {
                mx_node *a = parse_item(p);
                if (!a || nl_push(p, &items, a)) return NULL;
                if (is_op(cur(p), ',') || is_op(cur(p), ';') || cur(p)->type == T_SEP) {
                    p->i++;
                    continue;
                }
                break;
            }
        }
        p->bracket--;
        if (cur(p)->type != T_RSET) {
            fail(p, "expected \\}");
            return NULL;
        }
        p->i++;
        e = from_list(p, MX_SET, &items);
        break;
    }
    case T_OP:
        if (t->op == '(' || t->op == '[') {
            e = parse_bracketed(p, t->op);
            break;
        }
        if (t->op == '{') {
            p->i++;
            p->bracket++;
            e = parse_seq(p, 0);
            p->bracket--;
            if (e && !is_op(cur(p), '}')) {
                fail(p, "expected }");
                return NULL;
            }
            p->i++;
            break;
        }
        if (t->op == '|') {
            p->i++;
            p->abs_depth++;
            mx_node *a = parse_sum(p);
            p->abs_depth--;
            if (a && !is_op(cur(p), '|')) {
                fail(p, "expected |");
                return NULL;
            }
            p->i++;
            e = node1(p, MX_FUNC, a);
            if (e) e->op = MX_F_ABS;
            break;
        }
        fail(p, "unexpected '%c'", t->op);
        break;
    case T_TEXT:
        p->i++;
        e = node(p, MX_TEXT, 0);
        if (e) {
            e->s = t->s;
            e->slen = t->len;
        }
        break;
    case T_END: fail(p, "unexpected end"); break;
    default: fail(p, "unexpected '%.*s'", t->len > 20 ? 20 : t->len, t->s); break;
    }
    p->depth--;
    return p->failed ? NULL : e;
}

static mx_node *parse_postfix(parser *p)
{
    mx_node *e = parse_primary(p);
    while (e && !p->failed) {
        tok *t = cur(p);
        if (is_op(t, '!')) {
            p->i++;
            e = node1(p, MX_FACT, e);
        } else if (t->type == T_PCT) {
            p->i++;
            e = node1(p, MX_PCT, e);
        } else if (t->type == T_UNIT) {
            p->i++;
            /* "cm^2", "cm^{2}" */
            if (is_op(cur(p), '^')) {
                p->i++;
                if (!parse_arg(p)) return NULL;
            }
        } else if (is_op(t, '\'')) {
            p->i++; /* a derivative mark after a group: ignore */
        } else {
            break;
        }
    }
    return e;
}

static mx_node *parse_power(parser *p)
{
    if (enter(p)) return NULL;
    mx_node *b = parse_postfix(p);
    if (b && is_op(cur(p), '^')) {
        p->i++;
        mx_node *x;
        if (is_op(cur(p), '{')) x = parse_arg(p);
        else if (is_op(cur(p), '-') || is_op(cur(p), '+')) {
            int neg = is_op(cur(p), '-');
            p->i++;
            x = parse_power(p);
            if (neg) x = node1(p, MX_NEG, x);
        } else if (cur(p)->type == T_NUM) {
            /* x^23 in LaTeX is x^2 3; take one digit as TeX does when the
             * number has more: but 10^10 typed plainly means 10^10. Take all. */
            x = parse_postfix(p);
        } else {
            x = parse_power(p);
        }
        b = node2(p, MX_POW, b, x);
        /* postfix after a power: (x^2)! is rare; a unit after cm^2 */
        while (b && cur(p)->type == T_UNIT) p->i++;
    }
    p->depth--;
    return p->failed ? NULL : b;
}

static mx_node *parse_unary(parser *p)
{
    if (enter(p)) return NULL;
    tok *t = cur(p);
    mx_node *e;
    if (is_op(t, '-')) {
        p->i++;
        e = node1(p, MX_NEG, parse_unary(p));
    } else if (is_op(t, '+')) {
        p->i++;
        e = parse_unary(p);
    } else if (t->type == T_PM || t->type == T_MP) {
        p->i++;
        mx_node *zero = int_node(p, 0);
        e = node2(p, MX_PM, zero, parse_unary(p));
    } else {
        e = parse_power(p);
    }
    p->depth--;
    return p->failed ? NULL : e;
}

static int is_small_int(const mx_node *e)
{
    int64_t v;
    return e && e->kind == MX_NUM && e->decimals < 0 && mx_q_is_int(&e->q, &v) && v >= 0;
}

static mx_node *parse_term(parser *p)
{
    if (enter(p)) return NULL;
    nlist f = {0};
    mx_node *e = parse_unary(p);
    if (nl_push(p, &f, e)) return NULL;
    while (!p->failed) {
        tok *t = cur(p);
        if (t->type == T_MUL || is_op(t, '*')) {
            p->i++;
            if (nl_push(p, &f, parse_unary(p))) return NULL;
        } else if (t->type == T_DIV || is_op(t, '/')) {
            p->i++;
            mx_node *d = parse_unary(p);
            mx_node *num = f.n == 1 ? f.v[0] : from_list(p, MX_MUL, &f);
            f.n = 0;
            if (nl_push(p, &f, node2(p, MX_DIV, num, d))) return NULL;
        } else if (t->type == T_TEXT && p->i + 1 < p->n && !starts_primary(p, peek(p, 1))) {
            /* an annotation after a value: "17 \text{ any text}" */
            p->i++;
        } else if (starts_primary(p, t)) {
            /* juxtaposition; an integer then a proper fraction is a mixed
             * number: 3\frac12, 3128 1/2 */
            mx_node *last = f.v[f.n - 1];
            mx_node *g = parse_power(p);
            if (!g) return NULL;
            if (is_small_int(last) && f.n == 1 && g->kind == MX_DIV && is_small_int(g->kid[0])
                && is_small_int(g->kid[1]) && mx_q_cmp(&g->kid[0]->q, &g->kid[1]->q) < 0) {
                f.v[0] = node2(p, MX_ADD, last, g);
                continue;
            }
            if (is_small_int(last) && f.n == 1 && g->kind == MX_NUM && t->space && is_small_int(g)
                && is_op(cur(p), '/') && peek(p, 1)->type == T_NUM) {
                /* "3128 1/2" */
                p->i++;
                mx_node *den = parse_unary(p);
                mx_node *fr = node2(p, MX_DIV, g, den);
                if (fr && is_small_int(den) && mx_q_cmp(&g->q, &den->q) < 0) {
                    f.v[0] = node2(p, MX_ADD, last, fr);
                    continue;
                }
                if (nl_push(p, &f, fr)) return NULL;
                continue;
            }
            if (last->kind == MX_NUM && g->kind == MX_NUM) {
                fail(p, "two numbers side by side");
                return NULL;
            }
            if (nl_push(p, &f, g)) return NULL;
        } else {
            break;
        }
    }
    p->depth--;
    if (p->failed) return NULL;
    return f.n == 1 ? f.v[0] : from_list(p, MX_MUL, &f);
}

static mx_node *parse_sum(parser *p)
{
    if (enter(p)) return NULL;
    nlist terms = {0};
    int pm = 0;
    mx_node *pm_left = NULL, *pm_right = NULL;
    mx_node *e = parse_term(p);
    if (nl_push(p, &terms, e)) return NULL;
    while (!p->failed) {
        tok *t = cur(p);
        if (is_op(t, '+')) {
            p->i++;
            if (nl_push(p, &terms, parse_term(p))) return NULL;
        } else if (is_op(t, '-')) {
            p->i++;
            if (nl_push(p, &terms, node1(p, MX_NEG, parse_term(p)))) return NULL;
        } else if ((t->type == T_PM || t->type == T_MP) && !pm) {
            /* a \pm b c: everything after \pm is the varying part */
            p->i++;
            pm = 1;
            pm_left = terms.n == 1 ? terms.v[0] : from_list(p, MX_ADD, &terms);
            terms.n = 0;
            if (nl_push(p, &terms, parse_term(p))) return NULL;
        } else {
            break;
        }
    }
    p->depth--;
    if (p->failed) return NULL;
    mx_node *s = terms.n == 1 ? terms.v[0] : from_list(p, MX_ADD, &terms);
    if (pm) {
        pm_right = s;
        return node2(p, MX_PM, pm_left, pm_right);
    }
    return s;
}

static mx_node *parse_set(parser *p)
{
    mx_node *e = parse_sum(p);
    if (!e) return NULL;
    if (cur(p)->type != T_CUP) return e;
    nlist parts = {0};
    if (nl_push(p, &parts, e)) return NULL;
    while (cur(p)->type == T_CUP && !p->failed) {
        p->i++;
        if (nl_push(p, &parts, parse_sum(p))) return NULL;
    }
    if (cur(p)->type == T_CAP || cur(p)->type == T_SETMINUS) {
        fail(p, "set operations other than union");
        return NULL;
    }
    return from_list(p, MX_UNION, &parts);
}

static mx_node *parse_item(parser *p)
{
    if (enter(p)) return NULL;
    nlist sides = {0};
    uint8_t ops[64];
    mx_node *e = parse_set(p);
    if (nl_push(p, &sides, e)) return NULL;
    /* ratios a:b (and a:b:c) */
    while (is_op(cur(p), ':') && !p->failed) {
        p->i++;
        mx_node *b = parse_set(p);
        e = node2(p, MX_RATIO, sides.v[sides.n - 1], b);
        if (!e) return NULL;
        sides.v[sides.n - 1] = e;
    }
    while (cur(p)->type == T_REL && !p->failed) {
        if (sides.n > 63) {
            fail(p, "relation chain too long");
            return NULL;
        }
        ops[sides.n - 1] = (uint8_t)cur(p)->op;
        p->i++;
        mx_node *b = parse_set(p);
        if (nl_push(p, &sides, b)) return NULL;
        while (is_op(cur(p), ':') && !p->failed) {
            p->i++;
            mx_node *r = parse_set(p);
            mx_node *q = node2(p, MX_RATIO, sides.v[sides.n - 1], r);
            if (!q) return NULL;
            sides.v[sides.n - 1] = q;
        }
    }
    p->depth--;
    if (p->failed) return NULL;
    if (sides.n == 1) return sides.v[0];
    mx_node *r = from_list(p, MX_REL, &sides);
    if (!r) return NULL;
    r->ops = mx_alloc(&p->c->arena, (size_t)sides.n);
    if (!r->ops) {
        p->c->costly = 1;
        return NULL;
    }
    memcpy(r->ops, ops, (size_t)(sides.n - 1));
    return r;
}

static int is_sep(parser *p, const tok *t, int top)
{
    if (is_op(t, ',')) return 1;
    if (is_op(t, ';')) return 1;
    if (t->type == T_SEP) return 1;
    (void)p;
    (void)top;
    return 0;
}

/* Items separated by ',', ';' and list words. At the top level, ';' and
 * list words between groups of label equations (p=5, q=2; p=7, q=2) make
 * tuples of the groups. */
static mx_node *parse_seq(parser *p, int top)
{
    if (enter(p)) return NULL;
    nlist groups = {0}, items = {0};
    int group_has_multi = 0, semicolons = 0, has_rel = 0;
    for (;;) {
        while (cur(p)->type == T_SEP) p->i++; /* "and 5", leading list words */
        if (top && cur(p)->type == T_END) break;
        mx_node *e = parse_item(p);
        if (!e || nl_push(p, &items, e)) return NULL;
        if (e->kind == MX_REL) has_rel = 1;
        tok *t = cur(p);
        if (!is_sep(p, t, top)) break;
        /* a group ends at ';' or a list word (after an optional comma) */
        int group_end = is_op(t, ';') || t->type == T_SEP
                        || (is_op(t, ',') && peek(p, 1)->type == T_SEP);
        if (is_op(t, ';')) semicolons = 1;
        while (is_sep(p, cur(p), top)) p->i++;
        if (group_end) {
            if (items.n > 1) group_has_multi = 1;
            mx_node *g = items.n == 1 ? items.v[0] : from_list(p, MX_TUPLE, &items);
            if (nl_push(p, &groups, g)) return NULL;
            if (items.n > 1 && g) {
                /* keep the items for flattening */
                g->flags |= MX_BRACKETED;
            }
            items.n = 0;
            items.v = NULL;
            items.cap = 0;
        }
        if (cur(p)->type == T_END || is_op(cur(p), '}') || is_op(cur(p), ')') || is_op(cur(p), ']')
            || cur(p)->type == T_RSET)
            break;
    }
    p->depth--;
    if (p->failed) return NULL;
    if (items.n) {
        if (items.n > 1) group_has_multi = 1;
        mx_node *g = items.n == 1 ? items.v[0] : from_list(p, MX_TUPLE, &items);
        if (g && items.n > 1) g->flags |= MX_BRACKETED;
        if (nl_push(p, &groups, g)) return NULL;
    }
    if (groups.n == 0) {
        fail(p, "empty answer");
        return NULL;
    }
    if (groups.n == 1 && !(groups.v[0]->kind == MX_TUPLE && (groups.v[0]->flags & MX_BRACKETED)
                           && !(groups.v[0]->flags & MX_PAREN)))
        return groups.v[0];
    if (group_has_multi && !(semicolons || has_rel)) {
        /* plain commas and list words: one flat list */
        nlist flat = {0};
        for (int g = 0; g < groups.n; g++) {
            mx_node *x = groups.v[g];
            if (x->kind == MX_TUPLE && (x->flags & MX_BRACKETED) && !(x->flags & MX_PAREN)) {
                for (int k = 0; k < x->n; k++)
                    if (nl_push(p, &flat, x->kid[k])) return NULL;
            } else if (nl_push(p, &flat, x)) {
                return NULL;
            }
        }
        groups = flat;
    }
    if (groups.n == 1 && groups.v[0]->kind == MX_TUPLE && !(groups.v[0]->flags & MX_PAREN)) {
        /* a single group of items: a bare list */
        groups.v[0]->kind = MX_LIST;
        return groups.v[0];
    }
    if (groups.n > p->c->o->max_elements) {
        p->c->costly = 1;
        fail(p, "more than %d elements", p->c->o->max_elements);
        return NULL;
    }
    return from_list(p, MX_LIST, &groups);
}

/* A word of prose: four letters or more, not all capitals (ABCD names
 * points), with a vowel (xyzw is a product of variables). */
static int prose_word(const tok *t)
{
    if (t->type != T_WORD || t->len < 4) return 0;
    int upper = 1, vowel = 0;
    for (int k = 0; k < t->len; k++) {
        char ch = t->s[k];
        if (!is_alpha(ch)) return 0;
        if (ch >= 'a' && ch <= 'z') upper = 0;
        if (strchr("aeiouyAEIOUY", ch)) vowel = 1;
    }
    return !upper && vowel;
}

/* 2: prose (two words side by side, or a prose word beside math); 1: a
 * single word (a text answer: odd, Evelyn); 0: math. */
static int is_prose(parser *p)
{
    int words = 0, others = 0, run = 0, prose = 0;
    for (int k = 0; k < p->n; k++) {
        tok *t = &p->t[k];
        if (t->type == T_WORD && t->len >= 2) {
            words++;
            run++;
            prose |= prose_word(t);
            if (run >= 2) return 2;
        } else if (t->type == T_SEP || t->type == T_UNIT) {
            /* "odd or even": list words keep a run of words going */
        } else if (t->type != T_END && !is_op(t, '.') && !is_op(t, ',') && !is_op(t, ':')) {
            run = 0;
            others++;
        }
    }
    if (words == 1 && others == 0) return 1;
    if (prose) return 2;
    return 0;
}

mx_node *mx_parse(mx_ctx *c, const char *s, size_t n, char *err, size_t err_len)
{
    parser p = {0};
    p.c = c;
    p.err = err;
    p.err_len = err_len;
    if (err && err_len) err[0] = 0;
    c->nodes = 0;
    if (n > c->o->max_answer_bytes) {
        c->costly = 1;
        fail(&p, "answer longer than %zu bytes", c->o->max_answer_bytes);
        return NULL;
    }
    if (lex(&p, s, (int)n)) return NULL;
    if (p.n <= 1) {
        fail(&p, "empty answer");
        return NULL;
    }
    for (int k = 0; k < p.n; k++)
        if (p.t[k].type == T_BAD) {
            fail(&p, "cannot read '%.*s'", p.t[k].len > 20 ? 20 : p.t[k].len, p.t[k].s);
            return NULL;
        }
    int prose = is_prose(&p);
    if (prose == 2) {
        fail(&p, "prose, not a mathematical answer");
        return NULL;
    }
    if (prose == 1 || (p.n == 2 && p.t[0].type == T_TEXT)) {
        /* a single word (odd, Evelyn) or a \text{} phrase: a text answer */
        tok *t = p.t[0].type == T_END ? NULL : &p.t[0];
        for (int k = 0; k < p.n; k++)
            if (p.t[k].type == T_WORD || p.t[k].type == T_TEXT) t = &p.t[k];
        mx_node *e = node(&p, MX_TEXT, 0);
        if (!e || !t) return NULL;
        e->s = t->s;
        e->slen = t->len;
        return e;
    }
    /* a lone unit or percent word is not an answer */
    mx_node *e = parse_seq(&p, 1);
    if (!e) return NULL;
    if (cur(&p)->type != T_END) {
        tok *t = cur(&p);
        fail(&p, "unexpected '%.*s'", t->len > 20 ? 20 : t->len, t->s);
        return NULL;
    }
    return e;
}

/* ---- printer -------------------------------------------------------- */

typedef struct out {
    char *b;
    size_t cap, n;
} out;

static void put(out *o, const char *s, size_t n)
{
    for (size_t k = 0; k < n && o->n + 1 < o->cap; k++) o->b[o->n++] = s[k];
    if (o->cap) o->b[o->n < o->cap ? o->n : o->cap - 1] = 0;
}
static void puts_(out *o, const char *s) { put(o, s, strlen(s)); }

static const char *fname(int op)
{
    switch (op) {
    case MX_F_SQRT: return "\\sqrt";
    case MX_F_ROOT: return "\\root";
    case MX_F_SIN: return "\\sin";
    case MX_F_COS: return "\\cos";
    case MX_F_TAN: return "\\tan";
    case MX_F_SEC: return "\\sec";
    case MX_F_CSC: return "\\csc";
    case MX_F_COT: return "\\cot";
    case MX_F_ASIN: return "\\arcsin";
    case MX_F_ACOS: return "\\arccos";
    case MX_F_ATAN: return "\\arctan";
    case MX_F_SINH: return "\\sinh";
    case MX_F_COSH: return "\\cosh";
    case MX_F_TANH: return "\\tanh";
    case MX_F_LN: return "\\ln";
    case MX_F_LOG: return "\\log";
    case MX_F_LOGB: return "\\log_b";
    case MX_F_EXP: return "\\exp";
    case MX_F_ABS: return "\\abs";
    case MX_F_BINOM: return "\\binom";
    case MX_F_FLOOR: return "\\floor";
    case MX_F_CEIL: return "\\ceil";
    case MX_F_GCD: return "\\gcd";
    case MX_F_LCM: return "\\lcm";
    case MX_F_MAX: return "\\max";
    case MX_F_MIN: return "\\min";
    default: return "f";
    }
}

static const char *relname(int op)
{
    switch (op) {
    case MX_R_EQ: return "=";
    case MX_R_LT: return "<";
    case MX_R_LE: return "\\le ";
    case MX_R_GT: return ">";
    case MX_R_GE: return "\\ge ";
    case MX_R_NE: return "\\ne ";
    case MX_R_APPROX: return "\\approx ";
    case MX_R_IN: return "\\in ";
    default: return "?";
    }
}

static void pr(out *o, const mx_node *e, int depth)
{
    if (!e || depth > 200 || o->n + 1 >= o->cap) return;
    char buf[128];
    switch (e->kind) {
    case MX_NUM:
        mx_q_print(&e->q, buf, sizeof buf);
        puts_(o, buf);
        break;
    case MX_SYM: case MX_CHOICE: put(o, e->s, (size_t)e->slen); break;
    case MX_TEXT:
        puts_(o, "\\text{");
        put(o, e->s, (size_t)e->slen);
        puts_(o, "}");
        break;
    case MX_CONST:
        puts_(o, e->op == MX_C_PI ? "\\pi" : e->op == MX_C_E ? "e" : e->op == MX_C_I ? "i" : "\\infty");
        break;
    case MX_ADD:
        puts_(o, "(");
        for (int k = 0; k < e->n; k++) {
            if (k) puts_(o, "+");
            pr(o, e->kid[k], depth + 1);
        }
        puts_(o, ")");
        break;
    case MX_MUL:
        for (int k = 0; k < e->n; k++) {
            if (k) puts_(o, "\\cdot ");
            pr(o, e->kid[k], depth + 1);
        }
        break;
    case MX_NEG:
        puts_(o, "-");
        pr(o, e->kid[0], depth + 1);
        break;
    case MX_DIV:
        puts_(o, "\\frac{");
        pr(o, e->kid[0], depth + 1);
        puts_(o, "}{");
        pr(o, e->kid[1], depth + 1);
        puts_(o, "}");
        break;
    case MX_POW:
        puts_(o, "{");
        pr(o, e->kid[0], depth + 1);
        puts_(o, "}^{");
        pr(o, e->kid[1], depth + 1);
        puts_(o, "}");
        break;
    case MX_FUNC:
        if (e->op == MX_F_APPLY) put(o, e->s, (size_t)e->slen);
        else puts_(o, fname(e->op));
        puts_(o, "(");
        for (int k = 0; k < e->n; k++) {
            if (k) puts_(o, ",");
            pr(o, e->kid[k], depth + 1);
        }
        puts_(o, ")");
        break;
    case MX_FACT:
        puts_(o, "(");
        pr(o, e->kid[0], depth + 1);
        puts_(o, ")!");
        break;
    case MX_PM:
        pr(o, e->kid[0], depth + 1);
        puts_(o, "\\pm ");
        pr(o, e->kid[1], depth + 1);
        break;
    case MX_PCT:
        pr(o, e->kid[0], depth + 1);
        puts_(o, "\\%");
        break;
    case MX_RATIO:
        pr(o, e->kid[0], depth + 1);
        puts_(o, ":");
        pr(o, e->kid[1], depth + 1);
        break;
    case MX_TUPLE: case MX_SET: case MX_LIST:
        puts_(o, e->kind == MX_TUPLE ? "(" : e->kind == MX_SET ? "\\{" : "");
        for (int k = 0; k < e->n; k++) {
            if (k) puts_(o, ", ");
            pr(o, e->kid[k], depth + 1);
        }
        puts_(o, e->kind == MX_TUPLE ? ")" : e->kind == MX_SET ? "\\}" : "");
        break;
    case MX_INTERVAL:
        puts_(o, (e->flags & MX_LO_CLOSED) ? "[" : "(");
        pr(o, e->kid[0], depth + 1);
        puts_(o, ", ");
        pr(o, e->kid[1], depth + 1);
        puts_(o, (e->flags & MX_HI_CLOSED) ? "]" : ")");
        break;
    case MX_UNION:
        for (int k = 0; k < e->n; k++) {
            if (k) puts_(o, "\\cup ");
            pr(o, e->kid[k], depth + 1);
        }
        break;
    case MX_MATRIX:
        puts_(o, "\\begin{pmatrix}");
        for (int r = 0; r < e->rows; r++) {
            if (r) puts_(o, "\\\\");
            for (int k = 0; k < e->cols; k++) {
                if (k) puts_(o, "&");
                pr(o, e->kid[r * e->cols + k], depth + 1);
            }
        }
        puts_(o, "\\end{pmatrix}");
        break;
    case MX_REL:
        for (int k = 0; k < e->n; k++) {
            if (k) puts_(o, relname(e->ops[k - 1]));
            pr(o, e->kid[k], depth + 1);
        }
        break;
    default: puts_(o, "?"); break;
    }
}

void mx_print(const mx_node *e, char *buf, size_t cap)
{
    out o = {buf, cap, 0};
    if (cap) buf[0] = 0;
    pr(&o, e, 0);
}
