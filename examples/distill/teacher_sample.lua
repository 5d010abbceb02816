-- teacher_sample.lua -- run_distill.sh's distillation data, R1's stage 3:
-- the teacher writes 4 completions per training problem with the demo's
-- sampling (temperature 1, top-p 1, 48 tokens), and those that are correct
-- (accuracy 1) and well formed (format 1), not cut at the length limit and
-- with no code block in the reasoning are kept, exact duplicates removed
-- (a correct trace of column sums is nearly always the same text, so about
-- one per solved problem remains). The language filter is off: the traces
-- are digits and signs, nothing the language scorer could count.
-- run_distill.sh gives model, data, mix, seed, output and summary.
return {
  num_generations = 4,
  temperature = 1.0,
  top_p = 1.0,
  max_completion_length = 48,
  require = { accuracy = 1, format = 1 },
  drop_truncated = true,
  no_code_in_reasoning = true,
  no_mixed_languages = false,
  dedupe = "exact",
  max_per_prompt = 0,
}
