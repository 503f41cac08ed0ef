"""Writes the testbed's contract files from <state>/env (KEY=VALUE) and <state>/{old,new}/ids.json:

  credentials.json        operator (member on research) in both clouds, credentials.example.json's schema
  credentials-admin.json  the same with the admin user (token scoped to research)
  clouds.yaml             clouds old, new (operator) and old-admin, new-admin (openstackclient format)
  seed.json               {"old": {research, other, admin_project, service, users{name: id}}, "new": {...}}
usage: write_outputs.py <state-dir>     (stdlib only; run with any python3)
"""
import json
import os
import sys

state = sys.argv[1]
env = dict(line.rstrip('\n').split('=', 1) for line in open(os.path.join(state, 'env')) if '=' in line)
ids = {c: json.load(open(os.path.join(state, c, 'ids.json'))) for c in ('old', 'new')}


def write(name, text, mode=0o644):
    path = os.path.join(state, name)
    with open(path + '.tmp', 'w') as f:
        f.write(text)
    os.chmod(path + '.tmp', mode)
    os.replace(path + '.tmp', path)  # readers never see a half-written file


def cloud(c, user, password):
    C = c.upper()
    return {
        'auth_url': env[C + '_KEYSTONE'],
        'auth': {'type': 'password', 'username': user, 'password': password, 'user_domain_name': 'Default'},
        'project_name': 'research',
        'project_domain_name': 'Default',
        'region': env['REGION'],
        'interface': 'public',
        'cacert': None,
        'insecure': False,
        'ceph': {'conf': env[C + '_CEPH_CONF'], 'id': env['CEPH_ID'], 'keyring': env[C + '_CEPH_KEYRING'],
                 'pool': env[C + '_POOL']},
    }


def credentials(user, password):
    return json.dumps({
        'old_cloud': cloud('old', user, password),
        'new_cloud': cloud('new', user, password),
        'work_dir': os.path.join(state, 'work'),
        'export_dir': os.path.join(state, 'exports'),
        'usage': {'start': '2025-01-01T00:00:00', 'end': '2025-07-01T00:00:00'},
        'tape': {'command': ['cp', '--sparse=always', '{file}', os.path.join(state, 'tape') + '/']},
        'import_strategy': 'replace',
        'volume_type_map': {},
        'concurrency': {'exports': 2, 'imports': 2, 'tapes': 1, 'usage_queries': 4},
    }, indent=2) + '\n'


for d in ('work', 'exports', 'tape'):
    os.makedirs(os.path.join(state, d), exist_ok=True)
write('credentials.json', credentials(env['OPERATOR_USER'], env['OPERATOR_PASSWORD']), 0o600)
write('credentials-admin.json', credentials(env['ADMIN_USER'], env['ADMIN_PASSWORD']), 0o600)


def yaml_cloud(name, c, user, password):
    # json.dumps quotes every scalar: valid YAML whatever the value holds
    q = json.dumps
    return ('  %s:\n    auth:\n      auth_url: %s\n      username: %s\n      password: %s\n'
            '      project_name: research\n      user_domain_name: Default\n      project_domain_name: Default\n'
            '    region_name: %s\n    interface: public\n    identity_api_version: 3\n'
            % (name, q(env[c.upper() + '_KEYSTONE']), q(user), q(password), q(env['REGION'])))


write('clouds.yaml', '# written by testbed/up.sh; use with OS_CLIENT_CONFIG_FILE=<this file>\nclouds:\n' + ''.join(
    yaml_cloud(name, c, env[who + '_USER'], env[who + '_PASSWORD'])
    for name, c, who in [('old', 'old', 'OPERATOR'), ('new', 'new', 'OPERATOR'),
                         ('old-admin', 'old', 'ADMIN'), ('new-admin', 'new', 'ADMIN')]), 0o600)
write('seed.json', json.dumps(ids, indent=2, sort_keys=True) + '\n')
