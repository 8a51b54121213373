-- membership (会员): the points ledger's writer. Paid orders earn points held
-- for the return window; the member_flow timers post them when the hold ends,
-- review tiers and expire what is left of old lots; redemptions burn points
-- oldest lot first; returns reverse the proportional points; a consumer who
-- becomes active is enrolled. Every balance is a sum of ledger entries, which
-- are never changed: what changes (what a lot has left) lives on points_lot.
local points = require("points")
local sys = crm.as_system
local fmt = points.format

-- Every record of a query, page by page.
local function all(object, filter, sort)
  local out, after = {}, nil
  repeat
    local rows, next = crm.query(object, { filter = filter, sort = sort or "id", limit = 1000, after = after })
    for _, row in ipairs(rows) do out[#out + 1] = row end
    after = next
  until not after
  return out
end

-- The day a step works on: a timer's clock (crm timer --at T hands T) or today.
local function today_of(args)
  if type(args) == "table" and type(args.now) == "string" and points.day(args.now) then
    return args.now:sub(1, 10)
  end
  return crm.date()
end

local function entry(values) return crm.create("points_ledger", values) end

-- A posted credit gets a lot holding what of it is spendable: a member in debt (a reversal
-- after a burn) pays the debt first, so the lots never hold more than the balance.
local function credit(member_id, row, expires_on)
  local member = crm.get("member", member_id)
  local spendable = math.min(row.points, math.max(member.balance or 0, 0))
  if spendable > 0 then
    crm.create("points_lot", { member = member_id, entry = row.id, points = row.points,
                               remaining = spendable, expires_on = expires_on })
  end
end

-- Takes n points from the member's lots: first those of `first` (a filter), then the rest
-- oldest expiry first (lots that never expire last), a page at a time until n is covered.
-- Returns the expiry of the first lot taken.
local function consume(member_id, n, first)
  local base = "member = " .. member_id .. " and remaining > 0"
  local filters = { base .. " and expires_on != null", base .. " and expires_on = null" }
  if first then
    -- its own lots first; what they cannot cover drains them, so the later passes skip them
    table.insert(filters, 1, base .. " and (" .. first .. ")")
  end
  local first_expiry
  for _, filter in ipairs(filters) do
    local after
    repeat
      if n <= 0 then return first_expiry end
      local lots, next = crm.query("points_lot", { filter = filter, sort = "expires_on,id", limit = 50, after = after })
      local plan
      plan, n = points.fifo(lots, n)
      for _, step in ipairs(plan) do
        if first_expiry == nil then first_expiry = step.lot.expires_on or false end
        crm.update("points_lot", step.lot.id, { remaining = step.lot.remaining - step.take })
      end
      after = next
    until not after
  end
  return first_expiry or nil
end

local function notify(member, title)
  if member.user then
    crm.create("notification", { user = member.user, title = title, object_name = "member", record_id = member.id })
  end
end

-- The tier the member's lifetime points reach: an upgrade at once, a downgrade only on the
-- anniversary of joining (a member keeps a tier for the year they earned it).
local function review_tier(member_id, day)
  local member = crm.get("member", member_id)
  local tiers = all("member_tier", "program = " .. member.program, "min_lifetime_points")
  local target = points.tier_for(tiers, member.lifetime or 0)
  local current
  for _, tier in ipairs(tiers) do if tier.id == member.tier then current = tier end end
  if not target or (current and current.id == target.id) then return end
  if not current or target.min_lifetime_points > current.min_lifetime_points
      or points.anniversary(member.joined_on, day) then
    crm.update("member", member_id, { tier = target.id })
    notify(member, "Tier / 等级: " .. target.name)
  end
end

-- Earn ----------------------------------------------------------------------

local function rule_applies(rule, day, order_id)
  if rule.active == false then return false end
  if rule.valid_from and rule.valid_from > day then return false end
  if rule.valid_to and rule.valid_to < day then return false end
  if order_id and rule.condition and rule.condition ~= "" then
    local ok, count = pcall(crm.count, "sales_order", "id = " .. order_id .. " and (" .. rule.condition .. ")")
    if not ok or count == 0 then return false end
  end
  return true
end

local function family_amount(order_id, family)
  local total = 0
  for _, line in ipairs(all("order_line", "order = " .. order_id .. " and product.family = " .. points.quote(family))) do
    total = total + (line.line_total or 0)
  end
  return total
end

local function multiplier(member)
  local tier = member.tier and crm.get("member_tier", member.tier)
  return tier and tier.multiplier or 1
end

-- Writes an earn of p points on day: held (pending) for the programme's hold_days, or
-- posted with its lot at once when there is no hold.
local function earn(member, program, p, day, values)
  if p <= 0 then return end
  values.member, values.kind, values.points = member.id, "earn", p
  if (program.expiry_days or 0) > 0 then values.expires_on = points.add_days(day, program.expiry_days) end
  local hold = program.hold_days or 0
  if hold > 0 then
    values.status, values.posts_on = "pending", points.add_days(day, hold)
    entry(values)
  else
    values.status, values.posts_on = "posted", day
    credit(member.id, entry(values), values.expires_on)
  end
end

-- A paid order of a member: one earn per matching rule (the programme's own rate when it has
-- no order rules), at the member's tier multiplier; once per order.
local function earn_order(order)
  if crm.count("points_ledger", "order = " .. order.id .. " and kind = 'earn'") > 0 then return end
  local member = crm.get("member", order.member)
  if not member or member.status ~= "active" then return end
  local program = crm.get("loyalty_program", member.program)
  if not program or not program.active then return end
  local day = order.paid_on or crm.date()
  local factor = multiplier(member)
  local rules = all("earn_rule", "program = " .. program.id .. " and event = 'order_paid'")
  local amount = order.grand_total or 0
  if #rules == 0 then
    earn(member, program, points.earn(amount, program.points_per_currency, factor, 0), day, { order = order.id })
  end
  for _, rule in ipairs(rules) do
    if rule_applies(rule, day, order.id) then
      local base = rule.product_family and family_amount(order.id, rule.product_family) or amount
      local rate = rule.points_per_currency
      if rate == nil and (rule.points_fixed or 0) == 0 then rate = program.points_per_currency end
      earn(member, program, points.earn(base, rate, factor, rule.points_fixed), day, { order = order.id, rule = rule.id })
    end
  end
end

crm.on("sales_order", "after_transition", function(order)
  if order.status ~= "paid" or not order.member then return end
  sys(function()
    local values = {}
    if not order.paid_on then
      order.paid_on = crm.date()
      values.paid_on = order.paid_on
    end
    if crm.count("sales_order", "member = " .. order.member .. " and status = 'paid' and id != " .. order.id) > 0 then
      values.repeat_order = true
    end
    if next(values) then crm.update("sales_order", order.id, values) end
    earn_order(order)
  end)
end)

-- Posting and expiry: steps of the member_flow timers ----------------------------

local function from_timer(member, args, name)
  if not member or type(args) ~= "table" or args.workflow ~= "member_flow" then
    crm.error("conflict", "membership." .. name .. " is a step of the member_flow timers")
  end
end

-- What each held earn still holds (its own points and the pending rows against it), posted by
-- a pair of entries when its hold is over: pending -n and posted +n. Returns the points posted.
local function post_due(member_id, day)
  local held, earns = {}, {}
  for _, row in ipairs(all("points_ledger", "member = " .. member_id .. " and status = 'pending'")) do
    local key = row.source or row.id
    held[key] = (held[key] or 0) + row.points
    if row.kind == "earn" then earns[#earns + 1] = row end
  end
  local posted = 0
  for _, row in ipairs(earns) do
    local left = held[row.id] or 0
    if left > 0 and row.posts_on and row.posts_on <= day then
      entry({ member = member_id, kind = "post", status = "pending", points = -left, source = row.id, order = row.order })
      local post = entry({ member = member_id, kind = "post", status = "posted", points = left, source = row.id,
                           order = row.order, rule = row.rule, expires_on = row.expires_on })
      credit(member_id, post, row.expires_on)
      posted = posted + left
    end
  end
  return posted
end

-- Lots past their expiry lose what is left of them (never what was spent).
local function expire(member_id, filter)
  local total = 0
  for _, lot in ipairs(all("points_lot", "member = " .. member_id .. " and remaining > 0" .. (filter or ""))) do
    entry({ member = member_id, kind = "expire", status = "posted", points = -lot.remaining, source = lot.entry,
            expires_on = lot.expires_on })
    crm.update("points_lot", lot.id, { remaining = 0 })
    total = total + lot.remaining
  end
  return total
end

-- A member_flow timer's step on one member, as of the timer's day: the work (points moved), the
-- member told, the tier reviewed.
local function timer_step(name, work, notice)
  crm.action(name, function(member, ctx, args)
    from_timer(member, args, name)
    sys(function()
      local day = today_of(args)
      local moved = work(member.id, day)
      if moved > 0 then notify(member, fmt(moved) .. notice) end
      review_tier(member.id, day)
    end)
  end)
end
timer_step("post_points", post_due, " points are now yours / 积分已到账")
timer_step("expire_points", function(member_id, day)
  return expire(member_id, " and expires_on < " .. points.quote(day))
end, " points expired / 积分已过期")

-- Closing a membership: what is spendable expires, what is held is dropped.
crm.action("expire_all", function(member)
  if not member then crm.error("invalid", "expire_all works on a member") end
  sys(function()
    expire(member.id)
    local held = {}
    for _, row in ipairs(all("points_ledger", "member = " .. member.id .. " and status = 'pending'")) do
      local key = row.source or row.id
      held[key] = (held[key] or 0) + row.points
    end
    for source, left in pairs(held) do
      if left > 0 then
        entry({ member = member.id, kind = "expire", status = "pending", points = -left, source = source })
      end
    end
  end)
end)

-- Returns ---------------------------------------------------------------------

-- Reverses, per earn of the order, the share of its points that the returns so far take back,
-- less what earlier returns reversed: from what is still held first, then from the balance
-- (its own lot first). A balance may go negative: redemptions wait until it is positive again.
local function reverse_order(order, returned)
  for _, row in ipairs(all("points_ledger", "order = " .. order.id .. " and kind = 'earn'")) do
    local target = points.reversal(row.points, returned, order.grand_total or 0)
    local done, held = 0, row.status == "pending" and row.points or 0
    for _, related in ipairs(all("points_ledger", "source = " .. row.id)) do
      if related.kind == "reverse" then done = done - related.points end
      if related.status == "pending" then held = held + related.points end
    end
    local delta = target - done
    if delta > 0 then
      local from_held = math.min(delta, math.max(held, 0))
      if from_held > 0 then
        entry({ member = row.member, kind = "reverse", status = "pending", points = -from_held, source = row.id, order = order.id })
      end
      local from_posted = delta - from_held
      if from_posted > 0 then
        entry({ member = row.member, kind = "reverse", status = "posted", points = -from_posted, source = row.id, order = order.id })
        consume(row.member, from_posted, "entry = " .. row.id .. " or entry.source = " .. row.id)
      end
    end
  end
end

crm.action("return_order", function(order, ctx, args)
  if not order then crm.error("invalid", "return_order works on a sales order") end
  local amount = type(args) == "table" and args.amount
  if type(amount) ~= "number" or amount ~= amount or amount <= 0 or amount > 1e12 then
    crm.error("invalid", "amount: the returned amount, a number above 0", "returned_amount")
  end
  if order.status ~= "paid" then crm.error("conflict", "only a paid order can be returned") end
  local total = order.grand_total or 0
  local returned = math.floor(((order.returned_amount or 0) + amount) * 100 + 0.5) / 100
  if returned > total + 0.001 then
    crm.error("invalid", "returns of " .. returned .. " would exceed the order's total of " .. total, "returned_amount")
  end
  -- as the caller: returning is changing the order, which their role must allow
  crm.update("sales_order", order.id, { returned_amount = returned })
  if order.member then sys(reverse_order, order, returned) end
  return crm.get("sales_order", order.id)
end)

-- Redemptions -------------------------------------------------------------------

-- Read as the caller: a consumer naming another's member, or a reward they may not see, learns
-- nothing (404), not even a balance.
crm.on("redemption", "before_create", function(new)
  if math.type(new.member) ~= "integer" or math.type(new.reward) ~= "integer" then return end
  local member = crm.get("member", new.member)
  if not member then crm.error("not_found", "no member " .. new.member, "member") end
  local reward = crm.get("reward", new.reward)
  if not reward then crm.error("not_found", "no reward " .. new.reward, "reward") end
  local program = sys(crm.get, "loyalty_program", reward.program)
  if reward.active == false or not program or program.active == false then
    crm.error("conflict", "the reward is not offered: it or its programme is inactive")
  end
  if reward.program ~= member.program then crm.error("invalid", "the reward is of another programme", "reward") end
  if member.status ~= "active" then crm.error("conflict", "the membership is " .. member.status) end
  if reward.stock ~= nil and reward.stock <= 0 then crm.error("conflict", "the reward is out of stock") end
  new.points = reward.points_cost         -- the reward's price, whatever the client sent
  local balance = member.balance or 0
  if balance < reward.points_cost then
    crm.error("conflict", "balance " .. fmt(balance) .. " is below " .. fmt(reward.points_cost))
  end
end)

-- The burn, in the redemption's transaction: the entry and the lots it empties, oldest first.
crm.on("redemption", "after_create", function(redemption)
  sys(function()
    local first_expiry = consume(redemption.member, redemption.points)
    entry({ member = redemption.member, kind = "burn", status = "posted", points = -redemption.points,
            redemption = redemption.id, expires_on = first_expiry })
    local reward = crm.get("reward", redemption.reward)
    if reward.stock ~= nil then crm.update("reward", reward.id, { stock = reward.stock - 1 }) end
  end)
end)

crm.action("issue_voucher", function(redemption)
  if not redemption then crm.error("invalid", "issue_voucher works on a redemption") end
  if redemption.voucher_code then return redemption.voucher_code end
  local code = "V-" .. crm.crypto.token(16):upper():gsub("[^A-Z0-9]", "X"):sub(1, 16)
  sys(crm.update, "redemption", redemption.id, { voucher_code = code })
  return code
end)

-- Cancelling gives the points back, with the expiry of the oldest lot the burn took from.
crm.action("refund_points", function(redemption)
  if not redemption then crm.error("invalid", "refund_points works on a redemption") end
  sys(function()
    local burn = crm.query("points_ledger", { filter = "redemption = " .. redemption.id .. " and kind = 'burn'", limit = 1 })[1]
    if not burn or crm.count("points_ledger", "source = " .. burn.id .. " and kind = 'refund'") > 0 then return end
    local refund = entry({ member = burn.member, kind = "refund", status = "posted", points = -burn.points,
                           redemption = redemption.id, source = burn.id, expires_on = burn.expires_on })
    credit(burn.member, refund, burn.expires_on)
    local reward = crm.get("reward", redemption.reward)
    if reward.stock ~= nil then crm.update("reward", reward.id, { stock = reward.stock + 1 }) end
  end)
end)

-- The consumer's button on a reward: a redemption for their own membership of its programme.
crm.action("redeem", function(reward)
  if not reward then crm.error("invalid", "redeem works on a reward") end
  local member = crm.query("member", { filter = "user = $me and program = " .. reward.program .. " and status = 'active'", limit = 1 })[1]
  if not member then crm.error("conflict", "you are not a member of this reward's programme") end
  return crm.create("redemption", { member = member.id, reward = reward.id })
end)

-- Adjustments: the only entries people write by hand --------------------------------

crm.on("points_ledger", "before_create", function(new, old, ctx)
  if ctx.user == nil or new.kind ~= "adjust" then return end
  if new.status ~= nil and new.status ~= "posted" then error({ field = "status", message = "an adjustment is posted" }) end
  for _, field in ipairs({ "order", "redemption", "source", "rule", "posts_on", "expires_on" }) do
    if new[field] ~= nil and new[field] ~= crm.null then
      error({ field = field, message = "an adjustment names no " .. field .. ": the programme writes those" })
    end
  end
  if math.type(new.member) == "integer" and math.type(new.points) == "integer" and new.points < 0 then
    local member = crm.get("member", new.member)
    if member and (member.balance or 0) + new.points < 0 then
      crm.error("conflict", "balance " .. fmt(member.balance or 0) .. " is below " .. fmt(-new.points))
    end
  end
end)

crm.on("points_ledger", "after_create", function(row)
  if row.kind ~= "adjust" then return end
  sys(function()
    if row.points > 0 then
      local member = crm.get("member", row.member)
      local program = crm.get("loyalty_program", member.program)
      local expires = (program.expiry_days or 0) > 0 and points.add_days(crm.date(), program.expiry_days) or nil
      credit(row.member, row, expires)
    else
      consume(row.member, -row.points)
    end
  end)
end)

-- Earn rules: a condition is an expression over the order, checked when saved.
local function check_condition(new)
  local condition = new.condition
  if type(condition) ~= "string" or condition == "" then return end
  -- as the system: whoever writes the rule may not read orders, the rule reads them all
  local ok, message = pcall(sys, crm.query, "sales_order", { filter = condition, limit = 1, fields = "id" })
  if not ok then
    error({ field = "condition", message = "not an expression over an order: " .. tostring(message):sub(1, 200) })
  end
end
crm.on("earn_rule", "before_create", check_condition)
crm.on("earn_rule", "before_update", check_condition)

-- Enrolment ---------------------------------------------------------------------

-- A consumer who becomes active (a verified sign-up, or an administrator's): their contact (by
-- the user's contact, else by e-mail, else a new one), their member of the active programme and
-- the programme's sign-up points. Returns the contact and member ids to link on the user (nil,
-- nil without an active programme; no member when the contact's is another login's).
local function enrol(user)
  return sys(function()
    local program = crm.query("loyalty_program", { filter = "active = true", sort = "id", limit = 1 })[1]
    if not program then return nil, nil end
    local contact = user.contact and crm.get("contact", user.contact)
    if not contact and user.email then
      contact = crm.query("contact", { filter = "email = " .. points.quote(user.email), sort = "id", limit = 1 })[1]
    end
    if not contact then
      local first, last = tostring(user.name or ""):match("^(%S+)%s+(.+)$")
      contact = crm.create("contact", { first_name = first, last_name = last or user.name or user.login, email = user.email })
    end
    local member = crm.query("member", { filter = "contact = " .. contact.id .. " and program = " .. program.id, limit = 1 })[1]
    if member and member.user and member.user ~= user.id then return contact.id, nil end
    local day = crm.date()
    if not member then
      local lowest = all("member_tier", "program = " .. program.id, "min_lifetime_points")[1]
      member = crm.create("member", { contact = contact.id, user = user.id, program = program.id,
                                      tier = lowest and lowest.id, joined_on = day })
      for _, rule in ipairs(all("earn_rule", "program = " .. program.id .. " and event = 'signup'")) do
        if rule_applies(rule, day, nil) and (rule.points_fixed or 0) > 0 then
          local row = entry({ member = member.id, kind = "earn", status = "posted", points = rule.points_fixed,
                              rule = rule.id, posts_on = day,
                              expires_on = (program.expiry_days or 0) > 0 and points.add_days(day, program.expiry_days) or nil })
          credit(member.id, row, row.expires_on)
        end
      end
    elseif not member.user then
      crm.update("member", member.id, { user = user.id })
    end
    return contact.id, member.id
  end)
end

-- Only the step from inactive to active enrols: a consumer created active by an administrator
-- (`crm user add`) is enrolled when an update activates them, never behind anyone's back.
crm.on("user", "before_update", function(new, old)
  if new.active ~= true or old.active ~= false or old.kind ~= "consumer" or old.member then return end
  local contact, member = enrol(old)
  if contact and (new.contact == nil or new.contact == crm.null) and not old.contact then new.contact = contact end
  if member then new.member = member end
end)

-- The demo (demo.lua): a programme, rewards, members and a year of orders, written by the same
-- steps as live traffic, day by day.
local ledger = { post_due = post_due, review_tier = review_tier, expire = expire, reverse_order = reverse_order,
                 enrol = enrol, all = all }
crm.job("demo", "manual", function() require("demo").run(ledger) end)
