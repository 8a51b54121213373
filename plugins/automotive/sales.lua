-- Test drives and vehicle sales. A test drive booked in the past is refused
-- (but for the system's imports); a consumer's is theirs (their contact).
-- Done, it opens the opportunity for the model at its MSRP with the dealer as
-- partner, or moves on the one it belongs to (scenario 5). A vehicle order
-- (lead2cash's sales_order with a VIN) fulfilled writes the vehicle: model,
-- owner, dealer, sale date and warranty.

local places = require("places")

local M = {}

local function caller(ctx)
  return ctx.user and ctx.user > 0 and crm.as_system(crm.get, "user", ctx.user) or nil
end
M.caller = caller

-- refuses a slot before now for a person (the demo and imports run as the system)
function M.future_slot(values, ctx)
  if not ctx.user or values.slot_start == nil or values.slot_start == crm.null then return end
  local at = places.epoch(values.slot_start)
  if at and at < crm.now() - 300 then
    crm.error("invalid", "the slot is in the past", "slot_start")
  end
end

crm.on("test_drive", "before_create", function(new, _, ctx)
  M.future_slot(new, ctx)
  local user = caller(ctx)
  if user and user.kind == "consumer" and new.contact == nil and user.contact then new.contact = user.contact end
  if user and user.kind == "partner" and new.dealer == nil and user.partner then new.dealer = user.partner end
end)

crm.on("test_drive", "before_update", function(new, _, ctx) M.future_slot(new, ctx) end)

-- the stage moves up to proposal through the opportunity's own workflow (qualify, propose)
local STEPS = { prospecting = { "qualify", "propose" }, qualification = { "propose" } }

local function advance(opp)
  for _, name in ipairs(STEPS[opp.stage] or {}) do crm.transition("opportunity", opp.id, name) end
  return crm.get("opportunity", opp.id)
end

-- the opportunity a test drive belongs to: its own, its lead's, or an open one of the account for the model
local function find_opportunity(td, account)
  if td.opportunity then return crm.get("opportunity", td.opportunity) end
  if td.lead then
    local lead = crm.get("lead", td.lead)
    if lead and lead.converted_opportunity then return crm.get("opportunity", lead.converted_opportunity) end
    -- an earlier test drive of the same lead opened one
    for _, other in ipairs(crm.query("test_drive", { filter = "lead = " .. td.lead .. " and opportunity != null and id != " ..
      td.id, sort = "-id", fields = "opportunity", limit = 5 })) do
      local opp = crm.get("opportunity", other.opportunity)
      if opp and opp.stage ~= "won" and opp.stage ~= "lost" then return opp end
    end
  end
  if account then
    return crm.query("opportunity", { filter = "account = " .. account .. " and vehicle_model = " .. td.vehicle_model ..
      " and stage not in ('won', 'lost')", sort = "-created_at", limit = 1 })[1]
  end
  return nil
end

-- the account the deal is with: the test drive's, its driver's, its lead's, or a new one named after the driver
local function account_of(td)
  if td.account then return td.account end
  if td.lead then   -- the account an earlier test drive of the lead found or made
    local other = crm.query("test_drive", { filter = "lead = " .. td.lead .. " and account != null", fields = "account",
      limit = 1 })[1]
    if other then return other.account end
  end
  local contact = td.contact and crm.get("contact", td.contact)
  if contact and contact.account then return contact.account end
  local lead = td.lead and crm.get("lead", td.lead)
  if lead and lead.converted_account then return lead.converted_account end
  local name = contact and ((contact.first_name or "") .. " " .. contact.last_name)
    or lead and (lead.company or lead.last_name) or ("Test drive " .. td.number)
  local account = crm.create("account", { name = name, partner = td.dealer })
  if contact then crm.update("contact", contact.id, { account = account.id }) end
  return account.id
end

-- test_drive_flow's complete: create or advance the opportunity
crm.action("test_drive_done", function(td, ctx)
  return crm.as_system(function()
    td = crm.get("test_drive", td.id)
    local model = crm.get("vehicle_model", td.vehicle_model)
    local account = account_of(td)
    local opp = find_opportunity(td, account)
    if opp then
      local changes = { partner = td.dealer, vehicle_model = td.vehicle_model }
      if not opp.amount or opp.amount == 0 or opp.vehicle_model ~= td.vehicle_model then changes.amount = model.msrp end
      if not opp.close_date then changes.close_date = crm.date(crm.now() + 30 * 86400) end
      opp = advance(crm.update("opportunity", opp.id, changes))
    else
      local values = { name = model.name .. " · " .. crm.get("account", account).name, account = account,
        amount = model.msrp, partner = td.dealer, vehicle_model = td.vehicle_model,
        close_date = crm.date(crm.now() + 30 * 86400) }
      if ctx.user and ctx.user > 0 then values.owner = ctx.user end
      opp = advance(crm.create("opportunity", values))
    end
    crm.update("test_drive", td.id, { opportunity = opp.id, account = account })
    return { opportunity = opp.id }
  end)
end)

-- an order of a deal for a model carries the model
crm.on("sales_order", "before_create", function(new)
  if new.vehicle_model == nil and new.opportunity then
    local opp = crm.as_system(crm.get, "opportunity", new.opportunity)
    if opp and opp.vehicle_model then new.vehicle_model = opp.vehicle_model end
  end
end)

local function add_years(day, years)
  local y, rest = day:match("^(%d%d%d%d)(.*)$")
  if rest == "-02-29" then rest = "-02-28" end
  return string.format("%04d%s", tonumber(y) + years, rest)
end
M.add_years = add_years

-- order_flow's fulfil: the delivered vehicle, created or handed to its new owner
function M.deliver(order, today)
  if not order.vin then return nil end
  local model = order.vehicle_model
  if not model then
    for _, line in ipairs(crm.query("order_line", { filter = "order = " .. order.id, fields = "product", limit = 50 })) do
      local m = line.product and crm.query("vehicle_model", { filter = "product = " .. line.product, fields = "id", limit = 1 })[1]
      if m then model = m.id; break end
    end
  end
  local values = { vehicle_model = model, account = order.account, contact = order.buyer, dealer = order.partner,
    service_dealer = order.partner, sold_on = today, sales_order = order.id,
    warranty_until = add_years(today, math.tointeger(tonumber(crm.config.warranty_years) or 3) or 3) }
  if model then
    local m = crm.get("vehicle_model", model)
    values.make, values.model = m.brand, m.name
  end
  local vehicle = crm.query("vehicle", { filter = "vin = '" .. order.vin:gsub("'", "''") .. "'", limit = 1 })[1]
  if vehicle then
    vehicle = crm.update("vehicle", vehicle.id, values)
  else
    values.vin = order.vin
    vehicle = crm.create("vehicle", values)
  end
  crm.update("sales_order", order.id, { vehicle = vehicle.id, vehicle_model = model })
  return vehicle
end

crm.action("deliver_vehicle", function(order, ctx, args)
  local today = type(args) == "table" and type(args.now) == "string" and args.now:sub(1, 10) or crm.date()
  return crm.as_system(function()
    local v = M.deliver(crm.get("sales_order", order.id), today)
    return v and { vehicle = v.id } or nil
  end)
end)

return M
