"""Projects, users, role grants and the catalog of one cloud's Keystone (after keystone-manage bootstrap).

usage: seed_keystone.py <old|new> <keystone_port> <cinder_port> <nova_port>   (prints JSON ids)

  admin/adminpass        admin on 'admin' (bootstrap) and on 'research'
  operator/operatorpass  member on 'research' (Keystone's implied roles add 'reader')
  cinder/cinderpass (+ nova/novapass in old)  admin + service on 'service'
  project 'other' (old only) owns the second set of nova usage records.
Runs in the keystone/cinder venv (keystoneclient); idempotent on a given DB.
"""
import json
import sys

from keystoneauth1 import session
from keystoneauth1.identity import v3
from keystoneclient.v3 import client

cloud, ks_port, cinder_port, nova_port = sys.argv[1:5]
auth = v3.Password(auth_url='http://127.0.0.1:%s/v3' % ks_port, username='admin', password='adminpass',
                   project_name='admin', user_domain_id='default', project_domain_id='default')
ks = client.Client(session=session.Session(auth=auth))

_existing = {}


def one(mgr, name, **kw):
    """get-or-create by name (one list call per manager)"""
    have = _existing.setdefault(id(mgr), {x.name: x for x in mgr.list()})
    if name not in have:
        have[name] = mgr.create(name=name, **kw)
    return have[name]


roles = {r.name: r for r in ks.roles.list()}
service = one(ks.projects, 'service', domain='default', description='service users')
research = one(ks.projects, 'research', domain='default', description='research (%s cloud)' % cloud)
admin_p = one(ks.projects, 'admin')
other = one(ks.projects, 'other', domain='default', description='other tenant') if cloud == 'old' else None

admin = one(ks.users, 'admin')
operator = one(ks.users, 'operator', domain='default', password='operatorpass', default_project=research)
ks.roles.grant(roles['member'], user=operator, project=research)
ks.roles.grant(roles['admin'], user=admin, project=research)
users = {'admin': admin.id, 'operator': operator.id}
for name in ['cinder'] + (['nova'] if cloud == 'old' else []):
    u = one(ks.users, name, domain='default', password=name + 'pass')
    ks.roles.grant(roles['admin'], user=u, project=service)
    ks.roles.grant(roles['service'], user=u, project=service)
    users[name] = u.id

# catalog: cinder under both of its service types, nova only in the old cloud
cinder_url = 'http://127.0.0.1:%s/v3/%%(project_id)s' % cinder_port
services = [('volumev3', 'cinderv3', cinder_url), ('block-storage', 'cinder', cinder_url)]
if cloud == 'old':
    services.append(('compute', 'nova', 'http://127.0.0.1:%s/v2.1' % nova_port))
all_services, all_endpoints = ks.services.list(), ks.endpoints.list()
for stype, sname, url in services:
    svc = next((s for s in all_services if s.type == stype), None) or ks.services.create(name=sname, type=stype)
    have = {e.interface for e in all_endpoints if e.service_id == svc.id}
    for interface in ('public', 'internal', 'admin'):
        if interface not in have:
            ks.endpoints.create(service=svc, url=url, interface=interface, region='RegionOne')

# One password login per user now, one at a time: Keystone (SQLite) writes each user's last_active_at on
# the first login of the day, and parallel test binaries logging in as the same user for the first time
# met "database is locked" (a 500 on POST /v3/auth/tokens).
for name in users:
    pw = 'adminpass' if name == 'admin' else name + 'pass'
    session.Session(auth=v3.Password(auth_url='http://127.0.0.1:%s/v3' % ks_port, username=name, password=pw,
                                     user_domain_id='default', unscoped=True)).get_token()

out = {'research': research.id, 'admin_project': admin_p.id, 'service': service.id, 'users': users}
if other is not None:
    out['other'] = other.id
print(json.dumps(out))
