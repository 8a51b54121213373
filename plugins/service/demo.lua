-- The package's demo data, run by `crm demo` after the base records and the
-- packages before it (a manual job: never on a clock): queues per tier and
-- skill with their teams, SLA policies on cn_office, support packages sold as
-- lead2cash products, entitlements for a third of the accounts (some used up,
-- some expired), the base demo's year of cases given a channel, skill,
-- product, tier and timestamps, live cases for the console (every tier and
-- status, breached and met), a knowledge base in Chinese and English and
-- satisfaction surveys on closed cases. Each case then goes through
-- require("sla").apply(id), the SLA clock's own computation. Deterministic
-- for a database (one seeded random stream, times from the day it runs).

local sla = require("sla")

local HOUR, DAY = 3600, 86400

-- "2026-05-01T09:30:00Z" or "2026-05-01" -> seconds since 1970
local function epoch(text)
  local y, m, d, hh, mm, ss = text:match("^(%d+)-(%d+)-(%d+)T?(%d*):?(%d*):?(%d*)")
  y, m, d = tonumber(y), tonumber(m), tonumber(d)
  y = m <= 2 and y - 1 or y
  local era = (y >= 0 and y or y - 399) // 400
  local yoe = y - era * 400
  local doy = (153 * (m + (m > 2 and -3 or 9)) + 2) // 5 + d - 1
  local days = era * 146097 + yoe * 365 + yoe // 4 - yoe // 100 + doy - 719468
  return days * DAY + (tonumber(hh) or 0) * HOUR + (tonumber(mm) or 0) * 60 + (tonumber(ss) or 0)
end

local TEAMS = {
  -- name, description (the base demo makes Customer Service, and the L2 and L3 teams with their agents)
  { "Customer Service", "L1 and L2 support, onboarding and renewals" },
  { "Technical Support L2", "Second-line technical support: diagnosis, configuration, integrations" },
  { "Expert Support L3", "Third-line engineering: defects, data repairs, root causes" },
  { "Field Service", "On-site installation and repair engineers" },
}

local QUEUES = {
  -- name, tier, skill, team index
  { "L1 General", "l1", "general", 1 },
  { "L1 Billing", "l1", "billing", 1 },
  { "L2 Technical", "l2", "technical", 2 },
  { "L3 Technical", "l3", "technical", 3 },
  { "On-site Service", "l2", "onsite", 4 },
}

local POLICIES = {
  -- name, applies when, order, first response, resolution (business minutes), warn, escalate to
  { "Platinum", "entitlement.service_product.level = 'platinum'", 10, 30, 240, 60, "l3" },
  { "Gold", "entitlement.service_product.level = 'gold'", 20, 60, 480, 60, "l2" },
  { "Silver", "entitlement.service_product.level = 'silver'", 30, 120, 960, 120, "l2" },
  { "High priority", "priority = 'high'", 40, 60, 480, 60, "l2" },
  { "Standard", nil, 100, 240, 1440, 120, "l2" },
}

local PACKAGES = {
  -- product code, name, list price, level, policy index, incidents, months, on-site, when exhausted
  { "SV-SUP-P", "Platinum Support, annual", 18000, "platinum", 1, 0, 12, true, "chargeable" },
  { "SV-SUP-G", "Gold Support, annual (24 incidents)", 7200, "gold", 2, 24, 12, false, "chargeable" },
  { "SV-SUP-S", "Silver Support, annual (12 incidents)", 3600, "silver", 3, 12, 12, false, "refuse" },
  { "SV-SUP-B", "Basic Support pack (4 incidents)", 900, "basic", 5, 4, 6, false, "refuse" },
}

-- subjects of the live cases: skill, English, Chinese
local SUBJECTS = {
  { "general", "Cannot log in after the password reset", "重置密码后无法登录" },
  { "general", "How do I add a second administrator?", "如何添加第二个管理员账号？" },
  { "billing", "Invoice shows the wrong VAT number", "发票上的税号有误" },
  { "billing", "Charged twice for the annual subscription", "年度订阅被重复扣款" },
  { "technical", "VPN tunnel to the gateway drops every hour", "网关的 VPN 隧道每小时断开一次" },
  { "technical", "Sensor data missing since the firmware update", "固件升级后传感器数据缺失" },
  { "technical", "API returns 502 on bulk upload", "批量上传时 API 返回 502" },
  { "onsite", "Gateway installation at the Suzhou plant", "苏州工厂网关上门安装" },
  { "onsite", "Replace the faulty power supply on line 3", "更换 3 号产线故障电源" },
}

