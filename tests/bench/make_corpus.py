#!/usr/bin/env python3
"""make_corpus.py -- writes the R1-shaped JSONL corpus of the scoring benchmark.

Each line is one sample as DeepSeek-R1-style rollouts look when they reach a
reward function: `id` (an int, the line's index), `prompt` (a math question
with the usual "reason step by step ... \\boxed{}" instruction, about 300
bytes), `completion` (2 to 4 KB of UTF-8: "<think>" reasoning "</think>", a
short written solution and a final \\boxed{...}), `answer` (the gold answer)
and `group` (8 consecutive samples share a prompt, an answer and a group id
"g<n>", like GRPO rollouts of one prompt). The text is assembled from many
sentence templates with random numbers, so no two completions are equal; it
carries non-ASCII text (math symbols and dashes in most completions, CJK in
some, accents in names, an emoji in about one in 25), LaTeX
backslashes, quotes, tabs and newlines, so a JSON parser meets every escape
it meets in real data. A quarter of the groups are written with
ensure_ascii (\\uXXXX escapes, surrogate pairs included), the rest as raw
UTF-8.

Invariants: the output depends only on (N, seed) -- the same arguments give
the same bytes on every machine and Python 3 version (random.Random with an
int seed, no hash ordering, no clock); completions are 2048..4096 bytes of
UTF-8; the file is plain JSONL, one object per line, "\\n" line ends.

    make_corpus.py [-n N] [--seed S] [-o FILE]      (default: 100000 samples, stdout)
"""
import argparse
import json
import random
import sys

SEED = 20250129

OBJECTS = ["apples", "marbles", "coins", "books", "tickets", "stamps", "pencils",
           "cookies", "cards", "beads", "shells", "bottles"]
NAMES = ["Alice", "Bob", "Chen Wei", "José", "Zoë", "Amélie", "Dmitri", "Aiko",
         "Søren", "Fatima", "Priya", "Mateo", "Ngozi", "Björn"]

PROBLEMS = [
    "{n1} has {a} {obj}. {n2} gives {n1} {b} more, then {n1} shares them equally "
    "among {c} friends. How many {obj} does each friend get?",
    "Find the sum of all positive integers $n \\le {a}$ such that $n^2 + {b}n + {c}$ "
    "is divisible by {d}.",
    "Let $f(x) = {a}x^2 - {b}x + {c}$. Compute $f({d}) - f({e})$.",
    "A rectangle has perimeter {p} and its length is {b} more than its width. "
    "What is the area of the rectangle?",
    "How many ways can {a} distinct {obj} be placed into {c} identical boxes so "
    "that no box is empty?",
    "Solve for $x$: $\\frac{{{a}x + {b}}}{{{c}}} = {d} - \\frac{{x}}{{{e}}}$.",
    "The average of {c} numbers is {a}. When one number is removed the average "
    "becomes {b}. What number was removed?",
    "In triangle $ABC$, $AB = {a}$, $BC = {b}$ and $\\angle ABC = 60^\\circ$. "
    "Find $AC^2$.",
    "{n1} walks {a} km at {b} km/h and runs back at {c} km/h. What is the average "
    "speed for the whole trip, in km/h?",
    "What is the remainder when ${a}^{{{b}}}$ is divided by {d}?",
    "一个数列的前两项是 {a} 和 {b}，之后每一项等于前两项之和。求第 {c} 项除以 {d} 的余数。",
    "次の式の値を求めよ: ${a} \\times {b} - {c}^2$。",
]

INSTRUCTIONS = [
    "Please reason step by step, and put your final answer within \\boxed{}.",
    "Let's think step by step and output the final answer within \\boxed{}.",
    "Think carefully. Give the final answer as \\boxed{answer}.",
]

CONTEXT = [
    "This problem comes from a regional olympiad practice set.",
    "Show all of your work; partial credit is not given.",
    "(Note: \"number\" means a positive integer here.)",
    "Assume every quantity is exact; no rounding is needed.",
    "Source: problem set #{a}, section {b}.",
]

