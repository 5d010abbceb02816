#!/usr/bin/env python3
"""math_rewrite.py -- rewrites MATH-500's official answers into forms that
are certainly equal (equivalents) and forms that are certainly different
(near misses), for the math verifier's data test (test_math_data_rewrite.py).

    python3 math_rewrite.py MATH500.jsonl > cases.jsonl   # one case a line
    python3 math_rewrite.py --summary MATH500.jsonl       # counts per kind

Every rewrite is written from the answer's recognised shape: integers,
decimals, fractions (\\frac, \\dfrac, \\frac65, mixed numbers), radicals,
multiples of pi, degrees, currency, units, complex numbers, tuples and
intervals (unions too), unordered answer lists, +- pairs, vectors and
matrices, text and multiple-choice letters, polynomials, equations. A shape
that is not recognised gets only the generic wrappers (the answer boxed in a
short completion, in <answer> tags, after "The final answer is", after a
<think> block), and is counted as "specific rewrites skipped".

Invariants: a rewrite is emitted only where it is valid by construction --
equal values for an equivalent (exact fractions are checked with Python's
Fraction where the shape is numeric), a value that differs for a near miss
(a near miss that might coincide, such as a sign flip of 0, is skipped).
Output is deterministic (no randomness; the order follows the input).
"""
import json
import re
import sys
from fractions import Fraction

# -- small helpers --------------------------------------------------------------

INT_RE = re.compile(r"^-?\d+$")
DEC_RE = re.compile(r"^-?\d*\.\d+$")
# \frac{a}{b}, \frac ab, \frac65, \frac9{19}, \dfrac, \tfrac, with an optional sign
FRAC_RE = re.compile(r"^(-?)\\[dt]?frac\s*(?:\{(\d+)\}|(\d))\s*(?:\{(\d+)\}|(\d))$")
MIXED_RE = re.compile(r"^(\d+)\s*\\frac\{(\d+)\}\{(\d+)\}$")
SEP_INT_RE = re.compile(r"^(-?)(\d{1,3})((?:(?:,|,\\!\s*|\{,\})\d{3})+)$")
SQRT_RE = re.compile(r"^(-?)(\d*)\s*\\sqrt\s*(?:\{(\d+)\}|(\d))$")
FRAC_SQRT_RE = re.compile(r"^\\frac\{(\d*)\s*\\sqrt\{(\d+)\}\}\{(\d+)\}$")
PI_RE = re.compile(r"^(\d*)\s*\\pi$")
DEG_RE = re.compile(r"^(\d+)\^\\circ$")
CURRENCY_RE = re.compile(r"^\\\$(\d[\d,\\!]*(?:\.\d+)?)$")
UNIT_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*\\(?:text|mbox)\{\s*([a-z]+)\}(\^2)?$")
COMPLEX_RE = re.compile(r"^(-?\d+)\s*([+-])\s*(\d*)i$")
TEXT_RE = re.compile(r"^\\text\{([A-Za-z]+)\}$")
CHOICE_RE = re.compile(r"^\\text\{\(([A-E])\)\}$")
MATRIX_RE = re.compile(r"^\\begin\{pmatrix\}(.*)\\end\{pmatrix\}$", re.S)


def frac_value(s):
    """The exact value of a simple numeric element, or None."""
    s = s.strip().replace(" ", "")
    if INT_RE.match(s) or DEC_RE.match(s):
        return Fraction(s)
    m = FRAC_RE.match(s)
    if m:
        num = int(m.group(2) or m.group(3))
        den = int(m.group(4) or m.group(5))
        if den == 0:
            return None
        v = Fraction(num, den)
        return -v if m.group(1) else v
    m = re.match(r"^(-?\d+)/(\d+)$", s)
    if m and int(m.group(2)):
        return Fraction(int(m.group(1)), int(m.group(2)))
    return None


def latex_frac(v):
    """A Fraction as LaTeX: an integer, or [-]\\frac{p}{q}."""
    if v.denominator == 1:
        return str(v.numerator)
    sign = "-" if v < 0 else ""
    return "%s\\frac{%d}{%d}" % (sign, abs(v.numerator), v.denominator)


