-- The package's demo data, run by `crm demo` after the base records (a
-- manual job: never on a clock). Everything goes through the object API and
-- the workflows as a user would drive them, so every total, order, contract,
-- approval and audit entry is the real thing. Deterministic for a database.

local forecasts = require("forecast")
local money = require("money")

local PRODUCTS = {
  -- code, name, family, kind, list price, unit
  { "GW-100", "Edge Gateway GW-100", "hardware", "goods", 1000, "unit" },
  { "GW-300", "Industrial Gateway GW-300", "hardware", "goods", 2400, "unit" },
  { "SP-200", "Sensor Pack (10 sensors)", "hardware", "goods", 200, "pack" },
  { "CAM-4K", "4K Inspection Camera", "hardware", "goods", 1850, "unit" },
  { "SW-ANL", "Analytics Suite, annual licence", "software", "goods", 4800, "licence" },
  { "SW-MON", "Monitoring Cloud, per device-year", "subscription", "service", 36, "device" },
  { "SW-API", "Integration API add-on", "software", "goods", 1200, "licence" },
  { "SV-INS", "On-site Installation", "service", "service", 3000, "job" },
  { "SV-TRN", "Operator Training (1 day)", "service", "service", 950, "day" },
  { "SV-PRM", "Premium Support, annual", "subscription", "service", 2600, "year" },
  { "PT-PSU", "Spare Power Supply", "spare_part", "goods", 85, "unit" },
  { "PT-ANT", "LTE Antenna Kit", "spare_part", "goods", 49.9, "kit" },
}

-- price books beside the standard list: partner tiers and member/e-commerce prices
local BOOKS = { partner_gold = 0.85, partner_silver = 0.9, ecommerce = 0.95 }

local function round2(x) return math.floor(x * 100 + 0.5) / 100 end

local function day_offset(days)
  return crm.date(crm.now() + days * 86400)
end

