"""test_rm.py -- the rm plugin end to end: `rlvr score` against rm_server.py,
a scripted reward-model server on 127.0.0.1 that checks each request's shape
(TEI /predict and /rerank, vLLM /pooling, /classify and /score). Scores per
API, label and normalisation; batching (N samples -> ceil(N / batch_size)
requests); the server's failures abstain with their reasons while the batch
goes on; retries on 500 and 429; the API key kept out of every output; the
cache; input caps; empty completions and missing prompts; configuration
refused at load; the rules-or-rm example mix."""
import json
import math
import os
import socket
import time

import rm_server
from taplib import ok, is_eq, done, run, run_raw, tempfile_with, SRCDIR

srv, URL = rm_server.start()
ST = srv.state
FAST = {"timeout_ms": 1000, "backoff_ms": 20, "max_backoff_ms": 100, "max_retries": 2, "total_timeout_ms": 8000}


def lua_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return "[==[" + v + "]==]"
    if isinstance(v, list):
        return "{" + ", ".join(lua_value(x) for x in v) + "}"
    return "{" + ", ".join("%s = %s" % (k, lua_value(x)) for k, x in v.items()) + "}"


def score(rows, cfg, env=None, url=None, threads=1, args=()):
    c = {"base_url": url or URL, "model": "rm-test"}
    c.update(FAST)
    c.update(cfg)
    m = tempfile_with('return mix { plugin("rm", { config = %s }) }\n' % lua_value(c))
    try:
        return run(["--mix", m, "--threads", str(threads)] + list(args),
                   "".join(json.dumps(r) + "\n" for r in rows), env=env)
    finally:
        os.unlink(m)


def sample(i, s, extra="", prompt="Write a haiku about rain.", **kw):
    r = {"id": i, "prompt": prompt, "completion": "Soft rain on the roof [[s=%s]] %s" % (s, extra)}
    r.update(kw)
    return r


def d(o):
    return o["details"]["rm"]


def close(a, b):
    return a is not None and b is not None and abs(a - b) < 1e-9


def sig(x):
    return 1 / (1 + math.exp(-x))


# -- each API: request shape (checked by the server) and scores --------------------------------
raws = [0.25, 0.75, 2.5, -1.5]
rows = [sample(i, s) for i, s in enumerate(raws)]
for api, classes, extra in (("tei_predict", 1, {}), ("tei_predict", 2, {"label": "LABEL_1"}),
                            ("tei_predict", 2, {"label": "1"}), ("tei_rerank", 1, {}), ("vllm_pooling", 1, {}),
                            ("vllm_classify", 1, {}), ("vllm_classify", 2, {"label": "1"}), ("vllm_score", 1, {})):
    ST.reset()
    ST.classes = classes
    cfg = {"api": api}
    cfg.update(extra)
    rc, out, err = score(rows, cfg)
    name = "%s (%d class%s, %s)" % (api, classes, "es" if classes > 1 else "", extra or "no label")
    is_eq(ST.shape_errors, [], "%s: the server found every request well shaped" % name)
    ok(rc == 0 and [o["reward"] for o in out] == raws, "%s: the raw scores are the rewards" % name, (rc, out, err))
    is_eq([(d(o)["reason"], d(o)["raw_score"]) for o in out], [("rm_score", s) for s in raws],
          "%s: reason rm_score, the raw score in the details" % name)
    path = {"tei_predict": "/predict", "tei_rerank": "/rerank", "vllm_pooling": "/pooling",
            "vllm_classify": "/classify", "vllm_score": "/score"}[api]
    is_eq(ST.paths, {path: 1}, "%s: one request to %s" % (name, path))
ST.classes = 1

# The bodies, as sent.
ST.reset()
score(rows[:3], {"api": "tei_predict"})
b = json.loads(ST.bodies[0][1])
is_eq((b["inputs"][0], b["raw_scores"], b["truncate"], "model" in b),
      (["Write a haiku about rain.", "Soft rain on the roof [[s=0.25]] "], False, False, False),
      "tei_predict pair mode sends [prompt, completion] pairs, no model")
ST.reset()
score(rows[:3], {"api": "vllm_pooling", "template": "<|user|>{prompt}<|assistant|>{completion}"})
b = json.loads(ST.bodies[0][1])
is_eq((b["model"], b["input"][1]), ("rm-test", "<|user|>Write a haiku about rain.<|assistant|>Soft rain on the roof [[s=0.75]] "),
      "vllm_pooling sends the template's text and the model")
