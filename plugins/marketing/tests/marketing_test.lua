-- Tests of the marketing plugin: crm plugin test marketing
-- (the acceptance stories over REST are tests/api/marketing_test.py)

local function budget(amount)
  return crm.create("market_budget", { name = "Test budget", fiscal_year = 2026, region = "emea", amount = amount,
    status = "approved" })
end

local function campaign(values)
  values.name = values.name or "Test campaign"
  values.starts_on = values.starts_on or crm.date()
  return crm.create("campaign", values)
end

-- An expense of one line of amount on campaign, moved to status.
local function expense(c, amount, status)
  local e = crm.create("expense", { title = "Cost", campaign = c.id, category = "venue", incurred_on = crm.date() })
  crm.create("expense_line", { expense = e.id, description = "Item", quantity = 1, unit_cost = amount })
  if status ~= "draft" then crm.transition("expense", e.id, "submit") end
  if status == "approved" or status == "paid" then crm.transition("expense", e.id, "approve") end
  if status == "paid" then crm.transition("expense", e.id, "pay") end
  return crm.get("expense", e.id)
end

local function account_with_contact(name)
  local account = crm.create("account", { name = name })
  local contact = crm.create("contact", { last_name = name, account = account.id })
  return account, contact
end

function test_expense_lines_add_up_to_the_cent_and_fill_the_budget_and_position()
  local b = budget(100000)
  local c = campaign({ budget = b.id, budgeted_cost = 1000 })
  local e = crm.create("expense", { title = "Print", campaign = c.id, category = "print", incurred_on = crm.date() })
  assert(e.budget == b.id, "the campaign's budget: " .. tostring(e.budget))
  local l1 = crm.create("expense_line", { expense = e.id, description = "Flyers", quantity = 3, unit_cost = 0.1 })
  local l2 = crm.create("expense_line", { expense = e.id, description = "Posters", quantity = 7, unit_cost = 19.99 })
  assert(l1.amount == 0.3 and l2.amount == 139.93, "line amounts " .. tostring(l1.amount) .. " " .. tostring(l2.amount))
  assert(l2.sort_order == 2, "the next position: " .. tostring(l2.sort_order))
  e = crm.get("expense", e.id)
  assert(e.amount == 140.23 and e.line_count == 2, "expense amount " .. tostring(e.amount))
  crm.transition("expense", e.id, "submit")
  local ok, err = pcall(crm.update, "expense_line", l1.id, { quantity = 4 })
  assert(not ok and tostring(err):find("invalid", 1, true), "a submitted expense's lines are frozen: " .. tostring(err))
  assert(crm.get("expense_line", l1.id).quantity == 3, "unchanged")
end

function test_an_empty_expense_cannot_be_submitted()
  local c = campaign({ budget = budget(1000).id, budgeted_cost = 100 })
  local e = crm.create("expense", { title = "Nothing", campaign = c.id, category = "other", incurred_on = crm.date() })
  local ok, err = pcall(crm.transition, "expense", e.id, "submit")
  assert(not ok and tostring(err):find("Add at least one line", 1, true), tostring(err))
end

function test_the_budget_guard_refuses_an_expense_the_budget_cannot_cover()
  local b = budget(1000)
  local c = campaign({ budget = b.id, budgeted_cost = 1000 })
  expense(c, 700, "approved")
  local e = expense(c, 400, "submitted")
  local ok, err = pcall(crm.transition, "expense", e.id, "approve")
  assert(not ok and tostring(err):find("budget does not cover", 1, true), tostring(err))
  assert(crm.get("market_budget", b.id).spent == 700, "spent")
end

function test_a_parents_totals_climb_from_its_childrens_costs_and_revenue()
  local b = budget(100000)
  local top = campaign({ name = "Programme", budget = b.id, budgeted_cost = 100 })
  local mid = campaign({ name = "Series", parent = top.id, budget = b.id, budgeted_cost = 100 })
  local leaf = campaign({ name = "Webinar", parent = mid.id, budget = b.id, budgeted_cost = 100 })
  expense(leaf, 250, "approved")
  expense(mid, 100, "paid")
  expense(leaf, 999, "submitted")
  top, mid = crm.get("campaign", top.id), crm.get("campaign", mid.id)
  assert(mid.actual_cost == 100 and mid.child_cost == 250 and mid.total_cost == 350, "mid " .. crm.json.encode(mid))
  assert(top.child_cost == 350 and top.total_cost == 350, "top " .. crm.json.encode(top))
  -- moving the webinar to the top takes its cost from the series
  crm.update("campaign", leaf.id, { parent = top.id })
  top, mid = crm.get("campaign", top.id), crm.get("campaign", mid.id)
  assert(mid.child_cost == 0 and top.child_cost == 350, "after the move: " .. tostring(mid.child_cost) .. " "
    .. tostring(top.child_cost))
end

