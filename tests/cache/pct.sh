# SPDX-License-Identifier: MIT
# pct.sh - sourced by the cache's scripts (tests/cache, bench/cache.sh).
# pct_encode TEXT: TEXT percent-encoded for an option value of a store URI
# (all but unreserved characters), keeping the placeholders {dir} and {id}
# as they are for the programs that replace them.
pct_encode() {
  local s=$1 out="" c i
  for ((i = 0; i < ${#s}; i++)); do
    c=${s:i:1}
    case "$c" in
    [A-Za-z0-9._~-]) out+=$c ;;
    *) printf -v c '%%%02X' "'$c"; out+=$c ;;
    esac
  done
  out=${out//%7Bdir%7D/\{dir\}}
  printf '%s' "${out//%7Bid%7D/\{id\}}"
}
