"""The outbox over real servers on loopback (see outbox.sh): a real `crm serve` with the repo's
metadata, the templates and workflow extension in tests/api/outbox/ and the test plugin
tests/plugins/outbox_test; an SMTP server (Python's smtpd) and a webhook receiver
(http.server) started here, in this process, and stopped when it ends.

What it checks: an e-mail arrives with its headers and its body (zh too, HTML escaped); a
webhook answering 500 is retried with backoff until delivered, its signature verifies; a
redirect is not followed; a webhook that is down ends dead and an admin's retry queues it
again; nothing is sent for a rolled-back transaction; a workflow notify by e-mail; a server
killed while sending delivers the message after its restart; bad input (header injection,
oversized body, unknown template, bad channel, bad address, unknown or missing vars) is
refused with a clear error and queues nothing; `crm check` names template mistakes by
file:line:column. Waits are polls with a deadline, never timing assertions.
Standard library only.
"""
import calendar
import email
import email.policy
import hashlib
import hmac
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ADMIN_PASSWORD, ROOT, Client, Runner, Server, add_user, check, cleanup,  # noqa: E402
                    crm_binary, eq, login, tempdir)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore  # noqa: E402
    import smtpd  # noqa: E402

API = "/api/v1"
SEND = API + "/plugins/outbox_test/send"
PLUGINS = os.path.join(ROOT, "tests", "plugins") + ":" + os.path.join(ROOT, "plugins")
SECRET = "outbox-test-secret-\u00e9"
ADMIN_EMAIL = "admin@example.com"


# -- the servers on loopback ---------------------------------------------------------------
class SmtpSink(smtpd.SMTPServer):
    """Keeps every message it is given."""

    def __init__(self):
        super().__init__(("127.0.0.1", 0), None, decode_data=False)
        self.port = self.socket.getsockname()[1]
        self.messages = []
        self.stopping = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def loop(self):
        while not self.stopping:
            asyncore.loop(timeout=0.1, count=1)

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.messages.append((mailfrom, rcpttos, data))

    def stop(self):
        self.stopping = True
        self.thread.join(5)
        self.close()

    def find(self, rcpt):
        return [email.message_from_bytes(d, policy=email.policy.default) for f, r, d in self.messages if rcpt in r]


class Hooks(http.server.ThreadingHTTPServer):
    """/ok answers 200; /flaky 500 twice, then 200; /redirect 302 to /ok; /slow waits 4 s the first time."""

    daemon_threads = True

    def __init__(self):
        self.requests = []
        self.counts = {}
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), HookHandler)
        self.port = self.server_address[1]
        self.thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    def stop(self):
        self.shutdown()
        self.server_close()

    def seen(self, delivery):
        with self.lock:
            return [r for r in self.requests if r["delivery"] == str(delivery)]


class HookHandler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_POST(self):
        hooks = self.server
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with hooks.lock:
            n = hooks.counts.get(self.path, 0) + 1
            hooks.counts[self.path] = n
            hooks.requests.append({"path": self.path, "body": body, "time": time.time(),
                                   "signature": self.headers.get("X-CRM-Signature"),
                                   "delivery": self.headers.get("X-CRM-Delivery"),
                                   "type": self.headers.get("Content-Type")})
        if self.path == "/slow" and n == 1:
            time.sleep(4)
        status = 200
        if self.path == "/flaky" and n <= 2:
            status = 500
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1:%d/ok" % hooks.port)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def pack(work, smtp_port, hook_port):
    """The repo's metadata with the suite's templates and an app.yaml pointing at the loopback servers."""
    metadata = os.path.join(work, "metadata")
    shutil.copytree(os.path.join(ROOT, "metadata"), metadata)
    shutil.copy(os.path.join(ROOT, "tests", "api", "outbox", "templates.yaml"),
                os.path.join(metadata, "zz_outbox_templates.yaml"))
    hook = "http://127.0.0.1:%d" % hook_port
    endpoints = {name: {"url": hook + "/" + name, "secret_env": "OUTBOX_TEST_SECRET"}
                 for name in ("ok", "flaky", "redirect", "slow")}
    endpoints["down"] = {"url": "http://127.0.0.1:%d/down" % free_port(), "secret_env": "OUTBOX_TEST_SECRET"}
    config = {"currency": "EUR", "outbox": {
        "smtp_url": "smtp://127.0.0.1:%d" % smtp_port, "from": "CRM 测试 <crm@example.com>",
        "retry_base": 1, "retry_cap": 2, "max_attempts": 3, "poll": 1, "timeout": 10, "webhooks": endpoints}}
    with open(os.path.join(metadata, "app.yaml"), "w") as f:
        f.write("app: crm\nindustry: generic\nlanguages: [en, zh]\nplugins: [outbox_test]\n")
        f.write("config: %s\n" % json.dumps(config))
    return metadata


