-- Company names and e-mail domains as the conflict check compares them.
-- "ACME LIMITED", "Acme Ltd." and "acme, ltd" are one company (key "acme"); so
-- are "阿克米科技有限公司" and "阿克米科技集团股份有限公司" (key "阿克米科技"). The keys
-- are stored in indexed fields (account.name_key, deal_registration.company_key)
-- so that a lookup is one index probe, never a scan.

local M = {}

-- legal forms, as whole words at the end of a Latin-script name (after lower-casing)
local LEGAL = {}
for _, w in ipairs({ "ltd", "limited", "inc", "incorporated", "corp", "corporation", "llc", "llp", "lp",
  "gmbh", "mbh", "ag", "kg", "kgaa", "ug", "se", "sa", "sas", "sarl", "srl", "spa", "bv", "nv", "plc", "co",
  "company", "oy", "oyj", "ab", "as", "asa", "pty", "pte", "kk", "bhd", "sdn", "group", "holding", "holdings" }) do
  LEGAL[w] = true
end
-- legal forms at the end of a Chinese name, longest first
local ZH = { "集团股份有限公司", "集团有限公司", "股份有限公司", "有限责任公司", "有限公司", "集团公司", "集团",
  "公司" }
-- full-width and CJK punctuation: separators like ASCII punctuation
local CJK_PUNCT = { "（", "）", "，", "。", "、", "·", "・", "－", "　", "【", "】", "《", "》", "“", "”", "：", "；" }
-- mail providers anyone uses: their domain says nothing about the company
local FREE_MAIL = {}
for _, d in ipairs({ "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "yahoo.com",
  "icloud.com", "me.com", "aol.com", "gmx.de", "gmx.net", "web.de", "qq.com", "163.com", "126.com", "sina.com",
  "foxmail.com", "proton.me", "protonmail.com", "yandex.ru", "mail.ru" }) do
  FREE_MAIL[d] = true
end

local function ends_with(s, tail)
  return #s > #tail and s:sub(-#tail) == tail
end

-- The normalised key of a company name: lower case, punctuation and spaces
-- removed, legal suffixes stripped (only while something is left). nil for
-- a name with nothing left.
function M.company_key(name)
  if type(name) ~= "string" then return nil end
  local s = name:sub(1, 1000):lower()
  for _, p in ipairs(CJK_PUNCT) do s = s:gsub(p, " ") end
  -- dotted initials are one word ("S.A.", "S.r.l.", "I.T."), then ASCII punctuation, controls and spaces part words
  local n
  repeat s, n = s:gsub("(%w)%.(%w)", "%1%2") until n == 0
  s = s:gsub("&", " "):gsub("[%c%p%s]", " ")
  local words = {}
  for w in s:gmatch("%S+") do words[#words + 1] = w end
  -- Latin legal forms at the end ("co ltd", "gmbh co kg"), and "the" in front
  while #words > 1 and LEGAL[words[#words]] do words[#words] = nil end
  if #words > 1 and words[1] == "the" then table.remove(words, 1) end
  local key = table.concat(words)
  -- Chinese legal forms at the end, repeatedly ("集团股份有限公司")
  -- (a name that is nothing but one is kept whole, as "Limited" is)
  local stripped = true
  while stripped do
    stripped = false
    for _, tail in ipairs(ZH) do
      if key == tail then break end
      if ends_with(key, tail) then key = key:sub(1, #key - #tail); stripped = true; break end
    end
  end
  if key == "" then return nil end
  return key:sub(1, 200)
end

-- The company's e-mail domain of an address or a website (lower case, no
-- "www."); nil for free-mail providers and anything without one.
function M.domain(text)
  if type(text) ~= "string" then return nil end
  local d = text:match("@([^@%s]+)$") or text:match("^%a+://([^/:?#%s]+)")
  if not d then return nil end
  d = d:lower():gsub("^www%.", "")
  if FREE_MAIL[d] or not d:find("%.") or not d:match("^[%w%.%-]+$") then return nil end
  return d:sub(1, 200)
end

return M
