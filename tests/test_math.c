/*
 * test_math.c -- the math verifier's engine (verifiers/math_verifier.h), table by
 * table: each equivalence rule, extraction, cleaning, hedges, zero versus
 * abstain, every cost bound with hostile inputs, the options, echoes,
 * determinism across threads, and the options' own checks.
 *
 * Every row states the status it expects (and for equal rows the rule that
 * must decide), so a rule that starts deciding through another path, or a
 * bound that stops holding, fails here.
 */
#include "tap.h"
#include "math_verifier.h"

#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define EQ RLVR_MATH_EQUAL
#define NE RLVR_MATH_NOT_EQUAL
#define NOANS RLVR_MATH_NO_ANSWER
#define PINV RLVR_MATH_PRED_INVALID
#define PCOST RLVR_MATH_PRED_TOO_COSTLY
#define HEDGE RLVR_MATH_HEDGE
#define GINV RLVR_MATH_GOLD_INVALID
#define GCOST RLVR_MATH_GOLD_TOO_COSTLY
#define UNDEC RLVR_MATH_UNDECIDED
#define ECHO RLVR_MATH_ECHO

typedef struct row {
    const char *gold, *pred;
    rlvr_math_status want;
    const char *rule; /* NULL: any */
} row;

static void check_rows(const char *title, const row *rows, size_t n, const rlvr_math_options *o)
{
    for (size_t i = 0; i < n; i++) {
        const row *r = &rows[i];
        rlvr_math_verdict v;
        int rc = rlvr_math_verify(r->gold, strlen(r->gold), r->pred, strlen(r->pred), o, &v);
        int good = rc == 0 && v.status == r->want && (!r->rule || strcmp(v.rule, r->rule) == 0);
        ok(good, "%s: gold %.60s | pred %.60s -> %s%s%s", title, r->gold, r->pred, rlvr_math_status_name(r->want),
           r->rule ? " by " : "", r->rule ? r->rule : "");
        if (!good)
            diag("got %s (rule %s, pred [%s] '%s' -> '%s', gold '%s' -> '%s'): %s", v.reason, v.rule, v.pred_source,
                 v.pred_extracted, v.pred_normalised, v.gold_extracted, v.gold_normalised, v.message);
        int want_score = r->want == EQ;
        int want_abstain = r->want == GINV || r->want == GCOST;
        ok(v.abstain == want_abstain && (want_abstain || v.score == (double)want_score),
           "%s: score %d, abstain %d", title, want_score, want_abstain);
    }
}

