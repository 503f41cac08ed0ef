//! Nova's `os-simple-tenant-usage` entries, and the merge of one tenant's
//! entry split across pages (paging counts instances, not tenants).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One tenant's usage over a period. Nova answers `{}` for a period without
/// usage, hence every field defaults.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
pub struct TenantUsage {
    #[serde(default)]
    pub tenant_id: String,
    #[serde(default)]
    pub total_hours: f64,
    #[serde(default)]
    pub total_vcpus_usage: f64,
    #[serde(default)]
    pub total_memory_mb_usage: f64,
    #[serde(default)]
    pub total_local_gb_usage: f64,
    #[serde(default)]
    pub start: Option<String>,
    #[serde(default)]
    pub stop: Option<String>,
    /// Kept verbatim for the archive (`detailed=1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_usages: Vec<Value>,
}

impl TenantUsage {
    /// Adds a later page's partial entry for the same tenant.
    pub fn absorb(&mut self, other: TenantUsage) {
        if self.tenant_id.is_empty() {
            self.tenant_id = other.tenant_id;
        }
        self.total_hours += other.total_hours;
        self.total_vcpus_usage += other.total_vcpus_usage;
        self.total_memory_mb_usage += other.total_memory_mb_usage;
        self.total_local_gb_usage += other.total_local_gb_usage;
        if self.start.is_none() {
            self.start = other.start;
        }
        if self.stop.is_none() {
            self.stop = other.stop;
        }
        self.server_usages.extend(other.server_usages);
    }

    pub fn is_empty(&self) -> bool {
        self.tenant_id.is_empty() && self.server_usages.is_empty() && self.total_hours == 0.0
    }
}

/// Merges entries of the same tenant, keeping first-seen order.
pub fn merge_by_tenant(entries: impl IntoIterator<Item = TenantUsage>) -> Vec<TenantUsage> {
    let mut out: Vec<TenantUsage> = Vec::new();
    for e in entries {
        match out.iter_mut().find(|x| x.tenant_id == e.tenant_id) {
            Some(x) => x.absorb(e),
            None => out.push(e),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(text: &str) -> Vec<TenantUsage> {
        let v: Value = serde_json::from_str(text).expect("json");
        serde_json::from_value(v["tenant_usages"].clone()).expect("usages")
    }

    #[test]
    fn pages_of_the_real_sample_merge_to_the_unpaged_totals() {
        let unpaged = page(include_str!(
            "../../tests/fixtures/nova/30-mv240-list-detailed-nolimit.json"
        ));
        let paged = merge_by_tenant(
            [
                include_str!("../../tests/fixtures/nova/31-mv240-list-detailed-limit2.json"),
                include_str!("../../tests/fixtures/nova/32-mv240-list-detailed-page2.json"),
                include_str!("../../tests/fixtures/nova/33-mv240-list-detailed-page3.json"),
                include_str!("../../tests/fixtures/nova/34-mv240-list-detailed-page4.json"),
            ]
            .into_iter()
            .flat_map(page),
        );
        assert_eq!(paged.len(), unpaged.len());
        for u in &unpaged {
            let p = paged
                .iter()
                .find(|p| p.tenant_id == u.tenant_id)
                .expect("tenant present");
            assert_eq!(p.total_hours, u.total_hours, "{}", u.tenant_id);
            assert_eq!(p.total_vcpus_usage, u.total_vcpus_usage);
            assert_eq!(p.total_memory_mb_usage, u.total_memory_mb_usage);
            assert_eq!(p.total_local_gb_usage, u.total_local_gb_usage);
            assert_eq!(p.server_usages.len(), u.server_usages.len());
        }
    }

    #[test]
    fn empty_period_is_all_zero() {
        let u: TenantUsage = serde_json::from_str("{}").expect("empty");
        assert!(u.is_empty());
        assert_eq!(u.total_hours, 0.0);
    }
}
