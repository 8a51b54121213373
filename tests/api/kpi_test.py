"""KPIs (GET /api/v1/kpis) against an independent SQL computation (see kpi.sh).

A real `crm serve` over the shipped metadata/ and plugins/ on a `crm demo` database. For every kpi
the server lists, the test computes the same figure straight from the SQLite file with its own SQL
(one query per shipped definition, written here by hand): for everyone (as admin), for a sales rep
(their own records) and for a manager's team. A kpi shipped without its SQL here fails the test.
Also: periods and previous periods, targets and attainment, bad input, and a role that cannot read
an object does not see its kpis.
"""
import datetime
from decimal import ROUND_HALF_UP, Decimal
import os
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Client, check, crm_binary, eq, login, run_on_demo  # noqa: E402

API = "/api/v1"
PASSWORD = "demo1234"

# The independent figures, written from the kpi documents by hand: SQL over live records with :start, :after
# (the period and the day after it), :before (the start of the period before it), :window and :days (a `per: day`
# kpi's days: from :start to the day asked, or to the period's end once it is over), {people} (the owner
# condition) and {users} (the audit trail's user condition). A formula kpi is one SQL statement of its own here,
# not the test's sum of the API's figures.
WON = "FROM opportunity WHERE deleted_at IS NULL AND stage = 'won' AND close_date >= :start AND close_date < :after {people}"
CLOSED = ("FROM opportunity WHERE deleted_at IS NULL AND stage IN ('won', 'lost') AND close_date >= :start "
          "AND close_date < :after {people}")
OPEN = ("FROM opportunity WHERE deleted_at IS NULL AND stage NOT IN ('won', 'lost') AND close_date >= :start "
        "AND close_date < :after {people}")
ACTIONS = "'create', 'update', 'delete', 'restore', 'transition'"
WRITES = "FROM _crm_audit WHERE user_id IS NOT NULL AND at >= :start AND at < :after AND action IN (" + ACTIONS + ") {users}"
# days_between(created_at, close_date): julianday's difference truncated
CYCLE = "CAST(julianday(close_date) - julianday(created_at) AS INTEGER)"
MILESTONES = "FROM case_milestone WHERE deleted_at IS NULL AND due_at >= :start AND due_at < :after {people}"
RESOLVED = ("FROM \"case\" WHERE deleted_at IS NULL AND resolved_at IS NOT NULL AND resolved_at >= :start "
            "AND resolved_at < :after {people}")
FIRST_CONTACT = "(tier = 'l1' AND first_responded_at IS NOT NULL AND resolved_at <= first_responded_at)"
ANSWERED = ("FROM survey WHERE deleted_at IS NULL AND score IS NOT NULL AND answered_at >= :start "
            "AND answered_at < :after {people_agent}")
ENTITLEMENTS = ("FROM entitlement e WHERE deleted_at IS NULL AND incidents_included > 0 AND starts_on >= :start "
                "AND starts_on < :after {people}")
USED = "(SELECT count(*) FROM \"case\" c WHERE c.entitlement = e.id AND c.deleted_at IS NULL AND c.chargeable = 0)"
REGS = "FROM deal_registration WHERE deleted_at IS NULL AND submitted_at >= :start AND submitted_at < :after {people}"
DECIDED = ("FROM deal_registration WHERE deleted_at IS NULL AND status IN ('approved', 'converted', 'expired') "
           "AND decided_at >= :start AND decided_at < :after {people}")
MEMBER_ORDERS = ("FROM sales_order WHERE deleted_at IS NULL AND status = 'paid' AND member IS NOT NULL AND paid_on >= :start "
                 "AND paid_on < :after {people}")
REPEAT = "repeat_order = 1"
ISSUED = ("FROM points_ledger WHERE deleted_at IS NULL AND status = 'posted' AND kind IN ('earn', 'post') "
          "AND created_at >= :start AND created_at < :after {people}")
REDEEMED = ("FROM redemption WHERE deleted_at IS NULL AND status != 'cancelled' AND created_at >= :start "
            "AND created_at < :after {people}")