/* Each equivalence rule, with near misses beside it. */
static const row rules[] = {
    /* exact rationals */
    {"\\frac{1}{2}", "0.5", EQ, "rational"},
    {"0.5", "\\frac{2}{4}", EQ, "rational"},
    {"\\frac{10}{9}", "10/9", EQ, "rational"},
    {"-\\frac{10}{9}", "\\frac{-10}{9}", EQ, "rational"},
    {"\\frac{1}{2}", "\\frac12", EQ, "rational"},
    {"\\frac{8}{3}", "\\tfrac83", EQ, "rational"},
    {"\\frac{1}{3}", "\\dfrac{1}{3}", EQ, NULL},
    {"918.5", "918\\frac{1}{2}", EQ, "rational"},
    {"3128.5", "3128 1/2", EQ, "rational"},
    {"0.185", ".185", EQ, "rational"},
    {"1000", "1000.0", EQ, "rational"},
    {"7425000", "7,425,000", EQ, "rational"},
    {"14916", "14{,}916", EQ, "string"},
    {"11111111100", "11,\\! 111,\\! 111,\\! 100", EQ, "string"},
    {"56017895760", "56,\\!01,\\!78,\\!95,\\!760", EQ, "string"},
    {"1000", "1 000", EQ, "rational"},
    {"204_5", "54", EQ, "rational"},
    {"0.0011_{2}", "\\frac{3}{16}", EQ, "rational"},
    {"120", "5!", EQ, "rational"},
    {"10", "\\binom{5}{2}", EQ, "rational"},
    {"1024", "2^{10}", EQ, "rational"},
    {"\\frac{1}{8}", "2^{-3}", EQ, "rational"},
    {"4", "\\sqrt{16}", EQ, "rational"},
    {"-2", "\\sqrt[3]{-8}", EQ, "rational"},
    {"10\\sqrt3 + \\sqrt4", "10\\sqrt{3} + 2", EQ, "numeric"},
    {"5", "5.001", NE, "rational"},
    {"5.001", "5", NE, "rational"},
    {"\\frac{1}{2}", "\\frac{1}{3}", NE, "rational"},
    {"32349", "32, 349", NE, NULL},
    {"-5", "5", NE, "rational"},
    {"1112112_3", "1112122_3", NE, "rational"},
    {"100000000000000000000000000001", "100000000000000000000000000000", NE, "rational"},
    {"100000000000000000000000000001", "100000000000000000000000000001.0", EQ, "rational"},
    /* rounding: a decimal with enough places equals what it rounds */
    {"\\frac{1}{12}", "0.0833333333333333", EQ, "rounded"},
    {"\\frac{1}{3}", "0.333333", EQ, "rounded"},
    {"\\frac{1}{3}", "0.333", NE, NULL},
    {"\\frac{1}{3}", "0.333334", NE, NULL},
    {"\\sqrt{17}", "4.1231056", EQ, "rounded"},
    {"4.123105625617661", "\\sqrt{17}", EQ, "numeric"},
    {"\\pi", "3.14", NE, NULL},
    {"\\pi", "3.1415927", EQ, "rounded"},
    /* numeric: constants */
    {"\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", EQ, "numeric"},
    {"2\\sqrt{2}", "\\sqrt{8}", EQ, "numeric"},
    {"3\\sqrt{13}", "\\sqrt{117}", EQ, "numeric"},
    {"\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{15+2\\sqrt{33}}", "\\frac{\\sqrt{\\sqrt{11}+\\sqrt{194}}}{2\\sqrt{33}+15}", EQ, "numeric"},
    {"\\frac{9}{4}\\pi", "\\frac94\\pi", EQ, "numeric"},
    {"e^{i\\pi}", "-1", EQ, "numeric"},
    {"\\frac34i", "\\frac{3}{4}i", EQ, "numeric"},
    {"\\log_2 8", "3", EQ, "numeric"},
    {"\\ln(e^2)", "2", EQ, "numeric"},
    {"\\sin(\\pi/6)", "\\frac12", EQ, "numeric"},
    {"1 - \\frac{1}{\\mathrm{e}}", "1 + \\frac{1}{\\mathrm{e}}", NE, "numeric"},
    {"2", "\\frac{1+\\sqrt{5}}{2}", NE, NULL},
    {"4", "\\frac{34}{16}+\\frac{\\sqrt{1358}}{16}", NE, NULL},
    {"1", "0^{-1}", NE, "numeric"},
    {"\\infty", "+\\infty", EQ, "numeric"},
    {"-\\infty", "\\infty", NE, "numeric"},
    /* symbolic: random points */
    {"x^2+2x+1", "(x+1)^2", EQ, "symbolic"},
    {"x^2+2x+1", "x^2 + 2*x - (-1)", EQ, "symbolic"},
    {"\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}", EQ, "symbolic"},
    {"\\tan^2(y)+1", "\\sec^2(y)", EQ, "symbolic"},
    {"(x-2)(x+2)", "\\left(x-2\\right)\\left(x+2\\right)", EQ, "string"},
    {"2 \\sin b \\cos a", "\\sin(a+b) - \\sin(a-b)", EQ, "symbolic"},
    {"\\frac{1}{3x^{2/3}}", "\\frac{1}{3\\sqrt[3]{x}^2}", EQ, "symbolic"},
    {"x^2+2x+1", "x^3+2x+1", NE, "symbolic"},
    {"x+2n+1", "x+1", NE, "symbolic"},
    {"(a+5)(b+2)", "(+5)(b+2)", NE, "symbolic"},
    {"x", "|x|", NE, "symbolic"},
    {"x", "\\sqrt{x^2}", NE, "symbolic"},
    {"f(x)", "f(y)", NE, NULL},
    /* equations and inequalities */
    {"x = 5", "5", EQ, "rational"},
    {"5", "x=5", EQ, "rational"},
    {"k=1", "1", EQ, "rational"},
    {"f(x)=1", "1", EQ, "rational"},
    {"|AB|=1", "1", EQ, "rational"},
    {"\\frac{NO}{BO}=\\frac{1}{\\sqrt{6}}", "\\frac{1}{\\sqrt6}", EQ, "numeric"},
    {"x = 11", "x = 5+5+1 = 7 = 11", EQ, NULL},
    {"\\frac13", "x=1/3\\approx0.33", EQ, "rational"},
    {"11", "x\\approx 11", EQ, "rational"},
    {"7 = 11a+c", "11a+c", NE, NULL},
    {"a+3z = 0", "0", NE, NULL},
    {"2x+4y-3=0", "y=-\\frac{1}{2}x+\\frac{3}{4}", EQ, "equation"},
    {"x^2/4 + y^2/3 = 1", "x^2/16 + y^2/12 = 1/4", EQ, "equation"},
    {"34x+45y-20z+100=0", "-34x-45y+20z-100=0", EQ, "equation"},
    {"x+y=1", "x-y=1", NE, "equation"},
    {"x \\geq 5", "5 \\leq x", EQ, NULL},
    {"x < 1", "-x > -1", EQ, "inequality"},
    {"x < 1", "x > -1", NE, NULL},
    {"x \\leq 5", "x \\geq 5", NE, NULL},
    {"x \\neq 3", "x != 3", EQ, NULL},
    {"x > 5", "x < 5", NE, NULL},
    {"-2 \\le x \\le 7", "x \\in [-2,7]", EQ, "interval"},
    {"0<f(x)<1", "(0,1)", EQ, "interval"},
    {"x \\in [-2,7]", "-2 \\le x \\le 7", EQ, "interval"},
    /* intervals and unions */
    {"[0,1)", "[0,1)", EQ, "string"},
    {"[0,1)", "[0, 1)", EQ, "interval"},
    {"[0,9)", "[0,1)", NE, "interval"},
    {"(0,9)", "[0,9)", NE, "interval"},
    {"(1, +\\infty)", "(1,\\infty)", EQ, "tuple"},
    {"[-1, -\\frac{1}{2}) \\cup (-\\frac{1}{2}, 0)", "(-\\tfrac12, 0) \\cup [-1, -\\tfrac12)", EQ, "interval"},
    {"(2,12) \\cup (12,102)", "(2,12) \\cup [12,102)", NE, "interval"},
    {"\\{-1\\} \\cup [0,7)", "\\{-1\\}\\cup[0,7)", EQ, NULL},
    /* tuples, sets, lists */
    {"(1,\\frac{9}{2})", "(1,4.5)", EQ, "tuple"},
    {"(3,1)", "(1,3)", NE, "tuple"},
    {"\\{1,3\\}", "\\{3,1\\}", EQ, "set"},
    {"1,2,3", "3,2,1", EQ, "set"},
    {"-2,1", "1, -2", EQ, "set"},
    {"(2,1),(1,2),(-1,-20),(-20,-1)", "(1,2), (2,1), (-20,-1), (-1,-20)", EQ, "set"},
    {"\\sqrt{67},-\\sqrt{85}", "\\sqrt{67}", NE, NULL},
    {"1 and 2 and 3", "1,2,3", EQ, "set"},
    {"19, 46, and 82", "19, 46, \\text{ and } 82", EQ, NULL},
    {"p=5,q=2;p=7,q=2", "(5,2),(7,2)", EQ, "set"},
    {"AB=4,CD=5", "4, 5", EQ, "set"},
    {"\\pm 2021", "\\{-2021, 2021\\}", EQ, "set"},
    {"\\pm 2021", "2021", NE, NULL},
    {"1 \\pm \\sqrt{19}", "1+\\sqrt{19}, 1-\\sqrt{19}", EQ, "set"},
    {"\\varnothing", "\\emptyset", EQ, NULL},
    /* matrices and vectors */
    {"\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\left[\\begin{array}{cc}1 & 2 \\\\3 & 4\\end{array}\\right]", EQ, "matrix"},
    {"\\begin{pmatrix}0&0\\\\0&0\\end{pmatrix}", "\\begin{bmatrix}0 & 0 \\\\0 & 0\\end{bmatrix}", EQ, "matrix"},
    {"\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\begin{pmatrix}1 & 2 \\\\ 3 & 5\\end{pmatrix}", NE, "matrix"},
    {"\\begin{pmatrix}1 & 2\\end{pmatrix}", "\\begin{pmatrix}1 \\\\ 2\\end{pmatrix}", NE, "matrix"},
    {"\\begin{pmatrix}6 & 8 \\\\ 10 & 12\\end{pmatrix}", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix} + \\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}", EQ, "matrix"},
    {"\\begin{pmatrix}19 & 22 \\\\ 43 & 50\\end{pmatrix}", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}\\begin{pmatrix}5 & 6 \\\\ 7 & 8\\end{pmatrix}", EQ, "matrix"},
    {"\\begin{pmatrix}1\\\\2\\end{pmatrix}", "(1,2)", EQ, "matrix"},
    {"\\begin{pmatrix}1 & 2 \\\\ 3 & 4\\end{pmatrix}", "\\begin{pmatrix}1 & 2 \\\\ 3 & 4 \\\\\\end{pmatrix}", EQ, "matrix"},
    /* percentages (default: both readings) */
    {"10\\%", "0.1", EQ, NULL},
    {"10\\%", "10", EQ, "percent"},
    {"28\\%", "28 percent", EQ, NULL},
    {"0.1", "10%", EQ, NULL},
    {"10\\%", "11", NE, NULL},
    /* units, degrees, currency, text */
    {"90^\\circ", "90", EQ, "string"},
    {"125 miles", "125\\textnormal{ miles}", EQ, NULL},
    {"15\\mbox{ cm}^2", "15", EQ, "rational"},
    {"10", "\\$10", EQ, "string"},
    {"1000.99", "1,000.99\xe2\x82\xac", EQ, "rational"},
    {"17\\text{ any text}", "17", EQ, "rational"},
    {"\\text{Evelyn}", "Evelyn", EQ, "string"},
    {"odd", "\\text{odd}", EQ, "string"},
    {"odd", "\\text{oddd}", NE, "string"},
    {"E", "\\mathrm{E}", EQ, NULL},
    {"\\text{(C)}", "\\text{C}", EQ, NULL},
    {"C", "C. x = 42", EQ, "choice"},
    {"E", "E'", NE, NULL},
    {"d", "\\text{E}", NE, NULL},
    {"12:00", "1:00", NE, NULL},
    {"7:32", "14:64", EQ, NULL},
};

