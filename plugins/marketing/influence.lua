-- Campaign influence, the campaign hierarchy's totals and plan actuals: the
-- writes marketing.lua's hooks, actions and job share. Callers run these as
-- the system (crm.as_system, or a job).

local M = {}

local MODELS = { "first_touch", "last_touch", "even" }
local TOUCHED = "status in ('responded', 'converted')"
local PAGE = 1000

local function cents(x) return type(x) == "number" and math.floor(x * 100 + 0.5) or 0 end

-- Every record of object matching filter (fields), page by page.
local function all(object, filter, fields, sort)
  local out, after = {}, nil
  repeat
    local rows
    rows, after = crm.query(object, { filter = filter, fields = fields, sort = sort or "id", limit = PAGE, after = after })
    for _, row in ipairs(rows) do out[#out + 1] = row end
  until not after
  return out
end

-- ---- the hierarchy ---------------------------------------------------------------------

-- A campaign's child_cost and child_revenue: its children's own figures plus theirs.
function M.refresh_node(id)
  local cost, revenue = 0, 0
  for _, child in ipairs(all("campaign", "parent = " .. id, "id,actual_cost,won_revenue,child_cost,child_revenue")) do
    cost = cost + cents(child.actual_cost) + cents(child.child_cost)
    revenue = revenue + cents(child.won_revenue) + cents(child.child_revenue)
  end
  local node = crm.get("campaign", id)
  if node and (cents(node.child_cost) ~= cost or cents(node.child_revenue) ~= revenue) then
    crm.update("campaign", id, { child_cost = cost / 100, child_revenue = revenue / 100 })
  end
end

-- From a campaign up to the top of its tree (at most 16 levels; a loop stops where it closes).
local climbing = false
function M.climb(id)
  if climbing then return end   -- the parents' own updates come back here
  climbing = true
  local ok, err = pcall(crm.as_system, function()
    local seen, node = { [id] = true }, crm.get("campaign", id)
    for _ = 1, 16 do
      if not node or not node.parent or seen[node.parent] then break end
      seen[node.parent] = true
      M.refresh_node(node.parent)
      node = crm.get("campaign", node.parent)
    end
  end)
  climbing = false
  if not ok then error(err, 0) end
end

-- ---- influence -------------------------------------------------------------------------

-- The campaigns that touched a deal, earliest first: those its source lead or its account's
-- contacts responded to (before the deal closed, for a closed one), and its primary campaign.
local function touches(deal)
  local first = {}
  local closed = (deal.stage == "won" or deal.stage == "lost") and deal.close_date
  local function touch(campaign, at, primary)
    at = at or deal.created_at or ""
    if closed and not primary and at:sub(1, 10) > closed then return end   -- came after the deal was decided
    if not first[campaign] or at < first[campaign] then first[campaign] = at end
  end
  for _, m in ipairs(all("campaign_member", "lead.converted_opportunity = " .. deal.id .. " and " .. TOUCHED,
      "campaign,responded_at,created_at")) do
    touch(m.campaign, m.responded_at or m.created_at)
  end
  if deal.account then
    for _, m in ipairs(all("campaign_member", "contact.account = " .. deal.account .. " and " .. TOUCHED,
        "campaign,responded_at,created_at")) do
      touch(m.campaign, m.responded_at or m.created_at)
    end
  end
  if deal.campaign then touch(deal.campaign, nil, true) end
  local list = {}
  for campaign, at in pairs(first) do list[#list + 1] = { campaign = campaign, at = at } end
  table.sort(list, function(a, b) if a.at ~= b.at then return a.at < b.at end return a.campaign < b.campaign end)
  return list
end

-- The rows a deal should have: key "campaign:model" -> { influence, share in cents }.
local function wanted(deal, list)
  local rows, n = {}, #list
  if n == 0 then return rows end
  local amount = cents(deal.amount)
  rows[list[1].campaign .. ":first_touch"] = { campaign = list[1].campaign, model = "first_touch", influence = 100, share = amount }
  rows[list[n].campaign .. ":last_touch"] = { campaign = list[n].campaign, model = "last_touch", influence = 100, share = amount }
  -- even: whole cents each, the odd cents to the earliest, so the shares add up to the amount
  local base, extra = amount // n, amount % n
  for i, t in ipairs(list) do
    rows[t.campaign .. ":even"] = { campaign = t.campaign, model = "even",
      influence = math.floor(10000 / n + 0.5) / 100, share = base + (i <= extra and 1 or 0) }
  end
  return rows
end

-- Writes a deal's campaign_influence rows afresh (one per campaign and model) and climbs the
-- campaigns whose figures moved. Returns the number of campaigns that touched it.
function M.for_opportunity(id)
  local deal = crm.get("opportunity", id)
  local existing = all("campaign_influence", "opportunity = " .. id, "id,campaign,model,influence,amount_share,"
    .. "opportunity_won,opportunity_open,owner")
  if not deal then return 0 end
  local list = (#existing > 0 or crm.count("campaign") > 0) and touches(deal) or {}
  local rows = wanted(deal, list)
  local won, open = deal.stage == "won", deal.stage ~= "won" and deal.stage ~= "lost"
  local moved = {}
  for _, row in ipairs(existing) do
    local want = rows[row.campaign .. ":" .. row.model]
    if not want then
      crm.delete("campaign_influence", row.id)
      moved[row.campaign] = true
    else
      rows[row.campaign .. ":" .. row.model] = nil
      -- a row is its deal owner's (the kpis count it for them)
      if cents(row.amount_share) ~= want.share or row.influence ~= want.influence
          or row.opportunity_won ~= won or row.opportunity_open ~= open or row.owner ~= deal.owner then
        crm.update("campaign_influence", row.id, { influence = want.influence, amount_share = want.share / 100,
          opportunity_won = won, opportunity_open = open, owner = deal.owner or crm.null })
        moved[row.campaign] = true
      end
    end
  end
  for _, want in pairs(rows) do
    crm.create("campaign_influence", { campaign = want.campaign, opportunity = id, model = want.model,
      influence = want.influence, amount_share = want.share / 100, opportunity_won = won, opportunity_open = open,
      owner = deal.owner })
    moved[want.campaign] = true
  end
  for campaign in pairs(moved) do M.climb(campaign) end
  return #list
end

-- Every deal a campaign touched: its members' converted deals, its contacts' accounts' deals,
-- and the deals naming it as their primary campaign.
function M.for_campaign(id)
  local deals, accounts = {}, {}
  for _, m in ipairs(all("campaign_member", "campaign = " .. id .. " and " .. TOUCHED, "lead,contact")) do
    local lead = m.lead and crm.get("lead", m.lead)
    local contact = m.contact and crm.get("contact", m.contact)
    if lead and lead.converted_opportunity then deals[lead.converted_opportunity] = true end
    if contact and contact.account then accounts[contact.account] = true end
  end
  for account in pairs(accounts) do
    for _, d in ipairs(all("opportunity", "account = " .. account, "id")) do deals[d.id] = true end
  end
  for _, d in ipairs(all("opportunity", "campaign = " .. id, "id")) do deals[d.id] = true end
  for _, d in ipairs(all("campaign_influence", "campaign = " .. id, "opportunity")) do deals[d.opportunity] = true end
  local ids = {}
  for deal in pairs(deals) do ids[#ids + 1] = deal end
  table.sort(ids)
  for _, deal in ipairs(ids) do M.for_opportunity(deal) end
  M.climb(id)
  return { campaign = id, opportunities = #ids }
end

-- ---- plan actuals ----------------------------------------------------------------------

-- Each quota line's actual: the won deals of its rep (or team) closing inside the plan's period.
function M.refresh_plan(plan)
  local lines = all("plan_target", "plan = " .. plan.id, "id,user,team,actual_amount")
  for _, line in ipairs(lines) do
    local who = line.user and ("owner = " .. line.user) or ("owner.team = " .. line.team)
    local rows = crm.aggregate("opportunity", { measures = "sum(amount)", filter = string.format(
      "stage = 'won' and close_date >= '%s' and close_date <= '%s' and %s", plan.starts_on, plan.ends_on, who) })
    local actual = cents(rows[1] and rows[1].sum_amount)
    if cents(line.actual_amount) ~= actual then crm.update("plan_target", line.id, { actual_amount = actual / 100 }) end
  end
  crm.update("sales_plan", plan.id, { refreshed_at = crm.datetime() })
  return { plan = plan.id, targets = #lines }
end

return M
