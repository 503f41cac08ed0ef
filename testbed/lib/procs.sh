# Process helpers for up.sh (sourced). The testbed only ever signals PIDs it recorded itself, and
# only after /proc/<pid>/cwd proves the process is still the one it started (PIDs get reused).
# cwd rather than cmdline, because gunicorn rewrites its argv ("gunicorn: master [...]").
# Each daemon is started in its own directory under $STATE, so its cwd identifies it.

# daemon NAME DIR LOGFILE ARGV... : start ARGV in DIR, in its own session, detached from the terminal.
# No job control in a script, so the subshell is no process-group leader: setsid does not fork and
# `exec` keeps the PID, so $! is the daemon itself.
daemon() {
  local name=$1 dir=$2 logf=$3; shift 3
  ( cd "$dir" && exec setsid nohup "$@" >>"$logf" 2>&1 </dev/null ) &
  echo $! >"$RUN/$name.pid"
  echo "$dir" >"$RUN/$name.cwd"
}

# ours PID DIR : alive and its cwd is DIR
ours() {
  [ -d "/proc/$1" ] && [ "$(readlink "/proc/$1/cwd" 2>/dev/null | sed 's/ (deleted)$//')" = "$2" ]
}

# alive NAME : the recorded daemon is running and is ours
alive() {
  local p; p=$(cat "$RUN/$1.pid" 2>/dev/null) || return 1
  [ -n "$p" ] && ours "$p" "$(cat "$RUN/$1.cwd" 2>/dev/null)"
}

# stop NAME : SIGTERM, up to 8 s grace, SIGKILL; then the children it had (uwsgi/gunicorn workers)
stop() {
  local name=$1 p dir kids i k
  p=$(cat "$RUN/$name.pid" 2>/dev/null) || return 0
  dir=$(cat "$RUN/$name.cwd" 2>/dev/null || true)
  if [ -n "$p" ] && [ -d "/proc/$p" ]; then
    # a process that is already exiting has an empty cmdline and may have lost its cwd: wait for it.
    # (/proc files report size 0, so read the content instead of testing -s)
    if [ -z "$(tr -d '\0' <"/proc/$p/cmdline" 2>/dev/null)" ]; then
      for ((i = 0; i < 40; i++)); do [ -d "/proc/$p" ] || break; sleep 0.25; done
    fi
    if [ -d "/proc/$p" ]; then
      ours "$p" "$dir" || { log "pid $p ($name) is not ours any more (cwd != $dir): not touched"; return 1; }
      kids=$(ps -o pid= --ppid "$p" 2>/dev/null | tr -d ' ' || true)
      kill -TERM "$p" 2>/dev/null || true
      for ((i = 0; i < 32; i++)); do [ -d "/proc/$p" ] || break; sleep 0.25; done
      [ -d "/proc/$p" ] && kill -KILL "$p" 2>/dev/null
      for k in $kids; do
        for ((i = 0; i < 20; i++)); do [ -d "/proc/$k" ] || break; sleep 0.1; done
        [ -d "/proc/$k" ] && ours "$k" "$dir" && kill -KILL "$k" 2>/dev/null
      done
      log "stopped $name (pid $p)"
    fi
  fi
  rm -f "$RUN/$name.pid" "$RUN/$name.cwd"
}

# wait_http URL CODE SECONDS
wait_http() {
  local i code=
  for ((i = 0; i < $3 * 4; i++)); do
    code=$(curl -s -m 2 -o /dev/null -w '%{http_code}' "$1" || true)
    [ "$code" = "$2" ] && return 0
    sleep 0.25
  done
  log "timeout waiting for $1 (last HTTP code $code)"; return 1
}
