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
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Client, check, eq, login, run_on_demo  # noqa: E402

API = "/api/v1"
PASSWORD = "demo1234"

# The independent figures: (SQL over live records with ?1 = period start, ?2 = the day after its end, and
# {people} = the owner condition), and the owner column. Written from the kpi documents by hand.
SQL = {
    "won_revenue": "SELECT coalesce(sum(amount), 0) FROM opportunity WHERE deleted_at IS NULL AND stage = 'won' "
                   "AND close_date >= ?1 AND close_date < ?2 {people}",
    "deals_won": "SELECT count(*) FROM opportunity WHERE deleted_at IS NULL AND stage = 'won' "
                 "AND close_date >= ?1 AND close_date < ?2 {people}",
    "new_opportunities": "SELECT count(*) FROM opportunity WHERE deleted_at IS NULL AND created_at >= ?1 "
                         "AND created_at < ?2 {people}",
    "activities_done": "SELECT count(*) FROM activity WHERE deleted_at IS NULL AND status = 'done' AND due_at >= ?1 "
                       "AND due_at < ?2 {people}",
    "booked_orders": None,        # computed from the order lines below (grand total is a formula)
    "average_quote_discount": "SELECT avg(discount) FROM quote WHERE deleted_at IS NULL AND status IN ('presented', "
                              "'accepted', 'rejected') AND created_at >= ?1 AND created_at < ?2 {people}",
    "quotes_sent": "SELECT count(*) FROM quote WHERE deleted_at IS NULL AND status IN ('presented', 'accepted', "
                   "'rejected', 'expired') AND created_at >= ?1 AND created_at < ?2 {people}",
    # the marketing package's (plugins/marketing/objects/kpis.yaml); the averages of formulas are computed
    # in Python from the stored columns, each record's figure rounded to its field's scale first
    "leads_created": "SELECT count(*) FROM campaign_member WHERE deleted_at IS NULL AND lead IS NOT NULL "
                     "AND created_at >= ?1 AND created_at < ?2 {people}",
    "response_rate": None,
    "cost_per_lead": None,
    "campaign_roi": None,
    "marketing_pipeline": "SELECT coalesce(sum(amount_share), 0) FROM campaign_influence WHERE deleted_at IS NULL "
                          "AND model = 'even' AND opportunity_open = 1 AND created_at >= ?1 AND created_at < ?2 {people}",
    # owner: user (the quota's rep)
    "plan_attainment": "SELECT coalesce(sum(actual_amount), 0) FROM plan_target WHERE deleted_at IS NULL "
                       "AND period_start >= ?1 AND period_start < ?2 {people_user}",
}

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


class Suite:
    def __init__(self, server, db):
        self.server = server
        self.db = db
        self.c = Client(server.port)
        self.h = {}

    def get(self, who, path):
        return self.c.request("GET", API + path, headers=self.h[who], auth=False)

    def test_setup(self):
        for who in ("admin", "sales_manager", "sales_rep1", "service_agent"):
            self.h[who] = login(self.server.port, who, PASSWORD)
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        self.ids = {login: uid for uid, login in con.execute("SELECT id, login FROM user")}
        con.close()

    def expected(self, name, period, day, people_ids):
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        try:
            start, after, before = bounds(day, period)
            owner = "AND owner IN (%s)" % ",".join(str(i) for i in people_ids) if people_ids is not None else ""
            if name == "booked_orders":
                return booked_orders(con, start, after, owner), booked_orders(con, before, start, owner)
            if name in CAMPAIGN_AVERAGES:
                return (campaign_average(con, name, start, after, owner),
                        campaign_average(con, name, before, start, owner))
            sql = SQL[name].format(people=owner, people_user=owner.replace("owner IN", "user IN"))
            now = con.execute(sql, (start, after)).fetchone()[0]
            prev = con.execute(sql, (before, start)).fetchone()[0]
            return now, prev
        finally:
            con.close()

    def compare(self, who, scope, people_ids, day):
        r = self.get(who, "/kpis?scope=%s&day=%s" % (scope, day.isoformat()))
        eq(r.status, 200, "kpis as %s: %s" % (who, r.body[:200]))
        kpis = r.json["kpis"]
        check(kpis, "some kpis")
        for k in kpis:
            check(k["name"] in SQL, "kpi %s is shipped without its independent SQL in kpi_test.py" % k["name"])
            start, after, before = bounds(day, k["period"])
            eq((k["start"], k["previous_start"]), (start, before), "%s period" % k["name"])
            want, prev = self.expected(k["name"], k["period"], day, people_ids)
            for got, exp, what in ((k["actual"], want, "actual"), (k["previous"], prev, "previous")):
                if exp is None:
                    eq(got, None, "%s %s %s as %s" % (k["name"], what, scope, who))
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

    def test_everyone_as_admin_equals_sql(self):
        """For every kpi and three days (this period, earlier this year, last year): the SQL's figures."""
        today = datetime.date.today()
        for day in (today, today.replace(month=1, day=15), datetime.date(today.year - 1, 6, 30)):
            names = self.compare("admin", "all", None, day)
        eq(names, set(SQL), "every shipped kpi is listed for the admin")

    def test_me_and_team_equal_sql(self):
        """A rep's own figures and a manager's team (self and reports down the tree)."""
        today = datetime.date.today()
        rep = self.ids["sales_rep1"]
        for day in (today, today.replace(month=1, day=15)):
            self.compare("sales_rep1", "me", [rep], day)
        con = sqlite3.connect("file:%s?mode=ro" % self.db, uri=True)
        boss = self.ids["sales_manager"]
        team, frontier = {boss}, {boss}
        team_id = con.execute("SELECT team FROM user WHERE id = ?", (boss,)).fetchone()[0]
        if team_id is not None:
            team |= {uid for (uid,) in con.execute("SELECT id FROM user WHERE team = ?", (team_id,))}
        while frontier:
            nxt = {uid for (uid,) in con.execute("SELECT id FROM user WHERE manager IN (%s)"
                                                 % ",".join(map(str, frontier)))} - team
            team |= nxt
            frontier = nxt
        con.close()
        self.compare("sales_manager", "team", sorted(team), today)

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
        for group in ("stage:month", "close_date:week", "close_date:", "nosuch:year"):
            eq(self.get("admin", "/reports/opportunity?group=%s" % group).status, 400, "group=%s" % group)

    def test_bad_input(self):
        for path, status in (("/kpis?day=2026-13-01", 400), ("/kpis?day=yesterday", 400), ("/kpis?scope=galaxy", 400),
                             ("/kpis?day=%27%3B%20drop", 400), ("/kpis?nosuch=1", 400), ("/kpis/nope", 404),
                             ("/kpis?day=" + "9" * 5000, 400)):
            r = self.get("admin", path)
            eq(r.status, status, "%s: %s" % (path, r.body[:200]))
        r = self.c.request("GET", API + "/kpis", auth=False)
        eq(r.status, 401, "without a session")
        r = self.c.request("POST", API + "/kpis", body={}, headers=self.h["admin"], auth=False)
        eq(r.status, 405, "POST")


def main():
    return run_on_demo("kpi", Suite, ("everyone_as_admin_equals_sql", "me_and_team_equal_sql",
                                      "closed_objects_leave_their_kpis_out", "reports_group_by_date_buckets_in_sql",
                                      "bad_input"), records=60, seed=11)


if __name__ == "__main__":
    sys.exit(main())
