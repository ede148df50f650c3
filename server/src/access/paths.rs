//! Path lists of a user (`paths`, `paths_write`): accepted as a JSON-encoded string (seed 002)
//! or as an array, stored canonical — absolute, normalised, deduplicated — and refused with
//! 400 `path_invalid` when an entry is relative or contains `..`, NUL, a backslash or a
//! control character.

use crate::error::{AppError, AppResult, Code};
use crate::vfs::VPath;

/// Largest number of entries in one list.
const MAX_ENTRIES: usize = 256;

/// Parses a path list given as a JSON value: an array of strings, or a string holding one.
pub fn parse_path_list(value: &serde_json::Value) -> AppResult<Vec<String>> {
    let items: Vec<serde_json::Value> = match value {
        serde_json::Value::Null => Vec::new(),
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::String(s) if s.trim().is_empty() => Vec::new(),
        serde_json::Value::String(s) => match serde_json::from_str::<serde_json::Value>(s) {
            Ok(serde_json::Value::Array(a)) => a,
            _ => return Err(invalid("must be a JSON array of absolute paths, e.g. [\"/photos\"]")),
        },
        _ => return Err(invalid("must be an array of absolute paths")),
    };
    if items.len() > MAX_ENTRIES {
        return Err(invalid("has too many entries"));
    }
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        let serde_json::Value::String(raw) = item else {
            return Err(invalid("entries must be strings"));
        };
        let canon = canonical_absolute(&raw)?;
        if !out.contains(&canon) {
            out.push(canon);
        }
    }
    Ok(out)
}

/// `/a//b/` → `/a/b`; relative entries and `..` are refused.
pub fn canonical_absolute(raw: &str) -> AppResult<String> {
    if !raw.starts_with('/') {
        return Err(invalid(&format!("entry `{}` must be absolute (start with /)", crate::audit::escape_control(raw))));
    }
    VPath::parse(raw).map(|p| p.to_string()).map_err(|e| invalid(&format!("entry is not a valid path ({e})")))
}

fn invalid(why: &str) -> AppError {
    AppError::new(Code::PathInvalid, format!("Path list {why}"))
}

/// The seed-002 form of a stored list: a JSON-encoded string.
pub fn to_json_string(paths: &[String]) -> String {
    serde_json::to_string(paths).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn both_forms_are_accepted_and_canonicalised() {
        let a = parse_path_list(&json!("[\"/alice/\", \"//pub\", \"/alice\"]")).expect("string form");
        let b = parse_path_list(&json!(["/alice", "/pub/."])).expect("array form");
        assert_eq!(a, vec!["/alice", "/pub"]);
        assert_eq!(a, b);
    }

    #[test]
    fn traversal_relative_and_junk_are_refused() {
        for bad in
            [json!(["/a/../b"]), json!(["alice"]), json!(["/a\\b"]), json!(["/a\u{0}"]), json!("not json"), json!(5)]
        {
            let e = parse_path_list(&bad).expect_err("must refuse");
            assert!(e.code() == crate::error::Code::PathInvalid, "{bad}");
        }
    }
}
