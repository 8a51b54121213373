"""The automotive industry pack over HTTP (see automotive.sh): a real `crm serve --industry automotive`
over the shipped metadata/ and plugins/ on a `crm --industry automotive demo` database. The demo's
Munich dealers: Autohaus Isar (MUC-01, the nearer to the centre, full: its cap is the open leads it
holds) and Autohaus Sendling (MUC-02, dealer1's); then Augsburg (AUG-01, 56 km) and Ingolstadt (ING-01,
72 km). dealer2 works for Shanghai Pudong (SHA-01). consumer1 and consumer2 own a vehicle each. The lead
centre's clock is driven by `crm timer lead_flow dealer_timeout --at T`. Standard library only.
"""
import datetime
import json
import os
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, check, crm_binary, eq, problem, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
USERS = ["admin", "lead_centre", "brand_manager", "dealer1", "dealer2", "consumer1", "consumer2", "sales_rep1"]
MUNICH = {"lat": 48.1372, "lng": 11.5756}
SHANGHAI = {"lat": 31.2304, "lng": 121.4737}
INDUSTRY = ["--industry", "automotive"]
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)

VALUES = dict(zip("ABCDEFGHJKLMNPRSTUVWXYZ", [1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 7, 9, 2, 3, 4, 5, 6, 7, 8, 9]))
WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def check_digit(vin):
    total = sum((int(c) if c.isdigit() else VALUES[c]) * w for c, w in zip(vin, WEIGHTS))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def make_vin(serial):
    body = "WVTEV5AB0TM%06d" % serial
    return body[:8] + check_digit(body) + body[9:]


