-- The pack's demo data, run by `crm --industry pharma demo` after the base
-- records and the base packages (a manual job: never on a clock): hospitals
-- with their grade, beds and departments, clinics, pharmacies and a
-- distributor in Shanghai, Beijing, Guangzhou, Hangzhou, Berlin, Munich and
-- Paris; HCPs with specialties, licence numbers, segments, visit frequencies
-- and consent (one without consent, one without a licence); sample products
-- ("Cardiovex 10 mg") with each rep's lots (one expired); this year's limit
-- templates per segment and the limits they make. Deterministic for a
-- database: fixed data, dates counted from today.

local limits = require("limits")
local drops = require("drops")

local DAY = 86400

local INSTITUTIONS = {
  -- key, name, type, grade, beds, departments, city, country, lat, lng
  { "sh1", "上海市第一人民医院", "hospital", "tertiary_a", 1820, { "cardiology", "endocrinology", "oncology", "emergency", "pharmacy" },
    "上海", "China", 31.2492, 121.4829 },
  { "zs", "复旦大学附属中山医院", "hospital", "tertiary_a", 2005, { "cardiology", "gastroenterology", "oncology", "nephrology" },
    "上海", "China", 31.1977, 121.4507 },
  { "xh", "上海市徐汇区中心医院", "hospital", "secondary_a", 620, { "cardiology", "respiratory", "pediatrics" },
    "上海", "China", 31.2006, 121.4413 },
  { "xiehe", "北京协和医院", "hospital", "tertiary_a", 2000, { "cardiology", "endocrinology", "neurology", "respiratory" },
    "北京", "China", 39.9127, 116.4170 },
  { "gz1", "广州市第一人民医院", "hospital", "tertiary_a", 1500, { "cardiology", "gastroenterology", "respiratory" },
    "广州", "China", 23.1366, 113.2645 },
  { "xixi", "杭州市西溪医院", "hospital", "tertiary_b", 800, { "respiratory", "gastroenterology" },
    "杭州", "China", 30.2730, 120.1190 },
  { "charite", "Charité – Universitätsmedizin Berlin", "hospital", nil, 3011, { "cardiology", "neurology", "oncology" },
    "Berlin", "Germany", 52.5262, 13.3766 },
  { "mri", "Klinikum rechts der Isar", "hospital", nil, 1161, { "cardiology", "endocrinology", "emergency" },
    "München", "Germany", 48.1370, 11.5990 },
  { "hegp", "Hôpital Européen Georges-Pompidou", "hospital", nil, 827, { "cardiology", "oncology" },
    "Paris", "France", 48.8393, 2.2730 },
  { "jingan", "静安区社区卫生服务中心", "clinic", nil, 40, { "pediatrics" }, "上海", "China", 31.2290, 121.4480 },
  { "hoffmann", "Hausarztpraxis Dr. Hoffmann", "clinic", nil, nil, nil, "München", "Germany", 48.1351, 11.5820 },
  { "guoda", "国大药房（南京西路店）", "pharmacy", nil, nil, nil, "上海", "China", 31.2304, 121.4737 },
  { "lbx", "老百姓大药房（文三路店）", "pharmacy", nil, nil, nil, "杭州", "China", 30.2800, 120.1330 },
  { "marien", "Apotheke am Marienplatz", "pharmacy", nil, nil, nil, "München", "Germany", 48.1374, 11.5755 },
  { "sinopharm", "国药控股上海有限公司", "distributor", nil, nil, nil, "上海", "China", 31.2240, 121.5440 },
}

local HCPS = {
  -- institution, last name (a Chinese name whole), first name, title, specialty, licence, segment, visits a month,
  -- consent, rep (1..3)
  { "sh1", "王建国", nil, "心内科主任医师", "cardiology", "110310000012345", "A", 4, true, 1 },
  { "sh1", "李敏", nil, "内分泌科副主任医师", "endocrinology", "110310000023456", "A", 4, true, 1 },
  { "sh1", "陈雪", nil, "心内科主治医师", "cardiology", "110310000034567", "B", 2, true, 1 },
  { "zs", "张伟", nil, "消化内科主任医师", "gastroenterology", "110310000045678", "A", 3, true, 1 },
  { "zs", "刘洋", nil, "肾内科主治医师", "nephrology", "110310000056789", "B", 2, true, 1 },
  { "xh", "赵丽", nil, "呼吸内科主治医师", "respiratory", "110310000067890", "C", 1, true, 1 },
  { "xiehe", "孙志强", nil, "心内科主任医师", "cardiology", "110110000078901", "A", 4, true, 2 },
  { "xiehe", "周芳", nil, "神经内科副主任医师", "neurology", "110110000089012", "B", 2, false, 2 },   -- no consent
  { "gz1", "黄海涛", nil, "呼吸内科主任医师", "respiratory", "110440000090123", "A", 3, true, 2 },
  { "xixi", "吴晓燕", nil, "消化内科主治医师", "gastroenterology", "110330000001234", "C", 1, true, 2 },
  { "jingan", "徐磊", nil, "全科医生", "general_practice", "110310000112233", "C", 1, true, 1 },
  { "guoda", "马丽娟", nil, "执业药师", "pharmacist", "YS310000223344", "C", 1, true, 1 },
  { "charite", "Becker", "Julia", "Oberärztin Kardiologie", "cardiology", "LANR-123456701", "A", 3, true, 3 },
  { "charite", "Wagner", "Thomas", "Facharzt Neurologie", "neurology", "LANR-234567802", "B", 2, true, 3 },
  { "mri", "Fischer", "Katrin", "Chefärztin Endokrinologie", "endocrinology", "LANR-345678903", "A", 4, true, 3 },
  { "hoffmann", "Hoffmann", "Stefan", "Facharzt für Allgemeinmedizin", "general_practice", "LANR-456789004", "B", 2, true, 3 },
  { "marien", "Schneider", "Anna", "Apothekerin", "pharmacist", "APO-BY-55821", "C", 1, true, 3 },
  { "hegp", "Dubois", "Claire", "Cardiologue, praticien hospitalier", "cardiology", "RPPS-10003456789", "A", 3, true, 3 },
  { "sh1", "钱勇", nil, "设备科采购主管", nil, nil, nil, nil, false, 1 },   -- not an HCP: no licence, no samples
}

