-- Satisfaction surveys (objects/survey.yaml, templates.yaml):
--  * service.send_survey (case_flow's close, kb_flow.yaml): a survey row for the case (contact,
--    agent = the case's owner, tier, product, sent_at, expires_at = now + config survey_days) and,
--    when the contact has an e-mail, the case_survey e-mail through the outbox with the link;
--  * GET  /api/v1/public/service/survey/{token}  the page: scores 1-5 and a comment (?lang=zh|en)
--    POST the same                                 a form (303 to the thank-you page) or JSON (200)
--    GET  /api/v1/public/service/survey-thanks    the thank-you page
-- The link's token is 32 random bytes (crm.crypto.token); only its SHA-256 is stored
-- (survey.token_hash, hidden from every role). An unknown token answers 404, an answered or
-- expired one 410, each a page that says so, writing nothing. The answer is single-use under
-- concurrency too: the update carries the version read, which the store puts in the UPDATE's
-- WHERE, so of two answers racing one writes and the other finds the survey changed (410).
local M = {}

local BASE = "/api/v1/public/service"
local COMMENT_MAX = 4000

local WORDS = {
  en = { title = "How did we do?", case = "Case", score = "Your score", worst = "1 = very poor", best = "5 = excellent",
         comment = "Comment (optional)", send = "Send", thanks = "Thank you",
         thanks_text = "Your answer helps us serve you better.",
         unknown = "No such survey", unknown_text = "This link is not valid. Check that you copied it whole.",
         answered = "Already answered", answered_text = "This survey has been answered: each link works once.",
         expired = "Survey closed", expired_text = "This survey link has expired.",
         invalid = "Please check your answer" },
  zh = { title = "请评价我们的服务", case = "工单", score = "您的评分", worst = "1 = 非常不满意", best = "5 = 非常满意",
         comment = "意见（可选）", send = "提交", thanks = "谢谢", thanks_text = "您的评价帮助我们改进服务。",
         unknown = "调查不存在", unknown_text = "此链接无效，请确认链接完整。",
         answered = "已经回答", answered_text = "此调查已回答：每个链接只能使用一次。",
         expired = "调查已关闭", expired_text = "此调查链接已过期。",
         invalid = "请检查您的回答" },
}

-- The package's page shell and escaping (public_page.lua, shared with the case form).
local public_page = require("public_page")
local esc = public_page.escape
local function words(req) return public_page.language(req, WORDS) end
local page = public_page.render

local function message_page(lang, title, text, status)
  return page(lang, title, "<h1>" .. esc(title) .. "</h1><p>" .. esc(text) .. "</p>", status)
end

-- A survey by its link's token (as the system: no role reads token_hash), or nil.
local function find(token)
  if type(token) ~= "string" or #token ~= 43 or not token:match("^[%w_%-]+$") then return nil end
  local hash = crm.crypto.hash(token)
  local found = crm.as_system(crm.query, "survey", { filter = "token_hash = '" .. hash .. "'", limit = 1,
    fields = "id,version,case,score,answered_at,expires_at,token_hash" })[1]
  if found and crm.crypto.equal(found.token_hash, hash) then return found end
  return nil
end

-- nil when the survey may be answered, else "answered" or "expired".
local function closed(survey)
  if survey.answered_at or survey.score then return "answered" end
  if not survey.expires_at or survey.expires_at <= crm.datetime() then return "expired" end
  return nil
end

-- Refuses the request: a page for a browser's form, a problem (JSON) for the rest.
local function refuse(req, lang, w, kind, status)
  if req.method == "GET" or req.form then return message_page(lang, w[kind], w[kind .. "_text"], status) end
  return { status = status, json = { error = w[kind .. "_text"] } }
end

-- The posted answer: a score 1..5 (a whole number, or its digit as text) and an optional comment.
local function read_answer(body)
  if type(body) ~= "table" or body == crm.null then return nil, "score", "send a score from 1 to 5" end
  local score = body.score
  if type(score) == "string" and score:match("^%s*[1-5]%s*$") then
    score = tonumber(score)
  elseif math.type(score) == "float" and score == math.floor(score) then
    score = math.tointeger(score)
  end
  if math.type(score) ~= "integer" or score < 1 or score > 5 then
    return nil, "score", "the score must be a whole number from 1 to 5"
  end
  local comment = body.comment
  if comment == nil or comment == crm.null then
    comment = nil
  elseif type(comment) ~= "string" then
    return nil, "comment", "the comment must be a text"
  else
    comment = comment:match("^%s*(.-)%s*$")
    local length = utf8.len(comment)
    if not length then return nil, "comment", "the comment is not valid UTF-8" end
    if length > COMMENT_MAX then return nil, "comment", "the comment is longer than " .. COMMENT_MAX .. " characters" end
    if comment == "" then comment = nil end
  end
  return { score = score, comment = comment }
end

local function form_page(req, lang, w, survey, token, error_text)
  local case = crm.as_system(crm.get, "case", survey.case)
  local radios = {}
  for i = 1, 5 do
    radios[#radios + 1] = string.format('<label><input type="radio" name="score" value="%d" required> %d</label>', i, i)
  end
  return page(lang, w.title, table.concat({
    "<h1>", esc(w.title), "</h1>",
    case and ("<p>" .. esc(w.case) .. " " .. esc(case.number) .. ": " .. esc(case.subject) .. "</p>") or "",
    error_text and ('<p class="error">' .. esc(error_text) .. "</p>") or "",
    '<form method="post" action="', BASE, "/survey/", esc(token), "?lang=", lang, '">',
    "<fieldset><legend>", esc(w.score), " (", esc(w.worst), ", ", esc(w.best), ")</legend>",
    table.concat(radios), "</fieldset>",
    '<p><label for="comment">', esc(w.comment), '</label></p><textarea id="comment" name="comment" rows="5" maxlength="',
    COMMENT_MAX, '"></textarea>',
    '<button type="submit">', esc(w.send), "</button></form>" }), error_text and 422 or 200)
end

-- The survey a link opens, or the refusal to answer with (404 unknown, 410 answered or expired).
local function open_survey(req, lang, w)
  local survey = find(req.params.token)
  if not survey then return nil, refuse(req, lang, w, "unknown", 404) end
  local why = closed(survey)
  if why then return nil, refuse(req, lang, w, why, 410) end
  return survey
end

crm.route("GET", "/service/survey/{token}", function(req)
  local w, lang = words(req)
  local survey, refusal = open_survey(req, lang, w)
  return refusal or form_page(req, lang, w, survey, req.params.token)
end, { public = true, rate_limit = "30/min" })

crm.route("POST", "/service/survey/{token}", function(req)
  local w, lang = words(req)
  local survey, refusal = open_survey(req, lang, w)
  if refusal then return refusal end
  local answer, field, message = read_answer(req.body)
  if not answer then
    if req.form then return form_page(req, lang, w, survey, req.params.token, w.invalid .. ": " .. message) end
    crm.error("invalid", message, field)
  end
  local ok, err = pcall(crm.as_system, crm.update, "survey", survey.id,
    { score = answer.score, comment = answer.comment or crm.null, answered_at = crm.datetime() }, survey.version)
  if not ok then
    if tostring(err):find("changed by someone else", 1, true) then return refuse(req, lang, w, "answered", 410) end
    error(err, 0)
  end
  if req.form then return { status = 303, location = BASE .. "/survey-thanks?lang=" .. lang } end
  return { status = 200, json = { answered = true, score = answer.score } }
end, { public = true, rate_limit = "10/min", max_body = 65536 })

crm.route("GET", "/service/survey-thanks", function(req)
  local w, lang = words(req)
  return message_page(lang, w.thanks, w.thanks_text)
end, { public = true, rate_limit = "30/min" })

-- The product a case is about: its own field when it has one, else its entitlement's.
local function case_product(case)
  if case.product then return case.product end
  local entitlement = case.entitlement and crm.get("entitlement", case.entitlement)
  local service_product = entitlement and entitlement.service_product and crm.get("service_product", entitlement.service_product)
  return service_product and service_product.product or nil
end

-- Chinese when the contact's name is written in Chinese characters (contacts carry no language).
local function language_of(contact)
  local name = (contact.last_name or "") .. (contact.first_name or "")
  for _, cp in utf8.codes(name) do
    if cp >= 0x4E00 and cp <= 0x9FFF then return "zh" end
  end
  return "en"
end

-- The close transition's action. Undeclared in plugin.yaml, so no client can call it (404); it acts
-- only as case_flow's (the workflow passes its name) on a case being closed from resolved.
crm.action("send_survey", function(case, ctx, args)
  if not case or type(args) ~= "table" or args.workflow ~= "case_flow" or case.status ~= "resolved" then
    crm.error("conflict", "a survey is sent when a resolved case is closed")
  end
  return crm.as_system(function()
    -- one survey per case: a case reopened and closed again is not asked twice
    if crm.count("survey", string.format("case = %d", case.id)) > 0 then return { survey = crm.null, emailed = false } end
    local days = math.tointeger(tonumber(crm.config.survey_days) or 14) or 14
    local now = crm.now()
    local token = crm.crypto.token(32)
    local survey = crm.create("survey", { case = case.id, contact = case.contact, agent = case.owner, tier = case.tier,
      product = case_product(case), sent_at = crm.datetime(now), expires_at = crm.datetime(now + days * 86400),
      token_hash = crm.crypto.hash(token) })
    local contact = case.contact and crm.get("contact", case.contact)
    if not (contact and contact.email) then return { survey = survey.id, emailed = false } end
    local lang = language_of(contact)
    local base = tostring(crm.config.public_url or ""):gsub("/+$", "")
    crm.send("email", contact.email, "case_survey", {
      name = contact.first_name or contact.last_name or "", case_number = case.number, subject = case.subject,
      link = base .. BASE .. "/survey/" .. token .. "?lang=" .. lang, days = days, lang = lang })
    return { survey = survey.id, emailed = true }
  end)
end)

return M
