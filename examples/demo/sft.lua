-- sft.lua -- the demo's cold start: a fresh 0.8M-parameter byte-level
-- transformer learns the trace format and column addition from the small
-- set of 200 traces make_data.py wrote (sft.jsonl), for a stated budget of
-- num_train_epochs passes (560 steps), past the plateau of its held-out
-- pass@1 (flat from step 450 on). Paths are relative to the current folder (the
-- demo's work folder), given on the command line by run_demo.sh.
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
  save_steps = 0,
}
