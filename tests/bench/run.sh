#!/bin/sh
# make bench: figures beside floors measured in the same run, on this machine.
#   1. crm import of 1,000,000 accounts (records/s)  vs  raw SQLite inserts of the same rows
#   2. object API get by id and filtered list         vs  raw prepared statements
#   3. HTTP (tests/bench/http_bench.sh, if present)   vs  a bare libmicrohttpd server
#   4. a report across objects (campaign -> won revenue) vs  the hand-written SQL of the same figures
#   5. full-text search over 100,000 zh+en articles (p50/p99) vs  the raw FTS5 query of the same work
#   4. every kpi of metadata/kpis.yaml for 50 users x 12 months  vs  the hand-written SQL of the same figures
#   6. the SLA breach timer over 100,000 past-due cases (cases/s)  vs  raw SQL selecting and flagging them
#   7. within(location, point, metres) on 1,000,000 accounts (p50/p99)  vs  the same test without the box (a scan)
#   8. a deal registration's submit with its conflict check over 100,000 accounts and 100,000 registrations
#      (p50/p99)  vs  the raw index probes of the same check
#   9. points: earn, post and redeem on one member and across 100,000 members, the balance at 1,000,000
#      ledger rows (plugins/membership)  vs  raw inserts of the same rows and a raw SUM
#  10. online backup of the $N-account database while a writer commits accounts (time, MB/s, the writer's
#      commits/s during it)  vs  the writer alone; backup API vs VACUUM INTO; the restored copy compared
set -e
CRM=${CRM:-build/crm}
BUILD=${BUILD:-build}
N=${BENCH_RECORDS:-1000000}
dir=${BENCH_DIR:-build/bench}
mkdir -p "$dir"
csv=$dir/accounts.csv
if [ ! -s "$csv" ] || [ "$(wc -l < "$csv")" -ne $((N + 1)) ]; then
	echo "generating $N accounts as CSV..."
	awk -v n="$N" 'BEGIN {
		split("technology manufacturing financial_services healthcare retail automotive energy logistics", ind, " ");
		split("Berlin Munich Paris Lyon London Leeds Shanghai Beijing Austin Boston", city, " ");
		split("Germany Germany France France UK UK China China USA USA", country, " ");
		print "name,industry,type,annual_revenue,employees,phone,website,email,billing_city,billing_country,rating";
		srand(7);
		for (i = 1; i <= n; i++) {
			c = int(rand() * 10) + 1;
			printf "Company %07d %s,%s,%s,%.2f,%d,+49 30 %07d,https://www%d.example.com,info@c%d.example.com,%s,%s,%s\n",
				i, (i % 3 ? "GmbH" : "Ltd"), ind[int(rand() * 8) + 1], (i % 4 ? "customer" : "prospect"),
				rand() * 5000000, int(rand() * 5000), i, i, i, city[c], country[c], (i % 3 ? "warm" : "hot");
		}
	}' > "$csv"