# the fieldforce package's visits, by their planned start (owner: the rep)
VISITS = "FROM visit WHERE deleted_at IS NULL AND planned_start >= :start AND planned_start < :after {people}"
SQL = {
    "won_revenue": "SELECT coalesce(sum(amount), 0) " + WON,
    "deals_won": "SELECT count(*) " + WON,
    "deals_closed": "SELECT count(*) " + CLOSED,
    "win_rate": "SELECT 100.0 * sum(stage = 'won') / nullif(count(*), 0) " + CLOSED,
    "average_deal": "SELECT sum(amount) * 1.0 / nullif(count(*), 0) " + WON,
    "customer_retention":
        "WITH before AS (SELECT DISTINCT account FROM opportunity WHERE deleted_at IS NULL AND stage = 'won' "
        "AND account IS NOT NULL AND close_date >= :before AND close_date < :start {people}), "
        "now AS (SELECT DISTINCT account FROM opportunity WHERE deleted_at IS NULL AND stage = 'won' "
        "AND close_date >= :start AND close_date < :after {people}) "
        "SELECT 100.0 * (SELECT count(*) FROM before WHERE account IN (SELECT account FROM now)) "
        "/ nullif((SELECT count(*) FROM before), 0)",
    "new_opportunities": "SELECT count(*) FROM opportunity WHERE deleted_at IS NULL AND created_at >= :start "
                         "AND created_at < :after {people}",
    "open_opportunities": "SELECT count(*) " + OPEN,
    "sales_cycle_days": "SELECT avg(" + CYCLE + ") " + WON,
    "pipeline_velocity":
        "SELECT (SELECT count(*) " + OPEN + ") * (SELECT 100.0 * sum(stage = 'won') / nullif(count(*), 0) " + CLOSED
        + ") / 100 * (SELECT sum(amount) * 1.0 / nullif(count(*), 0) " + WON + ") / (SELECT CASE WHEN avg(" + CYCLE
        + ") > 0 THEN avg(" + CYCLE + ") END " + WON + ")",
    "activities_done": "SELECT count(*) FROM activity WHERE deleted_at IS NULL AND status = 'done' AND due_at >= :start "
                       "AND due_at < :after {people}",
    # hours from the lead's creation to its first done activity, to the millisecond, kept at 6 places (decimal)
    "hours_to_first_contact":
        "SELECT avg(round(round((julianday(f.first) - julianday(l.created_at)) * 86400000.0) / 3600000.0, 6)) "
        "FROM lead l JOIN (SELECT lead, min(due_at) AS first FROM activity WHERE deleted_at IS NULL "
        "AND status = 'done' AND lead IS NOT NULL GROUP BY lead) f ON f.lead = l.id WHERE l.deleted_at IS NULL "
        "AND l.created_at >= :start AND l.created_at < :after {people}",
    "active_users": "SELECT count(DISTINCT user_id) " + WRITES,
    "active_users_per_day":
        "SELECT total(n) / nullif(:days, 0) FROM (SELECT count(DISTINCT user_id) AS n "
        + WRITES.replace(":after", ":window") + " GROUP BY substr(at, 1, 10))",
    "records_created": "SELECT count(*) " + WRITES.replace(ACTIONS, "'create'"),
    "records_updated": "SELECT count(*) " + WRITES.replace(ACTIONS, "'update', 'transition'"),
    "records_created_per_user": "SELECT 1.0 * sum(action = 'create') / nullif(count(DISTINCT user_id), 0) " + WRITES,
    "records_updated_per_user":
        "SELECT 1.0 * sum(action IN ('update', 'transition')) / nullif(count(DISTINCT user_id), 0) " + WRITES,
    "booked_orders": None,        # computed from the order lines below (grand total is a formula)
    "average_quote_discount": "SELECT avg(discount) FROM quote WHERE deleted_at IS NULL AND status IN ('presented', "
                              "'accepted', 'rejected') AND created_at >= :start AND created_at < :after {people}",
    "quotes_sent": "SELECT count(*) FROM quote WHERE deleted_at IS NULL AND status IN ('presented', 'accepted', "
                   "'rejected', 'expired') AND created_at >= :start AND created_at < :after {people}",
    # the marketing package's (plugins/marketing/objects/kpis.yaml); the averages of formulas are computed
    # in Python from the stored columns, each record's figure rounded to its field's scale first
    "leads_created": "SELECT count(*) FROM campaign_member WHERE deleted_at IS NULL AND lead IS NOT NULL "
                     "AND created_at >= :start AND created_at < :after {people}",
    "response_rate": None,
    "cost_per_lead": None,
    "campaign_roi": None,
    "marketing_pipeline": "SELECT coalesce(sum(amount_share), 0) FROM campaign_influence WHERE deleted_at IS NULL "
                          "AND model = 'even' AND opportunity_open = 1 AND created_at >= :start AND created_at < :after {people}",
    # owner: user (the quota's rep)
    "plan_attainment": "SELECT coalesce(sum(actual_amount), 0) FROM plan_target WHERE deleted_at IS NULL "
                       "AND period_start >= :start AND period_start < :after {people_user}",
    # the service package's (plugins/service/objects/kpis.yaml): milestones by due date, cases by when they were
    # resolved, surveys by answer (owner: the survey's agent), entitlements by start (incidents counted from cases)
    "sla_milestones_met": "SELECT count(*) " + MILESTONES + " AND status = 'met'",
    "sla_milestones_violated": "SELECT count(*) " + MILESTONES + " AND status = 'violated'",
    "sla_attainment": "SELECT 100.0 * sum(status = 'met') / nullif(count(*), 0) " + MILESTONES
                      + " AND status IN ('met', 'violated')",
    "breached_open_cases": "SELECT count(*) FROM \"case\" WHERE deleted_at IS NULL AND breached = 1 AND status IN "
                           "('new', 'open', 'waiting_customer') AND opened_at >= :start AND opened_at < :after {people}",
    "cases_resolved": "SELECT count(*) " + RESOLVED,
    "cases_resolved_first_contact": "SELECT count(*) " + RESOLVED + " AND " + FIRST_CONTACT,
    "first_contact_resolution": "SELECT 100.0 * sum(" + FIRST_CONTACT + ") / nullif(count(*), 0) " + RESOLVED,
    "cases_with_article": "SELECT count(*) " + RESOLVED + " AND kb_article IS NOT NULL",
    "kb_deflection": "SELECT 100.0 * sum(kb_article IS NOT NULL) / nullif(count(*), 0) " + RESOLVED,
    "csat_average": "SELECT avg(score) " + ANSWERED,
    "surveys_answered": "SELECT count(*) " + ANSWERED,
    "surveys_satisfied": "SELECT count(*) " + ANSWERED + " AND score >= 4",
    "csat_percent": "SELECT 100.0 * sum(score >= 4) / nullif(count(*), 0) " + ANSWERED,
    "entitlement_incidents_included": "SELECT coalesce(sum(incidents_included), 0) " + ENTITLEMENTS,
    "entitlement_incidents_used": "SELECT coalesce(sum(" + USED + "), 0) " + ENTITLEMENTS,
    # the channel package's (plugins/channel/objects/kpis.yaml): registrations by when they were submitted
    # and decided (owner: the partner user who filed it); hours to the millisecond, kept at 1 place
    "registrations_submitted": "SELECT count(*) " + REGS,
    "registrations_conflicted": "SELECT count(*) " + REGS + " AND conflicted = 1",
    "registration_conflict_rate": "SELECT 100.0 * sum(conflicted = 1) / nullif(count(*), 0) " + REGS,
    "registration_approval_hours":
        "SELECT avg(round(round((julianday(decided_at) - julianday(submitted_at)) * 86400000.0) / 3600000.0, 1)) "
        + DECIDED,
    "registered_amount": "SELECT coalesce(sum(amount), 0) " + DECIDED,
    "entitlement_usage": "SELECT 100.0 * sum(" + USED + ") / nullif(sum(incidents_included), 0) " + ENTITLEMENTS,
    # the membership package's (plugins/membership/objects/kpis.yaml): members' paid orders by the day paid, points
    # issued (posted earns) and redeemed (redemptions not cancelled) by when they were written
    "active_members": "SELECT count(DISTINCT member) " + MEMBER_ORDERS,
    "repeat_buyers": "SELECT count(DISTINCT member) " + MEMBER_ORDERS + " AND " + REPEAT,
    "repeat_purchase_rate": "SELECT 100.0 * count(DISTINCT CASE WHEN " + REPEAT + " THEN member END) "
                            "/ nullif(count(DISTINCT member), 0) " + MEMBER_ORDERS,
    "points_issued": "SELECT coalesce(sum(points), 0) " + ISSUED,
    "points_redeemed": "SELECT coalesce(sum(points), 0) " + REDEEMED,
    "burn_rate": "SELECT 100.0 * (SELECT coalesce(sum(points), 0) " + REDEEMED + ") / nullif((SELECT coalesce(sum(points), 0) "
                 + ISSUED + "), 0)",
    # the fieldforce package's (plugins/fieldforce/objects/kpis.yaml): visits by their planned start; calls per day
    # are the completed visits of the month up to the day asked, over those days
    "visits_planned": "SELECT count(*) " + VISITS + " AND status != 'cancelled'",
    "visits_completed": "SELECT count(*) " + VISITS + " AND status = 'completed'",
    "visits_verified": "SELECT count(*) " + VISITS + " AND status = 'completed' AND geo_ok = 1",
    "visit_completion": "SELECT 100.0 * sum(status = 'completed') / nullif(sum(status != 'cancelled'), 0) " + VISITS,
    "avg_visit_minutes": "SELECT avg(duration_min) " + VISITS + " AND status = 'completed'",
    "calls_per_day": "SELECT count(*) * 1.0 / nullif(:days, 0) " + VISITS.replace(":after", ":window")
                     + " AND status = 'completed'",
}
# the kpis of the audit trail, and the formulas over them: `team` is the manager tree, `all` an admin's only
AUDIT = {"active_users", "active_users_per_day", "records_created", "records_updated", "records_created_per_user",
         "records_updated_per_user"}

