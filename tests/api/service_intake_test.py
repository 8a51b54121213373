"""Case intake from every channel over REST (see service_intake.sh).

A real `crm serve` over the shipped metadata/ and plugins/ on a fresh `crm demo` database, with the
inbound e-mail secret in its environment. The signed route (good, wrong, missing, replayed, stale
and future signatures; 503 once the secret is gone), e-mails opening cases and threading replies
(a note, a waiting case resumed), dedupe by Message-ID, the web form (zh/en page, form and JSON
posts, the honeypot, the rate limit), the portals' rights (a consumer's own cases only, a partner's
accounts' cases only, a guest none) and every bad input refused with a 4xx, writing nothing.
Each test that posts to a rate-limited route comes from its own loopback address.
"""
import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, Client, check, crm_binary, eq, parse_raw, problem, raw_exchange, run_on_demo  # noqa: E402

API = "/api/v1"
PUBLIC = API + "/public/service"
EMAIL = PUBLIC + "/inbound-email"
PASSWORD = "demo1234"
SECRET = "intake-test-secret-\u00e9"
SECRET_ENV = "CRM_SERVICE_INBOUND_SECRET"
USERS = ("admin", "service_agent", "consumer1", "consumer2", "partner1", "partner2")


def sign(raw, stamp=None, secret=SECRET):
    stamp = str(int(time.time())) if stamp is None else stamp
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + raw, hashlib.sha256).hexdigest()
    return {"X-CRM-Timestamp": stamp, "X-CRM-Signature": "sha256=" + mac}


