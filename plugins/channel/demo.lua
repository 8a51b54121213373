-- The package's demo data, run by `crm demo` after the base records and the
-- packages before it (a manual job: never on a clock): the programme's four
-- tiers, the two base partners classified and given their programme and
-- channel manager, five more partners of every class (industry, solution,
-- region, key account) with their people, coverage by named account and by
-- region and industry, courses and certifications (some expiring soon, some
-- expired), and deal registrations in every state, through the workflow and
-- its conflict check, with an "Acme Ltd"/"ACME LIMITED" conflict pair.
-- Deterministic for a database: fixed data, dates counted from today.

local DAY = 86400

local PROGRAMS = {
  -- name, tier, certified people, won revenue, discount, protection days, benefits
  { "Registered Partner", "registered", 0, 0, 5, 60, "Partner portal, deal registration, online training" },
  { "Silver Partner", "silver", 1, 100000, 10, 60, "Registered benefits, co-marketing funds, a named channel manager" },
  { "Gold Partner", "gold", 2, 500000, 20, 90, "Silver benefits, presales support, 90-day deal protection" },
  { "Platinum Partner", "platinum", 5, 2000000, 30, 120, "Gold benefits, joint account planning, 120-day protection" },
}

local PARTNERS = {
  -- name, type, tier, region, industries, solutions, regions, key account, channel manager (login), people
  { "Weber Systemhaus GmbH", "integrator", "gold", "emea", { "manufacturing", "automotive" }, { "erp", "iot" },
    { "emea" }, false, "channel_manager", { "Klaus Schulz", "Anna Vogel" } },
  { "Laurent Intégration SAS", "reseller", "silver", "emea", { "retail", "healthcare" }, { "crm", "cloud" },
    { "emea" }, false, "channel_manager", { "Julien Moreau" } },
  { "Pacific Cloud Partners Pte Ltd", "integrator", "platinum", "apac", { "technology", "retail" },
    { "cloud", "iot", "security" }, { "apac" }, true, "channel_manager2", { "Grace Tan", "Arjun Mehta", "Mei Lim" } },
  { "Northwind Security Inc.", "integrator", "gold", "north_america", { "financial_services", "healthcare" },
    { "security", "services" }, { "north_america" }, true, "channel_manager2", { "Ryan Brooks", "Olivia Hayes" } },
  { "Andes Digital S.A.", "reseller", "registered", "latin_america", { "manufacturing", "energy" }, { "erp" },
    { "latin_america" }, false, "channel_manager2", { "Lucía Rojas" } },
  { "上海云启信息技术有限公司", "agent", "silver", "apac", { "retail", "automotive" }, { "crm", "cloud" },
    { "apac" }, false, "channel_manager2", { "Chen Jie" } },
  { "Nordic Energy Solutions AB", "reseller", "registered", "emea", { "energy", "government" }, { "iot", "services" },
    { "emea" }, false, "channel_manager", { "Erik Lindqvist" } },
}

local COVERAGE = {
  -- partner index, region, industry, role
  { 1, "emea", "manufacturing", "primary" }, { 1, "emea", "automotive", "primary" },
  { 2, "emea", "retail", "primary" }, { 2, "emea", "healthcare", "secondary" },
  { 3, "apac", "technology", "primary" }, { 6, "apac", "retail", "primary" }, { 3, "apac", "retail", "secondary" },
  { 4, "north_america", "financial_services", "primary" }, { 4, "north_america", "healthcare", "primary" },
  { 5, "latin_america", "manufacturing", "primary" }, { 7, "emea", "energy", "primary" },
  { 7, "emea", "government", "service_only" },
}

local COURSES = {
  -- name, solution, audience, hours
  { "ERP Implementation Specialist", "erp", "partner", 24 }, { "CRM Sales Professional", "crm", "partner", 12 },
  { "Cloud Architect", "cloud", "partner", 32 }, { "Security Operations Engineer", "security", "partner", 40 },
  { "IoT Solution Consultant", "iot", "partner", 16 }, { "Partner Onboarding Essentials", "services", "partner", 4 },
  { "Channel Management for Employees", "services", "employee", 8 },
}

