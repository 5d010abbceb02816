-- reasoning.lua -- r1.lua's stage 2: reasoning-oriented GRPO with R1's
-- rewards, accuracy + format + language consistency (mix_reasoning.lua),
-- with the demo's settings (examples/demo/grpo.lua): 32 problems x 8 a
-- step, groups whose rewards are all equal replaced by fresh problems
-- (dynamic sampling, up to 3 generation batches), each batch cut into 4
-- mini-batches at learning rate 1e-4, 100 steps. save_steps lets
-- `rlvr pipeline --resume` continue an interrupted run.
return {
  mix = "mix_reasoning.lua",
  num_generations = 8,
  train_batch_size = 32,
  per_device_train_batch_size = 64,
  steps_per_generation = 4,
  dynamic_sampling = true,
  max_num_gen_batches = 3,
  max_completion_length = 48,
  temperature = 1.0,
  learning_rate = 1e-4,
  lr_scheduler_type = "constant",
  warmup_steps = 10,
  beta = 0.0,
  max_steps = 100,
  eval_steps = 25,
  eval_max_problems = 200,
  save_steps = 25,
}
