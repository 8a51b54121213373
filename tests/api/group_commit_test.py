"""Group commit (core/store/store.c): 32 clients write at once through a server
of 8 threads, so requests share the writer's transaction and its COMMIT.
Each request must still stand alone: a batch refused at its last operation,
after its first ones were written inside the shared transaction, leaves
nothing behind while the requests around it commit; a rollup counts exactly
the children acknowledged; every acknowledged create has its audit row and
nothing refused has one; and the database checks out.
"""
import os
import sqlite3
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import Client, Runner, Server, check, cleanup, eq, tempdir  # noqa: E402

API = "/api/v1"
CLIENTS = 32
ROUNDS = 24


def writer(port, t, company_id, acked, refused, errors, lock):
    c = Client(port, timeout=60)
    try:
        for i in range(ROUNDS):
            kind = i % 3
            if kind == 0:      # a plain create
                name = "c-%d-%d" % (t, i)
                r = c.post(API + "/objects/company", {"name": name, "city": "Lyon"})
                if r.status != 201:
                    raise AssertionError("create %s: %d %s" % (name, r.status, r.body[:200]))
                with lock:
                    acked.append(name)
            elif kind == 1:    # a child that moves its parent's rollups
                title = "t-%d-%d" % (t, i)
                r = c.post(API + "/objects/thing", {"title": title, "company": company_id, "amount": 10})
                if r.status != 201:
                    raise AssertionError("create %s: %d %s" % (title, r.status, r.body[:200]))
                with lock:
                    acked.append(title)
            else:              # two writes, then a refused third: all or nothing, alone
                names = ["b-%d-%d-%d" % (t, i, k) for k in range(2)]
                ops = [{"op": "create", "object": "company", "values": {"name": n}} for n in names]
                ops.append({"op": "create", "object": "thing",
                            "values": {"title": "bad-%d-%d" % (t, i), "company": company_id, "quantity": -1}})
                r = c.post(API + "/batch", {"operations": ops})
                if r.status != 422:
                    raise AssertionError("batch: expected 422, got %d %s" % (r.status, r.body[:200]))
                eq(r.json.get("failed"), 2, "the failing operation")
                with lock:
                    refused.extend(names + ["bad-%d-%d" % (t, i)])
    except Exception as e:  # noqa: BLE001 - reported by the test
        with lock:
            errors.append("client %d: %s" % (t, e))
    finally:
        c.close()


def concurrent_writers_stand_alone(server, db):
    c = Client(server.port)
    r = c.post(API + "/objects/company", {"name": "parent"})
    eq(r.status, 201, "parent")
    parent = r.json["id"]
    c.close()
    acked, refused, errors = [], [], []
    lock = threading.Lock()
    threads = [threading.Thread(target=writer, args=(server.port, t, parent, acked, refused, errors, lock))
               for t in range(CLIENTS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(300)
        check(not th.is_alive(), "a client is stuck")
    eq(errors, [], "client errors")
    check(len(refused) > 0 and len(acked) > 0, "nothing ran")

    con = sqlite3.connect(db)
    try:
        companies = {n for (n,) in con.execute("SELECT name FROM company WHERE deleted_at IS NULL")}
        things = {t for (t,) in con.execute("SELECT title FROM thing WHERE deleted_at IS NULL")}
        present = companies | things
        missing = [n for n in acked if n not in present]
        eq(missing, [], "acknowledged creates missing")
        leaked = [n for n in refused if n in present]
        eq(leaked, [], "records of refused batches")
        eq(len(companies), 1 + sum(1 for n in acked if n.startswith("c-")), "companies")
        eq(len(things), sum(1 for n in acked if n.startswith("t-")), "things")
        count, total = con.execute("SELECT thing_count, thing_total FROM company WHERE id = ?", (parent,)).fetchone()
        eq(count, len(things), "the parent's rollup count")
        eq(total, 10.0 * len(things), "the parent's rollup sum")
        audited = con.execute("SELECT count(*) FROM _crm_audit WHERE action = 'create' AND object IN "
                              "('company', 'thing')").fetchone()[0]
        eq(audited, len(present), "audit rows of creates")
        eq(con.execute("PRAGMA integrity_check").fetchone()[0], "ok", "integrity_check")
    finally:
        con.close()


def main():
    runner = Runner()
    work = tempdir("crm-group-")
    db = os.path.join(work, "group.db")
    server = Server(work, db=db, threads=8).start()
    try:
        runner.run("concurrent_writers_stand_alone", concurrent_writers_stand_alone, server, db)
    finally:
        server.stop()
        cleanup(work)
    return runner.finish()


if __name__ == "__main__":
    sys.exit(main())
