"""The membership package over REST (see membership.sh).

A real `crm serve` over the shipped metadata/ and plugins/ on a fresh `crm demo` database. The
stories run on a programme of their own (0.1 point per currency unit, hold 14 days, expiry 365;
tiers basic 0, silver 1,000 x1.2, gold 5,000 x1.5) with orders paid in 2031, so that the server's
own timers, on the real clock, never post or expire them; `crm timer member_flow post_points --at T`
and `expire_points --at T` are the ledger's clock. Then: the append-only ledger refusing PATCH and
DELETE from the consumer, member_service and admin; 32 concurrent clients earning and redeeming on
one member (no negative balance, every 2xx with its entry, nothing from a refusal, the balance and
the lots equal to a recomputation from the entries); enrolment; consumer2 against consumer1's
records; bad input.
"""
import os
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, Client, check, crm_binary, eq, login, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
USERS = ("admin", "member_service", "marketing_user", "consumer1", "consumer2", "partner1")
CLIENTS = 32


def q(text):
    return urllib.parse.quote(text)


class Suite(AsUsers):
    def __init__(self, server, db):
        AsUsers.__init__(self, server.port)
        self.server = server
        self.db = db
        self.ids = {}
        self.serial = 0

    def crm(self, *args, stdin=None):
        return subprocess.run([crm_binary()] + list(args) + ["--db", self.db, "--metadata", self.server.metadata,
                                                              "--plugins", os.path.join(ROOT, "plugins")],
                              cwd=ROOT, capture_output=True, check=False, input=stdin)

    def timer(self, name, day):
        p = self.crm("timer", "member_flow", name, "--at", day + "T02:00:00Z")
        eq(p.returncode, 0, "crm timer %s --at %s: %s" % (name, day, p.stderr.decode()))

    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        users = self.records("admin", "user", "fields=id,login,member&limit=200")
        self.ids.update({u["login"]: u for u in users})
        self.program = self.created("marketing_user", "loyalty_program", {
            "name": "Story Club", "points_per_currency": 0.1, "point_value": 0.1, "hold_days": 14, "expiry_days": 365})
        pid = self.program["id"]
        self.tiers = {}
        for name, low, mult in (("basic", 0, 1), ("silver", 1000, 1.2), ("gold", 5000, 1.5)):
            self.tiers[name] = self.created("marketing_user", "member_tier", {
                "program": pid, "name": name, "min_lifetime_points": low, "multiplier": mult})["id"]
        self.created("marketing_user", "earn_rule", {"program": pid, "name": "Base", "event": "order_paid"})
        self.account = self.created("admin", "account", {"name": "Story shop customers"})["id"]
        self.product = self.created("admin", "product", {"name": "Story kettle", "code": "ST-KT", "family": "hardware"})["id"]

    # -- plumbing ----------------------------------------------------------------------
    def member(self, **values):
        self.serial += 1
        contact = self.created("admin", "contact", {"last_name": "Member %d" % self.serial,
                                                    "email": "story%d@example.com" % self.serial})
        values.setdefault("tier", self.tiers["basic"])
        values.update({"contact": contact["id"], "program": self.program["id"]})
        return self.created("member_service", "member", values)

    def paid(self, member, amount, day):
        order = self.created("admin", "sales_order", {"account": self.account, "member": member["id"], "tax_rate": 0,
                                                      "channel": "ecommerce", "paid_on": day, "order_date": day})
        self.created("admin", "order_line", {"order": order["id"], "product": self.product, "quantity": 1,
                                             "unit_price": amount})
        self.fire("admin", "sales_order", order["id"], "confirm")
        self.created("admin", "payment", {"order": order["id"], "amount": amount, "status": "received",
                                          "received_on": day})
        order = self.get("admin", "sales_order", order["id"])
        eq(order["status"], "paid", "the order settled")
        return order

    def m(self, member, who="admin"):
        return self.get(who, "member", member["id"])

    def adjust(self, member, points, who="member_service"):
        return self.req(who, "POST", "/objects/points_ledger", {"member": member["id"], "kind": "adjust",
                                                                "points": points})

    def reward(self, cost, **values):
        self.serial += 1
        values.update({"program": values.pop("program", self.program["id"]), "name": "Reward %d" % self.serial,
                       "points_cost": cost, "kind": "voucher"})
        return self.created("marketing_user", "reward", values)

    def redeem(self, member, reward, who="admin"):
        return self.req(who, "POST", "/objects/redemption", {"member": member["id"], "reward": reward["id"]})

    def ret(self, order, amount, who="admin"):
        return self.req(who, "POST", "/objects/sales_order/%d/actions/membership.return_order" % order["id"],
                        {"amount": amount})

    def entries(self, member):
        return self.records("admin", "points_ledger", "filter=%s&sort=id&limit=1000" % q("member = %d" % member["id"]))

    def invariant(self, member):
        """balance and pending equal the sums of the entries; the lots hold exactly the spendable balance."""
        rows = self.entries(member)
        got = self.m(member)
        posted = sum(r["points"] for r in rows if r["status"] == "posted")
        eq(got["balance"] or 0, posted, "balance = the sum of the posted entries")
        eq(got["pending"] or 0, sum(r["points"] for r in rows if r["status"] == "pending"), "pending")
        lots = self.records("admin", "points_lot", "filter=%s&limit=1000" % q("member = %d" % member["id"]))
        eq(sum(lot["remaining"] for lot in lots), max(posted, 0), "the lots hold the spendable balance")
        return rows

    # -- DOMAIN B5 stories ------------------------------------------------------------------
    def test_story1_hold_posts_after_14_days_and_silver(self):
        member = self.member()
        self.paid(member, 9000, "2031-01-01")
        self.timer("post_points", "2031-01-15")
        eq(self.m(member)["lifetime"], 900, "a lifetime of 900")
        order = self.paid(member, 1000, "2031-03-01")
        eq(order["points_earned"], 100, "1,000 x 0.1")
        got = self.m(member)
        eq((got["balance"], got["pending"]), (900, 100), "held")
        self.timer("post_points", "2031-03-14")
        eq(self.m(member)["balance"], 900, "a day before the hold ends")
        self.timer("post_points", "2031-03-15")
        got = self.m(member)
        eq((got["balance"], got["pending"], got["tier"]), (1000, 0, self.tiers["silver"]), "posted, silver")
        self.invariant(member)
        # other numbers: 2,345.67 earns 234, in gold x1.5 a 1,000 order earns 150
        eq(self.paid(self.member(), 2345.67, "2031-03-02")["points_earned"], 234, "floor(234.567)")
        eq(self.paid(self.member(tier=self.tiers["gold"]), 1000, "2031-03-02")["points_earned"], 150, "gold x1.5")

    def test_stories_2_to_4_multiplier_refusal_and_return(self):
        member = self.member(tier=self.tiers["silver"])
        eq(self.adjust(member, 1000).status, 201, "1,000 posted")
        order = self.paid(member, 500, "2031-04-01")
        eq(order["points_earned"], 60, "500 x 0.1 x 1.2")
        self.timer("post_points", "2031-04-15")
        eq(self.m(member)["balance"], 1060, "1,060")
        r = self.redeem(member, self.reward(300, voucher_value=30))
        eq(r.status, 201, "a 300-point voucher: %s" % r.body[:200])
        eq(r.json["points"], 300, "its points")
        eq(self.m(member)["balance"], 760, "760")
        before = len(self.entries(member))
        r = self.redeem(member, self.reward(1000))
        eq(r.status, 409, "1,000 more: %s" % r.body[:200])
        check(b"balance 760 is below 1,000" in r.body, r.body[:300])
        eq(len(self.entries(member)), before, "a refusal writes nothing")
        r = self.ret(order, 500)
        eq(r.status, 200, "the 500 order returned: %s" % r.body[:300])
        eq((r.json["returned_amount"], r.json["points_reversed"]), (500, -60), "reversed")
        eq(self.m(member)["balance"], 700, "700")
        rows = self.invariant(member)
        eq([x["points"] for x in rows if x["kind"] == "reverse"], [-60], "one reverse entry")
        # fulfil gives a voucher code; cancel refunds
        r = self.redeem(member, self.reward(200))
        rid = r.json["id"]
        self.fire("member_service", "redemption", rid, "cancel")
        eq(self.m(member)["balance"], 700, "refunded")
        rid = self.redeem(member, self.reward(100)).json["id"]
        self.fire("member_service", "redemption", rid, "fulfil")
        red = self.get("consumer1", "redemption", rid) if False else self.get("admin", "redemption", rid)
        check(red["status"] == "fulfilled" and len(red["voucher_code"] or "") >= 10, red)
        self.invariant(member)

    def test_partial_return_while_held_and_debt_after_burn(self):
        member = self.member()
        order = self.paid(member, 1000, "2031-05-01")
        eq(self.ret(order, 250).status, 200, "a quarter back while held")
        eq((self.m(member)["pending"], self.m(member)["balance"]), (75, 0), "the hold shrinks")
        self.timer("post_points", "2031-05-20")
        eq(self.m(member)["balance"], 75, "the rest posts")
        eq(self.redeem(member, self.reward(70)).status, 201, "70 spent")
        eq(self.ret(order, 750).status, 200, "the rest back")
        eq(self.m(member)["balance"], -70, "a debt of 70")
        eq(self.redeem(member, self.reward(1)).status, 409, "no redemption while negative")
        eq(self.ret(order, 1).status, 422, "more than the order's total")
        self.invariant(member)

    def test_story5_expiry_takes_only_the_remainder(self):
        member = self.member()
        self.paid(member, 1000, "2031-01-10")
        self.timer("post_points", "2031-01-24")
        eq(self.redeem(member, self.reward(40)).status, 201, "40 burned")
        self.timer("expire_points", "2032-01-10")
        eq(self.m(member)["balance"], 60, "not past expiry yet")
        self.timer("expire_points", "2032-01-11")
        rows = self.invariant(member)
        eq([x["points"] for x in rows if x["kind"] == "expire"], [-60], "-60, never -100")
        eq(self.m(member)["balance"], 0, "nothing left")
        self.timer("expire_points", "2032-01-12")
        eq(len([x for x in self.entries(member) if x["kind"] == "expire"]), 1, "never twice")
        # other numbers: 250 earned, 80 + 90 spent, 80 expire
        other = self.member()
        self.paid(other, 2500, "2031-02-01")
        self.timer("post_points", "2031-02-15")
        self.redeem(other, self.reward(80))
        self.redeem(other, self.reward(90))
        self.timer("expire_points", "2032-02-02")
        eq([x["points"] for x in self.invariant(other) if x["kind"] == "expire"], [-80], "the remainder")

    def test_story6_consumers_see_only_their_own(self):
        c1 = self.ids["consumer1"]["member"]
        c2 = self.ids["consumer2"]["member"]
        check(c1 and c2 and c1 != c2, "the demo's consumers are members")
        mine = self.records("consumer1", "member", "limit=100")
        eq([x["id"] for x in mine], [c1], "consumer1 lists one member")
        for obj, field in (("points_ledger", "member"), ("redemption", "member"), ("sales_order", "member")):
            theirs = self.records("admin", obj, "filter=%s&limit=5" % q("%s = %d" % (field, c1)))
            check(theirs, "consumer1 has %s records" % obj)
            listed = self.records("consumer2", obj, "limit=1000")
            check(all(x[field] == c2 for x in listed) and listed, "consumer2 lists only their own %s" % obj)
            for rec in theirs:
                eq(self.req("consumer2", "GET", "/objects/%s/%d" % (obj, rec["id"])).status, 404,
                   "consumer2 reads consumer1's %s" % obj)
                eq(self.req("consumer1", "GET", "/objects/%s/%d" % (obj, rec["id"])).status, 200,
                   "consumer1 reads their own %s" % obj)
        eq(self.req("consumer2", "GET", "/objects/member/%d" % c1).status, 404, "another's member")
        # no redemption for another member, no ledger writes; their own redemption works
        program = self.get("consumer2", "member", c2)["program"]
        reward = self.records("consumer2", "reward", "filter=%s&sort=points_cost&limit=1" % q(
            "points_cost <= 50 and program = %d" % program))[0]
        before = len(self.records("admin", "redemption", "limit=1000"))
        r = self.req("consumer2", "POST", "/objects/redemption", {"member": c1, "reward": reward["id"]})
        check(r.status in (403, 404), "consumer2 redeems for consumer1: %d %s" % (r.status, r.body[:200]))
        check(b"balance" not in r.body, "no balance told")
        eq(len(self.records("admin", "redemption", "limit=1000")), before, "nothing written")
        r = self.req("consumer2", "POST", "/objects/points_ledger", {"member": c2, "kind": "adjust", "points": 500})
        check(r.status in (403, 404), "a consumer writes the ledger: %d" % r.status)
        eq(self.adjust({"id": c2}, reward["points_cost"]).status, 201, "points for consumer2 (the timers may have expired theirs)")
        r = self.req("consumer2", "POST", "/objects/reward/%d/actions/membership.redeem" % reward["id"], {})
        eq(r.status, 200, "consumer2 redeems with the reward's button: %s" % r.body[:200])
        eq(self.get("consumer2", "redemption", r.json["id"])["member"], c2, "for their own member")

    def test_consumer_portal_home(self):
        home = self.req("consumer1", "GET", "/meta").json["caller"]["home"]
        objects = [x["object"] for x in home["sections"]]
        for obj in ("member", "sales_order", "points_ledger", "reward", "redemption", "case"):
            check(obj in objects, "the consumer's home lists %s: %s" % (obj, objects))
        red = [x for x in home["sections"] if x["object"] == "redemption"][0]
        eq(red.get("new"), True, "a New redemption button")
        ledger = [x for x in home["sections"] if x["object"] == "points_ledger"][0]
        eq(ledger.get("new"), None if "new" not in ledger else False, "no New on the ledger")
        staff = self.req("member_service", "GET", "/meta").json["caller"].get("home")
        check(not staff or "member" not in [x["object"] for x in staff.get("sections", [])], "staff keep their home")

    def test_ledger_is_append_only_for_every_role(self):
        c1 = self.ids["consumer1"]["member"]
        row = self.records("admin", "points_ledger", "filter=%s&limit=1" % q("member = %d" % c1))[0]
        for who in ("consumer1", "member_service", "admin"):
            r = self.req(who, "PATCH", "/objects/points_ledger/%d" % row["id"], {"points": 99999}, {"If-Match": "*"})
            check(r.status in ((409,) if who != "consumer1" else (403, 404, 409)), "%s PATCH: %d" % (who, r.status))
            r = self.req(who, "DELETE", "/objects/points_ledger/%d" % row["id"], None, {"If-Match": "*"})
            check(r.status in ((409,) if who == "admin" else (403, 404, 409)), "%s DELETE: %d" % (who, r.status))
        eq(self.get("admin", "points_ledger", row["id"])["points"], row["points"], "unchanged")
        eq(self.get("admin", "points_ledger", row["id"])["version"], row["version"], "unchanged version")

    def test_concurrent_earn_and_redeem_keep_the_invariant(self):
        member = self.member()
        eq(self.adjust(member, 200).status, 201, "a start of 200")
        reward = self.reward(70)
        results, lock = [], threading.Lock()

        def work(n):
            client = Client(self.server.port)
            who = "member_service" if n % 2 else "admin"
            headers = dict(self.h[who])
            for i in range(8):
                if (n + i) % 2:
                    r = client.request("POST", "/api/v1/objects/redemption", body={"member": member["id"], "reward": reward["id"]},
                                       headers=headers, auth=False)
                    kind = "burn"
                else:
                    r = client.request("POST", "/api/v1/objects/points_ledger", body={"member": member["id"], "kind": "adjust",
                                       "points": 30}, headers=headers, auth=False)
                    kind = "adjust"
                with lock:
                    results.append((kind, r.status, r.json.get("id") if r.status == 201 else r.body[:300]))
            client.close()

        threads = [threading.Thread(target=work, args=(n,)) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted({s for _, s, _ in results})
        check(set(statuses) <= {201, 409}, "only 201 and 409: %s %s" % (statuses, [x for x in results if x[1] not in (201, 409)][:3]))
        rows = self.invariant(member)
        burns = {x["redemption"] for x in rows if x["kind"] == "burn"}
        adjusts = {x["id"] for x in rows if x["kind"] == "adjust"}
        redeemed = [i for k, s, i in results if k == "burn" and s == 201]
        earned = [i for k, s, i in results if k == "adjust" and s == 201]
        eq(len(earned), CLIENTS * 4, "every adjustment went in")
        check(redeemed, "some redemptions went in")
        eq(set(redeemed), burns, "every 201 redemption has its burn, and no other burn exists")
        eq(set(earned) | {min(adjusts)}, adjusts, "every 201 adjustment is an entry")
        running = 0
        for x in rows:
            if x["status"] == "posted":
                running += x["points"]
                check(running >= 0, "the balance never went negative (entry %d: %d)" % (x["id"], running))
        eq(running, 200 + 30 * len(earned) - 70 * len(redeemed), "the arithmetic")

    def test_enrolment_when_a_consumer_becomes_active(self):
        p = self.crm("user", "add", "--login", "newbie@example.com", "--role", "consumer", "--kind", "consumer",
                     "--name", "Nina Newbie", "--email", "newbie@example.com", stdin=b"demo1234\n")
        eq(p.returncode, 0, "crm user add: %s" % p.stderr.decode())
        user = self.records("admin", "user", "filter=%s" % q("login = 'newbie@example.com'"))[0]
        self.patch("admin", "user", user["id"], {"active": False})
        self.patch("admin", "user", user["id"], {"active": True})
        user = self.get("admin", "user", user["id"])
        check(user["member"] and user["contact"], "linked: %s" % user)
        member = self.get("admin", "member", user["member"])
        eq(member["user"], user["id"], "the member's login")
        eq(self.get("admin", "contact", user["contact"])["email"], "newbie@example.com", "the contact by e-mail")
        eq(member["balance"], 50, "the demo programme's welcome points")
        self.patch("admin", "user", user["id"], {"title": "again"})
        eq(len(self.records("admin", "member", "filter=%s" % q("contact = %d" % user["contact"]))), 1, "enrolled once")
        token = login(self.c.port, "newbie@example.com", "demo1234")
        mine = self.c.request("GET", "/api/v1/objects/member", headers=token, auth=False).json["records"]
        eq([x["id"] for x in mine], [member["id"]], "the new consumer reads their member")

    def test_bad_input(self):
        member = self.member()
        eq(self.adjust(member, 100).status, 201, "100")
        for points, want in ((-5000, (403, 409)), (5000, (403,)), ("ten", (400, 422)), (1.5, (400, 422)), (0, (422,)),
                             (10 ** 12, (422,))):
            r = self.adjust(member, points)
            check(r.status in want, "adjust %r: %d %s" % (points, r.status, r.body[:200]))
        r = self.adjust(member, -500)
        eq(r.status, 409, "below zero by hand: %s" % r.body[:200])
        r = self.req("member_service", "POST", "/objects/points_ledger", {"member": member["id"], "kind": "earn", "points": 10})
        check(r.status in (403, 422), "an earn by hand: %d" % r.status)
        r = self.req("member_service", "POST", "/objects/points_ledger", {"member": member["id"], "kind": "adjust",
                                                                           "points": 10, "note": "x" * 600})
        eq(r.status, 422, "an oversized note")
        hostile = "<script>alert(1)</script>'; DROP TABLE member; --"
        r = self.req("member_service", "POST", "/objects/points_ledger", {"member": member["id"], "kind": "adjust",
                                                                           "points": 10, "note": hostile})
        eq(r.status, 201, "hostile text is text")
        eq(r.json["note"], hostile, "stored as given")
        eq(self.m(member)["balance"], 110, "only the good entries count")
        # redemptions
        r = self.req("admin", "POST", "/objects/redemption", {"member": member["id"], "reward": self.reward(10)["id"], "points": 1})
        eq((r.status, r.json.get("points")), (201, 10), "a price of one's own is not taken: the reward's is")
        eq(self.m(member)["balance"], 100, "10 spent")
        r = self.req("admin", "POST", "/objects/redemption", {"member": "abc", "reward": "x"})
        check(r.status in (400, 422), "wrong types: %d" % r.status)
        r = self.req("admin", "POST", "/objects/redemption", {"member": 10 ** 9, "reward": self.reward(10)["id"]})
        check(r.status in (404, 422), "an unknown member: %d" % r.status)
        closed = self.created("marketing_user", "loyalty_program", {"name": "Old club", "active": False})
        r = self.redeem(member, self.reward(10, program=closed["id"]))
        eq(r.status, 409, "a reward of an inactive programme: %s" % r.body[:200])
        # returns
        order = self.paid(member, 100, "2031-06-01")
        for body in ({"amount": -5}, {"amount": "all"}, {"amount": 0}, {}, {"amount": 1e300}, {"amount": 101}):
            r = self.req("admin", "POST", "/objects/sales_order/%d/actions/membership.return_order" % order["id"], body)
            eq(r.status, 422, "return %r: %s" % (body, r.body[:200]))
        eq(self.get("admin", "sales_order", order["id"])["returned_amount"], 0, "nothing returned")
        r = self.req("consumer1", "POST", "/objects/sales_order/%d/actions/membership.return_order" % order["id"], {"amount": 5})
        eq(r.status, 404, "a consumer returns another's order")
        # earn rules: a condition must be an expression over the order
        r = self.req("marketing_user", "POST", "/objects/earn_rule", {"program": self.program["id"], "name": "Bad",
                                                                       "condition": "1=1) or (1=1"})
        eq(r.status, 422, "a broken condition")
        self.invariant(member)


def main():
    return run_on_demo("membership", Suite, (
        "story1_hold_posts_after_14_days_and_silver", "stories_2_to_4_multiplier_refusal_and_return",
        "partial_return_while_held_and_debt_after_burn", "story5_expiry_takes_only_the_remainder",
        "story6_consumers_see_only_their_own", "consumer_portal_home", "ledger_is_append_only_for_every_role",
        "concurrent_earn_and_redeem_keep_the_invariant", "enrolment_when_a_consumer_becomes_active",
        "bad_input"), extra=["--threads", "8"])


if __name__ == "__main__":
    sys.exit(main())
