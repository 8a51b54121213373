-- The pack's demo data, run by `crm demo` after the base records (a manual job;
-- a no-op when the models exist). The brand Voltara: five models with their
-- products and trims; twelve dealers in German and Chinese cities (Munich has
-- two: the nearer one, Autohaus Isar, fills to its cap of four open leads);
-- vehicles with valid VINs (the check digit computed here, checked again by
-- the vin plugin) for contacts, consumer1 and consumer2 among them; leads by
-- every channel routed by the live hook and timer steps into every routing
-- state; a year of test drives (done ones open opportunities, some become
-- vehicle orders delivered through lead-to-cash) and of service appointments
-- with repair orders. Deterministic for a database (math.randomseed).

local routing = require("routing")
local sales = require("sales")
local places = require("places")

local M = {}

local BRAND = "Voltara"
-- name, series, powertrain, body, msrp, code, VDS (5), trims { name, delta, features }
local MODELS = {
  { "EV-5", "EV", "bev", "suv", 45900, "VT-EV5", "EV5AB", {
    { "Standard Range", 0, "64 kWh battery, 410 km WLTP, heat pump" },
    { "Long Range", 5500, "82 kWh battery, 540 km WLTP, 19-inch wheels" },
    { "Performance", 11900, "Dual motor AWD, 0-100 in 4.4 s, sport seats" } } },
  { "EV-3", "EV", "bev", "hatch", 32900, "VT-EV3", "EV3HB", {
    { "City", 0, "51 kWh battery, 360 km WLTP" },
    { "Plus", 3200, "Panoramic roof, adaptive cruise control" } } },
  { "Terra PHEV", "Terra", "phev", "suv", 58900, "VT-TRP", "TRPSU", {
    { "Comfort", 0, "2.0T + 25 kWh, 95 km electric range, 7 seats" },
    { "Premium", 6800, "Air suspension, head-up display, 21-inch wheels" } } },
  { "Sedan S3", "S", "ice", "sedan", 38900, "VT-S3S", "S3SDN", {
    { "Business", 0, "1.5T 150 kW, 8-speed automatic" },
    { "Sport", 4300, "2.0T 195 kW, M-line bumpers, sport chassis" } } },
  { "Grand V9", "V", "hev", "van", 55900, "VT-GV9", "GV9VN", {
    { "Executive", 0, "Full hybrid, 7 captain's chairs" } } },
}

-- code, name, city, lat, lng, region, sales, service, open cap, daily cap, hours
local DEALERS = {
  { "MUC-01", "Autohaus Isar München", "Munich", 48.1405, 11.5790, "emea", true, true, 4, 40, "Mo-Fr 8-19, Sa 9-16" },
  { "MUC-02", "Autohaus Sendling", "Munich", 48.1148, 11.5378, "emea", true, true, 40, 60, "Mo-Fr 8-18, Sa 9-14" },
  { "AUG-01", "Autohaus Lech Augsburg", "Augsburg", 48.3705, 10.8978, "emea", true, true, 30, 40, "Mo-Fr 8-18" },
  { "ING-01", "Autozentrum Ingolstadt Nord", "Ingolstadt", 48.7840, 11.4150, "emea", true, false, 30, 40, "Mo-Sa 9-18" },
  { "STR-01", "Service Stuttgart-Feuerbach", "Stuttgart", 48.8130, 9.1650, "emea", false, true, 0, 0, "Mo-Fr 7-17" },
  { "BER-01", "Autohaus Spree Berlin", "Berlin", 52.5075, 13.3260, "emea", true, true, 40, 50, "Mo-Fr 9-19, Sa 10-16" },
  { "HAM-01", "Autohaus Alster Hamburg", "Hamburg", 53.5720, 10.0280, "emea", true, true, 40, 50, "Mo-Fr 9-18" },
  { "SHA-01", "上海浦东沃塔拉 4S 店", "Shanghai", 31.2215, 121.5440, "apac", true, true, 60, 80, "每天 9:00-20:00" },
  { "SHA-02", "上海闵行沃塔拉中心", "Shanghai", 31.1129, 121.3816, "apac", true, true, 60, 80, "每天 9:00-19:00" },
  { "BJS-01", "北京朝阳沃塔拉 4S 店", "Beijing", 39.9219, 116.4436, "apac", true, true, 60, 80, "每天 9:00-19:30" },
  { "CAN-01", "广州天河沃塔拉 4S 店", "Guangzhou", 23.1246, 113.3613, "apac", true, true, 50, 60, "每天 9:00-19:00" },
  { "SZX-01", "深圳南山沃塔拉体验中心", "Shenzhen", 22.5333, 113.9304, "apac", true, false, 50, 60, "每天 10:00-21:00" },
}
-- dealer users: the demo table of core/cli/demo.c names them; here they are tied to their dealer
local DEALER_USERS = { dealer1 = "MUC-02", dealer2 = "SHA-01" }

