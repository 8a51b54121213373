"""The service package's knowledge base and surveys over REST (see service_kb.sh).

A real `crm serve` over the shipped metadata/ and plugins/ on a fresh `crm demo` database, with a
service manager added before it starts. The knowledge article's review with every role that meets
it (an agent cannot publish: 403; partners and consumers read their audience only; a published
version's text is immutable, even for an admin; an article under revision keeps serving its last version),
suggestions from a case's subject in English and in Chinese (a case the caller cannot read: 404),
links and helpful votes. Then the surveys: DOMAIN.md B3 story 6 (scores 5, 4, 2, 5 on four closed
cases: average 4.0, CSAT% 75) through the aggregate API, and the public link, anonymously, each test
from its own loopback address: single-use (a second answer 410 writing nothing, and of 16 racing
answers exactly one is kept), expired and unknown tokens, bad input (scores 0, 6, "five", missing,
a 100 kB comment: 413, malformed JSON and forms), hostile HTML escaped, the rate limit.
"""
import json
import os
import re
import subprocess
import sys
import threading
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, AsUsers, Client, check, crm_binary, eq, run_on_demo  # noqa: E402

API = "/api/v1"
PUBLIC = API + "/public/service"
PASSWORD = "demo1234"
RACERS = 16
USERS = ("admin", "service_agent", "service_manager", "partner1", "consumer1", "marketing_user")


def q(text):
    return urllib.parse.quote(text)