# campaign formulas: (the figure from a row, the row's columns, the filter, the date column)
CAMPAIGN_AVERAGES = {
    "response_rate": (lambda members, responded, leads, cost, won: responded * 100 / members,
                      "status IN ('active', 'completed') AND members > 0", "starts_on"),
    "cost_per_lead": (lambda members, responded, leads, cost, won: (cost or 0) / leads,
                      "status IN ('active', 'completed') AND leads > 0", "starts_on"),
    "campaign_roi": (lambda members, responded, leads, cost, won: ((won or 0) - cost) * 100 / cost,
                     "status = 'completed' AND actual_cost > 0", "ends_on"),
}


def half_up(x, places=2):
    """x rounded half away from zero to places decimals, on its decimal digits."""
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP))


def campaign_average(con, name, start, after, people):
    figure, where, date = CAMPAIGN_AVERAGES[name]
    rows = con.execute("SELECT members, responded, leads, actual_cost, won_revenue FROM campaign WHERE deleted_at IS "
                       "NULL AND %s AND %s >= ? AND %s < ? %s" % (where, date, date, people), (start, after)).fetchall()
    return sum(half_up(figure(*r)) for r in rows) / len(rows) if rows else None


def booked_orders(con, start, after, people):
    """sum(grand_total) of confirmed..paid orders: lines to the cent, header discount, tax, each rounded."""
    total = 0
    q = ("SELECT id, discount, tax_rate, currency FROM sales_order WHERE deleted_at IS NULL AND status IN "
         "('confirmed', 'fulfilled', 'invoiced', 'paid') AND order_date >= ? AND order_date < ? " + people)
    for oid, discount, tax_rate, currency in con.execute(q, (start, after)).fetchall():
        sub = 0
        for qty, price, disc in con.execute("SELECT quantity, unit_price, discount FROM order_line WHERE "
                                            "deleted_at IS NULL AND \"order\" = ?", (oid,)):
            sub += round(qty * price * (100 - disc) / 100 + 1e-9, 2)
        net = round(sub - round(sub * discount / 100 + 1e-9, 2), 2)
        grand = round(net + round(net * tax_rate / 100 + 1e-9, 2), 2)
        # in the company currency (EUR, app.yaml) at the rate valid today
        rate = con.execute("SELECT rate FROM exchange_rate WHERE deleted_at IS NULL AND currency = ? AND valid_from "
                           "<= date('now') ORDER BY valid_from DESC LIMIT 1", (currency,)).fetchone()
        total += round(grand * (rate[0] if rate and currency != "EUR" else 1) + 1e-9, 2)
    return total


