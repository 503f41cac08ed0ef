#!/usr/bin/env bash
# Two real OpenStack + Ceph clouds on 127.0.0.1 for stackmigrate's integration tests.
#
#   testbed/up.sh [up]   install (testbed/install.sh), then start everything; "already up" if it is
#                        (with the asked-for Ceph store; up with another store: down, then up);
#                        a half-up testbed is taken down first; refuses if a port is busy with a stranger
#   testbed/up.sh down   stop what it started (by recorded PID, checked by cwd); keep the logs
#   testbed/up.sh status PIDs, RSS, ports; exit 0 only if every part is alive AND answering
#
# OLD: Ceph (mon :3300/3301, pool volumes), Keystone :5010, Cinder :8786 (RBDDriver), nova-api :8784
# NEW: Ceph (mon :3310/3311, pool volumes), Keystone :5011, Cinder :8787 (RBDDriver)
# OSDs and mgrs bind in 6800-6819. Ports: TB_KS_OLD_PORT TB_KS_NEW_PORT TB_CINDER_OLD_PORT
# TB_CINDER_NEW_PORT TB_NOVA_PORT TB_MON_OLD_PORT TB_MON_NEW_PORT TB_CEPH_PORT_MIN TB_CEPH_PORT_MAX.
# TB_CEPH_MGR=0: no ceph-mgr (saves ~600 MiB; Cinder then reports capacity "unknown").
# TB_CEPH_STORE=memstore|bluestore (default memstore): memstore keeps objects in OSD RAM (about 2x the
# stored bytes); bluestore puts them in a sparse file per cluster under testbed/.state/ceph/ (deleted by
# down) for benchmarks holding GiBs. TB_CEPH_STORE_BYTES: memstore capacity (default 8 GiB) or
# bluestore file size (default 32 GiB, sparse: only written bytes cost disk). Both are recorded in env.
#
# Every up starts from empty databases and empty clusters, so project ids change on every up.
# Outputs in testbed/.state/: env, credentials.json, credentials-admin.json, clouds.yaml, seed.json
# (see testbed/README.md). Logs: testbed/.state/logs/ (the previous run's in logs/last-run/).
set -euo pipefail
. "$(dirname "$0")/lib/common.sh"
. "$TESTBED/lib/configs.sh"
. "$TESTBED/lib/procs.sh"

CEPHPY=$CACHE/cephpy                      # Debian's rados/rbd .so only (made by install.sh)
DAEMONS=(keystone-old keystone-new cinder-old cinder-new nova-api)
kpy() { "$KC_VENV/bin/python" -W ignore "$@"; }
npy() { "$NOVA_VENV/bin/python" -W ignore "$@"; }

# ---------------------------------------------------------------- schema-only DB templates
# db_sync / nova's cell setup cost ~25 s of CPU; the empty schemas are cached per package version
# (nova's cell mappings hold absolute sqlite paths, so its key includes the state path).
db_template() { # key dir files... : copy cached templates into dir; fails if not cached
  local src=$CACHE/db/$1 dst=$2 f; shift 2
  for f in "$@"; do [ -s "$src/$f" ] || return 1; done
  for f in "$@"; do cp "$src/$f" "$dst/$f"; done
}
db_save() { # key dir files...
  local dst=$CACHE/db/$1 src=$2 f; shift 2
  mkdir -p "$dst"
  for f in "$@"; do cp "$src/$f" "$dst/$f.$$" && mv -f "$dst/$f.$$" "$dst/$f"; done
}
pkg_key() { # venv package -> e.g. keystone-30.0.0
  basename "$(ls -d "$1"/lib/python3*/site-packages/"$2"-*.dist-info | head -1)" .dist-info
}

