-- Tests of case intake (intake.lua, intake_mail.lua): crm plugin test service
-- The routes over real HTTP, with signatures, rate limits and the portals' rights, are
-- tests/api/service_intake_test.py; crm.test.route here skips the server's checks.

local mail = require("intake_mail")

local EMAIL = "/service/inbound-email"

local function post(values)
  return crm.test.route("POST", EMAIL, values)
end

local function refused(values, field)
  local ok, err = pcall(post, values)
  assert(not ok, "refused: " .. crm.json.encode(values))
  assert(tostring(err):find(field, 1, true), tostring(err))
end

function test_addresses_are_one_plain_mailbox()
  assert(mail.parse_sender("Ann Lee <Ann.Lee@Example.COM>") == "ann.lee@example.com")
  local address, name = mail.parse_sender('"Lee, Ann" <ann@example.com>')
  assert(address == "ann@example.com" and name == "Lee, Ann", tostring(name))
  for _, bad in ipairs({ "ann", "ann@", "@example.com", "ann@example", "ann@@example.com", "a b@example.com",
                         "ann@example.com\r\nBcc: eve@evil.example", "ann@example.com, bob@example.com",
                         "<ann@example.com> <bob@example.com>", "ann..lee@example.com", "ann@-example.com",
                         string.rep("a", 65) .. "@example.com", "" }) do
    assert(mail.parse_sender(bad) == nil, bad)
  end
end

function test_a_subject_is_one_clipped_line()
  assert(mail.subject("Printer\r\nBcc: eve@evil.example") == "Printer Bcc: eve@evil.example")
  assert(mail.subject("  \t ") == nil)
  local long = mail.subject(string.rep("打", 300))
  assert(utf8.len(long) == 200, "clipped to 200 characters, not bytes")
end

function test_html_becomes_its_text()
  local text = mail.html_to_text("<html><head><style>p{color:red}</style><script>alert(1)</script></head>"
    .. "<body><p>Hello &amp; welcome</p><p>Line<br>two &lt;b&gt; &#20320;&#x597D;</p><!-- note --></body></html>")
  assert(text == "Hello & welcome\nLine\ntwo <b> 你好", crm.json.encode(text))
  assert(not mail.html_to_text("<script>never closed"):find("never"), "an unclosed script is dropped")
end