local function pick(list) return list[math.random(#list)] end

-- Fires transitions in order as the system; stops quietly at the first one that does not apply.
local function walk(object, id, names)
  for _, name in ipairs(names) do
    local ok = pcall(crm.transition, object, id, name)
    if not ok then return false end
  end
  return true
end

crm.job("demo", "manual", function()
  if crm.count("product") > 0 then return end   -- run once per database
  math.randomseed(42)
  -- company currency per unit (the company's own currency, in app.yaml, has none)
  local rates = { USD = 0.92, GBP = 1.17, CNY = 0.128, JPY = 0.0061 }
  for code, value in pairs(rates) do
    if crm.count("exchange_rate", "currency = '" .. code .. "'") == 0 then
      crm.create("exchange_rate", { currency = code, rate = value, valid_from = "2026-01-01" })
    end
  end
  local products = {}
  for _, p in ipairs(PRODUCTS) do
    local product = crm.create("product", { code = p[1], name = p[2], family = p[3], kind = p[4],
      list_price = p[5], unit = p[6], active = true })
    products[#products + 1] = product
    crm.create("price_book_entry", { product = product.id, price_book = "standard", unit_price = p[5],
      valid_from = "2026-01-01" })
    crm.create("price_book_entry", { product = product.id, price_book = "standard", currency = "USD",
      unit_price = round2(p[5] / rates.USD), valid_from = "2026-01-01" })
    for book, factor in pairs(BOOKS) do
      crm.create("price_book_entry", { product = product.id, price_book = book,
        unit_price = round2(p[5] * factor), valid_from = "2026-01-01" })
    end
  end
  -- a price rise planned for next year on the gateways: the entry that applies is chosen by date
  crm.create("price_book_entry", { product = products[1].id, price_book = "standard", unit_price = 1080,
    valid_from = "2027-01-01" })

  -- quotes on deals in proposal, negotiation or won, in every state of the quote flow
  local deals = crm.query("opportunity", { filter = "stage in ('proposal', 'negotiation', 'won') and owner is not null",
    sort = "id", limit = 40, fields = "id,name,account,owner,stage,partner" })
  local plans = {
    { "draft" }, { "in_review" }, { "approved" }, { "presented" }, { "accepted" }, { "accepted", "confirm" },
    { "accepted", "confirm", "pay_part" }, { "accepted", "confirm", "pay_all" }, { "rejected" }, { "expired" },
    { "discount_review" },
  }
  for i, deal in ipairs(deals) do
    local plan = plans[(i - 1) % #plans + 1]
    local target = plan[1]
    local header = (target == "discount_review") and 0 or pick({ 0, 0, 5, 10 })
    local quote = crm.create("quote", { name = deal.name, opportunity = deal.id, account = deal.account,
      partner = deal.partner, owner = deal.owner, discount = header, currency = i % 5 == 0 and "USD" or "EUR",
      valid_until = target == "expired" and day_offset(-3) or day_offset(30 + i) })
    for n = 1, math.random(2, 5) do
      local product = pick(products)
      crm.create("quote_line", { quote = quote.id, product = product.id, owner = deal.owner,
        quantity = product.family == "subscription" and math.random(10, 200) or math.random(1, 12),
        discount = (target == "discount_review" and n == 1) and 25 or pick({ 0, 0, 0, 5, 10, 15 }) })
    end
    if target ~= "draft" then
      walk("quote", quote.id, { "submit" })
      if target ~= "in_review" and target ~= "discount_review" then
        if target == "rejected" then
          walk("quote", quote.id, { "reject" })
        else
          walk("quote", quote.id, { "approve" })
          if target ~= "approved" then walk("quote", quote.id, { "present" }) end
          if target == "expired" then
            walk("quote", quote.id, { "expire" })
          elseif target == "accepted" then
            walk("quote", quote.id, { "accept" })
          end
        end
      elseif target == "discount_review" then
        walk("quote", quote.id, { "approve" })   -- waits for the manager, then the director
      end
    end
    if plan[2] == "confirm" then
      local order = crm.query("sales_order", { filter = "quote = " .. quote.id, limit = 1 })[1]
      if order then
        walk("sales_order", order.id, { "confirm" })
        order = crm.get("sales_order", order.id)
        if plan[3] == "pay_part" then
          crm.create("payment", { order = order.id, amount = round2(order.grand_total * 0.4), status = "received",
            received_on = day_offset(-5), method = "bank_transfer" })
          crm.create("payment", { order = order.id, amount = round2(order.grand_total * 0.6), status = "planned",
            received_on = day_offset(25), method = "bank_transfer" })
        elseif plan[3] == "pay_all" then
          walk("sales_order", order.id, { "fulfil" })
          crm.create("payment", { order = order.id, amount = order.grand_total, status = "received",
            received_on = day_offset(-2), method = pick({ "bank_transfer", "card" }) })
        end
        local contract = crm.query("contract", { filter = "order = " .. order.id, limit = 1 })[1]
        if contract then walk("contract", contract.id, { "activate" }) end
      end
    end
  end

  -- running contracts signed last year: some end within 90 days (the renewal timer opens their renewals)
  local accounts = crm.query("account", { sort = "id", limit = 12, fields = "id,owner" })
  for i, account in ipairs(accounts) do
    local months_ago = 6 + (i % 7)   -- 6..12 months into a 12-month term
    local contract = crm.create("contract", { account = account.id, starts_on = day_offset(-months_ago * 30 - 5),
      term_months = 12, value = 12000 + 1500 * i, owner = account.owner })
    walk("contract", contract.id, { "activate" })
    -- what the renewal timer does for a contract ending within 90 days, done now: the demo starts complete
    contract = crm.get("contract", contract.id)
    if contract.status == "active" and contract.days_left <= 90 then money.renew(contract) end
    if i <= 6 then
      crm.create("account_plan", { account = account.id, fiscal_year = tonumber(crm.date():sub(1, 4)),
        revenue_goal = 50000 + 10000 * i, share_of_wallet_goal = 20 + i, owner = account.owner, status = "approved",
        strategy = "Grow from the installed gateways into analytics and premium support.",
        white_space = "Analytics Suite; Premium Support; second plant",
        relationship_map = "CIO sponsors the programme; plant managers are users; procurement is neutral." })
    end
  end

  -- the buying centre and presales help on open deals
  local open = crm.query("opportunity", { filter = "stage in ('qualification', 'proposal', 'negotiation')",
    sort = "id", limit = 15, fields = "id,account,owner,sales_engineer" })
  local roles = { "decision_maker", "economic_buyer", "technical_buyer", "champion", "influencer", "blocker" }
  for i, deal in ipairs(open) do
    local contacts = crm.query("contact", { filter = "account = " .. deal.account, limit = 3, fields = "id" })
    for k, contact in ipairs(contacts) do
      crm.create("contact_role", { opportunity = deal.id, contact = contact.id, owner = deal.owner,
        role = roles[(i + k) % #roles + 1], attitude = pick({ "supporter", "neutral", "opponent" }),
        influence = pick({ "high", "medium", "low" }) })
    end
    if i % 3 == 0 then
      crm.create("presales_request", { opportunity = deal.id, owner = deal.owner,
        kind = pick({ "demo", "poc", "solution_design", "bid" }), needed_by = day_offset(7 + i),
        engineer = deal.sales_engineer, hours = 4 * (i % 5 + 1),
        status = deal.sales_engineer and "assigned" or "requested" })
    end
  end

  -- forecast categories on open deals, then this quarter's forecast for each seller
  for i, deal in ipairs(crm.query("opportunity", { filter = "stage in ('proposal', 'negotiation')", limit = 200,
      fields = "id,stage" })) do
    crm.update("opportunity", deal.id, { forecast_category = deal.stage == "negotiation"
      and (i % 3 == 0 and "best_case" or "commit") or (i % 4 == 0 and "best_case" or "pipeline") })
  end
  local today = crm.date()
  local year, month = tonumber(today:sub(1, 4)), tonumber(today:sub(6, 7))
  local quarter_start = string.format("%04d-%02d-01", year, (month - 1) // 3 * 3 + 1)
  local sellers = crm.query("user", { filter = "role in ('sales_rep', 'sales_manager')", fields = "id,role", limit = 50 })
  for _, seller in ipairs(sellers) do
    local forecast = crm.create("forecast", { owner = seller.id, period = "quarter", period_start = quarter_start,
      quota = seller.role == "sales_manager" and 600000 or 180000 })
    forecasts.recalculate(forecast)
  end
end)
