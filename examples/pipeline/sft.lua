-- sft.lua -- r1.lua's stage 4: SFT on the samples stage 3 kept, from the
-- cold-start model (see r1.lua for why not from a fresh model).
return {
  learning_rate = 5e-4,
  lr_scheduler_type = "cosine",
  warmup_steps = 10,
  num_train_epochs = 2,
  per_device_train_batch_size = 32,
  max_length = 96,
  logging_steps = 50,
  save_steps = 100,
}
