"""test_policy_cmds.py -- `rlvr sft` and `rlvr generate` end to end, on the
tiny byte-level model and the bundled addition data (examples/).

sft: trains from scratch and the loss falls; metrics.jsonl and checkpoints
are written; a run resumed from a checkpoint ends bit-identical to one that
never stopped; Ctrl-C saves a checkpoint that --resume continues from;
unknown keys and bad data lines are reported by name and line.
generate: samples carry the input's fields, G per prompt with their group;
the same seed gives the same samples; stop strings cut the text; a bad line
is reported and the others still run; the output scores with `rlvr score`.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

from taplib import ok, is_eq, done, run_raw, same_file, RLVR, SRCDIR

EXAMPLES = os.path.abspath(os.path.join(SRCDIR, "..", "examples"))  # sft runs in a temp dir
CONFIG = os.path.join(EXAMPLES, "sft_tiny.lua")
work = tempfile.mkdtemp(prefix="rlvr-sft-")


def sft(*args, cwd=work, timeout=300):
    return subprocess.run([RLVR, "sft"] + list(args), cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout)


def read_metrics(d):
    try:
        with open(os.path.join(d, "metrics.jsonl")) as f:
            return [json.loads(l) for l in f]
    except OSError:
        return [{"step": 0, "loss": 0}]



try:
    # ---- training from scratch
    p = sft(CONFIG, "--output_dir=a", "--num_train_epochs=4", "--save_steps=16", "--logging_steps=8")
    ok(p.returncode == 0, "sft of the tiny model runs", p.stderr)
    m = read_metrics(os.path.join(work, "a"))
    ok(len(m) == 8 and m[-1]["step"] == 64, "metrics.jsonl: a line every 8 steps (%d lines)" % len(m), m[-1:])
    ok(m[-1]["loss"] < 0.6 * m[0]["loss"], "the loss falls: %.3f -> %.3f" % (m[0]["loss"], m[-1]["loss"]))
    ok(all(k in m[0] for k in ("grad_norm", "learning_rate", "tokens_per_second", "epoch")),
       "metrics carry grad_norm, learning_rate, tokens/s, epoch", m[0])
    for f in ("config.json", "model.safetensors", "rlvr.json", "checkpoint-16/optimizer.bin",
              "checkpoint-48/trainer_state.json", "checkpoint-64/model.safetensors"):
        ok(os.path.exists(os.path.join(work, "a", f)), "a/%s written" % f)
    with open(os.path.join(work, "a", "config.json")) as f:
        cfg = json.load(f)
    ok(cfg.get("model_type") == "qwen2" and cfg.get("hidden_size") == 64, "config.json in Hugging Face's form", cfg)

    # ---- exact resume: checkpoint-32 of run a, continued, ends where a ended
    os.makedirs(os.path.join(work, "b"))
    shutil.copytree(os.path.join(work, "a", "checkpoint-32"), os.path.join(work, "b", "checkpoint-32"))
    p = sft(CONFIG, "--output_dir=b", "--num_train_epochs=4", "--save_steps=16", "--logging_steps=8", "--resume")
    ok(p.returncode == 0 and "resumed" in p.stderr, "resume from checkpoint-32", p.stderr)
    ok(same_file(os.path.join(work, "a", "model.safetensors"), os.path.join(work, "b", "model.safetensors")),
       "the resumed run ends bit-identical to the uninterrupted one")

    # ---- Ctrl-C saves, --resume finishes
    proc = subprocess.Popen([RLVR, "sft", CONFIG, "--output_dir=c", "--num_train_epochs=400", "--save_steps=0",
                             "--logging_steps=1"], cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    metrics = os.path.join(work, "c", "metrics.jsonl")
    deadline = time.time() + 60
    while time.time() < deadline and not (os.path.exists(metrics) and os.path.getsize(metrics) > 0):
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    cks = [d for d in os.listdir(os.path.join(work, "c")) if d.startswith("checkpoint-")]
    ok(proc.returncode == 130 and len(cks) == 1 and "interrupted" in err,
       "Ctrl-C: exit 130 and one checkpoint (%s)" % cks, err)
    p = sft(CONFIG, "--output_dir=c", "--num_train_epochs=400", "--max_steps=%d" % (int(cks[0][11:]) + 2),
            "--save_steps=0", "--resume") if cks else None
    ok(p is not None and p.returncode == 0 and os.path.exists(os.path.join(work, "c", "model.safetensors")),
       "--resume after Ctrl-C finishes", p.stderr if p else "")

    # ---- refusals and bad data
    p = sft(CONFIG, "--output_dir=d", "--learning_rat=0.1")
    ok(p.returncode == 2 and "unknown key 'learning_rat'" in p.stderr, "an unknown key is refused by name", p.stderr)
    p = sft(CONFIG, "--output_dir=d", "--max_length=1.5")
    ok(p.returncode == 2 and "'max_length' must be an integer" in p.stderr, "a key of the wrong type", p.stderr)
    bad = os.path.join(work, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"prompt": "1+1=", "completion": "2"}\nnot json\n{"prompt": "2+2="}\n'
                '{"prompt": "3+3=", "completion": "6"}\n')
    p = sft(CONFIG, "--output_dir=e", "--data=bad.jsonl", "--max_steps=2")
    ok(p.returncode == 1 and "bad.jsonl:2: skipped: not a JSON object" in p.stderr and
       'bad.jsonl:3: skipped: field "completion"' in p.stderr and "2 examples (2 skipped)" in p.stderr,
       "bad lines are skipped with file and line; training goes on; exit 1", p.stderr)
    p = sft(CONFIG, "--output_dir=f", "--model=nowhere")
    ok(p.returncode == 2 and "exactly one of 'model'" in p.stderr, "model and model_init together refused",
       p.stderr)

    # ---- generate
    model = os.path.join(work, "a")
    prompts = os.path.join(work, "prompts.jsonl")
    with open(prompts, "w") as f:
        f.write('{"id": "p1", "prompt": "12+7=", "answer": "19"}\n{"prompt": "30+15=", "answer": "45"}\n'
                'not json\n')
    args = ["generate", "--model", model, "--in", prompts, "-n", "3", "--max-tokens", "30", "--seed", "5",
            "--temperature", "0.7"]
    g1 = run_raw(args)
    g2 = run_raw(args)
    lines = [json.loads(l) for l in g1.stdout.decode().splitlines()]
    ok(g1.returncode == 1 and b"prompts.jsonl:3: not a JSON object" in g1.stderr and len(lines) == 6,
       "6 samples from 2 good prompts; the bad line reported; exit 1", g1.stderr.decode())
    ok(lines[0]["id"] == "p1" and lines[0]["answer"] == "19" and lines[0]["group"] == "p1" and
       lines[3]["group"] == "2" and [l["sample"] for l in lines] == [0, 1, 2, 0, 1, 2],
       "fields carried; group is the id or the line; samples numbered", lines[0])
    ok(all(l["finish_reason"] in ("stop", "length") and l["completion_tokens"] > 0 for l in lines),
       "finish_reason and completion_tokens on every sample")
    ok(g1.stdout == g2.stdout, "the same seed gives the same samples")
    g3 = run_raw(["generate", "--model", model, "--prompt", "12+7=", "--temperature", "0", "--max-tokens", "30",
                  "--stop", "</think>"])
    s = json.loads(g3.stdout.decode().splitlines()[0])
    ok(g3.returncode == 0 and s["finish_reason"] == "stop" and s["completion"].startswith("<think>") and
       "</think>" not in s["completion"], "a stop string ends and cuts the completion", s)
    score = subprocess.run([RLVR, "score", "--plugin", "exact_match"], input=g1.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
    res = [json.loads(l) for l in score.stdout.decode().splitlines()]
    ok(score.returncode == 0 and len(res) == 6 and all("reward" in r for r in res),
       "rlvr score reads what rlvr generate writes", score.stderr.decode())
    # an untrained model writes random bytes, many not UTF-8: every line is
    # still strict UTF-8 JSON (U+FFFD in their place) that rlvr score reads
    raw = sft(CONFIG, "--output_dir=raw", "--max_steps=1")
    g5 = run_raw(["generate", "--model", os.path.join(work, "raw"), "--prompt", "x", "-n", "16", "--max-tokens",
                  "40", "--seed", "3"])
    try:
        texts = [json.loads(l)["completion"] for l in g5.stdout.decode("utf-8", "strict").splitlines()]
    except (UnicodeDecodeError, ValueError) as e:
        texts = []
        print("# " + str(e))
    ok(raw.returncode == 0 and len(texts) == 16 and any("\ufffd" in t for t in texts),
       "bytes that are not UTF-8 come out as U+FFFD in valid JSON")
    score = subprocess.run([RLVR, "score", "--plugin", "exact_match"], input=g5.stdout, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, timeout=60)
    ok(score.returncode == 0, "and rlvr score reads them without errors", score.stderr.decode()[-300:])
    g4 = run_raw(["generate", "--model", os.path.join(work, "nowhere"), "--prompt", "x"])
    ok(g4.returncode == 2 and b"nowhere" in g4.stderr, "a missing model folder is named", g4.stderr.decode())

    # the command line the config-driven commands share (rlvr_run_args_start)
    for cmd in ("sft", "train", "eval", "sample"):
        u = "usage: rlvr %s " % cmd
        p = run_raw([cmd, "--bogus"])
        err = p.stderr.decode()
        ok(p.returncode == 2 and err.startswith("rlvr %s: unexpected argument '--bogus'\n" % cmd) and u in err and
           not p.stdout, "%s: a stray argument is named, the usage on stderr, status 2" % cmd, err[:300])
        p = run_raw([cmd, "--help"])
        ok(p.returncode == 0 and p.stdout.decode().startswith(u) and not p.stderr,
           "%s --help: the usage on stdout, status 0" % cmd, (p.stdout[:200], p.stderr[:200]))
        resume = run_raw([cmd, "x.lua", "--resume"])
        if cmd in ("sft", "train"):
            p = run_raw([cmd])
            ok(p.returncode == 2 and p.stderr.decode().startswith(u), "%s without CONFIG.lua: the usage, status 2" % cmd,
               p.stderr[:300])
            ok(b"unexpected argument" not in resume.stderr, "%s takes --resume" % cmd, resume.stderr[:300])
        else:
            ok(resume.returncode == 2 and b"unexpected argument '--resume'" in resume.stderr,
               "%s has no --resume" % cmd, resume.stderr[:300])
finally:
    shutil.rmtree(work, ignore_errors=True)
done()
