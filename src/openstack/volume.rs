//! Cinder's volume as stackmigrate needs it. `bootable` arrives as the string
//! `"true"`/`"false"`; timestamps arrive without a zone.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Volume {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// GiB.
    pub size: u64,
    pub status: String,
    #[serde(default)]
    pub volume_type: Option<String>,
    #[serde(default)]
    pub availability_zone: Option<String>,
    #[serde(default, deserialize_with = "bool_or_string")]
    pub bootable: bool,
    #[serde(default)]
    pub attachments: Vec<Attachment>,
    #[serde(default)]
    pub metadata: BTreeMap<String, String>,
    #[serde(default)]
    pub volume_image_metadata: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "super::timestamp::deserialize_opt")]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default, rename = "os-vol-tenant-attr:tenant_id")]
    pub project_id: Option<String>,
    #[serde(default, rename = "os-vol-host-attr:host")]
    pub host: Option<String>,
    /// Shown to an admin: `target:<id>` marks the copy Cinder makes while it
    /// migrates or retypes volume `<id>`, not a volume of the project's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub migration_status: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub struct Attachment {
    #[serde(default)]
    pub server_id: Option<String>,
    #[serde(default)]
    pub device: Option<String>,
    #[serde(default)]
    pub attachment_id: Option<String>,
}

impl Volume {
    /// One of `project_id`'s own volumes: not a copy Cinder is migrating into
    /// (an admin's listing shows those), and not another project's (a
    /// listing whose project filter was not applied).
    pub fn of_project(&self, project_id: &str) -> bool {
        let target = self
            .migration_status
            .as_deref()
            .is_some_and(|m| m.starts_with("target:"));
        !target && self.project_id.as_deref().is_none_or(|p| p == project_id)
    }

    pub fn display_name(&self) -> &str {
        self.name.as_deref().filter(|n| !n.is_empty()).unwrap_or(&self.id)
    }
}

fn bool_or_string<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum B {
        Bool(bool),
        Str(String),
    }
    Ok(match B::deserialize(d)? {
        B::Bool(b) => b,
        B::Str(s) => s.eq_ignore_ascii_case("true"),
    })
}

/// The fields of a new volume. Metadata values are strings, as in Cinder.
#[derive(Debug, Clone, Default)]
pub struct NewVolume {
    pub size: u64,
    pub name: Option<String>,
    pub description: Option<String>,
    pub volume_type: Option<String>,
    pub availability_zone: Option<String>,
    pub metadata: BTreeMap<String, String>,
}

/// One quota line from `os-quota-sets/{project}?usage=true`.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct QuotaItem {
    /// `-1` means unlimited.
    pub limit: i64,
    pub in_use: i64,
    #[serde(default)]
    pub reserved: i64,
}

impl QuotaItem {
    /// What is left, or `None` when unlimited.
    pub fn free(&self) -> Option<i64> {
        (self.limit >= 0).then(|| self.limit - self.in_use - self.reserved)
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
pub struct VolumeQuota {
    pub volumes: QuotaItem,
    pub gigabytes: QuotaItem,
}

/// A volume type from `GET /types`: a new volume names it by name or id.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct VolumeType {
    pub id: String,
    pub name: String,
}

impl VolumeType {
    /// Whether `asked` (a name or an id, as `POST /volumes` takes it) is this type.
    pub fn is(&self, asked: &str) -> bool {
        self.id == asked || self.name == asked
    }
}

/// A backend pool from `scheduler-stats/get_pools?detail=true`.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Pool {
    /// `<host>@<backend>#<pool>`: the string manage-existing wants.
    pub name: String,
    #[serde(default)]
    pub capabilities: serde_json::Value,
}

impl Pool {
    /// The RADOS pool from the RBD driver's `location_info`
    /// (`ceph:<conf>:<fsid>:<user>:<pool>`).
    pub fn rados_pool(&self) -> Option<&str> {
        let info = self.capabilities.get("location_info")?.as_str()?;
        info.starts_with("ceph:").then(|| info.rsplit(':').next()).flatten()
    }
}

/// An entry of `manageable_volumes/detail` (its JSON key is `manageable-volumes`).
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct Manageable {
    pub reference: serde_json::Value,
    pub size: u64,
    pub safe_to_manage: bool,
    #[serde(default)]
    pub reason_not_safe: Option<String>,
    #[serde(default)]
    pub cinder_id: Option<String>,
}

impl Manageable {
    pub fn source_name(&self) -> Option<&str> {
        self.reference.get("source-name")?.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_cinder_sample() {
        let v: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/cinder_volume_get_admin_v3.71.json"))
                .expect("json");
        let vol: Volume = serde_json::from_value(v["volume"].clone()).expect("volume");
        assert!(!vol.bootable);
        assert_eq!(vol.size, 1);
        assert_eq!(vol.project_id.as_deref(), Some("31b933b6dc9041b79706fd6d2d2b161e"));
        assert_eq!(vol.metadata.get("purpose").map(String::as_str), Some("e2e"));
        assert!(vol.created_at.is_some());
    }

    #[test]
    fn bootable_accepts_string_and_bool() {
        let v: Volume = serde_json::from_value(
            serde_json::json!({"id": "a", "size": 1, "status": "available", "bootable": "true"}),
        )
        .expect("v");
        assert!(v.bootable);
        let v: Volume =
            serde_json::from_value(serde_json::json!({"id": "a", "size": 1, "status": "available", "bootable": true}))
                .expect("v");
        assert!(v.bootable);
    }

    #[test]
    fn quota_free_and_pool_location() {
        let q = QuotaItem {
            limit: 20,
            in_use: 1,
            reserved: 2,
        };
        assert_eq!(q.free(), Some(17));
        assert_eq!(
            QuotaItem {
                limit: -1,
                in_use: 5,
                reserved: 0
            }
            .free(),
            None
        );
        let p = Pool {
            name: "cinder-new@ceph#ceph".into(),
            capabilities: serde_json::json!({"location_info": "ceph:/tb/ceph.conf:fsid:admin:volumes"}),
        };
        assert_eq!(p.rados_pool(), Some("volumes"));
    }
}
