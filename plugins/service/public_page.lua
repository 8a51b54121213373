-- The service package's public pages (the case form, its thank-you page, the survey): a
-- small HTML shell in zh or en and the escaping every value in it needs.
-- A plugin's require() reaches only its own folder, so marketing's web-to-lead
-- form keeps its own shell; the package's other public pages use this one.

local M = {}

local ENTITIES = { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;", ["'"] = "&#39;" }

-- Text for an HTML page or attribute.
function M.escape(text)
  return (tostring(text or ""):gsub("[&<>\"']", ENTITIES))
end

-- The page's language from ?lang= (zh or en) and its word table: words = { en = {...}, zh = {...} }.
function M.language(req, words)
  local lang = type(req.query) == "table" and req.query.lang == "zh" and "zh" or "en"
  return words[lang], lang
end

local STYLE = "body{font:16px system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}"
  .. "label{display:block;margin:.8rem 0 .2rem}input,textarea,select{width:100%;padding:.5rem;font:inherit;"
  .. "box-sizing:border-box}button{margin-top:1rem;padding:.6rem 1.4rem;font:inherit}"
  .. ".trap{position:absolute;left:-10000px}.number{font-size:1.4rem;font-weight:600}"
  .. "fieldset{border:0;padding:0}fieldset label{display:inline;margin-right:1rem}fieldset input{width:auto}"
  .. ".error{color:#a4000f}"

-- A whole page: { status, html } for a route to return. body is markup already escaped.
function M.render(lang, title, body, status)
  return { status = status or 200, html = '<!doctype html><html lang="' .. lang .. '"><head><meta charset="utf-8">'
    .. '<meta name="viewport" content="width=device-width, initial-scale=1"><title>' .. M.escape(title)
    .. "</title><style>" .. STYLE .. "</style></head><body>" .. body .. "</body></html>" }
end

return M
