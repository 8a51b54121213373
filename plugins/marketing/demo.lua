-- The package's demo data, run by `crm demo` after the base records and the
-- packages before it (a manual job: never on a clock): a year of quarterly
-- sales plans with a quota per rep, a budget per region, four regional
-- programmes with their campaigns, members (leads and contacts) who respond
-- and convert, expenses with lines in every state, and the deals the
-- campaigns brought. Everything goes through the object API and the
-- workflows, so every total, approval and influence row is the real thing.
-- Deterministic for a database (one seeded random stream, dates from the year).

local influence = require("influence")

local REGIONS = {
  -- region, budget, programme name
  { "emea", 360000, "EMEA Industry 4.0 Programme" },
  { "north_america", 420000, "North America Smart Factory Programme" },
  { "apac", 260000, "APAC Growth Programme" },
  { "latin_america", 120000, "LATAM Partner Programme" },
}

local CAMPAIGNS = {
  -- region index, name, type, start month, length in days, budgeted cost, outcome
  { 1, "Hannover Messe booth", "trade_show", 4, 5, 18000, "completed" },
  { 1, "Predictive maintenance webinar series", "webinar", 2, 60, 4500, "completed" },
  { 1, "DACH customer day", "event", 9, 1, 12000, "completed" },
  { 1, "Q4 plant-manager e-mail nurture", "email", 10, 75, 3000, "active" },
  { 1, "Edge analytics launch advertising", "advertising", 11, 90, 45000, "launching" },
  { 2, "Automate Detroit", "trade_show", 6, 4, 19500, "completed" },
  { 2, "Search ads: condition monitoring", "advertising", 3, 120, 15000, "completed" },
  { 2, "ROI calculator content hub", "content", 5, 180, 8000, "active" },
  { 2, "Customer referral rewards", "referral", 1, 300, 6000, "active" },
  { 3, "Shanghai smart manufacturing expo", "trade_show", 7, 4, 16000, "completed" },
  { 3, "Singapore partner roadshow", "partner", 8, 14, 9000, "completed" },
  { 3, "Japanese-language webinar", "webinar", 11, 30, 2500, "active" },
  { 3, "Korea direct mail", "email", 12, 30, 5000, "planned" },
  { 4, "São Paulo integrator summit", "event", 5, 2, 11000, "completed" },
  { 4, "Mexico co-marketing (MDF)", "partner", 9, 90, 7000, "active" },
  { 4, "Chile trade fair", "trade_show", 10, 3, 6000, "aborted" },
}

-- each type's cost items: description, quantity, the item's share of the expense
local LINES = {
  trade_show = { { "Booth space", 1, 0.45 }, { "Booth build and shipping", 1, 0.3 }, { "Staff travel", 4, 0.15 },
                 { "Giveaways", 500, 0.1 } },
  event = { { "Venue hire", 1, 0.5 }, { "Catering", 80, 0.3 }, { "Speaker travel", 2, 0.2 } },
  webinar = { { "Webinar platform licence", 1, 0.6 }, { "Promotion e-mails", 1, 0.4 } },
  email = { { "Design and copy", 1, 0.55 }, { "List rental", 1, 0.45 } },
  advertising = { { "Search ads", 1, 0.6 }, { "Display ads", 1, 0.4 } },
  content = { { "Agency: calculator build", 1, 0.7 }, { "Case-study shoot", 2, 0.3 } },
  referral = { { "Referral rewards", 6, 1 } },
  partner = { { "Co-marketing fund", 1, 0.65 }, { "Joint event costs", 1, 0.35 } },
}
local CATEGORY = { trade_show = "venue", event = "venue", webinar = "media", email = "print", advertising = "media",
                   content = "agency", referral = "gifts", partner = "partner_mdf" }

local function cents(x) return math.floor(x * 100 + 0.5) / 100 end

-- Fires transitions in order; stops quietly at the first one that does not apply.
local function walk(object, id, names)
  for _, name in ipairs(names) do
    if not pcall(crm.transition, object, id, name) then return false end
  end
  return true
end

local function date_of(year, month, day)
  return string.format("%04d-%02d-%02d", year, month, day)
end

local function plus_days(date, days)
  local y, m, d = date:match("^(%d+)-(%d+)-(%d+)$")
  -- days since 1970 of a civil date (the proleptic Gregorian calendar)
  local days_from_civil = function(yy, mm, dd)
    yy = mm <= 2 and yy - 1 or yy
    local era = (yy >= 0 and yy or yy - 399) // 400
    local yoe = yy - era * 400
    local doy = (153 * (mm + (mm > 2 and -3 or 9)) + 2) // 5 + dd - 1
    local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
  end
  -- noon UTC of the date, then whole days on
  return crm.date((days_from_civil(tonumber(y), tonumber(m), tonumber(d)) + days) * 86400 + 43200)
end

