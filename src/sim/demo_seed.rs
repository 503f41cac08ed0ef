//! The demo's seeded clouds: project `research` with a dozen volumes (sparse,
//! a little real data each, some attached, one bootable with image metadata,
//! two volume types, one in `error`), and two years of usage history.

use super::cloud_state::{CloudState, SimInstance, SimProject, SimUser, SimVolume};
use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use std::collections::BTreeMap;
use std::os::unix::fs::FileExt;

const GIB: u64 = 1 << 30;
const MIB: u64 = 1 << 20;

/// (name, GiB, type, MiB of data, attached server, bootable, status)
type SeedVolume = (
    &'static str,
    u64,
    &'static str,
    u64,
    Option<&'static str>,
    bool,
    &'static str,
);

const VOLUMES: &[SeedVolume] = &[
    ("db-data", 40, "ceph-ssd", 48, Some("db-1"), false, "in-use"),
    ("web-root", 10, "ceph-ssd", 24, Some("web-1"), true, "in-use"),
    ("logs", 20, "ceph-hdd", 32, Some("web-1"), false, "in-use"),
    ("scratch", 5, "ceph-hdd", 8, None, false, "available"),
    ("home dirs", 8, "ceph-hdd", 16, None, false, "available"),
    ("backup-2024", 30, "ceph-hdd", 40, None, false, "available"),
    ("ml-datasets", 25, "ceph-ssd", 36, Some("gpu-1"), false, "in-use"),
    ("wiki", 2, "ceph-hdd", 4, None, false, "available"),
    ("ci-cache", 15, "ceph-ssd", 12, None, false, "available"),
    ("mail", 12, "ceph-hdd", 20, None, false, "available"),
    ("analytics", 35, "ceph-ssd", 28, None, false, "available"),
    ("broken-vol", 1, "ceph-hdd", 0, None, false, "error"),
];

fn id(kind: &str, name: &str) -> String {
    // Stable ids, so a demo re-run with --work-dir resumes the same volumes.
    uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_OID,
        format!("stackmigrate-demo/{kind}/{name}").as_bytes(),
    )
    .to_string()
}

/// The volume types beside Cinder's default: the old cloud's Ceph tiers, and
/// the new cloud's names for them (the demo's `volume_type_map`).
pub fn volume_types(s: &mut CloudState, old: bool) {
    let names: &[&str] = if old {
        &["ceph-hdd", "ceph-ssd"]
    } else {
        &["standard", "fast"]
    };
    let kind = format!("{}-type", s.name);
    s.volume_types
        .extend(names.iter().map(|n| (id(&kind, n), n.to_string())));
}

