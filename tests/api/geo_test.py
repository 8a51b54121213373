"""Geo in the expression language and the store (see geo.sh).

A real `crm serve` on tests/api/geo/: sites with known positions (Munich, Shanghai, both sides of the
date line, near the North Pole, one with no location) and visits that check in at a point. Checks:
`within(location, point(48.137, 11.575), 5000)` lists exactly the expected sites (sorted by distance
through a formula field), across the date line and near a pole too; the acceptance story of
DOMAIN.md B6 (a check-in 72 m from its site is on site, one 2.1 km away is not, and refused in
strict mode by a rule the C evaluator checks); bad points at the API (create, update, batch) and in
CSV import answer 4xx naming the field and write nothing; bad geo expressions answer 400 and
`crm check` names file:line:column; a hidden geo field is unknown to filters; a database from
before the point columns gets them filled at start.
"""
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ROOT, Client, check, crm_binary, eq, login, problem, run_suite  # noqa: E402

API = "/api/v1"
METADATA = os.path.join(ROOT, "tests", "api", "geo")
PASSWORD = "geo-test-password"

SITES = [
    # name, lat, lng: metres from Marienplatz (48.137, 11.575) in the comments
    ("marienplatz", 48.137, 11.575),      # 0
    ("stachus", 48.139, 11.566),          # 704
    ("pasing", 48.1497, 11.4613),         # 8,554
    ("garching", 48.2489, 11.6532),       # 13,700
    ("shanghai account", 31.2310, 121.4740),
    ("suva east", -17.7, 179.995),
    ("taveuni west", -17.7, -179.995),
    ("alert", 89.95, -62.3),
    ("across the pole", 89.95, 117.7),
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

    def as_(self, who, method, path, body=None, headers=None, content_type=None):
        hh = dict(self.h[who])
        hh.update(headers or {})
        return self.c.request(method, API + path, body=body, headers=hh, auth=False, content_type=content_type)

    def names(self, who, filter_text, extra="", status=200):
        r = self.as_(who, "GET", "/objects/site?limit=200&filter=%s%s" % (q(filter_text), extra))
        eq(r.status, status, "%s lists sites where %s: %s" % (who, filter_text, r.body[:300]))
        return [rec["name"] for rec in r.json["records"]] if status == 200 else r

    def create(self, who, obj, values, status=201):
        r = self.as_(who, "POST", "/objects/%s" % obj, values)
        eq(r.status, status, "%s creates %s %r: %s" % (who, obj, values, r.body[:300]))
        return r.json["id"] if status == 201 else r

    def site_count(self):
        r = self.as_("admin", "GET", "/objects/site?count=true&limit=1")
        return r.json["total"]

    def test_setup(self):
        self.h["admin"] = login(self.server.port)
        self.h["rep"] = login(self.server.port, "rep", PASSWORD)
        for name, lat, lng in SITES:
            self.ids[name] = self.create("admin", "site", {"name": name, "location": {"lat": lat, "lng": lng},
                                                          "hideout": {"lat": 1, "lng": 2}, "lat": lat, "lng": lng})
        self.ids["nowhere"] = self.create("admin", "site", {"name": "nowhere"})

    def test_within_lists_exactly_the_sites_in_the_circle(self):
        eq(sorted(self.names("rep", "within(location, point(48.137, 11.575), 5000)")), ["marienplatz", "stachus"],
           "5 km around Marienplatz")
        eq(self.names("rep", "within(location, point(48.137, 11.575), 10000)", "&sort=to_munich"),
           ["marienplatz", "stachus", "pasing"], "10 km, nearest first (sort by the distance formula)")
        eq(self.names("rep", "within(location, point(48.137, 11.575), 703)"), ["marienplatz"], "703 m: not Stachus")
        eq(sorted(self.names("rep", "within(location, point(48.137, 11.575), 705)")), ["marienplatz", "stachus"],
           "705 m: Stachus")
        eq(self.names("rep", "within(location, point(48.137, 11.575), 50000) and name != 'marienplatz'",
                      "&sort=-to_munich"), ["garching", "pasing", "stachus"], "and other terms, farthest first")
        r = self.as_("rep", "GET", "/objects/site?count=true&filter=" + q("within(location, point(48.137, 11.575), 9000)"))
        eq(r.json.get("total"), 3, "count")
        # across the date line, and over the pole
        eq(sorted(self.names("rep", "within(location, point(-17.7, 180), 1000)")), ["suva east", "taveuni west"],
           "both sides of the date line")
        eq(sorted(self.names("rep", "within(location, point(-17.7, -179.99), 1700)")), ["suva east", "taveuni west"],
           "from the west side")
        eq(sorted(self.names("rep", "within(location, point(90, 0), 6000)")), ["across the pole", "alert"],
           "around the North Pole")
        eq(self.names("rep", "within(location, point(89.95, -62.3), 10000)"), ["alert"], "10 km: not across the pole")
        # a site without a location is within no circle, and so `not within` lists it
        check("nowhere" in self.names("rep", "not within(location, point(48.137, 11.575), 5000)"), "not within")
        check("nowhere" not in self.names("rep", "within(location, point(0, 0), 20100000)"), "no point: not within")
        eq(len(self.names("rep", "within(location, point(0, 0), 20100000)")), len(SITES), "every point on Earth")
        # the formula reads the same distance
        r = self.as_("rep", "GET", "/objects/site/%d" % self.ids["stachus"])
        check(abs(r.json["to_munich"] - 703.9) < 0.01, "distance formula: %r" % r.json["to_munich"])
        eq(self.as_("rep", "GET", "/objects/site/%d" % self.ids["nowhere"]).json["to_munich"], None, "no point: null")

    def test_check_in_72_m_passes_and_2_1_km_is_flagged(self):
        site = self.ids["shanghai account"]
        near = self.create("rep", "visit", {"site": site, "check_in": {"lat": 31.2304, "lng": 121.4737}})
        far = self.create("rep", "visit", {"site": site, "check_in": {"lat": 31.2493, "lng": 121.4737}})
        v = self.as_("rep", "GET", "/objects/visit/%d" % near).json
        eq((round(v["distance_m"]), v["geo_ok"]), (73, True), "72.6 m: on site")
        v = self.as_("rep", "GET", "/objects/visit/%d" % far).json
        eq((round(v["distance_m"]), v["geo_ok"]), (2035, False), "2.0 km: flagged, still saved")
        r = self.as_("rep", "GET", "/objects/visit?filter=%s" % q("not geo_ok"))
        eq([x["id"] for x in r.json["records"]], [far], "the flagged check-ins")
        r = self.as_("rep", "GET", "/objects/visit?filter=%s" % q("within(check_in, point(31.2310, 121.4740), 100)"))
        eq([x["id"] for x in r.json["records"]], [near], "within on another object")
        # strict mode: a rule (evaluated in C) refuses the far one, names the field, and writes nothing
        r = self.as_("rep", "POST", "/objects/visit", {"site": site, "strict": True,
                                                        "check_in": {"lat": 31.2493, "lng": 121.4737}})
        doc = problem(r, 422, "strict far check-in")
        eq([(e["field"], e["message"]) for e in doc["errors"]], [("check_in", "Check in within 200 m of the site")],
           "the rule's message on the field")
        self.create("rep", "visit", {"site": site, "strict": True, "check_in": {"lat": 31.2304, "lng": 121.4737}})
        r = self.as_("rep", "PATCH", "/objects/visit/%d" % near, {"strict": True, "check_in": {"lat": 31.26, "lng": 121.4}},
                     headers={"If-Match": "*"})
        problem(r, 422, "moving a strict check-in away")
        eq(self.as_("rep", "GET", "/objects/visit/%d" % near).json["check_in"], {"lat": 31.2304, "lng": 121.4737},
           "unchanged")

    def test_moves_clears_deletes_and_restores_follow(self):
        gid = self.ids["garching"]
        here = "within(location, point(48.137, 11.575), 300)"

        def patch(values):
            r = self.as_("admin", "PATCH", "/objects/site/%d" % gid, values, headers={"If-Match": "*"})
            eq(r.status, 200, "patch %r: %s" % (values, r.body[:200]))
        patch({"location": {"lat": 48.138, "lng": 11.576}})
        eq(sorted(self.names("rep", here)), ["garching", "marienplatz"], "moved next to Marienplatz")
        patch({"name": "garching (renamed)"})
        eq(sorted(self.names("rep", here)), ["garching (renamed)", "marienplatz"], "another field changed: kept")
        patch({"location": None})
        eq(self.names("rep", here), ["marienplatz"], "cleared")
        check("garching (renamed)" not in self.names("rep", "within(location, point(0, 0), 20100000)"), "no point")
        patch({"location": {"lat": 48.2489, "lng": 11.6532}, "name": "garching"})
        eq(self.as_("admin", "DELETE", "/objects/site/%d" % self.ids["stachus"]).status, 204, "delete")
        eq(self.names("rep", here.replace("300", "5000")), ["marienplatz"], "a deleted site is not listed")
        eq(self.as_("admin", "POST", "/objects/site/%d/restore" % self.ids["stachus"]).status, 200, "restore")
        eq(sorted(self.names("rep", here.replace("300", "5000"))), ["marienplatz", "stachus"], "restored")

    def test_bad_points_are_refused_at_every_door(self):
        before = self.site_count()
        bad = [
            ("text", "48.1, 11.5", "location"),
            ("NaN as text", {"lat": "NaN", "lng": 11}, "lat"),
            ("a number as text", {"lat": "48.1", "lng": 11}, "lat"),
            ("latitude out of range", {"lat": 90.0001, "lng": 0}, "latitude"),
            ("longitude out of range", {"lat": 0, "lng": -180.5}, "longitude"),
            ("missing lng", {"lat": 1}, "lng"),
            ("an extra key", {"lat": 1, "lng": 2, "alt": 3}, "alt"),
            ("nested junk", {"lat": {"$gt": 0}, "lng": [1]}, "lat"),
            ("an array", [48.1, 11.5], "location"),
            ("a bool", {"lat": True, "lng": 1}, "lat"),
            ("oversized", {"lat": 1, "lng": 2, "x" * 100000: 1}, "unknown key"),
        ]
        for what, value, word in bad:
            doc = problem(self.as_("admin", "POST", "/objects/site", {"name": "bad", "location": value}), 422, what)
            errors = doc.get("errors") or []
            check(errors and errors[0]["field"] == "location", "%s: names the field: %r" % (what, doc))
            check(word in errors[0]["message"] or word == "location", "%s: says what: %r" % (what, errors[0]))
            check(len(json.dumps(doc)) < 2000, "%s: a short answer" % what)
        # JSON itself cannot carry NaN, Infinity or a number too big for a double: 400 before any field
        for raw in ('{"name": "bad", "location": {"lat": NaN, "lng": 1}}',
                    '{"name": "bad", "location": {"lat": Infinity, "lng": 1}}',
                    '{"name": "bad", "location": {"lat": 1e400, "lng": 1}}'):
            problem(self.as_("admin", "POST", "/objects/site", raw, content_type="application/json"), 400, raw)
        # update and batch: refused, nothing changed
        sid = self.ids["pasing"]
        r = self.as_("admin", "PATCH", "/objects/site/%d" % sid, {"location": {"lat": 100, "lng": 0}},
                     headers={"If-Match": "*"})
        problem(r, 422, "update to a bad point")
        r = self.as_("admin", "POST", "/batch", {"operations": [
            {"op": "create", "object": "site", "values": {"name": "batch ok", "location": {"lat": 1, "lng": 1}}},
            {"op": "update", "object": "site", "id": sid, "values": {"location": {"lat": 0, "lng": 181}}}]})
        check(r.status == 422, "batch with a bad point: %s" % r.body[:200])
        eq(self.as_("admin", "GET", "/objects/site/%d" % sid).json["location"], {"lat": 48.1497, "lng": 11.4613},
           "pasing unchanged")
        eq(self.site_count(), before, "nothing created")
        eq(self.names("admin", "within(location, point(48.1497, 11.4613), 1)"), ["pasing"], "its index entry too")
        # CSV import: "lat, lng" and JSON cells; bad rows reported by line, none of them written
        csv = ("name,location\n"
               "csv good,\"48.2, 11.6\"\n"
               "csv json,\"{\"\"lat\"\": 48.3, \"\"lng\"\": 11.7}\"\n"
               "csv nan,\"nan, 11\"\n"
               "csv range,\"95, 11\"\n"
               "csv junk,\"{\"\"lat\"\": 1, \"\"lng\"\": 2, \"\"z\"\": 3}\"\n"
               "csv text,somewhere\n")
        r = self.as_("admin", "POST", "/objects/site/import", csv, content_type="text/csv")
        check(r.status in (200, 422), "import: %s" % r.body[:400])
        body = r.json
        created = body.get("created", 0)
        rows = {e["line"]: e["errors"][0] for e in body.get("row_errors", [])}
        eq(sorted(rows), [4, 5, 6, 7], "bad lines reported: %r" % body)
        check(all(e["field"] == "location" for e in rows.values()), "each names the field: %r" % rows)
        eq((created, body.get("rejected")), (2, 4), "the good rows imported")
        names = self.names("admin", "name like 'csv %'")
        check(not {"csv nan", "csv range", "csv junk", "csv text"} & set(names), "no bad row written: %r" % names)
        if created:
            eq(sorted(self.names("admin", "within(location, point(48.25, 11.65), 10000) and name like 'csv%'")),
               ["csv good", "csv json"], "imported points are indexed")

    def test_bad_geo_expressions_are_400_and_check_names_the_place(self):
        for text, word in (("within(name, point(48.1, 11.5), 5)", "needs a geo field"),
                           ("distance(location) < 5", "takes 2 arguments"),
                           ("within(location, point(91, 0), 5)", "latitude"),
                           ("within(location, point(1, 2), -1)", "0 or more"),
                           ("within(location, point('a', 2), 5)", "needs a number"),
                           ("point(1, 2) is null", "use it in distance() or within()"),
                           ("within(location, point(1, 2), 1e999)", "")):
            r = self.as_("rep", "GET", "/objects/site?filter=" + q(text))
            check(r.status == 400, "%s: %d %s" % (text, r.status, r.body[:200]))
            check(word in r.body.decode(), "%s: %s" % (text, r.body[:300]))
        # a hidden geo field is as unknown as one that does not exist, in within() and in distance()
        for text in ("within(hideout, point(1, 2), 10)", "distance(hideout, location) > 0",
                     "within(nosuch, point(1, 2), 10)"):
            r = self.as_("rep", "GET", "/objects/site?filter=" + q(text))
            doc = problem(r, 400, text)
            check("unknown field" in doc.get("detail", ""), "%s: %r" % (text, doc))
        eq(self.names("admin", "within(hideout, point(1, 2), 10)"), [s[0] for s in SITES], "the admin may")
        # crm check: file:line:column of the expression
        bad = os.path.join(self.work, "bad-metadata")
        shutil.copytree(METADATA, bad)
        path = os.path.join(bad, "site.yaml")
        with open(path) as f:
            text = f.read()
        text = text.replace('formula: "distance(check_in, site.location)"', 'formula: "distance(check_in, site.name)"')
        text = text.replace('within(check_in, site.location, 200)" }', 'within(check_in, point(95, 0), 200)" }')
        with open(path, "w") as f:
            f.write(text)
        r = subprocess.run([crm_binary(), "check", "--metadata", bad], capture_output=True, text=True, cwd=ROOT)
        eq(r.returncode, 1, "crm check fails")
        check("site.yaml:23:26: error: invalid expression: column 20: function 'distance' needs a geo field or "
              "point(lat, lng), not 'site.name' (text)" in r.stderr, r.stderr)
        check("site.yaml:25:24: error: invalid expression: column 24: a latitude is from -90 to 90, not 95" in r.stderr,
              r.stderr)
        # a field named as a geo field's number column
        with open(path, "w") as f:
            with open(os.path.join(METADATA, "site.yaml")) as original:
                f.write(original.read().replace("  lng:      { type: decimal", "  location__lng: { type: decimal"))
        r = subprocess.run([crm_binary(), "check", "--metadata", bad], capture_output=True, text=True, cwd=ROOT)
        check(r.returncode == 1 and "site.yaml:9:3: error: field 'location__lng' is the column that keeps geo field "
              "'location' as numbers" in r.stderr, r.stderr)

    def test_a_database_from_before_gets_its_point_columns(self):
        self.server.stop()
        db = sqlite3.connect(self.server.db)
        db.executescript('DROP INDEX site__location__geo; ALTER TABLE site DROP COLUMN location__lat;'
                         'ALTER TABLE site DROP COLUMN location__lng;'
                         "DELETE FROM _crm_indexes WHERE name = 'site__location__geo';")
        points = db.execute("SELECT id, location FROM site WHERE location IS NOT NULL ORDER BY id").fetchall()
        db.close()
        r = subprocess.run([crm_binary(), "migrate", "--dry-run", "--db", self.server.db, "--metadata", METADATA,
                            "--plugins", os.path.join(self.work, "plugins")], capture_output=True, text=True, cwd=ROOT)
        check("create index site__location__geo (the points of site.location as numbers" in r.stdout + r.stderr,
              "the plan says so: %s %s" % (r.stdout, r.stderr))
        self.server.start()
        self.c = Client(self.server.port)
        self.h["rep"] = login(self.server.port, "rep", PASSWORD)
        self.h["admin"] = login(self.server.port)
        db = sqlite3.connect(self.server.db)
        eq(db.execute("SELECT id, location FROM site WHERE location IS NOT NULL ORDER BY id").fetchall(), points,
           "the JSON untouched")
        filled = db.execute("SELECT count(*) FROM site WHERE location IS NOT NULL AND location__lat = "
                            "json_extract(location, '$.lat') AND location__lng = json_extract(location, '$.lng')"
                            ).fetchone()[0]
        eq(filled, len(points), "every point's numbers filled")
        eq(db.execute("SELECT count(*) FROM site WHERE location IS NULL AND location__lat IS NOT NULL").fetchone()[0],
           0, "none without a point")
        plan = " ".join(r[-1] for r in db.execute("EXPLAIN QUERY PLAN SELECT id FROM site t0 WHERE t0.id IN "
                                                  "(SELECT id FROM site WHERE location__lat BETWEEN 1 AND 2 AND "
                                                  "location__lng BETWEEN 1 AND 2)"))
        check("site__location__geo" in plan, "the box is an index search: %s" % plan)
        db.close()
        eq(sorted(self.names("rep", "within(location, point(48.137, 11.575), 5000)")), ["marienplatz", "stachus"],
           "within after the migration")


def main():
    return run_suite("geo", METADATA, [("rep", PASSWORD, "rep")], Suite, (
        "within_lists_exactly_the_sites_in_the_circle", "check_in_72_m_passes_and_2_1_km_is_flagged",
        "moves_clears_deletes_and_restores_follow", "bad_points_are_refused_at_every_door",
        "bad_geo_expressions_are_400_and_check_names_the_place", "a_database_from_before_gets_its_point_columns"))


if __name__ == "__main__":
    sys.exit(main())