THINK = [
    "Okay, so I need to figure out {q}. Let me start by writing down what is given.",
    "First, let me recall that {fact}.",
    "Hmm, wait. Let me double-check that: {a} + {b} = {s}, and {s} \u00d7 {c} = {m}.",
    "So if I plug in x = {a}, I get {a}\u00b2 = {sq}, which is larger than {b}.",
    "Let me try a small case first. With n = {c} the expression is {m}, which works.",
    "That seems right, but I should check the edge case where the value is {e}.",
    "Alternatively, I could set up an equation: {a}x + {b} = {m}, so x = ({m} - {b})/{a}.",
    "Wait, no \u2014 that's not right. I mixed up the \"before\" and \"after\" values.",
    "Let me recompute: {m} \u2212 {b} = {d1}, and {d1} / {c} \u2248 {r}.",
    "So the key observation is that the remainder repeats every {c} steps.",
    "I think the cleanest way is to use $\\frac{{{a}}}{{{c}}} + \\frac{{{b}}}{{{c}}} = \\frac{{{s}}}{{{c}}}$.",
    "Now, {a} mod {c} is {amc} and {b} mod {c} is {bmc}, so the sum mod {c} is {smc}.",
    "Hmm, maybe I can factor it: $x^2 + {s}x + {p2} = (x + {a})(x + {b})$.",
    "Let me verify with the original statement: it says \"{q}\", so units are consistent.",
    "But hold on, is {e} allowed? The problem says n \u2264 {m}, so yes.",
    "Let me count again carefully:\t{a}, {b}, {c}, {e} \u2014 that's four values.",
    "Using the law of cosines: $AC^2 = {a}^2 + {b}^2 - 2\\cdot {a}\\cdot {b}\\cos 60^\\circ$.",
    "I remember the formula $\\sum_{{k=1}}^{{n}} k = \\frac{{n(n+1)}}{{2}}$, so for n = {c} it is {tri}.",
    "\u7b49\u4e00\u4e0b\uff0c\u6211\u518d\u7b97\u4e00\u904d\uff1a{a} + {b} = {s}\u3002",
    "Let me write this more carefully:\n  step 1: {a} \u00d7 {c} = {ac}\n  step 2: {ac} + {b} = {acb}",
    "So far the partial sums are {a}, {s}, {acb}\u2026 and the pattern seems to hold.",
    "This matches what I'd expect from the symmetry (the \u03c0/2 rotation maps it to itself).",
    "Actually, I realize I can simplify: \\sqrt{{{sq}}} = {a}, so that term is just {a}.",
    "Okay, I'm fairly confident now. Let me also sanity-check the magnitude: roughly {r}.",
    "Wait, maybe I misread the problem. Re-reading: \"{q}\". No, my reading was fine.",
    "Let me consider the complementary count instead: {m} total minus {b} bad ones gives {d1}.",
    "Hmm, {n1}'s part is {a} and {n2}'s part is {b}; together that's {s}.",
]

FACTS = [
    "the sum of the angles in a triangle is 180\u00b0",
    "a number is divisible by 3 exactly when its digit sum is",
    "(a + b)\u00b2 = a\u00b2 + 2ab + b\u00b2",
    "Fermat's little theorem gives a^(p\u22121) \u2261 1 (mod p) for prime p",
    "the Stirling number S(n, k) counts partitions into k non-empty blocks",
    "average speed is total distance over total time, not the mean of the speeds",
]

SOLUTION = [
    "**Step {k}.** We have ${a} + {b} = {s}$.",
    "**Step {k}.** Multiplying by {c} gives ${s} \\times {c} = {m}$.",
    "**Step {k}.** Reducing modulo {c}: ${m} \\equiv {smc} \\pmod{{{c}}}$.",
    "**Step {k}.** Substituting back, $x = \\frac{{{d1}}}{{{a}}}$.",
    "**Step {k}.** Checking: the value satisfies the original condition.",
    "**Step {k}.** By the formula above the total is {tri}.",
]


