"""shaping_pyref.py -- the Python side of `make bench` for the shaping
plugins: open-r1's functions (shaping_openr1.py) timed on the same corpus as
rlvr, in two ways, best of ROUNDS:

  func  the function alone on completions already in memory (correctness,
        where a rule needs it, computed beforehand and not timed), called
        per group of the corpus as a trainer calls it per batch;
  job   the whole job rlvr score does: read the file, json.loads each line,
        the answer check (an <answer> regex against the gold) where the rule
        needs correctness, the function, json.dumps a result per sample.

    python3 shaping_pyref.py corpus.jsonl [ROUNDS]
prints one line per plugin: NAME func=SAMPLES_PER_S job=SAMPLES_PER_S
"""
import json
import os
import re
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shaping_openr1 as ref  # noqa: E402

ANSWER = re.compile(r"<answer>(.*?)</answer>", re.S)


def is_correct(text, gold):
    m = ANSWER.findall(text)
    return bool(m) and m[-1].strip() == gold.strip()


def groups(rows):
    """Consecutive runs of equal `group`, as index lists."""
    out, cur, key = [], [], object()
    for i, r in enumerate(rows):
        if r.get("group") != key and cur:
            out.append(cur)
            cur = []
        key = r.get("group")
        cur.append(i)
    if cur:
        out.append(cur)
    return out


def rule(name, texts, correct, tokens, runs):
    if name == "length":
        out = [0.0] * len(texts)
        for g in runs:
            for i, v in zip(g, ref.len_reward([texts[i] for i in g], [correct[i] for i in g])):
                out[i] = v
        return out
    if name == "cosine":
        return ref.cosine_scaled_reward(texts, correct)
    if name == "repetition_penalty":
        return ref.repetition_penalty_reward(texts)
    if name == "soft_overlong_punishment":
        return ref.soft_overlong_punishment(tokens)
    return ref.reasoning_steps_reward(texts)


NEEDS_ACC = {"length", "cosine"}


def job(name, path):
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    texts = [r["completion"] for r in rows]
    correct = [is_correct(r["completion"], r["answer"]) for r in rows] if name in NEEDS_ACC else None
    tokens = [r.get("completion_tokens", len(r["completion"]) // 4) for r in rows]
    scores = rule(name, texts, correct, tokens, groups(rows))
    with open(os.devnull, "w") as out:
        for r, s in zip(rows, scores):
            comps = {name: s}
            if correct is not None:
                comps["accuracy"] = 1.0 if correct else 0.0
            out.write(json.dumps({"id": r["id"], "reward": sum(comps.values()), "components": comps}) + "\n")
    return len(rows)


def main():
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    texts = [r["completion"] for r in rows]
    correct = [is_correct(r["completion"], r["answer"]) for r in rows]
    tokens = [r.get("completion_tokens", len(r["completion"]) // 4) for r in rows]
    runs = groups(rows)
    n = len(rows)
    for name in ["length", "cosine", "repetition_penalty", "soft_overlong_punishment", "reasoning_steps"]:
        best_f = best_j = float("inf")
        for _ in range(rounds):
            t = time.perf_counter()
            rule(name, texts, correct, tokens, runs)
            best_f = min(best_f, time.perf_counter() - t)
            t = time.perf_counter()
            job(name, path)
            best_j = min(best_j, time.perf_counter() - t)
        print("%s func=%.0f job=%.0f" % (name, n / best_f, n / best_j))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
