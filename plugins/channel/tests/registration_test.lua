-- Deal registration and tiers in one transaction each (crm plugin test channel); the
-- stories over REST as the demo users are tests/api/channel_test.py.

local function setup()
  local gold = crm.create("partner_program", { name = "T Gold", tier = "gold", min_certified = 2,
    min_revenue = 500000, protection_days = 90 })
  local silver = crm.create("partner_program", { name = "T Silver", tier = "silver", min_certified = 1,
    min_revenue = 100000, protection_days = 60 })
  local cm = crm.create("user", { login = "t_cm", name = "T Manager", role = "channel_manager", kind = "employee" })
  local p1 = crm.create("partner", { name = "T One GmbH", tier = "gold", program = gold.id, channel_manager = cm.id })
  local p2 = crm.create("partner", { name = "T Two SAS", tier = "silver", program = silver.id, channel_manager = cm.id })
  local u1 = crm.create("user", { login = "t_p1", name = "T P1", role = "partner_user", kind = "partner", partner = p1.id })
  local u2 = crm.create("user", { login = "t_p2", name = "T P2", role = "partner_user", kind = "partner", partner = p2.id })
  return { gold = gold, silver = silver, cm = cm.id, p1 = p1.id, p2 = p2.id, u1 = u1.id, u2 = u2.id }
end

local function register(user, company, amount)
  return crm.test.as_user(user, function()
    local r = crm.create("deal_registration", { company = company, amount = amount, expected_close = "2031-03-31" })
    crm.transition("deal_registration", r.id, "submit")
    return crm.get("deal_registration", r.id)
  end)
end

local function fire(user, id, name)
  crm.test.as_user(user, crm.transition, "deal_registration", id, name)
  return crm.test.as_user(user, crm.get, "deal_registration", id)
end