# ---------------------------------------------------------------- keystone
keystone_up() { # cloud: db, keys, bootstrap, start uWSGI, wait for /v3
  local c=$1 d=$STATE/$1/keystone p=${KS_PORT[$1]} key
  local km=("$KC_VENV/bin/keystone-manage" --config-file "$d/keystone.conf")
  local mlog=$LOGS/keystone-$c-manage.log
  key=$(pkg_key "$KC_VENV" keystone)
  if ! db_template "$key" "$d" keystone.db; then
    "${km[@]}" db_sync >>"$mlog" 2>&1
    db_save "$key" "$d" keystone.db
  fi
  "${km[@]}" fernet_setup --keystone-user root --keystone-group root >>"$mlog" 2>&1
  "${km[@]}" credential_setup --keystone-user root --keystone-group root >>"$mlog" 2>&1
  "${km[@]}" bootstrap --bootstrap-password adminpass --bootstrap-region-id RegionOne \
    --bootstrap-admin-url "http://127.0.0.1:$p/v3/" --bootstrap-internal-url "http://127.0.0.1:$p/v3/" \
    --bootstrap-public-url "http://127.0.0.1:$p/v3/" >>"$mlog" 2>&1
  # uWSGI, not gunicorn: keystone parses sys.argv with oslo.config. --http11-socket, not --http-socket:
  # the latter drops keep-alive connections silently and pooled clients (reqwest too) fail at random.
  daemon "keystone-$c" "$d" "$LOGS/keystone-$c-uwsgi.log" env OS_KEYSTONE_CONFIG_DIR="$d" \
    "$KC_VENV/bin/uwsgi" --http11-socket "127.0.0.1:$p" --module keystone.wsgi.api:application \
    --virtualenv "$KC_VENV" --master --processes 1 --threads 4 --enable-threads --die-on-term --disable-logging
  wait_http "http://127.0.0.1:$p/v3" 200 60
}

# ---------------------------------------------------------------- cinder
cinder_db() { # cloud
  local d=$STATE/$1/cinder key; key=$(pkg_key "$KC_VENV" cinder)
  db_template "$key" "$d" cinder.db && return 0
  "$KC_VENV/bin/cinder-manage" --config-file "$d/cinder.conf" db sync >>"$LOGS/cinder-$1-manage.log" 2>&1
  db_save "$key" "$d" cinder.db
}

cinder_start() { # cloud: stock api + scheduler + volume classes in one process; RBD driver needs rados/rbd
  local d=$STATE/$1/cinder
  daemon "cinder-$1" "$d" "$LOGS/cinder-$1.stdout" env PYTHONPATH="$CEPHPY" "$KC_VENV/bin/python" \
    "$TESTBED/lib/cinder_allinone.py" --config-file "$d/cinder.conf" --log-file "$LOGS/cinder-$1.log"
}

cinder_wait() { # cloud: API answers, scheduler + volume are up, the RBD backend reports its pool
  local c=$1
  wait_http "http://127.0.0.1:${CINDER_PORT[$c]}/" 300 90 || return 1
  kpy - "${KS_PORT[$c]}" <<'EOF'
import sys, time
from keystoneauth1 import session
from keystoneauth1.identity import v3
s = session.Session(auth=v3.Password(auth_url='http://127.0.0.1:%s/v3' % sys.argv[1], username='admin',
    password='adminpass', project_name='admin', user_domain_id='default', project_domain_id='default'))
ep = {'service_type': 'volumev3'}
for _ in range(240):
    svcs = s.get('/os-services', endpoint_filter=ep).json()['services']
    if {'cinder-scheduler', 'cinder-volume'} <= {x['binary'] for x in svcs if x['state'] == 'up'}:
        pools = s.get('/scheduler-stats/get_pools?detail=true', endpoint_filter=ep).json()['pools']
        if pools and pools[0]['capabilities'].get('backend_state') == 'up':
            print(pools[0]['name']); sys.exit(0)
    time.sleep(0.5)
sys.exit('cinder services/pools not up: %s' % svcs)
EOF
}

