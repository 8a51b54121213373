"""The fieldforce package over REST (see fieldforce.sh).

A real `crm serve` over the shipped metadata/ and plugins/ on a fresh `crm demo` database. The
stories plan their visits in 2031 (the server's own missed timer, on the real clock, leaves them
alone) on accounts of their own at the coordinates of DOMAIN B6. Strict mode is a second server
on a copy of the database, with a copy of metadata/ whose app.yaml sets
`config: { fieldforce: { strict: true, radius_m: 100 } }`.
"""
import datetime
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, Client, Server, check, crm_binary, eq, login, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
USERS = ("admin", "field_manager", "field_rep1", "field_rep2", "sales_rep1")
CLIENTS = 32
ACCOUNT = {"lat": 31.2310, "lng": 121.4740}       # DOMAIN B6 scenario 2
NEAR = {"lat": 31.2304, "lng": 121.4737}          # 72 m away
FAR = {"lat": 31.249865, "lng": 121.4740}         # 2.1 km north


def q(text):
    return urllib.parse.quote(text)


def minutes(a, b):
    f = "%Y-%m-%dT%H:%M:%SZ"
    return int((datetime.datetime.strptime(b, f) - datetime.datetime.strptime(a, f)).total_seconds() // 60)


class Suite(AsUsers):
    def __init__(self, server, db):
        AsUsers.__init__(self, server.port)
        self.server = server
        self.db = db
        self.ids = {}
        self.serial = 0

    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        users = self.records("admin", "user", "fields=id,login,manager,team&limit=200")
        self.ids.update({u["login"]: u for u in users})
        eq(self.ids["field_rep1"]["manager"], self.ids["field_manager"]["id"], "field_rep1 reports to field_manager")
        check(self.ids["field_rep1"]["team"] != self.ids["field_rep2"]["team"], "the reps are in two teams")
        self.account = self.created("admin", "account", {"name": "Ruijin Clinic Store", "location": ACCOUNT})["id"]
        self.bare = self.created("admin", "account", {"name": "Store without a location"})["id"]

    # -- plumbing ----------------------------------------------------------------------
    def plan(self, who, day, n, account=None):
        plan = self.created(who, "visit_plan", {"rep": self.ids[who]["id"], "day": day})
        visits = [self.created(who, "visit", {"plan": plan["id"], "account": account or self.account, "route_order": i + 1,
                                              "planned_start": "%sT%02d:00:00Z" % (day, 1 + i)}) for i in range(n)]
        return plan, visits

    def visit(self, who="field_rep1", account=None, day="2031-05-05"):
        self.serial += 1
        return self.created(who, "visit", {"account": account or self.account,
                                           "planned_start": "%sT%02d:%02d:00Z" % (day, 1 + self.serial // 60 % 20,
                                                                                   self.serial % 60)})

    def check_in(self, who, vid, point, status=200, **extra):
        body = {"check_in_geo": point}
        body.update(extra)
        return self.fire(who, "visit", vid, "check_in", status=status, body=body)

    def report(self, who, vid, **values):
        values["visit"] = vid
        values.setdefault("products_discussed", ["core"])
        values.setdefault("key_message", "Walked through the price list")
        values.setdefault("outcome", "positive")
        return self.created(who, "call_report", values)

    def same_as_kernel(self, vid, metres):
        """distance_m is the kernel's distance() between the check-in and the account, in whole metres."""
        f = "id = %d and distance(check_in_geo, account.location) >= %d and distance(check_in_geo, account.location) < %d" % (
            vid, metres, metres + 1)
        eq(len(self.records("admin", "visit", "filter=" + q(f))), 1, "visit %d: %d m is the kernel's distance" % (vid, metres))

    # -- DOMAIN B6 ---------------------------------------------------------------------
    def test_scenario1_plan_of_8_submitted_and_approved_by_the_manager(self):
        plan, visits = self.plan("field_rep1", "2031-03-03", 8)
        p = self.get("field_rep1", "visit_plan", plan["id"])
        eq((p["planned"], p["completed"], p["completion"], p["status"]), (8, 0, 0, "draft"), "a plan of 8")
        empty = self.created("field_rep1", "visit_plan", {"rep": self.ids["field_rep1"]["id"], "day": "2031-03-04"})
        r = self.fire("field_rep1", "visit_plan", empty["id"], "submit", status=422)
        check("Add a visit" in r.body.decode(), "an empty plan cannot be submitted: %s" % r.body[:200])
        self.fire("field_rep1", "visit_plan", plan["id"], "submit")
        # the rep can no longer change it, nor approve it
        self.fire("field_rep1", "visit_plan", plan["id"], "approve", status=403)
        self.patch("field_rep1", "visit_plan", plan["id"], {"notes": "later"}, status=403)
        # another rep's manager-less colleague cannot see it; the manager approves it at once
        eq(self.req("field_rep2", "GET", "/objects/visit_plan/%d" % plan["id"]).status, 404, "rep2 reads rep1's plan")
        r = self.fire("field_manager", "visit_plan", plan["id"], "approve")
        eq(self.get("field_rep1", "visit_plan", plan["id"])["status"], "approved", "approved by rep1's manager")
        # an admin's approve goes to the plan owner's manager as an approval request
        plan2, _ = self.plan("field_rep1", "2031-03-05", 2)
        self.fire("field_rep1", "visit_plan", plan2["id"], "submit")
        r = self.fire("admin", "visit_plan", plan2["id"], "approve", status=202)
        eq(self.get("admin", "visit_plan", plan2["id"])["status"], "submitted", "waits for the manager")
        mine = self.records("field_manager", "approval", "filter=" + q("status = 'pending' and record_id = %d" % plan2["id"]))
        eq(len(mine), 1, "one approval for field_manager")
        r = self.req("field_manager", "POST", "/objects/approval/%d/approve" % mine[0]["id"], {"comment": "ok"})
        eq(r.status, 200, "manager approves: %s" % r.body[:200])
        eq(self.get("admin", "visit_plan", plan2["id"])["status"], "approved", "approved through the request")
        self.plan1 = (plan, visits)

    def test_scenario2_72_m_passes_and_2_1_km_is_flagged(self):
        v = self.visit()
        r = self.check_in("field_rep1", v["id"], NEAR)
        rec = self.get("field_rep1", "visit", v["id"])
        eq((rec["status"], rec["distance_m"], rec["geo_ok"]), ("in_progress", 72, True), "72 m passes")
        check(rec.get("checked_in_at"), "checked_in_at stamped")
        self.same_as_kernel(v["id"], 72)
        v2 = self.visit()
        self.check_in("field_rep1", v2["id"], FAR)
        rec = self.get("field_rep1", "visit", v2["id"])
        eq((rec["status"], rec["geo_ok"]), ("in_progress", False), "2.1 km: flagged, still checked in")
        check(2090 <= rec["distance_m"] <= 2110, "about 2.1 km: %r" % rec["distance_m"])
        check("beyond the 200 m radius" in rec["check_in_note"], "the note says why: %r" % rec["check_in_note"])
        self.same_as_kernel(v2["id"], rec["distance_m"])
        # other numbers: 199 m passes, 201 m is flagged (1 degree of latitude = 111,195 m on the mean radius)
        for metres, ok in ((150, True), (250, False), (5000, False)):
            v3 = self.visit()
            self.check_in("field_rep1", v3["id"], {"lat": round(ACCOUNT["lat"] - metres / 111195.08, 7), "lng": ACCOUNT["lng"]})
            rec = self.get("field_rep1", "visit", v3["id"])
            eq(rec["geo_ok"], ok, "%d m" % metres)
            check(abs(rec["distance_m"] - metres) <= 1, "%d m measured %r" % (metres, rec["distance_m"]))
            self.same_as_kernel(v3["id"], rec["distance_m"])
        # an account without a location: checked in, not verified, and the answer says so
        v4 = self.visit(account=self.bare)
        r = self.check_in("field_rep1", v4["id"], NEAR)
        rec = r.json.get("record") or self.get("field_rep1", "visit", v4["id"])
        eq((rec["status"], rec.get("geo_ok"), rec.get("distance_m")), ("in_progress", None, None), "no location")
        check("no location" in (rec.get("check_in_note") or ""), "said in the answer: %r" % r.body[:300])
        # the manager's flagged check-ins list the far one
        flagged = self.records("field_manager", "visit", "filter=" + q("checked_in_at != null and geo_ok = false"))
        check(v2["id"] in {x["id"] for x in flagged}, "the manager sees the flagged check-in")

    def test_scenario2_strict_mode_refuses(self):
        work = os.path.join(self.server.workdir, "strict")
        meta = os.path.join(work, "metadata")
        shutil.copytree(os.path.join(ROOT, "metadata"), meta)
        app = os.path.join(meta, "app.yaml")
        with open(app) as f:
            text = f.read()
        check("config: { currency: EUR }" in text, "app.yaml's config line")
        with open(app, "w") as f:
            f.write(text.replace("config: { currency: EUR }",
                                 "config: { currency: EUR, fieldforce: { strict: true, radius_m: 100 } }"))
        far, near, mid = self.visit(), self.visit(), self.visit()
        db = os.path.join(work, "strict.db")
        src, dst = sqlite3.connect(self.db), sqlite3.connect(db)
        src.backup(dst)
        src.close()
        dst.close()
        strict = Server(work, db=db, metadata=meta, plugins=os.path.join(ROOT, "plugins")).start(as_admin=False)
        try:
            c = Client(strict.port)
            h = login(strict.port, "field_rep1", PASSWORD)

            def fire(vid, point):
                return c.request("POST", "/api/v1/objects/visit/%d/transitions/check_in" % vid,
                                 body={"check_in_geo": point}, headers=h, auth=False)
            r = fire(far["id"], FAR)
            eq(r.status, 422, "2.1 km refused in strict mode: %s" % r.body[:300])
            check("100 m radius" in r.body.decode() and " m from the account" in r.body.decode(), "names distance and radius: %s" % r.body[:300])
            got = c.request("GET", "/api/v1/objects/visit/%d" % far["id"], headers=h, auth=False).json
            eq((got["status"], got.get("checked_in_at"), got.get("check_in_geo")), ("planned", None, None),
               "nothing written by the refusal")
            r = fire(mid["id"], {"lat": round(ACCOUNT["lat"] - 150 / 111195.08, 7), "lng": ACCOUNT["lng"]})
            eq(r.status, 422, "150 m refused at radius 100")
            check("150 m" in r.body.decode(), "the distance named: %s" % r.body[:300])
            r = fire(near["id"], NEAR)
            eq(r.status, 200, "72 m passes at radius 100: %s" % r.body[:300])
            got = c.request("GET", "/api/v1/objects/visit/%d" % near["id"], headers=h, auth=False).json
            eq((got["distance_m"], got["geo_ok"]), (72, True), "stamped in strict mode")
            c.close()
        finally:
            strict.stop()

    def test_scenario3_check_out_needs_a_report_and_completion_75(self):
        plan, visits = self.plan1
        for i, v in enumerate(visits[:6]):
            self.check_in("field_rep1", v["id"], FAR if i == 5 else NEAR)
        r = self.fire("field_rep1", "visit", visits[0]["id"], "check_out", status=422)
        check("call report" in r.body.decode(), "refused without a call report: %s" % r.body[:200])
        eq(self.get("field_rep1", "visit", visits[0]["id"])["status"], "in_progress", "still checked in")
        for v in visits[:6]:
            self.report("field_rep1", v["id"], next_step="Send the quote", next_visit_on="2031-03-17")
            self.fire("field_rep1", "visit", v["id"], "check_out")
            rec = self.get("field_rep1", "visit", v["id"])
            eq(rec["status"], "completed", "checked out")
            eq(rec["duration_min"], minutes(rec["checked_in_at"], rec["checked_out_at"]), "minutes between the stamps")
        p = self.get("field_manager", "visit_plan", plan["id"])
        eq((p["planned"], p["completed"], p["verified"], float(p["completion"])), (8, 6, 5, 75.0), "6 of 8, 5 verified")
        # the follow-up task: the rep's, on the account, due on the next visit's day
        rep = self.records("field_rep1", "call_report", "filter=" + q("visit = %d" % visits[0]["id"]))[0]
        task = self.get("field_rep1", "activity", rep["follow_up"])
        eq((task["kind"], task["status"], task["account"], task["visit"], task["owner"], task["due_at"][:10]),
           ("task", "open", self.account, visits[0]["id"], self.ids["field_rep1"]["id"], "2031-03-17"), "follow-up task")
        # a second report on one visit is refused (one per visit); a closed plan
        r = self.req("field_rep1", "POST", "/objects/call_report", {"visit": visits[0]["id"], "outcome": "neutral"})
        check(r.status in (409, 422), "a second call report: %d %s" % (r.status, r.body[:200]))
        self.fire("field_manager", "visit_plan", plan["id"], "close")

    # -- roles -------------------------------------------------------------------------
    def test_rep_cannot_write_stamps_nor_read_another_team(self):
        v = self.visit()
        self.check_in("field_rep1", v["id"], NEAR)
        for field, value in (("distance_m", 5), ("geo_ok", True), ("checked_in_at", "2031-01-01T00:00:00Z")):
            r = self.req("field_rep1", "PATCH", "/objects/visit/%d" % v["id"], {field: value}, headers={"If-Match": "*"})
            check(r.status in (403, 422), "rep writes %s: %d %s" % (field, r.status, r.body[:200]))
        rec = self.get("field_rep1", "visit", v["id"])
        eq((rec["distance_m"], rec["geo_ok"]), (72, True), "stamps unchanged")
        r = self.req("field_rep1", "POST", "/objects/visit", {"account": self.account, "distance_m": 1, "geo_ok": True})
        check(r.status in (403, 422), "rep creates a visit with stamps: %d %s" % (r.status, r.body[:200]))
        # field_rep2 (another team) neither reads nor lists field_rep1's visits; the manager reads both
        mine = self.visit("field_rep2")
        eq(self.req("field_rep2", "GET", "/objects/visit/%d" % v["id"]).status, 404, "rep2 reads rep1's visit")
        eq(self.req("field_rep1", "GET", "/objects/visit/%d" % mine["id"]).status, 404, "rep1 reads rep2's visit")
        owners = {x["owner"] for x in self.records("field_rep2", "visit", "limit=500&fields=owner")}
        eq(owners, {self.ids["field_rep2"]["id"]}, "rep2 lists only their own team's visits")
        self.get("field_manager", "visit", v["id"])
        self.get("field_manager", "visit", mine["id"])
        # rep2 may not check in rep1's visit, nor write its call report
        eq(self.req("field_rep2", "POST", "/objects/visit/%d/transitions/check_in" % v["id"],
                    {"check_in_geo": NEAR}).status, 404, "rep2 checks in rep1's visit")
        r = self.req("field_rep2", "POST", "/objects/call_report", {"visit": v["id"], "outcome": "neutral"})
        check(r.status in (403, 404, 422), "rep2 reports on rep1's visit: %d" % r.status)
        # a sales rep sees no field force at all
        for obj in ("visit", "visit_plan", "call_report", "territory", "visit_target"):
            check(self.req("sales_rep1", "GET", "/objects/%s" % obj).status in (403, 404), "sales_rep1 lists %s" % obj)

    def test_the_reps_day_on_the_demo(self):
        """The demo's today: field_rep1's plan of 7 visits in route order, the home sections of both roles."""
        today = datetime.date.today().isoformat()
        tomorrow = (datetime.date.today() + datetime.timedelta(days=1)).isoformat()
        f = "owner = $me and planned_start >= '%s' and planned_start < '%s'" % (today, tomorrow)
        day = self.records("field_rep1", "visit", "sort=route_order&filter=" + q(f))
        eq([v["route_order"] for v in day], list(range(1, 8)), "seven visits in route order")
        eq([v["status"] for v in day[:4]], ["completed", "completed", "in_progress", "planned"], "the day so far")
        meta = self.req("field_rep1", "GET", "/meta").json
        titles = [s["title"]["en"] if isinstance(s["title"], dict) else s["title"] for s in meta["caller"]["home"]["sections"]]
        eq(titles[0], "Today's visits", "the rep's home starts with today's visits: %r" % titles)
        meta = self.req("field_manager", "GET", "/meta").json
        titles = [s["title"]["en"] if isinstance(s["title"], dict) else s["title"] for s in meta["caller"]["home"]["sections"]]
        check({"Plans to approve", "Today's team visits", "Flagged check-ins"} <= set(titles), "manager's home: %r" % titles)
        # the demo's coverage: targets with frequencies, some visited this month
        targets = self.records("field_rep1", "visit_target", "limit=100")
        check(len(targets) >= 4 and all(t["frequency_per_month"] >= 1 for t in targets), "rep1's target list")
        r = self.req("field_manager", "GET", "/reports/target_coverage")
        eq(r.status, 200, "coverage report: %s" % r.body[:200])
        check(len(r.json["rows"]) == 2, "coverage per rep: %r" % r.json["rows"])
        r = self.req("field_manager", "GET", "/kpis?view=dashboard")
        names = {k["name"] for k in r.json["kpis"]}
        check({"visits_planned", "visits_completed", "visits_verified", "visit_completion"} <= names, "tiles: %r" % names)

    # -- bad input ---------------------------------------------------------------------
    def test_bad_input(self):
        v = self.visit()
        for bad in ({"lat": 91, "lng": 0}, {"lat": 0, "lng": -181}, {"lat": "31.2", "lng": "121.4"}, "31.2,121.4",
                    {"lat": 31.2}, {"lat": 31.2, "lng": 121.4, "alt": 3}, [31.2, 121.4], {"lat": None, "lng": 1}, 7):
            r = self.req("field_rep1", "POST", "/objects/visit/%d/transitions/check_in" % v["id"], {"check_in_geo": bad})
            eq(r.status, 422, "check_in_geo %r: %s" % (bad, r.body[:200]))
        r = self.req("field_rep1", "POST", "/objects/visit/%d/transitions/check_in" % v["id"], {})
        eq(r.status, 422, "check_in without a location")
        check("check_in_geo" in r.body.decode(), "names the field: %s" % r.body[:200])
        eq(self.get("field_rep1", "visit", v["id"])["status"], "planned", "nothing written")
        # a call report on a visit not checked in; check_out before check_in
        r = self.req("field_rep1", "POST", "/objects/call_report", {"visit": v["id"], "outcome": "neutral"})
        eq(r.status, 422, "report before check-in: %s" % r.body[:200])
        r = self.req("field_rep1", "POST", "/objects/visit/%d/transitions/check_out" % v["id"], {})
        check(r.status in (409, 422), "check_out from planned: %d" % r.status)
        self.check_in("field_rep1", v["id"], NEAR)
        r = self.req("field_rep1", "POST", "/objects/call_report", {"visit": v["id"], "key_message": "x" * 4001})
        eq(r.status, 422, "oversized key message")
        r = self.req("field_rep1", "POST", "/objects/call_report", {"visit": v["id"], "products_discussed": ["plutonium"]})
        eq(r.status, 422, "unknown product")
        r = self.req("field_rep1", "POST", "/objects/call_report", {"visit": v["id"], "next_step": "y" * 201})
        eq(r.status, 422, "oversized next step")
        hostile = "<script>alert(1)</script>'; DROP TABLE visit; -- 签到\u202e"
        rep = self.report("field_rep1", v["id"], key_message=hostile, next_step=hostile[:200])
        eq(self.get("field_rep1", "call_report", rep["id"])["key_message"], hostile, "hostile text stored as given")
        task = self.get("field_rep1", "activity", self.get("field_rep1", "call_report", rep["id"])["follow_up"])
        check(task["subject"].startswith("Follow-up: <script>"), "the task keeps the text as text")
        for bad in ({"route_order": 0}, {"route_order": "first"}, {"planned_start": "tomorrow"}, {"account": 99999999},
                    {"purpose": "party"}, {"mock_location": "yes"}):
            body = {"account": self.account}
            body.update(bad)
            r = self.req("field_rep1", "POST", "/objects/visit", body)
            eq(r.status, 422, "visit %r: %s" % (bad, r.body[:200]))
        r = self.req("field_rep1", "POST", "/objects/visit_plan", {"rep": self.ids["field_rep2"]["id"], "day": "2031-06-01"})
        check(r.status in (403, 422), "a plan for another rep: %d" % r.status)
        r = self.req("field_rep1", "POST", "/objects/visit_plan", {"rep": self.ids["field_rep1"]["id"], "day": "2031-13-01"})
        eq(r.status, 422, "a bad day")
        self.created("field_rep1", "visit_plan", {"rep": self.ids["field_rep1"]["id"], "day": "2031-06-02"})
        r = self.req("field_rep1", "POST", "/objects/visit_plan", {"rep": self.ids["field_rep1"]["id"], "day": "2031-06-02"})
        check(r.status in (409, 422), "two plans for one day: %d" % r.status)
        r = self.req("field_rep1", "GET", "/objects/visit?filter=" + q("within(check_in_geo, point(95, 0), 10)"))
        eq(r.status, 400, "a filter with a point out of range")

    def test_concurrent_check_ins(self):
        visits = [self.visit() for _ in range(CLIENTS)]
        results = [None] * CLIENTS

        def one(i):
            c = Client(self.server.port)
            try:
                point = NEAR if i % 2 == 0 else FAR
                r = c.request("POST", "/api/v1/objects/visit/%d/transitions/check_in" % visits[i]["id"],
                              body={"check_in_geo": point}, headers=self.h["field_rep1"], auth=False)
                results[i] = r.status
            finally:
                c.close()
        threads = [threading.Thread(target=one, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(results, [200] * CLIENTS, "every check-in answered 200")
        ids = ",".join(str(v["id"]) for v in visits)
        rows = self.records("admin", "visit", "limit=100&filter=" + q("id in (%s)" % ids))
        eq(sorted(r["id"] for r in rows), sorted(v["id"] for v in visits), "all there")
        by_id = {r["id"]: r for r in rows}
        for i, v in enumerate(visits):
            r = by_id[v["id"]]
            eq((r["status"], r["geo_ok"]), ("in_progress", i % 2 == 0), "visit %d" % i)
            check(r["checked_in_at"] and (r["distance_m"] == 72 if i % 2 == 0 else r["distance_m"] > 2000),
                  "stamped %r" % r)

    def test_missed_timer(self):
        """`crm timer visit_flow missed --at T`: a visit planned before T's day and never checked in is missed."""
        gone = self.visit(day="2031-07-01")
        later = self.visit(day="2031-07-09")
        p = subprocess.run([crm_binary(), "timer", "visit_flow", "missed", "--at", "2031-07-02T02:00:00Z", "--db", self.db,
                            "--metadata", self.server.metadata, "--plugins", os.path.join(ROOT, "plugins")],
                           cwd=ROOT, capture_output=True, check=False)
        eq(p.returncode, 0, "crm timer: %s" % p.stderr.decode()[-300:])
        eq(self.get("field_rep1", "visit", gone["id"])["status"], "missed", "missed")
        eq(self.get("field_rep1", "visit", later["id"])["status"], "planned", "a later visit stays")
        notes = self.records("field_rep1", "notification", "filter=" + q("user = $me"))
        check(any("not checked in" in (n.get("title") or n.get("message") or "") for n in notes), "the rep is told")


def main():
    return run_on_demo("fieldforce", Suite, (
        "scenario1_plan_of_8_submitted_and_approved_by_the_manager", "scenario2_72_m_passes_and_2_1_km_is_flagged",
        "scenario2_strict_mode_refuses", "scenario3_check_out_needs_a_report_and_completion_75",
        "rep_cannot_write_stamps_nor_read_another_team", "the_reps_day_on_the_demo", "bad_input",
        "concurrent_check_ins", "missed_timer"), extra=["--threads", "8"])


if __name__ == "__main__":
    sys.exit(main())
