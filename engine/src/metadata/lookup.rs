//! Druid's query-time lookups (the `map` type): the records the metadata store keeps, the
//! shapes of Druid's lookups API (`{tier: {name: {"version", "lookupExtractorFactory"}}}`) and
//! the rules of an update. Pure: parsing, validation and the version rule.

use crate::error::{MsqError, Result};
use crate::ids::validate_id;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// The tier queries use (Druid's Broker default, `druid.lookup.lookupTier`).
pub const DEFAULT_TIER: &str = "__default";

/// The only lookup extractor factory type msq-rs has.
pub const MAP_TYPE: &str = "map";

/// Largest number of entries one lookup's map may hold.
pub const MAX_MAP_ENTRIES: usize = 1_000_000;

/// One lookup of one tier, as stored and as Druid's API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct LookupRecord {
    pub tier: String,
    pub name: String,
    /// The user's version string; an update must bring a lexicographically higher one.
    pub version: String,
    /// The `lookupExtractorFactory` object as posted (type `map`, checked).
    pub factory: Value,
}

impl LookupRecord {
    /// Druid's container JSON: `{"version", "lookupExtractorFactory"}`.
    pub fn container_json(&self) -> Value {
        json!({"version": self.version, "lookupExtractorFactory": self.factory})
    }

    /// The key → value map of the lookup (its factory was checked when it was made).
    pub fn map(&self) -> BTreeMap<String, String> {
        map_entries(&self.factory).unwrap_or_default()
    }

    /// Whether the factory declares the lookup injective (`"injective": true`).
    pub fn injective(&self) -> bool {
        self.factory.get("injective").and_then(Value::as_bool).unwrap_or(false)
    }
}

/// A request mistake, as Druid's `Invalid input`.
fn invalid(message: String) -> MsqError {
    MsqError::Validation(message)
}

/// Checks a tier name (Druid's id rules, field `tier`).
pub fn validate_tier(tier: &str) -> Result<()> {
    validate_id("tier", tier)
}

/// Checks a lookup name (Druid's id rules, field `lookup`).
pub fn validate_name(name: &str) -> Result<()> {
    validate_id("lookup", name)
}

/// The entries of a `map` factory: every value a string (numbers and booleans are taken as
/// their text, as Jackson reads them into a `Map<String, String>`).
fn map_entries(factory: &Value) -> Result<BTreeMap<String, String>> {
    let Some(map) = factory.get("map") else {
        return Err(invalid(
            "lookupExtractorFactory of type [map] requires the [map] field".into(),
        ));
    };
    let Some(map) = map.as_object() else {
        return Err(invalid(format!(
            "lookupExtractorFactory [map] must be a JSON object of strings, got [{}]",
            type_name(map)
        )));
    };
    if map.len() > MAX_MAP_ENTRIES {
        return Err(invalid(format!(
            "lookupExtractorFactory [map] has [{}] entries; the limit is [{MAX_MAP_ENTRIES}]",
            map.len()
        )));
    }
    map.iter()
        .map(|(k, v)| {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                other => {
                    return Err(invalid(format!(
                        "lookupExtractorFactory [map] value of key [{k}] must be a string, got [{}]",
                        type_name(other)
                    )))
                }
            };
            Ok((k.clone(), v))
        })
        .collect()
}

/// The JSON type of `v`, for messages.
fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Parses one container (`{"version": "v1", "lookupExtractorFactory": {"type": "map", ...}}`)
/// for `tier` / `name`, checking both names, the version and the factory.
pub fn parse_container(tier: &str, name: &str, v: &Value) -> Result<LookupRecord> {
    validate_tier(tier)?;
    validate_name(name)?;
    let Some(obj) = v.as_object() else {
        return Err(invalid(format!(
            "lookup [{name}] of tier [{tier}] must be a JSON object, got [{}]",
            type_name(v)
        )));
    };
    let version = match obj.get("version") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::String(_)) | None | Some(Value::Null) => {
            return Err(invalid(format!(
                "lookup [{name}] of tier [{tier}] requires a [version]"
            )))
        }
        Some(other) => {
            return Err(invalid(format!(
                "lookup [{name}] of tier [{tier}]: [version] must be a string, got [{}]",
                type_name(other)
            )))
        }
    };
    let Some(factory) = obj.get("lookupExtractorFactory").filter(|f| !f.is_null()) else {
        return Err(invalid(format!(
            "lookup [{name}] of tier [{tier}] requires a [lookupExtractorFactory]"
        )));
    };
    check_factory(factory)?;
    Ok(LookupRecord {
        tier: tier.to_string(),
        name: name.to_string(),
        version,
        factory: factory.clone(),
    })
}

/// A factory msq-rs can serve: an object of type `map` with a map of strings and an
/// optional boolean `injective`.
fn check_factory(factory: &Value) -> Result<()> {
    let Some(obj) = factory.as_object() else {
        return Err(invalid(format!(
            "lookupExtractorFactory must be a JSON object, got [{}]",
            type_name(factory)
        )));
    };
    match obj.get("type").and_then(Value::as_str) {
        Some(MAP_TYPE) => {}
        Some(other) => {
            return Err(MsqError::QueryNotSupported(format!(
                "lookupExtractorFactory type [{other}] is not supported; msq-rs supports [map]"
            )))
        }
        None => return Err(invalid("lookupExtractorFactory requires a string [type]".into())),
    }
    if let Some(i) = obj.get("injective").filter(|i| !i.is_null() && !i.is_boolean()) {
        return Err(invalid(format!(
            "lookupExtractorFactory [injective] must be a boolean, got [{}]",
            type_name(i)
        )));
    }
    map_entries(factory).map(|_| ())
}

