-- cold_start.lua -- r1.lua's stage 1: the demo's cold start (a fresh
-- 0.8M-parameter byte-level model learns the trace format and column
-- addition from 200 traces, 80 epochs, past its plateau: a model that
-- knows the format but only half the arithmetic, which GRPO then teaches;
-- from 1,000 traces for 10 epochs, stage 2 gained 3.5 points, see the
-- README). The pipeline gives data, seed and output_dir.
return {
  model_init = {
    model_type = "llama", hidden_act = "silu", vocab_size = 264, hidden_size = 128,
    intermediate_size = 384, num_hidden_layers = 4, num_attention_heads = 4,
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
  save_steps = 200,
}
