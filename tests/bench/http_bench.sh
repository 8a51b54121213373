#!/bin/sh
# HTTP figures (make bench): wrk on loopback, 2 threads, keep-alive, after a
# warm-up, against `crm serve` on a database of accounts and, in the same run,
# against tests/bench/http_floor.c (a bare libmicrohttpd server answering a
# fixed 200-byte JSON body). Prints one table: route, req/s, p50, p99, ratio
# to the floor; then the import rate through POST .../import and server RSS.
#
#   sh tests/bench/http_bench.sh DB        (DB holds the accounts; it is written to)
# Environment: CRM (build/crm), BUILD (build), DURATION (5 s per run),
# ROUNDS (3), WARMUP (2 s), CONNECTIONS (32), METADATA (metadata),
# IMPORT_ROWS (50000), POST_THREADS (16: the server's threads for the second POST run).
set -e
db=${1:?usage: http_bench.sh DB}
CRM=${CRM:-build/crm}
BUILD=${BUILD:-build}
DURATION=${DURATION:-5}
ROUNDS=${ROUNDS:-3}
WARMUP=${WARMUP:-2}
CONNECTIONS=${CONNECTIONS:-32}
METADATA=${METADATA:-metadata}
IMPORT_ROWS=${IMPORT_ROWS:-50000}
WRK=${WRK:-wrk}
command -v "$WRK" >/dev/null || { echo "wrk not found (apt-get install wrk)"; exit 1; }