ST.reset()
score(rows[:2], {"api": "vllm_score"})
b = json.loads(ST.bodies[0][1])
is_eq((b["text_1"], len(b["text_2"])), (["Write a haiku about rain."] * 2, 2), "vllm_score pairs text_1 and text_2 one to one")
ST.reset()
score(rows[:2], {"api": "tei_predict", "input": "template", "template": "Q: {prompt} A: {completion}"})
is_eq((ST.shape_errors, ST.sizes), ([], [1, 1]),
      "tei_predict with two texts sends them one by one (TEI reads a two-text list as one pair)")
ST.reset()
score(rows[:2], {"api": "vllm_pooling", "extra_body": {"truncate_prompt_tokens": 512}})
is_eq(json.loads(ST.bodies[0][1]).get("truncate_prompt_tokens"), 512, "extra_body fields reach the server")

# tei_rerank: inputs sharing a prompt share a request.
ST.reset()
mixed = [sample(i, 0.1 * i, prompt="P%d" % (i % 3)) for i in range(9)]
rc, out, err = score(mixed, {"api": "tei_rerank"})
is_eq((ST.shape_errors, sorted(ST.sizes)), ([], [3, 3, 3]), "tei_rerank: one request per prompt")
ok(all(close(o["reward"], 0.1 * i) for i, o in enumerate(out)), "tei_rerank: scores placed by index", out)

# -- normalisation -------------------------------------------------------------------------------
for cfg, want in (({"normalize": "sigmoid"}, [sig(x) for x in raws]),
                  ({"normalize": "minmax", "score_min": -2, "score_max": 2}, [(x + 2) / 4 for x in raws]),
                  ({"normalize": "minmax", "score_min": 0, "score_max": 2, "clamp": True}, [0.125, 0.375, 1.0, 0.0]),
                  ({"clamp": True}, [0.25, 0.75, 1.0, 0.0])):
    cfg["api"] = "vllm_pooling"
    rc, out, err = score(rows, cfg)
    ok(all(close(o["reward"], w) for o, w in zip(out, want)) and [d(o)["raw_score"] for o in out] == raws,
       "normalize %s" % json.dumps(cfg), [o["reward"] for o in out])
rc, out, err = score([sample(1, 800), sample(2, -800)], {"api": "vllm_pooling", "normalize": "sigmoid"})
is_eq([o["reward"] for o in out], [1.0, 0.0], "sigmoid of +-800 is finite (no overflow)")