function test_acme_limited_is_acme_ltd_and_names_no_partner()
  local s = setup()
  local first = register(s.u1, "Acme Ltd", 100000)
  assert(first.status == "submitted", first.status)
  local approved = fire(s.cm, first.id, "approve")
  assert(approved.status == "approved")
  assert(approved.protected_until == crm.date(crm.now() + 90 * 86400), tostring(approved.protected_until))
  local second = register(s.u2, "ACME LIMITED", 90000)
  assert(second.status == "conflict", second.status)
  assert(second.conflict_with == nil and second.account == nil, "hidden from the partner")
  local stored = crm.get("deal_registration", second.id)
  assert(stored.conflict_with and stored.conflict_with:find(first.number, 1, true), tostring(stored.conflict_with))
  assert(stored.conflict_with:find("T One GmbH", 1, true), stored.conflict_with)
  local seen = crm.test.as_user(s.u2, crm.get, "deal_registration", second.id)
  assert(seen.status == "conflict" and seen.conflict_with == nil)
  assert(crm.test.as_user(s.u2, crm.get, "deal_registration", first.id) == nil, "the other's is invisible")
  local note = crm.query("notification", { filter = "user = " .. s.cm .. " and record_id = " .. second.id })
  assert(#note == 1 and note[1].title:find("conflicts", 1, true))
end

function test_account_by_domain_open_deal_and_coverage()
  local s = setup()
  local acct = crm.create("account", { name = "Globex Holdings", email = "info@globex.example" })
  local r = crm.test.as_user(s.u1, function()
    local r = crm.create("deal_registration", { company = "Totally Different Name", contact_email = "cfo@globex.example",
      amount = 5, expected_close = "2031-01-01" })
    crm.transition("deal_registration", r.id, "submit")
    return crm.get("deal_registration", r.id)
  end)
  assert(r.status == "submitted", "an account with no open deal and no coverage is no conflict")
  assert(crm.get("deal_registration", r.id).account == acct.id, "matched by e-mail domain")
  crm.create("opportunity", { name = "Globex direct", account = acct.id, amount = 10, close_date = "2031-01-01" })
  local again = register(s.u2, "GLOBEX HOLDINGS", 7)
  assert(again.status == "conflict")
  local text = crm.get("deal_registration", again.id).conflict_with
  assert(text:find("Globex direct (direct)", 1, true), text)
  local covered = crm.create("account", { name = "Initech Inc." })
  crm.create("partner_coverage", { partner = s.p1, account = covered.id, role = "primary" })
  assert(register(s.u1, "Initech", 3).status == "submitted", "own coverage is no conflict")
  local other = crm.get("deal_registration", register(s.u2, "initech corp", 3).id)
  assert(other.status == "conflict" and other.conflict_with:find("covered by T One GmbH", 1, true))
end

function test_convert_expire_and_big_deals()
  local s = setup()
  local r = register(s.u1, "Hooli Ltd", 100000)
  crm.test.as_user(s.cm, crm.transition, "deal_registration", r.id, "approve")
  local done = fire(s.cm, r.id, "convert")
  assert(done.status == "converted" and done.opportunity, "converted with an opportunity")
  local deal = crm.get("opportunity", done.opportunity)
  assert(deal.partner == s.p1 and deal.amount == 100000 and deal.lead_source == "partner")
  assert(crm.test.as_user(s.u1, crm.get, "opportunity", deal.id), "partner1 sees it")
  assert(crm.test.as_user(s.u2, crm.get, "opportunity", deal.id) == nil, "partner2 does not")
  -- a partner changes nothing once submitted
  local sub = register(s.u1, "Pied Piper", 10)
  local ok = pcall(crm.test.as_user, s.u1, crm.update, "deal_registration", sub.id, { amount = 20 })
  assert(not ok, "a submitted registration is the channel manager's")
  ok = pcall(crm.test.as_user, s.u1, crm.transition, "deal_registration", sub.id, "approve")
  assert(not ok, "a partner cannot approve")
  -- protection that ran out: the timer expires it
  local old = register(s.u1, "Vandelay Industries", 10)
  crm.test.as_user(s.cm, crm.transition, "deal_registration", old.id, "approve")
  crm.update("deal_registration", old.id, { protected_until = "2020-01-01" })
  crm.test.timer("deal_registration_flow", "protection_end")
  assert(crm.get("deal_registration", old.id).status == "expired")
end

function test_tier_review_follows_certifications()
  local s = setup()
  local course = crm.create("training_course", { name = "T Cloud", solution = "cloud" })
  local c1 = crm.create("certification", { course = course.id, partner = s.p1, person = s.u1, status = "valid",
    passed_on = "2026-01-01", valid_to = "2099-01-01" })
  crm.create("certification", { course = course.id, partner = s.p1, person = s.cm, status = "valid",
    passed_on = "2026-01-01", valid_to = "2099-01-01" })
  local acct = crm.create("account", { name = "Tier Test AG", partner = s.p1 })
  crm.create("opportunity", { name = "won", account = acct.id, amount = 600000, stage = "won", partner = s.p1,
    close_date = "2026-01-01" })
  crm.test.job("tier_review")
  assert(crm.get("partner", s.p1).tier == "gold", "2 valid, 600,000: gold stays")
  crm.update("certification", c1.id, { valid_to = "2026-02-01" })
  crm.test.job("expire_certifications")
  assert(crm.get("certification", c1.id).status == "expired")
  crm.test.job("tier_review")
  local p = crm.get("partner", s.p1)
  assert(p.tier == "silver" and p.program == s.silver.id, "demoted to silver: " .. tostring(p.tier))
  assert(#crm.query("notification", { filter = "user = " .. s.cm .. " and object_name = 'partner'" }) >= 1)
end

function test_routing_a_new_lead_to_coverage()
  local s = setup()
  crm.create("partner_coverage", { partner = s.p2, region = "apac", industry = "retail", role = "primary" })
  local lead = crm.create("lead", { last_name = "Li", company = "Shop 123", source = "web", region = "apac",
    industry = "retail" })
  assert(crm.get("lead", lead.id).partner == s.p2, "region and industry")
  local acct = crm.create("account", { name = "Umbrella Corp" })
  crm.create("partner_coverage", { partner = s.p1, account = acct.id, role = "primary" })
  lead = crm.create("lead", { last_name = "Wu", company = "UMBRELLA CORPORATION", source = "partner", region = "apac",
    industry = "retail" })
  assert(crm.get("lead", lead.id).partner == s.p1, "account coverage first")
  lead = crm.create("lead", { last_name = "Ng", company = "Nobody", source = "event", region = "apac", industry = "retail" })
  assert(crm.get("lead", lead.id).partner == nil, "an event lead stays where it is")
end
