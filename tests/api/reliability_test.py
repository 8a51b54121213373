"""RELIABILITY.md rows 2 and 4, against a real `crm serve`.

Row 2, disk full: the server runs with CRM_TEST_MAX_PAGES_FILE naming a file
whose number becomes the writer's PRAGMA max_page_count (store.c,
test_max_pages); the test sets it a few pages above the database's size while
clients write. Writes then answer 507 with a clear message and leave nothing
behind (no record without its audit row, no rollup moved by a refused child),
reads keep answering, and once the number is raised writes succeed again, in
the same process.

Row 4, concurrent writers: 32 clients update the same 10 records with
If-Match. No 5xx; a lost race answers 412; the acknowledged updates of each
record carry consecutive versions, and replaying them in version order gives
the final record and its audit trail.
"""
import json
import os
import random
import sqlite3
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Client, Runner, Server, check, cleanup, eq, tempdir  # noqa: E402

API = "/api/v1"


def rows(db, sql, params=()):
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def set_pages(path, pages):
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write("%d\n" % pages)
    os.replace(tmp, path)


class DiskFull:
    def __init__(self, work):
        self.work = work
        self.db = os.path.join(work, "full.db")
        self.knob = os.path.join(work, "max_pages")
        self.server = None

    def start(self):
        set_pages(self.knob, 1 << 30)
        os.environ["CRM_TEST_MAX_PAGES_FILE"] = self.knob
        try:
            self.server = Server(self.work, db=self.db, threads=4).start()
        finally:
            del os.environ["CRM_TEST_MAX_PAGES_FILE"]

    def test_disk_full_under_load(self):
        self.start()
        c = Client(self.server.port)
        parent = c.post(API + "/objects/company", {"name": "parent"}).json["id"]
        self.parent = parent
        pages = rows(self.db, "PRAGMA page_count")[0][0]
        set_pages(self.knob, pages + 4)
        results = []          # (kind, status, name, body) of every write
        lock = threading.Lock()
        stop = threading.Event()

        def writer(k):
            cl = Client(self.server.port, timeout=30)
            rng = random.Random(k)
            i = 0
            while not stop.is_set():
                i += 1
                name = "w%d-%d-%s" % (k, i, "x" * rng.randint(50, 190))
                if rng.random() < 0.6:
                    r = cl.post(API + "/objects/company", {"name": name, "city": "c" * 90})
                    kind = "company"
                else:
                    r = cl.post(API + "/objects/thing", {"title": name[:80], "company": parent,
                                                         "amount": 5, "notes": "n" * 2000})
                    kind = "thing"
                with lock:
                    results.append((kind, r.status, name if kind == "company" else name[:80], r.body[:300],
                                    r.json.get("id") if r.status == 201 else None))
            cl.close()

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        deadline = time.time() + 60
        while time.time() < deadline:
            with lock:
                full = sum(1 for r in results if r[1] == 507)
            if full >= 40:
                break
            time.sleep(0.05)
        # reads while full
        r = c.get(API + "/objects/company?limit=5")
        eq(r.status, 200, "a list read while the database is full")
        r = c.get("%s/objects/company/%d" % (API, parent))
        eq(r.status, 200, "a record read while the database is full")
        stop.set()
        for t in threads:
            t.join(30)
        self.results = results
        statuses = sorted({r[1] for r in results})
        check(set(statuses) <= {201, 507}, "only 201 or 507: %r %r" % (
            statuses, [r[3] for r in results if r[1] not in (201, 507)][:3]))
        check(sum(1 for r in results if r[1] == 507) >= 40, "the database filled up: %r" % statuses)
        check(sum(1 for r in results if r[1] == 201) >= 1, "some writes fitted before it was full")
        body = json.loads(next(r[3] for r in results if r[1] == 507))
        check("disk is full" in body.get("detail", "") and "not saved" in body["detail"],
              "a clear message: %r" % body)
        print("    %d writes acknowledged, %d answered 507" % (sum(1 for r in results if r[1] == 201),
                                                              sum(1 for r in results if r[1] == 507)), flush=True)
        c.close()

    def test_space_returns_without_restart(self):
        c = Client(self.server.port)
        # a small record may still fit in a page's free space: write until the room is gone again
        for i in range(200):
            r = c.post(API + "/objects/company", {"name": "still full %d %s" % (i, "y" * 180), "city": "c" * 90})
            check(r.status in (201, 507), "only 201 or 507: %d" % r.status)
            if r.status == 507:
                break
        eq(r.status, 507, "still full before space returns")
        eq(r.header("Retry-After"), "30", "507 says when to retry")
        set_pages(self.knob, 1 << 30)
        pid = self.server.proc.pid
        for i in range(20):
            r = c.post(API + "/objects/company", {"name": "after-%d" % i})
            eq(r.status, 201, "writes succeed again once space returns: %s" % r.body[:200])
        r = c.post(API + "/objects/thing", {"title": "after", "company": self.parent, "amount": 5})
        eq(r.status, 201, "a child write with its rollup succeeds again")
        eq(self.server.proc.pid, pid, "the same server process")
        check(self.server.proc.poll() is None, "the server did not exit")
        c.close()

    def test_no_partial_record(self):
        eq(self.server.stop(), 0, "the server stops cleanly")
        self.server = None
        eq(rows(self.db, "PRAGMA integrity_check"), [("ok",)], "integrity_check")
        acked_companies = {r[2] for r in self.results if r[0] == "company" and r[1] == 201}
        refused_companies = {r[2] for r in self.results if r[0] == "company" and r[1] == 507}
        names = {n for (n,) in rows(self.db, "SELECT name FROM company WHERE name NOT LIKE 'still full%'")}
        eq(sorted(acked_companies - names), [], "acknowledged companies present")
        eq(sorted(refused_companies & names), [], "refused companies absent")
        acked_things = {r[4] for r in self.results if r[0] == "thing" and r[1] == 201}
        things = {i for (i,) in rows(self.db, "SELECT id FROM thing WHERE title != 'after'")}
        eq(things, acked_things, "exactly the acknowledged things exist")
        eq(rows(self.db, "SELECT count(*) FROM company WHERE id NOT IN (SELECT record_id FROM _crm_audit WHERE "
                         "object = 'company' AND action = 'create')"), [(0,)], "companies without their audit row")
        eq(rows(self.db, "SELECT count(*) FROM thing WHERE id NOT IN (SELECT record_id FROM _crm_audit WHERE "
                         "object = 'thing' AND action = 'create')"), [(0,)], "things without their audit row")
        eq(rows(self.db, "SELECT thing_total FROM company WHERE id = ?", (self.parent,)),
           rows(self.db, "SELECT total(amount) FROM thing WHERE company = ? AND deleted_at IS NULL", (self.parent,)),
           "the parent's rollup counts exactly the things that exist")


