-- Case intake from every channel:
--   POST /api/v1/public/service/inbound-email  (signed) an e-mail a mail gateway posts as JSON
--   GET  /api/v1/public/service/form           the web form (zh/en: ?lang=)
--   POST /api/v1/public/service/case           the web form's post (form or JSON)
--   GET  /api/v1/public/service/thanks         the thank-you page with the case number
-- and the portals: a consumer's case is a portal case of their own contact, a partner user's a
-- partner case. The public routes act as the guest, which may do nothing with cases: each
-- validates its input first and then writes through crm.as_system.
--
-- An e-mail is one inbound_message record. Its before_create hook threads it (the case number
-- in the subject, from a sender the case knows, or In-Reply-To/References naming a message we
-- know) or opens a case; after_create adds a reply as a note and resumes a case waiting for the
-- customer, or acknowledges a new case by e-mail. All of that is the create's transaction, and
-- message_id is unique: the same post twice is one case, a race of two is one case and one 409.

local mail = require("intake_mail")
local page = require("public_page")

local M = {}

local BASE = "/api/v1/public/service"
local TEXT_MAX = 100000      -- characters of a case description from a form
local NAME_MAX = 120
local EMAIL_FIELDS = { "from", "to", "subject", "text", "html", "message_id", "in_reply_to" }

-- ---- finding what an e-mail belongs to -------------------------------------------------------

-- The contact with this address (any case of letters), the oldest if several.
function M.contact_by_email(address)
  return crm.query("contact", { filter = "lower(email) = " .. mail.literal(address:lower()), sort = "id",
    limit = 1, fields = "id,account,first_name,last_name,email" })[1]
end

-- Whether address has written to or for the case before: its contact, its submitter, a message on it.
local function sender_known(case, address)
  if case.contact then
    local contact = crm.get("contact", case.contact)
    if contact and contact.email and contact.email:lower() == address then return true end
  end
  if case.submitter_email and case.submitter_email:lower() == address then return true end
  return crm.count("inbound_message", "case = " .. case.id .. " and from_address = " .. mail.literal(address)) > 0
end

