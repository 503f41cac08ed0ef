//! `*_links` paging: the `next` link of a page, when there is one.

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub(super) struct Link {
    rel: String,
    href: String,
}

pub(super) fn next_link(links: &[Link]) -> Option<String> {
    links.iter().find(|l| l.rel == "next").map(|l| l.href.clone())
}
