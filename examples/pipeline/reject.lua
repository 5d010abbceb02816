-- reject.lua -- r1.lua's stage 3: rejection sampling. The reasoning model
-- writes 8 completions per problem; those correct, well formed and in one
-- language are kept (one per distinct answer text), as SFT JSONL.
return {
  mix = "mix_reasoning.lua",
  num_generations = 8,
  max_problems = 1000,
  max_completion_length = 48,
  temperature = 1.0,
  require = { accuracy = 1, format = 1 },
  dedupe = "exact",
  max_per_prompt = 2,
}
