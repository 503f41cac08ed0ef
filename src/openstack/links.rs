//! Paging: the `next` link of a page (Nova's and Cinder's `*_links`,
//! Keystone's `links.next`), and the one loop that follows them.

use super::{Call, OpenStackError, Session};
use serde::de::DeserializeOwned;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct Link {
    rel: String,
    href: String,
}

pub(super) fn next_link(links: &[Link]) -> Option<String> {
    links.iter().find(|l| l.rel == "next").map(|l| l.href.clone())
}

/// A `next` link as it is sent: on the scheme, host and port of the endpoint
/// the catalog (or the auth URL) names, whatever the link says. A service
/// behind a TLS proxy, its base URL unset, names its internal address in its
/// links; the token goes only where the operator's configuration points.
pub(super) fn on_endpoint(href: &str, endpoint: &str, cloud: &str) -> String {
    let (Ok(link), Ok(base)) = (reqwest::Url::parse(href), reqwest::Url::parse(endpoint)) else {
        return href.to_string();
    };
    if link.origin() == base.origin() {
        return href.to_string();
    }
    let path = under_endpoint_path(link.path(), base.path());
    let mut rebased = base;
    rebased.set_path(&path);
    rebased.set_query(link.query());
    tracing::warn!(
        %cloud,
        link = %link.origin().ascii_serialization(),
        endpoint = %rebased.origin().ascii_serialization(),
        "a next link names another host than the endpoint: followed on the endpoint's (set the service's public base URL)"
    );
    rebased.to_string()
}

/// A link's path under the endpoint's path prefix: a service behind a proxy
/// at `https://cloud/volume/v3/P` names `/v3/P/volumes/detail` in its links.
/// The longest tail of the endpoint's path that the link's path starts with
/// tells what the proxy put before it.
fn under_endpoint_path(link: &str, endpoint: &str) -> String {
    let segments: Vec<&str> = endpoint.split('/').filter(|s| !s.is_empty()).collect();
    for i in 0..segments.len() {
        let tail = format!("/{}", segments[i..].join("/"));
        let rest = link.strip_prefix(tail.as_str());
        if rest.is_some_and(|r| r.is_empty() || r.starts_with('/')) {
            let prefix: String = segments[..i].iter().map(|s| format!("/{s}")).collect();
            return format!("{prefix}{link}");
        }
    }
    link.to_string()
}

/// Fetches `first`, hands each page to `take` (which keeps its items and
/// returns the page's next link, if any) and follows the links to the end;
/// `call_for` makes the request for a next link.
pub(super) async fn each_page<P: DeserializeOwned>(
    session: &Session,
    first: Call,
    call_for: impl Fn(String) -> Call,
    mut take: impl FnMut(P) -> Option<String>,
) -> Result<(), OpenStackError> {
    let service = first.service;
    let mut call = first;
    loop {
        let page: P = session.json(&call).await?;
        let Some(href) = take(page) else {
            return Ok(());
        };
        let endpoint = session.endpoint(service).await?;
        call = call_for(on_endpoint(&href, &endpoint, session.name()));
    }
}

#[cfg(test)]
mod tests {
    use super::on_endpoint;

    #[test]
    fn a_next_link_is_followed_on_the_endpoints_host_only() {
        let endpoint = "https://cloud.test:8776/v3/p1";
        let same = "https://cloud.test:8776/v3/p1/volumes/detail?marker=v9&limit=2";
        assert_eq!(on_endpoint(same, endpoint, "old"), same);
        for other in [
            "http://internal:8776/v3/p1/volumes/detail?marker=v9&limit=2",
            "https://cloud.test:9999/v3/p1/volumes/detail?marker=v9&limit=2",
            "http://cloud.test:8776/v3/p1/volumes/detail?marker=v9&limit=2",
        ] {
            assert_eq!(on_endpoint(other, endpoint, "old"), same, "{other}");
        }
    }

    /// Behind a proxy that serves the service under a path prefix, the
    /// service's own links leave the prefix out: it is put back.
    #[test]
    fn a_next_link_keeps_the_endpoints_path_prefix() {
        let link = "http://10.0.0.5:8776/v3/p1/volumes/detail?marker=v9";
        assert_eq!(
            on_endpoint(link, "https://cloud.test/volume/v3/p1", "old"),
            "https://cloud.test/volume/v3/p1/volumes/detail?marker=v9"
        );
        assert_eq!(
            on_endpoint(
                "http://10.0.0.5:5000/v3/projects?marker=a",
                "https://cloud.test/identity/v3",
                "old"
            ),
            "https://cloud.test/identity/v3/projects?marker=a"
        );
        // No common tail: the link's path as it is.
        assert_eq!(
            on_endpoint("http://10.0.0.5:8776/other/x", "https://cloud.test/volume/v3/p1", "old"),
            "https://cloud.test/other/x"
        );
    }
}
