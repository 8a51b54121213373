"""Business-hours calendars and pausable clocks over HTTP (see calendar.sh): a real `crm serve` with
the metadata in tests/api/calendar/, its database file shared with `crm timer ... --at`, which runs
the SLA timer at the times the test chooses (the test's clock).

DOMAIN.md B3's numbers: calendar Mon-Fri 09:00-18:00 Asia/Shanghai; a ticket opened Friday 17:00
(2026-12-04T09:00:00Z) plus 60 business minutes is Friday 18:00, plus 480 is Monday 16:00, and with
a holiday record on Monday, Tuesday 16:00; Monday 10:00 to 12:00 is 120 business minutes. The
formulas compute in SQL, the validation rule in the C evaluator: both must agree. Standard library
only.
"""
import os
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, Client, Runner, Server, check, cleanup, crm_binary, eq, login,  # noqa: E402
                    problem, tempdir)

API = "/api/v1"
PACK = os.path.join(ROOT, "tests", "api", "calendar")
PASSWORD = "admin-password-for-calendar-tests"

FRIDAY_17 = "2026-12-04T09:00:00Z"      # Friday 17:00 in Shanghai
MONDAY_16 = "2026-12-07T08:00:00Z"
TUESDAY_16 = "2026-12-08T08:00:00Z"


def crm(args, db, metadata=PACK):
    return subprocess.run([crm_binary()] + args + ["--db", db, "--metadata", metadata, "--plugins",
                                                   os.path.join(os.path.dirname(db), "plugins")],
                          cwd=ROOT, capture_output=True, check=False)


def add_user(db, login_name, role):
    p = subprocess.run([crm_binary(), "user", "add", "--login", login_name, "--role", role, "--db", db,
                        "--metadata", PACK, "--plugins", os.path.join(os.path.dirname(db), "plugins")],
                       input=(PASSWORD + "\n").encode(), cwd=ROOT, capture_output=True, check=False)
    if p.returncode != 0:
        raise RuntimeError("crm user add %s: %s" % (login_name, p.stderr.decode()))