def exact_decimal(v):
    """v as an exact decimal string when it terminates (denominator 2^a 5^b), else None."""
    d = v.denominator
    k = 0
    while d % 2 == 0:
        d //= 2
        k += 1
    j = 0
    while d % 5 == 0:
        d //= 5
        j += 1
    if d != 1:
        return None
    digits = max(k, j)
    if digits == 0:
        return str(v.numerator)
    scaled = abs(v) * 10 ** digits
    assert scaled.denominator == 1
    s = str(scaled.numerator).rjust(digits + 1, "0")
    out = s[:-digits] + "." + s[-digits:]
    return ("-" if v < 0 else "") + out


def split_top(s, sep=","):
    """Split s at sep outside braces, parentheses and brackets."""
    parts, depth, cur = [], 0, ""
    i = 0
    while i < len(s):
        c = s[i]
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        if c == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    parts.append(cur)
    return [p.strip() for p in parts]


def bump(elem):
    """A form of elem whose value certainly differs: +1 on a number, else '+1' appended."""
    v = frac_value(elem)
    if v is not None:
        return latex_frac(v + 1)
    return elem + " + 1"


def negate(elem):
    """-elem, or None when elem may be zero or is already a plain negation target we cannot write."""
    v = frac_value(elem)
    if v is not None:
        return None if v == 0 else latex_frac(-v)
    if elem.startswith("-"):
        return elem[1:].strip()
    if "\\infty" in elem:
        return None
    return "-" + elem if re.match(r"^[\\\d]", elem) and "+" not in elem and "-" not in elem else None


def terms(expr):
    """Split a sum at top-level + and - (signs kept with their term), or None."""
    out, depth, cur = [], 0, ""
    for i, c in enumerate(expr):
        if c in "{([":
            depth += 1
        elif c in "})]":
            depth -= 1
        if c in "+-" and depth == 0 and cur.strip() and not cur.rstrip().endswith(("^", "_")):
            out.append(cur.strip())
            cur = c
        else:
            cur += c
    out.append(cur.strip())
    return out if len(out) >= 2 else None


def join_terms(ts):
    s = ""
    for t in ts:
        if not s:
            s = t if not t.startswith("+") else t[1:].strip()
        elif t.startswith("-"):
            s += " - " + t[1:].strip()
        else:
            s += " + " + (t[1:].strip() if t.startswith("+") else t)
    return s


# -- the rewrites ---------------------------------------------------------------


