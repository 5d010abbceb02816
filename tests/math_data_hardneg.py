#!/usr/bin/env python3
"""math_data_hardneg.py -- writes the math verifier's hard-negative set,
tests/fixtures/math_data/hard_negatives.jsonl: completions whose final
answer is NOT the gold answer, though they come close (off by one, a sign,
a swapped fraction, a dropped radical, a right box followed by a wrong one,
hedges, echoes of the question, near-equal decimals, wrong interval ends,
wrong set elements, ...). Not one may verify: a false positive rewards
wrong reasoning.

    python3 math_data_hardneg.py > fixtures/math_data/hard_negatives.jsonl
    python3 math_data_hardneg.py --check fixtures/math_data/hard_negatives.jsonl

Invariants: every value is made up here from a fixed seed (no dataset
answer is copied); each case is wrong by construction (its category says
how); the output is byte-for-byte reproducible (random.Random(SEED), no
dict-order or hash dependence), which --check verifies.
"""
import json
import random
import sys
from fractions import Fraction

SEED = 20250301


def frac_tex(v):
    if v.denominator == 1:
        return str(v.numerator)
    return "%s\\frac{%d}{%d}" % ("-" if v < 0 else "", abs(v.numerator), v.denominator)


def say(ans):
    """A short completion ending in a box."""
    return "We simplify step by step and find the result.\nTherefore, the final answer is $\\boxed{%s}$." % ans


