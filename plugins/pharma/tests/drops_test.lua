-- Sample drops and late call reports on a scratch database: scenario 4 of DOMAIN.md B6 (a limit of 10
-- with 8 given: 3 refused naming the limit, 2 accepted, 0 left), the issue's 13th unit refused at 12, and
-- each compliance check.
local drops = require("drops")

local YEAR = tonumber(crm.date():sub(1, 4))

local function refused(fn, text)
  local ok, err = pcall(fn)
  assert(not ok, "expected a refusal: " .. text)
  assert(tostring(err):find(text, 1, true), tostring(err))
end

local serial = 0
local function world(max_units, consent)
  serial = serial + 1
  local rep = crm.create("user", { login = "t_rep" .. serial, name = "Test Rep " .. serial, kind = "employee", role = "field_rep" })
  local account = crm.create("account", { name = "Test Hospital " .. serial, institution_type = "hospital",
    hospital_level = "tertiary_a", beds = 900, location = { lat = 31.2492, lng = 121.4829 } })
  local hcp = crm.create("contact", { last_name = "王医生" .. serial, account = account.id, license_number = "T-LIC-" .. serial,
    segment = "A", sample_consent = consent ~= false, owner = rep.id })
  local product = crm.create("product", { code = "T-CVX-" .. serial, name = "Cardiovex 10 mg", is_sample = true, kind = "goods" })
  local limit = crm.create("sample_limit", { contact = hcp.id, product = product.id, year = YEAR, max_units = max_units })
  local lot = crm.create("sample_lot", { product = product.id, lot_number = "L-" .. serial, expiry_date = (YEAR + 1) .. "-06-30",
    rep = rep.id, received = 100 })
  local visit = crm.create("visit", { account = account.id, contact = hcp.id, owner = rep.id, planned_start = crm.datetime() })
  crm.transition("visit", visit.id, "check_in", { check_in_geo = { lat = 31.2493, lng = 121.4830 } })
  return { rep = rep, account = account, hcp = hcp, product = product, limit = limit, lot = lot, visit = visit }
end

local function drop(w, quantity, extra)
  local values = { visit = w.visit.id, limit = w.limit.id, lot = w.lot.id, quantity = quantity, signed_by = " 王医生 " }
  for k, v in pairs(extra or {}) do values[k] = v end
  return crm.create("sample_drop", values)
end

function test_scenario_4_limit_10_given_8_a_drop_of_3_is_refused_a_drop_of_2_leaves_0()
  local w = world(10)
  drop(w, 5); drop(w, 3)
  assert(crm.get("sample_limit", w.limit.id).given == 8)
  refused(function() drop(w, 3) end, "Over this HCP's yearly sample limit")
  refused(function() drop(w, 3) end, "allows 10, 8 given, 3 asked")
  local ok = drop(w, 2)
  assert(ok.contact == w.hcp.id and ok.product == w.product.id and ok.year == YEAR and ok.signed_by == "王医生", crm.json.encode(ok))
  assert(ok.signed_at and ok.given_on == crm.date())
  local limit = crm.get("sample_limit", w.limit.id)
  assert(limit.given == 10 and limit.left == 0, crm.json.encode(limit))
  assert(crm.get("sample_lot", w.lot.id).on_hand == 90)
end

function test_the_13th_unit_at_a_limit_of_12_is_refused_naming_the_limit()
  local w = world(12)
  for _ = 1, 12 do drop(w, 1) end
  refused(function() drop(w, 1) end, "王医生" .. serial .. " · Cardiovex 10 mg · " .. YEAR .. " allows 12, 12 given, 1 asked")
end