work=$(mktemp -d)
: > "$work/table"
floor_pid=; crm_pid=
cleanup() {
	[ -n "$floor_pid" ] && kill "$floor_pid" 2>/dev/null
	[ -n "$crm_pid" ] && kill "$crm_pid" 2>/dev/null
	wait 2>/dev/null
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

floor=$BUILD/bench/http_floor
if [ ! -x "$floor" ] || [ tests/bench/http_floor.c -nt "$floor" ]; then
	mkdir -p "$BUILD/bench"
	${CC:-cc} -std=c11 -O2 -Wall -Wextra -o "$floor" tests/bench/http_floor.c \
		$(pkg-config --cflags --libs libmicrohttpd)
fi

# Starts a server in the background, waits for its "http://host:port/" line, sets $port.
wait_port() {
	i=0
	while [ $i -lt 600 ]; do
		port=$(sed -n 's|.*http://[^ ]*:\([0-9][0-9]*\)/.*|\1|p' "$1" | head -n 1)
		[ -n "$port" ] && return 0
		sleep 0.1; i=$((i + 1))
	done
	echo "server did not start:"; cat "$1" "$2" 2>/dev/null | tail -n 20; exit 1
}

"$floor" 0 2 > "$work/floor.out" 2>&1 &
floor_pid=$!
wait_port "$work/floor.out"
floor_port=$port

# a bench user (the API needs a login); ignored if it exists from an earlier run
echo "bench-password-1" | "$CRM" user add --login bench --role admin --db "$db" --metadata "$METADATA" \
	> /dev/null 2>&1 || true
"$CRM" serve --db "$db" --metadata "$METADATA" --port 0 --threads 2 --quiet \
	> "$work/crm.out" 2> "$work/crm.err" &
crm_pid=$!
wait_port "$work/crm.out" "$work/crm.err"
crm_port=$port
base=http://127.0.0.1:$crm_port/api/v1
token=$(curl -s -H 'Content-Type: application/json' -d '{"login":"bench","password":"bench-password-1"}' \
	"$base/session" | sed -n 's/.*"token":"\([^"]*\)".*/\1/p')
[ -n "$token" ] || { echo "bench login failed"; exit 1; }
auth="Authorization: Bearer $token"

max_id=$(curl -s -H "$auth" "$base/objects/account?sort=-id&limit=1&fields=id" | sed -n 's/.*"id":\([0-9]*\).*/\1/p')
[ -n "$max_id" ] || { echo "no accounts in $db"; exit 1; }

cat > "$work/get.lua" <<LUA
math.randomseed(os.time())
request = function()
	return wrk.format("GET", "/api/v1/objects/account/" .. math.random(1, $max_id))
end
LUA
cat > "$work/list.lua" <<'LUA'
local industries = { "technology", "manufacturing", "financial_services", "healthcare",
                     "retail", "automotive", "energy", "logistics" }
math.randomseed(os.time())
request = function()
	local i = industries[math.random(1, #industries)]
	return wrk.format("GET", "/api/v1/objects/account?limit=50&sort=-annual_revenue&filter=industry%20%3D%20%27" .. i .. "%27")
end
LUA
cat > "$work/post.lua" <<'LUA'
local n = 0
local thread_id = 0
local counter = 0
setup = function(thread)
	counter = counter + 1
	thread:set("thread_id", counter)
end
request = function()
	n = n + 1
	local body = string.format('{"name":"Bench %d-%d","industry":"technology","employees":%d}',
	                           thread_id, n, n % 5000)
	-- wrk.format uses the headers given instead of wrk.headers (-H): merge them
	local headers = { ["Content-Type"] = "application/json" }
	for name, value in pairs(wrk.headers) do headers[name] = value end
	return wrk.format("POST", "/api/v1/objects/account", headers, body)
end
LUA

# run NAME URL [SCRIPT]: warm-up, then the measured run; appends "NAME rps p50 p99 non2xx".
run() {
	name=$1; url=$2; script=$3
	set -- -t2 -c"$CONNECTIONS" --latency -H "$auth"
	[ -n "$script" ] && set -- "$@" -s "$script"
	"$WRK" "$@" -d"${WARMUP}s" "$url" > /dev/null
	out=$work/run$(wc -l < "$work/table" 2>/dev/null || echo 0).txt
	"$WRK" "$@" -d"${DURATION}s" "$url" > "$out"
	rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' "$out")
	p50=$(awk '$1 == "50%" { print $2 }' "$out")
	p99=$(awk '$1 == "99%" { print $2 }' "$out")
	non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$out")
	echo "$name|$rps|$p50|$p99|${non2xx:-0}" >> "$work/table"
}

# Each route is measured beside the floor driven by the very same wrk script
# (same paths, headers and bodies; the floor ignores them and answers its
# fixed 200 bytes). wrk shares the two cores with the server, and a Lua
# request() per request roughly doubles wrk's own cost per request, so a
# floor measured without the script would charge the client's extra work to
# the server. The plain floor (no script) is printed too.
run "floor" "http://127.0.0.1:$floor_port/"
#
# This machine is shared and its speed drifts by tens of percent within a
# minute, so each route and its floor are measured in alternation, ROUNDS
# times, and the table shows the median run of each.
route() {
	route_name=$1; route_path=$2; route_script=$3
	round=1
	while [ "$round" -le "$ROUNDS" ]; do
		run "floor:$route_name" "http://127.0.0.1:$floor_port$route_path" "$route_script"
		run "$route_name" "http://127.0.0.1:$crm_port$route_path" "$route_script"
		round=$((round + 1))
	done
}
route "GET /objects/account/{id}" /api/v1/objects/account/1 "$work/get.lua"
route "GET /objects/account?filter&sort&limit=50" /api/v1/objects/account "$work/list.lua"
route "POST /objects/account" /api/v1/objects/account "$work/post.lua"
# Group commit (core/store/store.c) joins the writes of server threads that wait together: with
# 2 threads a COMMIT covers at most 2 requests. The same POSTs against the server restarted with
# POST_THREADS threads (the session survives the restart: it is in the database).
kill "$crm_pid"; wait "$crm_pid" 2>/dev/null || true
"$CRM" serve --db "$db" --metadata "$METADATA" --port 0 --threads "${POST_THREADS:-16}" --quiet \
	> "$work/crm.out" 2> "$work/crm.err" &
crm_pid=$!
wait_port "$work/crm.out" "$work/crm.err"
crm_port=$port
base=http://127.0.0.1:$crm_port/api/v1
route "POST /objects/account (${POST_THREADS:-16} threads)" /api/v1/objects/account "$work/post.lua"

echo
printf '%-42s %9s %9s %9s %13s %7s\n' route req/s p50 p99 "floor req/s" ratio
# the median run of each name (by req/s), in the order the names first appear
sort -t'|' -k1,1 -k2,2n -s "$work/table" | awk -F'|' '
	{ n[$1]++; row[$1, n[$1]] = $0 }
	END { for (k in n) print row[k, int((n[k] + 1) / 2)] }' > "$work/median"
awk -F'|' '!seen[$1]++ { print $1 }' "$work/table" | while IFS= read -r name; do
	grep -F "$name|" "$work/median" | awk -F'|' -v name="$name" '$1 == name'
done > "$work/ordered"
awk -F'|' '
	$1 == "floor" { printf "%-42s %9.0f %9s %9s %13s %7s\n", "bare libmicrohttpd, no wrk script", $2, $3, $4, "", ""; next }
	$1 ~ /^floor:/ { floor[substr($1, 7)] = $2; next }
	{
		f = floor[$1];
		printf "%-42s %9.0f %9s %9s %13.0f %6.0f%%%s\n", $1, $2, $3, $4, f, 100 * $2 / f,
		       ($5 > 0 ? "  (" $5 " non-2xx!)" : "");
	}' "$work/ordered"
echo "(medians of $ROUNDS alternating runs; floor req/s: the bare libmicrohttpd server under the same wrk script)"

# Import through the API: one POST of IMPORT_ROWS CSV rows.
awk -v n="$IMPORT_ROWS" 'BEGIN {
	print "name,industry,type,annual_revenue,employees,billing_city,billing_country";
	for (i = 1; i <= n; i++)
		printf "Imported %07d,retail,customer,%d.50,%d,Leeds,UK\n", i, i * 7 % 100000, i % 5000;
}' > "$work/import.csv"
start=$(date +%s.%N)
created=$(curl -s -H "$auth" -H 'Content-Type: text/csv' --data-binary @"$work/import.csv" "$base/objects/account/import" \
	| sed -n 's/.*"created":\([0-9]*\).*/\1/p')
end=$(date +%s.%N)
echo
echo "$start $end $created" | awk '{ printf "POST /objects/account/import            %12.0f records/s (%d records in %.2f s)\n", $3 / ($2 - $1), $3, $2 - $1 }'
rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$crm_pid/status")
hwm=$(awk '/^VmHWM/ { print $2 }' "/proc/$crm_pid/status")
records=$(curl -s -H "$auth" "$base/objects/account?count=estimate&limit=1&fields=id" | sed -n 's/.*"total":\([0-9]*\).*/\1/p')
echo "crm serve RSS: $((rss / 1024)) MiB now, $((hwm / 1024)) MiB peak, with about $records accounts"
