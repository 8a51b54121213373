#!/bin/sh
# The outbox (e-mail over SMTP, signed webhooks): a real `crm serve` with the repo's metadata, the
# templates in tests/api/outbox/ and the test plugin tests/plugins/outbox_test, an SMTP server and a
# webhook receiver on loopback that outbox_test.py starts in its own process (so they stop with it,
# whatever happens; a trap stops a server left behind). ONLY=substring, KEEP=1 as in run.sh.
cd "$(dirname "$0")/../.." || exit 1
PYTHON=/usr/bin/python3
[ -x "$PYTHON" ] || PYTHON=python3
CRM="${CRM:-build/crm}" "$PYTHON" tests/api/outbox_test.py &
child=$!
trap 'kill $child 2>/dev/null; wait $child' INT TERM
wait $child
