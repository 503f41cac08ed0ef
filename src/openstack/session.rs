//! A Keystone v3 session for one cloud: authenticates, keeps a project-scoped
//! token fresh, picks endpoints from the catalog, and sends every request with
//! an explicit microversion, re-authenticating once on a 401.

use super::catalog::{Catalog, Service};
use super::retry_policy::RetryPolicy;
use super::token::{auth_body, Token, TokenBody};
use super::{ApiError, OpenStackError, Result};
use crate::config::{CloudConfig, ProjectScope};
use chrono::{Duration as ChronoDuration, Utc};
use reqwest::{Method, RequestBuilder, Response};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// A request relative to a service endpoint, or absolute (paging links).
#[derive(Debug, Clone)]
pub struct Call {
    pub service: Service,
    pub method: Method,
    /// A path such as `/volumes/detail`, or a full URL from a `*_links` entry.
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
    /// e.g. `volume 3.8` or `compute 2.40`.
    pub microversion: Option<&'static str>,
}

impl Call {
    pub fn new(service: Service, method: Method, path: impl Into<String>) -> Self {
        Self {
            service,
            method,
            path: path.into(),
            query: Vec::new(),
            body: None,
            microversion: None,
        }
    }
    pub fn query(mut self, k: &str, v: impl Into<String>) -> Self {
        self.query.push((k.to_string(), v.into()));
        self
    }
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
    pub fn microversion(mut self, mv: &'static str) -> Self {
        self.microversion = Some(mv);
        self
    }
}

/// One cloud's authenticated session. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Session {
    /// "old" or "new": names the cloud in every error.
    name: String,
    cloud: CloudConfig,
    scope: ProjectScope,
    http: reqwest::Client,
    token: Mutex<Option<Arc<Token>>>,
}

/// Refresh a token this long before Keystone says it expires.
const REFRESH_MARGIN_SECS: i64 = 300;

impl Session {
    pub fn new(name: &str, cloud: &CloudConfig) -> Result<Self> {
        // From any source (clouds.yaml too, which is not validated as a file is).
        let cloud = cloud.for_session(name).map_err(OpenStackError::Config)?;
        let mut builder = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .user_agent(concat!("stackmigrate/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &cloud.cacert {
            let pem = std::fs::read(ca).map_err(|e| {
                OpenStackError::Config(format!(
                    "{name} cloud: cacert {}: {e}; fix the cacert path",
                    ca.display()
                ))
            })?;
            let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| {
                OpenStackError::Config(format!("{name} cloud: cacert {} is not PEM: {e}", ca.display()))
            })?;
            builder = builder.add_root_certificate(cert);
        }
        if cloud.insecure {
            builder = builder.danger_accept_invalid_certs(true);
        }
        let http = builder
            .build()
            .map_err(|e| OpenStackError::Config(format!("{name} cloud: HTTP client: {e}")))?;
        Ok(Self {
            name: name.to_string(),
            scope: cloud.scope(),
            cloud,
            http,
            token: Mutex::new(None),
        })
    }

    /// The session to ask about `project_id` with: `None` when this one's token is
    /// for it or an admin's; else one scoped to it (a member logged in elsewhere).
    pub async fn scoped_to(&self, project_id: &str) -> Result<Option<Self>> {
        let t = self.token().await?;
        Ok((t.project_id() != Some(project_id) && !t.is_admin()).then(|| self.rescoped(project_id)))
    }

