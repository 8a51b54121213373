-- The lead centre (线索中心): a web, app or phone lead with a location or a
-- known city goes to the nearest authorised sales dealer with room (open
-- leads under its cap, today's routings under its daily cap), found with the
-- kernel's within() index in widening circles, never a scan of every dealer.
-- The timer dealer_timeout (lead_flow, untouched_for 2h) moves a lead its
-- dealer has not touched to the next-nearest dealer it has not been offered
-- to; after config.max_routes dealers it goes back to the lead centre's pool
-- (owner: config.pool_owner). Every offer is a lead_routing row.

local places = require("places")

local M = {}

local RADII = { 25000, 100000 }          -- then config.max_distance_m
local ROUTED_CHANNELS = { web = true, app = true, phone = true }

local function cfg(name, default)
  local v = tonumber(crm.config[name])
  return v or default
end

local function day_start(now) return crm.date(now) .. "T00:00:00Z" end

-- whether a dealer takes one more lead now
local function has_room(dealer, now)
  if (dealer.open_leads or 0) >= (dealer.open_lead_cap or 0) then return false end
  local today = crm.count("lead_routing", "dealer = " .. dealer.id .. " and routed_at >= '" .. day_start(now) ..
    "' and reason != 'pool'")
  return today < (dealer.daily_lead_cap or 0)
end

-- the nearest dealer with room around point p that is not in tried, and its distance in metres
function M.nearest(p, tried, now)
  local radii = { table.unpack(RADII) }
  radii[#radii + 1] = cfg("max_distance_m", 300000)
  local seen = {}
  for _, r in ipairs(radii) do
    local filter = string.format("dealer_code != null and authorised = true and sales_capable = true and " ..
      "within(location, point(%.6f, %.6f), %d)", p.lat, p.lng, math.floor(r))
    local rows = crm.query("partner", { filter = filter, limit = 200,
      fields = "id,name,location,open_leads,open_lead_cap,daily_lead_cap" })
    local ranked = {}
    for _, d in ipairs(rows) do
      if not tried[d.id] and not seen[d.id] then
        local at = places.point(d.location)
        if at then ranked[#ranked + 1] = { dealer = d, metres = places.metres(p, at) } end
      end
    end
    table.sort(ranked, function(a, b)
      if a.metres ~= b.metres then return a.metres < b.metres end
      return a.dealer.id < b.dealer.id
    end)
    for _, c in ipairs(ranked) do
      seen[c.dealer.id] = true
      if has_room(c.dealer, now) then return c.dealer, c.metres end
    end
  end
  return nil
end

-- the routing rows of a lead, oldest first
local function history(lead_id)
  return crm.query("lead_routing", { filter = "lead = " .. lead_id, sort = "routed_at,id", limit = 1000,
    fields = "id,dealer,outcome,reason" })
end

-- closes the pending offer of a lead with an outcome
local function close_pending(rows, outcome)
  for _, row in ipairs(rows) do
    if row.outcome == "pending" then crm.update("lead_routing", row.id, { outcome = outcome }) end
  end
end

local function pool_owner()
  local login = crm.config.pool_owner
  if type(login) ~= "string" then return nil end
  local user = crm.query("user", { filter = "login = '" .. login:gsub("'", "''") .. "' and active = true", limit = 1,
    fields = "id" })[1]
  return user and user.id
end

local function to_pool(lead, now, reason)
  crm.create("lead_routing", { lead = lead.id, routed_at = crm.datetime(now), reason = reason, outcome = "pooled" })
  local values = { preferred_dealer = crm.null, routing_state = "pool", routed_at = crm.datetime(now) }
  local owner = pool_owner()
  if owner then values.owner = owner end
  return crm.update("lead", lead.id, values)
end

local function offer(lead, dealer, metres, reason, now, count)
  crm.create("lead_routing", { lead = lead.id, dealer = dealer.id, routed_at = crm.datetime(now), reason = reason,
    distance_km = metres and math.floor(metres / 100 + 0.5) / 10 or nil })
  return crm.update("lead", lead.id, { preferred_dealer = dealer.id, routing_state = "routed",
    routed_at = crm.datetime(now), route_count = count })
end

-- Offers the lead to the next dealer (reason: nearest, timeout or manual); to the pool when
-- it has been offered to max_routes dealers (not for a manual re-route) or no dealer has room.
-- Runs as the system. Returns the lead as written.
function M.route(lead, reason, now)
  now = now or crm.now()
  local rows = history(lead.id)
  local tried, offers = {}, 0
  for _, row in ipairs(rows) do
    if row.dealer and row.reason ~= "pool" then tried[row.dealer] = true; offers = offers + 1 end
  end
  close_pending(rows, reason == "manual" and "moved" or "timed_out")
  if reason == "timeout" and offers >= cfg("max_routes", 3) then return to_pool(lead, now, "pool") end
  local p = places.of_lead(lead)
  local dealer, metres
  if p then dealer, metres = M.nearest(p, tried, now) end
  if not dealer then return to_pool(lead, now, offers == 0 and "no_dealer" or "pool") end
  return offer(lead, dealer, metres, reason, now, offers + 1)
end

-- Offers the lead to a named dealer (the lead centre's choice; capacity is theirs to judge).
function M.route_to(lead, dealer_id, now)
  now = now or crm.now()
  local dealer = crm.get("partner", dealer_id)
  if not dealer or not dealer.dealer_code then crm.error("invalid", "not a dealer: " .. tostring(dealer_id), "preferred_dealer") end
  if dealer.authorised == false then crm.error("invalid", "dealer " .. dealer.dealer_code .. " is not authorised", "preferred_dealer") end
  local rows = history(lead.id)
  local offers = 0
  for _, row in ipairs(rows) do if row.dealer and row.reason ~= "pool" then offers = offers + 1 end end
  close_pending(rows, "moved")
  local p, at = places.of_lead(lead), places.point(dealer.location)
  return offer(lead, dealer, p and at and places.metres(p, at) or nil, "manual", now, offers + 1)
end

-- a new lead: web, app and phone leads with a point are routed at once; a lead created with its
-- dealer (a showroom walk-in) is recorded as routed to it
crm.on("lead", "after_create", function(lead)
  crm.as_system(function()
    if lead.preferred_dealer then
      M.route_to(lead, lead.preferred_dealer)
    elseif ROUTED_CHANNELS[lead.channel] and places.of_lead(lead) then
      M.route(lead, "nearest")
    end
  end)
end)

-- the dealer touched the lead (it left `new`): its offer is answered
local function touched(lead)
  if lead.routing_state ~= "routed" or lead.status == "new" then return end
  crm.as_system(function()
    for _, row in ipairs(crm.query("lead_routing", { filter = "lead = " .. lead.id .. " and outcome = 'pending'",
      fields = "id", limit = 10 })) do
      crm.update("lead_routing", row.id, { outcome = "contacted" })
    end
  end)
end
crm.on("lead", "after_update", touched)
crm.on("lead", "after_transition", touched)

-- the timer's step: an untouched lead moves on (args.now is the run's time)
crm.action("dealer_timeout", function(lead, ctx, args)
  return crm.as_system(M.route, crm.get("lead", lead.id), "timeout", type(args) == "table" and places.epoch(args.now) or nil)
end)

local CENTRE_ROLES = { lead_centre_agent = true, brand_manager = true, admin = true }

-- the lead centre's button: { "dealer": id } offers it to that dealer, no body to the next-nearest
crm.action("reroute", function(lead, ctx, args)
  local user = ctx.user and crm.as_system(crm.get, "user", ctx.user)
  if ctx.user and not (user and CENTRE_ROLES[user.role]) then
    crm.error("denied", "only the lead centre re-routes leads")
  end
  local dealer = type(args) == "table" and args.dealer or nil
  if dealer ~= nil and dealer ~= crm.null and math.type(dealer) ~= "integer" then
    crm.error("invalid", "dealer must be a partner id", "preferred_dealer")
  end
  return crm.as_system(function()
    if dealer and dealer ~= crm.null then return M.route_to(crm.get("lead", lead.id), dealer) end
    return M.route(crm.get("lead", lead.id), "manual")
  end)
end)

return M