-- the knowledge base: English title, Chinese title, skill, the body's gist
local ARTICLES = {
  { "Reset a forgotten password", "重置忘记的密码", "general", "Open the sign-in page, choose Forgot password and follow the e-mailed link within 30 minutes." },
  { "Set up the VPN client on Windows", "在 Windows 上配置 VPN 客户端", "technical", "Install the client, import the profile from the admin console and sign in with your directory account." },
  { "VPN disconnects every hour", "VPN 每小时断开", "technical", "Raise the gateway's IKE lifetime to 86400 seconds and enable dead-peer detection." },
  { "Download an invoice as PDF", "下载 PDF 格式发票", "billing", "Billing > Invoices, pick the invoice and choose Download PDF." },
  { "Correct the VAT number on an invoice", "更正发票税号", "billing", "Update the account's tax number, then ask billing to reissue the invoice; the old one is cancelled." },
  { "Request a special VAT invoice (fapiao)", "申请增值税专用发票", "billing", "Send the company's tax registration, bank and address details; special invoices are issued within 3 working days." },
  { "Install the Edge Gateway GW-100", "安装边缘网关 GW-100", "onsite", "Mount on a DIN rail, connect 24 V DC and the uplink, then claim the device by its serial in the portal." },
  { "Install the Industrial Gateway GW-300", "安装工业网关 GW-300", "onsite", "Ground the chassis first; the LTE antenna kit goes on port A." },
  { "Upgrade the gateway firmware", "升级网关固件", "technical", "Schedule the upgrade in a maintenance window; the gateway keeps 72 hours of data while it restarts." },
  { "Sensor values missing after a firmware update", "固件升级后传感器数据缺失", "technical", "Re-pair the sensor pack: hold the pair button 5 seconds and confirm in the portal." },
  { "Add a user to your organisation", "为组织添加用户", "general", "Admin > Users > Invite; the invitee sets a password from the e-mail." },
  { "Unlock a locked account", "解锁被锁定的账号", "general", "Accounts lock after ten failed sign-ins for 15 minutes; an administrator can unlock at once." },
  { "Change the account owner's e-mail", "修改账号所有者邮箱", "general", "The owner confirms the change from both the old and the new address." },
  { "API rate limits and 429 answers", "API 限流与 429 响应", "technical", "Each token may send 10 requests a second; honour Retry-After and batch writes." },
  { "Bulk upload fails with 502", "批量上传返回 502", "technical", "Split files above 50 MB and upload in parallel batches of 5,000 rows." },
  { "Renew a support contract", "续签服务合同", "billing", "Renewal quotes go out 60 days before the end date; accept online to keep your incidents." },
  { "What counts as an incident", "什么算作一次服务事件", "general", "One problem on one product, however many contacts it takes; questions answered from the knowledge base do not count." },
  { "Book an on-site engineer", "预约上门工程师", "onsite", "Open a case with the site address and access hours; engineers are booked 2 working days ahead." },
  { "Monitoring Cloud alerts are delayed", "监控云告警延迟", "technical", "Check the device clock; a drift above 5 minutes delays alert rules." },
  { "Export your data", "导出您的数据", "general", "Admin > Export creates a CSV per object; large exports arrive by e-mail link." },
  { "Configure single sign-on (SAML)", "配置单点登录（SAML）", "technical", "Upload the IdP metadata, map the e-mail claim and test with one user before enforcing." },
  { "Payment methods and bank transfer details", "付款方式与银行转账信息", "billing", "We accept bank transfer, card and Alipay for CNY invoices; quote the invoice number as reference." },
}
local ARTICLE_STATES = { "published", "published", "published", "published", "draft", "in_review", "archived" }

