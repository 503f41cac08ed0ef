//! One volume's data path on the real testbed: export from the old Ceph,
//! import into the new cloud by both strategies, the tape copy, and the
//! faults. Checksums are compared at the source, the export file, the tape
//! copy and the new image, each read independently (`rbd export -`, files).

mod faults;
mod fixtures;
mod migrate_one;
#[path = "../common/testbed.rs"]
mod testbed;
