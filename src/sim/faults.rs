//! Fault injection for the demo and for tests: a failing export, a quota 413,
//! a token that expires mid-run, a failing tape. From `--faults` or a builder.

use std::collections::BTreeSet;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// Volume names whose first export fails midway.
    pub export_fail: BTreeSet<String>,
    /// Volume names whose creation in the new cloud gets a 413.
    pub quota: BTreeSet<String>,
    /// Every token becomes invalid after this long (services answer 401).
    pub token_expiry: Option<Duration>,
    pub tape_fail: bool,
    /// Nova's answer about one server waits this long (a cutover's check of
    /// the source's servers; tests set it while a run goes).
    pub slow_server_show: Option<Duration>,
    /// Nova cannot show servers in detail or by id (a Nova without Neutron
    /// behind it): HTTP 500, as the real one answers then; `/servers` works.
    pub no_server_details: bool,
    /// Deleted servers' usage is purged once the first whole answer about a
    /// project's usage is given (`nova-manage db archive_deleted_rows` run
    /// between the archive's whole-period query and its months).
    pub usage_purge: bool,
}

impl Faults {
    pub fn builder() -> Self {
        Self::default()
    }
    pub fn export_fail(mut self, volume_name: &str) -> Self {
        self.export_fail.insert(volume_name.into());
        self
    }
    pub fn quota(mut self, volume_name: &str) -> Self {
        self.quota.insert(volume_name.into());
        self
    }
    pub fn token_expiry(mut self, after: Duration) -> Self {
        self.token_expiry = Some(after);
        self
    }
    pub fn tape_fail(mut self) -> Self {
        self.tape_fail = true;
        self
    }

    /// `export-fail:NAME,quota:NAME,token-expiry:SECONDS,tape-fail`.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut f = Self::default();
        for item in spec.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (kind, arg) = item.split_once(':').unwrap_or((item, ""));
            f = match (kind, arg) {
                ("export-fail", name) if !name.is_empty() => f.export_fail(name),
                ("quota", name) if !name.is_empty() => f.quota(name),
                ("token-expiry", secs) => {
                    let s: u64 = secs.parse().map_err(|_| format!("--faults {item}: give seconds, e.g. token-expiry:10"))?;
                    f.token_expiry(Duration::from_secs(s))
                }
                ("tape-fail", "") => f.tape_fail(),
                _ => {
                    return Err(format!(
                        "--faults: unknown fault {item:?}; use export-fail:NAME, quota:NAME, token-expiry:SECONDS or tape-fail"
                    ))
                }
            };
        }
        Ok(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_cli_form() {
        let f = Faults::parse("export-fail:db-data, quota:scratch,token-expiry:5,tape-fail").expect("ok");
        assert_eq!(
            f,
            Faults::builder()
                .export_fail("db-data")
                .quota("scratch")
                .token_expiry(Duration::from_secs(5))
                .tape_fail()
        );
        assert!(Faults::parse("explode").expect_err("bad").contains("unknown fault"));
        assert!(Faults::parse("token-expiry:soon").is_err());
        assert_eq!(Faults::parse("").expect("empty"), Faults::default());
    }
}