def crm(args, db, metadata, stdin=None):
    return subprocess.run([crm_binary()] + args + ["--db", db, "--metadata", metadata, "--plugins", PLUGINS],
                          input=stdin, cwd=ROOT, capture_output=True, check=False)


def wait_for(what, fn, timeout=30):
    """Polls fn until it returns a true value (which it returns); fails after timeout seconds."""
    deadline = time.time() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.time() > deadline:
            raise AssertionError("timed out waiting for %s" % what)
        time.sleep(0.2)


class Suite:
    def __init__(self, work, smtp, hooks):
        self.work, self.smtp, self.hooks = work, smtp, hooks
        self.metadata = pack(work, smtp.port, hooks.port)
        self.db = os.path.join(work, "t.db")
        p = crm(["user", "add", "--login", "admin", "--role", "admin", "--email", ADMIN_EMAIL], self.db,
                self.metadata, stdin=(ADMIN_PASSWORD + "\n").encode())
        check(p.returncode == 0, "crm user add: %s" % p.stderr.decode())
        self.server = None
        self.start()

    def start(self):
        os.environ["OUTBOX_TEST_SECRET"] = SECRET
        self.server = Server(self.work, db=self.db, metadata=self.metadata, plugins=PLUGINS).start(as_admin=False)
        self.admin = login(self.server.port, "admin", ADMIN_PASSWORD)
        self.c = Client(self.server.port)

    def req(self, method, path, body=None):
        return self.c.request(method, path, body=body, headers=self.admin, auth=False)

    def send(self, body):
        return self.req("POST", SEND, body)

    def message(self, mid):
        r = self.req("GET", API + "/objects/outbox_message/%d" % mid)
        eq(r.status, 200, "outbox message %d: %s" % (mid, r.body[:200]))
        return r.json

    def settled(self, mid, status):
        return wait_for("message %d to be %s" % (mid, status),
                        lambda: (lambda m: m if m["status"] == status else None)(self.message(mid)))

    def count(self):
        return self.req("GET", API + "/objects/outbox_message?count=true&limit=1").json["total"]

    # -- the tests ---------------------------------------------------------------------
    def test_email_arrives_with_its_headers_and_a_zh_body(self):
        r = self.send({"channel": "email", "to": "wang@example.com", "template": "welcome",
                       "vars": {"name": "王小明", "link": "https://crm.example/a/1", "lang": "zh"}})
        eq(r.status, 201, "crm.send: %s" % r.body[:300])
        mid = r.json["id"]
        m = self.settled(mid, "sent")
        eq(m["attempts"], 1, "one attempt")
        check(m["sent_at"], "sent_at")
        eq(m["last_error"], None, "no error")
        eq(m["subject"], "欢迎，王小明", "the rendered subject is kept")
        mails = self.smtp.find("wang@example.com")
        eq(len(mails), 1, "one e-mail to wang@")
        mail = mails[0]
        eq(str(mail["From"]), "CRM 测试 <crm@example.com>", "From (a zh display name, RFC 2047)")
        eq(mail["From"].addresses[0].addr_spec, "crm@example.com", "the From address")
        eq(mail["To"], "wang@example.com", "To")
        eq(str(mail["Subject"]), "欢迎，王小明", "Subject (RFC 2047)")
        check(mail["Date"] and mail["Date"].datetime, "Date: %r" % mail["Date"])
        eq(mail["Message-ID"], "<outbox-%d@example.com>" % mid, "Message-ID")
        eq(mail.get_content_type(), "text/plain", "content type")
        eq(mail.get_content_charset(), "utf-8", "charset")
        eq(mail.get_content(), "王小明，您好：\n您的账户已开通：https://crm.example/a/1\n", "the zh body")
        raw = [d for f, r, d in self.smtp.messages if "wang@example.com" in r][0]
        head = re.split(rb"\r?\n\r?\n", raw, 1)[0]
        check(all(b < 0x80 for b in head), "headers are ASCII (encoded words): %r" % head[:300])
        check(max(len(line) for line in raw.splitlines()) <= 78, "no line over 78 characters")
        # the same template in English (the app's first language when no lang is given)
        r = self.send({"channel": "email", "to": "ann@example.com", "template": "welcome",
                       "vars": {"name": "Ann", "link": "https://crm.example/a/2"}})
        eq(r.status, 201, "en: %s" % r.body[:300])
        self.settled(r.json["id"], "sent")
        mail = self.smtp.find("ann@example.com")[0]
        eq(str(mail["Subject"]), "Welcome, Ann", "en subject")
        eq(mail.get_content(), "Hello Ann,\nyour account is ready: https://crm.example/a/2\n", "en body")

    def test_html_body_escapes_values_and_reads_the_record(self):
        r = self.req("POST", API + "/objects/lead", {"last_name": "<b>Lee</b>", "company": "A&B \"Co\""})
        eq(r.status, 201, "lead: %s" % r.body[:300])
        lead = r.json["id"]
        r = self.send({"channel": "email", "to": "html@example.com", "template": "lead_card",
                       "vars": {"remark": "<script>alert(1)</script>"}, "record": {"object": "lead", "id": lead}})
        eq(r.status, 201, "crm.send: %s" % r.body[:300])
        m = self.settled(r.json["id"], "sent")
        eq(m["object_name"], "lead", "the record's object")
        eq(m["record_id"], lead, "the record's id")
        mail = self.smtp.find("html@example.com")[0]
        eq(mail.get_content_type(), "text/html", "content type")
        eq(mail.get_content(), "<p>&lt;b&gt;Lee&lt;/b&gt; of A&amp;B &quot;Co&quot;: "
                               "&lt;script&gt;alert(1)&lt;/script&gt;</p>", "escaped HTML body")
        eq(str(mail["Subject"]), "Lead <b>Lee</b>", "a subject is text: not escaped")
        # a record the template is about is required, and must exist
        r = self.send({"channel": "email", "to": "html@example.com", "template": "lead_card", "vars": {"remark": "x"}})
        check(r.status == 400 and "is about a lead record" in r.body.decode(), "no record: %s" % r.body[:300])
        r = self.send({"channel": "email", "to": "html@example.com", "template": "lead_card",
                       "vars": {"remark": "x"}, "record": {"object": "lead", "id": 999999}})
        check(r.status in (400, 404) and r.status != 201, "a missing record: %d %s" % (r.status, r.body[:300]))

    def test_webhook_answering_500_is_retried_with_backoff_and_signed(self):
        r = self.req("POST", API + "/objects/account", {"name": "Hook Co"})
        eq(r.status, 201, "account: %s" % r.body[:300])
        r = self.req("POST", API + "/objects/opportunity", {"name": "Deal \"quoted\"", "account": r.json["id"]})
        eq(r.status, 201, "deal: %s" % r.body[:300])
        deal = r.json["id"]
        r = self.send({"channel": "webhook", "to": "flaky", "template": "deal_event", "vars": {"event": "won"},
                       "record": {"object": "opportunity", "id": deal}})
        eq(r.status, 201, "crm.send: %s" % r.body[:300])
        mid = r.json["id"]
        m = self.settled(mid, "sent")
        eq(m["attempts"], 3, "two failures, then delivered")
        seen = self.hooks.seen(mid)
        eq(len(seen), 3, "three posts")
        bodies = {s["body"] for s in seen}
        eq(len(bodies), 1, "the same body each time")
        body = seen[0]["body"]
        eq(json.loads(body), {"event": "won", "id": deal, "name": "Deal \"quoted\""}, "the JSON body")
        want = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
        for s in seen:
            eq(s["signature"], want, "X-CRM-Signature verifies")
            eq(s["type"], "application/json", "Content-Type")
        # the backoff: each failure set next_attempt_at base * 2^(n-1) seconds (1, then 2: the cap) ahead
        history = self.req("GET", API + "/objects/outbox_message/%d/history" % mid).json["history"]
        failures = sorted((h for h in history if (h.get("changes") or {}).get("_transition", [None, None])[1]
                           == "attempt_failed"), key=lambda h: h["id"])
        eq(len(failures), 2, "two failed attempts in the history")
        eq([h["changes"]["last_error"][1] for h in failures[:1]], ["webhook: HTTP 500"], "why")
        for n, h in enumerate(failures, 1):
            at = calendar.timegm(time.strptime(h["at"], "%Y-%m-%dT%H:%M:%SZ"))
            due = calendar.timegm(time.strptime(h["changes"]["next_attempt_at"][1], "%Y-%m-%dT%H:%M:%SZ"))
            wait = min(2, 2 ** (n - 1))   # retry_base 1, retry_cap 2
            check(wait - 1 <= due - at <= wait, "failure %d: next attempt %ds after it, expected %d" % (
                n, due - at, wait))
            eq(h["changes"]["attempts"][1], n, "attempts after failure %d" % n)
        check(seen[1]["time"] >= seen[0]["time"] and seen[2]["time"] >= seen[1]["time"], "in order")

    def test_redirect_is_not_followed(self):
        r = self.send({"channel": "webhook", "to": "redirect", "template": "deal_event", "vars": {"event": "x"},
                       "record": {"object": "opportunity", "id": self.any_deal()}})
        eq(r.status, 201, "crm.send: %s" % r.body[:300])
        mid = r.json["id"]
        m = self.settled(mid, "dead")
        check("HTTP 302" in (m["last_error"] or ""), "last_error: %r" % m["last_error"])
        eq([s["path"] for s in self.hooks.seen(mid)], ["/redirect"] * 3, "never the redirect's target")

    def any_deal(self):
        records = self.req("GET", API + "/objects/opportunity?limit=1").json["records"]
        if records:
            return records[0]["id"]
        account = self.req("POST", API + "/objects/account", {"name": "Deal Co"}).json["id"]
        return self.req("POST", API + "/objects/opportunity", {"name": "A deal", "account": account}).json["id"]

    def test_webhook_that_is_down_goes_dead_and_an_admin_retries_it(self):
        r = self.send({"channel": "webhook", "to": "down", "template": "deal_event", "vars": {"event": "x"},
                       "record": {"object": "opportunity", "id": self.any_deal()}})
        eq(r.status, 201, "crm.send: %s" % r.body[:300])
        mid = r.json["id"]
        m = self.settled(mid, "dead")
        eq(m["attempts"], 3, "max_attempts")
        check("connect" in (m["last_error"] or "").lower(), "last_error: %r" % m["last_error"])
        r = self.req("POST", API + "/objects/outbox_message/%d/transitions/retry" % mid)
        eq(r.status, 200, "retry: %s" % r.body[:300])
        eq(r.json["record"]["status"], "queued", "queued again")
        eq(r.json["record"]["attempts"], 0, "attempts start over")
        self.settled(mid, "dead")

    def test_nothing_is_sent_for_a_rolled_back_transaction(self):
        before = self.count()
        r = self.req("POST", API + "/objects/account", {"name": "rollback me"})
        check(400 <= r.status < 500, "the hook refuses: %d %s" % (r.status, r.body[:300]))
        check("refused after queueing" in r.body.decode(), r.body[:300])
        eq(self.count(), before, "no message left by the rolled-back create")
        r = self.req("POST", API + "/objects/account", {"name": "mail me"})
        eq(r.status, 201, "the same hook, committed: %s" % r.body[:300])
        eq(self.count(), before + 1, "one message, in the create's transaction")
        mid = self.req("GET", API + "/objects/outbox_message?sort=-id&limit=1").json["records"][0]["id"]
        self.settled(mid, "sent")
        names = [str(m["Subject"]) for m in self.smtp.find("owner@example.com")]
        eq(names, ["Welcome, mail me"], "only the committed create's e-mail went out")

    def test_workflow_notify_by_email(self):
        r = self.req("POST", API + "/objects/account", {"name": "Notify Co"})
        r = self.req("POST", API + "/objects/opportunity", {"name": "Notify deal", "account": r.json["id"]})
        eq(r.status, 201, "deal: %s" % r.body[:300])
        deal = r.json["id"]
        r = self.req("POST", API + "/objects/opportunity/%d/transitions/qualify" % deal)
        eq(r.status, 200, "qualify: %s" % r.body[:300])
        mails = wait_for("the notify e-mail", lambda: [m for m in self.smtp.find(ADMIN_EMAIL)
                                                       if str(m["Subject"]) == "Qualified: Notify deal"])
        eq(mails[0].get_content().strip(), "The deal Notify deal is now qualification.", "the body reads the record")

    def test_bad_input_is_refused_and_queues_nothing(self):
        before = self.count()
        welcome = {"name": "x", "link": "y"}
        cases = [
            ({"channel": "email", "to": "a@example.com\r\nBcc: evil@example.com", "template": "welcome",
              "vars": welcome}, "line break"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome",
              "vars": {"name": "x\r\nBcc: evil@example.com", "link": "y"}}, "header injection"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome",
              "vars": {"name": "x", "link": "y" * 300000}}, "over the outbox"),
            ({"channel": "email", "to": "a@example.com", "template": "nope", "vars": welcome}, "no template 'nope'"),
            ({"channel": "sms", "to": "a@example.com", "template": "welcome", "vars": welcome}, "bad channel 'sms'"),
            ({"channel": "email", "to": "not-an-address", "template": "welcome", "vars": welcome},
             "is not one e-mail address"),
            ({"channel": "email", "to": "a@example.com, b@example.com", "template": "welcome", "vars": welcome},
             "is not one e-mail address"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome",
              "vars": {"name": "x", "link": "y", "extra": 1}}, "has no var 'extra'"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome", "vars": {"name": "x"}},
             "needs var 'link'"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome",
              "vars": {"name": {"x": 1}, "link": "y"}}, "must be a text"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome",
              "vars": {"name": "x", "link": "y", "lang": "fr"}}, "lang must be"),
            ({"channel": "webhook", "to": "nowhere", "template": "deal_event", "vars": {"event": "x"},
              "record": {"object": "opportunity", "id": self.any_deal()}}, "no webhook endpoint 'nowhere'"),
            ({"channel": "webhook", "to": "ok", "template": "welcome", "vars": welcome}, "is for email, not webhook"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome", "vars": welcome,
              "record": {"object": "lead"}}, "the record must be"),
            ({"channel": "email", "to": "a@example.com", "template": "welcome", "vars": welcome,
              "record": {"object": 5, "id": 1}}, "the record must be"),
        ]
        for body, words in cases:
            r = self.send(body)
            text = r.body.decode("utf-8", "replace")
            check(400 <= r.status < 500, "%s: expected a 4xx, got %d %s" % (words, r.status, text[:300]))
            check(words in text, "%r not in %s" % (words, text[:300]))
        eq(self.count(), before, "nothing queued")
        # under max_body (256 KiB here, the default) a long body is queued and delivered whole
        link = "https://crm.example/" + "x" * 200000
        r = self.send({"channel": "email", "to": "long@example.com", "template": "welcome",
                       "vars": {"name": "Long", "link": link}})
        eq(r.status, 201, "a 200 KB body: %s" % r.body[:300])
        self.settled(r.json["id"], "sent")
        check(link in self.smtp.find("long@example.com")[0].get_content(), "the whole body arrived")

    def test_a_server_killed_while_sending_delivers_after_its_restart(self):
        r = self.send({"channel": "webhook", "to": "slow", "template": "deal_event", "vars": {"event": "crash"},
                       "record": {"object": "opportunity", "id": self.any_deal()}})
        eq(r.status, 201, "crm.send: %s" % r.body[:300])
        mid = r.json["id"]
        self.settled(mid, "sending")
        wait_for("the first post", lambda: self.hooks.seen(mid))
        self.server.proc.send_signal(signal.SIGKILL)
        self.server.proc.wait()
        self.start()
        m = self.settled(mid, "sent")
        eq(len(self.hooks.seen(mid)), 2, "posted again after the restart (at least once)")
        check("went back to the queue" in self.server.log_tail(), "the restart says so")
        eq(m["status"], "sent", "sent")

    def test_crm_outbox_run_makes_one_pass(self):
        eq(self.server.stop(), 0, "the server stops")
        self.server = None
        p = crm(["outbox", "run"], self.db, self.metadata)
        eq(p.returncode, 0, "exit code: %s" % p.stderr.decode())
        check(re.match(rb"outbox: \d+ sent, \d+ failed \(will retry\), \d+ dead, \d+ requeued\n", p.stdout),
              p.stdout)
        p = crm(["outbox", "flush"], self.db, self.metadata)
        eq(p.returncode, 2, "an unknown action")


