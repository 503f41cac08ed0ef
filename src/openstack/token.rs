//! Keystone v3 token request bodies and the parts of a token we keep.

use super::catalog::Catalog;
use crate::config::{AuthMethod, Domain, ProjectScope, Secret};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{json, Value};

/// A scoped token and what came with it. The value is a [`Secret`].
#[derive(Debug, Clone)]
pub struct Token {
    pub value: Secret,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub project: Option<NamedRef>,
    pub user: NamedRef,
    pub roles: Vec<String>,
    pub catalog: Catalog,
}

impl Token {
    pub(super) fn from_body(value: String, body: TokenBody) -> Self {
        let t = body.token;
        Self {
            value: Secret::new(value),
            issued_at: t.issued_at.unwrap_or_else(Utc::now),
            expires_at: t.expires_at,
            project: t.project,
            user: t.user,
            roles: t.roles.into_iter().map(|r| r.name).collect(),
            catalog: t.catalog,
        }
    }

    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    pub fn project_id(&self) -> Option<&str> {
        self.project.as_ref().map(|p| p.id.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct NamedRef {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// A project's or a user's domain, as the token names it.
    #[serde(default)]
    pub domain: Option<DomainRef>,
}

impl NamedRef {
    /// Named by `name_or_id`: its id, or its name.
    pub fn is(&self, name_or_id: &str) -> bool {
        self.id == name_or_id || self.name.as_deref() == Some(name_or_id)
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DomainRef {
    pub id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenBody {
    pub token: TokenData,
}

#[derive(Debug, Deserialize)]
pub(super) struct TokenData {
    #[serde(deserialize_with = "super::timestamp::deserialize")]
    pub expires_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "super::timestamp::deserialize_opt")]
    pub issued_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub project: Option<NamedRef>,
    pub user: NamedRef,
    #[serde(default)]
    pub roles: Vec<RoleRef>,
    #[serde(default)]
    pub catalog: Catalog,
}

#[derive(Debug, Deserialize)]
pub(super) struct RoleRef {
    pub name: String,
}

fn domain(d: &Domain) -> Value {
    match d {
        Domain::Id(id) => json!({ "id": id }),
        Domain::Name(name) => json!({ "name": name }),
    }
}

/// The `POST /v3/auth/tokens` body for `auth` scoped to `scope`.
pub(super) fn auth_body(auth: &AuthMethod, scope: &ProjectScope) -> Value {
    let identity = match auth {
        AuthMethod::Password {
            username,
            password,
            user_domain_name,
            user_domain_id,
        } => json!({
            "methods": ["password"],
            "password": { "user": {
                "name": username,
                "domain": domain(&Domain::new(user_domain_id.as_deref(), user_domain_name)),
                "password": password.expose(),
            }}
        }),
        AuthMethod::ApplicationCredential {
            application_credential_id,
            application_credential_secret,
        } => json!({
            "methods": ["application_credential"],
            "application_credential": {
                "id": application_credential_id,
                "secret": application_credential_secret.expose(),
            }
        }),
    };
    let scope = match (auth, scope) {
        // Application credentials are bound to their project; Keystone refuses a scope.
        (AuthMethod::ApplicationCredential { .. }, _) | (_, ProjectScope::Implied) => None,
        (_, ProjectScope::Id(id)) => Some(json!({ "project": { "id": id } })),
        (_, ProjectScope::Name { name, domain: d }) => {
            Some(json!({ "project": { "name": name, "domain": domain(d) } }))
        }
    };
    match scope {
        Some(scope) => json!({ "auth": { "identity": identity, "scope": scope } }),
        None => json!({ "auth": { "identity": identity } }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_real_keystone_sample() {
        let text = include_str!("../../tests/fixtures/keystone_token_issue_demo_project.json");
        let body: TokenBody = serde_json::from_str(text).expect("token body");
        let t = Token::from_body("tok".into(), body);
        assert_eq!(t.project_id(), Some("31b933b6dc9041b79706fd6d2d2b161e"));
        assert_eq!(t.roles, vec!["reader", "member"]);
        assert!(!t.is_admin());
        assert!(t.expires_at > t.issued_at);
        assert!(!t.catalog.0.is_empty());
    }

    #[test]
    fn password_body_scopes_by_name_and_domain() {
        let auth = AuthMethod::Password {
            username: "u".into(),
            password: Secret::new("p"),
            user_domain_name: "Default".into(),
            user_domain_id: None,
        };
        let scope = ProjectScope::Name {
            name: "research".into(),
            domain: Domain::Id("default".into()),
        };
        let b = auth_body(&auth, &scope);
        assert_eq!(b["auth"]["identity"]["password"]["user"]["domain"]["name"], "Default");
        assert_eq!(b["auth"]["scope"]["project"]["domain"]["id"], "default");
        let app = AuthMethod::ApplicationCredential {
            application_credential_id: "i".into(),
            application_credential_secret: Secret::new("s"),
        };
        let b = auth_body(&app, &scope);
        assert!(b["auth"].get("scope").is_none());
    }
}
