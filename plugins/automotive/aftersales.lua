-- After-sales (用车服务). A service appointment may name the vehicle by its
-- VIN (the vin plugin checks and normalises it first): the caller's own
-- vehicle with that VIN, else 404, so that a car owner books for their own
-- car only (scenario 6). The owner and the dealer default from the vehicle;
-- a slot in the past is refused; a recall opens a case; the mileage read at
-- check-in, and a repair order's mileage in, move the vehicle's odometer.

local sales = require("sales")

crm.on("service_appointment", "before_create", function(new, _, ctx)
  sales.future_slot(new, ctx)
  if new.vin and new.vin ~= crm.null and new.vehicle == nil then
    local mine = crm.query("vehicle", { filter = "vin = '" .. tostring(new.vin):gsub("'", "''") .. "'", fields = "id",
      limit = 1 })[1]
    if not mine then crm.error("not_found", "no vehicle of yours has the VIN " .. new.vin, "vin") end
    new.vehicle = mine.id
  end
  if new.vehicle == nil or new.vehicle == crm.null then return end
  local vehicle = crm.as_system(crm.get, "vehicle", new.vehicle)
  if not vehicle then return end
  new.vin = vehicle.vin
  -- the owner, where the caller may read them (a dealer may not read every owner's contact)
  new.contact = vehicle.contact and crm.get("contact", vehicle.contact) and vehicle.contact or nil
  if new.dealer == nil then new.dealer = vehicle.service_dealer or vehicle.dealer end
end)

crm.on("service_appointment", "before_update", function(new, _, ctx) sales.future_slot(new, ctx) end)

-- a recall opens a case for the owner, linked both ways
crm.on("service_appointment", "after_create", function(appt)
  if appt.kind ~= "recall" then return end
  crm.as_system(function()
    local vehicle = crm.get("vehicle", appt.vehicle)
    local case = crm.create("case", { subject = "Recall: " .. vehicle.vin .. " (" .. appt.number .. ")",
      account = vehicle.account, contact = vehicle.contact, priority = "high",
      description = appt.complaint })
    crm.update("service_appointment", appt.id, { case = case.id })
  end)
end)

-- the odometer only goes up; the workshop that saw the car last services it
local function read_mileage(vehicle_id, km, dealer)
  local vehicle = crm.get("vehicle", vehicle_id)
  if not vehicle then return end
  local changes = {}
  if km and (not vehicle.mileage or km > vehicle.mileage) then changes.mileage = km end
  if dealer and vehicle.service_dealer ~= dealer then changes.service_dealer = dealer end
  if next(changes) then crm.update("vehicle", vehicle_id, changes) end
end

crm.action("mileage_in", function(appt, ctx, args)
  local km = type(args) == "table" and type(args.values) == "table" and tonumber(args.values.mileage) or appt.mileage
  crm.as_system(read_mileage, appt.vehicle, km and math.tointeger(km), appt.dealer)
end)

crm.on("repair_order", "before_create", function(new)
  if new.appointment and (new.vehicle == nil or new.dealer == nil) then
    local appt = crm.as_system(crm.get, "service_appointment", new.appointment)
    if appt then
      if new.vehicle == nil then new.vehicle = appt.vehicle end
      if new.dealer == nil then new.dealer = appt.dealer end
      if new.mileage_in == nil then new.mileage_in = appt.mileage end
    end
  end
end)

crm.on("repair_order", "after_create", function(ro)
  if ro.mileage_in then crm.as_system(read_mileage, ro.vehicle, ro.mileage_in, nil) end
end)
