"""test_serve_clients.py -- the trainers' clients of clients/ against
running `rlvr serve` instances: verl's compute_score (per sample and per
batch), OpenRLHF's reward file, TRL's reward function (plain and
conversational), each given two servers in its URL list (both must get
work, and the answers must equal one server's); a dead server in the list
is skipped; a full queue is waited out (503 + Retry-After). Then the
in-process module: ctypes over librlvr_score, results byte for byte as
`rlvr score`, and its TRL reward function."""
import json
import os
import re
import sys
import threading

from taplib import ok, is_eq, done, run_raw, skip_all
from serve_lib import Server, mix_path, fixture

sys.path.insert(0, os.path.join(os.environ.get("srcdir", "."), "..", "clients"))
import rlvr_client  # noqa: E402
import verl_rlvr  # noqa: E402
import openrlhf_rlvr  # noqa: E402
import trl_rlvr  # noqa: E402

R1 = mix_path("r1_mix.lua")
a = Server(["--mix", R1, "--threads", "2"])
b = Server(["--mix", R1, "--threads", "2"])
urls = a.url + "," + b.url


def right(i):
    return "<think>t</think><answer>\\boxed{%d}</answer>" % (2 * i)


def wrong(i):
    return "<think>t</think><answer>\\boxed{%d}</answer>" % (2 * i + 1)


# -- the default address ------------------------------------------------------------
# rlvr serve and the client agree on it, and it is not 8000, vLLM's default
# port, where a judge or reward model usually listens beside rlvr serve.
h = run_raw(["serve", "--help"])
help_text = (h.stdout + h.stderr).decode("utf-8", "replace")
m = re.search(r"--listen HOST:PORT\s+where to listen \(default ([0-9.]+:[0-9]+)", help_text)
ok(m is not None, "rlvr serve --help names its default address", help_text[:600])
is_eq("http://" + (m.group(1) if m else "?"), rlvr_client.DEFAULT_URL, "the client's default URL is rlvr serve's")
ok(m is not None and not m.group(1).endswith(":8000"), "not vLLM's port 8000", m and m.group(1))

