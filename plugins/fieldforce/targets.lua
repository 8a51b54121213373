-- The target list's coverage: a target's last completed visit (by its rep, to its account and,
-- for a contact's target, that contact) and the completed visits of that month, from which the
-- formulas visits_this_month, covered and attainment follow.
local M = {}

local function next_month(month)
  local y, m = tonumber(month:sub(1, 4)), tonumber(month:sub(6, 7))
  if m == 12 then y, m = y + 1, 1 else m = m + 1 end
  return string.format("%04d-%02d-01", y, m)
end

local function base_filter(target)
  local filter = "owner = " .. math.tointeger(target.rep) .. " and account = " .. math.tointeger(target.account)
    .. " and status = 'completed' and checked_in_at != null"
  if target.contact then filter = filter .. " and contact = " .. math.tointeger(target.contact) end
  return filter
end

-- Recounts one target from its visits (as the caller: run it as the system).
function M.recount(target)
  local filter = base_filter(target)
  local last = crm.query("visit", { filter = filter, sort = "-checked_in_at", fields = "checked_in_at", limit = 1 })[1]
  local values = { last_visited_on = crm.null, visits_last_month = crm.null }
  if last then
    local day = last.checked_in_at:sub(1, 10)
    local month = day:sub(1, 7) .. "-01"
    values.last_visited_on = day
    values.visits_last_month = crm.count("visit", filter .. " and checked_in_at >= '" .. month
      .. "' and checked_in_at < '" .. next_month(month) .. "'")
  end
  if values.last_visited_on ~= (target.last_visited_on or crm.null)
    or values.visits_last_month ~= (target.visits_last_month or crm.null) then
    crm.update("visit_target", target.id, values)
  end
end

-- The targets a completed visit counts for: the rep's on its account, account-wide or its contact's.
function M.count_for_visit(visit)
  if not visit.owner or not visit.account then return end
  local targets = crm.query("visit_target", { filter = "rep = " .. math.tointeger(visit.owner) .. " and account = "
    .. math.tointeger(visit.account), limit = 100 })
  for _, target in ipairs(targets) do
    if target.contact == nil or target.contact == visit.contact then M.recount(target) end
  end
end

return M
