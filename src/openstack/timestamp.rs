//! OpenStack timestamps come with `Z` (Keystone), without any zone (Cinder,
//! Nova), with or without fractions. All are UTC.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::{Deserialize, Deserializer};

pub fn parse(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
        .or_else(|_| NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f"))
        .ok()
        .map(|n| n.and_utc())
}

pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
    let s = String::deserialize(d)?;
    parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unrecognised timestamp {s:?}")))
}

pub fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let s = Option::<String>::deserialize(d)?;
    Ok(s.as_deref().and_then(parse))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn with_and_without_zone_are_the_same_instant() {
        let a = parse("2026-11-24T17:10:05.000000Z").expect("keystone style");
        let b = parse("2026-11-24T17:10:05.000000").expect("cinder style");
        let c = parse("2026-11-24T17:10:05").expect("no fraction");
        let d = parse("2026-11-24T18:10:05+01:00").expect("offset");
        assert_eq!(a, b);
        assert_eq!(b, c);
        assert_eq!(c, d);
        assert!(parse("yesterday").is_none());
    }
}
