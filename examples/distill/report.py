#!/usr/bin/env python3
"""report.py -- run_distill.sh's arithmetic and its table.

  report.py budget RL_DIR               tokens the RL arm spent: the tokens its
                                        loss was taken on plus every token it
                                        generated (from RL_DIR/metrics.jsonl)
  report.py steps KEPT BUDGET BATCH     SFT steps of BATCH sequences of KEPT
                                        (its mean completion tokens) that spend
                                        BUDGET tokens, to the nearest step
  report.py report WORKDIR BATCH SEED...  WORKDIR/results.json and results.txt

An arm's tokens are counted from what rlvr wrote, never assumed: rlvr
train's per-step rates times their times (printed to full precision, so the
products round back to the integer counts), rlvr sft's completion tokens per
logging window (the windows cover every step). The report refuses (exit 1)
when an arm's count is missing or the two arms' budgets of a seed differ by
more than one SFT step's tokens (BATCH sequences of the longest kept
completion): the finest grain at which the distillation arm can stop.
"""
import json
import os
import statistics
import sys


class ReportError(Exception):
    pass


def metrics(path):
    try:
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    except (OSError, ValueError) as e:
        raise ReportError("cannot read %s: %s" % (path, e))


def rl_budget(rl_dir):
    """(trained, generated) tokens of a GRPO run."""
    steps = [m for m in metrics(os.path.join(rl_dir, "metrics.jsonl")) if "loss" in m]
    if not steps:
        raise ReportError("%s/metrics.jsonl has no training step" % rl_dir)
    trained = generated = 0
    for m in steps:
        for rate, secs in (("tokens_per_second/training", "time/training"),
                           ("tokens_per_second/generation", "time/generation")):
            if not isinstance(m.get(rate), (int, float)) or not isinstance(m.get(secs), (int, float)):
                raise ReportError("%s/metrics.jsonl: step %s lacks %s or %s" % (rl_dir, m.get("step"), rate, secs))
        trained += round(m["tokens_per_second/training"] * m["time/training"])
        generated += round(m["tokens_per_second/generation"] * m["time/generation"])
    return trained, generated


def sft_budget(sft_dir):
    rows = metrics(os.path.join(sft_dir, "metrics.jsonl"))
    if not rows or any(not isinstance(m.get("completion_tokens"), int) for m in rows):
        raise ReportError("%s/metrics.jsonl has no completion token counts" % sft_dir)
    return sum(m["completion_tokens"] for m in rows), rows[-1]["step"]


def kept_lengths(kept):
    lens = []
    with open(kept) as f:
        for line in f:
            if line.strip():
                lens.append(int(json.loads(line)["completion_tokens"]))
    if not lens:
        raise ReportError("%s holds no samples" % kept)
    return lens


def sft_steps(kept, budget, batch):
    lens = kept_lengths(kept)
    if budget <= 0 or batch <= 0:
        raise ReportError("the budget and the batch must be positive")
    return max(1, round(budget / (batch * statistics.mean(lens))))


def params(model_dir):
    """Parameters of a Llama-family config.json."""
    c = json.load(open(os.path.join(model_dir, "config.json")))
    h, inter, layers, vocab = c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"], c["vocab_size"]
    hd = c.get("head_dim") or h // c["num_attention_heads"]
    q, kv = c["num_attention_heads"] * hd, c["num_key_value_heads"] * hd
    per_layer = h * q + 2 * h * kv + q * h + 3 * h * inter + 2 * h
    return vocab * h * (1 if c.get("tie_word_embeddings") else 2) + layers * per_layer + h


def mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def report(work, batch, seeds):
    j = lambda *p: os.path.join(work, *p)
    times = {}
    for line in open(j("times.tsv")):
        seed, name, secs = line.rstrip("\n").split("\t")
        times[(seed, name)] = float(secs)
    teacher = json.load(open(j("eval_teacher.json")))
    summary = json.load(open(j("sample_summary.json")))
    res = {"teacher": {"source": open(j("teacher.txt")).read().strip(), "pass@1": teacher["pass@1"],
                       "format": teacher["components"]["format"]["mean"], "problems": teacher["problems"]},
           "teacher_sampling": {"problems": summary["problems"], "generated": summary["generated"],
                                "kept": summary["kept"], "generated_tokens": summary["generated_tokens"],
                                "seconds": times.get(("teacher", "sample"))},
           "seeds": {}, "batch": batch}
    tolerance = batch * max(kept_lengths(j("kept.jsonl")))
    res["tolerance_tokens"] = tolerance
    traces = sum(1 for line in open(j("data", "sft.jsonl")) if line.strip())
    if ("teacher", "train") in times:
        res["teacher"]["seconds"] = times[("teacher", "train")]
    problems = teacher["problems"]
    for s in seeds:
        ev = {}
        for arm in ("cold", "rl", "distill"):
            e = json.load(open(j("seed-%s" % s, "eval_%s.json" % arm)))
            if e["problems"] != problems:
                raise ReportError("seed %s: %s was evaluated on %d problems, the teacher on %d" % (
                    s, arm, e["problems"], problems))
            ev[arm] = {"pass@1": e["pass@1"], "format": e["components"]["format"]["mean"],
                       "seconds": times.get((s, arm))}
        trained, generated = rl_budget(j("seed-%s" % s, "rl"))
        d_tokens, d_steps = sft_budget(j("seed-%s" % s, "distill"))
        ev["rl"].update(tokens=trained + generated, tokens_trained=trained, tokens_generated=generated)
        ev["distill"].update(tokens=d_tokens, steps=d_steps)
        ev["budget_difference_tokens"] = d_tokens - (trained + generated)
        ev["budget_difference"] = (d_tokens - (trained + generated)) / (trained + generated)
        res["seeds"][s] = ev
    res["student_params"] = params(j("seed-%s" % seeds[0], "cold"))
    teacher_dir = j("teacher", "grpo") if os.path.isdir(j("teacher", "grpo")) else None
    if teacher_dir is None:
        src = res["teacher"]["source"].split()
        teacher_dir = os.path.join(src[1], "grpo") if len(src) > 1 else None
    res["teacher_params"] = params(teacher_dir) if teacher_dir and os.path.isdir(teacher_dir) else None
    agg = {}
    for arm in ("cold", "rl", "distill"):
        xs = [res["seeds"][s][arm]["pass@1"] for s in seeds]
        fs = [res["seeds"][s][arm]["format"] for s in seeds]
        ts = [res["seeds"][s][arm]["seconds"] for s in seeds if res["seeds"][s][arm]["seconds"] is not None]
        m, sd = mean_std(xs)
        agg[arm] = {"pass@1": {"mean": m, "std": sd}, "format": statistics.mean(fs),
                    "seconds": statistics.mean(ts) if ts else None}
        if arm != "cold":
            agg[arm]["tokens"] = statistics.mean(res["seeds"][s][arm]["tokens"] for s in seeds)
    gains = [res["seeds"][s]["distill"]["pass@1"] - res["seeds"][s]["rl"]["pass@1"] for s in seeds]
    res["aggregate"] = agg
    res["distill_minus_rl"] = dict(zip(("mean", "std"), mean_std(gains)))
    worst = max(abs(res["seeds"][s]["budget_difference_tokens"]) for s in seeds)
    res["budgets_equal"] = worst <= tolerance

    def k(n):
        return "%dk" % round(n / 1000) if n else "?"

    def secs(x):
        return "%.0f" % x if x is not None else "-"

    per_seed = lambda arm: " ".join("%.3f" % res["seeds"][s][arm]["pass@1"] for s in seeds)
    head = "%-53s %7s %16s %-20s %7s %12s %8s" % ("model", "params", "pass@1", "per seed (%s)" % ", ".join(seeds),
                                                 "format", "tokens", "wall s")
    lines = ["Distillation vs RL at equal budget: %d held-out problems, the demo's sampling; %d seed%s" % (
        problems, len(seeds), "s" if len(seeds) > 1 else ""), head]
    t = res["teacher"]
    lines.append("%-53s %7s %16.3f %-20s %7.3f %12s %8s" % (
        "teacher: SFT + GRPO (seed 1)", k(res["teacher_params"]), t["pass@1"], "-", t["format"], "-",
        secs(t.get("seconds")) if "seconds" in t else "reused"))
    for arm, name in (("cold", "student cold start (SFT, %d traces; both start here)" % traces),
                      ("distill", "(a) distillation: SFT on the teacher's traces"),
                      ("rl", "(b) RL: GRPO, the demo's mix and settings")):
        a = agg[arm]
        lines.append("%-53s %7s %8.3f +- %.3f %-20s %7.3f %12s %8s" % (
            name, k(res["student_params"]), a["pass@1"]["mean"], a["pass@1"]["std"], per_seed(arm), a["format"],
            "{:,.0f}".format(a["tokens"]) if "tokens" in a else "not charged", secs(a["seconds"])))
    g = res["distill_minus_rl"]
    lines.append("(a) - (b) in pass@1: %+.1f +- %.1f points (seeds: %s)" % (
        100 * g["mean"], 100 * g["std"], ", ".join("%+.1f" % (100 * x) for x in gains)))
    for s in seeds:
        e = res["seeds"][s]
        lines.append("budget, seed %s: (a) %s tokens in %d SFT steps; (b) %s = %s trained + %s generated (%+.2f%%)" % (
            s, "{:,}".format(e["distill"]["tokens"]), e["distill"]["steps"], "{:,}".format(e["rl"]["tokens"]),
            "{:,}".format(e["rl"]["tokens_trained"]), "{:,}".format(e["rl"]["tokens_generated"]),
            100 * e["budget_difference"]))
    ts = res["teacher_sampling"]
    lines.append("teacher's sampling (charged separately): %d problems x %d = %d completions, %s tokens, %d kept%s" % (
        ts["problems"], ts["generated"] // max(ts["problems"], 1), ts["generated"], "{:,}".format(ts["generated_tokens"]),
        ts["kept"], ", %.0f s" % ts["seconds"] if ts["seconds"] is not None else ""))
    lines.append("teacher: " + t["source"])
    if not res["budgets_equal"]:
        lines.append("BUDGETS DIFFER: by %d tokens at worst, more than one SFT step (%d tokens)" % (worst, tolerance))
    json.dump(res, open(j("results.json"), "w"), indent=1)
    open(j("results.txt"), "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0 if res["budgets_equal"] else 1


def main(argv):
    try:
        if len(argv) == 2 and argv[0] == "budget":
            print(sum(rl_budget(argv[1])))
            return 0
        if len(argv) == 4 and argv[0] == "steps":
            print(sft_steps(argv[1], int(argv[2]), int(argv[3])))
            return 0
        if len(argv) >= 4 and argv[0] == "report":
            return report(argv[1], int(argv[2]), argv[3:])
    except (ReportError, OSError, ValueError, KeyError, TypeError) as e:
        print("report.py: %s" % (e,), file=sys.stderr)
        return 1
    print(__doc__.split("\n\n")[1], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