# -- batching ----------------------------------------------------------------------------------------
for n, bs in ((10, 4), (10, 10), (7, 1), (33, 32)):
    ST.reset()
    rc, out, err = score([sample(i, i) for i in range(n)], {"api": "vllm_score", "batch_size": bs})
    is_eq((len(ST.sizes), sum(ST.sizes), [o["reward"] for o in out]), (-(-n // bs), n, list(map(float, range(n)))),
          "%d samples, batch_size %d: %d requests" % (n, bs, -(-n // bs)))

# -- failures abstain, the batch goes on ----------------------------------------------------------------
cases = [("malformed", "rm_bad_reply", 1), ("short", "rm_count_mismatch", 1), ("extra", "rm_count_mismatch", 1),
         ("nan", "rm_bad_reply", 1), ("dupindex", "rm_bad_reply", 1), ("error200", "rm_bad_reply", 1),
         ("err500x2", "rm_score", 3), ("err500x9", "rm_server_error", 3), ("slow", "rm_timeout", 3),
         ("close", "rm_unreachable", 3), ("e400", "rm_http_error", 1)]
ST.reset()
rows2 = []
for i, (b, _, _) in enumerate(cases):  # two samples per case: a case scripts its own request
    rows2 += [sample(2 * i, 0.5, "[[b=%s]] [[id=%s]]" % (b, b)), sample(2 * i + 1, 0.5, "[[id=%s]]" % b)]
rows2.append(sample(99, 0.9, prompt="alone"))
rc, out, err = score(rows2, {"api": "vllm_score", "batch_size": 2})
is_eq((rc, len(out)), (0, len(rows2)), "one result per sample; abstentions do not fail the run")
for i, (b, reason, attempts) in enumerate(cases):
    for o in out[2 * i:2 * i + 2]:
        is_eq((d(o)["reason"], d(o).get("attempts")), (reason, attempts), "%s: %s after %d attempt(s)" % (b, reason, attempts))
        if reason != "rm_score":
            ok(o["reward"] is None and d(o)["status"] == "abstain" and d(o).get("why"), "%s abstains with why" % b, d(o))
is_eq(out[-1]["reward"], 0.9, "the batch goes on: another request is scored")
ok("2 scores for 1" in d(out[4])["why"] or "scores for" in d(out[4])["why"], "a count mismatch is said", d(out[4]))
ST.reset()
t0 = time.time()
rc, out, err = score([sample(1, 0.5, "[[b=r429]] [[id=r429]]")], {"api": "vllm_pooling"})
is_eq((out[0]["reward"], d(out[0])["attempts"], ST.attempts.get("r429")), (0.5, 2, 2), "429 with Retry-After is retried")
ok(time.time() - t0 >= 0.95, "after waiting the Retry-After second")
s = socket.socket()
s.bind(("127.0.0.1", 0))
dead = "http://127.0.0.1:%d" % s.getsockname()[1]
s.close()
rc, out, err = score([sample(1, 0.5), sample(2, 0.5)], {"api": "tei_predict"}, url=dead)
is_eq([(o["reward"], d(o)["reason"]) for o in out], [(None, "rm_unreachable")] * 2, "a dead server: every sample abstains")

# labels that are not in the reply abstain
ST.classes = 2
rc, out, err = score(rows[:1], {"api": "tei_predict", "label": "positive"})
is_eq((out[0]["reward"], d(out[0])["reason"]), (None, "rm_no_label"), "tei_predict: an absent class name abstains")
rc, out, err = score(rows[:1], {"api": "vllm_classify", "label": "5"})
is_eq(d(out[0])["reason"], "rm_no_label", "vllm_classify: an index past the classes abstains")
rc, out, err = score(rows[:1], {"api": "vllm_classify"})
ok(d(out[0])["reason"] == "rm_no_label" and "label" in d(out[0])["why"], "two classes and no label: abstains, says set label", d(out[0]))
ST.classes = 1

# -- the sample's own failures --------------------------------------------------------------------------
ST.reset()
rr = [{"id": 1, "prompt": "p", "completion": "  \n"}, {"id": 2, "completion": "text [[s=1]]"},
      {"id": 3, "prompt": "p", "completion": "<think>x [[s=1]]</think>"}]
rc, out, err = score(rr, {"api": "vllm_score", "response_after_think": True})
is_eq([(o["reward"], d(o)["reason"]) for o in out], [(0.0, "empty_completion"), (None, "no_prompt"), (0.0, "empty_completion")],
      "empty completions score 0, a missing prompt abstains")
is_eq(ST.requests, 0, "none of them asked the server")
rc, out, err = score(rr[1:2], {"api": "vllm_pooling", "template": "{completion}"})
is_eq(out[0]["reward"], 1.0, "a template without {prompt} scores a sample without one")

# -- input caps -------------------------------------------------------------------------------------------
ST.reset()
long = "Ω" * 5000 + " [[s=0.5]]"
rc, out, err = score([{"id": 1, "prompt": "p", "completion": long}], {"api": "vllm_pooling", "max_input_chars": 100,
                                                                       "template": "{completion}"})
sent = json.loads(ST.bodies[0][1])["input"][0]
ok(len(sent) < 110 and sent.endswith("[[s=0.5]]") and "\n...\n" in sent, "a long completion keeps its head and tail", sent)
is_eq((out[0]["reward"], d(out[0])["input_chars_cut"]), (0.5, 4910), "scored, the cut counted in details")

# -- the cache and the API key ------------------------------------------------------------------------------
ST.reset()
rc, out, err = score([sample(i, 0.3) for i in range(4)] + [sample(9, 0.6)], {"api": "vllm_pooling"})
is_eq((ST.sizes, [d(o)["cached"] for o in out]), ([2], [False, True, True, True, False]),
      "identical inputs are sent once and marked cached")
ST.reset()
rc, out, err = score([sample(i, 0.3) for i in range(4)], {"api": "vllm_pooling", "cache": False})
is_eq(ST.sizes, [4], "cache = false sends every input")
key = "sk-rm-SECRET-7777"
cfile = tempfile_with("", suffix=".jsonl")
env = {"RLVR_TEST_RM_KEY": key}
ST.reset()
krows = [sample(1, 0.4), sample(2, 0.5, "[[b=e400]]")]
rc, out, err = score(krows[:1], {"api": "vllm_score", "api_key_env": "RLVR_TEST_RM_KEY", "cache_file": cfile}, env=env, args=["-v"])
rc2, out2, err2 = score(krows[1:], {"api": "vllm_score", "api_key_env": "RLVR_TEST_RM_KEY", "cache": False}, env=env)
is_eq(ST.auth, {"Bearer " + key}, "the key is sent as a bearer token")
text = json.dumps(out + out2) + err + err2 + open(cfile).read()
ok(key not in text, "the key appears nowhere: results, details, log, cache file", text[:1500])
ok("requests" in err, "-v: the plugin's counts at the end", err)
ST.reset()
rc, out, err = score(krows[:1], {"api": "vllm_score", "api_key_env": "RLVR_TEST_RM_KEY", "cache_file": cfile}, env=env)
is_eq((ST.requests, out[0]["reward"], d(out[0])["cached"]), (0, 0.4, True), "a second run reads the cache file")
rc, out, err = score(krows[:1], {"api": "vllm_score", "cache_file": cfile, "model": "other-rm"})
is_eq(ST.requests, 1, "another model is another cache key")
os.unlink(cfile)

# -- configuration refused at load -------------------------------------------------------------------------
bad = [({"api": "openai"}, "api"), ({"api": "vllm_pooling", "input": "pair"}, "input"),
       ({"api": "vllm_pooling", "template": "{prompt} only"}, "template"),
       ({"api": "vllm_pooling", "template": "{answer} {completion}"}, "template"),
       ({"api": "vllm_classify", "label": "positive"}, "label"), ({"api": "vllm_score", "label": "1"}, "label"),
       ({"api": "vllm_pooling", "normalize": "minmax", "score_min": 1, "score_max": 1}, "score_max"),
       ({"api": "vllm_pooling", "normalize": "tanh"}, "normalize"),
       ({"api": "vllm_pooling", "batch_size": 0}, "batch_size"),
       ({"api": "vllm_pooling", "api_key_env": "RLVR_TEST_NO_SUCH_VAR"}, "api_key_env"),
       ({"api": "vllm_pooling", "extra_body": {"input": []}}, "extra_body"),
       ({"api": "vllm_pooling", "base_url": "ftp://127.0.0.1"}, "base_url"),
       ({"api": "vllm_pooling", "cache": False, "cache_file": "/tmp/x"}, "cache_file"),
       ({"api": "vllm_pooling", "batchsize": 4}, "batchsize")]
for cfg, word in bad:
    rc, out, err = score(rows[:1], cfg)
    ok(rc == 2 and "rm" in err and word in err and out == [], "refused at load: %s" % json.dumps(cfg), (rc, err))
m = tempfile_with('return mix { plugin("rm", { config = { base_url = "%s" } }) }\n' % URL)
rc, out, err = run(["--mix", m], "")
ok(rc == 2 and "api" in err, "api is required", err)
os.unlink(m)
p = run_raw(["plugins", "rm"])
ok(p.returncode == 0 and all(k in p.stdout.decode() for k in ("base_url", "api_key_env", "batch_size", "normalize", "label")),
   "rlvr plugins rm lists the configuration", p.stdout.decode()[:300])

# -- the example mix: rules where verifiable, the reward model elsewhere -----------------------------------------
top = os.path.dirname(SRCDIR.rstrip("/")) if os.path.basename(SRCDIR.rstrip("/")) == "tests" else os.path.join(SRCDIR, "..")
example = open(os.path.join(top, "lua", "examples", "rules_or_rm.lua")).read()
ok("http://127.0.0.1:8000" in example, "the example names its server's URL")
m = tempfile_with(example.replace("http://127.0.0.1:8000", URL))
ST.reset()
ex = [{"id": "right", "prompt": "1+1?", "answer": "2", "completion": "\\boxed{2} [[s=-5]]"},
      {"id": "wrong", "prompt": "1+1?", "answer": "2", "completion": "\\boxed{3} [[s=5]]"},
      {"id": "open", "prompt": "A poem?", "completion": "Rain falls [[s=0]]"}]
rc, out, err = run(["--mix", m], "".join(json.dumps(r) + "\n" for r in ex))
os.unlink(m)
by = {o["id"]: o for o in out}
ok(rc == 0 and by["right"]["reward"] == 1.0 and by["wrong"]["reward"] == 0.0 and close(by["open"]["reward"], 0.5),
   "the rules score verifiable samples; the reward model (sigmoid) the open one", out)
is_eq(ST.requests, 1, "the reward model is asked only for the sample without an answer")
done()
