-- The pack's pieces in one transaction each (crm plugin test automotive --industry automotive); the
-- stories over REST as the demo users are tests/api/automotive_test.py.

local places = require("places")

local function dealer(code, lat, lng, cap)
  return crm.create("partner", { name = "T " .. code, dealer_code = code, location = { lat = lat, lng = lng },
    sales_capable = true, authorised = true, open_lead_cap = cap, daily_lead_cap = 10 })
end

function test_datetimes_read_as_seconds()
  assert(places.epoch("1970-01-02T00:00:00Z") == 86400)
  for _, t in ipairs({ "2026-12-07T10:30:00Z", "2024-02-29T23:59:59Z", "2000-03-01T00:00:00Z" }) do
    assert(crm.datetime(places.epoch(t)) == t, t .. " -> " .. tostring(places.epoch(t)))
  end
  assert(places.epoch("2026-13-01T00:00:00Z") == nil and places.epoch("soon") == nil and places.epoch(12) == nil)
end

function test_cities_and_points()
  local m = places.city("  München ")
  assert(m and math.abs(m.lat - 48.1372) < 1e-9, "Munich by its German name")
  assert(places.city("上海").lng > 121 and places.city("Atlantis") == nil and places.city(("x"):rep(500)) == nil)
  assert(places.point('{"lat": 1.5, "lng": 2}').lng == 2 and places.point("junk") == nil and places.point(nil) == nil)
  -- Munich to Augsburg: 56.5 km along the surface
  local d = places.metres(places.city("munich"), places.city("augsburg"))
  assert(d > 56000 and d < 57000, d)
end

function test_the_demo_vins_pass_the_vin_plugin()
  local vin = places.vin("WVT", "EV5AB", 2026, "M", 123456)
  assert(#vin == 17 and vin:sub(10, 10) == "T", vin)
  local v = crm.create("vehicle", { vin = vin, make = "T" })
  assert(v.model_year == 2026, tostring(v.model_year))
  local wrong = vin:sub(1, 8) .. (vin:sub(9, 9) == "1" and "2" or "1") .. vin:sub(10)
  local ok, err = pcall(crm.create, "vehicle", { vin = wrong })
  assert(not ok and err:find("check digit", 1, true), err)
end

function test_a_full_dealer_is_skipped_and_the_pool_follows()
  local near = dealer("T-NEAR", 10.001, 10.001, 0)   -- full: a cap of none
  local far = dealer("T-FAR", 10.05, 10.05, 5)
  local lead = crm.create("lead", { last_name = "T", company = "P", channel = "web", location = { lat = 10, lng = 10 } })
  lead = crm.get("lead", lead.id)
  assert(lead.preferred_dealer == far.id and lead.routing_state == "routed", tostring(lead.preferred_dealer))
  crm.update("partner", near.id, { open_lead_cap = 5 })
  crm.test.action("automotive.dealer_timeout", "lead", lead.id, { now = crm.datetime() })
  lead = crm.get("lead", lead.id)
  assert(lead.preferred_dealer == near.id and lead.route_count == 2, "the near one, with room now")
  crm.test.action("automotive.dealer_timeout", "lead", lead.id, { now = crm.datetime() })
  lead = crm.get("lead", lead.id)
  assert(lead.routing_state == "pool" and lead.preferred_dealer == nil, "no dealer left: the pool")
end

function test_a_vin_on_an_appointment_is_checked_and_must_be_the_callers()
  local ok, err = pcall(crm.create, "service_appointment", { vin = "1HGCM82643A004352", kind = "maintenance",
    slot_start = "2031-01-01T09:00:00Z" })
  assert(not ok and err:find("check digit", 1, true), err)
  ok, err = pcall(crm.create, "service_appointment", { vin = "1HGCM82633A004352", kind = "maintenance",
    slot_start = "2031-01-01T09:00:00Z" })
  assert(not ok and err:find("no vehicle of yours", 1, true), err)
end
