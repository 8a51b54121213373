-- Tests of the lead2cash plugin: crm plugin test lead2cash
-- (the stories over REST are tests/api/lead2cash_test.py)

local function setup()
  local account = crm.create("account", { name = "Renewal Test GmbH" })
  local product = crm.create("product", { code = "T-" .. account.id, name = "Test product", list_price = 100 })
  return account, product
end

local function days_from_today(n)
  return crm.date(crm.now() + n * 86400)
end

function test_a_line_takes_the_price_valid_today_in_the_quotes_book()
  local account, product = setup()
  crm.create("price_book_entry", { product = product.id, price_book = "standard", unit_price = 90,
    valid_from = days_from_today(-400) })
  crm.create("price_book_entry", { product = product.id, price_book = "standard", unit_price = 95,
    valid_from = days_from_today(-10) })
  crm.create("price_book_entry", { product = product.id, price_book = "standard", unit_price = 99,
    valid_from = days_from_today(30) })
  local deal = crm.create("opportunity", { name = "Deal", account = account.id })
  local quote = crm.create("quote", { name = "Q", opportunity = deal.id, account = account.id })
  local line = crm.create("quote_line", { quote = quote.id, product = product.id, quantity = 3 })
  assert(line.unit_price == 95, "the entry valid today: " .. tostring(line.unit_price))
  assert(line.line_total == 285, "line total " .. tostring(line.line_total))
  local typed = crm.create("quote_line", { quote = quote.id, product = product.id, quantity = 1, unit_price = 50 })
  assert(typed.unit_price == 50, "a typed price is kept")
  assert(typed.sort_order == 2, "the next position: " .. tostring(typed.sort_order))
  local other = crm.create("product", { code = "T2-" .. account.id, name = "No price" })
  local ok, err = pcall(crm.create, "quote_line", { quote = quote.id, product = other.id, quantity = 1 })
  assert(not ok and tostring(err):find("no price for this product", 1, true), tostring(err))
end

function test_the_renewal_timer_opens_one_renewal_opportunity()
  local account = setup()
  -- a 12-month contract that ends in about 80 days
  local contract = crm.create("contract", { account = account.id, starts_on = days_from_today(-285),
    term_months = 12, value = 24000 })
  crm.transition("contract", contract.id, "activate")
  contract = crm.get("contract", contract.id)
  assert(contract.days_left > 70 and contract.days_left <= 90, "days left " .. tostring(contract.days_left))
  crm.test.timer("contract_flow", "renewal_due")
  contract = crm.get("contract", contract.id)
  assert(contract.renewal_opportunity, "a renewal opportunity is linked")
  local deal = crm.get("opportunity", contract.renewal_opportunity)
  assert(deal.amount == 24000 and deal.type == "renewal" and deal.close_date == contract.ends_on,
    "renewal deal: " .. crm.json.encode(deal))
  crm.test.timer("contract_flow", "renewal_due")
  assert(crm.count("opportunity", "account = " .. account.id .. " and type = 'renewal'") == 1, "no duplicate")
end

function test_the_expiry_timer_expires_a_presented_quote_past_its_date()
  local account, product = setup()
  local deal = crm.create("opportunity", { name = "Deal", account = account.id })
  local quote = crm.create("quote", { name = "Q", opportunity = deal.id, account = account.id,
    valid_until = days_from_today(1) })
  crm.create("quote_line", { quote = quote.id, product = product.id, quantity = 1 })
  for _, name in ipairs({ "submit", "approve", "present" }) do crm.transition("quote", quote.id, name) end
  crm.update("quote", quote.id, { valid_until = days_from_today(-1) })
  crm.test.timer("quote_flow", "expire_quotes")
  assert(crm.get("quote", quote.id).status == "expired", "expired")
end

function test_a_forecast_counts_the_owners_tree_by_category()
  local account = setup()
  local boss = crm.create("user", { login = "boss_fc", name = "Boss", role = "sales_manager" })
  local rep = crm.create("user", { login = "rep_fc", name = "Rep", role = "sales_rep", manager = boss.id })
  local start = days_from_today(0):sub(1, 8) .. "01"
  local function deal(owner, amount, category)
    crm.create("opportunity", { name = "D", account = account.id, owner = owner, amount = amount,
      close_date = days_from_today(0), forecast_category = category })
  end
  deal(rep.id, 1000, "commit")
  deal(rep.id, 500, "best_case")
  deal(boss.id, 2000, "pipeline")
  deal(rep.id, 700, "omitted")
  local forecast = crm.create("forecast", { owner = boss.id, period = "month", period_start = start, quota = 10000 })
  forecast = crm.test.action("lead2cash.recalculate", "forecast", forecast.id)
  assert(forecast.commit == 1000 and forecast.best_case == 500 and forecast.pipeline == 2000,
    "by category: " .. crm.json.encode(forecast))
  assert(forecast.deal_count == 3, "omitted deals do not count")
  assert(forecast.forecast_total == 1000, "commit + closed")
  crm.update("forecast", forecast.id, { manager_adjustment = 1800 })
  assert(crm.get("forecast", forecast.id).forecast_total == 1800, "the manager's figure wins")
end