# -- shards -----------------------------------------------------------------------
is_eq(rlvr_client.shard_bounds(10, 3), [(0, 3), (3, 6), (6, 10)], "shards: contiguous, near-equal")
groups = [0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
is_eq(rlvr_client.shard_bounds(10, 2, lambda i: groups[i]), [(0, 6), (6, 10)], "shards: a cut moves to a group's end")
is_eq(rlvr_client.shard_bounds(2, 5), [(0, 1), (1, 2)], "shards: never more than samples")
is_eq(rlvr_client.shard_bounds(3, 2, lambda i: 7), [(0, 3)], "shards: one group is one shard")

# -- verl ---------------------------------------------------------------------------
r = verl_rlvr.compute_score("math", right(3), "6", extra_info={"split": "train"}, urls=urls)
is_eq(r, {"score": 1.2, "accuracy": 1.0, "format": 1.0}, "verl compute_score: the reward and each component")
r = verl_rlvr.compute_score("math", right(3), None, urls=urls, abstain_value=-1)
is_eq(r, {"score": -1.0, "accuracy": -1.0, "format": 1.0}, "verl compute_score: a null reward is abstain_value")
n = 40
rs = verl_rlvr.compute_score_batch(["math"] * n, [right(i) if i % 4 else wrong(i) for i in range(n)],
                                   [str(2 * i) for i in range(n)], None, urls=urls)
is_eq([x["score"] for x in rs], [1.2 if i % 4 else 0.2 for i in range(n)], "verl compute_score_batch: 40 samples in order")
sa, sb = a.metric('rlvr_samples_total{endpoint="/score"}'), b.metric('rlvr_samples_total{endpoint="/score"}')
ok(sa >= 20 and sb >= 20, "the batch was shared by both servers (%d and %d samples)" % (sa, sb))

# -- OpenRLHF ------------------------------------------------------------------------
os.environ["RLVR_SERVE_URL"] = urls
P = "<|im_start|>user\nQ%d<|im_end|>\n<|im_start|>assistant\n"
queries = [P % (i // 4) + (right(i // 4) if i % 2 else wrong(i // 4)) + "<|im_end|>" for i in range(16)]
prompts = [P % (i // 4) for i in range(16)]
labels = [str(2 * (i // 4)) for i in range(16)]
out = openrlhf_rlvr.reward_func(queries, prompts, labels)
rew = out["rewards"].tolist() if hasattr(out["rewards"], "tolist") else out["rewards"]
is_eq([round(x, 6) for x in rew], [1.2 if i % 2 else 0.2 for i in range(16)], "OpenRLHF reward_func: rewards over two servers")
sc = out["scores"].tolist() if hasattr(out["scores"], "tolist") else out["scores"]
is_eq(sc, [1.0 if i % 2 else 0.0 for i in range(16)], "OpenRLHF reward_func: scores (accuracy)")
ok(set(out["extra_logs"]) == {"accuracy", "format", "rlvr_abstain_substituted", "rlvr_sample_error"}
   and all(len(v) == 16 for v in out["extra_logs"].values()), "OpenRLHF reward_func: extra_logs, one list per component")
ra, rb = a.metric('rlvr_samples_total{endpoint="/get_reward"}'), b.metric('rlvr_samples_total{endpoint="/get_reward"}')
is_eq((ra, rb), (8.0, 8.0), "OpenRLHF: each server scored half (whole prompts' groups)")
one = rlvr_client.Client(a.url).get_reward(queries, prompts, labels)
is_eq(one["rewards"], rlvr_client.Client(urls).get_reward(queries, prompts, labels)["rewards"],
      "two servers answer as one does")

# -- TRL ----------------------------------------------------------------------------------
reward = trl_rlvr.make_reward_func(urls)
is_eq(reward.__name__, "rlvr", "TRL: the function's name is what TRL logs")
got = reward(prompts=["q0", "q1", "q2"], completions=[right(0), wrong(1), right(2)], solution=["0", "2", None],
             trainer_state=object(), completion_ids=[[1], [2], [3]])
is_eq(got, [1.2, 0.2, None], "TRL: rewards from the `solution` column; None where the reward is null")
chat = [[{"role": "assistant", "content": right(5)}], [{"role": "assistant", "content": wrong(5)}]]
acc = trl_rlvr.make_reward_func(urls, component="accuracy")
is_eq((acc.__name__, acc(prompts=[[{"role": "user", "content": "q"}]] * 2, completions=chat, answer=["10", "10"])),
      ("rlvr_accuracy", [1.0, 0.0]), "TRL: conversational completions, and a component as its own reward function")

# -- failover and a full queue ---------------------------------------------------------------
import socket  # noqa: E402
s = socket.socket()
s.bind(("127.0.0.1", 0))
dead = "http://127.0.0.1:%d" % s.getsockname()[1]
s.close()
c = rlvr_client.Client(dead + "," + a.url, retries=4)
res = c.score([{"completion": right(1), "answer": "2"}])
is_eq(res[0]["reward"], 1.2, "a server that cannot be reached is skipped for the next one")
q = Server(["--mix", fixture("serve", "slow_mix.lua"), "--threads", "1", "--max-threads", "1", "--queue", "1"])
slow = [{"id": i, "completion": "x", "data_source": "slow"} for i in range(1)]
t = threading.Thread(target=lambda: rlvr_client.Client(q.url).score(slow))
t.start()
t2 = threading.Thread(target=lambda: rlvr_client.Client(q.url).score(slow))
import time  # noqa: E402
time.sleep(0.3)
t2.start()
time.sleep(0.3)
res = rlvr_client.Client(q.url).score([{"completion": right(1), "answer": "2"}])
t.join(10)
t2.join(10)
ok(res[0]["reward"] == 1.2 and q.metric('rlvr_http_requests_total{endpoint="/score",code="503"}') >= 1,
   "a full queue (503 + Retry-After) is waited out, then answered")
q.stop()
try:
    rlvr_client.Client(a.url).score([{"completion": "x"}] * 20000)
    ok(False, "a request the server refuses raises")
except rlvr_client.RlvrError as e:
    ok("413" in str(e) and "--max-samples" in str(e), "a 4xx raises RlvrError with the server's message", e)
is_eq((a.stop(), b.stop()), (0, 0), "both servers stop with status 0")

# -- in process -------------------------------------------------------------------------------
lib = os.path.join(os.environ.get("top_builddir", ".."), "host", ".libs", "librlvr_score.so")
if not os.path.exists(lib):
    ok(False, "librlvr_score is built: " + lib)
    done()
os.environ["RLVR_SCORE_LIB"] = os.path.abspath(lib)
import rlvr_inprocess  # noqa: E402
ok(rlvr_inprocess.version().startswith("rlvr "), "in process: the library loads (%s)" % rlvr_inprocess.version())
examples = os.path.join(os.path.dirname(R1), "..", "..", "examples", "r1_samples.jsonl")
with open(examples, "rb") as f:
    text = f.read()
sc = rlvr_inprocess.Scorer(R1, threads=2)
p = run_raw(["score", "--mix", R1, "--quiet"], text)
is_eq(sc.score_jsonl(text).encode(), p.stdout, "in process: the example set scored byte for byte as rlvr score")
is_eq(sc.trl_reward(prompts=["a", "b"], completions=[right(4), wrong(4)], answer=["8", "8"]), [1.2, 0.2],
      "in process: TRL's reward function, three lines from import to trainer")
is_eq(sc.reward_func("format")(completions=[right(1), "plain"]), [1.0, 0.0], "in process: a component's function")
res = sc.score([{"id": 1, "completion": "x", "answer": "1"}, {"id": 2}])
ok(res[0]["reward"] is not None and res[1]["error"]["stage"] == "input", "in process: a bad sample is an error result", res)
errs = []


def hammer(k):
    try:
        for r in range(10):
            got = sc.score([{"completion": right(k), "answer": str(2 * k)}] * 8)
            if [g["reward"] for g in got] != [1.2] * 8:
                errs.append(got)
    except Exception as e:  # noqa: BLE001
        errs.append(repr(e))


ts = [threading.Thread(target=hammer, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join(60)
ok(not errs, "in process: four Python threads share one scorer", errs[:2])
sc.close()
try:
    rlvr_inprocess.Scorer("/nonexistent/mix.lua")
    ok(False, "a missing mix raises")
except rlvr_inprocess.RlvrError as e:
    ok("mix.lua" in str(e), "in process: a missing mix raises RlvrError naming it", e)
sc2 = rlvr_inprocess.Scorer(R1, threads=1, fields=["answer=reward_model.ground_truth"])
is_eq(sc2.score([{"completion": right(3), "reward_model": {"ground_truth": "6"}}])[0]["reward"], 1.2,
      "in process: a field map (verl's reward_model.ground_truth)")
sc2.close()
done()
