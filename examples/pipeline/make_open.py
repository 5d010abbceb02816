#!/usr/bin/env python3
"""make_open.py -- stage 5's data for r1.lua: the demo's training problems
(DATA_DIR/train.jsonl, from examples/demo/make_data.py) with every
EVERY-th problem routed to the judge, written to DATA_DIR/all.jsonl.

Each row gets a `data_source`: "math" (mix_all.lua's rules: the math
verifier's accuracy + format) or "open" (a generative judge's rubric score,
score_10, + format). An open row keeps its `answer` as the judge's
reference: every built-in judge template compares the response with a
reference, and a row without one abstains (`no_reference`). Deterministic.

usage: make_open.py DATA_DIR [--every N]   (N = 4: a quarter open)
"""
import argparse
import json
import os


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("data_dir")
    ap.add_argument("--every", type=int, default=4)
    o = ap.parse_args()
    if o.every < 1:
        ap.error("--every must be at least 1")
    n = {"math": 0, "open": 0}
    with open(os.path.join(o.data_dir, "train.jsonl")) as f, open(os.path.join(o.data_dir, "all.jsonl"), "w") as out:
        for i, line in enumerate(f):
            row = json.loads(line)
            row["data_source"] = "open" if i % o.every == o.every - 1 else "math"
            n[row["data_source"]] += 1
            out.write(json.dumps(row) + "\n")
    print("make_open.py: %d math rows, %d open rows in %s" % (n["math"], n["open"], os.path.join(o.data_dir, "all.jsonl")))


if __name__ == "__main__":
    main()
