-- Coverage: a new lead from a partner or the web that no partner holds yet goes
-- to the partner covering it: the primary coverage of the account its company
-- is (by normalised name), else the primary coverage of its region and
-- industry. Expired coverage (valid_to passed) counts for nothing.

local normalize = require("normalize")

local M = {}

local function valid(today)
  return " and role = 'primary' and (valid_to = null or valid_to >= '" .. today .. "')"
end

-- the covering partner's id for a lead (or nil), read as the system
function M.partner_for(lead)
  local today = crm.date()
  local key = normalize.company_key(lead.company)
  if key then
    local account = crm.query("account", { filter = "name_key = '" .. key:gsub("'", "''") .. "'", sort = "id",
      fields = "id,partner", limit = 1 })[1]
    if account then
      local c = crm.query("partner_coverage", { filter = "account = " .. account.id .. valid(today), sort = "id",
        fields = "partner", limit = 1 })[1]
      if c then return c.partner end
    end
  end
  if lead.region and lead.industry then
    local c = crm.query("partner_coverage", { filter = "account = null and region = '" .. lead.region ..
      "' and industry = '" .. lead.industry .. "'" .. valid(today), sort = "id", fields = "partner", limit = 1 })[1]
    if c then return c.partner end
  end
  return nil
end

crm.on("lead", "after_create", function(lead)
  if lead.partner or (lead.source ~= "partner" and lead.source ~= "web") then return end
  crm.as_system(function()
    local partner = M.partner_for(lead)
    if partner then crm.update("lead", lead.id, { partner = partner }) end
  end)
end)

return M
