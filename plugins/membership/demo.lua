-- The package's demo data, run by `crm demo` after the base records (a manual
-- job). One programme (0.1 point per currency unit, a point worth 0.10, hold
-- 14 days, expiry 365; basic, silver x1.2, gold x1.5), earn rules with a bonus
-- campaign, rewards, members for consumer1 and consumer2 and for a few hundred
-- contacts, and a year of B2C orders replayed day by day through the same
-- steps as live traffic: holds post when due, tiers move, some orders are
-- returned, points are redeemed and old lots expire. Deterministic for a
-- database (math.randomseed); a no-op when the programme exists.
local points = require("points")
local M = {}

local MEMBERS = 240          -- contacts made members, besides the consumers
local DAYS = 400             -- the history replayed, up to today

local REWARDS = {
  { "Voucher 5.00", 50, "voucher", 5 }, { "Voucher 30.00", 300, "voucher", 30 },
  { "Voucher 100.00", 1000, "voucher", 100 }, { "Sensor Pack", 600, "product", nil },
  { "Priority support call", 250, "service", nil }, { "Factory tour", 2500, "experience", nil },
}
local CONSUMER_PRODUCTS = { "SP-200", "PT-PSU", "PT-ANT", "SW-MON", "GW-100" }

local function day_of(offset) return crm.date(crm.now() + offset * 86400) end

function M.run(ledger)
  if crm.count("loyalty_program") > 0 or crm.count("account") == 0 then return end
  math.randomseed(18)
  local today = crm.date()
  local program = crm.create("loyalty_program", { name = "Aurora Rewards", points_per_currency = 0.1, point_value = 0.1,
                                                  hold_days = 14, expiry_days = 365 })
  local basic = crm.create("member_tier", { program = program.id, name = "basic", min_lifetime_points = 0, multiplier = 1,
                                            benefits = "Points on every order" })
  crm.create("member_tier", { program = program.id, name = "silver", min_lifetime_points = 1000, multiplier = 1.2,
                              benefits = "x1.2 points, free shipping" })
  crm.create("member_tier", { program = program.id, name = "gold", min_lifetime_points = 5000, multiplier = 1.5,
                              benefits = "x1.5 points, priority service line" })
  crm.create("earn_rule", { program = program.id, name = "Points on every order", event = "order_paid" })
  crm.create("earn_rule", { program = program.id, name = "Double points online week", event = "order_paid",
                            condition = "channel = 'ecommerce'", points_per_currency = 0.1,
                            valid_from = day_of(-200), valid_to = day_of(-193) })
  crm.create("earn_rule", { program = program.id, name = "Hardware bonus", event = "order_paid",
                            product_family = "hardware", points_per_currency = 0.05 })
  crm.create("earn_rule", { program = program.id, name = "Welcome points", event = "signup", points_fixed = 50 })
  local rewards = {}
  for _, r in ipairs(REWARDS) do
    rewards[#rewards + 1] = crm.create("reward", { program = program.id, name = r[1], points_cost = r[2], kind = r[3],
                                                   voucher_value = r[4] })
  end
  -- a member's orders are booked to their contact's account (the first account for a contact without one)
  local first_account = crm.query("account", { sort = "id", limit = 1 })[1].id
  local products = {}
  for _, code in ipairs(CONSUMER_PRODUCTS) do
    local product = crm.query("product", { filter = "code = " .. points.quote(code), limit = 1 })[1]
    if product then products[#products + 1] = product end
  end
  if #products == 0 then return end

  -- the members: contacts with an e-mail, then the consumers (their own contacts, with logins)
  local members, taken = {}, {}
  for _, user in ipairs(crm.query("user", { filter = "kind = 'consumer' and contact != null", limit = 100 })) do
    taken[user.contact] = true
  end
  for _, contact in ipairs(crm.query("contact", { filter = "email != null", sort = "id", limit = MEMBERS + 10 })) do
    if #members >= MEMBERS then break end
    if not taken[contact.id] then
      local member = crm.create("member", { contact = contact.id, program = program.id, tier = basic.id,
                                            joined_on = day_of(-math.random(30, DAYS)) })
      members[#members + 1] = { id = member.id, account = contact.account }
    end
  end
  for _, user in ipairs(crm.query("user", { filter = "kind = 'consumer' and active = true", sort = "id", limit = 100 })) do
    local contact, member = ledger.enrol(user)
    if member then
      crm.update("user", user.id, { contact = contact, member = member })
      crm.update("member", member, { joined_on = day_of(-DAYS + 20) })
      members[#members + 1] = { id = member, rich = true, account = crm.get("contact", contact).account }
    end
  end

  -- a year of orders, in date order
  local orders = {}
  for _, m in ipairs(members) do
    local joined = points.day(crm.get("member", m.id).joined_on)
    local count = m.rich and 14 or math.random(0, 6)
    for _ = 1, count do
      local offset = math.random(joined - points.day(today), -1)
      orders[#orders + 1] = { member = m.id, offset = offset, rich = m.rich, account = m.account or first_account }
    end
  end
  table.sort(orders, function(a, b) return a.offset < b.offset or (a.offset == b.offset and a.member < b.member) end)
  for _, o in ipairs(orders) do
    local day = day_of(o.offset)
    ledger.post_due(o.member, day)
    ledger.review_tier(o.member, day)
    local order = crm.create("sales_order", { account = o.account, member = o.member, order_date = day, paid_on = day,
                                              channel = math.random(2) == 1 and "ecommerce" or "store", tax_rate = 0 })
    for n = 1, math.random(1, 3) do
      local product = products[math.random(#products)]
      crm.create("order_line", { order = order.id, product = product.id, sort_order = n, quantity = math.random(1, 4),
                                 unit_price = o.rich and math.random(200, 900) or math.random(20, 400) })
    end
    crm.transition("sales_order", order.id, "confirm")
    order = crm.get("sales_order", order.id)
    crm.create("payment", { order = order.id, amount = order.grand_total, status = "received", received_on = day,
                            method = "card" })
    order = crm.get("sales_order", order.id)
    if math.random(100) <= 6 then            -- a return within the window: full or in part
      local returned = math.random(2) == 1 and order.grand_total or math.floor(order.grand_total * 50) / 100
      crm.update("sales_order", order.id, { returned_amount = returned })
      ledger.reverse_order(order, returned)
    end
    local member = crm.get("member", o.member)
    if math.random(100) <= 25 and (member.balance or 0) > 0 then     -- spend what is there, now and then
      local affordable = {}
      for _, reward in ipairs(rewards) do
        if reward.points_cost <= member.balance then affordable[#affordable + 1] = reward end
      end
      if #affordable > 0 then
        local redemption = crm.create("redemption", { member = member.id, reward = affordable[math.random(#affordable)].id })
        if math.random(10) == 1 then
          crm.transition("redemption", redemption.id, "cancel")
        elseif math.random(10) <= 8 then
          crm.transition("redemption", redemption.id, "fulfil")
        end
      end
    end
  end
  -- up to today: what is due posts, what is old expires
  for _, m in ipairs(members) do
    ledger.post_due(m.id, today)
    ledger.expire(m.id, " and expires_on < " .. points.quote(today))
    ledger.review_tier(m.id, today)
  end
end

return M
