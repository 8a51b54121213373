-- marketing: what the YAML cannot say. Totals are rollups and formulas in
-- objects/*.yaml; this file keeps campaign members and campaign influence in
-- step with leads and deals (the kernel's rollups cannot follow campaign ->
-- member -> lead -> opportunity), keeps the campaign hierarchy's totals (the
-- kernel refuses rollups of rollups over the same object), refreshes plan
-- actuals and serves the public web-to-lead form. Every crm.* call is in
-- sdk/lua-api.md.

local influence = require("influence")
local webform = require("webform")

-- ---- defaults on create ----------------------------------------------------------------

-- An expense on a campaign is charged to the campaign's budget unless it names one (when the
-- caller may read that budget: a partner filing MDF leaves it to the approver).
crm.on("expense", "before_create", function(new)
  if new.campaign and new.campaign ~= crm.null and not new.budget then
    local campaign = crm.get("campaign", new.campaign)
    if campaign and campaign.budget and crm.get("market_budget", campaign.budget) then
      new.budget = campaign.budget
    end
    if campaign and campaign.partner and not new.partner and new.category == "partner_mdf" then
      new.partner = campaign.partner
    end
  end
end)

-- A new line goes to the end of its expense.
crm.on("expense_line", "before_create", function(new)
  if new.sort_order == nil and tonumber(new.expense) then
    new.sort_order = crm.count("expense_line", "expense = " .. math.floor(tonumber(new.expense))) + 1
  end
end)

-- A quota line starts where its plan starts (the kpi plan_attainment puts it in a period by it).
crm.on("plan_target", "before_create", function(new)
  if new.period_start == nil and tonumber(new.plan) then
    local plan = crm.get("sales_plan", new.plan)
    if plan then new.period_start = plan.starts_on end
  end
end)

-- ---- the campaign hierarchy ------------------------------------------------------------

-- A lead created for a campaign (the web form, an import, a person) is a member who responded.
crm.on("lead", "after_create", function(lead)
  if not lead.campaign then return end
  crm.as_system(function()
    if crm.count("campaign_member", string.format("campaign = %d and lead = %d", lead.campaign, lead.id)) == 0 then
      -- the campaign's owner follows up its responders
      local campaign = crm.get("campaign", lead.campaign)
      crm.create("campaign_member", { campaign = lead.campaign, lead = lead.id, status = "responded",
        responded_at = crm.datetime(), owner = campaign and campaign.owner })
    end
  end)
end)

-- A member who responds gets the time of it.
local function stamp_response(new, old)
  if (new.status == "responded" or new.status == "converted") and new.responded_at == nil
      and not (old and old.responded_at) then
    new.responded_at = crm.datetime()
  end
end
crm.on("campaign_member", "before_create", stamp_response)
crm.on("campaign_member", "before_update", stamp_response)

local moved = {}   -- campaign id -> its former parent, between before_update and after_update
crm.on("campaign", "before_update", function(new, old)
  if new.parent ~= nil and new.parent ~= old.parent and old.parent then moved[old.id] = old.parent end
end)
crm.on("campaign", "after_update", function(campaign)
  influence.climb(campaign.id)
  local former = moved[campaign.id]
  if former then
    moved[campaign.id] = nil
    influence.refresh_node(former)
    influence.climb(former)
  end
end)
crm.on("campaign", "after_create", function(campaign) influence.climb(campaign.id) end)
crm.on("campaign", "after_delete", function(campaign) if campaign.parent then influence.refresh_node(campaign.parent) influence.climb(campaign.parent) end end)
crm.on("campaign", "after_restore", function(campaign) influence.climb(campaign.id) end)

-- An approved or paid expense moves its campaign's cost, and so its parents'.
local function expense_moved(expense)
  if expense.campaign then influence.climb(expense.campaign) end
end
for _, event in ipairs({ "after_create", "after_update", "after_transition", "after_delete", "after_restore" }) do
  crm.on("expense", event, expense_moved)
end

-- ---- leads and deals -------------------------------------------------------------------

-- convert: the lead's memberships become converted, and the deal takes the campaign the lead
-- came from (else the one it responded to last) as its primary campaign.
crm.on("lead", "after_transition", function(lead)
  if lead.status ~= "qualified" or not lead.converted_opportunity then return end
  crm.as_system(function()
    -- those who responded (and the membership of the campaign the lead came from): being
    -- targeted or sent an e-mail is no touch
    local filter = "lead = " .. lead.id .. " and (status = 'responded'"
      .. (lead.campaign and (" or campaign = " .. lead.campaign .. " and status != 'opted_out'") or "") .. ")"
    local members = crm.query("campaign_member", { filter = filter, sort = "-responded_at,-id", limit = 1000,
      fields = "id,campaign,status" })
    if #members == 0 and not lead.campaign then return end
    for _, member in ipairs(members) do
      if member.status ~= "converted" then crm.update("campaign_member", member.id, { status = "converted" }) end
    end
    local deal = crm.get("opportunity", lead.converted_opportunity)
    if deal and not deal.campaign then
      local source = lead.campaign or (members[1] and members[1].campaign)
      crm.update("opportunity", deal.id, { campaign = source, lead_source = "campaign" })
    else
      influence.for_opportunity(lead.converted_opportunity)
    end
  end)
end)

-- A deal's amount, stage, account or campaign moving moves the shares credited to campaigns.
local dirty = {}
crm.on("opportunity", "before_update", function(new, old)
  if new.amount ~= nil or new.stage ~= nil or new.campaign ~= nil or new.account ~= nil then dirty[old.id] = true end
end)
crm.on("opportunity", "after_update", function(deal)
  if not dirty[deal.id] then return end
  dirty[deal.id] = nil
  crm.as_system(influence.for_opportunity, deal.id)
end)
crm.on("opportunity", "after_transition", function(deal) crm.as_system(influence.for_opportunity, deal.id) end)
crm.on("opportunity", "after_create", function(deal)
  if deal.campaign then crm.as_system(influence.for_opportunity, deal.id) end
end)

-- complete (and the button): the shares of every deal the campaign touched, written afresh.
crm.action("compute_influence", function(campaign)
  if not campaign then crm.error("invalid", "compute_influence works on a campaign") end
  return crm.as_system(influence.for_campaign, campaign.id)
end)

-- ---- invitations through the outbox ----------------------------------------------------

-- Send invitations (an active campaign's button): an e-mail to each targeted member with an
-- address, queued in the outbox in this action's transaction (nothing goes out if it rolls
-- back; the server delivers after the commit), and the member marked sent. Opted-out, already
-- sent and responded members are left alone; members without an address are counted, not sent.
local MAX_INVITATIONS = 5000   -- one click's worth; the button can be pressed again for the rest

local function member_address(m)
  local person = (m.lead and crm.get("lead", m.lead)) or (m.contact and crm.get("contact", m.contact))
  if not person or not person.email or person.email == "" then return nil end
  return person.email, person.first_name or person.last_name or ""
end

crm.action("send_invitations", function(campaign)
  if not campaign then crm.error("invalid", "send_invitations works on a campaign") end
  if campaign.status ~= "active" then crm.error("invalid", "only an active campaign sends invitations") end
  local base = tostring(crm.config.public_url or ""):gsub("/+$", "")
  local form_url = base .. "/api/v1/public/marketing/form/" .. campaign.number
  return crm.as_system(function()
    -- the ids first: marking a member sent takes it out of the filter a cursor would walk
    local ids, after = {}, nil
    repeat
      local rows
      rows, after = crm.query("campaign_member", { filter = string.format(
        "campaign = %d and status = 'targeted'", campaign.id), sort = "id", fields = "id", limit = 500, after = after })
      for _, m in ipairs(rows) do ids[#ids + 1] = m.id end
    until not after or #ids >= MAX_INVITATIONS
    local sent, no_address = 0, 0
    for i = 1, math.min(#ids, MAX_INVITATIONS) do
      local m = crm.get("campaign_member", ids[i])
      local email, first_name = member_address(m)
      if email then
        crm.send("email", email, "campaign_invitation", { first_name = first_name, campaign = campaign.name,
          starts_on = campaign.starts_on or "", form_url = form_url }, { object = "campaign_member", id = m.id })
        crm.update("campaign_member", m.id, { status = "sent" })
        sent = sent + 1
      else
        no_address = no_address + 1
      end
    end
    return { sent = sent, without_address = no_address, still_targeted = crm.count("campaign_member",
      string.format("campaign = %d and status = 'targeted'", campaign.id)) }
  end)
end)

-- ---- plan actuals ----------------------------------------------------------------------

crm.action("refresh_plan", function(plan)
  if not plan then crm.error("invalid", "refresh_plan works on a sales plan") end
  return crm.as_system(influence.refresh_plan, plan)
end)

-- Every submitted or approved plan, from the won deals closing in its period.
crm.job("refresh_actuals", "every 1h", function()
  local after, done = nil, 0
  repeat
    local plans
    plans, after = crm.query("sales_plan", { filter = "status in ('submitted', 'approved')", sort = "id",
      limit = 200, after = after })
    for _, plan in ipairs(plans) do
      influence.refresh_plan(plan)
      done = done + 1
    end
  until not after
  return done
end)

-- ---- the public web-to-lead form -------------------------------------------------------

webform.register()

require("demo")
