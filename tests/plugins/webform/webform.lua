-- POST /api/v1/public/webform/lead: what a web-to-lead form on another site posts, as JSON or
-- as an HTML form (then every value is a string). Runs as the guest: the lead is created with
-- the rights of the metadata's role named guest, and lands in the pool (no owner).
crm.route("POST", "/webform/lead", function(req, ctx)
  local form = req.body
  if type(form) ~= "table" then crm.error("invalid", "send the form's fields") end
  -- a honeypot field: people leave it empty, robots fill it in
  if form.website and form.website ~= "" then return { status = 202, json = { accepted = true } } end
  local lead = crm.create("lead", { name = form.name, email = form.email, company = form.company,
                                    interests = form.interests and table.concat(form.interests, ",") or nil,
                                    message = form.message, source = "web" })
  return { status = 201, json = { id = lead.id, form = req.form, public = req.public, guest = ctx.guest,
                                  user = ctx.user, req_user = req.user or crm.null } }
end, { public = true })

-- A small body cap and a wide rate limit, for the size tests.
crm.route("POST", "/webform/small", function(req)
  return { received = req.body }
end, { public = true, rate_limit = "1000/min", max_body = 64 })

-- What a guest reads of accounts: nothing, unless the guest role grants it.
crm.route("GET", "/webform/accounts", function(req, ctx)
  local rows = crm.query("account", { limit = 10 })
  return { count = #rows }
end, { public = true, rate_limit = "1000/min" })

-- For signed-in callers only: who they are.
crm.route("GET", "/webform/whoami", function(req, ctx)
  return { user = ctx.user }
end)

-- A web page and a redirect ({ html = } and { location = }): what a public form answers a browser.
crm.route("GET", "/webform/page", function(req)
  if req.query.both then return { html = "<p>x</p>", location = "/x" } end
  return { status = tonumber(req.query.status) or 200, html = "<!doctype html><p>Hello</p>" }
end, { public = true, rate_limit = "1000/min" })

crm.route("GET", "/webform/redirect", function(req)
  -- crlf: a location that would split the response's headers
  local to = req.query.crlf and "https://a.example/\r\nSet-Cookie: x=1" or req.query.to
  return { status = tonumber(req.query.status) or 303, location = to }
end, { public = true, rate_limit = "1000/min" })
