-- Tests of the sales plugin: crm plugin test sales

local function new_lead(values)
  values.last_name = values.last_name or "Doe"
  values.company = values.company or "Acme"
  return crm.create("lead", values)
end

local function new_user(login)
  return crm.create("user", { login = login, name = login, role = "sales_rep" })
end

function test_a_hot_referral_that_can_be_reached_scores_high()
  local lead = new_lead({ rating = "hot", source = "referral", email = "ann@acme.example",
                          phone = "+49 30 1234", estimated_value = 150000 })
  assert(lead.score == 95, "score " .. tostring(lead.score))
end

function test_the_score_follows_updates_and_disqualified_is_zero()
  local lead = new_lead({ rating = "warm", source = "web" })
  assert(lead.score == 25, "score " .. tostring(lead.score))
  lead = crm.update("lead", lead.id, { rating = "hot", title = "CTO" })
  assert(lead.score == 45, "score " .. tostring(lead.score))
  lead = crm.update("lead", lead.id, { title = crm.null })
  assert(lead.score == 40, "score " .. tostring(lead.score))
  lead = crm.update("lead", lead.id, { status = "disqualified" })
  assert(lead.score == 0, "score " .. tostring(lead.score))
end

function test_claim_takes_ownerless_leads_up_to_the_limit()
  local rep = new_user("rep1")
  local limit = crm.config.claim_limit
  for i = 1, limit do
    local lead = new_lead({ last_name = "Lead" .. i })
    local claimed = crm.test.as_user(rep.id, crm.test.action, "sales.claim", "lead", lead.id)
    assert(claimed.owner == rep.id and claimed.status == "working")
  end
  local extra = new_lead({ last_name = "One too many" })
  local ok, err = pcall(crm.test.as_user, rep.id, crm.test.action, "sales.claim", "lead", extra.id)
  assert(not ok and err:find("you already hold " .. limit .. " open leads", 1, true), err)
  assert(crm.get("lead", extra.id).owner == nil)
  -- another rep is not limited by the first one's leads
  local other = new_user("rep2")
  local claimed = crm.test.as_user(other.id, crm.test.action, "sales.claim", "lead", extra.id)
  assert(claimed.owner == other.id)
end

function test_a_lead_with_an_owner_cannot_be_claimed_but_can_be_released()
  local rep, other = new_user("rep3"), new_user("rep4")
  local manager = crm.create("user", { login = "boss", name = "Boss", role = "sales_manager" })
  local lead = new_lead({})
  crm.test.as_user(rep.id, crm.test.action, "sales.claim", "lead", lead.id)
  -- another rep no longer sees it (it left the public pool); a manager sees it is taken
  local ok, err = pcall(crm.test.as_user, other.id, crm.test.action, "sales.claim", "lead", lead.id)
  assert(not ok and err:find("no lead", 1, true), err)
  ok, err = pcall(crm.test.as_user, manager.id, crm.test.action, "sales.claim", "lead", lead.id)
  assert(not ok and err:find("already has an owner", 1, true), err)
  ok, err = pcall(crm.test.as_user, manager.id, crm.test.action, "sales.release", "lead", lead.id)
  assert(not ok and err:find("only the lead's owner", 1, true), err)
  local released = crm.test.as_user(rep.id, crm.test.action, "sales.release", "lead", lead.id)
  assert(released.owner == nil)
end

function test_stale_lead_job_leaves_fresh_leads_alone()
  local rep = new_user("rep5")
  local lead = new_lead({})
  crm.test.as_user(rep.id, crm.test.action, "sales.claim", "lead", lead.id)
  crm.test.job("return_stale_leads")
  assert(crm.get("lead", lead.id).owner == rep.id)
end

function test_pipeline_route_sums_by_stage()
  local account = crm.create("account", { name = "Pipeline AG" })
  crm.create("opportunity", { name = "A", account = account.id, amount = 100, stage = "proposal" })
  crm.create("opportunity", { name = "B", account = account.id, amount = 50, stage = "proposal" })
  local res = crm.test.route("GET", "/sales/pipeline")
  assert(res.status == 200)
  assert(res.json.total == 150, "total " .. tostring(res.json.total))
end
