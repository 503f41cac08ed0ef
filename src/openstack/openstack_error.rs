//! The error of every client call, typed so callers can react (retry, report
//! quota, re-auth) without string matching.

use super::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum OpenStackError {
    #[error("{0}")]
    Api(Box<ApiError>),
    #[error("{cloud} cloud: {request}: {source}; check that the endpoint is reachable")]
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
    #[error("{cloud} cloud: authentication failed at {auth_url}: {error}; check the user, password or application credential and the project")]
    Auth {
        cloud: String,
        auth_url: String,
        error: Box<ApiError>,
    },
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

pub type Result<T, E = OpenStackError> = std::result::Result<T, E>;