class Suite:
    def __init__(self, work):
        self.work = work
        self.db = os.path.join(work, "test.db")
        os.makedirs(os.path.join(work, "plugins"), exist_ok=True)
        add_user(self.db, "admin", "admin")
        add_user(self.db, "agent", "agent")
        self.start()

    def start(self):
        self.server = Server(self.work, db=self.db, metadata=PACK).start(as_admin=False)
        self.c = Client(self.server.port)
        self.admin = login(self.server.port, "admin", PASSWORD)
        self.agent = login(self.server.port, "agent", PASSWORD)

    def stop(self):
        eq(self.server.stop(), 0, "the server stops cleanly")

    def req(self, method, path, body=None, who=None):
        return self.c.request(method, API + path, body=body, headers=who or self.admin, auth=False)

    def create(self, obj, values, who=None):
        r = self.req("POST", "/objects/%s" % obj, values, who)
        eq(r.status, 201, "create %s %r: %s" % (obj, values, r.body[:300]))
        return r.json

    def get(self, obj, rid):
        r = self.req("GET", "/objects/%s/%d" % (obj, rid))
        eq(r.status, 200, "get %s %d: %s" % (obj, rid, r.body[:300]))
        return r.json

    def ticket(self, opened, minutes, cal="cn_office", **extra):
        values = {"subject": "t", "opened_at": opened, "minutes": minutes, "cal": cal}
        values.update(extra)
        return self.create("ticket", values)

    def timer(self, at):
        p = crm(["timer", "ticket_flow", "resolution_sla", "--at", at], self.db)
        eq(p.returncode, 0, "crm timer --at %s: %s" % (at, p.stderr.decode()))
        return p.stdout.decode()

    def notifications(self):
        r = self.req("GET", "/objects/notification?limit=100")
        eq(r.status, 200, "notifications: %s" % r.body[:200])
        return [n for n in r.json["records"] if n["title"] == "SLA breached" or "SLA" in (n.get("body") or "")]

    # -- the tests ---------------------------------------------------------------------
    def test_domain_numbers_in_sql_and_in_c(self):
        t60 = self.ticket(FRIDAY_17, 60)
        eq(t60["target"], "2026-12-04T10:00:00Z", "Friday 17:00 + 60: Friday 18:00")
        eq(t60["open_now"], True, "Friday 17:00 is working time")
        t480 = self.ticket(FRIDAY_17, 480, expected=MONDAY_16)   # the rule (C) agrees with SQL
        eq(t480["target"], MONDAY_16, "+480: Monday 16:00")
        monday = self.ticket("2026-12-07T02:00:00Z", None, expected="2026-12-07T04:00:00Z")
        eq(monday["spent"], 120, "Monday 10:00 to 12:00")
        holiday = self.create("holiday", {"calendar": "cn_office", "day": "2026-12-07", "name": "Test holiday"})
        eq(self.get("ticket", t480["id"])["target"], TUESDAY_16, "a holiday on Monday: Tuesday 16:00")
        eq(self.get("ticket", monday["id"])["spent"], 0, "no business minutes on the holiday")
        # the C evaluator reads the holiday record too: Monday is refused now, Tuesday taken
        r = self.req("POST", "/objects/ticket", {"subject": "t", "opened_at": FRIDAY_17, "minutes": 480,
                                                  "expected": MONDAY_16})
        problem(r, 422, "the rule in C with the holiday")
        self.ticket(FRIDAY_17, 480, expected=TUESDAY_16)
        # a filter in SQL
        q = urllib.parse.quote("add_business_minutes(opened_at, 480, 'cn_office') = '%s' and minutes = 480"
                               % TUESDAY_16)
        r = self.req("GET", "/objects/ticket?filter=" + q)
        eq(r.status, 200, "filter: %s" % r.body[:300])
        eq(len(r.json["records"]), 2, "the two +480 tickets")
        # a half day: Monday 09:00-12:00 only
        r = self.req("PATCH", "/objects/holiday/%d" % holiday["id"], {"hours": "09:00-12:00"})
        check(r.status in (200, 428), "patch: %s" % r.body[:200])
        if r.status == 428:
            etag = self.req("GET", "/objects/holiday/%d" % holiday["id"]).header("ETag")
            r = self.c.request("PATCH", API + "/objects/holiday/%d" % holiday["id"], {"hours": "09:00-12:00"},
                               headers=dict(self.admin, **{"If-Match": etag}), auth=False)
            eq(r.status, 200, "patch with If-Match: %s" % r.body[:200])
        eq(self.get("ticket", t480["id"])["target"], "2026-12-08T05:00:00Z",
           "1h Friday, 3h Monday morning, 4h Tuesday: 13:00")
        eq(self.get("ticket", monday["id"])["spent"], 120, "Monday morning works on the half day")

    def test_dst_in_new_york(self):
        # Friday 2026-03-06 16:00 EST + 120: an hour on Friday, Monday 2026-03-09 10:00 EDT = 14:00Z
        t = self.ticket("2026-03-06T21:00:00Z", 120, cal="ny_office")
        eq(t["target"], "2026-03-09T14:00:00Z", "across the March change")
        # Monday 11:00 EDT + 120 skips lunch: 14:00 EDT = 18:00Z
        t = self.ticket("2026-03-09T15:00:00Z", 120, cal="ny_office")
        eq(t["target"], "2026-03-09T18:00:00Z", "lunch skipped")
        # Friday 2026-10-30 16:00 EDT (20:00Z) + 120: Monday 2026-11-02 10:00 EST = 15:00Z
        t = self.ticket("2026-10-30T20:00:00Z", 120, cal="ny_office")
        eq(t["target"], "2026-11-02T15:00:00Z", "across the November change")
        # Friday 09:00 EST to Monday 17:00 EDT: two days of 7 hours
        t = self.ticket("2026-03-06T14:00:00Z", None, cal="ny_office", expected="2026-03-09T21:00:00Z")
        eq(t["spent"], 840, "two seven-hour days")

    def test_bad_input(self):
        # an unknown calendar constant in a filter: 400 naming it
        q = urllib.parse.quote("is_business_time(opened_at, 'atlantis')")
        r = self.req("GET", "/objects/ticket?filter=" + q)
        problem(r, 400, "unknown calendar")
        check("unknown calendar 'atlantis'" in r.body.decode(), r.body[:300])
        q = urllib.parse.quote("is_business_time(opened_at, 42)")
        problem(self.req("GET", "/objects/ticket?filter=" + q), 400, "a number for a calendar")
        # a field naming no calendar: null, not an error
        t = self.ticket(FRIDAY_17, 60, cal="atlantis")
        eq(t["target"], None, "no such calendar: null")
        # negative minutes: a constant is refused (400); a field's value gives null, never a 500 or a hang
        q = urllib.parse.quote("add_business_minutes(opened_at, -5, 'cn_office') is null")
        problem(self.req("GET", "/objects/ticket?filter=" + q), 400, "negative minutes")
        t = self.ticket(FRIDAY_17, -5)
        eq(t["target"], None, "negative minutes in a field: null")
        q = urllib.parse.quote("add_business_minutes(opened_at, minutes, cal) is null and minutes = -5")
        r = self.req("GET", "/objects/ticket?filter=" + q)
        eq(r.status, 200, "a list with such a row: %s" % r.body[:300])
        eq(len(r.json["records"]), 1, "the row")
        # malformed holiday hours, a missing day
        problem(self.req("POST", "/objects/holiday", {"calendar": "cn_office", "day": "2026-12-25",
                                                      "hours": "9-12"}), 422, "bad hours")
        problem(self.req("POST", "/objects/holiday", {"calendar": "cn_office"}), 422, "no day")
        # employees read holidays; only admins write them
        eq(self.req("GET", "/objects/holiday", who=self.agent).status, 200, "an agent reads holidays")
        r = self.req("POST", "/objects/holiday", {"calendar": "cn_office", "day": "2026-12-26"}, who=self.agent)
        check(r.status in (403, 404), "an agent may not add a holiday: %d" % r.status)

    def test_crm_check_names_file_line_column(self):
        bad = os.path.join(self.work, "bad")
        shutil.copytree(PACK, bad)
        with open(os.path.join(bad, "calendars.yaml"), "a") as f:
            f.write("---\ncalendar: broken\ntimezone: Mars/Olympus\nhours: { mon: [\"18:00-09:00\"] }\n"
                    "---\ncalendar: idle\ntimezone: UTC\nhours: { sat: [] }\n")
        p = crm(["check"], os.path.join(self.work, "check.db"), metadata=bad)
        out = p.stderr.decode() + p.stdout.decode()
        eq(p.returncode, 1, "crm check fails: %s" % out)
        check("calendars.yaml:19:11: error: unknown time zone 'Mars/Olympus'" in out, out)
        check("calendars.yaml:20:16: error: interval '18:00-09:00' ends before it starts" in out, out)
        check("calendars.yaml:22:11: error: calendar 'idle' has no working time" in out, out)
        bad2 = os.path.join(self.work, "bad2")
        shutil.copytree(PACK, bad2)
        with open(os.path.join(bad2, "extra.yaml"), "w") as f:
            f.write("object: memo\nlabel: { en: Memo }\nfields:\n"
                    "  at: { type: datetime, label: { en: At } }\n"
                    "  due: { type: formula, returns: datetime, label: { en: Due },\n"
                    "         formula: \"add_business_minutes(at, 60, 'atlantis')\" }\n")
        p = crm(["check"], os.path.join(self.work, "check2.db"), metadata=bad2)
        out = p.stderr.decode() + p.stdout.decode()
        eq(p.returncode, 1, "crm check fails: %s" % out)
        check("extra.yaml:6:" in out and "unknown calendar 'atlantis'" in out, out)

    def test_sla_clock_pauses_and_breaches_once_across_a_restart(self):
        t = self.ticket(FRIDAY_17, 480, cal="cn_office")
        rid = t["id"]
        due = t["target"]   # Monday 16:00, or Tuesday once the holiday test added Monday
        r = self.req("PATCH", "/objects/ticket/%d" % rid, {"due_at": MONDAY_16})
        if r.status == 428:
            etag = self.req("GET", "/objects/ticket/%d" % rid).header("ETag")
            r = self.c.request("PATCH", API + "/objects/ticket/%d" % rid, {"due_at": MONDAY_16},
                               headers=dict(self.admin, **{"If-Match": etag}), auth=False)
        eq(r.status, 200, "due_at: %s" % r.body[:200])
        check(due in (MONDAY_16, TUESDAY_16, "2026-12-08T05:00:00Z"), due)
        # no holiday in this test: remove what the other test added
        for h in self.req("GET", "/objects/holiday?limit=100").json["records"]:
            self.req("DELETE", "/objects/holiday/%d" % h["id"])
        before = len(self.notifications())
        self.timer("2026-12-07T02:00:00Z")                       # Monday 10:00: not due yet
        eq(len(self.notifications()), before, "not due yet")
        eq(self.req("POST", "/objects/ticket/%d/transitions/wait" % rid, {}).status, 200, "wait")
        self.timer("2026-12-07T03:00:00Z")                       # Monday 11:00: the clock stops
        eq(self.get("ticket", rid)["paused_since"], "2026-12-07T03:00:00Z", "paused at 11:00")
        self.timer("2026-12-07T09:00:00Z")                       # Monday 17:00: past due, but paused
        eq(len(self.notifications()), before, "no breach while paused")
        eq(self.get("ticket", rid)["breached"], False, "not breached while paused")
        eq(self.req("POST", "/objects/ticket/%d/transitions/resume" % rid, {}).status, 200, "resume")
        self.timer("2026-12-08T02:00:00Z")                       # Tuesday 10:00: the clock runs again
        t = self.get("ticket", rid)
        eq(t["paused_since"], None, "resumed")
        eq(t["paused_minutes"], 480, "Monday 11:00-18:00 and Tuesday 09:00-10:00 paused")
        eq(t["due_at"], "2026-12-08T07:00:00Z", "due pushed by 480 business minutes: Tuesday 15:00")
        eq(len(self.notifications()), before, "not due yet after the push")
        self.timer("2026-12-08T08:00:00Z")                       # Tuesday 16:00: breached
        eq(len(self.notifications()), before + 1, "one breach notification")
        eq(self.get("ticket", rid)["breached"], True, "breached")
        self.stop()
        self.start()
        self.timer("2026-12-08T09:00:00Z")
        self.timer("2026-12-09T09:00:00Z")
        eq(len(self.notifications()), before + 1, "still one after a restart and two more runs")
        # bad --at: refused with a message, nothing run
        p = crm(["timer", "ticket_flow", "resolution_sla", "--at", "tomorrow"], self.db)
        eq(p.returncode, 2, "a bad --at")
        check("not a UTC time" in p.stderr.decode(), p.stderr.decode())
        p = crm(["timer", "ticket_flow", "nope"], self.db)
        eq(p.returncode, 1, "an unknown timer")


def main():
    runner = Runner()
    work = tempdir("crm-calendar-")
    suite = None
    try:
        suite = Suite(work)
        for name in sorted(n for n in dir(Suite) if n.startswith("test_")):
            runner.run(name, getattr(suite, name))
    finally:
        if suite and suite.server and suite.server.proc:
            suite.server.stop()
        if os.environ.get("KEEP"):
            print("kept %s" % work)
        else:
            cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
