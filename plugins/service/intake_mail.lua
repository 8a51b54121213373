-- What an inbound e-mail says, read defensively (intake.lua posts it as a case or a reply):
-- the sender's address, a subject fit for a header, the text of an HTML-only body, the
-- Message-IDs it replies to, the case number its subject quotes.

local M = {}

M.ADDRESS_MAX = 254
M.MESSAGE_ID_MAX = 500
M.SUBJECT_MAX = 200
M.THREAD_MAX = 20     -- Message-IDs of References looked at (the latest)

-- Whether text is one plain mailbox address (no display name, no comments, no quoting).
function M.is_address(text)
  if type(text) ~= "string" or #text > M.ADDRESS_MAX then return false end
  local mailbox, domain = text:match("^([%w%.!#%$%%&'%*%+/=%?%^_`{|}~%-]+)@([%w%.%-]+)$")
  if not mailbox or #mailbox > 64 or mailbox:find("^%.") or mailbox:find("%.$") or mailbox:find("%.%.") then
    return false
  end
  if not domain:find("%.") then return false end
  for label in (domain .. "."):gmatch("([^.]*)%.") do
    if label == "" or #label > 63 or label:find("^%-") or label:find("%-$") then return false end
  end
  return true
end

-- "Ann Lee <Ann@Example.com>" or "ann@example.com": the address in lower case and the name,
-- or nil for anything else (a line break, two addresses, no address).
function M.parse_sender(value)
  if type(value) ~= "string" or #value > 500 or value:find("%c") then return nil end
  local name, address = value:match("^%s*([^<>]-)%s*<([^<>]*)>%s*$")
  if not address then
    address = value:match("^%s*(.-)%s*$")
    name = nil
  end
  if not M.is_address(address) then return nil end
  if name then
    name = name:gsub('^"(.*)"$', "%1"):match("^%s*(.-)%s*$")
    if name == "" then name = nil end
  end
  return address:lower(), name
end

-- text cut to at most max characters (UTF-8), never inside a character.
function M.clip(text, max)
  local length = utf8.len(text)
  if length and length > max then return text:sub(1, utf8.offset(text, max + 1) - 1) end
  return text
end

-- A subject as one line: control characters (a CR or LF smuggled in: header injection) become
-- spaces, runs of space one, at most SUBJECT_MAX characters; nil when nothing is left.
function M.subject(value)
  if type(value) ~= "string" then return nil end
  local text = value:gsub("%c", " "):gsub("%s+", " "):match("^%s*(.-)%s*$")
  if text == "" then return nil end
  return M.clip(text, M.SUBJECT_MAX)
end

local ENTITIES = { amp = "&", lt = "<", gt = ">", quot = '"', apos = "'", nbsp = " " }

-- Drops every element named tag with its content (<script>, <style>), in one pass over lower.
local function drop_elements(html, tag)
  local lower, parts, at = html:lower(), {}, 1
  while true do
    local open = lower:find("<" .. tag, at, true)
    if not open then break end
    parts[#parts + 1] = html:sub(at, open - 1)
    local close = lower:find("</" .. tag, open, true)
    local stop = close and lower:find(">", close, true)
    if not stop then at = #html + 1 break end
    at = stop + 1
  end
  parts[#parts + 1] = html:sub(at)
  return table.concat(parts, " ")
end

-- The text an HTML body shows (the markup is never kept): scripts and styles dropped, line and
-- paragraph ends kept as line breaks, tags removed, the common entities decoded.
function M.html_to_text(html)
  local text = drop_elements(drop_elements(html, "script"), "style")
  text = text:gsub("<!%-%-.-%-%->", " ")
  text = text:gsub("<[Bb][Rr][^>]*>", "\n"):gsub("</[PpLlTtDdHh][^>]*>", "\n"):gsub("</[Dd][Ii][Vv]%s*>", "\n")
  text = text:gsub("<[^>]*>", "")
  text = text:gsub("&(#?)(%w+);", function(hash, name)
    if hash == "#" then
      local code = name:match("^[xX](%x+)$") and tonumber(name:sub(2), 16) or tonumber(name)
      if code and code > 31 and code < 0x110000 and not (code >= 0xD800 and code <= 0xDFFF) then
        return utf8.char(code)
      end
      return ""
    end
    return ENTITIES[name:lower()]
  end)
  text = text:gsub("[ \t\r]+\n", "\n"):gsub("[ \t]+", " "):gsub("\n\n\n+", "\n\n")
  return text:match("^%s*(.-)%s*$")
end

-- A Message-ID without its angle brackets; nil when it is not one (empty, too long, spaces, controls).
function M.message_id(value)
  if type(value) ~= "string" then return nil end
  local id = value:match("^%s*<?([^<>%s]+)>?%s*$")
  if not id or #id > M.MESSAGE_ID_MAX or id:find("%c") then return nil end
  return id
end

-- The Message-IDs a message answers, latest first: In-Reply-To, then References from its end.
function M.thread_ids(in_reply_to, references)
  local ids, seen = {}, {}
  local function add(value)
    local id = M.message_id(value)
    if id and not seen[id] and #ids < M.THREAD_MAX then
      seen[id] = true
      ids[#ids + 1] = id
    end
  end
  add(in_reply_to)
  local list = {}
  if type(references) == "string" then
    for id in references:gmatch("<[^<>%s]+>") do list[#list + 1] = id end
    if #list == 0 then for id in references:gmatch("%S+") do list[#list + 1] = id end end
  elseif type(references) == "table" then
    list = references
  end
  for i = #list, 1, -1 do add(list[i]) end
  return ids
end

-- The case number a subject quotes: "Re: [CASE-00012] printer" -> "CASE-00012".
function M.case_number(subject)
  local number = subject and subject:match("%[(CASE%-%d+)%]")
  if number and #number <= 20 then return number end
  return nil
end

-- A text as an expression literal: 'it''s'.
function M.literal(text)
  return "'" .. text:gsub("'", "''") .. "'"
end

-- Chinese in the text: the acknowledgement goes out in Chinese.
function M.language(...)
  for i = 1, select("#", ...) do
    local text = select(i, ...)
    if type(text) == "string" and text:find("[\228-\233][\128-\191][\128-\191]") then return "zh" end
  end
  return "en"
end

return M
