#!/usr/bin/env bash
# Run go test with the real dependencies the integration tests need, shared
# by the whole run. Arguments go to `go test` unchanged, e.g.
#
#   bash scripts/test.sh -race -count=1 ./...
#
# It starts:
#   - a throwaway PostgreSQL cluster (initdb + pg_ctl from the Debian layout
#     /usr/lib/postgresql/*/bin, or from PATH) on a free 127.0.0.1 port with
#     fsync off, and exports GLASSBOX_TEST_POSTGRES_DSN (an admin DSN read by
#     internal/testenv.Postgres, which creates one database per test). If the
#     variable is already set, that cluster is used and none is started.
#   - `python3 -m moto.server` (S3/KMS/SageMaker emulator) on a free port,
#     and exports GLASSBOX_TEST_MOTO_ENDPOINT (read by internal/testenv.Moto).
# Both are stopped (and the cluster's folder removed) on exit; the script
# exits with go test's status.
#
# A missing dependency fails the run under CI=true/1 (for PostgreSQL, after
# trying `apt-get install postgresql`); on a developer machine it prints a
# warning and the tests that need it start their own or skip.
set -euo pipefail
cd "$(dirname "$0")/.."

in_ci() { [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; }

MOTO_PID=""
MOTO_LOG=""
PG_DIR=""
PG_BIN=""
AS_PG=() # command prefix that runs PostgreSQL tools as the postgres user when we are root
cleanup() {
	if [[ -n "$MOTO_PID" ]]; then
		kill "$MOTO_PID" 2>/dev/null || true
		wait "$MOTO_PID" 2>/dev/null || true
	fi
	[[ -n "$MOTO_LOG" ]] && rm -f "$MOTO_LOG"
	if [[ -n "$PG_DIR" ]]; then
		if [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
			"${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w -t 20 stop >/dev/null 2>&1 || true
		fi
		rm -rf "$PG_DIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# free_port prints a TCP port on 127.0.0.1 that was free a moment ago.
free_port() {
	if command -v python3 >/dev/null 2>&1; then
		python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
		return
	fi
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return
		fi
	done
	echo "test.sh: error: no free port found" >&2
	return 1
}

# find_pg_bin prints the folder holding initdb, pg_ctl and postgres: the
# newest /usr/lib/postgresql/<version>/bin, else the folder of initdb in PATH.
find_pg_bin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r) \
		$(command -v initdb >/dev/null 2>&1 && dirname "$(readlink -f "$(command -v initdb)")"); do
		if [[ -x "$d/initdb" && -x "$d/pg_ctl" && -x "$d/postgres" ]]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# ---- PostgreSQL ----
start_postgres() {
	if [[ -n "${GLASSBOX_TEST_POSTGRES_DSN:-}" ]]; then
		echo "test.sh: using PostgreSQL from GLASSBOX_TEST_POSTGRES_DSN" >&2
		return 0
	fi
	PG_BIN=$(find_pg_bin) || PG_BIN=""
	if [[ -z "$PG_BIN" ]] && in_ci; then
		echo "test.sh: PostgreSQL not found; installing it (apt-get install postgresql)" >&2
		local sudo=()
		[[ $(id -u) -ne 0 ]] && command -v sudo >/dev/null 2>&1 && sudo=(sudo)
		"${sudo[@]}" apt-get update >&2 || true
		DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y --no-install-recommends postgresql >&2 || true
		PG_BIN=$(find_pg_bin) || PG_BIN=""
	fi
	if [[ -z "$PG_BIN" ]]; then
		if in_ci; then
			echo "test.sh: error: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in /usr/lib/postgresql/*/bin or PATH, even after apt-get install postgresql; CI needs them for the store tests" >&2
			exit 1
		fi
		echo "test.sh: warning: PostgreSQL not found (apt-get install postgresql); tests that need it will be skipped" >&2
		return 0
	fi

	PG_DIR=$(mktemp -d "${TMPDIR:-/tmp}/glassbox-pg.XXXXXX")
	if [[ $(id -u) -eq 0 ]]; then
		# initdb and postgres refuse to run as root.
		AS_PG=(runuser -u postgres --)
		chown postgres:postgres "$PG_DIR"
	fi
	if ! "${AS_PG[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
		>"$PG_DIR/initdb.log" 2>&1; then
		echo "test.sh: error: initdb failed:" >&2
		tail -n 30 "$PG_DIR/initdb.log" >&2 || true
		exit 1
	fi
	local port
	port=$(free_port)
	if ! "${AS_PG[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 30 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
		start >/dev/null; then
		echo "test.sh: error: PostgreSQL did not start; last lines of its log:" >&2
		tail -n 30 "$PG_DIR/server.log" >&2 || true
		exit 1
	fi
	export GLASSBOX_TEST_POSTGRES_DSN="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	echo "test.sh: PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') ready on 127.0.0.1:$port ($PG_DIR)" >&2
}

# ---- moto ----
start_moto() {
	# The real interpreter, not a pyenv shim, so that $! is the server itself.
	local py=""
	if command -v python3 >/dev/null 2>&1; then
		py=$(python3 -c 'import sys, moto.server; print(sys.executable)' 2>/dev/null) || py=""
	fi
	if [[ -z "$py" ]]; then
		local msg="python3 cannot import moto.server (pip install 'moto[server]')"
		if in_ci; then
			echo "test.sh: error: $msg; CI needs it for the S3 integration tests" >&2
			exit 1
		fi
		echo "test.sh: warning: $msg; tests that need moto will be skipped" >&2
		return 0
	fi

	local port url ready=""
	port=$("$py" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
	MOTO_LOG=$(mktemp "${TMPDIR:-/tmp}/glassbox-moto.XXXXXX.log")
	"$py" -m moto.server -H 127.0.0.1 -p "$port" >"$MOTO_LOG" 2>&1 &
	MOTO_PID=$!
	url="http://127.0.0.1:$port"
	for _ in $(seq 1 200); do # 200 x 0.1s = 20s
		if ! kill -0 "$MOTO_PID" 2>/dev/null; then
			break
		fi
		if "$py" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$url/moto-api/" 2>/dev/null; then
			ready=1
			break
		fi
		sleep 0.1
	done
	if [[ -z "$ready" ]]; then
		echo "test.sh: error: moto_server did not become ready on $url; last lines of its output:" >&2
		tail -n 30 "$MOTO_LOG" >&2 || true
		exit 1
	fi
	export GLASSBOX_TEST_MOTO_ENDPOINT="$url"
	echo "test.sh: moto_server ready on $url (pid $MOTO_PID)" >&2
}

start_postgres
start_moto

status=0
"${GO:-go}" test "$@" || status=$?
exit "$status"
