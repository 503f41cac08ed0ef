"""Usage history for the old cloud's nova-api, written with nova's own objects (runs in the nova venv).

usage: seed_nova.py <nova.conf> <old-seed.json>      (the JSON printed by seed_keystone.py)

The first six instances are those of the shared testbed notes; for 2025-01-01T00:00 -> 2025-07-01T00:00:
  research: total_hours 5208.0, vcpus 16068.0, memory_mb 32907264.0, local_gb 357360.0 (3 servers)
  other:    total_hours 4287.5, vcpus 8606.0,  memory_mb 17625088.0, local_gb 183315.0 (3 servers)
The extra instances lie entirely OUTSIDE that window (so those totals hold) and, with the two that never
end (r-db-1 active, o-gpu-1 stopped), give every month from 2024-01 to now some usage.
Deleted instances are soft-deleted with Instance.destroy(), as nova-compute does.
"""
import datetime
import json
import sys
import uuid
import warnings

from nova import config, context as nova_context, exception, objects
from nova.network import model as network_model

warnings.simplefilter('ignore')
UTC = datetime.timezone.utc
NS = uuid.UUID('6f1d2c3e-0000-4000-8000-000000000000')
# name, flavorid, vcpus, ram MB, root GB, ephemeral GB   (usage local_gb = root + ephemeral)
FLAVORS = [('m1.small', '2', 1, 2048, 20, 0), ('m1.medium', '3', 2, 4096, 40, 0),
           ('m1.large', '4', 4, 8192, 80, 10)]

conf, seed_file = sys.argv[1:3]
ids = json.load(open(seed_file))
RES, OTHER = ids['research'], ids['other']
OP, ADM = ids['users']['operator'], ids['users']['admin']
INSTANCES = [  # name, project, user, flavor, launched_at, terminated_at (None = still there), vm_state
    ('r-web-1', RES, OP, 'm1.small', '2025-01-10T00:00:00', '2025-03-15T12:00:00', 'deleted'),
    ('r-db-1', RES, OP, 'm1.large', '2025-02-01T00:00:00', None, 'active'),
    ('r-batch-1', RES, OP, 'm1.medium', '2025-04-05T06:00:00', '2025-04-07T18:00:00', 'deleted'),
    ('o-app-1', OTHER, ADM, 'm1.medium', '2024-12-20T00:00:00', '2025-02-10T00:00:00', 'deleted'),
    ('o-app-2', OTHER, ADM, 'm1.small', '2025-03-01T00:00:00', '2025-06-01T00:00:00', 'deleted'),
    ('o-gpu-1', OTHER, ADM, 'm1.large', '2025-05-15T08:30:00', None, 'stopped'),
    # long history, outside the 2025-01..2025-07 window
    ('r-2024-app-1', RES, OP, 'm1.medium', '2024-01-01T00:00:00', '2024-06-30T12:00:00', 'deleted'),
    ('r-2024-web-2', RES, OP, 'm1.small', '2024-05-10T00:00:00', '2024-12-31T00:00:00', 'deleted'),
    ('o-2024-app-0', OTHER, ADM, 'm1.small', '2024-01-15T00:00:00', '2024-12-01T00:00:00', 'deleted'),
    ('r-2025-etl-1', RES, OP, 'm1.medium', '2025-07-15T00:00:00', '2025-11-20T00:00:00', 'deleted'),
    ('r-2026-ml-1', RES, OP, 'm1.large', '2026-02-01T00:00:00', '2026-06-30T00:00:00', 'deleted'),
    # stopped (SHUTOFF), for the cutover's precondition; launched after every usage period the tests ask
    ('r-cold-1', RES, OP, 'm1.small', '2026-11-02T00:00:00', None, 'stopped'),
]


def dt(s):
    return datetime.datetime.strptime(s, '%Y-%m-%dT%H:%M:%S').replace(tzinfo=UTC)


config.parse_args(['seed', '--config-file', conf])
objects.register_all()
ctxt = nova_context.get_admin_context()
flavors = {}
for name, flavorid, vcpus, mem, root, eph in FLAVORS:
    try:
        fl = objects.Flavor.get_by_name(ctxt, name)
    except exception.FlavorNotFoundByName:
        fl = objects.Flavor(ctxt, name=name, flavorid=flavorid, vcpus=vcpus, memory_mb=mem, root_gb=root,
                            ephemeral_gb=eph, swap=0, rxtx_factor=1.0, vcpu_weight=0, disabled=False,
                            is_public=True, extra_specs={})
        fl.create()
    flavors[name] = fl

cell = next(c for c in objects.CellMappingList.get_all(ctxt) if c.name == 'cell1')
with nova_context.target_cell(ctxt, cell) as cctxt:
    for name, project, user, fname, launched, terminated, vm_state in INSTANCES:
        iu = str(uuid.uuid5(NS, name + project))
        try:
            objects.Instance.get_by_uuid(cctxt.elevated(read_deleted='yes'), iu)
            continue  # already seeded
        except exception.InstanceNotFound:
            pass
        fl = flavors[fname]
        # no 'node': Instance.create() refuses a node without compute_id
        inst = objects.Instance(cctxt, uuid=iu, display_name=name, hostname=name, project_id=project,
                                user_id=user, flavor=fl, old_flavor=None, new_flavor=None,
                                instance_type_id=fl.id, vcpus=fl.vcpus, memory_mb=fl.memory_mb,
                                root_gb=fl.root_gb, ephemeral_gb=fl.ephemeral_gb, vm_state='active',
                                power_state=1, task_state=None, host='compute-1', availability_zone='nova',
                                launched_at=dt(launched), created_at=dt(launched),
                                image_ref='155d900f-4e14-4e4c-a73d-069cbf4541e6',
                                system_metadata={}, metadata={},
                                # an empty network cache: GET /servers/detail needs one
                                info_cache=objects.InstanceInfoCache(network_info=network_model.NetworkInfo()))
        inst.create()
        objects.InstanceMapping(ctxt, instance_uuid=iu, cell_mapping=cell, project_id=project, user_id=user,
                                queued_for_delete=terminated is not None).create()
        if terminated:
            inst.vm_state, inst.power_state = vm_state, 0
            inst.terminated_at, inst.host = dt(terminated), None
            inst.save()
            inst.destroy()
        elif vm_state != 'active':
            inst.vm_state, inst.power_state = vm_state, 4
            inst.save()
print('seeded %d instances' % len(INSTANCES))