    /// The same credentials scoped to another project (manage-existing needs the target's).
    pub fn rescoped(&self, project_id: &str) -> Self {
        Self {
            name: self.name.clone(),
            cloud: self.cloud.clone(),
            scope: ProjectScope::Id(project_id.to_string()),
            http: self.http.clone(),
            token: Mutex::new(None),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The Keystone v3 URL, without a trailing slash.
    pub fn auth_url(&self) -> &str {
        &self.cloud.auth_url
    }

    /// A valid token, fetched or refreshed as needed.
    pub async fn token(&self) -> Result<Arc<Token>> {
        let mut slot = self.token.lock().await;
        if let Some(t) = slot.as_ref() {
            let lifetime = (t.expires_at - t.issued_at).num_seconds().max(1);
            let margin = REFRESH_MARGIN_SECS.min(lifetime / 4);
            if t.expires_at - Utc::now() > ChronoDuration::seconds(margin) {
                return Ok(t.clone());
            }
            tracing::info!(cloud = %self.name, "token expires soon; re-authenticating");
        }
        let fresh = Arc::new(self.authenticate().await?);
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    /// Forgets the token (after a 401) so the next call re-authenticates.
    pub async fn invalidate(&self, stale: &Token) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|t| t.value == stale.value) {
            *slot = None;
        }
    }

    async fn authenticate(&self) -> Result<Token> {
        let url = format!("{}/auth/tokens", self.auth_url());
        let request = format!("POST {url}");
        let body = auth_body(&self.cloud.auth, &self.scope);
        let mut retries = RetryPolicy::LOGIN.start();
        let resp = loop {
            let sent = self.http.post(&url).json(&body).send().await;
            let status = sent.as_ref().ok().map(|r| r.status().as_u16());
            if retries.should_retry(status, sent.as_ref().err()) {
                tracing::warn!(cloud = %self.name, %request, "transient failure; logging in again");
                retries.pause().await;
                continue;
            }
            break sent.map_err(|source| OpenStackError::Transport {
                cloud: self.name.clone(),
                request: request.clone(),
                source,
            })?;
        };
        if resp.status() == reqwest::StatusCode::NOT_FOUND {
            return Err(OpenStackError::Config(format!(
                "{} cloud: {request} → HTTP 404: no Keystone v3 token API there; auth_url must be the Keystone v3 URL (such as https://keystone.example.org:5000/v3)",
                self.name
            )));
        }
        if !resp.status().is_success() {
            let (status, headers) = (resp.status(), resp.headers().clone());
            let body = resp.text().await.unwrap_or_default();
            return Err(OpenStackError::Auth {
                cloud: self.name.clone(),
                error: Box::new(ApiError::parse(status, &headers, &body, request)),
            });
        }
        let value = resp
            .headers()
            .get("x-subject-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .ok_or_else(|| self.decode_error(&request, "no X-Subject-Token header"))?;
        let body: TokenBody = resp
            .json()
            .await
            .map_err(|e| self.decode_error(&request, &e.to_string()))?;
        tracing::info!(cloud = %self.name, project = ?body.token.project.as_ref().map(|p| &p.id), expires_at = %body.token.expires_at, "authenticated");
        // An application credential is bound to its own project whatever scope
        // is asked for: a token for another project would list that one's volumes.
        let got = body.token.project.as_ref().map(|p| p.id.as_str());
        if let crate::config::ProjectScope::Id(wanted) = &self.scope {
            if got != Some(wanted.as_str()) {
                return Err(OpenStackError::Config(format!(
                    "{} cloud: a token for project {wanted} was asked for, and Keystone scoped it to {}; an application credential is bound to the project it was made in: use one made in {wanted}, or a password",
                    self.name,
                    got.unwrap_or("no project")
                )));
            }
        }
        Ok(Token::from_body(value, body))
    }

    /// The endpoint of `service` from the current token's catalog.
    pub async fn endpoint(&self, service: Service) -> Result<String> {
        if service == Service::Identity {
            return Ok(self.auth_url().to_string());
        }
        let token = self.token().await?;
        self.endpoint_in(&token.catalog, service)
    }

    fn endpoint_in(&self, catalog: &Catalog, service: Service) -> Result<String> {
        if self.cloud.region.is_none() {
            let regions = catalog.regions(service, self.cloud.interface);
            if regions.len() > 1 {
                return Err(OpenStackError::Config(format!(
                    "{} cloud: {} is offered in regions {}; set region_name (or OS_REGION_NAME) to the one the project's volumes are in",
                    self.name,
                    service.name(),
                    regions.join(", ")
                )));
            }
        }
        catalog
            .find(service, self.cloud.interface, self.cloud.region.as_deref())
            .ok_or_else(|| OpenStackError::NoEndpoint {
                cloud: self.name.clone(),
                service: service.name().to_string(),
                interface: self.cloud.interface.as_str().to_string(),
                region: self
                    .cloud
                    .region
                    .as_ref()
                    .map(|r| format!(" in region {r}"))
                    .unwrap_or_default(),
                offered: catalog.offered(),
            })
    }

    /// Sends `call`; a 401 invalidates the token and retries exactly once.
    pub async fn send(&self, call: &Call) -> Result<Response> {
        let mut retried = false;
        let mut retries = if call.method == Method::GET {
            RetryPolicy::READ
        } else {
            RetryPolicy::ONCE
        }
        .start();
        loop {
            let token = self.token().await?;
            let url = if call.path.starts_with("http://") || call.path.starts_with("https://") {
                call.path.clone()
            } else if call.service == Service::Identity {
                format!("{}{}", self.auth_url(), call.path)
            } else {
                format!("{}{}", self.endpoint_in(&token.catalog, call.service)?, call.path)
            };
            let request = format!("{} {url}", call.method);
            let resp = match self.build(call, &url, &token).send().await {
                Ok(r) => r,
                Err(e) if retries.should_retry(None, Some(&e)) => {
                    tracing::warn!(cloud = %self.name, %request, error = %e, "transport error; trying again");
                    retries.pause().await;
                    continue;
                }
                Err(source) => {
                    return Err(OpenStackError::Transport {
                        cloud: self.name.clone(),
                        request: request.clone(),
                        source,
                    })
                }
            };
            let status = resp.status();
            if retries.should_retry(Some(status.as_u16()), None) {
                tracing::warn!(cloud = %self.name, %request, status = status.as_u16(), "transient error; trying again");
                retries.pause().await;
                continue;
            }
            tracing::debug!(cloud = %self.name, %request, status = status.as_u16(), "openstack call");
            if status.as_u16() == 401 && !retried {
                tracing::info!(cloud = %self.name, %request, "401: re-authenticating once");
                self.invalidate(&token).await;
                retried = true;
                continue;
            }
            if !status.is_success() {
                return Err(OpenStackError::Api(Box::new(self.api_error(resp, request).await)));
            }
            return Ok(resp);
        }
    }

    fn build(&self, call: &Call, url: &str, token: &Token) -> RequestBuilder {
        let mut rb = self
            .http
            .request(call.method.clone(), url)
            .header("X-Auth-Token", token.value.expose())
            .header("Accept", "application/json");
        if !call.query.is_empty() {
            rb = rb.query(&call.query);
        }
        if let Some(mv) = call.microversion {
            rb = rb.header("OpenStack-API-Version", mv);
        }
        if let Some(body) = &call.body {
            rb = rb.json(body);
        }
        rb
    }

    /// Sends `call` and decodes a JSON body.
    pub async fn json<T: serde::de::DeserializeOwned>(&self, call: &Call) -> Result<T> {
        let resp = self.send(call).await?;
        let request = format!("{} {}", call.method, resp.url());
        let text = resp
            .text()
            .await
            .map_err(|e| self.decode_error(&request, &e.to_string()))?;
        serde_json::from_str(&text).map_err(|e| self.decode_error(&request, &e.to_string()))
    }

    async fn api_error(&self, resp: Response, request: String) -> ApiError {
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.text().await.unwrap_or_default();
        ApiError::parse(status, &headers, &body, format!("{} cloud: {request}", self.name))
    }

    fn decode_error(&self, request: &str, message: &str) -> OpenStackError {
        OpenStackError::Decode {
            cloud: self.name.clone(),
            request: request.to_string(),
            message: message.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two regions offer the volume service and none is configured: the
    /// catalog's first is not taken (the other region's volumes would go
    /// unlisted); the operator is asked to choose. With one set, it is used.
    #[test]
    fn a_service_in_two_regions_needs_region_name() {
        let catalog: Catalog = serde_json::from_value(serde_json::json!([
            {"type": "volumev3", "endpoints": [
                {"interface": "public", "region_id": "RegionOne", "url": "http://c1/v3/p"},
                {"interface": "public", "region_id": "RegionTwo", "url": "http://c2/v3/p"}
            ]}
        ]))
        .expect("catalog");
        let mut cloud: CloudConfig = serde_json::from_value(serde_json::json!({
            "auth_url": "http://127.0.0.1:9/v3",
            "auth": {"type": "password", "username": "u", "password": "p"}
        }))
        .expect("cloud");
        let e = Session::new("old", &cloud)
            .expect("session")
            .endpoint_in(&catalog, Service::BlockStorage)
            .expect_err("two regions");
        assert!(
            e.to_string().contains("RegionOne, RegionTwo") && e.to_string().contains("region_name"),
            "{e}"
        );
        cloud.region = Some("RegionTwo".into());
        let url = Session::new("old", &cloud)
            .expect("session")
            .endpoint_in(&catalog, Service::BlockStorage)
            .expect("the configured region");
        assert_eq!(url, "http://c2/v3/p");
    }

    /// A password in the URL (from clouds.yaml, which is not validated as a
    /// credentials file is) would be printed with every error naming a request.
    #[test]
    fn an_auth_url_with_a_password_is_refused_without_showing_it() {
        let cloud: CloudConfig = serde_json::from_value(serde_json::json!({
            "auth_url": "http://admin:URLSECRET@127.0.0.1:9/v3",
            "auth": {"type": "password", "username": "u", "password": "p"}
        }))
        .expect("cloud");
        let e = Session::new("old", &cloud).expect_err("refused");
        assert!(e.to_string().contains("auth_url holds a user name or password"), "{e}");
        assert!(!e.to_string().contains("URLSECRET"), "{e}");
    }
}
