"""The lead2cash package's stories over REST (see lead2cash.sh).

A real `crm serve` over the shipped metadata/ and plugins/ (sales, vin, lead2cash) on a fresh
`crm demo` database: quotes priced from the price book, totals exact to the cent, the two-step
discount approval, accept -> order with its lines, confirm -> contract, payments -> paid, the
partner's view, and a property test of the chained totals (line -> quote -> account).
"""
import datetime
from decimal import ROUND_HALF_UP, Decimal
import os
import random
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import AsUsers, check, eq, run_on_demo  # noqa: E402

PASSWORD = "demo1234"
USERS = ("admin", "sales_manager", "sales_rep1", "sales_rep2", "sales_director", "finance", "partner1", "partner2")


def cents(x):
    """An amount as whole cents, rounded half away from zero on its decimal digits (as entered)."""
    return int(Decimal(str(x)).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def line_cents(line):
    """A line total recomputed from scratch in decimal arithmetic."""
    exact = Decimal(str(line["quantity"])) * Decimal(str(line["unit_price"])) * (100 - Decimal(str(line["discount"])))
    return int((exact / 100).scaleb(2).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(amount_cents, rate):
    return int((Decimal(amount_cents) * Decimal(str(rate)) / 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


class Story(AsUsers):
    def __init__(self, server, db=None):
        super().__init__(server.port)
        self.server = server
        self.ids = {}

    first = AsUsers.records

    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        users = self.first("admin", "user", "fields=id,login,partner&limit=100")
        self.ids.update({u["login"]: u["id"] for u in users})
        self.partner_of = {u["login"]: u["partner"] for u in users if u.get("partner")}
        # three products with standard prices (and a gold partner price for A), as an implementer would load them
        for code, name, price, gold in (("A-100", "Edge Gateway", 1000, 850), ("B-200", "Sensor Pack", 200, 170),
                                        ("C-300", "Installation Service", 3000, 2700)):
            p = self.created("sales_manager", "product", {"code": code, "name": name, "list_price": price,
                                                          "family": "hardware"})
            self.ids[code] = p["id"]
            self.created("sales_manager", "price_book_entry", {"product": p["id"], "price_book": "standard",
                                                               "unit_price": price, "valid_from": "2020-01-01"})
            self.created("sales_manager", "price_book_entry", {"product": p["id"], "price_book": "partner_gold",
                                                               "unit_price": gold, "valid_from": "2020-01-01"})
        # a deal of sales_rep1's, in negotiation
        deals = self.first("sales_rep1", "opportunity", "filter=owner%20%3D%20%24me%20and%20stage%20%3D%20'negotiation'"
                           "&fields=id,account,stage&limit=1")
        if deals:
            self.ids["deal"], self.ids["account"] = deals[0]["id"], deals[0]["account"]
        else:
            account = self.first("sales_rep1", "account", "fields=id&limit=1")[0]["id"]
            d = self.created("sales_rep1", "opportunity", {"name": "Gateway roll-out", "account": account,
                                                           "amount": 6000, "close_date": "2027-03-31"})
            self.ids["deal"], self.ids["account"] = d["id"], account
            for t in ("qualify", "propose", "negotiate"):
                self.fire("sales_rep1", "opportunity", d["id"], t)

    def new_quote(self, who="sales_rep1", **extra):
        values = {"name": "Gateway roll-out", "opportunity": self.ids["deal"], "account": self.ids["account"],
                  "valid_until": (datetime.date.today() + datetime.timedelta(days=30)).isoformat()}
        values.update(extra)
        return self.created(who, "quote", values)

    def test_story1_totals_exact(self):
        """3 lines priced from the standard book, 10% header discount, 13% tax: 6,102.00."""
        q = self.new_quote(discount=10)
        self.ids["quote"] = q["id"]
        eq(q["status"], "draft", "a new quote is a draft")
        lines = {}
        for code, qty in (("A-100", 2), ("B-200", 5), ("C-300", 1)):
            line = self.created("sales_rep1", "quote_line", {"quote": q["id"], "product": self.ids[code],
                                                             "quantity": qty})
            lines[code] = line
        eq(lines["A-100"]["unit_price"], 1000, "unit price from the price book")
        eq([lines[c]["sort_order"] for c in ("A-100", "B-200", "C-300")], [1, 2, 3], "positions")
        self.ids["lines"] = {c: l["id"] for c, l in lines.items()}
        q = self.get("sales_rep1", "quote", q["id"])
        eq(q["subtotal"], 6000, "subtotal")
        eq(q["line_count"], 3, "line count")
        eq(q["discount_amount"], 600, "discount amount")
        eq(q["net_total"], 5400, "net total")
        eq(q["tax"], 702, "tax")
        eq(q["grand_total"], 6102, "grand total")

    def test_story2_discount_approval_and_accept(self):
        """A 25% line discount needs the manager then the director; accept makes the order and wins the deal."""
        qid = self.ids["quote"]
        self.patch("sales_rep1", "quote_line", self.ids["lines"]["B-200"], {"discount": 25})
        q = self.get("sales_rep1", "quote", qid)
        eq(q["subtotal"], 5750, "subtotal after the line discount")
        eq(q["max_line_discount"], 25, "largest line discount")
        self.fire("sales_rep1", "quote", qid, "submit")
        r = self.fire("sales_rep1", "quote", qid, "approve", status=202)
        eq(self.get("sales_rep1", "quote", qid)["status"], "in_review", "waits for the approvals")
        pending = self.first("sales_manager", "approval", "filter=status%20%3D%20'pending'&sort=-id&limit=5")
        check(pending and pending[0]["record_id"] == qid, "the manager has the first step: %r" % pending[:1])
        # the director cannot take step 1
        eq(self.first("sales_director", "approval", "filter=status%20%3D%20'pending'%20and%20record_id%20%3D%20"
                      + str(qid)), [], "no step for the director yet")
        r = self.req("sales_manager", "POST", "/objects/approval/%d/approve" % pending[0]["id"], {"comment": "ok"})
        eq(r.status, 200, "manager approves: %s" % r.body[:300])
        eq(self.get("sales_rep1", "quote", qid)["status"], "in_review", "still waiting for step 2")
        step2 = self.first("sales_director", "approval", "filter=status%20%3D%20'pending'&sort=-id&limit=5")
        check(step2 and step2[0]["record_id"] == qid, "the director has step 2: %r" % step2[:1])
        r = self.req("sales_director", "POST", "/objects/approval/%d/approve" % step2[0]["id"], {"comment": "ok"})
        eq(r.status, 200, "director approves: %s" % r.body[:300])
        eq(self.get("sales_rep1", "quote", qid)["status"], "approved", "approved after both steps")
        self.fire("sales_rep1", "quote", qid, "present")
        self.fire("sales_rep1", "quote", qid, "accept")
        orders = self.first("sales_rep1", "sales_order", "filter=quote%20%3D%20" + str(qid))
        eq(len(orders), 1, "one order")
        order = orders[0]
        self.ids["order"] = order["id"]
        eq(order["subtotal"], 5750, "order subtotal")
        eq(order["grand_total"], 5847.75, "order grand total: 5,750 x 0.9 x 1.13")
        eq(order["balance"], 5847.75, "nothing paid yet")
        lines = self.first("sales_rep1", "order_line", "filter=order%%20%%3D%%20%d&sort=sort_order" % order["id"])
        eq([(l["product"], l["quantity"], l["unit_price"], l["discount"]) for l in lines],
           [(self.ids["A-100"], 2, 1000, 0), (self.ids["B-200"], 5, 200, 25), (self.ids["C-300"], 1, 3000, 0)],
           "the quote's lines, copied")
        deal = self.get("sales_rep1", "opportunity", self.ids["deal"])
        eq(deal["amount"], 5175, "the deal takes the quote's net total")
        eq(deal["stage"], "won", "the deal is won")
        eq(deal["forecast_category"], "closed", "won: closed in forecasts (lead2cash extends the win transition)")
        eq(deal["accepted_total"], 5175, "accepted quotes on the deal (a rollup of a formula of a rollup)")
        r = self.patch("sales_rep1", "quote_line", self.ids["lines"]["A-100"], {"quantity": 3}, status=422)
        check("Only a draft quote" in r.body.decode(), "the rule's message: %s" % r.body[:300])

    def test_story3_confirm_makes_the_contract(self):
        """confirm: a contract from today for 12 months, worth the order's grand total."""
        self.fire("sales_rep1", "sales_order", self.ids["order"], "confirm", status=403)  # reps read orders only
        self.fire("sales_manager", "sales_order", self.ids["order"], "confirm")
        contracts = self.first("sales_manager", "contract", "filter=order%20%3D%20" + str(self.ids["order"]))
        eq(len(contracts), 1, "one contract")
        c = contracts[0]
        today = datetime.date.today()
        eq(c["starts_on"], today.isoformat(), "starts today")
        month = today.month + 12
        end = datetime.date(today.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)
        end = end.replace(day=min(today.day, 28 if end.month == 2 else 30 if end.month in (4, 6, 9, 11) else 31))
        eq(c["ends_on"], end.isoformat(), "ends 12 months later")
        eq(c["value"], 5847.75, "worth the order")

    def test_story4_payments_settle(self):
        """2,000 received: balance 3,847.75, still confirmed; 3,847.75 more: balance 0 and paid."""
        oid = self.ids["order"]
        self.created("finance", "payment", {"order": oid, "amount": 2000, "status": "received",
                                            "received_on": datetime.date.today().isoformat(), "method": "bank_transfer"})
        o = self.get("finance", "sales_order", oid)
        eq((o["paid"], o["balance"], o["status"]), (2000, 3847.75, "confirmed"), "after the first payment")
        planned = self.created("finance", "payment", {"order": oid, "amount": 3847.75, "method": "bank_transfer"})
        eq(self.get("finance", "sales_order", oid)["status"], "confirmed", "a planned payment settles nothing")
        self.patch("finance", "payment", planned["id"], {"status": "received",
                                                         "received_on": datetime.date.today().isoformat()})
        o = self.get("finance", "sales_order", oid)
        eq((o["paid"], o["balance"], o["status"]), (5847.75, 0, "paid"), "after the second payment")
        account = self.get("admin", "account", self.ids["account"])
        check(account["booked_revenue"] >= 5847.75, "the account's booked revenue counts the order")
        r = self.req("sales_rep1", "POST", "/objects/payment", {"order": oid, "amount": 1})
        eq(r.status, 403, "a rep cannot record payments: %s" % r.body[:200])

    def test_story6_partner_sees_partner_prices_and_quotes(self):
        """partner1 sees gold/silver prices only and their partner's quotes; another partner's is 404."""
        entries = self.first("partner1", "price_book_entry", "limit=200")
        check(entries and all(e["price_book"] in ("partner_gold", "partner_silver") for e in entries),
              "partner price books only: %r" % sorted({e["price_book"] for e in entries}))
        product = self.get("partner1", "product", self.ids["A-100"])
        check("list_price" not in product, "the list price is hidden from partners")
        p1, p2 = self.partner_of["partner1"], self.partner_of["partner2"]
        # partner deals to quote against
        accounts = {}
        for who, pid in (("partner1", p1), ("partner2", p2)):
            acc = self.created(who, "account", {"name": "Partner customer of %s" % who, "partner": pid})
            deal = self.created(who, "opportunity", {"name": "Deal of %s" % who, "account": acc["id"],
                                                     "partner": pid, "amount": 1000})
            accounts[who] = (acc["id"], deal["id"])
        q1 = self.created("partner1", "quote", {"name": "P1 quote", "account": accounts["partner1"][0],
                                                "opportunity": accounts["partner1"][1], "partner": p1,
                                                "price_book": "partner_gold"})
        line = self.created("partner1", "quote_line", {"quote": q1["id"], "product": self.ids["A-100"],
                                                       "quantity": 2})
        eq(line["unit_price"], 850, "the gold partner price")
        eq(self.get("partner1", "quote", q1["id"])["grand_total"], cents(1700 * 1.13) / 100, "partner quote total")
        q2 = self.created("partner2", "quote", {"name": "P2 quote", "account": accounts["partner2"][0],
                                                "opportunity": accounts["partner2"][1], "partner": p2})
        eq(self.req("partner1", "GET", "/objects/quote/%d" % q2["id"]).status, 404, "another partner's quote")
        listed = self.first("partner1", "quote", "limit=100")
        check(listed and all(q["partner"] == p1 for q in listed), "only their partner's quotes")
        r = self.req("partner1", "POST", "/objects/quote_line", {"quote": q2["id"], "product": self.ids["A-100"],
                                                                 "quantity": 1})
        check(r.status in (403, 422), "no line on another partner's quote: %d %s" % (r.status, r.body[:200]))
        r = self.req("partner1", "POST", "/objects/quote", {"name": "x", "account": accounts["partner1"][0],
                                                            "opportunity": accounts["partner1"][1], "partner": p2})
        check(r.status in (403, 422), "no quote in another partner's name: %d" % r.status)

    def test_currency_and_200_lines_exact(self):
        """A GBP quote prices from the list in GBP, reports convert it at the rate; 200 lines add up to the cent."""
        rate = self.first("admin", "exchange_rate", "filter=currency%20%3D%20'GBP'&sort=-valid_from&limit=1")
        check(rate, "the demo has a GBP rate")
        gbp = rate[0]["rate"]
        q = self.new_quote(currency="GBP")
        line = self.created("sales_rep1", "quote_line", {"quote": q["id"], "product": self.ids["A-100"], "quantity": 1})
        eq(cents(line["unit_price"]), cents(1000 / gbp), "the EUR list price in GBP (no GBP price book entry)")
        q = self.get("sales_rep1", "quote", q["id"])
        r = self.req("sales_manager", "GET", "/reports/quote?measure=sum(grand_total)&filter=id%%20%%3D%%20%d" % q["id"])
        eq(r.status, 200, "report: %s" % r.body[:200])
        eq(cents(r.json["rows"][0]["sum_grand_total"]), cents(Decimal(str(q["grand_total"])) * Decimal(str(gbp))),
           "the report sums in the company currency")
        # 200 lines of 0.10: binary floats would drift; the totals stay exact
        q2 = self.new_quote()
        ops = [{"op": "create", "object": "quote_line",
                "values": {"quote": q2["id"], "product": self.ids["B-200"], "quantity": 1, "unit_price": 0.1}}
               for _ in range(200)]
        r = self.req("sales_rep1", "POST", "/batch", {"operations": ops})
        eq(r.status, 200, "batch of 200 lines: %s" % r.body[:200])
        q2 = self.get("sales_rep1", "quote", q2["id"])
        eq((q2["line_count"], q2["subtotal"], q2["tax"], q2["grand_total"]), (200, 20, 2.6, 22.6),
           "200 x 0.10 = 20.00, tax 2.60, total 22.60")

    def test_bad_input(self):
        """Wrong types, negative quantities, an unknown product, a hostile name: 4xx, nothing half-written."""
        q = self.new_quote()
        before = self.get("sales_rep1", "quote", q["id"])
        for values, what in (({"quote": q["id"], "product": self.ids["A-100"], "quantity": -1}, "negative"),
                             ({"quote": q["id"], "product": self.ids["A-100"], "quantity": "many"}, "text quantity"),
                             ({"quote": q["id"], "product": 999999, "quantity": 1}, "unknown product"),
                             ({"quote": q["id"], "product": self.ids["A-100"], "quantity": 1e300}, "huge"),
                             ({"quote": q["id"], "product": self.ids["A-100"], "quantity": 1, "discount": 101},
                              "discount over 100")):
            r = self.req("sales_rep1", "POST", "/objects/quote_line", values)
            eq(r.status, 422, "%s: %s" % (what, r.body[:200]))
        after = self.get("sales_rep1", "quote", q["id"])
        eq((after["line_count"], after["subtotal"]), (before["line_count"], before["subtotal"]), "no line written")
        r = self.req("sales_rep1", "POST", "/objects/quote", {"name": "'; drop table quote; --",
                                                              "opportunity": self.ids["deal"],
                                                              "account": self.ids["account"], "discount": "x"})
        eq(r.status, 422, "a text discount")
        self.fire("sales_rep1", "quote", q["id"], "submit", status=422)  # no lines, no valid_until needed first

    def test_property_totals_equal_recomputation(self):
        """1,000 random line creates, updates, moves, deletes and restores: every total equals a recount."""
        rng = random.Random(20261207)
        quotes = [self.new_quote(who="sales_manager", discount=rng.choice([0, 5, 12.5]))["id"] for _ in range(4)]
        products = [self.ids["A-100"], self.ids["B-200"], self.ids["C-300"]]
        live, deleted = [], []
        ops = {"create": 0, "update": 0, "move": 0, "delete": 0, "restore": 0}
        for _ in range(1000):
            kind = rng.choice(["create"] * 3 + ["update"] * 3 + ["move", "delete", "restore"]) if live else "create"
            if kind == "create" or (kind == "restore" and not deleted):
                kind = "create"
                values = {"quote": rng.choice(quotes), "product": rng.choice(products),
                          "quantity": rng.choice([1, 2, 3, 0.5, 7, 12.25]),
                          "unit_price": rng.choice([0.01, 0.1, 19.99, 33.33, 1000, 2499.5]),
                          "discount": rng.choice([0, 0, 5, 12.5, 33.3])}
                live.append(self.created("sales_manager", "quote_line", values)["id"])
            elif kind == "update":
                values = rng.choice([{"quantity": rng.choice([1, 4, 0.3333])}, {"unit_price": rng.choice([9.99, 0.07])},
                                     {"discount": rng.choice([0, 7.5, 50])}])
                self.patch("sales_manager", "quote_line", rng.choice(live), values)
            elif kind == "move":
                self.patch("sales_manager", "quote_line", rng.choice(live), {"quote": rng.choice(quotes)})
            elif kind == "delete":
                lid = live.pop(rng.randrange(len(live)))
                r = self.req("sales_manager", "DELETE", "/objects/quote_line/%d" % lid, headers={"If-Match": "*"})
                check(r.status in (200, 204), "delete: %s" % r.body[:200])
                deleted.append(lid)
            else:
                lid = deleted.pop(rng.randrange(len(deleted)))
                r = self.req("sales_manager", "POST", "/objects/quote_line/%d/restore" % lid)
                check(r.status in (200, 204), "restore: %s" % r.body[:200])
                live.append(lid)
            ops[kind] += 1
        check(all(ops.values()), "every kind of write ran: %r" % ops)
        for qid in quotes:
            q = self.get("sales_manager", "quote", qid)
            lines = self.first("sales_manager", "quote_line", "filter=quote%%20%%3D%%20%d&limit=1000"
                               "&fields=quantity,unit_price,discount,line_total" % qid)
            totals = [line_cents(l) for l in lines]
            eq([cents(l["line_total"]) for l in lines], totals, "each line total")
            subtotal = sum(totals)
            eq(cents(q["subtotal"]), subtotal, "subtotal of quote %d" % qid)
            eq(q["line_count"], len(lines), "line count of quote %d" % qid)
            net = subtotal - percent_of(subtotal, q["discount"])
            eq(cents(q["net_total"]), net, "net total of quote %d" % qid)
            eq(cents(q["grand_total"]), net + percent_of(net, q["tax_rate"]), "grand total of quote %d" % qid)


def main():
    return run_on_demo("lead2cash", Story, (
        "story1_totals_exact", "story2_discount_approval_and_accept", "story3_confirm_makes_the_contract",
        "story4_payments_settle", "story6_partner_sees_partner_prices_and_quotes", "currency_and_200_lines_exact",
        "bad_input", "property_totals_equal_recomputation"))


if __name__ == "__main__":
    sys.exit(main())