# ---------------------------------------------------------------- nova (old cloud only)
nova_db() {
  local d=$STATE/old/nova dbs=(nova_api.sqlite nova_cell0.sqlite nova_cell1.sqlite) key
  key=$(pkg_key "$NOVA_VENV" nova)-$(echo "$STATE" | sha256sum | cut -c1-12)
  db_template "$key" "$d/data" "${dbs[@]}" && return 0
  nm() { "$NOVA_VENV/bin/nova-manage" --config-file "$d/nova.conf" "$@" >>"$LOGS/nova-manage.log" 2>&1; }
  nm api_db sync
  nm cell_v2 map_cell0 --database_connection "sqlite:///$d/data/nova_cell0.sqlite"
  nm cell_v2 create_cell --name cell1 --transport-url fake:// --database_connection "sqlite:///$d/data/nova_cell1.sqlite"
  nm db sync
  db_save "$key" "$d/data" "${dbs[@]}"
}

nova_up() { # seed usage history, start gunicorn (needs old ids.json)
  local d=$STATE/old/nova
  npy "$TESTBED/lib/seed_nova.py" "$d/nova.conf" "$STATE/old/ids.json" >>"$LOGS/nova-seed.log" 2>&1
  # --no-control-socket: gunicorn 27 otherwise shares ~/.gunicorn/gunicorn.ctl with any other gunicorn
  daemon nova-api "$d" "$LOGS/nova-api.log" env OS_NOVA_CONFIG_DIR="$d" \
    OS_NOVA_CONFIG_FILES='api-paste.ini;nova.conf' PYTHONPATH="$TESTBED/lib" \
    "$NOVA_VENV/bin/gunicorn" --bind "127.0.0.1:$NOVA_PORT" --workers 2 --worker-class gthread \
    --threads 4 --timeout 120 --no-control-socket nova_api_wsgi:application
  wait_http "http://127.0.0.1:$NOVA_PORT/" 200 60
}

# ---------------------------------------------------------------- outputs
write_env() { # old-cinder-host new-cinder-host
  local c C
  { for c in old new; do
      C=${c^^}
      echo "${C}_KEYSTONE=http://127.0.0.1:${KS_PORT[$c]}/v3"
      echo "${C}_CINDER=http://127.0.0.1:${CINDER_PORT[$c]}/v3"
      npy -c 'import json,sys; d=json.load(open(sys.argv[1])); P=sys.argv[2]
print("%s_RESEARCH_ID=%s\n%s_ADMIN_PROJECT_ID=%s" % (P, d["research"], P, d["admin_project"]))
print("%s_OPERATOR_ID=%s\n%s_ADMIN_ID=%s" % (P, d["users"]["operator"], P, d["users"]["admin"]))
"other" in d and print("%s_OTHER_ID=%s" % (P, d["other"]))' "$STATE/$c/ids.json" "$C"
      echo "${C}_CEPH_CONF=$STATE/ceph/$c/ceph.conf"
      echo "${C}_CEPH_KEYRING=$STATE/ceph/$c/ceph.client.admin.keyring"
      echo "${C}_CEPH_MON=127.0.0.1:${MON_PORT[$c]}"
      echo "${C}_POOL=volumes"
    done
    echo "OLD_NOVA=http://127.0.0.1:$NOVA_PORT/v2.1"
    echo "OLD_CINDER_HOST=$1"; echo "NEW_CINDER_HOST=$2"
    echo "CEPH_ID=admin"; echo "REGION=RegionOne"
    echo "TB_CEPH_STORE=$CEPH_STORE"; echo "TB_CEPH_STORE_BYTES=$CEPH_STORE_BYTES"
    echo "ADMIN_USER=admin"; echo "ADMIN_PASSWORD=adminpass"
    echo "OPERATOR_USER=operator"; echo "OPERATOR_PASSWORD=operatorpass"
    echo "TESTBED_STATE=$STATE"
    echo "CREDENTIALS=$STATE/credentials.json"; echo "CREDENTIALS_ADMIN=$STATE/credentials-admin.json"
    echo "CLOUDS_YAML=$STATE/clouds.yaml"; echo "SEED_JSON=$STATE/seed.json"
  } >"$STATE/env.tmp"
  mv "$STATE/env.tmp" "$STATE/env"
}