def specific(a):
    """(shape, equivalents, near misses) for answer a; shape None when unrecognised.
    Each list holds (kind, form)."""
    eq, nm = [], []
    s = a.strip()

    m = SEP_INT_RE.match(s)
    if m and ("," in s):
        n = int(m.group(1) + m.group(2) + re.sub(r"\D", "", m.group(3)))
        eq += [("separators_dropped", str(n)), ("thousands_braced_comma", "{:,}".format(n).replace(",", "{,}"))]
        nm += [("off_by_one", str(n + 1)), ("times_ten", str(n * 10))]
        return "integer_with_separators", eq, nm

    if INT_RE.match(s):
        n = int(s)
        eq += [("unreduced_fraction", "\\frac{%d}{2}" % (2 * n)),
               ("decimal_point_zero", "%d.0" % n),
               ("x_prefix", "x = %d" % n)]
        if abs(n) >= 1000:
            eq += [("thousands_comma", "{:,}".format(n)), ("thousands_braced_comma", "{:,}".format(n).replace(",", "{,}"))]
        nm += [("off_by_one", str(n + 1)), ("off_by_one", str(n - 1))]
        if n != 0:
            nm += [("sign_flip", str(-n)), ("times_ten", str(10 * n))]
        return "integer", eq, nm

    if DEC_RE.match(s):
        v = Fraction(s)
        eq += [("exact_fraction", latex_frac(v)), ("trailing_zero", s + "0")]
        if s.startswith("."):
            eq.append(("leading_zero", "0" + s))
        elif s.startswith("0."):
            eq.append(("leading_zero_dropped", s[1:]))
        last = s[-1]
        nm.append(("last_digit_changed", s[:-1] + str((int(last) + 1) % 10)))
        if v != 0:
            nm.append(("sign_flip", "-" + s))
        return "decimal", eq, nm

    m = FRAC_RE.match(s)
    if m:
        sign = m.group(1)
        p = int(m.group(2) or m.group(3))
        q = int(m.group(4) or m.group(5))
        v = Fraction(p, q) * (-1 if sign else 1)
        eq += [("dfrac", "%s\\dfrac{%d}{%d}" % (sign, p, q)),
               ("tfrac", "%s\\tfrac{%d}{%d}" % (sign, p, q)),
               ("slash", "%s%d/%d" % (sign, p, q)),
               ("unreduced_fraction", "%s\\frac{%d}{%d}" % (sign, 3 * p, 3 * q))]
        if p < 10 and q < 10:
            eq.append(("frac_no_braces", "%s\\frac%d%d" % (sign, p, q)))
        if sign:
            eq.append(("sign_in_numerator", "\\frac{-%d}{%d}" % (p, q)))
        dec = exact_decimal(v)
        if dec is not None:
            eq.append(("exact_decimal", dec))
        nm += [("numerator_off_by_one", "%s\\frac{%d}{%d}" % (sign, p + 1, q)),
               ("denominator_off_by_one", "%s\\frac{%d}{%d}" % (sign, p, q + 1))]
        if p != q and p != 0:
            nm.append(("swapped_fraction", "%s\\frac{%d}{%d}" % (sign, q, p)))
        if p != 0:
            nm.append(("sign_flip", "%s\\frac{%d}{%d}" % ("" if sign else "-", p, q)))
        if dec is None and v != 0:
            # a rounded decimal off by far more than any tolerance
            nm.append(("rounded_decimal_2dp", "%.2f" % float(v)) if abs(float(v) - round(float(v), 2)) > 1e-3 * abs(float(v)) else ("rounded_decimal_2dp", None))
        return "fraction", eq, [x for x in nm if x[1] is not None]

    m = MIXED_RE.match(s)
    if m:
        w, p, q = int(m.group(1)), int(m.group(2)), int(m.group(3))
        v = w + Fraction(p, q)
        eq.append(("improper_fraction", "\\frac{%d}{%d}" % (v.numerator, v.denominator)))
        dec = exact_decimal(v)
        if dec is not None:
            eq.append(("exact_decimal", dec))
        nm += [("whole_part_dropped", "\\frac{%d}{%d}" % (p, q)),
               ("mixed_read_as_product", latex_frac(w * Fraction(p, q))) if w * Fraction(p, q) != v else ("x", None)]
        return "mixed_number", eq, [x for x in nm if x[1] is not None]

    m = SQRT_RE.match(s)
    if m:
        sign, c, r = m.group(1), m.group(2), int(m.group(3) or m.group(4))
        k = int(c) if c else 1
        eq.append(("sqrt_braces", "%s%s\\sqrt{%d}" % (sign, c, r)))
        if r < 10:
            eq.append(("sqrt_no_braces", "%s%s\\sqrt%d" % (sign, c, r)))
        if c:
            eq += [("cdot", "%s%s \\cdot \\sqrt{%d}" % (sign, c, r)),
                   ("radicand_absorbed", "%s\\sqrt{%d}" % (sign, k * k * r))]
        eq.append(("power_half", "%s%s%d^{\\frac{1}{2}}" % (sign, c + " \\cdot " if c else "", r)))
        nm += [("dropped_radical", "%s%d" % (sign, k * r) if c else "%s%d" % (sign, r)),
               ("radicand_off_by_one", "%s%s\\sqrt{%d}" % (sign, c, r + 1)),
               ("sign_flip", "%s%s\\sqrt{%d}" % ("" if sign else "-", c, r))]
        if c:
            nm.append(("coefficient_dropped", "%s\\sqrt{%d}" % (sign, r)))
        return "radical", eq, nm

    m = FRAC_SQRT_RE.match(s)
    if m:
        c, r, q = m.group(1), int(m.group(2)), int(m.group(3))
        eq += [("dfrac", "\\dfrac{%s\\sqrt{%d}}{%d}" % (c, r, q)),
               ("sqrt_over", "\\frac{%s}{%d}\\sqrt{%d}" % (c or "1", q, r)),
               ("slash", "%s\\sqrt{%d}/%d" % (c, r, q))]
        nm += [("dropped_radical", "\\frac{%s%d}{%d}" % (c + " \\cdot " if c else "", r, q)),
               ("denominator_off_by_one", "\\frac{%s\\sqrt{%d}}{%d}" % (c, r, q + 1)),
               ("sign_flip", "-\\frac{%s\\sqrt{%d}}{%d}" % (c, r, q))]
        return "fraction_with_radical", eq, nm

    m = PI_RE.match(s)
    if m:
        c = m.group(1)
        if c:
            eq += [("cdot", "%s \\cdot \\pi" % c), ("pi_first", "\\pi \\cdot %s" % c)]
            nm += [("pi_dropped", c), ("off_by_one", "%d\\pi" % (int(c) + 1))]
        else:
            eq += [("times_one", "1\\pi"), ("unreduced_fraction", "\\frac{2\\pi}{2}")]
            nm += [("pi_dropped", "1"), ("decimal_3dp", "3.142")]
        nm.append(("sign_flip", "-%s\\pi" % c))
        return "pi_multiple", eq, nm

    m = DEG_RE.match(s)
    if m:
        n = int(m.group(1))
        eq += [("degrees_dropped", str(n)), ("circ_braced", "%d^{\\circ}" % n),
               ("degrees_word", "%d \\text{ degrees}" % n), ("degree_sign", "%d\u00b0" % n)]
        nm += [("off_by_one", "%d^\\circ" % (n + 1)), ("off_by_ten", "%d^\\circ" % (n + 10))]
        return "degrees", eq, nm

    m = CURRENCY_RE.match(s)
    if m:
        raw = m.group(1)
        v = Fraction(re.sub(r"[,\\!]", "", raw))
        plain = re.sub(r"[,\\!]", "", raw)
        eq += [("currency_dropped", plain), ("currency_spaced", "\\$ " + plain),
               ("dollars_word", plain + " \\text{ dollars}")]
        nm += [("off_by_one", "\\$" + latex_frac(v + 1) if v.denominator == 1 else "\\$%s" % exact_decimal(v + 1))]
        return "currency", eq, nm

    m = UNIT_RE.match(s)
    if m:
        num = m.group(1)
        eq += [("unit_dropped", num), ("unit_text", "%s \\text{ %s}%s" % (num, m.group(2), m.group(3) or ""))]
        v = Fraction(num)
        nm.append(("off_by_one", exact_decimal(v + 1) + " \\text{ %s}%s" % (m.group(2), m.group(3) or "")))
        return "number_with_unit", eq, nm

    m = COMPLEX_RE.match(s.replace(" ", ""))
    if m:
        a_, op, b_ = m.group(1), m.group(2), m.group(3)
        bpart = (b_ or "") + "i"
        eq += [("imaginary_first", "%s%s %s %s" % ("-" if op == "-" else "", bpart, "+" if not a_.startswith("-") else "-", a_.lstrip("-"))),
               ("cdot_i", "%s %s %s \\cdot i" % (a_, op, b_ or "1"))]
        nm += [("conjugate", "%s %s %s" % (a_, "+" if op == "-" else "-", bpart))]
        if (b_ or "1") != a_.lstrip("-"):
            nm.append(("swapped_parts", "%s %s %si" % ((op if op == "-" else "") + (b_ or "1"), "-" if a_.startswith("-") else "+", a_.lstrip("-"))))
        return "complex", eq, nm

    m = CHOICE_RE.match(s)
    if m:
        L = m.group(1)
        other = "A" if L != "A" else "B"
        eq += [("letter", L), ("letter_parenthesised", "(%s)" % L), ("textbf", "\\textbf{(%s)}" % L)]
        nm += [("other_letter", "(%s)" % other)]
        return "choice", eq, nm

    m = TEXT_RE.match(s)
    if m:
        w = m.group(1)
        eq += [("text_dropped", w), ("mathrm", "\\mathrm{%s}" % w), ("textbf", "\\textbf{%s}" % w)]
        nm += [("other_word", "\\text{%s}" % ({"east": "west", "even": "odd", "ellipse": "hyperbola"}.get(w, w + "s")))]
        return "text", eq, nm

    m = MATRIX_RE.match(s)
    if m:
        body = m.group(1)
        rows = [r.strip() for r in body.split("\\\\")]
        cells = [[c.strip() for c in r.split("&")] for r in rows]
        if all(frac_value(c) is not None for r in cells for c in r):
            def mat(cs, env="pmatrix"):
                return "\\begin{%s} %s \\end{%s}" % (env, " \\\\ ".join(" & ".join(r) for r in cs), env)
            as_frac = [[latex_frac(frac_value(c)) for c in r] for r in cells]
            eq += [("bmatrix", mat(cells, "bmatrix")), ("entries_as_latex_fractions", mat(as_frac))]
            bumped = [r[:] for r in as_frac]
            bumped[0][0] = latex_frac(frac_value(cells[0][0]) + 1)
            nm.append(("entry_off_by_one", mat(bumped)))
            flat = [c for r in as_frac for c in r]
            if len(flat) >= 2 and frac_value(cells[0][0]) != (frac_value(cells[1][0]) if len(cells) > 1 else frac_value(cells[0][1])):
                sw = [r[:] for r in as_frac]
                if len(cells) > 1:
                    sw[0][0], sw[1][0] = sw[1][0], sw[0][0]
                else:
                    sw[0][0], sw[0][1] = sw[0][1], sw[0][0]
                nm.append(("entries_swapped", mat(sw)))
            return "matrix", eq, nm
        return None, [], []

    # x \in [a,b]
    m = re.match(r"^x\s*\\in\s*(.*)$", s)
    if m:
        eq.append(("membership_dropped", m.group(1)))
        inner = specific(m.group(1))
        if inner[0]:
            nm += inner[2]
        return "membership", eq, nm

    # equations: swap sides; x = value: the value alone
    if s.count("=") == 1 and "\\le" not in s and "\\ge" not in s:
        lhs, rhs = [t.strip() for t in s.split("=")]
        eq.append(("sides_swapped", "%s = %s" % (rhs, lhs)))
        if re.match(r"^[a-z]$", lhs) and frac_value(rhs) is not None:
            eq.append(("x_prefix_dropped", rhs))
            nm.append(("value_off_by_one", "%s = %s" % (lhs, bump(rhs))))
        else:
            ts = terms(rhs) or [rhs]
            nm.append(("constant_off_by_one", "%s = %s" % (lhs, rhs + " + 1")))
            if lhs == "y":
                nm.append(("sign_flip_rhs", "y = -(%s)" % rhs))
            if len(ts) >= 2:
                eq.append(("terms_reordered", "%s = %s" % (lhs, join_terms(list(reversed(ts))))))
        return "equation", eq, nm

    # +- pairs: a \pm b
    m = re.match(r"^(.+?)\s*\\pm\s*(.+)$", s)
    if m and "," not in s:
        a_, b_ = m.group(1).strip(), m.group(2).strip()
        eq += [("pm_expanded", "%s + %s, %s - %s" % (a_, b_, a_, b_)),
               ("pm_expanded_reordered", "%s - %s, %s + %s" % (a_, b_, a_, b_))]
        nm += [("pm_one_root_only", "%s + %s" % (a_, b_)), ("pm_sign_of_a_flipped", "-%s \\pm %s" % (a_, b_))]
        return "plus_minus", eq, nm

    # a set \{...\}
    m = re.match(r"^\\\{(.*)\\\}$", s)
    if m:
        items = split_top(m.group(1))
        if len(items) >= 2:
            eq.append(("set_reordered", "\\{%s\\}" % ", ".join(reversed(items))))
            eq.append(("left_right_braces", "\\left\\{%s\\right\\}" % ", ".join(items)))
            nm.append(("element_dropped", "\\{%s\\}" % ", ".join(items[:-1])))
            nm.append(("element_changed", "\\{%s\\}" % ", ".join(items[:-1] + [bump(items[-1])])))
            return "set", eq, nm

    # intervals, tuples and unions of intervals
    pieces = [p.strip() for p in re.split(r"\\cup", s)]
    parsed = []
    for p in pieces:
        mm = re.match(r"^(\\left\s*)?([\(\[])(.*?)(\\right\s*)?([\)\]])$", p)
        if not mm:
            parsed = None
            break
        items = split_top(mm.group(3))
        if len(items) < 2:
            parsed = None
            break
        parsed.append((mm.group(2), items, mm.group(5)))
    if parsed:
        def show(ps, lr=False, sep=", "):
            out = []
            for o, items, c in ps:
                if lr:
                    out.append("\\left%s %s \\right%s" % (o, sep.join(items), c))
                else:
                    out.append("%s%s%s" % (o, sep.join(items), c))
            return " \\cup ".join(out)
        eq += [("left_right", show(parsed, lr=True)), ("spacing", show(parsed, sep=","))]
        is_interval = len(parsed) > 1 or any(o == "[" or c == "]" for o, _, c in parsed) or any("\\infty" in i for _, it, _ in parsed for i in it)
        items0 = parsed[0][1]
        if is_interval:
            o, it, c = parsed[0]
            if "\\infty" not in it[0]:
                nm.append(("open_closed_swapped_left", show([("[" if o == "(" else "(", it, c)] + parsed[1:])))
            if "\\infty" not in it[-1]:
                nm.append(("open_closed_swapped_right", show([(o, it, "]" if c == ")" else ")")] + parsed[1:])))
            if len(parsed) > 1:
                nm.append(("union_piece_dropped", show(parsed[:1])))
            nm.append(("ends_swapped", show([(o, list(reversed(it)), c)] + parsed[1:])))
            if "\\infty" not in it[-1]:
                nm.append(("end_off_by_one", show([(o, it[:-1] + [bump(it[-1])], c)] + parsed[1:])))
            if len(parsed) == 1 and o == "(" and c == ")" and len(it) == 2:
                # also read as a point: both readings make these different
                pass
            return "interval", eq, nm
        # a tuple (ordered)
        if items0[0] != items0[1]:
            sw = items0[:]
            sw[0], sw[1] = sw[1], sw[0]
            nm.append(("elements_swapped", show([(parsed[0][0], sw, parsed[0][2])])))
        neg = negate(items0[0])
        if neg is not None:
            nm.append(("sign_flip_first", show([(parsed[0][0], [neg] + items0[1:], parsed[0][2])])))
        nm.append(("last_element_changed", show([(parsed[0][0], items0[:-1] + [bump(items0[-1])], parsed[0][2])])))
        if len(items0) > 2:
            nm.append(("element_dropped", show([(parsed[0][0], items0[:-1], parsed[0][2])])))
        return "tuple", eq, nm

    # unordered answer lists "3, 5, 7"
    items = split_top(s)
    if len(items) >= 2 and all(frac_value(i) is not None for i in items):
        eq += [("list_reordered", ", ".join(reversed(items))), ("list_spacing", ",".join(items)),
               ("list_and", ", ".join(items[:-1]) + " \\text{ and } " + items[-1])]
        nm += [("element_dropped", ", ".join(items[:-1])), ("element_changed", ", ".join(items[:-1] + [bump(items[-1])])),
               ("element_added", ", ".join(items + [bump(max(items, key=frac_value))]))]
        return "list", eq, nm

    # sums of terms with variables or constants: reorder terms, bump, flip one sign
    if re.search(r"[a-z]|\\pi|\\sqrt", s) and "," not in s and "\\pm" not in s and "=" not in s:
        ts = terms(s)
        if ts:
            eq.append(("terms_reordered", join_terms(list(reversed(ts)))))
            nm.append(("constant_added", s + " + 1"))
            last = ts[-1]
            flipped = ts[:-1] + [("+" + last[1:]) if last.startswith("-") else ("-" + last.lstrip("+").strip())]
            nm.append(("last_term_sign_flipped", join_terms(flipped)))
            return "sum", eq, nm
        m = re.match(r"^\((.+)\)\((.+)\)$", s)
        if m and m.group(1) != m.group(2):
            eq.append(("factors_reordered", "(%s)(%s)" % (m.group(2), m.group(1))))
            nm.append(("factor_changed", "(%s)(%s + 1)" % (m.group(1), m.group(2))))
            return "product", eq, nm
        if re.match(r"^\d+[a-zA-Z]\^?\d*$|^\d+[a-zA-Z]\^\d+$", s.replace(" ", "")):
            mm = re.match(r"^(\d+)([a-zA-Z](?:\^\d+)?)$", s.replace(" ", ""))
            if mm:
                eq.append(("cdot", "%s \\cdot %s" % (mm.group(1), mm.group(2))))
                nm.append(("coefficient_off_by_one", "%d%s" % (int(mm.group(1)) + 1, mm.group(2))))
                return "monomial", eq, nm
    return None, [], []


