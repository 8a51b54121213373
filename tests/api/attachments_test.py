"""Attachments over HTTP (see attachments.sh): a real `crm serve` on a `crm demo` database of the
shipped metadata/ and plugins/, files under the default files directory (<db>.files).

Uploads (multipart/form-data and raw with ?filename=), downloads byte for byte, dedup by sha256,
the parent record's rules (404 for a caller who cannot read it, 403 for one who cannot change it),
hostile names and types, the size cap (413, nothing written), malformed and cut-off bodies,
delete with the parent, GDPR erase and the sweep. Standard library only.
"""
import hashlib
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import (ROOT, AsUsers, check, crm_binary, eq, parse_raw, problem, raw_exchange,  # noqa: E402
                    run_on_demo)

PASSWORD = "demo1234"
CAP = 10 * 1024 * 1024
BOUNDARY = "----crmTestBoundary7MA4YWxkTrZu0gW"


def multipart(name, data, field="file", boundary=BOUNDARY, content_type="application/octet-stream"):
    return (("--%s\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
             "Content-Type: %s\r\n\r\n") % (boundary, boundary, field, name, content_type)).encode() \
        + data + ("\r\n--%s--\r\n" % boundary).encode()


def tricky_bytes():
    """Every byte value, CRLFs and things that look like boundaries: a parser that cuts early fails."""
    data = bytes(range(256)) * 64 + b"\r\n--" + BOUNDARY[:10].encode() + b"\r\n\r\n--\r\n" + os.urandom(5000)
    return data


