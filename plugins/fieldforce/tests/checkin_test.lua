-- The check-in's judgement (geo.lua) and visit_flow's stamps on a scratch database
-- (crm plugin test fieldforce).

local geo = require("geo")

function test_distance_of_scenario_two()
  -- DOMAIN B6: the account at (31.2310, 121.4740), the rep at (31.2304, 121.4737): about 72 m
  local d = geo.distance(31.2304, 121.4737, 31.2310, 121.4740)
  assert(math.floor(d) == 72, "scenario 2 distance " .. d)
  assert(geo.distance(0, 0, 0, 0) == 0)
  -- symmetric, and the short way round the antimeridian
  assert(geo.distance(10, 179.9, 10, -179.9) == geo.distance(10, -179.9, 10, 179.9))
  assert(geo.distance(10, 179.9, 10, -179.9) < 25000)
end

function test_crm_distance_is_the_kernels_and_refuses_no_points()
  -- crm.distance: the expression's distance(); nil for what is no point, an error for a wrong type
  assert(math.floor(crm.distance({ lat = 31.2304, lng = 121.4737 }, { lat = 31.2310, lng = 121.4740 })) == 72)
  assert(crm.distance(nil, { lat = 0, lng = 0 }) == nil)
  assert(crm.distance(crm.null, { lat = 0, lng = 0 }) == nil)
  assert(crm.distance({ lat = 91, lng = 0 }, { lat = 0, lng = 0 }) == nil)
  assert(crm.distance({ lat = "1", lng = 0 }, { lat = 0, lng = 0 }) == nil)
  assert(crm.distance({ lat = 0 / 0, lng = 0 }, { lat = 0, lng = 0 }) == nil)
  assert(not pcall(crm.distance, "31.2,121.4", { lat = 0, lng = 0 }))
  -- about 20,015 km to the antipode
  local half = crm.distance({ lat = 0, lng = 0 }, { lat = 0, lng = 180 })
  assert(half > 20015000 and half < 20016000, "antipode " .. half)
end

function test_judge_within_beyond_and_strict()
  local account = { lat = 31.2310, lng = 121.4740 }
  local ok = geo.judge({ lat = 31.2304, lng = 121.4737 }, account, 200, false)
  assert(ok.geo_ok == true and ok.distance_m <= 200 and ok.refused == nil)
  local far = geo.judge({ lat = 31.2499, lng = 121.4740 }, account, 200, false)
  assert(far.geo_ok == false and far.distance_m > 2000, "2.1 km is flagged")
  assert(far.check_in_note:find("200 m radius", 1, true))
  local refused = geo.judge({ lat = 31.2499, lng = 121.4740 }, account, 200, true)
  assert(refused.refused == true and refused.check_in_note:find(tostring(far.distance_m) .. " m", 1, true))
  -- exactly on the radius passes
  local edge = geo.judge({ lat = 31.2304, lng = 121.4737 }, account, ok.distance_m, true)
  assert(edge.geo_ok == true)
end

function test_judge_missing_and_bad_points()
  local none = geo.judge({ lat = 1, lng = 2 }, nil, 200, true)
  assert(none.geo_ok == crm.null and none.distance_m == crm.null and none.check_in_note:find("no location"))
  for _, bad in ipairs({ nil, "31,121", { lat = 91, lng = 0 }, { lat = 0, lng = -181 }, { lat = "1", lng = 2 } }) do
    assert(geo.judge(bad, { lat = 0, lng = 0 }, 200, false).refused == true)
  end
end

local function fixture(location)
  local account = crm.create("account", { name = "Fieldforce test " .. crm.crypto.token(16), location = location })
  local rep = crm.create("user", { login = "t_rep_" .. account.id, name = "T Rep", role = "field_rep", kind = "employee" })
  local plan = crm.create("visit_plan", { rep = rep.id, day = "2025-03-03" })
  local visit = crm.create("visit", { account = account.id, plan = plan.id, route_order = 1,
                                      planned_start = "2025-03-03T09:00:00Z" })
  return account, plan, visit
end

function test_check_in_equals_the_kernels_distance()
  local _, _, visit = fixture({ lat = 31.2310, lng = 121.4740 })
  local result = crm.transition("visit", visit.id, "check_in", { check_in_geo = { lat = 31.2304, lng = 121.4737 } })
  local v = crm.get("visit", visit.id)
  assert(result.status == "in_progress" or v.status == "in_progress")
  assert(v.geo_ok == true and v.checked_in_at ~= nil)
  local same = crm.count("visit", "id = " .. v.id .. " and distance(check_in_geo, account.location) >= "
    .. v.distance_m .. " and distance(check_in_geo, account.location) < " .. (v.distance_m + 1))
  assert(same == 1, "distance_m " .. v.distance_m .. " is the kernel's distance() in whole metres")
  assert(v.distance_m == 72, "DOMAIN B6 scenario 2: 72 m, not " .. v.distance_m)
end

function test_check_out_needs_a_call_report()
  local _, plan, visit = fixture({ lat = 48.137, lng = 11.575 })
  crm.transition("visit", visit.id, "check_in", { check_in_geo = { lat = 48.137, lng = 11.575 } })
  local ok, err = pcall(crm.transition, "visit", visit.id, "check_out")
  assert(not ok and tostring(err):find("call report"), tostring(err))
end

function test_account_without_location_checks_in_unverified()
  local _, _, visit = fixture(nil)
  crm.transition("visit", visit.id, "check_in", { check_in_geo = { lat = 48.1, lng = 11.5 } })
  local v = crm.get("visit", visit.id)
  assert(v.status == "in_progress" and v.geo_ok == nil and v.distance_m == nil)
  assert(v.check_in_note:find("no location"))
end
