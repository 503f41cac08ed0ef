#![allow(dead_code)] // shared by several test binaries; each uses a part
//! Compares the shape of two JSON answers: the same keys and value types,
//! walked recursively. Used to hold the simulated clouds to the real
//! services' answers (recorded samples, and the live testbed).

use serde_json::Value;

/// Maps whose keys are data (metadata, capabilities): compared by value type only.
const FREE_MAPS: &[&str] = &["metadata", "volume_image_metadata", "capabilities"];
/// Keys real Cinder sends only for some volumes (image-backed ones here),
/// which the real answers compared against happen not to contain.
const OPTIONAL: &[&str] = &["volume_image_metadata"];

pub fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The differences between `real` and `sim` under `path`, appended to `out`.
/// A real `null` matches anything (the field is nullable); a simulated `null`
/// matches only a real string (real services leave optional strings null).
/// A real empty array says nothing of its elements: a simulated array with
/// elements there is reported, unless its path ends with one of `unchecked`
/// (the caller says where those elements are checked instead).
pub fn walk(path: &str, real: &Value, sim: &Value, unchecked: &[&str], out: &mut Vec<String>) {
    match (real, sim) {
        (Value::Null, _) | (Value::String(_), Value::Null) => {}
        (Value::Object(a), Value::Object(b)) => {
            let free = FREE_MAPS.iter().any(|f| path.ends_with(f));
            if !free {
                out.extend(
                    a.keys()
                        .filter(|k| !b.contains_key(*k))
                        .map(|k| format!("{path}.{k}: missing in the simulator")),
                );
                out.extend(
                    b.keys()
                        .filter(|k| !a.contains_key(*k) && !OPTIONAL.contains(&k.as_str()))
                        .map(|k| format!("{path}.{k}: not in the real response")),
                );
            }
            for (k, v) in a {
                if let Some(w) = b.get(k) {
                    walk(&format!("{path}.{k}"), v, w, unchecked, out);
                }
            }
        }
        (Value::Array(a), Value::Array(b)) => match a.first() {
            Some(first) => {
                for (i, w) in b.iter().enumerate() {
                    walk(&format!("{path}[{i}]"), first, w, unchecked, out);
                }
            }
            None if b.is_empty() || unchecked.iter().any(|u| path.ends_with(u)) => {}
            None => out.push(format!(
                "{path}: empty in the real response, so its {} elements in the simulator are unchecked",
                b.len()
            )),
        },
        (a, b) if kind(a) == kind(b) => {}
        (a, b) => out.push(format!(
            "{path}: {} in the real response, {} in the simulator",
            kind(a),
            kind(b)
        )),
    }
}
