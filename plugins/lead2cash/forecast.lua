-- Forecast figures: the deals of a forecast's owner and everyone below them in
-- the manager tree, closing in the period, summed by forecast category. Won
-- deals count as closed; lost and omitted ones not at all.
local M = {}

-- The owner and everyone reporting to them, all the way down (at most 1,000 people).
local function team_of(owner)
  local ids, frontier = { owner }, { owner }
  while #frontier > 0 and #ids < 1000 do
    local reports = crm.query("user", { filter = "manager in (" .. table.concat(frontier, ",") .. ")",
      fields = "id", limit = 1000 })
    frontier = {}
    for _, user in ipairs(reports) do
      ids[#ids + 1] = user.id
      frontier[#frontier + 1] = user.id
    end
  end
  return ids
end

function M.recalculate(forecast)
  return crm.as_system(function()
    local filter = string.format("owner in (%s) and close_date >= '%s' and close_date <= '%s' "
      .. "and stage <> 'lost' and forecast_category <> 'omitted'",
      table.concat(team_of(forecast.owner), ","), forecast.period_start, forecast.period_end)
    local sums = { pipeline = 0, best_case = 0, commit = 0, closed = 0 }
    local deals = 0
    local rows = crm.aggregate("opportunity", { group = "stage,forecast_category",
      measures = "count,sum(amount)", filter = filter })
    for _, row in ipairs(rows) do
      local category = row.stage == "won" and "closed" or row.forecast_category
      sums[category] = (sums[category] or 0) + (row.sum_amount or 0)
      deals = deals + row.count
    end
    return crm.update("forecast", forecast.id, { pipeline = sums.pipeline, best_case = sums.best_case,
      commit = sums.commit, closed = sums.closed, deal_count = deals, calculated_at = crm.datetime() })
  end)
end

return M
