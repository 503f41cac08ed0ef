//! The service catalog from a Keystone token, and endpoint selection by
//! service type (with aliases), interface and region.

use crate::config::Interface;
use serde::Deserialize;

#[derive(Debug, Clone, Deserialize, Default)]
pub struct Catalog(pub Vec<CatalogEntry>);

#[derive(Debug, Clone, Deserialize)]
pub struct CatalogEntry {
    #[serde(rename = "type")]
    pub service_type: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Endpoint {
    pub interface: String,
    #[serde(default)]
    pub region_id: Option<String>,
    #[serde(default)]
    pub region: Option<String>,
    pub url: String,
}

/// The services stackmigrate talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Identity,
    BlockStorage,
    Compute,
}

impl Service {
    /// Catalog types that mean this service, most specific first.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Service::Identity => &["identity"],
            Service::BlockStorage => &["volumev3", "block-storage", "volume"],
            Service::Compute => &["compute"],
        }
    }

    pub fn name(self) -> &'static str {
        self.aliases()[0]
    }
}

impl Catalog {
    /// The endpoint URL for `service`, without a trailing slash.
    pub fn find(&self, service: Service, interface: Interface, region: Option<&str>) -> Option<String> {
        service.aliases().iter().find_map(|alias| {
            self.0
                .iter()
                .filter(|e| e.service_type == *alias)
                .flat_map(|e| e.endpoints.iter())
                .find(|ep| {
                    ep.interface == interface.as_str()
                        && region.is_none_or(|r| ep.region_id.as_deref() == Some(r) || ep.region.as_deref() == Some(r))
                })
                .map(|ep| ep.url.trim_end_matches('/').to_string())
        })
    }

    /// The regions that offer `service` on `interface` (its first alias that
    /// any does): more than one, with no region configured, is a choice the
    /// operator must make, not the catalog's order.
    pub fn regions(&self, service: Service, interface: Interface) -> Vec<String> {
        let mut found: Vec<String> = service
            .aliases()
            .iter()
            .map(|alias| {
                self.0
                    .iter()
                    .filter(|e| e.service_type == *alias)
                    .flat_map(|e| e.endpoints.iter())
                    .filter(|ep| ep.interface == interface.as_str())
                    .map(|ep| ep.region_id.clone().or_else(|| ep.region.clone()).unwrap_or_default())
                    .collect::<Vec<_>>()
            })
            .find(|regions| !regions.is_empty())
            .unwrap_or_default();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// Service types present, for error messages.
    pub fn offered(&self) -> String {
        let mut types: Vec<&str> = self.0.iter().map(|e| e.service_type.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        types.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        serde_json::from_value(serde_json::json!([
            {"type": "identity", "endpoints": [{"interface": "public", "region_id": "RegionOne", "url": "http://k/v3/"}]},
            {"type": "block-storage", "name": "cinder", "endpoints": [
                {"interface": "public", "region_id": "RegionTwo", "url": "http://c2/v3/p"},
                {"interface": "internal", "region_id": "RegionOne", "url": "http://ci/v3/p"},
                {"interface": "public", "region_id": "RegionOne", "url": "http://c1/v3/p"}
            ]},
            {"type": "compute", "endpoints": [{"interface": "public", "region": "RegionOne", "url": "http://n/v2.1"}]}
        ]))
        .expect("catalog")
    }

    #[test]
    fn picks_by_alias_interface_and_region() {
        let c = catalog();
        assert_eq!(
            c.find(Service::BlockStorage, Interface::Public, Some("RegionOne"))
                .as_deref(),
            Some("http://c1/v3/p")
        );
        assert_eq!(
            c.find(Service::BlockStorage, Interface::Internal, None).as_deref(),
            Some("http://ci/v3/p")
        );
        assert_eq!(
            c.find(Service::Identity, Interface::Public, None).as_deref(),
            Some("http://k/v3")
        );
        assert_eq!(
            c.find(Service::Compute, Interface::Public, Some("RegionOne"))
                .as_deref(),
            Some("http://n/v2.1")
        );
        assert_eq!(c.find(Service::Compute, Interface::Admin, None), None);
        assert_eq!(c.offered(), "block-storage, compute, identity");
        assert_eq!(
            c.regions(Service::BlockStorage, Interface::Public),
            ["RegionOne", "RegionTwo"]
        );
        assert_eq!(c.regions(Service::BlockStorage, Interface::Internal), ["RegionOne"]);
    }
}