def generate():
    R = random.Random(SEED)
    cases = []

    def add(cat, gold, completion, note="", prompt=None):
        cases.append({"category": cat, "gold": gold, "completion": completion, "note": note, "prompt": prompt})

    def rint(lo, hi, nonzero=False):
        while True:
            n = R.randint(lo, hi)
            if not nonzero or n != 0:
                return n

    def rfrac():
        while True:
            p, q = R.randint(1, 60), R.randint(2, 60)
            v = Fraction(p, q)
            if v.denominator > 1:
                return v

    # -- off by one ---------------------------------------------------------------
    for _ in range(20):
        n = rint(-500, 5000)
        d = R.choice([-1, 1])
        add("off_by_one", str(n), say(str(n + d)), "integer %+d" % d)
    for _ in range(8):
        v = rfrac()
        add("off_by_one", frac_tex(v), say("\\frac{%d}{%d}" % (v.numerator + 1, v.denominator)), "numerator + 1")
    for _ in range(6):
        k = rint(2, 9)
        n = R.randint(21, 60)
        add("off_by_one", "%d^{%d}" % (k, n), say("%d^{%d}" % (k, n + 1)), "exponent + 1")
    for _ in range(6):
        n = 10 ** R.randint(17, 40) + R.randint(0, 10 ** 6)
        add("off_by_one", str(n), say(str(n + 1)), "big integer + 1 (relative difference below any float tolerance)")

    # -- sign flips ---------------------------------------------------------------------
    for _ in range(10):
        n = rint(1, 999)
        add("sign_flip", str(n), say(str(-n)))
    for _ in range(6):
        v = rfrac()
        add("sign_flip", frac_tex(v), say("-" + frac_tex(v)))
    for _ in range(6):
        a, b = rint(1, 9), R.choice([2, 3, 5, 6, 7])
        add("sign_flip", "%d - %d\\sqrt{%d}" % (a, a + 1, b), say("%d + %d\\sqrt{%d}" % (a, a + 1, b)), "one term's sign")
    for _ in range(6):
        a, b = rint(1, 9), rint(1, 9)
        add("sign_flip", "%dx - %d" % (a, b), say("%dx + %d" % (a, b)), "polynomial constant's sign")
    add("sign_flip", "-\\frac{\\pi}{4}", say("\\frac{\\pi}{4}"))
    add("sign_flip", "e^{-x}", say("e^{x}"))

    # -- swapped fractions -----------------------------------------------------------
    for _ in range(12):
        v = rfrac()
        add("swapped_fraction", frac_tex(v), say("\\frac{%d}{%d}" % (v.denominator, v.numerator)))
    for _ in range(4):
        v = rfrac()
        add("swapped_fraction", "%d/%d" % (v.numerator, v.denominator), say("%d/%d" % (v.denominator, v.numerator)))

    # -- dropped radicals --------------------------------------------------------------
    for _ in range(10):
        c, r = rint(2, 12), R.choice([2, 3, 5, 6, 7, 10, 11, 13])
        form = R.choice(["%d", "%d%d", "\\sqrt{%d}"])
        pred = {"%d": str(c), "%d%d": str(c * r), "\\sqrt{%d}": "\\sqrt{%d}" % r}[form]
        add("dropped_radical", "%d\\sqrt{%d}" % (c, r), say(pred))
    for _ in range(4):
        r = R.choice([2, 3, 5, 7])
        q = rint(2, 9)
        add("dropped_radical", "\\frac{\\sqrt{%d}}{%d}" % (r, q), say("\\frac{%d}{%d}" % (r, q)))
    add("dropped_radical", "\\sqrt[3]{2}", say("\\sqrt{2}"), "cube root read as square root")
    add("dropped_radical", "2\\sqrt[3]{3}", say("2\\sqrt{3}"))

    # -- a right box early, a wrong final box -------------------------------------------
    for _ in range(14):
        n = rint(2, 999)
        w = n + R.choice([-3, -2, -1, 1, 2, 7])
        add("wrong_final_box", str(n),
            "First attempt: $\\boxed{%d}$. Wait, I made an error in the second step. Recomputing, the answer is $\\boxed{%d}$." % (n, w))
    for _ in range(6):
        v = rfrac()
        add("wrong_final_box", frac_tex(v),
            "<think>I think it is $\\boxed{%s}$... no.</think>\nThe answer is $\\boxed{%s}$." % (frac_tex(v), frac_tex(v + 1)),
            "the right box inside <think>, a wrong one after it")
    for _ in range(5):
        n = rint(2, 99)
        add("wrong_final_box", str(n), "<think>So it is \\boxed{%d}.</think>\n<answer>%d</answer>" % (n, n + 1),
            "right box in <think>, wrong <answer>")

    # -- hedges ------------------------------------------------------------------------------
    for _ in range(10):
        n = rint(1, 200)
        w = n + R.choice([-1, 1, 2])
        order = R.random() < 0.5
        a, b = (n, w) if order else (w, n)
        add("hedge", str(n), "The answer is $\\boxed{%d}$ or $\\boxed{%d}$." % (a, b), "two boxes")
    for _ in range(8):
        n = rint(1, 200)
        w = n + R.choice([-1, 1, 3])
        a, b = (n, w) if R.random() < 0.5 else (w, n)
        add("hedge", str(n), say("%d \\text{ or } %d" % (a, b)), "'or' inside the box")
    for _ in range(6):
        n = rint(1, 200)
        w = n + 1
        add("hedge", str(n), "The answer is %d or %d." % (n, w), "'or' in prose")
    for _ in range(6):
        n = rint(5, 50)
        lo = n - R.randint(1, 4)
        add("hedge", str(n), say("\\{%s\\}" % ", ".join(str(k) for k in range(lo, lo + 10))), "a large set containing the answer")
    for _ in range(4):
        n = rint(5, 50)
        add("hedge", str(n), say(", ".join(str(k) for k in range(1, 61))), "a 60-element list containing the answer")
    for _ in range(4):
        n = rint(5, 50)
        add("hedge", str(n), say("[%d, %d]" % (n - 5, n + 5)), "an interval containing the answer")
    for _ in range(4):
        n = rint(2, 50)
        add("hedge", str(n), say("\\pm %d" % n), "plus or minus the answer")
    for letter in "ABCDE":
        add("hedge_choice", letter, "The options: $\\boxed{A}$, $\\boxed{B}$, $\\boxed{C}$, $\\boxed{D}$, $\\boxed{E}$.",
            "every option boxed")
    for letter in "ABCD":
        add("hedge_choice", "(%s)" % letter, say("A, B, C, D"), "every option in one box")
        add("hedge_choice", letter, say("\\text{(A), (B), (C) or (D)}"), "every option with 'or'")
    for letter in "BCD":
        add("hedge_choice", letter, "Either (A) or (%s). I'll say $\\boxed{A}$ or $\\boxed{%s}$." % (letter, letter), "two options boxed")
        add("hedge_choice", letter, say("A%s" % letter), "two letters run together")

    # -- echoes of the question (its own expression or equation, not the answer);
    # these carry the prompt, which the verifier needs to recognise an echo
    # whose value happens to equal the answer ("17 \\cdot 23" for "Compute
    # $17 \\cdot 23$") -------------------------------------------------------------
    for _ in range(8):
        a, b = rint(2, 9), rint(1, 30)
        x = rint(1, 20)
        c = a * x + b
        add("echo_question", str(x), say("%dx + %d = %d" % (a, b, c)), "the equation echoed",
            "Solve for $x$: $%dx + %d = %d$." % (a, b, c))
    for _ in range(6):
        a, b = rint(1, 9), rint(1, 9)
        x0 = rint(1, 5)
        add("echo_question", str(a * x0 * x0 + b), say("%dx^2 + %d" % (a, b)), "the function echoed",
            "Let $f(x) = %dx^2 + %d$. Evaluate $f(%d)$." % (a, b, x0))
    for _ in range(4):
        r1, r2 = rint(1, 9), rint(-9, -1)
        eq = "x^2 %+dx %+d = 0" % (-(r1 + r2), r1 * r2)
        add("echo_question", "%d, %d" % (r1, r2), say(eq), "the quadratic echoed",
            "Find all roots of $%s$. Enter them separated by commas." % eq)
    for _ in range(8):
        a, b = rint(12, 99), rint(12, 99)
        op, val = R.choice([("\\cdot", a * b), ("+", a + b), ("-", a - b)])
        expr = "%d %s %d" % (a, op, b)
        add("echo_question", str(val), say(expr), "an arithmetic question echoed (equal in value)",
            "Compute $%s$." % expr)
    for _ in range(4):
        p, q, r_ = rint(1, 9), rint(2, 9), rint(2, 9)
        expr = "\\frac{%d}{%d} + \\frac{1}{%d}" % (p, q, r_)
        add("echo_question", frac_tex(Fraction(p, q) + Fraction(1, r_)), say(expr),
            "a sum of fractions echoed (equal in value)", "Compute $%s$. Express your answer as a common fraction." % expr)
    add("echo_question", "\\frac{1}{2}", say("\\lim_{x \\to 0} \\frac{1 - \\cos x}{x^2}"), "a limit echoed unevaluated",
        "Evaluate $\\lim_{x \\to 0} \\frac{1 - \\cos x}{x^2}$.")
    add("echo_question", "6", say("\\int_0^2 3x^2 \\, dx - 2"), "an integral echoed",
        "Compute $\\int_0^2 3x^2 \\, dx - 2$.")
    add("echo_question", "x^2 + 2x + 1", say("(x+1)^2"), "the expression to expand, echoed (equal in value)",
        "Expand $(x+1)^2$.")

    # -- unsimplified wrong forms -----------------------------------------------------
    for _ in range(10):
        v = rfrac()
        k = rint(2, 6)
        add("unsimplified_wrong", frac_tex(v), say("\\frac{%d}{%d}" % (k * v.numerator + 1, k * v.denominator)),
            "an unreduced fraction whose numerator is off by one")
    for _ in range(6):
        n = rint(2, 40)
        add("unsimplified_wrong", str(n), say("\\frac{%d}{2}" % (2 * n + 1)))
    for _ in range(4):
        c = rint(2, 9)
        add("unsimplified_wrong", "%d\\sqrt{2}" % c, say("\\sqrt{%d}" % (2 * c * c + 1)))
    add("unsimplified_wrong", "x^2 - 1", say("(x-1)^2"))
    add("unsimplified_wrong", "x^2 + 2x + 1", say("(x+1)^2 + 1"))
    add("unsimplified_wrong", "(x+1)^2", say("x^2 + 1"))
    add("unsimplified_wrong", "\\sin^2 x", say("1 - \\sin^2 x"))
    add("unsimplified_wrong", "2 \\sin x \\cos x", say("\\sin x \\cos x"))
    add("unsimplified_wrong", "\\frac{x+1}{x-1}", say("\\frac{x-1}{x+1}"))

    # -- near-equal decimals beyond tolerance ---------------------------------------------
    for _ in range(10):
        v = rfrac()
        while abs(float(v) - round(float(v), 2)) <= 2e-3 * float(v):
            v = rfrac()
        add("near_decimal", frac_tex(v), say("%.2f" % float(v)), "rounded to 2 places (relative error > 2e-3)")
    for _ in range(6):
        g = R.randint(1000, 9999) / 100
        p = g * (1 + R.choice([-1, 1]) * R.uniform(2e-3, 1e-2))
        add("near_decimal", "%.2f" % g, say("%.4f" % p), "relative error 2e-3 to 1e-2")
    add("near_decimal", "\\pi", say("3.14"), "pi to 2 places")
    add("near_decimal", "\\sqrt{2}", say("1.41"), "sqrt 2 to 2 places")
    add("near_decimal", "e", say("2.71"))
    add("near_decimal", "\\frac{1}{3}", say("0.333"))
    add("near_decimal", "100", say("99.9"))
    add("near_decimal", "0.001", say("0.0011"))

    # -- wrong interval ends ------------------------------------------------------------
    for _ in range(12):
        a = rint(-20, 10)
        b = a + R.randint(1, 15)
        lo, hi = R.choice("(["), R.choice(")]")
        gold = "%s%d, %d%s" % (lo, a, b, hi)
        kind = R.choice(["open_close_left", "open_close_right", "end", "ends_swapped"])
        if kind == "open_close_left":
            pred = "%s%d, %d%s" % ("[" if lo == "(" else "(", a, b, hi)
        elif kind == "open_close_right":
            pred = "%s%d, %d%s" % (lo, a, b, "]" if hi == ")" else ")")
        elif kind == "end":
            pred = "%s%d, %d%s" % (lo, a, b + 1, hi)
        else:
            pred = "%s%d, %d%s" % (lo, b, a, hi)
        add("wrong_interval", gold, say(pred), kind)
    add("wrong_interval", "(-\\infty, 3)", say("(-\\infty, 3]"))
    add("wrong_interval", "(2, \\infty)", say("(-\\infty, 2)"), "the complement")
    add("wrong_interval", "(-\\infty, 1) \\cup (4, \\infty)", say("(1, 4)"), "the complement of a union")
    add("wrong_interval", "(-\\infty, 1) \\cup (4, \\infty)", say("(-\\infty, 1) \\cup [4, \\infty)"))
    add("wrong_interval", "[0, 5]", say("x \\le 5"), "a half-line for a closed interval")

    # -- wrong set elements -------------------------------------------------------------
    for _ in range(10):
        els = sorted(R.sample(range(-20, 40), R.randint(2, 5)))
        kind = R.choice(["dropped", "added", "changed"])
        if kind == "dropped":
            pred = els[:-1]
        elif kind == "added":
            pred = els + [max(els) + R.randint(1, 5)]
        else:
            pred = els[:-1] + [els[-1] + 1]
        R.shuffle(pred)
        wrap = R.choice(["\\{%s\\}", "%s"])
        add("wrong_set", ", ".join(map(str, els)) if wrap == "%s" else "\\{%s\\}" % ", ".join(map(str, els)),
            say(wrap % ", ".join(map(str, pred))), kind)
    add("wrong_set", "\\{1, 2, 3\\}", say("\\{1, 2, 3, 3, 4\\}"))
    add("wrong_set", "1, -1", say("1"), "one root of two")

    # -- ordered tuples, points, vectors, matrices ------------------------------------------
    for _ in range(8):
        a, b = rint(-9, 9), rint(-9, 9)
        while a == b:
            b = rint(-9, 9)
        add("wrong_tuple", "(%d, %d)" % (a, b), say("(%d, %d)" % (b, a)), "coordinates swapped")
    for _ in range(4):
        a, b, c = rint(-9, 9, True), rint(-9, 9), rint(-9, 9)
        add("wrong_tuple", "(%d, %d, %d)" % (a, b, c), say("(%d, %d, %d)" % (-a, b, c)), "first coordinate's sign")
    for _ in range(4):
        a, b, c, d = (rint(-9, 9) for _ in range(4))
        while b == c:
            c = rint(-9, 9)
        add("wrong_matrix", "\\begin{pmatrix} %d & %d \\\\ %d & %d \\end{pmatrix}" % (a, b, c, d),
            say("\\begin{pmatrix} %d & %d \\\\ %d & %d \\end{pmatrix}" % (a, c, b, d)), "transposed")
    for _ in range(4):
        v = [rint(-9, 9) for _ in range(3)]
        w = v[:]
        w[R.randrange(3)] += 1
        add("wrong_matrix", "\\begin{pmatrix} %d \\\\ %d \\\\ %d \\end{pmatrix}" % tuple(v),
            say("\\begin{pmatrix} %d \\\\ %d \\\\ %d \\end{pmatrix}" % tuple(w)), "one entry off by one")
    add("wrong_matrix", "\\begin{pmatrix} 1 \\\\ 2 \\end{pmatrix}", say("\\begin{pmatrix} 1 & 2 \\end{pmatrix}"),
        "a row vector for a column vector")

    # -- complex numbers ----------------------------------------------------------------
    for _ in range(6):
        a, b = rint(-9, 9, True), rint(1, 9)
        add("wrong_complex", "%d + %di" % (a, b), say("%d - %di" % (a, b)), "conjugate")
    add("wrong_complex", "i", say("-i"))
    add("wrong_complex", "2i", say("2"), "imaginary unit dropped")

    # -- equations and inequalities ---------------------------------------------------
    for _ in range(6):
        m, c = rint(-5, 5, True), rint(-9, 9)
        add("wrong_equation", "y = %dx %+d" % (m, c), say("y = %dx %+d" % (m, c + 1)))
    for _ in range(4):
        n = rint(1, 30)
        add("wrong_equation", str(n), say(R.choice(["x > %d", "x \\ge %d", "x < %d"]) % n), "an inequality for a value")
    add("wrong_equation", "x > 3", say("x \\ge 3"))
    add("wrong_equation", "x \\le 2", say("x < 2"))
    add("wrong_equation", "x = 4", say("y = 4"), "the wrong variable")

    # -- functions, constants, special forms ---------------------------------------------
    add("wrong_function", "\\sin x", say("\\cos x"))
    add("wrong_function", "\\tan x", say("\\cot x"))
    add("wrong_function", "e^{2x}", say("2e^{x}"))
    add("wrong_function", "\\ln 2", say("\\ln 3"))
    add("wrong_function", "2x + 1", say("2y + 1"), "another variable")
    add("wrong_function", "x^3", say("x^2"))
    add("wrong_function", "\\frac{\\pi}{3}", say("\\frac{\\pi}{6}"))
    add("wrong_function", "2\\pi", say("\\pi"))
    add("wrong_function", "\\frac{\\pi}{2}", say("90"), "degrees for radians")
    add("wrong_function", "24", say("5!"), "factorial of the wrong number")
    add("wrong_function", "720", say("5!"))
    add("wrong_function", "10", say("\\binom{5}{1}"))
    add("wrong_function", "15", say("\\binom{5}{2}"))
    add("wrong_function", "3 \\times 10^{5}", say("3 \\times 10^{6}"))
    add("wrong_function", "1024", say("2^{11}"))
    add("wrong_function", "\\infty", say("-\\infty"))
    add("wrong_function", "0", say("\\infty"))
    add("wrong_function", "25\\%", say("2.5\\%"))
    add("wrong_function", "5", say("500 \\text{ cm}"), "a unit conversion the verifier cannot know")

    # -- extraction traps ----------------------------------------------------------------
    for _ in range(5):
        n = rint(10, 99)
        add("extraction_trap", str(n), "We count %d apples, then %d are eaten, so %d remain." % (n, n - 7 if n > 7 else 1, 7),
            "the gold appears mid-text, the final number differs")
    add("extraction_trap", "7", "The answer is $\\boxed{}$.", "an empty box")
    add("extraction_trap", "7", "", "an empty completion")
    add("extraction_trap", "12", "I cannot solve this problem.", "a refusal")
    return cases


def render(cases):
    out = []
    for i, c in enumerate(cases):
        row = {"id": "hn-%04d" % i, "category": c["category"], "gold": c["gold"],
               "completion": c["completion"], "note": c["note"]}
        if c["prompt"] is not None:
            row["prompt"] = c["prompt"]
        out.append(json.dumps(row, ensure_ascii=False, sort_keys=False) + "\n")
    return "".join(out)


def main(argv):
    text = render(generate())
    if argv and argv[0] == "--check":
        with open(argv[1], encoding="utf-8") as f:
            same = f.read() == text
        print("up to date" if same else "differs from the generator's output")
        return 0 if same else 1
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
