-- math_then_judge.lua -- "rules first": the math verifier decides where it
-- can, and a generative judge (an LLM behind an OpenAI-compatible server) is
-- asked only where the rules did not find the answer equal -- the gold is
-- prose the verifier cannot parse (math abstains), or the prediction is
-- written in a form the rules do not read ("one half"), or it differs. The
-- judge is `lazy`: it runs only when the combine function asks for it, so
-- its cost is paid only there.
--
-- Start a judge first, for example:
--   vllm serve Qwen/Qwen2.5-7B-Instruct --port 8000
-- and give its key, if it needs one, through the variable named by api_key_env.
return mix {
  plugin("math", { name = "accuracy" }),
  plugin("judge", {
    name = "judge",
    lazy = true,
    config = {
      base_url = "http://127.0.0.1:8000/v1",
      model = "Qwen/Qwen2.5-7B-Instruct",
      template = "r1_json",          -- JSON with analysis and correctness
      max_concurrency = 64,
      timeout_ms = 60000,
    },
  }),
  combine = function(c, sample, step)
    local acc, status = c:get("accuracy")
    if status == "ok" and acc == 1 then
      return 1                                   -- the rules said equal: no judge
    end
    local verdict, jstatus = c:get("judge")      -- the judge runs here, and only here
    if jstatus == "ok" then
      return verdict, "judge"
    end
    if status == "ok" then
      return acc, "rules (judge: " .. jstatus .. ")"  -- the judge could not answer: keep the rules' 0
    end
    return nil, "neither the rules nor the judge could decide"
  end,
}