function test_an_expired_lot_another_reps_lot_or_another_products_lot_is_refused()
  local w = world(10)
  local expired = crm.create("sample_lot", { product = w.product.id, lot_number = "OLD", expiry_date = crm.date(crm.now() - 86400),
    rep = w.rep.id, received = 10 })
  refused(function() drop(w, 1, { lot = expired.id }) end, "expired on")
  local other = world(10)
  refused(function() drop(w, 1, { lot = other.lot.id }) end, "is not Cardiovex 10 mg")
  local theirs = crm.create("sample_lot", { product = w.product.id, lot_number = "THEIRS", expiry_date = (YEAR + 1) .. "-01-01",
    rep = other.rep.id, received = 10 })
  refused(function() drop(w, 1, { lot = theirs.id }) end, "not held by the visit's rep")
  local small = crm.create("sample_lot", { product = w.product.id, lot_number = "SMALL", expiry_date = (YEAR + 1) .. "-01-01",
    rep = w.rep.id, received = 2 })
  refused(function() drop(w, 3, { lot = small.id }) end, "has 2 units on hand, 3 asked")
end

function test_no_consent_no_licence_no_check_in_no_drop()
  local w = world(10, false)
  refused(function() drop(w, 1) end, "has not consented to receive samples")
  crm.update("contact", w.hcp.id, { sample_consent = true, license_number = crm.null })
  refused(function() drop(w, 1) end, "has no licence number")
  local v = world(10)
  local planned = crm.create("visit", { account = v.account.id, contact = v.hcp.id, owner = v.rep.id })
  refused(function() drop(v, 1, { visit = planned.id }) end, "checked in or completed")
  -- the limit of another HCP than the visited one
  local other = world(10)
  refused(function() drop(v, 1, { limit = other.limit.id }) end, "not the visited HCP's")
end

function test_a_drop_is_signed_its_quantity_does_not_change_and_a_limit_stays_above_given()
  local w = world(10)
  local d = drop(w, 4)
  refused(function() crm.update("sample_drop", d.id, { quantity = 1 }) end, "does not change")
  -- (a rule's refusal reaches Lua as the record's; its message is the API suite's to check)
  refused(function() crm.update("sample_limit", w.limit.id, { max_units = 3 }) end, "invalid sample_limit record")
  crm.delete("sample_drop", d.id)
  assert(crm.get("sample_limit", w.limit.id).given == 0)
  drop(w, 10)
  refused(function() crm.restore("sample_drop", d.id) end, "Over this HCP's yearly sample limit")
end

function test_a_call_report_filed_after_48_hours_needs_a_reason()
  local w = world(10)
  crm.update("visit", w.visit.id, { checked_in_at = crm.datetime(crm.now() - 50 * 3600) })
  local as_rep = function(fn, ...) return crm.test.as_user(w.rep.id, fn, ...) end
  refused(function() as_rep(crm.create, "call_report", { visit = w.visit.id, key_message = "x" }) end,
    "filed more than 48 hours after the visit: give the reason it is late")
  refused(function() as_rep(crm.create, "call_report", { visit = w.visit.id, key_message = "x", late_reason = " ok  " }) end,
    "give the reason it is late")
  local r = as_rep(crm.create, "call_report", { visit = w.visit.id, key_message = "x", late_reason = "Ward round ran over two days",
    late = false })
  assert(r.late == true and r.filed_hours_after >= 50, crm.json.encode(r))
  refused(function() as_rep(crm.update, "call_report", r.id, { late_reason = crm.null }) end, "give the reason it is late")
  as_rep(crm.update, "call_report", r.id, { key_message = "the reason stays" })
  local on_time = world(10)
  local ok = crm.test.as_user(on_time.rep.id, crm.create, "call_report", { visit = on_time.visit.id, key_message = "y" })
  assert(ok.late == false and ok.filed_hours_after < 1, crm.json.encode(ok))
  -- the system records the past (imports, demos): late only with a reason, never refused
  local old = world(10)
  crm.update("visit", old.visit.id, { checked_in_at = crm.datetime(crm.now() - 80 * 3600) })
  local past = crm.create("call_report", { visit = old.visit.id, key_message = "imported" })
  assert(past.late == false and past.filed_hours_after >= 80, crm.json.encode(past))
  crm.update("call_report", past.id, { key_message = "still imported" })
  assert(drops.seconds("1970-01-02T00:00:00Z") == 86400 and drops.seconds("2024-03-01T00:00:00Z") - drops.seconds("2024-02-28T00:00:00Z") == 2 * 86400)
end