local REGISTRATIONS = {
  -- partner index, company, amount, days to close, product family, the steps it goes through
  { 1, "Acme Ltd", 100000, 75, "erp", { "submit", "approve" } },
  { 2, "ACME LIMITED", 80000, 60, "crm", { "submit" } },   -- conflict: Acme Ltd is partner 1's, protected
  -- (a company of false: the name of one of the base demo's accounts, in capitals: matched by its key)
  { 1, false, 150000, 40, "iot", { "submit", "approve", "convert" } },
  { 2, "Initech SARL", 45000, 30, "cloud", { "submit", "reject" } },
  { 1, "Hooli Manufacturing AG", 60000, 20, "erp", { "submit", "approve", "expire" } },
  { 1, "Soylent Foods Ltd", 25000, 90, "erp", {} },
  { 2, "Umbrella Retail SAS", 70000, 50, "crm", { "submit" } },
  { 2, "Vandelay Import Export", 250000, 80, "cloud", { "submit", "approve" } },   -- waits for the sales director
  { 3, "深圳星河电子有限公司", 180000, 65, "iot", { "submit", "approve" } },
  { 6, "深圳星河电子集团", 90000, 70, "crm", { "submit" } },   -- conflict with the one above
  { 3, false, 120000, 45, "cloud", { "submit", "approve", "convert" } },
  { 4, "Cyberdyne Financial Corp.", 95000, 35, "security", { "submit", "approve" } },
  { 4, "Wonka Health LLC", 40000, 25, "services", { "submit", "reject" } },
  { 5, "Minera del Sur S.A.", 55000, 55, "erp", { "submit" } },
  { 7, "Fjord Kraft AS", 30000, 60, "iot", {} },
  { 6, false, 66000, 40, "crm", { "submit", "approve", "convert" } },
}

local function date_in(days) return crm.date(crm.now() + days * DAY) end

local function user_id(login)
  local u = crm.query("user", { filter = "login = '" .. login .. "'", fields = "id", limit = 1 })[1]
  return u and u.id
end

local function slug(name)
  return (name:lower():gsub("[^%w]+", "."))
end

crm.job("demo", "manual", function()
  if crm.count("partner_program") > 0 or crm.count("account") == 0 then return end
  local programs = {}
  for _, p in ipairs(PROGRAMS) do
    programs[p[2]] = crm.create("partner_program", { name = p[1], tier = p[2], min_certified = p[3],
      min_revenue = p[4], discount = p[5], protection_days = p[6], benefits = p[7] }).id
  end

  -- partners: the base demo's two (partner1 and partner2 work for them) and five more, each with its people
  local partners, people = {}, {}
  for i, p in ipairs(PARTNERS) do
    local values = { type = p[2], tier = p[3], region = p[4], industries = p[5], solutions = p[6], regions = p[7],
      key_account_partner = p[8], channel_manager = user_id(p[9]), program = programs[p[3]], certified = true }
    local found = crm.query("partner", { filter = "name = '" .. p[1] .. "'", fields = "id", limit = 1 })[1]
    if found then
      crm.update("partner", found.id, values)
      partners[i] = found.id
    else
      values.name = p[1]
      values.website = "https://" .. slug(p[1]):gsub("^%.", ""):gsub("%.$", "") .. ".example"
      partners[i] = crm.create("partner", values).id
    end
    people[i] = {}
    for _, u in ipairs(crm.query("user", { filter = "partner = " .. partners[i], sort = "id", fields = "id" })) do
      people[i][#people[i] + 1] = u.id
    end
    -- their other people: users of the partner (no password: they do not sign in to the demo)
    for k, name in ipairs(p[10]) do
      local login = "p" .. i .. "_" .. k
      people[i][#people[i] + 1] = crm.create("user", { login = login, name = name, kind = "partner",
        role = "partner_user", partner = partners[i], email = slug(name) .. "@partner" .. i .. ".example" }).id
    end
  end

  for _, c in ipairs(COVERAGE) do
    crm.create("partner_coverage", { partner = partners[c[1]], region = c[2], industry = c[3], role = c[4] })
  end
  -- named accounts: the first accounts of each region go to a key-account partner or the region's partner
  local named = { emea = { 1, 2 }, apac = { 3, 3 }, north_america = { 4, 4 } }
  for region, who in pairs(named) do
    local accounts = crm.query("account", { filter = "region = '" .. region .. "'", sort = "id", fields = "id",
      limit = 2 })
    for k, a in ipairs(accounts) do
      crm.create("partner_coverage", { partner = partners[who[k]], account = a.id, role = "primary",
        valid_to = date_in(365) })
    end
  end

  -- courses and certifications: valid ones, one expiring within 60 days per partner, some expired
  local courses = {}
  for i, c in ipairs(COURSES) do
    courses[i] = crm.create("training_course", { name = c[1], solution = c[2], audience = c[3], hours = c[4] }).id
  end
  for i = 1, #PARTNERS do
    for k, person in ipairs(people[i]) do
      local course = courses[(i + k) % 6 + 1]
      local passed = -((i * 37 + k * 53) % 500) - 30
      local valid_to = passed + 730
      local status = "valid"
      if k == 2 then valid_to = 15 + i * 5 end                -- expiring soon
      if k == 3 then valid_to, status = -10, "expired" end
      crm.create("certification", { course = course, partner = partners[i], person = person, status = status,
        passed_on = date_in(passed), valid_to = date_in(valid_to), score = 70 + (i * 7 + k * 11) % 30 })
    end
    -- someone enrolled in the next course, someone who failed
    crm.create("certification", { course = courses[(i % 6) + 1], partner = partners[i], person = people[i][1],
      status = i % 2 == 0 and "failed" or "enrolled", score = i % 2 == 0 and 52 or nil })
  end

  -- registrations: created by the partner's first user, moved through the workflow (the conflict check runs);
  -- those converted name accounts of the base demo (a conversion makes no account then)
  local existing = crm.query("account", { sort = "id", fields = "name", limit = 50 })
  local next_account = 0
  for n, r in ipairs(REGISTRATIONS) do
    local company = r[2]
    if not company then
      next_account = next_account + 7
      local a = existing[(next_account - 1) % #existing + 1]
      company = a.name:upper()
    end
    local partner = partners[r[1]]
    local manager = user_id(PARTNERS[r[1]][9])
    local reg = crm.create("deal_registration", { partner = partner, company = company, amount = r[3],
      expected_close = date_in(r[4]), product_family = r[5], owner = people[r[1]][1],
      contact_name = "Contact " .. n, contact_email = "buyer" .. n .. "@customer" .. n .. ".example" })
    for _, step in ipairs(r[6]) do
      if step == "reject" then
        crm.update("deal_registration", reg.id, { rejection_reason = "The end customer buys direct under a framework agreement" })
      elseif step == "expire" then
        crm.update("deal_registration", reg.id, { protected_until = date_in(-1) })
      end
      crm.transition("deal_registration", reg.id, step)
    end
    -- decisions took a few hours to a few days (the approval turnaround kpi)
    local done = crm.get("deal_registration", reg.id)
    if done.submitted_at and done.decided_at and manager then
      crm.update("deal_registration", reg.id, { submitted_at = crm.datetime(crm.now() - ((n * 7) % 60 + 2) * 3600) })
    end
  end
end)
