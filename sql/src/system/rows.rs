//! The rows of each system table, built from a [`CatalogSnapshot`] (pure: no I/O).

use super::definitions::{Kind, SystemTable, CATALOG_NAME, DRUID_SCHEMA, SCHEMA_NAMES};
use super::snapshot::CatalogSnapshot;
use crate::lookups::{lookup_table_signature, LOOKUP_SCHEMA};
use crate::tables::datasource_schema;
use arrow::array::{ArrayRef, Int64Builder, StringBuilder};
use arrow::datatypes::{Field, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::metadata::{overshadowed, SegmentId, SegmentRecord, TaskRecord};
use msq_engine::signature::{ColumnType, TIME_COLUMN};
use msq_engine::{MsqError, Result};
use std::collections::HashSet;
use std::sync::Arc;

/// One value of a row: a string or a long, either of them null.
#[derive(Debug, Clone, PartialEq)]
enum Cell {
    S(Option<String>),
    L(Option<i64>),
}

fn s(v: impl Into<String>) -> Cell {
    Cell::S(Some(v.into()))
}

fn l(v: i64) -> Cell {
    Cell::L(Some(v))
}

const NO_S: Cell = Cell::S(None);
const NO_L: Cell = Cell::L(None);

/// The rows of `table` in `snapshot`, as one batch with the table's schema.
pub fn table_batch(table: SystemTable, snapshot: &CatalogSnapshot) -> Result<RecordBatch> {
    let rows = match table {
        SystemTable::Schemata => schemata(),
        SystemTable::Tables => tables(snapshot),
        SystemTable::Columns => columns(snapshot),
        SystemTable::Segments => segments(snapshot),
        SystemTable::ServerSegments => server_segments(snapshot),
        SystemTable::Servers => servers(snapshot),
        SystemTable::Tasks => snapshot.tasks.iter().map(task_row).collect(),
        SystemTable::Supervisors => Vec::new(),
    };
    to_batch(table, rows)
}

fn to_batch(table: SystemTable, rows: Vec<Vec<Cell>>) -> Result<RecordBatch> {
    let columns = table.columns();
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, (name, kind)) in columns.iter().enumerate() {
        let mismatch = || {
            MsqError::Unknown(format!(
                "system table {} column {name}: wrong value",
                table.qualified_name()
            ))
        };
        match kind {
            Kind::Str => {
                let mut b = StringBuilder::new();
                for r in &rows {
                    match r.get(i) {
                        Some(Cell::S(v)) => b.append_option(v.as_deref()),
                        _ => return Err(mismatch()),
                    }
                }
                arrays.push(Arc::new(b.finish()));
            }
            Kind::Long => {
                let mut b = Int64Builder::new();
                for r in &rows {
                    match r.get(i) {
                        Some(Cell::L(v)) => b.append_option(*v),
                        _ => return Err(mismatch()),
                    }
                }
                arrays.push(Arc::new(b.finish()));
            }
        }
    }
    Ok(RecordBatch::try_new(table.arrow_schema(), arrays)?)
}

fn schemata() -> Vec<Vec<Cell>> {
    SCHEMA_NAMES
        .iter()
        .map(|name| vec![s(CATALOG_NAME), s(*name), NO_S, NO_S, NO_S, NO_S, NO_S])
        .collect()
}

/// Every datasource (`TABLE`), every lookup (`TABLE`, joinable and broadcast, as Druid's),
/// then every system table (`SYSTEM_TABLE`).
fn tables(snapshot: &CatalogSnapshot) -> Vec<Vec<Cell>> {
    let row =
        |schema: &str, name: &str, kind: &str| vec![s(CATALOG_NAME), s(schema), s(name), s(kind), s("NO"), s("NO")];
    let mut rows: Vec<Vec<Cell>> = snapshot
        .datasources
        .keys()
        .map(|ds| row(DRUID_SCHEMA, ds, "TABLE"))
        .collect();
    rows.extend(snapshot.lookups.iter().map(|name| {
        vec![
            s(CATALOG_NAME),
            s(LOOKUP_SCHEMA),
            s(name),
            s("TABLE"),
            s("YES"),
            s("YES"),
        ]
    }));
    rows.extend(
        SystemTable::ALL
            .iter()
            .map(|t| row(t.schema(), t.name(), "SYSTEM_TABLE")),
    );
    rows
}

