//! Field names for keys printed without them.
//!
//! Servers before 4.2 print `dup key: { : "x", : 5 }`. The names then come, in order of
//! preference, from a `keyPattern` printed nearby, from the index name by MongoDB's default
//! naming rule (`a_1_b_-1` is the index on `a` then `b`), or, when neither fits, positions
//! `#0`, `#1`, ….

use crate::NameSource;
use crate::scan::KeyFields;

/// The fields of an index named by the default rule, or `None` for a custom name.
///
/// The default name joins each field with its direction or type: `email_1`,
/// `tenant_id_1_email_-1`, `loc_2dsphere`, `h_hashed`. Field names may contain `_`, so parts
/// are collected until a direction token closes a field.
pub fn fields_from_index_name(name: &str) -> Option<Vec<String>> {
    if name == "_id_" {
        return Some(vec!["_id".to_string()]);
    }
    let mut fields = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for part in name.split('_') {
        if !current.is_empty() && is_direction(part) {
            fields.push(current.join("_"));
            current.clear();
        } else {
            current.push(part);
        }
    }
    if !current.is_empty() || fields.is_empty() {
        return None;
    }
    Some(fields)
}

fn is_direction(part: &str) -> bool {
    matches!(part, "text" | "2d" | "2dsphere" | "hashed" | "geoHaystack")
        || (!part.is_empty() && part.parse::<f64>().is_ok())
}

/// Gives every field of `key` a name. Names the message printed are kept.
pub(crate) fn resolve_key_names(
    key: KeyFields,
    source: NameSource,
    key_pattern: Option<&[String]>,
    index: Option<&str>,
) -> (KeyFields, NameSource) {
    if key.iter().all(|(n, _)| !n.is_empty()) {
        return (key, source);
    }
    if let Some(names) = key_pattern.filter(|p| p.len() == key.len()) {
        return (rename(key, names), NameSource::KeyPattern);
    }
    if let Some(names) = index
        .and_then(fields_from_index_name)
        .filter(|n| n.len() == key.len())
    {
        return (rename(key, &names), NameSource::IndexName);
    }
    let positional: Vec<String> = (0..key.len()).map(|i| format!("#{i}")).collect();
    (rename(key, &positional), NameSource::Positional)
}

fn rename(key: KeyFields, names: &[String]) -> KeyFields {
    key.into_iter()
        .zip(names)
        .map(|((_, v), n)| (n.clone(), v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(name: &str) -> Option<Vec<String>> {
        fields_from_index_name(name)
    }

    #[test]
    fn default_names() {
        assert_eq!(f("email_1").unwrap(), ["email"]);
        assert_eq!(
            f("id_1_reference_value_1").unwrap(),
            ["id", "reference_value"]
        );
        assert_eq!(f("tenant_id_1_email_-1").unwrap(), ["tenant_id", "email"]);
        assert_eq!(f("user.email_1").unwrap(), ["user.email"]);
        assert_eq!(f("_id_").unwrap(), ["_id"]);
        assert_eq!(f("_tenant_1").unwrap(), ["_tenant"]);
        assert_eq!(f("loc_2dsphere").unwrap(), ["loc"]);
        assert_eq!(f("h_hashed_n_1").unwrap(), ["h", "n"]);
        assert_eq!(f("a_1.0").unwrap(), ["a"]);
    }

    #[test]
    fn custom_names_are_not_guessed() {
        assert_eq!(f("unique_email"), None);
        assert_eq!(f("byEmail"), None);
        assert_eq!(f("email_1_custom"), None);
        assert_eq!(f(""), None);
        assert_eq!(f("1"), None);
    }
}