/* Where answers are found. */
static const row extraction[] = {
    {"189", "so the area is 189.\n\n**Final Answer**\n\\boxed{189}\n</think>\n\nThus the area is \\(\\boxed{189}\\) square cm.", EQ, NULL},
    {"\\frac{63}{400}", "<think> Reasoning content </think> \\boxed{\\frac{63}{400}}", EQ, NULL},
    {"42", "<think> The answer is \\boxed{42} </think> Here's a wrong answer: \\boxed{43}.", NE, NULL},
    {"5", "<think>\\boxed{3}</think><answer>5</answer>", EQ, NULL},
    {"5", "<answer>The answer is \\boxed{5}</answer>", EQ, NULL},
    {"5", "<answer> The answer is 5 </answer>", EQ, NULL},
    {"5", "\\boxed{3} is wrong; after checking, the answer is \\fbox{5}", EQ, NULL},
    {"5", "\\boxed 5", EQ, NULL},
    {"x \\in \\boxed{\\{-1\\} \\cup [0,7)}", "x \\in \\boxed{\\{-1\\} \\cup [0,7)}.$", EQ, NULL},
    {"14916", "Final Answer: The final answer is $14{,}916$. I hope it is correct.", EQ, NULL},
    {"120", "Final Answer: The volume of $ABCDEFGH$ is 120. I hope it is correct.", EQ, NULL},
    {"10455", "the first CD earns \\boxed{255}. Final Answer: The final answer is $10,455$. I hope it is correct.", EQ, NULL},
    {"2/5", "\\frac{6}{15} = \\frac{2}{5} ] \xe7\xad\x94\xe6\xa1\x88\xef\xbc\x9a\xe6\xaf\x8f\xe4\xbb\xbd (\\frac{2}{5}) \xe5\x90\xa8\xe3\x80\x82", EQ, NULL},
    {"72", "Natalia sold 48/2 = 24 clips in May.\n#### 72", EQ, NULL},
    {"9", "Answer \\[ 9 \\]", EQ, NULL},
    {"10/9", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", EQ, NULL},
    {"2/3", "so P(A) = 2/3 Therefore, the probability that Alice wins the game is 2/3. <|im_start|>user", EQ, NULL},
    {"12", "there are $d = 90/n$ ways... Therefore, there are 12 sequences. I hope it is correct.", EQ, NULL},
    {"3!", "Therefore, $$3!$$", EQ, NULL},
    {"1", "how many $? just about 1$", EQ, NULL},
    {"12\\text{ and }13", "between $\\boxed{12 $ and $13 }. $ Final Answer: The final answer is \\\"$12 $ and $13 $\\\". I hope it is correct.", EQ, NULL},
    {"-2,1", "the integers are: \\[ \\boxed{-2} \\quad \\text{and} \\quad \\boxed{1}. \\]", EQ, "set"},
    {"(2,2),(6,2)", "$$\\boxed{(2, 2)} \\quad \\text{and} \\quad \\boxed{(6, 2)}$$", EQ, "set"},
    {"1", "\\boxed{1} \\boxed{1}", EQ, NULL},
    {"\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}", "The identity matrix is $ \\begin{pmatrix}1 & 0 \\\\ 0 & 1\\end{pmatrix} $.", EQ, "matrix"},
    {"3", "no answer in here at all", NOANS, NULL},
    {"3", "", NOANS, NULL},
    {"3", "\\boxed{}", NOANS, NULL},
    {"3", "\\boxed{a very long sentence of prose that is not math}", PINV, NULL},
    {"\\frac{63}{400}", "Correct answer \\frac{63}{400} but completely missing reasoning content", EQ, NULL},
    /* the gold goes through the same anchors */
    {"Therefore, $\\boxed{14{,}916}$ is our answer.", "14916", EQ, NULL},
    {"\\(\\boxed{1}\\) and \\(\\boxed{-2}\\).", "$\\boxed{-2,1}$.", EQ, NULL},
    {"$$\\boxed{2}, \\boxed{3}, \\boxed{5}, \\boxed{7}, \\boxed{13}$$", "$${2, 3, 5, 7, 13}$$", EQ, NULL},
    {"$1$ and $2$ and $3$", "$\\boxed{1,2,3}$", EQ, NULL},
    {"\\\\boxed{840}", "$840$", EQ, NULL},
    {"#### 18", "18", EQ, NULL},
};

/* Hedges: several answers offered for one gold value score 0. */
static const row hedges[] = {
    {"3", "\\boxed{3} or \\boxed{4}", HEDGE, NULL},
    {"3", "\\boxed{3 \\text{ or } 4}", HEDGE, NULL},
    {"3", "3 or 4", HEDGE, NULL},
    {"3", "\\boxed{\\{1, 2, 3, 4, 5, 6\\}}", HEDGE, NULL},
    {"2021", "\\boxed{\\pm 2021}", HEDGE, NULL},
    {"3", "\\boxed{3}, \\boxed{3}", EQ, NULL},
    {"3", "I first thought \\boxed{4}. Checking again, that is wrong.\n\nThe answer is \\boxed{3}.", EQ, NULL},
    /* different boxes joined by "or" are alternatives: a hedge whatever the
     * gold, never a union (once 3 or 4 equalled the gold "3, 4", and
     * 1 \pm \sqrt{19} or 1 + \sqrt{19} the gold 1 \pm \sqrt{19}) */
    {"7", "\\boxed{3} or \\boxed{4}", HEDGE, NULL},
    {"3, 4", "\\boxed{3} or \\boxed{4}", HEDGE, NULL},
    {"1 \\pm \\sqrt{19}", "The answer is $\\boxed{1 \\pm \\sqrt{19}}$ or $\\boxed{1 + \\sqrt{19}}$.", HEDGE, NULL},
    {"3 \\pm 2 \\sqrt{2}", "The answer is $\\boxed{3 \\pm 2 \\sqrt{2}}$ or $\\boxed{3 + 2 \\sqrt{2}}$.", HEDGE, NULL},
    {"3 \\pm 2 \\sqrt{2}", "The answer is $\\boxed{3 + 2 \\sqrt{2}}$ or $\\boxed{3 - 2 \\sqrt{2}}$.", HEDGE, NULL},
    {"(1, 2)", "\\boxed{(1, 2)} \\text{ or } \\boxed{(2, 1)}", HEDGE, NULL},
    {"3", "\\boxed{3}, \\boxed{4} or \\boxed{5}", HEDGE, NULL},
    {"3", "$x = \\boxed{3}$ OR $x = \\boxed{4}$", HEDGE, NULL},
    /* the same answer twice joined by "or" is one answer */
    {"3", "\\boxed{3} or \\boxed{3}", EQ, NULL},
    {"\\frac12", "\\boxed{\\frac{1}{2}} or, as a decimal, \\boxed{0.5}", EQ, "rational"},
    {"(1, 2)", "\\boxed{(1, 2)} or \\boxed{(1,2)}", EQ, "tuple"},
    /* a gold that offers its own alternatives is compared as it reads */
    {"\\boxed{3} or \\boxed{4}", "\\boxed{3} or \\boxed{4}", EQ, NULL},
    /* "and" between boxes is still a list (MATH's solutions need it) */
    {"-2, 1", "the answers are \\boxed{-2} and \\boxed{1}", EQ, "set"},
    {"3", "\\boxed{3} and \\boxed{4}", HEDGE, NULL},
    /* an "or" before a full stop joins nothing */
    {"3, 4", "\\boxed{5} or so. Then \\boxed{3} and \\boxed{4}", EQ, "set"},
    /* "or" inside a word is no "or" */
    {"3, 4", "\\boxed{3} for \\boxed{4}", EQ, "set"},
};

/* The same answer boxed twice (repeated, or checked again) is one answer,
 * for every kind: once a tuple, interval, matrix, string, set or equation
 * boxed twice was read as a two-element list of it. Repeats equal by the
 * engine's equivalence collapse too, not only identical texts. */
static const row repeats[] = {
    {"(3, \\frac{\\pi}{2})", "First we get $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$, and checking again confirms $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$.", EQ, "tuple"},
    {"(6,31,-1)", "First we get $\\boxed{(6,31,-1)}$, and checking again confirms $\\boxed{(6,31,-1)}$.", EQ, "string"},
    {"(6,31,-1)", "First we get $\\boxed{(6, 31, -1)}$, and checking again confirms $\\boxed{(6,31,-1.0)}$.", EQ, "tuple"},
    {"(3,4]", "First we get $\\boxed{(3,4]}$, and checking again confirms $\\boxed{(3, 4]}$.", EQ, "interval"},
    {"(-\\infty, 0) \\cup (1, \\infty)", "\\boxed{(-\\infty,0)\\cup(1,\\infty)} and again \\boxed{(1, \\infty) \\cup (-\\infty, 0)}", EQ, "interval"},
    {"\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}", "First \\boxed{\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}}, and checking again \\boxed{\\begin{bmatrix} -\\frac{1}{3} \\\\ \\frac{2}{3} \\end{bmatrix}}", EQ, "matrix"},
    {"\\text{Evelyn}", "First we get $\\boxed{\\text{Evelyn}}$, and checking again confirms $\\boxed{\\text{Evelyn}}$.", EQ, "string"},
    {"\\text{east}", "we get \\boxed{\\text{east}}, and checking again confirms \\boxed{\\textbf{east}}", EQ, "string"},
    {"3, 5, 7", "First we get $\\boxed{3, 5, 7}$, and checking again confirms $\\boxed{7, 5, 3}$.", EQ, "set"},
    {"\\{1, 2\\}", "\\boxed{\\{1, 2\\}} and again \\boxed{\\{2, 1\\}}", EQ, "set"},
    {"5x - 7y + 11z + 4 = 0", "First we get $\\boxed{5x - 7y + 11z + 4 = 0}$, and checking again confirms $\\boxed{-7y + 5x + 11z + 4 = 0}$.", EQ, "equation"},
    {"1 \\pm \\sqrt{19}", "\\boxed{1 \\pm \\sqrt{19}}, and again \\boxed{1\\pm\\sqrt{19}}", EQ, "set"},
    /* 40 repeats in two alternating spellings: one comparison for each
     * spelling, whatever the number of boxes */
    {"(1, 2)", "\\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, "
               "\\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, "
               "\\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, "
               "\\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}, \\boxed{(1, 2)}, \\boxed{(1,2.0)}", EQ, "tuple"},
    /* repeats and a different answer: a list of the different ones */
    {"(1, 2), (3, 4)", "\\boxed{(1, 2)}, \\boxed{(3, 4)} and \\boxed{(1,2)}", EQ, "set"},
    {"(1, 2)", "\\boxed{(1, 2)}, \\boxed{(3, 4)} and \\boxed{(1,2)}", NE, NULL},
    /* not the same answer: names are strict even where the options are not,
     * and a value is not a list holding it */
    {"x, y", "\\boxed{x} and \\boxed{y}", EQ, "set"},
    {"3, 4", "\\boxed{3} and \\boxed{3, 4}", NE, NULL},
    /* a repeat does not hide a wrong answer */
    {"(6,31,-1)", "\\boxed{(6,31,1)}, and checking again confirms \\boxed{(6, 31, 1)}", NE, "tuple"},
    {"\\text{east}", "\\boxed{\\text{west}} and again \\boxed{\\text{west}}", NE, "string"},
};

/* Zero (the model is accountable) against abstain (the grader cannot judge). */
static const row zero_abstain[] = {
    {"", "\\boxed{1}", GINV, NULL},
    {"Answer is forty two.", "Answer is forty two.", GINV, NULL},
    {"forty two", "\\boxed{42}", GINV, NULL},
    {"\\boxed{(}", "1", GINV, NULL},
    {"2^{10^{9}}", "1", GCOST, NULL},
    {"(10^9)!", "\\boxed{1}", GCOST, NULL},
    {"1", "\\boxed{2^{10^{9}}}", PCOST, NULL},
    {"1", "\\boxed{(10^9)!}", PCOST, NULL},
    {"1", "\\boxed{10^{10^{10^{10}}}}", PCOST, NULL},
    {"1", "\\boxed{\\binom{1000000000}{500000000}}", PCOST, NULL},
    {"1", "\\boxed{2^{-10^{9}}}", PCOST, NULL},
    {"1", "\\boxed{1^{10^{30}}}", EQ, NULL},
    {"1", "\\boxed{x}", NE, NULL},
    {"1", "\\boxed{(1}", PINV, NULL},
    {"1", "\\boxed{\\begin{pmatrix}1 & 2 \\\\ 3\\end{pmatrix}}", PINV, NULL},
    {"1", "\\boxed{1 + }", PINV, NULL},
    {"1", "\\boxed{\\frac{1}}", PINV, NULL},
};

static char *repeat(const char *a, size_t times, const char *mid, const char *b)
{
    size_t la = strlen(a), lm = strlen(mid), lb = strlen(b);
    char *s = malloc(la * times + lm + lb * times + 1);
    size_t k = 0;
    for (size_t i = 0; i < times; i++, k += la) memcpy(s + k, a, la);
    memcpy(s + k, mid, lm);
    k += lm;
    for (size_t i = 0; i < times; i++, k += lb) memcpy(s + k, b, lb);
    s[k] = 0;
    return s;
}

static rlvr_math_status status_of(const char *gold, const char *pred, const rlvr_math_options *o)
{
    rlvr_math_verdict v;
    rlvr_math_verify(gold, strlen(gold), pred, strlen(pred), o, &v);
    return v.status;
}

/* Hostile inputs: each ends with a status (bounded), never a hang. */
static void bounds(void)
{
    struct { const char *a, *mid, *b; size_t times; const char *gold; int want; const char *name; } h[] = {
        {"{", "1", "}", 100000, "1", -2, "100k nested braces (the last number is 1)"},
        {"\\boxed{", "1", "}", 300, "1", PCOST, "300 nested boxes"},
        {"\\boxed{{", "1", "}}", 20000, "1", PCOST, "20k braces in a box"},
        {"(", "1", ")", 100000, "1", -2, "100k nested parentheses (the last number is 1)"},
        {"\\boxed{", "", "", 100000, "1", -1, "100k unclosed boxes"},
        {"\\(", "", "", 300000, "1", -1, "300k unclosed \\("},
        {"$", "", "", 1000000, "1", -1, "1M dollars"},
        {"\\frac", "", "", 100000, "1", -1, "100k \\frac"},
        {"x^", "x", "", 5000, "1", -1, "a 5000-high power tower"},
        {"the answer is 5. ", "\\boxed{1}", "", 60000, "1", EQ, "a 1 MB completion, box at the end"},
        {"x", "", "", 1000000, "1", -1, "1M letters"},
        {"9", "", "", 5000, "1", -1, "a 5000-digit number"},
        {"1,", "1", "", 5000, "1", -1, "a 5000-element list"},
        {"\\sqrt{", "2", "}", 2000, "1", -1, "2000 nested roots"},
        {"final answer ", "", "", 100000, "1", -1, "100k anchors"},
        {"<answer>", "", "", 100000, "1", -1, "100k open tags"},
        {"\\boxed{1}", "", "", 100000, "1", EQ, "100k equal boxes"},
        {"$\x9a fra$$c{\\sqr.5qrt{1}}", "", "", 1, "1", -2, "a point glued to a name (sqr.5: once a loop)"},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        char *p = repeat(h[i].a, h[i].times, h[i].mid, h[i].b);
        rlvr_math_verdict v;
        int rc = rlvr_math_verify(h[i].gold, strlen(h[i].gold), p, strlen(p), NULL, &v);
        int good = rc == 0 && !v.abstain && (h[i].want == -2 || (h[i].want == -1 ? v.status != EQ : (int)v.status == h[i].want));
        ok(good, "bound: %s -> %s", h[i].name, v.reason);
        /* the same as the gold: the gold abstains or is unparseable, never crashes */
        rc = rlvr_math_verify(p, strlen(p), "1", 1, NULL, &v);
        ok(rc == 0 && (v.abstain || v.status == EQ || v.status == NE), "bound: %s as the gold -> %s", h[i].name, v.reason);
        free(p);
    }
    /* an input over max_input_bytes */
    rlvr_math_options o;
    rlvr_math_options_init(&o);
    o.max_input_bytes = 4096;
    char *big = repeat("1", 5000, "", "");
    is_str(rlvr_math_status_name(status_of("1", big, &o)), "pred_too_costly", "bound: a completion over max_input_bytes");
    is_str(rlvr_math_status_name(status_of(big, "1", &o)), "gold_too_costly", "bound: a gold over max_input_bytes");
    free(big);
    /* NUL bytes and invalid UTF-8 are text like any other */
    rlvr_math_verdict v;
    const char nul[] = "\\boxed{1}.\0 Then, more. \\boxed{2}";
    rlvr_math_verify("2", 1, nul, sizeof nul - 1, NULL, &v);
    ok(v.status == EQ, "an embedded NUL does not end the text (the last box is 2)");
    const char bad[] = "\\boxed{\xff\xfe 1}";
    rlvr_math_verify("1", 1, bad, sizeof bad - 1, NULL, &v);
    ok(v.status == PINV, "invalid UTF-8 in a box: unparseable, %s", v.reason);
    rlvr_math_verify(NULL, 0, "1", 1, NULL, &v);
    ok(v.status == GINV && v.abstain, "no gold: abstain");
    rlvr_math_verify("1", 1, NULL, 0, NULL, &v);
    ok(v.status == NOANS && !v.abstain, "no prediction: no_answer, score 0");
}

static void options(void)
{
    rlvr_math_options o;
    rlvr_math_options_init(&o);
    o.float_rounding = 3;
    ok(status_of("\\frac13", "0.333", &o) == EQ, "float_rounding 3: 0.333 = 1/3");
    ok(status_of("\\frac13+1", "1.333", &o) == EQ, "float_rounding 3: 1.333 = 4/3");
    o.float_rounding = 4;
    ok(status_of("\\frac13", "0.333", &o) == NE, "float_rounding 4: 0.333 != 1/3");
    ok(status_of("\\frac13", "0.3333", &o) == EQ, "float_rounding 4: 0.3333 = 1/3");
    o.float_rounding = 2;
    ok(status_of("(\\frac{3}{5},\\frac{8}{3}]", "(0.6,2.6667]", &o) == EQ, "float_rounding 2: an interval's ends");
    o.float_rounding = -1;
    ok(status_of("\\frac{1}{12}", "0.0833333333333333", &o) == NE, "float_rounding -1: never rounded");
    rlvr_math_options_init(&o);

    o.percent = RLVR_MATH_PERCENT_FRACTION;
    ok(status_of("10\\%", "0.1", &o) == EQ && status_of("10\\%", "10", &o) == NE, "percent fraction: 10%% = 0.1 only");
    o.percent = RLVR_MATH_PERCENT_STRIP;
    ok(status_of("10\\%", "10", &o) == EQ && status_of("10\\%", "0.1", &o) == NE, "percent strip: 10%% = 10 only");
    rlvr_math_options_init(&o);

    o.equation_rhs = 0;
    ok(status_of("x=5", "5", &o) == NE && status_of("5", "x=5", &o) == NE, "equation_rhs false: x = 5 is not 5");
    ok(status_of("x=5", "x=5.0", &o) == EQ, "equation_rhs false: equations still compare");
    rlvr_math_options_init(&o);

    o.unordered_lists = 0;
    ok(status_of("10, 4, -2", "4, 10, -2", &o) == NE, "unordered_lists false: order matters");
    ok(status_of("10, 4, -2", "10, 4, -2.0", &o) == EQ, "unordered_lists false: same order equal");
    rlvr_math_options_init(&o);
    ok(status_of("10, 4, -2", "4, 10, -2", &o) == EQ, "unordered_lists true (default): a set");

    o.allow_set_relation_comp = 0;
    ok(status_of("x \\in [-2,7]", "-2 \\le x \\le 7", &o) == NE, "allow_set_relation_comp false: interval gold, inequality pred");
    ok(status_of("-2 \\le x \\le 7", "x \\in [-2,7]", &o) == EQ, "allow_set_relation_comp false: inequality gold still takes an interval");
    rlvr_math_options_init(&o);

    o.strict = 0;
    ok(status_of("f(x)", "f(y)", &o) == EQ, "strict false: f(x) = f(y)");
    ok(status_of("x, y", "\\boxed{x} and \\boxed{y}", &o) == EQ,
       "strict false: boxes x and y are still two answers (repeats are told apart with strict names)");
    ok(status_of("x+1", "y+2", &o) == NE, "strict false: x+1 is still not y+2");
    rlvr_math_options_init(&o);

    o.hedge = 0;
    ok(status_of("3", "\\boxed{3} or \\boxed{4}", &o) == NE, "hedge false: boxes joined by 'or' are not_equal, never a union");
    ok(status_of("3, 4", "\\boxed{3} or \\boxed{4}", &o) == NE, "hedge false: boxes joined by 'or' do not equal the list");
    rlvr_math_options_init(&o);

    o.decimal_comma = 1;
    ok(status_of("1000.99", "1000,99", &o) == EQ, "decimal_comma: 1000,99");
    ok(status_of("0.111", "0,111", &o) == EQ, "decimal_comma: 0,111");
    ok(status_of("7425000", "7,425,000", &o) == EQ, "decimal_comma: thousands stay thousands");
    rlvr_math_options_init(&o);
    ok(status_of("1000.99", "1000,99", &o) != EQ, "no decimal_comma: 1000,99 is not 1000.99");

    snprintf(o.choices, sizeof o.choices, "ABCD");
    ok(status_of("C", "thinking about it I think the correct answer is C", &o) == EQ, "choices: the answer is C");
    ok(status_of("D", "The answer is for sure D, it can't be A or B", &o) == EQ, "choices: the first letter after the anchor");
    ok(status_of("D", "D. it can't be A or B", &o) == EQ, "choices: a letter opening the text");
    ok(status_of("B", "Because B is valid", &o) == EQ, "choices: a standalone letter");
    ok(status_of("(D) Alina", "D", &o) == EQ, "choices: the gold's (D)");
    ok(status_of("(A) Cecile", "C", &o) == NE, "choices: another letter");
    ok(status_of("A", "No valid answer here", &o) == NOANS, "choices: no letter is no answer");
    ok(status_of("C", "r\xc3\xa9ponse est C non A", &o) == EQ, "choices: a French anchor");
    rlvr_math_options_init(&o);

    snprintf(o.extract, sizeof o.extract, "latex");
    ok(status_of("1", "\\boxed{2} $1$", &o) == EQ, "extract latex: boxes ignored");
    snprintf(o.extract, sizeof o.extract, "boxed,latex");
    ok(status_of("1", "\\boxed{2} $1$", &o) == NE, "extract boxed,latex: the box first");
    snprintf(o.extract, sizeof o.extract, "tag,final_answer,boxed");
    ok(status_of("9999", "final answer is $9999$, \\boxed{1}", &o) == EQ, "extract: final_answer before boxed");
    snprintf(o.extract, sizeof o.extract, "tag,boxed+final_answer");
    ok(status_of("1", "final answer is $9999$, \\boxed{1}", &o) == EQ, "extract: boxed+final_answer, the later one");
    snprintf(o.extract, sizeof o.extract, "boxed");
    ok(status_of("1", "1", &o) == NOANS, "extract boxed: a bare answer is no answer");
    rlvr_math_options_init(&o);

    o.require_think_end = 1;
    ok(status_of("1", "<think> reasoning \\boxed{1}", &o) == NOANS, "require_think_end: no </think>, no answer");
    ok(status_of("1", "<think> reasoning </think> \\boxed{1}", &o) == EQ, "require_think_end: after </think>");
    snprintf(o.think_delimiter, sizeof o.think_delimiter, "</REASONING_END>");
    ok(status_of("1", "<REASONING_START> r </REASONING_END> \\boxed{1}", &o) == EQ, "think_delimiter: another delimiter");
    rlvr_math_options_init(&o);
    o.think_delimiter[0] = 0;
    ok(status_of("42", "<think> \\boxed{42} </think> Here is a wrong one: \\boxed{43}", &o) == NE, "no think_delimiter: the last box of all");

    o.hedge = 0;
    ok(status_of("3", "3 or 4", &o) == NE, "hedge false: not_equal instead");
    rlvr_math_options_init(&o);

    /* checks of the options themselves */
    char err[256];
    ok(rlvr_math_options_check(&o, err, sizeof err) == 0, "defaults pass their check");
    snprintf(o.extract, sizeof o.extract, "boxed,telepathy");
    ok(rlvr_math_options_check(&o, err, sizeof err) == -1 && strstr(err, "telepathy"), "an unknown place is refused: %s", err);
    rlvr_math_options_init(&o);
    o.min_valid_points = 9;
    ok(rlvr_math_options_check(&o, err, sizeof err) == -1, "min_valid_points > eval_points is refused");
    rlvr_math_options_init(&o);
    snprintf(o.choices, sizeof o.choices, "A,B");
    ok(rlvr_math_options_check(&o, err, sizeof err) == -1, "choices with a comma is refused");
}

static void echoes(void)
{
    rlvr_math_verdict v;
    const char *prompt = "Compute $2+3$.";
    rlvr_math_verify_prompt("5", 1, "\\boxed{2+3}", 11, prompt, strlen(prompt), NULL, &v);
    ok(v.status == ECHO && v.score == 0, "the question's expression echoed back: %s", v.reason);
    rlvr_math_verify_prompt("5", 1, "\\boxed{5}", 9, prompt, strlen(prompt), NULL, &v);
    ok(v.status == EQ, "the simplified answer: equal");
    const char *p2 = "Expand $(x+1)^2 - 1$.";
    rlvr_math_verify_prompt("x^2+2x", 6, "\\boxed{(x+1)^2 - 1}", 19, p2, strlen(p2), NULL, &v);
    ok(v.status == ECHO, "an unexpanded echo: %s", v.reason);
    rlvr_math_verify_prompt("x^2+2x", 6, "\\boxed{x(x+2)}", 14, p2, strlen(p2), NULL, &v);
    ok(v.status == EQ, "an equal form not in the prompt: equal");
}

/* Determinism: the same verdicts from several threads at once. */
typedef struct job {
    int fails;
} job;

static void *worker(void *arg)
{
    job *j = arg;
    for (int round = 0; round < 20; round++)
        for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
            rlvr_math_verdict v;
            rlvr_math_verify(rules[i].gold, strlen(rules[i].gold), rules[i].pred, strlen(rules[i].pred), NULL, &v);
            if (v.status != rules[i].want) j->fails++;
        }
    return NULL;
}

