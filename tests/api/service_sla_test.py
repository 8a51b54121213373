"""The service package's SLA clock over HTTP (see service_sla.sh): a real `crm serve` over the shipped
plugins/ on a `crm demo` database (metadata/ plus a New York calendar for the DST change), the clock
driven by the test: transitions record their moments (first_responded_at, sla_paused_since,
sla_resumed_at in their values) and `crm timer case_flow <timer> --at T` runs the SLA timers at T.

DOMAIN.md B3's stories on cn_office (Mon-Fri 09:00-18:00 Shanghai), policy Gold 60/480, in weeks of
2030 (so the server's own timers, on the real clock, never reach them): Friday 2030-12-06 17:00 is
09:00Z; Monday 2030-12-09 16:00 is 08:00Z. Standard library only.
"""
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, check, crm_binary, eq, login, problem, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
FRIDAY_17 = "2030-12-06T09:00:00Z"
FRIDAY_18 = "2030-12-06T10:00:00Z"
MONDAY_10 = "2030-12-09T02:00:00Z"
MONDAY_12 = "2030-12-09T04:00:00Z"
MONDAY_16 = "2030-12-09T08:00:00Z"
MONDAY_18 = "2030-12-09T10:00:00Z"
NY_CALENDAR = """
---
# New York, 09:00-17:00 with lunch: the clocks spring forward on 2031-03-09.
calendar: ny_office
label: { en: New York Office, zh: 纽约办公时间 }
timezone: America/New_York
hours:
  mon: ["09:00-12:00", "13:00-17:00"]
  tue: ["09:00-12:00", "13:00-17:00"]
  wed: ["09:00-12:00", "13:00-17:00"]
  thu: ["09:00-12:00", "13:00-17:00"]
  fri: ["09:00-12:00", "13:00-17:00"]
"""
USERS = (("sla_mgr", "service_manager", None), ("sla_l1a", "service_agent", "sla_mgr"),
         ("sla_l1b", "service_agent", "sla_mgr"), ("sla_l2", "service_agent", "sla_mgr"))


def metadata_copy(work):
    meta = os.path.join(work, "metadata")
    shutil.copytree(os.path.join(ROOT, "metadata"), meta)
    with open(os.path.join(meta, "calendars.yaml"), "a") as f:
        f.write(NY_CALENDAR)
    return meta


