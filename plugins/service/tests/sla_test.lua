-- Tests of the SLA clock: crm plugin test service (the stories over REST with the
-- clock driven by `crm timer --at` are tests/api/service_sla_test.py).
-- cn_office: Monday to Friday 09:00-18:00 Asia/Shanghai (UTC+8).

local FRIDAY_17 = "2030-12-06T09:00:00Z"

local function raises(fn, text, ...)
  local ok, err = pcall(fn, ...)
  assert(not ok, "expected an error with " .. text)
  assert(tostring(err):find(text, 1, true), tostring(err))
end

local function gold()
  return crm.create("sla_policy", { name = "Gold test", calendar = "cn_office", priority_order = 1,
    applies_when = "priority = 'high'", first_response_minutes = 60, resolution_minutes = 480, warn_minutes = 60 })
end

function test_calendar_functions_count_business_time()
  assert(crm.calendar.add_minutes("cn_office", FRIDAY_17, 60) == "2030-12-06T10:00:00Z")
  assert(crm.calendar.add_minutes("cn_office", FRIDAY_17, 480) == "2030-12-09T08:00:00Z", "Monday 16:00")
  assert(crm.calendar.add_minutes("cn_office", "2030-12-07T02:00:00Z", 0) == "2030-12-09T01:00:00Z",
    "Saturday: the next start, Monday 09:00")
  assert(crm.calendar.minutes_between("cn_office", "2030-12-09T02:00:00Z", "2030-12-09T04:00:00Z") == 120)
  assert(crm.calendar.minutes_between("cn_office", "2030-12-09T04:00:00Z", "2030-12-09T02:00:00Z") == -120)
  assert(crm.calendar.is_business_time("cn_office", FRIDAY_17) == true)
  assert(crm.calendar.is_business_time("cn_office", "2030-12-07T02:00:00Z") == false, "Saturday")
  assert(crm.calendar.add_minutes("cn_office", "2030-12-06T09:00Z", 60) == "2030-12-06T10:00:00Z", "seconds optional")
end

function test_calendar_functions_read_holiday_records()
  crm.create("holiday", { calendar = "cn_office", day = "2030-12-09", name = "Test" })
  assert(crm.calendar.add_minutes("cn_office", FRIDAY_17, 480) == "2030-12-10T08:00:00Z", "Tuesday 16:00")
  assert(crm.calendar.is_business_time("cn_office", "2030-12-09T02:00:00Z") == false, "the holiday")
end

function test_calendar_functions_refuse_bad_input()
  raises(crm.calendar.add_minutes, "unknown calendar 'atlantis'", "atlantis", FRIDAY_17, 60)
  raises(crm.calendar.add_minutes, "negative minutes", "cn_office", FRIDAY_17, -5)
  raises(crm.calendar.add_minutes, "is not a datetime", "cn_office", "Friday", 5)
  raises(crm.calendar.add_minutes, "is not a datetime", "cn_office", "2030-13-06T09:00:00Z", 5)
  raises(crm.calendar.add_minutes, "is not a datetime", "cn_office", "2030-12-06T09:00:00+08:00", 5)
  raises(crm.calendar.add_minutes, "is not a datetime", "cn_office", "2030-12-06T-1:00:00Z", 5)
  raises(crm.calendar.add_minutes, "is not a datetime", "cn_office", "2030-12-06T 9:00:00Z", 5)
  raises(crm.calendar.is_business_time, "is not a datetime", "cn_office", "2030-12-06T09:00:00Z\0")
  raises(crm.calendar.minutes_between, "expected a datetime", "cn_office", 12, FRIDAY_17)
  raises(crm.calendar.is_business_time, "expected a datetime", "cn_office", nil)
  raises(crm.calendar.add_minutes, "number", "cn_office", FRIDAY_17, "sixty")
  raises(crm.calendar.add_minutes, "takes 0 to", "cn_office", FRIDAY_17, 1e12)
end

