# Settings shared by install.sh and up.sh (sourced, not run).
# Every port and path can be overridden from the environment.

TESTBED=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=$TESTBED/.state                      # everything runtime (git-ignored)
LOGS=$STATE/logs
RUN=$STATE/run                             # pid files

# venvs live OUTSIDE the clone so that a fresh clone / `git clean` does not cost a reinstall
CACHE=${STACKMIGRATE_TESTBED_CACHE:-$HOME/.cache/stackmigrate-testbed}
KC_VENV=$CACHE/venv-keystone-cinder        # keystone 30 + cinder 29 + uWSGI
NOVA_VENV=$CACHE/venv-nova                 # nova 34 + keystonemiddleware + gunicorn

# ports (127.0.0.1 only). The defaults avoid 5000/8776/8774, which other stacks like to use.
declare -A KS_PORT=([old]=${TB_KS_OLD_PORT:-5010} [new]=${TB_KS_NEW_PORT:-5011})
declare -A CINDER_PORT=([old]=${TB_CINDER_OLD_PORT:-8786} [new]=${TB_CINDER_NEW_PORT:-8787})
declare -A MON_PORT=([old]=${TB_MON_OLD_PORT:-3300} [new]=${TB_MON_NEW_PORT:-3310})  # msgr2; msgr1 = +1
NOVA_PORT=${TB_NOVA_PORT:-8784}
# OSDs (8 ports each) and mgrs (2 each) of BOTH clusters bind inside this range
CEPH_PORT_MIN=${TB_CEPH_PORT_MIN:-6800}
CEPH_PORT_MAX=${TB_CEPH_PORT_MAX:-6819}
# ceph-mgr: real capacity numbers for Cinder and HEALTH_OK; 0 saves ~600 MiB RSS
CEPH_MGR=${TB_CEPH_MGR:-1}
# OSD store: memstore (RAM, about 2x the stored bytes in OSD RSS; the default: faster up) or bluestore
# (one sparse file per cluster under .state/ceph/<cloud>/osd/0/; costs disk only for the bytes written)
CEPH_STORE=${TB_CEPH_STORE:-memstore}
if [ "$CEPH_STORE" = bluestore ]; then CEPH_STORE_BYTES=${TB_CEPH_STORE_BYTES:-34359738368}  # 32 GiB
else CEPH_STORE_BYTES=${TB_CEPH_STORE_BYTES:-8589934592}; fi                                # 8 GiB
CLOUDS=(old new)

log() { printf '[testbed %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.1f", b-a}'; }
