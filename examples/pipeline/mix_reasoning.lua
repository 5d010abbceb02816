-- mix_reasoning.lua -- R1's reasoning rewards: the math verifier's accuracy,
-- the <think>/<answer> format, and language consistency (the share of
-- target-language words in the reasoning; the demo's prompts are English).
-- lang is optional: a trace with nothing countable (digits only) abstains
-- and adds nothing, it is not punished.
return mix {
  plugin("math", { name = "accuracy" }),
  plugin("format", { weight = 0.2 }),
  plugin("lang", { weight = 0.1, optional = true, config = { language = "en" } }),
}