/// Every column of every datasource (as the planner sees it), then of every system table.
fn columns(snapshot: &CatalogSnapshot) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    let mut add = |schema: &str, table: &str, columns: SchemaRef| {
        for (i, f) in columns.fields().iter().enumerate() {
            rows.push(column_row(schema, table, i, f));
        }
    };
    for (ds, segments) in &snapshot.datasources {
        add(DRUID_SCHEMA, ds, datasource_schema(segments));
    }
    for name in &snapshot.lookups {
        add(LOOKUP_SCHEMA, name, lookup_table_signature().to_arrow_schema());
    }
    for t in SystemTable::ALL {
        add(t.schema(), t.name(), t.arrow_schema());
    }
    rows
}

/// The SQL type facts `INFORMATION_SCHEMA.COLUMNS` shows for a column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlTypeFacts {
    /// `DATA_TYPE` (`VARCHAR`, `BIGINT`, `TIMESTAMP`, ...; Druid's complex types are `OTHER`).
    pub data_type: String,
    /// `java.sql.Types` code (`JDBC_TYPE`).
    pub jdbc_type: i64,
    /// Numeric types: precision and scale (none for approximate types).
    pub numeric: Option<(i64, Option<i64>)>,
    /// Date and time types: fractional-second digits.
    pub datetime_precision: Option<i64>,
    /// Character types: Druid's character set and collation.
    pub character: bool,
}

impl SqlTypeFacts {
    /// The facts of the SQL type name Druid reports for an Arrow type
    /// ([`ColumnType::sql_type_name`]).
    pub fn of(dt: &arrow::datatypes::DataType) -> SqlTypeFacts {
        let name = ColumnType::sql_type_name(dt);
        let (data_type, jdbc_type) = match name {
            "VARCHAR" => ("VARCHAR", 12),
            "BIGINT" => ("BIGINT", -5),
            "INTEGER" => ("INTEGER", 4),
            "FLOAT" => ("FLOAT", 6),
            "DOUBLE" => ("DOUBLE", 8),
            "DECIMAL" => ("DECIMAL", 3),
            "BOOLEAN" => ("BOOLEAN", 16),
            "TIMESTAMP" => ("TIMESTAMP", 93),
            "DATE" => ("DATE", 91),
            "ARRAY" => ("ARRAY", 2003),
            _ => ("OTHER", 1111),
        };
        let numeric = match data_type {
            "BIGINT" | "DECIMAL" => Some((19, Some(0))),
            "INTEGER" => Some((10, Some(0))),
            "FLOAT" | "DOUBLE" => Some((15, None)),
            _ => None,
        };
        let datetime_precision = match data_type {
            "TIMESTAMP" => Some(3),
            "DATE" => Some(0),
            _ => None,
        };
        SqlTypeFacts {
            data_type: data_type.to_string(),
            jdbc_type,
            numeric,
            datetime_precision,
            character: data_type == "VARCHAR",
        }
    }
}

/// Druid's character set and collation of `VARCHAR` columns.
const CHARSET: &str = "UTF-16LE";
const COLLATION: &str = "UTF-16LE$en_US$primary";

fn column_row(schema: &str, table: &str, index: usize, f: &Field) -> Vec<Cell> {
    let mut t = SqlTypeFacts::of(f.data_type());
    if msq_engine::signature::is_json_field(f) {
        t.data_type = "COMPLEX<json>".into(); // Druid's DATA_TYPE of a nested column
    }
    let (precision, radix, scale) = match t.numeric {
        Some((p, scale)) => (Cell::L(Some(p)), l(10), Cell::L(scale)),
        None => (NO_L, NO_L, NO_L),
    };
    let text = |v: &str| if t.character { s(v) } else { NO_S };
    vec![
        s(CATALOG_NAME),
        s(schema),
        s(table),
        s(f.name().as_str()),
        l(index as i64 + 1),
        s(""),
        s(if f.is_nullable() { "YES" } else { "NO" }),
        s(t.data_type.as_str()),
        NO_L,
        NO_L,
        precision,
        radix,
        scale,
        Cell::L(t.datetime_precision),
        text(CHARSET),
        text(COLLATION),
        l(t.jdbc_type),
    ]
}

