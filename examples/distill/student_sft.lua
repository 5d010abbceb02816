-- student_sft.lua -- the student's cold start in run_distill.sh: a fresh
-- byte-level transformer 7 times smaller than the demo's teacher (116k
-- parameters against 0.8M: width 64 and 2 layers against 128 and 4), SFT on
-- the demo's 200 readable traces for the demo's budget of 80 epochs (560
-- steps). It knows the format afterwards (format rate 0.94 on seed 1) and
-- half the arithmetic (pass@1 0.37), enough for GRPO to find rewards: both
-- arms of the experiment start here. run_distill.sh gives data, seed,
-- init_seed and output_dir.
return {
  model_init = {
    model_type = "llama", hidden_act = "silu", vocab_size = 264, hidden_size = 64,
    intermediate_size = 192, num_hidden_layers = 2, num_attention_heads = 4,
    num_key_value_heads = 2, max_position_embeddings = 256, rope_theta = 10000.0,
    rms_norm_eps = 1e-6, tie_word_embeddings = true, eos_token_id = 256,
  },
  tokenizer = "bytes",
  learning_rate = 2e-3,
  lr_scheduler_type = "cosine",
  warmup_steps = 20,
  num_train_epochs = 80,
  per_device_train_batch_size = 32,
  max_length = 96,
  logging_steps = 50,
  save_steps = 0,
}
