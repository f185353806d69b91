#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# config_test.sh GROUP ACP_STORAGE [STATE_DIR|REDIS_SCRIPT]
# The configuration file of acp-storage through the command:
#   profiles    profiles, the precedence of --store, --profile,
#               ACP_STORAGE_URL, ACP_STORAGE_PROFILE, the file's default
#               profile and the built-in store; errors with line numbers
#   passwords   what a password file must be (mode, owner, link, lines)
#   postgres    a password-protected role of the postgres test server
#               (STATE_DIR of pg-server.sh) through password_file, PGPASSWORD
#   redis       a redis server with requirepass (started here with
#               REDIS_SCRIPT) through password_file and REDISCLI_AUTH
# Every output is checked not to hold a password.
set -euo pipefail
group=$1
cli=$2
extra=${3:-}

fail() { echo "FAIL: $*" >&2; exit 1; }
t=$(mktemp -d /tmp/acp-config-XXXXXX)
cleanup() {
  [ "$group" = redis ] && [ -n "$extra" ] && "$extra" stop "$t/redis" >/dev/null 2>&1 || true
  rm -rf "$t"
}
trap cleanup EXIT
export HOME=$t/home XDG_CONFIG_HOME=$t/xdg XDG_DATA_HOME=$t/data
unset ACP_STORAGE_URL ACP_STORAGE_PROFILE REDISCLI_AUTH
while IFS='=' read -r name _; do
  case "$name" in PG*) unset "$name" ;; esac
done < <(env)
mkdir -p "$HOME" "$XDG_CONFIG_HOME/acp-storage"
conf=$XDG_CONFIG_HOME/acp-storage/config
secrets=() # every password of this run: no output may hold one

# run CMD...: run the command, keep its exit code in $rc and its stdout and
# stderr in $out, and check that no password shows in either.
run() {
  set +e
  out=$("$cli" "$@" 2>&1)
  rc=$?
  set -e
  local s
  for s in "${secrets[@]}"; do
    if grep -qF -- "$s" <<<"$out"; then
      fail "a password shows in the output of 'acp-storage $*': $out"
    fi
  done
}
expect() { # CODE TEXT: the last run exited CODE and printed TEXT
  [ "$rc" = "$1" ] || fail "exit $rc, not $1: $out"
  grep -qF -- "$2" <<<"$out" || fail "no '$2' in: $out"
}
write_conf() { cat >"$conf"; chmod 600 "$conf"; }
password_file() { # PATH PASSWORD: a private file holding the password and a newline
  printf '%s\n' "$2" >"$1"
  chmod 600 "$1"
  secrets+=("$2")
}

