-- Sample drops and call reports: the compliance checks. A drop is checked
-- in its create's transaction, which is the writer's (BEGIN IMMEDIATE: one
-- write at a time), so the limit's given read here already counts every
-- drop committed before, and no other drop commits between this check and
-- this write: two reps dropping at once cannot both pass the limit.

local M = {}

local sys = crm.as_system

local function id_of(v)
  if math.type(v) == "integer" then return v end
  if type(v) == "string" and v:match("^%d+$") then return tonumber(v) end
  return nil
end

local function refuse(field, message) error({ field = field, message = message }) end

-- The day a drop is given: the visit's check-in day, else today.
local function drop_day(visit)
  return (visit.checked_in_at or crm.datetime()):sub(1, 10)
end

-- before_create: everything a drop must satisfy, reading the limit, the HCP, the lot and the visit as the
-- system (the rep may read less), then the fields the drop takes from them. A value of the wrong type is
-- left for the kernel's validation, which answers it after this hook.
function M.check_drop(new, _, ctx)
  local visit_id, limit_id, lot_id = id_of(new.visit), id_of(new.limit), id_of(new.lot)
  local quantity = new.quantity
  if not (visit_id and limit_id and lot_id) or math.type(quantity) ~= "integer" or quantity < 1 then return end
  -- the visit as the caller reads it: one they may not read is "no visit with id N", as the kernel says
  local visit = crm.get("visit", visit_id)
  local limit = sys(crm.get, "sample_limit", limit_id)
  local lot = sys(crm.get, "sample_lot", lot_id)
  if not visit then refuse("visit", "no visit with id " .. visit_id) end
  if not limit then refuse("limit", "no sample_limit with id " .. limit_id) end
  if not lot then refuse("lot", "no sample_lot with id " .. lot_id) end
  if visit.status ~= "in_progress" and visit.status ~= "completed" then
    refuse("visit", "Samples are given on a visit that is checked in or completed")
  end
  local hcp = sys(crm.get, "contact", limit.contact)
  local product = sys(crm.get, "product", limit.product)
  local who = hcp.full_name or hcp.last_name
  if visit.contact and visit.contact ~= limit.contact then
    refuse("limit", "The limit is " .. who .. "'s, not the visited HCP's")
  end
  if hcp.license_number == nil then
    refuse("limit", who .. " has no licence number: samples go only to licensed HCPs")
  end
  if hcp.sample_consent ~= true then
    refuse("limit", who .. " has not consented to receive samples")
  end
  local day = drop_day(visit)
  if tonumber(day:sub(1, 4)) ~= limit.year then
    refuse("limit", "The limit is for " .. limit.year .. "; this drop is on " .. day)
  end
  if lot.product ~= limit.product then
    refuse("lot", "Lot " .. lot.lot_number .. " is not " .. product.name)
  end
  if lot.rep ~= visit.owner then
    refuse("lot", "Lot " .. lot.lot_number .. " is not held by the visit's rep")
  end
  if lot.expiry_date < day then
    refuse("lot", "Lot " .. lot.lot_number .. " expired on " .. lot.expiry_date)
  end
  local on_hand = lot.on_hand or (lot.received - (lot.dropped or 0))
  if quantity > on_hand then
    refuse("quantity", "Lot " .. lot.lot_number .. " has " .. on_hand .. " units on hand, " .. quantity .. " asked")
  end
  local given = math.tointeger(limit.given or 0) or 0
  if given + quantity > limit.max_units then
    refuse("quantity", string.format("Over this HCP's yearly sample limit: %s allows %d, %d given, %d asked",
      limit.name or (who .. " · " .. product.name .. " · " .. limit.year), limit.max_units, given, quantity))
  end
  new.contact, new.product, new.year, new.given_on = limit.contact, limit.product, limit.year, day
  -- the moment of the signature is the server's (the demo, as the system, dates its past drops itself)
  if ctx.user ~= nil or type(new.signed_at) ~= "string" then new.signed_at = crm.datetime() end
  if type(new.signed_by) == "string" then
    new.signed_by = new.signed_by:gsub("^%s+", ""):gsub("%s+$", "")
  end
end

-- A drop is a signed record: what was given, from which lot, to whom, on which visit, and the signature do
-- not change. A wrong one is deleted (binned, audited) by medical affairs and recorded again.
local FIXED = { "visit", "limit", "lot", "quantity", "contact", "product", "year", "given_on", "signed_by", "signed_at" }
function M.keep_drop(new, old)
  for _, field in ipairs(FIXED) do
    if new[field] ~= nil and new[field] ~= old[field] then
      refuse(field, "A sample drop is signed: its " .. field .. " does not change (delete it and record it again)")
    end
  end
end

-- A restored drop counts again: it must fit the limit it uses up.
function M.restore_drop(drop)
  local limit = sys(crm.get, "sample_limit", drop.limit)
  if limit and (limit.given or 0) + drop.quantity > limit.max_units then
    refuse("quantity", string.format("Over this HCP's yearly sample limit: %s allows %d, %d given, %d asked",
      limit.name or "", limit.max_units, limit.given or 0, drop.quantity))
  end
end

-- The end of a visit: its check-out, or while it is not checked out its check-in (a visit does not last
-- days), or its planned start.
function M.visit_end(visit)
  return visit.checked_out_at or visit.checked_in_at or visit.planned_start
end

local function seconds(t)
  local y, mo, d, h, mi, s = tostring(t):match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):?(%d*)")
  if not y then return nil end
  y, mo, d = tonumber(y), tonumber(mo), tonumber(d)
  if mo <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (mo + (mo > 2 and -3 or 9)) + 2) // 5 + d - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * 86400 + tonumber(h) * 3600 + tonumber(mi) * 60 + (tonumber(s) or 0)
end
M.seconds = seconds

-- before_create of a call report: filed more than late_report_hours (48) after its visit ended, it is late
-- and needs a late_reason of 5 characters or more. The system (an import, a job, a demo: a record of the
-- past) files a report late only when it gives the reason; it is never refused.
local LATE = "This call report is filed more than %d hours after the visit: give the reason it is late"

local function reason_given(text)
  return type(text) == "string" and utf8.len(text) ~= nil and utf8.len((text:gsub("^%s+", ""):gsub("%s+$", ""))) >= 5
end

function M.check_report(new, _, ctx)
  local visit_id = id_of(new.visit)
  local visit = visit_id and sys(crm.get, "visit", visit_id)
  if not visit then return end
  local ended = seconds(M.visit_end(visit))
  local hours = tonumber(crm.config.late_report_hours) or 48
  local after = ended and (crm.now() - ended) / 3600 or 0
  new.filed_hours_after = ended and math.floor(math.max(after, 0) * 10 + 0.5) / 10 or crm.null
  local late = after > hours
  if ctx.user == nil and not reason_given(new.late_reason) then late = false end
  new.late = late
  if late and not reason_given(new.late_reason) then refuse("late_reason", string.format(LATE, hours)) end
end

-- before_update: a late report keeps its reason.
function M.keep_report(new, old)
  if old.late == true and new.late_reason ~= nil and not reason_given(new.late_reason) then
    refuse("late_reason", string.format(LATE, tonumber(crm.config.late_report_hours) or 48))
  end
end

return M
