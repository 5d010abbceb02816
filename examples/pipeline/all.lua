-- all.lua -- r1.lua's stage 5: GRPO for all scenarios with mix_all.lua
-- (rules for verifiable prompts, a judge's rubric score for the others).
-- The judge is asked only for prompts without a gold answer, so on the
-- demo's all-verifiable data it is never called; on mixed data it must be
-- reachable (mix_all.lua names the server).
return {
  mix = "mix_all.lua",
  eval_mix = "mix_reasoning.lua",
  num_generations = 8,
  train_batch_size = 32,
  per_device_train_batch_size = 64,
  max_completion_length = 48,
  temperature = 1.0,
  learning_rate = 1e-4,
  lr_scheduler_type = "constant",
  beta = 0.001,
  max_steps = 30,
  eval_steps = 15,
  eval_max_problems = 200,
  save_steps = 10,
}