static void threads(void)
{
    pthread_t t[4];
    job j[4] = {{0}};
    for (int i = 0; i < 4; i++) pthread_create(&t[i], NULL, worker, &j[i]);
    int fails = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        fails += j[i].fails;
    }
    ok(fails == 0, "4 threads x 20 rounds of the rules table: the same verdicts (%d differ)", fails);
    rlvr_math_verdict a, b;
    rlvr_math_verify("x^2+2x+1", 8, "(x+1)^2", 7, NULL, &a);
    rlvr_math_verify("x^2+2x+1", 8, "(x+1)^2", 7, NULL, &b);
    ok(memcmp(&a, &b, sizeof a) == 0, "two runs give byte-identical verdicts");
}

static void verdict_fields(void)
{
    rlvr_math_verdict v;
    const char *p = "<think>hmm</think> so $x = \\boxed{\\dfrac{1}{2}}$.";
    rlvr_math_verify("$0.5$", 5, p, strlen(p), NULL, &v);
    is_str(v.reason, "equal", "verdict: reason");
    is_str(v.rule, "rational", "verdict: rule");
    is_str(v.pred_source, "boxed", "verdict: pred_source");
    is_str(v.gold_source, "whole", "verdict: gold_source");
    is_str(v.pred_extracted, "\\dfrac{1}{2}", "verdict: pred_extracted");
    is_str(v.gold_extracted, "$0.5$", "verdict: gold_extracted");
    is_str(v.pred_normalised, "\\frac{1}{2}", "verdict: pred_normalised");
    ok(strlen(v.message) > 0, "verdict: a message (%s)", v.message);
    for (int s = RLVR_MATH_EQUAL; s <= RLVR_MATH_ECHO; s++)
        ok(strcmp(rlvr_math_status_name((rlvr_math_status)s), "unknown") != 0, "status %d has a name: %s", s,
           rlvr_math_status_name((rlvr_math_status)s));
}

