#!/usr/bin/env python3
"""format_ref.py -- the reference side of tests/bench/format.sh: open-r1's
format_reward and tag_count_reward, as open-r1 defines them (regex
^<think>\\n.*?\\n</think>\\n<answer>\\n.*?\\n</answer>$ with re.DOTALL |
re.MULTILINE under re.match; str.count of the four tag strings), written out
here and timed on the same corpus.

    format_ref.py CORPUS [ROUNDS]
    format_ref.py --check CORPUS RESULTS PLUGIN

With --check, RESULTS (rlvr score's output on CORPUS) is compared line by
line: for `format` each details.format.reason must equal the corpus's
`expect`, for `tag_count` each component must equal tag_count_reward here;
it prints "checked N" or the first difference, and exits 1 on one.

Prints one line per measurement, "name samples_per_s accepted":
  openr1_format_mem   the regex alone over completions already in memory
  openr1_tags_mem     tag_count alone, in memory
  openr1_format_job   the whole job: read the file, json.loads each line,
                      the regex, json.dumps a result line, write it out
The best of ROUNDS (default 3) is kept.
"""
import json
import os
import re
import sys
import time

PATTERN = re.compile(r"^<think>\n.*?\n</think>\n<answer>\n.*?\n</answer>$", re.DOTALL | re.MULTILINE)


def format_reward(text):
    return 1.0 if PATTERN.match(text) else 0.0


def tag_count(text):
    n = 0.0
    if text.count("<think>\n") == 1:
        n += 0.25
    if text.count("\n</think>\n") == 1:
        n += 0.25
    if text.count("\n<answer>\n") == 1:
        n += 0.25
    if text.count("\n</answer>") == 1:
        n += 0.25
    return n


def best(fn, rounds):
    b, out = None, None
    for _ in range(rounds):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        b = dt if b is None or dt < b else b
    return b, out


def check(corpus, results, plugin):
    with open(corpus, encoding="utf-8") as f, open(results, encoding="utf-8") as g:
        n = 0
        for a, b in zip(f, g):
            s, r = json.loads(a), json.loads(b)
            if plugin == "format":
                got, want = r["details"]["format"].get("reason"), s["expect"]
            else:
                got, want = r["components"]["tag_count"], tag_count(s["completion"])
            if got != want or r["id"] != s["id"]:
                print("sample %s: %s gives %r, want %r" % (s["id"], plugin, got, want))
                return 1
            n += 1
    print("checked %d" % n)
    return 0


def main():
    if sys.argv[1] == "--check":
        sys.exit(check(sys.argv[2], sys.argv[3], sys.argv[4]))
    path = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with open(path, encoding="utf-8") as f:
        texts = [json.loads(l)["completion"] for l in f]
    n = len(texts)
    dt, acc = best(lambda: sum(format_reward(t) for t in texts), rounds)
    print("openr1_format_mem %.0f %d" % (n / dt, acc))
    dt, tot = best(lambda: sum(tag_count(t) for t in texts), rounds)
    print("openr1_tags_mem %.0f %d" % (n / dt, tot))

    def job():
        acc = 0
        with open(path, encoding="utf-8") as f, open(os.devnull, "w") as out:
            for line in f:
                s = json.loads(line)
                r = format_reward(s["completion"])
                acc += r
                out.write(json.dumps({"id": s["id"], "reward": r, "components": {"format": r}}) + "\n")
        return acc
    dt, acc = best(job, rounds)
    print("openr1_format_job %.0f %d" % (n / dt, acc))


if __name__ == "__main__":
    main()
