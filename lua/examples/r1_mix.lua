-- r1_mix.lua -- the example reward mix of the README's quick start: the two
-- rule-based rewards of DeepSeek-R1-Zero, accuracy and format.
--
--   rlvr score --mix lua/examples/r1_mix.lua --in examples/r1_samples.jsonl
--
-- Accuracy is the built-in `math` verifier (the final answer against the
-- gold answer, by mathematical equivalence); it is required, so a sample
-- whose gold answer is missing or unparseable gets a null reward rather than
-- a silent 0. Format is the built-in `format` plugin (the <think>..</think>
-- <answer>..</answer> template, with a reason when it fails), weighted lower
-- as in R1-Zero reproductions. A plugin given by a relative path is looked
-- for beside this file first, then from the current folder; a name is
-- looked up on the path, then among the built-in plugins.
return mix {
  plugin("math", { name = "accuracy", weight = 1.0 }),
  plugin("format", { weight = 0.2 }),
}
