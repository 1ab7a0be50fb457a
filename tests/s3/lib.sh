# Shared by tests/s3/*-check: a temp folder, failure reporting, cleanup of
# the servers the test started (by their pid, nothing else).
TMP=$(mktemp -d "${TMPDIR:-/tmp}/orgtrail-s3.XXXXXX")
PIDS=()
FAILS=0
cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
  [ -n "${S3_KEEP:-}" ] && echo "kept $TMP" >&2 || rm -rf "$TMP"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
pass() { echo "ok: $*"; }
# expect_eq WHAT GOT WANT
expect_eq() {
  if [ "$2" == "$3" ]; then pass "$1"; else fail "$1: got [$2], want [$3]"; fi
}
# expect_file_eq WHAT GOT-FILE WANT-FILE
expect_file_eq() {
  if cmp -s "$2" "$3"; then pass "$1"; else fail "$1"; diff "$2" "$3" | head -10 >&2; fi
}
# start_server NAME CMD...: runs CMD in the background, waits for a line
# "... port N" / "...:N" on its stdout and sets PORT.
start_server() {
  local name=$1; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  PIDS+=($!)
  local i
  for i in $(seq 1 100); do
    PORT=$(grep -m1 -oE '(port |:)[0-9]+' "$TMP/$name.out" 2>/dev/null | grep -oE '[0-9]+$')
    [ -n "$PORT" ] && return 0
    sleep 0.1
  done
  echo "FAIL: $name did not start:" >&2
  cat "$TMP/$name.out" "$TMP/$name.err" >&2
  exit 1
}
