"""Shared helpers for the API suites: start and stop a real `crm serve`, talk
HTTP with the standard library only, and count results.

Every test prints "ok NAME" or "FAIL NAME: why"; the suite ends with the line
"N passed, N failed" that tests/run.sh adds up.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
METADATA = os.environ.get("API_METADATA") or os.path.join(ROOT, "tests", "api", "metadata")


def crm_binary():
    crm = os.environ.get("CRM") or os.path.join(ROOT, "build", "crm")
    if not os.path.isabs(crm):
        crm = os.path.join(ROOT, crm)
    return crm


ADMIN_LOGIN = "admin"
ADMIN_PASSWORD = "admin-password-for-tests"
# Headers every Client sends unless told otherwise: the admin's bearer token once logged in.
DEFAULT_HEADERS = {}


def add_user(db, metadata, login, password, role, workdir):
    """`crm user add` before the server starts (the password on standard input)."""
    plugins = os.path.join(workdir, "plugins")
    os.makedirs(plugins, exist_ok=True)
    subprocess.run([crm_binary(), "user", "add", "--login", login, "--role", role, "--db", db,
                    "--metadata", metadata, "--plugins", plugins],
                   input=(password + "\n").encode(), check=True, cwd=ROOT,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def login(port, login_name=ADMIN_LOGIN, password=ADMIN_PASSWORD):
    """Logs in; returns the bearer headers."""
    c = Client(port)
    r = c.request("POST", "/api/v1/session", body={"login": login_name, "password": password}, auth=False)
    c.close()
    if r.status != 201:
        raise RuntimeError("login as %s failed: %r" % (login_name, r))
    return {"Authorization": "Bearer " + r.json["token"]}


class Server:
    """A `crm serve` process on a free loopback port with its own database."""

    def __init__(self, workdir, db=None, extra=None, metadata=METADATA, threads=2, plugins=None):
        self.workdir = workdir
        self.plugins = plugins
        self.db = db or os.path.join(workdir, "test.db")
        self.extra = list(extra or [])
        self.metadata = metadata
        self.threads = threads
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "server.log")

    def start(self, timeout=30, as_admin=True):
        plugins = self.plugins or os.path.join(self.workdir, "plugins")
        os.makedirs(plugins, exist_ok=True)
        if as_admin and not os.path.exists(self.db):
            add_user(self.db, self.metadata, ADMIN_LOGIN, ADMIN_PASSWORD, "admin", self.workdir)
        args = [crm_binary(), "serve", "--db", self.db, "--metadata", self.metadata,
                "--plugins", plugins, "--port", "0", "--threads", str(self.threads)] + self.extra
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=self.log, cwd=ROOT)
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            m = re.search(rb"http://[^ /]+:(\d+)/", line)
            if m:
                self.port = int(m.group(1))
                break
        if not self.port:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not start: %r\n%s" % (line, self.log_tail()))
        if as_admin:
            DEFAULT_HEADERS.clear()
            DEFAULT_HEADERS.update(login(self.port))
        return self

    def log_tail(self, lines=30):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""

    def rss_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, timeout=20):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            code = None
        self.proc.stdout.close()
        self.log.close()
        self.proc = None
        return code

    def kill(self):
        self.proc.kill()
        self.proc.wait()
        self.proc.stdout.close()
        self.log.close()
        self.proc = None


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body
        self._json = None

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    @property
    def json(self):
        if self._json is None and self.body:
            self._json = json.loads(self.body.decode("utf-8"))
        return self._json

    def __repr__(self):
        return "<%d %s>" % (self.status, self.body[:300])


class Client:
    """One keep-alive connection (http.client), reconnecting when the server closes it."""

    def __init__(self, port, host="127.0.0.1", source=None, timeout=60):
        self.port = port
        self.host = host
        self.source = source
        self.timeout = timeout
        self.conn = None

    def _connect(self):
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout,
                                               source_address=(self.source, 0) if self.source else None)

    def request(self, method, path, body=None, headers=None, content_type=None, auth=True):
        headers = dict(DEFAULT_HEADERS if auth else {}, **(headers or {}))
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
            content_type = content_type or "application/json"
        if isinstance(body, str):
            body = body.encode("utf-8")
        if content_type:
            headers["Content-Type"] = content_type
        for attempt in range(2):
            if self.conn is None:
                self._connect()
            try:
                self.conn.request(method, path, body=body, headers=headers)
                r = self.conn.getresponse()
                data = r.read()
                resp = Response(r.status, r.getheaders(), data)
                if (resp.header("Connection") or "").lower() == "close":
                    self.close()
                return resp
            except (ConnectionError, http.client.RemoteDisconnected, http.client.BadStatusLine,
                    BrokenPipeError):
                self.close()
                if attempt == 1:
                    raise
        raise RuntimeError("unreachable")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.request("POST", path, body=body, **kw)

    def patch(self, path, body=None, **kw):
        return self.request("PATCH", path, body=body, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None


def with_auth(data):
    """A raw request with the default (bearer) headers added after its request line."""
    if not DEFAULT_HEADERS or b"\r\nAuthorization:" in data:
        return data
    line, sep, rest = data.partition(b"\r\n")
    if not sep:
        return data
    extra = b"".join(b"%s: %s\r\n" % (k.encode(), v.encode()) for k, v in DEFAULT_HEADERS.items())
    return line + sep + extra + rest


def raw_exchange(port, data, read_timeout=5.0, source=None, chunks=None, stop_on_response=True):
    """Sends raw bytes (with the default bearer header) on a fresh socket; returns the answer."""
    data = with_auth(data)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    if source:
        s.bind((source, 0))
    s.settimeout(read_timeout)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
        for chunk in chunks or []:
            s.sendall(chunk)
    except OSError:
        pass
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
            if stop_on_response and response_complete(out):
                break
    except (socket.timeout, ConnectionResetError):
        pass
    s.close()
    return out


def response_complete(data):
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        return False
    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
    if m:
        return len(body) >= int(m.group(1))
    return False


def parse_raw(data):
    """(status, headers dict lower-case, body bytes) of a raw HTTP response."""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines or not lines[0].startswith(b"HTTP/"):
        return None, {}, body
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode()] = v.strip().decode("latin-1")
    return status, headers, body


class Runner:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.only = os.environ.get("ONLY")

    def run(self, name, fn, *args):
        if self.only and self.only not in name:
            return
        started = time.time()
        try:
            fn(*args)
            self.passed += 1
            print("ok %s (%.1fs)" % (name, time.time() - started), flush=True)
        except Exception as e:  # a failing test must not stop the suite
            self.failed += 1
            detail = "".join(traceback.format_exception_only(type(e), e)).strip()
            print("FAIL %s: %s" % (name, detail), flush=True)
            tb = traceback.extract_tb(e.__traceback__)
            for frame in tb[-3:]:
                print("    at %s:%d %s" % (os.path.basename(frame.filename), frame.lineno, frame.line),
                      flush=True)

    def finish(self):
        print("%d passed, %d failed" % (self.passed, self.failed), flush=True)
        return 0 if self.failed == 0 else 1


def check(cond, message="check failed"):
    if not cond:
        raise AssertionError(message)


def eq(a, b, what=""):
    if a != b:
        raise AssertionError("%s: expected %r, got %r" % (what or "value", b, a))


def problem(resp, status, what=""):
    """Asserts resp is a problem+json with the given status and returns its document."""
    if resp.status != status:
        raise AssertionError("%s: expected status %d, got %d: %s" % (what, status, resp.status,
                                                                     resp.body[:400]))
    ctype = resp.header("Content-Type") if isinstance(resp, Response) else None
    if ctype is not None:
        check(ctype.startswith("application/problem+json"), "%s: content type %r" % (what, ctype))
    doc = json.loads(resp.body.decode("utf-8"))
    eq(doc.get("status"), status, what + " problem status")
    check(doc.get("title"), what + ": problem without a title")
    check(doc.get("type"), what + ": problem without a type")
    return doc


def tempdir(prefix):
    return tempfile.mkdtemp(prefix=prefix)


def cleanup(path):
    if not os.environ.get("KEEP"):
        shutil.rmtree(path, ignore_errors=True)


# ---- a package's stories over a `crm demo` database of the shipped metadata/ and plugins/ ----------

class AsUsers:
    """Requests as the demo users, by login (their bearer headers in h), each checked for its status."""

    API = "/api/v1"

    def __init__(self, port):
        self.c = Client(port)
        self.h = {}

    def log_in(self, logins, password):
        for who in logins:
            self.h[who] = login(self.c.port, who, password)

    def req(self, who, method, path, body=None, headers=None):
        hh = dict(self.h[who])
        hh.update(headers or {})
        return self.c.request(method, self.API + path, body=body, headers=hh, auth=False)

    def created(self, who, obj, values):
        r = self.req(who, "POST", "/objects/%s" % obj, values)
        eq(r.status, 201, "%s creates %s: %s" % (who, obj, r.body[:300]))
        return r.json

    def get(self, who, obj, rid):
        r = self.req(who, "GET", "/objects/%s/%d" % (obj, rid))
        eq(r.status, 200, "%s reads %s %d: %s" % (who, obj, rid, r.body[:300]))
        return r.json

    def patch(self, who, obj, rid, values, status=200):
        r = self.req(who, "PATCH", "/objects/%s/%d" % (obj, rid), values, headers={"If-Match": "*"})
        eq(r.status, status, "%s updates %s %d: %s" % (who, obj, rid, r.body[:300]))
        return r

    def fire(self, who, obj, rid, name, status=200, body=None):
        r = self.req(who, "POST", "/objects/%s/%d/transitions/%s" % (obj, rid, name), body or {})
        eq(r.status, status, "%s fires %s on %s %d: %s" % (who, name, obj, rid, r.body[:400]))
        return r

    def records(self, who, obj, query):
        r = self.req(who, "GET", "/objects/%s?%s" % (obj, query))
        eq(r.status, 200, "list %s?%s: %s" % (obj, query, r.body[:300]))
        return r.json["records"]


def run_on_demo(name, make_suite, tests, records=30, seed=7, extra=None, metadata=None, prepare=None, industry=None):
    """Runs suite.test_setup, then each of tests (ONLY=substring picks some), against a real `crm serve`
    (with the flags in extra) on a fresh `crm demo` database of the shipped metadata/ and plugins/;
    make_suite(server, db). metadata(work) may return another metadata folder (a copy with fixtures);
    prepare(db) runs on the demo database before the server starts (rows the API cannot write);
    industry names app.yaml's industry whose plugins both the demo and the server enable (--industry)."""
    work = tempdir("crm-%s-" % name)
    db = os.path.join(work, "demo.db")
    flags = ["--industry", industry] if industry else []

    def start():
        meta = metadata(work) if metadata else os.path.join(ROOT, "metadata")
        subprocess.run([crm_binary(), "demo", "--db", db, "--records", str(records), "--seed", str(seed),
                        "--metadata", meta, "--plugins", os.path.join(ROOT, "plugins")] + flags,
                       check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if prepare:
            prepare(db)
        return Server(work, db=db, metadata=meta, plugins=os.path.join(ROOT, "plugins"),
                      extra=list(extra or []) + flags).start(as_admin=False)
    return run_served(name, work, start, lambda server: make_suite(server, db), tests)


def run_served(name, work, start, make_suite, tests):
    """The loop of run_on_demo and run_suite: start() returns a started Server; make_suite(server) the suite,
    whose test_setup runs first, then each of tests; the server is stopped and work removed at the end."""
    runner = Runner()
    server = None
    try:
        server = start()
        suite = make_suite(server)
        only, runner.only = runner.only, None
        runner.run("%s setup" % name, suite.test_setup)
        runner.only = only
        for test in tests if runner.failed == 0 else ():
            runner.run("%s %s" % (name, test), getattr(suite, "test_" + test))
    except Exception as e:
        print("FAIL %s setup: %s" % (name, e))
        runner.failed += 1
        if server and server.proc:
            print(server.log_tail())
    finally:
        if server:
            server.stop()
        cleanup(work)
    return runner.finish()


def run_suite(name, metadata, users, make_suite, tests):
    """run_served on a fresh database of metadata with the admin and users ([(login, password, role)]) added
    first; make_suite(server, work)."""
    work = tempdir("crm-%s-" % name)

    def start():
        server = Server(work, metadata=metadata)
        add_user(server.db, metadata, ADMIN_LOGIN, ADMIN_PASSWORD, "admin", work)
        for login_name, password, role in users:
            add_user(server.db, metadata, login_name, password, role, work)
        return server.start()
    return run_served(name, work, start, lambda server: make_suite(server, work), tests)


def plugin_units_pass(plugin, files, industry=None):
    """`crm plugin test PLUGIN` on the shipped plugins/: each of files ran and the last line counts no failure."""
    flag = ["--industry", industry] if industry else []
    run = subprocess.run([crm_binary()] + flag + ["plugin", "test", plugin, "--plugins", os.path.join(ROOT, "plugins")],
                         cwd=ROOT, capture_output=True, check=False)
    text = (run.stdout + run.stderr).decode()
    for name in files:
        check("%s/tests/%s" % (plugin, name) in text, "%s ran: %s" % (name, text[-1500:]))
    last = text.strip().splitlines()[-1] if text.strip() else ""
    check(run.returncode == 0 and last.endswith(" passed, 0 failed") and "FAIL" not in text, text[-3000:])