/// Druid's text of an interval's start and end.
fn bounds(s: &SegmentRecord) -> (String, String) {
    let iso = s.id.interval.to_iso();
    match iso.split_once('/') {
        Some((a, b)) => (a.to_string(), b.to_string()),
        None => (iso.clone(), iso),
    }
}

/// Every used segment, as the coordinator's metadata view shows them: published, served
/// (from deep storage, once), never realtime; overshadowed when other used segments cover
/// all of it ([`overshadowed`]).
fn segments(snapshot: &CatalogSnapshot) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for used in snapshot.datasources.values() {
        let shadowed: HashSet<SegmentId> = overshadowed(used, &[]).into_iter().collect();
        for seg in used {
            rows.push(segment_row(seg, shadowed.contains(&seg.id)));
        }
    }
    rows
}

fn segment_row(seg: &SegmentRecord, is_overshadowed: bool) -> Vec<Cell> {
    let (start, end) = bounds(seg);
    let dimensions: Vec<&str> = seg
        .signature
        .0
        .iter()
        .map(|c| c.name.as_str())
        .filter(|n| *n != TIME_COLUMN)
        .collect();
    let shard_spec = match &seg.shard_spec {
        serde_json::Value::Null => NO_S,
        v => s(v.to_string()),
    };
    vec![
        s(seg.id.to_string()),
        s(seg.id.data_source.as_str()),
        s(start),
        s(end),
        l(seg.size_bytes as i64),
        s(seg.id.version.as_str()),
        l(seg.id.partition_num as i64),
        l(1),
        l(seg.num_rows as i64),
        l(i64::from(!is_overshadowed)),
        l(1),
        l(1),
        l(0),
        l(i64::from(is_overshadowed)),
        shard_spec,
        s(serde_json::json!(dimensions).to_string()),
        s("[]"),
        NO_S,
        NO_S,
        l(1),
    ]
}

/// Each used segment on this node, the one server that serves them.
fn server_segments(snapshot: &CatalogSnapshot) -> Vec<Vec<Cell>> {
    let server = &snapshot.server.server;
    snapshot
        .datasources
        .values()
        .flatten()
        .map(|seg| vec![s(server.as_str()), s(seg.id.to_string())])
        .collect()
}

fn servers(snapshot: &CatalogSnapshot) -> Vec<Vec<Cell>> {
    let n = &snapshot.server;
    vec![vec![
        s(n.server.as_str()),
        s(n.host.as_str()),
        l(n.plaintext_port),
        l(n.tls_port),
        s(n.server_type.as_str()),
        NO_S,
        l(0),
        l(0),
        NO_L,
        s(n.start_time.as_str()),
        s(n.version.as_str()),
        NO_S,
    ]]
}

