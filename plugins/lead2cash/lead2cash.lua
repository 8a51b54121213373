-- lead2cash: what the YAML cannot say. Totals are formulas and rollups in
-- objects/*.yaml; this file prices lines from the price book, copies an
-- accepted quote into an order, starts contracts and renewals, settles paid
-- orders and recalculates forecasts. Every crm.* call is in sdk/lua-api.md.

local forecasts = require("forecast")

local LINE_LIMIT = 1000   -- lines copied from one quote (the batch limit of the API)

-- The price of product in price_book and currency on day (the entry valid that day, the latest start wins).
local function book_price(product, price_book, currency, day)
  local rows = crm.query("price_book_entry", {
    filter = string.format("product = %d and price_book = '%s' and currency = '%s' and valid_from <= '%s' "
      .. "and (valid_to is null or valid_to >= '%s')", product, price_book, currency, day, day),
    sort = "-valid_from", limit = 1, fields = "unit_price" })
  return rows[1] and rows[1].unit_price
end

local money = require("money")
local rate, cents = money.rate, money.cents

-- A line as it will be: the incoming values over the stored line (crm.null clears).
local function merged(new, old)
  local line = {}
  for field, value in pairs(old or {}) do line[field] = value end
  for field, value in pairs(new) do
    if value == crm.null then line[field] = nil else line[field] = value end
  end
  return line
end

-- Fills unit_price from the parent's price book (standard for orders) when the
-- line names a product without a price, and a position at the end of the list.
local function price_line(parent_object, parent_field)
  return function(new, old)
    local line = merged(new, old)
    local parent = line[parent_field] and crm.get(parent_object, line[parent_field])
    if not parent then return end
    local product_changed = old and new.product and new.product ~= old.product
    if line.product and (line.unit_price == nil or (product_changed and new.unit_price == nil)) then
      local currency = parent.currency or "EUR"
      local price = book_price(line.product, parent.price_book or "standard", currency, crm.date())
      if price == nil then
        -- the list price is in the company currency
        local product = crm.get("product", line.product)
        price = product and product.list_price and cents(product.list_price / rate(currency))
      end
      if price == nil then
        error({ field = "unit_price", message = "no price for this product in price book '"
          .. (parent.price_book or "standard") .. "': enter one" })
      end
      new.unit_price = price
    end
    if not old and new.sort_order == nil then
      new.sort_order = crm.count(parent_object == "quote" and "quote_line" or "order_line",
        string.format("%s = %d", parent_field, parent.id)) + 1
    end
  end
end

crm.on("quote_line", "before_create", price_line("quote", "quote"))
crm.on("quote_line", "before_update", price_line("quote", "quote"))
crm.on("order_line", "before_create", price_line("sales_order", "order"))
crm.on("order_line", "before_update", price_line("sales_order", "order"))

-- accept: the quote becomes one order with a copy of every line, in the
-- transition's transaction; the deal takes the quote's net total and, when in
-- negotiation, is won.
crm.action("create_order", function(quote)
  if not quote then crm.error("invalid", "create_order works on a quote") end
  return crm.as_system(function()
    local existing = crm.query("sales_order", { filter = "quote = " .. quote.id, limit = 1, fields = "id" })
    if existing[1] then return existing[1] end
    local order = crm.create("sales_order", {
      account = quote.account, quote = quote.id, opportunity = quote.opportunity, partner = quote.partner,
      channel = quote.partner and "partner" or "direct", discount = quote.discount,
      tax_rate = quote.tax_rate, currency = quote.currency, owner = quote.owner })
    local lines = crm.query("quote_line", { filter = "quote = " .. quote.id, sort = "sort_order,id",
      limit = LINE_LIMIT })
    for _, line in ipairs(lines) do
      crm.create("order_line", { order = order.id, product = line.product, sort_order = line.sort_order,
        quantity = line.quantity, unit_price = line.unit_price, discount = line.discount, owner = quote.owner })
    end
    local deal = crm.get("opportunity", quote.opportunity)
    if deal and deal.stage ~= "won" and deal.stage ~= "lost" then
      -- deals are in the company currency
      crm.update("opportunity", deal.id, { amount = cents(quote.net_total * rate(quote.currency)) })
      if deal.stage == "negotiation" then crm.transition("opportunity", deal.id, "win") end
    end
    return crm.get("sales_order", order.id)
  end)
end)

-- confirm: the contract behind the order, from today for twelve months.
crm.action("create_contract", function(order)
  if not order then crm.error("invalid", "create_contract works on an order") end
  return crm.as_system(function()
    local existing = crm.query("contract", { filter = "order = " .. order.id, limit = 1, fields = "id" })
    if existing[1] then return existing[1] end
    return crm.create("contract", { account = order.account, order = order.id, starts_on = crm.date(),
      term_months = 12, value = order.grand_total, currency = order.currency, owner = order.owner })
  end)
end)

-- The renewal timer: one opportunity per contract, closing when it ends.
crm.action("create_renewal", function(contract)
  if not contract then crm.error("invalid", "create_renewal works on a contract") end
  return money.renew(contract)
end)

-- A received payment that clears the balance settles its order.
local function settle(payment)
  if payment.status ~= "received" then return end
  crm.as_system(function()
    local order = crm.get("sales_order", payment.order)
    if order and order.balance <= 0 and (order.status == "confirmed" or order.status == "fulfilled"
        or order.status == "invoiced") then
      crm.transition("sales_order", order.id, "settle")
    end
  end)
end
crm.on("payment", "after_create", settle)
crm.on("payment", "after_update", settle)

-- Recalculate: the deals of the owner's tree closing in the period, by forecast category.
crm.action("recalculate", function(forecast)
  if not forecast then crm.error("invalid", "recalculate works on a forecast") end
  if forecast.status ~= "draft" then crm.error("conflict", "only a draft forecast is recalculated") end
  return forecasts.recalculate(forecast)
end)

require("demo")
