"""The pharma industry pack over REST (see pharma.sh): a real `crm --industry pharma serve` on a fresh
`crm --industry pharma demo` database of the shipped metadata/ and plugins/.

The demo's stories first (hospitals with grade and beds, HCPs with licences, the limit of 王建国 at 8 of 10
units of Cardiovex 10 mg, the expired lot, the visits whose call report is due for days). Then, as two
field reps added before the server starts (pharma_rep_a, pharma_rep_b: their own visits and lots): DOMAIN.md
B6 scenario 4 on the demo's limit (a drop of 3 refused naming the limit, max, given and asked; a drop of 2
accepted, left 0), issue 18's version (the 13th unit at a limit of 12 refused with the limit named), two
reps dropping at once on one HCP's limit (exactly the units left pass, in several rounds), an expired lot,
an HCP without consent or licence, a late call report without a reason, bad input of every kind (nothing
half-written), the roles (medical affairs sets limits and runs templates; reps may not), the audit report.
"""
import json
import os
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, Client, check, crm_binary, eq, plugin_units_pass, problem, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
INDUSTRY = "pharma"
REPS = ("pharma_rep_a", "pharma_rep_b")
USERS = ("admin", "compliance_officer") + REPS
HOSPITAL = {"lat": 31.2492, "lng": 121.4829}   # 上海市第一人民医院 in the demo
ROUNDS = 6          # concurrent rounds: each leaves one unit for two reps at once
THREADS = 8         # per rep, in the many-units race


def q(text):
    return urllib.parse.quote(text, safe="")


def add_reps(db):
    """The suite's two field reps, added with `crm user add` before the server starts."""
    for rep in REPS:
        subprocess.run([crm_binary(), "--industry", INDUSTRY, "user", "add", "--login", rep, "--role", "field_rep",
                        "--db", db, "--plugins", os.path.join(ROOT, "plugins")],
                       input=(PASSWORD + "\n").encode(), check=True, cwd=ROOT, capture_output=True)