# ---------------------------------------------------------------- status / down
ceph_daemons() { ls "$STATE/ceph/$1/run/"*.pid.launcher 2>/dev/null || true; }
ceph_alive() { # cloud: mon and osd (and mgr if started) running, pool answers an OSD read
  local f n=0 conf=$STATE/ceph/$1/ceph.conf
  for f in $(ceph_daemons "$1"); do
    tr '\0' ' ' <"/proc/$(cat "$f")/cmdline" 2>/dev/null | grep -qF -- "$conf" || return 1; n=$((n + 1))
  done
  [ $n -ge 2 ] && timeout 10 rbd --conf "$conf" --id admin ls volumes >/dev/null 2>&1
}
running_store() { # "store bytes" of the running testbed, from env (an env without the lines: memstore 8 GiB)
  local s b
  s=$(sed -n 's/^TB_CEPH_STORE=//p' "$STATE/env" 2>/dev/null); b=$(sed -n 's/^TB_CEPH_STORE_BYTES=//p' "$STATE/env" 2>/dev/null)
  echo "${s:-memstore} ${b:-8589934592}"
}
store_desc() { # store bytes -> "bluestore, 32 GiB"
  if (($2 % (1 << 30) == 0)); then echo "$1, $(($2 >> 30)) GiB"; else echo "$1, $(($2 >> 20)) MiB"; fi
}
http_is() { [ "$(curl -s -m 3 -o /dev/null -w '%{http_code}' "$1")" = "$2" ]; }
all_ok() {
  local n c
  [ -f "$STATE/env" ] || return 1
  for n in "${DAEMONS[@]}"; do alive "$n" || return 1; done
  for c in "${CLOUDS[@]}"; do
    ceph_alive "$c" && http_is "http://127.0.0.1:${KS_PORT[$c]}/v3" 200 \
      && http_is "http://127.0.0.1:${CINDER_PORT[$c]}/" 300 || return 1
  done
  http_is "http://127.0.0.1:$NOVA_PORT/" 200
}

