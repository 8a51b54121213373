-- HCPs, sample products, lots, limits and templates on a scratch database.
local limits = require("limits")

local function hcp(last, segment, values)
  values = values or {}
  values.last_name, values.segment = last, segment
  if values.license_number == nil then values.license_number = " t-" .. last:lower() .. " " end
  return crm.create("contact", values)
end

local function product(code, sample)
  return crm.create("product", { code = code, name = "Test " .. code, is_sample = sample, kind = "goods" })
end

local function refused(fn, text)
  local ok, err = pcall(fn)
  assert(not ok, "expected a refusal: " .. text)
  assert(tostring(err):find(text, 1, true), tostring(err))
end

function test_licence_numbers_are_trimmed_capitals_and_consent_is_dated()
  local c = hcp("Li", "A", { sample_consent = true })
  assert(c.license_number == "T-LI", c.license_number)
  assert(c.consent_date == crm.date(), tostring(c.consent_date))
  refused(function() hcp("Li2", "A", { license_number = "t-li" }) end, "")
end

function test_limits_and_lots_are_for_sample_products_and_licensed_hcps()
  local drug, kettle = product("T-DRUG", true), product("T-KETTLE", false)
  local doctor = hcp("Wang", "A")
  local buyer = crm.create("contact", { last_name = "Qian" })
  refused(function() crm.create("sample_limit", { contact = doctor.id, product = kettle.id, year = 2026, max_units = 5 }) end,
    "is not a sample product")
  refused(function() crm.create("sample_limit", { contact = buyer.id, product = drug.id, year = 2026, max_units = 5 }) end,
    "has no licence number")
  refused(function() crm.create("sample_lot", { product = kettle.id, lot_number = "L1", expiry_date = "2030-01-01",
    rep = 1, received = 5 }) end, "is not a sample product")
  local limit = crm.create("sample_limit", { contact = doctor.id, product = drug.id, year = 2026, max_units = 5 })
  refused(function() crm.create("sample_limit", { contact = doctor.id, product = drug.id, year = 2026, max_units = 7 }) end, "")
  refused(function() crm.update("sample_limit", limit.id, { product = kettle.id }) end, "is not a sample product")
end

function test_a_template_makes_the_missing_limits_of_its_segment_once()
  local drug = product("T-DRUG2", true)
  local a1, a2, b1 = hcp("Zhao", "A"), hcp("Sun", "A"), hcp("Zhou", "B")
  crm.create("contact", { last_name = "Unlicensed", segment = "A" })
  local existing = crm.create("sample_limit", { contact = a2.id, product = drug.id, year = 2031, max_units = 3 })
  local t = crm.create("sample_limit_template", { name = "A 2031", product = drug.id, segment = "A", year = 2031,
    max_units = 12 })
  local before = crm.count("sample_limit", "product = " .. drug.id .. " and year = 2031")
  local made = crm.test.action("pharma.apply_template", "sample_limit_template", t.id)
  local after = crm.count("sample_limit", "product = " .. drug.id .. " and year = 2031")
  assert(made.created == after - before and made.created >= 1, crm.json.encode(made))
  local mine = crm.query("sample_limit", { filter = "contact = " .. a1.id .. " and product = " .. drug.id })[1]
  assert(mine and mine.max_units == 12 and mine.template == t.id)
  assert(crm.get("sample_limit", existing.id).max_units == 3, "an existing limit is left as it is")
  assert(crm.count("sample_limit", "contact = " .. b1.id .. " and product = " .. drug.id) == 0, "segment B untouched")
  assert(crm.count("sample_limit", "contact.last_name = 'Unlicensed'") == 0)
  -- run again: nothing new; the yearly job's pass over the year's templates, the same
  assert(crm.test.action("pharma.apply_template", "sample_limit_template", t.id).created == 0)
  assert(limits.apply_year(2031) == 0)
end