class Suite(AsUsers):
    def __init__(self, server, db):
        AsUsers.__init__(self, server.port)
        self.server = server
        self.db = db

    def crm(self, *args):
        return subprocess.run([crm_binary()] + list(args) + ["--db", self.db, "--metadata", self.server.metadata,
                                                              "--plugins", os.path.join(ROOT, "plugins")],
                              cwd=ROOT, capture_output=True, check=False)

    def timer(self, name, at):
        p = self.crm("timer", "case_flow", name, "--at", at)
        eq(p.returncode, 0, "crm timer %s --at %s: %s" % (name, at, p.stderr.decode()))

    def case(self, rid):
        return self.get("admin", "case", rid)

    def milestones(self, rid):
        return {m["kind"]: m for m in self.records("admin", "case_milestone", "filter=case%%20%%3D%%20%d" % rid)}

    def new_case(self, who="sla_l1a", **values):
        v = {"subject": "Printer down", "priority": "high", "opened_at": FRIDAY_17}
        v.update(values)
        return self.created(who, "case", v)

    def notes(self, who, rid):
        rows = self.records(who, "notification", "limit=200")
        return [n for n in rows if n.get("record_id") == rid or ("#%d" % rid) in (n.get("title") or "")]

    # -- setup: two teams, their queues, the Gold policy ---------------------------------
    def test_setup(self):
        self.log_in(["admin", "sla_mgr", "sla_l1a", "sla_l2", "service_agent", "consumer1"], PASSWORD)
        self.uid = {u["login"]: u["id"] for u in self.records("admin", "user", "limit=200")}
        l1 = self.created("admin", "team", {"name": "SLA L1"})
        l2 = self.created("admin", "team", {"name": "SLA L2"})
        for login_name, team in (("sla_l1a", l1), ("sla_l1b", l1), ("sla_l2", l2)):
            self.patch("admin", "user", self.uid[login_name], {"team": team["id"]})
        for q in self.records("admin", "service_queue", "limit=200"):
            self.patch("admin", "service_queue", q["id"], {"active": False})
        for p in self.records("admin", "sla_policy", "limit=200"):
            self.patch("admin", "sla_policy", p["id"], {"active": False})
        self.q1 = self.created("sla_mgr", "service_queue", {"name": "SLA L1 general", "tier": "l1", "skill": "general",
                                                            "team": l1["id"]})
        self.q2 = self.created("sla_mgr", "service_queue", {"name": "SLA L2 general", "tier": "l2", "skill": "general",
                                                            "team": l2["id"]})
        self.gold = self.created("sla_mgr", "sla_policy", {
            "name": "SLA Gold", "calendar": "cn_office", "priority_order": 1, "applies_when": "priority = 'high'",
            "first_response_minutes": 60, "resolution_minutes": 480, "warn_minutes": 60, "escalate_to_tier": "l2"})
        self.ny = self.created("sla_mgr", "sla_policy", {
            "name": "New York", "calendar": "ny_office", "priority_order": 2, "applies_when": "subject = 'dst'",
            "first_response_minutes": 30, "resolution_minutes": 120})

    # -- DOMAIN B3 stories 1-3 ----------------------------------------------------------
    def test_friday_pause_breach_once_across_a_restart(self):
        c = self.new_case()
        rid = c["id"]
        eq((c["resolution_due"], c["version"]), (MONDAY_16, self.case(rid)["version"]),
           "the 201 answer is the record as the SLA hooks left it")
        c = self.case(rid)
        eq(c["sla_policy"], self.gold["id"], "Gold by applies_when")
        eq(c["first_response_due"], FRIDAY_18, "story 1: first response Friday 18:00")
        eq(c["resolution_due"], MONDAY_16, "story 1: resolution Monday 16:00")
        eq(c["warn_at"], "2030-12-09T07:00:00Z", "warned 60 business minutes before")
        eq(c["queue"], self.q1["id"], "the L1 general queue")
        check(c["owner"] in (self.uid["sla_l1a"], self.uid["sla_l1b"]), "an L1 agent owns it: %r" % c["owner"])
        ms = self.milestones(rid)
        eq(sorted(ms), ["first_response", "resolution"], "two milestones")
        eq(ms["resolution"]["due_at"], MONDAY_16, "the resolution milestone's due")
        self.fire("sla_l1a", "case", rid, "open", body={"first_responded_at": "2030-12-06T09:30:00Z"})
        eq(self.milestones(rid)["first_response"]["status"], "met", "responded in 30 minutes")
        r = self.fire("sla_l1a", "case", rid, "wait", body={"sla_paused_since": MONDAY_10})
        eq(r.json["record"]["sla_paused_since"], MONDAY_10, "the transition's answer")
        eq(self.milestones(rid)["resolution"]["status"], "paused", "paused while waiting")
        self.fire("sla_l1a", "case", rid, "resume", body={"sla_resumed_at": MONDAY_12})
        c = self.case(rid)
        eq(c["sla_paused_minutes"], 120, "story 2: 120 paused minutes")
        eq(c["resolution_due"], MONDAY_18, "story 2: due Monday 18:00")
        m = self.milestones(rid)["resolution"]
        eq((m["status"], m["paused_minutes"], m["due_at"]), ("running", 120, MONDAY_18), "the milestone follows")
        owner = c["owner"]
        before = len(self.notes("sla_mgr", rid))
        self.timer("sla_breach", "2030-12-09T09:59:00Z")
        eq(self.case(rid)["breached"], False, "not due a minute before")
        self.timer("sla_breach", MONDAY_18)
        c = self.case(rid)
        eq(c["breached"], True, "story 3: breached")
        eq(c["tier"], "l2", "story 3: escalated to l2")
        eq(c["queue"], self.q2["id"], "re-queued to L2")
        eq(c["owner"], self.uid["sla_l2"], "re-assigned to the L2 team")
        check(owner != c["owner"], "a new owner")
        eq(self.milestones(rid)["resolution"]["status"], "violated", "story 3: milestone violated")
        eq(len(self.notes("sla_mgr", rid)), before + 1, "story 3: one notification to the owner's manager")
        self.timer("sla_breach", "2030-12-09T10:01:00Z")
        eq(len(self.notes("sla_mgr", rid)), before + 1, "a second run notifies nobody")
        # a restart in the middle: the server is killed and started again, the timer runs again
        self.server.kill()
        self.server.port = None
        self.server.start(as_admin=False)
        self.c = AsUsers(self.server.port).c
        self.log_in(["admin", "sla_mgr", "sla_l1a", "sla_l2", "service_agent"], PASSWORD)
        self.timer("sla_breach", "2030-12-09T10:05:00Z")
        self.timer("sla_breach", "2030-12-10T10:05:00Z")
        c = self.case(rid)
        eq((c["breached"], c["tier"]), (True, "l2"), "one escalation across the restart")
        eq(len(self.notes("sla_mgr", rid)), before + 1, "one notification across the restart")
        self.fire("sla_l2", "case", rid, "resolve", body={"resolution": "Replaced the fuser",
                                                          "resolved_at": "2030-12-09T11:00:00Z"})
        m = self.milestones(rid)["resolution"]
        eq((m["status"], m["completed_at"]), ("violated", "2030-12-09T11:00:00Z"), "resolved late: still violated")

    def test_first_response_breach_and_warning_notify_once(self):
        rid = self.new_case(opened_at="2030-12-20T01:00:00Z")["id"]   # Friday 09:00
        c = self.case(rid)
        owner = c["owner"]
        eq(c["first_response_due"], "2030-12-20T02:00:00Z", "an hour later")
        self.timer("first_response_breach", "2030-12-20T02:00:00Z")
        self.timer("first_response_breach", "2030-12-20T03:00:00Z")
        eq(self.milestones(rid)["first_response"]["status"], "violated", "no response in time")
        who = [k for k, v in self.uid.items() if v == owner][0]
        if who not in self.h:
            self.log_in([who], PASSWORD)
        eq(len([n for n in self.notes(who, rid) if "first response" in n["title"]]), 1, "the owner is told once")
        self.timer("sla_warning", c["warn_at"])
        self.timer("sla_warning", "2030-12-21T03:00:00Z")
        eq(self.case(rid)["warned"], True, "warned")
        eq(len([n for n in self.notes(who, rid) if "warning" in n["title"]]), 1, "one warning")
        self.fire(who, "case", rid, "open", body={"first_responded_at": "2030-12-20T05:00:00Z"})
        eq(self.milestones(rid)["first_response"]["completed_at"], "2030-12-20T05:00:00Z", "late, still violated")

    # -- story 4: a holiday -------------------------------------------------------------
    def test_a_holiday_on_monday_moves_the_due_to_tuesday(self):
        self.created("admin", "holiday", {"calendar": "cn_office", "day": "2030-12-16", "name": "SLA test holiday"})
        c = self.case(self.new_case(opened_at="2030-12-13T09:00:00Z")["id"])
        eq(c["resolution_due"], "2030-12-17T08:00:00Z", "story 4: Tuesday 16:00")

    # -- story 5: entitlements ----------------------------------------------------------
    def test_an_exhausted_entitlement_refuses_or_charges(self):
        account = self.created("admin", "account", {"name": "SLA Entitled Ltd"})
        product = self.created("admin", "product", {"code": "SLA-GOLD", "name": "Gold support", "list_price": 1000})
        sp = self.created("sla_mgr", "service_product", {"name": "Gold 10", "product": product["id"], "level": "gold",
                                                         "sla_policy": self.gold["id"], "incidents_included": 10})
        ent = self.created("sla_mgr", "entitlement", {"account": account["id"], "service_product": sp["id"],
                                                     "starts_on": "2030-01-01", "ends_on": "2031-12-31"})
        eq(self.get("admin", "entitlement", ent["id"])["incidents_included"], 10, "copied from the product")
        for i in range(10):
            c = self.new_case(subject="Incident %d" % i, priority="low", account=account["id"])
            eq(c["entitlement"], ent["id"], "case %d attaches the entitlement" % i)
        e = self.get("admin", "entitlement", ent["id"])
        eq((e["incidents_used"], e["incidents_left"]), (10, 0), "story 5: none left")
        eq(self.case(c["id"])["sla_policy"], self.gold["id"], "the product's policy, whatever the priority")
        r = self.req("sla_l1a", "POST", "/objects/case", {"subject": "Eleventh", "account": account["id"],
                                                          "opened_at": FRIDAY_17})
        problem(r, 422, "the 11th")
        check("entitlement exhausted" in r.body.decode(), r.body[:300])
        eq(self.get("admin", "entitlement", ent["id"])["incidents_used"], 10, "nothing half-written")
        self.patch("sla_mgr", "service_product", sp["id"], {"when_exhausted": "chargeable"})
        c = self.case(self.new_case(subject="Eleventh", account=account["id"])["id"])
        eq((c["entitlement"], c["chargeable"]), (ent["id"], True), "story 5: chargeable")
        eq(self.get("admin", "entitlement", ent["id"])["incidents_left"], 0, "a chargeable case uses no incident")

    # -- DST ------------------------------------------------------------------------------
    def test_a_due_across_the_spring_forward(self):
        # Friday 2031-03-07 16:00 EST (21:00Z) + 120: an hour on Friday, Monday 10:00 EDT (14:00Z)
        c = self.case(self.new_case(subject="dst", priority="low", opened_at="2031-03-07T21:00:00Z")["id"])
        eq(c["sla_policy"], self.ny["id"], "the New York policy")
        eq(c["resolution_due"], "2031-03-10T14:00:00Z", "across the switch")
        eq(c["first_response_due"], "2031-03-07T21:30:00Z", "30 minutes on Friday")

    # -- a priority change, apply_sla, escalation by hand --------------------------------
    def test_priority_change_keeps_paused_minutes(self):
        normal = self.created("sla_mgr", "sla_policy", {"name": "SLA Normal", "calendar": "cn_office",
                                                        "priority_order": 50, "first_response_minutes": 240,
                                                        "resolution_minutes": 1440})
        rid = self.new_case(priority="normal", opened_at="2030-12-23T01:00:00Z")["id"]   # Monday 09:00
        eq(self.case(rid)["sla_policy"], normal["id"], "the normal policy")
        self.fire("sla_l1a", "case", rid, "open", body={"first_responded_at": "2030-12-23T01:10:00Z"})
        self.fire("sla_l1a", "case", rid, "wait", body={"sla_paused_since": "2030-12-23T02:00:00Z"})
        self.fire("sla_l1a", "case", rid, "resume", body={"sla_resumed_at": "2030-12-23T03:00:00Z"})
        self.patch("sla_l1a", "case", rid, {"priority": "high"})
        c = self.case(rid)
        eq(c["sla_policy"], self.gold["id"], "re-picked")
        eq(c["sla_paused_minutes"], 60, "the pause is kept")
        eq(c["resolution_due"], "2030-12-23T10:00:00Z", "480 + 60 business minutes from Monday 09:00: 18:00")
        self.patch("admin", "sla_policy", normal["id"], {"active": False})

    def test_escalate_by_hand_and_apply_sla(self):
        rid = self.new_case(priority="high", opened_at="2030-12-24T01:00:00Z")["id"]
        r = self.req("sla_l1a", "POST", "/objects/case/%d/actions/service.escalate" % rid, {"reason": "needs a specialist"})
        eq(r.status, 200, "escalate: %s" % r.body[:300])
        c = self.case(rid)
        eq((c["tier"], c["queue"], c["owner"]), ("l2", self.q2["id"], self.uid["sla_l2"]), "one tier up, re-queued")
        acts = self.records("admin", "activity", "filter=subject%20like%20%27%25escalated%25%27&limit=100")
        check(any("needs a specialist" in (a.get("description") or "") and "by " in a["subject"] for a in acts),
              "a note of who and why: %r" % acts[-1:])
        self.req("sla_l1a", "POST", "/objects/case/%d/actions/service.escalate" % rid, {})
        problem(self.req("sla_l1a", "POST", "/objects/case/%d/actions/service.escalate" % rid, {}), 409, "past l3")
        r = self.req("sla_mgr", "POST", "/objects/case/%d/actions/service.apply_sla" % rid, {})
        eq(r.status, 200, "apply_sla: %s" % r.body[:300])
        ms = self.milestones(rid)
        eq((ms["resolution"]["status"], ms["resolution"]["tier"]), ("running", "l3"), "recomputed: due in 2030, running")
        eq(self.case(rid)["resolution_due"], "2030-12-24T09:00:00Z", "Tuesday 09:00 + 480: 17:00")

    # -- bad input ------------------------------------------------------------------------
    def test_bad_input(self):
        base = {"name": "Bad", "calendar": "cn_office", "first_response_minutes": 10, "resolution_minutes": 20}
        for bad, field in ((dict(base, applies_when="priority = "), "applies_when"),
                           (dict(base, applies_when="1 = 1) or (1 = 1"), "applies_when"),
                           (dict(base, applies_when="x" * 600), "applies_when"),
                           (dict(base, calendar="atlantis"), "calendar"),
                           (dict(base, resolution_minutes=-5), "resolution_minutes"),
                           (dict(base, first_response_minutes="sixty"), "first_response_minutes")):
            r = self.req("sla_mgr", "POST", "/objects/sla_policy", bad)
            problem(r, 422, "bad policy %r" % bad)
            check(field in r.body.decode(), "names %s: %s" % (field, r.body[:300]))
        rid = self.new_case(priority="low", opened_at="2030-12-26T01:00:00Z")["id"]
        problem(self.req("sla_l1a", "POST", "/objects/case/%d/transitions/resume" % rid, {}), 409, "resume a new case")
        problem(self.req("sla_l1a", "POST", "/objects/case/%d/transitions/wait" % rid, {}), 409, "wait on a new case")
        self.fire("sla_l1a", "case", rid, "open")
        check(self.case(rid)["first_responded_at"] is not None, "stamped now")
        problem(self.req("sla_l1a", "POST", "/objects/case/%d/transitions/wait" % rid,
                         {"sla_paused_since": "yesterday"}), 422, "a bad pause time")
        problem(self.req("sla_l1a", "POST", "/objects/case/%d/transitions/wait" % rid,
                         {"sla_paused_since": "2020-01-01T00:00:00Z"}), 422, "a pause before the case")
        eq(self.case(rid)["status"], "open", "nothing moved")
        for field, value in (("breached", True), ("resolution_due", "2031-01-01T00:00:00Z"), ("sla_policy", self.gold["id"]),
                             ("sla_paused_minutes", 5), ("chargeable", True)):
            r = self.req("sla_l1a", "PATCH", "/objects/case/%d" % rid, {field: value}, headers={"If-Match": "*"})
            problem(r, 422, "an agent writes %s" % field)
            r = self.req("sla_l1a", "POST", "/objects/case", {"subject": "x", field: value})
            problem(r, 422, "an agent creates with %s" % field)
        eq(self.req("sla_l1a", "POST", "/objects/case/%d/actions/service.sla_pause" % rid, {}).status, 404,
           "the clock's steps are no actions")
        for body in ({}, {"workflow": "case_flow"}):
            problem(self.req("sla_l1a", "POST", "/objects/case/%d/actions/service.sla_breach" % rid, body), 404,
                    "a timer's step by hand, even naming the workflow")
        problem(self.req("sla_l1a", "POST", "/objects/sla_policy", dict(base, name="Agent's")), 403, "agents read policies")
        r = self.req("sla_l1a", "POST", "/objects/case/%d/actions/service.escalate" % rid, {"reason": 42})
        problem(r, 422, "a reason that is no text")
        r = self.req("consumer1", "POST", "/objects/case/%d/actions/service.escalate" % rid, {})
        check(r.status in (403, 404), "a consumer escalates nothing: %d %s" % (r.status, r.body[:200]))
        eq(self.case(rid)["tier"], "l1", "unchanged")
        acct = self.records("admin", "account", "limit=1")[0]["id"]
        problem(self.req("admin", "POST", "/objects/account/%d/actions/service.escalate" % acct, {}), 404,
                "a case's button on an account")

    # -- the Lua units (plugins/service/tests/*.lua) ---------------------------------------
    def test_lua_units_pass(self):
        p = subprocess.run([crm_binary(), "plugin", "test", "service", "--metadata", os.path.join(ROOT, "metadata"),
                            "--plugins", os.path.join(ROOT, "plugins")], cwd=ROOT, capture_output=True, check=False)
        out = p.stdout.decode() + p.stderr.decode()
        eq(p.returncode, 0, "crm plugin test service: %s" % out)
        check("sla_test.lua" in out and " 0 failed" in out and "FAIL" not in out, out)

    # -- the metadata key that switches the base escalate timer off ------------------------
    def test_check_names_file_line_column_of_a_bad_timer_switch(self):
        p = self.crm("timer", "case_flow", "escalate")
        eq(p.returncode, 1, "the base escalate timer is off: %s" % p.stderr.decode())
        check("no timer 'escalate'" in p.stderr.decode(), p.stderr.decode())
        bad = os.path.join(self.server.workdir, "bad-meta")
        shutil.copytree(self.server.metadata, bad)
        with open(os.path.join(bad, "switch.yaml"), "w") as f:
            f.write("workflow: case_flow\nextend: true\ntimers:\n"
                    "  - { name: nope, extend: true, enabled: false }\n"
                    "  - { name: auto_close, extend: true, enabled: true }\n"
                    "  - { name: auto_close, extend: true, enabled: false, every: 1h }\n"
                    "  - { name: auto_close, enabled: false, every: 1h, do: [notify_owner] }\n"
                    "---\nworkflow: switch_flow\nobject: lead\nfield: status\ntimers:\n"
                    "  - { name: x, extend: true, enabled: false }\n")
        p = subprocess.run([crm_binary(), "check", "--metadata", bad, "--plugins", os.path.join(ROOT, "plugins"),
                            "--db", os.path.join(self.server.workdir, "check.db")],
                           cwd=ROOT, capture_output=True, check=False)
        out = p.stdout.decode() + p.stderr.decode()
        eq(p.returncode, 1, "crm check fails: %s" % out)
        for want in ("switch.yaml:4:5: error: no timer 'nope' in workflow 'case_flow' to switch off",
                     "switch.yaml:5:48: error: 'enabled: true' changes nothing",
                     "switch.yaml:6:55: error: a timer with 'extend: true' takes only 'name' and 'enabled: false'",
                     "switch.yaml:7:34: error: 'enabled' goes with 'extend: true'",
                     "switch.yaml:13:5: error: timer 'x' has 'extend: true', but workflow 'switch_flow' is not an extension"):
            check(want in out, "%s in:\n%s" % (want, out))


def main():
    def prepare(db):
        meta = os.path.join(os.path.dirname(db), "metadata")
        for login_name, role, manager in USERS:
            args = [crm_binary(), "user", "add", "--login", login_name, "--role", role, "--db", db, "--metadata", meta,
                    "--plugins", os.path.join(ROOT, "plugins")]
            if manager:
                args += ["--manager", manager]
            p = subprocess.run(args, input=(PASSWORD + "\n").encode(), cwd=ROOT, capture_output=True, check=False)
            if p.returncode != 0:
                raise RuntimeError("crm user add %s: %s" % (login_name, p.stderr.decode()))
    return run_on_demo("service_sla", lambda server, db: Suite(server, db), (
        "friday_pause_breach_once_across_a_restart", "first_response_breach_and_warning_notify_once",
        "a_holiday_on_monday_moves_the_due_to_tuesday", "an_exhausted_entitlement_refuses_or_charges",
        "a_due_across_the_spring_forward", "priority_change_keeps_paused_minutes", "escalate_by_hand_and_apply_sla",
        "bad_input", "check_names_file_line_column_of_a_bad_timer_switch", "lua_units_pass"), records=20, seed=3, metadata=metadata_copy, prepare=prepare)


if __name__ == "__main__":
    sys.exit(main())