local function pick(list) return list[math.random(#list)] end

crm.job("demo", "manual", function()
  -- run once per database, over the base demo's accounts and cases
  if crm.count("service_queue") > 0 or crm.count("account") == 0 then return end
  math.randomseed(16)
  -- times count from the start of today (UTC), so that a run gives the same records all day
  local today = crm.date()
  local now = epoch(today)

  -- people: the service agents by role (service_agent, service_agent2, ...), the manager
  local agents = crm.query("user", { filter = "role = 'service_agent'", sort = "id", fields = "id,team", limit = 10 })
  local manager = crm.query("user", { filter = "role = 'service_manager'", sort = "id", fields = "id", limit = 1 })[1]
  local teams = {}
  for i, t in ipairs(TEAMS) do
    local found = crm.query("team", { filter = "name = '" .. t[1] .. "'", fields = "id", limit = 1 })[1]
    teams[i] = found and found.id or crm.create("team", { name = t[1], description = t[2],
      manager = manager and manager.id or nil }).id
  end
  local function agent_of(tier)
    local want = tier == "l3" and teams[3] or tier == "l2" and teams[2] or teams[1]
    for _, a in ipairs(agents) do if a.team == want then return a.id end end
    return agents[1] and agents[1].id or nil
  end

  local queues = {}
  for _, q in ipairs(QUEUES) do
    queues[#queues + 1] = crm.create("service_queue", { name = q[1], tier = q[2], skill = q[3], team = teams[q[4]] })
  end
  local function queue_of(tier, skill)
    for _, q in ipairs(queues) do if q.tier == tier and q.skill == skill then return q.id end end
    for _, q in ipairs(queues) do if q.tier == tier then return q.id end end
    return queues[1].id
  end

  local policies = {}
  for _, p in ipairs(POLICIES) do
    policies[#policies + 1] = crm.create("sla_policy", { name = p[1], applies_when = p[2] or crm.null,
      priority_order = p[3], first_response_minutes = p[4], resolution_minutes = p[5], warn_minutes = p[6],
      escalate_to_tier = p[7], calendar = "cn_office" })
  end

  -- the support packages: lead2cash products, and the service products they are sold as
  local packages = {}
  for _, p in ipairs(PACKAGES) do
    local product = crm.query("product", { filter = "code = '" .. p[1] .. "'", fields = "id", limit = 1 })[1]
    if not product then
      product = crm.create("product", { code = p[1], name = p[2], family = "service", kind = "service",
        list_price = p[3], unit = "contract", active = true })
      crm.create("price_book_entry", { product = product.id, price_book = "standard", unit_price = p[3],
        valid_from = today:sub(1, 4) .. "-01-01" })
    end
    packages[#packages + 1] = crm.create("service_product", { name = p[2], product = product.id, level = p[4],
      sla_policy = policies[p[5]].id, incidents_included = p[6], term_months = p[7], onsite = p[8], when_exhausted = p[9] })
  end
  -- the products cases are about: the hardware and software lead2cash sells
  local products = crm.query("product", { filter = "family in ('hardware', 'software', 'subscription')",
    sort = "id", fields = "id", limit = 20 })

  -- entitlements for every third account: the first of each pair active, some expired, basic ones used up
  local entitlements = {}   -- account id -> { id, level, starts, ends, included, used }
  local accounts = crm.query("account", { sort = "id", fields = "id", limit = 1000 })
  for i, account in ipairs(accounts) do
    if i % 3 == 1 then
      local k = (i // 3) % #packages + 1
      local expired = (i // 3) % 5 == 4
      local starts = expired and now - math.random(400, 560) * DAY or now - math.random(20, 300) * DAY
      local ends = starts + PACKAGES[k][7] * 30 * DAY
      local e = crm.create("entitlement", { account = account.id, service_product = packages[k].id,
        starts_on = crm.date(starts), ends_on = crm.date(ends), incidents_included = PACKAGES[k][6],
        owner = manager and manager.id or nil })
      entitlements[account.id] = { id = e.id, level = PACKAGES[k][4], starts = starts, ends = ends,
        included = PACKAGES[k][6], used = 0 }
    end
  end

  -- the knowledge base: each article in English and Chinese; published ones with 1-3 versions
  local articles = {}       -- skill -> published article ids
  for i, a in ipairs(ARTICLES) do
    for lang = 1, 2 do
      local status = ARTICLE_STATES[(i + lang) % #ARTICLE_STATES + 1]
      local title = lang == 1 and a[1] or a[2]
      local body = lang == 1 and (a[4] .. "\n\nApplies to all current product versions.")
        or (a[2] .. "：" .. a[4] .. "\n\n（中文版，适用于所有当前版本。）")
      local versions = (status == "published" or status == "archived") and (i % 3) + 1 or 0
      local published = now - math.random(30, 330) * DAY
      local article = crm.create("kb_article", { title = title, body = body, status = status,
        audience = i % 4 == 0 and "internal" or i % 4 == 1 and "partner" or "public",
        product = (a[3] == "technical" or a[3] == "onsite") and pick(products).id or nil,
        revision = versions, published_at = versions > 0 and crm.datetime(published) or nil,
        helpful = versions > 0 and math.random(0, 60) or 0, owner = agents[(i % math.max(#agents, 1)) + 1]
        and agents[(i % #agents) + 1].id or nil })
      for v = 1, versions do
        crm.create("kb_article_version", { article = article.id, revision = v,
          title = v == versions and title or title .. (lang == 1 and " (earlier)" or "（旧版）"),
          body = body, note = v == 1 and (lang == 1 and "First publication" or "首次发布")
            or (lang == 1 and "Clarified the steps" or "补充操作步骤") })
      end
      if status == "published" then
        articles[a[3]] = articles[a[3]] or {}
        table.insert(articles[a[3]], article.id)
      end
    end
  end

  local channels = { "phone", "phone", "email", "email", "web", "portal", "wechat", "partner" }
  -- a case of the past resolved after its resolution was due was breached then (the breach timer
  -- marks open cases as it runs: on `make run`, within its first minute, with their escalation)
  local function mark_breached(id, status)
    if (status == "resolved" or status == "closed") and
        crm.count("case_milestone", "case = " .. id .. " and kind = 'resolution' and status = 'violated'") > 0 then
      crm.update("case", id, { breached = true })
    end
  end

  -- the base demo's cases: channel, skill, product, tier, queue, timestamps as their state says
  local skills = { "general", "general", "technical", "technical", "billing", "onsite" }
  local cases = crm.query("case", { sort = "id", limit = 1000,
    fields = "id,account,contact,status,priority,tier,opened_at,owner,subject" })
  for n, case in ipairs(cases) do
    local skill = case.subject:lower():find("invoice") and "billing" or case.subject:find("发票") and "billing"
      or skills[(n * 7) % #skills + 1]
    local tier = case.tier
    if tier == "l2" and (skill == "technical" and n % 3 == 0) then tier = "l3" end
    if skill == "onsite" then tier = "l2" end
    local opened = epoch(case.opened_at)
    local responded, resolved
    if case.status ~= "new" then
      -- most answered within the hour; one in six late
      responded = math.min(opened + (n % 6 == 0 and math.random(5, 30) * HOUR or math.random(5, 55) * 60), now - 60)
    end
    if case.status == "resolved" or case.status == "closed" then
      if tier == "l1" and n % 3 == 0 then
        resolved = responded                      -- resolved in the first contact
      else
        resolved = math.min(responded + math.random(1, tier == "l1" and 20 or 90) * HOUR, now - 60)
      end
    end
    local e = case.account and entitlements[case.account]
    local entitlement = nil
    if e and opened >= e.starts and opened <= e.ends and (e.included == 0 or e.used < e.included) then
      entitlement, e.used = e.id, e.used + 1
    end
    local kb = (resolved and articles[skill] and n % 4 ~= 0) and articles[skill][n % #articles[skill] + 1] or nil
    local changes = { channel = channels[n % #channels + 1], skill = skill, tier = tier,
      queue = queue_of(tier, skill), product = products[n % #products + 1].id, entitlement = entitlement,
      first_responded_at = responded and crm.datetime(responded) or nil,
      resolved_at = resolved and crm.datetime(resolved) or nil, kb_article = kb }
    crm.update("case", case.id, changes)
    sla.apply(case.id)
    mark_breached(case.id, case.status)
    case.tier, case.entitlement = tier, entitlement
    case.resolved, case.skill, case.product = resolved, skill, changes.product
  end

  -- new cases: the console's live ones (every tier in every state, mine, my team's and
  -- unassigned, due soon, due later and overdue) and the last three months' history, so that
  -- this month's and quarter's figures have cases (times in business hours of cn_office)
  local count = 0
  local contacts = crm.query("contact", { filter = "account is not null", sort = "id", fields = "id,account", limit = 60 })
  local function new_case(tier, status, opened, owner, fcr)
    count = count + 1
    local subject = SUBJECTS[(count * 5) % #SUBJECTS + 1]
    local skill = tier == "l1" and (subject[1] == "billing" and "billing" or "general") or
      (subject[1] == "onsite" and "onsite" or "technical")
    -- not for an account whose support package is used up: the clock would refuse the case
    local contact = contacts[count % #contacts + 1]
    for step = 1, #contacts do
      local a = contact.account
      if crm.count("entitlement", "account = " .. a .. " and incidents_left <= 0") == 0
          or crm.count("entitlement", "account = " .. a .. " and (incidents_left > 0 or incidents_left is null)") > 0 then
        break
      end
      contact = contacts[(count + step) % #contacts + 1]
    end
    local responded = status ~= "new" and opened + (count % 7 == 0 and 6 * HOUR or (10 + count % 40) * 60) or nil
    if responded and responded > now then responded = now - 60 end
    local resolved = nil
    if status == "resolved" or status == "closed" then
      resolved = fcr and responded or math.min(responded + (1 + count % 20) * (tier == "l1" and 1 or 3) * HOUR, now - 60)
    end
    local case = { account = contact.account, priority = count % 4 == 0 and "high" or "normal", status = status,
      tier = tier }
    local e = entitlements[contact.account]
    if e and now <= e.ends and opened >= e.starts and (e.included == 0 or e.used < e.included) then
      case.entitlement, e.used = e.id, e.used + 1
    end
    local kb = resolved and articles[skill] and count % 5 ~= 0 and articles[skill][count % #articles[skill] + 1] or nil
    local values = { subject = count % 2 == 0 and subject[3] or subject[2], account = contact.account,
      contact = contact.id, status = status, priority = case.priority, tier = tier, skill = skill,
      channel = channels[count % #channels + 1], queue = queue_of(tier, skill), entitlement = case.entitlement,
      product = products[count % #products + 1].id, opened_at = crm.datetime(opened), kb_article = kb,
      first_responded_at = responded and crm.datetime(responded) or nil,
      resolved_at = resolved and crm.datetime(resolved) or nil, owner = owner,
      resolution = resolved and "Answered with the steps of the knowledge article; the customer confirmed." or nil,
      description = "Reported by the customer; see the subject." }
    -- a case waiting for the customer has been paused for two hours (the clock counts it on resume)
    if status == "waiting_customer" then values.sla_paused_since = crm.datetime(now - 2 * HOUR) end
    local created = crm.create("case", values)
    sla.apply(created.id)
    mark_breached(created.id, status)
    -- the clock gave it to the least busy agent of its queue; these wait unassigned in the queue
    if owner == crm.null and created.owner then crm.update("case", created.id, { owner = crm.null }) end
    case.id, case.owner = created.id, created.owner
    if status == "closed" then
      cases[#cases + 1] = { id = created.id, status = "closed", contact = contact.id, owner = created.owner,
        tier = tier, product = values.product, resolved = resolved }
    end
  end
  local states = { "new", "open", "waiting_customer", "resolved", "closed" }
  for _, tier in ipairs({ "l1", "l2", "l3" }) do
    for _, status in ipairs(states) do
      for copy = 1, (status == "new" or status == "open") and 3 or 1 do
        -- opened an hour to six days ago: some inside their SLA, some past it
        local opened = now - ({ 1, 3, 7, 20, 30, 50, 120, 150 })[(count % 8) + 1] * HOUR - count * 300
        local owner = copy == 2 and crm.null or (tier == "l1" and agents[1] and agents[1].id) or agent_of(tier)
        new_case(tier, status, opened, owner, false)
      end
    end
  end
  for j = 1, 60 do
    local tier = j % 10 < 6 and "l1" or j % 10 < 9 and "l2" or "l3"
    local age = 2 + (j * 13) % 88
    local status = (age > 7 or j % 3 ~= 0) and "closed" or "resolved"
    local owner = (tier == "l1" and j % 4 ~= 0 and agents[1]) and agents[1].id or agent_of(tier)
    new_case(tier, status, now - age * DAY - ((j * 37) % 600) * 60, owner, tier == "l1" and j % 3 == 0)
  end

  -- some entitlements used up: their incidents included are those their cases drew
  local exhausted = 0
  for _, account in ipairs(accounts) do
    local e = entitlements[account.id]
    if e and e.included > 0 and e.used > 0 and exhausted < 12 then
      crm.update("entitlement", e.id, { incidents_included = e.used })
      exhausted = exhausted + 1
    end
  end

  -- satisfaction surveys on closed cases: most answered (mostly 4 and 5), some waiting, some expired
  local scores = { 5, 5, 5, 4, 4, 4, 5, 3, 4, 2, 5, 1, 3, 4, 5 }
  local k = 0
  for _, case in ipairs(cases) do
    if case.status == "closed" and case.resolved then
      k = k + 1
      local sent = math.min(case.resolved + DAY, now - HOUR)
      local answered = k % 9 ~= 0 and math.min(sent + math.random(1, 72) * HOUR, now - 60) or nil
      local score = answered and scores[k % #scores + 1] or nil
      crm.create("survey", { case = case.id, contact = case.contact, agent = case.owner, tier = case.tier,
        product = case.product, score = score, sent_at = crm.datetime(sent), expires_at = crm.datetime(sent + 14 * DAY),
        answered_at = answered and crm.datetime(answered) or nil,
        comment = score and (score >= 4 and "Quick and clear, thank you." or score == 3 and "OK, took a while."
          or "Had to explain the problem three times.") or nil })
    end
  end
end)
