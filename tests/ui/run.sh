#!/bin/sh
# The web UI's browser tests (DESIGN.md section 7): playwright-core driving Debian's Chromium,
# headless, against a real `crm serve` on a free port over a fresh `crm demo --records 300`
# database. Installs what is missing: chromium with apt-get (as root; otherwise prints the
# command and fails), playwright-core with `npm ci` (never a browser download).
# Prints "ok NAME" / "FAIL NAME" and "N passed, N failed". Screenshots: tests/ui/screenshots/.
cd "$(dirname "$0")/../.." || exit 1
CRM=${CRM:-build/crm}
CHROMIUM=${CHROMIUM:-/usr/bin/chromium}
fail() { echo "FAIL ui: $1"; echo "0 passed, 1 failed"; exit 1; }

[ -x "$CRM" ] || fail "$CRM not built (run make)"
if [ ! -x "$CHROMIUM" ]; then
	if [ "$(id -u)" = 0 ]; then
		echo "# installing chromium (apt-get)"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1 ||
			fail "apt-get install chromium failed"
	else
		echo "chromium is missing; run: sudo apt-get update && sudo apt-get install -y chromium"
		fail "no $CHROMIUM"
	fi
fi
# zh screenshots need CJK glyphs (without a font Chromium draws boxes)
if ! dpkg -s fonts-noto-cjk >/dev/null 2>&1; then
	if [ "$(id -u)" = 0 ]; then
		echo "# installing fonts-noto-cjk (apt-get)"
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-cjk; } >/dev/null 2>&1 ||
			echo "# fonts-noto-cjk could not be installed: zh screenshots will show boxes"
	else
		echo "# fonts-noto-cjk is missing (sudo apt-get install -y fonts-noto-cjk): zh screenshots will show boxes"
	fi
fi
command -v node >/dev/null 2>&1 || fail "node is missing (apt-get install -y nodejs npm)"
if [ ! -d tests/ui/node_modules/playwright-core ] || [ ! -d tests/ui/node_modules/axe-core ]; then
	echo "# npm ci in tests/ui (playwright-core and axe-core, pinned in package-lock.json)"
	(cd tests/ui && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || fail "npm ci in tests/ui failed"
fi
rm -f tests/ui/screenshots/*.png
# the main suite, then the service console's (console_test.mjs), the portals' (portal_test.mjs), the
# rep's day of the fieldforce package (fieldforce_test.mjs) and the automotive pack's
# (automotive_test.mjs); the total (a suite that printed no total counts as a failure)
out=$(mktemp)
CRM="$CRM" CHROMIUM="$CHROMIUM" node tests/ui/ui_test.mjs | tee "$out"
CRM="$CRM" CHROMIUM="$CHROMIUM" node tests/ui/console_test.mjs | tee -a "$out"
CRM="$CRM" CHROMIUM="$CHROMIUM" node tests/ui/portal_test.mjs | tee -a "$out"
CRM="$CRM" CHROMIUM="$CHROMIUM" node tests/ui/fieldforce_test.mjs | tee -a "$out"
CRM="$CRM" CHROMIUM="$CHROMIUM" node tests/ui/automotive_test.mjs | tee -a "$out"
grep -E '^[0-9]+ passed, [0-9]+ failed' "$out" | awk '{ p += $1; f += $3 } END { if (NR < 5) f++; print p " passed, " f " failed"; exit f > 0 }'
status=$?
rm -f "$out"
exit $status
