-- mix_all.lua -- R1's stage-5 reward: rule rewards where a gold answer
-- exists (accuracy + format), and for the other prompts a preference
-- signal: the judge plugin as a generative reward model with the score_10
-- rubric template ("Score: N", 1-10, mapped to 0..1).
--
-- The judge server: an OpenAI-compatible chat-completions endpoint, e.g.
--   vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000
-- at base_url below (edit it for another server; a mix file cannot read the
-- environment). Without a server, open prompts abstain. score_10, like
-- every built-in judge template, grades against a reference (the row's
-- `answer`): an open row without one abstains (no_reference). To run stage
-- 5 here with no LLM: make_open.py routes a quarter of the problems "open"
-- (their answers kept as references) and judge_standin.py answers the
-- rubric on this port.
--
-- The rm plugin (a reward-model server's scoring endpoint) goes in the
-- `open` route as a second preference component when it is built:
--   plugin("rm", { name = "rm", weight = 0.5, config = { base_url = "http://127.0.0.1:8001" } }),
local rules = mix {
  plugin("math", { name = "accuracy" }),
  plugin("format", { weight = 0.2 }),
}
return route {
  field = "data_source",
  cases = {
    open = mix {
      plugin("judge", { name = "preference", config = {
        base_url = "http://127.0.0.1:8000/v1",
        model = "Qwen/Qwen2.5-7B-Instruct",
        template = "score_10",
        max_concurrency = 64,
        timeout_ms = 60000,
      } }),
      plugin("format", { weight = 0.2 }),
    },
  },
  default = rules,
}
