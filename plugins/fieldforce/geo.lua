-- The check-in's judgement: the distance between two points is the kernel's
-- distance() (crm.distance, the same C as the expression language), in whole
-- metres (truncated: 72.6 m is 72), and the verdict against the radius.
local M = {}

function M.distance(lat1, lng1, lat2, lng2)
  return crm.distance({ lat = lat1, lng = lng1 }, { lat = lat2, lng = lng2 })
end

local function valid(p)
  return type(p) == "table" and type(p.lat) == "number" and type(p.lng) == "number"
    and p.lat >= -90 and p.lat <= 90 and p.lng >= -180 and p.lng <= 180
end

-- The stamp of a check-in at `point` for an account at `location` (either may be missing):
-- { distance_m, geo_ok, check_in_note } or, beyond the radius in strict mode, { refused = true, check_in_note }.
function M.judge(point, location, radius, strict)
  if not valid(point) then
    return { refused = true, check_in_note = "A check-in needs the location: latitude -90..90 and longitude -180..180" }
  end
  if not valid(location) then
    return { distance_m = crm.null, geo_ok = crm.null,
             check_in_note = "The account has no location: checked in without verifying the distance" }
  end
  local metres = math.floor(M.distance(point.lat, point.lng, location.lat, location.lng))
  if metres <= radius then
    return { distance_m = metres, geo_ok = true, check_in_note = crm.null }
  end
  local note = string.format("Checked in %d m from the account, beyond the %d m radius", metres, radius)
  if strict then
    return { refused = true, check_in_note = string.format(
      "The check-in is %d m from the account, beyond the %d m radius: go to the account to check in", metres, radius) }
  end
  return { distance_m = metres, geo_ok = false, check_in_note = note }
end

return M