class Story(AsUsers):
    def __init__(self, server, db):
        super().__init__(server.port)
        self.server = server
        self.db = db
        self.next_source = 30
        self.serial = 0

    # -- plumbing ----------------------------------------------------------------------
    def anonymous(self):
        self.next_source += 1
        return Client(self.server.port, source="127.0.0.%d" % self.next_source)

    def message_id(self):
        self.serial += 1
        return "<intake-%d-%d@mail.example>" % (os.getpid(), self.serial)

    def mail(self, values, headers=None, raw=None, content_type="application/json", client=None):
        """Posts an e-mail as the gateway does: signed unless headers say otherwise."""
        raw = raw if raw is not None else json.dumps(values).encode()
        h = sign(raw) if headers is None else headers
        return (client or self.c).request("POST", EMAIL, body=raw, headers=h, content_type=content_type, auth=False)

    def count(self, obj, flt=None):
        q = "/objects/%s?limit=1000&fields=id" % obj + ("&filter=" + urllib.parse.quote(flt) if flt else "")
        r = self.req("admin", "GET", q)
        eq(r.status, 200, "admin counts %s: %s" % (obj, r.body[:200]))
        return len(r.json["records"])

    def totals(self):
        return (self.count("case"), self.count("inbound_message"), self.count("activity"), self.count("outbox_message"))

    def case_by_number(self, number):
        rows = self.records("admin", "case", "filter=" + urllib.parse.quote("number = '%s'" % number))
        eq(len(rows), 1, "case %s" % number)
        return rows[0]

    def unchanged(self, before, what):
        eq(self.totals(), before, "%s writes nothing" % what)

    # -- the tests ---------------------------------------------------------------------
    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        self.contact = self.records("admin", "contact", "filter=" + urllib.parse.quote("email != null") + "&limit=1")[0]

    def test_plugin_unit_tests_pass(self):
        p = subprocess.run([crm_binary(), "plugin", "test", "service", "--metadata", os.path.join(ROOT, "metadata"),
                            "--plugins", os.path.join(ROOT, "plugins")], cwd=ROOT, capture_output=True, check=False)
        out = p.stdout.decode() + p.stderr.decode()
        eq(p.returncode, 0, "crm plugin test service:\n" + out[-3000:])
        check("intake_test.lua" in out and " 0 failed" in out, out[-2000:])

    def test_email_opens_a_case_for_the_contact_and_acknowledges_it(self):
        address = self.contact["email"].upper()
        r = self.mail({"from": "Someone <%s>" % address, "to": "support@acme.example", "subject": "Printer jams",
                       "text": "Paper jams on every page.", "html": "<p>ignored when text is there</p>",
                       "message_id": self.message_id(), "references": []})
        eq(r.status, 201, "signed e-mail: %s" % r.body[:300])
        eq(r.json["outcome"], "new_case", "a new case")
        case = self.case_by_number(r.json["case"])
        eq(case["channel"], "email", "channel")
        eq(case["contact"], self.contact["id"], "the contact by address, whatever its case")
        eq(case["account"], self.contact.get("account"), "the contact's account")
        eq(case["description"], "Paper jams on every page.", "the text")
        ack = self.records("admin", "outbox_message", "filter=" + urllib.parse.quote(
            "object_name = 'case' and record_id = %d" % case["id"]))
        eq(len(ack), 1, "one acknowledgement")
        eq(ack[0]["to"], self.contact["email"].lower(), "to the sender")
        check("[%s]" % case["number"] in ack[0]["subject"], "the number in the subject: %s" % ack[0]["subject"])

    def test_chinese_html_only_email_gets_a_chinese_acknowledgement_and_no_markup(self):
        r = self.mail({"from": "wang@kehu.example", "subject": "打印机坏了",
                       "html": "<div>无法打印<script>alert(1)</script><br>请帮忙 &amp; 谢谢</div>",
                       "message_id": self.message_id()})
        eq(r.status, 201, "html e-mail: %s" % r.body[:300])
        case = self.case_by_number(r.json["case"])
        eq(case["description"], "无法打印\n请帮忙 & 谢谢", "the HTML's text, never its markup")
        eq(case["submitter_email"], "wang@kehu.example", "no contact: the sender kept on the case")
        ack = self.records("admin", "outbox_message", "filter=" + urllib.parse.quote(
            "object_name = 'case' and record_id = %d" % case["id"]))[0]
        check(ack["subject"].startswith("[%s] 我们已收到" % case["number"]), ack["subject"])

    def test_signatures_good_wrong_missing_stale_and_future(self):
        before = self.totals()
        values = {"from": "sig@mail.example", "subject": "Signed?", "text": "x", "message_id": self.message_id()}
        raw = json.dumps(values).encode()
        now = int(time.time())
        bad = [
            ("no headers", {}),
            ("no signature", {"X-CRM-Timestamp": str(now)}),
            ("no timestamp", {"X-CRM-Signature": sign(raw)["X-CRM-Signature"]}),
            ("another secret", sign(raw, secret="wrong")),
            ("not sha256=", dict(sign(raw), **{"X-CRM-Signature": sign(raw)["X-CRM-Signature"][7:]})),
            ("short hex", dict(sign(raw), **{"X-CRM-Signature": "sha256=abcd"})),
            ("stale by 301 s", sign(raw, str(now - 301))),
            ("ten minutes ahead", sign(raw, str(now + 600))),
            ("a timestamp that is no number", sign(raw, "12ab")),
            ("a signed timestamp with another one sent", dict(sign(raw, str(now - 5)), **{"X-CRM-Timestamp": str(now)})),
        ]
        for what, headers in bad:
            r = self.mail(None, headers=headers, raw=raw)
            problem(r, 401, what)
            eq(r.header("WWW-Authenticate"), "CRM-Signature", what)
        # the signature covers the body: the same headers with another body
        h = sign(raw)
        problem(self.mail(None, headers=h, raw=raw.replace(b"Signed?", b"Signed!")), 401, "a changed body")
        self.unchanged(before, "a refused signature")
        r = self.mail(None, headers=sign(raw, str(now - 200)), raw=raw)
        eq(r.status, 201, "200 s old is inside the window: %s" % r.body[:200])

    def test_replayed_post_is_one_case(self):
        values = {"from": "twice@mail.example", "subject": "Once please", "text": "x", "message_id": self.message_id()}
        raw = json.dumps(values).encode()
        h = sign(raw)
        first = self.mail(None, headers=h, raw=raw)
        eq(first.status, 201, "first: %s" % first.body[:200])
        before = self.totals()
        again = self.mail(None, headers=h, raw=raw)
        eq(again.status, 200, "the very same request again: %s" % again.body[:200])
        eq(again.json["outcome"], "duplicate", "a duplicate")
        eq(again.json["case"], first.json["case"], "the same case")
        # a gateway's retry, signed afresh, without the angle brackets
        values["message_id"] = values["message_id"].strip("<>")
        retry = self.mail(values)
        eq((retry.status, retry.json["case"]), (200, first.json["case"]), "a retry: %s" % retry.body[:200])
        self.unchanged(before, "a duplicate")

    def test_reply_threads_as_a_note_and_resumes_the_waiting_case(self):
        mid = self.message_id()
        r = self.mail({"from": "Ming <ming@mail.example>", "subject": "VPN down", "text": "cannot connect",
                       "message_id": mid})
        case = self.case_by_number(r.json["case"])
        self.fire("service_agent", "case", case["id"], "open")
        self.fire("service_agent", "case", case["id"], "wait")
        eq(self.get("admin", "case", case["id"])["status"], "waiting_customer", "waits for the customer")
        reply = self.mail({"from": "ming@mail.example", "subject": "Re: VPN down", "text": "tried again, same",
                           "message_id": self.message_id(), "in_reply_to": mid})
        eq(reply.status, 201, "reply: %s" % reply.body[:300])
        eq((reply.json["outcome"], reply.json["case"]), ("reply", case["number"]), "threaded")
        eq(self.get("admin", "case", case["id"])["status"], "open", "resumed")
        notes = self.records("admin", "activity", "filter=" + urllib.parse.quote("case = %d" % case["id"]))
        eq(len(notes), 1, "one note")
        eq((notes[0]["kind"], notes[0]["description"]), ("note", "tried again, same"), "the reply's text")
        # by the number in the subject, from the same sender (References only, no In-Reply-To)
        by_number = self.mail({"from": "MING@mail.example", "subject": "Re: [%s] VPN" % case["number"], "text": "3",
                               "message_id": self.message_id(), "references": "<unknown@x> <other@y>"})
        eq((by_number.json["outcome"], by_number.json["case"]), ("reply", case["number"]), "by number")
        # the number typed by someone the case does not know opens a case of their own
        stranger = self.mail({"from": "eve@evil.example", "subject": "[%s] add me" % case["number"], "text": "x",
                              "message_id": self.message_id()})
        eq(stranger.json["outcome"], "new_case", "a stranger's mail is no reply")
        check(stranger.json["case"] != case["number"], "another case")

    def test_hostile_and_malformed_emails_are_refused_writing_nothing(self):
        before = self.totals()
        mid = self.message_id()
        cases = [
            ({"from": "a@mail.example\r\nBcc: victim@else.example", "subject": "x", "text": "y", "message_id": mid},
             422, "from"),
            ({"from": "not an address", "subject": "x", "text": "y", "message_id": mid}, 422, "from"),
            ({"from": "a@mail.example, b@mail.example", "subject": "x", "text": "y", "message_id": mid}, 422, "from"),
            ({"subject": "x", "text": "y", "message_id": mid}, 422, "from"),
            ({"from": "a@mail.example", "subject": "x", "text": "y"}, 422, "message_id"),
            ({"from": "a@mail.example", "subject": "x", "text": "y", "message_id": "<a b@c>"}, 422, "message_id"),
            ({"from": "a@mail.example", "message_id": mid}, 422, "subject"),
            ({"from": "a@mail.example", "subject": ["x"], "text": "y", "message_id": mid}, 422, "subject"),
            ({"from": "a@mail.example", "subject": "x", "text": "y", "message_id": mid, "references": [1]}, 422,
             "references"),
            ({"from": "a@mail.example", "to": "x@y.example\nBcc: z@w.example", "text": "y", "message_id": mid}, 422,
             "to"),
            ([1, 2], 422, None),
        ]
        for values, status, field in cases:
            r = self.mail(values)
            problem(r, status, "%r" % values)
            if field:
                eq(r.json["errors"][0]["field"], field, "the field named: %r" % values)
        for raw, ctype, status in ((b"not json", "application/json", 400), (b"{\"from\": ", "application/json", 400),
                                   (b"from=a%40b.example", "text/plain", 415)):
            problem(self.mail(None, raw=raw, content_type=ctype), status, "%r as %s" % (raw, ctype))
        # a megabyte: 413 from the route's 256 KiB cap, refused from Content-Length before the body is read
        big = json.dumps({"from": "a@mail.example", "subject": "big", "text": "x" * (1 << 20),
                          "message_id": mid}).encode()
        head = "".join("%s: %s\r\n" % kv for kv in sign(big).items())
        raw = raw_exchange(self.server.port, ("POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                                              "%sContent-Length: %d\r\n\r\n" % (EMAIL, head, len(big))).encode()
                           + big[:4096])
        status, _, body = parse_raw(raw)
        eq(status, 413, "a 1 MB e-mail: %r" % body[:200])
        self.unchanged(before, "refused e-mails")
        # header injection in the subject: kept as one line, and so is the acknowledgement's subject
        r = self.mail({"from": "inject@mail.example", "subject": "Help\r\nBcc: victim@else.example", "text": "y",
                       "message_id": mid})
        eq(r.status, 201, "a subject with a line break: %s" % r.body[:200])
        case = self.case_by_number(r.json["case"])
        eq(case["subject"], "Help Bcc: victim@else.example", "one line")
        ack = self.records("admin", "outbox_message", "filter=" + urllib.parse.quote(
            "object_name = 'case' and record_id = %d" % case["id"]))[0]
        check("\r" not in ack["subject"] and "\n" not in ack["subject"], ack["subject"])

    def test_web_form_page_in_both_languages(self):
        c = self.anonymous()
        for lang, words in (("en", "Contact support"), ("zh", "联系客服")):
            r = c.get(PUBLIC + "/form?lang=" + lang, auth=False)
            eq(r.status, 200, "form page %s" % lang)
            check(r.header("Content-Type").startswith("text/html"), "HTML")
            page = r.body.decode()
            check(words in page and 'name="website"' in page and 'action="%s/case"' % PUBLIC in page, page[:500])
        r = c.get(PUBLIC + "/thanks?lang=en&case=%3Cscript%3E", auth=False)
        check("<script>" not in r.body.decode(), "the thank-you page shows only a case number")

    def test_web_form_posts_open_web_cases(self):
        c = self.anonymous()
        r = c.post(PUBLIC + "/case", urllib.parse.urlencode({
            "name": "Zhang San", "email": "zhang@web.example", "subject": "Cannot log in", "message": "since today",
            "lang": "zh", "website": ""}), content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 303, "a browser's post: %s" % r.body[:200])
        location = r.header("Location")
        check(location.startswith(PUBLIC + "/thanks?lang=zh&case=CASE-"), location)
        number = location.rsplit("=", 1)[1]
        case = self.case_by_number(number)
        eq((case["channel"], case["submitter_name"], case["submitter_email"], case["contact"]),
           ("web", "Zhang San", "zhang@web.example", None), "no contact: the submitter on the case")
        page = c.get(location, auth=False)
        check(number in page.body.decode() and "工单编号" in page.body.decode(), "the thank-you page")
        r = c.post(PUBLIC + "/case", {"email": self.contact["email"], "subject": "Invoice", "message": "wrong total"},
                   auth=False)
        eq(r.status, 201, "JSON: %s" % r.body[:200])
        case = self.case_by_number(r.json["case"])
        eq((case["channel"], case["contact"]), ("web", self.contact["id"]), "the contact by e-mail")
        eq(self.count("outbox_message", "object_name = 'case' and record_id = %d" % case["id"]), 0,
           "a public form sends no e-mail to an address anyone may type")

    def test_web_form_honeypot_rate_limit_and_bad_input(self):
        c = self.anonymous()
        before = self.totals()
        r = c.post(PUBLIC + "/case", urllib.parse.urlencode({"email": "bot@spam.example", "subject": "x", "message": "y",
                   "website": "http://spam.example"}), content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 303, "the honeypot looks like a success")
        bad = [
            ({"subject": "x", "message": "y"}, 422),
            ({"email": "nope", "subject": "x", "message": "y"}, 422),
            ({"email": "a@b.example\r\nBcc: c@d.example", "subject": "x", "message": "y"}, 422),
            ({"email": "a@b.example", "message": "y"}, 422),
        ]
        for values, status in bad:
            problem(c.post(PUBLIC + "/case", values, auth=False), status, "%r" % values)
        self.unchanged(before, "the honeypot and bad posts")
        c = self.anonymous()
        for raw, ctype, status in ((b"{", "application/json", 400), (b"email=a&email=b", "application/x-www-form-urlencoded", 400),
                                   (b"x", "text/plain", 415)):
            problem(c.post(PUBLIC + "/case", raw, content_type=ctype, auth=False), status, "%r" % raw)
        problem(c.post(PUBLIC + "/case", {"email": "a@b.example", "subject": "s", "message": "m" * 200000}, auth=False),
                413, "over the form's cap")
        self.unchanged(before, "malformed posts")
        c = self.anonymous()
        for i in range(5):
            eq(c.post(PUBLIC + "/case", {"subject": "x", "message": "y"}, auth=False).status, 422, "post %d" % i)
        r = c.post(PUBLIC + "/case", {"email": "ok@b.example", "subject": "x", "message": "y"}, auth=False)
        problem(r, 429, "the sixth post in a minute")
        check(int(r.header("Retry-After")) >= 1, "Retry-After")
        self.unchanged(before, "a rate-limited post")

    def test_consumer_sees_and_opens_only_own_cases(self):
        r = self.req("consumer1", "POST", "/objects/case", {"subject": "My parcel is late", "channel": "phone"})
        eq(r.status, 201, "a consumer opens a case: %s" % r.body[:300])
        mine = self.get("admin", "case", r.json["id"])
        eq(mine["channel"], "portal", "forced to portal")
        check(mine["contact"] is not None, "their own contact")
        eq(mine["owner"], None, "in the queue, owned by no agent")
        me = self.records("admin", "user", "filter=" + urllib.parse.quote("login = 'consumer1'"))[0]
        contact = self.get("admin", "contact", mine["contact"])
        check(contact["id"] == me.get("contact") or contact["email"] == me["email"], "consumer1's contact")
        eq(mine["account"], contact.get("account"), "the contact's account")
        problem(self.req("consumer2", "GET", "/objects/case/%d" % mine["id"]), 404, "another consumer's case")
        eq(self.req("consumer1", "GET", "/objects/case/%d" % mine["id"]).status, 200, "own case")
        own = self.records("consumer1", "case", "limit=1000")
        check(own and all(x["contact"] == mine["contact"] for x in own), "only cases of their contact")
        check(not any(x["id"] == mine["id"] for x in self.records("consumer2", "case", "limit=1000")),
              "consumer2 does not list it")
        for values in ({"subject": "x", "tier": "l2"}, {"subject": "x", "priority": "high"},
                       {"subject": "x", "queue": 1}, {"subject": "x", "owner": 1}):
            r = self.req("consumer1", "POST", "/objects/case", values)
            check(400 <= r.status < 500, "a consumer may not set %r: %s" % (values, r.body[:200]))
        other = self.records("admin", "contact", "filter=" + urllib.parse.quote(
            "id != %d and email != '%s'" % (mine["contact"], contact["email"])) + "&limit=1")[0]
        r = self.req("consumer1", "POST", "/objects/case", {"subject": "x", "contact": other["id"]})
        check(400 <= r.status < 500, "nor open one for someone else: %s" % r.body[:200])

    def test_partner_works_only_its_accounts_cases(self):
        p1 = self.records("admin", "user", "filter=" + urllib.parse.quote("login = 'partner1'"))[0]["partner"]
        check(p1, "partner1 works for a partner")
        theirs = self.records("admin", "account", "filter=" + urllib.parse.quote("partner = %d" % p1) + "&limit=1")[0]
        other = self.records("admin", "account", "filter=" + urllib.parse.quote(
            "partner = null or partner != %d" % p1) + "&limit=1")[0]
        r = self.req("partner1", "POST", "/objects/case", {"subject": "Site down", "account": theirs["id"]})
        eq(r.status, 201, "a partner opens a case for its account: %s" % r.body[:300])
        eq(self.get("admin", "case", r.json["id"])["channel"], "partner", "channel partner")
        listed = self.records("partner1", "case", "limit=1000&fields=id,account")
        accounts = {a["id"] for a in self.records("admin", "account", "filter=" + urllib.parse.quote(
            "partner = %d" % p1) + "&limit=1000&fields=id")}
        check(listed and all(x["account"] in accounts for x in listed), "only its accounts' cases")
        foreign = self.created("admin", "case", {"subject": "Not theirs", "account": other["id"]})
        problem(self.req("partner1", "GET", "/objects/case/%d" % foreign["id"]), 404, "another account's case")
        r = self.req("partner1", "POST", "/objects/case", {"subject": "x", "account": other["id"]})
        check(400 <= r.status < 500, "nor open one there: %s" % r.body[:200])
        self.patch("partner1", "case", listed[0]["id"], {"priority": "high"})
        problem(self.req("partner2", "GET", "/objects/case/%d" % listed[0]["id"]), 404, "the other partner's user")

    def test_guest_reads_no_cases(self):
        c = self.anonymous()
        problem(c.get(API + "/objects/case", auth=False), 401, "no session, no cases")
        problem(c.get(API + "/objects/case/1", auth=False), 401, "nor one case")
        # the public routes answer a case's number and nothing of it (the guest role grants nothing on
        # cases: intake_test.lua reads them as the guest and is refused)
        r = c.post(PUBLIC + "/case", {"email": "g@guest.example", "subject": "Secret?", "message": "m"}, auth=False)
        eq(sorted(r.json), ["accepted", "case"], "only the number: %s" % r.body[:200])

    def test_openapi_documents_the_signed_route(self):
        doc = self.req("admin", "GET", "/openapi.json").json
        op = doc["paths"]["/public/service/inbound-email"]["post"]
        names = {p["name"] for p in op.get("parameters", [])}
        check({"X-CRM-Timestamp", "X-CRM-Signature"} <= names, "the signature headers: %r" % names)
        check("401" in op["responses"] and "503" in op["responses"], "401 and 503")
        eq(op["security"], [], "no session")

    def test_without_the_secret_the_route_answers_503_and_writes_nothing(self):
        before = self.totals()
        self.server.stop()
        saved = os.environ.pop(SECRET_ENV)
        try:
            self.server.start(as_admin=False)
            self.c = Client(self.server.port)
            r = self.mail({"from": "a@mail.example", "subject": "x", "text": "y", "message_id": self.message_id()})
            problem(r, 503, "no secret")
            check(SECRET_ENV in r.json["detail"], r.json["detail"])
            r = self.mail(None, headers={}, raw=b"{}")
            problem(r, 503, "unsigned, no secret")
            self.unchanged(before, "an unconfigured route")
        finally:
            os.environ[SECRET_ENV] = saved


def main():
    os.environ[SECRET_ENV] = SECRET
    return run_on_demo("service_intake", Story, (
        "plugin_unit_tests_pass",
        "email_opens_a_case_for_the_contact_and_acknowledges_it",
        "chinese_html_only_email_gets_a_chinese_acknowledgement_and_no_markup",
        "signatures_good_wrong_missing_stale_and_future", "replayed_post_is_one_case",
        "reply_threads_as_a_note_and_resumes_the_waiting_case",
        "hostile_and_malformed_emails_are_refused_writing_nothing",
        "web_form_page_in_both_languages", "web_form_posts_open_web_cases",
        "web_form_honeypot_rate_limit_and_bad_input",
        "consumer_sees_and_opens_only_own_cases", "partner_works_only_its_accounts_cases", "guest_reads_no_cases",
        "openapi_documents_the_signed_route",
        "without_the_secret_the_route_answers_503_and_writes_nothing"))


if __name__ == "__main__":
    sys.exit(main())