fi
db=$dir/bench.db
rm -f "$db" "$db-wal" "$db-shm"
echo
echo "== import: $N accounts"
start=$(date +%s.%N)
"$CRM" import account "$csv" --db "$db" --metadata metadata 2>/dev/null | tail -n 1
end=$(date +%s.%N)
import_rate=$(echo "$start $end $N" | awk '{ printf "%.0f", $3 / ($2 - $1) }')
# floor: the same rows through one raw prepared INSERT in transactions of 50,000 (as crm import),
# into the same schema (made by crm migrate: same columns, same indexes)
floor_db=$dir/floor.db
rm -f "$floor_db" "$floor_db-wal" "$floor_db-shm"
"$CRM" migrate --db "$floor_db" --metadata metadata > /dev/null
floor_rate=$("$BUILD"/bench/bench_floor_import "$floor_db" "$csv")
echo "crm import          $import_rate records/s"
echo "raw SQLite inserts  $floor_rate records/s  (ratio $(echo "$import_rate $floor_rate" | awk '{ printf "%.0f%%", 100 * $1 / $2 }'))"
echo
echo "== object API on $N accounts"
"$BUILD"/bench/bench_object "$db" metadata
echo
echo "== access control on $N accounts"
"$BUILD"/bench/bench_access "$db" metadata
echo
echo "== workflow transitions"
"$BUILD"/bench/bench_workflow
echo
echo "== plugin hooks"
"$BUILD"/bench/bench_plugin
echo
echo "== report across objects: campaign -> members -> leads -> won opportunities"
# the chain of tests/api/report/campaign.yaml beside the shipped metadata; data written raw by the bench
report_meta=$dir/report-metadata
rm -rf "$report_meta" && mkdir -p "$report_meta"
cp metadata/*.yaml tests/api/report/campaign.yaml "$report_meta"/
# the fixture is its own campaign chain: the marketing package (which ships the real one) is left out
sed -i 's/^plugins: \[\(.*\), marketing\(.*\)\]/plugins: [\1\2]/' "$report_meta/app.yaml"
report_db=$dir/report.db
rm -f "$report_db" "$report_db-wal" "$report_db-shm"
"$CRM" migrate --db "$report_db" --metadata "$report_meta" > /dev/null
"$BUILD"/bench/bench_report "$report_db" "$report_meta"
echo
echo "== lead to cash (plugins/lead2cash)"
"$BUILD"/bench/bench_quote metadata plugins
echo
echo "== KPI evaluation model: 50 users x 12 months (metadata/kpis.yaml)"
# the kernel's metadata without the packages: every kpi it evaluates has its SQL in bench_kpi
rm -rf "$dir/kpi-metadata"
cp -r metadata "$dir/kpi-metadata"
sed -i 's/^plugins:.*/plugins: []/' "$dir/kpi-metadata/app.yaml"
"$BUILD"/bench/bench_kpi "$dir/kpi-metadata"
echo
echo "== full-text search: ${SEARCH_RECORDS:-100000} articles of Chinese and English (tests/api/search)"
search_db=$dir/search.db
rm -f "$search_db" "$search_db-wal" "$search_db-shm"
"$BUILD"/bench/bench_search "$search_db" tests/api/search "${SEARCH_RECORDS:-100000}"
echo
echo "== SLA breach timer sweep: ${SLA_CASES:-100000} open cases past due (plugins/service)"
"$BUILD"/bench/bench_sla metadata plugins "${SLA_CASES:-100000}"
echo
echo "== points ledger: ${POINTS_MEMBERS:-100000} members, ${POINTS_ROWS:-1000000} ledger rows (plugins/membership)"
"$BUILD"/bench/bench_points metadata plugins "${POINTS_MEMBERS:-100000}" "${POINTS_ROWS:-1000000}"
echo
echo "== knowledge base: ${KB_RECORDS:-100000} published articles, suggestions from a case's subject (plugins/service)"
kb_db=$dir/kb.db
rm -f "$kb_db" "$kb_db-wal" "$kb_db-shm"
"$BUILD"/bench/bench_search --kb "$kb_db" "${KB_RECORDS:-100000}"
echo
echo "== geo: within() on ${GEO_RECORDS:-$N} accounts with a location  vs  the same distance test scanning them"
# kept between runs (build/bench/geo.db), like the search bench's: filling it through the object API takes minutes
"$BUILD"/bench/bench_geo "$dir/geo.db" metadata "${GEO_RECORDS:-$N}"
echo
echo "== deal registration conflict check: ${CONFLICT_RECORDS:-100000} accounts and registrations (plugins/channel)"
"$BUILD"/bench/bench_conflict metadata plugins "${CONFLICT_RECORDS:-100000}"
if [ -f tests/bench/http_bench.sh ]; then
	echo
	echo "== HTTP"
	CRM="$CRM" BUILD="$BUILD" sh tests/bench/http_bench.sh "$db"
fi
# The web UI at scale: the accounts list's first paint over the same 1,000,000 accounts
# (headless Chromium and playwright-core from tests/ui, when they are there).
if [ -x /usr/bin/chromium ] && [ -d tests/ui/node_modules/playwright-core ]; then
	echo
	echo "== UI: accounts list first paint on $N accounts"
	printf 'demo1234\n' | "$CRM" user add --login bench_admin --role admin --db "$db" --metadata metadata >/dev/null 2>&1 || true
	port=18731
	"$CRM" serve --db "$db" --metadata metadata --port $port --quiet >/dev/null 2>&1 &
	server=$!
	trap 'kill $server 2>/dev/null' EXIT
	sleep 2
	node tests/ui/first_paint.mjs "http://127.0.0.1:$port" bench_admin demo1234 3 || echo "first paint: failed"
	kill $server 2>/dev/null; wait $server 2>/dev/null || true
	trap - EXIT
fi
# last: its writer adds accounts to the bench database
echo
echo "== online backup of the $N-account database under a writer (crm backup; RELIABILITY row 5)"
"$BUILD"/bench/bench_backup "$db" metadata plugins
