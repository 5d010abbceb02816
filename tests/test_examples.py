"""test_examples.py -- what the README shows works as shown: the bundled
R1-Zero mix on the bundled samples (the quick start's main job), the routed
mix with its schedule and lazy entry, and the example C plugin."""
import os

from taplib import ok, is_eq, done, run, plugin, SRCDIR

top = os.path.dirname(SRCDIR.rstrip("/")) if os.path.basename(SRCDIR.rstrip("/")) == "tests" else os.path.join(SRCDIR, "..")
samples = open(os.path.join(top, "examples", "r1_samples.jsonl")).read()

rc, out, err = run(["--mix", os.path.join(top, "lua", "examples", "r1_mix.lua")], samples)
is_eq((rc, len(out)), (0, 24), "r1_mix.lua scores the 24 example samples")
by = {o["id"]: o for o in out}
is_eq([by["ex-%02d" % i]["reward"] for i in range(1, 7)], [1.2, 1.0, 0.2, 1.0, 1.2, 1.0],
      "accuracy + 0.2 format, per sample style")
is_eq([by["ex-%02d" % i]["details"]["format"]["reason"] for i in (2, 4, 6)],
      ["no_answer_open", "no_think_open", "repeated_answer"], "the format plugin says why it failed")
is_eq((by["ex-04"]["details"]["accuracy"]["reason"], by["ex-04"]["details"]["accuracy"]["source"]),
      ("equal", "answer"), "math finds 'The answer is 408.' without a box or tag")
is_eq((by["ex-09"]["components"]["accuracy"], by["ex-03"]["details"]["accuracy"]["reason"]), (1.0, "not_equal"),
      "math: 6/8 equals 3/4; 418 is not 408")
ok("frac_reward_zero_std" in err and "accuracy" in err, "the summary is readable", err)

rc, out, err = run(["--mix", os.path.join(top, "lua", "examples", "routed_mix.lua"), "--step", "50"], samples)
by = {o["id"]: o for o in out}
is_eq((rc, by["ex-01"]["reward"], by["ex-03"]["reward"]), (0, 1.1, 0.1), "routed_mix.lua: format weight ramps with the step")
ok("loose" in by["ex-03"]["components"] and "loose" not in by["ex-01"]["components"],
   "its lazy entry runs only where accuracy is 0", [by["ex-01"]["components"], by["ex-03"]["components"]])

rc, out, err = run(["--plugin", plugin("think_words")],
                   '{"completion":"<think>one two three four five</think>x"}\n{"completion":"none"}\n')
is_eq([o["reward"] for o in out], [0.1, 0.0], "the example C plugin: 5 of 50 words; no think block scores 0")
is_eq(out[1]["details"]["think_words"]["reason"], "no_think_block", "with its reason")
done()
