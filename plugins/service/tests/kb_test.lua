-- Tests of the knowledge base and the surveys (kb.lua, survey.lua): crm plugin test service
-- (the stories over REST, with every role and the public link: tests/api/service_kb_test.py)

local kb = require("kb_search")

local function user(login, role)
  return crm.create("user", { login = login, name = login, role = role })
end

local function article(values)
  values.title = values.title or "How to reset the router"
  values.body = values.body or "Hold the reset button for ten seconds."
  return crm.create("kb_article", values)
end

local function publish(a)
  if crm.get("kb_article", a.id).status == "draft" then crm.transition("kb_article", a.id, "submit") end
  return crm.transition("kb_article", a.id, "publish")
end

local function versions(a)
  return crm.query("kb_article_version", { filter = "article = " .. a.id, sort = "revision", limit = 100 })
end

function test_terms_of_english_and_chinese_subjects()
  local t = kb.terms("The printer can't connect to WiFi, again!")
  assert(table.concat(t, ",") == "printer,connect,wifi", table.concat(t, ","))
  t = kb.terms("打印机无法连接")
  assert(table.concat(t, ",") == "打印机,印机无,机无法,无法连,法连接", table.concat(t, ","))
  t = kb.terms("发票 开具 VPN 登录失败了")   -- 2-character words cannot be asked of the trigram index
  assert(table.concat(t, ",") == "vpn,登录失败了" or table.concat(t, ",") == "vpn,登录失,录失败,失败了", table.concat(t, ","))
  assert(#kb.terms(("word%d "):rep(20):format(table.unpack({1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20}))) <= 8,
    "at most 8 terms")
  assert(#kb.terms("") == 0 and #kb.terms("a an to of") == 0, "nothing to ask")
  assert(#kb.terms("\255\254 bad utf8") == 0, "invalid UTF-8 asks nothing")
end

function test_publish_numbers_versions_and_keeps_the_last_live()
  local a = article({ audience = "public", change_note = "first text" })
  publish(a)
  a = crm.get("kb_article", a.id)
  assert(a.status == "published" and a.revision == 1 and a.published_at and a.change_note == nil, "published once")
  crm.transition("kb_article", a.id, "revise")
  crm.update("kb_article", a.id, { body = "Hold it for thirty seconds.", change_note = "longer" })
  local v = versions(a)
  assert(#v == 1 and v[1].live and v[1].body == "Hold the reset button for ten seconds.", "the last published text stays live")
  publish(a)
  v = versions(a)
  assert(#v == 2 and v[2].revision == 2 and v[2].note == "longer" and v[2].live and not v[1].live, "revision 2 is live")
  assert(crm.get("kb_article", a.id).revision == 2, "the article's revision")
  crm.transition("kb_article", a.id, "archive")
  assert(crm.count("kb_article_version", "article = " .. a.id .. " and live = true") == 0, "archived: nothing served")
end

function test_versions_are_read_only()
  local a = article({})
  publish(a)
  local v = versions(a)[1]
  -- people cannot change a version, an administrator neither (readonly: only the system's own
  -- code, which this package never points at a version, may)
  local manager = user("kb_deleter", "service_manager")
  local admin = user("kb_admin", "admin")
  for _, who in ipairs({ manager.id, admin.id }) do
    for _, change in ipairs({ { body = "rewritten" }, { title = "x" }, { revision = 9 }, { note = "n" } }) do
      local ok, err = crm.test.as_user(who, pcall, crm.update, "kb_article_version", v.id, change)
      assert(not ok and tostring(err):find("kb_article_version", 1, true), tostring(err))
    end
  end
  local ok, err = crm.test.as_user(manager.id, pcall, crm.delete, "kb_article_version", v.id)
  assert(not ok, "a manager may not delete a version: " .. tostring(err))
  assert(crm.get("kb_article_version", v.id).body == "Hold the reset button for ten seconds.", "unchanged")
  -- deleting the article takes its versions to the recycle bin with it
  crm.delete("kb_article", a.id)
  assert(crm.get("kb_article_version", v.id) == nil, "gone with the article")
end

function test_an_agent_cannot_publish_or_edit_in_review()
  local agent = user("kb_agent", "service_agent")
  local a = crm.test.as_user(agent.id, crm.create, "kb_article", { title = "Agent's draft", body = "text" })
  crm.test.as_user(agent.id, crm.transition, "kb_article", a.id, "submit")
  local ok, err = crm.test.as_user(agent.id, pcall, crm.transition, "kb_article", a.id, "publish")
  assert(not ok and tostring(err):find("service_manager", 1, true), tostring(err))
  ok, err = crm.test.as_user(agent.id, pcall, crm.update, "kb_article", a.id, { body = "sneaked in" })
  assert(not ok and tostring(err):find("in review", 1, true), tostring(err))
  local manager = user("kb_manager", "service_manager")
  crm.test.as_user(manager.id, crm.transition, "kb_article", a.id, "publish")
  assert(crm.get("kb_article", a.id).status == "published", "the manager publishes")
end

function test_helpful_counts_one_vote_per_user()
  local a = article({})
  publish(a)
  local u1, u2 = user("voter1", "service_agent"), user("voter2", "service_agent")
  local r = crm.test.as_user(u1.id, crm.test.action, "service.kb_helpful", "kb_article", a.id)
  assert(r.helpful == 1 and r.counted, "first vote")
  r = crm.test.as_user(u1.id, crm.test.action, "service.kb_helpful", "kb_article", a.id)
  assert(r.helpful == 1 and not r.counted, "the same user again")
  r = crm.test.as_user(u2.id, crm.test.action, "service.kb_helpful", "kb_article", a.id)
  assert(r.helpful == 2 and crm.get("kb_article", a.id).helpful == 2, "two users")
end

function test_suggestions_rank_articles_matching_more_terms_first()
  local best = article({ title = "Printer offline after wifi change", body = "Reconnect the printer to the new wifi." })
  local other = article({ title = "Printer paper jam", body = "Open the tray." })
  local draft = article({ title = "Printer wifi draft", body = "not published" })
  local zh = article({ title = "打印机无法连接网络", body = "重新设置打印机的网络。" })
  for _, a in ipairs({ best, other, zh }) do publish(a) end
  local list = kb.suggest("printer lost wifi")
  assert(#list == 2 and list[1].article == best.id and list[2].article == other.id, crm.json.encode(list))
  for _, s in ipairs(list) do assert(s.article ~= draft.id, "a draft is never suggested") end
  list = kb.suggest("办公室打印机无法连接")
  assert(#list >= 1 and list[1].article == zh.id, crm.json.encode(list))
end

function test_closing_a_case_creates_one_survey_and_queues_the_email()
  local account = crm.create("account", { name = "Survey Co" })
  local contact = crm.create("contact", { last_name = "Li", first_name = "Na", account = account.id, email = "na@example.com" })
  local case = crm.create("case", { subject = "Cannot log in", account = account.id, contact = contact.id })
  crm.transition("case", case.id, "resolve", { resolution = "Reset the password" })
  crm.transition("case", case.id, "close")
  local s = crm.query("survey", { filter = "case = " .. case.id })
  assert(#s == 1 and s[1].contact == contact.id and s[1].sent_at and s[1].expires_at > s[1].sent_at, crm.json.encode(s))
  assert(#s[1].token_hash == 64, "only the hash is kept")
  local mail = crm.query("outbox_message", { filter = "template = 'case_survey'", sort = "-id", limit = 1 })[1]
  assert(mail and mail.to == "na@example.com", "queued")
  local token = mail.body:match("/survey/([%w_%-]+)")
  assert(token and #token == 43 and crm.crypto.hash(token) == s[1].token_hash, "the link's token is the hashed one")
  -- the link answers once
  local r = crm.test.route("POST", "/service/survey/" .. token, { score = 4, comment = "fine" })
  assert(r.status == 200, crm.json.encode(r))
  r = crm.test.route("POST", "/service/survey/" .. token, { score = 1 })
  assert(r.status == 410, "a second answer: " .. tostring(r.status))
  local got = crm.get("survey", s[1].id)
  assert(got.score == 4 and got.comment == "fine" and got.satisfied == true, crm.json.encode(got))
  assert(crm.get("case", case.id).csat == 4, "the case's csat")
  -- reopening and closing again asks nothing more
  crm.update("case", case.id, { status = "resolved" })
  crm.transition("case", case.id, "close")
  assert(crm.count("survey", "case = " .. case.id) == 1, "one survey per case")
end

function test_survey_link_refuses_bad_tokens_and_answers()
  local case = crm.create("case", { subject = "No contact" })
  crm.transition("case", case.id, "resolve", { resolution = "done" })
  crm.transition("case", case.id, "close")
  assert(crm.count("survey", "case = " .. case.id) == 1, "a survey even without an e-mail")
  for _, token in ipairs({ "short", ("a"):rep(43), ("a"):rep(42) .. "'", ("a"):rep(44) }) do
    local r = crm.test.route("GET", "/service/survey/" .. token)
    assert(r.status == 404, token .. ": " .. tostring(r.status))
  end
end

function test_suggestions_keep_to_the_callers_audience()
  local internal = article({ title = "Gizmotron reset internal", audience = "internal" })
  local partner = article({ title = "Gizmotron reset for partners", audience = "partner" })
  local public = article({ title = "Gizmotron reset for everyone", audience = "public" })
  for _, a in ipairs({ internal, partner, public }) do publish(a) end
  local function seen(login, role)
    local u = user(login, role)
    local ids = {}
    for _, s in ipairs(crm.test.as_user(u.id, kb.suggest, "gizmotron reset")) do ids[#ids + 1] = s.article end
    table.sort(ids)
    return table.concat(ids, ",")
  end
  local all = { internal.id, partner.id, public.id }
  table.sort(all)
  assert(seen("kb_sugg_agent", "service_agent") == table.concat(all, ","), "an agent: every live article")
  local outside = { partner.id, public.id }
  table.sort(outside)
  assert(seen("kb_sugg_partner", "partner_user") == table.concat(outside, ","), "a partner: partner and public")
  assert(seen("kb_sugg_consumer", "consumer") == tostring(public.id), "a consumer: public only")
  -- under revision the last version is still suggested, with its published title
  crm.transition("kb_article", public.id, "revise")
  crm.update("kb_article", public.id, { title = "Draft title nobody outside sees" })
  local u = user("kb_sugg_consumer2", "consumer")
  local list = crm.test.as_user(u.id, kb.suggest, "gizmotron reset")
  assert(#list == 1 and list[1].article == public.id and list[1].title == "Gizmotron reset for everyone", crm.json.encode(list))
end
