-- fieldforce (外勤): the check-in and check-out stamps of visit_flow, the
-- call report's follow-up task, and the target list's coverage (targets.lua).
local geo = require("geo")
local targets = require("targets")
local sys = crm.as_system

local function radius() return tonumber(crm.config.radius_m) or 200 end
local function strict() return crm.config.strict == true end

-- check_in (do: fieldforce.stamp_check_in): the time, the distance to the account's location
-- (the kernel's distance() in whole metres) and whether it is within the radius.
crm.action("stamp_check_in", function(visit, ctx, args)
  if not visit then crm.error("invalid", "stamp_check_in works on a visit") end
  local values = type(args) == "table" and type(args.values) == "table" and args.values or {}
  local point = values.check_in_geo
  if point == nil or point == crm.null then point = visit.check_in_geo end
  local account = sys(crm.get, "account", visit.account)
  local stamp = geo.judge(point, account and account.location, radius(), strict())
  if stamp.refused then crm.error("invalid", stamp.check_in_note, "check_in_geo") end
  stamp.checked_in_at = (type(args) == "table" and args.now) or crm.datetime()
  stamp.refused = nil
  sys(crm.update, "visit", visit.id, stamp)
  return stamp
end)

local function minutes_between(a, b)
  local function secs(t)
    local y, mo, d, h, mi, s = tostring(t):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):?(%d*)")
    if not y then return nil end
    -- days from civil (Howard Hinnant), UTC
    y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
    if mo <= 2 then y = y - 1 end
    local era = (y >= 0 and y or y - 399) // 400
    local yoe = y - era * 400
    local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
    local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    local days = era * 146097 + doe - 719468
    return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + (tonumber(s) or 0)
  end
  local x, y = secs(a), secs(b)
  if not x or not y then return nil end
  return (y - x) // 60
end

-- check_out (do: fieldforce.stamp_check_out): refused without a call report; the time on site.
crm.action("stamp_check_out", function(visit, ctx, args)
  if not visit then crm.error("invalid", "stamp_check_out works on a visit") end
  if sys(crm.count, "call_report", "visit = " .. math.tointeger(visit.id)) == 0 then
    crm.error("invalid", "Write the call report before checking out")
  end
  local now = (type(args) == "table" and args.now) or crm.datetime()
  local duration = minutes_between(visit.checked_in_at, now)
  sys(crm.update, "visit", visit.id, { checked_out_at = now, duration_min = duration and math.max(duration, 0) or crm.null })
end)

crm.on("visit", "after_transition", function(visit, _, ctx)
  if visit.status == "completed" and visit.owner then sys(targets.count_for_visit, visit) end
end)

-- The call report's next step becomes the rep's follow-up task on the account, due on the
-- next visit's day (else in a week); a changed next step renames the open task.
local function follow_up(report)
  local step = report.next_step
  if step == nil or step == crm.null or step:match("^%s*$") then return end
  local visit = crm.get("visit", report.visit)
  if not visit then return end
  local due = report.next_visit_on and (report.next_visit_on .. "T09:00:00Z")
    or crm.datetime(crm.now() + 7 * 86400):sub(1, 10) .. "T09:00:00Z"
  local subject = ("Follow-up: " .. step):sub(1, 200)
  if report.follow_up then
    local task = crm.get("activity", report.follow_up)
    if task and task.status == "open" and (task.subject ~= subject or task.due_at ~= due) then
      crm.update("activity", task.id, { subject = subject, due_at = due })
    end
    return
  end
  local task = crm.create("activity", { kind = "task", subject = subject, due_at = due, status = "open",
    account = visit.account, contact = visit.contact, visit = visit.id, owner = visit.owner or report.owner })
  crm.update("call_report", report.id, { follow_up = task.id })
end

crm.on("call_report", "after_create", function(report) sys(follow_up, report) end)
crm.on("call_report", "after_update", function(report) sys(follow_up, report) end)

-- A call report belongs to a visit that is checked in or done: not to one planned, missed or cancelled.
crm.on("call_report", "before_create", function(new)
  local visit = new.visit and crm.get("visit", new.visit)
  if visit and visit.status ~= "in_progress" and visit.status ~= "completed" then
    error({ field = "visit", message = "Check in to the visit before writing its call report" })
  end
end)

require("demo")
