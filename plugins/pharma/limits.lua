-- HCPs, sample products, lots, limits and the templates that make limits.
-- A limit and a lot are only for a sample product; a limit only for a
-- licensed HCP. The templates' action (and the yearly job) create the
-- limits of a segment for a year, leaving those that exist as they are.

local M = {}

local function trim(text)
  if type(text) ~= "string" then return text end
  return (text:gsub("^%s+", ""):gsub("%s+$", ""))
end

-- A licence number is kept trimmed and in capitals, so that the unique index sees one number once;
-- consent given without a date is dated today.
function M.hcp(new, old)
  if type(new.license_number) == "string" then
    local number = trim(new.license_number):upper()
    new.license_number = number == "" and crm.null or number
  end
  if new.sample_consent == true and (old == nil or old.sample_consent ~= true) and new.consent_date == nil then
    new.consent_date = crm.date()
  end
end

-- the stored value unless the write changes it
local function value(new, old, field)
  local v = new[field]
  if v == nil and old then v = old[field] end
  if v == crm.null then return nil end
  return v
end

function M.sample_product(id, field)
  local product = id and crm.as_system(crm.get, "product", id)
  if product and product.is_sample ~= true then
    error({ field = field or "product", message = product.name .. " is not a sample product" })
  end
  return product
end

function M.check_product(new, old)
  if new.product ~= nil then M.sample_product(value(new, old, "product")) end
end

function M.check_limit(new, old)
  if new.product ~= nil then M.sample_product(value(new, old, "product")) end
  if new.contact ~= nil then
    local contact = crm.as_system(crm.get, "contact", value(new, old, "contact"))
    if contact and contact.license_number == nil then
      error({ field = "contact", message = (contact.full_name or contact.last_name) .. " has no licence number: samples go only to licensed HCPs" })
    end
  end
end

-- The limits of one template: one per licensed HCP of its segment that has none for the product and year.
-- Returns how many it created.
function M.apply(template)
  local created, after = 0, nil
  repeat
    local hcps
    hcps, after = crm.query("contact", { filter = "segment = '" .. template.segment .. "' and license_number != null",
      sort = "id", fields = "id", limit = 500, after = after })
    for _, c in ipairs(hcps) do
      if crm.count("sample_limit", "contact = " .. c.id .. " and product = " .. template.product ..
          " and year = " .. template.year) == 0 then
        crm.create("sample_limit", { contact = c.id, product = template.product, year = template.year,
          max_units = template.max_units, template = template.id })
        created = created + 1
      end
    end
  until after == nil
  return created
end


-- Every 1 January (and at the first start after it), this year's active templates make their limits.
function M.apply_year(year)
  local total = 0
  for _, t in ipairs(crm.query("sample_limit_template", { filter = "active = true and year = " .. year,
      sort = "id", limit = 1000 })) do
    total = total + M.apply(t)
  end
  return total
end

return M