/// A task's row; `location` is `host:port` (the TLS port when there is one).
fn task_row(t: &TaskRecord) -> Vec<Cell> {
    let host = t.location.get("host").and_then(|v| v.as_str());
    let port = t.location.get("port").and_then(|v| v.as_i64()).unwrap_or(-1);
    let tls_port = t.location.get("tlsPort").and_then(|v| v.as_i64()).unwrap_or(-1);
    let location = host.map(|h| format!("{h}:{}", if tls_port >= 0 { tls_port } else { port }));
    vec![
        s(t.id.as_str()),
        s(t.group_id.as_str()),
        s(t.task_type.as_str()),
        s(t.data_source.as_str()),
        s(t.created_time.as_str()),
        s(t.queue_insertion_time.as_str()),
        s(t.status.as_str()),
        s(t.runner_status.as_str()),
        l(t.duration_ms),
        Cell::S(location),
        Cell::S(host.map(str::to_string)),
        l(port),
        l(tls_port),
        Cell::S(t.error_msg.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::snapshot::ServerInfo;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::{DataType, Int64Type};
    use msq_engine::granularity::Interval;
    use msq_engine::signature::{ColumnSignature, Signature};
    use std::collections::BTreeMap;

    fn seg(ds: &str, interval: Interval, version: &str, rows: u64) -> SegmentRecord {
        let col = |name: &str, column_type: ColumnType| ColumnSignature {
            name: name.into(),
            column_type,
        };
        SegmentRecord {
            id: SegmentId::new(ds, interval, version, 0),
            used: true,
            is_tombstone: false,
            num_rows: rows,
            size_bytes: 100 * rows,
            path: String::new(),
            signature: Signature(vec![
                col(TIME_COLUMN, ColumnType::Long),
                col("channel", ColumnType::String),
                col("added", ColumnType::Long),
                col("ratio", ColumnType::Double),
            ]),
            min_time: None,
            max_time: None,
            created_date: String::new(),
            used_status_last_updated: String::new(),
            shard_spec: serde_json::json!({"type": "numbered", "partitionNum": 0, "partitions": 1}),
        }
    }

    fn snapshot() -> CatalogSnapshot {
        let hour = 3_600_000;
        let mut datasources = BTreeMap::new();
        datasources.insert(
            "w".to_string(),
            vec![
                seg("w", Interval::new(0, hour), "v1", 5),
                seg("w", Interval::new(0, 2 * hour), "v2", 7),
                seg("w", Interval::new(2 * hour, 3 * hour), "v1", 3),
            ],
        );
        datasources.insert("a".to_string(), vec![]);
        CatalogSnapshot {
            datasources,
            lookups: vec![],
            tasks: vec![],
            server: ServerInfo::broker("127.0.0.1:8082", "2024-01-01T00:00:00.000Z", "1.0"),
        }
    }

    fn strings(b: &RecordBatch, col: &str) -> Vec<Option<String>> {
        let a = b.column_by_name(col).unwrap().as_string::<i32>();
        (0..a.len())
            .map(|i| a.is_valid(i).then(|| a.value(i).to_string()))
            .collect()
    }

    fn longs(b: &RecordBatch, col: &str) -> Vec<Option<i64>> {
        let a = b.column_by_name(col).unwrap().as_primitive::<Int64Type>();
        (0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i))).collect()
    }

    #[test]
    fn segments_are_overshadowed_by_higher_versions_covering_them() {
        let b = table_batch(SystemTable::Segments, &snapshot()).unwrap();
        assert_eq!(b.num_rows(), 3);
        assert_eq!(longs(&b, "num_rows"), [Some(5), Some(7), Some(3)]);
        assert_eq!(longs(&b, "is_overshadowed"), [Some(1), Some(0), Some(0)]);
        assert_eq!(longs(&b, "is_active"), [Some(0), Some(1), Some(1)]);
        assert_eq!(longs(&b, "is_published"), [Some(1); 3]);
        assert_eq!(longs(&b, "is_realtime"), [Some(0); 3]);
        let start = strings(&b, "start");
        assert_eq!(start[0].as_deref(), Some("1970-01-01T00:00:00.000Z"));
        assert_eq!(strings(&b, "end")[1].as_deref(), Some("1970-01-01T02:00:00.000Z"));
        assert_eq!(
            strings(&b, "segment_id")[0].as_deref(),
            Some("w_1970-01-01T00:00:00.000Z_1970-01-01T01:00:00.000Z_v1")
        );
        assert_eq!(
            strings(&b, "dimensions")[0].as_deref(),
            Some(r#"["channel","added","ratio"]"#)
        );
        assert_eq!(
            strings(&b, "shard_spec")[0].as_deref(),
            Some(r#"{"type":"numbered","partitionNum":0,"partitions":1}"#)
        );
        assert_eq!(strings(&b, "last_compaction_state"), [None, None, None]);
    }

    #[test]
    fn tables_and_columns_list_datasources_then_system_tables() {
        let snap = snapshot();
        let t = table_batch(SystemTable::Tables, &snap).unwrap();
        let names = strings(&t, "TABLE_NAME");
        assert_eq!(names.len(), 2 + SystemTable::ALL.len());
        assert_eq!((names[0].as_deref(), names[1].as_deref()), (Some("a"), Some("w")));
        assert_eq!(strings(&t, "TABLE_TYPE")[2].as_deref(), Some("SYSTEM_TABLE"));
        assert_eq!(strings(&t, "TABLE_SCHEMA")[2].as_deref(), Some("INFORMATION_SCHEMA"));

        let c = table_batch(SystemTable::Columns, &snap).unwrap();
        let of_w: Vec<usize> = (0..c.num_rows())
            .filter(|i| strings(&c, "TABLE_NAME")[*i].as_deref() == Some("w"))
            .collect();
        let pick = |col: &str| -> Vec<String> {
            of_w.iter()
                .map(|i| strings(&c, col)[*i].clone().unwrap_or_default())
                .collect()
        };
        assert_eq!(pick("COLUMN_NAME"), ["__time", "channel", "added", "ratio"]);
        assert_eq!(pick("DATA_TYPE"), ["TIMESTAMP", "VARCHAR", "BIGINT", "DOUBLE"]);
        assert_eq!(pick("IS_NULLABLE"), ["NO", "YES", "YES", "YES"]);
        let jdbc: Vec<Option<i64>> = of_w.iter().map(|i| longs(&c, "JDBC_TYPE")[*i]).collect();
        assert_eq!(jdbc, [Some(93), Some(12), Some(-5), Some(8)]);
        // The datasource without segments has only __time; every system column is listed.
        let total: usize = SystemTable::ALL.iter().map(|t| t.columns().len()).sum();
        assert_eq!(c.num_rows(), 4 + 1 + total);
    }

    #[test]
    fn sql_type_facts() {
        let f = SqlTypeFacts::of(&DataType::Int64);
        assert_eq!(
            (f.data_type.as_str(), f.jdbc_type, f.numeric),
            ("BIGINT", -5, Some((19, Some(0))))
        );
        let f = SqlTypeFacts::of(&DataType::Utf8);
        assert_eq!((f.data_type.as_str(), f.jdbc_type, f.character), ("VARCHAR", 12, true));
        assert_eq!(SqlTypeFacts::of(&DataType::Float32).data_type, "FLOAT");
    }

    #[test]
    fn tasks_servers_and_schemata() {
        let mut snap = snapshot();
        snap.tasks.push(TaskRecord {
            id: "query-1".into(),
            group_id: "query-1".into(),
            task_type: "query_controller".into(),
            data_source: "w".into(),
            created_time: "2024-01-01T00:00:00.000Z".into(),
            queue_insertion_time: "2024-01-01T00:00:00.000Z".into(),
            status: "SUCCESS".into(),
            runner_status: "NONE".into(),
            duration_ms: 42,
            error_msg: None,
            location: serde_json::json!({"host": "127.0.0.1", "port": 8082, "tlsPort": -1}),
            payload: serde_json::Value::Null,
            report: None,
            opaque_id: None,
        });
        let t = table_batch(SystemTable::Tasks, &snap).unwrap();
        assert_eq!(strings(&t, "location"), [Some("127.0.0.1:8082".into())]);
        assert_eq!(longs(&t, "duration"), [Some(42)]);
        assert_eq!(longs(&t, "plaintext_port"), [Some(8082)]);
        let s = table_batch(SystemTable::Servers, &snap).unwrap();
        assert_eq!(strings(&s, "server"), [Some("127.0.0.1:8082".into())]);
        assert_eq!(strings(&s, "server_type"), [Some("BROKER".into())]);
        let ss = table_batch(SystemTable::ServerSegments, &snap).unwrap();
        assert_eq!(ss.num_rows(), 3);
        let sc = table_batch(SystemTable::Schemata, &snap).unwrap();
        let names: Vec<String> = strings(&sc, "SCHEMA_NAME").into_iter().flatten().collect();
        assert_eq!(names, ["druid", "INFORMATION_SCHEMA", "lookup", "sys", "view"]);
        assert_eq!(table_batch(SystemTable::Supervisors, &snap).unwrap().num_rows(), 0);
    }
}