def stamp(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def q(s):
    return urllib.parse.quote(s, safe="")


class Suite(AsUsers):
    def __init__(self, server, db):
        AsUsers.__init__(self, server.port)
        self.server = server
        self.db = db

    def timer(self, at):
        """One run of the lead centre's timer as of `at` (`crm timer`, beside the running server)."""
        p = subprocess.run([crm_binary(), "timer", "lead_flow", "dealer_timeout", "--at", stamp(at), "--db", self.db,
                            "--metadata", self.server.metadata, "--plugins", os.path.join(ROOT, "plugins"),
                            ] + INDUSTRY, cwd=ROOT, capture_output=True, check=False)
        eq(p.returncode, 0, "crm timer: " + p.stderr.decode())

    def lead(self, who="lead_centre", **values):
        body = {"last_name": "Test", "company": "Private", "channel": "web"}
        body.update(values)
        return self.created(who, "lead", body)

    def routings(self, lead_id):
        return self.records("admin", "lead_routing", "filter=%s&sort=routed_at,id" % q("lead = %d" % lead_id))

    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        r = self.req("admin", "GET", "/meta")
        eq(r.json["app"].get("industry"), "automotive", "GET /meta names the industry")
        users = self.records("admin", "user", "limit=200")
        self.uid = {u["login"]: u for u in users}
        dealers = self.records("admin", "partner", "filter=%s&limit=100" % q("dealer_code != null"))
        self.dealer = {d["dealer_code"]: d for d in dealers}
        eq(self.uid["dealer1"]["partner"], self.dealer["MUC-02"]["id"], "dealer1 works for Autohaus Sendling")
        eq(self.uid["dealer2"]["partner"], self.dealer["SHA-01"]["id"], "dealer2 works for Shanghai Pudong")
        models = self.records("admin", "vehicle_model", "limit=50")
        self.model = {m["name"]: m for m in models}
        self.serial = 500000

    def next_vin(self):
        self.serial += 1
        return make_vin(self.serial)

    # -- scenario 5, the lead centre ---------------------------------------------------------------
    def test_munich_lead_goes_to_the_nearest_dealer_with_capacity(self):
        full = self.get("admin", "partner", self.dealer["MUC-01"]["id"])
        check(full["open_leads"] >= full["open_lead_cap"], "MUC-01 is at its cap: %r" % full)
        # the kernel's within(): MUC-01 is within 1 km of the centre, MUC-02 is not
        near = self.records("admin", "partner", "filter=%s" % q("within(location, point(48.1372, 11.5756), 1000)"))
        eq([d["dealer_code"] for d in near], ["MUC-01"], "the nearest dealer to the centre")
        lead = self.lead(location=MUNICH, vehicle_model=self.model["EV-5"]["id"])
        eq((lead["preferred_dealer"], lead["routing_state"], lead["route_count"]),
           (self.dealer["MUC-02"]["id"], "routed", 1), "a Munich lead skips the full MUC-01")
        rows = self.routings(lead["id"])
        eq([(r["dealer"], r["reason"], r["outcome"]) for r in rows],
           [(self.dealer["MUC-02"]["id"], "nearest", "pending")], "its routing history")
        check(3.0 < rows[0]["distance_km"] < 4.5, "MUC-02 is 3.8 km away: %r" % rows[0]["distance_km"])
        # dealer1 (MUC-02) sees it, dealer2 does not
        self.get("dealer1", "lead", lead["id"])
        eq(self.req("dealer2", "GET", "/objects/lead/%d" % lead["id"]).status, 404, "dealer2 reads another dealer's lead")
        # other numbers: the city alone, Shanghai, Berlin by phone; an event lead waits for the lead centre
        eq(self.lead(city="München", channel="app")["preferred_dealer"], self.dealer["MUC-02"]["id"], "by the city's name")
        eq(self.lead(location=SHANGHAI)["preferred_dealer"], self.dealer["SHA-01"]["id"], "Shanghai: Pudong, 6.8 km")
        eq(self.lead(city="Berlin", channel="phone")["preferred_dealer"], self.dealer["BER-01"]["id"], "Berlin by phone")
        event = self.lead(city="Munich", channel="event")
        eq((event.get("preferred_dealer"), event["routing_state"]), (None, "unrouted"), "an event lead is not routed")
        # room at MUC-01 again: the next Munich lead goes there
        self.patch("brand_manager", "partner", full["id"], {"open_lead_cap": full["open_leads"] + 1})
        eq(self.lead(location=MUNICH)["preferred_dealer"], full["id"], "MUC-01 with room takes it")
        eq(self.lead(location=MUNICH)["preferred_dealer"], self.dealer["MUC-02"]["id"], "and is full again")

    def test_untouched_lead_moves_on_and_then_to_the_pool(self):
        # the timer moves the demo's untouched leads too, which frees room at MUC-01: closed for this story
        full = self.dealer["MUC-01"]
        self.patch("brand_manager", "partner", full["id"], {"open_lead_cap": 0})
        try:
            self.untouched_story()
        finally:
            # full again: its cap is what it holds now (the timer moved its demo leads on)
            now = self.get("admin", "partner", full["id"])
            self.patch("brand_manager", "partner", full["id"], {"open_lead_cap": now["open_leads"]})

    def untouched_story(self):
        lead = self.lead(location={"lat": 48.1380, "lng": 11.5700}, first_name="Timo")
        touched = self.lead(location=MUNICH, first_name="Touched")
        eq(touched["preferred_dealer"], self.dealer["MUC-02"]["id"], "routed to MUC-02")
        self.fire("dealer1", "lead", touched["id"], "work")
        self.timer(NOW + datetime.timedelta(minutes=90))   # not 2 hours yet
        eq(self.get("admin", "lead", lead["id"])["preferred_dealer"], self.dealer["MUC-02"]["id"], "90 minutes: stays")
        steps = [("AUG-01", 2), ("ING-01", 3)]
        for hours, (code, count) in zip((3, 6), steps):
            self.timer(NOW + datetime.timedelta(hours=hours))
            l = self.get("admin", "lead", lead["id"])
            eq((l["preferred_dealer"], l["route_count"], l["routing_state"]), (self.dealer[code]["id"], count, "routed"),
               "after %d hours" % hours)
        # dealer1 no longer sees it
        eq(self.req("dealer1", "GET", "/objects/lead/%d" % lead["id"]).status, 404, "moved away from dealer1")
        self.timer(NOW + datetime.timedelta(hours=9))
        l = self.get("admin", "lead", lead["id"])
        eq((l.get("preferred_dealer"), l["routing_state"], l["owner"]), (None, "pool", self.uid["lead_centre"]["id"]),
           "after three dealers: the lead centre's pool")
        eq([(r["reason"], r["outcome"]) for r in self.routings(lead["id"])],
           [("nearest", "timed_out"), ("timeout", "timed_out"), ("timeout", "timed_out"), ("pool", "pooled")],
           "the routing history")
        t = self.get("admin", "lead", touched["id"])
        eq((t["preferred_dealer"], t["status"]), (self.dealer["MUC-02"]["id"], "working"), "a touched lead stays")
        eq([r["outcome"] for r in self.routings(touched["id"])], ["contacted"], "its offer was answered")

    def test_the_lead_centre_reroutes_by_hand(self):
        lead = self.lead(location=MUNICH)
        act = "/objects/lead/%d/actions/automotive.reroute" % lead["id"]
        problem(self.req("dealer1", "POST", act, {}), 409, "a dealer re-routes (no button for them)")
        check("automotive.reroute" not in self.get("dealer1", "lead", lead["id"]).get("_actions", []), "no button")
        check("automotive.reroute" in self.get("lead_centre", "lead", lead["id"]).get("_actions", []), "the centre's button")
        r = self.req("lead_centre", "POST", act, {"dealer": self.dealer["HAM-01"]["id"]})
        eq(r.status, 200, "re-route to Hamburg: %s" % r.body[:300])
        l = self.get("admin", "lead", lead["id"])
        eq((l["preferred_dealer"], l["route_count"]), (self.dealer["HAM-01"]["id"], 2), "now Hamburg's")
        eq([(x["reason"], x["outcome"]) for x in self.routings(lead["id"])],
           [("nearest", "moved"), ("manual", "pending")], "history")
        r = self.req("lead_centre", "POST", act, {})
        eq(r.status, 200, "to the next-nearest")
        eq(self.get("admin", "lead", lead["id"])["preferred_dealer"], self.dealer["AUG-01"]["id"],
           "next-nearest not yet offered (MUC-01 full, MUC-02 and HAM-01 tried)")
        for bad in ({"dealer": "1 or 1=1"}, {"dealer": 999999}, {"dealer": self.uid["admin"]["partner"] or 1.5}):
            problem(self.req("lead_centre", "POST", act, bad), 422, "re-route to %r" % bad)
        base = self.records("admin", "partner", "filter=%s&limit=1" % q("dealer_code = null"))[0]
        problem(self.req("lead_centre", "POST", act, {"dealer": base["id"]}), 422, "a partner that is no dealer")

    # -- scenario 5, the test drive -------------------------------------------------------------
    def test_test_drive_done_opens_the_opportunity(self):
        lead = self.lead(location=MUNICH, last_name="Brandt", company="Brandt Family")
        ev5, terra = self.model["EV-5"], self.model["Terra PHEV"]
        slot = stamp(NOW + datetime.timedelta(days=1))
        td = self.created("dealer1", "test_drive", {"lead": lead["id"], "vehicle_model": ev5["id"], "slot_start": slot,
                                                     "consent": True})
        eq(td["dealer"], self.dealer["MUC-02"]["id"], "the dealer user's dealer by default")
        self.fire("dealer1", "test_drive", td["id"], "confirm")
        doc = problem(self.req("dealer1", "POST", "/objects/test_drive/%d/transitions/complete" % td["id"], {}), 422,
                      "done without feedback")
        check("feedback_score" in json.dumps(doc), "names feedback_score: %r" % doc)
        self.fire("dealer1", "test_drive", td["id"], "complete", body={"feedback_score": 5})
        td = self.get("dealer1", "test_drive", td["id"])
        eq(td["status"], "done", "done")
        opp = self.get("dealer1", "opportunity", td["opportunity"])
        eq((opp["partner"], opp["amount"], opp["vehicle_model"], opp["stage"]),
           (self.dealer["MUC-02"]["id"], ev5["msrp"], ev5["id"], "proposal"), "scenario 5: partner = dealer, amount = MSRP")
        eq(opp["amount"], 45900, "the EV-5's MSRP")
        # a second drive of the same lead, another model: the same deal, moved to that model's price
        td2 = self.created("dealer1", "test_drive", {"lead": lead["id"], "vehicle_model": terra["id"], "slot_start": slot,
                                                      "consent": True})
        self.fire("dealer1", "test_drive", td2["id"], "confirm")
        self.fire("dealer1", "test_drive", td2["id"], "complete", body={"feedback_score": 4})
        td2 = self.get("dealer1", "test_drive", td2["id"])
        eq(td2["opportunity"], opp["id"], "the same opportunity")
        opp = self.get("admin", "opportunity", opp["id"])
        eq((opp["amount"], opp["vehicle_model"], opp["test_drives"]), (58900, terra["id"], 2), "advanced to the Terra")
        # refusals: no consent, a slot in the past, another dealer's drive
        problem(self.req("dealer1", "POST", "/objects/test_drive", {"vehicle_model": ev5["id"], "slot_start": slot}),
                422, "no consent")
        past = stamp(NOW - datetime.timedelta(days=1))
        doc = problem(self.req("dealer1", "POST", "/objects/test_drive",
                               {"vehicle_model": ev5["id"], "slot_start": past, "consent": True}), 422, "a slot in the past")
        check("slot_start" in json.dumps(doc), "names slot_start")
        doc = problem(self.req("dealer1", "POST", "/objects/test_drive",
                               {"dealer": self.dealer["SHA-01"]["id"], "vehicle_model": ev5["id"], "slot_start": slot,
                                "consent": True}), 422, "for another dealer")
        eq([e["field"] for e in doc["errors"]], ["dealer"], "a dealer they cannot see")

    def test_a_delivered_vehicle_order_writes_the_vehicle(self):
        account = self.records("admin", "account", "limit=1&sort=id")[0]
        vin = self.next_vin()
        order = self.created("admin", "sales_order", {"account": account["id"], "partner": self.dealer["MUC-02"]["id"],
                                                      "vin": vin.lower(), "vehicle_model": self.model["EV-5"]["id"]})
        eq(order["vin"], vin, "the VIN normalised by the vin plugin")
        self.created("admin", "order_line", {"order": order["id"], "product": self.model["EV-5"]["product"],
                                             "quantity": 1, "unit_price": 45900})
        self.fire("admin", "sales_order", order["id"], "confirm")
        self.fire("admin", "sales_order", order["id"], "fulfil")
        order = self.get("admin", "sales_order", order["id"])
        v = self.get("admin", "vehicle", order["vehicle"])
        today = datetime.date.today()
        eq((v["vin"], v["account"], v["dealer"], v["vehicle_model"], v["sold_on"]),
           (vin, account["id"], self.dealer["MUC-02"]["id"], self.model["EV-5"]["id"], today.isoformat()), "the vehicle")
        eq(v["warranty_until"], today.replace(year=today.year + 3).isoformat(), "three years' warranty")
        bad = vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]
        doc = problem(self.req("admin", "POST", "/objects/sales_order", {"account": account["id"], "vin": bad}), 422,
                      "an order with a bad VIN")
        check("check digit" in json.dumps(doc), "names the check digit: %r" % doc)

    # -- scenario 6, the owner ---------------------------------------------------------------------
    def test_consumer_books_for_their_own_vin(self):
        mine = self.records("consumer1", "vehicle", "limit=50")
        eq(len(mine), 1, "consumer1 owns one vehicle")
        theirs = self.records("consumer2", "vehicle", "limit=50")
        eq(len(theirs), 1, "consumer2 owns one vehicle")
        eq(self.req("consumer1", "GET", "/objects/vehicle/%d" % theirs[0]["id"]).status, 404, "another owner's vehicle")
        vin = mine[0]["vin"]
        slot = stamp(NOW + datetime.timedelta(days=3))
        spaced = vin[:3].lower() + "-" + vin[3:9] + " " + vin[9:]
        appt = self.created("consumer1", "service_appointment", {"vin": spaced, "kind": "maintenance", "slot_start": slot})
        eq((appt["vehicle"], appt["vin"], appt["status"]), (mine[0]["id"], vin, "booked"), "scenario 6: booked by VIN")
        check(appt["dealer"] in (mine[0]["service_dealer"], mine[0]["dealer"]), "at the vehicle's dealer")
        own = self.records("consumer1", "service_appointment", "limit=200")
        check(all(a["vehicle"] == mine[0]["id"] for a in own) and appt["id"] in [a["id"] for a in own],
              "consumer1 lists only their appointments")
        doc = problem(self.req("consumer1", "POST", "/objects/service_appointment",
                               {"vin": theirs[0]["vin"], "kind": "maintenance", "slot_start": slot}), 404,
                      "booking another owner's VIN")
        check(theirs[0]["vin"] in json.dumps(doc), "names the VIN")
        doc = problem(self.req("consumer1", "POST", "/objects/service_appointment",
                               {"vehicle": theirs[0]["id"], "dealer": self.dealer["MUC-02"]["id"], "kind": "repair",
                                "slot_start": slot}), 422, "booking another owner's vehicle by id")
        eq([e["field"] for e in doc["errors"]], ["vehicle"], "a vehicle they cannot see")
        bad = vin[:8] + ("1" if vin[8] != "1" else "2") + vin[9:]
        doc = problem(self.req("consumer1", "POST", "/objects/service_appointment",
                               {"vin": bad, "kind": "maintenance", "slot_start": slot}), 422, "a VIN with a wrong check digit")
        check("vin" in json.dumps(doc) and "check digit" in json.dumps(doc), "names the field: %r" % doc)
        for junk in ("1HGCM8263OA004352", "SHORT", "x" * 5000):
            problem(self.req("consumer1", "POST", "/objects/service_appointment",
                             {"vin": junk, "kind": "maintenance", "slot_start": slot}), 422, "VIN %r" % junk[:20])
        problem(self.req("consumer1", "POST", "/objects/service_appointment",
                         {"vin": vin, "kind": "maintenance", "slot_start": stamp(NOW - datetime.timedelta(hours=2))}),
                422, "a slot in the past")
        # a test drive of their own
        td = self.created("consumer1", "test_drive", {"dealer": self.dealer["MUC-02"]["id"],
                                                      "vehicle_model": self.model["EV-3"]["id"], "slot_start": slot,
                                                      "consent": True})
        eq(td["contact"], self.uid["consumer1"]["contact"], "their own contact")
        eq(self.req("consumer2", "GET", "/objects/test_drive/%d" % td["id"]).status, 404, "not consumer2's")

    def test_service_flow_moves_the_odometer_and_a_recall_opens_a_case(self):
        v = self.records("dealer1", "vehicle", "filter=%s&limit=1&sort=id" % q("service_dealer = %d" % self.dealer["MUC-02"]["id"]))[0]
        slot = stamp(NOW + datetime.timedelta(hours=4))
        appt = self.created("dealer1", "service_appointment", {"vehicle": v["id"], "kind": "recall", "slot_start": slot,
                                                                "complaint": "Charge port seal"})
        check(appt.get("case"), "a recall links a case: %r" % appt)
        case = self.get("admin", "case", appt["case"])
        check(v["vin"] in case["subject"], "the case names the VIN")
        problem(self.req("dealer1", "POST", "/objects/service_appointment/%d/transitions/check_in" % appt["id"], {}), 422,
                "check-in without the mileage")
        km = (v.get("mileage") or 0) + 1234
        self.fire("dealer1", "service_appointment", appt["id"], "check_in", body={"mileage": km})
        eq(self.get("dealer1", "vehicle", v["id"])["mileage"], km, "the vehicle's odometer")
        for name in ("start", "finish", "deliver"):
            self.fire("dealer1", "service_appointment", appt["id"], name)
        ro = self.created("dealer1", "repair_order", {"appointment": appt["id"], "labour_amount": 240, "parts_amount": 86.5,
                                                       "mileage_in": km - 500})
        eq((ro["vehicle"], ro["dealer"], ro["total"]), (v["id"], self.dealer["MUC-02"]["id"], 326.5), "the repair order")
        eq(self.get("dealer1", "vehicle", v["id"])["mileage"], km, "the odometer never goes back")

    def test_dealer_users_see_only_their_dealers_records(self):
        # a fresh lead for each (the timer stories moved the demo's untouched leads on)
        eq(self.lead(location=MUNICH)["preferred_dealer"], self.dealer["MUC-02"]["id"], "a lead for dealer1")
        eq(self.lead(location=SHANGHAI)["preferred_dealer"], self.dealer["SHA-01"]["id"], "a lead for dealer2")
        for who, code in (("dealer1", "MUC-02"), ("dealer2", "SHA-01")):
            mine = self.dealer[code]["id"]
            for obj, field in (("test_drive", "dealer"), ("service_appointment", "dealer"), ("repair_order", "dealer"),
                               ("lead", "preferred_dealer")):
                rows = self.records(who, obj, "limit=500")
                check(rows, "%s lists some %s" % (who, obj))
                eq({r[field] for r in rows}, {mine}, "%s's %s" % (who, obj))
            vehicles = self.records(who, "vehicle", "limit=500")
            check(vehicles and all(mine in (v.get("dealer"), v.get("service_dealer")) for v in vehicles), who + "'s vehicles")
            eq([p["id"] for p in self.records(who, "partner", "limit=50")], [mine], who + " reads their own dealer")
        other = self.records("admin", "service_appointment", "filter=%s&limit=1" % q("dealer = %d" % self.dealer["SHA-01"]["id"]))[0]
        eq(self.req("dealer1", "GET", "/objects/service_appointment/%d" % other["id"]).status, 404, "another dealer's")
        r = self.req("dealer1", "PATCH", "/objects/service_appointment/%d" % other["id"], {"complaint": "x"},
                     headers={"If-Match": "*"})
        eq(r.status, 404, "nor changes it")
        # brand employees see every dealer's
        every = self.records("brand_manager", "test_drive", "limit=500")
        check(len({t["dealer"] for t in every}) >= 8, "the brand manager sees the network")
        eq(self.req("sales_rep1", "GET", "/objects/service_appointment").status, 404, "a sales rep has no workshop")

    def test_bad_input(self):
        for loc in ({"lat": 91, "lng": 11}, {"lat": 48}, "48.1,11.5", {"lat": "x", "lng": 1}, [1, 2]):
            problem(self.req("lead_centre", "POST", "/objects/lead",
                             {"last_name": "Geo", "company": "Private", "channel": "web", "location": loc}), 422,
                    "location %r" % (loc,))
        problem(self.req("lead_centre", "POST", "/objects/lead", {"last_name": "X", "company": "P", "channel": "fax"}),
                422, "a channel that is none")
        problem(self.req("lead_centre", "POST", "/objects/lead", {"last_name": "X", "company": "P", "city": "M" * 5000}),
                422, "an oversized city")
        hostile = "Munich'); DROP TABLE lead; --"
        l = self.lead(city=hostile)
        eq((l["city"], l["routing_state"]), (hostile, "unrouted"), "a hostile city is text, routed nowhere")
        l = self.lead(city="<script>alert(1)</script>", channel="app")
        eq(l["routing_state"], "unrouted", "no such city")
        eq(self.lead(location={"lat": -45.0, "lng": 170.5})["routing_state"], "pool", "no dealer within reach: the pool")
        ev5 = self.model["EV-5"]["id"]
        for slot in ("tomorrow", "2026-13-40T10:00:00Z", 12):
            problem(self.req("dealer1", "POST", "/objects/test_drive", {"vehicle_model": ev5, "slot_start": slot,
                                                                        "consent": True}), 422, "slot %r" % (slot,))
        problem(self.req("dealer1", "POST", "/objects/test_drive",
                         {"vehicle_model": ev5, "slot_start": stamp(NOW + datetime.timedelta(days=1)), "consent": True,
                          "feedback_score": 9}), 422, "a score of 9")
        big = {"vin": "A" * 2000000}
        r = self.req("consumer1", "POST", "/objects/service_appointment", big)
        check(r.status in (413, 422), "an oversized body: %d" % r.status)
        problem(self.req("brand_manager", "POST", "/objects/partner", {"name": "Dup", "dealer_code": "MUC-01"}), 422,
                "a dealer code twice")
        eq(self.req("admin", "GET", "/health").status in (200, 404), True, "the server still answers")

    # -- the demo's stories -----------------------------------------------------------------------------
    def test_demo_stories(self):
        eq(sorted(self.model), ["EV-3", "EV-5", "Grand V9", "Sedan S3", "Terra PHEV"], "five models")
        eq(len(self.dealer), 12, "twelve dealers")
        munich = [d for d in self.dealer.values() if d["city"] == "Munich"]
        check(len(munich) >= 2 and any(d["open_leads"] >= d["open_lead_cap"] for d in munich), "Munich: two, one full")
        vehicles = self.records("admin", "vehicle", "limit=1000")
        check(len(vehicles) >= 60, "vehicles: %d" % len(vehicles))
        for v in vehicles:
            eq(v["vin"][8], check_digit(v["vin"]), "the check digit of " + v["vin"])
        states = {l["routing_state"] for l in self.records("admin", "lead", "filter=%s&limit=1000" % q("channel != null"))}
        eq(states, {"unrouted", "routed", "pool"}, "leads in every routing state")
        routes = self.records("admin", "lead_routing", "limit=1000")
        eq({r["reason"] for r in routes} >= {"nearest", "timeout", "pool", "no_dealer", "manual"}, True, "every reason")
        eq({r["outcome"] for r in routes} >= {"pending", "contacted", "timed_out", "pooled"}, True, "every outcome")
        drives = self.records("admin", "test_drive", "limit=1000")
        eq({t["status"] for t in drives} >= {"booked", "done", "no_show", "cancelled"}, True, "test drives by status")
        check(all(t.get("opportunity") for t in drives if t["status"] == "done"), "every done drive has its deal")
        orders = self.records("admin", "sales_order", "filter=%s&limit=500" % q("vin != null"))
        check(orders and all(o.get("vehicle") for o in orders), "delivered vehicle orders wrote their vehicles")
        kinds = {a["kind"] for a in self.records("admin", "service_appointment", "limit=1000")}
        eq(kinds, {"maintenance", "repair", "recall", "inspection", "warranty"}, "appointments of every kind")
        check(self.records("admin", "repair_order", "limit=5"), "repair orders")
        # the reports and kpis run for the brand manager
        for name in ("test_drive_conversion_by_dealer", "service_by_kind", "first_contact_by_dealer", "leads_by_channel",
                     "routing_outcomes", "dealer_load"):
            r = self.req("brand_manager", "GET", "/reports/" + name)
            eq(r.status, 200, "report %s: %s" % (name, r.body[:200]))
            check(r.json.get("rows"), "report %s has rows" % name)
        r = self.req("brand_manager", "GET", "/kpis?view=dashboard")
        eq(r.status, 200, "kpis")
        names = {k["name"] for k in r.json.get("kpis", [])}
        check({"test_drives_done", "test_drive_conversion", "dealer_first_contact_hours"} <= names, "kpis: %r" % names)
        # the lead centre's page: its sections
        home = self.req("lead_centre", "GET", "/meta").json["caller"]["home"]
        eq(len(home["sections"]), 5, "the lead centre's sections")
        # consumer1's portal shows their vehicle
        sections = [s["object"] for s in self.req("consumer1", "GET", "/meta").json["caller"]["home"]["sections"]]
        check("vehicle" in sections and "service_appointment" in sections, "consumer portal: %r" % sections)

    def test_plugin_lua_tests(self):
        p = subprocess.run([crm_binary(), "plugin", "test", "automotive", "--metadata", self.server.metadata,
                            "--plugins", os.path.join(ROOT, "plugins")] + INDUSTRY,
                           cwd=ROOT, capture_output=True, check=False)
        out = (p.stdout + p.stderr).decode()
        eq(p.returncode, 0, "crm plugin test automotive:\n" + out[-3000:])
        check(" 0 failed" in out, out[-500:])


TESTS = ["munich_lead_goes_to_the_nearest_dealer_with_capacity", "untouched_lead_moves_on_and_then_to_the_pool",
         "the_lead_centre_reroutes_by_hand", "test_drive_done_opens_the_opportunity",
         "a_delivered_vehicle_order_writes_the_vehicle", "consumer_books_for_their_own_vin",
         "service_flow_moves_the_odometer_and_a_recall_opens_a_case", "dealer_users_see_only_their_dealers_records",
         "bad_input", "demo_stories", "plugin_lua_tests"]

if __name__ == "__main__":
    sys.exit(run_on_demo("automotive", lambda server, db: Suite(server, db), TESTS, records=120, seed=42,
                         industry="automotive"))
