-- routed_mix.lua -- an example of the mix language's other features:
-- routing by a sample field, a combine function, a lazy entry that runs only
-- where the combine asks for it, and a weight that follows the training
-- step (rlvr score --step N; the trainer passes its step).
local format = plugin("r1_format.lua", {
  name = "format",
  -- Ramp the format reward in over the first 100 steps, then hold it.
  weight = function(step) return 0.2 * math.min(1, step / 100) end,
})

return route {
  field = "data_source",
  cases = {
    arithmetic = mix {
      plugin("exact_match", { name = "accuracy" }),
      format,
      -- A second opinion that is only paid for where accuracy found no answer.
      plugin("exact_match", { name = "loose", lazy = true, config = { fallback_whole = true } }),
      combine = function(c, sample, step)
        local acc = c.accuracy
        if acc == nil then return nil, "accuracy abstained" end
        if acc == 0 then
          acc = 0.5 * (c.loose or 0)          -- `loose` is computed here, lazily
        end
        return acc + c:weight("format") * (c.format or 0)
      end,
    },
  },
  default = mix { plugin("exact_match", { name = "accuracy" }) },
}