class Suite(AsUsers):
    def __init__(self, server, db):
        AsUsers.__init__(self, server.port)
        self.server = server
        self.db = db
        self.serial = 0

    def one(self, who, obj, query):
        rows = self.records(who, obj, query + "&limit=2")
        eq(len(rows), 1, "one %s for %s" % (obj, query))
        return rows[0]

    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        self.uid = {u["login"]: u["id"] for u in self.records("admin", "user", "fields=id,login&limit=500")}
        self.year = int(self.one("admin", "sample_limit", "filter=" + q("max_units = 10"))["year"])
        self.cvx = self.one("admin", "product", "filter=" + q("code = 'CVX-10'"))
        self.hospital = self.one("admin", "account", "filter=" + q("name = '上海市第一人民医院'"))
        self.wang = self.one("admin", "contact", "filter=" + q("last_name = '王建国'"))
        # each rep's own lot of Cardiovex 10 mg (medical affairs reads lots; the admin hands them out)
        self.lots = {}
        for rep in REPS:
            self.lots[rep] = self.created("admin", "sample_lot", {
                "product": self.cvx["id"], "lot_number": "API-" + rep, "expiry_date": "%d-12-31" % (self.year + 1),
                "rep": self.uid[rep], "received": 500})["id"]

    # -- plumbing ---------------------------------------------------------------------------
    def visit(self, rep, contact, account=None):
        """A visit of rep's to the HCP, checked in at the hospital."""
        v = self.created(rep, "visit", {"account": account or self.hospital["id"], "contact": contact,
                                        "purpose": "detailing"})
        self.fire(rep, "visit", v["id"], "check_in", body={"check_in_geo": HOSPITAL})
        return v["id"]

    def hcp(self, max_units, consent=True, segment="B"):
        """A licensed HCP of the hospital with a limit of max_units of Cardiovex 10 mg this year."""
        self.serial += 1
        c = self.created("admin", "contact", {
            "last_name": "测试医生%d" % self.serial, "account": self.hospital["id"], "hcp_specialty": "cardiology",
            "license_number": "API-%06d" % self.serial, "segment": segment, "sample_consent": consent})
        limit = self.created("compliance_officer", "sample_limit", {
            "contact": c["id"], "product": self.cvx["id"], "year": self.year, "max_units": max_units})
        return c, limit

    def drop(self, rep, visit, limit, quantity, lot=None, **extra):
        body = {"visit": visit, "limit": limit, "lot": lot or self.lots[rep], "quantity": quantity,
                "signed_by": "Signed"}
        body.update(extra)
        return self.req(rep, "POST", "/objects/sample_drop", body)

    def refused(self, resp, text, field=None, status=422):
        doc = problem(resp, status, text)
        messages = [e.get("message", "") for e in doc.get("errors", [])] + [doc.get("detail", "")]
        check(any(text in m for m in messages), "%r not in %r" % (text, messages))
        if field:
            check(any(e.get("field") == field for e in doc.get("errors", [])), "field %s: %r" % (field, doc))
        return doc

    def limit(self, lid):
        return self.get("compliance_officer", "sample_limit", lid)

    # -- the demo's stories -----------------------------------------------------------------
    def test_demo_stories(self):
        eq(self.req("admin", "GET", "/meta").json["app"]["industry"], "pharma", "the server's industry")
        h = self.hospital
        eq((h["institution_type"], h["hospital_level"], h["beds"]), ("hospital", "tertiary_a", 1820), "the hospital")
        check(h["location"] and abs(h["location"]["lat"] - 31.2492) < 1e-6, "its location")
        pharmacy = self.one("admin", "account", "filter=" + q("name = 'Apotheke am Marienplatz'"))
        eq(pharmacy["institution_type"], "pharmacy", "a pharmacy")
        eq((self.wang["license_number"], self.wang["segment"], self.wang["hcp_specialty"], self.wang["sample_consent"]),
           ("110310000012345", "A", "cardiology", True), "王建国")
        limit = self.one("admin", "sample_limit", "filter=" + q("contact = %d and product = %d and year = %d"
                                                                  % (self.wang["id"], self.cvx["id"], self.year)))
        eq((limit["max_units"], limit["given"], limit["left"]), (10, 8, 2), "scenario 4's limit")
        eq(limit["name"], "王建国 · Cardiovex 10 mg · %d" % self.year, "the limit's name")
        drops = self.records("admin", "sample_drop", "filter=" + q("limit = %d" % limit["id"]) + "&limit=50")
        eq(sum(d["quantity"] for d in drops), 8, "his drops add up to 8")
        check(all(d["signed_by"] == "王建国" and d["given_on"] == d["signed_at"][:10] for d in drops),
              "signed by him on the visit's day: %r" % drops)
        check(len(self.records("admin", "sample_lot", "filter=" + q("expiry_date < today()"))) >= 1, "an expired lot")
        check(len(self.records("admin", "sample_limit_template", "filter=" + q("year = %d" % self.year))) >= 18,
              "this year's templates")
        # 钱勇 buys equipment: no licence, no limits; 周芳 has not consented
        qian = self.one("admin", "contact", "filter=" + q("last_name = '钱勇'"))
        eq(len(self.records("admin", "sample_limit", "filter=" + q("contact = %d" % qian["id"]))), 0, "no limits for 钱勇")
        zhou = self.one("admin", "contact", "filter=" + q("last_name = '周芳'"))
        eq(zhou["sample_consent"], False, "周芳 has not consented")
        late = self.records("admin", "visit", "filter=" + q("status = 'in_progress' and reports = 0 and "
                                                            "checked_in_at < add_days(now(), -2)"))
        check(len(late) >= 2, "visits whose call report is days late: %d" % len(late))
        # the audit report: his drops per year and product
        r = self.req("compliance_officer", "GET", "/reports/sample_drops_by_hcp?contact=%d" % self.wang["id"])
        eq(r.status, 200, "the audit report: %s" % r.body[:300])
        rows = r.json["rows"]
        check(any(row.get("units") == 8 for row in rows), "8 units of one product in the report: %r" % rows)

    # -- scenario 4 and issue 18 ------------------------------------------------------------
    def test_scenario_4_limit_10_given_8(self):
        limit = self.one("admin", "sample_limit", "filter=" + q("contact = %d and product = %d and year = %d"
                                                                  % (self.wang["id"], self.cvx["id"], self.year)))
        visit = self.visit("pharma_rep_a", self.wang["id"])
        doc = self.refused(self.drop("pharma_rep_a", visit, limit["id"], 3), "Over this HCP's yearly sample limit",
                           field="quantity")
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 3),
                     "王建国 · Cardiovex 10 mg · %d allows 10, 8 given, 3 asked" % self.year)
        check("title" in doc, "a problem document")
        eq(self.limit(limit["id"])["given"], 8, "nothing given by the refusal")
        r = self.drop("pharma_rep_a", visit, limit["id"], 2, signed_by="  王建国 ")
        eq(r.status, 201, "a drop of 2: %s" % r.body[:300])
        d = r.json
        eq((d["contact"], d["product"], d["year"], d["signed_by"]), (self.wang["id"], self.cvx["id"], self.year, "王建国"),
           "the drop's HCP, product, year and signature")
        check(d["signed_at"] and d["given_on"], "stamped")
        after = self.limit(limit["id"])
        eq((after["given"], after["left"]), (10, 0), "left 0")
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 1), "allows 10, 10 given, 1 asked")

    def test_issue_13th_sample_refused_at_12(self):
        c, limit = self.hcp(12)
        visit = self.visit("pharma_rep_a", c["id"])
        for n in range(12):
            eq(self.drop("pharma_rep_a", visit, limit["id"], 1).status, 201, "unit %d" % (n + 1))
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 1),
                     "Over this HCP's yearly sample limit: %s · Cardiovex 10 mg · %d allows 12, 12 given, 1 asked"
                     % (c["last_name"], self.year), field="quantity")
        eq(self.limit(limit["id"])["left"], 0, "left 0")

    # -- two reps at once -------------------------------------------------------------------
    def race(self, jobs):
        """Runs each (rep, visit, limit, quantity) at once from its own connection; returns the responses."""
        barrier = threading.Barrier(len(jobs))
        out = [None] * len(jobs)

        def work(n, rep, visit, limit, quantity):
            c = Client(self.c.port)
            headers = dict(self.h[rep])
            body = json.dumps({"visit": visit, "limit": limit, "lot": self.lots[rep], "quantity": quantity,
                               "signed_by": "Race"})
            headers["Content-Type"] = "application/json"
            barrier.wait()
            try:
                out[n] = c.request("POST", "/api/v1/objects/sample_drop", body=body, headers=headers, auth=False)
            finally:
                c.close()
        threads = [threading.Thread(target=work, args=(n,) + job) for n, job in enumerate(jobs)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        return out

    def test_concurrent_drops_never_pass_the_limit(self):
        # one unit left, two reps at once: exactly one passes, in every round
        for n in range(ROUNDS):
            c, limit = self.hcp(1)
            visits = [self.visit(rep, c["id"]) for rep in REPS]
            out = self.race([(rep, visits[k], limit["id"], 1) for k, rep in enumerate(REPS)])
            codes = sorted(r.status for r in out)
            eq(codes, [201, 422], "round %d: one of the two passes" % n)
            loser = next(r for r in out if r.status == 422)
            self.refused(loser, "allows 1, 1 given, 1 asked")
            eq((self.limit(limit["id"])["given"], self.limit(limit["id"])["left"]), (1, 0), "round %d: given 1" % n)
        # ten units, 2 x THREADS drops of 1 and 2 at once: what passes adds up to at most 10, every 2xx a drop
        c, limit = self.hcp(10)
        visits = {rep: self.visit(rep, c["id"]) for rep in REPS}
        jobs = [(rep, visits[rep], limit["id"], 1 + k % 2) for rep in REPS for k in range(THREADS)]
        out = self.race(jobs)
        check(all(r.status in (201, 422) for r in out), "201 or 422 only: %r" % [r.status for r in out])
        passed = sum(job[3] for job, r in zip(jobs, out) if r.status == 201)
        rows = self.records("admin", "sample_drop", "filter=" + q("limit = %d" % limit["id"]) + "&limit=100")
        eq(sum(d["quantity"] for d in rows), passed, "every 2xx is a drop, nothing else")
        after = self.limit(limit["id"])
        eq(after["given"], passed, "given is what passed")
        check(passed <= 10 and passed >= 9, "the limit filled, never passed: %d" % passed)
        for r in out:
            if r.status == 422:
                self.refused(r, "Over this HCP's yearly sample limit")

    # -- compliance -------------------------------------------------------------------------
    def test_expired_lot_refused(self):
        c, limit = self.hcp(10)
        visit = self.visit("pharma_rep_a", c["id"])
        old = self.created("admin", "sample_lot", {"product": self.cvx["id"], "lot_number": "API-EXPIRED-%d" % self.serial,
                                                   "expiry_date": "%d-01-01" % (self.year - 1),
                                                   "rep": self.uid["pharma_rep_a"], "received": 20})
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 1, lot=old["id"]),
                     "Lot API-EXPIRED-%d expired on %d-01-01" % (self.serial, self.year - 1), field="lot")
        # another rep's lot, and more than the lot holds
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 1, lot=self.lots["pharma_rep_b"]),
                     "not held by the visit's rep", field="lot")
        small = self.created("admin", "sample_lot", {"product": self.cvx["id"], "lot_number": "API-SMALL-%d" % self.serial,
                                                     "expiry_date": "%d-06-30" % (self.year + 1),
                                                     "rep": self.uid["pharma_rep_a"], "received": 2})
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 3, lot=small["id"]), "has 2 units on hand, 3 asked")
        eq(self.limit(limit["id"])["given"], 0, "nothing given")

    def test_no_consent_no_licence(self):
        c, limit = self.hcp(10, consent=False)
        visit = self.visit("pharma_rep_a", c["id"])
        self.refused(self.drop("pharma_rep_a", visit, limit["id"], 1), "has not consented to receive samples", field="limit")
        # the demo's 周芳 (no consent), through a template's limit
        zhou = self.one("admin", "contact", "filter=" + q("last_name = '周芳'"))
        zl = self.one("admin", "sample_limit", "filter=" + q("contact = %d and product = %d and year = %d"
                                                               % (zhou["id"], self.cvx["id"], self.year)))
        self.refused(self.drop("pharma_rep_a", self.visit("pharma_rep_a", zhou["id"], zhou["account"]), zl["id"], 1),
                     "周芳 has not consented")
        # no licence: no limit, and a licence withdrawn stops the drops of an existing one
        qian = self.one("admin", "contact", "filter=" + q("last_name = '钱勇'"))
        r = self.req("compliance_officer", "POST", "/objects/sample_limit",
                     {"contact": qian["id"], "product": self.cvx["id"], "year": self.year, "max_units": 5})
        self.refused(r, "钱勇 has no licence number", field="contact")
        c2, limit2 = self.hcp(10)
        self.patch("admin", "contact", c2["id"], {"license_number": None})
        self.refused(self.drop("pharma_rep_a", self.visit("pharma_rep_a", c2["id"]), limit2["id"], 1), "has no licence number")

    def test_late_call_report_needs_a_reason(self):
        late = self.records("admin", "visit", "filter=" + q("status = 'in_progress' and reports = 0 and "
                                                            "checked_in_at < add_days(now(), -2)") + "&limit=5")
        v = late[0]
        r = self.req("admin", "POST", "/objects/call_report", {"visit": v["id"], "key_message": "Trial data"})
        self.refused(r, "filed more than 48 hours after the visit", field="late_reason")
        r = self.req("admin", "POST", "/objects/call_report", {"visit": v["id"], "key_message": "Trial data",
                                                               "late_reason": "x"})
        self.refused(r, "give the reason it is late")
        r = self.req("admin", "POST", "/objects/call_report", {"visit": v["id"], "key_message": "Trial data",
                                                               "late_reason": "Congress in Beijing all week", "late": False})
        eq(r.status, 201, "with a reason: %s" % r.body[:300])
        eq(r.json["late"], True, "marked late whatever was sent")
        check(r.json["filed_hours_after"] > 48, "hours after: %r" % r.json["filed_hours_after"])
        self.refused(self.req("admin", "PATCH", "/objects/call_report/%d" % r.json["id"], {"late_reason": None},
                              headers={"If-Match": "*"}), "give the reason it is late")
        # on time: a visit checked in now, reported at once
        c, _ = self.hcp(5)
        visit = self.visit("pharma_rep_a", c["id"])
        ok = self.created("pharma_rep_a", "call_report", {"visit": visit, "key_message": "On time"})
        eq(ok["late"], False, "on time")
        # the late one counts on the compliance officer's and the manager's lists
        eq(len(self.records("compliance_officer", "call_report", "filter=" + q("late = true"))) >= 1, True, "listed")

    # -- roles ------------------------------------------------------------------------------
    def test_roles(self):
        c, limit = self.hcp(10)
        visit = self.visit("pharma_rep_a", c["id"])
        # a rep may not drop on another rep's visit, nor set limits or templates
        r = self.drop("pharma_rep_b", visit, limit["id"], 1)
        check(r.status in (403, 404, 422), "rep b on rep a's visit: %d %s" % (r.status, r.body[:200]))
        r = self.req("pharma_rep_a", "POST", "/objects/sample_limit",
                     {"contact": c["id"], "product": self.cvx["id"], "year": self.year + 1, "max_units": 99})
        check(r.status in (403, 404), "a rep sets no limit: %d" % r.status)
        r = self.req("pharma_rep_a", "PATCH", "/objects/sample_limit/%d" % limit["id"], {"max_units": 99},
                     headers={"If-Match": "*"})
        check(r.status in (403, 404), "a rep raises no limit: %d" % r.status)
        # medical affairs does not drop samples; it reads every drop and deletes a wrong one
        eq(self.drop("pharma_rep_a", visit, limit["id"], 4).status, 201, "rep a drops 4")
        r = self.req("compliance_officer", "POST", "/objects/sample_drop",
                     {"visit": visit, "limit": limit["id"], "lot": self.lots["pharma_rep_a"], "quantity": 1, "signed_by": "x"})
        check(r.status in (403, 404), "medical affairs drops nothing: %d" % r.status)
        mine = self.records("pharma_rep_a", "sample_drop", "filter=" + q("limit = %d" % limit["id"]))
        eq(len(mine), 1, "the rep reads their drop")
        eq(len(self.records("pharma_rep_b", "sample_drop", "filter=" + q("limit = %d" % limit["id"]))), 0,
           "the other rep does not")
        d = mine[0]
        r = self.req("pharma_rep_a", "PATCH", "/objects/sample_drop/%d" % d["id"], {"quantity": 1}, headers={"If-Match": "*"})
        check(r.status in (403, 404, 422), "a signed drop is not changed: %d" % r.status)
        r = self.req("admin", "PATCH", "/objects/sample_drop/%d" % d["id"], {"quantity": 1}, headers={"If-Match": "*"})
        self.refused(r, "does not change")
        r = self.req("compliance_officer", "DELETE", "/objects/sample_drop/%d" % d["id"], headers={"If-Match": "*"})
        check(r.status in (200, 204), "medical affairs deletes it: %d %s" % (r.status, r.body[:200]))
        eq(self.limit(limit["id"])["given"], 0, "given again 0")
        # a limit below what was given is refused
        eq(self.drop("pharma_rep_a", visit, limit["id"], 6).status, 201, "rep a drops 6")
        self.refused(self.req("compliance_officer", "PATCH", "/objects/sample_limit/%d" % limit["id"], {"max_units": 5},
                              headers={"If-Match": "*"}), "cannot be below the units already given", field="max_units")
        # templates: medical affairs makes next year's limits of segment C with the button
        t = self.created("compliance_officer", "sample_limit_template", {
            "name": "Cardiovex C next year", "product": self.cvx["id"], "segment": "C", "year": self.year + 1, "max_units": 4})
        r = self.req("compliance_officer", "POST", "/objects/sample_limit_template/%d/actions/pharma.apply_template" % t["id"], {})
        eq(r.status, 200, "apply: %s" % r.body[:300])
        made = r.json["result"]["created"] if "result" in r.json else r.json["created"]
        hcps = self.records("admin", "contact", "filter=" + q("segment = 'C' and license_number != null") + "&limit=500")
        eq(made, len(hcps), "one limit per licensed C HCP")
        r = self.req("compliance_officer", "POST", "/objects/sample_limit_template/%d/actions/pharma.apply_template" % t["id"], {})
        eq((r.json.get("result") or r.json)["created"], 0, "none twice")
        r = self.req("pharma_rep_a", "POST", "/objects/sample_limit_template/%d/actions/pharma.apply_template" % t["id"], {})
        check(r.status in (403, 404), "a rep runs no template: %d" % r.status)

    # -- home pages and figures -------------------------------------------------------------
    def test_homes_and_figures(self):
        r = self.req("pharma_rep_a", "GET", "/meta")
        sections = {sec["title"]["en"]: sec for sec in r.json["caller"]["home"]["sections"]}
        for title in ("Today's visits", "My HCPs due a visit", "My samples left", "My HCPs' limits nearly used"):
            check(title in sections, "the rep's home has %r: %r" % (title, list(sections)))
        # each section's list runs as the rep: their own lot is among their samples left
        lots = self.records("pharma_rep_a", "sample_lot", "filter=" + q(sections["My samples left"]["filter"]))
        check(self.lots["pharma_rep_a"] in [lot["id"] for lot in lots], "my samples left: %r" % lots)
        check(all(lot["rep"] == self.uid["pharma_rep_a"] and lot["on_hand"] > 0 for lot in lots), "only mine, with stock")
        mine = next(lot for lot in lots if lot["id"] == self.lots["pharma_rep_a"])
        check(mine["on_hand"] < 500, "drops came off the lot: %r" % mine)
        r = self.req("compliance_officer", "GET", "/meta")
        titles = [sec["title"]["en"] for sec in r.json["caller"]["home"]["sections"]]
        check("Late call reports" in titles and "Lots expiring in 60 days" in titles, "compliance home: %r" % titles)
        r = self.req("compliance_officer", "GET", "/kpis?view=dashboard")
        eq(r.status, 200, "kpis: %s" % r.body[:200])
        names = {k["name"]: k for k in r.json["kpis"]}
        for name in ("hcp_calls_per_day", "samples_given", "late_call_reports", "late_call_report_rate"):
            check(name in names, "kpi %s on the compliance dashboard: %r" % (name, list(names)))
        check(names["samples_given"]["actual"] is not None, "samples given this month: %r" % names["samples_given"])
        for report in ("hcp_coverage_by_segment", "samples_by_product", "sample_drops_by_hcp", "late_call_reports_by_rep",
                       "hcp_calls_per_rep_day"):
            for who in ("compliance_officer", "pharma_rep_a"):
                r = self.req(who, "GET", "/reports/" + report)
                eq(r.status, 200, "%s runs %s: %s" % (who, report, r.body[:200]))
        rows = self.req("compliance_officer", "GET", "/reports/late_call_reports_by_rep").json["rows"]
        check(sum(row["late"] for row in rows) >= 2, "the demo's late reports: %r" % rows)
        rows = self.req("compliance_officer", "GET", "/reports/hcp_coverage_by_segment").json["rows"]
        eq(sorted(row["segment"] for row in rows), ["A", "B", "C"], "coverage per segment")
        eq(sum(row["hcps"] for row in rows), len(self.records("admin", "contact", "filter=" + q("license_number != null")
                                                              + "&limit=1000")), "every licensed HCP")

    # -- bad input --------------------------------------------------------------------------
    def test_bad_input(self):
        c, limit = self.hcp(10)
        visit = self.visit("pharma_rep_a", c["id"])
        base = {"visit": visit, "limit": limit["id"], "lot": self.lots["pharma_rep_a"], "quantity": 1, "signed_by": "S"}
        cases = [
            ("negative", dict(base, quantity=-1)), ("zero", dict(base, quantity=0)),
            ("huge", dict(base, quantity=10 ** 12)), ("huger than int64", dict(base, quantity=10 ** 30)),
            ("a string quantity", dict(base, quantity="3")), ("a word", dict(base, quantity="three")),
            ("a fraction", dict(base, quantity=2.5)), ("null quantity", dict(base, quantity=None)),
            ("a list", dict(base, quantity=[1])), ("unknown lot", dict(base, lot=99999999)),
            ("lot as text", dict(base, lot="API-pharma_rep_a")), ("unknown visit", dict(base, visit=99999999)),
            ("unknown limit", dict(base, limit=99999999)), ("no signature", {k: v for k, v in base.items() if k != "signed_by"}),
            ("empty signature", dict(base, signed_by="")), ("oversized signature", dict(base, signed_by="x" * 5000)),
            ("a hostile signature", dict(base, signed_by="'); DROP TABLE sample_drop;--" + "x" * 200)),
            ("unknown field", dict(base, secret=1)), ("a negative id", dict(base, visit=-4)),
        ]
        for what, body in cases:
            r = self.req("pharma_rep_a", "POST", "/objects/sample_drop", body)
            check(r.status in (400, 403, 404, 422), "%s: %d %s" % (what, r.status, r.body[:200]))
            problem(r, r.status, what)
        js = {"Content-Type": "application/json"}
        eq(self.req("pharma_rep_a", "POST", "/objects/sample_drop", b"{not json", headers=js).status, 400, "malformed JSON")
        r = self.req("pharma_rep_a", "POST", "/objects/sample_drop", b"[" * 100000, headers=js)
        check(r.status in (400, 413), "deep JSON: %d" % r.status)
        eq(len(self.records("admin", "sample_drop", "filter=" + q("limit = %d" % limit["id"]))), 0, "nothing half-written")
        eq(self.limit(limit["id"])["given"], 0, "nothing given")
        # limits and lots: wrong types and ranges
        for what, body in (("negative max", {"max_units": -1}), ("year as text", {"year": "this"}),
                           ("year 1900", {"year": 1900}), ("max as text", {"max_units": "ten"})):
            values = {"contact": c["id"], "product": self.cvx["id"], "year": self.year + 3, "max_units": 1}
            values.update(body)
            r = self.req("compliance_officer", "POST", "/objects/sample_limit", values)
            eq(r.status, 422, "limit, %s: %s" % (what, r.body[:200]))
        r = self.req("compliance_officer", "POST", "/objects/sample_limit",
                     {"contact": c["id"], "product": self.cvx["id"], "year": self.year, "max_units": 3})
        check(r.status in (409, 422), "a second limit of the same HCP, product and year: %d" % r.status)
        r = self.req("admin", "POST", "/objects/contact", {"last_name": "Dup", "license_number": " api-%06d " % self.serial})
        check(r.status in (409, 422), "a licence number twice (trimmed, in capitals): %d %s" % (r.status, r.body[:200]))
        # lots and templates: types, ranges, a product that is no sample, a lot number twice for one rep
        kettle = self.one("admin", "product", "filter=" + q("code = 'GW-100'"))
        lot = {"product": self.cvx["id"], "lot_number": "API-BAD", "expiry_date": "%d-01-01" % (self.year + 1),
               "rep": self.uid["pharma_rep_a"], "received": 5}
        for what, body in (("negative stock", {"received": -1}), ("stock as text", {"received": "many"}),
                           ("expiry as text", {"expiry_date": "soon"}), ("no expiry", {"expiry_date": None}),
                           ("unknown product", {"product": 99999999}), ("a lot number twice", {"lot_number": "API-pharma_rep_a"})):
            r = self.req("admin", "POST", "/objects/sample_lot", dict(lot, **body))
            check(r.status in (409, 422), "lot, %s: %d %s" % (what, r.status, r.body[:200]))
        self.refused(self.req("admin", "POST", "/objects/sample_lot", dict(lot, product=kettle["id"])),
                     "is not a sample product", field="product")
        template = {"name": "Bad", "product": self.cvx["id"], "segment": "A", "year": self.year + 2, "max_units": 3}
        for what, body in (("segment D", {"segment": "D"}), ("no product", {"product": None}), ("max -3", {"max_units": -3})):
            r = self.req("compliance_officer", "POST", "/objects/sample_limit_template", dict(template, **body))
            eq(r.status, 422, "template, %s: %s" % (what, r.body[:200]))
        self.refused(self.req("compliance_officer", "POST", "/objects/sample_limit_template", dict(template, product=kettle["id"])),
                     "is not a sample product")
        r = self.req("admin", "POST", "/objects/account", {"name": "Pharmacy with a grade", "institution_type": "pharmacy",
                                                           "hospital_level": "tertiary_a"})
        self.refused(r, "Only a hospital has a grade", field="hospital_level")

    def test_lua_units_pass(self):
        plugin_units_pass("pharma", ("limits_test.lua", "drops_test.lua"), industry=INDUSTRY)

def main():
    return run_on_demo("pharma", Suite, (
        "demo_stories", "scenario_4_limit_10_given_8", "issue_13th_sample_refused_at_12",
        "concurrent_drops_never_pass_the_limit", "expired_lot_refused", "no_consent_no_licence",
        "late_call_report_needs_a_reason", "roles", "homes_and_figures", "bad_input", "lua_units_pass"),
        extra=["--threads", "8"], industry=INDUSTRY, prepare=add_reps)


if __name__ == "__main__":
    sys.exit(main())