/* Text ending right before an unreadable page: the engine reads only the
 * lengths given (the header's promise). Without a guard page (mmap refused)
 * the text sits in a malloc'ed buffer of exactly its size, where ASan (make
 * fuzz-math) would see an over-read. */
typedef struct guarded {
    char *map;
    size_t map_len;
    char *text;
} guarded;

static const char *guard(guarded *g, const char *s, size_t n)
{
    long page = sysconf(_SC_PAGESIZE);
    size_t ps = page > 0 ? (size_t)page : 4096;
    size_t pages = (n + ps - 1) / ps + 1;
    g->map_len = pages * ps + ps;
    g->map = mmap(NULL, g->map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (g->map == MAP_FAILED || mprotect(g->map + pages * ps, ps, PROT_NONE) != 0) {
        if (g->map != MAP_FAILED) munmap(g->map, g->map_len);
        g->map = NULL;
        g->text = malloc(n ? n : 1);
        memcpy(g->text, s, n);
        return g->text;
    }
    g->text = g->map + pages * ps - n;
    memcpy(g->text, s, n);
    return g->text;
}

static void unguard(guarded *g)
{
    if (g->map) munmap(g->map, g->map_len);
    else free(g->text);
}

/* Is s valid UTF-8 (no sequence cut or malformed)? */
static int utf8_ok(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        int len = *p < 0x80 ? 1 : (*p & 0xE0) == 0xC0 ? 2 : (*p & 0xF0) == 0xE0 ? 3 : (*p & 0xF8) == 0xF0 ? 4 : 0;
        if (!len) return 0;
        for (int k = 1; k < len; k++)
            if ((p[k] & 0xC0) != 0x80) return 0;
        p += len;
    }
    return 1;
}

