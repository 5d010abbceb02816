-- reject.lua -- r1.lua's stage 3: rejection sampling. The reasoning model
-- writes 8 completions for every training problem; those correct, well
-- formed and in one language are kept, exact duplicates removed and at
-- most 2 per problem, as SFT JSONL (a correct trace of column sums is
-- nearly always the same text, so about one per solved problem remains).
return {
  mix = "mix_reasoning.lua",
  num_generations = 8,
  max_completion_length = 48,
  temperature = 1.0,
  require = { accuracy = 1, format = 1 },
  dedupe = "exact",
  max_per_prompt = 2,
}
