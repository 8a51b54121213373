-- POST /api/v1/plugins/outbox_test/send {channel, to, template, vars, record}: crm.send as the caller.
crm.route("POST", "/outbox_test/send", function(req, ctx)
  local b = req.body
  local id = crm.send(b.channel, b.to, b.template, b.vars, b.record)
  return { status = 201, json = { id = id } }
end)

-- Every account created queues a welcome e-mail in the create's transaction; a name starting
-- with "rollback" is then refused, so the create and the e-mail roll back together.
crm.on("account", "before_create", function(new)
  if new.name and new.name:sub(1, 8) == "rollback" or new.name and new.name:sub(1, 4) == "mail" then
    crm.send("email", "owner@example.com", "welcome", { name = new.name, link = "https://crm.example/a" })
  end
  if new.name and new.name:sub(1, 8) == "rollback" then
    crm.error("invalid", "refused after queueing an e-mail")
  end
end)
