//! The statements of each measure, as msq-rs runs them. `peers/peer.py` asks the same
//! questions in DuckDB's and DataFusion's dialects (its header lists them side by side).
//!
//! Measure names are shared by all engines, so results line up by `measure`:
//! `insert`, `replace_one_day`, and the six `select_*` of [`SELECTS`].

use std::path::Path;

/// The datasource the suite ingests into.
pub const DATASOURCE: &str = "wikipedia";

/// The day REPLACE rewrites (the second generated day, present from 39,245 rows on).
pub const REPLACE_DAY: &str = "2015-09-13";

/// The columns ingested (the same for every engine).
pub const INGESTED_COLUMNS: [&str; 12] = [
    "time",
    "channel",
    "page",
    "user",
    "namespace",
    "comment",
    "cityName",
    "countryName",
    "isRobot",
    "added",
    "deleted",
    "delta",
];

/// EXTERN's row signature for [`INGESTED_COLUMNS`] (booleans as strings, as msq-rs ingests them).
pub fn extern_signature() -> String {
    let cols: Vec<String> = INGESTED_COLUMNS
        .iter()
        .map(|c| {
            let ty = if matches!(*c, "added" | "deleted" | "delta") {
                "long"
            } else {
                "string"
            };
            format!(r#"{{"name":"{c}","type":"{ty}"}}"#)
        })
        .collect();
    format!("[{}]", cols.join(","))
}

/// `insert`: the generated JSON into day segments clustered by channel.
pub fn insert_sql(json_file: &Path) -> String {
    insert_sql_files(&[json_file])
}

/// `insert` reading several JSON files (the parts of `generate_parts`), one split each.
pub fn insert_sql_files<P: AsRef<Path>>(json_files: &[P]) -> String {
    insert_sql_into(DATASOURCE, json_files)
}

/// The same INSERT into the datasource `data_source`.
pub fn insert_sql_into<P: AsRef<Path>>(data_source: &str, json_files: &[P]) -> String {
    let file = json_files
        .iter()
        .map(|f| serde_json::to_string(&f.as_ref().display().to_string()).expect("a string serialises"))
        .collect::<Vec<_>>()
        .join(",");
    format!(
        "INSERT INTO {data_source}\n\
         SELECT TIME_PARSE(\"time\") AS __time, channel, page, \"user\", namespace, comment, cityName, countryName, isRobot, added, deleted, delta\n\
         FROM TABLE(EXTERN('{{\"type\":\"local\",\"files\":[{}]}}', '{{\"type\":\"json\"}}', '{}'))\n\
         PARTITIONED BY DAY\n\
         CLUSTERED BY channel",
        file.replace('\'', "''"),
        extern_signature()
    )
}

/// `replace_one_day`: re-ingests [`REPLACE_DAY`] from the datasource itself, without `#en.wikipedia`.
pub fn replace_sql() -> String {
    let (start, end) = (format!("{REPLACE_DAY} 00:00:00"), "2015-09-14 00:00:00");
    format!(
        "REPLACE INTO {DATASOURCE} OVERWRITE WHERE __time >= TIMESTAMP '{start}' AND __time < TIMESTAMP '{end}'\n\
         SELECT * FROM {DATASOURCE} WHERE __time >= TIMESTAMP '{start}' AND __time < TIMESTAMP '{end}' AND channel <> '#en.wikipedia'\n\
         PARTITIONED BY DAY\n\
         CLUSTERED BY channel"
    )
}

/// The SELECT questions over the ingested datasource: (measure, msq-rs SQL).
pub const SELECTS: [(&str, &str); 6] = [
    ("select_count", "SELECT COUNT(*) FROM wikipedia"),
    (
        "select_top_channels",
        "SELECT channel, SUM(added) AS added FROM wikipedia GROUP BY channel ORDER BY added DESC LIMIT 10",
    ),
    ("select_count_distinct_user", r#"SELECT COUNT(DISTINCT "user") FROM wikipedia"#),
    (
        "select_hourly_one_day",
        "SELECT TIME_FLOOR(__time, 'PT1H') AS h, COUNT(*) FROM wikipedia WHERE __time >= TIMESTAMP '2015-09-13 00:00:00' AND __time < TIMESTAMP '2015-09-14 00:00:00' GROUP BY 1 ORDER BY 1",
    ),
    ("select_page_filter", "SELECT COUNT(*), SUM(delta) FROM wikipedia WHERE page = 'Jeremy Corbyn'"),
    (
        "select_two_column_group",
        "SELECT channel, namespace, COUNT(*) AS c FROM wikipedia GROUP BY channel, namespace ORDER BY c DESC LIMIT 10",
    ),
];

/// The tiny SELECT the HTTP latency measure submits: three inline rows grouped by channel
/// (one input stage and one aggregation, as a real query has; no datasource needed).
pub const TINY_SELECT: &str = r##"SELECT channel, COUNT(*) AS c FROM TABLE(EXTERN('{"type":"inline","data":"{\"channel\":\"#en\"}\n{\"channel\":\"#fr\"}\n{\"channel\":\"#en\"}"}', '{"type":"json"}', '[{"name":"channel","type":"string"}]')) GROUP BY channel ORDER BY channel"##;

/// Every measure name, in the order the suite runs them.
pub fn measures() -> Vec<&'static str> {
    let mut m = vec!["insert", "replace_one_day"];
    m.extend(SELECTS.iter().map(|(name, _)| *name));
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_names_the_file_and_all_columns() {
        let sql = insert_sql(Path::new("/data/wikipedia-100.json.gz"));
        assert!(sql.contains(r#"{"type":"local","files":["/data/wikipedia-100.json.gz"]}"#));
        assert!(sql.contains("PARTITIONED BY DAY") && sql.contains("CLUSTERED BY channel"));
        let sig: serde_json::Value = serde_json::from_str(&extern_signature()).unwrap();
        assert_eq!(sig.as_array().unwrap().len(), INGESTED_COLUMNS.len());
        assert_eq!(sig[9], serde_json::json!({"name":"added","type":"long"}));
    }

    #[test]
    fn insert_lists_every_part() {
        let sql = insert_sql_files(&[Path::new("/d/part-0.json.gz"), Path::new("/d/part-1.json.gz")]);
        assert!(sql.contains(r#""files":["/d/part-0.json.gz","/d/part-1.json.gz"]"#));
    }

    #[test]
    fn quotes_in_paths_are_escaped() {
        assert!(insert_sql(Path::new("/tmp/it's.json")).contains("it''s.json"));
    }

    #[test]
    fn measure_names_are_unique() {
        let m = measures();
        let mut d = m.clone();
        d.sort();
        d.dedup();
        assert_eq!(m.len(), d.len());
        assert!(replace_sql().contains("OVERWRITE WHERE __time >= TIMESTAMP '2015-09-13 00:00:00'"));
    }
}
