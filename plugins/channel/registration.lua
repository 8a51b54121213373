-- Deal registration: the normalised keys every write keeps, the conflict check
-- on submit, protection on approval, the opportunity on convert. The checks
-- run in after_transition hooks, in the transition's transaction once the
-- state has moved (as kb.lua does): a workflow action would also be a plugin
-- action, and these writes must stay behind the transitions' role checks.

local normalize = require("normalize")

local M = {}

local DAY = 86400
local LIVE = "('submitted', 'conflict', 'approved')"

local function quoted(text)
  return "'" .. tostring(text):gsub("'", "''") .. "'"
end

local function notify(user, title, id)
  if not user then return end
  crm.create("notification", { user = user, title = title:sub(1, 300), object_name = "deal_registration",
    record_id = id })
end

-- An account's keys, from the incoming values (create) or the changes over the stored record
-- (update), in its before hooks: a key sent by hand is overwritten.
local function account_keys(new, old)
  if old == nil or new.name ~= nil or new.name_key ~= nil then
    local name = new.name
    if name == nil and old then name = old.name end
    new.name_key = normalize.company_key(name) or crm.null
  end
  if old == nil or new.email ~= nil or new.website ~= nil or new.email_domain ~= nil then
    local email, website = new.email, new.website
    if email == nil and old then email = old.email end
    if website == nil and old then website = old.website end
    new.email_domain = (email ~= crm.null and normalize.domain(email)) or (website ~= crm.null and normalize.domain(website))
      or crm.null
  end
end
crm.on("account", "before_create", account_keys)
crm.on("account", "before_update", account_keys)

-- A registration's keys are hidden from partner users, who may not write them: the system writes
-- them after each create and update that changes them (the write it makes changes nothing more).
local function registration_keys(reg)
  local key, domain = normalize.company_key(reg.company), normalize.domain(reg.contact_email)
  if key ~= reg.company_key or domain ~= reg.email_domain then
    crm.as_system(crm.update, "deal_registration", reg.id, { company_key = key or crm.null,
      email_domain = domain or crm.null })
  end
end
crm.on("deal_registration", "after_create", registration_keys)
crm.on("deal_registration", "after_update", registration_keys)

-- The accounts a registration names: by normalised name, else by e-mail domain (index probes).
local function matching_accounts(reg)
  local found = {}
  if reg.company_key then
    found = crm.query("account", { filter = "name_key = " .. quoted(reg.company_key), sort = "id",
      fields = "id,name,partner,account_number", limit = 5 })
  end
  if #found == 0 and reg.email_domain then
    found = crm.query("account", { filter = "email_domain = " .. quoted(reg.email_domain), sort = "id",
      fields = "id,name,partner,account_number", limit = 5 })
  end
  return found
end

local function partner_name(id, cache)
  if not id then return "direct" end
  if cache[id] == nil then
    local p = crm.get("partner", id)
    cache[id] = p and p.name or ("partner " .. id)
  end
  return cache[id]
end

