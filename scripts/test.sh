#!/usr/bin/env bash
# Run go test with a shared moto_server (S3/KMS/SageMaker emulator) for the
# integration tests. Arguments go to `go test` unchanged, e.g.
#
#   bash scripts/test.sh -race -count=1 ./...
#
# It starts `python3 -m moto.server` on a free 127.0.0.1 port, waits until
# /moto-api/ answers, exports GLASSBOX_TEST_MOTO_ENDPOINT (read by
# internal/testenv.Moto), runs the tests, stops moto and exits with go test's
# status. Without moto it fails under CI=true/1 and otherwise runs the tests
# anyway (tests that need moto then start their own or skip).
set -euo pipefail
cd "$(dirname "$0")/.."

in_ci() { [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; }

# The real interpreter, not a pyenv shim, so that $! is the server itself.
PY=""
if command -v python3 >/dev/null 2>&1; then
	PY=$(python3 -c 'import sys, moto.server; print(sys.executable)' 2>/dev/null) || PY=""
fi
if [[ -z "$PY" ]]; then
	msg="python3 cannot import moto.server (pip install 'moto[server]')"
	if in_ci; then
		echo "test.sh: error: $msg; CI needs it for the S3 integration tests" >&2
		exit 1
	fi
	echo "test.sh: warning: $msg; tests that need moto will be skipped" >&2
	exec "${GO:-go}" test "$@"
fi

PORT=$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
LOG=$(mktemp "${TMPDIR:-/tmp}/glassbox-moto.XXXXXX.log")
MOTO_PID=""
cleanup() {
	if [[ -n "$MOTO_PID" ]]; then
		kill "$MOTO_PID" 2>/dev/null || true
		wait "$MOTO_PID" 2>/dev/null || true
	fi
	rm -f "$LOG"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

"$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO_PID=$!
URL="http://127.0.0.1:$PORT"

ready=""
for _ in $(seq 1 200); do # 200 x 0.1s = 20s
	if ! kill -0 "$MOTO_PID" 2>/dev/null; then
		break
	fi
	if "$PY" -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$URL/moto-api/" 2>/dev/null; then
		ready=1
		break
	fi
	sleep 0.1
done
if [[ -z "$ready" ]]; then
	echo "test.sh: error: moto_server did not become ready on $URL; last lines of its output:" >&2
	tail -n 30 "$LOG" >&2 || true
	exit 1
fi

export GLASSBOX_TEST_MOTO_ENDPOINT="$URL"
echo "test.sh: moto_server ready on $URL (pid $MOTO_PID)" >&2

status=0
"${GO:-go}" test "$@" || status=$?
exit "$status"
