-- has_think.lua -- a reward plugin in Lua: 1 when the completion holds a
-- closed <think>...</think> block with some reasoning in it, else 0 with a
-- reason. Load it like any plugin: rlvr score --plugin has_think.lua
--
-- With prefilled = true the prompt is taken to end with "<think>" (as in
-- DeepSeek-R1's template), so the completion starts inside the block.
return {
  name = "has_think",
  version = "1.0",
  description = "1 when the completion holds a closed <think>...</think> block",
  deterministic = true,
  config = {
    min_chars = { type = "int", default = 1, min = 0, max = 1000000,
                  help = "least number of non-space characters inside the block" },
    prefilled = { type = "bool", default = false,
                  help = "the prompt ends with <think>: the completion starts inside the block" },
  },
  score = function(sample, config)
    local text = sample.completion
    if text == nil then return nil, "no completion" end
    local from = 1
    if not config.prefilled then
      local open = text:find("<think>", 1, true)
      if not open then return 0, { reason = "no_think_tag" } end
      from = open + #"<think>"
    end
    local close = text:find("</think>", from, true)
    if not close then return 0, { reason = "unclosed_think" } end
    local body = text:sub(from, close - 1)
    if body:find("<think>", 1, true) then return 0, { reason = "nested_think" } end
    local chars = utf8.len((body:gsub("%s+", ""))) or 0
    if chars < config.min_chars then
      return 0, { reason = "think_too_short", think_chars = chars }
    end
    return 1, { think_chars = chars }
  end,
}
