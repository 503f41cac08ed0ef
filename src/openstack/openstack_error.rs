//! The error of every client call, typed so callers can react (retry, report
//! quota, re-auth) without string matching.

use super::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum OpenStackError {
    #[error("{0}")]
    Api(Box<ApiError>),
    #[error("{cloud} cloud: {request}: {}; check that the endpoint is reachable", transport_cause(.source))]
    Transport {
        cloud: String,
        request: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{cloud} cloud: {request}: unexpected response: {message}")]
    Decode {
        cloud: String,
        request: String,
        message: String,
    },
    /// `error` names the request (`POST <auth_url>/auth/tokens`) but not the
    /// cloud, which the message already names once.
    #[error("{cloud} cloud: authentication failed: {error}; check the user, password or application credential and the project")]
    Auth { cloud: String, error: Box<ApiError> },
    #[error("{cloud} cloud: no {service} endpoint for interface {interface}{region} in the catalog; services offered: {offered}")]
    NoEndpoint {
        cloud: String,
        service: String,
        interface: String,
        region: String,
        offered: String,
    },
    #[error("volume {id} went to status {status:?} while waiting for {wanted}; see the Cinder volume log")]
    VolumeError { id: String, status: String, wanted: String },
    #[error("volume {id} did not reach {wanted} within {seconds} s (last status {status:?})")]
    WaitTimeout {
        id: String,
        wanted: String,
        status: String,
        seconds: u64,
    },
    #[error("{0}")]
    Config(String),
}

impl OpenStackError {
    /// The HTTP status when the service answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            OpenStackError::Api(e) => Some(e.status),
            OpenStackError::Auth { error, .. } => Some(error.status),
            _ => None,
        }
    }

    pub fn api(&self) -> Option<&ApiError> {
        match self {
            OpenStackError::Api(e) => Some(e),
            OpenStackError::Auth { error, .. } => Some(error),
            _ => None,
        }
    }
}

/// What went wrong under reqwest's "error sending request for url (…)", which
/// reads the same for a refused connection, a failed name lookup, a TLS error
/// and a timeout. The cause is found by walking the `source()` chain.
pub fn transport_cause(e: &reqwest::Error) -> String {
    use std::io::ErrorKind;
    let chain: Vec<&(dyn std::error::Error + 'static)> =
        std::iter::successors(std::error::Error::source(e), |c| c.source()).collect();
    let io_kinds: Vec<ErrorKind> = chain
        .iter()
        .filter_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .collect();
    // The innermost cause is the specific one ("tls handshake eof", "failed to
    // lookup address information: …"); the outer ones are hyper's wrappers.
    let detail = chain.last().map_or_else(|| e.to_string(), |c| c.to_string());
    if e.is_timeout() || io_kinds.contains(&ErrorKind::TimedOut) {
        "timed out".into()
    } else if io_kinds.contains(&ErrorKind::ConnectionRefused) {
        "connection refused".into()
    } else if io_kinds.contains(&ErrorKind::ConnectionReset) {
        "connection reset by the peer".into()
    } else if chain.iter().any(|c| c.to_string().contains("dns error")) {
        format!("name lookup failed: {detail}")
    } else if e.is_connect() && e.url().is_some_and(|u| u.scheme() == "https") {
        // TCP connected (not refused, not timed out), so the handshake failed.
        format!("TLS error: {detail}")
    } else {
        chain.iter().map(ToString::to_string).collect::<Vec<_>>().join(": ")
    }
}

pub type Result<T, E = OpenStackError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    async fn transport_error(client: reqwest::Client, url: &str) -> String {
        let source = client.get(url).send().await.expect_err("must fail");
        OpenStackError::Transport {
            cloud: "old".into(),
            request: format!("GET {url}"),
            source,
        }
        .to_string()
    }

    #[tokio::test]
    async fn a_refused_connection_says_so() {
        let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/v3", closed.local_addr().expect("addr"));
        drop(closed);
        let text = transport_error(reqwest::Client::new(), &url).await;
        assert!(
            text.contains("/v3: connection refused; check that the endpoint"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_silent_endpoint_says_timed_out() {
        // Accepts the connection, never answers.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/v3", listener.local_addr().expect("addr"));
        let held = tokio::spawn(async move { listener.accept().await });
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(200))
            .build()
            .expect("client");
        let text = transport_error(client, &url).await;
        held.abort();
        assert!(text.contains("/v3: timed out; check"), "{text}");
    }

    #[tokio::test]
    async fn tls_to_a_plain_endpoint_names_the_tls_error() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("https://{}/v3", listener.local_addr().expect("addr"));
        // Answers the TLS hello with plain HTTP, as a Keystone without TLS would.
        let answer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            if let Ok((mut s, _)) = listener.accept().await {
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                    .await;
            }
        });
        let text = transport_error(reqwest::Client::new(), &url).await;
        answer.abort();
        assert!(text.contains("/v3: TLS error: "), "{text}");
    }
}
