-- crm plugin test webform --metadata tests/api/public --plugins tests/plugins
-- crm.test.route calls a public route as HTTP does: as the guest (without the rate limit and
-- the size cap, which the server applies). The tests themselves act as the system.

function test_the_form_creates_a_pooled_lead_as_the_guest()
  local res = crm.test.route("POST", "/webform/lead", { name = "Ann Lee", email = "ann@example.com",
                                                        interests = { "crm", "support" } })
  assert(res.status == 201, crm.json.encode(res))
  assert(res.json.guest == true and res.json.user == -1 and res.json.req_user == crm.null, crm.json.encode(res))
  local lead = crm.get("lead", res.json.id)
  assert(lead.owner == nil and lead.created_by == nil, "a guest's lead is in the pool, created by nobody")
  assert(lead.source == "web" and lead.interests == "crm,support", crm.json.encode(lead))
end

function test_the_honeypot_creates_nothing()
  local before = crm.count("lead")
  local res = crm.test.route("POST", "/webform/lead", { name = "Bot", website = "http://spam.example" })
  assert(res.status == 202, crm.json.encode(res))
  assert(crm.count("lead") == before, "a filled honeypot creates no lead")
end

function test_a_guest_reads_no_accounts()
  crm.create("account", { name = "Acme" })
  local ok, err = pcall(crm.test.route, "GET", "/webform/accounts")
  assert(not ok and tostring(err):find("unknown object 'account'", 1, true), tostring(err))
end
