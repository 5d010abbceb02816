-- rules_or_rm.lua -- R1's last stage in one mix: rule rewards where the
-- sample is verifiable (it carries a gold `answer`: the math verifier
-- decides), and a reward model's preference score everywhere else (open
-- prompts: writing, chat, advice). The reward model is `lazy`: it runs only
-- where the combine function asks for it, so verifiable samples never cost
-- a request. Its raw score (a logit) is squashed into (0, 1) by sigmoid so
-- that both kinds of sample are rewarded on one scale.
--
-- Start a reward model first, for example with vLLM:
--   vllm serve Skywork/Skywork-Reward-V2-Llama-3.1-8B --task reward --port 8000
-- (api = "vllm_pooling" below), or with text-embeddings-inference:
--   text-embeddings-router --model-id OpenAssistant/reward-model-deberta-v3-large-v2 --port 8000
-- (api = "tei_predict", input = "pair").
return mix {
  plugin("math", { name = "accuracy", lazy = true }),
  plugin("rm", {
    name = "preference",
    lazy = true,
    config = {
      base_url = "http://127.0.0.1:8000",
      api = "vllm_pooling",
      model = "Skywork/Skywork-Reward-V2-Llama-3.1-8B",
      -- the reward model's own chat template, with the sample inserted
      template = "<|start_header_id|>user<|end_header_id|>\n\n{prompt}<|eot_id|>"
        .. "<|start_header_id|>assistant<|end_header_id|>\n\n{completion}<|eot_id|>",
      normalize = "sigmoid",
      batch_size = 32,
      max_concurrency = 16,
    },
  }),
  combine = function(c, sample, step)
    if sample.answer ~= nil and sample.answer ~= "" then
      local acc, status = c:get("accuracy")        -- verifiable: the rules decide
      if status == "ok" then return acc, "rules" end
      return nil, "the rules could not judge: " .. status
    end
    local pref, pstatus = c:get("preference")      -- open-ended: the reward model decides
    if pstatus == "ok" then return pref, "reward model" end
    return nil, "the reward model could not score: " .. pstatus
  end,
}
