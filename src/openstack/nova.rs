//! Nova: servers (to name a volume's attachments and say whether they run)
//! and `os-simple-tenant-usage` at microversion 2.40, where results are paged
//! instead of silently cut at `max_limit`.

use super::catalog::Service;
use super::links::{each_page, next_link, Link};
use super::session::{Call, Session};
use super::tenant_usage::{merge_by_tenant, TenantUsage};
use super::Result;
use chrono::NaiveDateTime;
use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

pub const COMPUTE_MICROVERSION: &str = "compute 2.40";

/// Nova wants naive timestamps with microseconds; `Z` or offsets give a 400.
pub fn nova_time(t: &NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6f").to_string()
}

pub struct Nova<'a> {
    session: &'a Session,
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Server {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub status: Option<String>,
}

impl<'a> Nova<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self { session }
    }

    fn call(&self, path: impl Into<String>) -> Call {
        Call::new(Service::Compute, Method::GET, path).microversion(COMPUTE_MICROVERSION)
    }

    /// Servers with details as raw JSON, admin-style for `project` when given.
    pub async fn list_servers_raw(&self, project: Option<&str>) -> Result<Vec<Value>> {
        self.servers_pages("/servers/detail", project).await
    }

    /// Server ids and names (`GET /servers`) as raw JSON.
    pub async fn list_servers_brief_raw(&self, project: Option<&str>) -> Result<Vec<Value>> {
        self.servers_pages("/servers", project).await
    }

    async fn servers_pages(&self, path: &str, project: Option<&str>) -> Result<Vec<Value>> {
        #[derive(Deserialize)]
        struct Page {
            servers: Vec<Value>,
            #[serde(default)]
            servers_links: Vec<Link>,
        }
        let mut call = self.call(path);
        if let Some(p) = project {
            call = call.query("all_tenants", "1").query("project_id", p);
        }
        let mut out = Vec::new();
        each_page(
            self.session,
            call,
            |h| self.call(h),
            |page: Page| {
                out.extend(page.servers);
                next_link(&page.servers_links)
            },
        )
        .await?;
        Ok(out)
    }

    /// Server ids and names (`GET /servers`): enough to name attachments, and
    /// unlike `/servers/detail` it needs no Neutron behind Nova.
    pub async fn list_servers(&self, project: Option<&str>) -> Result<Vec<Server>> {
        Ok(self
            .servers_pages("/servers", project)
            .await?
            .into_iter()
            .filter_map(|v| serde_json::from_value(v).ok())
            .collect())
    }

    /// One server, with its status (ACTIVE, SHUTOFF, ...).
    pub async fn get_server(&self, id: &str) -> Result<Server> {
        #[derive(Deserialize)]
        struct One {
            server: Server,
        }
        let one: One = self.session.json(&self.call(format!("/servers/{id}"))).await?;
        Ok(one.server)
    }

    /// One server as raw JSON (the `server` of `GET /servers/{id}`).
    pub async fn get_server_raw(&self, id: &str) -> Result<Value> {
        let mut one: Value = self.session.json(&self.call(format!("/servers/{id}"))).await?;
        Ok(one["server"].take())
    }

    /// One project's usage over [start, end), all pages merged.
    /// `limit` sets the page size (None: Nova's default).
    pub async fn usage_show(
        &self,
        project: &str,
        start: &NaiveDateTime,
        end: &NaiveDateTime,
        limit: Option<u32>,
    ) -> Result<TenantUsage> {
        #[derive(Deserialize)]
        struct Page {
            tenant_usage: TenantUsage,
            #[serde(default)]
            tenant_usage_links: Vec<Link>,
        }
        let call = self.usage_call(&format!("/os-simple-tenant-usage/{project}"), start, end, limit);
        let mut total = TenantUsage::default();
        each_page(
            self.session,
            call,
            |h| self.call(h),
            |page: Page| {
                total.absorb(page.tenant_usage);
                next_link(&page.tenant_usage_links)
            },
        )
        .await?;
        Ok(total)
    }

    /// Every tenant's usage over [start, end) (admin only), pages merged.
    pub async fn usage_list(
        &self,
        start: &NaiveDateTime,
        end: &NaiveDateTime,
        limit: Option<u32>,
    ) -> Result<Vec<TenantUsage>> {
        #[derive(Deserialize)]
        struct Page {
            tenant_usages: Vec<TenantUsage>,
            #[serde(default)]
            tenant_usages_links: Vec<Link>,
        }
        let call = self.usage_call("/os-simple-tenant-usage", start, end, limit);
        let mut all = Vec::new();
        each_page(
            self.session,
            call,
            |h| self.call(h),
            |page: Page| {
                all.extend(page.tenant_usages);
                next_link(&page.tenant_usages_links)
            },
        )
        .await?;
        Ok(merge_by_tenant(all))
    }

    fn usage_call(&self, path: &str, start: &NaiveDateTime, end: &NaiveDateTime, limit: Option<u32>) -> Call {
        let mut call = self
            .call(path)
            .query("start", nova_time(start))
            .query("end", nova_time(end))
            .query("detailed", "1");
        if let Some(l) = limit {
            call = call.query("limit", l.to_string());
        }
        call
    }
}

#[cfg(test)]
mod tests {
    use super::nova_time;

    #[test]
    fn nova_time_has_microseconds_and_no_zone() {
        let t = chrono::NaiveDate::from_ymd_opt(2025, 1, 31)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .expect("date");
        assert_eq!(nova_time(&t), "2025-01-31T00:00:00.000000");
    }
}