def check_finds(metadata, patterns):
    """`crm check` fails and prints a line matching each pattern."""
    p = subprocess.run([crm_binary(), "check", "--metadata", metadata, "--plugins", os.path.join(ROOT, "plugins")],
                       cwd=ROOT, capture_output=True, check=False)
    out = p.stdout.decode() + p.stderr.decode()
    eq(p.returncode, 1, "crm check fails: %s" % out[-500:])
    for want in patterns:
        check(re.search(want, out), "missing %r in:\n%s" % (want, out[-1500:]))


def test_crm_check_names_template_mistakes(work):
    metadata = os.path.join(work, "bad-metadata")
    shutil.copytree(os.path.join(ROOT, "metadata"), metadata)
    path = os.path.join(metadata, "zz_bad.yaml")
    with open(path, "w") as f:
        f.write("template: t1\nchannel: email\nvars: [a]\nsubject: \"Hi {{a}}\"\n"
                "body: { en: \"{{a}} {{nope}}\", zh: \"{{a}} {{  }}\" }\n"
                "---\ntemplate: t2\nchannel: sms\nbody: x\n"
                "---\ntemplate: t3\nchannel: webhook\nformat: html\nbody: \"{}\"\n"
                "---\ntemplate: t4\nchannel: email\nbody: x\n"
                "---\ntemplate: t5\nchannel: email\nobject: nothing\nsubject: s\nbody: \"{{x\"\n"
                "---\ntemplate: t6\nchannel: email\nsubject: s\nbody: b\ncolour: red\n"
                "---\nworkflow: case_flow\nextend: true\ntransitions:\n"
                "  - { name: open, extend: true, do: [{ notify: owner, channel: email, template: t404 }] }\n"
                "  - { name: close, extend: true, do: [{ notify: owner, channel: fax }] }\n")
    check_finds(metadata, [r"zz_bad.yaml:5:7: error: template 't1': body \(en\) names '\{\{nope\}\}', which is no var",
                 r"zz_bad.yaml:5:7: error: template 't1': body \(zh\) names '\{\{  \}\}'",
                 r"zz_bad.yaml:8:10: error: expected email or webhook for 'channel', not 'sms'",
                 r"zz_bad.yaml:\d+:1: error: webhook template 't3': a webhook posts JSON",
                 r"zz_bad.yaml:\d+:1: error: e-mail template 't4' needs a 'subject'",
                 r"zz_bad.yaml:\d+:9: error: template 't5': no object 'nothing'",
                 r"zz_bad.yaml:\d+:7: error: template 't5': body \(en\) has a '\{\{' with no '\}\}'",
                 r"zz_bad.yaml:\d+:1: error: unknown key 'colour'",
                 r"zz_bad.yaml:\d+:\d+: error: notify: no template 't404'",
                 r"zz_bad.yaml:\d+:\d+: error: expected app or email for 'channel', not 'fax'"])
    # config.outbox in app.yaml, checked where it is written
    os.remove(path)
    with open(os.path.join(metadata, "app.yaml"), "w") as f:
        f.write("app: crm\nlanguages: [en, zh]\nplugins: [sales, vin, lead2cash]\nconfig:\n  outbox:\n"
                "    smtp_url: \"ftp://mail.example.com\"\n    retries: 3\n    max_attempts: 0\n"
                "    from: \"a\\r\\nBcc: x@example.com\"\n"
                "    webhooks:\n      erp: { url: \"file:///etc/passwd\", secret_env: S }\n      crm: { url: x }\n")
    check_finds(metadata, [r"app.yaml:6:15: error: 'smtp_url' must start with smtp:// or smtps:// and hold no line break",
                 r"app.yaml:7:5: error: unknown key 'retries'",
                 r"app.yaml:8:19: error: 'max_attempts' must be a whole number from 1 to 100",
                 r"app.yaml:9:11: error: 'from' must be a text and hold no line break",
                 r"app.yaml:11:19: error: 'url' must start with https:// or http://",
                 r"app.yaml:12:12: error: webhook 'crm' needs \{ url, secret_env \}"])


