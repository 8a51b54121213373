-- Where a lead is: its own geo point, else its city looked up in a small
-- gazetteer of the cities the brand sells in (names in English, German and
-- Chinese). Distances rank a handful of dealers the kernel's within() index
-- already found near the point.

local M = {}

local CITIES = {
  { { "munich", "münchen", "muenchen", "慕尼黑" }, 48.1372, 11.5756 },
  { { "berlin", "柏林" }, 52.5200, 13.4050 },
  { { "hamburg", "汉堡" }, 53.5511, 9.9937 },
  { { "frankfurt", "frankfurt am main", "法兰克福" }, 50.1109, 8.6821 },
  { { "stuttgart", "斯图加特" }, 48.7758, 9.1829 },
  { { "cologne", "köln", "koeln", "科隆" }, 50.9375, 6.9603 },
  { { "augsburg", "奥格斯堡" }, 48.3705, 10.8978 },
  { { "ingolstadt", "英戈尔施塔特" }, 48.7665, 11.4258 },
  { { "shanghai", "上海" }, 31.2304, 121.4737 },
  { { "beijing", "北京" }, 39.9042, 116.4074 },
  { { "guangzhou", "广州" }, 23.1291, 113.2644 },
  { { "shenzhen", "深圳" }, 22.5431, 114.0579 },
  { { "hangzhou", "杭州" }, 30.2741, 120.1551 },
  { { "chengdu", "成都" }, 30.5728, 104.0668 },
  { { "suzhou", "苏州" }, 31.2990, 120.5853 },
}

local BY_NAME = {}
for _, c in ipairs(CITIES) do
  for _, name in ipairs(c[1]) do BY_NAME[name] = { lat = c[2], lng = c[3] } end
end

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end

-- a geo value as the record holds it ({lat, lng} or its JSON text), or nil
function M.point(value)
  if type(value) == "string" then value = crm.json.decode(value) end
  if type(value) == "table" and tonumber(value.lat) and tonumber(value.lng) then
    return { lat = tonumber(value.lat), lng = tonumber(value.lng) }
  end
  return nil
end

-- the point of a city's name, or nil
function M.city(name)
  if type(name) ~= "string" or #name > 100 then return nil end
  return BY_NAME[trim(name):lower()]
end

-- the lead's point: its location, else its city
function M.of_lead(lead)
  return M.point(lead.location) or M.city(lead.city)
end

-- metres between two points: the kernel's distance() (crm.distance, the same C as the filter's)
function M.metres(a, b)
  return crm.distance(a, b)
end

-- seconds since 1970 of a datetime text "YYYY-MM-DDTHH:MM[:SS]Z", or nil
function M.epoch(text)
  if type(text) ~= "string" then return nil end
  local y, m, d, hh, mm, ss = text:match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):?(%d*)")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > 31 then return nil end
  if m <= 2 then y = y - 1 end
  local era = y // 400
  local yoe = y - era * 400
  local doy = (153 * (m > 2 and m - 3 or m + 9) + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  local days = era * 146097 + doe - 719468
  return days * 86400 + tonumber(hh) * 3600 + tonumber(mm) * 60 + (tonumber(ss) or 0)
end

-- A demo VIN: WMI + VDS + check digit + year code + plant + serial (ISO 3779, the check digit computed
-- here so that the demo's VINs are valid; the vin plugin checks every VIN written)
local VALUES = { A = 1, B = 2, C = 3, D = 4, E = 5, F = 6, G = 7, H = 8, J = 1, K = 2, L = 3, M = 4, N = 5, P = 7, R = 9,
  S = 2, T = 3, U = 4, V = 5, W = 6, X = 7, Y = 8, Z = 9 }
local WEIGHTS = { 8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2 }
local YEAR_CODES = { [2019] = "K", [2020] = "L", [2021] = "M", [2022] = "N", [2023] = "P", [2024] = "R", [2025] = "S",
  [2026] = "T", [2027] = "V" }

function M.vin(wmi, vds, year, plant, serial)
  local body = wmi .. vds .. "0" .. YEAR_CODES[year] .. plant .. string.format("%06d", serial)
  local sum = 0
  for i = 1, 17 do
    local c = body:sub(i, i)
    sum = sum + (tonumber(c) or VALUES[c]) * WEIGHTS[i]
  end
  local rest = sum % 11
  return body:sub(1, 8) .. (rest == 10 and "X" or tostring(rest)) .. body:sub(10)
end

return M
