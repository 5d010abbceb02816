-- r1.lua -- the DeepSeek-R1 recipe as an rlvr pipeline, in miniature on the
-- demo's addition task (examples/demo/make_data.py):
--   1. cold_start  SFT of a fresh model on a small set of readable traces
--                  (the demo's: 200 traces, past the plateau);
--   2. reasoning   GRPO from it: accuracy + format + language consistency,
--                  with the demo's settings;
--   3. reject      rejection sampling with the reasoning model: correct,
--                  well-formed, one-language completions kept as SFT data;
--   4. sft         SFT on the kept samples, from the cold-start model (R1
--                  starts this stage from the base model; our base is a
--                  random init that cannot read its prompts, so the
--                  cold-start model stands in for "the base before RL");
--   5. all         GRPO for all scenarios: the rules where an answer can be
--                  checked, a generative judge's rubric score elsewhere.
--                  It needs a judge server (see mix_all.lua).
--
--   python3 examples/demo/make_data.py data --digits 2 --sft 200 --train 3000 --test 500
--   rlvr pipeline examples/pipeline/r1.lua              # stages 1-5 into r1-out/
--   rlvr pipeline examples/pipeline/r1.lua --resume     # after a stop or a failure
--
-- With prompts for the judge in stage 5 (a quarter of the problems routed
-- "open", graded by a local stand-in judge on mix_all.lua's port):
--   python3 examples/pipeline/make_open.py data        # data/all.jsonl
--   python3 examples/pipeline/judge_standin.py 8000 &
--   RLVR_R1_ALL_DATA=data/all.jsonl rlvr pipeline examples/pipeline/r1.lua
--
-- RLVR_DEMO_DATA names the data folder (default "data", from the current
-- folder); RLVR_R1_SEED the seed; RLVR_R1_ALL_DATA stage 5's problems
-- (default: the training problems, all verifiable). Keys given in a stage
-- are passed to its command as --KEY=VALUE and their paths read from the
-- current folder.
local data = env("RLVR_DEMO_DATA", "data")
local seed = tonumber(env("RLVR_R1_SEED", "1"))
local all_data = env("RLVR_R1_ALL_DATA", data .. "/train.jsonl")
return {
  output_dir = "r1-out",
  stages = {
    { name = "cold_start", run = "sft", config = "cold_start.lua",
      data = data .. "/sft.jsonl", seed = seed, init_seed = seed },
    { name = "reasoning", run = "train", config = "reasoning.lua",
      model = output("cold_start"), data = data .. "/train.jsonl", eval_data = data .. "/test.jsonl",
      seed = seed },
    { name = "reject", run = "sample", config = "reject.lua",
      model = output("reasoning"), data = data .. "/train.jsonl", seed = seed },
    { name = "sft", run = "sft", config = "sft.lua",
      model = output("cold_start"), data = output("reject"), seed = seed },
    { name = "all", run = "train", config = "all.lua",
      model = output("sft"), data = all_data, eval_data = data .. "/test.jsonl", seed = seed },
  },
}
