#!/bin/sh
# SPDX-License-Identifier: MIT
# check_exports.sh - the dynamic symbols of the shipped shared objects are
# exactly their interface:
#   - the core exports every function declared with ACP_API in the given
#     header(s), and nothing else;
#   - each plugin libacp_storage_<name>.so exports acp_storage_<name>_plugin
#     and nothing else.
#
# Usage: check_exports.sh --core LIB --header H [--header H]...
#                         [--plugin SO]... [--plugin-dir DIR]...
# --plugin-dir adds every libacp_storage_*.so found in DIR.  At least one
# plugin must be checked.  Needs nm (binutils).
set -u

core=
headers=
plugins=
fail=0
tmp=$(mktemp -d "${TMPDIR:-/tmp}/acp-check-exports.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT

usage() {
    echo "usage: $0 --core LIB --header H... [--plugin SO]... [--plugin-dir DIR]..." >&2
    exit 2
}

add_plugin() {
    case " $plugins " in
    *" $1 "*) ;;
    *) plugins="$plugins $1" ;;
    esac
}

while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
    --core) core=$2 ;;
    --header) headers="$headers $2" ;;
    --plugin) add_plugin "$2" ;;
    --plugin-dir)
        for f in "$2"/libacp_storage_*.so; do
            [ -e "$f" ] && add_plugin "$f"
        done
        ;;
    *) usage ;;
    esac
    shift 2
done
[ -n "$core" ] && [ -n "$headers" ] || usage

# Defined dynamic symbols, one per line, without version suffixes.  Type A
# entries are version nodes made by a version script, not symbols.
exports() {
    nm -D --defined-only "$1" >"$tmp/nm.out" || {
        echo "FAIL: nm cannot read $1" >&2
        return 1
    }
    awk 'NF >= 3 && $2 != "A" { sub(/@.*/, "", $3); print $3 }' "$tmp/nm.out" | sort -u
}

# --- the core ---
: >"$tmp/api"
for h in $headers; do
    [ -r "$h" ] || { echo "FAIL: cannot read header $h" >&2; exit 1; }
    # ACP_API <type> <name>(...: keep what precedes the first '(' and take
    # its last identifier.
    if grep -E '^ACP_API[[:space:]]' "$h" | grep -v '(' | grep -q .; then
        echo "FAIL: $h has an ACP_API declaration without '(' on its line:" >&2
        grep -E '^ACP_API[[:space:]]' "$h" | grep -v '(' >&2
        exit 1
    fi
    grep -E '^ACP_API[[:space:]]' "$h" | sed -E 's/\(.*//; s/.*[^A-Za-z0-9_]//' >>"$tmp/api"
done
sort -u "$tmp/api" -o "$tmp/api"
if [ ! -s "$tmp/api" ]; then
    echo "FAIL: no ACP_API declaration found in$headers" >&2
    exit 1
fi

exports "$core" >"$tmp/core" || exit 1
extra=$(comm -13 "$tmp/api" "$tmp/core")
missing=$(comm -23 "$tmp/api" "$tmp/core")
if [ -n "$extra" ]; then
    echo "FAIL: $core exports symbols not declared with ACP_API:" >&2
    echo "$extra" | sed 's/^/  /' >&2
    fail=1
fi
if [ -n "$missing" ]; then
    echo "FAIL: $core does not export these ACP_API functions:" >&2
    echo "$missing" | sed 's/^/  /' >&2
    fail=1
fi
[ -z "$extra" ] && [ -z "$missing" ] &&
    echo "ok: $core exports exactly the $(wc -l <"$tmp/api") ACP_API functions"

# --- the plugins ---
if [ -z "$plugins" ]; then
    echo "FAIL: no plugin to check" >&2
    exit 1
fi
for so in $plugins; do
    base=$(basename "$so")
    name=${base#libacp_storage_}
    name=${name%.so}
    if [ "$name" = "$base" ] || ! echo "$name" | grep -Eq '^[a-z0-9_]{1,64}$'; then
        echo "FAIL: $so is not named libacp_storage_<[a-z0-9_]{1,64}>.so" >&2
        fail=1
        continue
    fi
    syms=$(exports "$so") || { fail=1; continue; }
    if [ "$syms" != "acp_storage_${name}_plugin" ]; then
        echo "FAIL: $so must export only acp_storage_${name}_plugin; it exports:" >&2
        echo "${syms:-(nothing)}" | sed 's/^/  /' >&2
        fail=1
    else
        echo "ok: $so exports only acp_storage_${name}_plugin"
    fi
done
exit $fail
