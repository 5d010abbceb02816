-- r1_mix.lua -- the example reward mix of the README's quick start: the two
-- rule-based rewards of DeepSeek-R1-Zero, accuracy and format.
--
--   rlvr score --mix lua/examples/r1_mix.lua --in examples/r1_samples.jsonl
--
-- Accuracy is required: a sample whose gold answer is missing gets a null
-- reward rather than a silent 0. Format is weighted lower, as in R1-Zero
-- reproductions. A plugin given by a relative path is looked for beside this
-- file first, then from the current folder; a name is looked up on the path.
return mix {
  plugin("exact_match", { name = "accuracy", weight = 1.0 }),
  plugin("r1_format.lua", { name = "format", weight = 0.2 }),
}
