-- grpo.lua -- the demo's R1-Zero stage: GRPO from the cold-start model on
-- problems with answers only (train.jsonl), rewarded by the R1 mix
-- (lua/examples/r1_mix.lua: the math verifier's accuracy + 0.2 x format),
-- evaluated on held-out problems along the way. run_demo.sh passes the
-- paths.
return {
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
  log_completions_steps = 20,
  num_completions_to_print = 1,
  save_steps = 0,
}
