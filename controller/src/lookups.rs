//! Loading lookups from a file of Druid's lookups config JSON (`{tier: {name: container}}`),
//! as `msq run --lookups <file>` does: each lookup replaces the stored one of its tier and
//! name in the metadata store.

use msq_engine::metadata::lookup::parse_config;
use msq_engine::metadata::MetadataStore;
use std::path::Path;

/// Reads `path` and writes its lookups to `metadata`; returns how many there were.
pub fn load_lookups_file(metadata: &dyn MetadataStore, path: &Path) -> Result<usize, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("--lookups {}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("--lookups {}: not valid JSON: {e}", path.display()))?;
    let records = parse_config(&v).map_err(|e| format!("--lookups {}: {e}", path.display()))?;
    metadata
        .put_lookups(&records, true)
        .map_err(|e| format!("--lookups {}: {e}", path.display()))?;
    Ok(records.len())
}
