# bash completion for heartlock(1).
#
# Installed as <datadir>/bash-completion/completions/heartlock, where bash-completion loads it on
# first use. It needs only bash itself (compgen); bash-completion's _command_offset is used for
# `heartlock run -- COMMAND...` and `heartlock cronlock COMMAND...` when it is loaded.
# tests/cli/completion_test.sh checks it; keep its option lists in step with `heartlock SUB --help`.

_heartlock_global_opts="-b --backend -q --quiet -v --verbose --json --log-format --syslog
  --syslog-facility -h --help -V --version"
# The global options a subcommand accepts too (after its name): all but -h and -V.
_heartlock_shared_opts="-b --backend -q --quiet -v --verbose --json --log-format --syslog
  --syslog-facility"
_heartlock_subcommands="run status metrics release heartbeat schedule cron history cronlock"

# The options of each subcommand.
_heartlock_sub_opts() {
  case $1 in
  run)
    echo "-c --command -k --key -n --nonblock -w --wait --ttl --stale-after --min-hold --max-hold --timeout" \
      "--kill-grace --kill-stale -E --conflict-exit-code --heartbeat -h --help"
    ;;
  status) echo "--cron --crontab --watch --interval -h --help" ;;
  metrics) echo "-o --output -h --help" ;;
  release) echo "--force -h --help" ;;
  heartbeat) echo "-h --help" ;;
  schedule) echo "--tz --from -n --utc -h --help" ;;
  cron)
    echo "--check --from --utc --log-format --metrics-listen --shutdown-grace --workers -h --help"
    ;;
  history) echo "-n -h --help" ;;
  cronlock) echo "--golock-key --force -h --help" ;;
  esac
}

# Succeeds if option $2 of subcommand $1 ("" for the global options) takes a value.
_heartlock_takes_value() {
  case $1:$2 in
  :-b | :--backend | :--log-format | :--syslog-facility) return 0 ;;
  run:-k | run:--key | run:-w | run:--wait | run:--ttl | run:--stale-after | run:--min-hold | \
    run:--max-hold | run:--timeout | run:--kill-grace | run:-E | run:--conflict-exit-code | \
    run:--heartbeat)
    return 0
    ;;
  status:--crontab | status:--interval | metrics:-o | metrics:--output | schedule:--tz | schedule:--from | schedule:-n | history:-n) return 0 ;;
  cron:--from | cron:--log-format | cron:--metrics-listen | cron:--shutdown-grace | \
    cron:--workers)
    return 0
    ;;
  esac
  return 1
}

# Time zone names from the tz database's source file, if the system has one.
_heartlock_zones() {
  local zi=/usr/share/zoneinfo/tzdata.zi
  [ -r "$zi" ] && awk '$1 == "Z" { print $2 } $1 == "L" { print $3 }' "$zi"
}

# Completes the value of option $2 of subcommand $1.
_heartlock_complete_value() {
  local cur=$3
  case $2 in
  -b | --backend)
    compopt -o nospace 2>/dev/null
    COMPREPLY=($(compgen -W "file:// redis:// rediss:// redis-sentinel:// postgres://
      postgresql:// etcd:// etcds://" -- "$cur") $(compgen -d -- "$cur"))
    ;;
  --heartbeat) COMPREPLY=($(compgen -W "alive explicit output" -- "$cur")) ;;
  --log-format) COMPREPLY=($(compgen -W "text json" -- "$cur")) ;;
  --syslog-facility)
    COMPREPLY=($(compgen -W "user daemon cron local0 local1 local2 local3 local4 local5 local6
      local7" -- "$cur"))
    ;;
  --crontab | -o | --output)
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "$cur"))
    ;;
  --tz) COMPREPLY=($(compgen -W "$(_heartlock_zones)" -- "$cur")) ;;
  -w | --wait) COMPREPLY=($(compgen -W "forever" -- "$cur")) ;;
  esac
}

# Completes COMMAND [ARGS...] starting at word $1: the shell's command completion if
# bash-completion is loaded, else command names, then file names.
_heartlock_complete_command() {
  if declare -F _command_offset >/dev/null; then
    _command_offset "$1"
  elif [ "$1" -eq "$COMP_CWORD" ]; then
    COMPREPLY=($(compgen -c -- "${COMP_WORDS[COMP_CWORD]}"))
  else
    compopt -o filenames 2>/dev/null
    COMPREPLY=($(compgen -f -- "${COMP_WORDS[COMP_CWORD]}"))
  fi
}

_heartlock() {
  local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
  local sub="" i=1 word
  COMPREPLY=()
  # Find the subcommand, skipping the global options and their values.
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word=${COMP_WORDS[i]}
    if _heartlock_takes_value "" "$word"; then
      i=$((i + 2))
      continue
    fi
    case $word in
    -*) ;;
    *)
      sub=$word
      break
      ;;
    esac
    i=$((i + 1))
  done

  if [ -z "$sub" ]; then
    if _heartlock_takes_value "" "$prev"; then
      _heartlock_complete_value "" "$prev" "$cur"
    elif [[ $cur == -* ]]; then
      COMPREPLY=($(compgen -W "$_heartlock_global_opts" -- "$cur"))
    else
      COMPREPLY=($(compgen -W "$_heartlock_subcommands" -- "$cur"))
    fi
    return 0
  fi

  # Within the subcommand: run and cronlock end their options at COMMAND (or --).
  i=$((i + 1))
  while [ "$i" -lt "$COMP_CWORD" ]; do
    word=${COMP_WORDS[i]}
    if _heartlock_takes_value "$sub" "$word" || _heartlock_takes_value "" "$word"; then
      i=$((i + 2))
      continue
    fi
    case $sub:$word in
    run:-- | cronlock:--)
      _heartlock_complete_command $((i + 1))
      return 0
      ;;
    run:-* | cronlock:-*) ;;
    run:* | cronlock:*)
      _heartlock_complete_command "$i"
      return 0
      ;;
    esac
    i=$((i + 1))
  done

  if _heartlock_takes_value "$sub" "$prev"; then
    _heartlock_complete_value "$sub" "$prev" "$cur"
  elif _heartlock_takes_value "" "$prev"; then
    _heartlock_complete_value "" "$prev" "$cur"
  elif [[ $cur == -* ]]; then
    COMPREPLY=($(compgen -W "$(_heartlock_sub_opts "$sub") $_heartlock_shared_opts" -- "$cur"))
  else
    case $sub in
    cron)
      compopt -o filenames 2>/dev/null
      COMPREPLY=($(compgen -f -- "$cur"))
      ;;
    run | cronlock) _heartlock_complete_command "$COMP_CWORD" ;;
    esac
  fi
  return 0
}

complete -F _heartlock heartlock
