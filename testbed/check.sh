#!/usr/bin/env bash
# Smoke test of a running testbed (bash testbed/up.sh first). Prints PASS/FAIL lines and
# "N passed, N failed"; exit 0 only if all passed. Leaves no volumes behind. ~20 s.
set -uo pipefail
STATE=$(cd "$(dirname "$0")" && pwd)/.state
set -a; . "$STATE/env"; set +a
PASS=0 FAIL=0
check() { local what=$1; shift; if "$@" >/dev/null 2>&1; then echo "PASS: $what"; PASS=$((PASS + 1)); else echo "FAIL: $what"; FAIL=$((FAIL + 1)); fi; }
J='Content-Type: application/json'
token() { # keystone user password -> token scoped to research
  curl -s -D - -o /dev/null -H "$J" "$1/auth/tokens" -d "{\"auth\":{\"identity\":{\"methods\":[\"password\"],
    \"password\":{\"user\":{\"name\":\"$2\",\"domain\":{\"name\":\"Default\"},\"password\":\"$3\"}}},
    \"scope\":{\"project\":{\"name\":\"research\",\"domain\":{\"name\":\"Default\"}}}}}" \
    | awk 'tolower($1)=="x-subject-token:"{print $2}' | tr -d '\r'
}
code() { curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-Token: $1" "${@:2}"; }
status_of() { curl -s -H "X-Auth-Token: $1" "$2" | jq -r '.volume.status // "gone"'; }
wait_for() { # token url want
  local i s; for ((i = 0; i < 60; i++)); do s=$(status_of "$1" "$2"); [ "$s" = "$3" ] && return 0; sleep 0.5; done; return 1
}

OP_OLD=$(token "$OLD_KEYSTONE" "$OPERATOR_USER" "$OPERATOR_PASSWORD")
OP_NEW=$(token "$NEW_KEYSTONE" "$OPERATOR_USER" "$OPERATOR_PASSWORD")
AD_OLD=$(token "$OLD_KEYSTONE" "$ADMIN_USER" "$ADMIN_PASSWORD")
check "operator token from old keystone" test -n "$OP_OLD"
check "operator token from new keystone" test -n "$OP_NEW"
check "admin token from old keystone" test -n "$AD_OLD"

for c in OLD NEW; do
  ks=${c}_KEYSTONE; cin=${c}_CINDER; pid=${c}_RESEARCH_ID; conf=${c}_CEPH_CONF; kr=${c}_CEPH_KEYRING; pool=${c}_POOL
  tok=$([ $c = OLD ] && echo "$OP_OLD" || echo "$OP_NEW")
  base=${!cin}/${!pid}/volumes
  vid=$(curl -s -H "X-Auth-Token: $tok" -H "$J" "$base" -d '{"volume":{"size":1,"name":"testbed-check"}}' | jq -r .volume.id)
  check "$c: cinder volume reaches available" wait_for "$tok" "$base/$vid" available
  check "$c: rbd ls shows volume-$vid" bash -c "rbd --conf '${!conf}' --id '$CEPH_ID' --keyring '${!kr}' -p '${!pool}' ls | grep -qx 'volume-$vid'"
  curl -s -o /dev/null -X DELETE -H "X-Auth-Token: $tok" "$base/$vid"
  check "$c: volume deleted through cinder" wait_for "$tok" "$base/$vid" gone
  check "$c: rbd image removed by cinder" bash -c "l=\$(rbd --conf '${!conf}' --id '$CEPH_ID' --keyring '${!kr}' -p '${!pool}' ls) && ! grep -qx 'volume-$vid' <<<\"\$l\""
done

Q='start=2025-01-01T00:00:00&end=2025-07-01T00:00:00'
totals=$(curl -s -H "X-Auth-Token: $OP_OLD" -H 'OpenStack-API-Version: compute 2.40' \
  "$OLD_NOVA/os-simple-tenant-usage/$OLD_RESEARCH_ID?$Q" | jq -c '.tenant_usage | [.total_hours, .total_vcpus_usage, .total_memory_mb_usage, .total_local_gb_usage]')
check "nova usage for research as operator: $totals" test "$totals" = '[5208,16068,32907264,357360]'
n=$(curl -s -H "X-Auth-Token: $AD_OLD" -H 'OpenStack-API-Version: compute 2.40' \
  "$OLD_NOVA/os-simple-tenant-usage?start=2024-01-01T00:00:00&end=2024-02-01T00:00:00" | jq '.tenant_usages | length')
check "nova usage has data in 2024-01 ($n tenants)" test "$n" = 2
check "nova usage list as operator -> 403" test "$(code "$OP_OLD" "$OLD_NOVA/os-simple-tenant-usage?$Q")" = 403

# a revoked token is refused by Keystone at once (Cinder and Nova cache validations for 300 s, as in production)
T=$(token "$OLD_KEYSTONE" "$OPERATOR_USER" "$OPERATOR_PASSWORD")
check "fresh token accepted by cinder" test "$(code "$T" "$OLD_CINDER/$OLD_RESEARCH_ID/volumes")" = 200
check "fresh token accepted by nova" test "$(code "$T" "$OLD_NOVA/os-simple-tenant-usage/$OLD_RESEARCH_ID?$Q")" = 200
curl -s -o /dev/null -X DELETE -H "X-Auth-Token: $T" -H "X-Subject-Token: $T" "$OLD_KEYSTONE/auth/tokens"
check "revoked token -> 401 from keystone" test "$(code "$T" "$OLD_KEYSTONE/auth/projects")" = 401

for f in credentials.json credentials-admin.json; do
  check "$f: keys of credentials.example.json, mode 600" bash -c "[ \$(stat -c %a '$STATE/$f') = 600 ] && \
    jq -e '(keys == [\"concurrency\",\"export_dir\",\"import_strategy\",\"new_cloud\",\"old_cloud\",\"tape\",\"usage\",\"volume_type_map\",\"work_dir\"]) and (.old_cloud.ceph | keys == [\"conf\",\"id\",\"keyring\",\"pool\"])' '$STATE/$f'"
done
echo "$PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