profiles() {
  for n in a b d u p s; do "$cli" --store "sqlite:$t/$n.db" run save --agent x >/dev/null; done
  # No configuration file: the built-in default store.
  run ping
  expect 3 "$XDG_DATA_HOME/acp-storage/store.db"
  write_conf <<EOF
# stores of the tests
[profile a]
uri = sqlite:$t/a.db

; another comment style
[profile b]
backend = sqlite
path = $t/b.db
timeout = 5s
busy_timeout = 1000

[default]
uri = sqlite:$t/d.db
EOF
  run ping
  expect 0 "sqlite:$t/d.db"                        # the file's default profile
  run --profile a ping
  expect 0 "sqlite:$t/a.db"
  run ping --profile b                             # after the command too
  expect 0 "sqlite:$t/b.db?busy_timeout=1000"
  ACP_STORAGE_PROFILE=a run ping
  expect 0 "sqlite:$t/a.db"                        # env > file
  ACP_STORAGE_URL=sqlite:$t/u.db ACP_STORAGE_PROFILE=a run ping
  expect 0 "sqlite:$t/u.db"                        # the URL beats the profile variable
  ACP_STORAGE_URL=sqlite:$t/u.db run --profile b ping
  expect 0 "sqlite:$t/b.db"                        # command line > env
  ACP_STORAGE_PROFILE=b run --store "sqlite:$t/s.db" ping
  expect 0 "sqlite:$t/s.db"                        # --store > everything
  run --store "sqlite:$t/s.db" --profile a ping
  expect 2 "--store and --profile both name a store"
  run --profile nope ping
  expect 3 "no profile 'nope' in $conf (profiles: a b default)"
  ACP_STORAGE_PROFILE=nope run ping
  expect 3 "ACP_STORAGE_PROFILE: no profile 'nope'"
  run --profile 'bad name' ping
  expect 4 "profile name 'bad name'"
  # XDG_CONFIG_HOME unset: ~/.config.
  mkdir -p "$HOME/.config/acp-storage"
  printf '[default]\nuri = sqlite:%s/p.db\n' "$t" >"$HOME/.config/acp-storage/config"
  chmod 600 "$HOME/.config/acp-storage/config"
  XDG_CONFIG_HOME= run ping
  expect 0 "sqlite:$t/p.db"

  # Errors name the file and the line.
  bad() { # LINE TEXT CONTENT: the file CONTENT fails at LINE with TEXT
    printf '%b' "$3" >"$conf"
    chmod 600 "$conf"
    run --profile a ping
    expect 4 "$conf:$1: $2"
  }
  bad 1 "'uri' comes before any [profile NAME] section" 'uri = sqlite:x.db\n'
  bad 2 "a section is [profile NAME] or [default]" '# x\n[prof a]\n'
  bad 3 "expected 'key = value'" '[profile a]\nuri = sqlite:x.db\njust words\n'
  bad 3 "'uri' is set twice in profile 'a' (also line 2)" '[profile a]\nuri = sqlite:x.db\nuri = sqlite:y.db\n'
  bad 4 "profile 'a' is defined twice" '[profile a]\nuri = sqlite:x.db\n\n[profile a]\n'
  bad 2 "timeout 'soon' is not a duration" '[profile a]\ntimeout = soon\nuri = sqlite:x.db\n'
  bad 1 "profile 'a' names no store" '[profile a]\nschema = x\n'
  bad 2 "a section header ends with ']'" '\n[profile a\n'
  bad 2 "'schema' has no value" '[profile a]\nschema =\n'
  secrets+=("s3cr3t-in-file")
  bad 3 "a password is never written in the configuration file" \
    '[profile a]\nuri = sqlite:x.db\npassword = s3cr3t-in-file\n'
  # Nor in its uri, nor under another secret name (the file may be
  # readable by others).
  secrets+=("pw-in-file-uri" "pw-in-file-query" "pw-in-file-key")
  bad 2 "a password is never written in the configuration file" \
    '[profile a]\nuri = redis://acp:pw-in-file-uri@127.0.0.1:1/0\n'
  bad 2 "a password is never written in the configuration file" \
    '[profile a]\nuri = postgres://acp@127.0.0.1:1/acp?password=pw-in-file-query\n'
  bad 3 "a password is never written in the configuration file" \
    '[profile a]\nuri = postgres://acp@127.0.0.1:1/acp\nsslpassword = pw-in-file-key\n'
  # A URI error is named with its line too.
  bad 2 "store URI has no scheme" '[profile a]\nuri = nothing\n'
  # Only the wanted profile is applied, but every line is checked.
  bad 4 "expected 'key = value'" '[profile a]\nuri = sqlite:x.db\n[profile z]\noops\n'

  # The file itself: whoever may change it chooses the store.
  write_conf <<EOF
[profile a]
uri = sqlite:$t/a.db
EOF
  chmod 620 "$conf"
  run --profile a ping
  expect 4 "may be changed by others (mode 620)"
  chmod 644 "$conf"
  run --profile a ping
  expect 0 "sqlite:$t/a.db"                        # readable by others is fine
  rm "$conf"
  mkdir "$conf"
  run --profile a ping
  expect 4 "is not a regular file"
  rmdir "$conf"
  run --profile a ping
  expect 3 "no configuration file $conf"
}

passwords() {
  local pw=$t/pw
  password_file "$pw" "pw-never-shown-1"
  write_conf <<EOF
[profile a]
uri = sqlite:$t/a.db
password_file = $pw
EOF
  # A backend that takes no password says so, without printing it.
  run --profile a run save --agent x
  expect 4 "unknown option 'password'"
  chmod 644 "$pw"                                   # refused for its owner and for root
  run --profile a ping
  expect 4 "(mode 644): chmod 600"
  grep -qF "$conf:3: password_file $pw" <<<"$out" || fail "no file and line: $out"
  chmod 600 "$pw"
  ln -s "$pw" "$t/link"
  sed -i "s|^password_file = .*|password_file = $t/link|" "$conf"
  run --profile a ping
  expect 4 "is a symbolic link"
  sed -i "s|^password_file = .*|password_file = $t/none|" "$conf"
  run --profile a ping
  expect 4 "$t/none does not exist"
  sed -i "s|^password_file = .*|password_file = relative/pw|" "$conf"
  run --profile a ping
  expect 4 "must be an absolute path"
  : >"$t/empty"
  chmod 600 "$t/empty"
  sed -i "s|^password_file = .*|password_file = $t/empty|" "$conf"
  run --profile a ping
  expect 4 "is empty"
  printf 'pw-line-one\npw-line-two\n' >"$t/two"
  chmod 600 "$t/two"
  secrets+=(pw-line-one pw-line-two)
  sed -i "s|^password_file = .*|password_file = $t/two|" "$conf"
  run --profile a ping
  expect 4 "holds more than one line"
  # ~/ is the home directory.
  password_file "$HOME/pw" "pw-never-shown-2"
  sed -i "s|^password_file = .*|password_file = ~/pw|" "$conf"
  run --profile a ping
  expect 4 "unknown option 'password'"            # read, then refused by sqlite
  # A password in the user information of a URI that a backend refuses is
  # not echoed by the backend's message either (the library scrubs it).
  secrets+=("pw-in-authority" "pw%2Fenc")
  for uri in "sqlite://u:pw-in-authority@/$t/x.db" "file://u:pw-in-authority@host/$t/f" \
    "sqlite://u:pw%2Fenc@/$t/x.db" "file://u:pw%2Fenc@host$t/f"; do
    run --store "$uri" ping
    expect 4 "u:***@"
    run --json --store "$uri" migrate --dry-run
    [ "$rc" != 0 ] || fail "$uri opened: $out"
  done
  if grep -qF "pw/enc" <<<"$out"; then fail "the decoded password shows: $out"; fi
}

