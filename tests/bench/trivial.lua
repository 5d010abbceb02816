-- trivial.lua -- the `trivial_lua` benchmark plugin: 1.0 when the completion
-- is non-empty, else 0.0.
--
-- The Lua twin of tests/plugins/trivial.c, scored by `make bench`
-- (tests/bench/score.sh) to measure what the Lua adapter costs per sample:
-- pushing the sample, one call into the state, reading the number back. It
-- keeps no state between calls, so it is safe with one Lua state per worker
-- and gives the same result for the same sample.
return {
  name = "trivial_lua",
  version = "1.0",
  description = "1.0 when the completion is non-empty (benchmark plugin: measures the Lua adapter)",
  score = function(sample, config, ctx)
    if sample.completion and #sample.completion > 0 then
      return 1.0
    end
    return 0.0
  end,
}
