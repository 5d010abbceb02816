-- r1_format.lua -- an example Lua reward plugin: the DeepSeek-R1-Zero
-- template, <think>...</think> then <answer>...</answer>, and nothing else.
--
-- It scores 1 when the completion is exactly one think block followed by
-- exactly one answer block (whitespace around them allowed), else 0 with a
-- reason. The built-in C plugin `format` is the full scorer (pre-filled
-- <think>, stop tokens, policies, reason codes); this one shows how a Lua
-- plugin is written: a table with a name, a
-- description, declared configuration and a score function.
local TEMPLATE = rlvr.re.compile([[^\s*<think>(.*?)</think>\s*<answer>(.*?)</answer>\s*$]], "s")

local function count(s, tag)
  local n = 0
  for _ in s:gmatch(tag, 1, true) do n = n + 1 end
  return n
end

return {
  name = "r1_format",
  version = "1.0",
  description = "example: the R1-Zero <think>..</think><answer>..</answer> template",
  deterministic = true,
  config = {
    allow_empty_think = { type = "bool", default = false,
                          help = "accept an empty <think></think> block" },
  },
  score = function(sample, config)
    local text = sample.completion
    for _, tag in ipairs({ "<think>", "</think>", "<answer>", "</answer>" }) do
      local n = select(2, text:gsub(tag, tag))
      if n ~= 1 then return 0, { reason = (n == 0 and "missing " or "repeated ") .. tag } end
    end
    local think, answer = TEMPLATE:match(text)
    if not think then return 0, { reason = "text outside the template" } end
    if not config.allow_empty_think and not think:find("%S") then
      return 0, { reason = "empty think block" }
    end
    if not answer:find("%S") then return 0, { reason = "empty answer" } end
    return 1, { reason = "ok" }
  end,
}
