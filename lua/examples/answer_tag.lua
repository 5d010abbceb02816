-- answer_tag.lua -- a reward plugin in Lua using rlvr.re: the text of the
-- last <answer>...</answer> block, with white space collapsed, compared with
-- the gold answer. No gold: abstain (the grader cannot judge); no answer
-- block: 0 with a reason (the model failed to answer).
local tag = rlvr.re.compile("<answer>(.*?)</answer>", "s")

local function normalise(s, fold)
  s = rlvr.re.gsub(s, [[\s+]], " ")
  s = s:gsub("^ ", ""):gsub(" $", "")
  if fold then s = s:lower() end
  return s
end

return {
  name = "answer_tag",
  version = "1.0",
  description = "1 when the last <answer> block equals the gold answer",
  deterministic = true,
  config = {
    case_sensitive = { type = "bool", default = true, help = "compare letters with their case" },
  },
  score = function(sample, config)
    local gold = sample.answer
    if gold == nil then return nil, "no gold answer" end
    local last
    for got in tag:gmatch(sample.completion or "") do last = got end
    if last == nil then return 0, { reason = "no_answer" } end
    local fold = not config.case_sensitive
    if normalise(last, fold) == normalise(gold, fold) then return 1 end
    return 0, { reason = "wrong_answer", extracted = last }
  end,
}
