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

/// Fetches `first`, hands each page to `take` (which keeps its items and
/// returns the page's next link, if any) and follows the links to the end;
/// `call_for` makes the request for a next link.
pub(super) async fn each_page<P: DeserializeOwned>(
    session: &Session,
    first: Call,
    call_for: impl Fn(String) -> Call,
    mut take: impl FnMut(P) -> Option<String>,
) -> Result<(), OpenStackError> {
    let mut call = first;
    loop {
        let page: P = session.json(&call).await?;
        match take(page) {
            Some(href) => call = call_for(href),
            None => return Ok(()),
        }
    }
}
