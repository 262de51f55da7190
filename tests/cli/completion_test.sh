#!/usr/bin/env bash
# Checks the shell completions: the bash one sourced into `bash --norc` (no bash-completion
# loaded) gives the expected COMPREPLY, and offers every option each `heartlock SUB --help`
# prints; the zsh one parses (`zsh -n`, skipped without zsh) and names every subcommand.
# Usage: completion_test.sh BASH_COMPLETION ZSH_COMPLETION HEARTLOCK
set -uo pipefail

bash_completion=$1
zsh_completion=$2
heartlock=$3
failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# Prints the sorted COMPREPLY for the command line "$1" with the cursor at its end.
complete_line() {
  bash --norc --noprofile -c '
    source "$1" || exit 1
    read -r -a COMP_WORDS <<<"$2"
    case $2 in *" ") COMP_WORDS+=("") ;; esac
    COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
    COMP_LINE=$2
    COMP_POINT=${#2}
    _heartlock heartlock "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
    printf "%s\n" "${COMPREPLY[@]}" | sort | tr "\n" " " | sed "s/ $//"
  ' complete_line "$bash_completion" "$1"
}

expect() {
  local got
  got=$(complete_line "$1")
  if [ "$got" != "$2" ]; then
    fail "'$1<TAB>' completed to '$got', expected '$2'"
  fi
}

expect "heartlock st" "status"
expect "heartlock run --he" "--heartbeat --help"
expect "heartlock run --heartbeat " "alive explicit output"
expect "heartlock -b /tmp run --heartbeat e" "explicit"
expect "heartlock cron --log-format " "json text"
expect "heartlock -q cron --ch" "--check"
expect "heartlock --ver" "--verbose --version"
expect "heartlock h" "heartbeat history"
expect "heartlock run -w " "forever"
expect "heartlock schedule -n 3 --u" "--utc"
expect "heartlock -b redis" "redis-sentinel:// redis:// rediss://"
# The global options after a subcommand's name (CLI11 accepts them there).
expect "heartlock status --sys" "--syslog --syslog-facility"
expect "heartlock run -b redis" "redis-sentinel:// redis:// rediss://"
expect "heartlock run -b /tmp --heartbeat e" "explicit"
expect "heartlock metrics --syslog-facility loc" "local0 local1 local2 local3 local4 local5 local6 local7"

# File names for `cron FILE` and `status --crontab FILE`.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/crontab.prod" "$dir/crontab.test"
expect "heartlock cron $dir/crontab.p" "$dir/crontab.prod"
expect "heartlock status --crontab $dir/crontab.t" "$dir/crontab.test"

# Every option each subcommand's --help prints is offered after `heartlock SUB -`.
help_options() {
  "$heartlock" "$@" --help |
    awk '/^$/ { s = "" } /^[A-Z][A-Za-z ]*:$/ { s = $0; next } s == "Options:"' |
    grep -oE '^ +-[^ ]+( [^ -][^ ]*)?( ?,? ?-[^ ]+)?' |
    grep -oE '(^|[ ,])--?[A-Za-z][A-Za-z0-9-]*' | tr -d ' ,' | sort -u
}
check_offered() {
  local line=$1
  shift
  local offered option
  offered=" $(complete_line "$line") "
  for option in $(help_options "$@"); do
    case $offered in
    *" $option "*) ;;
    *) fail "'$line<TAB>' does not offer $option (heartlock $* --help prints it)" ;;
    esac
  done
}
subcommands=$("$heartlock" --help | awk '/^$/ { s = "" } /^[A-Z][A-Za-z ]*:$/ { s = $0; next }
  s == "Subcommands:" && /^ +[a-z]/ { print $1 }')
[ -n "$subcommands" ] || fail "heartlock --help lists no subcommands"
check_offered "heartlock -"
for sub in $subcommands; do
  check_offered "heartlock $sub -" "$sub"
  grep -q "'$sub:" "$zsh_completion" || fail "$zsh_completion does not name subcommand $sub"
done

if command -v zsh >/dev/null; then
  zsh -n "$zsh_completion" || fail "zsh -n $zsh_completion"
else
  echo "note: zsh is not installed; the zsh completion's syntax is not checked"
fi

if [ "$failures" -ne 0 ]; then
  exit 1
fi
echo "ok: bash completion gives the expected candidates; zsh completion names every subcommand"
