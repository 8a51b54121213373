"""Consumer sign-up over real servers on loopback (see signup.sh): a real `crm serve` on a `crm demo`
database of the shipped metadata and plugins, its outbox pointed at an SMTP server (the outbox
suite's SmtpSink) in this process.

What it checks: a sign-up answers 202 and the e-mail with the link arrives (zh when asked); the
link's token activates the user through the object API and signs them in; the new consumer logs in
and reads only their own contact; a login before verification fails; a taken address gets the same
202 and body and no mail; a repeat while pending replaces the link; a used, an expired (its expiry
moved back in the database file) and an unknown token get one 410; bad input (malformed JSON, wrong
types, oversized fields and body, CR/LF and markup in the name or address) is refused with a 4xx
and writes nothing; 429 with Retry-After past the address's limit; without `signup:` the routes
answer 404; a failure inside the sign-up (the mail cannot be queued) leaves no user; `crm check`
names signup mistakes by file:line:column. Waits are polls with a deadline, never timing
assertions. Standard library only.
"""
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (METADATA, ROOT, Client, Runner, Server, check, cleanup, crm_binary, eq, login,  # noqa: E402
                    problem, tempdir)
from outbox_test import SmtpSink, wait_for  # noqa: E402

API = "/api/v1"
PLUGINS = os.path.join(ROOT, "plugins")
URL = "https://crm.example.test/portal"
PASSWORD = "correct horse 42"
TOKEN = re.compile(r"https://crm\.example\.test/portal/#/verify\?token=([A-Za-z0-9_-]{43})\b")


def pack(work, smtp_port, app_extra=None, url=URL):
    """The shipped metadata with the outbox on the loopback SMTP server and the sign-up's url."""
    metadata = os.path.join(work, "metadata")
    shutil.copytree(os.path.join(ROOT, "metadata"), metadata)
    path = os.path.join(metadata, "app.yaml")
    with open(path) as f:
        lines = [line for line in f if not line.startswith(("config:", "signup:"))]
    outbox = {"smtp_url": "smtp://127.0.0.1:%d" % smtp_port, "from": "CRM <crm@example.com>", "poll": 1,
              "retry_base": 1, "retry_cap": 2, "max_attempts": 3, "timeout": 10}
    outbox.update(app_extra or {})
    lines.append("config: %s\n" % json.dumps({"currency": "EUR", "outbox": outbox}))
    lines.append("signup: %s\n" % json.dumps({"role": "consumer", "template": "signup_verify", "url": url,
                                              "expires_hours": 24}))
    with open(path, "w") as f:
        f.writelines(lines)
    return metadata