class Contention:
    CLIENTS = 32
    RECORDS = 10
    ROUNDS = 12

    def __init__(self, work):
        self.work = work
        self.db = os.path.join(work, "race.db")

    def test_32_clients_10_records(self):
        self.server = Server(self.work, db=self.db, threads=4).start()
        c = Client(self.server.port)
        self.records = {}
        for i in range(self.RECORDS):
            r = c.post(API + "/objects/company", {"name": "r%d" % i, "city": "start"})
            eq(r.status, 201, "create")
            self.records[r.json["id"]] = r.json["version"]
        c.close()
        acked, statuses, lock = [], [], threading.Lock()
        barrier = threading.Barrier(self.CLIENTS)

        def client(k):
            cl = Client(self.server.port, timeout=60)
            rng = random.Random(k)
            barrier.wait()
            for n in range(self.ROUNDS):
                rid = rng.choice(list(self.records))
                r = cl.get("%s/objects/company/%d" % (API, rid))
                if r.status != 200:
                    with lock:
                        statuses.append(r.status)
                    continue
                version = r.json["version"]
                if rng.random() < 0.1:
                    version -= 1          # a stale copy: must be refused
                city = "k%d-n%d" % (k, n)
                r = cl.patch("%s/objects/company/%d" % (API, rid), {"city": city},
                             headers={"If-Match": '"%d"' % version})
                with lock:
                    statuses.append(r.status)
                    if r.status == 200:
                        acked.append((rid, r.json["version"], city, version))
            cl.close()

        threads = [threading.Thread(target=client, args=(k,)) for k in range(self.CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.acked = acked
        bad = [s for s in statuses if s >= 500]
        eq(bad, [], "5xx answers under contention")
        check(set(statuses) <= {200, 412}, "only 200 and 412: %r" % sorted(set(statuses)))
        check(statuses.count(412) > 0, "lost races answered 412")
        check(len(acked) >= self.RECORDS, "updates acknowledged: %d" % len(acked))
        for rid, new, city, expected in acked:
            eq(new, expected + 1, "an acknowledged update moved the version it was based on by one")
        print("    %d updates: %d acknowledged, %d answered 412" % (len(statuses), len(acked),
                                                                   statuses.count(412)), flush=True)

    def test_final_state_is_serial_replay(self):
        c = Client(self.server.port)
        for rid, start in self.records.items():
            mine = sorted((v, city) for r, v, city, _ in self.acked if r == rid)
            eq([v for v, _ in mine], list(range(start + 1, start + 1 + len(mine))),
               "record %d: acknowledged updates hold consecutive versions (none lost, none twice)" % rid)
            r = c.get("%s/objects/company/%d" % (API, rid))
            want_city = mine[-1][1] if mine else "start"
            eq((r.json["version"], r.json["city"]), (start + len(mine), want_city),
               "record %d: final state = the serial replay" % rid)
        c.close()
        eq(self.server.stop(), 0, "server stops")
        for rid in self.records:
            trail = [json.loads(ch)["city"][1] for (ch,) in rows(
                self.db, "SELECT changes FROM _crm_audit WHERE object = 'company' AND record_id = ? AND "
                         "action = 'update' ORDER BY id", (rid,))]
            mine = [city for _, city in sorted((v, city) for r, v, city, _ in self.acked if r == rid)]
            eq(trail, mine, "record %d: the audit trail is the acknowledged updates in order" % rid)


def main():
    runner = Runner()
    work = tempdir("crm-reliability-")
    full = DiskFull(os.path.join(work, "full"))
    race = Contention(os.path.join(work, "race"))
    os.makedirs(full.work)
    os.makedirs(race.work)
    try:
        runner.run("row2 disk_full_under_load", full.test_disk_full_under_load)
        if full.server and runner.failed == 0:
            runner.run("row2 space_returns_without_restart", full.test_space_returns_without_restart)
            runner.run("row2 no_partial_record", full.test_no_partial_record)
        runner.run("row4 32_clients_10_records", race.test_32_clients_10_records)
        if runner.failed == 0 or hasattr(race, "acked"):
            runner.run("row4 final_state_is_serial_replay", race.test_final_state_is_serial_replay)
    finally:
        for s in (full.server, getattr(race, "server", None)):
            if s and s.proc and s.proc.poll() is None:
                s.stop()
        cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