# -- wrappers: how an answer appears in a completion ------------------------------

def boxed(form):
    return "Working through the problem step by step, we obtain the result.\nTherefore the answer is $\\boxed{%s}$." % form


def generic(a):
    """Equivalent completions for any answer, valid whatever its shape."""
    out = [("boxed_in_completion", boxed(a)),
           ("answer_tag", "<think>Let me compute this carefully.</think>\n<answer>$%s$</answer>" % a),
           ("answer_tag_boxed", "<think>Let me compute this carefully.</think>\n<answer>\\boxed{%s}</answer>" % a),
           ("final_answer_phrase", "The computation gives the result.\nFinal Answer: The final answer is $%s$. I hope it is correct." % a),
           ("same_box_twice", "First we get $\\boxed{%s}$, and checking again confirms $\\boxed{%s}$." % (a, a)),
           ("after_think_preferred", "<think>Perhaps the answer is $\\boxed{%s}$? No, that was an arithmetic slip.</think>\nThe answer is $\\boxed{%s}$." % ("123457" if a != "123457" else "123458", a))]
    if "\\frac" in a and "\\dfrac" not in a:
        out.append(("dfrac_everywhere", boxed(a.replace("\\frac", "\\dfrac"))))
    if "\\left" in a:
        out.append(("left_right_dropped", boxed(re.sub(r"\\(left|right)\s*", "", a))))
    if "\\!" in a or "\\," in a:
        out.append(("thin_spaces_dropped", boxed(re.sub(r"\\[!,]\s*", "", a))))
    return out