class Suite:
    def __init__(self, server, db):
        self.server = server
        self.db = db
        self.files = db + ".files"
        self.u = AsUsers(server.port)

    # -- plumbing ----------------------------------------------------------------------
    def upload(self, who, obj, rid, name, data, status=201, raw=False, content_type=None):
        if raw:
            r = self.u.req(who, "POST", "/objects/%s/%d/attachments?filename=%s" % (obj, rid, name), data,
                           headers={"Content-Type": content_type or "application/octet-stream"})
        else:
            r = self.u.req(who, "POST", "/objects/%s/%d/attachments" % (obj, rid), multipart(name, data),
                           headers={"Content-Type": "multipart/form-data; boundary=" + BOUNDARY})
        eq(r.status, status, "%s uploads %r to %s %d: %s" % (who, name, obj, rid, r.body[:300]))
        return r

    def state(self):
        """What is written: attachment rows (live and deleted), blobs, temporary files."""
        rows = []
        for deleted in ("false", "true"):
            r = self.u.req("admin", "GET", "/objects/attachment?limit=1000&deleted=%s" % deleted)
            eq(r.status, 200, "admin lists attachments: %s" % r.body[:200])
            rows += [a["id"] for a in r.json["records"]]
        blobs, tmp = [], []
        for d in sorted(os.listdir(self.files)):
            (tmp if d == "tmp" else blobs).extend(os.listdir(os.path.join(self.files, d)))
        return sorted(rows), sorted(blobs), sorted(tmp)

    def raw_upload(self, who, path, head_extra, body, chunks=None, read_timeout=10.0):
        head = ("POST /api/v1%s HTTP/1.1\r\nHost: x\r\n%s%s\r\n" % (path, self.u.h[who]["Authorization"].join(
            ["Authorization: ", "\r\n"]), head_extra)).encode()
        return raw_exchange(self.server.port, head + body, chunks=chunks, read_timeout=read_timeout)

    def wait_tmp(self, done):
        """Polls the spool directory until done(names). libmicrohttpd 0.9.75 notices a client that
        closed in the middle of a body only at the inactivity timeout (--connection-timeout, 3 s for
        this suite): that bounds the wait."""
        deadline = time.time() + 30
        while time.time() < deadline:
            if done(os.listdir(os.path.join(self.files, "tmp"))):
                return True
            time.sleep(0.1)
        return False

    # -- the tests ---------------------------------------------------------------------
    def test_setup(self):
        self.u.log_in(["admin", "sales_rep1", "sales_rep2", "service_agent", "sales_manager"], PASSWORD)
        users = self.u.records("admin", "user", "fields=id,login&limit=100")
        self.ids = {u["login"]: u["id"] for u in users}
        mine = self.u.records("admin", "opportunity", "filter=owner%%20%%3D%%20%d&limit=5" % self.ids["sales_rep1"])
        check(mine, "sales_rep1 owns an opportunity")
        self.opp = mine[0]["id"]
        self.account = self.u.records("admin", "account", "limit=1")[0]["id"]
        self.contact = self.u.records("admin", "contact", "limit=1&sort=-id")[0]["id"]
        check(os.path.isdir(os.path.join(self.files, "tmp")), "the server made <db>.files/tmp")

    def test_multipart_round_trip_is_byte_exact(self):
        data = tricky_bytes()
        r = self.upload("sales_rep1", "opportunity", self.opp, "report.bin", data)
        a = r.json
        eq(a["sha256"], hashlib.sha256(data).hexdigest(), "sha256")
        eq(a["size"], len(data), "size")
        eq(a["file_name"], "report.bin", "file name")
        eq(a["uploaded_by"], self.ids["sales_rep1"], "uploaded by")
        eq((a["parent_object"], a["parent_id"]), ("opportunity", self.opp), "parent")
        eq(r.header("Location"), "/api/v1/attachments/%d/content" % a["id"], "Location")
        d = self.u.req("sales_rep1", "GET", "/attachments/%d/content" % a["id"])
        eq(d.status, 200, "download")
        eq(hashlib.sha256(d.body).hexdigest(), a["sha256"], "downloaded bytes")
        eq(d.body, data, "downloaded bytes")
        blob = os.path.join(self.files, a["sha256"][:2], a["sha256"])
        with open(blob, "rb") as f:
            eq(f.read(), data, "the blob on disk")
        listed = self.u.req("sales_rep1", "GET", "/objects/opportunity/%d/attachments" % self.opp)
        eq(listed.status, 200, "list")
        check(a["id"] in [x["id"] for x in listed.json["records"]], "listed")
        self.first = a

    def test_same_content_is_stored_once(self):
        data = b"%PDF-1.4\n" + os.urandom(20000)
        one = self.upload("sales_rep1", "opportunity", self.opp, "a.pdf", data, raw=True).json
        two = self.upload("admin", "account", self.account, "b.pdf", data).json
        eq(one["sha256"], two["sha256"], "same hash")
        check(one["id"] != two["id"], "two rows")
        eq(one["content_type"], "application/pdf", "sniffed from the bytes")
        eq(os.listdir(os.path.join(self.files, one["sha256"][:2])).count(one["sha256"]), 1, "one blob")

    def test_type_comes_from_the_bytes_not_the_client(self):
        png = b"\x89PNG\r\n\x1a\n" + os.urandom(100)
        a = self.upload("sales_rep1", "opportunity", self.opp, "pic.txt", png, raw=True, content_type="text/html").json
        eq(a["content_type"], "image/png", "png by magic number")
        b = self.upload("sales_rep1", "opportunity", self.opp, "x.html", b"<html><script>alert(1)</script></html>",
                        raw=True, content_type="text/html").json
        eq(b["content_type"], "application/octet-stream", "html is never text/html")
        svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
        c = self.upload("sales_rep1", "opportunity", self.opp, "x.svg", svg, content_type="image/svg+xml").json
        eq(c["content_type"], "application/octet-stream", "svg is never image/svg+xml")
        for att, name in ((b, "x.html"), (c, "x.svg")):
            d = self.u.req("sales_rep1", "GET", "/attachments/%d/content" % att["id"])
            eq(d.status, 200, "download " + name)
            eq(d.header("Content-Type"), "application/octet-stream", name + " content type")
            check(d.header("Content-Disposition").startswith("attachment;"), name + " disposition")
            check('filename="%s"' % name in d.header("Content-Disposition"), name + " named")
            eq(d.header("X-Content-Type-Options"), "nosniff", name + " nosniff")
            check("sandbox" in (d.header("Content-Security-Policy") or ""), name + " sandboxed")

    def test_path_traversal_names_stay_names(self):
        before = self.state()
        data = os.urandom(3000)
        a = self.upload("sales_rep1", "opportunity", self.opp, "../../etc/passwd", data).json
        eq(a["file_name"], "passwd", "the last component only")
        b = self.upload("sales_rep1", "opportunity", self.opp, "..%2F..%2F..%2Fetc%2Fcron.d%2Fx.html", data, raw=True).json
        eq(b["file_name"], "x.html", "a raw upload's name too")
        r = self.u.req("sales_rep1", "POST", "/objects/opportunity/%d/attachments?filename=a%%0D%%0Ab" % self.opp, data,
                       headers={"Content-Type": "application/octet-stream"})
        problem(r, 400, "a line break in the name")
        e = self.upload("sales_rep1", "opportunity", self.opp, "tab\there\x01.bin", data).json
        eq(e["file_name"], "tabhere.bin", "control characters dropped")
        c = self.upload("sales_rep1", "opportunity", self.opp, 'a\\\\..\\\\b\\"; x=.exe', data).json
        check('"' not in c["file_name"] and "\\" not in c["file_name"], "no quotes: %r" % c["file_name"])
        d = self.u.req("sales_rep1", "GET", "/attachments/%d/content" % c["id"])
        eq(d.header("Content-Disposition").count('"'), 2, "one quoted name in the header")
        rows, blobs, tmp = self.state()
        eq(set(blobs) - set(before[1]), {hashlib.sha256(data).hexdigest()}, "the only new file is the hash")
        for name in blobs:
            check(len(name) == 64, "every blob is named by its hash: %r" % name)
        eq(tmp, [], "no temporary file left")

    def test_a_caller_who_cannot_read_the_parent_gets_404(self):
        aid = self.first["id"]
        # service_agent: opportunity read none
        missing = self.u.req("service_agent", "GET", "/attachments/999999/content")
        problem(missing, 404, "an unknown attachment")
        for method, path, body in (("GET", "/attachments/%d/content" % aid, None),
                                   ("GET", "/attachments/%d" % aid, None),
                                   ("DELETE", "/attachments/%d" % aid, None),
                                   ("GET", "/objects/opportunity/%d/attachments" % self.opp, None),
                                   ("POST", "/objects/opportunity/%d/attachments?filename=x" % self.opp, b"x")):
            r = self.u.req("service_agent", method, path, body, headers={"Content-Type": "application/octet-stream"})
            doc = problem(r, 404, "service_agent %s %s" % (method, path))
            check(b"opportunity" not in r.body or method == "POST" or "/objects/" in path,
                  "the refusal names no parent: %s" % r.body[:200])
            check(doc["detail"].replace(str(aid), "N") == "no attachment N" or "/objects/" in path,
                  "same words as an unknown id: %r" % doc["detail"])
        # the generic object API is closed too: no role lists attachment
        problem(self.u.req("service_agent", "GET", "/objects/attachment/%d" % aid), 404, "the row itself")
        eq(self.u.req("sales_rep1", "GET", "/attachments/%d" % aid).status, 200, "the owner still reads it")

    def test_a_caller_who_cannot_change_the_parent_gets_403(self):
        # a rep reads every account and updates only their own
        others = self.u.records("admin", "account", "filter=owner%%20!%%3D%%20%d&limit=1" % self.ids["sales_rep2"])
        check(others, "an account sales_rep2 does not own")
        target = others[0]["id"]
        eq(self.u.req("sales_rep2", "GET", "/objects/account/%d" % target).status, 200, "rep2 reads it")
        before = self.state()
        r = self.u.req("sales_rep2", "POST", "/objects/account/%d/attachments?filename=x.bin" % target, b"data",
                       headers={"Content-Type": "application/octet-stream"})
        problem(r, 403, "sales_rep2 uploads to account %d" % target)
        eq(self.state(), before, "the refused upload wrote nothing")
        eq(self.u.req("sales_rep2", "GET", "/objects/account/%d/attachments" % target).status, 200, "but may list")
        a = self.upload("admin", "account", target, "admins.bin", os.urandom(64)).json
        problem(self.u.req("sales_rep2", "DELETE", "/attachments/%d" % a["id"]), 403, "nor delete")
        d = self.u.req("sales_rep2", "GET", "/attachments/%d/content" % a["id"])
        eq(d.status, 200, "but may download")
        eq(self.u.req("admin", "DELETE", "/attachments/%d" % a["id"]).status, 204, "admin deletes it")

    def test_a_file_over_the_cap_is_413_and_nothing_is_written(self):
        before = self.state()
        rss = self.server.rss_kb()
        # announced: refused before a byte of the body is read
        out = self.raw_upload("sales_rep1", "/objects/opportunity/%d/attachments?filename=big" % self.opp,
                              "Content-Type: application/octet-stream\r\nContent-Length: %d\r\n" % (20 * 1024 * 1024),
                              b"")
        status, _, body = parse_raw(out)
        eq(status, 413, "20 MB announced: %r" % out[:300])
        check(b"larger than" in body, "says why")
        # chunked, 20 MB in 64 KiB chunks: cut off at the cap, never held in memory
        block = os.urandom(64 * 1024)
        chunk = b"%x\r\n" % len(block) + block + b"\r\n"
        out = self.raw_upload("sales_rep1", "/objects/opportunity/%d/attachments?filename=big" % self.opp,
                              "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n", b"",
                              chunks=[chunk] * 320 + [b"0\r\n\r\n"])
        check(not out.startswith(b"HTTP/1.1 2"), "no success: %r" % out[:200])
        # in the spool's room but over the file cap: the kernel refuses it
        r = self.upload("sales_rep1", "opportunity", self.opp, "just-over", os.urandom(CAP + 1), raw=True, status=413)
        problem(r, 413, "one byte over the cap")
        time.sleep(0.2)
        eq(self.state(), before, "no row, no file, no temporary file")
        grown = self.server.rss_kb() - rss
        check(grown < 16 * 1024, "the server's memory grew %d KiB: the body was buffered" % grown)
        print("    rss growth over three oversized uploads: %d KiB" % grown)

    def test_malformed_bodies_are_400_and_write_nothing(self):
        before = self.state()
        path = "/objects/opportunity/%d/attachments" % self.opp
        good = multipart("a.bin", b"payload")
        cases = [
            ("multipart/form-data", good, "no boundary"),
            ("multipart/form-data; boundary=" + "x" * 80, good, "boundary too long"),
            ("multipart/form-data; boundary=" + BOUNDARY, good[:-30], "no closing boundary"),
            ("multipart/form-data; boundary=" + BOUNDARY, b"garbage without any boundary", "no boundary line"),
            ("multipart/form-data; boundary=" + BOUNDARY, multipart("a.bin", b"x", field="other"), "no file part"),
            ("multipart/form-data; boundary=" + BOUNDARY,
             ("--%s\r\nX: %s\r\n\r\n" % (BOUNDARY, "y" * 9000)).encode() + b"--" + BOUNDARY.encode() + b"--",
             "headers too long"),
            ("multipart/form-data; boundary=" + BOUNDARY, multipart("\xff.bin", b"x").replace(b"\xc3\xbf", b"\xff"),
             "file name not UTF-8"),
            ("application/octet-stream", b"raw bytes without a name", "raw without ?filename="),
        ]
        for ctype, body, what in cases:
            r = self.u.req("sales_rep1", "POST", path, body, headers={"Content-Type": ctype})
            problem(r, 400, what)
        r = self.u.req("sales_rep1", "POST", path + "?filename=empty", b"",
                       headers={"Content-Type": "application/octet-stream"})
        problem(r, 400, "an empty file")
        r = self.u.req("sales_rep1", "POST", path + "?filename=a&bogus=1", b"x",
                       headers={"Content-Type": "application/octet-stream"})
        problem(r, 400, "an unknown parameter")
        out = self.raw_upload("sales_rep1", path + "?filename=a", "Content-Length: 12abc\r\n", b"x" * 12)
        eq(parse_raw(out)[0], 400, "a malformed Content-Length")
        out = self.raw_upload("sales_rep1", path + "?filename=a", "Content-Length: 5\r\nContent-Length: 5\r\n", b"x" * 5)
        eq(parse_raw(out)[0], 400, "two Content-Length headers")
        eq(self.state(), before, "nothing written")

    def test_a_cut_off_upload_leaves_nothing(self):
        before = self.state()
        path = "/objects/opportunity/%d/attachments?filename=cut" % self.opp
        # announces 5 MB, sends 1 MB, closes
        head = ("POST /api/v1%s HTTP/1.1\r\nHost: x\r\n%s\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: %d\r\n\r\n" % (path, "Authorization: " + self.u.h["sales_rep1"]["Authorization"],
                                                5 * 1024 * 1024)).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall(head + os.urandom(1024 * 1024))
        check(self.wait_tmp(lambda names: names), "the body was being spooled to a file")
        s.close()
        check(self.wait_tmp(lambda names: not names), "the spooled body was removed")
        eq(self.state(), before, "no row, no file, no temporary file")
        # a multipart body cut inside the file part
        body = multipart("cut.bin", os.urandom(200000))
        head = ("POST /api/v1/objects/opportunity/%d/attachments HTTP/1.1\r\nHost: x\r\n%s\r\n"
                "Content-Type: multipart/form-data; boundary=%s\r\nContent-Length: %d\r\n\r\n"
                % (self.opp, "Authorization: " + self.u.h["sales_rep1"]["Authorization"], BOUNDARY, len(body))).encode()
        s = socket.create_connection(("127.0.0.1", self.server.port))
        s.sendall(head + body[:100000])
        check(self.wait_tmp(lambda names: names), "the multipart body was being spooled")
        s.close()
        check(self.wait_tmp(lambda names: not names), "the spooled body was removed")
        eq(self.state(), before, "nothing after a cut multipart body")
        eq(self.u.req("sales_rep1", "GET", "/objects/opportunity/%d" % self.opp).status, 200, "still serving")

    def test_deleting_an_attachment_and_its_parent(self):
        data = os.urandom(4000)
        a = self.upload("admin", "account", self.account, "keep.bin", data).json
        r = self.u.req("admin", "DELETE", "/attachments/%d" % a["id"])
        eq(r.status, 204, "delete: %s" % r.body[:200])
        problem(self.u.req("admin", "GET", "/attachments/%d/content" % a["id"]), 404, "deleted: gone")
        # a record's attachments go to the recycle bin with it
        acc = self.u.created("admin", "account", {"name": "Attachment parent"})
        b = self.upload("admin", "account", acc["id"], "with-parent.bin", os.urandom(100)).json
        eq(self.u.req("admin", "DELETE", "/objects/account/%d" % acc["id"]).status, 204, "delete the parent")
        problem(self.u.req("admin", "GET", "/attachments/%d/content" % b["id"]), 404, "the parent's gone")
        binned = self.u.records("admin", "attachment", "deleted=true&limit=1000")
        check(b["id"] in [x["id"] for x in binned], "the attachment is in the recycle bin")
        blob = os.path.join(self.files, b["sha256"][:2], b["sha256"])
        check(os.path.exists(blob), "its file stays while the row can be restored")

    def test_gdpr_erase_removes_a_persons_files(self):
        data = b"%PDF-1.7 personal " + os.urandom(3000)
        a = self.upload("admin", "contact", self.contact, "passport.pdf", data).json
        b = self.upload("admin", "contact", self.contact, "old.bin", os.urandom(500)).json
        eq(self.u.req("admin", "DELETE", "/attachments/%d" % b["id"]).status, 204, "one already in the bin")
        shared = self.upload("admin", "account", self.account, "shared.pdf", data).json
        p = subprocess.run([crm_binary(), "gdpr", "erase", "--contact", str(self.contact), "--db", self.db,
                            "--metadata", os.path.join(ROOT, "metadata"), "--plugins", os.path.join(ROOT, "plugins")],
                           cwd=ROOT, capture_output=True, check=False)
        eq(p.returncode, 0, "crm gdpr erase: %s" % p.stderr[-300:])
        rows = self.state()[0]
        check(a["id"] not in rows and b["id"] not in rows, "the person's attachment rows are gone")
        check(shared["id"] in rows, "another record's row stays")
        check(os.path.exists(os.path.join(self.files, a["sha256"][:2], a["sha256"])),
              "the same content attached elsewhere stays")
        check(not os.path.exists(os.path.join(self.files, b["sha256"][:2], b["sha256"])), "the person's file is gone")
        listed = self.u.req("admin", "GET", "/objects/contact/%d/attachments" % self.contact)
        eq(listed.status, 200, "list after erase")
        eq(listed.json["records"], [], "nothing attached any more")

    def test_sweep_removes_unreferenced_files_only(self):
        orphan = "ab" * 32
        os.makedirs(os.path.join(self.files, "ab"), exist_ok=True)
        with open(os.path.join(self.files, "ab", orphan), "wb") as f:
            f.write(b"left by a crash before the commit")
        with open(os.path.join(self.files, "tmp", "blob-crashed"), "wb") as f:
            f.write(b"half")
        _, blobs_before, _ = self.state()
        p = subprocess.run([crm_binary(), "files", "sweep", "--grace", "0", "--db", self.db,
                            "--metadata", os.path.join(ROOT, "metadata"), "--plugins", os.path.join(ROOT, "plugins")],
                           cwd=ROOT, capture_output=True, check=False)
        eq(p.returncode, 0, "crm files sweep: %s" % p.stderr[-300:])
        check(b"2 unreferenced files removed" in p.stdout, "reports: %r" % p.stdout)
        _, blobs, tmp = self.state()
        eq(sorted(blobs), sorted(set(blobs_before) - {orphan}), "only the orphan went")
        eq(tmp, [], "and the temporary file")
        d = self.u.req("sales_rep1", "GET", "/attachments/%d/content" % self.first["id"])
        eq(d.status, 200, "referenced files stay")

    def test_openapi_documents_the_routes(self):
        doc = self.u.req("sales_rep1", "GET", "/openapi.json").json
        paths = doc["paths"]
        check("/objects/opportunity/{id}/attachments" in paths, "the upload/list route: %s"
              % [p for p in paths if "attach" in p][:5])
        post = paths["/objects/opportunity/{id}/attachments"]["post"]
        check("multipart/form-data" in post["requestBody"]["content"], "multipart documented")
        check("413" in post["responses"], "413 documented")
        check("/attachments/{id}/content" in paths, "the download route")
        closed = self.u.req("service_agent", "GET", "/openapi.json").json["paths"]
        check("/objects/opportunity/{id}/attachments" not in closed, "not for a role that cannot read the object")


TESTS = ["multipart_round_trip_is_byte_exact", "same_content_is_stored_once", "type_comes_from_the_bytes_not_the_client",
         "path_traversal_names_stay_names", "a_caller_who_cannot_read_the_parent_gets_404",
         "a_caller_who_cannot_change_the_parent_gets_403", "a_file_over_the_cap_is_413_and_nothing_is_written",
         "malformed_bodies_are_400_and_write_nothing", "a_cut_off_upload_leaves_nothing",
         "deleting_an_attachment_and_its_parent", "gdpr_erase_removes_a_persons_files",
         "sweep_removes_unreferenced_files_only", "openapi_documents_the_routes"]

if __name__ == "__main__":
    sys.exit(run_on_demo("attachments", Suite, TESTS, extra=["--connection-timeout", "3"]))
