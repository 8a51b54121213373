"""Online backup and restore (RELIABILITY.md row 5), against a real `crm serve`.

Clients create companies, update their city (If-Match) and create things under
them (each thing moves its company's rollup in the same transaction) and
remember when each write was acknowledged. `crm backup` runs during the load.
The backup is then checked against the source at the backup's snapshot: the
snapshot point is the copy's last audit row M (every write has its audit row
in its own transaction), so
  - the copy's audit trail is exactly the source's rows up to M;
  - the copy holds exactly the records whose create row is at or before M,
    each as the audit trail up to M rebuilds it (city, version), every field
    equal to the source's where no later audit row touched the record;
  - every write acknowledged before the backup started is in it;
  - no half request: each record has its create row, each company's rollup
    equals the sum of its things in the copy, autonumbers are unique.
Then `crm restore` into a fresh path and `crm serve` on it answers the same.
Bad input: refusals name the file and change nothing; restore is refused while
a server holds the database; a second server on one database is refused.
The scheduled backup (config.backup) writes files with retention, and a backup
that cannot be written leaves no partial file and the server serving.
"""
import hashlib
import os
import random
import re
import shutil
import sqlite3
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, METADATA, Client, Runner, Server, check, cleanup, crm_binary, eq,  # noqa: E402
                    tempdir)

API = "/api/v1"


def crm(*args, stdin=None):
    p = subprocess.run([crm_binary()] + list(args), cwd=ROOT, input=stdin, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=300)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def digest(path):
    h = hashlib.sha256()
    for suffix in ("", "-wal"):
        if os.path.exists(path + suffix):
            with open(path + suffix, "rb") as f:
                h.update(f.read())
    return h.hexdigest()


class Company:
    def __init__(self, rid, name, city, version, acked_at):
        self.id, self.name, self.version = rid, name, version
        self.created_city = city
        self.acked = [(acked_at, version, city)]     # (monotonic time, version, city) per acknowledged write


class Writer(threading.Thread):
    def __init__(self, port, seed, tag, companies, things, lock):
        super().__init__()
        self.client = Client(port, timeout=30)
        self.rng = random.Random(seed)
        self.tag = tag
        self.companies, self.things, self.lock = companies, things, lock
        self.mine = []
        self.stop = threading.Event()
        self.errors = []

    def run(self):
        while not self.stop.is_set():
            roll = self.rng.random()
            if not self.mine or roll < 0.35:
                name = "%s-%d" % (self.tag, self.rng.getrandbits(40))
                city = "c%d" % self.rng.getrandbits(20)
                r = self.client.post(API + "/objects/company", {"name": name, "city": city})
                if r.status != 201:
                    self.errors.append("create company %d %s" % (r.status, r.body[:200]))
                    continue
                c = Company(r.json["id"], name, city, r.json["version"], time.monotonic())
                with self.lock:
                    self.companies[c.id] = c
                self.mine.append(c)
            elif roll < 0.75:
                c = self.rng.choice(self.mine)
                city = "u%d" % self.rng.getrandbits(30)
                r = self.client.patch("%s/objects/company/%d" % (API, c.id), {"city": city},
                                      headers={"If-Match": '"%d"' % c.version})
                if r.status != 200:
                    self.errors.append("update %d %s" % (r.status, r.body[:200]))
                    continue
                c.version = r.json["version"]
                c.acked.append((time.monotonic(), c.version, city))
            else:
                c = self.rng.choice(self.mine)
                amount = self.rng.randint(1, 1000)
                r = self.client.post(API + "/objects/thing", {"title": "t-%s" % self.tag, "company": c.id,
                                                               "amount": amount, "quantity": 1})
                if r.status != 201:
                    self.errors.append("create thing %d %s" % (r.status, r.body[:200]))
                    continue
                with self.lock:
                    self.things[r.json["id"]] = (c.id, amount, time.monotonic())
        self.client.close()