pub fn users_and_projects(s: &mut CloudState, extra_project: bool) {
    let mut names = vec!["admin", "research"];
    if extra_project {
        names.push("other");
    }
    s.projects = names
        .iter()
        .map(|n| SimProject {
            id: id(&format!("{}-project", s.name), n).replace('-', ""),
            name: n.to_string(),
        })
        .collect();
    let all: Vec<(String, Vec<String>)> = s
        .projects
        .iter()
        .map(|p| (p.id.clone(), vec!["admin".into(), "member".into(), "reader".into()]))
        .collect();
    let member = |name: &str| {
        let id = s.project(name).map(|p| p.id.clone())?;
        Some((id, vec!["member".into(), "reader".into()]))
    };
    // In the old cloud, a member of `other` too: the one it logs in to may
    // not be the one it migrates.
    let operator: Vec<(String, Vec<String>)> = ["research", "other"].into_iter().filter_map(member).collect();
    s.users = vec![
        SimUser {
            id: id("user", "admin").replace('-', ""),
            name: "admin".into(),
            password: "adminpass".into(),
            roles: all,
        },
        SimUser {
            id: id("user", "operator").replace('-', ""),
            name: "operator".into(),
            password: "operatorpass".into(),
            roles: operator,
        },
    ];
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Volumes, their sparse files (data in a few places), and servers.
pub fn old_research(s: &mut CloudState, now: NaiveDateTime) -> std::io::Result<()> {
    let research = s.project("research").map(|p| p.id.clone()).unwrap_or_default();
    let user = s
        .users
        .iter()
        .find(|u| u.name == "operator")
        .map(|u| u.id.clone())
        .unwrap_or_default();
    for (n, (name, gib, vtype, data_mib, server, bootable, status)) in VOLUMES.iter().enumerate() {
        let vid = id("volume", name);
        let path = s.store_dir.join(format!("volume-{vid}"));
        let f = crate::storage::private_fs::create_file(&path)?;
        f.set_len(gib * GIB)?;
        // Data at the start, in the middle and near the end, the rest holes.
        let chunk = (data_mib * MIB / 3) as usize;
        for (k, off) in [0, gib * GIB / 2 + 4096, gib * GIB - chunk as u64 - 777]
            .into_iter()
            .enumerate()
        {
            if chunk > 0 {
                f.write_all_at(&noise((n * 3 + k) as u64 + 1, chunk), off)?;
            }
        }
        let mut image_metadata = BTreeMap::new();
        if *bootable {
            image_metadata.insert("image_name".into(), "debian-12-genericcloud".into());
            image_metadata.insert("os_distro".into(), "debian".into());
            image_metadata.insert("hw_disk_bus".into(), "virtio".into());
        }
        let attachments = server
            .map(|srv| vec![(id("server", srv), "/dev/vdb".to_string())])
            .unwrap_or_default();
        s.volumes.insert(
            vid.clone(),
            SimVolume {
                id: vid,
                project_id: research.clone(),
                user_id: user.clone(),
                name: name.to_string(),
                description: Some(format!("{name} of the research group")),
                size: *gib,
                status: status.to_string(),
                volume_type: vtype.to_string(),
                bootable: *bootable,
                metadata: BTreeMap::from([("owner".to_string(), "research".to_string())]),
                image_metadata,
                attachments,
                created_at: now - Duration::days(400 - n as i64 * 20),
                updated_at: Some(now - Duration::days(3)),
            },
        );
    }
    Ok(())
}

/// Two years of servers coming and going in `research` and `other`.
pub fn usage_history(s: &mut CloudState, now: NaiveDateTime) {
    let base = NaiveDate::from_ymd_opt(now.year() - 2, now.month(), 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or(now);
    let day = |d: i64| base + Duration::days(d);
    let project = |n: &str| s.project(n).map(|p| p.id.clone()).unwrap_or_default();
    let (research, other) = (project("research"), project("other"));
    // (name, project, flavor, vcpus, MiB, GB, start day, end day or running)
    type Row<'a> = (&'a str, &'a String, &'static str, u32, u64, u64, i64, Option<i64>);
    let rows: Vec<Row> = vec![
        ("db-1", &research, "m1.large", 4, 8192, 80, 3, None),
        ("web-1", &research, "m1.small", 1, 2048, 20, 40, None),
        ("gpu-1", &research, "g1.xlarge", 8, 32768, 160, 300, None),
        ("batch-2024-a", &research, "m1.medium", 2, 4096, 40, 10, Some(95)),
        ("batch-2024-b", &research, "m1.medium", 2, 4096, 40, 120, Some(121)),
        ("etl-1", &research, "m1.medium", 2, 4096, 40, 200, Some(480)),
        ("ci-runner", &research, "m1.small", 1, 2048, 20, 500, Some(690)),
        ("other-app", &other, "m1.small", 1, 2048, 20, 0, Some(365)),
        ("other-db", &other, "m1.large", 4, 8192, 80, 180, None),
    ];
    // gpu-1 is stopped: the demo has volumes attached to running servers
    // (db-1, web-1) and one attached to a server that cannot write to it.
    const STOPPED: &[&str] = &["gpu-1"];
    s.instances = rows
        .into_iter()
        .map(|(name, p, flavor, vcpus, memory_mb, local_gb, from, to)| SimInstance {
            id: id("server", name),
            name: name.to_string(),
            project_id: p.clone(),
            flavor,
            vcpus,
            memory_mb,
            local_gb,
            status: if STOPPED.contains(&name) { "SHUTOFF" } else { "ACTIVE" },
            started_at: day(from),
            ended_at: to.map(day).filter(|t| *t < now),
        })
        .collect();
}