postgres() {
  # shellcheck disable=SC1091
  . "$extra/env"
  secrets+=("$ACP_PG_PASSWORD")
  local schema=cfg_$$_$RANDOM
  local uri="postgres://$ACP_PG_PW_USER@$ACP_PG_HOST:$ACP_PG_PORT/acp?schema=$schema"
  password_file "$t/pg.pw" "$ACP_PG_PASSWORD"      # with a trailing newline
  write_conf <<EOF
[profile pg]
uri = $uri
password_file = $t/pg.pw
timeout = 20s
EOF
  run --profile pg run save --agent pga
  expect 0 ""
  run --profile pg run list --format lines
  expect 0 '"agent_name":"pga"'
  run --profile pg --json ping
  expect 0 '"ok":true'
  # A wrong password in the file: refused, and neither password shows.
  password_file "$t/bad.pw" "wrong-pg-password"
  sed -i "s|^password_file = .*|password_file = $t/bad.pw|" "$conf"
  run --profile pg ping
  [ "$rc" != 0 ] || fail "a wrong password was accepted: $out"
  grep -qi "password" <<<"$out" || fail "no password failure: $out"
  run --profile pg --json ping
  [ "$rc" != 0 ] || fail "$out"
  # The password file beats PGPASSWORD; PGPASSWORD alone works too.
  sed -i "s|^password_file = .*|password_file = $t/pg.pw|" "$conf"
  PGPASSWORD=wrong-pg-password run --profile pg ping
  expect 0 "ok:"
  PGPASSWORD=$ACP_PG_PASSWORD run --store "$uri" run list --format lines
  expect 0 '"agent_name":"pga"'
  run --store "$uri" ping
  [ "$rc" != 0 ] || fail "no password at all was accepted: $out"
  "$ACP_PG_BIN/psql" -X -q -h "$ACP_PG_HOST" -p "$ACP_PG_PORT" -U postgres acp \
    -c "DROP SCHEMA IF EXISTS $schema CASCADE" >/dev/null 2>&1 || true
}

redis() {
  local pw=redis-pw-$RANDOM-$$
  secrets+=("$pw")
  "$extra" start "$t/redis" 0 --requirepass "$pw" >/dev/null
  local port
  port=$(cat "$t/redis/port")
  password_file "$t/redis.pw" "$pw"
  write_conf <<EOF
[profile r]
uri = redis://127.0.0.1:$port/0?prefix=cfg:
password_file = $t/redis.pw
EOF
  run --profile r run save --agent ra
  expect 0 ""
  run --profile r run list --format lines
  expect 0 '"agent_name":"ra"'
  # No password: refused by the server.
  run --store "redis://127.0.0.1:$port/0?prefix=cfg:" ping
  [ "$rc" != 0 ] || fail "no password was accepted: $out"
  # REDISCLI_AUTH, as for redis-cli.
  REDISCLI_AUTH=$pw run --store "redis://127.0.0.1:$port/0?prefix=cfg:" run list --format lines
  expect 0 '"agent_name":"ra"'
  # A wrong password file: refused, no password shown.
  password_file "$t/bad.pw" "wrong-redis-password"
  sed -i "s|^password_file = .*|password_file = $t/bad.pw|" "$conf"
  run --profile r --json ping
  [ "$rc" != 0 ] || fail "a wrong password was accepted: $out"
  grep -q '"error"' <<<"$out" || fail "$out"
  # A password in the URI is hidden in what the command prints.
  run --store "redis://:$pw@127.0.0.1:$port/0?prefix=cfg:" ping
  expect 0 "redis://:***@127.0.0.1:$port/0"
  "$extra" stop "$t/redis" >/dev/null
}

case "$group" in
profiles | passwords | postgres | redis) "$group" ;;
*) fail "unknown group $group" ;;
esac
echo "config $group: all checks passed"
