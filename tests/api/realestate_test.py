"""The real-estate pack's story over REST (see realestate.sh).

An agency: agents list properties and take offers; an offer below the asking price needs the
approval of the agent's manager (requester_manager); accepting an offer creates the agent's
commission through the workflow as the system (agents may not create commissions); a landlord
(consumer) sees only their own properties and the offers on them.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, Client, Runner, Server, add_user, check, cleanup, eq, login,  # noqa: E402
                    tempdir)

API = "/api/v1"
PACK = os.path.join(ROOT, "tests", "api", "realestate")


class Story:
    def __init__(self, server):
        self.server = server
        self.c = Client(server.port)
        self.h = {}
        self.ids = {}

    def req(self, who, method, path, body=None, headers=None):
        hh = dict(self.h[who])
        hh.update(headers or {})
        return self.c.request(method, API + path, body=body, headers=hh, auth=False)

    def created(self, who, obj, values):
        r = self.req(who, "POST", "/objects/%s" % obj, values)
        eq(r.status, 201, "%s creates %s: %s" % (who, obj, r.body[:300]))
        return r.json

    def test_setup(self):
        for who in ("admin", "mgr", "agent1", "agent2", "landlord1"):
            self.h[who] = login(self.server.port, who, "password-" + who)
        users = self.req("admin", "GET", "/objects/user?fields=id,login&limit=50").json["records"]
        self.ids.update({u["login"]: u["id"] for u in users})
        # the team structure and the landlord's contact (an admin's set-up)
        for agent in ("agent1", "agent2"):
            r = self.req("admin", "PATCH", "/objects/user/%d" % self.ids[agent], {"manager": self.ids["mgr"]},
                         headers={"If-Match": "*"})
            eq(r.status, 200, "manager of %s: %s" % (agent, r.body[:200]))
        self.ids["landlord_contact"] = self.created("admin", "contact", {"name": "Lan Dlord",
                                                                          "email": "lan@example.test"})["id"]
        r = self.req("admin", "PATCH", "/objects/user/%d" % self.ids["landlord1"],
                     {"contact": self.ids["landlord_contact"]}, headers={"If-Match": "*"})
        eq(r.status, 200, "landlord's contact: %s" % r.body[:200])

    def test_meta_labels(self):
        """Module, plural and transition labels in every language reach the UI through /meta."""
        meta = self.req("agent1", "GET", "/meta").json
        prop = [o for o in meta["objects"] if o["name"] == "property"][0]
        eq(prop["module_label"], {"en": "Real estate", "zh": "房产"}, "module label")
        offer = [o for o in meta["objects"] if o["name"] == "offer"][0]
        flow = offer["workflows"][0]
        accept = [t for t in flow["transitions"] if t["name"] == "accept"][0]
        eq(accept["label"], {"en": "Accept", "zh": "接受"}, "transition label")
        eq(accept["message"]["zh"], "报价需先填写金额", "guard message")
        contact = [o for o in meta["objects"] if o["name"] == "contact"][0]
        eq(contact["label_plural"]["en"], "Contacts", "plural label")
        agent = [f for f in prop["fields"] if f["name"] == "agent"][0]
        eq(agent.get("default_expr"), "$me", "the agent default, as /meta shows it")

    def test_property_defaults(self):
        """agent defaults to $me and listed_on to today(); a count rollup starts at 0."""
        p = self.created("agent1", "property", {"address": "1 Harbour Road", "asking_price": 500000,
                                                "landlord": self.ids["landlord_contact"]})
        eq(p["agent"], self.ids["agent1"], "agent = $me")
        eq(p["listed_on"], time.strftime("%Y-%m-%d", time.gmtime()), "listed_on = today()")
        eq(p["offer_count"], 0, "a count rollup over no offers")
        self.ids["property"] = p["id"]
        other = self.created("agent2", "property", {"address": "9 Hill Street", "asking_price": 300000})
        self.ids["other_property"] = other["id"]

    def test_guard_message(self):
        """A failed guard shows the implementer's message, never the expression."""
        o = self.created("agent1", "offer", {"property": self.ids["property"]})
        r = self.req("agent1", "POST", "/objects/offer/%d/transitions/accept" % o["id"], {})
        eq(r.status, 422, "accept without an amount: %s" % r.body[:300])
        check(b"An offer needs an amount before it can be accepted" in r.body, "message: %s" % r.body[:300])
        check(b"amount is not null" not in r.body, "the raw expression leaked: %s" % r.body[:300])

    def test_offer_below_asking_needs_the_managers_approval(self):
        o = self.created("agent1", "offer", {"property": self.ids["property"], "amount": 450000})
        self.ids["offer"] = o["id"]
        eq(o["below_asking"], True, "formula through the ref")
        r = self.req("agent1", "POST", "/objects/offer/%d/transitions/accept" % o["id"], {})
        eq(r.status, 202, "accept below asking: %s" % r.body[:300])
        eq(r.json.get("status"), "pending_approval", "pending")
        queue = self.req("mgr", "GET", "/objects/approval?filter=status%20%3D%20'pending'").json["records"]
        mine = [a for a in queue if a["record_id"] == o["id"]]
        eq(len(mine), 1, "the requester's manager has the request")
        eq(mine[0]["approver"], self.ids["mgr"], "approver")
        check(not self.req("agent2", "GET", "/objects/approval?filter=status%20%3D%20'pending'").json["records"],
              "another agent has nothing to approve")
        # agents may not create commissions themselves
        r = self.req("agent1", "POST", "/objects/commission", {"offer": o["id"], "amount": 1})
        check(r.status in (403, 404), "an agent creating a commission: %d" % r.status)
        r = self.req("mgr", "POST", "/objects/approval/%d/approve" % mine[0]["id"], {"comment": "fine"})
        eq(r.status, 200, "approve: %s" % r.body[:300])
        offer = self.req("agent1", "GET", "/objects/offer/%d" % o["id"]).json
        eq(offer["status"], "accepted", "the offer after the approval")

    def test_commission_created_as_system_for_the_agent(self):
        r = self.req("admin", "GET", "/objects/commission?filter=offer%%20%%3D%%20%d" % self.ids["offer"])
        recs = r.json["records"]
        eq(len(recs), 1, "one commission: %s" % r.body[:300])
        eq(recs[0]["owner"], self.ids["agent1"], "owned by the offer's owner")
        # the agent reads it (commission read: own); the other agent does not
        eq(self.req("agent1", "GET", "/objects/commission/%d" % recs[0]["id"]).status, 200, "agent reads it")
        eq(self.req("agent2", "GET", "/objects/commission/%d" % recs[0]["id"]).status, 404, "agent2 does not")
        h = self.req("admin", "GET", "/objects/commission/%d/history" % recs[0]["id"]).json["history"]
        created = [x for x in h if x.get("action") == "create"][0]
        eq(created["changes"].get("_on_behalf_of"), self.ids["mgr"], "audited on behalf of who fired it")
        prop = self.req("agent1", "GET", "/objects/property/%d" % self.ids["property"]).json
        eq(prop["offer_count"], 2, "the rollup counts both offers")

    def test_landlord_sees_only_their_own(self):
        props = self.req("landlord1", "GET", "/objects/property").json["records"]
        eq([p["id"] for p in props], [self.ids["property"]], "the landlord's properties")
        offers = self.req("landlord1", "GET", "/objects/offer").json["records"]
        check(offers and all(o["property"] == self.ids["property"] for o in offers), "offers on theirs only")
        eq(self.req("landlord1", "GET", "/objects/property/%d" % self.ids["other_property"]).status, 404,
           "another property")


def main():
    runner = Runner()
    work = tempdir("crm-realestate-")
    db = os.path.join(work, "re.db")
    server = None
    try:
        for login_name, role in (("admin", "admin_role"), ("mgr", "manager"), ("agent1", "agent"),
                                 ("agent2", "agent"), ("landlord1", "landlord")):
            add_user(db, PACK, login_name, "password-" + login_name, role, work)
        server = Server(work, db=db, metadata=PACK).start(as_admin=False)
        story = Story(server)
        runner.only = None
        runner.run("realestate setup", story.test_setup)
        if runner.failed == 0:
            runner.only = os.environ.get("ONLY")
            for name in ("meta_labels", "property_defaults", "guard_message",
                         "offer_below_asking_needs_the_managers_approval",
                         "commission_created_as_system_for_the_agent", "landlord_sees_only_their_own"):
                runner.run("realestate " + name, getattr(story, "test_" + name))
    except Exception as e:
        print("FAIL realestate setup: %s" % e)
        runner.failed += 1
        if server and server.proc:
            print(server.log_tail())
    finally:
        if server:
            server.stop()
        cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
