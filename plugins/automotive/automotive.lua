-- automotive: what the YAML cannot say. Each concern is its own module; every
-- crm.* call is in sdk/lua-api.md.

require("routing")
require("sales")
require("aftersales")
require("demo")
