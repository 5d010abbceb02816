-- grpo.lua -- the demo's R1-Zero stage: GRPO from the cold-start model on
-- problems with answers only (train.jsonl), rewarded by the R1 mix
-- (lua/examples/r1_mix.lua: the math verifier's accuracy + 0.2 x format),
-- evaluated on held-out problems along the way. run_demo.sh passes the
-- paths. Each step samples 32 problems x 8; groups whose 8 rewards are all
-- equal teach nothing and are replaced by fresh ones (DAPO's dynamic
-- sampling, up to 3 generation batches); the batch is then cut into 4
-- mini-batches, one optimizer step each.
return {
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
  log_completions_steps = 25,
  num_completions_to_print = 1,
  save_steps = 0,
}
