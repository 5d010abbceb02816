#!/usr/bin/env python3
"""report.py -- the demo's results: pass@1, pass@4, maj@4, format rate and
mean length of each model on the held-out problems, as results.json (one
object, machine-readable) and results.txt (a table).

usage: report.py WORKDIR SEED T0 T1 T2   (stage start times, seconds)
       report.py --study RUN_DIR...      (mean +- std over seeds)
"""
import json
import os
import statistics
import sys

STAGES = [("sft", "cold-start SFT"), ("grpo", "SFT + GRPO"), ("sft_more", "SFT continued (GRPO's time)")]
FIELDS = [("pass@1", "pass@1"), ("pass@4", "pass@4"), ("maj@4", "maj@4"), ("format", "format rate"),
          ("mean_length", "length")]


def row(ev):
    return {"pass@1": ev["pass@1"], "pass@4": ev.get("pass@4"), "maj@4": ev.get("maj@4"),
            "format": ev["components"]["format"]["mean"], "mean_length": ev["mean_length"]}


def one(work, seed, t0, t1, t2):
    res = {"seed": int(seed), "problems": None, "models": {}, "seconds": {"sft": t1 - t0, "grpo": t2 - t1}}
    for key, _ in STAGES:
        path = os.path.join(work, "eval_%s.json" % key)
        if os.path.exists(path):
            ev = json.load(open(path))
            res["problems"] = ev["problems"]
            res["models"][key] = row(ev)
    res["gain_pass@1"] = res["models"]["grpo"]["pass@1"] - res["models"]["sft"]["pass@1"]
    json.dump(res, open(os.path.join(work, "results.json"), "w"), indent=1)
    lines = ["%-30s %8s %8s %8s %12s %8s" % ("model (%d held-out problems)" % res["problems"], "pass@1", "pass@4",
                                             "maj@4", "format rate", "length")]
    for key, name in STAGES:
        m = res["models"].get(key)
        if m:
            lines.append("%-30s %8.3f %8.3f %8.3f %12.3f %8.1f" % (name, m["pass@1"], m["pass@4"], m["maj@4"],
                                                                   m["format"], m["mean_length"]))
    lines.append("GRPO's gain in pass@1: %+.1f points; SFT %.0f s, GRPO %.0f s (seed %d)" % (
        100 * res["gain_pass@1"], res["seconds"]["sft"], res["seconds"]["grpo"], res["seed"]))
    open(os.path.join(work, "results.txt"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


def study(dirs):
    runs = [json.load(open(os.path.join(d, "results.json"))) for d in dirs]
    out = {"seeds": [r["seed"] for r in runs], "models": {}}
    lines = ["%-30s %16s %16s %16s" % ("model (mean +- std, %d seeds)" % len(runs), "pass@1", "format rate", "length")]
    for key, name in STAGES:
        vals = [r["models"][key] for r in runs if key in r["models"]]
        if len(vals) != len(runs):
            continue
        agg = {}
        for f, _ in FIELDS:
            xs = [v[f] for v in vals]
            agg[f] = {"mean": statistics.mean(xs), "std": statistics.stdev(xs) if len(xs) > 1 else 0.0}
        out["models"][key] = agg
        lines.append("%-30s %8.3f +- %.3f %8.3f +- %.3f %8.1f +- %.1f" % (
            name, agg["pass@1"]["mean"], agg["pass@1"]["std"], agg["format"]["mean"], agg["format"]["std"],
            agg["mean_length"]["mean"], agg["mean_length"]["std"]))
    for key, name in (("grpo", "GRPO"), ("sft_more", "SFT continued")):
        gains = [r["models"][key]["pass@1"] - r["models"]["sft"]["pass@1"] for r in runs if key in r["models"]]
        if len(gains) == len(runs):
            g = {"mean": statistics.mean(gains), "std": statistics.stdev(gains) if len(gains) > 1 else 0.0}
            out["gain_pass@1_" + key] = g
            lines.append("%s's gain in pass@1 over the cold start: %+.1f +- %.1f points (seeds: %s)" % (
                name, 100 * g["mean"], 100 * g["std"], ", ".join("%+.1f" % (100 * x) for x in gains)))
    json.dump(out, open("demo-study.json", "w"), indent=1)
    open("demo-study.txt", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1] == "--study":
        study(sys.argv[2:])
    else:
        one(sys.argv[1], sys.argv[2], *map(float, sys.argv[3:6]))
