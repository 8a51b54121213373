-- The public web-to-lead form (no session; runs as the metadata's role guest):
--   GET  /api/v1/public/marketing/form/<campaign number>  a small HTML form for an active campaign
--   POST /api/v1/public/marketing/web-to-lead            JSON or an HTML form: a lead in the pool
--   GET  /api/v1/public/marketing/thanks                 the built-in thank-you page
-- A post creates one lead (no owner: the public pool) with its campaign; the lead's after_create
-- hook (marketing.lua) makes it a campaign member who responded. A filled-in honeypot field
-- (`website`) is accepted and dropped. A browser's post is answered with a 303 to the campaign's
-- thank-you URL (or the built-in page); a JSON post with 201.

local M = {}

local BASE = "/api/v1/public/marketing"
local FIELDS = { "first_name", "last_name", "company", "email", "phone", "message", "campaign", "website" }
local MESSAGE_MAX = 4000

local WORDS = {
  en = { title = "Get in touch", first_name = "First name", last_name = "Last name", company = "Company",
         email = "Email", phone = "Phone", message = "Message", send = "Send", website = "Leave this empty",
         thanks = "Thank you", thanks_text = "We received your details and will be in touch soon.",
         missing = "No such campaign", missing_text = "This form is not open: the campaign is unknown or not running." },
  zh = { title = "联系我们", first_name = "名", last_name = "姓", company = "公司", email = "电子邮箱", phone = "电话",
         message = "留言", send = "提交", website = "请留空", thanks = "谢谢", thanks_text = "我们已收到您的信息，会尽快与您联系。",
         missing = "活动不存在", missing_text = "此表单未开放：活动不存在或未在进行中。" },
}

-- Text for an HTML page: every character that means something in markup, escaped.
local function esc(text)
  return (tostring(text or ""):gsub("[&<>\"']", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;",
    ['"'] = "&quot;", ["'"] = "&#39;" }))
end

local function words(req)
  local lang = type(req.query) == "table" and req.query.lang
  return lang == "zh" and WORDS.zh or WORDS.en, lang == "zh" and "zh" or "en"
end

local function page(lang, title, body, status)
  return { status = status or 200, html = table.concat({
    '<!doctype html><html lang="', lang, '"><head><meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1"><title>', esc(title), '</title>',
    '<style>body{font:16px system-ui,sans-serif;max-width:34rem;margin:2rem auto;padding:0 1rem;color:#1b1f24}',
    'label{display:block;margin:.8rem 0 .2rem}input,textarea{width:100%;padding:.5rem;font:inherit;box-sizing:border-box}',
    'button{margin-top:1rem;padding:.6rem 1.4rem;font:inherit}.hp{position:absolute;left:-10000px}</style>',
    '</head><body>', body, '</body></html>' }) }
end

-- The active campaign a form names: "CMP-00012" or an id (as the guest: it reads active ones only).
local function find_campaign(ref)
  if type(ref) == "number" and ref == math.floor(ref) and ref > 0 then ref = string.format("%d", ref) end
  if type(ref) ~= "string" then return nil end
  ref = ref:match("^%s*(.-)%s*$")
  local filter
  if ref:match("^%d+$") and #ref <= 15 then
    filter = "id = " .. ref
  elseif ref:match("^CMP%-%d+$") and #ref <= 24 then
    filter = "number = '" .. ref .. "'"
  else
    return nil
  end
  return crm.query("campaign", { filter = filter .. " and status = 'active'", limit = 1,
    fields = "id,number,name,thank_you_url" })[1]
end

local function thanks_location(campaign)
  local url = campaign and campaign.thank_you_url
  if url and #url <= 159 and url:match("^https?://[^%s\\]+$") then return url end
  return BASE .. "/thanks" .. (campaign and ("?campaign=" .. campaign.number) or "")
end

-- The posted values as trimmed texts; a value of another kind is refused by name.
local function read_form(body)
  if type(body) ~= "table" or body == crm.null then crm.error("invalid", "send the form's fields") end
  local form = {}
  for _, name in ipairs(FIELDS) do
    local value = body[name]
    if value == nil or value == crm.null then
      value = nil
    elseif type(value) == "number" and name == "campaign" then
      value = value
    elseif type(value) ~= "string" then
      crm.error("invalid", name .. " must be a text", name)
    else
      value = value:match("^%s*(.-)%s*$")
      if value == "" then value = nil end
    end
    form[name] = value
  end
  return form
end

function M.register()
  crm.route("GET", "/marketing/form/{campaign}", function(req)
    local w, lang = words(req)
    local campaign = find_campaign(req.params.campaign)
    if not campaign then
      return page(lang, w.missing, "<h1>" .. esc(w.missing) .. "</h1><p>" .. esc(w.missing_text) .. "</p>", 404)
    end
    local function input(name, kind, required)
      return string.format('<label for="%s">%s%s</label><input id="%s" name="%s" type="%s" maxlength="200"%s>',
        name, esc(w[name]), required and " *" or "", name, name, kind, required and " required" or "")
    end
    return page(lang, campaign.name, table.concat({
      "<h1>", esc(campaign.name), "</h1><p>", esc(w.title), "</p>",
      '<form method="post" action="', BASE, '/web-to-lead">',
      '<input type="hidden" name="campaign" value="', esc(campaign.number), '">',
      input("first_name", "text"), input("last_name", "text", true), input("company", "text", true),
      input("email", "email", true), input("phone", "tel"),
      '<label for="message">', esc(w.message), '</label><textarea id="message" name="message" rows="4" maxlength="',
      MESSAGE_MAX, '"></textarea>',
      -- the honeypot: hidden from people, filled in by robots
      '<div class="hp" aria-hidden="true"><label for="website">', esc(w.website), '</label>',
      '<input id="website" name="website" type="text" tabindex="-1" autocomplete="off"></div>',
      '<button type="submit">', esc(w.send), '</button></form>' }))
  end, { public = true, rate_limit = "60/min" })

  crm.route("POST", "/marketing/web-to-lead", function(req)
    local form = read_form(req.body)
    local campaign = nil
    if form.campaign then
      campaign = find_campaign(form.campaign)
      if not campaign then crm.error("invalid", "no running campaign " .. tostring(form.campaign):sub(1, 40), "campaign") end
    end
    -- a robot filled in the hidden field: answered as a success, nothing is kept
    if form.website then
      if req.form then return { status = 303, location = thanks_location(campaign) } end
      return { status = 202, json = { accepted = true } }
    end
    if not form.email and not form.phone then crm.error("invalid", "give an email or a phone", "email") end
    if form.message and utf8.len(form.message) and utf8.len(form.message) > MESSAGE_MAX then
      crm.error("invalid", "the message is longer than " .. MESSAGE_MAX .. " characters", "message")
    end
    local lead = crm.create("lead", { first_name = form.first_name, last_name = form.last_name, company = form.company,
      email = form.email, phone = form.phone, note = form.message, source = "web",
      campaign = campaign and campaign.id or nil })
    if req.form then return { status = 303, location = thanks_location(campaign) } end
    return { status = 201, json = { accepted = true, lead = lead.id, campaign = campaign and campaign.number or crm.null } }
  end, { public = true, rate_limit = "10/min", max_body = 8192 })

  crm.route("GET", "/marketing/thanks", function(req)
    local w, lang = words(req)
    return page(lang, w.thanks, "<h1>" .. esc(w.thanks) .. "</h1><p>" .. esc(w.thanks_text) .. "</p>")
  end, { public = true, rate_limit = "60/min" })
end

return M
