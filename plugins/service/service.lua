-- service: what the YAML cannot say. Each concern is its own module; every
-- crm.* call is in sdk/lua-api.md.

require("sla")
require("intake")
require("kb")
require("survey")
require("demo")
