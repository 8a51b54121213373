-- Training and tiers: certifications past valid_to expire; tier_review puts
-- each partner in the highest programme whose thresholds its valid
-- certifications (certified_people) and won revenue (won_revenue) meet, and
-- tells its channel manager when that changes. Jobs run as the system.

local M = {}

local RANK = { registered = 1, silver = 2, gold = 3, platinum = 4 }

-- every record of object matching filter, page by page
local function each(object, options, fn)
  local after
  repeat
    local o = {}
    for k, v in pairs(options) do o[k] = v end
    o.limit, o.after = 500, after
    local rows
    rows, after = crm.query(object, o)
    for _, r in ipairs(rows) do fn(r) end
  until after == nil
end

-- (scope: an extra filter, "partner = 12")
function M.expire_certifications(scope)
  local n = 0
  each("certification", { filter = "status = 'valid' and valid_to < '" .. crm.date() .. "'" ..
    (scope and " and " .. scope or ""), sort = "id",
    fields = "id" }, function(c)
      crm.update("certification", c.id, { status = "expired" })
      n = n + 1
    end)
  return n
end

-- the programme a partner qualifies for: the highest tier whose thresholds it meets
function M.qualifies(programs, certified, won)
  local best
  for _, p in ipairs(programs) do
    if (certified or 0) >= (p.min_certified or 0) and (won or 0) >= (p.min_revenue or 0)
      and (best == nil or RANK[p.tier] > RANK[best.tier]) then
      best = p
    end
  end
  return best
end

function M.review(scope)
  local programs = crm.query("partner_program", { sort = "id", limit = 100 })
  if #programs == 0 then return 0 end
  local changed = 0
  each("partner", { filter = scope, sort = "id",
    fields = "id,name,tier,program,certified_people,won_revenue,channel_manager" },
    function(p)
      local best = M.qualifies(programs, p.certified_people, p.won_revenue)
      if best and (best.tier ~= p.tier or best.id ~= p.program) then
        crm.update("partner", p.id, { tier = best.tier, program = best.id })
        changed = changed + 1
        if p.channel_manager and best.tier ~= p.tier then
          local way = RANK[best.tier] > (RANK[p.tier] or 0) and "promoted" or "demoted"
          crm.create("notification", { user = p.channel_manager, object_name = "partner", record_id = p.id,
            title = ("Partner %s %s from %s to %s"):format(p.name, way, p.tier or "none", best.tier):sub(1, 300) })
        end
      end
    end)
  return changed
end

crm.job("expire_certifications", "at 00:10", function() M.expire_certifications() end)
crm.job("tier_review", "at 00:20", function() M.review() end)

-- "Review tier" on a partner's page, for its channel manager or an admin (after a batch of
-- certifications, say): its certifications' expiry, then its review, as the jobs run them.
crm.action("review_tier", function(partner, ctx)
  if not partner then crm.error("invalid", "channel.review_tier runs on a partner") end
  local me = ctx.user and crm.as_system(crm.get, "user", ctx.user)
  if not me or not (me.role == "admin" or (me.role == "channel_manager" and partner.channel_manager == me.id)) then
    crm.error("denied", "only the partner's channel manager or an administrator reviews its tier")
  end
  return crm.as_system(function()
    local expired = M.expire_certifications("partner = " .. partner.id)
    local changed = M.review("id = " .. partner.id)
    return { expired = expired, changed = changed, tier = crm.get("partner", partner.id).tier }
  end)
end)