-- lead places: city, lat, lng (a little scatter is added), country
local LEAD_PLACES = {
  { "Munich", 48.1372, 11.5756, "Germany" }, { "Munich", 48.1500, 11.5600, "Germany" },
  { "Berlin", 52.5200, 13.4050, "Germany" }, { "Hamburg", 53.5511, 9.9937, "Germany" },
  { "Augsburg", 48.3705, 10.8978, "Germany" }, { "Shanghai", 31.2304, 121.4737, "China" },
  { "Shanghai", 31.1900, 121.4300, "China" }, { "Beijing", 39.9042, 116.4074, "China" },
  { "Guangzhou", 23.1291, 113.2644, "China" }, { "Shenzhen", 22.5431, 114.0579, "China" },
}
local FIRST = { "Lukas", "Anna", "Felix", "Lea", "Jonas", "Mia", "Wei", "Li", "Hao", "Yan", "Jing", "Tim", "Sara", "Max" }
local LAST = { "Müller", "Schmidt", "Wagner", "Becker", "Hoffmann", "Zhang", "Wang", "Li", "Liu", "Chen", "Zhao", "Huber" }

local function day(offset) return crm.date(crm.now() + offset * 86400) end
local function at(offset_days, hour) return day(offset_days) .. string.format("T%02d:00:00Z", hour) end
local function pick(list) return list[math.random(#list)] end

local serial = 100000
local function next_vin(model, year, china)
  serial = serial + math.random(1, 37)
  return places.vin(china and "LVT" or "WVT", model.vds, year, china and "S" or "M", serial)
end

local function load_catalogue()
  local models = {}
  for _, m in ipairs(MODELS) do
    local product = crm.query("product", { filter = "code = '" .. m[6] .. "'", limit = 1 })[1]
      or crm.create("product", { name = BRAND .. " " .. m[1], code = m[6], family = "hardware", kind = "goods",
        list_price = m[5], unit = "vehicle" })
    local model = crm.create("vehicle_model", { name = m[1], brand = BRAND, series = m[2], model_year = 2026,
      powertrain = m[3], body = m[4], msrp = m[5], product = product.id })
    for _, t in ipairs(m[8]) do
      crm.create("vehicle_trim", { vehicle_model = model.id, name = t[1], price_delta = t[2], features = t[3] })
    end
    models[#models + 1] = { id = model.id, name = m[1], msrp = m[5], product = product.id, vds = m[7] }
  end
  return models
end

local function load_dealers()
  local dealers = {}
  for _, d in ipairs(DEALERS) do
    local p = crm.create("partner", { name = d[2], type = "reseller", tier = d[6] == "apac" and "gold" or "silver",
      region = d[6], dealer_code = d[1], brand = BRAND, city = d[3], location = { lat = d[4], lng = d[5] },
      sales_capable = d[7], service_capable = d[8], open_lead_cap = d[9], daily_lead_cap = d[10], opening_hours = d[11],
      industries = { "automotive" }, certified = true })
    p.china = d[6] == "apac"
    dealers[#dealers + 1] = p
    dealers[d[1]] = p
  end
  for login, code in pairs(DEALER_USERS) do
    local user = crm.query("user", { filter = "login = '" .. login .. "'", limit = 1 })[1]
    if user then crm.update("user", user.id, { partner = dealers[code].id }) end
  end
  return dealers
end

-- a sold vehicle of a contact: sold `age` days ago by dealer d
local function sell(models, contact, d, age, opts)
  local model = opts and opts.model or pick(models)
  local sold = day(-age)
  local year = math.min(2026, tonumber(sold:sub(1, 4)) + (tonumber(sold:sub(6, 7)) >= 7 and 1 or 0))
  return crm.create("vehicle", { vin = next_vin(model, year, d.china), make = BRAND, model = model.name,
    vehicle_model = model.id, account = contact.account, contact = contact.id, dealer = d.id, service_dealer = d.id,
    sold_on = sold, warranty_until = sales.add_years(sold, 3), mileage = math.floor(age * math.random(25, 60)),
    plate = d.china and string.format("沪A·%05d", math.random(10000, 99999)) or
      string.format("M-VT %d", math.random(100, 9999)) })
end

local KINDS = { "maintenance", "maintenance", "maintenance", "repair", "inspection", "warranty", "recall" }

-- an appointment at offset days (past ones run through the workshop to delivered, with a repair order)
local function service(vehicle, offset, kind)
  local v = crm.get("vehicle", vehicle.id)
  local appt = crm.create("service_appointment", { vehicle = v.id, dealer = v.service_dealer or v.dealer, kind = kind,
    slot_start = at(offset, 8 + math.random(0, 8)), complaint = kind == "repair" and "Warning light on the dashboard" or nil })
  if offset >= 0 then return appt end
  if math.random() < 0.06 then return crm.transition("service_appointment", appt.id, "cancel").record end
  local km = (v.mileage or 0) + math.random(300, 4000)
  crm.transition("service_appointment", appt.id, "check_in", { mileage = km })
  crm.transition("service_appointment", appt.id, "start")
  crm.transition("service_appointment", appt.id, "finish")
  crm.transition("service_appointment", appt.id, "deliver")
  local hours = kind == "maintenance" and 1.5 or kind == "inspection" and 1 or math.random(2, 9)
  local ro = crm.create("repair_order", { appointment = appt.id, opened_on = day(offset), mileage_in = km,
    work = kind == "maintenance" and "Annual service: cabin filter, brake fluid, software update" or
      kind == "recall" and "Recall campaign RC-2026-04: charge port seal replaced" or "Diagnosis and repair",
    labour_hours = hours, labour_amount = hours * 120, parts_amount = kind == "maintenance" and 140 or math.random(0, 900),
    warranty = kind == "warranty" or kind == "recall" })
  crm.transition("repair_order", ro.id, "complete")
  if offset < -10 then crm.transition("repair_order", ro.id, "invoice") end
  return appt
end

local function leads(models, dealers, now)
  local made = {}
  local channels = { "web", "web", "app", "app", "phone" }
  for i = 1, 44 do
    local place = LEAD_PLACES[(i - 1) % #LEAD_PLACES + 1]
    local scatter = function() return (math.random() - 0.5) * 0.04 end
    local lead = crm.create("lead", { first_name = pick(FIRST), last_name = pick(LAST), company = "Private",
      email = string.format("driver%02d@mail.example", i), city = place[1], country = place[4],
      location = (i % 3 ~= 0) and { lat = place[2] + scatter(), lng = place[3] + scatter() } or nil,
      channel = channels[(i - 1) % #channels + 1], vehicle_model = pick(models).id, rating = pick({ "hot", "warm", "cold" }) })
    made[#made + 1] = crm.get("lead", lead.id)
  end
  -- event and showroom leads the lead centre routes by hand; a web lead from far away (no dealer near)
  for i = 1, 6 do
    crm.create("lead", { first_name = pick(FIRST), last_name = pick(LAST), company = "Private",
      channel = i <= 3 and "event" or "showroom", city = i % 2 == 0 and "Berlin" or "Shanghai",
      vehicle_model = pick(models).id, preferred_dealer = i > 4 and dealers["BER-01"].id or nil })
  end
  crm.create("lead", { first_name = "Aylin", last_name = "Kara", company = "Private", channel = "web", city = "Ürümqi",
    location = { lat = 43.8256, lng = 87.6168 }, vehicle_model = models[1].id })
  -- what became of the routed ones: contacted, moved on after the timeout, pooled after three dealers
  for i, lead in ipairs(made) do
    local l = crm.get("lead", lead.id)
    if l.routing_state == "routed" then
      if i % 4 == 1 then
        crm.create("activity", { subject = "First call", kind = "call", status = "done", lead = l.id,
          due_at = crm.datetime(now + math.random(10, 150) * 60) })   -- the leads are made now: their first call follows
        crm.transition("lead", l.id, "work")
      elseif i % 7 == 2 then
        routing.route(l, "timeout", now)
      elseif i % 11 == 3 then
        for _ = 1, 3 do routing.route(crm.get("lead", l.id), "timeout", now) end
      elseif i % 5 == 4 then
        crm.update("lead", l.id, { routed_at = crm.datetime(now - 3 * 3600 - i * 60) })   -- overdue on the lead centre
      end
    end
  end
end

local function test_drives_and_orders(models, dealers, contacts, owners)
  local sellers = {}
  for _, d in ipairs(dealers) do if d.sales_capable then sellers[#sellers + 1] = d end end
  for i = 1, 90 do
    local d = sellers[(i - 1) % #sellers + 1]
    local model = pick(models)
    local contact = contacts[(i * 7) % #contacts + 1]
    local offset = -math.random(1, 360)
    if i % 10 == 0 then offset = math.random(1, 14) end
    if i % 9 == 0 then offset = -math.random(1, 4) end   -- this week's
    local td = crm.create("test_drive", { dealer = d.id, vehicle_model = model.id, contact = contact.id,
      slot_start = at(offset, 9 + math.random(0, 8)), consent = true })
    if offset < 0 then
      local r = math.random()
      if r < 0.08 then
        crm.transition("test_drive", td.id, "cancel")
      else
        crm.transition("test_drive", td.id, "confirm")
        if r < 0.18 then
          crm.transition("test_drive", td.id, "no_show")
        else
          crm.transition("test_drive", td.id, "complete", { feedback_score = math.random(3, 5),
            feedback = pick({ "Quiet and smooth", "Wants a longer range", "Loved the cockpit", "Compared with a rival" }) })
          td = crm.get("test_drive", td.id)
          if math.random() < 0.35 and contact.account and not owners[contact.id] then
            local sold = day(offset + 10)
            local year = tonumber(sold:sub(1, 4))
            local order = crm.create("sales_order", { account = contact.account, opportunity = td.opportunity,
              partner = d.id, channel = "partner", buyer = contact.id, vehicle_model = model.id,
              vin = next_vin(model, math.min(2026, year), d.china), order_date = sold, tax_rate = d.china and 13 or 19 })
            crm.create("order_line", { order = order.id, product = model.product, quantity = 1, unit_price = model.msrp })
            crm.transition("sales_order", order.id, "confirm")
            local fulfilled = crm.transition("sales_order", order.id, "fulfil")
            local v = crm.get("sales_order", order.id).vehicle
            if v and fulfilled then
              crm.update("vehicle", v, { sold_on = sold, warranty_until = sales.add_years(sold, 3),
                mileage = math.max(10, (-offset - 10) * 40) })
            end
          end
        end
      end
    end
  end
end

function M.run()
  if crm.count("vehicle_model") > 0 or crm.count("account") == 0 then return end
  math.randomseed(19)
  local now = crm.now()
  local models = load_catalogue()
  local dealers = load_dealers()
  local contacts = crm.query("contact", { filter = "account != null", sort = "id", limit = 400 })
  if #contacts == 0 then return end

  -- the car owners: the consumers first (their own contacts), then other contacts
  local owners = {}
  for _, user in ipairs(crm.query("user", { filter = "kind = 'consumer' and contact != null", sort = "login", limit = 10 })) do
    local c = crm.get("contact", user.contact)
    if c and c.account then owners[#owners + 1] = c end
  end
  local taken = {}
  for _, c in ipairs(owners) do taken[c.id] = true end
  for i = 1, #contacts, 5 do
    if not taken[contacts[i].id] and #owners < 60 then owners[#owners + 1] = contacts[i] end
  end
  local vehicles = {}
  for i, c in ipairs(owners) do
    local d = dealers[(i * 5) % #dealers + 1]
    if not d.sales_capable then d = dealers["MUC-02"] end
    if i == 1 then d = dealers["MUC-02"] end
    vehicles[#vehicles + 1] = sell(models, c, d, math.random(60, 1000), i == 1 and { model = models[1] } or nil)
  end
  -- a year of the workshop: two to four visits per vehicle, and some booked ahead
  for i, v in ipairs(vehicles) do
    local visits = 1 + (i % 3)
    for k = 1, visits do service(v, -math.floor(360 * k / (visits + 1)) - math.random(0, 20), pick(KINDS)) end
    if i % 4 == 1 then service(v, math.random(2, 20), "maintenance") end
  end
  test_drives_and_orders(models, dealers, contacts, taken)   -- the consumers keep their one car
  leads(models, dealers, now)
  -- the nearer Munich dealer is full: its cap is the leads it holds
  local full = crm.get("partner", dealers["MUC-01"].id)
  crm.update("partner", full.id, { open_lead_cap = full.open_leads or 0 })
end

crm.job("demo", "manual", function() M.run() end)

return M