def generic_near_misses(a, near):
    """Near-miss completions built from one certain near miss of the answer."""
    return [("correct_then_wrong_final_box",
             "At first it looks like $\\boxed{%s}$, but correcting a step, the answer is $\\boxed{%s}$." % (a, near)),
            ("hedge_two_boxes", "The answer is $\\boxed{%s}$ or $\\boxed{%s}$." % (a, near))]


def cases_for(answer):
    """All cases for one official answer: list of dicts {kind, expect, completion,
    form (the rewritten answer, or the whole completion for the generic kinds)},
    and its shape."""
    shape, eq, nm = specific(answer)
    out = []
    for kind, c in generic(answer):
        out.append({"kind": "generic/" + kind, "expect": True, "completion": c, "form": c})
    for kind, form in eq:
        out.append({"kind": "%s/%s" % (shape, kind), "expect": True, "completion": boxed(form), "form": form})
    for kind, form in nm:
        out.append({"kind": "%s/%s" % (shape, kind), "expect": False, "completion": boxed(form), "form": form})
    if nm:
        for kind, c in generic_near_misses(answer, nm[0][1]):
            out.append({"kind": "generic/" + kind, "expect": False, "completion": c, "form": c})
    return out, shape


def all_cases(rows):
    """Cases over MATH-500 rows, and the number of answers whose shape was not recognised."""
    cases, skipped = [], []
    for r in rows:
        cs, shape = cases_for(r["answer"])
        if shape is None:
            skipped.append(r["answer"])
        for c in cs:
            c["unique_id"] = r["unique_id"]
            c["gold"] = r["answer"]
            cases.append(c)
    return cases, skipped


def main(argv):
    summary = "--summary" in argv
    paths = [a for a in argv if not a.startswith("--")]
    if len(paths) != 1:
        sys.stderr.write("usage: math_rewrite.py [--summary] math500.jsonl\n")
        return 2
    with open(paths[0], encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    cases, skipped = all_cases(rows)
    if summary:
        kinds = {}
        for c in cases:
            k = (c["kind"], c["expect"])
            kinds[k] = kinds.get(k, 0) + 1
        for (k, e), n in sorted(kinds.items()):
            print("%-50s %-5s %d" % (k, "eq" if e else "miss", n))
        print("answers: %d; specific rewrites skipped for %d: %s" % (len(rows), len(skipped), skipped))
        return 0
    for c in cases:
        sys.stdout.write(json.dumps(c, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
