#!/bin/sh
# The OpenAPI contract suite: starts a real `crm serve` (from $CRM, default build/crm) on a
# free loopback port over a fresh `crm demo --records 60 --seed 7` database with the repo's
# metadata/ and plugins/, then tests/contract/contract.mjs logs in as several demo users and
#   1. lints each caller's GET /api/v1/openapi.json with redocly (recommended ruleset,
#      tests/contract/redocly.yaml): zero errors;
#   2. calls every route of each document for every object the caller may see (list, get,
#      create, patch, delete, restore, history, shares, reports, transitions, approvals,
#      import, batch, meta, session, plugin routes and actions, and their errors) and
#      validates every real response against the document (Ajv, JSON Schema 2020-12);
#   3. generates TypeScript types with openapi-typescript, writes the captured responses as
#      typed fixtures and runs tsc --strict --noEmit over them.
# Tools come from tests/contract/package-lock.json, installed here with `npm ci` when
# node_modules is missing (the npm registry only; nothing is downloaded at run time).
# Prints "ok NAME" / "FAIL NAME: why" and "N passed, N failed" last. KEEP=1 keeps the
# temporary directory (documents, generated types, fixtures, server log).
cd "$(dirname "$0")/../.." || exit 1
CRM=${CRM:-build/crm}
fail() { echo "FAIL contract: $1"; echo "0 passed, 1 failed"; exit 1; }

[ -x "$CRM" ] || fail "$CRM not built (run make)"
command -v node >/dev/null 2>&1 || fail "node is missing (apt-get install -y nodejs npm)"
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true NO_UPDATE_NOTIFIER=1
modules=tests/contract/node_modules
if [ ! -d $modules/@redocly/cli ] || [ ! -d $modules/ajv ] || [ ! -d $modules/ajv-formats ] ||
   [ ! -d $modules/openapi-typescript ] || [ ! -d $modules/typescript ]; then
	echo "# npm ci in tests/contract (@redocly/cli, ajv, ajv-formats, openapi-typescript, typescript)"
	(cd tests/contract && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in tests/contract failed"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/crm-contract.XXXXXX") || fail "mktemp failed"
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		pid=
	fi
	if [ -n "$KEEP" ]; then echo "# kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$CRM" demo --db "$work/demo.db" --records 60 --seed 7 --metadata metadata --plugins plugins \
	>"$work/demo.log" 2>&1 || fail "crm demo failed: $(tail -n 5 "$work/demo.log")"
: >"$work/serve.out"
"$CRM" serve --db "$work/demo.db" --metadata metadata --plugins plugins --port 0 --bind 127.0.0.1 \
	>"$work/serve.out" 2>"$work/serve.log" &
pid=$!
base=
i=0
while [ $i -lt 100 ]; do
	base=$(sed -n 's|.*\(http://[^ /]*:[0-9]*\)/.*|\1|p' "$work/serve.out" | head -n 1)
	[ -n "$base" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
	i=$((i + 1))
done
[ -n "$base" ] || fail "crm serve did not start: $(tail -n 5 "$work/serve.log")"

node tests/contract/contract.mjs "$base" "$work"
status=$?
if [ $status -ne 0 ] && [ -s "$work/serve.log" ]; then
	echo "# server log (last lines):"
	tail -n 5 "$work/serve.log" | sed 's/^/# /'
fi
exit $status