-- What the registration runs into, as texts for conflict_with (channel managers only):
-- (a) another live registration of the same company (name, account or domain), protected if approved;
-- (b) an open opportunity on the account, direct or another partner's; (c) the account covered by
-- another partner as primary. Runs as the system: it sees every partner's records.
function M.conflicts(reg, account)
  local today = crm.date()
  local names, out, seen = {}, {}, {}
  local function add(text) if #out < 5 and not seen[text] then seen[text] = true; out[#out + 1] = text end end
  local probes = {}
  if reg.company_key then probes[#probes + 1] = "company_key = " .. quoted(reg.company_key) end
  if account then probes[#probes + 1] = "account = " .. account.id end
  if reg.email_domain then probes[#probes + 1] = "email_domain = " .. quoted(reg.email_domain) end
  for _, probe in ipairs(probes) do
    local rows = crm.query("deal_registration", { filter = probe .. " and status in " .. LIVE .. " and id != " ..
      reg.id .. " and (status != 'approved' or protected_until >= " .. quoted(today) .. ")", sort = "id",
      fields = "id,number,partner,status", limit = 5 })
    for _, other in ipairs(rows) do add(other.number .. " (" .. partner_name(other.partner, names) .. ")") end
  end
  if account then
    local deals = crm.query("opportunity", { filter = "account = " .. account.id ..
      " and stage not in ('won', 'lost') and (partner = null or partner != " .. reg.partner .. ")", sort = "id",
      fields = "id,name,partner", limit = 5 })
    for _, d in ipairs(deals) do
      add("Opportunity " .. d.id .. " " .. d.name .. " (" .. partner_name(d.partner, names) .. ")")
    end
    local cover = crm.query("partner_coverage", { filter = "account = " .. account.id ..
      " and role = 'primary' and partner != " .. reg.partner .. " and (valid_to = null or valid_to >= " ..
      quoted(today) .. ")", sort = "id", fields = "id,partner", limit = 5 })
    for _, c in ipairs(cover) do
      add("Account " .. (account.account_number or account.id) .. " covered by " .. partner_name(c.partner, names))
    end
  end
  return out
end

local function channel_manager(partner_id)
  local p = partner_id and crm.get("partner", partner_id)
  return p and p.channel_manager, p
end

-- submit: match the account, look for conflicts; on one, move on to conflict (flag_conflict, direct)
function M.check(reg)
  local accounts = matching_accounts(reg)
  local account = accounts[1]
  local found = M.conflicts(reg, account)
  local values = { submitted_at = crm.datetime(), account = account and account.id or crm.null }
  local manager = channel_manager(reg.partner)
  if #found > 0 then
    values.status = "conflict"
    values.conflicted = true
    values.conflict_with = table.concat(found, "; "):sub(1, 500)
    crm.update("deal_registration", reg.id, values)
    notify(manager, "Deal registration " .. reg.number .. " (" .. reg.company .. ") conflicts with " ..
      values.conflict_with, reg.id)
  else
    values.conflict_with = crm.null
    crm.update("deal_registration", reg.id, values)
    notify(manager, "Deal registration " .. reg.number .. " (" .. reg.company .. ") waits for your approval", reg.id)
  end
end

-- approve: protected for the partner's programme's days (90 without one)
function M.grant_protection(reg)
  local _, partner = channel_manager(reg.partner)
  local program = partner and partner.program and crm.get("partner_program", partner.program)
  local days = program and program.protection_days or 90
  crm.update("deal_registration", reg.id, { protected_until = crm.date(crm.now() + days * DAY),
    decided_at = crm.datetime() })
end

-- convert: the partner's opportunity, on the matched account or a new one made for the end customer
function M.convert(reg)
  -- owned by the account's owner (the direct rep who answers for the customer), else the channel manager
  local manager = channel_manager(reg.partner)
  local account, owner = reg.account, manager
  if account then
    local a = crm.get("account", account)
    owner = a and a.owner or manager
  else
    account = crm.create("account", { name = reg.company, partner = reg.partner, owner = manager }).id
  end
  local deal = crm.create("opportunity", { name = (reg.company .. " (" .. reg.number .. ")"):sub(1, 120),
    account = account, amount = reg.amount, close_date = reg.expected_close, partner = reg.partner,
    lead_source = "partner", type = "new_business", owner = owner })
  crm.update("deal_registration", reg.id, { opportunity = deal.id, account = account })
end

crm.on("deal_registration", "after_transition", function(reg)
  crm.as_system(function()
    if reg.status == "submitted" and reg.submitted_at == nil then M.check(reg)
    elseif reg.status == "approved" and reg.protected_until == nil then M.grant_protection(reg)
    elseif reg.status == "rejected" then crm.update("deal_registration", reg.id, { decided_at = crm.datetime() })
    elseif reg.status == "converted" and reg.opportunity == nil then M.convert(reg)
    end
  end)
end)

return M
