-- reasoning.lua -- r1.lua's stage 2: reasoning-oriented GRPO with R1's
-- rewards, accuracy + format + language consistency (mix_reasoning.lua).
-- save_steps lets `rlvr pipeline --resume` continue an interrupted run.
return {
  mix = "mix_reasoning.lua",
  num_generations = 8,
  train_batch_size = 32,
  per_device_train_batch_size = 64,
  max_completion_length = 48,
  temperature = 1.0,
  learning_rate = 3e-4,
  lr_scheduler_type = "constant",
  warmup_steps = 10,
  beta = 0.0,
  max_steps = 60,
  eval_steps = 20,
  eval_max_problems = 200,
  save_steps = 20,
}