crm.job("demo", "manual", function()
  if crm.count("market_budget") > 0 then return end   -- run once per database
  math.randomseed(2026)
  local today = crm.date()
  local year = tonumber(today:sub(1, 4))
  local marketers = crm.query("user", { filter = "role in ('marketing_user', 'marketing_manager')", sort = "id",
    fields = "id,role", limit = 10 })
  local function marketer(i) return marketers[1] and marketers[(i - 1) % #marketers + 1].id or nil end
  local partners = crm.query("partner", { sort = "id", limit = 2, fields = "id" })
  local sellers = crm.query("user", { filter = "role in ('sales_rep', 'sales_manager')", sort = "id",
    fields = "id,role,team", limit = 20 })

  -- a budget per region, and its programme (a parent campaign launched on it)
  local budgets, programmes = {}, {}
  for i, r in ipairs(REGIONS) do
    local budget = crm.create("market_budget", { name = string.format("%s FY%d", r[3]:match("^(%S+)"), year),
      fiscal_year = year, region = r[1], amount = r[2], status = "approved", owner = marketer(1) })
    budgets[i] = budget
    local programme = crm.create("campaign", { name = r[3] .. " " .. year, type = "other", budget = budget.id,
      starts_on = date_of(year, 1, 1), ends_on = date_of(year, 12, 31), budgeted_cost = 5000,
      expected_revenue = r[2] * 4, owner = marketer(1),
      description = "The region's marketing for the year: every campaign below runs under it." })
    walk("campaign", programme.id, { "launch" })
    programmes[i] = programme
  end

  -- leads and contacts to invite, in a fixed order
  local leads = crm.query("lead", { filter = "status in ('new', 'working')", sort = "id", limit = 600,
    fields = "id,owner" })
  local contacts = crm.query("contact", { filter = "account is not null", sort = "id", limit = 400, fields = "id" })
  -- each call hands out the next n of a list in turn, each at most once (members are unique per campaign)
  local function cycler(list)
    local at = 0
    return function(n)
      local out = {}
      for _ = 1, math.min(n, #list) do
        out[#out + 1] = list[at % #list + 1]
        at = at + 1
      end
      return out
    end
  end
  local next_leads, next_contacts = cycler(leads), cycler(contacts)

  local sourced = {}   -- responders whose account's open deal the campaign sourced
  for k, c in ipairs(CAMPAIGNS) do
    local region, outcome = c[1], c[7]
    local starts = date_of(year, c[4], 1 + (k * 3) % 25)
    local ends = plus_days(starts, c[5])
    local partner = c[3] == "partner" and partners[1 + k % math.max(#partners, 1)] or nil
    local campaign = crm.create("campaign", { name = c[2], type = c[3], parent = programmes[region].id,
      budget = budgets[region].id, starts_on = starts, ends_on = ends, budgeted_cost = c[6],
      expected_revenue = c[6] * (4 + k % 4), expected_response = 10 + k % 4 * 5,
      partner = partner and partner.id or nil, owner = marketer(k + 1) })
    if outcome ~= "planned" then walk("campaign", campaign.id, { "launch" }) end

    -- members: leads and contacts, most targeted and sent, some responding
    local rate = 0.15 + (k % 5) * 0.05
    if outcome ~= "launching" then
      local invited = {}
      for _, lead in ipairs(next_leads(20 + (k * 7) % 25)) do invited[#invited + 1] = { lead = lead.id, owner = lead.owner } end
      for _, contact in ipairs(next_contacts(8 + (k * 5) % 12)) do invited[#invited + 1] = { contact = contact.id } end
      for i, who in ipairs(invited) do
        local roll = math.random()
        local status = outcome == "planned" and "targeted"
          or (roll < rate and "responded" or roll < 0.9 and "sent" or roll < 0.95 and "targeted" or "opted_out")
        local at = status == "responded" and (plus_days(starts, math.random(0, math.max(c[5], 1))) .. "T10:00:00Z") or nil
        if at and at:sub(1, 10) > today then at = today .. "T08:00:00Z" end
        crm.create("campaign_member", { campaign = campaign.id, lead = who.lead, contact = who.contact,
          status = status, responded_at = at, owner = campaign.owner })
        if status == "responded" and who.contact and outcome ~= "planned" then
          sourced[#sourced + 1] = { campaign = campaign.id, contact = who.contact }
        end
      end
    end

    -- expenses with lines, about the budgeted cost: on a finished campaign in invoices of up to
    -- 5,000 (approved without the manager), the first paid; on a running one the bill so far,
    -- one approved, one waiting for the manager when above 5,000, one still a draft
    if outcome ~= "planned" and outcome ~= "launching" then
      local total = c[6] * (0.85 + math.random() * 0.3)
      local count = outcome == "completed" and math.ceil(total / 4800) or outcome == "active" and 3 or 1
      for e = 1, count do
        local target = outcome == "aborted" and "rejected" or outcome == "completed" and (e == 1 and "paid" or "approved")
          or ({ "approved", "submitted", "draft" })[e]
        local part = outcome == "active" and total * ({ 0.3, 0.5, 0.2 })[e] or total / count
        local expense = crm.create("expense", { title = string.format("%s: invoice %d", c[2], e),
          campaign = campaign.id, category = CATEGORY[c[3]], vendor = ({ "Messe Service GmbH", "AdWorks Ltd", "PrintHouse",
          "EventPro", "Agency Nine" })[1 + (k + e) % 5], incurred_on = plus_days(starts, e * 3), partner = partner and partner.id or nil,
          owner = marketer(k + 1) })
        for n, line in ipairs(LINES[c[3]]) do
          crm.create("expense_line", { expense = expense.id, description = line[1], quantity = line[2],
            unit_cost = math.floor(part * line[3] / line[2] * 100) / 100, sort_order = n })
        end
        if target ~= "draft" then walk("expense", expense.id, { "submit" }) end
        if target == "approved" or target == "paid" then walk("expense", expense.id, { "approve" }) end
        if target == "paid" then walk("expense", expense.id, { "pay" }) end
        if target == "rejected" then walk("expense", expense.id, { "reject" }) end
      end
    end
    if outcome == "aborted" then walk("campaign", campaign.id, { "abort" }) end
  end

  -- the deals the campaigns sourced: an open deal of a responder's account takes the campaign
  -- as its primary one. (No lead is converted here: a conversion makes an account, and `crm demo
  -- --records N` promises N accounts; the API tests convert leads.)
  local won_at = 0
  for _, touch in ipairs(sourced) do
    local contact = crm.get("contact", touch.contact)
    local deal = contact and contact.account and crm.query("opportunity", { filter = "account = " .. contact.account
      .. " and campaign is null and stage not in ('won', 'lost')", sort = "id", limit = 1, fields = "id" })[1]
    if deal then
      crm.update("opportunity", deal.id, { campaign = touch.campaign, lead_source = "campaign" })
      -- half are won a few weeks after the campaign (inside the base demo's dates: up to July 2026)
      won_at = won_at + 1
      local campaign = crm.get("campaign", touch.campaign)
      local close = plus_days(campaign.ends_on, 14 + won_at % 30)
      if won_at % 2 == 0 and close <= "2026-07-03" then
        crm.update("opportunity", deal.id, { close_date = close })
        local stage = crm.get("opportunity", deal.id).stage
        local path = { prospecting = { "qualify", "propose", "negotiate", "win" }, qualification = { "propose", "negotiate", "win" },
                       proposal = { "negotiate", "win" }, negotiation = { "win" } }
        walk("opportunity", deal.id, path[stage] or {})
      end
    end
  end

  -- the finished campaigns complete: their influence is written and their ROI frozen
  for _, campaign in ipairs(crm.query("campaign", { filter = "status = 'active' and ends_on < '" .. today .. "' and parent is not null",
      sort = "id", limit = 100, fields = "id" })) do
    walk("campaign", campaign.id, { "complete" })
  end
  for _, programme in ipairs(programmes) do influence.climb(programme.id) end

  -- a quarterly plan per quarter of the year, a quota per seller; the past ones submitted
  -- (waiting for the sales director's approval) and refreshed from the won deals
  local manager = crm.query("user", { filter = "role = 'sales_manager'", sort = "id", limit = 1, fields = "id" })[1]
  for q = 1, 4 do
    local starts = date_of(year, (q - 1) * 3 + 1, 1)
    local ends = plus_days(date_of(q == 4 and year + 1 or year, q == 4 and 1 or q * 3 + 1, 1), -1)
    local plan = crm.create("sales_plan", { name = string.format("Sales plan Q%d %d", q, year), period = "quarter",
      starts_on = starts, ends_on = ends, owner = manager and manager.id or nil })
    for s, seller in ipairs(sellers) do
      -- a quota the seller meets by 75 to 115 percent of what they won (at least 40,000)
      local won = crm.aggregate("opportunity", { measures = "sum(amount)", filter = string.format(
        "stage = 'won' and owner = %d and close_date >= '%s' and close_date <= '%s'", seller.id, starts, ends) })[1]
      won = type(won and won.sum_amount) == "number" and won.sum_amount or 0
      local quota = math.max(40000, math.floor(won / (0.75 + 0.1 * ((s + q) % 5)) / 5000 + 0.5) * 5000)
      crm.create("plan_target", { plan = plan.id, user = seller.id, target_amount = quota,
        owner = manager and manager.id or nil })
    end
    if starts <= today then
      walk("sales_plan", plan.id, { "submit", "approve" })
      influence.refresh_plan(crm.get("sales_plan", plan.id))
    end
  end
end)
