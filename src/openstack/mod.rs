//! A small typed OpenStack client over reqwest: Keystone v3 sessions, Cinder v3
//! and Nova. Every request carries an explicit microversion; every failure is
//! an [`OpenStackError`] that names the cloud, the request and the request id.

mod api_error;
mod catalog;
mod cinder;
mod keystone;
mod links;
mod nova;
mod openstack_error;
mod retry_policy;
mod session;
mod tenant_usage;
pub mod timestamp;
mod token;
mod volume;

pub use api_error::ApiError;
pub use catalog::{Catalog, Service};
pub use cinder::{Cinder, VOLUME_MICROVERSION};
pub use keystone::{Keystone, Project};
pub use nova::{nova_time, Nova, Server, COMPUTE_MICROVERSION};
pub use openstack_error::{OpenStackError, Result};
pub use retry_policy::{Retries, RetryPolicy};
pub use session::{Call, Session};
pub use tenant_usage::{merge_by_tenant, TenantUsage};
pub use token::Token;
pub use volume::{Attachment, Manageable, NewVolume, Pool, QuotaItem, Volume, VolumeQuota, VolumeType};