function test_influence_is_shared_evenly_and_first_and_last_touch_take_all()
  local a = campaign({ name = "A" })
  local b = campaign({ name = "B" })
  local c = campaign({ name = "C" })
  local account, contact = account_with_contact("Influence AG")
  crm.create("campaign_member", { campaign = b.id, contact = contact.id, status = "responded",
    responded_at = "2026-01-02T10:00:00Z" })
  crm.create("campaign_member", { campaign = a.id, contact = contact.id, status = "responded",
    responded_at = "2026-01-01T10:00:00Z" })
  crm.create("campaign_member", { campaign = c.id, contact = contact.id, status = "sent" })   -- no touch
  local deal = crm.create("opportunity", { name = "Deal", account = account.id, amount = 100.01 })
  crm.update("opportunity", deal.id, { amount = 100.01, campaign = crm.null })
  local rows = crm.query("campaign_influence", { filter = "opportunity = " .. deal.id, sort = "model,campaign",
    fields = "campaign,model,influence,amount_share,opportunity_open" })
  local by = {}
  for _, r in ipairs(rows) do by[r.model .. ":" .. r.campaign] = r end
  assert(#rows == 4, "two even rows and one of each touch: " .. crm.json.encode(rows))
  local function cents(x) return math.floor(x * 100 + 0.5) end
  assert(cents(by["even:" .. a.id].amount_share) + cents(by["even:" .. b.id].amount_share) == 10001, "even shares add up")
  assert(by["even:" .. a.id].amount_share == 50.01 and by["even:" .. a.id].influence == 50, "the odd cent to the first")
  assert(by["first_touch:" .. a.id] and by["first_touch:" .. a.id].influence == 100, "A came first")
  assert(by["last_touch:" .. b.id] and by["last_touch:" .. b.id].amount_share == 100.01, "B came last")
  -- winning the deal moves the shares from pipeline to won revenue
  crm.update("opportunity", deal.id, { stage = "won", amount = 300 })
  a = crm.get("campaign", a.id)
  assert(a.won_revenue == 150 and a.pipeline == 0, "A after the win: " .. crm.json.encode(a))
end

function test_converting_a_member_lead_marks_it_converted_and_sources_the_deal()
  local c = campaign({ name = "Expo" })
  local lead = crm.create("lead", { last_name = "Kim", company = "Kim Ltd", email = "kim@example.com",
    estimated_value = 5000, campaign = c.id })
  local member = crm.query("campaign_member", { filter = "lead = " .. lead.id })[1]
  assert(member and member.status == "responded" and member.responded_at, "a lead for a campaign is a responder")
  crm.transition("lead", lead.id, "convert")
  lead = crm.get("lead", lead.id)
  assert(crm.get("campaign_member", member.id).status == "converted", "converted")
  local deal = crm.get("opportunity", lead.converted_opportunity)
  assert(deal.campaign == c.id, "the deal's primary campaign")
  c = crm.get("campaign", c.id)
  assert(c.leads_converted == 1 and c.opportunities == 1 and c.pipeline == 5000, "campaign " .. crm.json.encode(c))
end

function test_refresh_actuals_counts_won_deals_inside_the_plan_period()
  local rep = crm.create("user", { login = "rep_plan", name = "Rep", role = "sales_rep" })
  local account = crm.create("account", { name = "Plan GmbH" })
  local plan = crm.create("sales_plan", { name = "Q1", period = "quarter", starts_on = "2026-01-01", ends_on = "2026-03-31" })
  local target = crm.create("plan_target", { plan = plan.id, user = rep.id, target_amount = 100000 })
  assert(target.period_start == "2026-01-01", "the plan's start")
  local function won(amount, close)
    local d = crm.create("opportunity", { name = "D", account = account.id, owner = rep.id, amount = amount, close_date = close })
    crm.update("opportunity", d.id, { stage = "won" })
  end
  won(90000, "2026-02-15")
  won(25000, "2026-04-02")
  crm.transition("sales_plan", plan.id, "submit")
  crm.test.job("refresh_actuals")
  target = crm.get("plan_target", target.id)
  assert(target.actual_amount == 90000 and target.attainment == 90, "actual " .. crm.json.encode(target))
  assert(crm.get("sales_plan", plan.id).attainment == 90, "the plan's attainment")
end

function test_the_overdue_timer_reminds_the_owner_of_an_ended_campaign()
  local b = budget(10000)
  local c = campaign({ budget = b.id, budgeted_cost = 1000, starts_on = "2026-01-01", ends_on = "2026-01-31" })
  crm.transition("campaign", c.id, "launch")
  local acted = crm.test.timer("campaign_flow", "overdue_close")
  assert(acted >= 1, "the ended campaign: " .. tostring(acted))
end

function test_the_web_form_creates_a_pooled_lead_and_a_responding_member()
  local c = campaign({ name = "Web <Launch>", budget = budget(5000).id, budgeted_cost = 100 })
  crm.transition("campaign", c.id, "launch")
  c = crm.get("campaign", c.id)
  local r = crm.test.route("POST", "/marketing/web-to-lead", { last_name = "O'Neil", company = "<b>Acme</b>",
    email = "on@example.com", campaign = c.number })
  assert(r.status == 201, "posted: " .. crm.json.encode(r))
  local lead = crm.as_system(crm.get, "lead", r.json.lead)
  assert(lead.owner == nil and lead.campaign == c.id and lead.source == "web", "pooled: " .. crm.json.encode(lead))
  assert(crm.count("campaign_member", "lead = " .. lead.id .. " and status = 'responded'") == 1, "member")
  local page = crm.test.route("GET", "/marketing/form/" .. c.number)
  assert(page.status == 200, "the form")
  local trap = crm.test.route("POST", "/marketing/web-to-lead", { last_name = "Bot", company = "Bot",
    email = "bot@example.com", website = "http://spam.example" })
  assert(trap.status == 202 and crm.count("lead", "last_name = 'Bot'") == 0, "the honeypot keeps nothing")
end