-- The case an e-mail continues, or nil. A Message-ID it replies to threads it: one of ours
-- (an acknowledgement's <outbox-N@host>, sent to this very address) or an e-mail we took in.
-- A case number in the subject threads it only from a sender the case knows (anyone can type
-- a number). A closed case takes no more: the message opens a new one.
function M.thread(message)
  local candidates = {}
  for _, id in ipairs(mail.thread_ids(message.in_reply_to, message.thread_ids)) do
    local outbox = id:match("^outbox%-(%d+)@")
    if outbox and #outbox <= 15 then
      local sent = crm.get("outbox_message", tonumber(outbox))
      if sent and sent.object_name == "case" and sent.record_id and sent.to and sent.to:lower() == message.from_address then
        candidates[#candidates + 1] = crm.get("case", sent.record_id)
      end
    else
      local known = crm.query("inbound_message", { filter = "message_id = " .. mail.literal(id), limit = 1,
        fields = "id,case" })[1]
      if known and known.case then candidates[#candidates + 1] = crm.get("case", known.case) end
    end
    if #candidates > 0 then break end
  end
  local number = mail.case_number(message.subject)
  if #candidates == 0 and number then
    local case = crm.query("case", { filter = "number = '" .. number .. "'", limit = 1 })[1]
    if case and sender_known(case, message.from_address) then candidates[1] = case end
  end
  local case = candidates[1]
  if case and case.status ~= "closed" then return case end
  return nil, case
end

-- ---- the inbound_message hooks: one transaction for the message and what it does ----------

crm.on("inbound_message", "before_create", function(new)
  local case, closed = M.thread(new)
  if case then
    new.case, new.outcome = case.id, "reply"
    return
  end
  local contact = M.contact_by_email(new.from_address)
  local description = new.body or ""
  if closed then description = "(" .. closed.number .. ")\n\n" .. description end
  local created = crm.create("case", {
    subject = new.subject or "(no subject)", description = description ~= "" and description or nil,
    channel = "email", contact = contact and contact.id, account = contact and contact.account,
    submitter_name = not contact and new.from_name and mail.clip(new.from_name, NAME_MAX) or nil,
    submitter_email = not contact and new.from_address or nil })
  new.case, new.outcome = created.id, "new_case"
end)

crm.on("inbound_message", "after_create", function(message)
  local case = crm.get("case", message.case)
  if message.outcome == "reply" then
    crm.create("activity", { kind = "note", status = "done", subject = mail.clip("E-mail: " .. (message.subject or
      "(no subject)"), 200), description = message.body, case = case.id, contact = case.contact,
      account = case.account, owner = case.owner })
    if case.status == "waiting_customer" then
      crm.transition("case", case.id, "resume")
    elseif case.status == "resolved" then
      crm.transition("case", case.id, "reopen")
    end
  elseif crm.config.acknowledge ~= false then
    local name = message.from_name
    if case.contact then
      local contact = crm.get("contact", case.contact)
      name = contact and (contact.first_name or contact.last_name) or name
    end
    crm.send("email", message.from_address, "case_acknowledgement", { name = name or message.from_address,
      lang = mail.language(message.subject, message.body) }, { object = "case", id = case.id })
  end
end)

-- ---- POST /service/inbound-email -------------------------------------------------------------

-- The gateway's post, checked field by field: a clear 422 naming the field for anything wrong.
local function read_email(body)
  if type(body) ~= "table" or body == crm.null or #body > 0 then
    crm.error("invalid", "send the e-mail as a JSON object: from, to, subject, text, html, message_id, in_reply_to, references")
  end
  for _, name in ipairs(EMAIL_FIELDS) do
    local value = body[name]
    if value ~= nil and value ~= crm.null and type(value) ~= "string" then
      crm.error("invalid", name .. " must be a text", name)
    end
  end
  local references = body.references
  if references == crm.null then references = nil end
  if type(references) == "table" then
    if #references > 100 then crm.error("invalid", "references holds more than 100 Message-IDs", "references") end
    for _, id in ipairs(references) do
      if type(id) ~= "string" then crm.error("invalid", "references must be texts", "references") end
    end
  elseif references ~= nil and type(references) ~= "string" then
    crm.error("invalid", "references must be a text or a list of texts", "references")
  end
  local function given(name) local v = body[name] return v ~= crm.null and v ~= "" and v or nil end
  if not given("from") then crm.error("invalid", "from is required", "from") end
  local address, name = mail.parse_sender(body.from)
  if not address then crm.error("invalid", "from is not one e-mail address", "from") end
  if not given("message_id") then crm.error("invalid", "message_id is required", "message_id") end
  local message_id = mail.message_id(body.message_id)
  if not message_id then crm.error("invalid", "message_id is not a Message-ID", "message_id") end
  local to = given("to")
  if to and (to:find("%c") or #to > 320) then crm.error("invalid", "to is not an address list", "to") end
  local text = given("text")
  if not text and given("html") then text = mail.html_to_text(body.html) end
  if text and not utf8.len(text) then crm.error("invalid", "text is not UTF-8", "text") end
  local subject = mail.subject(given("subject"))
  if not subject and (not text or text == "") then crm.error("invalid", "the e-mail has no subject and no text", "subject") end
  local ids = mail.thread_ids(given("in_reply_to"), references)
  return {
    message_id = message_id, from_address = address, from_name = name and mail.clip(name, 200), to_address = to,
    subject = subject, body = text ~= "" and text or nil,
    in_reply_to = given("in_reply_to") and mail.message_id(body.in_reply_to),
    thread_ids = #ids > 0 and mail.clip(table.concat(ids, " "), 4000) or nil,
  }
end

local function answer_duplicate(message_id)
  local seen = crm.query("inbound_message", { filter = "message_id = " .. mail.literal(message_id), limit = 1,
    fields = "id,case,outcome" })[1]
  if not seen then return nil end
  local case = seen.case and crm.get("case", seen.case)
  return { status = 200, json = { outcome = "duplicate", message = seen.id, case = case and case.number or crm.null } }
end

crm.route("POST", "/service/inbound-email", function(req)
  local values = read_email(req.body)
  return crm.as_system(function()
    local seen = answer_duplicate(values.message_id)
    if seen then return seen end
    local ok, message = pcall(crm.create, "inbound_message", values)
    if not ok then
      -- a second post of the same message that lost the race to the unique index
      seen = answer_duplicate(values.message_id)
      if seen then return seen end
      error(message, 0)
    end
    local case = crm.get("case", message.case)
    return { status = 201, json = { outcome = message.outcome, message = message.id, case = case.number,
      id = case.id } }
  end)
end, { public = true, signed = { secret_env = "CRM_SERVICE_INBOUND_SECRET" }, rate_limit = "600/min",
       max_body = 262144 })

-- ---- the web form ------------------------------------------------------------------------------

local WORDS = {
  en = { title = "Contact support", intro = "Tell us what happened; we answer within one business day.",
         name = "Your name", email = "Email", subject = "Subject", message = "What happened?", send = "Send",
         trap = "Leave this empty", thanks = "Thank you", thanks_text = "We received your request. Your case number:",
         thanks_plain = "We received your request." },
  zh = { title = "联系客服", intro = "请描述您遇到的问题，我们将在一个工作日内答复。", name = "您的姓名", email = "电子邮箱",
         subject = "主题", message = "问题描述", send = "提交", trap = "请留空", thanks = "谢谢",
         thanks_text = "我们已收到您的请求。您的工单编号：", thanks_plain = "我们已收到您的请求。" },
}
local FORM_FIELDS = { "name", "email", "subject", "message", "website", "lang" }

-- The posted fields as trimmed texts (nil when empty); a value of another kind is refused by name.
local function read_case_form(body)
  if type(body) ~= "table" or body == crm.null or #body > 0 then crm.error("invalid", "send the form's fields") end
  local form = {}
  for _, name in ipairs(FORM_FIELDS) do
    local value = body[name]
    if value ~= nil and value ~= crm.null then
      if type(value) ~= "string" then crm.error("invalid", name .. " must be a text", name) end
      value = value:match("^%s*(.-)%s*$")
      form[name] = value ~= "" and value or nil
    end
  end
  return form
end

crm.route("GET", "/service/form", function(req)
  local w, lang = page.language(req, WORDS)
  local function field(name, kind, limit)
    return string.format('<label for="%s">%s *</label><input id="%s" name="%s" type="%s" maxlength="%d" required>',
      name, page.escape(w[name]), name, name, kind, limit)
  end
  return page.render(lang, w.title, table.concat({
    "<h1>", page.escape(w.title), "</h1><p>", page.escape(w.intro), "</p>",
    '<form method="post" action="', BASE, '/case">', '<input type="hidden" name="lang" value="', lang, '">',
    field("name", "text", NAME_MAX), field("email", "email", mail.ADDRESS_MAX), field("subject", "text", mail.SUBJECT_MAX),
    '<label for="message">', page.escape(w.message), ' *</label><textarea id="message" name="message" rows="6" ',
    'maxlength="', TEXT_MAX, '" required></textarea>',
    -- a field people do not see and robots fill in
    '<div class="trap" aria-hidden="true"><label for="website">', page.escape(w.trap), '</label>',
    '<input id="website" name="website" type="text" tabindex="-1" autocomplete="off"></div>',
    '<button type="submit">', page.escape(w.send), "</button></form>" }))
end, { public = true, rate_limit = "60/min" })

local function thanks_location(number, lang)
  return BASE .. "/thanks?lang=" .. (lang == "zh" and "zh" or "en") .. (number and ("&case=" .. number) or "")
end

crm.route("POST", "/service/case", function(req)
  local form = read_case_form(req.body)
  -- a robot filled in the hidden field: answered as a success, nothing is kept
  if form.website then
    if req.form then return { status = 303, location = thanks_location(nil, form.lang) } end
    return { status = 202, json = { accepted = true } }
  end
  if not form.email then crm.error("invalid", "email is required", "email") end
  if form.email:find("%c") or not mail.is_address(form.email) then
    crm.error("invalid", "email is not an e-mail address", "email")
  end
  local subject = mail.subject(form.subject)
  if not subject then crm.error("invalid", "subject is required", "subject") end
  if not form.message then crm.error("invalid", "message is required", "message") end
  if not utf8.len(form.message) or utf8.len(form.message) > TEXT_MAX then
    crm.error("invalid", "the message is longer than " .. TEXT_MAX .. " characters", "message")
  end
  local name = form.name and mail.clip(form.name:gsub("%c", " "), NAME_MAX)
  local case = crm.as_system(function()
    local contact = M.contact_by_email(form.email)
    return crm.create("case", { subject = subject, description = form.message, channel = "web",
      contact = contact and contact.id, account = contact and contact.account,
      submitter_name = not contact and name or nil, submitter_email = not contact and form.email:lower() or nil })
  end)
  if req.form then return { status = 303, location = thanks_location(case.number, form.lang) } end
  return { status = 201, json = { accepted = true, case = case.number } }
end, { public = true, rate_limit = "5/min", max_body = 131072 })

crm.route("GET", "/service/thanks", function(req)
  local w, lang = page.language(req, WORDS)
  local number = type(req.query.case) == "string" and req.query.case:match("^CASE%-%d+$")
  local text = number and ("<p>" .. page.escape(w.thanks_text) .. '</p><p class="number">' .. number .. "</p>")
    or ("<p>" .. page.escape(w.thanks_plain) .. "</p>")
  return page.render(lang, w.thanks, "<h1>" .. page.escape(w.thanks) .. "</h1>" .. text)
end, { public = true, rate_limit = "60/min" })

-- ---- the portals ---------------------------------------------------------------------------------

-- A case a consumer opens is a portal case of their own contact; a partner user's, a partner case.
crm.on("case", "before_create", function(new, _, ctx)
  if not ctx or not ctx.user or ctx.user <= 0 then return end
  local user = crm.as_system(crm.get, "user", ctx.user)
  if not user then return end
  if user.kind == "consumer" then
    new.channel = "portal"
    if new.contact == nil then
      local contact = user.contact or crm.as_system(function()
        local found = user.email and M.contact_by_email(user.email)
        return found and found.id
      end)
      new.contact = contact
    end
  elseif user.kind == "partner" then
    new.channel = "partner"
  end
end)

-- A portal case takes its contact's account (which a consumer may not read, so cannot set) and
-- waits in the queue like a case from any other channel, owned by no one until an agent takes it.
crm.on("case", "after_create", function(case)
  if case.channel ~= "portal" or not case.created_by then return end
  crm.as_system(function()
    local creator = crm.get("user", case.created_by)
    if not creator or creator.kind ~= "consumer" then return end
    local contact = case.contact and not case.account and crm.get("contact", case.contact)
    crm.update("case", case.id, { account = contact and contact.account or nil, owner = crm.null })
  end)
end)

return M