def main():
    runner = Runner()
    work = tempdir("crm-outbox-")
    smtp = hooks = suite = None
    try:
        smtp = SmtpSink()
        hooks = Hooks()
        suite = Suite(work, smtp, hooks)
        for name in ("email_arrives_with_its_headers_and_a_zh_body",
                     "html_body_escapes_values_and_reads_the_record",
                     "webhook_answering_500_is_retried_with_backoff_and_signed", "redirect_is_not_followed",
                     "webhook_that_is_down_goes_dead_and_an_admin_retries_it",
                     "nothing_is_sent_for_a_rolled_back_transaction", "workflow_notify_by_email",
                     "bad_input_is_refused_and_queues_nothing",
                     "a_server_killed_while_sending_delivers_after_its_restart", "crm_outbox_run_makes_one_pass"):
            runner.run("outbox " + name, getattr(suite, "test_" + name))
        runner.run("outbox crm_check_names_template_mistakes", test_crm_check_names_template_mistakes, work)
    except Exception as e:
        print("FAIL outbox setup: %s" % e)
        runner.failed += 1
        if suite and suite.server:
            print(suite.server.log_tail())
    finally:
        if suite and suite.server:
            suite.server.stop()
        if smtp:
            smtp.stop()
        if hooks:
            hooks.stop()
        cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
