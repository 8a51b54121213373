-- The company names the conflict check takes for one company (crm plugin test channel).

local normalize = require("normalize")

local SAME = {
  -- each row: names that are one company, and their key
  { "acme", "ACME LIMITED", "Acme Ltd.", "acme ltd", "Acme, Inc.", "ACME Corp", "Acme Corporation", "The Acme Company",
    "Acme Co., Ltd.", "acme llc", "Acme GmbH", "ACME AG", "Acme S.A.", "Acme SARL", "Acme S.r.l.", "Acme B.V.",
    "Acme plc", "  Acme   Limited  ", "Acme Group", "Acme GmbH & Co. KG" },
  { "weberit", "Weber IT GmbH", "WEBER-IT", "Weber I.T. mbH" },
  { "阿克米科技", "阿克米科技有限公司", "阿克米科技股份有限公司", "阿克米科技集团", "阿克米科技集团股份有限公司",
    "阿克米科技有限责任公司", "（阿克米科技）有限公司" },
  { "北京华信", "北京华信集团有限公司", "北京 华信 公司" },
  { "laurentintégration", "Laurent Intégration SAS" },
}

function test_one_company_one_key()
  for _, row in ipairs(SAME) do
    for i = 2, #row do
      local key = normalize.company_key(row[i])
      assert(key == row[1], ("%q gives %q, not %q"):format(row[i], tostring(key), row[1]))
    end
  end
end

function test_different_companies_stay_apart()
  assert(normalize.company_key("Acme Ltd") ~= normalize.company_key("Acme Software Ltd"))
  assert(normalize.company_key("Apex Inc") ~= normalize.company_key("Acme Inc"))
  -- a name that is only a legal form keeps it (something must be left)
  assert(normalize.company_key("Limited") == "limited")
  assert(normalize.company_key("Co., Ltd.") == "co")
  assert(normalize.company_key("有限公司") == "有限公司", "a bare legal form is kept whole")
end

function test_nothing_to_key()
  assert(normalize.company_key(nil) == nil)
  assert(normalize.company_key("") == nil)
  assert(normalize.company_key("...,;") == nil)
  assert(normalize.company_key(42) == nil)
  assert(#normalize.company_key(string.rep("x", 5000)) == 200, "keys are at most 200 bytes")
end

function test_domains()
  assert(normalize.domain("jane@Acme.example") == "acme.example")
  assert(normalize.domain("https://www.acme.example/about") == "acme.example")
  assert(normalize.domain("someone@gmail.com") == nil, "free mail says nothing")
  assert(normalize.domain("someone@QQ.com") == nil)
  assert(normalize.domain("no address") == nil)
  assert(normalize.domain("x@localhost") == nil)
  assert(normalize.domain(nil) == nil)
end

function test_records_keep_their_keys()
  local a = crm.create("account", { name = "Zeta Widgets GmbH", email = "info@zeta-widgets.example" })
  a = crm.get("account", a.id)
  assert(a.name_key == "zetawidgets" and a.email_domain == "zeta-widgets.example", a.name_key)
  crm.update("account", a.id, { name = "Zeta Gadgets Ltd", name_key = "forged" })
  a = crm.get("account", a.id)
  assert(a.name_key == "zetagadgets", "a key sent by hand is recomputed: " .. tostring(a.name_key))
  crm.update("account", a.id, { name_key = "forged" })
  assert(crm.get("account", a.id).name_key == "zetagadgets", "a key sent alone is recomputed too")
  crm.update("account", a.id, { email = crm.null, website = "https://www.zeta.example" })
  assert(crm.get("account", a.id).email_domain == "zeta.example")
end
