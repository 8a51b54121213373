-- sales: lead scoring, the public lead pool and stale leads.
-- Every crm.* function used here is described in sdk/lua-api.md.

local RATING = { hot = 30, warm = 15, cold = 0 }
local SOURCE = { referral = 20, partner = 15, event = 10, web = 10, campaign = 5, cold_call = 0 }
local OPEN = "status in ('new', 'working')"

-- The score of a lead, 0..100, from what is known about it.
local function score(lead)
  if lead.status == "disqualified" then return 0 end
  local points = (RATING[lead.rating] or 0) + (SOURCE[lead.source] or 0)
  if lead.email then points = points + 10 end
  if lead.phone then points = points + 10 end
  if lead.title then points = points + 5 end
  local value = lead.estimated_value or 0
  if value >= 100000 then
    points = points + 25
  elseif value >= 10000 then
    points = points + 10
  end
  return math.min(points, 100)
end

-- The lead as it will be: the incoming values over the stored record (crm.null clears).
local function merged(new, old)
  local lead = {}
  for field, value in pairs(old or {}) do lead[field] = value end
  for field, value in pairs(new) do
    if value == crm.null then lead[field] = nil else lead[field] = value end
  end
  return lead
end

crm.on("lead", "before_create", function(new)
  new.score = score(merged(new))
end)

crm.on("lead", "before_update", function(new, old)
  new.score = score(merged(new, old))
end)

-- POST /api/v1/objects/lead/{id}/actions/sales.claim: take an ownerless lead from the pool.
-- One transaction: the count and the update cannot race another claim.
crm.action("claim", function(lead, ctx)
  if not lead then crm.error("invalid", "claim works on a lead: name its id") end
  if not ctx.user then crm.error("denied", "sign in to claim a lead") end
  if lead.owner then crm.error("conflict", "this lead already has an owner") end
  if lead.status ~= "new" and lead.status ~= "working" then
    crm.error("conflict", "only new or working leads can be claimed")
  end
  local limit = crm.config.claim_limit
  local held = crm.count("lead", "owner = $me and " .. OPEN)
  if held >= limit then
    crm.error("conflict", string.format("you already hold %d open leads (the limit is %d): "
      .. "work on them or release some first", held, limit))
  end
  return crm.as_system(function()
    return crm.update("lead", lead.id, { owner = ctx.user, status = "working" })
  end)
end)

-- POST .../lead/{id}/actions/sales.release: give a lead you own back to the pool.
crm.action("release", function(lead, ctx)
  if not lead then crm.error("invalid", "release works on a lead: name its id") end
  if not ctx.user or lead.owner ~= ctx.user then crm.error("denied", "only the lead's owner can release it") end
  return crm.as_system(function()
    return crm.update("lead", lead.id, { owner = crm.null })
  end)
end)

-- Owned open leads nobody touched for stale_days go back to the pool.
crm.job("return_stale_leads", "every 1h", function(ctx)
  local filter = string.format("not (owner is null) and %s and days_between(updated_at, today()) > %d",
    OPEN, crm.config.stale_days)
  local returned = 0
  repeat
    local leads = crm.query("lead", { filter = filter, limit = 100, fields = "id" })
    for _, lead in ipairs(leads) do
      crm.as_system(function() crm.update("lead", lead.id, { owner = crm.null }) end)
      returned = returned + 1
    end
  until #leads < 100
  if returned > 0 then crm.log("info", returned .. " stale leads went back to the pool") end
end)

-- GET /api/v1/plugins/sales/pipeline: open pipeline by stage, as the caller sees it.
crm.route("GET", "/sales/pipeline", function(req, ctx)
  local rows = crm.aggregate("opportunity", { group = "stage", measures = "count,sum(amount)" })
  local total = 0
  for _, row in ipairs(rows) do total = total + (row.sum_amount or 0) end
  return { status = 200, json = { stages = rows, total = total } }
end)
