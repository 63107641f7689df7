# bench/tgtd.sh: a private tgtd for the benchmark scripts (sourced, not run).
# The script that sources it sets $work (its work directory) and $name (for
# messages) first. It gets log, die, tgtadm_ (tgtadm on this instance),
# start_tgtd (a tgtd on a free port of 127.0.0.1, never 3260: sets $PORT,
# $tgtd_pid and $ctl) and stop_tgtd (deletes target 1 and the system, then
# kills what is left: tgtd ignores SIGTERM). start_istgt FILE starts a
# private istgt instead (Debian istgt; one LUN 0 on FILE, no authentication;
# sets the same variables); stop_tgtd stops either.

tgtd_pid=""
ctl=""
target_kind=tgtd

log() { printf '%s\n' "$*" >&2; }
die() { log "$name: $*"; exit 1; }

tgtadm_() { TGT_IPC_SOCKET="$work/ipc" timeout 10 tgtadm -C "$ctl" --lld iscsi "$@"; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# listening PORT: 0 (PORT set) once the target just started ($tgtd_pid,
# a process group of its own) listens on PORT; else, after 5 s or when it
# exited, kills it and returns 1.
listening() {
  for _ in $(seq 50); do
    port_in_use "$1" && { PORT=$1; return 0; }
    kill -0 "$tgtd_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 -- "-$tgtd_pid" 2>/dev/null || true
  wait "$tgtd_pid" 2>/dev/null || true
  tgtd_pid=""
  return 1
}

start_tgtd() {
  local attempt port
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    port_in_use "$port" && continue
    ctl=$((port % 32768))
    TGT_IPC_SOCKET="$work/ipc" setsid tgtd -f -C "$ctl" --iscsi "portal=127.0.0.1:$port" \
      >"$work/tgtd.log" 2>&1 </dev/null &
    tgtd_pid=$!
    listening "$port" && return 0
  done
  cat "$work/tgtd.log" >&2 || true
  die "could not start tgtd on a free port"
}

start_istgt() {
  local file=$1 attempt port
  target_kind=istgt
  : >"$work/auth.conf"
  for attempt in 1 2 3 4 5 6 7 8; do
    port=$((20000 + RANDOM % 30000))
    port_in_use "$port" && continue
    port_in_use $((port + 1)) && continue
    cat >"$work/istgt.conf" <<EOF
[Global]
  NodeBase "iqn.2026-12.com.github.iscsi-go.compare"
  PidFile $work/istgt.pid
  AuthFile $work/auth.conf
  MediaDirectory $(dirname "$file")
  LogFacility "local7"
  Timeout 30
  NopInInterval 20
  DiscoveryAuthMethod Auto
  MaxSessions 16
  MaxConnections 4
  FirstBurstLength 262144
  MaxBurstLength 1048576
  MaxRecvDataSegmentLength 262144
  InitialR2T Yes
  ImmediateData Yes
  ErrorRecoveryLevel 0
[UnitControl]
  AuthMethod None
  Portal UC1 127.0.0.1:$((port + 1))
  Netmask 127.0.0.1
[PortalGroup1]
  Portal DA1 127.0.0.1:$port
[InitiatorGroup1]
  InitiatorName "ALL"
  Netmask 127.0.0.0/8
[LogicalUnit1]
  TargetName disk1
  Mapping PortalGroup1 InitiatorGroup1
  AuthMethod None
  UseDigest Auto
  UnitType Disk
  QueueDepth 64
  LUN0 Storage $file Auto
EOF
    setsid istgt -D -c "$work/istgt.conf" -p "$work/istgt.pid" >"$work/istgt.log" 2>&1 </dev/null &
    tgtd_pid=$!
    listening "$port" && return 0
  done
  cat "$work/istgt.log" >&2 || true
  die "could not start istgt on a free port"
}

stop_tgtd() {
  if [ "$target_kind" = istgt ] && [ -n "$tgtd_pid" ]; then
    kill -9 -- "-$tgtd_pid" 2>/dev/null || kill -9 "$tgtd_pid" 2>/dev/null || true
    wait "$tgtd_pid" 2>/dev/null || true
    tgtd_pid=""
    return
  fi
  if [ -n "$tgtd_pid" ] && kill -0 "$tgtd_pid" 2>/dev/null; then
    tgtadm_ --op delete --mode target --tid 1 --force >/dev/null 2>&1 || true
    tgtadm_ --op delete --mode system >/dev/null 2>&1 || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$tgtd_pid" 2>/dev/null || break
      sleep 0.2
    done
    # Started with setsid, its pid is its process group.
    kill -9 -- "-$tgtd_pid" 2>/dev/null || kill -9 "$tgtd_pid" 2>/dev/null || true
    wait "$tgtd_pid" 2>/dev/null || true
  fi
  tgtd_pid=""
}