local PRODUCTS = {
  -- code, name, therapy area, rx/otc
  { "CVX-10", "Cardiovex 10 mg", "cardiovascular", "rx" },
  { "CVX-20", "Cardiovex 20 mg", "cardiovascular", "rx" },
  { "GLN-500", "Glucanor 500 mg", "diabetes", "rx" },
  { "RSP-100", "Respira Inhaler 100 µg", "respiratory", "rx" },
  { "GST-20", "Gastrolin 20 mg", "gastro", "otc" },
  { "NRC-50", "Neurocalm 50 mg", "neurology", "rx" },
}

-- yearly units per HCP of each segment, per product (the templates)
local TEMPLATES = { A = 12, B = 8, C = 4 }

local function date_in(days) return crm.date(crm.now() + days * DAY) end

-- the demo's reps: fieldforce's field reps when there are, else the sales reps
local function reps()
  for _, role in ipairs({ "field_rep", "sales_rep" }) do
    local found = crm.query("user", { filter = "role = '" .. role .. "' and active = true", sort = "id", fields = "id,login",
      limit = 3 })
    if #found > 0 then return found end
  end
  return crm.query("user", { filter = "role = 'admin'", sort = "id", fields = "id,login", limit = 1 })
end

-- Past visits this year (each on a day no earlier than 1 January), checked in at the institution,
-- reported, checked out, with the drops given: (HCP, days ago, { product, units }...).
local PAST = {
  { 1, 40, { 1, 3 } }, { 1, 25, { 1, 3 }, { 3, 2 } }, { 1, 9, { 1, 2 } },   -- 王建国: 8 of 10 Cardiovex 10 mg
  { 2, 30, { 3, 4 } }, { 2, 12, { 3, 4 } }, { 3, 20, { 1, 2 } }, { 4, 15, { 5, 3 } }, { 5, 33, { 3, 2 } },
  { 7, 18, { 1, 6 }, { 2, 4 } }, { 9, 11, { 4, 5 } }, { 13, 27, { 1, 4 } }, { 15, 8, { 3, 6 } },
  { 16, 22, { 5, 2 } }, { 18, 14, { 2, 3 } }, { 12, 5, { 5, 1 } },
}
-- visits checked in (days ago) whose call report is still due: filed now, they are late (the 48-hour rule)
local OPEN = { { 6, 3 }, { 8, 4 }, { 14, 3 } }
-- visits whose report was filed days late, with the reason
local LATE = { { 10, 6, "Two days at the provincial gastroenterology congress, then the weekend" },
               { 17, 5, "Pharmacy visit logged from the paper form after a phone outage" } }

-- the day `days` ago at hour:minute, as a datetime
local function at(days, hour)
  return crm.date(crm.now() - days * DAY) .. string.format("T%02d:%02d:00Z", hour, (days * 7) % 60)
end

-- A visit of the HCP's rep checked in on site (at the institution's own point) `days` ago.
local function checked_in(hcp, account, days, hour)
  local visit = crm.create("visit", { account = account.id, contact = hcp.id, purpose = "detailing",
    planned_start = at(days, hour), owner = hcp.owner })
  crm.transition("visit", visit.id, "check_in", { check_in_geo = account.location })
  return visit
end

