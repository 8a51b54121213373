-- The package's demo data, run by `crm demo` after the base records (a manual
-- job): two territories (field_rep1 around Shanghai, field_rep2 around Beijing)
-- over demo accounts that have a location, their target lists with visit
-- frequencies, plans for the last four weeks and the next week (done,
-- approved, submitted, draft), visits in every state with check-ins near the
-- account and a few far from it (one from a mock location), call reports and
-- their follow-up tasks; and today's plan for field_rep1: seven visits in
-- route order, two done, one checked in, four to go. Deterministic for a
-- database: fixed choices, dates counted from the day `crm demo` runs.
local targets = require("targets")

local DAY = 86400

local TERRITORIES = {
  -- rep login, territory, region, centre
  { "field_rep1", "Shanghai East", "East China", 31.2304, 121.4737 },
  { "field_rep2", "Beijing North", "North China", 39.9042, 116.4074 },
}

local MESSAGES = {
  "Walked through the core line's new price list and the volume tiers",
  "Presented the premium line's case study; asked for a trial in one department",
  "Reviewed last quarter's orders and the delivery issues; agreed a fix",
  "Introduced the new launch; the buyer wants samples before the next meeting",
  "Trained the store team on the promotion display and the service plan",
}
local NEXT_STEPS = { "Send the revised quote", "Bring samples of the new launch", "Book a demo with the department head",
                     "Confirm the trial order", "Share the service plan terms" }
local PRODUCTS = { { "core" }, { "premium", "service" }, { "core", "promotion" }, { "new_launch" }, { "core", "new_launch" } }
local OUTCOMES = { "positive", "positive", "neutral", "positive", "negative" }
local PURPOSES = { "detailing", "follow_up", "order_taking", "detailing", "merchandising", "service" }

local function user_id(login)
  local u = crm.query("user", { filter = "login = '" .. login .. "'", fields = "id", limit = 1 })[1]
  return u and u.id
end

local function days_of(date)
  local y, m, d = date:match("^(%d+)-(%d+)-(%d+)")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  return era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
end

-- a time on the day `days` from today: minutes after 00:00 UTC (08:00 Shanghai is 00:00 UTC)
local function at(today, days, minutes)
  return crm.datetime((today + days) * DAY + minutes * 60)
end

-- accounts with a location, nearest the centre first (within 300 km), then any, none taken twice
local function pick_accounts(lat, lng, n, taken)
  local out = {}
  local near = crm.query("account", { filter = string.format("within(location, point(%.4f, %.4f), 300000)", lat, lng),
    sort = "id", fields = "id,location", limit = n * 2 })
  local rest = crm.query("account", { filter = "location != null", sort = "id", fields = "id,location", limit = 200 })
  for _, list in ipairs({ near, rest }) do
    for _, a in ipairs(list) do
      if #out < n and not taken[a.id] then taken[a.id] = true; out[#out + 1] = a end
    end
  end
  return out
end

local function first_contact(account)
  local c = crm.query("contact", { filter = "account = " .. account, sort = "id", fields = "id", limit = 1 })[1]
  return c and c.id
end

-- a point about `metres` north-east of a location (1 degree of latitude is about 111 km)
local function near(location, metres)
  local d = metres / 111320 / math.sqrt(2)
  return { lat = math.floor((location.lat + d) * 1e6 + 0.5) / 1e6,
           lng = math.floor((location.lng + d / math.cos(location.lat * math.pi / 180)) * 1e6 + 0.5) / 1e6 }
end

-- One visit through its life: outcome "completed", "far", "mock", "in_progress", "missed", "cancelled" or "planned".
local function live(visit, account, outcome, k, start)
  if outcome == "planned" then return end
  if outcome == "missed" then crm.transition("visit", visit.id, "miss"); return end
  if outcome == "cancelled" then crm.transition("visit", visit.id, "cancel"); return end
  local metres = (outcome == "far") and (1500 + (k * 317) % 1500) or (15 + (k * 37) % 140)
  local values = { check_in_geo = near(account.location, metres) }
  if outcome == "mock" then values.mock_location = true end
  crm.transition("visit", visit.id, "check_in", values)
  local checked_in = crm.datetime(start + ((k * 7) % 15) * 60)
  crm.update("visit", visit.id, { checked_in_at = checked_in })
  if outcome == "in_progress" then return end
  crm.create("call_report", { visit = visit.id, products_discussed = PRODUCTS[k % 5 + 1], key_message = MESSAGES[k % 5 + 1],
    outcome = OUTCOMES[k % 5 + 1], next_step = (k % 3 ~= 2) and NEXT_STEPS[k % 5 + 1] or nil,
    next_visit_on = (k % 3 ~= 2) and crm.date(start + (7 + k % 14) * DAY) or nil, owner = visit.owner })
  crm.transition("visit", visit.id, "check_out")
  local minutes = 20 + (k * 13) % 45
  crm.update("visit", visit.id, { checked_out_at = crm.datetime(start + ((k * 7) % 15 + minutes) * 60),
    duration_min = minutes })
