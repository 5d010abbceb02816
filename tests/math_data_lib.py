"""math_data_lib.py -- shared helpers of the math verifier's data tests
(test_math_data*.py) and its benchmark.

score(rows) sends every row to ONE `rlvr score --plugin math` process (the
plugin with its default configuration) and returns, per row in input order,
a Verdict: the component (1.0, 0.0 or None for abstain/error), the reason
and the whole details object. Nothing here decides a test's outcome; the
tests compare verdicts with their expectations and print what failed.

Invariants: rows are sent as JSONL with `id`, `completion` and `answer`
(and `prompt` when the row has one); results are matched back by id, and a missing or unparsable result is
reported as a verdict with reason "missing_result" (never silently dropped).
"""
import json
import os
import subprocess
import sys

RLVR = os.environ.get("RLVR", "rlvr")


def shared_math_dir():
    """$RLVR_SHARED_DATA/math, or None when the shared data is not here."""
    root = os.environ.get("RLVR_SHARED_DATA", "")
    if not root:
        return None
    d = os.path.join(root, "math")
    return d if os.path.isdir(d) else None


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class Verdict:
    __slots__ = ("component", "reason", "details", "raw")

    def __init__(self, component, reason, details, raw):
        self.component = component
        self.reason = reason
        self.details = details
        self.raw = raw

    @property
    def equal(self):
        return self.component == 1.0

    @property
    def abstained(self):
        return self.component is None

    def brief(self):
        """One line on what the verifier saw: reason, rule, extracted forms."""
        d = self.details or {}
        keep = []
        for k in ("reason", "rule", "pred_source", "gold_source", "pred_extracted", "gold_extracted",
                  "pred_normalised", "gold_normalised", "extracted", "message"):
            if k in d and d[k] not in ("", None):
                keep.append("%s=%s" % (k, json.dumps(d[k], ensure_ascii=False)[:160]))
        if not keep:
            keep.append("raw=" + json.dumps(self.raw, ensure_ascii=False)[:300])
        return " ".join(keep)


def score(rows, threads=None, extra_args=(), timeout=600, plugin="math"):
    """rows: list of (completion, answer) or (completion, answer, prompt).
    Returns (verdicts, rc, stderr)."""
    lines = []
    for i, row in enumerate(rows):
        sample = {"id": i, "completion": row[0], "answer": row[1]}
        if len(row) > 2 and row[2] is not None:
            sample["prompt"] = row[2]
        lines.append(json.dumps(sample, ensure_ascii=False))
    data = ("\n".join(lines) + "\n").encode("utf-8")
    args = [RLVR, "score", "--plugin", plugin, "--quiet"]
    if threads:
        args += ["--threads", str(threads)]
    args += list(extra_args)
    p = subprocess.run(args, input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=timeout)
    by_id = {}
    for line in p.stdout.decode("utf-8", "replace").splitlines():
        try:
            o = json.loads(line)
        except ValueError:
            continue
        if isinstance(o, dict) and isinstance(o.get("id"), int):
            by_id[o["id"]] = o
    out = []
    for i in range(len(rows)):
        o = by_id.get(i)
        if o is None:
            out.append(Verdict(None, "missing_result", {}, None))
            continue
        comp = (o.get("components") or {}).get(plugin)
        det = (o.get("details") or {}).get(plugin) or {}
        reason = det.get("reason") or (o.get("error") or {}).get("message") or "?"
        out.append(Verdict(comp, reason, det, o))
    return out, p.returncode, p.stderr.decode("utf-8", "replace")


def diag(lines, limit=60):
    """Print lines as TAP comments (at most limit, then a count)."""
    for s in lines[:limit]:
        print("#   " + s.replace("\n", "\\n"))
    if len(lines) > limit:
        print("#   ... and %d more" % (len(lines) - limit))
    sys.stdout.flush()


def short(s, n=90):
    s = s.replace("\n", "\\n")
    return s if len(s) <= n else s[:n - 3] + "..."
