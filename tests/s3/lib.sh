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
# "... port N" / "...:N" on its stdout and sets PORT. It waits up to 120 s
# (in CI, node's first start of s3rver beside the views test's Chromium on
# 2 cores took over the 10 s once allowed) and stops waiting at once when
# CMD exits.
start_server() {
  local name=$1; shift
  "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" &
  local pid=$!
  PIDS+=($pid)
  local i start=$SECONDS
  for i in $(seq 1 1200); do
    PORT=$(grep -m1 -oE '(port |:)[0-9]+' "$TMP/$name.out" 2>/dev/null | grep -oE '[0-9]+$')
    [ -n "$PORT" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "FAIL: $name did not start in $((SECONDS - start)) s:" >&2
  else
    wait "$pid"
    echo "FAIL: $name exited (status $?) before it listened:" >&2
  fi
  cat "$TMP/$name.out" "$TMP/$name.err" >&2
  exit 1
}
# start_s3rver_and_proxy: checks the tools, starts s3rver (bucket "trail",
# its account S3RVER/S3RVER in the environment, HOME in TMP) and
# sigv4-proxy.py in front of it; sets S3 (s3rver's URL) and PROXY.
start_s3rver_and_proxy() {
  for tool in node npm aws python3; do
    command -v $tool >/dev/null || { echo "FAIL: $tool is missing (scripts/deps installs it)" >&2; exit 1; }
  done
  # s3rver from the lock file, in tests/s3/node_modules (gitignored), put
  # there by scripts/deps (npm ci): a test never uses the network.
  if [ ! -x "$HERE/node_modules/.bin/s3rver" ]; then
    echo "FAIL: s3rver is missing: run '. scripts/deps; orgtrail_install_deps' (npm ci in tests/s3)" >&2
    exit 1
  fi
  # s3rver 3.7.1's file store never enters a folder below the listed prefix
  # when a delimiter is given, so nested keys give no CommonPrefixes. Undo
  # that one filter (the key loop below it computes the prefixes right).
  FS="$HERE/node_modules/s3rver/lib/stores/filesystem.js"
  if ! grep -q 'orgtrail: common prefixes' "$FS"; then
    python3 - "$FS" <<'PY' || { echo "FAIL: cannot patch s3rver" >&2; exit 1; }
import os, sys
p = sys.argv[1]
s = open(p).read()
if "orgtrail: common prefixes" in s:
    sys.exit(0)   # another test patched it since the grep
old = "          delimiterEnc &&\n          dirPath.slice(prefixPath.length).indexOf(delimiterEnc) !== -1"
if old not in s:
    sys.exit("s3rver's listObjects changed: review the patch in tests/s3/lib.sh")
s = s.replace(old, "          false /* orgtrail: common prefixes need the nested keys */ &&\n          delimiterEnc")
# Written beside it and renamed over it: tests running at once each patch,
# and none may read (or let node load) a half-written file.
with open(p + ".orgtrail.%d" % os.getpid(), "w") as f:
    f.write(s)
os.replace(f.name, p)
PY
  fi

  export HOME=$TMP/home AWS_EC2_METADATA_DISABLED=true AWS_REGION=us-east-1
  mkdir -p "$HOME"
  unset AWS_PROFILE AWS_ENDPOINT_URL AWS_ENDPOINT_URL_S3 AWS_SESSION_TOKEN AWS_WEB_IDENTITY_TOKEN_FILE \
        AWS_CONTAINER_CREDENTIALS_FULL_URI AWS_CONTAINER_CREDENTIALS_RELATIVE_URI
  export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER   # s3rver's own account

  # s3rver makes continuation tokens with DES, which Node's OpenSSL 3 keeps in its legacy provider.
  start_server s3rver env NODE_OPTIONS=--openssl-legacy-provider "$HERE/node_modules/.bin/s3rver" -d "$TMP/s3rver" -a 127.0.0.1 -p 0 --configure-bucket trail
  S3=http://127.0.0.1:$PORT
  start_server proxy python3 "$HERE/sigv4-proxy.py" --upstream 127.0.0.1:${S3##*:} --access-key S3RVER --secret S3RVER
  PROXY=http://127.0.0.1:$PORT
}