/* The verdict's text fields: copied from texts that are not NUL-terminated
 * without reading past them, and truncated to RLVR_MATH_TEXT_CAP without
 * cutting a UTF-8 character in two. */
static void verdict_texts(void)
{
    static const struct { const char *gold, *pred; rlvr_math_status want; } rows[] = {
        {"7", "7", EQ},                      /* gold and prediction taken whole */
        {"7", "\\boxed{7}", EQ},           /* a box closing at the text's end */
        {"\\boxed{7}", "the answer is 8", NE},
        {"forty two", "42", GINV},           /* an unparseable gold is still shown */
        {"7", "\\boxed{(}", PINV},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        guarded g, p;
        size_t gn = strlen(rows[i].gold), pn = strlen(rows[i].pred);
        const char *gs = guard(&g, rows[i].gold, gn), *ps = guard(&p, rows[i].pred, pn);
        rlvr_math_verdict v;
        int rc = rlvr_math_verify(gs, gn, ps, pn, NULL, &v);
        ok(rc == 0 && v.status == rows[i].want, "text ending at a guard page: gold %s | pred %s -> %s (%s)",
           rows[i].gold, rows[i].pred, rlvr_math_status_name(rows[i].want), v.reason);
        unguard(&g);
        unguard(&p);
    }
    /* a 2-, 3- and 4-byte character across the cut (the field holds 255
     * bytes): starting at byte 254, or with only its last byte past the cut;
     * the field keeps the bytes before the character, valid UTF-8 */
    static const char *const wide[] = {"\xc3\xa9", "\xe2\x88\x9a", "\xf0\x9d\x91\xa5"};
    for (int w = 0; w < 3; w++)
        for (int last = 0; last < 2; last++) {
            char text[300];
            size_t wl = strlen(wide[w]), n = sizeof text;
            size_t at = last ? RLVR_MATH_TEXT_CAP - wl : RLVR_MATH_TEXT_CAP - 2;
            memset(text, 'a', n);
            memcpy(text + at, wide[w], wl);
            guarded g, p;
            const char *gs = guard(&g, text, n), *ps = guard(&p, text, n);
            rlvr_math_verdict v;
            rlvr_math_verify(gs, n, "1", 1, NULL, &v); /* prose: an unparseable gold, shown */
            ok(strlen(v.gold_extracted) == at && utf8_ok(v.gold_extracted),
               "a %zu-byte character from byte %zu across the cut: gold_extracted keeps %zu bytes (got %zu)", wl, at,
               at, strlen(v.gold_extracted));
            rlvr_math_verify("1", 1, ps, n, NULL, &v); /* prose: no answer, the text shown */
            ok(strlen(v.pred_extracted) == at && utf8_ok(v.pred_extracted),
               "a %zu-byte character from byte %zu across the cut: pred_extracted keeps %zu bytes (got %zu)", wl, at,
               at, strlen(v.pred_extracted));
            unguard(&g);
            unguard(&p);
        }
}

int main(void)
{
    rlvr_math_options o;
    rlvr_math_options_init(&o);
    check_rows("rule", rules, sizeof rules / sizeof rules[0], &o);
    check_rows("extract", extraction, sizeof extraction / sizeof extraction[0], NULL);
    check_rows("hedge", hedges, sizeof hedges / sizeof hedges[0], NULL);
    check_rows("repeat", repeats, sizeof repeats / sizeof repeats[0], NULL);
    check_rows("zero/abstain", zero_abstain, sizeof zero_abstain / sizeof zero_abstain[0], NULL);
    bounds();
    options();
    echoes();
    threads();
    verdict_fields();
    verdict_texts();
    return done_testing();
}
