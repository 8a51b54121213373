-- The check-in's judgement, without the database: the distance between two
-- points as the kernel's distance() computes it (core/lang/expr.c: haversine on
-- the mean Earth radius, atan2, the short way round the antimeridian; the
-- same libm calls on the same doubles give the same metres), in whole metres (truncated: 72.6 m is 72), and
-- the verdict against the radius.
local M = {}

local EARTH_RADIUS = 6371008.8
local RAD = math.pi / 180.0

function M.distance(lat1, lng1, lat2, lng2)
  local phi1, phi2, east = lat1 * RAD, lat2 * RAD, lng2 - lng1
  if east > 180.0 then east = east - 360.0 elseif east < -180.0 then east = east + 360.0 end
  local sin_lat, sin_lng = math.sin((phi2 - phi1) / 2), math.sin(east * RAD / 2)
  local a = sin_lat * sin_lat + math.cos(phi1) * math.cos(phi2) * sin_lng * sin_lng
  if a > 1.0 then a = 1.0 end
  return 2.0 * EARTH_RADIUS * math.atan(math.sqrt(a), math.sqrt(1.0 - a))
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