rss() { # pids... -> MiB
  local p kb=0; for p in "$@"; do kb=$((kb + $(awk '/^VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
  echo $((kb / 1024))
}
status() {
  local n p f c
  for n in "${DAEMONS[@]}"; do
    if alive "$n"; then p=$(cat "$RUN/$n.pid")
      printf '%-16s pid %-7s RSS %5s MiB\n' "$n" "$p" "$(rss "$p" $(ps -o pid= --ppid "$p"))"
    else printf '%-16s DOWN\n' "$n"; fi
  done
  for c in "${CLOUDS[@]}"; do
    for f in $(ceph_daemons "$c"); do
      p=$(cat "$f"); n=ceph-$c-$(basename "$f" .pid.launcher)
      if [ -d "/proc/$p" ]; then printf '%-16s pid %-7s RSS %5s MiB\n' "$n" "$p" "$(rss "$p")"
      else printf '%-16s DOWN\n' "$n"; fi
    done
  done
  if [ -f "$STATE/env" ]; then
    local st; read -r -a st <<<"$(running_store)"; printf 'ceph store       %s' "$(store_desc "${st[@]}")"
    [ "${st[0]}" = bluestore ] && for c in "${CLOUDS[@]}"; do
      printf '; %s block file %s MiB on disk' "$c" "$(du -m "$STATE/ceph/$c/osd/0/block.file" 2>/dev/null | cut -f1)"
    done
    echo
  fi
  local pids; pids=$(for n in "${DAEMONS[@]}"; do p=$(cat "$RUN/$n.pid" 2>/dev/null) && echo "$p" && ps -o pid= --ppid "$p"; done
    for c in "${CLOUDS[@]}"; do for f in $(ceph_daemons "$c"); do cat "$f"; done; done)
  echo "listening: $(ss -Hltnp | grep -E "pid=($(echo $pids | tr ' ' '|'))," | awk '{print $4}' | sort -t: -k2n -u | tr '\n' ' ')"
  if all_ok; then echo "status: UP (all alive and answering; env in $STATE/env)"; else echo "status: NOT UP"; return 1; fi
}

down() {
  local t0 n c; t0=$(now)
  for n in "${DAEMONS[@]}"; do stop "$n" & done   # nothing depends on anything at shutdown
  for c in "${CLOUDS[@]}"; do
    [ -d "$STATE/ceph/$c" ] && "$TESTBED/lib/ceph.sh" down "$STATE/ceph/$c" 2>>"$LOGS/ceph-down.log" &
  done
  wait
  if ls "$RUN"/*.pid >/dev/null 2>&1; then die "pid files remain (not ours?): $(ls "$RUN"/*.pid); state kept"; fi
  # throw the state away (every up starts empty), keep the logs for post-mortems
  rm -rf "$STATE"/{old,new,ceph,work,exports,tape} "$STATE"/{env,credentials.json,credentials-admin.json,clouds.yaml,seed.json}
  log "down in $(since "$t0")s"
}

# ---------------------------------------------------------------- up
BG=()
fail_out() { # wait for our own setup jobs (never the daemons), then tear down
  log "FAILED: $* (logs in $LOGS)"; local j; for j in "${BG[@]}"; do wait "$j" 2>/dev/null || true; done
  down || true; exit 1
}
ports_free() { # all our ports, including the OSD/mgr range, must be free
  local busy=() p listening; listening=$(ss -Hltn | awk '{n = split($4, a, ":"); print a[n]}' | sort -u)
  for p in "${KS_PORT[@]}" "${CINDER_PORT[@]}" "$NOVA_PORT" $(for p in "${MON_PORT[@]}"; do echo "$p $((p + 1))"; done) \
    $(seq "$CEPH_PORT_MIN" "$CEPH_PORT_MAX"); do
    grep -qx "$p" <<<"$listening" && busy+=("$p")
  done
  [ ${#busy[@]} = 0 ] || { log "port(s) ${busy[*]} busy with something that is not this testbed: refusing"; return 1; }
}

up() {
  case $CEPH_STORE in memstore | bluestore) ;; *) die "TB_CEPH_STORE must be memstore or bluestore, not '$CEPH_STORE'" ;; esac
  [[ $CEPH_STORE_BYTES =~ ^[0-9]+$ ]] || die "TB_CEPH_STORE_BYTES must be a number of bytes, not '$CEPH_STORE_BYTES'"
  mkdir -p "$LOGS" "$RUN"
  if ! bash "$TESTBED/install.sh" --check; then
    # a venv is about to be rebuilt (e.g. changed constraints): nothing may run from it meanwhile
    if ls "$RUN"/*.pid >/dev/null 2>&1 || [ -d "$STATE/ceph" ]; then log "install pending -> down first"; down; fi
    bash "$TESTBED/install.sh"
  fi
  if all_ok; then
    local st; read -r -a st <<<"$(running_store)"
    if [ "${st[0]} ${st[1]}" = "$CEPH_STORE $CEPH_STORE_BYTES" ]; then
      log "already up (ceph store $(store_desc "${st[@]}"))"; return 0
    fi
    log "up with ceph store $(store_desc "${st[@]}"), asked for $(store_desc "$CEPH_STORE" "$CEPH_STORE_BYTES") -> down, then up"
    down
  fi
  if ls "$RUN"/*.pid >/dev/null 2>&1 || [ -d "$STATE/ceph" ] || [ -d "$STATE/old" ] || [ -d "$STATE/new" ]; then
    log "testbed partly up -> down first"; down
  fi
  ports_free || exit 1
  local t0 c k fail=0; t0=$(now)
  rm -rf "$LOGS/last-run"; mkdir -p "$LOGS/last-run"
  find "$LOGS" -mindepth 1 -maxdepth 1 ! -name last-run -exec mv -t "$LOGS/last-run" {} +
  for c in "${CLOUDS[@]}"; do mkdir -p "$STATE/$c"; write_keystone_conf "$c"; write_cinder_conf "$c"; done
  write_nova_conf

  # phase 1, all in parallel: 2 Ceph clusters, 2 Keystones, 2 Cinder DBs, the Nova DBs
  local -A bg=()
  for c in "${CLOUDS[@]}"; do
    CEPH_MGR=$CEPH_MGR CEPH_PORT_MIN=$CEPH_PORT_MIN CEPH_PORT_MAX=$CEPH_PORT_MAX CEPH_STORE=$CEPH_STORE \
      CEPH_STORE_BYTES=$CEPH_STORE_BYTES "$TESTBED/lib/ceph.sh" up \
      "$STATE/ceph/$c" "$LOGS/ceph-$c" "${MON_PORT[$c]}" >/dev/null 2>"$LOGS/ceph-$c.out" & bg[ceph-$c]=$!
    keystone_up "$c" & bg[keystone-$c]=$!
    cinder_db "$c" & bg[cinderdb-$c]=$!
  done
  nova_db & bg[novadb]=$!
  BG=("${bg[@]}")
  for k in keystone-old keystone-new; do wait "${bg[$k]}" || { log "FAILED: $k"; fail=1; }; done
  [ $fail = 0 ] || fail_out "keystone"
  log "keystones up ($(since "$t0")s); seeding projects, users, catalog"
  for c in "${CLOUDS[@]}"; do
    { kpy "$TESTBED/lib/seed_keystone.py" "$c" "${KS_PORT[$c]}" "${CINDER_PORT[$c]}" "$NOVA_PORT" \
        >"$STATE/$c/ids.json" 2>>"$LOGS/seed-keystone-$c.log"; } & bg[seed-$c]=$!
  done
  BG+=("${bg[seed-old]}" "${bg[seed-new]}")
  for k in ceph-old ceph-new cinderdb-old cinderdb-new novadb; do
    wait "${bg[$k]}" || { log "FAILED: $k"; fail=1; }
  done
  [ $fail = 0 ] || { tail -5 "$LOGS"/ceph-*.out >&2; fail_out "ceph or db sync"; }
  log "ceph clusters + DBs ready ($(since "$t0")s); starting cinders"
  # cinder needs keystone only lazily (authtoken), so it starts while the catalog is being written
  for c in "${CLOUDS[@]}"; do cinder_start "$c"; done
  wait "${bg[seed-old]}" && wait "${bg[seed-new]}" || fail_out "keystone seeding (see $LOGS/seed-keystone-*.log)"
  log "keystone seeded ($(since "$t0")s); seeding + starting nova"
  nova_up & local nv=$!; BG+=($nv)
  local host_old host_new
  host_old=$(cinder_wait old) || { tail -20 "$LOGS/cinder-old.log" >&2; fail_out "cinder old"; }
  host_new=$(cinder_wait new) || { tail -20 "$LOGS/cinder-new.log" >&2; fail_out "cinder new"; }
  wait $nv || { tail -20 "$LOGS/nova-api.log" "$LOGS/nova-seed.log" >&2; fail_out "nova"; }

  write_env "$host_old" "$host_new"
  python3 "$TESTBED/lib/write_outputs.py" "$STATE" || fail_out "writing outputs"
  all_ok || fail_out "final check"
  log "ALL UP in $(since "$t0")s (ceph store $(store_desc "$CEPH_STORE" "$CEPH_STORE_BYTES")): cinder pools $host_old, $host_new; env in $STATE/env"
}

case ${1:-up} in
  up) up ;;
  down) mkdir -p "$LOGS" "$RUN"; down ;;
  status) status ;;
  *) echo "usage: $0 [up|down|status]" >&2; exit 2 ;;
esac
