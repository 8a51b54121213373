"""Full-text search over the FTS5 index the kernel builds from `search: true` fields (see search.sh).

A real `crm serve` on tests/api/search/: articles in Chinese and English (title, body and an internal
note a rep may not see), memos for the global search. Checks: zh and en matches and their ranking,
2-character Chinese terms, creates, updates, deletes and restores seen by the next search, row rules
(a rep does not find another rep's private article) and field rules (a hidden field's text makes no
match and gives no snippet), hostile queries (FTS5 syntax, LIKE wildcards, oversized text) answered
200 or 400 and never 500, `crm reindex` and a migrate that changes the searchable fields.
"""
import os
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, Client, Runner, Server, add_user, check, cleanup, crm_binary, eq, login,  # noqa: E402
                    problem, tempdir)

API = "/api/v1"
METADATA = os.path.join(ROOT, "tests", "api", "search")
PASSWORD = "search-test-password"
OPEN, CLOSE = "\x02", "\x03"

ARTICLES = [
    # (title, body, note, visibility): the admin's
    ("客户关系管理入门", "本文介绍客户关系管理的基本概念，以及如何维护客户档案。", "", "public"),
    ("合同续约流程", "合同续约需要销售经理审批。合同续约前请核对合同金额，合同续约后归档。", "", "public"),
    ("常见问题", "如果合同续约被拒绝，请联系法务。", "", "public"),
    ("Contract renewal checklist", "Renewal of a contract: check the renewal date, the renewal price "
     "and the renewal terms before the customer signs.", "", "public"),
    ("Onboarding a new customer", "Create the account, then the contacts; a contract renewal comes a year later.",
     "", "public"),
    ("Escalation policy", "Escalate after two hours.", "zzsecretword 机密 do not share", "public"),
    ("Café résumé naïve", "Accents in English loanwords.", "", "public"),
]


def q(text):
    return urllib.parse.quote(text, safe="")


