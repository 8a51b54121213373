-- The package's arithmetic, free of records so the tests can check it alone:
-- days and dates, points earned by an order, proportional reversals, what a
-- FIFO burn takes from which lot, and numbers as people read them (1,000).
local M = {}

-- Days since 1970-01-01 of a "YYYY-MM-DD" (or a datetime's date part); nil for anything else.
function M.day(text)
  if type(text) ~= "string" then return nil end
  local y, m, d = text:match("^(%d%d%d%d)-(%d%d)-(%d%d)")
  if not y then return nil end
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  if m < 1 or m > 12 or d < 1 or d > 31 then return nil end
  if m <= 2 then y = y - 1 end
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = (153 * mp + 2) // 5 + d - 1
  local doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
  return era * 146097 + doe - 719468
end

-- The "YYYY-MM-DD" of a day number.
function M.date(days)
  local z = days + 719468
  local era = (z >= 0 and z or z - 146096) // 146097
  local doe = z - era * 146097
  local yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
  local mp = (5 * doy + 2) // 153
  local d = doy - (153 * mp + 2) // 5 + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format("%04d-%02d-%02d", y, m, d)
end

function M.add_days(text, n) return M.date(M.day(text) + n) end

-- Whole points of amount x rate x multiplier, rounded down. Money and rates are decimals
-- (0.1, 1.2) that binary floating point holds inexactly: 500 x 0.1 x 1.2 must be 60, not 59.
function M.earn(amount, rate, multiplier, fixed)
  amount, rate, multiplier = tonumber(amount) or 0, tonumber(rate) or 0, tonumber(multiplier) or 1
  local points = 0
  if amount > 0 and rate > 0 then points = math.floor(amount * rate * multiplier + 1e-6) end
  return points + math.max(0, math.floor(tonumber(fixed) or 0))
end

-- The points of an earn that a return of returned (of total) takes back, all returns so far
-- counted together so that partial returns add up to the full reversal.
function M.reversal(earned, returned, total)
  if not total or total <= 0 or returned <= 0 then return 0 end
  if returned >= total then return earned end
  return math.floor(earned * returned / total + 1e-6)
end

-- How a burn of n points takes from lots ({ id, remaining }, oldest first): a list of
-- { lot, take } and what no lot covered.
function M.fifo(lots, n)
  local plan = {}
  for _, lot in ipairs(lots) do
    if n <= 0 then break end
    local take = math.min(lot.remaining, n)
    if take > 0 then
      plan[#plan + 1] = { lot = lot, take = take }
      n = n - take
    end
  end
  return plan, n
end

-- 1000 -> "1,000", -60 -> "-60".
function M.format(n)
  local sign, digits = "", tostring(math.floor(n))
  if digits:sub(1, 1) == "-" then sign, digits = "-", digits:sub(2) end
  local out = digits:reverse():gsub("(%d%d%d)", "%1,"):reverse()
  if out:sub(1, 1) == "," then out = out:sub(2) end
  return sign .. out
end

-- The tier a lifetime of points reaches: the tier with the highest threshold at or below it.
function M.tier_for(tiers, lifetime)
  local best
  for _, tier in ipairs(tiers) do
    if (tier.min_lifetime_points or 0) <= (lifetime or 0)
        and (not best or tier.min_lifetime_points > best.min_lifetime_points) then
      best = tier
    end
  end
  return best
end

-- Whether day is the anniversary of joined (same month and day; 29 February counts on 28 February).
function M.anniversary(joined, day)
  if not joined or not day or joined == day then return false end
  local jm, jd = joined:sub(6, 10), day:sub(6, 10)
  local y = tonumber(day:sub(1, 4))
  local leap = (y % 4 == 0 and y % 100 ~= 0) or y % 400 == 0
  if jm == "02-29" and not leap then return jd == "02-28" end
  return jm == jd
end

-- A text bound into an expression literal: quotes doubled.
function M.quote(text) return "'" .. tostring(text):gsub("'", "''") .. "'" end

return M
