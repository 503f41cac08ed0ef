//! `OS_*` variables describe one cloud, the way openstackclient reads them.

use super::cloud_config::default_domain;
use super::{AuthMethod, CloudConfig, ConfigError, Interface, Secret};
use std::path::PathBuf;

/// Builds a cloud from `OS_*` variables, read through `get` (so tests can
/// pass a map). `Ok(None)` when `OS_AUTH_URL` is unset.
pub fn cloud_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Option<CloudConfig>, ConfigError> {
    let Some(auth_url) = get("OS_AUTH_URL") else {
        return Ok(None);
    };
    let missing = |v: &str| ConfigError::Env(format!("{v} is not set; set it or use --config FILE"));
    let auth = match (
        get("OS_APPLICATION_CREDENTIAL_ID"),
        get("OS_APPLICATION_CREDENTIAL_SECRET"),
    ) {
        (Some(id), Some(secret)) => AuthMethod::ApplicationCredential {
            application_credential_id: id,
            application_credential_secret: Secret::new(secret),
        },
        (Some(_), None) => return Err(missing("OS_APPLICATION_CREDENTIAL_SECRET")),
        _ => AuthMethod::Password {
            username: get("OS_USERNAME").ok_or_else(|| missing("OS_USERNAME"))?,
            password: Secret::new(get("OS_PASSWORD").ok_or_else(|| missing("OS_PASSWORD"))?),
            user_domain_name: get("OS_USER_DOMAIN_NAME").unwrap_or_else(default_domain),
            user_domain_id: get("OS_USER_DOMAIN_ID"),
        },
    };
    let interface = match get("OS_INTERFACE").or_else(|| get("OS_ENDPOINT_TYPE")) {
        None => Interface::Public,
        Some(i) => Interface::parse(&i)
            .ok_or_else(|| ConfigError::Env(format!("OS_INTERFACE={i:?} is not public, internal or admin")))?,
    };
    let truthy = |v: Option<String>| v.is_some_and(|v| matches!(v.to_ascii_lowercase().as_str(), "1" | "true" | "yes"));
    Ok(Some(CloudConfig {
        auth_url,
        auth,
        project_name: get("OS_PROJECT_NAME").or_else(|| get("OS_TENANT_NAME")),
        project_id: get("OS_PROJECT_ID").or_else(|| get("OS_TENANT_ID")),
        project_domain_name: get("OS_PROJECT_DOMAIN_NAME").unwrap_or_else(default_domain),
        project_domain_id: get("OS_PROJECT_DOMAIN_ID"),
        region: get("OS_REGION_NAME"),
        interface,
        cacert: get("OS_CACERT").map(PathBuf::from),
        insecure: truthy(get("OS_INSECURE")),
        ceph: None,
        files: None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn unset_auth_url_means_no_cloud() {
        assert!(cloud_from_env(env(&[])).expect("ok").is_none());
    }

    #[test]
    fn password_cloud_from_env() {
        let c = cloud_from_env(env(&[
            ("OS_AUTH_URL", "http://k:5000/v3"),
            ("OS_USERNAME", "u"),
            ("OS_PASSWORD", "p"),
            ("OS_PROJECT_NAME", "research"),
            ("OS_INTERFACE", "internalURL"),
            ("OS_INSECURE", "true"),
        ]))
        .expect("ok")
        .expect("some");
        assert_eq!(c.project_name.as_deref(), Some("research"));
        assert_eq!(c.interface, Interface::Internal);
        assert!(c.insecure);
        assert!(matches!(c.auth, AuthMethod::Password { ref username, .. } if username == "u"));
    }

    #[test]
    fn missing_password_names_the_variable() {
        let e = cloud_from_env(env(&[("OS_AUTH_URL", "http://k/v3"), ("OS_USERNAME", "u")])).expect_err("must fail");
        assert!(e.to_string().contains("OS_PASSWORD"), "{e}");
    }
}
