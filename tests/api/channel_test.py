"""The channel package over HTTP (see channel.sh): a real `crm serve` over the shipped plugins/ on a
`crm demo` database. DOMAIN.md B4's stories as the demo users (partner1 works for Weber Systemhaus, gold,
90 days' protection; partner2 for Laurent Intégration, silver; both have channel_manager; channel_manager2
has other partners), with other names and amounts too; the conflict answer partner2 gets is checked
byte-wise for partner1's name and registration number; authorization and bad input. The protection
timer is driven by `crm timer deal_registration_flow protection_end --at T`. Standard library only.
"""
import datetime
import json
import os
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, check, crm_binary, eq, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
USERS = ["admin", "channel_manager", "channel_manager2", "partner1", "partner2", "sales_director", "sales_manager"]
TODAY = datetime.date.today()
CLOSE = (TODAY + datetime.timedelta(days=60)).isoformat()


def quoted(s):
    return urllib.parse.quote(s, safe="")


class Suite(AsUsers):
    def __init__(self, server, db):
        AsUsers.__init__(self, server.port)
        self.server = server
        self.db = db

    def protection_end(self):
        """One run of the protection_end timer now (`crm timer`, beside the running server)."""
        p = subprocess.run([crm_binary(), "timer", "deal_registration_flow", "protection_end", "--db", self.db,
                            "--metadata", self.server.metadata, "--plugins", os.path.join(ROOT, "plugins")],
                           cwd=ROOT, capture_output=True, check=False)
        eq(p.returncode, 0, p.stderr.decode())

    def register(self, who, company, amount, **extra):
        values = {"company": company, "amount": amount, "expected_close": CLOSE}
        values.update(extra)
        return self.created(who, "deal_registration", values)

    def submit(self, who, rid):
        return self.fire(who, "deal_registration", rid, "submit")

    def reg(self, who, rid):
        return self.get(who, "deal_registration", rid)

    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        users = self.records("admin", "user", "limit=200")
        self.uid = {u["login"]: u["id"] for u in users}
        self.p1 = next(u["partner"] for u in users if u["login"] == "partner1")
        self.p2 = next(u["partner"] for u in users if u["login"] == "partner2")
        self.p1_name = self.get("admin", "partner", self.p1)["name"]
        eq(self.p1_name, "Weber Systemhaus GmbH", "partner1's partner")
        for p in (self.p1, self.p2):
            eq(self.get("admin", "partner", p)["channel_manager"], self.uid["channel_manager"], "their channel manager")
        program = self.get("admin", "partner_program", self.get("admin", "partner", self.p1)["program"])
        eq((program["tier"], program["protection_days"]), ("gold", 90), "partner1's programme")

    # -- stories 1, 2 and 4: register, approve, the conflict, convert ----------------------
    def story_pair(self, first, second, amount, days):
        a = self.register("partner1", first, amount)
        eq((a["status"], a["partner"]), ("draft", self.p1), "a draft of partner1's partner by default")
        self.submit("partner1", a["id"])
        eq(self.reg("partner1", a["id"])["status"], "submitted", "story 1: submitted")
        self.fire("channel_manager", "deal_registration", a["id"], "approve")
        a = self.reg("partner1", a["id"])
        eq(a["status"], "approved", "story 1: approved")
        eq(a["protected_until"], (TODAY + datetime.timedelta(days=days)).isoformat(), "story 1: today + %d" % days)
        # story 2: the second partner's registration of the same company
        b = self.register("partner2", second, amount // 2)
        r = self.fire("partner2", "deal_registration", b["id"], "submit")
        answers = [("transition", r.body)]
        for what, path in (("get", "/objects/deal_registration/%d" % b["id"]),
                           ("list", "/objects/deal_registration?limit=500"),
                           ("search", "/objects/deal_registration?q=%s" % quoted(second.split()[0])),
                           ("count", "/objects/deal_registration?count=true&filter=%s" % quoted("status = 'conflict'")),
                           ("report", "/reports/registrations_by_status"),
                           ("notifications", "/objects/notification?limit=200")):
            resp = self.req("partner2", "GET", path)
            eq(resp.status, 200, "partner2 %s: %s" % (what, resp.body[:200]))
            answers.append((what, resp.body))
        for hidden in ("conflict_with", "account", "company_key"):
            resp = self.req("partner2", "GET", "/objects/deal_registration?filter=%s" % quoted(hidden + " = 'x'"))
            eq(resp.status, 400, "partner2 filters on %s: %s" % (hidden, resp.body[:200]))
            answers.append(("filter " + hidden, resp.body))
            check(b"no field" in resp.body or b"unknown" in resp.body, resp.body[:200])
        for what, body in answers:
            for secret in (self.p1_name.encode(), b"Weber", a["number"].encode(), b"partner1", b"Jonas"):
                check(secret not in body, "story 2: partner2's %s names %r: %s" % (what, secret, body[:300]))
        seen = self.reg("partner2", b["id"])
        eq(seen["status"], "conflict", "story 2: conflict")
        check("conflict_with" not in seen and "account" not in seen, "hidden fields absent: %s" % sorted(seen))
        manager = self.reg("channel_manager", b["id"])
        check(a["number"] in manager["conflict_with"] and self.p1_name in manager["conflict_with"],
              "the channel manager reads what it conflicts with: %r" % manager.get("conflict_with"))
        notes = [n for n in self.records("channel_manager", "notification", "limit=500&sort=-id")
                 if n.get("record_id") == b["id"]]
        check(any("conflicts with" in n["title"] for n in notes), "the channel manager is told: %r" % notes)
        eq(self.req("partner2", "GET", "/objects/deal_registration/%d" % a["id"]).status, 404,
           "partner2 gets 404 on partner1's registration")
        return a, b

    def test_story_1_2_4_acme(self):
        a, b = self.story_pair("Brightwave Ltd", "BRIGHTWAVE LIMITED", 100000, 90)
        # story 4: convert
        self.fire("channel_manager", "deal_registration", a["id"], "convert")
        a = self.reg("partner1", a["id"])
        eq(a["status"], "converted", "story 4: converted")
        deal = self.get("partner1", "opportunity", a["opportunity"])
        eq((deal["partner"], deal["amount"], deal["lead_source"]), (self.p1, 100000, "partner"), "partner1's deal")
        eq(self.req("partner2", "GET", "/objects/opportunity/%d" % deal["id"]).status, 404, "partner2 gets 404")

    def test_story_pair_other_numbers_and_chinese(self):
        self.story_pair("Kestrel Analytics GmbH", "kestrel analytics, inc.", 75000, 90)
        self.story_pair("青松软件有限公司", "青松软件股份有限公司", 120000, 90)

    def test_matching_by_account_and_domain(self):
        acct = self.created("admin", "account", {"name": "Quillon Labs B.V.", "email": "info@quillon.example"})
        self.created("admin", "opportunity", {"name": "Quillon direct", "account": acct["id"], "amount": 5000,
                                              "close_date": CLOSE})
        r = self.register("partner1", "Totally Other Name", 9000, contact_email="cto@Quillon.example")
        self.submit("partner1", r["id"])
        eq(self.reg("partner1", r["id"])["status"], "conflict", "matched by e-mail domain: a direct open deal")
        m = self.reg("channel_manager", r["id"])
        eq(m["account"], acct["id"], "the matched account")
        check("Quillon direct (direct)" in m["conflict_with"], m["conflict_with"])
        free = self.register("partner1", "Someone Else", 9000, contact_email="someone@gmail.com")
        self.submit("partner1", free["id"])
        eq(self.reg("partner1", free["id"])["status"], "submitted", "free mail matches nothing")

    # -- story 3: above 200,000 the sales director approves too -----------------------------
    def test_story_3_big_registration(self):
        for amount in (250000, 380000):
            r = self.register("partner1", "Big Deal %d Corp" % amount, amount)
            self.submit("partner1", r["id"])
            resp = self.fire("channel_manager", "deal_registration", r["id"], "approve", status=202)
            eq(resp.json.get("status"), "pending_approval", "story 3: 202 pending")
            eq(self.reg("partner1", r["id"])["status"], "submitted", "still submitted")
            pending = [x for x in self.records("sales_director", "approval", "filter=%s" % quoted(
                "status = 'pending' and record_id = %d" % r["id"]))]
            eq(len(pending), 1, "one approval for the sales director (the channel manager asked)")
            resp = self.req("sales_director", "POST", "/objects/approval/%d/approve" % pending[0]["id"], {})
            eq(resp.status, 200, "the director approves: %s" % resp.body[:300])
            r = self.reg("partner1", r["id"])
            eq(r["status"], "approved", "approved after the director")
            eq(r["protected_until"], (TODAY + datetime.timedelta(days=90)).isoformat(), "protected")
        edge = self.register("partner1", "Edge Case Ltd", 200000)
        self.submit("partner1", edge["id"])
        self.fire("channel_manager", "deal_registration", edge["id"], "approve", status=200)

    # -- story 5: protection that ran out ----------------------------------------------------
    def test_story_5_protection_end(self):
        r = self.register("partner2", "Expiring Ventures SARL", 30000)
        self.submit("partner2", r["id"])
        self.fire("channel_manager", "deal_registration", r["id"], "approve")
        until = self.reg("partner2", r["id"])["protected_until"]
        eq(until, (TODAY + datetime.timedelta(days=60)).isoformat(), "silver: 60 days")
        self.protection_end()
        eq(self.reg("partner2", r["id"])["status"], "approved", "still protected today")
        # the days pass: protected_until is the system's (readonly), moved back in the database file
        con = sqlite3.connect(self.db)
        with con:
            con.execute("UPDATE deal_registration SET protected_until = ? WHERE id = ?",
                        ((TODAY - datetime.timedelta(days=1)).isoformat(), r["id"]))
        con.close()
        self.protection_end()
        eq(self.reg("partner2", r["id"])["status"], "expired", "story 5: expired by the timer")
        notes = [n for n in self.records("partner2", "notification", "limit=200") if n.get("record_id") == r["id"]]
        check(notes, "the partner user who filed it is told")

    # -- story 6: tiers follow certifications ----------------------------------------------
    def test_story_6_tier_review(self):
        acct = self.created("admin", "account", {"name": "Tier Story AG", "partner": self.p1})
        won = self.created("admin", "opportunity", {"name": "Tier story won", "account": acct["id"], "amount": 600000,
                                                    "partner": self.p1, "close_date": TODAY.isoformat()})
        for step in ("qualify", "propose", "negotiate", "win"):
            self.fire("admin", "opportunity", won["id"], step)
        certs = self.records("admin", "certification", "limit=500&filter=%s" % quoted(
            "partner = %d and status = 'valid'" % self.p1))
        course = self.records("admin", "training_course", "limit=1")[0]
        while len(certs) < 2:
            certs.append(self.created("admin", "certification", {
                "course": course["id"], "partner": self.p1, "person": self.uid["partner1"], "status": "valid",
                "passed_on": TODAY.isoformat(), "valid_to": "2099-01-01"}))
        for extra in certs[2:]:
            self.patch("admin", "certification", extra["id"], {"status": "expired"})
        check(self.get("admin", "partner", self.p1)["won_revenue"] >= 600000, "won revenue 600,000 or more")
        resp = self.req("channel_manager", "POST", "/objects/partner/%d/actions/channel.review_tier" % self.p1, {})
        eq(resp.status, 200, "review: %s" % resp.body[:200])
        eq(self.get("admin", "partner", self.p1)["tier"], "gold", "story 6: 2 certified, 600,000: gold stays")
        self.patch("admin", "certification", certs[0]["id"], {"valid_to": (TODAY - datetime.timedelta(days=1)).isoformat(),
                                                               "passed_on": "2024-01-01"})
        resp = self.req("channel_manager", "POST", "/objects/partner/%d/actions/channel.review_tier" % self.p1, {})
        eq(resp.status, 200, "review: %s" % resp.body[:200])
        check(resp.json["expired"] >= 1, "the certification expired: %r" % resp.json)
        p = self.get("admin", "partner", self.p1)
        eq(p["tier"], "silver", "story 6: demoted to silver")
        notes = [n for n in self.records("channel_manager", "notification", "limit=500&sort=-id")
                 if n.get("object_name") == "partner" and n.get("record_id") == self.p1]
        check(any("demoted" in n["title"] for n in notes), "the channel manager is told: %r" % notes[:3])
        for who in ("partner1", "channel_manager2"):
            eq(self.req(who, "POST", "/objects/partner/%d/actions/channel.review_tier" % self.p1, {}).status, 403,
               "%s may not review" % who)

    # -- authorization -------------------------------------------------------------------
    def test_authorization(self):
        r = self.register("partner1", "Guarded Holdings plc", 50000)
        eq(self.req("partner2", "GET", "/objects/deal_registration/%d" % r["id"]).status, 404, "partner2: 404")
        eq(self.req("partner2", "PATCH", "/objects/deal_registration/%d" % r["id"], {"amount": 1},
                    headers={"If-Match": "*"}).status, 404, "partner2 cannot change it")
        self.patch("partner1", "deal_registration", r["id"], {"amount": 55000})
        self.submit("partner1", r["id"])
        resp = self.req("partner1", "PATCH", "/objects/deal_registration/%d" % r["id"], {"amount": 1},
                        headers={"If-Match": "*"})
        eq(resp.status, 403, "a partner cannot change a submitted registration: %s" % resp.body[:200])
        for name in ("approve", "reject", "convert", "submit"):
            resp = self.req("partner1", "POST", "/objects/deal_registration/%d/transitions/%s" % (r["id"], name),
                            {"rejection_reason": "x"})
            check(resp.status in (403, 409), "partner1 fires %s: %d %s" % (name, resp.status, resp.body[:200]))
        eq(self.req("channel_manager2", "POST", "/objects/deal_registration/%d/transitions/approve" % r["id"],
                    {}).status, 404, "a channel manager of other partners cannot approve (nor see it)")
        eq(self.req("partner1", "DELETE", "/objects/deal_registration/%d" % r["id"],
                    headers={"If-Match": "*"}).status, 403, "nor delete a submitted one")
        eq(self.reg("partner1", r["id"])["amount"], 55000, "unchanged")
        resp = self.req("channel_manager", "POST", "/objects/deal_registration/%d/transitions/reject" % r["id"], {})
        eq(resp.status, 422, "a rejection needs its reason")
        self.fire("channel_manager", "deal_registration", r["id"], "reject", body={"rejection_reason": "Direct deal"})
        eq(self.reg("partner1", r["id"])["status"], "rejected", "rejected")
        # partner users read their own certifications, coverage and the partner courses only
        for obj in ("certification", "partner_coverage"):
            rows = self.records("partner1", obj, "limit=500")
            check(all(x["partner"] == self.p1 for x in rows), "%s of partner1's partner only" % obj)
        courses = self.records("partner1", "training_course", "limit=500")
        check(courses and all(c["audience"] == "partner" for c in courses), "partner courses only")
        for obj, values in (("training_course", {"name": "x"}), ("certification", {"course": courses[0]["id"],
                            "person": self.uid["partner1"]}), ("partner_coverage", {"partner": self.p1, "region": "emea",
                            "industry": "retail"}), ("partner_program", {"name": "x", "tier": "gold"})):
            resp = self.req("partner1", "POST", "/objects/%s" % obj, values)
            eq(resp.status, 403, "partner1 creates %s: %s" % (obj, resp.body[:200]))

    # -- bad input ------------------------------------------------------------------------
    def test_bad_input(self):
        base = {"company": "Valid Co", "amount": 1000, "expected_close": CLOSE}
        cases = [
            ("missing company", {"amount": 1000, "expected_close": CLOSE}, (422,)),
            ("empty company", dict(base, company=""), (422,)),
            ("negative amount", dict(base, amount=-5), (422,)),
            ("oversized company", dict(base, company="x" * 5000), (422,)),
            ("amount as text", dict(base, amount="lots"), (422,)),
            ("company as a number", dict(base, company=42), (422,)),
            ("close date as text", dict(base, expected_close="tomorrow"), (422,)),
            ("partner as text", dict(base, partner="Weber"), (422,)),
            ("another partner", dict(base, partner=self.p2), (403, 422)),
            ("protected_until by hand", dict(base, protected_until="2099-01-01"), (403, 422)),
            ("conflict_with by hand", dict(base, conflict_with="none"), (400, 422)),
            ("submitted_at by hand", dict(base, submitted_at="2020-01-01T00:00:00Z"), (403, 422)),
            ("status by hand", dict(base, status="approved"), (403, 409, 422)),
            ("bad e-mail", dict(base, contact_email="not an address"), (422,)),
            ("unknown field", dict(base, secret=1), (400, 422)),
        ]
        before = len(self.records("admin", "deal_registration", "limit=1000"))
        for what, body, statuses in cases:
            resp = self.req("partner1", "POST", "/objects/deal_registration", body)
            check(resp.status in statuses, "%s: %d %s" % (what, resp.status, resp.body[:200]))
        js = {"Content-Type": "application/json"}
        resp = self.req("partner1", "POST", "/objects/deal_registration", b"{not json", headers=js)
        eq(resp.status, 400, "malformed JSON")
        resp = self.req("partner1", "POST", "/objects/deal_registration", b"[" * 100000, headers=js)
        check(resp.status in (400, 413), "deep JSON: %d" % resp.status)
        eq(len(self.records("admin", "deal_registration", "limit=1000")), before, "nothing half-written")
        for hostile in ("<script>alert(1)</script> Ltd", "Robert'); DROP TABLE account;-- GmbH", "' OR '1'='1",
                        "!!!", "\u202eevil\u202c Inc", "有限公司", "a" * 200):
            r = self.register("partner1", hostile, 10)
            self.submit("partner1", r["id"])
            got = self.reg("partner1", r["id"])
            eq(got["company"], hostile, "stored as given")
            check(got["status"] in ("submitted", "conflict"), "checked: %s" % got["status"])
        check(self.records("admin", "account", "limit=1"), "accounts still there")

    def test_partner_portal_home(self):
        """partner1's home (GET /meta caller.home): the base portal's sections, then this package's, each under
        the role's rules; a section's filter as a list shows partner1's registrations only."""
        r = self.req("partner1", "GET", "/meta")
        eq(r.status, 200, "meta as partner1")
        home = r.json["caller"]["home"]
        titles = [sec["title"]["en"] if isinstance(sec["title"], dict) else sec["title"] for sec in home["sections"]]
        for want in ("Our open opportunities", "My registrations", "Protection ending in 30 days", "Our quotes",
                     "Our certifications"):
            check(want in titles, "%s on the partner home: %s" % (want, titles))
        mine = next(sec for sec in home["sections"] if sec["object"] == "deal_registration")
        eq(mine.get("new"), True, "a New button: partner users create registrations")
        check("conflict_with" not in json.dumps(home), "no hidden field on the home page")
        rows = self.records("partner1", "deal_registration", "limit=50&filter=" + quoted(mine["filter"]))
        check(rows and all(x["partner"] == self.p1 for x in rows), "partner1's registrations only")
        r = self.req("channel_manager", "GET", "/meta")
        objects = {o["name"]: o for o in r.json["objects"]}
        sections = objects["deal_registration"]["views"]["home"]
        check(any("waiting for me" in (sec["title"]["en"]) for sec in sections), "the channel manager's home: %r"
              % sections)

    def test_lua_units_pass(self):
        """`crm plugin test channel`: every test file of the package ran, and its last line counts no failure."""
        run = subprocess.run([crm_binary(), "plugin", "test", "channel", "--metadata", self.server.metadata,
                              "--plugins", os.path.join(ROOT, "plugins")], cwd=ROOT, capture_output=True, check=False)
        text = (run.stdout + run.stderr).decode()
        for name in ("normalize_test.lua", "registration_test.lua"):
            check("channel/tests/" + name in text, "%s ran: %s" % (name, text[-1500:]))
        last = text.strip().splitlines()[-1] if text.strip() else ""
        check(run.returncode == 0 and last.endswith(" passed, 0 failed") and "FAIL" not in text, text[-3000:])

def main():
    return run_on_demo("channel", lambda server, db: Suite(server, db), (
        "story_1_2_4_acme", "story_pair_other_numbers_and_chinese", "matching_by_account_and_domain",
        "story_3_big_registration", "story_5_protection_end", "story_6_tier_review", "authorization", "bad_input",
        "partner_portal_home", "lua_units_pass"), records=40, seed=11)


if __name__ == "__main__":
    sys.exit(main())
