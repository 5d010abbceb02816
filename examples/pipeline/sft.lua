-- sft.lua -- r1.lua's stage 4: SFT on the samples stage 3 kept, from the
-- cold-start model (see r1.lua for why not from a fresh model), 10 epochs:
-- the kept set is small (about 2,500 traces), and 2 epochs over 849 of
-- them left the model below the reasoning model (pass@1 0.63 against
-- 0.73).
return {
  learning_rate = 5e-4,
  lr_scheduler_type = "cosine",
  warmup_steps = 10,
  num_train_epochs = 10,
  per_device_train_batch_size = 32,
  max_length = 96,
  logging_steps = 50,
  save_steps = 200,
}
