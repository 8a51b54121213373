-- sla.lua: the SLA clock of the service package. On a new case: its
-- entitlement, SLA policy, due dates in business minutes, two milestones,
-- queue and owner. On each case_flow move (workflows.yaml): first response,
-- pause and resume, resolution, reopening, exact at the move. The timers of
-- workflows.yaml warn, breach and escalate; the actions service.escalate and
-- service.apply_sla; entitlements from confirmed orders of service products.
-- Business time is crm.calendar (the kernel's calendar.c, holidays included).
local M = {}

local OPEN_STATES = { new = true, open = true, waiting_customer = true }
local NEXT_TIER = { l1 = "l2", l2 = "l3", l3 = "l3" }
local TIER_RANK = { l1 = 1, l2 = 2, l3 = 3 }

local function sys(fn, ...) return crm.as_system(fn, ...) end
local function now_text() return crm.datetime() end
local function given(v) return v ~= nil and v ~= crm.null and v ~= "" end

-- Datetimes as stored ("YYYY-MM-DDTHH:MM:SSZ") compare as text.
local function check_time(value, field)
  if type(value) ~= "string" or not value:match("^%d%d%d%d%-%d%d%-%d%dT%d%d:%d%d:%d%dZ$") then
    error({ field = field, message = "expected a datetime YYYY-MM-DDTHH:MM:SSZ" })
  end
  return value
end

local function policy_of(case)
  return given(case.sla_policy) and sys(crm.get, "sla_policy", case.sla_policy) or nil
end

-- due = start + target + paused business minutes; nil without a target
local function due(policy, start, target, paused)
  if not policy or not given(start) or target == nil then return nil end
  return crm.calendar.add_minutes(policy.calendar, start, target + (paused or 0))
end

local function warn_time(policy, start, paused)
  if not policy or policy.resolution_minutes == nil then return nil end
  local lead = math.max(0, policy.resolution_minutes - (policy.warn_minutes or 0))
  return due(policy, start, lead, paused)
end

local function target_of(policy, kind)
  if not policy then return nil end
  if kind == "first_response" then return policy.first_response_minutes end
  return policy.resolution_minutes
end

local function milestones(case_id)
  local rows = sys(crm.query, "case_milestone", { filter = "case = " .. case_id, sort = "id", limit = 10 })
  local by = {}
  for _, m in ipairs(rows) do by[m.kind] = m end
  return by
end

-- The first active policy by priority_order whose applies_when holds for the stored case.
local function pick_policy(case)
  if given(case.entitlement) then
    local ent = sys(crm.get, "entitlement", case.entitlement)
    local product = ent and sys(crm.get, "service_product", ent.service_product)
    local p = product and given(product.sla_policy) and sys(crm.get, "sla_policy", product.sla_policy)
    if p and p.active then return p end
  end
  local policies = sys(crm.query, "sla_policy", { filter = "active = true", sort = "priority_order,id", limit = 200 })
  for _, p in ipairs(policies) do
    if not given(p.applies_when) then return p end
    local ok, n = pcall(sys, crm.count, "case", "id = " .. case.id .. " and (" .. p.applies_when .. ")")
    if not ok then
      crm.log("warn", "sla_policy " .. p.name .. ": applies_when fails: " .. tostring(n))
    elseif n > 0 then
      return p
    end
  end
  return nil
end

-- The active queue of a tier and skill (fallback skill general).
local function pick_queue(tier, skill)
  for _, s in ipairs({ skill or "general", "general" }) do
    local rows = sys(crm.query, "service_queue", { filter = string.format(
      "active = true and tier = '%s' and skill = '%s'", tier, s), sort = "id", limit = 1 })
    if rows[1] then return rows[1] end
  end
  return nil
end

-- The active user of the queue's team with the fewest open cases (ties: lowest id).
local function pick_owner(queue)
  if not queue or not given(queue.team) then return nil end
  local users = sys(crm.query, "user", { filter = "active = true and team = " .. queue.team, sort = "id", limit = 200 })
  local best, fewest
  for _, u in ipairs(users) do
    local n = sys(crm.count, "case", "owner = " .. u.id .. " and status in ('new', 'open', 'waiting_customer')")
    if not fewest or n < fewest then best, fewest = u, n end
  end
  return best and best.id or nil
end

-- Dues of the case and its milestones under policy, keeping paused minutes.
local function clock_values(case, policy)
  local paused = case.sla_paused_minutes or 0
  return {
    sla_policy = policy and policy.id or crm.null,
    first_response_due = due(policy, case.opened_at, target_of(policy, "first_response"), paused) or crm.null,
    resolution_due = due(policy, case.opened_at, target_of(policy, "resolution"), paused) or crm.null,
    warn_at = warn_time(policy, case.opened_at, paused) or crm.null,
  }
end

local function completion(m, at)
  if m.status == "violated" or (given(m.due_at) and at > m.due_at) then return "violated" end
  return "met"
end

-- Creates or refreshes the two milestones of case under policy (completion from the case's stamps).
local function write_milestones(case, policy, now)
  local have = milestones(case.id)
  local stamps = { first_response = case.first_responded_at, resolution = case.resolved_at }
  for _, kind in ipairs({ "first_response", "resolution" }) do
    local m = have[kind]
    local paused = m and m.paused_minutes or (case.sla_paused_minutes or 0)
    local values = {
      policy = policy and policy.id or crm.null, tier = case.tier,
      -- the case's owner: per-agent SLA attainment counts milestones by owner
      owner = given(case.owner) and case.owner or crm.null,
      due_at = due(policy, case.opened_at, target_of(policy, kind), paused) or crm.null,
    }
    local done = stamps[kind]
    if given(done) then
      values.completed_at = done
      values.status = (given(values.due_at) and done > values.due_at) and "violated" or "met"
    elseif given(case.sla_paused_since) then
      values.status, values.paused_since = "paused", case.sla_paused_since
    else
      values.status = (now and given(values.due_at) and now > values.due_at) and "violated" or "running"
    end
    if m then
      sys(crm.update, "case_milestone", m.id, values)
    elseif given(case.opened_at) then
      values.case, values.kind, values.started_at, values.paused_minutes = case.id, kind, case.opened_at, paused
      sys(crm.create, "case_milestone", values)
    end
  end
end

-- ---------------------------------------------------------------- entitlements

local function add_months(day, months)
  local y, m, d = day:match("^(%d+)-(%d+)-(%d+)")
  y, m, d = tonumber(y), tonumber(m) + months, tonumber(d)
  y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
  local last = ({ 31, (y % 4 == 0 and (y % 100 ~= 0 or y % 400 == 0)) and 29 or 28, 31, 30, 31, 30, 31, 31, 30, 31,
                  30, 31 })[m]
  return string.format("%04d-%02d-%02d", y, m, math.min(d, last))
end

-- The account's entitlement valid at day (or today) with incidents left, else an exhausted one.
local function find_entitlement(account, day)
  local today = crm.date()
  local rows = sys(crm.query, "entitlement", { filter = string.format(
    "account = %d and ((starts_on <= '%s' and ends_on >= '%s') or (starts_on <= '%s' and ends_on >= '%s'))",
    account, day, day, today, today), sort = "ends_on,id", limit = 50 })
  local exhausted
  for _, e in ipairs(rows) do
    if e.incidents_left == nil or e.incidents_left > 0 then return e, false end
    exhausted = exhausted or e
  end
  return exhausted, exhausted ~= nil
end

-- ---------------------------------------------------------------- case hooks

-- A new case takes the account's entitlement valid on its day (or today), one with incidents left
-- first. Written by the system after the insert: the caller (a partner, a consumer) may read the
-- field but not set it.
local function attach_entitlement(case)
  if given(case.entitlement) or type(case.account) ~= "number" then return end
  local day = type(case.opened_at) == "string" and case.opened_at:sub(1, 10) or crm.date()
  if not day:match("^%d%d%d%d%-%d%d%-%d%d$") then return end
  local ent = find_entitlement(case.account, day)
  if ent then
    sys(crm.update, "case", case.id, { entitlement = ent.id })
    case.entitlement = ent.id
  end
end

-- An exhausted entitlement (this case took it below zero): refused, or the case is chargeable.
local function exhausted(case)
  if not given(case.entitlement) then return false end
  local ent = sys(crm.get, "entitlement", case.entitlement)
  if not ent or ent.incidents_left == nil or ent.incidents_left >= 0 then return false end
  local product = sys(crm.get, "service_product", ent.service_product)
  if not product or product.when_exhausted ~= "chargeable" then
    crm.error("invalid", "entitlement exhausted: " .. ent.number .. " has no incidents left", "entitlement")
  end
  return true
end

crm.on("case", "after_create", function(case, old, ctx)
  attach_entitlement(case)
  local chargeable = not case.chargeable and exhausted(case)
  local policy = pick_policy(case)
  local values = clock_values(case, policy)
  if chargeable then values.chargeable = true end
  if not given(case.queue) then
    local q = pick_queue(case.tier or "l1", case.skill)
    if q then values.queue = q.id; case.queue = q.id end
  end
  -- Routing: a case nobody owns, or one its creator owns by default, goes to the least busy agent
  -- of its queue's team; an agent of that team who logs a case (a phone call) keeps it.
  if not given(case.owner) or case.owner == case.created_by then
    local q = given(case.queue) and sys(crm.get, "service_queue", case.queue)
    local creator = given(case.created_by) and case.created_by > 0 and sys(crm.get, "user", case.created_by)
    local works_here = q and given(q.team) and creator and creator.team == q.team
    local owner = not works_here and pick_owner(q)
    if owner then values.owner = owner end
  end
  local stored = sys(crm.update, "case", case.id, values)
  write_milestones(stored, policy, nil)
end)

-- A change of the fields a policy reads (priority, say) re-picks it; dues keep the paused minutes (glpi#15605).
crm.on("case", "after_update", function(case, old, ctx)
  if not OPEN_STATES[case.status] or not given(case.opened_at) then return end
  local policy = pick_policy(case)
  local current = given(case.sla_policy) and case.sla_policy or nil
  if (policy and policy.id) == current then return end
  local stored = sys(crm.update, "case", case.id, clock_values(case, policy))
  write_milestones(stored, policy, nil)
end)

-- ---------------------------------------------------------------- the transitions

-- Each case_flow move, told by where it lands: the times it records are those its values gave
-- (the transition fills sla_paused_since, sla_resumed_at, first_responded_at, resolved_at while
-- empty), else now. A hook, not an action: no client can run a step of the clock by itself.

-- open and resolve: the case's stamp (given, else now) completes the milestone of that kind.
local function complete(case, field, kind)
  local at = case[field]
  if given(at) then check_time(at, field) else
    at = now_text()
    sys(crm.update, "case", case.id, { [field] = at })
  end
  local m = milestones(case.id)[kind]
  if m and not given(m.completed_at) then
    sys(crm.update, "case_milestone", m.id, { completed_at = at, status = completion(m, at), paused_since = crm.null })
  end
end

local function pause(case)
  local at = case.sla_paused_since
  local changes = { sla_resumed_at = crm.null }
  if given(at) then
    check_time(at, "sla_paused_since")
    if given(case.opened_at) and at < case.opened_at then
      error({ field = "sla_paused_since", message = "is before the case was opened" })
    end
  else
    at = now_text()
    changes.sla_paused_since = at
  end
  sys(crm.update, "case", case.id, changes)
  for _, m in pairs(milestones(case.id)) do
    if m.status == "running" then sys(crm.update, "case_milestone", m.id, { status = "paused", paused_since = at }) end
  end
end

local function resume(case)
  local since, at = case.sla_paused_since, case.sla_resumed_at
  local changes = { sla_paused_since = crm.null }
  if given(at) then
    check_time(at, "sla_resumed_at")
    if at < since then error({ field = "sla_resumed_at", message = "is before the pause began" }) end
  else
    at = now_text()
    changes.sla_resumed_at = at
  end
  local policy = policy_of(case)
  if policy then
    local paused = (case.sla_paused_minutes or 0) + crm.calendar.minutes_between(policy.calendar, since, at)
    case.sla_paused_minutes = paused
    changes.sla_paused_minutes = paused
    local dues = clock_values(case, policy)
    changes.resolution_due, changes.warn_at = dues.resolution_due, dues.warn_at
    if not given(case.first_responded_at) then changes.first_response_due = dues.first_response_due end
  end
  sys(crm.update, "case", case.id, changes)
  for kind, m in pairs(milestones(case.id)) do
    if m.status == "paused" then
      local add = (policy and given(m.paused_since)) and crm.calendar.minutes_between(policy.calendar, m.paused_since, at) or 0
      local minutes = (m.paused_minutes or 0) + add
      sys(crm.update, "case_milestone", m.id, { status = "running", paused_since = crm.null, paused_minutes = minutes,
        due_at = due(policy, m.started_at, target_of(policy, kind), minutes) or m.due_at or crm.null })
    end
  end
end

-- Reopening: the resolution milestone runs again if it was met (paused and elapsed time kept).
local function reopen(case)
  sys(crm.update, "case", case.id, { resolved_at = crm.null })
  local m = milestones(case.id).resolution
  if m and m.status == "met" then
    sys(crm.update, "case_milestone", m.id, { completed_at = crm.null, status = "running" })
  end
end

crm.on("case", "after_transition", function(case)
  if case.status == "waiting_customer" then pause(case)
  elseif case.status == "resolved" then complete(case, "resolved_at", "resolution")
  elseif case.status == "open" and given(case.sla_paused_since) then resume(case)
  elseif case.status == "open" and given(case.resolved_at) then reopen(case)
  elseif case.status == "open" then complete(case, "first_responded_at", "first_response")
  end
end)

-- ---------------------------------------------------------------- breach and escalation

local function mark_violated(case_id, kind)
  local m = milestones(case_id)[kind]
  if m and (m.status == "running" or m.status == "paused") then
    sys(crm.update, "case_milestone", m.id, { status = "violated" })
  end
end

-- One tier up (or to `to`), re-queued and re-assigned to the new queue's team.
local function escalate(case, to)
  local tier = to
  if not tier or (TIER_RANK[tier] or 0) <= (TIER_RANK[case.tier] or 1) then tier = NEXT_TIER[case.tier or "l1"] or "l2" end
  local values = { tier = tier }
  local q = pick_queue(tier, case.skill)
  if q then
    values.queue = q.id
    values.owner = pick_owner(q)
  end
  sys(crm.update, "case", case.id, values)
  for _, m in pairs(milestones(case.id)) do
    if m.status == "running" or m.status == "paused" then sys(crm.update, "case_milestone", m.id, { tier = tier }) end
  end
  return tier
end

-- The timers' steps (workflows.yaml). Clients cannot call them (plugin.yaml does not declare them:
-- POST .../actions/ answers 404); a plugin's code or test calling one by hand is refused too.
local function from_timer(case, args, name)
  if not case or type(args) ~= "table" or args.workflow ~= "case_flow" then
    crm.error("conflict", "service." .. name .. " is a step of the case_flow timers; escalate by hand with service.escalate")
  end
end

crm.action("sla_first_response_breach", function(case, ctx, args)
  from_timer(case, args, "sla_first_response_breach")
  mark_violated(case.id, "first_response")
end)

crm.action("sla_breach", function(case, ctx, args)
  from_timer(case, args, "sla_breach")
  mark_violated(case.id, "resolution")
  local policy = policy_of(case)
  escalate(case, policy and policy.escalate_to_tier)
end)

-- By hand: one tier up, re-queued, with who and why in the activity trail.
crm.action("escalate", function(case, ctx, args)
  if not case then crm.error("invalid", "service.escalate runs on a case") end
  if not OPEN_STATES[case.status] then
    crm.error("conflict", "a " .. tostring(case.status) .. " case is not escalated")
  end
  if case.tier == "l3" then crm.error("conflict", "the case is already at the last tier (l3)") end
  local reason = type(args) == "table" and args.reason or nil
  if reason ~= nil and (type(reason) ~= "string" or #reason > 500) then
    crm.error("invalid", "reason: a text of at most 500 characters", "reason")
  end
  local who = ctx.user and sys(crm.get, "user", ctx.user)
  local from = case.tier or "l1"
  crm.update("case", case.id, { tier = NEXT_TIER[from] or "l2" })   -- as the caller: who may change the case
  local tier = escalate(case, nil)
  sys(crm.create, "activity", { kind = "note", status = "done",
    account = given(case.account) and case.account or crm.null,
    subject = string.format("%s escalated %s to %s by %s", case.number or ("case " .. case.id), from, tier,
      who and who.name or "the system"),
    description = reason or crm.null })
  return crm.get("case", case.id)
end)

-- Recomputes the policy, dues and milestones of an existing case (before the package, or after a policy change).
function M.apply(case_id)
  local case = sys(crm.get, "case", case_id)
  if not case then crm.error("not_found", "no case with id " .. tostring(case_id)) end
  local policy = pick_policy(case)
  local stored = sys(crm.update, "case", case.id, clock_values(case, policy))
  write_milestones(stored, policy, now_text())
  return stored
end

crm.action("apply_sla", function(case)
  if not case then crm.error("invalid", "service.apply_sla runs on a case") end
  M.apply(case.id)
  return crm.get("case", case.id)
end)

-- ---------------------------------------------------------------- policies and entitlements

local function check_policy(new, old)
  local expr = new.applies_when
  if expr == nil and old then expr = old.applies_when end
  if given(expr) then
    local ok, err = pcall(crm.count, "case", expr)
    if not ok then
      error({ field = "applies_when", message = "is not an expression over the case: " ..
        tostring(err):gsub("^crm%.count: ", ""):sub(1, 300) })
    end
  end
  local cal = new.calendar
  if cal ~= nil and cal ~= crm.null then
    local ok = pcall(crm.calendar.is_business_time, tostring(cal), "2026-01-01T00:00:00Z")
    if not ok then error({ field = "calendar", message = "unknown calendar '" .. tostring(cal) .. "'" }) end
  end
end

crm.on("sla_policy", "before_create", function(new) check_policy(new, nil) end)
crm.on("sla_policy", "before_update", function(new, old) check_policy(new, old) end)

-- An entitlement takes the incidents its service product includes, unless given.
crm.on("entitlement", "before_create", function(new)
  if new.incidents_included == nil and given(new.service_product) and type(new.service_product) == "number" then
    local product = sys(crm.get, "service_product", new.service_product)
    if product then new.incidents_included = product.incidents_included end
  end
end)

-- The entitlement of a sold service product: starts today, ends after its term.
local function entitle(line, order)
  if not order or order.status ~= "confirmed" or not given(order.account) then return end
  local products = sys(crm.query, "service_product", { filter = "product = " .. line.product, sort = "id", limit = 1 })
  local product = products[1]
  if not product then return end
  if sys(crm.count, "entitlement", "order_line = " .. line.id) > 0 then return end
  local today = crm.date()
  sys(crm.create, "entitlement", { account = order.account, service_product = product.id, order_line = line.id,
    starts_on = today, ends_on = add_months(today, product.term_months or 12),
    incidents_included = product.incidents_included })
end

crm.on("order_line", "after_create", function(line)
  entitle(line, sys(crm.get, "sales_order", line.order))
end)

-- An order confirmed (order_flow's confirm) entitles its lines.
crm.on("sales_order", "after_transition", function(order)
  if order.status ~= "confirmed" then return end
  local lines = sys(crm.query, "order_line", { filter = "order = " .. order.id, sort = "id", limit = 1000 })
  for _, line in ipairs(lines) do entitle(line, order) end
end)

return M