end

crm.job("demo", "manual", function()
  if crm.count("territory") > 0 or crm.count("account", "location != null") == 0 then return end
  local today = days_of(crm.date())
  local taken, k = {}, 0
  for r, t in ipairs(TERRITORIES) do
    local rep = user_id(t[1])
    if not rep then goto next_rep end
    local territory = crm.create("territory", { name = t[2], rep = rep, region = t[3], owner = rep,
      description = "Accounts around " .. t[2]:match("^%S+") .. " and their visit frequencies" })
    local accounts = pick_accounts(t[4], t[5], 12, taken)
    local list = {}
    for i, a in ipairs(accounts) do
      local segment = i <= 4 and "a" or i <= 9 and "b" or "c"
      list[i] = { account = a, contact = first_contact(a.id) }
      crm.create("visit_target", { territory = territory.id, rep = rep, account = a.id, owner = rep,
        contact = (segment == "a") and list[i].contact or nil, segment = segment,
        frequency_per_month = segment == "a" and 4 or segment == "b" and 2 or 1,
        priority = segment == "a" and "high" or segment == "c" and "low" or "normal" })
    end
    if #list == 0 then goto next_rep end
    -- plans: weekdays of the last four weeks and the next week, and today whatever day it is
    for d = -28, 7 do
      local weekday = (today + d + 3) % 7          -- 0 Monday .. 6 Sunday
      if weekday >= 5 and d ~= 0 then goto next_day end
      do
        local plan = crm.create("visit_plan", { rep = rep, day = crm.date((today + d) * DAY), owner = rep })
        local n = (d == 0 and r == 1) and 7 or 4 + (d + r) % 3
        local visits = {}
        for i = 1, n do
          k = k + 1
          local target = list[(d * 3 + i + r) % #list + 1]
          local start = (today + d) * DAY + (i - 1) * 75 * 60 + 60 * 60
          local visit = crm.create("visit", { plan = plan.id, account = target.account.id, route_order = i,
            contact = target.contact, purpose = PURPOSES[k % #PURPOSES + 1], planned_start = crm.datetime(start), owner = rep })
          visits[i] = { visit = visit, target = target, start = start }
        end
        -- the plan's way: submitted and approved by the rep's manager, unless it is still ahead
        local steps = { "submit", "approve" }
        if d > 0 then steps = (r == 1 and d <= 3) and { "submit", "approve" } or (r == 1 or d <= 2) and { "submit" } or {} end
        for _, step in ipairs(steps) do crm.transition("visit_plan", plan.id, step) end
        for i, v in ipairs(visits) do
          local outcome = "planned"
          if d < 0 then
            local h = (d * 7 + i * 3 + r * 5) % 20
            outcome = h == 0 and "missed" or h == 1 and "cancelled" or (h == 2 or h == 3) and "far" or h == 4 and "mock"
              or "completed"
          elseif d == 0 then
            outcome = i <= 2 and "completed" or i == 3 and "in_progress" or "planned"
          end
          live(v.visit, v.target.account, outcome, k + i, v.start)
        end
        if d < -7 then crm.transition("visit_plan", plan.id, "close") end
      end
      ::next_day::
    end
    -- coverage from the visits' real days, and old follow-ups done
    for _, target in ipairs(crm.query("visit_target", { filter = "rep = " .. rep, limit = 100 })) do targets.recount(target) end
    local old = crm.query("activity", { filter = "owner = " .. rep .. " and visit != null and due_at < '"
      .. crm.date((today - 3) * DAY) .. "'", fields = "id", limit = 1000 })
    for _, task in ipairs(old) do crm.update("activity", task.id, { status = "done" }) end
    ::next_rep::
  end
end)
