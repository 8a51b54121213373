"""Reports across objects (see report.sh).

A real `crm serve` over the shipped metadata/ plus tests/api/report/campaign.yaml (campaign and
campaign_member, and reports that walk campaign -> members -> leads -> opportunities), on a
`crm demo` database to which the test adds campaigns, members and converted leads through the API,
with duplicates on purpose: two members of one campaign on the same lead, two leads converted into the
same opportunity, a deleted member and a deleted opportunity. Every figure the server gives is
compared with one computed here in Python from the raw rows (sets, not SQL joins), for the admin and
for a sales rep under the rep's row rules (their leads and the public pool, their team's deals).
"""
import datetime
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Client, check, crm_binary, eq, login, problem, run_on_demo  # noqa: E402

API = "/api/v1"
PASSWORD = "demo1234"
FIXTURE = os.path.join(ROOT, "tests", "api", "report", "campaign.yaml")
# The rep and the marketing user may read the fixture's objects (granted in the copy of roles.yaml).
GRANTS = {"role: sales_rep": "  campaign: { read: all }\n  campaign_member: { read: all }\n",
          "role: marketing_user": "  campaign: { read: all }\n  campaign_member: { read: all }\n"}


def metadata_copy(work, extra=None):
    """metadata/*.yaml, the fixture and the grants, plus extra {file: text}, in work/<dir>."""
    meta = os.path.join(work, "metadata-%d" % random.randrange(1 << 30))
    os.makedirs(meta)
    for name in os.listdir(os.path.join(ROOT, "metadata")):
        if name.endswith(".yaml"):
            shutil.copy(os.path.join(ROOT, "metadata", name), meta)
    shutil.copy(FIXTURE, meta)
    # The fixture is its own campaign chain: the marketing package (which ships the real one) is left out.
    with open(os.path.join(meta, "app.yaml")) as f:
        app = f.read()
    with open(os.path.join(meta, "app.yaml"), "w") as f:
        f.write(re.sub(r"^plugins: \[(.*)\]$", lambda m: "plugins: [%s]" % ", ".join(
            p for p in m.group(1).split(", ") if p != "marketing"), app, flags=re.M))
    with open(os.path.join(meta, "roles.yaml")) as f:
        roles = f.read()
    for role, grant in GRANTS.items():
        head, sep, tail = roles.partition(role)
        at = tail.index("objects:\n") + len("objects:\n")
        roles = head + sep + tail[:at] + grant + tail[at:]
    with open(os.path.join(meta, "roles.yaml"), "w") as f:
        f.write(roles)
    for name, text in (extra or {}).items():
        with open(os.path.join(meta, name), "w") as f:
            f.write(text)
    return meta


def q(params):
    return "?" + urllib.parse.urlencode(params) if params else ""


