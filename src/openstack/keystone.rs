//! Keystone v3 calls beyond authentication: projects.

use super::catalog::Service;
use super::links::each_page;
use super::session::{Call, Session};
use super::{OpenStackError, Result};
use reqwest::Method;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize, PartialEq, Eq)]
pub struct Project {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub domain_id: Option<String>,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
struct ProjectsPage {
    projects: Vec<Project>,
    #[serde(default)]
    links: Option<Links>,
}

#[derive(Deserialize)]
struct Links {
    #[serde(default)]
    next: Option<String>,
}

pub struct Keystone<'a> {
    session: &'a Session,
}

impl<'a> Keystone<'a> {
    pub fn new(session: &'a Session) -> Self {
        Self { session }
    }

    /// All projects for an admin (`/v3/projects`); a member gets a 403 there
    /// and falls back to the projects it has a role on (`/v3/auth/projects`).
    pub async fn list_projects(&self) -> Result<Vec<Project>> {
        match self.pages("/projects").await {
            Err(e) if e.status() == Some(403) => {
                tracing::info!(
                    cloud = self.session.name(),
                    "no list_projects right; using /v3/auth/projects"
                );
                self.pages("/auth/projects").await
            }
            other => other,
        }
    }

    async fn pages(&self, path: &str) -> Result<Vec<Project>> {
        let mut out = Vec::new();
        let call_for = |p: String| Call::new(Service::Identity, Method::GET, p);
        each_page(
            self.session,
            call_for(path.to_string()),
            call_for,
            |page: ProjectsPage| {
                out.extend(page.projects);
                page.links.and_then(|l| l.next)
            },
        )
        .await?;
        out.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Finds a project by id or by name. The project the token is scoped to
    /// (the config's `project_name` in its domain) is taken as it is, with no
    /// listing: two Keystone round trips fewer on every run. Any other is
    /// looked up among those listed, where a name held by two projects (in
    /// two domains) is refused as ambiguous.
    pub async fn find_project(&self, name_or_id: &str) -> Result<Project> {
        let token = self.session.token().await?;
        if let Some(p) = token.project.as_ref().filter(|p| p.is(name_or_id)) {
            return Ok(Project {
                id: p.id.clone(),
                name: p.name.clone().unwrap_or_else(|| p.id.clone()),
                domain_id: p.domain.as_ref().map(|d| d.id.clone()),
                enabled: true,
                description: None,
            });
        }
        let all = self.list_projects().await?;
        if let Some(p) = all.iter().find(|p| p.id == name_or_id) {
            return Ok(p.clone());
        }
        let named: Vec<&Project> = all.iter().filter(|p| p.name == name_or_id).collect();
        match named.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(OpenStackError::Config(format!(
                "{} cloud: no project {name_or_id:?} visible to this user; run `stackmigrate projects` to list them",
                self.session.name()
            ))),
            many => Err(OpenStackError::Config(format!(
                "{} cloud: project name {name_or_id:?} is ambiguous ({} projects); pass the id instead",
                self.session.name(),
                many.len()
            ))),
        }
    }

    /// Revokes a token (`DELETE /v3/auth/tokens`). Used at logout and by tests.
    pub async fn revoke(&self, subject: &crate::config::Secret) -> Result<()> {
        let token = self.session.token().await?;
        let url = format!("{}/auth/tokens", self.session.auth_url());
        let resp = reqwest::Client::new()
            .delete(&url)
            .header("X-Auth-Token", token.value.expose())
            .header("X-Subject-Token", subject.expose())
            .send()
            .await
            .map_err(|source| OpenStackError::Transport {
                cloud: self.session.name().to_string(),
                request: format!("DELETE {url}"),
                source,
            })?;
        if resp.status().is_success() {
            Ok(())
        } else {
            let status = resp.status();
            let headers = resp.headers().clone();
            let body = resp.text().await.unwrap_or_default();
            Err(OpenStackError::Api(Box::new(super::ApiError::parse(
                status,
                &headers,
                &body,
                format!("DELETE {url}"),
            ))))
        }
    }
}