function test_thread_ids_are_in_reply_to_then_references_latest_first()
  local ids = mail.thread_ids("<c@x>", "<a@x> <b@x>\r\n <c@x>")
  assert(#ids == 3 and ids[1] == "c@x" and ids[2] == "b@x" and ids[3] == "a@x", crm.json.encode(ids))
  assert(mail.case_number("Re: [CASE-00012] printer") == "CASE-00012")
  assert(mail.case_number("CASE-00012 without brackets") == nil)
  assert(mail.literal("it's") == "'it''s'")
  assert(mail.language("打印机坏了") == "zh" and mail.language("printer") == "en")
end

function test_an_email_opens_a_case_for_the_known_contact_and_is_acknowledged()
  local account = crm.create("account", { name = "Intake Test Ltd" })
  local contact = crm.create("contact", { last_name = "Lee", first_name = "Ann", email = "Ann.Lee@Intake.example",
    account = account.id })
  local res = post({ from = "Ann Lee <ann.lee@intake.example>", to = "support@acme.example", subject = "Printer",
    html = "<p>It <b>does not</b> print</p><script>x()</script>", message_id = "<t1@intake.example>" })
  assert(res.status == 201 and res.json.outcome == "new_case", crm.json.encode(res))
  local case = crm.get("case", res.json.id)
  assert(case.channel == "email" and case.contact == contact.id and case.account == account.id, crm.json.encode(case))
  assert(case.description == "It does not print", "the text of the HTML, never the markup: " .. tostring(case.description))
  local sent = crm.query("outbox_message", { filter = "object_name = 'case' and record_id = " .. case.id })
  assert(#sent == 1 and sent[1].to == "ann.lee@intake.example", crm.json.encode(sent))
  assert(sent[1].subject:find("[" .. case.number .. "]", 1, true) and sent[1].body:find("Dear Ann,", 1, true),
    crm.json.encode(sent[1]))
end

function test_the_same_message_twice_is_one_case()
  local first = post({ from = "x@intake.example", subject = "Twice", text = "a", message_id = "<twice@x>" })
  local cases = crm.count("case")
  local again = post({ from = "x@intake.example", subject = "Twice", text = "a", message_id = "twice@x" })
  assert(again.status == 200 and again.json.outcome == "duplicate" and again.json.case == first.json.case,
    crm.json.encode(again))
  assert(crm.count("case") == cases and crm.count("inbound_message", "message_id = 'twice@x'") == 1)
end

function test_a_reply_is_a_note_and_resumes_a_waiting_case()
  local first = post({ from = "Bo <bo@intake.example>", subject = "Router", text = "down", message_id = "<r1@x>" })
  local case = crm.get("case", first.json.id)
  crm.transition("case", case.id, "open")
  crm.transition("case", case.id, "wait")
  local reply = post({ from = "bo@intake.example", subject = "Re: Router", text = "still down",
    message_id = "<r2@x>", in_reply_to = "<r1@x>" })
  assert(reply.status == 201 and reply.json.outcome == "reply" and reply.json.id == case.id, crm.json.encode(reply))
  assert(crm.get("case", case.id).status == "open", "resumed")
  local notes = crm.query("activity", { filter = "case = " .. case.id })
  assert(#notes == 1 and notes[1].kind == "note" and notes[1].description == "still down", crm.json.encode(notes))
  -- the case number threads a reply from the same sender; from anyone else it is a new case
  local by_number = post({ from = "BO@intake.example", subject = "[" .. case.number .. "] more", text = "x",
    message_id = "<r3@x>" })
  assert(by_number.json.outcome == "reply" and by_number.json.id == case.id, crm.json.encode(by_number))
  local stranger = post({ from = "eve@evil.example", subject = "[" .. case.number .. "] give me", text = "x",
    message_id = "<r4@x>" })
  assert(stranger.json.outcome == "new_case" and stranger.json.id ~= case.id, crm.json.encode(stranger))
end

function test_a_reply_to_the_acknowledgement_threads_only_from_its_recipient()
  local first = post({ from = "cy@intake.example", subject = "Billing", text = "wrong", message_id = "<b1@x>" })
  local ack = crm.query("outbox_message", { filter = "record_id = " .. first.json.id .. " and object_name = 'case'" })[1]
  local reply = post({ from = "cy@intake.example", subject = "Re: your case", text = "thanks",
    message_id = "<b2@x>", in_reply_to = "<outbox-" .. ack.id .. "@acme.example>" })
  assert(reply.json.outcome == "reply" and reply.json.id == first.json.id, crm.json.encode(reply))
  local forged = post({ from = "eve@evil.example", subject = "Re: your case", text = "x",
    message_id = "<b3@x>", in_reply_to = "<outbox-" .. ack.id .. "@acme.example>" })
  assert(forged.json.outcome == "new_case", crm.json.encode(forged))
end

function test_bad_emails_are_refused_by_field()
  local before = crm.count("inbound_message")
  refused({ subject = "x", text = "y", message_id = "<m@x>" }, "from is required")
  refused({ from = "not an address", text = "y", message_id = "<m@x>" }, "from is not one e-mail address")
  refused({ from = "a@x.example\r\nBcc: b@x.example", text = "y", message_id = "<m@x>" }, "from is not one")
  refused({ from = "a@x.example", text = "y" }, "message_id is required")
  refused({ from = "a@x.example", text = "y", message_id = "<two words@x>" }, "message_id is not")
  refused({ from = "a@x.example", message_id = "<m@x>" }, "no subject and no text")
  refused({ from = "a@x.example", text = 12, message_id = "<m@x>" }, "text must be a text")
  refused({ from = "a@x.example", text = "y", message_id = "<m@x>", references = { 1 } }, "references must be texts")
  refused({ "a", "b" }, "send the e-mail as a JSON object")
  assert(crm.count("inbound_message") == before, "nothing written")
end

function test_the_web_form_opens_a_web_case()
  local page = crm.test.route("GET", "/service/form", nil, { lang = "zh" })
  assert(page.status == 200 and page.json["$page"].html:find("联系客服", 1, true), crm.json.encode(page))
  local res = crm.test.route("POST", "/service/case", { name = "Dee <script>", email = "Dee@Web.example",
    subject = "Login\r\nfails", message = "cannot log in" })
  assert(res.status == 201, crm.json.encode(res))
  local case = crm.query("case", { filter = "number = '" .. res.json.case .. "'" })[1]
  assert(case.channel == "web" and case.subject == "Login fails" and case.submitter_email == "dee@web.example"
    and case.submitter_name == "Dee <script>" and case.contact == nil, crm.json.encode(case))
  local cases = crm.count("case")
  local trap = crm.test.route("POST", "/service/case", { email = "bot@x.example", subject = "s", message = "m",
    website = "http://spam.example" })
  assert(trap.status == 202 and crm.count("case") == cases, "the honeypot keeps nothing")
  for _, bad in ipairs({ { subject = "s", message = "m" }, { email = "nope", subject = "s", message = "m" },
                         { email = "a@b.example", message = "m" }, { email = "a@b.example", subject = "s" },
                         { email = "a@b.example", subject = { "s" }, message = "m" } }) do
    assert(not pcall(crm.test.route, "POST", "/service/case", bad), crm.json.encode(bad))
  end
  assert(crm.count("case") == cases, "nothing written")
end

function test_the_guest_reads_and_writes_no_cases()
  crm.create("case", { subject = "Private" })
  for _, call in ipairs({ function() return crm.query("case") end, function() return crm.count("inbound_message") end,
                          function() return crm.create("case", { subject = "x" }) end }) do
    local ok, err = pcall(crm.test.as_user, -1, call)
    assert(not ok and tostring(err):find("unknown object", 1, true), tostring(err))
  end
end
