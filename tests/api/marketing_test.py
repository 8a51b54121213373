"""The marketing package's stories over REST (see marketing.sh).

A real `crm serve` over the shipped metadata/ and plugins/ on a fresh `crm demo` database. The five
acceptance stories of DOMAIN.md B1, each with B1's numbers and with others (cents, boundaries):
budget allocation and the launch guard, expenses with lines and their approval, response rate and
ROI over converted leads, even influence over several campaigns, plan actuals. Then the public
web-to-lead form, anonymously, each test from its own loopback address (the rate limit counts per
address): pooled leads with their campaign, 11th post 429, oversized 413, malformed input refused
creating nothing, the honeypot, hostile text stored as data and escaped in the HTML form.
"""
import json
import os
import sqlite3
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import AsUsers, Client, check, eq, run_on_demo  # noqa: E402

API = "/api/v1"
PUBLIC = API + "/public/marketing"
PASSWORD = "demo1234"
USERS = ("admin", "marketing_user", "marketing_manager", "sales_manager", "sales_rep1", "finance", "partner1")


def form(fields):
    return urllib.parse.urlencode(fields)


class Story(AsUsers):
    def __init__(self, server, db):
        super().__init__(server.port)
        self.server = server
        self.db = db
        self.ids = {}
        self.next_source = 20
        self.serial = 0
        self.s1 = None
        self.s2 = False

    # -- plumbing ----------------------------------------------------------------------
    def batch(self, who, ops):
        r = self.req(who, "POST", "/batch", {"operations": ops})
        eq(r.status, 200, "batch: %s" % r.body[:300])
        return [x["record"] for x in r.json["results"]]

    def approve_pending(self, approver, obj, rid):
        """The approver takes the pending request on the record: the transition fires."""
        q = urllib.parse.quote("status = 'pending' and object_name = '%s' and record_id = %d" % (obj, rid))
        pending = self.records(approver, "approval", "filter=%s&limit=20" % q)
        check(pending, "%s has a pending approval for %s %d" % (approver, obj, rid))
        r = self.req(approver, "POST", "/objects/approval/%d/approve" % pending[0]["id"], {"comment": "ok"})
        eq(r.status, 200, "%s approves: %s" % (approver, r.body[:300]))

    def launch(self, cid, needs_approval):
        self.fire("marketing_user", "campaign", cid, "launch", status=202 if needs_approval else 200)
        if needs_approval:
            eq(self.get("marketing_user", "campaign", cid)["status"], "planned", "waits for the manager")
            self.approve_pending("marketing_manager", "campaign", cid)
        eq(self.get("marketing_user", "campaign", cid)["status"], "active", "launched")

    def name(self, base):
        self.serial += 1
        return "%s %d" % (base, self.serial)

    def budget(self, amount, region="apac"):
        return self.created("marketing_manager", "market_budget", {
            "name": self.name("FY budget"), "fiscal_year": 2026, "region": region, "amount": amount,
            "status": "approved"})

    def campaign(self, budget=None, cost=None, **values):
        values.update({"name": values.get("name") or self.name("Campaign"), "starts_on": "2026-02-01",
                       "ends_on": "2026-03-31"})
        if budget:
            values["budget"] = budget
        if cost is not None:
            values["budgeted_cost"] = cost
        return self.created("marketing_user", "campaign", values)

    def expense(self, cid, lines, who="marketing_user"):
        e = self.created(who, "expense", {"title": self.name("Expense"), "campaign": cid, "category": "venue",
                                          "incurred_on": "2026-02-10"})
        self.batch(who, [{"op": "create", "object": "expense_line", "values": {
            "expense": e["id"], "description": "line %d" % i, "quantity": q, "unit_cost": u}}
            for i, (q, u) in enumerate(lines)])
        return self.get(who, "expense", e["id"])

    def anonymous(self):
        """A client of its own loopback address: its own rate-limit counts."""
        self.next_source += 1
        return Client(self.server.port, source="127.0.0.%d" % self.next_source)

    def lead_count(self):
        r = self.req("admin", "GET", "/objects/lead?count=true&limit=1")
        return r.json["total"]

    # -- setup -------------------------------------------------------------------------
    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        users = self.records("admin", "user", "fields=id,login&limit=100")
        self.ids.update({u["login"]: u["id"] for u in users})

    # -- 1. budget allocation and the launch guard ---------------------------------------
    def allocation(self, total, a, b, refused, fits):
        budget = self.budget(total)
        ca, cb = self.campaign(budget["id"], a), self.campaign(budget["id"], b)
        self.launch(ca["id"], a > 20000)
        self.launch(cb["id"], b > 20000)
        got = self.get("marketing_user", "market_budget", budget["id"])
        eq(got["allocated"], a + b, "allocated")
        eq(got["remaining"], round(total - a - b, 2), "remaining")
        cc = self.campaign(budget["id"], refused)
        r = self.fire("marketing_user", "campaign", cc["id"], "launch", status=422)
        check("cannot cover" in r.body.decode(), "the guard's message: %s" % r.body[:200])
        eq(self.get("marketing_user", "campaign", cc["id"])["status"], "planned", "not launched")
        self.patch("marketing_user", "campaign", cc["id"], {"budgeted_cost": fits})
        self.launch(cc["id"], fits > 20000)
        got = self.get("marketing_user", "market_budget", budget["id"])
        eq(got["allocated"], round(a + b + fits, 2), "allocated after C")
        eq(got["remaining"], round(total - a - b - fits, 2), "remaining after C")
        return budget, ca, cb

    def story1(self):
        """B1's budget and campaigns A and B (stories 2 and 3 go on with A), made once."""
        if not self.s1:
            self.s1 = self.allocation(200000, 50000, 120000, 40000, 30000)
        return self.s1

    def test_story1_budget_and_the_launch_guard(self):
        eq(self.story1()[0]["amount"], 200000, "APAC budget")

    def test_story1_other_numbers_to_the_cent(self):
        # exactly at the approval threshold (no approval), and a launch that fills the budget to the cent
        self.allocation(75000.5, 20000, 30000.25, 25000.26, 25000.25)

    # -- 2. expenses with lines: approval above 5,000 and the cost that counts -----------------
    def test_story2_expenses_and_their_approval(self):
        self.story2()

    def story2(self):
        """B1's expenses on A, made once (story 3 goes on with A's cost)."""
        if self.s2:
            return
        self.s2 = True
        budget, ca, _ = self.story1()
        e12 = self.expense(ca["id"], [(1, 12000)])
        e8 = self.expense(ca["id"], [(4, 1500), (2, 1000)])
        e5 = self.expense(ca["id"], [(1, 5000)])
        eq((e12["amount"], e8["amount"], e5["amount"]), (12000, 8000, 5000), "amounts are the lines' sums")
        for e in (e12, e8, e5):
            self.fire("marketing_user", "expense", e["id"], "submit")
        self.fire("marketing_user", "expense", e12["id"], "approve", status=202)
        eq(self.get("marketing_user", "expense", e12["id"])["status"], "submitted", "pending the manager")
        self.approve_pending("marketing_manager", "expense", e12["id"])
        self.fire("marketing_user", "expense", e8["id"], "approve", status=202)
        self.approve_pending("marketing_manager", "expense", e8["id"])
        c = self.get("marketing_user", "campaign", ca["id"])
        eq(c["actual_cost"], 20000, "approved expenses only (the submitted 5,000 does not count)")
        eq(self.get("marketing_user", "market_budget", budget["id"])["spent"], 20000, "the budget's spend")
        # finance pays; a marketer may not
        self.fire("marketing_user", "expense", e12["id"], "pay", status=403)
        self.fire("finance", "expense", e12["id"], "pay")
        eq(self.get("marketing_user", "campaign", ca["id"])["actual_cost"], 20000, "paid still counts")
        # a submitted expense's lines are frozen
        line = self.records("marketing_user", "expense_line", "filter=expense%%20%%3D%%20%d" % e5["id"])[0]
        self.patch("marketing_user", "expense_line", line["id"], {"quantity": 2}, status=422)

    def test_story2_other_numbers_cents_and_the_threshold(self):
        budget = self.budget(50000)
        c = self.campaign(budget["id"], 15000)
        self.launch(c["id"], False)
        small = self.expense(c["id"], [(3, 1234.56), (1, 99.99)])
        exact = self.expense(c["id"], [(2, 2500)])
        over = self.expense(c["id"], [(1, 5000.01)])
        eq((small["amount"], exact["amount"], over["amount"]), (3803.67, 5000, 5000.01), "line sums to the cent")
        for e in (small, exact, over):
            self.fire("marketing_user", "expense", e["id"], "submit")
        self.fire("marketing_user", "expense", small["id"], "approve")
        self.fire("marketing_user", "expense", exact["id"], "approve")     # 5,000 is not above 5,000
        self.fire("marketing_user", "expense", over["id"], "approve", status=202)
        eq(self.get("marketing_user", "campaign", c["id"])["actual_cost"], 8803.67, "before the approval")
        self.approve_pending("marketing_manager", "expense", over["id"])
        eq(self.get("marketing_user", "campaign", c["id"])["actual_cost"], 13803.68, "after it")
        # the budget guard: what is left is 36,196.32
        big = self.expense(c["id"], [(1, 36196.33)])
        self.fire("marketing_user", "expense", big["id"], "submit")
        r = self.fire("marketing_manager", "expense", big["id"], "approve", status=422)
        check("does not cover" in r.body.decode(), "the budget guard: %s" % r.body[:200])

    # -- 3. members, conversions and ROI -----------------------------------------------------
    def members_and_deals(self, cid, total, responded, converted, won, open_amount):
        """total lead members: responded (converted among them) and sent; converted leads' deals, won ones at won."""
        leads = self.batch("marketing_user", [{"op": "create", "object": "lead", "values": {
            "last_name": "Member %d" % i, "company": "Member Co %d" % i, "email": "m%d@example.com" % i,
            "estimated_value": 1000}} for i in range(total)])
        self.batch("marketing_user", [{"op": "create", "object": "campaign_member", "values": {
            "campaign": cid, "lead": lead["id"], "status": "responded" if i < responded else "sent"}}
            for i, lead in enumerate(leads)])
        deals = []
        for lead in leads[:converted]:
            self.fire("admin", "lead", lead["id"], "convert")
            deals.append(self.get("admin", "lead", lead["id"])["converted_opportunity"])
        for i, deal in enumerate(deals):
            amount = won[i] if i < len(won) else open_amount
            self.patch("admin", "opportunity", deal, {"amount": amount, "close_date": "2026-03-15"})
            eq(self.get("admin", "opportunity", deal)["campaign"], cid, "the deal's primary campaign")
            if i < len(won):
                for t in ("qualify", "propose", "negotiate", "win"):
                    self.fire("admin", "opportunity", deal, t)
        return deals

    def test_story3_response_rate_and_roi(self):
        self.story2()
        budget, ca, _ = self.story1()
        parent = self.campaign(budget["id"], name=self.name("Programme"))
        self.patch("marketing_user", "campaign", ca["id"], {"parent": parent["id"]})
        self.members_and_deals(ca["id"], 100, 30, 10, [20000, 30000, 40000], 10000)
        self.fire("marketing_user", "campaign", ca["id"], "complete")
        c = self.get("marketing_user", "campaign", ca["id"])
        eq((c["members"], c["responded"], c["leads_converted"]), (100, 30, 10), "members")
        eq(c["response_rate"], 30, "response rate")
        eq(c["opportunities"], 10, "ten deals")
        eq(c["won_revenue"], 90000, "won revenue (even model, one campaign)")
        eq(c["pipeline"], 70000, "the seven open deals")
        eq(c["roi"], 350, "ROI = (90,000 - 20,000) / 20,000")
        eq(c["cost_per_lead"], 200, "cost per lead = 20,000 / 100 leads")
        p = self.get("marketing_user", "campaign", parent["id"])
        eq((p["child_cost"], p["child_revenue"], p["total_roi"]), (20000, 90000, 350), "the parent's totals")
        self.s3 = True

    def test_story3_other_numbers_rounding(self):
        budget = self.budget(10000)
        c = self.campaign(budget["id"], 1000)
        self.launch(c["id"], False)
        e = self.expense(c["id"], [(1, 333.33)])
        self.fire("marketing_user", "expense", e["id"], "submit")
        self.fire("marketing_user", "expense", e["id"], "approve")
        self.members_and_deals(c["id"], 7, 3, 2, [1000.01], 500)
        c = self.get("marketing_user", "campaign", c["id"])
        eq(c["response_rate"], 42.86, "3 of 7")
        eq(c["won_revenue"], 1000.01, "won")
        eq(c["roi"], 200.01, "(1000.01 - 333.33) / 333.33, to the hundredth")

    # -- 4. influence over several campaigns ---------------------------------------------------
    def influence(self, n, amount):
        account = self.created("admin", "account", {"name": self.name("Influence GmbH")})
        contact = self.created("admin", "contact", {"last_name": "Touch", "account": account["id"]})
        camps = [self.campaign(name=self.name("Touch")) for _ in range(n)]
        for i, c in enumerate(camps):
            self.created("marketing_user", "campaign_member", {
                "campaign": c["id"], "contact": contact["id"], "status": "responded",
                "responded_at": "2026-01-%02dT09:00:00Z" % (i + 1)})
        deal = self.created("admin", "opportunity", {"name": "Touched", "account": account["id"], "amount": amount,
                                                     "close_date": "2026-03-01"})
        for t in ("qualify", "propose", "negotiate", "win"):
            self.fire("admin", "opportunity", deal["id"], t)
        rows = self.records("admin", "campaign_influence", "filter=%s&sort=id&limit=50" % urllib.parse.quote(
            "opportunity = %d" % deal["id"]))
        return camps, rows

    def test_story4_even_influence(self):
        camps, rows = self.influence(2, 60000)
        even = sorted((r["campaign"], r["influence"], r["amount_share"]) for r in rows if r["model"] == "even")
        eq(even, [(camps[0]["id"], 50, 30000), (camps[1]["id"], 50, 30000)], "50% / 50%")
        check(all(r["opportunity_won"] and not r["opportunity_open"] for r in rows), "won, not open")
        first = [r for r in rows if r["model"] == "first_touch"]
        last = [r for r in rows if r["model"] == "last_touch"]
        eq([(r["campaign"], r["amount_share"]) for r in first], [(camps[0]["id"], 60000)], "first touch")
        eq([(r["campaign"], r["amount_share"]) for r in last], [(camps[1]["id"], 60000)], "last touch")
        eq(self.get("marketing_user", "campaign", camps[1]["id"])["won_revenue"], 30000, "B's won revenue")

    def test_story4_other_numbers_thirds_add_up(self):
        camps, rows = self.influence(3, 100)
        even = sorted((r["campaign"], r["influence"], r["amount_share"]) for r in rows if r["model"] == "even")
        eq(even, [(camps[0]["id"], 33.33, 33.34), (camps[1]["id"], 33.33, 33.33), (camps[2]["id"], 33.33, 33.33)],
           "thirds, the odd cent to the first touch")

    # -- 5. plan actuals -------------------------------------------------------------------------
    def plan(self, target, deals, expect_actual, expect_attainment):
        rep = self.created("admin", "user", {"login": self.name("planrep").replace(" ", "_"), "name": "Plan Rep",
                                             "role": "sales_rep", "kind": "employee", "active": True})
        account = self.created("admin", "account", {"name": self.name("Plan AG")})
        for amount, close, stage in deals:
            d = self.created("admin", "opportunity", {"name": "Plan deal", "account": account["id"], "amount": amount,
                                                      "close_date": close, "owner": rep["id"]})
            for t in (("qualify", "propose", "negotiate", "win") if stage == "won" else ("lose",)):
                self.fire("admin", "opportunity", d["id"], t)
        plan = self.created("sales_manager", "sales_plan", {"name": self.name("Plan Q1"), "period": "quarter",
                                                            "starts_on": "2026-01-01", "ends_on": "2026-03-31"})
        line = self.created("sales_manager", "plan_target", {"plan": plan["id"], "user": rep["id"],
                                                             "target_amount": target})
        eq(line["period_start"], "2026-01-01", "the quota's period")
        self.patch("sales_manager", "plan_target", line["id"], {"actual_amount": 1}, status=422)   # read-only
        self.fire("sales_manager", "sales_plan", plan["id"], "submit")
        r = self.req("sales_manager", "POST", "/objects/sales_plan/%d/actions/marketing.refresh_plan" % plan["id"], {})
        eq(r.status, 200, "refresh: %s" % r.body[:300])
        line = self.get("sales_manager", "plan_target", line["id"])
        eq((line["actual_amount"], line["attainment"]), (expect_actual, expect_attainment), "actual, attainment")
        plan = self.get("sales_manager", "sales_plan", plan["id"])
        eq(plan["attainment"], expect_attainment, "the plan's attainment")
        # the kpi over the quotas (admin, everyone) against SQL on the database file
        r = self.req("admin", "GET", "/kpis/plan_attainment?scope=all&day=2026-02-15")
        eq(r.status, 200, "kpi: %s" % r.body[:200])
        k = r.json["kpis"][0]
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            actual, target = con.execute("SELECT coalesce(sum(actual_amount), 0), coalesce(sum(target_amount), 0) "
                                         "FROM plan_target WHERE deleted_at IS NULL AND period_start >= '2026-01-01' "
                                         "AND period_start < '2026-04-01'").fetchone()
        finally:
            con.close()
        check(abs(k["actual"] - actual) < 0.005 and abs(k["target"] - target) < 0.005,
              "kpi %r/%r, sql %r/%r" % (k["actual"], k["target"], actual, target))

    def test_story5_plan_attainment(self):
        self.plan(100000, [(90000, "2026-02-10", "won"), (25000, "2026-04-20", "won")], 90000, 90)

    def test_story5_other_numbers_period_edges(self):
        self.plan(80000.5, [(40000.25, "2026-03-31", "won"), (1, "2026-04-01", "won"), (5000, "2026-01-01", "won"),
                            (9999, "2026-02-02", "lost")], 45000.25, 56.25)

    # -- roles ---------------------------------------------------------------------------------
    def test_roles_partner_mdf_and_closed_objects(self):
        p1 = self.get("admin", "user", self.ids["partner1"])["partner"]
        c = self.campaign(partner=p1)
        e = self.created("partner1", "expense", {"title": "MDF: co-branded flyers", "campaign": c["id"],
                                                 "category": "partner_mdf", "partner": p1, "incurred_on": "2026-02-01"})
        self.created("partner1", "expense_line", {"expense": e["id"], "description": "Flyers", "quantity": 1000,
                                                  "unit_cost": 0.25})
        eq(self.get("partner1", "expense", e["id"])["amount"], 250, "the partner's MDF claim")
        # their rule is "status = 'draft'": they submit the draft (the workflow allows the move), then it is locked
        eq(self.fire("partner1", "expense", e["id"], "submit").json["record"]["status"], "submitted", "the partner submits")
        eq(self.req("partner1", "PATCH", "/objects/expense/%d" % e["id"], {"title": "changed later"},
                    headers={"If-Match": "*"}).status, 403, "a submitted claim is no longer the partner's to change")
        r = self.req("partner1", "POST", "/objects/expense/%d/transitions/approve" % e["id"], {})
        check(r.status in (403, 404, 409), "a partner never approves their own claim: %d" % r.status)
        eq(self.get("admin", "expense", e["id"])["status"], "submitted", "still waiting for marketing")
        r = self.req("partner1", "POST", "/objects/expense", {"title": "x", "category": "venue", "partner": p1,
                                                              "incurred_on": "2026-02-01"})
        check(r.status in (403, 422), "a partner files MDF only: %d" % r.status)
        eq(self.req("partner1", "GET", "/objects/market_budget").status in (403, 404), True, "budgets are closed")
        eq(self.req("sales_rep1", "GET", "/objects/expense").status in (403, 404), True, "expenses closed to reps")
        eq(self.req("marketing_user", "POST", "/objects/market_budget", {"name": "x", "amount": 1}).status, 403,
           "only the manager creates budgets")

    # -- the public web-to-lead form -------------------------------------------------------------
    def web_campaign(self, **values):
        budget = self.budget(100000)
        c = self.campaign(budget["id"], 1000, **values)
        self.launch(c["id"], False)
        return self.get("admin", "campaign", c["id"])

    # -- invitations through the outbox (plugins/marketing/objects/templates.yaml) ---------------
    def test_invitations_queue_emails_in_the_outbox(self):
        """Send invitations: one e-mail per targeted member with an address, queued in the outbox in the
        action's transaction (tests/api/outbox.sh delivers such messages to a real SMTP server), each member
        marked sent; opted-out and addressless members are left; a second click sends nothing; a planned
        campaign refuses."""
        budget = self.budget(50000)
        c = self.campaign(budget["id"], 5000, name=self.name("Invite <Summit> & Co"))
        planned = self.req("marketing_user", "POST", "/objects/campaign/%d/actions/marketing.send_invitations" % c["id"], {})
        check(planned.status in (409, 422), "a planned campaign sends nothing: %d %s" % (planned.status, planned.body[:200]))
        self.launch(c["id"], False)
        c = self.get("marketing_user", "campaign", c["id"])
        people = []
        for i, mail in enumerate(["ana.%d@example.com" % self.serial, "bo.%d@example.com" % self.serial, None]):
            lead = self.created("admin", "lead", {"last_name": "Invitee %d" % i, "first_name": "名%d" % i,
                                                  "company": "Guest Co", "email": mail})
            people.append(("lead", lead["id"], mail))
        account = self.created("admin", "account", {"name": self.name("Invited AG")})
        contact = self.created("admin", "contact", {"last_name": "Kontakt", "first_name": "Karl", "account": account["id"],
                                                    "email": "karl.%d@example.com" % self.serial})
        people.append(("contact", contact["id"], contact["email"]))
        opted = self.created("admin", "lead", {"last_name": "Nope", "company": "No Co", "email": "nope.%d@example.com" % self.serial})
        members = {}
        for kind, pid, mail in people:
            members[pid] = self.created("marketing_user", "campaign_member", {"campaign": c["id"], kind: pid})["id"]
        out = self.created("marketing_user", "campaign_member", {"campaign": c["id"], "lead": opted["id"], "status": "opted_out"})
        r = self.req("marketing_user", "POST", "/objects/campaign/%d/actions/marketing.send_invitations" % c["id"], {})
        eq(r.status, 200, "send: %s" % r.body[:300])
        body = json.dumps(r.json)
        check('"sent": 3' in body and '"without_address": 1' in body, "the action's counts: %s" % body)
        q = urllib.parse.quote("template = 'campaign_invitation' and object_name = 'campaign_member'")
        queued = [m for m in self.records("admin", "outbox_message", "filter=%s&limit=500" % q)
                  if m["record_id"] in members.values()]
        eq(sorted(m["to"] for m in queued), sorted(p[2] for p in people if p[2]), "one e-mail per address")
        for m in queued:
            check(m["channel"] == "email" and m["status"] in ("queued", "failed"), "queued: %r" % m)
            eq(m["subject"], "You are invited: Invite <Summit> & Co %d" % int(c["name"].split()[-1]), "subject")
            check("Invite &lt;Summit&gt; &amp; Co" in m["body"] and "/api/v1/public/marketing/form/%s" % c["number"] in m["body"],
                  "escaped name and the form link: %s" % m["body"][:300])
        statuses = {pid: self.get("marketing_user", "campaign_member", mid)["status"] for pid, mid in members.items()}
        eq(sorted(statuses.values()), ["sent", "sent", "sent", "targeted"], "sent, and the addressless one left")
        eq(self.get("marketing_user", "campaign_member", out["id"])["status"], "opted_out", "opted out stays")
        r = self.req("marketing_user", "POST", "/objects/campaign/%d/actions/marketing.send_invitations" % c["id"], {})
        check('"sent": 0' in json.dumps(r.json), "a second click sends nothing: %s" % r.body[:200])
        check(self.req("marketing_user", "GET", "/objects/outbox_message?limit=1").status in (403, 404),
              "only admins read the outbox")

    # -- reports across objects (plugins/marketing/objects/reports.yaml) -----------------------
    def test_reports_equal_sql(self):
        """The campaign reports against SQL on the database file: story 3's funnel for campaign A, then every
        campaign's credited revenue, each type's return and each month's spend, as the marketing user."""
        if not getattr(self, "s3", False):        # story 3 made once, whichever test runs first
            self.test_story3_response_rate_and_roi()
        _, ca, _ = self.story1()
        r = self.req("marketing_user", "GET", "/reports/campaign_funnel?campaign=%d" % ca["id"])
        eq(r.status, 200, "funnel: %s" % r.body[:300])
        row = r.json["rows"][0]
        eq([row[k] for k in ("members", "responded", "converted", "opportunities", "won")], [100, 30, 10, 10, 3],
           "campaign A's funnel: members, responded, converted, deals, won")
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            live = "deleted_at IS NULL"
            want = {i: (round(w or 0, 2), d, round(p or 0, 2), c) for i, w, d, p, c in con.execute(
                "SELECT c.id, (SELECT sum(amount_share) FROM campaign_influence WHERE campaign = c.id AND " + live +
                " AND model = 'even' AND opportunity_won = 1), (SELECT count(DISTINCT o.id) FROM campaign_influence i "
                "JOIN opportunity o ON o.id = i.opportunity AND o." + live + " WHERE i.campaign = c.id AND i." + live +
                " AND o.stage = 'won'), (SELECT sum(amount_share) FROM campaign_influence WHERE campaign = c.id AND " +
                live + " AND model = 'even' AND opportunity_open = 1), c.actual_cost FROM campaign c WHERE c." + live)}
            types = {t: (n, round(c or 0, 2), round(w or 0, 2)) for t, n, c, w in con.execute(
                "SELECT type, count(*), sum(actual_cost), sum(won_revenue) FROM campaign WHERE " + live + " GROUP BY type")}
            months = {m: round(a or 0, 2) for m, a in con.execute(
                "SELECT substr(incurred_on, 1, 7), sum(amount) FROM expense WHERE " + live +
                " AND status IN ('approved', 'paid') GROUP BY 1")}
        finally:
            con.close()
        r = self.req("marketing_user", "GET", "/reports/campaign_revenue")
        eq(r.status, 200, "revenue: %s" % r.body[:300])
        rows = r.json["rows"]
        check(rows and len(rows) == min(12, len(want)), "the top campaigns: %d of %d" % (len(rows), len(want)))
        eq([x["won_revenue"] or 0 for x in rows], sorted([w[0] for w in want.values()], reverse=True)[:len(rows)],
           "sorted by credited won revenue")
        for x in rows:
            eq((round(x["won_revenue"] or 0, 2), x["deals_won"], round(x["pipeline"] or 0, 2), x["cost"]),
               want[x["id"]], "campaign %d's row" % x["id"])
        r = self.req("marketing_user", "GET", "/reports/roi_by_campaign_type")
        got = {x["type"]: (x["campaigns"], round(x["cost"] or 0, 2), round(x["won_revenue"] or 0, 2)) for x in r.json["rows"]}
        eq(got, types, "each campaign type's return")
        r = self.req("marketing_user", "GET", "/reports/marketing_spend_by_month")
        got = {x["incurred_on_month"]: round(x["approved"] or 0, 2) for x in r.json["rows"]}
        eq({m: a for m, a in got.items() if a}, {m: a for m, a in months.items() if a}, "approved spend by month")
        eq(self.req("marketing_user", "GET", "/reports/campaign_funnel?campaign=abc").status, 400, "a bad parameter")
        eq(self.req("partner1", "GET", "/reports/campaign_revenue").status, 403, "a partner may not read campaigns")

    def test_web_to_lead_json_and_form_posts_make_pooled_leads(self):
        c = self.web_campaign(thank_you_url="https://example.com/thanks")
        client = self.anonymous()
        r = client.post(PUBLIC + "/web-to-lead", {"first_name": "Ann", "last_name": "Lee", "company": "Acme",
                                                  "email": "ann@example.com", "message": "Call me",
                                                  "campaign": c["number"]}, auth=False)
        eq(r.status, 201, "json post: %s" % r.body[:300])
        lead = self.get("admin", "lead", r.json["lead"])
        eq((lead["owner"], lead["campaign"], lead["source"], lead["note"]), (None, c["id"], "web", "Call me"),
           "a pooled lead with its campaign")
        members = self.records("admin", "campaign_member", "filter=%s" % urllib.parse.quote("lead = %d" % lead["id"]))
        eq([(m["campaign"], m["status"]) for m in members], [(c["id"], "responded")], "a responding member")
        check(members[0]["responded_at"], "when it responded")
        check(any(x["id"] == lead["id"] for x in self.records("sales_rep1", "lead", "filter=owner%20%3D%20null&limit=1000")),
              "reps see it in the pool")
        # a browser's form post (the campaign by id): 303 to the campaign's thank-you page
        r = client.request("POST", PUBLIC + "/web-to-lead", body=form({
            "last_name": "Form", "company": "Form Co", "phone": "+49 89 1234567", "campaign": str(c["id"])}),
            content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 303, "form post: %s" % r.body[:300])
        eq(r.header("Location"), "https://example.com/thanks", "to the campaign's thank-you page")
        # without one: the built-in page
        plain = self.web_campaign()
        r = client.request("POST", PUBLIC + "/web-to-lead", body=form({
            "last_name": "Plain", "company": "Plain Co", "email": "p@example.com", "campaign": plain["number"]}),
            content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 303, "form post")
        loc = r.header("Location")
        eq(loc, PUBLIC + "/thanks?campaign=" + plain["number"], "the built-in thank-you page")
        r = client.get(loc, auth=False)
        eq(r.status, 200, "thanks")
        check((r.header("Content-Type") or "").startswith("text/html") and b"Thank you" in r.body, "a page")
        # an admin's credentials change nothing: still the guest, still pooled
        r = client.post(PUBLIC + "/web-to-lead", {"last_name": "Cookie", "company": "C", "email": "c@example.com"},
                        headers=self.h["admin"], auth=False)
        eq(r.status, 201, "with an admin's token")
        eq(self.get("admin", "lead", r.json["lead"])["owner"], None, "not the admin's")

    def test_web_to_lead_eleventh_post_is_429(self):
        client = self.anonymous()
        for i in range(10):
            r = client.post(PUBLIC + "/web-to-lead", {"last_name": "Rate %d" % i, "company": "R",
                                                      "email": "r%d@example.com" % i}, auth=False)
            eq(r.status, 201, "post %d: %s" % (i + 1, r.body[:200]))
        before = self.lead_count()
        r = client.post(PUBLIC + "/web-to-lead", {"last_name": "Rate 11", "company": "R", "email": "r@example.com"},
                        auth=False)
        eq(r.status, 429, "the 11th")
        check(r.header("Retry-After"), "Retry-After")
        eq(self.lead_count(), before, "nothing created")
        r = self.anonymous().post(PUBLIC + "/web-to-lead", {"last_name": "Other", "company": "O",
                                                            "email": "o@example.com"}, auth=False)
        eq(r.status, 201, "another address is not limited")

    def test_web_to_lead_refuses_bad_input_creating_nothing(self):
        planned = self.campaign(name=self.name("Not yet"))
        client = self.anonymous()
        before = self.lead_count()
        big = "x" * 9000
        cases = [
            ("oversized", {"last_name": big, "company": "A", "email": "a@example.com"}, None, (413,)),
            ("malformed json", b'{"last_name": "A", ', "application/json", (400,)),
            ("wrong type", {"last_name": ["A"], "company": "A", "email": "a@example.com"}, None, (422,)),
            ("missing name", {"company": "A", "email": "a@example.com"}, None, (422,)),
            ("bad email", {"last_name": "A", "company": "A", "email": "not-an-address"}, None, (422,)),
            ("no contact", {"last_name": "A", "company": "A"}, None, (422,)),
            ("too long", {"last_name": "A" * 81, "company": "A", "email": "a@example.com"}, None, (422,)),
            ("planned campaign", {"last_name": "A", "company": "A", "email": "a@example.com",
                                  "campaign": planned["number"]}, None, (422,)),
            ("hostile campaign", {"last_name": "A", "company": "A", "email": "a@example.com",
                                  "campaign": "CMP-1' or '1'='1"}, None, (422,)),
        ]
        for i, (what, body, ctype, statuses) in enumerate(cases):
            if i and i % 8 == 0:
                client = self.anonymous()
            r = client.request("POST", PUBLIC + "/web-to-lead", body=body, content_type=ctype, auth=False)
            check(r.status in statuses, "%s: %d %s" % (what, r.status, r.body[:200]))
        c2 = self.anonymous()
        r = c2.request("POST", PUBLIC + "/web-to-lead", body="last_name=A", content_type="text/plain", auth=False)
        eq(r.status, 415, "another type")
        r = c2.request("POST", PUBLIC + "/web-to-lead", body="last_name=A&last_name=B&company=A&email=a%40x.com",
                       content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 400, "a field given twice")
        eq(self.lead_count(), before, "nothing was created")

    def test_web_to_lead_honeypot_keeps_nothing(self):
        c = self.web_campaign()
        client = self.anonymous()
        before = self.lead_count()
        r = client.post(PUBLIC + "/web-to-lead", {"last_name": "Bot", "company": "Bot", "email": "b@example.com",
                                                  "website": "http://spam.example", "campaign": c["number"]}, auth=False)
        eq(r.status, 202, "accepted")
        r = client.request("POST", PUBLIC + "/web-to-lead", body=form({
            "last_name": "Bot", "company": "Bot", "email": "b@example.com", "website": "x", "campaign": c["number"]}),
            content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 303, "a robot's browser post looks answered")
        eq(self.lead_count(), before, "nothing kept")
        eq(self.get("admin", "campaign", c["id"])["members"], 0, "no member")

    def test_web_form_page_escapes_hostile_text(self):
        hostile = "<img src=x onerror=alert(1)> \"Launch\" & 'Co'"
        c = self.web_campaign(name=hostile)
        client = self.anonymous()
        r = client.get(PUBLIC + "/form/" + c["number"], auth=False)
        eq(r.status, 200, "the form: %s" % r.body[:200])
        body = r.body.decode()
        check((r.header("Content-Type") or "").startswith("text/html"), "html")
        check("<img" not in body and "&lt;img src=x onerror=alert(1)&gt; &quot;Launch&quot; &amp; &#39;Co&#39;" in body,
              "escaped: %s" % body[:600])
        check('name="website"' in body and 'action="%s/web-to-lead"' % PUBLIC in body, "honeypot and target")
        check("default-src 'none'" in (r.header("Content-Security-Policy") or ""), "a strict CSP")
        for path in ("/form/CMP-99999999", "/form/%3Cscript%3E", "/form/1%27%20or%20%271%27%3D%271"):
            r = client.get(PUBLIC + path, auth=False)
            eq(r.status, 404, "unknown campaign %s" % path)
            check(b"<script>" not in r.body, "nothing echoed")
        # a hostile name posted is stored as data, and the form shows the campaign's name escaped
        r = client.post(PUBLIC + "/web-to-lead", {"last_name": "<script>alert(1)</script>", "company": "X",
                                                  "email": "x@example.com", "campaign": c["number"]}, auth=False)
        eq(r.status, 201, "stored")
        eq(self.get("admin", "lead", r.json["lead"])["last_name"], "<script>alert(1)</script>", "as data")


def main():
    return run_on_demo("marketing", Story, (
        "story1_budget_and_the_launch_guard", "story1_other_numbers_to_the_cent", "story2_expenses_and_their_approval",
        "story2_other_numbers_cents_and_the_threshold", "story3_response_rate_and_roi", "story3_other_numbers_rounding",
        "story4_even_influence", "story4_other_numbers_thirds_add_up", "story5_plan_attainment",
        "story5_other_numbers_period_edges", "roles_partner_mdf_and_closed_objects",
        "web_to_lead_json_and_form_posts_make_pooled_leads", "web_to_lead_eleventh_post_is_429",
        "web_to_lead_refuses_bad_input_creating_nothing", "web_to_lead_honeypot_keeps_nothing",
        "web_form_page_escapes_hostile_text", "reports_equal_sql",
        "invitations_queue_emails_in_the_outbox"))


if __name__ == "__main__":
    sys.exit(main())