class Suite:
    def __init__(self, server, work):
        self.server = server
        self.work = work
        self.c = Client(server.port)
        self.ids = {}
        self.h = {}

    def as_(self, who, method, path, body=None, headers=None):
        hh = dict(self.h[who])
        hh.update(headers or {})
        return self.c.request(method, API + path, body=body, headers=hh, auth=False)

    def search(self, who, obj, text, extra="", status=200):
        r = self.as_(who, "GET", "/objects/%s?q=%s%s" % (obj, q(text), extra))
        eq(r.status, status, "%s searches %s for %r: %s" % (who, obj, text, r.body[:300]))
        return [rec["id"] for rec in r.json["records"]] if status == 200 else r

    def glob(self, who, text, status=200):
        r = self.as_(who, "GET", "/search?q=%s" % q(text))
        eq(r.status, status, "%s searches everything for %r: %s" % (who, text, r.body[:300]))
        return r.json

    def create(self, who, obj, values):
        r = self.as_(who, "POST", "/objects/%s" % obj, values)
        eq(r.status, 201, "%s creates %s: %s" % (who, obj, r.body[:300]))
        return r.json["id"]

    def test_setup(self):
        self.h["admin"] = login(self.server.port)
        for who in ("rep1", "rep2", "viewer"):
            self.h[who] = login(self.server.port, who, PASSWORD)
        for i, (title, body, note, vis) in enumerate(ARTICLES):
            self.ids[i] = self.create("admin", "article", {"title": title, "body": body, "note": note or None,
                                                           "visibility": vis})
        self.private = self.create("rep1", "article", {"title": "rep1 私人笔记 quarterlyplan", "body": "只给自己看的客户名单",
                                                       "visibility": "private"})
        self.memo = self.create("admin", "memo", {"subject": "客户拜访纪要 customer visit"})

    def test_english_words_match_and_rank(self):
        ids = self.search("admin", "article", "renewal")
        check(self.ids[3] in ids and self.ids[4] in ids, "both renewal articles found: %r" % ids)
        eq(ids[0], self.ids[3], "the article that says renewal five times ranks first")
        eq(self.search("admin", "article", "RENEWAL"), ids, "case does not matter")
        eq(self.search("admin", "article", "contract renewal checklist"), [self.ids[3]], "every term must match")
        eq(self.search("admin", "article", "zzznotthere"), [], "no match")
        check(self.ids[6] in self.search("admin", "article", "résumé"), "accented word found as typed")

    def test_chinese_terms_match_and_rank(self):
        ids = self.search("admin", "article", "合同续约")
        eq(set(ids), {self.ids[1], self.ids[2]}, "the two articles about contract renewal")
        eq(ids[0], self.ids[1], "the one that says it four times, in its title too, ranks first")
        eq(self.search("admin", "article", "客户关系管理"), [self.ids[0]], "a 6-character term")
        eq(self.search("admin", "article", "维护客户档案"), [self.ids[0]], "a phrase from the middle of a body")

    def test_two_character_chinese_terms(self):
        ids = self.search("admin", "article", "客户")
        eq(set(ids), {self.ids[0], self.private}, "客户 in a title and in a body")
        eq(set(self.search("admin", "article", "合同")), {self.ids[1], self.ids[2]}, "合同")
        eq(self.search("admin", "article", "法务"), [self.ids[2]], "法务 in a body")
        eq(self.search("admin", "article", "法务 合同续约"), [self.ids[2]], "a short term narrows a long one")
        eq(self.search("admin", "article", "法务 归档"), [], "two short terms: both must match")
        check(self.ids[0] in self.search("admin", "article", "客"), "a one-character term matches")

    def test_writes_are_seen_by_the_next_search(self):
        rid = self.create("admin", "article", {"title": "临时公告 flashnotice", "body": "明天停电"})
        eq(self.search("admin", "article", "flashnotice"), [rid], "found once created")
        eq(self.search("admin", "article", "停电"), [rid], "2-character body term found once created")
        r = self.as_("admin", "PATCH", "/objects/article/%d" % rid, {"title": "正式公告 finalnotice"},
                     headers={"If-Match": "*"})
        eq(r.status, 200, "update: %s" % r.body[:200])
        eq(self.search("admin", "article", "flashnotice"), [], "the old title no longer matches")
        eq(self.search("admin", "article", "finalnotice"), [rid], "the new title matches")
        eq(self.search("admin", "article", "正式公告"), [rid], "the new Chinese title matches")
        r = self.as_("admin", "DELETE", "/objects/article/%d" % rid, headers={"If-Match": "*"})
        check(r.status in (200, 204), "delete: %s" % r.body[:200])
        eq(self.search("admin", "article", "finalnotice"), [], "a deleted record is not found")
        r = self.as_("admin", "POST", "/objects/article/%d/restore" % rid)
        check(r.status in (200, 201, 204), "restore: %s" % r.body[:200])
        eq(self.search("admin", "article", "finalnotice"), [rid], "a restored record is found again")

    def test_row_rules_apply_to_hits(self):
        eq(self.search("rep1", "article", "quarterlyplan"), [self.private], "the owner finds a private article")
        eq(self.search("rep2", "article", "quarterlyplan"), [], "another rep does not")
        eq(self.search("rep2", "article", "私人笔记"), [], "nor by its Chinese title")
        check(self.private not in self.search("rep2", "article", "客户"), "nor by a 2-character term")
        g = self.glob("rep2", "quarterlyplan")
        eq(g["results"], [], "nor in the global search")
        check(self.ids[3] in self.search("rep2", "article", "renewal"), "a rep finds public articles")

    def test_hidden_field_text_does_not_match(self):
        eq(self.search("viewer", "article", "zzsecretword"), [self.ids[5]], "a reader of the note finds it")
        eq(self.search("rep1", "article", "zzsecretword"), [], "a rep, who may not read the note, does not")
        eq(self.search("rep1", "article", "机密"), [], "nor by a 2-character term of the note")
        eq(self.search("rep1", "article", "escalation zzsecretword"), [], "nor with a visible term beside it")
        eq(self.glob("rep1", "zzsecretword")["results"], [], "nor in the global search")
        eq(self.search("rep1", "article", "escalation"), [self.ids[5]], "the visible title still matches")

    def test_global_search_groups_by_object_with_snippets(self):
        g = self.glob("admin", "客户")
        objects = [res["object"] for res in g["results"]]
        check("article" in objects and "memo" in objects, "articles and memos: %r" % objects)
        for res in g["results"]:
            for rec in res["records"]:
                s = rec.get("_snippet", "")
                check(OPEN + "客户" + CLOSE in s, "the hit is marked in %r" % s)
        g = self.glob("admin", "renewal")
        arts = [res for res in g["results"] if res["object"] == "article"][0]
        eq(arts["records"][0]["id"], self.ids[3], "ranked within the object")
        check(OPEN in arts["records"][0]["_snippet"] and CLOSE in arts["records"][0]["_snippet"],
              "marked snippet: %r" % arts["records"][0])
        check(arts["records"][0]["_snippet_field"] in ("title", "body"), "a readable field")
        # a rep's snippets never come from the hidden note, nor carry it
        g = self.glob("rep1", "escalation")
        for res in g["results"]:
            for rec in res["records"]:
                check(rec.get("_snippet_field") != "note" and "note" not in rec, "no note for a rep: %r" % rec)
                check("zzsecretword" not in str(rec), "the hidden text leaks nowhere: %r" % rec)
        viewer_objects = [res["object"] for res in self.glob("viewer", "客户")["results"]]
        eq(viewer_objects, ["article"], "the viewer, who may not read memos, finds only articles")
        r = self.glob("admin", "renewal", status=200)
        eq(r["q"], "renewal", "the text asked")

    def test_hostile_queries_never_fail(self):
        hostile = ['"', '""', '"renewal', '*', 'renew*', 'NEAR(contract renewal)', 'NEAR(', '-renewal',
                   'title:renewal', '{title}: renewal', '{title body} : "x"', 'renewal OR contract', 'AND', 'NOT x',
                   '^renewal', ') OR (', "'", "' OR 1=1 --", '\\', '%', '_', '%%%', '__', '\u3000', '客户"',
                   'a' * 200, '合' * 60, "x\ty", 'rank:', 'bm25(', ';DROP TABLE article']
        for text in hostile:
            for path in ("/objects/article?q=" + q(text), "/search?q=" + q(text)):
                r = self.as_("rep1", "GET", path)
                check(r.status in (200, 400), "%r on %s: %d %s" % (text, path, r.status, r.body[:200]))
        eq(self.search("admin", "article", "%"), [], "% is a character, not a wildcard")
        eq(self.search("admin", "article", "_"), [], "_ is a character, not a wildcard")
        eq(self.search("admin", "article", '"renewal'), [], "a quote is a character")
        for text in ("x" * 10240, "a " * 40, "y" * 201):
            problem(self.as_("admin", "GET", "/objects/article?q=" + q(text)), 400, "oversized %d" % len(text))
            problem(self.as_("admin", "GET", "/search?q=" + q(text)), 400, "global oversized %d" % len(text))
        for raw in ("%FF%FE", "ab%C3", "%ED%A0%80abc"):   # not UTF-8: refused, not half-matched
            r = self.as_("admin", "GET", "/objects/article?q=" + raw)
            eq(r.status, 400, "invalid UTF-8 %s: %s" % (raw, r.body[:200]))
            r = self.as_("admin", "GET", "/search?q=" + raw)
            eq(r.status, 400, "global, invalid UTF-8 %s: %s" % (raw, r.body[:200]))
        problem(self.as_("admin", "GET", "/search"), 400, "q missing")
        problem(self.as_("admin", "GET", "/search?q=x&limit=0"), 400, "bad limit")
        problem(self.as_("admin", "GET", "/search?q=x&color=red"), 400, "unknown parameter")
        problem(self.as_("admin", "GET", "/objects/user?q=x"), 400, "an object with no search: true field")
        r = self.as_("admin", "GET", "/objects/article?q=renewal&sort=-title")
        eq(r.status, 200, "an explicit sort replaces the ranking")
        titles = [rec["title"] for rec in r.json["records"]]
        eq(titles, sorted(titles, reverse=True), "sorted by title")

    def test_search_param_and_paging(self):
        r = self.as_("admin", "GET", "/objects/article?search=%s" % q("renewal"))
        eq([rec["id"] for rec in r.json["records"]], self.search("admin", "article", "renewal"), "search= is q=")
        r = self.as_("admin", "GET", "/objects/article?q=renewal&limit=1")
        eq(r.status, 200, "first page")
        first = r.json["records"][0]["id"]
        check(r.json["next"], "a cursor to the next page")
        r2 = self.as_("admin", "GET", "/objects/article?q=renewal&limit=1&after=" + q(r.json["next"]))
        eq(r2.status, 200, "second page: %s" % r2.body[:200])
        eq([first, r2.json["records"][0]["id"]], self.search("admin", "article", "renewal")[:2], "pages follow rank")

    def test_reindex_rebuilds_the_index(self):
        self.server.stop()
        db = sqlite3.connect(self.server.db)
        db.execute("DELETE FROM article__search")
        db.commit()
        db.close()
        self.server.start()
        self.c = Client(self.server.port)
        self.h["admin"] = login(self.server.port)
        eq(self.search("admin", "article", "renewal"), [], "an emptied index finds nothing")
        self.server.stop()
        out = subprocess.run([crm_binary(), "reindex", "article", "--db", self.server.db, "--metadata", METADATA,
                              "--plugins", os.path.join(self.work, "plugins")], cwd=ROOT, capture_output=True)
        eq(out.returncode, 0, "crm reindex: %s" % out.stderr[-300:])
        check(b"reindexed 1 object" in out.stdout, "says what it did: %r" % out.stdout)
        bad = subprocess.run([crm_binary(), "reindex", "nosuch", "--db", self.server.db, "--metadata", METADATA,
                              "--plugins", os.path.join(self.work, "plugins")], cwd=ROOT, capture_output=True)
        eq(bad.returncode, 1, "an unknown object")
        check(b"nosuch" in bad.stderr, "named: %r" % bad.stderr)
        self.server.start()
        self.c = Client(self.server.port)
        self.h["admin"] = login(self.server.port)
        for who in ("rep1", "rep2", "viewer"):
            self.h[who] = login(self.server.port, who, PASSWORD)
        eq(self.search("admin", "article", "renewal")[0], self.ids[3], "found and ranked again")
        eq(set(self.search("admin", "article", "合同续约")), {self.ids[1], self.ids[2]}, "zh too")

    def test_migrate_follows_the_searchable_fields(self):
        # memo's amount becomes text and searchable, and a new searchable field appears: the index is rebuilt
        self.server.stop()
        meta = os.path.join(self.work, "meta2")
        subprocess.run(["cp", "-r", METADATA, meta], check=True)
        with open(os.path.join(meta, "memo.yaml"), "a") as f:
            f.write("  # added by the test\n")
        with open(os.path.join(meta, "memo.yaml")) as f:
            text = f.read()
        text = text.replace("  amount:  { type: decimal, label: { en: Amount, zh: 金额 } }",
                            "  amount:  { type: decimal, label: { en: Amount, zh: 金额 } }\n"
                            "  place:   { type: text, label: { en: Place, zh: 地点 }, search: true }")
        with open(os.path.join(meta, "memo.yaml"), "w") as f:
            f.write(text)
        db = sqlite3.connect(self.server.db)
        old_cols = [r[1] for r in db.execute("PRAGMA table_info(memo__search)")]
        db.close()
        eq(old_cols, ["subject"], "indexed before")
        server = Server(self.work, db=self.server.db, metadata=meta).start()
        try:
            admin = login(server.port)
            c = Client(server.port)
            r = c.request("PATCH", API + "/objects/memo/%d" % self.memo, {"place": "上海浦东 Pudong"},
                          headers=dict(admin, **{"If-Match": "*"}), auth=False)
            eq(r.status, 200, "set the new field: %s" % r.body[:200])
            r = c.request("GET", API + "/objects/memo?q=" + q("Pudong"), headers=admin, auth=False)
            eq([rec["id"] for rec in r.json["records"]], [self.memo], "the new searchable field is indexed")
            r = c.request("GET", API + "/objects/memo?q=" + q("拜访纪要"), headers=admin, auth=False)
            eq([rec["id"] for rec in r.json["records"]], [self.memo], "the old one still is (refilled)")
            c.close()
        finally:
            server.stop()
        db = sqlite3.connect(self.server.db)
        eq([r[1] for r in db.execute("PRAGMA table_info(memo__search)")], ["subject", "place"], "indexed after")
        db.close()


def main():
    runner = Runner()
    work = tempdir("crm-search-")
    server = None
    try:
        server = Server(work, metadata=METADATA)
        db = server.db
        add_user(db, METADATA, "admin", "admin-password-for-tests", "admin", work)
        for who, role in (("rep1", "rep"), ("rep2", "rep"), ("viewer", "viewer")):
            add_user(db, METADATA, who, PASSWORD, role, work)
        server.start()
        suite = Suite(server, work)
        runner.run("search setup", suite.test_setup)
        if runner.failed == 0:
            for name in ("english_words_match_and_rank", "chinese_terms_match_and_rank", "two_character_chinese_terms",
                         "writes_are_seen_by_the_next_search", "row_rules_apply_to_hits",
                         "hidden_field_text_does_not_match", "global_search_groups_by_object_with_snippets",
                         "hostile_queries_never_fail", "search_param_and_paging", "reindex_rebuilds_the_index",
                         "migrate_follows_the_searchable_fields"):
                runner.run("search " + name, getattr(suite, "test_" + name))
    except Exception as e:
        print("FAIL search setup: %s" % e)
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
