#!/usr/bin/env python3
"""make_data.py -- the demo's synthetic task: addition of multi-digit numbers,
answered as <think>column sums</think><answer>\\boxed{sum}</answer>.

Writes three disjoint JSONL files into OUT_DIR:
  sft.jsonl    --sft N cold-start traces {"prompt", "completion", "answer"}
  train.jsonl  --train N GRPO prompts {"id", "prompt", "answer"} (no traces)
  test.jsonl   --test N held-out problems, as train.jsonl

The trace works the columns from the right, as one does on paper, writing
each column's sum with the carry it takes in ("7+5=12 4+8+1=13 3+1=4"), then
the answer. No problem appears in two files. Deterministic for a seed.
"""
import argparse
import json
import os
import random


def trace(a, b):
    xs, ys = str(a)[::-1], str(b)[::-1]
    steps, carry = [], 0
    for i in range(max(len(xs), len(ys))):
        terms = [d[i] for d in (xs, ys) if i < len(d)]
        if carry:
            terms.append("1")
        s = sum(int(t) for t in terms)
        steps.append("+".join(terms) + "=" + str(s))
        carry = s // 10
    return " ".join(steps)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out_dir")
    ap.add_argument("--digits", type=int, default=3, help="largest operand length (3)")
    ap.add_argument("--sft", type=int, default=1000)
    ap.add_argument("--train", type=int, default=20000)
    ap.add_argument("--test", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    o = ap.parse_args()
    rng = random.Random(o.seed)
    hi = 10 ** o.digits - 1
    seen = set()
    total = o.sft + o.train + o.test
    if total > (hi + 1) ** 2 // 2:
        ap.error("more problems asked for than there are")
    problems = []
    while len(problems) < total:
        a, b = rng.randint(1, hi), rng.randint(1, hi)
        if (a, b) not in seen:
            seen.add((a, b))
            problems.append((a, b))
    os.makedirs(o.out_dir, exist_ok=True)
    parts = [("test.jsonl", problems[:o.test]), ("sft.jsonl", problems[o.test:o.test + o.sft]),
             ("train.jsonl", problems[o.test + o.sft:])]
    for name, probs in parts:
        with open(os.path.join(o.out_dir, name), "w") as f:
            for i, (a, b) in enumerate(probs):
                row = {"id": f"{name.split('.')[0]}-{i}", "prompt": f"{a}+{b}=", "answer": str(a + b)}
                if name == "sft.jsonl":
                    row["completion"] = f"<think>{trace(a, b)}</think><answer>\\boxed{{{a + b}}}</answer>"
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