def numbers(rng):
    a, b, c = rng.randint(2, 99), rng.randint(2, 99), rng.randint(2, 12)
    d, e = rng.randint(3, 30), rng.randint(1, 50)
    s, m = a + b, (a + b) * c
    return {
        "a": a, "b": b, "c": c, "d": d, "e": e, "s": s, "m": m, "p": 2 * (a + b),
        "sq": a * a, "d1": m - b, "r": round((m - b) / c, 3), "amc": a % c,
        "bmc": b % c, "smc": s % c, "p2": a * b, "ac": a * c, "acb": a * c + b,
        "tri": c * (c + 1) // 2, "obj": rng.choice(OBJECTS),
        "n1": rng.choice(NAMES), "n2": rng.choice(NAMES),
    }


def gold_answer(rng):
    kind = rng.random()
    if kind < 0.6:
        return str(rng.randint(0, 9999))
    if kind < 0.8:
        return "\\frac{%d}{%d}" % (rng.randint(1, 50), rng.randint(51, 99))
    if kind < 0.9:
        return "%d\\sqrt{%d}" % (rng.randint(2, 9), rng.choice([2, 3, 5, 6, 7]))
    return "%d.%d" % (rng.randint(0, 99), rng.randint(1, 9))


def make_prompt(rng):
    v = numbers(rng)
    text = rng.choice(PROBLEMS).format(**v)
    # Pad with context sentences until the prompt is about 300 bytes.
    target = rng.randint(260, 340)
    parts = [text]
    extra = rng.sample(CONTEXT, len(CONTEXT))
    while extra and len(" ".join(parts).encode()) < target - 80:
        parts.append(extra.pop().format(**v))
    parts.append(rng.choice(INSTRUCTIONS))
    return " ".join(parts), text


def make_completion(rng, question, answer):
    # Every step below stops before the target and leaves less than 200
    # bytes unfilled, so the result lands in [2048, 4096].
    target = rng.randint(2048 + 200, 4096)
    # Usually the boxed answer is the gold one; sometimes the model is wrong.
    boxed = answer if rng.random() < 0.7 else str(rng.randint(0, 9999))
    closing = "\n\nTherefore, the final answer is $\\boxed{%s}$." % boxed
    out = ["<think>\n"]
    size = len(out[0])
    q = question.split("?")[0]
    if len(q) > 70:
        q = q[:70].rsplit(" ", 1)[0] + "…"
    budget = target - len(closing.encode()) - 400  # keep room for the solution
    while True:
        v = numbers(rng)
        v["q"] = q
        v["fact"] = rng.choice(FACTS)
        para = " ".join(rng.choice(THINK).format(**v) for _ in range(rng.randint(1, 4)))
        if rng.random() < 0.003:  # about one completion in 25 has an emoji
            para += " \U0001f642"
        n = len(para.encode()) + 2
        if size + n > budget:
            break
        out.append(para + "\n\n")
        size += n
    for part in ("So the answer should be %s.\n</think>\n\n" % boxed,
                 "To solve this, we work through it step by step.\n\n"):
        out.append(part)
        size += len(part.encode())
    budget = target - len(closing.encode())
    k = 1
    while True:
        v = numbers(rng)
        v["k"] = k
        line = rng.choice(SOLUTION).format(**v) + "\n"
        n = len(line.encode())
        if size + n > budget:
            break
        out.append(line)
        size += n
        k += 1
    out.append(closing)
    completion = "".join(out)
    n = len(completion.encode())
    assert 2048 <= n <= 4096, n
    return completion


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=100000, help="number of samples (default 100000)")
    ap.add_argument("--seed", type=int, default=SEED, help="random seed")
    ap.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout.buffer if args.output == "-" else open(args.output, "wb")
    prompt = question = answer = None
    ascii_only = False
    for i in range(args.n):
        if i % 8 == 0:
            prompt, question = make_prompt(rng)
            answer = gold_answer(rng)
            ascii_only = rng.random() < 0.25
        sample = {
            "id": i,
            "prompt": prompt,
            "completion": make_completion(rng, question, answer),
            "answer": answer,
            "group": "g%d" % (i // 8),
        }
        out.write((json.dumps(sample, ensure_ascii=ascii_only) + "\n").encode("utf-8"))
    if out is sys.stdout.buffer:
        out.flush()
    else:
        out.close()


if __name__ == "__main__":
    main()