def demo(work, metadata):
    db = os.path.join(work, "demo.db")
    subprocess.run([crm_binary(), "demo", "--db", db, "--records", "20", "--seed", "5", "--metadata", metadata,
                    "--plugins", PLUGINS], check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return db


class Suite:
    def __init__(self, work, smtp):
        self.work, self.smtp = work, smtp
        self.metadata = pack(work, smtp.port)
        self.db = demo(work, self.metadata)
        self.server = Server(work, db=self.db, metadata=self.metadata, plugins=PLUGINS).start(as_admin=False)
        self.c = Client(self.server.port)
        self.admin = login(self.server.port, "admin", "demo1234")
        self.accepted = None

    # -- helpers
    def post(self, path, body, headers=None, content_type=None):
        return self.c.request("POST", API + path, body=body, headers=headers, content_type=content_type, auth=False)

    def signup(self, email, name="Ann Lee", password=PASSWORD, language=None, status=202):
        body = {"email": email, "name": name, "password": password}
        if language:
            body["language"] = language
        r = self.post("/auth/signup", body)
        eq(r.status, status, "sign-up of %r: %s" % (email, r.body[:300]))
        if status == 202:
            if self.accepted is None:
                self.accepted = r.body
            eq(r.body, self.accepted, "every sign-up gets the same body")
        return r

    def sql(self, query, *args):
        with sqlite3.connect(self.db) as db:
            return db.execute(query, args).fetchall()

    def queued(self, email):
        return self.sql('SELECT count(*) FROM outbox_message WHERE "to" = ?', email)[0][0]

    def mails(self, email):
        return self.smtp.find(email)

    def token_of(self, email, nth=1):
        """The token of the nth mail to email, once it arrived."""
        mails = wait_for("mail %d to %s" % (nth, email), lambda: len(self.mails(email)) >= nth and self.mails(email))
        body = mails[nth - 1].get_body(("plain",)).get_content()
        m = TOKEN.search(body)
        check(m, "no link in %r" % body)
        return m.group(1), mails[nth - 1]

    def verify(self, token, status=200):
        r = self.post("/auth/verify", {"token": token})
        eq(r.status, status, "verify: %s" % r.body[:300])
        return r

    def user(self, login_name):
        rows = self.sql('SELECT id, active, role, kind, name FROM "user" WHERE login = ? AND deleted_at IS NULL',
                        login_name)
        return rows[0] if rows else None

    def users(self):
        return self.sql('SELECT count(*) FROM "user"')[0][0]

    def login_status(self, login_name, password=PASSWORD):
        return self.post("/session", {"login": login_name, "password": password}).status

    # -- tests
    def test_the_login_page_can_ask_whether_there_is_a_sign_up(self):
        eq(self.c.request("GET", API + "/auth/signup", auth=False).status, 204, "GET /auth/signup")

    def test_sign_up_mails_a_link_that_activates_and_signs_in(self):
        # a contact with the address: the consumer role reads contacts by e-mail
        r = self.c.request("POST", API + "/objects/contact", body={"last_name": "Lee", "first_name": "Ann",
                                                                   "email": "ann.lee@example.com"},
                           headers=self.admin, auth=False)
        eq(r.status, 201, "admin creates Ann's contact: %s" % r.body[:200])
        contact = r.json["id"]
        self.signup("Ann.Lee@Example.com")
        uid, active, role, kind, name = self.user("ann.lee@example.com")
        check(not active and role == "consumer" and kind == "consumer" and name == "Ann Lee",
              "an inactive consumer: %r" % (self.user("ann.lee@example.com"),))
        eq(self.login_status("ann.lee@example.com"), 401, "a login before verification")
        token, mail = self.token_of("ann.lee@example.com")
        eq(mail["Subject"], "Confirm your e-mail address", "the English subject")
        check("Hello Ann Lee" in mail.get_body(("plain",)).get_content(), "the mail names the person")
        hashes = self.sql("SELECT token_hash FROM _crm_signup_tokens WHERE user_id = ?", uid)
        check(len(hashes) == 1 and token not in hashes[0][0], "only the token's hash is kept")
        r = self.verify(token)
        doc = r.json
        check(doc["token"] and doc["csrf"] and doc["expires_in"] > 0, "a session: %r" % doc)
        eq(doc["user"]["login"], "ann.lee@example.com", "the session's user")
        check("crm_session=" in (r.header("Set-Cookie") or ""), "the session cookie is set")
        eq(self.user("ann.lee@example.com")[1], 1, "active after verification")
        actions = [a for (a,) in self.sql("SELECT action FROM _crm_audit WHERE object = 'user' AND record_id = ? "
                                          "ORDER BY id", uid)]
        for action in ("create", "signup", "update", "verify"):
            check(action in actions, "audit %s in %r" % (action, actions))
        changes = self.sql("SELECT changes, user_id FROM _crm_audit WHERE object = 'user' AND record_id = ? AND "
                           "action = 'update'", uid)
        check(any('"active"' in c for c, _ in changes), "the activation is an update of active: %r" % changes)
        eq(self.sql("SELECT count(*) FROM _crm_signup_tokens WHERE user_id = ?", uid)[0][0], 0, "the token is gone")
        # the session works, and a login with the password too
        me = {"Authorization": "Bearer " + doc["token"]}
        meta = self.c.request("GET", API + "/meta", headers=me, auth=False).json
        eq(meta["caller"]["role"], "consumer", "the role")
        eq(meta["caller"]["home"]["title"]["en"], "My account", "the consumer portal's title")
        eq(self.login_status("ann.lee@example.com"), 201, "a login after verification")
        records = self.c.request("GET", API + "/objects/contact?limit=100", headers=me, auth=False).json["records"]
        eq([x["id"] for x in records], [contact], "the consumer reads only their own contact")
        check(self.sql("SELECT count(*) FROM contact")[0][0] > 1, "there are other contacts")

    def test_zh_sign_up_gets_the_zh_mail(self):
        self.signup("li.lei@example.com", name="李雷", language="zh")
        token, mail = self.token_of("li.lei@example.com")
        eq(mail["Subject"], "请确认您的电子邮箱", "the zh subject")
        check("李雷，您好" in mail.get_body(("plain",)).get_content(), "the zh body")
        self.verify(token)

    def test_taken_address_gets_the_same_answer_and_no_mail(self):
        before = self.queued("ann.lee@example.com")
        users = self.users()
        self.signup("ann.lee@example.com", name="Someone Else", password="another password")
        eq(self.queued("ann.lee@example.com"), before, "no message for a taken address")
        eq(self.users(), users, "no user")
        eq(self.user("ann.lee@example.com")[4], "Ann Lee", "the account is untouched")
        eq(self.login_status("ann.lee@example.com", "another password"), 401, "the password is unchanged")
        # an employee's login that is an address is taken too (admin@... is not one in the demo: a consumer's)
        eq(self.login_status("ann.lee@example.com"), 201, "the owner still logs in")

    def test_repeat_while_pending_replaces_the_link(self):
        self.signup("bob@example.com", name="Bob")
        first, _ = self.token_of("bob@example.com", 1)
        self.signup("bob@example.com", name="Bob Builder")
        second, _ = self.token_of("bob@example.com", 2)
        check(first != second, "a new token")
        gone = self.verify(first, 410)
        problem(gone, 410, "the replaced link")
        self.verify(second)
        eq(self.user("bob@example.com")[4], "Bob Builder", "the latest sign-up's name")

    def test_used_expired_and_unknown_tokens_get_one_410(self):
        self.signup("carl@example.com", name="Carl")
        token, _ = self.token_of("carl@example.com")
        uid = self.user("carl@example.com")[0]
        with sqlite3.connect(self.db) as db:   # the link's expiry moved back: an expired link
            db.execute("UPDATE _crm_signup_tokens SET expires_at = expires_at - 25 * 3600 WHERE user_id = ?", (uid,))
        expired = problem(self.verify(token, 410), 410, "an expired token")
        eq(self.user("carl@example.com")[1], 0, "still inactive")
        eq(self.login_status("carl@example.com"), 401, "no login with an expired link")
        unknown = problem(self.verify("A" * 43, 410), 410, "an unknown token")
        malformed = problem(self.verify("not a token", 410), 410, "a malformed token")
        # a new sign-up sends a new link, which works once
        self.signup("carl@example.com", name="Carl")
        fresh, _ = self.token_of("carl@example.com", 2)
        self.verify(fresh)
        used = problem(self.verify(fresh, 410), 410, "a used token")
        for doc in (unknown, malformed, used):
            eq(doc["detail"], expired["detail"], "one message for every dead link")

    def test_bad_input_is_refused_and_writes_nothing(self):
        users, messages = self.users(), self.sql("SELECT count(*) FROM outbox_message")[0][0]
        good = {"email": "eve@example.com", "name": "Eve", "password": PASSWORD}
        cases = [
            ("malformed JSON", b'{"email": "eve@example.com",', None, 400),
            ("not an object", [good], None, 400),
            ("form encoded", b"email=eve%40example.com", "application/x-www-form-urlencoded", 415),
            ("email a number", dict(good, email=5), None, 400),
            ("name a list", dict(good, name=["Eve"]), None, 400),
            ("password null", dict(good, password=None), None, 400),
            ("no email", {"name": "Eve", "password": PASSWORD}, None, 422),
            ("empty name", dict(good, name="  "), None, 422),
            ("name of 121 characters", dict(good, name="é" * 121), None, 422),
            ("address of 65 characters", dict(good, email="e" * 53 + "@example.com"), None, 422),
            ("not an address", dict(good, email="eve.example.com"), None, 422),
            ("two @", dict(good, email="eve@@example.com"), None, 422),
            ("CR/LF in the address", dict(good, email="eve@example.com\r\nBcc: all@example.com"), None, 422),
            ("CR/LF in the name", dict(good, name="Eve\r\nSubject: win"), None, 422),
            ("markup in the name", dict(good, name="<script>alert(1)</script>"), None, 422),
            ("short password", dict(good, password="short"), None, 422),
            ("password of 1025 bytes", dict(good, password="p" * 1025), None, 422),
            ("unknown language", dict(good, language="fr"), None, 422),
            ("a body over 16 KiB", dict(good, name="E" * 20000), None, 413),
        ]
        for what, body, ctype, status in cases:
            r = self.post("/auth/signup", body, content_type=ctype or ("application/json" if isinstance(body, bytes)
                                                                         else None))
            problem(r, status, what)
        field = problem(self.post("/auth/signup", dict(good, email="x", name="", password="1")), 422, "all wrong")
        fields = sorted(e["field"] for e in field.get("errors", []))
        eq(fields, ["email", "name", "password"], "a field error for each")
        eq(self.users(), users, "no user was created")
        eq(self.sql("SELECT count(*) FROM outbox_message")[0][0], messages, "no message was queued")
        # verify: wrong shapes are a 400, with no oracle
        problem(self.post("/auth/verify", b"{", content_type="application/json"), 400, "malformed verify")
        problem(self.post("/auth/verify", {"token": 7}), 400, "a token that is no text")
        problem(self.post("/auth/verify", {}), 400, "no token")
        problem(self.post("/auth/verify", {"token": "x" * 20000}), 413, "an oversized verify")
        eq(self.c.request("GET", API + "/auth/verify", auth=False).status, 405, "GET verify")

    def test_past_the_limit_is_429_with_retry_after(self):
        # well-formed sign-ups count per address (10 in 15 minutes); bad input above did not
        users = self.users()
        seen = []
        for i in range(12):
            r = self.post("/auth/signup", {"email": "flood%d@example.com" % i, "name": "F", "password": PASSWORD})
            seen.append(r.status)
            if r.status == 429:
                break
        eq(seen[-1], 429, "the limit answers 429 (statuses %r)" % seen)
        check(int(r.header("Retry-After") or 0) > 0, "Retry-After: %r" % r.header("Retry-After"))
        check(len(seen) <= 11, "at most ten sign-ups from one address: %r" % seen)
        eq(self.users(), users + len(seen) - 1, "the refused one created nobody")
        problem(self.post("/auth/signup", {"email": "x", "name": "", "password": ""}), 422,
                "bad input is still answered as such")


def test_no_signup_no_routes(work):
    server = Server(os.path.join(work, "plain"), metadata=METADATA)
    os.makedirs(server.workdir, exist_ok=True)
    server.start(as_admin=True)
    try:
        c = Client(server.port)
        for method, path, body in (("GET", "/auth/signup", None), ("POST", "/auth/signup",
                                   {"email": "a@example.com", "name": "A", "password": PASSWORD}),
                                   ("POST", "/auth/verify", {"token": "A" * 43})):
            problem(c.request(method, API + path, body=body, auth=False), 404, "%s %s without signup:" % (method, path))
        paths = c.request("GET", API + "/openapi.json").json["paths"]
        check("/auth/signup" not in paths, "OpenAPI lists no sign-up")
    finally:
        server.stop()


def test_a_failed_sign_up_leaves_no_user(work, smtp):
    """The mail cannot be queued (a body over the outbox's max_body): the user is rolled back with it."""
    base = os.path.join(work, "small")
    os.makedirs(base)
    long_url = "https://crm.example.test/" + "p" * 440
    metadata = pack(base, smtp.port, {"max_body": 1024}, url=long_url)
    db = demo(base, metadata)
    server = Server(base, db=db, metadata=metadata, plugins=PLUGINS).start(as_admin=False)
    try:
        c = Client(server.port)
        r = c.request("POST", API + "/auth/signup", body={"email": "long@example.com", "name": "长" * 120,
                                                         "password": PASSWORD}, auth=False)
        check(400 <= r.status < 500, "a sign-up whose mail cannot be queued fails: %d %s" % (r.status, r.body[:200]))
        with sqlite3.connect(db) as conn:
            eq(conn.execute('SELECT count(*) FROM "user" WHERE login = ?', ("long@example.com",)).fetchone()[0], 0,
               "no user")
            eq(conn.execute('SELECT count(*) FROM outbox_message WHERE "to" = ?', ("long@example.com",)).fetchone()[0],
               0, "no message")
            eq(conn.execute("SELECT count(*) FROM _crm_signup_tokens").fetchone()[0], 0, "no token")
        r = c.request("POST", API + "/auth/signup", body={"email": "short@example.com", "name": "S",
                                                         "password": PASSWORD}, auth=False)
        eq(r.status, 202, "a short one goes through")
    finally:
        server.stop()


def test_crm_check_names_signup_mistakes(work, smtp):
    base = os.path.join(work, "bad")
    os.makedirs(base)
    metadata = pack(base, smtp.port)
    path = os.path.join(metadata, "app.yaml")
    with open(path) as f:
        lines = [line for line in f if not line.startswith("signup:")]
    lines.append("signup:\n  role: sales_rep\n  template: nowhere\n  url: ftp://x\n  expires_hours: 500\n  colour: red\n")
    with open(path, "w") as f:
        f.writelines(lines)
    n = len(lines)   # the line of "signup:" (the lines before it, then the block)
    p = subprocess.run([crm_binary(), "check", "--metadata", metadata, "--plugins", PLUGINS], cwd=ROOT,
                       capture_output=True, text=True)
    eq(p.returncode, 1, "crm check fails")
    out = p.stderr + p.stdout
    for needle in ("app.yaml:%d:9: error: signup: role 'sales_rep' is for employee users" % (n + 1),
                   "app.yaml:%d:13: error: signup: no template 'nowhere'" % (n + 2),
                   "app.yaml:%d:8: error: 'url' must be an http:// or https:// address" % (n + 3),
                   "app.yaml:%d:18: error: expected an integer from 1 to 168 for 'expires_hours'" % (n + 4),
                   "app.yaml:%d:3: error: unknown key 'colour' in signup" % (n + 5)):
        check(needle in out, "crm check says %r in:\n%s" % (needle, out))


def main():
    runner = Runner()
    work = tempdir("crm-signup-")
    smtp = suite = None
    try:
        smtp = SmtpSink()
        suite = Suite(work, smtp)
        for name in ("the_login_page_can_ask_whether_there_is_a_sign_up",
                     "sign_up_mails_a_link_that_activates_and_signs_in", "zh_sign_up_gets_the_zh_mail",
                     "taken_address_gets_the_same_answer_and_no_mail", "repeat_while_pending_replaces_the_link",
                     "used_expired_and_unknown_tokens_get_one_410", "bad_input_is_refused_and_writes_nothing",
                     "past_the_limit_is_429_with_retry_after"):
            runner.run("signup " + name, getattr(suite, "test_" + name))
        suite.server.stop()
        suite.server = None
        runner.run("signup no_signup_no_routes", test_no_signup_no_routes, work)
        runner.run("signup a_failed_sign_up_leaves_no_user", test_a_failed_sign_up_leaves_no_user, work, smtp)
        runner.run("signup crm_check_names_signup_mistakes", test_crm_check_names_signup_mistakes, work, smtp)
    except Exception as e:
        print("FAIL signup setup: %s" % e)
        runner.failed += 1
        if suite and suite.server:
            print(suite.server.log_tail())
    finally:
        if suite and suite.server:
            suite.server.stop()
        if smtp:
            smtp.stop()
        cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