function test_a_new_case_gets_policy_dues_milestones()
  local policy = gold()
  local case = crm.create("case", { subject = "Printer", priority = "high", opened_at = FRIDAY_17 })
  case = crm.get("case", case.id)
  assert(case.sla_policy == policy.id, "the gold policy")
  assert(case.first_response_due == "2030-12-06T10:00:00Z", case.first_response_due)
  assert(case.resolution_due == "2030-12-09T08:00:00Z", case.resolution_due)
  assert(case.warn_at == "2030-12-09T07:00:00Z", "420 business minutes: " .. tostring(case.warn_at))
  local ms = crm.query("case_milestone", { filter = "case = " .. case.id, sort = "kind" })
  assert(#ms == 2 and ms[1].kind == "first_response" and ms[2].kind == "resolution")
  assert(ms[2].due_at == case.resolution_due and ms[2].status == "running")
end

function test_a_priority_change_repicks_the_policy()
  gold()
  local normal = crm.create("sla_policy", { name = "Normal test", calendar = "cn_office", priority_order = 50,
    first_response_minutes = 240, resolution_minutes = 1440 })
  local case = crm.create("case", { subject = "Slow", priority = "normal", opened_at = FRIDAY_17 })
  assert(crm.get("case", case.id).sla_policy == normal.id)
  crm.update("case", case.id, { priority = "high" })
  case = crm.get("case", case.id)
  assert(case.resolution_due == "2030-12-09T08:00:00Z", case.resolution_due)
end

function test_pause_and_resume_push_the_dues_by_business_minutes()
  gold()
  local case = crm.create("case", { subject = "Wait", priority = "high", opened_at = FRIDAY_17 })
  crm.transition("case", case.id, "open", { first_responded_at = "2030-12-06T09:30:00Z" })
  crm.transition("case", case.id, "wait", { sla_paused_since = "2030-12-09T02:00:00Z" })
  local m = crm.query("case_milestone", { filter = "case = " .. case.id .. " and kind = 'resolution'" })[1]
  assert(m.status == "paused", m.status)
  crm.transition("case", case.id, "resume", { sla_resumed_at = "2030-12-09T04:00:00Z" })
  case = crm.get("case", case.id)
  assert(case.sla_paused_minutes == 120, tostring(case.sla_paused_minutes))
  assert(case.resolution_due == "2030-12-09T10:00:00Z", "Monday 18:00: " .. tostring(case.resolution_due))
  m = crm.get("case_milestone", m.id)
  assert(m.status == "running" and m.paused_minutes == 120 and m.due_at == case.resolution_due)
  local fr = crm.query("case_milestone", { filter = "case = " .. case.id .. " and kind = 'first_response'" })[1]
  assert(fr.status == "met" and fr.completed_at == "2030-12-06T09:30:00Z", fr.status)
end

function test_a_policy_with_a_bad_condition_or_calendar_is_refused()
  raises(crm.create, "is not an expression over the case", "sla_policy", { name = "Bad", applies_when = "priority = ", calendar = "cn_office" })
  raises(crm.create, "is not an expression over the case", "sla_policy", { name = "Bad2", applies_when = "1 = 1) or (1 = 1", calendar = "cn_office" })
  raises(crm.create, "unknown calendar", "sla_policy", { name = "Bad3", calendar = "atlantis" })
end

function test_a_confirmed_order_of_a_service_product_entitles_the_account()
  local account = crm.create("account", { name = "Order Ent Test" })
  local product = crm.create("product", { code = "SP-T", name = "Silver support", list_price = 500 })
  local sp = crm.create("service_product", { name = "Silver T", product = product.id, incidents_included = 5, term_months = 12 })
  local order = crm.create("sales_order", { account = account.id })
  crm.create("order_line", { order = order.id, product = product.id, quantity = 1, unit_price = 500 })
  assert(crm.count("entitlement", "account = " .. account.id) == 0, "a draft order entitles nobody")
  crm.transition("sales_order", order.id, "confirm")
  local ents = crm.query("entitlement", { filter = "account = " .. account.id })
  assert(#ents == 1 and ents[1].service_product == sp.id and ents[1].incidents_included == 5, #ents)
  assert(ents[1].starts_on == crm.date(), ents[1].starts_on)
  assert(ents[1].ends_on:sub(1, 4) == tostring(tonumber(crm.date():sub(1, 4)) + 1), ents[1].ends_on)
end
