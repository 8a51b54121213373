"""Public plugin routes over HTTP (see public.sh): a real `crm serve` with the metadata in
tests/api/public/ and the test plugin tests/plugins/webform, whose routes registered with
{ public = true } are served at /api/v1/public/webform/... to callers with no session.

Each test that posts to a rate-limited route comes from its own loopback address
(127.0.0.N), so that the per-address counts of one test do not reach another's.
Standard library only.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, Client, Runner, Server, check, cleanup, crm_binary, eq, login,  # noqa: E402
                    parse_raw, problem, raw_exchange, tempdir)

API = "/api/v1"
PUBLIC = API + "/public/webform"
PACK = os.path.join(ROOT, "tests", "api", "public")
PLUGINS = os.path.join(ROOT, "tests", "plugins")
ADMIN_PASSWORD = "admin-password-for-public-tests"


def crm(args, db, metadata=PACK, stdin=None):
    return subprocess.run([crm_binary()] + args + ["--db", db, "--metadata", metadata, "--plugins", PLUGINS],
                          input=stdin, cwd=ROOT, capture_output=True, check=False)


def add_user(db, login_name, role, metadata=PACK):
    p = crm(["user", "add", "--login", login_name, "--role", role], db, metadata,
            stdin=(ADMIN_PASSWORD + "\n").encode())
    if p.returncode != 0:
        raise RuntimeError("crm user add %s: %s" % (login_name, p.stderr.decode()))


def form(fields):
    return urllib.parse.urlencode(fields, doseq=True)


class Suite:
    def __init__(self, server):
        self.server = server
        self.admin = login(server.port, "admin", ADMIN_PASSWORD)
        self.c = Client(server.port)
        self.next_source = 10

    def anonymous(self):
        """A client of its own loopback address: its own rate-limit counts."""
        self.next_source += 1
        return Client(self.server.port, source="127.0.0.%d" % self.next_source)

    def as_admin(self, method, path, body=None):
        return self.c.request(method, API + path, body=body, headers=self.admin, auth=False)

    def leads(self):
        r = self.as_admin("GET", "/objects/lead?limit=1000&sort=id")
        eq(r.status, 200, "admin lists leads: %s" % r.body[:200])
        return r.json["records"]

    # -- the tests ---------------------------------------------------------------------
    def test_anonymous_json_post_creates_a_pooled_lead_as_the_guest(self):
        c = self.anonymous()
        r = c.post(PUBLIC + "/lead", {"name": "Ann Lee", "email": "ann@example.com", "company": "Acme"}, auth=False)
        eq(r.status, 201, "anonymous post: %s" % r.body[:300])
        eq(r.json["guest"], True, "the handler's ctx.guest")
        eq(r.json["user"], -1, "the handler's ctx.user")
        eq(r.json["req_user"], None, "req.user")
        eq(r.json["form"], False, "a JSON body is no form")
        lead = self.as_admin("GET", "/objects/lead/%d" % r.json["id"]).json
        eq(lead["name"], "Ann Lee", "the lead")
        eq(lead["source"], "web", "source")
        eq(lead["owner"], None, "in the pool: no owner")
        eq(lead["created_by"], None, "created by nobody")
        history = self.as_admin("GET", "/objects/lead/%d/history" % r.json["id"]).json["history"]
        eq(history[0]["user"], -1, "the audit trail names the guest")

    def test_html_form_post_creates_a_lead(self):
        c = self.anonymous()
        body = "name=Bob+Brown&email=bob%40example.com&interests%5B%5D=crm&interests%5B%5D=field+sales" \
               "&message=line+one%0D%0Aline+two&website="
        r = c.post(PUBLIC + "/lead", body, content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 201, "form post: %s" % r.body[:300])
        eq(r.json["form"], True, "req.form")
        lead = self.as_admin("GET", "/objects/lead/%d" % r.json["id"]).json
        eq(lead["name"], "Bob Brown", "'+' is a space")
        eq(lead["email"], "bob@example.com", "%40 is @")
        eq(lead["interests"], "crm,field sales", "interests[] is a list")
        eq(lead["message"], "line one\r\nline two", "a textarea keeps its line breaks")
        # the honeypot: filled in, nothing is created
        before = len(self.leads())
        r = c.post(PUBLIC + "/lead", form({"name": "Bot", "website": "http://spam.example"}),
                   content_type="application/x-www-form-urlencoded", auth=False)
        eq(r.status, 202, "honeypot: %s" % r.body[:200])
        eq(len(self.leads()), before, "the honeypot created nothing")

    def test_eleventh_post_from_one_address_in_a_minute_is_429(self):
        c = self.anonymous()
        before = len(self.leads())
        for i in range(10):
            r = c.post(PUBLIC + "/lead", form({"name": "Lead %d" % i}),
                       content_type="application/x-www-form-urlencoded", auth=False)
            eq(r.status, 201, "post %d: %s" % (i + 1, r.body[:200]))
        r = c.post(PUBLIC + "/lead", form({"name": "Lead 11"}), content_type="application/x-www-form-urlencoded",
                   auth=False)
        doc = problem(r, 429, "the 11th post")
        retry = int(r.header("Retry-After") or 0)
        check(1 <= retry <= 60, "Retry-After %r" % r.header("Retry-After"))
        check("at most 10 requests in 60 seconds" in doc["detail"], doc["detail"])
        eq(len(self.leads()), before + 10, "the refused post created nothing")
        # another address is not held back by this one
        r = self.anonymous().post(PUBLIC + "/lead", {"name": "Someone else"}, auth=False)
        eq(r.status, 201, "another address: %s" % r.body[:200])

    def test_oversized_body_is_413_and_creates_nothing(self):
        before = len(self.leads())
        c = self.anonymous()
        big = json.dumps({"name": "Big", "message": "x" * 20000})
        r = c.post(PUBLIC + "/lead", big, content_type="application/json", auth=False)
        doc = problem(r, 413, "20 KB to a 16 KiB route")
        check("16384-byte cap" in doc["detail"], doc["detail"])
        # refused from the Content-Length alone, before any of the body is read
        source = "127.0.0.%d" % (self.next_source + 1)
        self.next_source += 1
        raw = raw_exchange(self.server.port, b"POST " + PUBLIC.encode() + b"/lead HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Type: application/json\r\nContent-Length: 5000000\r\n\r\n{\"name\":",
                           source=source)
        status, _, _ = parse_raw(raw)
        eq(status, 413, "a declared 5 MB body")
        # a route's own, smaller cap
        r = c.post(PUBLIC + "/small", {"x": "y" * 100}, auth=False)
        problem(r, 413, "over the route's 64 bytes")
        r = c.post(PUBLIC + "/small", {"x": "y"}, auth=False)
        eq(r.status, 200, "under the cap: %s" % r.body[:200])
        eq(r.json, {"received": {"x": "y"}}, "the body as the handler got it")
        eq(len(self.leads()), before, "nothing created")

    def test_malformed_bodies_are_400_and_create_nothing(self):
        before = len(self.leads())
        c = self.anonymous()
        problem(c.post(PUBLIC + "/lead", '{"name": "Half', content_type="application/json", auth=False), 400,
                "malformed JSON")
        problem(c.post(PUBLIC + "/lead", "name=%zz", content_type="application/x-www-form-urlencoded", auth=False),
                400, "a bad %-escape")
        doc = problem(c.post(PUBLIC + "/lead", "name=a&name=b", content_type="application/x-www-form-urlencoded",
                             auth=False), 400, "a name given twice")
        check("name[]" in doc["detail"], doc["detail"])
        problem(c.post(PUBLIC + "/lead", "name=x", content_type="text/plain", auth=False), 415, "text/plain")
        problem(c.post(PUBLIC + "/lead", "--b\r\n", content_type="multipart/form-data; boundary=b", auth=False),
                415, "multipart")
        eq(len(self.leads()), before, "nothing created")

    def test_admin_session_cookie_gives_no_rights_on_a_public_route(self):
        r = Client(self.server.port).post(API + "/session", {"login": "admin", "password": ADMIN_PASSWORD},
                                           auth=False)
        eq(r.status, 201, "admin logs in")
        cookie = {"Cookie": "crm_session=" + r.json["token"]}
        # the admin reads accounts; through the public route, with the admin's cookie and token, nobody does
        eq(self.as_admin("POST", "/objects/account", {"name": "Acme Corp"}).status, 201, "an account")
        c = self.anonymous()
        for headers in (cookie, dict(cookie, **self.admin)):
            r = c.get(PUBLIC + "/accounts", headers=headers, auth=False)
            doc = problem(r, 404, "the guest reads accounts")
            check("unknown object 'account'" in doc["detail"], doc["detail"])
        # a write with the cookie and no X-CSRF-Token: no CSRF refusal (no cookie acts), and not the admin's write
        r = c.post(PUBLIC + "/lead", {"name": "With a cookie"}, headers=cookie, auth=False)
        eq(r.status, 201, "cookie-carrying post: %s" % r.body[:200])
        eq(r.json["user"], -1, "acts as the guest")
        lead = self.as_admin("GET", "/objects/lead/%d" % r.json["id"]).json
        eq(lead["created_by"], None, "not created by the admin")
        eq(lead["owner"], None, "not owned by the admin")

    def test_private_plugin_route_still_needs_a_session(self):
        c = self.anonymous()
        r = c.get(API + "/plugins/webform/whoami", auth=False)
        problem(r, 401, "a signed-in route without a session")
        r = c.get(API + "/plugins/webform/whoami", headers=self.admin, auth=False)
        eq(r.status, 200, "with the admin's token: %s" % r.body[:200])
        check(r.json["user"] > 0, "the admin's id")
        # each kind of route is served at its own place only
        doc = problem(c.get(PUBLIC + "/whoami", auth=False), 404, "a signed-in route under /public")
        check("no public route" in doc["detail"], doc["detail"])
        doc = problem(c.post(API + "/plugins/webform/lead", {"name": "x"}, headers=self.admin, auth=False), 404,
                      "a public route under /plugins")
        check("the route is public, at /api/v1/public/webform/lead" in doc["detail"], doc["detail"])
        problem(c.post(PUBLIC + "/nothing", {"name": "x"}, auth=False), 404, "no such public route")

    def test_openapi_documents_the_public_routes(self):
        doc = self.as_admin("GET", "/openapi.json").json
        op = doc["paths"]["/public/webform/lead"]["post"]
        eq(op["security"], [], "anonymous")
        eq(op["tags"], ["public"], "tag")
        check("429" in op["responses"] and "Retry-After" in op["responses"]["429"]["headers"], "429")
        check("413" in op["responses"] and "16384-byte" in op["responses"]["413"]["description"], "413")
        check("401" not in op["responses"], "no 401")
        check("application/x-www-form-urlencoded" in op["requestBody"]["content"], "form bodies")
        check("At most 10 requests in 60 seconds" in op["description"], op["description"])
        check("/plugins/webform/lead" not in doc["paths"], "not among the signed-in routes")
        check("/plugins/webform/whoami" in doc["paths"], "the signed-in route")
        check(any(t["name"] == "public" for t in doc["tags"]), "the public tag")
        lint_openapi(doc, self.server.workdir)

    def test_a_route_answers_a_web_page_or_a_redirect(self):
        c = self.anonymous()
        r = c.get(PUBLIC + "/page", auth=False)
        eq(r.status, 200, "page: %s" % r.body[:200])
        eq(r.header("Content-Type"), "text/html; charset=utf-8", "html")
        eq(r.body, b"<!doctype html><p>Hello</p>", "as written")
        check("default-src 'none'" in (r.header("Content-Security-Policy") or ""), "a page that loads nothing")
        eq(c.get(PUBLIC + "/page?status=404", auth=False).status, 404, "a page with another status")
        for to, status in (("https://example.com/thanks?x=1", "303"), ("/api/v1/public/webform/page", "302"),
                           ("http://example.com/", "307")):
            r = c.get(PUBLIC + "/redirect?" + form({"to": to, "status": status}), auth=False)
            eq(r.status, int(status), "redirect to %s: %s" % (to, r.body[:200]))
            eq(r.header("Location"), to, "Location")
            eq(r.body, b"", "no body")
        # refused by the kernel: no header injection, no other scheme, no protocol-relative or long URL
        for query in ({"to": "javascript:alert(1)"}, {"to": "//evil.example/"}, {"crlf": "1"},
                      {"to": "https://a.example/ b"}, {"to": "https://a.example/" + "x" * 150},
                      {"to": "https://a.example/", "status": "200"}, {"to": "https://a.example/", "status": "304"}):
            r = c.get(PUBLIC + "/redirect?" + form(query), auth=False)
            eq(r.status, 500, "refused %r: %s" % (query, r.body[:200]))
            check(r.header("Location") is None, "no Location for %r" % query)
        eq(c.get(PUBLIC + "/page?both=1", auth=False).status, 500, "a page and a redirect at once")

    def test_crm_plugins_lists_the_public_routes(self):
        p = crm(["plugins"], self.server.db)
        out = p.stdout.decode()
        eq(p.returncode, 0, "crm plugins: %s" % p.stderr.decode())
        check("POST /webform/lead (public at /api/v1/public/webform/lead, 10 per 60 s per address, "
              "body up to 16384 bytes)" in out, out)
        check(re.search(r"GET /webform/whoami(,|$)", out, re.M), out)


def lint_openapi(doc, workdir):
    """redocly's recommended rules over the document, when the contract suite's tools are installed."""
    cli = os.path.join(ROOT, "tests", "contract", "node_modules", "@redocly", "cli", "bin", "cli.js")
    node = shutil.which("node")
    if not node or not os.path.exists(cli):
        print("# redocly not installed (tests/api/contract.sh installs it): lint skipped")
        return
    path = os.path.join(workdir, "openapi.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true", NO_UPDATE_NOTIFIER="1")
    p = subprocess.run([node, cli, "lint", "--config", os.path.join(ROOT, "tests", "contract", "redocly.yaml"),
                        "--format", "stylish", path], cwd=ROOT, capture_output=True, env=env, check=False)
    if p.returncode != 0:
        raise AssertionError("redocly lint: %s" % (p.stdout.decode()[-1500:] + p.stderr.decode()[-500:]))


def without_guest_role(work):
    """A copy of the pack whose metadata defines no role named guest: the guest has no rights."""
    pack = os.path.join(work, "no-guest")
    shutil.copytree(PACK, pack)
    with open(os.path.join(pack, "roles.yaml")) as f:
        docs = f.read().split("\n---\n")
    with open(os.path.join(pack, "roles.yaml"), "w") as f:
        f.write("\n---\n".join(d for d in docs if not re.search(r"^role: guest$", d, re.M)))
    return pack


def test_without_a_guest_role_a_public_route_creates_nothing(work):
    pack = without_guest_role(work)
    sub = os.path.join(work, "no-guest-server")
    os.makedirs(sub)
    db = os.path.join(sub, "t.db")
    add_user(db, "admin", "admin", metadata=pack)
    server = Server(sub, db=db, metadata=pack, plugins=PLUGINS).start(as_admin=False)
    try:
        c = Client(server.port, source="127.0.0.200")
        r = c.post(PUBLIC + "/lead", {"name": "Nobody's lead"}, auth=False)
        doc = problem(r, 403, "no guest role")
        check("no role named 'guest'" in doc["detail"], doc["detail"])
        admin = login(server.port, "admin", ADMIN_PASSWORD)
        r = c.get(API + "/objects/lead?count=true", headers=admin, auth=False)
        eq(r.json["total"], 0, "no lead")
    finally:
        eq(server.stop(), 0, "exit code")


def main():
    runner = Runner()
    work = tempdir("crm-public-")
    db = os.path.join(work, "t.db")
    server = None
    try:
        add_user(db, "admin", "admin")
        server = Server(work, db=db, metadata=PACK, plugins=PLUGINS).start(as_admin=False)
        suite = Suite(server)
        for name in ("anonymous_json_post_creates_a_pooled_lead_as_the_guest", "html_form_post_creates_a_lead",
                     "eleventh_post_from_one_address_in_a_minute_is_429", "oversized_body_is_413_and_creates_nothing",
                     "malformed_bodies_are_400_and_create_nothing",
                     "admin_session_cookie_gives_no_rights_on_a_public_route",
                     "private_plugin_route_still_needs_a_session", "openapi_documents_the_public_routes",
                     "crm_plugins_lists_the_public_routes", "a_route_answers_a_web_page_or_a_redirect"):
            runner.run("public " + name, getattr(suite, "test_" + name))
        code = server.stop()
        server = None
        runner.run("public sigterm_exits_0", lambda: eq(code, 0, "exit code after SIGTERM"))
        runner.run("public without_a_guest_role_a_public_route_creates_nothing",
                   test_without_a_guest_role_a_public_route_creates_nothing, work)
    except Exception as e:
        print("FAIL public setup: %s" % e)
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