local function visits(year, hcps, products)
  local jan1 = year .. "-01-01"
  local lots = {}
  for _, lot in ipairs(crm.query("sample_lot", { filter = "expiry_date >= today()", sort = "id", limit = 1000 })) do
    lots[lot.rep .. ":" .. lot.product] = lot.id
  end
  local function account_of(hcp) return crm.get("account", hcp.account) end
  for k, v in ipairs(PAST) do
    local hcp = hcps[v[1]]
    -- early in January the visits fall on the days of this year there are
    local days = math.min(v[2], (crm.now() - drops.seconds(jan1 .. "T00:00:00Z")) // DAY)
    local visit = checked_in(hcp, account_of(hcp), days, 9 + k % 7)
    crm.create("call_report", { visit = visit.id, key_message = "Efficacy and safety data of the latest trial",
      outcome = k % 3 == 0 and "neutral" or "positive", next_step = k % 2 == 0 and "Send the trial summary" or nil,
      owner = hcp.owner })
    local started = at(days, 9 + k % 7)
    crm.update("visit", visit.id, { checked_in_at = started })
    for i = 3, #v do
      local product = products[v[i][1]]
      local limit = crm.query("sample_limit", { filter = "contact = " .. hcp.id .. " and product = " .. product.id ..
        " and year = " .. year, fields = "id", limit = 1 })[1]
      crm.create("sample_drop", { visit = visit.id, limit = limit.id, lot = lots[hcp.owner .. ":" .. product.id],
        quantity = v[i][2], signed_by = hcp.full_name, signed_at = crm.datetime(drops.seconds(started) + 15 * 60),
        owner = hcp.owner })
    end
    crm.transition("visit", visit.id, "check_out")
    crm.update("visit", visit.id, { checked_out_at = crm.datetime(drops.seconds(started) + 25 * 60), duration_min = 25 })
  end
  for _, v in ipairs(OPEN) do
    local hcp = hcps[v[1]]
    local visit = checked_in(hcp, account_of(hcp), v[2], 14)
    crm.update("visit", visit.id, { checked_in_at = at(v[2], 14) })
  end
  for _, v in ipairs(LATE) do
    local hcp = hcps[v[1]]
    local visit = checked_in(hcp, account_of(hcp), v[2], 11)
    local started = at(v[2], 11)
    crm.update("visit", visit.id, { checked_in_at = started })
    crm.create("call_report", { visit = visit.id, key_message = "Dosing in elderly patients", outcome = "neutral",
      late_reason = v[3], owner = hcp.owner })
    crm.transition("visit", visit.id, "check_out")
    crm.update("visit", visit.id, { checked_out_at = crm.datetime(drops.seconds(started) + 20 * 60), duration_min = 20 })
  end
end

crm.job("demo", "manual", function()
  if crm.count("product", "is_sample = true") > 0 or crm.count("user") == 0 then return end
  local year = tonumber(crm.date():sub(1, 4))
  local people = reps()
  local function rep(n) return people[(n - 1) % #people + 1].id end

  local places = {}
  for i, p in ipairs(INSTITUTIONS) do
    places[p[1]] = crm.create("account", { name = p[2], institution_type = p[3], hospital_level = p[4], beds = p[5],
      departments = p[6], billing_city = p[7], billing_country = p[8], location = { lat = p[9], lng = p[10] },
      industry = "healthcare", owner = rep(i) }).id
  end

  local hcps = {}
  for i, c in ipairs(HCPS) do
    hcps[i] = crm.create("contact", { account = places[c[1]], last_name = c[2], first_name = c[3], title = c[4],
      hcp_specialty = c[5], license_number = c[6], segment = c[7], target_frequency = c[8], sample_consent = c[9],
      consent_date = c[9] and date_in(-200 - i * 3) or nil, owner = rep(c[10]) })
  end

  local products = {}
  for i, p in ipairs(PRODUCTS) do
    products[i] = crm.create("product", { code = p[1], name = p[2], therapy_area = p[3], rx_status = p[4], is_sample = true,
      kind = "goods", unit = "pack", list_price = 0, active = true, description = "Physician sample, not for sale" })
  end

  -- each rep holds a current lot of every product and, of Cardiovex 10 mg, an expired one
  for n, who in ipairs(people) do
    for i, p in ipairs(PRODUCTS) do
      crm.create("sample_lot", { product = products[i].id, lot_number = p[1] .. "-" .. (year % 100) .. string.format("%02d", i * 7 % 12 + 1) .. "-" .. n,
        expiry_date = date_in(300 + i * 20), rep = who.id, received = 200, owner = who.id })
    end
    crm.create("sample_lot", { product = products[1].id, lot_number = "CVX-10-EXP-" .. n, expiry_date = date_in(-30),
      rep = who.id, received = 50, owner = who.id })
  end

  -- this year's templates, one per segment for each product, and the limits they make
  for i, p in ipairs(PRODUCTS) do
    for segment, units in pairs(TEMPLATES) do
      local t = crm.create("sample_limit_template", { name = p[2] .. " · " .. segment .. " · " .. year, product = products[i].id,
        segment = segment, year = year, max_units = units })
      limits.apply(t)
    end
  end
  -- scenario 4's HCP: 王建国 has a limit of 10 units of Cardiovex 10 mg this year (8 given on the past visits below)
  local wang = crm.query("sample_limit", { filter = "contact = " .. hcps[1].id .. " and product = " .. products[1].id ..
    " and year = " .. year, fields = "id", limit = 1 })[1]
  crm.update("sample_limit", wang.id, { max_units = 10 })

  visits(year, hcps, products)
end)
