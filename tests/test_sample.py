"""test_sample.py -- `rlvr sample`: rejection sampling into SFT data.

- Filters, on crafted completions read in `completions` mode (each row its
  own problem, so nothing else interferes): require (accuracy, format),
  min_reward, drop_truncated, max_paragraph_chars, no_code_in_reasoning
  (fences and <code> inside the reasoning only, pre-filled think included),
  each rejected row carrying every reason it failed.
- Zero, abstain and error: a plugin error rejects as score_error (exit 1),
  an abstaining required plugin as reward_null; neither is ever kept.
- no_mixed_languages reads the lang component; it can be turned off.
- Dedupe "exact" (whitespace-normalised), "answer" (one per final answer
  text, the highest reward kept), "none", per problem; max_per_prompt keeps
  the highest rewards, ties by sample order, written in sample order.
- Hostile input: invalid UTF-8 becomes U+FFFD, a broken line is skipped
  with its number.
- Bad configurations fail before any output, naming the key.
- End to end: a tiny model trained for seconds samples additions; the same
  seed gives the same file whatever generation_chunk; the rows trace their
  source; `rlvr sft` trains on the output.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile

from taplib import ok, is_eq, done, RLVR, SRCDIR, plugin

FIX = os.path.abspath(os.path.join(SRCDIR, "fixtures", "sample"))
EXAMPLES = os.path.abspath(os.path.join(SRCDIR, "..", "examples"))
MIX = os.path.join(FIX, "mix.lua")
work = tempfile.mkdtemp(prefix="rlvr-sample-")


def sample(*args, timeout=120):
    return subprocess.run([RLVR, "sample"] + list(args), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def write(name, rows):
    path = os.path.join(work, name)
    with open(path, "wb") as f:
        for r in rows:
            f.write(r if isinstance(r, bytes) else (json.dumps(r, ensure_ascii=False) + "\n").encode())
    return path


def rows(name):
    path = os.path.join(work, name)
    return [json.loads(l) for l in open(path, encoding="utf-8")] if os.path.exists(path) else []


def filtered(data, *extra, mix=MIX):
    """Runs completions mode on data; returns (process, kept, rejected, summary)."""
    for f in ("k.jsonl", "r.jsonl", "s.json"):
        if os.path.exists(os.path.join(work, f)):
            os.unlink(os.path.join(work, f))
    p = sample("--completions=" + write("in.jsonl", data), "--mix=" + mix, "--output=k.jsonl",
               "--rejected_out=r.jsonl", "--summary=s.json", *extra)
    s = json.load(open(os.path.join(work, "s.json"))) if os.path.exists(os.path.join(work, "s.json")) else {}
    return p, rows("k.jsonl"), rows("r.jsonl"), s


GOOD = "<think>one plus one is two</think><answer>\\boxed{2}</answer>"
LONG = "x " * 150  # 300 characters on one line

# -- filters, table-driven ----------------------------------------------------------------------
# (id, completion, extra fields, the reasons expected; [] is kept)
CASES = [
    ("good", GOOD, {}, []),
    ("wrong", "<think>one plus one is three</think><answer>\\boxed{3}</answer>", {}, ["require:accuracy"]),
    ("no_format", "\\boxed{2}", {}, ["require:format"]),
    ("no_answer", "I do not know", {}, ["require:accuracy", "require:format"]),
    ("truncated", GOOD, {"finish_reason": "length"}, ["truncated"]),
    ("long_para", "<think>" + LONG + "</think><answer>\\boxed{2}</answer>", {}, ["overlong_paragraph"]),
    ("short_paras", "<think>" + ("y " * 90) + "\n\n" + ("z " * 90) + "\n \t\n" + ("w " * 80) +
     "</think><answer>\\boxed{2}</answer>", {}, []),
    ("long_across_lines", "<think>" + ("v " * 60 + "\n") * 3 + "</think><answer>\\boxed{2}</answer>", {},
     ["overlong_paragraph"]),
    ("wide_chars", "<think>" + "二" * 150 + "</think><answer>\\boxed{2}</answer>", {}, []),
    ("fence", "<think>let me check\n```python\nprint(1+1)\n```\nso two</think><answer>\\boxed{2}</answer>", {},
     ["code_in_reasoning"]),
    ("tilde_fence", "<think>check\n   ~~~\n1+1\n~~~\n</think><answer>\\boxed{2}</answer>", {}, ["code_in_reasoning"]),
    ("code_tag", "<think>we run <Code class=\"py\">1+1</Code> and get two</think><answer>\\boxed{2}</answer>", {},
     ["code_in_reasoning"]),
    ("fence_in_answer", "<think>one and one make two</think><answer>\\boxed{2}\n```\n2\n```</answer>", {}, []),
    ("midline_ticks", "<think>the sum ``` is two</think><answer>\\boxed{2}</answer>", {}, []),
    ("indented_4", "<think>check\n    ```\n1+1\n</think><answer>\\boxed{2}</answer>", {}, []),
    ("codebook", "<think>a <codebook> is not code</think><answer>\\boxed{2}</answer>", {}, []),
    ("prefilled_code", "we compute\n```\n1+1\n```\n</think><answer>\\boxed{2}</answer>", {},
     ["code_in_reasoning", "require:format"]),
    ("everything", "```\n" + LONG + "\n```", {"finish_reason": "length"},
     ["require:accuracy", "require:format", "truncated", "overlong_paragraph", "code_in_reasoning"]),
]
data = [dict({"id": i, "group": i, "prompt": "1+1=", "answer": "2", "completion": c}, **x) for i, c, x, _ in CASES]
p, kept, rej, s = filtered(data, "--require={\"accuracy\": 1, \"format\": 1}", "--max_paragraph_chars=200")
ok(p.returncode == 0, "completions mode runs", p.stderr)
want_kept = [i for i, _, _, r in CASES if not r]
is_eq([k["id"] for k in kept], want_kept, "exactly the clean completions are kept")
got = {r["id"]: sorted(r["reasons"]) for r in rej}
for i, _, _, reasons in CASES:
    if reasons:
        is_eq(got.get(i), sorted(reasons), "%s: rejected for %s" % (i, ", ".join(reasons)))
ok(all("result" in r and "components" in r["result"] for r in rej), "rejected rows carry the scoring result")
is_eq((s["problems"], s["generated"], s["kept"], s["rejected"]), (len(CASES), len(CASES), len(want_kept),
                                                                   len(CASES) - len(want_kept)), "summary counts")
want_counts = {}
for _, _, _, reasons in CASES:
    for r in reasons:
        want_counts[r] = want_counts.get(r, 0) + 1
ok(all(s["rejections"].get(k, 0) == v for k, v in want_counts.items()), "rejections per reason",
   (s["rejections"], want_counts))
is_eq(s["kept_per_problem"]["problems_with_none"], len(CASES) - len(want_kept), "problems with none kept")
n_acc = sum(1 for _, _, _, r in CASES if "require:accuracy" not in r)
ok(abs(s["components"]["accuracy"]["pass_rate"] - n_acc / len(CASES)) < 1e-12, "pass rate per component")
k0 = kept[0]
ok(k0["prompt"] == "1+1=" and k0["answer"] == "2" and k0["completion"] == GOOD and abs(k0["reward"] - 1.2) < 1e-12,
   "a kept row: prompt, answer, completion, reward", k0)
ok(k0["source"]["sample"] == 0 and k0["source"]["line"] == 1 and k0["source"]["completions"].endswith("in.jsonl"),
   "a kept row traces its input line", k0)

# min_reward on the total; require defaults to nothing; drop_truncated can be turned off
p, kept, rej, s = filtered(data, "--min_reward=1.1", "--no_code_in_reasoning=false", "--drop_truncated=false")
ok(p.returncode == 0, "min_reward run", p.stderr)
want = {i for i, c, x, _ in CASES if "```" not in c or i in ("fence", "tilde_fence", "prefilled_code", "fence_in_answer")}
kept_ids = {k["id"] for k in kept}
ok({"good", "truncated", "fence", "code_tag", "long_para"} <= kept_ids, "filters off: code, truncation, paragraphs pass",
   sorted(kept_ids))
ok(not {"wrong", "no_format", "prefilled_code"} & kept_ids, "min_reward 1.1 rejects a reward of 1.0 or less",
   sorted(kept_ids))
is_eq({r["id"]: r["reasons"] for r in rej}["no_format"], ["min_reward"], "the reason is min_reward")

# -- zero, abstain, error ------------------------------------------------------------------------------
mb_mix = os.path.join(work, "mb_mix.lua")
open(mb_mix, "w").write('return mix { plugin("%s", { name = "mb" }), plugin("format", { weight = 0.2 }) }\n'
                        % plugin("misbehave"))
data = [{"id": i, "group": i, "prompt": "p", "completion": c} for i, c in
        (("err", "error"), ("abs", "abstain"), ("nan", "nan"), ("fine", "fine"))]
p, kept, rej, s = filtered(data, mix=mb_mix)
is_eq(p.returncode, 1, "a plugin error makes the exit status 1")
is_eq([k["id"] for k in kept], ["fine"], "only the scored sample is kept")
got = {r["id"]: r["reasons"] for r in rej}
is_eq(got.get("err"), ["score_error"], "a plugin error rejects as score_error")
is_eq(got.get("nan"), ["score_error"], "a non-finite score rejects as score_error")
is_eq(got.get("abs"), ["reward_null"], "a required plugin's abstain rejects as reward_null")
ok(all(r["reward"] is None for r in rej), "rejected rows keep the null reward, never 0", rej)
is_eq((s["rejections"]["score_error"], s["rejections"]["reward_null"]), (2, 1), "counted in the summary")
ok(s["components"]["mb"]["error_rate"] == 0.5 and s["components"]["mb"]["abstain_rate"] == 0.25,
   "error and abstain rates per component", s["components"])

# -- no_mixed_languages ------------------------------------------------------------------------------
zh_ok = "<think>我们需要计算这个函数的导数。</think><answer>\\boxed{2}</answer>"
zh_mixed = "<think>我们需要计算这个函数的导数，然后 we need to check the derivative again。</think><answer>\\boxed{2}</answer>"
data = [{"id": i, "group": i, "prompt": "计算", "answer": "2", "language": "zh", "completion": c}
        for i, c in (("consistent", zh_ok), ("mixed", zh_mixed), ("empty_think", "<think>2</think><answer>\\boxed{2}</answer>"))]
lang_mix = os.path.join(FIX, "lang_mix.lua")
p, kept, rej, s = filtered(data, mix=lang_mix)
ok(p.returncode == 0, "lang mix runs", p.stderr)
is_eq(sorted(k["id"] for k in kept), ["consistent", "empty_think"],
      "a consistent CoT passes; nothing countable (lang abstains) is no evidence of mixing")
is_eq({r["id"]: r["reasons"] for r in rej}.get("mixed"), ["mixed_languages"], "a mixed CoT rejects as mixed_languages")
is_eq(s["filters"]["no_mixed_languages"], "lang", "the summary names the component read")
p, kept, rej, s = filtered(data, "--no_mixed_languages=false", mix=lang_mix)
is_eq(len(kept), 3, "no_mixed_languages = false keeps it")
p, kept, rej, s = filtered(data)
ok(p.returncode == 0 and "no 'lang' component" in p.stderr and s["filters"]["no_mixed_languages"] is False,
   "a mix without lang: the run says the filter checks nothing", p.stderr)

# -- dedupe and max_per_prompt -------------------------------------------------------------------------
A = "<think>one plus one</think><answer>\\boxed{2}</answer>"
A2 = "  <think>one  plus\none</think><answer>\\boxed{2}</answer>\n"
B = "\\boxed{2}"                                          # same answer, reward 1.0 (no format)
C = "<think>two</think><answer>\\boxed{ 2 }</answer>"      # same answer text after trimming, reward 1.2
D = "<think>one and one</think><answer>\\boxed{2.0}</answer>"  # equivalent, but another text
data = [{"id": "q%d" % i, "prompt": "1+1=", "answer": "2", "completion": c} for i, c in enumerate([B, A, A2, C, D])]
data += [{"id": "r0", "prompt": "2+0=", "answer": "2", "completion": A}]  # another problem, same text
p, kept, rej, s = filtered(data)
is_eq([k["id"] for k in kept], ["q0", "q1", "q3", "q4", "r0"], "exact: whitespace-normalised duplicates go, per problem")
is_eq({r["id"]: r["reasons"] for r in rej}, {"q2": ["duplicate"]}, "the later of equal rewards is the duplicate")
p, kept, rej, s = filtered(data, "--dedupe=answer")
is_eq([k["id"] for k in kept], ["q1", "q4", "r0"], "answer: one per final answer text, the highest reward first")
is_eq(sorted(r["id"] for r in rej), ["q0", "q2", "q3"], "the rest are duplicates")
p, kept, rej, s = filtered(data, "--dedupe=none")
is_eq(len(kept), 6, "none keeps every copy")
p, kept, rej, s = filtered(data, "--dedupe=none", "--max_per_prompt=2")
is_eq([k["id"] for k in kept], ["q1", "q2", "r0"], "max_per_prompt: highest rewards, ties by order, in sample order")
is_eq(s["rejections"]["max_per_prompt"], 3, "max_per_prompt counted")
ok(abs(s["kept_per_problem"]["mean"] - 1.5) < 1e-12, "kept per problem (mean)")
p, kept, rej, s = filtered(data, "--max_per_prompt=1", "--dedupe=exact")
is_eq([k["id"] for k in kept], ["q1", "r0"], "dedupe, then the cap")

# -- hostile input ----------------------------------------------------------------------------------------
bad_utf8 = b'{"id": "u", "prompt": "1+1=", "answer": "2", "completion": "<think>bad \xff\xfe bytes</think><answer>\\\\boxed{2}</answer>"}\n'
data = [bad_utf8, b"this is not json\n", b'{"id": "nocomp", "prompt": "x"}\n', b"\n",
        (json.dumps({"id": "z", "prompt": "1+1=", "answer": "2", "completion": GOOD}) + "\n").encode()]
p, kept, rej, s = filtered(data)
is_eq(p.returncode, 1, "skipped lines make the exit status 1")
ok(":2: skipped" in p.stderr and ":3: skipped" in p.stderr, "each bad line is reported with its number", p.stderr)
is_eq([k["id"] for k in kept], ["u", "z"], "the good lines are scored and kept")
ok(kept and "\ufffd\ufffd" in kept[0]["completion"], "invalid UTF-8 is written as U+FFFD", kept[:1])
is_eq(s["skipped_lines"], 2, "skipped lines counted")

# -- bad configurations --------------------------------------------------------------------------------------
comps = write("good.jsonl", [{"id": "g", "prompt": "1+1=", "answer": "2", "completion": GOOD}])
base = ["--completions=" + comps, "--mix=" + MIX, "--output=never.jsonl"]
BAD = [
    (["--completions=" + comps, "--output=never.jsonl"], "'mix'"),
    (["--completions=" + comps, "--mix=" + MIX], "'output'"),
    (base + ["--model=somewhere"], "'completions'"),
    (["--mix=" + MIX, "--output=never.jsonl", "--model_init=tiny"], "'data'"),
    (base + ["--dedupe=fuzzy"], "'dedupe'"),
    (base + ["--require={\"accuracy\": \"high\"}"], "'require'"),
    (base + ["--require={\"correctness\": 1}"], "'correctness'"),
    (base + ["--require=1"], "'require'"),
    (base + ["--num_generations=0"], "'num_generations'"),
    (base + ["--max_per_prompt=-1"], "'max_per_prompt'"),
    (base + ["--max_paragraph_chars=-5"], "'max_paragraph_chars'"),
    (base + ["--lang_component=language"], "'lang_component'"),
    (base + ["--output_prompt=chat"], "'output_prompt'"),
    (base + ["--rejected_out=never.jsonl"], "'rejected_out'"),
    (base + ["--num_samples=4"], "num_samples"),
    (base + ["--drop_truncated=maybe"], "drop_truncated"),
    (base + ["--chat_template=llama"], "'chat_template'"),
]
for args, key in BAD:
    p = sample(*args)
    ok(p.returncode == 2 and key in p.stderr and not os.path.exists(os.path.join(work, "never.jsonl")),
       "refused before any work, naming %s" % key, p.stderr)

# -- end to end: generate, filter, sft ---------------------------------------------------------------------
sft = subprocess.run([RLVR, "sft", os.path.join(EXAMPLES, "sft_tiny.lua"), "--output_dir=model", "--max_steps=150",
                      "--progress=false"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                     timeout=300)
ok(sft.returncode == 0, "a tiny model to sample from", sft.stderr[-500:])
cfg = os.path.join(FIX, "sample_tiny.lua")
p = sample(cfg, "--model=model", "--output=a.jsonl", "--rejected_out=ar.jsonl", "--summary=as.json")
ok(p.returncode == 0, "rlvr sample with a policy", p.stderr[-800:])
a, ar, sa = rows("a.jsonl"), rows("ar.jsonl"), json.load(open(os.path.join(work, "as.json")))
is_eq((sa["problems"], sa["generated"]), (8, 32), "8 problems x 4 generations")
is_eq(len(a) + len(ar), 32, "every sample is kept or rejected")
is_eq(sa["kept"], len(a), "the summary counts the kept rows")
ok(sa["generated_tokens"] > 0 and sa["tokens_per_second"] > 0, "tokens/s in the summary", sa)
ok("tokens/s" in p.stderr and "kept" in p.stderr, "a readable summary on stderr", p.stderr)
ok(len(a) > 0, "some samples are kept", p.stderr[-800:])
ok(all(r["finish_reason"] == "stop" for r in a), "truncated completions are not kept")
ok(all(re.fullmatch(r"<think>[^<]*</think><answer>[^<]*</answer>", r["completion"]) for r in a),
   "require = { format = 1 }: every kept completion is well formed", [r["completion"] for r in a][:4])
seen = [(r["id"], " ".join(r["completion"].split())) for r in a]
is_eq(len(seen), len(set(seen)), "no two kept completions of a problem are the same text")
ok(all("truncated" in r["reasons"] for r in ar if r["finish_reason"] == "length"), "and say why")
src = [r["source"] for r in a + ar]
ok(all(s_["model"] == "model" and s_["step"] == 150 and s_["seed"] == 5 and 0 <= s_["sample"] < 4 for s_ in src),
   "rows trace model, step (the finished run's 150), seed and sample", src[:2])
ok(all("completion" in r and "prompt" in r and r["id"].startswith("add") and "answer" in r for r in a), "rows carry the problem's fields", a[:1])
p_ck = sample(cfg, "--model=model/checkpoint-128", "--output=ck.jsonl", "--rejected_out=ckr.jsonl")
src_ck = [r["source"] for r in rows("ck.jsonl") + rows("ckr.jsonl")]
ok(p_ck.returncode == 0 and src_ck and all(s_["model"] == "model/checkpoint-128" and s_["step"] == 128 for s_ in src_ck),
   "source.step: a checkpoint's global_step (128)", (p_ck.stderr[-400:], src_ck[:1]))
p2 = sample(cfg, "--model=model", "--output=b.jsonl", "--generation_chunk=5")
ok(p2.returncode == 0 and open(os.path.join(work, "a.jsonl")).read() == open(os.path.join(work, "b.jsonl")).read(),
   "deterministic for a seed, whatever generation_chunk")
p3 = sample(cfg, "--model=model", "--output=c.jsonl", "--seed=6", "--rejected_out=cr.jsonl")
ok(p3.returncode == 0 and rows("c.jsonl") + rows("cr.jsonl") != a + ar, "another seed, other samples")
p4 = sample(cfg, "--model=model", "--output=t.jsonl", "--prompt_template=Q: {prompt}", "--drop_truncated=false",
            "--max_problems=2")
p5 = sample(cfg, "--model=model", "--output=u.jsonl", "--prompt_template=Q: {prompt}", "--drop_truncated=false",
            "--max_problems=2", "--output_prompt=raw")
t, u = rows("t.jsonl"), rows("u.jsonl")
ok(t and all(r["prompt"].startswith("Q: ") for r in t), "output_prompt templated: the prompt as the model saw it", t[:1])
ok(u and not any(r["prompt"].startswith("Q: ") for r in u), "output_prompt raw: the problem's own prompt", u[:1])
train = a
with open(os.path.join(work, "train.jsonl"), "w") as f:
    for r in train:
        f.write(json.dumps(r) + "\n")
open(os.path.join(work, "student.lua"), "w").write(
    'return { model = "model", data = "train.jsonl", output_dir = "student", max_steps = 2,\n'
    '         per_device_train_batch_size = 4, logging_steps = 1, progress = false, max_length = 64 }\n')
sft2 = subprocess.run([RLVR, "sft", "student.lua"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                      timeout=300)
ok(sft2.returncode == 0, "rlvr sft trains on the output", sft2.stderr[-800:])
m = [json.loads(l) for l in open(os.path.join(work, "student", "metrics.jsonl"))] if sft2.returncode == 0 else []
ok(m and all(x["completion_tokens"] > 0 for x in m), "on the kept completions' tokens", m[:1])

shutil.rmtree(work, ignore_errors=True)
done()
