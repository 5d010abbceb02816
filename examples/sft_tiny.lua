-- sft_tiny.lua: a tiny model learns the R1 answer format from scratch, in
-- seconds on a CPU (`rlvr sft examples/sft_tiny.lua`). The data is 256
-- additions written as <think>a+b=c</think><answer>c</answer>; the byte
-- tokenizer needs no files. Input paths are relative to this file's folder.
return {
  model_init = "tiny",          -- or model = "path/to/checkpoint"
  tokenizer = "bytes",
  data = "sft_addition.jsonl",
  output_dir = "sft-tiny-out",  -- relative to the current folder
  learning_rate = 3e-3,
  lr_scheduler_type = "cosine",
  warmup_steps = 10,
  num_train_epochs = 24,
  per_device_train_batch_size = 16,
  max_length = 64,
  logging_steps = 64,
  save_steps = 128,
  seed = 42,
}
