-- Tests of @NAME@: crm plugin test @NAME@
-- Every global function named test_* runs against a scratch database, in a
-- transaction rolled back afterwards. Fail with error() or assert().

function test_hello_route_answers()
  local res = crm.test.route("GET", "/@NAME@/hello")
  assert(res.status == 200, "status " .. tostring(res.status))
  assert(res.json.message == "hello from @NAME@", res.json.message)
end

function test_settings_have_their_defaults()
  assert(crm.config.greeting == "hello")
end
