-- pharma: what the YAML cannot say. The checks live in modules without
-- registrations (limits.lua), so that tests may require them; this file
-- registers them. Every crm.* call is in sdk/lua-api.md.

local limits = require("limits")
require("demo")

-- HCPs: licence numbers trimmed in capitals, consent dated
crm.on("contact", "before_create", limits.hcp)
crm.on("contact", "before_update", limits.hcp)

-- lots, limits and templates only for sample products; limits only for licensed HCPs
crm.on("sample_lot", "before_create", limits.check_product)
crm.on("sample_lot", "before_update", limits.check_product)
crm.on("sample_limit", "before_create", limits.check_limit)
crm.on("sample_limit", "before_update", limits.check_limit)
crm.on("sample_limit_template", "before_create", limits.check_product)
crm.on("sample_limit_template", "before_update", limits.check_product)

-- the template's button (those who may update templates: medical affairs, admins); the HCPs of every rep
crm.action("apply_template", function(template)
  return { created = crm.as_system(limits.apply, template) }
end)

-- Every 1 January (or at the first start after it), this year's active templates make their limits.
crm.job("yearly_limits", "cron 5 0 1 1 *", function()
  limits.apply_year(tonumber(crm.date():sub(1, 4)))
end)

-- sample drops: the limit, the lot, the HCP's licence and consent, in the create's transaction
local drops = require("drops")
crm.on("sample_drop", "before_create", drops.check_drop)
crm.on("sample_drop", "before_update", drops.keep_drop)
crm.on("sample_drop", "before_restore", drops.restore_drop)

-- call reports filed late need a reason
crm.on("call_report", "before_create", drops.check_report)
crm.on("call_report", "before_update", drops.keep_report)