class Story(AsUsers):
    def __init__(self, server, db):
        super().__init__(server.port)
        self.server = server
        self.db = db
        self.ids = {}
        self.next_source = 40
        self.serial = 0

    # -- plumbing ----------------------------------------------------------------------
    def test_setup(self):
        self.log_in(USERS, PASSWORD)
        users = self.records("admin", "user", "fields=id,login&limit=100")
        self.ids.update({u["login"]: u["id"] for u in users})

    def anonymous(self):
        """A client of its own loopback address: its own rate-limit counts."""
        self.next_source += 1
        return Client(self.server.port, source="127.0.0.%d" % self.next_source)

    def article(self, who="service_agent", **values):
        self.serial += 1
        values.setdefault("title", "Article %d" % self.serial)
        values.setdefault("body", "Body %d" % self.serial)
        return self.created(who, "kb_article", values)

    def published(self, **values):
        a = self.article("service_manager", **values)
        self.fire("service_manager", "kb_article", a["id"], "submit")
        self.fire("service_manager", "kb_article", a["id"], "publish")
        return self.get("service_manager", "kb_article", a["id"])

    def versions(self, who, article_id):
        return self.records(who, "kb_article_version", "filter=%s&sort=revision" % q("article = %d" % article_id))

    def status(self, who, path):
        return self.req(who, "GET", path).status

    def closed_case(self, subject="Case", email=True, **values):
        """A case of the service agent's, closed: its survey and, with an e-mail, the link's token."""
        self.serial += 1
        account = self.created("admin", "account", {"name": "Survey Account %d" % self.serial})
        contact = self.created("admin", "contact", {
            "last_name": "Kunde %d" % self.serial, "first_name": "Kim", "account": account["id"],
            "email": ("kim.%d@example.com" % self.serial) if email else None})
        values.update({"subject": subject, "account": account["id"], "contact": contact["id"]})
        case = self.created("service_agent", "case", values)
        self.fire("service_agent", "case", case["id"], "open")
        self.fire("service_agent", "case", case["id"], "resolve", body={"resolution": "Fixed"})
        self.fire("service_agent", "case", case["id"], "close")
        surveys = self.records("admin", "survey", "filter=%s" % q("case = %d" % case["id"]))
        eq(len(surveys), 1, "one survey for case %d" % case["id"])
        token = None
        if email:
            mails = [m for m in self.records("admin", "outbox_message", "filter=%s&sort=-id&limit=50" % q(
                "template = 'case_survey' and to = '%s'" % contact["email"]))]
            eq(len(mails), 1, "one e-mail to %s" % contact["email"])
            m = re.search(r"/api/v1/public/service/survey/([A-Za-z0-9_-]{43})\?lang=en", mails[0]["body"])
            check(m, "the link in the e-mail: %s" % mails[0]["body"][:400])
            token = m.group(1)
        return case, surveys[0], token

    def survey_row(self, sid):
        return self.get("admin", "survey", sid)

    # -- the knowledge base ---------------------------------------------------------------
    def test_kb_flow_with_roles_and_immutable_versions(self):
        a = self.article(title="Reset the Zorblax router", body="Hold reset for ten seconds.", audience="partner",
                         change_note="first text")
        eq((a["status"], a["revision"], a["owner"]), ("draft", 0, self.ids["service_agent"]), "the agent's draft")
        r = self.req("service_agent", "PATCH", "/objects/kb_article/%d" % a["id"], {"revision": 7},
                     headers={"If-Match": "*"})
        eq(r.status, 422, "the revision is the plugin's: %s" % r.body[:200])
        self.fire("service_agent", "kb_article", a["id"], "submit")
        self.patch("service_agent", "kb_article", a["id"], {"body": "changed in review"}, status=422)
        self.fire("service_agent", "kb_article", a["id"], "publish", status=403)
        eq(self.versions("service_manager", a["id"]), [], "no version before publishing")
        # sent back, edited, submitted again, published by the manager
        self.fire("service_manager", "kb_article", a["id"], "rework")
        self.patch("service_agent", "kb_article", a["id"], {"body": "Hold reset for ten seconds, then wait."})
        self.fire("service_agent", "kb_article", a["id"], "submit")
        self.fire("service_manager", "kb_article", a["id"], "publish")
        got = self.get("service_agent", "kb_article", a["id"])
        eq((got["status"], got["revision"], got["change_note"]), ("published", 1, None), "published as revision 1")
        check(got["published_at"], "published_at")
        v = self.versions("service_manager", a["id"])
        eq([(x["revision"], x["title"], x["body"], x["note"], x["live"]) for x in v],
           [(1, "Reset the Zorblax router", "Hold reset for ten seconds, then wait.", "first text", True)], "version 1")
        # versions are immutable: the agent may not write them, nor may an admin change or delete one
        vid = v[0]["id"]
        r = self.req("service_agent", "PATCH", "/objects/kb_article_version/%d" % vid, {"body": "x"}, headers={"If-Match": "*"})
        check(r.status in (403, 404), "an agent cannot update a version: %d" % r.status)
        r = self.req("service_manager", "DELETE", "/objects/kb_article_version/%d" % vid, headers={"If-Match": "*"})
        check(r.status in (403, 404), "a manager cannot delete a version: %d" % r.status)
        for change in ({"body": "rewritten"}, {"title": "x"}, {"revision": 5}, {"article": a["id"] + 1}):
            r = self.req("admin", "PATCH", "/objects/kb_article_version/%d" % vid, change, headers={"If-Match": "*"})
            eq(r.status, 422, "an admin cannot rewrite a version: %s" % r.body[:200])
            check("cannot be changed once set" in r.body.decode(), "readonly: %s" % r.body[:200])
        eq(self.get("admin", "kb_article_version", vid)["body"], "Hold reset for ten seconds, then wait.", "unchanged")
        # the partner reads it (audience partner); the consumer does not
        eq(self.status("partner1", "/objects/kb_article/%d" % a["id"]), 200, "partner reads a partner article")
        eq(self.status("consumer1", "/objects/kb_article/%d" % a["id"]), 404, "consumer does not")
        eq(self.status("consumer1", "/objects/kb_article_version/%d" % vid), 404, "nor its version")
        # under revision: the article is a draft again, its last version still served
        self.fire("service_manager", "kb_article", a["id"], "revise")
        self.patch("service_manager", "kb_article", a["id"], {"body": "Unreviewed new text", "change_note": "v2"})
        eq(self.status("partner1", "/objects/kb_article/%d" % a["id"]), 404, "the draft is not the partner's")
        live = self.records("partner1", "kb_article_version", "filter=%s" % q("article = %d" % a["id"]))
        eq([(x["revision"], x["body"]) for x in live], [(1, "Hold reset for ten seconds, then wait.")],
           "the partner is served the last published text, never the draft")
        self.fire("service_manager", "kb_article", a["id"], "submit")
        self.fire("service_manager", "kb_article", a["id"], "publish")
        eq(self.get("partner1", "kb_article", a["id"])["revision"], 2, "revision 2")
        live = self.records("partner1", "kb_article_version", "filter=%s" % q("article = %d" % a["id"]))
        eq([(x["revision"], x["body"], x["note"]) for x in live], [(2, "Unreviewed new text", "v2")], "only the live one")
        eq([(x["revision"], x["live"]) for x in self.versions("service_manager", a["id"])], [(1, False), (2, True)],
           "both kept, one live")
        # archived: served to no one outside
        self.fire("service_agent", "kb_article", a["id"], "archive", status=403)
        self.fire("service_manager", "kb_article", a["id"], "archive")
        eq(self.status("partner1", "/objects/kb_article/%d" % a["id"]), 404, "archived")
        eq(self.records("partner1", "kb_article_version", "filter=%s" % q("article = %d" % a["id"])), [], "no version")

    def test_kb_audiences_per_role(self):
        internal = self.published(title="Internal escalation matrix", audience="internal")
        partner = self.published(title="Partner RMA process", audience="partner")
        public = self.published(title="Public FAQ: opening hours", audience="public")
        draft = self.article("service_manager", title="Manager's draft", audience="public")
        own = self.article(title="Agent's own draft")
        want = {
            "service_agent": {internal["id"], partner["id"], public["id"], own["id"]},
            "partner1": {partner["id"], public["id"]},
            "consumer1": {public["id"]},
        }
        mine = {internal["id"], partner["id"], public["id"], draft["id"], own["id"]}
        for who, ids in want.items():
            seen = {x["id"] for x in self.records(who, "kb_article", "limit=1000")} & mine
            eq(seen, ids, "%s reads" % who)
            for rid in mine - ids:
                eq(self.status(who, "/objects/kb_article/%d" % rid), 404, "%s may not read %d" % (who, rid))
        # the versions follow the same audiences
        vs = {x["article"] for x in self.records("consumer1", "kb_article_version", "limit=1000")} & mine
        eq(vs, {public["id"]}, "consumer's versions")
        vs = {x["article"] for x in self.records("partner1", "kb_article_version", "limit=1000")} & mine
        eq(vs, {partner["id"], public["id"]}, "partner's versions")
        # a manager widens an article's audience: the live version follows at once
        self.patch("service_manager", "kb_article", internal["id"], {"audience": "public"})
        eq(self.status("consumer1", "/objects/kb_article/%d" % internal["id"]), 200, "now public")
        vs = {x["article"] for x in self.records("consumer1", "kb_article_version", "limit=1000")}
        check(internal["id"] in vs, "its version too")
        eq(self.status("marketing_user", "/objects/kb_article/%d" % public["id"]), 404, "marketing has no knowledge base")

    def test_suggestions_in_english_and_chinese(self):
        wifi = self.published(title="Quixotic printer loses the wifi network",
                              body="When the quixotic printer drops off the wifi, reconnect it to the access point.",
                              audience="public")
        paper = self.published(title="Quixotic printer paper jam", body="Open the rear tray.", audience="public")
        self.published(title="Unrelated vacuum manual", body="Empty the bag.", audience="public")
        draft = self.article("service_manager", title="Quixotic printer wifi draft", body="quixotic wifi")
        zh = self.published(title="量子打印机无法连接无线网络", body="请重新配置量子打印机的无线网络设置。", audience="public")
        zh2 = self.published(title="量子打印机卡纸怎么办", body="打开后盖取出纸张。", audience="partner")
        case = self.created("service_agent", "case", {"subject": "The quixotic printer keeps losing wifi"})
        r = self.req("service_agent", "GET", "/plugins/service/cases/%d/suggestions" % case["id"])
        eq(r.status, 200, "suggestions: %s" % r.body[:300])
        got = [x["article"] for x in r.json["articles"]]
        eq(got[:2], [wifi["id"], paper["id"]], "the article matching every term first: %s" % r.body[:600])
        check(draft["id"] not in got, "a draft is never suggested")
        check(len(got) <= 5, "five at most")
        eq(r.json["terms"], ["quixotic", "printer", "keeps", "losing", "wifi"], "the subject's terms")
        case_zh = self.created("service_agent", "case", {"subject": "客户的量子打印机连接不上无线网络"})
        r = self.req("service_agent", "GET", "/plugins/service/cases/%d/suggestions" % case_zh["id"])
        eq(r.status, 200, "zh: %s" % r.body[:300])
        got = [x["article"] for x in r.json["articles"]]
        eq(got[:2], [zh["id"], zh2["id"]], "the Chinese article sharing most trigrams first: %s" % r.body[:600])
        # a case the caller cannot read is not there; nor is one that does not exist
        for who in ("partner1", "consumer1", "marketing_user"):
            eq(self.req(who, "GET", "/plugins/service/cases/%d/suggestions" % case["id"]).status, 404, who)
        for path in ("99999999", "abc", "1%27%20or%201%3D1", "1" * 40):
            r = self.req("service_agent", "GET", "/plugins/service/cases/%s/suggestions" % path)
            eq(r.status, 404, path)
            # the route's own not_found, not "no plugin route": the route is there, the case is not
            check("no case with id" in r.json.get("detail", "") and b"no plugin route" not in r.body, r.body[:300])
        eq(self.c.request("GET", API + "/plugins/service/cases/%d/suggestions" % case["id"], auth=False).status, 401,
           "signed in only")
        # a subject of nothing searchable suggests nothing
        short = self.created("service_agent", "case", {"subject": "a b c 的 了"})
        r = self.req("service_agent", "GET", "/plugins/service/cases/%d/suggestions" % short["id"])
        eq((r.status, r.json["articles"], r.json["terms"]), (200, [], []), "nothing to ask")
        # linking: the article counts the cases it solved
        self.patch("service_agent", "case", case["id"], {"kb_article": wifi["id"]})
        self.patch("service_agent", "case", case_zh["id"], {"kb_article": wifi["id"]})
        eq(self.get("service_agent", "kb_article", wifi["id"])["used_in_cases"], 2, "used in two cases")
        self.patch("service_agent", "case", case_zh["id"], {"kb_article": zh["id"]})
        eq(self.get("service_agent", "kb_article", wifi["id"])["used_in_cases"], 1, "moved to another")

    def test_helpful_votes_once_per_user(self):
        a = self.published(title="Helpful article", audience="public")
        path = "/objects/kb_article/%d/actions/service.kb_helpful" % a["id"]
        results = []
        for who in ("service_agent", "service_agent", "consumer1", "service_manager", "consumer1"):
            r = self.req(who, "POST", path, {})
            eq(r.status, 200, "%s votes: %s" % (who, r.body[:200]))
            results.append(json.loads(r.body)["result"]["helpful"] if "result" in r.json else r.json["helpful"])
        eq(results, [1, 1, 2, 3, 3], "one vote per user")
        eq(self.get("admin", "kb_article", a["id"])["helpful"], 3, "the article's count")
        eq(len(self.records("admin", "kb_vote", "filter=%s" % q("article = %d" % a["id"]))), 3, "who voted")
        eq(self.req("service_agent", "PATCH", "/objects/kb_article/%d" % a["id"], {"helpful": 100},
                    headers={"If-Match": "*"}).status, 403, "nobody sets the count by hand")
        draft = self.article(title="Not yet")
        r = self.req("service_agent", "POST", "/objects/kb_article/%d/actions/service.kb_helpful" % draft["id"], {})
        check(r.status in (409, 422), "a draft takes no votes: %d" % r.status)
        eq(self.req("partner1", "POST", "/objects/kb_article/%d/actions/service.kb_helpful" % draft["id"], {}).status, 404,
           "an article the caller cannot read")

    # -- surveys ---------------------------------------------------------------------------
    def test_story6_csat_through_the_aggregate_api(self):
        """DOMAIN.md B3 story 6: scores 5, 4, 2, 5 on four closed cases: average 4.0, CSAT% 75."""
        cases = []
        for score in (5, 4, 2, 5):
            case, survey, token = self.closed_case("Story 6 case")
            eq((survey["agent"], survey["tier"], survey["contact"]), (self.ids["service_agent"], "l1", case["contact"]),
               "the survey's agent, tier and contact")
            check(survey["sent_at"] and survey["expires_at"] > survey["sent_at"], "sent, expiring")
            r = self.anonymous().post(PUBLIC + "/survey/" + token, {"score": score}, auth=False)
            eq(r.status, 200, "answer %d: %s" % (score, r.body[:200]))
            eq(self.get("service_agent", "case", case["id"])["csat"], score, "the case's csat")
            cases.append(case["id"])
        # the close transition's action is not a way to send a survey by hand
        open_case = self.created("service_agent", "case", {"subject": "Still open"})
        for rid in (open_case["id"], cases[0]):
            r = self.req("service_agent", "POST", "/objects/case/%d/actions/service.send_survey" % rid,
                         {"workflow": "case_flow"} if rid == cases[0] else {})
            eq(r.status, 404, "send_survey by hand on case %d (no button: no client call): %s" % (rid, r.body[:200]))
        eq(self.records("admin", "survey", "filter=%s" % q("case = %d" % open_case["id"])), [], "no survey")
        ids = "case in (%s)" % ", ".join(str(c) for c in cases)
        r = self.req("service_manager", "GET", "/reports/survey?%s" % urllib.parse.urlencode({
            "group": "agent,tier,product", "measure": "count,avg(score)", "filter": ids}))
        eq(r.status, 200, "aggregate: %s" % r.body[:300])
        eq([(x["agent"], x["tier"], x["product"], x["count"], x["avg_score"]) for x in r.json["rows"]],
           [(self.ids["service_agent"], "l1", None, 4, 4.0)], "average 4.0 per agent, tier and product")
        r = self.req("service_manager", "GET", "/reports/survey?%s" % urllib.parse.urlencode({
            "group": "agent", "measure": "count", "filter": ids + " and satisfied = true"}))
        eq(r.json["rows"][0]["count"] * 100 / 4, 75.0, "CSAT% (score >= 4)")
        r = self.req("service_agent", "GET", "/objects/survey?filter=%s&fields=token_hash" % q(ids))
        eq(r.status, 400, "the token hash is no field for an agent: %s" % r.body[:200])
        check("token_hash" not in json.dumps(self.records("service_manager", "survey", "filter=%s" % q(ids))),
              "nor is it shown to a manager")

    def test_survey_link_is_single_use_and_raced_answers_keep_one(self):
        case, survey, token = self.closed_case("Single use <b>bold</b>")
        client = self.anonymous()
        r = client.get(PUBLIC + "/survey/" + token + "?lang=zh", auth=False)
        eq(r.status, 200, "the page")
        body = r.body.decode()
        check((r.header("Content-Type") or "").startswith("text/html") and "请评价我们的服务" in body, "zh page")
        check("Single use &lt;b&gt;bold&lt;/b&gt;" in body and "<b>" not in body, "the subject escaped")
        check("default-src 'none'" in (r.header("Content-Security-Policy") or ""), "a strict CSP")
        # a browser's form post: 303 to the thank-you page
        r = client.request("POST", PUBLIC + "/survey/" + token + "?lang=zh", body=urllib.parse.urlencode({
            "score": "4", "comment": "<script>alert(1)</script> 很好"}),
            content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 303, "form post: %s" % r.body[:200])
        eq(r.header("Location"), PUBLIC + "/survey-thanks?lang=zh", "thanks")
        eq(client.get(r.header("Location"), auth=False).status, 200, "the thank-you page")
        row = self.survey_row(survey["id"])
        eq((row["score"], row["comment"], row["satisfied"]), (4, "<script>alert(1)</script> 很好", True), "stored as data")
        check(row["answered_at"], "answered_at")
        # a second answer: 410, nothing written
        r = client.post(PUBLIC + "/survey/" + token, {"score": 1, "comment": "changed my mind"}, auth=False)
        eq(r.status, 410, "second answer: %s" % r.body[:200])
        r = client.request("POST", PUBLIC + "/survey/" + token, body="score=1", content_type="application/x-www-form-urlencoded",
                           auth=False)
        eq(r.status, 410, "second answer from a browser")
        check(b"Already answered" in r.body, "a page that says so")
        eq(client.get(PUBLIC + "/survey/" + token, auth=False).status, 410, "the page is gone")
        after = self.survey_row(survey["id"])
        eq((after["score"], after["comment"], after["version"]), (4, row["comment"], row["version"]), "nothing written")
        # answers racing on a fresh link (the server has 8 threads): exactly one is kept
        _, raced, token = self.closed_case("Raced")
        statuses, lock = [], threading.Lock()
        barrier = threading.Barrier(RACERS)

        def answer(i, c):
            barrier.wait()
            r = c.post(PUBLIC + "/survey/" + token, {"score": i % 5 + 1, "comment": "racer %d" % i}, auth=False)
            with lock:
                statuses.append((r.status, i))
        clients = [self.anonymous() for _ in range(RACERS)]
        for c in clients:
            c.get(PUBLIC + "/survey-thanks", auth=False)   # connected before the race
        threads = [threading.Thread(target=answer, args=(i, c)) for i, c in enumerate(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        won = [i for s, i in statuses if s == 200]
        eq(len(won), 1, "one answer kept: %s" % statuses)
        eq(sorted(s for s, _ in statuses), [200] + [410] * (RACERS - 1), "the others refused")
        row = self.survey_row(raced["id"])
        eq((row["score"], row["comment"]), (won[0] % 5 + 1, "racer %d" % won[0]), "the winner's answer")
        eq(row["version"], raced["version"] + 1, "written once")

    def test_survey_link_expired_and_unknown(self):
        case, survey, token = self.closed_case("Expires")
        self.patch("admin", "survey", survey["id"], {"expires_at": "2020-01-01T00:00:00Z"})
        client = self.anonymous()
        r = client.get(PUBLIC + "/survey/" + token, auth=False)
        eq(r.status, 410, "expired page")
        check(b"expired" in r.body and (r.header("Content-Type") or "").startswith("text/html"), "says so")
        r = client.post(PUBLIC + "/survey/" + token, {"score": 5}, auth=False)
        eq(r.status, 410, "expired answer")
        eq(self.survey_row(survey["id"])["score"], None, "nothing written")
        for bad in ("A" * 43, "x", "A" * 44, "%27%20or%20%271%27%3D%271", "..%2F..%2Fetc%2Fpasswd",
                    token[:-1] + ("A" if token[-1] != "A" else "B")):
            r = client.get(PUBLIC + "/survey/" + bad, auth=False)
            eq(r.status, 404, "unknown %s" % bad)
            check(b"No such survey" in r.body or "%2F" in bad, "a page that says so: %s %s" % (bad, r.body[:200]))
        r = client.post(PUBLIC + "/survey/" + "B" * 43, {"score": 5}, auth=False)
        eq(r.status, 404, "answering an unknown token")
        # a case closed with a contact without an e-mail: a survey, no message
        case, survey, _ = self.closed_case("No address", email=False)
        eq(survey["contact"], case["contact"], "a survey row")
        contact = self.get("admin", "contact", case["contact"])
        eq(contact["email"], None, "no address")

    def test_survey_bad_input_writes_nothing(self):
        _, survey, token = self.closed_case("Bad input")
        url = PUBLIC + "/survey/" + token
        cases = [
            ("score 0", {"score": 0}, None, 422),
            ("score 6", {"score": 6}, None, 422),
            ("score five", {"score": "five"}, None, 422),
            ("score 4.5", {"score": 4.5}, None, 422),
            ("score list", {"score": [5]}, None, 422),
            ("score missing", {"comment": "no score"}, None, 422),
            ("comment not text", {"score": 5, "comment": {"a": 1}}, None, 422),
            ("comment too long", {"score": 5, "comment": "長" * 4001}, None, 422),
            ("comment 100 kB", {"score": 5, "comment": "x" * 100000}, None, 413),
            ("malformed json", b'{"score": 5, ', "application/json", 400),
            ("not an object", b'[5]', "application/json", 422),
            ("form twice", b"score=5&score=4", "application/x-www-form-urlencoded", 400),
            ("form score 9", b"score=9&comment=%3Cimg%20src%3Dx%3E", "application/x-www-form-urlencoded", 422),
            ("other type", b"score=5", "text/plain", 415),
        ]
        client = self.anonymous()
        for i, (what, body, ctype, status) in enumerate(cases):
            if i and i % 9 == 0:
                client = self.anonymous()
            r = client.request("POST", url, body=body, content_type=ctype, auth=False)
            eq(r.status, status, "%s: %s" % (what, r.body[:200]))
            if what == "form score 9":
                check(b"<img" not in r.body and (r.header("Content-Type") or "").startswith("text/html"),
                      "the form again, nothing echoed raw")
        row = self.survey_row(survey["id"])
        eq((row["score"], row["comment"], row["answered_at"], row["version"]), (None, None, None, survey["version"]),
           "nothing written")
        # the link still works afterwards
        r = self.anonymous().post(url, {"score": "5", "comment": "  fine  "}, auth=False)
        eq(r.status, 200, "a good answer: %s" % r.body[:200])
        eq((self.survey_row(survey["id"])["score"], self.survey_row(survey["id"])["comment"]), (5, "fine"), "kept, trimmed")

    def test_survey_page_rate_limit(self):
        client = self.anonymous()
        for i in range(30):
            eq(client.get(PUBLIC + "/survey/" + "C" * 43, auth=False).status, 404, "get %d" % (i + 1))
        r = client.get(PUBLIC + "/survey/" + "C" * 43, auth=False)
        eq(r.status, 429, "the 31st in a minute")
        check(r.header("Retry-After"), "Retry-After")
        eq(self.anonymous().get(PUBLIC + "/survey/" + "C" * 43, auth=False).status, 404, "another address")


def main():
    return run_on_demo("service_kb", Story, (
        "kb_flow_with_roles_and_immutable_versions", "kb_audiences_per_role", "suggestions_in_english_and_chinese",
        "helpful_votes_once_per_user", "story6_csat_through_the_aggregate_api",
        "survey_link_is_single_use_and_raced_answers_keep_one", "survey_link_expired_and_unknown",
        "survey_bad_input_writes_nothing", "survey_page_rate_limit"), extra=["--threads", "8"])


if __name__ == "__main__":
    sys.exit(main())
