//! A string that must never reach a log, a panic message or a debug dump.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// Holds a password, token or application-credential secret.
/// `Debug` and `Display` print `<redacted>`; the value is only reachable through
/// [`Secret::expose`], which makes every use easy to audit with grep.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The raw value, for the one place that must send it (an HTTP header or body).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Only a string is a secret. Anything else (an unquoted `password: 12345678`
/// in YAML reads as a number) is refused without its value: serde's own
/// message would quote it ("invalid type: integer `12345678`").
impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(SecretVisitor)
    }
}

struct SecretVisitor;

impl SecretVisitor {
    fn refuse<E: serde::de::Error>(&self, what: &str) -> Result<Secret, E> {
        let unexpected = format!("{what} (its value is not shown)");
        Err(E::invalid_type(serde::de::Unexpected::Other(&unexpected), self))
    }
}

impl serde::de::Visitor<'_> for SecretVisitor {
    type Value = Secret;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string: put the secret in quotes")
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Secret, E> {
        Ok(Secret::new(v))
    }

    fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Secret, E> {
        Ok(Secret(v))
    }

    fn visit_char<E: serde::de::Error>(self, v: char) -> Result<Secret, E> {
        Ok(Secret(v.to_string()))
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
        self.refuse("a boolean")
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
        self.refuse("a number")
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<Secret, E> {
        self.refuse("a number")
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
        self.refuse("a number")
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<Secret, E> {
        self.refuse("a number")
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
        self.refuse("a number")
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<Secret, E> {
        self.refuse("bytes")
    }
}

/// Serialising a secret writes the redaction marker, so a config dumped to a
/// report or a log can never leak the value.
impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_display_and_serialize_redact() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{s}"), "<redacted>");
        let json = serde_json::to_string(&s).expect("serialize");
        assert!(!json.contains("hunter2"), "{json}");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn a_secret_that_is_not_a_string_is_refused_without_its_value() {
        let s: Secret = serde_json::from_str("\"hunter2\"").expect("a string");
        assert_eq!(s.expose(), "hunter2");
        for (json, what) in [
            ("12345678", "a number"),
            ("-1234567.5", "a number"),
            ("true", "a boolean"),
        ] {
            let e = serde_json::from_str::<Secret>(json).expect_err(json).to_string();
            assert!(e.contains(what) && e.contains("put the secret in quotes"), "{e}");
            assert!(!e.contains(json), "{e}");
        }
        let e = serde_yaml_ng::from_str::<Secret>("12345678")
            .expect_err("yaml")
            .to_string();
        assert!(!e.contains("12345678") && e.contains("a number"), "{e}");
    }
}