def rows(db, sql, params=()):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def columns(db, table):
    return [r[1] for r in rows(db, "PRAGMA table_info(%s)" % table)]


class Suite:
    def __init__(self, work):
        self.work = work
        self.db = os.path.join(work, "live.db")
        self.backup = os.path.join(work, "snap.db")
        self.companies, self.things = {}, {}
        self.lock = threading.Lock()
        self.server = None
        self.audit_id = None
        self.backup_started = None

    # --- row 5 -----------------------------------------------------------
    def test_backup_under_load(self):
        self.server = Server(self.work, db=self.db, threads=4).start()
        writers = [Writer(self.server.port, 1000 + i, "w%d" % i, self.companies, self.things, self.lock)
                   for i in range(4)]
        for w in writers:
            w.start()
        time.sleep(1.5)
        self.backup_started = time.monotonic()
        code, out, err = crm("backup", self.backup, "--db", self.db)
        backup_done = time.monotonic()
        time.sleep(0.5)
        for w in writers:
            w.stop.set()
        for w in writers:
            w.join(30)
        for w in writers:
            eq(w.errors, [], "writer %s errors" % w.tag)
        eq(code, 0, "crm backup exit code: %s" % err)
        m = re.search(r"backup (\S+): (\d+) bytes, (\d+) pages, ([\d.]+) s, last audit row (\d+)", out)
        check(m, "crm backup prints size, pages, time: %r" % out)
        self.audit_id = int(m.group(5))
        writes_before = sum(1 for c in self.companies.values() for a in c.acked if a[0] < self.backup_started)
        writes_after = sum(1 for c in self.companies.values() for a in c.acked if a[0] > backup_done)
        print("    %d companies, %d things; %d company writes acknowledged before the backup, %d after it; "
              "backup %s bytes in %s s" % (len(self.companies), len(self.things), writes_before, writes_after,
                                            m.group(2), m.group(4)), flush=True)
        check(writes_before > 20 and writes_after > 5, "the load ran before and after the backup")
        check(not os.path.exists(self.backup + ".tmp"), "no FILE.tmp left")

    def test_backup_verifies(self):
        code, out, err = crm("backup", "--verify", self.backup)
        eq(code, 0, "crm backup --verify: %s" % err)
        check("integrity_check ok" in out, out)
        eq(rows(self.backup, "PRAGMA integrity_check"), [("ok",)], "integrity_check of the copy")
        eq(rows(self.backup, "PRAGMA journal_mode"), [("delete",)], "the copy is one self-contained file")

    def test_acknowledged_before_backup_present(self):
        missing, stale = [], []
        got = {r[0]: r[1:] for r in rows(self.backup, "SELECT id, name, city, version FROM company")}
        for c in self.companies.values():
            before = [a for a in c.acked if a[0] < self.backup_started]
            if not before:
                continue
            if c.id not in got:
                missing.append(c.id)
                continue
            name, city, version = got[c.id]
            eq(name, c.name, "company %d name" % c.id)
            last = before[-1]
            if version < last[1] or (version == last[1] and city != last[2]):
                stale.append((c.id, last, (version, city)))
        things = {r[0] for r in rows(self.backup, "SELECT id FROM thing")}
        missing += ["thing %d" % t for t, (_, _, at) in self.things.items() if at < self.backup_started and t not in things]
        eq(missing, [], "records acknowledged before the backup started, missing from it")
        eq(stale, [], "updates acknowledged before the backup started, missing from it")

    def source_stopped(self):
        if self.server:
            eq(self.server.stop(), 0, "the source server stops cleanly")
            self.server = None

    def test_copy_equals_source_at_snapshot(self):
        self.source_stopped()
        M = self.audit_id
        audit_cols = "id, at, user_id, request_id, object, record_id, action, changes"
        src_audit = rows(self.db, "SELECT %s FROM _crm_audit WHERE id <= ? ORDER BY id" % audit_cols, (M,))
        copy_audit = rows(self.backup, "SELECT %s FROM _crm_audit ORDER BY id" % audit_cols)
        check(src_audit == copy_audit, "the copy's audit trail is the source's up to row %d (%d vs %d rows)"
              % (M, len(src_audit), len(copy_audit)))
        check(rows(self.db, "SELECT count(*) FROM _crm_audit WHERE id > ?", (M,))[0][0] > 0,
              "the source moved on after the snapshot (else the comparison proves little)")
        import json
        for obj in ("company", "thing"):
            created = {r[0] for r in rows(self.db, "SELECT record_id FROM _crm_audit WHERE object = ? AND "
                                                   "action = 'create' AND id <= ?", (obj, M))}
            present = {r[0] for r in rows(self.backup, "SELECT id FROM %s" % obj)}
            eq(present, created, "%s records in the copy = those created up to the snapshot" % obj)
        # each company as the audit trail up to M rebuilds it
        wrong = []
        copy_rows = {r[0]: r for r in rows(self.backup, "SELECT id, city, version FROM company")}
        for c in self.companies.values():
            if c.id not in copy_rows:
                continue
            updates = rows(self.db, "SELECT changes FROM _crm_audit WHERE object = 'company' AND record_id = ? "
                                    "AND action = 'update' AND id <= ? ORDER BY id", (c.id, M))
            city = c.created_city
            for (changes,) in updates:
                city = json.loads(changes).get("city", [None, city])[1]
            want = (c.id, city, 1 + len(updates))
            if copy_rows[c.id] != want:
                wrong.append((want, copy_rows[c.id]))
        eq(wrong, [], "companies (id, city, version) = the audit trail replayed up to the snapshot")
        # records no audit row after M touched are identical to the source's, every column but rollups
        for obj, skip in (("company", {"thing_total", "thing_count"}), ("thing", set())):
            cols = ", ".join('"%s"' % c for c in columns(self.backup, obj) if c not in skip)
            touched = {r[0] for r in rows(self.db, "SELECT record_id FROM _crm_audit WHERE object = ? AND id > ?",
                                          (obj, M))}
            src = [r for r in rows(self.db, "SELECT %s FROM %s ORDER BY id" % (cols, obj)) if r[0] not in touched]
            cp = [r for r in rows(self.backup, "SELECT %s FROM %s ORDER BY id" % (cols, obj)) if r[0] not in touched]
            diff = [(x, y) for x, y in zip(src, cp) if x != y][:3]
            check(len(cp) > 10, "%s: enough untouched records to compare" % obj)
            check(src == cp, "%s rows untouched since the snapshot equal the source's (%d vs %d rows; %r)"
                  % (obj, len(src), len(cp), diff))

    def test_no_half_request(self):
        orphans = rows(self.backup, "SELECT 'company', id FROM company WHERE id NOT IN (SELECT record_id FROM "
                                    "_crm_audit WHERE object = 'company' AND action = 'create') UNION ALL "
                                    "SELECT 'thing', id FROM thing WHERE id NOT IN (SELECT record_id FROM "
                                    "_crm_audit WHERE object = 'thing' AND action = 'create')")
        eq(orphans, [], "records without their create audit row")
        bad = rows(self.backup, "SELECT c.id, c.thing_total, (SELECT total(amount) FROM thing t WHERE t.company = c.id "
                                "AND t.deleted_at IS NULL) s FROM company c WHERE coalesce(c.thing_total, 0) != s")
        eq(bad, [], "companies whose rollup disagrees with their things in the copy")
        eq(rows(self.backup, "SELECT number, count(*) FROM thing GROUP BY number HAVING count(*) > 1"), [],
           "autonumbers given twice")

    def test_restore_fresh_and_serve(self):
        fresh = os.path.join(self.work, "fresh", "restored.db")
        os.makedirs(os.path.dirname(fresh))
        code, out, err = crm("restore", self.backup, "--db", fresh)
        eq(code, 0, "crm restore into a fresh path: %s" % err)
        check(not os.path.exists(fresh + ".before-restore"), "nothing left as .before-restore")
        server = Server(self.work, db=fresh).start()
        try:
            c = Client(server.port)
            sample = sorted(self.companies.values(), key=lambda x: x.id)[:20]
            copy_rows = {r[0]: r for r in rows(self.backup, "SELECT id, name, city, version FROM company")}
            for co in sample:
                if co.id not in copy_rows:
                    continue
                r = c.get("%s/objects/company/%d" % (API, co.id))
                eq(r.status, 200, "restored company %d" % co.id)
                eq((r.json["id"], r.json["name"], r.json["city"], r.json["version"]), copy_rows[co.id],
                   "restored company %d through the API" % co.id)
            r = c.post(API + "/objects/company", {"name": "after restore"})
            eq(r.status, 201, "the restored instance takes writes: %s" % r.body[:200])
            check(r.json["id"] > max(copy_rows), "new ids continue after the restored ones")
            c.close()
        finally:
            eq(server.stop(), 0, "restored server stops")
        eq(rows(fresh, "PRAGMA integrity_check"), [("ok",)], "integrity_check of the restored database")

    # --- refusals ---------------------------------------------------------
    def test_restore_refused_while_served(self):
        server = Server(self.work, db=self.db).start()
        try:
            before = sorted(os.listdir(self.work))
            code, out, err = crm("restore", self.backup, "--db", self.db)
            eq(code, 3, "restore while served: exit 3 (%s)" % err)
            check("in use" in err and self.db in err, "the message names the database: %r" % err)
            eq(sorted(os.listdir(self.work)), before, "no file created or moved")
            second = Server(self.work, db=self.db)
            try:
                second.start(timeout=10, as_admin=False)
                second.stop()
                check(False, "a second server on the same database started")
            except RuntimeError:
                check("in use" in second.log_tail(3), "second server's message: %r" % second.log_tail(3))
            r = Client(server.port).get(API + "/objects/company?limit=1")
            eq(r.status, 200, "the first server still serves")
        finally:
            eq(server.stop(), 0, "server stops")

    def test_restore_over_stopped_instance(self):
        target = os.path.join(self.work, "target.db")
        shutil.copy(self.db, target)
        with open(target + ".before-restore", "wb") as f:
            f.write(b"left by an interrupted restore")
        code, out, err = crm("restore", self.backup, "--db", target)
        eq(code, 1, "restore with a stale .before-restore: %s" % err)
        check(target + ".before-restore" in err, "the message names it: %r" % err)
        os.unlink(target + ".before-restore")
        with open(target + "-wal", "wb") as f:
            f.write(b"")     # a (stale) WAL beside the old database goes with it
        code, out, err = crm("restore", self.backup, "--db", target)
        eq(code, 0, "restore over a stopped instance: %s" % err)
        eq(rows(target, "SELECT max(id) FROM _crm_audit"), [(self.audit_id,)], "the restored audit trail")
        leftovers = [n for n in os.listdir(self.work) if n.startswith("target.db.") and n != "target.db.lock"]
        eq(leftovers, [], "no .before-restore or .restore-tmp left after a complete restore")
        check(not os.path.exists(target + "-wal") or os.path.getsize(target + "-wal") == 0, "no stale WAL")

    def test_bad_backup_files_refused(self):
        target = os.path.join(self.work, "victim.db")
        shutil.copy(self.backup, target)
        want = digest(target)
        bad = os.path.join(self.work, "bad")
        os.makedirs(bad)
        cases = {}
        for name, data in (("empty.db", b""), ("junk.db", b"hello, not a database\n" * 50),
                           ("header-only.db", b"SQLite format 3\0" + b"\xff" * 84),
                           ("huge-junk.db", os.urandom(3 << 20))):
            path = os.path.join(bad, name)
            with open(path, "wb") as f:
                f.write(data)
            cases[name] = path
        with open(self.backup, "rb") as f:
            whole = f.read()
        trunc = os.path.join(bad, "truncated.db")
        with open(trunc, "wb") as f:
            f.write(whole[:len(whole) // 2])
        cases["truncated.db"] = trunc
        flipped = bytearray(whole)
        for i in range(len(flipped) // 2, len(flipped) // 2 + 4096 * 8, 97):
            flipped[i] ^= 0x5a
        path = os.path.join(bad, "corrupt.db")
        with open(path, "wb") as f:
            f.write(flipped)
        cases["corrupt.db"] = path
        foreign = os.path.join(bad, "foreign.db")
        con = sqlite3.connect(foreign)
        con.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
        con.commit()
        con.close()
        cases["foreign.db"] = foreign
        cases["directory"] = bad
        cases["missing.db"] = os.path.join(bad, "missing.db")
        for name, path in cases.items():
            for args in (("restore", path, "--db", target), ("backup", "--verify", path),
                         ("restore", "--verify", path, "--db", target)):
                code, out, err = crm(*args)
                eq(code, 1, "%s %s: exit 1 (%s)" % (args[0], name, err.strip()))
                check(path in err, "%s %s: the message names the file: %r" % (args[0], name, err))
                check("Traceback" not in err and "Sanitizer" not in err, err)
            eq(digest(target), want, "the database is unchanged after refusing %s" % name)
        code, out, err = crm("restore", target, "--db", target)
        eq(code, 1, "restore onto itself refused: %s" % err)
        eq(digest(target), want, "unchanged after refusing a restore onto itself")

    def test_backup_refusals(self):
        code, out, err = crm("backup", self.backup, "--db", self.db)
        eq(code, 1, "an existing FILE without --force")
        check(self.backup in err and "--force" in err, err)
        want = digest(self.backup)
        eq(digest(self.backup), want, "the existing FILE untouched")
        code, out, err = crm("backup", self.backup, "--db", self.db, "--force")
        eq(code, 0, "--force replaces it: %s" % err)
        nodir = os.path.join(self.work, "no-such-dir", "x.db")
        code, out, err = crm("backup", nodir, "--db", self.db)
        eq(code, 1, "a FILE in a missing directory")
        check(nodir in err, err)
        code, out, err = crm("backup", os.path.join(self.work, "y.db"), "--db", os.path.join(self.work, "none.db"))
        eq(code, 1, "no database")
        check("none.db" in err, err)
        check(not os.path.exists(os.path.join(self.work, "none.db")), "backup creates no database")
        stale = os.path.join(self.work, "z.db")
        with open(stale + ".tmp", "wb") as f:
            f.write(b"partial")
        code, out, err = crm("backup", stale, "--db", self.db)
        eq(code, 1, "a FILE.tmp in the way")
        check(stale + ".tmp" in err, err)
        code, out, err = crm("backup", stale, "--db", self.db, "--force")
        eq(code, 0, "--force clears a stale FILE.tmp: %s" % err)
        check(not os.path.exists(stale + ".tmp"), "no FILE.tmp after the backup")
        code, out, err = crm("backup", "--db", self.db)
        eq(code, 2, "no FILE: usage error")
        long_name = os.path.join(self.work, "n" * 5000 + ".db")
        code, out, err = crm("backup", long_name, "--db", self.db)
        eq(code, 1, "an oversized FILE name: %s" % err[:100])

    # --- scheduled backup (config.backup) -------------------------------
    def scheduled_metadata(self, name, backup):
        meta = os.path.join(self.work, name)
        shutil.copytree(METADATA, meta)
        with open(os.path.join(meta, "app.yaml")) as f:
            text = f.read()
        text = re.sub(r"^config: \{\}$", "config:\n  backup: %s" % backup, text, flags=re.M)
        with open(os.path.join(meta, "app.yaml"), "w") as f:
            f.write(text)
        return meta

    def test_scheduled_backup_with_retention(self):
        out_dir = os.path.join(self.work, "backups")
        meta = self.scheduled_metadata("meta-backup", "{ every: 1s, dir: %s, keep: 2 }" % out_dir)
        db = os.path.join(self.work, "sched.db")
        server = Server(self.work, db=db, metadata=meta).start()
        try:
            c = Client(server.port)
            deadline = time.time() + 20
            made = set()
            while time.time() < deadline:
                eq(c.post(API + "/objects/company", {"name": "s"}).status, 201, "writes while scheduled backups run")
                if os.path.isdir(out_dir):
                    made |= {n for n in os.listdir(out_dir) if n.endswith(".db")}
                if len(made) >= 4:
                    break
                time.sleep(0.2)
            check(len(made) >= 4, "scheduled backups written: %r" % sorted(made))
            time.sleep(1.5)
        finally:
            eq(server.stop(), 0, "server stops")
        names = sorted(os.listdir(out_dir))
        files = [n for n in names if n.endswith(".db")]
        check(all(re.fullmatch(r"crm-\d{8}-\d{6}\.db", n) for n in files), "file names: %r" % names)
        check(1 <= len(files) <= 2, "keep: 2 keeps the newest two: %r" % names)
        eq([n for n in names if not n.endswith(".db")], [], "no partial files")
        for n in files:
            code, out, err = crm("backup", "--verify", os.path.join(out_dir, n))
            eq(code, 0, "scheduled backup %s verifies: %s" % (n, err))
        check("backup" in server.log_tail(50), "backups are logged")

    def test_scheduled_backup_failure_keeps_serving(self):
        blocker = os.path.join(self.work, "not-a-dir")
        with open(blocker, "w") as f:
            f.write("a file where the backup directory should be")
        meta = self.scheduled_metadata("meta-fail", "{ every: 1s, dir: %s/sub, keep: 3 }" % blocker)
        db = os.path.join(self.work, "sched-fail.db")
        server = Server(self.work, db=db, metadata=meta).start()
        try:
            c = Client(server.port)
            for i in range(15):
                eq(c.post(API + "/objects/company", {"name": "f%d" % i}).status, 201, "serving while backups fail")
                time.sleep(0.2)
            check("backup failed" in server.log_tail(50), "the failure is logged: %r" % server.log_tail(5))
        finally:
            eq(server.stop(), 0, "server stops")

    def test_scheduled_backup_config_errors(self):
        for backup, words in (("{ every: soon, dir: x }", "every"), ("{ every: 1d, keep: 0 }", "keep"),
                              ("{ every: 1d, at: \"25:00\" }", "at"), ("{ every: 1h, at: \"02:00\" }", "at"),
                              ("{ every: 1d, dir: 7 }", "dir"), ("{ every: 1d, often: true }", "often"),
                              ("nightly", "backup"), ("{ keep: 3 }", "every")):
            meta = self.scheduled_metadata("meta-bad-%d" % abs(hash(backup)), backup)
            code, out, err = crm("check", "--metadata", meta, "--plugins", os.path.join(self.work, "plugins"))
            eq(code, 1, "crm check refuses backup: %s" % backup)
            check(re.search(r"app\.yaml:\d+:\d+: error: .*%s" % re.escape(words), err),
                  "backup: %s -> app.yaml:line:col naming %s: %r" % (backup, words, err))


TESTS = ["backup_under_load", "backup_verifies", "acknowledged_before_backup_present",
         "copy_equals_source_at_snapshot", "no_half_request", "restore_fresh_and_serve",
         "restore_refused_while_served", "restore_over_stopped_instance", "bad_backup_files_refused",
         "backup_refusals", "scheduled_backup_with_retention", "scheduled_backup_failure_keeps_serving",
         "scheduled_backup_config_errors"]


def main():
    runner = Runner()
    work = tempdir("crm-backup-")
    suite = Suite(work)
    try:
        for name in TESTS:
            if runner.failed and name in TESTS[1:6]:
                break
            runner.run("backup " + name, getattr(suite, "test_" + name))
    finally:
        if suite.server:
            suite.server.stop()
        cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
