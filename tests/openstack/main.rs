//! The OpenStack client and the CLI against the real testbed: two Keystones,
//! two Cinders with the RBD driver on two Ceph clusters, and nova-api.
//! Start it with `testbed/up.sh` (scripts/test.sh does). A missing testbed
//! fails these tests: it is never a silent skip.

mod cinder;
mod cli;
#[path = "../common/fixtures.rs"]
mod fixtures;
#[path = "../common/json_shape.rs"]
mod json_shape;
mod keystone;
mod manage;
mod nova;
mod sim_shape;
#[path = "../common/testbed.rs"]
mod testbed;
mod usage;
