#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# completion_test.sh SHELL SRCDIR BINDIR
#
# Asks the shell's own completion machinery what it offers after a few
# command lines, with the completion script of tools/acp-storage loaded and
# the built command first on PATH (backend names come from the command).
# SHELL: bash (needs the bash-completion package), zsh or fish.  Exits 77
# (skipped) when that shell is not installed.
set -u
sh=$1 SRC=$2 BINDIR=$3
export PATH="$BINDIR:$PATH"
T=$(mktemp -d "${TMPDIR:-/tmp}/acp-completion.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
nfail=0

# offers LINE WORD...: completing after LINE offers every WORD.
offers() {
  local line=$1; shift
  local got; got=$(complete_line "$line")
  local w missing=""
  for w in "$@"; do
    grep -qxF -- "$w" <<<"$got" || missing+=" $w"
  done
  if [ -z "$missing" ]; then
    echo "ok - $sh: '$line' offers $*"
  else
    echo "not ok - $sh: '$line' lacks$missing"; echo "#   got: $(tr '\n' ' ' <<<"$got")"
    nfail=$((nfail + 1))
  fi
}

case $sh in
  bash)
    bc=/usr/share/bash-completion/bash_completion
    [ -r "$bc" ] || { echo "SKIP: $bc not installed (Debian: bash-completion)"; exit 77; }
    complete_line() {
      bash -c '
        source "$1" >/dev/null 2>&1; source "$2"
        read -ra COMP_WORDS <<<"$3"
        [[ $3 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); COMP_LINE=$3; COMP_POINT=${#COMP_LINE}
        _acp_storage acp-storage "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}" 2>/dev/null
        printf "%s\n" "${COMPREPLY[@]}"' bash "$bc" "$SRC/acp-storage.bash" "$1"
    }
    ;;
  fish)
    command -v fish >/dev/null || { echo "SKIP: fish is not installed"; exit 77; }
    complete_line() {
      fish -c 'source $argv[1]; complete -C $argv[2]' "$SRC/acp-storage.fish" "$1" | cut -f1
    }
    ;;
  zsh)
    command -v zsh >/dev/null || { echo "SKIP: zsh is not installed"; exit 77; }
    mkdir -p "$T/fpath" && cp "$SRC/_acp-storage" "$T/fpath/"
    # zsh completes only in an interactive shell: drive one on a pseudo
    # terminal (zpty) and read what it lists.
    cat >"$T/drive.zsh" <<'ZSH'
zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "fpath=($1 \$fpath); autoload -U compinit; compinit -u -D; PROMPT='>>> '"
zpty -w z 'zstyle ":completion:*" list-separator "#"; LISTMAX=10000; setopt autolist nolistambiguous'
zpty -w -n z "$2"$'\t'
# Read until the terminal has been quiet for $3 tenths of a second (keys
# typed while zsh completes may be dropped, so nothing more is sent).
local all="" out
integer idle=0
while (( idle < $3 )); do
  if zpty -r -t z out; then all+=$out; idle=0; else sleep 0.1; (( idle++ )); fi
done
print -r -- "$all"
zpty -d z
ZSH
    zsh_list() {
      timeout 60 zsh "$T/drive.zsh" "$T/fpath" "$1" "$2" </dev/null 2>&1 |
        sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\010\007' | tr '\r' '\n' | sed -n '/^>>> a*acp-storage/,$p' |
        sed 1d | tr -s ' ' '\n' | sed 's/#.*//; s/:$//' | grep -v '^$'
    }
    # 3 s of quiet ends the listing; on a loaded machine zsh can be slower
    # than that to start listing, so an empty listing gets one more try
    # that waits for 15 s of quiet.
    complete_line() {
      local got
      got=$(zsh_list "$1" 30)
      [ -n "$got" ] || got=$(zsh_list "$1" 150)
      printf '%s\n' "$got"
    }
    ;;
  *) echo "unknown shell $sh" >&2; exit 2 ;;
esac

offers "acp-storage " backends ping check run session event bench help
offers "acp-storage run " save get delete list
offers "acp-storage event " add list
offers "acp-storage help " run session event bench
offers "acp-storage help session " save get delete list
offers "acp-storage check " memory sqlite file
offers "acp-storage run list --" --limit --cursor --format --store --json
offers "acp-storage run list --format " table lines json
offers "acp-storage run save --status c" created completed cancelled cancelling
offers "acp-storage bench --baseline " auto none memory sqlite
if [ "$sh" = zsh ]; then
  # zsh lists backends without the suffix it inserts.
  offers "acp-storage --store " memory sqlite file
else
  offers "acp-storage --store " memory: sqlite: file:
fi
echo "# $sh: $nfail failed"
[ "$nfail" -eq 0 ]
