-- @NAME@: the plugin's behaviour. Every crm.* function is described in sdk/lua-api.md.
--
-- Registrations (crm.on, crm.action, crm.route, crm.job) run once, when the plugin
-- loads; the functions they register run on each event or request.

-- GET /api/v1/plugins/@NAME@/hello
crm.route("GET", "/@NAME@/hello", function(req, ctx)
  return { status = 200, json = { message = crm.config.greeting .. " from @NAME@", user = ctx.user } }
end)

-- An action, run on a record: POST /api/v1/objects/{object}/{id}/actions/@NAME@.echo
crm.action("echo", function(record, ctx, args)
  return { id = record and record.id, args = args }
end)

-- Next: a hook on one of your objects, for example
--   crm.on("account", "before_create", function(new, old, ctx) ... end)
-- where error("why") refuses the write with your message (HTTP 422).