class Suite:
    def __init__(self, server, db, work):
        self.server = server
        self.db = db
        self.work = work
        self.c = Client(server.port)
        self.h = {}

    def get(self, who, path):
        return self.c.request("GET", API + path, headers=self.h[who], auth=False)

    def report(self, who, name, params=None):
        r = self.get(who, "/reports/%s%s" % (name, q(params)))
        eq(r.status, 200, "report %s %r as %s: %s" % (name, params, who, r.body[:300]))
        return r.json

    def rows(self, sql, args=()):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    def batch(self, operations):
        r = self.c.request("POST", API + "/batch", body={"operations": operations}, headers=self.h["admin"],
                           auth=False)
        eq(r.status, 200, "batch: %s" % r.body[:300])
        return [item["record"]["id"] for item in r.json["results"]]

    # --- setup: the chain with its duplicates ---------------------------------------------------

    def test_setup(self):
        for who in ("admin", "sales_rep1", "sales_manager", "marketing_user", "service_agent"):
            self.h[who] = login(self.server.port, who, PASSWORD)
        self.ids = {login_name: uid for uid, login_name in self.rows("SELECT id, login FROM user")}
        rng = random.Random(15)
        opportunities = [i for (i,) in self.rows("SELECT id FROM opportunity WHERE deleted_at IS NULL ORDER BY id")]
        check(len(opportunities) > 40, "demo opportunities")
        owners = [self.ids["sales_rep1"], self.ids["sales_rep2"], self.ids["sales_manager"], None]
        leads = []
        for n in range(60):
            values = {"last_name": "Report %d" % n, "company": "Chain %d" % n,
                      "converted_opportunity": rng.choice(opportunities[:30])}   # repeats: shared opportunities
            if owners[n % 4]:
                values["owner"] = owners[n % 4]
            leads.append({"op": "create", "object": "lead", "values": values})
        self.leads = self.batch(leads)
        self.campaigns = self.batch([{"op": "create", "object": "campaign", "values": {
            "name": "Campaign %s" % name, "kind": kind, "budget": budget}}
            for name, kind, budget in (("A", "email", 1000), ("B", "event", 2500), ("C", "webinar", 0),
                                       ("D", "email", 400))])
        members = []
        for n in range(140):
            campaign = self.campaigns[n % 3]     # D has no members
            members.append({"op": "create", "object": "campaign_member", "values": {
                "campaign": campaign, "lead": rng.choice(self.leads),   # repeats: one lead twice in a campaign
                "status": rng.choice(["sent", "sent", "responded", "converted"])}})
        self.members = self.batch(members)
        # a deleted member and a deleted opportunity count nowhere
        r = self.c.request("DELETE", API + "/objects/campaign_member/%d" % self.members[0], headers=self.h["admin"],
                           auth=False)
        eq(r.status, 204, "delete a member")
        used = [o for (o,) in self.rows("SELECT converted_opportunity FROM lead WHERE id IN (%s)"
                                        % ",".join(map(str, self.leads)))]
        self.deleted_opportunity = used[1]
        r = self.c.request("DELETE", API + "/objects/opportunity/%d" % used[1], headers=self.h["admin"], auth=False)
        eq(r.status, 204, "delete an opportunity: %s" % r.body[:200])

    # --- the independent computation -------------------------------------------------------------

    def team_of(self, boss):
        team, frontier = {boss}, {boss}
        (team_id,) = self.rows("SELECT team FROM user WHERE id = ?", (boss,))[0]
        if team_id is not None:
            team |= {uid for (uid,) in self.rows("SELECT id FROM user WHERE team = ?", (team_id,))}
        while frontier:
            nxt = {uid for (uid,) in self.rows("SELECT id FROM user WHERE manager IN (%s)"
                                               % ",".join(map(str, frontier)))} - team
            team |= nxt
            frontier = nxt
        return team

    def chain(self, who):
        """Per campaign: the live members, the leads and opportunities they reach, as `who` may read them."""
        me = self.ids.get(who)
        lead_ok = (lambda owner: True) if who == "admin" else (lambda owner: owner in (me, None))
        team = self.team_of(me) if who != "admin" else None
        opp_ok = (lambda owner: True) if who == "admin" else (lambda owner: owner in team)
        leads = {i: conv for i, conv, owner in self.rows(
            "SELECT id, converted_opportunity, owner FROM lead WHERE deleted_at IS NULL") if lead_ok(owner)}
        opps = {i: (stage, amount) for i, stage, amount, owner in self.rows(
            "SELECT id, stage, amount, owner FROM opportunity WHERE deleted_at IS NULL") if opp_ok(owner)}
        out = {}
        for cid, name, budget in self.rows("SELECT id, name, budget FROM campaign WHERE deleted_at IS NULL"):
            members = self.rows("SELECT lead, status FROM campaign_member WHERE deleted_at IS NULL AND campaign = ?",
                                (cid,))
            lead_set = {lead for lead, _ in members if lead in leads}
            opp_set = {leads[lead] for lead in lead_set if leads[lead] in opps}
            amounts = [opps[o][1] for o in opp_set if opps[o][1] is not None]
            out[cid] = {
                "id": cid, "name": name, "budget": budget, "members": len(members),
                "responded": sum(1 for _, s in members if s in ("responded", "converted")),
                "leads": len(lead_set),
                "converted": sum(1 for lead in lead_set if leads[lead] is not None),
                "opportunities": len(opp_set),
                "won": sum(1 for o in opp_set if opps[o][0] == "won"),
                "won_amount": round(sum(opps[o][1] or 0 for o in opp_set if opps[o][0] == "won"), 2),
                "average_deal": round(sum(amounts) / len(amounts), 4) if amounts else None,
                "biggest_deal": max(amounts) if amounts else None,
                # what a flat join campaign x member x lead x opportunity would add up
                "flat_won_amount": round(sum(opps[leads[lead]][1] or 0 for lead, _ in members
                                             if lead in leads and leads[lead] in opps
                                             and opps[leads[lead]][0] == "won"), 2),
            }
        return out

    def compare_revenue(self, who):
        want = self.chain(who)
        doc = self.report(who, "campaign_revenue")
        got = {row["id"]: row for row in doc["rows"]}
        eq(sorted(got), sorted(want), "campaigns as %s" % who)
        for cid, exp in want.items():
            row = got[cid]
            for key in ("name", "members", "leads", "opportunities", "won"):
                eq(row[key], exp[key], "%s of campaign %d as %s" % (key, cid, who))
            for key in ("won_amount", "biggest_deal", "budget"):
                check((row[key] is None and exp[key] is None) or abs((row[key] or 0) - (exp[key] or 0)) < 0.005,
                      "%s of campaign %d as %s: api %r, computed %r" % (key, cid, who, row[key], exp[key]))
            check((row["average_deal"] is None) == (exp["average_deal"] is None)
                  and abs((row["average_deal"] or 0) - (exp["average_deal"] or 0)) < 0.01,
                  "average_deal of %d as %s: %r vs %r" % (cid, who, row["average_deal"], exp["average_deal"]))
        amounts = [row["won_amount"] for row in doc["rows"]]
        eq(amounts, sorted(amounts, reverse=True), "sort: -won_amount")
        return want

    # --- tests ----------------------------------------------------------------------------------

    def test_revenue_per_campaign_equals_the_computation(self):
        want = self.compare_revenue("admin")
        check(any(w["flat_won_amount"] != w["won_amount"] for w in want.values()),
              "the fixture has a duplicate path (else the double-counting check proves nothing)")
        doc = self.report("admin", "campaign_revenue")
        names = [c["name"] for c in doc["columns"]]
        eq(names[:2], ["id", "name"], "group columns first")
        eq({c["name"]: c["kind"] for c in doc["columns"]}["won_amount"], "measure", "column kind")
        eq(doc["columns"][names.index("won_amount")]["label"]["zh"], "赢单收入", "zh label")

    def test_funnel_counts_each_record_once(self):
        want = self.chain("admin")
        for cid in self.campaigns:
            doc = self.report("admin", "campaign_funnel", {"campaign": cid})
            eq(doc["view"], "funnel", "view")
            eq(len(doc["rows"]), 1, "one row")
            row, exp = doc["rows"][0], want[cid]
            for key in ("members", "responded", "converted", "opportunities", "won"):
                eq(row[key], exp[key], "funnel %s of campaign %d" % (key, cid))
        total = self.report("admin", "campaign_funnel")["rows"][0]
        eq(total["members"], sum(w["members"] for w in want.values()), "members over every campaign")
        eq(total["opportunities"], sum(w["opportunities"] for w in want.values()),
           "a campaign's opportunities add up over campaigns (each once per campaign)")

    def test_parameters_filter_and_limit(self):
        want = self.chain("admin")
        doc = self.report("admin", "campaign_revenue", {"kind": "email"})
        eq(sorted(r["id"] for r in doc["rows"]), sorted(self.campaigns[i] for i in (0, 3)), "?kind=email")
        doc = self.report("admin", "campaign_revenue", {"filter": "budget > 500"})
        eq(sorted(r["id"] for r in doc["rows"]), sorted(self.campaigns[i] for i in (0, 1)), "?filter=budget > 500")
        doc = self.report("admin", "campaign_revenue", {"limit": "2"})
        eq(len(doc["rows"]), 2, "?limit=2")
        best = max(want.values(), key=lambda w: w["won_amount"])
        eq(doc["rows"][0]["won_amount"], best["won_amount"], "the limit keeps the sorted top")
        eq(self.report("admin", "campaign_revenue", {"campaign": 999999})["rows"], [], "no such campaign: no rows")

    def test_a_rep_sees_only_their_rows(self):
        """The rep's lead rule (own or the pool) and opportunity rule (team) apply inside the chain."""
        mine = self.compare_revenue("sales_rep1")
        admin = self.chain("admin")
        check(any(mine[c]["won_amount"] != admin[c]["won_amount"] or mine[c]["leads"] != admin[c]["leads"]
                  for c in mine), "the rep's figures differ from the admin's (else the rule check proves nothing)")
        # the shipped report over base objects: accounts (all) and their deals (the rep's team)
        team = self.team_of(self.ids["sales_rep1"])
        for who, people in (("admin", None), ("sales_rep1", team)):
            deals = {}
            for account, stage, amount, owner in self.rows(
                    "SELECT account, stage, amount, owner FROM opportunity WHERE deleted_at IS NULL"):
                if people is None or owner in people:
                    deals.setdefault(account, []).append((stage, amount or 0))
            want = {}
            for aid, industry in self.rows("SELECT id, industry FROM account WHERE deleted_at IS NULL"):
                w = want.setdefault(industry, [0, 0, 0.0, 0.0])
                w[0] += 1
                for stage, amount in deals.get(aid, []):
                    w[1] += 1
                    w[2] += amount if stage not in ("won", "lost") else 0
                    w[3] += amount if stage == "won" else 0
            doc = self.report(who, "pipeline_by_industry")
            got = {r["industry"]: [r["accounts"], r["deals"], round(r["open"], 2), round(r["won"], 2)]
                   for r in doc["rows"]}
            eq(got, {k: [v[0], v[1], round(v[2], 2), round(v[3], 2)] for k, v in want.items()},
               "pipeline_by_industry as %s" % who)

    def test_buckets_by_month_quarter_and_week(self):
        months = {m: (round(w or 0, 2), round(l or 0, 2)) for m, w, l in self.rows(
            "SELECT substr(close_date, 1, 7), sum(CASE WHEN stage = 'won' THEN amount END), "
            "sum(CASE WHEN stage = 'lost' THEN amount END) FROM opportunity WHERE deleted_at IS NULL GROUP BY 1")}
        doc = self.report("admin", "won_by_month")
        eq({r["close_date_month"]: (round(r["won"] or 0, 2), round(r["lost"] or 0, 2)) for r in doc["rows"]}, months,
           "won_by_month")
        first = sorted(months)[len(months) // 2]
        doc = self.report("admin", "won_by_month", {"from": first + "-01", "to": first + "-31"})
        eq([r["close_date_month"] for r in doc["rows"]], [first], "from/to keep one month (both days included)")
        quarters = {}
        for day, owner, stage, amount, account_owner in self.rows(
                "SELECT o.close_date, o.owner, o.stage, o.amount, a.owner FROM opportunity o LEFT JOIN account a "
                "ON a.id = o.account AND a.deleted_at IS NULL WHERE o.deleted_at IS NULL"):
            key = (day and "%s-Q%d" % (day[:4], (int(day[5:7]) + 2) // 3), owner)
            w = quarters.setdefault(key, [0, 0.0, set()])
            w[0] += stage == "won"
            w[1] += (amount or 0) if stage == "won" else 0
            if account_owner is not None:
                w[2].add(account_owner)
        doc = self.report("admin", "won_by_quarter")
        got = {(r["close_date_quarter"], r["owner"]): [r["deals"], round(r["amount"] or 0, 2), r["owners"]]
               for r in doc["rows"]}
        eq(got, {k: [v[0], round(v[1], 2), len(v[2])] for k, v in quarters.items()}, "won_by_quarter")
        weeks = {}
        for created, close in self.rows("SELECT created_at, close_date FROM opportunity WHERE deleted_at IS NULL"):
            day = datetime.date.fromisoformat(created[:10])
            monday = (day - datetime.timedelta(days=day.weekday())).isoformat()
            w = weeks.setdefault(monday, [0, None])
            w[0] += 1
            if close is not None and (w[1] is None or close < w[1]):
                w[1] = close
        doc = self.report("admin", "opportunities_by_week")
        eq({r["created_at_week"]: [r["created"], r["first_close"]] for r in doc["rows"]},
           {k: v for k, v in weeks.items()}, "opportunities_by_week (Monday of the ISO week)")

    def test_reports_the_reader_cannot_run_are_refused(self):
        names = lambda who: {r["name"] for r in self.get(who, "/reports").json["reports"]}  # noqa: E731
        eq(names("admin") >= {"campaign_revenue", "campaign_funnel", "lead_funnel", "won_by_month",
                              "pipeline_by_industry", "contact_birthdays"}, True, "the admin's list")
        agent = names("service_agent")
        check("pipeline_by_industry" not in agent and "campaign_revenue" not in agent, "agent: %s" % agent)
        problem(self.get("service_agent", "/reports/pipeline_by_industry"), 403, "a join the agent cannot read")
        problem(self.get("service_agent", "/reports/won_by_month"), 403, "a root the agent cannot read")
        # a field the role hides (marketing_user: contact.birthdate) refuses the report that measures it
        check("contact_birthdays" not in names("marketing_user"), "marketing's list")
        problem(self.get("marketing_user", "/reports/contact_birthdays"), 403, "a hidden measured field")
        self.report("sales_rep1", "contact_birthdays")
        # the caller's own filter on a hidden field is an unknown field, as in lists
        r = self.get("marketing_user", "/reports/lead_funnel?filter=%s" % urllib.parse.quote("nosuch = 1"))
        problem(r, 400, "an unknown field in ?filter=")

    def test_bad_input(self):
        cases = (
            ("/reports/no_such_report", 404),        # neither a report nor an object
            ("/reports/campaign_revenue?campaign=abc", 400),
            ("/reports/campaign_revenue?campaign=" + "9" * 40, 400),
            ("/reports/campaign_revenue?campaign=1%3B%20drop%20table%20lead", 400),
            ("/reports/campaign_revenue?nosuch=1", 400),
            ("/reports/campaign_revenue?from=2026-01-01", 400),    # no date group
            ("/reports/won_by_month?from=2026-13-01", 400),
            ("/reports/won_by_month?to=yesterday", 400),
            ("/reports/won_by_month?limit=0", 400),
            ("/reports/won_by_month?limit=99999999999", 400),
            ("/reports/campaign_revenue?filter=" + urllib.parse.quote("1=1) or (1=1"), 400),
            ("/reports/campaign_revenue?filter=" + urllib.parse.quote("name = 'x'; DROP TABLE lead"), 400),
            ("/reports/campaign_revenue?filter=" + urllib.parse.quote(" or ".join(["id = 1"] * 3000)), 400),
            ("/reports/campaign_revenue?filter=" + "x" * 70000, 400),
            ("/reports?group=stage", 400),
        )
        for path, status in cases:
            problem(self.get("admin", path), status, path[:80])
        doc = self.report("admin", "campaign_revenue", {"filter": "name = 'x'' or 1=1 --'"})
        eq(doc["rows"], [], "a quote in a filter's text is a value, not SQL")
        doc = self.report("admin", "campaign_revenue", {"kind": "email' OR '1'='1"})
        eq(doc["rows"], [], "a parameter is bound, not spliced")
        eq(self.get("admin", "/reports/opportunity?group=stage").status, 200, "the object's own report still works")
        eq(self.c.request("GET", API + "/reports/campaign_revenue", auth=False).status, 401, "without a session")
        eq(self.c.request("POST", API + "/reports/campaign_revenue", body={}, headers=self.h["admin"],
                          auth=False).status, 405, "POST")
        eq(self.c.request("POST", API + "/reports", body={}, headers=self.h["admin"], auth=False).status, 405,
           "POST the list")
        self.report("admin", "campaign_revenue")     # still serving

    def test_check_refuses_bad_reports(self):
        """crm check: file:line:column and a message naming the fault, for each kind of bad report."""
        head = "report: %s\nobject: campaign\njoins:\n  member: { children: campaign_member.campaign }\n"
        cases = {
            "bad path": (head % "r1" + "measures:\n  x: { measure: sum(member.nosuch) }\n",
                         r"bad.yaml:6:\d+: error: report 'r1', measure 'x': no field 'nosuch' on 'campaign_member'"),
            "bad measure": (head % "r2" + "measures:\n  x: { measure: median(member) }\n",
                            r"bad.yaml:6:\d+: error: measure 'x': expected count, count\(join\)"),
            "text summed": (head % "r3" + "measures:\n  x: { measure: sum(member.status) }\n",
                            r"bad.yaml:6:\d+: error: .*sum\(member.status\) needs a number field"),
            "loop": ("report: r4\nobject: campaign\njoins:\n  a: { children: lead.converted_opportunity, from: b }\n"
                     "  b: { children: opportunity.account, from: a }\nmeasures:\n  x: { measure: count(a) }\n",
                     r"bad.yaml:4:\d+: error: report 'r4': joins loop: a -> b -> a"),
            "collision": ("report: lead\nobject: campaign\nmeasures:\n  x: { measure: count }\n",
                          r"bad.yaml:1:\d+: error: report 'lead' has the name of an object"),
            "wrong child ref": (head.replace("campaign_member.campaign", "campaign_member.lead") % "r5"
                                + "measures:\n  x: { measure: count(member) }\n",
                                r"bad.yaml:4:\d+: error: .*children 'campaign_member.lead' must be an object and its "
                                r"ref field to 'campaign'"),
            "bad filter": (head % "r6" + "measures:\n  x: { measure: count(member), filter: \"stage = 'won'\" }\n",
                           r"bad.yaml:6:\d+: error: unknown field 'stage' in filter of measure 'x'"),
            "unknown key": (head % "r7" + "measures:\n  x: { measure: count, colour: red }\n",
                            r"bad.yaml:6:\d+: error: unknown key 'colour' in report measure .*report-measure"),
            "line without dates": (head % "r8" + "measures:\n  x: { measure: count }\nview: line\n",
                                   r"bad.yaml:7:\d+: error: report 'r8': a line needs a group by day"),
            "bucket of a text": ("report: r9\nobject: campaign\ngroup: [{ field: name, by: month }]\n"
                                 "measures:\n  x: { measure: count }\n",
                                 r"bad.yaml:3:\d+: error: .*'name' is text; only a date or datetime is grouped"),
        }
        import re
        for what, (text, pattern) in cases.items():
            meta = metadata_copy(self.work, {"bad.yaml": text})
            r = subprocess.run([crm_binary(), "check", "--metadata", meta, "--plugins", os.path.join(ROOT, "plugins")],
                               cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            out = r.stdout.decode("utf-8", "replace")
            check(r.returncode == 1, "%s: crm check exit %d" % (what, r.returncode))
            check(re.search(pattern, out), "%s: expected /%s/ in:\n%s" % (what, pattern, out[-800:]))
            shutil.rmtree(meta)


def main():
    return run_on_demo("report", lambda server, db: Suite(server, db, server.workdir), (
        "revenue_per_campaign_equals_the_computation", "funnel_counts_each_record_once", "parameters_filter_and_limit",
        "a_rep_sees_only_their_rows", "buckets_by_month_quarter_and_week", "reports_the_reader_cannot_run_are_refused",
        "bad_input", "check_refuses_bad_reports"), records=60, seed=5, metadata=metadata_copy)


if __name__ == "__main__":
    sys.exit(main())