def bounds(day, period):
    first = {"month": day.month, "quarter": (day.month - 1) // 3 * 3 + 1, "year": 1}[period]
    length = {"month": 1, "quarter": 3, "year": 12}[period]
    start = datetime.date(day.year, first, 1)
    m = first - 1 + length
    after = datetime.date(day.year + m // 12, m % 12 + 1, 1)
    m = first - 1 - length
    before = datetime.date(day.year + m // 12, m % 12 + 1, 1)
    return start.isoformat(), after.isoformat(), before.isoformat()


def params(day, start, after, before):
    """The named parameters of SQL for the period [start, after) asked about on day."""
    window = min(after, (day + datetime.timedelta(days=1)).isoformat())
    days = (datetime.date.fromisoformat(window) - datetime.date.fromisoformat(start)).days
    return {"start": start, "after": after, "before": before, "window": window, "days": max(days, 0)}


def manager_tree(con, boss):
    """boss and their reports, down the manager tree (whose audit trail `team` reads)."""
    tree, frontier = {boss}, {boss}
    while frontier:
        frontier = {uid for (uid,) in con.execute("SELECT id FROM user WHERE manager IN (%s)"
                                                  % ",".join(map(str, frontier)))} - tree
        tree |= frontier
    return sorted(tree)


class Suite:
    def __init__(self, server, db):
        self.server = server
        self.db = db
        self.c = Client(server.port)
        self.h = {}

    def get(self, who, path):
        return self.c.request("GET", API + path, headers=self.h[who], auth=False)

    def test_setup(self):
        for who in ("admin", "sales_manager", "sales_rep1", "service_agent", "service_manager", "marketing_user"):
            self.h[who] = login(self.server.port, who, PASSWORD)
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        self.ids = {login: uid for uid, login in con.execute("SELECT id, login FROM user")}
        leads = con.execute("SELECT id, owner, created_at FROM lead WHERE deleted_at IS NULL ORDER BY id").fetchall()
        con.close()
        # today's audit trail and first contacts, written through the API by several people: the first done
        # activity of a lead some hours after it came in (a later one and an open one do not count)
        for n, (lead, owner, created) in enumerate(leads[:8]):
            who = "sales_rep1" if owner == self.ids["sales_rep1"] else "admin"
            at = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ") + datetime.timedelta(hours=1 + 7 * n,
                                                                                                minutes=13 * n)
            for extra, status in ((0, "done"), (30, "done"), (-1, "open")):
                body = {"kind": "call", "subject": "first call %d" % n, "status": status, "lead": lead,
                        "due_at": (at + datetime.timedelta(hours=extra)).strftime("%Y-%m-%dT%H:%M:%SZ")}
                r = self.c.request("POST", API + "/objects/activity", body=body, headers=self.h[who], auth=False)
                eq(r.status, 201, "activity as %s: %s" % (who, r.body[:200]))
        for who in ("sales_manager", "sales_rep1"):
            r = self.c.request("POST", API + "/objects/lead", body={"last_name": "Lee", "company": "Acme of %s" % who},
                               headers=self.h[who], auth=False)
            eq(r.status, 201, "lead as %s: %s" % (who, r.body[:200]))
            loc = API + "/objects/lead/%d" % r.json["id"]
            r = self.c.request("GET", loc, headers=self.h[who], auth=False)
            r = self.c.request("PATCH", loc, body={"note": "called back"}, auth=False,
                               headers=dict(self.h[who], **{"If-Match": r.header("ETag")}))
            eq(r.status, 200, "update as %s: %s" % (who, r.body[:200]))

    def expected(self, name, period, day, people_ids, user_ids, extra=""):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            start, after, before = bounds(day, period)
            _, _, before2 = bounds(datetime.date.fromisoformat(before), period)
            owner = "AND owner IN (%s)" % ",".join(str(i) for i in people_ids) if people_ids is not None else ""
            owner += extra
            if name == "booked_orders":
                return booked_orders(con, start, after, owner), booked_orders(con, before, start, owner)
            if name in CAMPAIGN_AVERAGES:
                return (campaign_average(con, name, start, after, owner),
                        campaign_average(con, name, before, start, owner))
            users = "AND user_id IN (%s)" % ",".join(str(i) for i in user_ids) if user_ids is not None else ""
            sql = SQL[name].format(people=owner, users=users, people_user=owner.replace("owner IN", "user IN"),
                             people_agent=owner.replace("owner IN", "agent IN"))
            now = con.execute(sql, params(day, start, after, before)).fetchone()[0]
            prev = con.execute(sql, params(day, before, start, before2)).fetchone()[0]
            return now, prev
        finally:
            con.close()

    def compare(self, who, scope, people_ids, day, user_ids=None, view=None, only=None):
        """Every kpi the API gives who against the SQL; user_ids: whose audit trail (default people_ids); only:
        { kpi: people } where who's row rules narrow the people (a rep reads their own leads only)."""
        query = "view=dashboard" if view else "scope=%s" % scope
        r = self.get(who, "/kpis?%s&day=%s" % (query, day.isoformat()))
        eq(r.status, 200, "kpis as %s: %s" % (who, r.body[:200]))
        kpis = r.json["kpis"]
        check(kpis, "some kpis")
        for k in kpis:
            check(k["name"] in SQL, "kpi %s is shipped without its independent SQL in kpi_test.py" % k["name"])
            start, after, before = bounds(day, k["period"])
            eq((k["start"], k["previous_start"]), (start, before), "%s period" % k["name"])
            people, users = people_ids, user_ids if user_ids is not None else people_ids
            if view:
                people, users = view[k["scope"]]
            people = (only or {}).get(k["name"], people)
            extra = ""
            if isinstance(people, tuple):       # (people, the reader's row rule as SQL)
                people, extra = people
            want, prev = self.expected(k["name"], k["period"], day, people, users, extra)
            for got, exp, what in ((k["actual"], want, "actual"), (k["previous"], prev, "previous")):
                if exp is None:
                    eq(got, None, "%s %s %s as %s (%s)" % (k["name"], what, scope, who, day))
                else:
                    check(got is not None and abs(got - exp) < 0.005,
                          "%s %s (%s as %s, %s): api %r, sql %r" % (k["name"], what, scope, who, day, got, exp))
            if k["target"] and (k["actual"] or (k["direction"] == "up" and k["actual"] is not None)):
                ratio = (k["target"] / k["actual"] if k["direction"] == "down" else k["actual"] / k["target"]) * 100
                check(abs(k["attainment"] - round(ratio, 1)) < 0.051, "%s attainment %r, expected %.1f" % (
                    k["name"], k["attainment"], ratio))
            elif k["target"] and k["direction"] == "down" and k["actual"] == 0:
                eq(k["attainment"], None, "%s attainment at 0 (down)" % k["name"])
        return {k["name"] for k in kpis}

    def team_of(self, uid):
        """The `team` access scope: self, team mates and reports down the manager tree (whose records count)."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        team = set(manager_tree(con, uid))
        team_id = con.execute("SELECT team FROM user WHERE id = ?", (uid,)).fetchone()[0]
        if team_id is not None:
            team |= {mate for (mate,) in con.execute("SELECT id FROM user WHERE team = ?", (team_id,))}
        tree = manager_tree(con, uid)
        con.close()
        return sorted(team), tree

    def test_everyone_as_admin_equals_sql(self):
        """For every kpi and three days (this period, earlier this year, last year): the SQL's figures."""
        today = datetime.date.today()
        for day in (today, today.replace(month=1, day=15), datetime.date(today.year - 1, 6, 30)):
            names = self.compare("admin", "all", None, day)
        eq(names, set(SQL), "every shipped kpi is listed for the admin")

    def test_me_and_team_equal_sql(self):
        """A rep's own figures and a manager's team (records: team and reports; audit trail: reports only)."""
        today = datetime.date.today()
        rep = self.ids["sales_rep1"]
        for day in (today, today.replace(month=1, day=15)):
            self.compare("sales_rep1", "me", [rep], day)
        team, tree = self.team_of(self.ids["sales_manager"])
        check(len(tree) > 1 and set(tree) <= set(team), "the manager has reports: %r %r" % (tree, team))
        for day in (today, today.replace(month=1, day=15)):
            self.compare("sales_manager", "team", team, day, user_ids=tree)
        # a rep's team: the team mates' records, but only their own audit trail (they manage no one)
        rep_team, rep_tree = self.team_of(rep)
        eq(rep_tree, [rep], "a rep has no reports")
        # (marketing: a rep reads the campaign credit of their own deals and their own quota lines)
        self.compare("sales_rep1", "team", rep_team, today, user_ids=rep_tree, only={
            "hours_to_first_contact": [rep], "plan_attainment": [rep],
            "marketing_pipeline": (rep_team, " AND opportunity IN (SELECT id FROM opportunity WHERE owner = %d)" % rep)})

    def test_audit_kpis_are_an_admins_for_everyone(self):
        """scope=all: the audit trail's kpis (and the formulas over them) for an admin only; the others stay."""
        names = {k["name"] for k in self.get("sales_manager", "/kpis?scope=all").json["kpis"]}
        eq(names & AUDIT, set(), "audit kpis at scope=all for a manager")
        check({"win_rate", "pipeline_velocity", "won_revenue"} <= names, "the other kpis stay: %s" % sorted(names))
        eq(self.get("sales_manager", "/kpis/active_users?scope=all").status, 404, "an audit kpi by name at all")
        eq(self.get("sales_manager", "/kpis/active_users?scope=team").status, 200, "an audit kpi by name at team")
        r = self.get("admin", "/kpis/records_created_per_user?scope=all")
        check(r.json["kpis"][0]["actual"] is not None, "records created per user today: %r" % r.json["kpis"][0])

    def test_zero_divisors_give_null(self):
        """A formula whose divisor is 0 (no deal closed in 2001) is null, not an error; its inputs are 0."""
        r = self.get("admin", "/kpis?scope=all&day=2001-02-03")
        eq(r.status, 200, "kpis in 2001")
        got = {k["name"]: k["actual"] for k in r.json["kpis"]}
        eq((got["deals_closed"], got["win_rate"], got["average_deal"], got["pipeline_velocity"]), (0, None, None, None),
           "zero divisors")
        eq((got["active_users"], got["records_created_per_user"], got["customer_retention"]), (0, None, None),
           "no one active, no account before")
        k = self.get("admin", "/kpis/win_rate?day=2001-02-03").json["kpis"][0]
        eq((k["source"], k["formula"], k["unit"], k["object"], k["measure"]),
           ("formula", "deals_won / deals_closed * 100", "percent", None, None), "a formula kpi's description")

    def test_dashboard_per_role_equals_sql(self):
        """?view=dashboard: each role's tiles (the kpis whose dashboards name it), each for its scope's people."""
        today = datetime.date.today()
        rep, boss = self.ids["sales_rep1"], self.ids["sales_manager"]
        team, tree = self.team_of(boss)
        rep_team, _ = self.team_of(rep)
        agent = self.ids["service_agent"]
        views = {"admin": {"all": (None, None)}, "service_manager": {"all": (None, None)},
                 "service_agent": {"me": ([agent], [agent])},
                 "sales_manager": {"team": (team, tree), "me": ([boss], [boss])},
                 "sales_rep1": {"me": ([rep], [rep]), "team": (rep_team, [rep])}}
        want = {"admin": ("all", {"won_revenue", "win_rate", "average_deal", "customer_retention", "pipeline_velocity",
                                  "hours_to_first_contact", "active_users_per_day", "records_created_per_user",
                                  "records_updated_per_user"}),
                "sales_manager": ("team", {"won_revenue", "win_rate", "average_deal", "customer_retention",
                                           "pipeline_velocity", "activities_done", "hours_to_first_contact",
                                           "active_users_per_day", "records_created_per_user",
                                           "records_updated_per_user"}),
                "sales_rep1": ("me", {"won_revenue", "win_rate", "average_deal", "activities_done",
                                      "hours_to_first_contact", "records_created_per_user", "records_updated_per_user"}),
                # the service package's: an agent's own figures, a service manager everyone's
                "service_agent": ("me", {"sla_attainment", "breached_open_cases", "first_contact_resolution",
                                         "kb_deflection", "csat_average", "csat_percent"}),
                "service_manager": ("all", {"sla_attainment", "breached_open_cases", "first_contact_resolution",
                                            "kb_deflection", "csat_average", "csat_percent", "entitlement_usage"})}
        for who, (scope, names) in want.items():
            r = self.get(who, "/kpis?view=dashboard&day=%s" % today.isoformat())
            eq(r.status, 200, "dashboard of %s" % who)
            eq({k["name"] for k in r.json["kpis"]}, names, "the tiles of %s" % who)
            eq({k["scope"] for k in r.json["kpis"]}, {scope}, "the scope of %s's tiles" % who)
            eq(self.compare(who, scope, None, today, view=views[who]), names, "dashboard figures of %s" % who)
        eq(self.get("marketing_user", "/kpis?view=dashboard").json["kpis"], [], "a role without tiles")

    def test_closed_objects_leave_their_kpis_out(self):
        """A service agent reads no opportunities: no opportunity kpi, and a direct ask is 404."""
        r = self.get("service_agent", "/kpis?scope=all")
        eq(r.status, 200, "kpis as service_agent")
        names = {k["name"] for k in r.json["kpis"]}
        check("won_revenue" not in names and "activities_done" in names, "service agent's kpis: %s" % sorted(names))
        eq(self.get("service_agent", "/kpis/won_revenue").status, 404, "a closed kpi by name")
        eq(self.get("sales_rep1", "/kpis/won_revenue").json["kpis"][0]["name"], "won_revenue", "one kpi by name")

    def test_reports_group_by_date_buckets_in_sql(self):
        """GET /reports?group=close_date:quarter (and :month, :year, :day) equals the SQL's buckets."""
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        exprs = {"day": "substr(close_date, 1, 10)", "month": "substr(close_date, 1, 7)", "year": "substr(close_date, 1, 4)",
                 "quarter": "substr(close_date, 1, 4) || '-Q' || ((CAST(substr(close_date, 6, 2) AS INTEGER) + 2) / 3)"}
        for bucket, expr in exprs.items():
            want = {k: (n, round(a or 0, 2)) for k, n, a in con.execute(
                "SELECT %s, count(*), sum(amount) FROM opportunity WHERE deleted_at IS NULL GROUP BY 1" % expr)}
            r = self.get("admin", "/reports/opportunity?group=close_date:%s&measure=count,sum(amount)" % bucket)
            eq(r.status, 200, "report by %s: %s" % (bucket, r.body[:200]))
            got = {row["close_date_" + bucket]: (row["count"], round(row["sum_amount"] or 0, 2)) for row in r.json["rows"]}
            eq(got, want, "buckets by %s" % bucket)
        con.close()
        for group in ("stage:month", "close_date:fortnight", "close_date:", "nosuch:year"):
            eq(self.get("admin", "/reports/opportunity?group=%s" % group).status, 400, "group=%s" % group)

    def test_bad_input(self):
        for path, status in (("/kpis?view=galaxy", 400), ("/kpis?view=dashboard&scope=all", 400),
                             ("/kpis/win_rate?view=dashboard", 400), ("/kpis?view=dashboard&day=2026-02-30x", 400),
                             ("/kpis?view=" + "d" * 5000, 400), ("/kpis/active_users?scope=", 400),
                             ("/kpis?day=2026-13-01", 400), ("/kpis?day=yesterday", 400), ("/kpis?scope=galaxy", 400),
                             ("/kpis?day=%27%3B%20drop", 400), ("/kpis?nosuch=1", 400), ("/kpis/nope", 404),
                             ("/kpis?day=" + "9" * 5000, 400)):
            r = self.get("admin", path)
            eq(r.status, status, "%s: %s" % (path, r.body[:200]))
        r = self.c.request("GET", API + "/kpis", auth=False)
        eq(r.status, 401, "without a session")
        r = self.c.request("POST", API + "/kpis", body={}, headers=self.h["admin"], auth=False)
        eq(r.status, 405, "POST")


def seed_audit_history(db):
    """A year and a half of audited writes by the demo's people before the server starts (the demo writes as the
    system, whose rows no kpi counts): rows as the kernel appends them, so that earlier periods and their days
    have figures too. A fixed seed: the same history each run."""
    import random
    rnd = random.Random(15)
    con = sqlite3.connect(db)
    people = [uid for (uid,) in con.execute("SELECT id FROM user WHERE login IN ('admin', 'sales_manager', "
                                            "'sales_rep1', 'sales_rep2', 'sales_rep3', 'service_agent')")]
    today = datetime.datetime.utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    rows = []
    for _ in range(3000):
        at = today - datetime.timedelta(days=rnd.randint(1, 560), seconds=rnd.randint(0, 86399))
        rows.append((at.strftime("%Y-%m-%dT%H:%M:%SZ"), rnd.choice(people), rnd.choice(["account", "lead", "opportunity"]),
                     rnd.randint(1, 60), rnd.choice(["create", "update", "update", "transition", "delete", "login"])))
    con.executemany("INSERT INTO _crm_audit (at, user_id, object, record_id, action) VALUES (?, ?, ?, ?, ?)", rows)
    con.commit()
    con.close()


def prepare(db):
    """The audit history, and the SLA timers run once before the server starts: at its first tick they would flag
    the demo's overdue cases while a figure and its SQL are compared (the tick is longer with more packages' timers)."""
    seed_audit_history(db)
    for timer in ("sla_warning", "first_response_breach", "sla_breach"):
        subprocess.run([crm_binary(), "timer", "case_flow", timer, "--db", db, "--metadata", os.path.join(ROOT, "metadata"),
                        "--plugins", os.path.join(ROOT, "plugins")], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def main():
    return run_on_demo("kpi", Suite, (
        "everyone_as_admin_equals_sql", "me_and_team_equal_sql", "audit_kpis_are_an_admins_for_everyone",
        "zero_divisors_give_null", "dashboard_per_role_equals_sql", "closed_objects_leave_their_kpis_out",
        "reports_group_by_date_buckets_in_sql", "bad_input"), records=60, seed=11, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
