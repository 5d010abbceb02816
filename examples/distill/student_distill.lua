-- student_distill.lua -- run_distill.sh's arm (a): SFT of the student's
-- cold-start model on the teacher's kept traces. run_distill.sh gives the
-- model, data, seed, output_dir, the batch (--per_device_train_batch_size)
-- and max_steps: as many steps as make the tokens the loss is taken on
-- equal to the tokens the RL arm spent. A cosine schedule over those steps
-- from half the cold start's learning rate (the model is not fresh).
return {
  learning_rate = 1e-3,
  lr_scheduler_type = "cosine",
  warmup_steps = 20,
  max_length = 96,
  logging_steps = 50,
  save_steps = 0,
}
