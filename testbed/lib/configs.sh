# Config file writers for up.sh (sourced). One directory per service under $STATE/<cloud>/.
# Settings that matter for the tests carry a comment saying why.

write_keystone_conf() { # cloud
  local c=$1 d=$STATE/$1/keystone
  mkdir -p "$d/fernet-keys" "$d/credential-keys"
  cat >"$d/keystone.conf" <<EOF
[DEFAULT]
log_dir = $LOGS
log_file = keystone-$c.log
[database]
connection = sqlite:///$d/keystone.db
[token]
provider = fernet
# 4 h: long test runs never see an expiry unless they force one
expiration = 14400
[fernet_tokens]
key_repository = $d/fernet-keys
[fernet_receipts]
key_repository = $d/fernet-keys
[credential]
key_repository = $d/credential-keys
[cache]
# Keystone's own cache, as production runs it (there with memcached): a token is cached when it is
# issued, so the first check of a new token by Cinder or Nova costs ~0.03 s instead of ~0.6 s of
# Keystone's CPU. One uWSGI process, so an in-process cache stays coherent; a revocation invalidates
# it at once (tests/openstack/keystone.rs and check.sh prove it).
enabled = true
backend = dogpile.cache.memory
[identity]
# bcrypt cost 4 instead of 12: a token issue takes ~0.1 s instead of ~0.35 s
password_hash_rounds = 4
EOF
}

# [keystone_authtoken] for cinder and nova: keystonemiddleware's default 300 s token cache, as production
# runs it (with memcached). Without it every API call costs Keystone about 0.5 CPU-s here to validate the
# token, which on two cores would make the benchmarks measure token checks. The revoked-token test talks
# to Keystone's own API, which checks every token.
authtoken_section() { # cloud service-user
  local cache="# token_cache_time: default (300 s)"
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = http://127.0.0.1:${KS_PORT[$1]}
auth_url = http://127.0.0.1:${KS_PORT[$1]}
auth_type = password
project_domain_id = default
user_domain_id = default
project_name = service
username = $2
password = ${2}pass
$cache
EOF
}

write_cinder_conf() { # cloud
  local c=$1 d=$STATE/$1/cinder
  mkdir -p "$d/state" "$d/locks"
  cp "$KC_VENV/etc/cinder/api-paste.ini" "$d/api-paste.ini"
  cat >"$d/cinder.conf" <<EOF
[DEFAULT]
log_dir = $LOGS
state_path = $d/state
api_paste_config = $d/api-paste.ini
auth_strategy = keystone
# api + scheduler + volume run in ONE process (lib/cinder_allinone.py): in-memory message bus, no RabbitMQ
transport_url = fake:/
resource_query_filters_file = $KC_VENV/etc/cinder/resource_filters.json
rootwrap_config = $KC_VENV/etc/cinder/rootwrap.conf
my_ip = 127.0.0.1
# host@backend#volume_backend_name = the Cinder pool for manage-existing: cinder-$c@ceph#ceph
host = cinder-$c
osapi_volume_listen = 127.0.0.1
osapi_volume_listen_port = ${CINDER_PORT[$c]}
osapi_volume_workers = 1
graceful_shutdown_timeout = 5
enabled_backends = ceph
default_volume_type = __DEFAULT__
glance_api_servers = http://127.0.0.1:9292
quota_volumes = 100
quota_gigabytes = 1000
quota_snapshots = 100

[database]
connection = sqlite:///$d/cinder.db

[oslo_concurrency]
lock_path = $d/locks

[coordination]
backend_url = file://$d/locks

[oslo_policy]
enforce_new_defaults = true
enforce_scope = false

$(authtoken_section "$c" cinder)

[ceph]
volume_driver = cinder.volume.drivers.rbd.RBDDriver
volume_backend_name = ceph
rbd_cluster_name = ceph
rbd_ceph_conf = $STATE/ceph/$c/ceph.conf
rbd_pool = volumes
rbd_user = admin
# > 0 also sets the mon/osd op timeouts: a dead cluster makes cinder-volume fail instead of hang
rados_connect_timeout = 15
EOF
}

write_nova_conf() { # (old cloud only)
  local d=$STATE/old/nova
  mkdir -p "$d/data" "$d/lock"
  # the STOCK paste pipeline: ... authtoken keystonecontext osapi_compute_app_v21 (real keystonemiddleware)
  cp "$NOVA_VENV/etc/nova/api-paste.ini" "$d/api-paste.ini"
  cat >"$d/nova.conf" <<EOF
[DEFAULT]
host = nova-old
state_path = $d/data
# only the usage API is served: nothing casts over RPC
transport_url = fake://
debug = False
use_stderr = True

[api]
# nova answers 500 if a response breaks its own schema: the samples we test against stay honest
response_validation = error
# Below compute 2.40 Nova ignores limit and cuts every answer at max_limit with no next link (the notes'
# samples 47-49). 4 instead of 1000: the seeded history's longer periods then come in pages, so a client
# that stopped asking for 2.40 (or following links) loses usage in the tests, as it would on a large cloud.
max_limit = 4

[wsgi]
api_paste_config = $d/api-paste.ini

[api_database]
connection = sqlite:///$d/data/nova_api.sqlite

[database]
connection = sqlite:///$d/data/nova_cell1.sqlite

[oslo_concurrency]
lock_path = $d/lock

[oslo_messaging_notifications]
driver = noop

$(authtoken_section old nova)
EOF
}
