#!/usr/bin/env python3
"""format_corpus.py -- the corpus of tests/bench/format.sh: N samples whose
completions are about 4 KB, in a fixed mix of formats.

    format_corpus.py -n N -o FILE

Each line is {"id", "completion", "expect"}: `expect` is the reason code the
format plugin must give under its defaults, so the benchmark can check its
output. The mix (by sample index, deterministic, seeded):

    60%  well formed, open-r1's newline form          ok
    10%  well formed, one line, spaces around tags     ok
     5%  well formed, CRLF line ends and <|im_end|>    ok
    10%  junk lines after </answer>                    text_after_answer
     5%  a second <answer> block                       repeated_answer
     5%  nested think tags                             nested_think
     5%  no answer block (R1 style summary)            no_answer_open

The reasoning is English words with arithmetic, LaTeX and a few '<' and
'</' characters (so the scanner meets near-tags), padded to 3.9 to 4.1 KB.
"""
import argparse
import json
import random

WORDS = ("let us compute the sum of both sides then check whether x < y holds and "
         "simplify \\frac{a}{b} so that a </ b is not a tag wait maybe we should "
         "verify again using the identity (a+b)^2 = a^2 + 2ab + b^2 therefore").split()


def reasoning(rng, size):
    out, n = [], 0
    while n < size:
        w = rng.choice(WORDS)
        if rng.random() < 0.05:
            w = "%d + %d = %d" % (rng.randint(1, 99), rng.randint(1, 99), rng.randint(1, 200))
        if rng.random() < 0.03:
            w += "\n"
        out.append(w)
        n += len(w) + 1
    return " ".join(out)


def sample(i, rng):
    think = reasoning(rng, rng.randint(3700, 3900))
    ans = str(rng.randint(1, 10 ** 6))
    k = i % 20
    if k < 12:
        return "<think>\n%s\n</think>\n<answer>\n%s\n</answer>" % (think, ans), "ok"
    if k < 14:
        return " <think> %s </think>  <answer> %s </answer> " % (think, ans), "ok"
    if k < 15:
        text = "<think>\n%s\n</think>\n<answer>\n%s\n</answer>\n" % (think, ans)
        return text.replace("\n", "\r\n") + "<|im_end|>", "ok"
    if k < 17:
        return ("<think>\n%s\n</think>\n<answer>\n%s\n</answer>\nWait, let me double-check.\nYes." % (think, ans),
                "text_after_answer")
    if k < 18:
        return ("<think>\n%s\n</think>\n<answer>\n%s\n</answer>\n<answer>\n%s\n</answer>" % (think, ans, ans),
                "repeated_answer")
    if k < 19:
        half = len(think) // 2
        return ("<think>\n%s\n<think>\n%s\n</think>\n</think>\n<answer>\n%s\n</answer>"
                % (think[:half], think[half:], ans), "nested_think")
    return "<think>\n%s\n</think>\nSo the answer is %s." % (think, ans), "no_answer_open"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=20000)
    ap.add_argument("-o", required=True)
    a = ap.parse_args()
    rng = random.Random(20250205)
    with open(a.o, "w", encoding="utf-8") as f:
        for i in range(a.n):
            text, expect = sample(i, rng)
            f.write(json.dumps({"id": i, "completion": text, "expect": expect}) + "\n")


if __name__ == "__main__":
    main()