/// Parses a bulk config (`{tier: {name: container}}`, Druid's lookups config JSON).
pub fn parse_config(v: &Value) -> Result<Vec<LookupRecord>> {
    let Some(tiers) = v.as_object() else {
        return Err(invalid(format!(
            "the lookups config must be a JSON object of tiers, got [{}]",
            type_name(v)
        )));
    };
    let mut out = Vec::new();
    for (tier, lookups) in tiers {
        validate_tier(tier)?;
        let Some(lookups) = lookups.as_object() else {
            return Err(invalid(format!(
                "tier [{tier}] must be a JSON object of lookups, got [{}]",
                type_name(lookups)
            )));
        };
        for (name, container) in lookups {
            out.push(parse_container(tier, name, container)?);
        }
    }
    Ok(out)
}

/// What an update does to a stored lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateAction {
    /// Write it (new, or a higher version).
    Write,
    /// Nothing: the same version with the same factory is already stored.
    Unchanged,
}

/// Druid's rule: an update of an existing lookup needs a (lexicographically) higher version;
/// posting exactly what is stored again changes nothing.
pub fn check_update(existing: Option<&LookupRecord>, new: &LookupRecord) -> Result<UpdateAction> {
    let Some(old) = existing else {
        return Ok(UpdateAction::Write);
    };
    if old.version == new.version && old.factory == new.factory {
        return Ok(UpdateAction::Unchanged);
    }
    if new.version <= old.version {
        return Err(invalid(format!(
            "Cannot update lookup [{}]:[{}] with version [{}] lower than or same as existing version [{}]",
            new.tier, new.name, new.version, old.version
        )));
    }
    Ok(UpdateAction::Write)
}

/// Druid's `GET /lookups/config/all` body: `{tier: {name: container}}`.
pub fn config_json(records: &[LookupRecord]) -> Value {
    let mut tiers: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for r in records {
        tiers
            .entry(r.tier.as_str())
            .or_default()
            .insert(r.name.clone(), r.container_json());
    }
    Value::Object(
        tiers
            .into_iter()
            .map(|(t, m)| (t.to_string(), Value::Object(m)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(version: &str, map: Value) -> Value {
        json!({"version": version, "lookupExtractorFactory": {"type": "map", "map": map}})
    }

    #[test]
    fn parses_druids_config_shape() {
        let v = json!({"__default": {"country_code": container("v0", json!({"77483": "United States"}))}});
        let recs = parse_config(&v).unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].tier, "__default");
        assert_eq!(recs[0].map().get("77483").map(String::as_str), Some("United States"));
        assert_eq!(config_json(&recs), v);
    }

    #[test]
    fn refuses_bad_names_types_and_factories() {
        assert!(parse_container("__default", "../x", &container("v", json!({}))).is_err());
        assert!(parse_container("a/b", "x", &container("v", json!({}))).is_err());
        assert!(parse_container(
            "t",
            "x",
            &json!({"version": 1, "lookupExtractorFactory": {"type": "map", "map": {}}})
        )
        .is_err());
        assert!(parse_container("t", "x", &container("v", json!({"a": [1]}))).is_err());
        assert!(parse_container("t", "x", &container("v", json!([1]))).is_err());
        let jdbc = json!({"version": "v", "lookupExtractorFactory": {"type": "cachedNamespace"}});
        assert!(matches!(
            parse_container("t", "x", &jdbc),
            Err(MsqError::QueryNotSupported(_))
        ));
        assert!(parse_config(&json!([])).is_err());
        assert!(parse_config(&json!({"t": 3})).is_err());
        // Numbers are read as their text, as Jackson does.
        let r = parse_container("t", "x", &container("v", json!({"a": 1}))).unwrap();
        assert_eq!(r.map().get("a").map(String::as_str), Some("1"));
    }

    #[test]
    fn updates_need_a_higher_version() {
        let old = parse_container("t", "x", &container("v1", json!({"a": "1"}))).unwrap();
        let same = old.clone();
        let lower = parse_container("t", "x", &container("v0", json!({"a": "2"}))).unwrap();
        let equal = parse_container("t", "x", &container("v1", json!({"a": "2"}))).unwrap();
        let higher = parse_container("t", "x", &container("v2", json!({"a": "2"}))).unwrap();
        assert_eq!(check_update(None, &old).unwrap(), UpdateAction::Write);
        assert_eq!(check_update(Some(&old), &same).unwrap(), UpdateAction::Unchanged);
        assert!(check_update(Some(&old), &lower).is_err());
        assert!(check_update(Some(&old), &equal).is_err());
        assert_eq!(check_update(Some(&old), &higher).unwrap(), UpdateAction::Write);
    }
}
