//! The schemas Druid's SQL shows and the system tables in them, with their columns in
//! Druid's order and types (`docs/querying/sql-metadata-tables.md`), and how a table
//! reference resolves against them: case-sensitively, as Calcite resolves names in Druid,
//! with Calcite's "did you mean" message for a name that differs only in case.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::TableReference;
use msq_engine::{MsqError, Result};
use std::sync::Arc;

/// The catalog name Druid reports for every schema and table.
pub const CATALOG_NAME: &str = "druid";
/// The schema of datasources (the default schema).
pub const DRUID_SCHEMA: &str = "druid";
/// The schema of the catalogue tables.
pub const INFORMATION_SCHEMA: &str = "INFORMATION_SCHEMA";
/// The schema of Druid's own state (segments, servers, tasks).
pub const SYS_SCHEMA: &str = "sys";
/// Every schema, in the order `INFORMATION_SCHEMA.SCHEMATA` lists them (`lookup` and `view`
/// exist and hold nothing here).
pub const SCHEMA_NAMES: [&str; 5] = [DRUID_SCHEMA, INFORMATION_SCHEMA, "lookup", SYS_SCHEMA, "view"];

/// A system table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SystemTable {
    Columns,
    Schemata,
    Tables,
    Segments,
    ServerSegments,
    Servers,
    Supervisors,
    Tasks,
}

/// A column's type in a system table (Druid's `STRING` and `LONG`; every column nullable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Str,
    Long,
}

use Kind::{Long, Str};

const SCHEMATA: &[(&str, Kind)] = &[
    ("CATALOG_NAME", Str),
    ("SCHEMA_NAME", Str),
    ("SCHEMA_OWNER", Str),
    ("DEFAULT_CHARACTER_SET_CATALOG", Str),
    ("DEFAULT_CHARACTER_SET_SCHEMA", Str),
    ("DEFAULT_CHARACTER_SET_NAME", Str),
    ("SQL_PATH", Str),
];

const TABLES: &[(&str, Kind)] = &[
    ("TABLE_CATALOG", Str),
    ("TABLE_SCHEMA", Str),
    ("TABLE_NAME", Str),
    ("TABLE_TYPE", Str),
    ("IS_JOINABLE", Str),
    ("IS_BROADCAST", Str),
];

const COLUMNS: &[(&str, Kind)] = &[
    ("TABLE_CATALOG", Str),
    ("TABLE_SCHEMA", Str),
    ("TABLE_NAME", Str),
    ("COLUMN_NAME", Str),
    ("ORDINAL_POSITION", Long),
    ("COLUMN_DEFAULT", Str),
    ("IS_NULLABLE", Str),
    ("DATA_TYPE", Str),
    ("CHARACTER_MAXIMUM_LENGTH", Long),
    ("CHARACTER_OCTET_LENGTH", Long),
    ("NUMERIC_PRECISION", Long),
    ("NUMERIC_PRECISION_RADIX", Long),
    ("NUMERIC_SCALE", Long),
    ("DATETIME_PRECISION", Long),
    ("CHARACTER_SET_NAME", Str),
    ("COLLATION_NAME", Str),
    ("JDBC_TYPE", Long),
];

const SEGMENTS: &[(&str, Kind)] = &[
    ("segment_id", Str),
    ("datasource", Str),
    ("start", Str),
    ("end", Str),
    ("size", Long),
    ("version", Str),
    ("partition_num", Long),
    ("num_replicas", Long),
    ("num_rows", Long),
    ("is_active", Long),
    ("is_published", Long),
    ("is_available", Long),
    ("is_realtime", Long),
    ("is_overshadowed", Long),
    ("shard_spec", Str),
    ("dimensions", Str),
    ("metrics", Str),
    ("projections", Str),
    ("last_compaction_state", Str),
    ("replication_factor", Long),
];

const SERVERS: &[(&str, Kind)] = &[
    ("server", Str),
    ("host", Str),
    ("plaintext_port", Long),
    ("tls_port", Long),
    ("server_type", Str),
    ("tier", Str),
    ("curr_size", Long),
    ("max_size", Long),
    ("is_leader", Long),
    ("start_time", Str),
    ("version", Str),
    ("labels", Str),
];

const SERVER_SEGMENTS: &[(&str, Kind)] = &[("server", Str), ("segment_id", Str)];

const TASKS: &[(&str, Kind)] = &[
    ("task_id", Str),
    ("group_id", Str),
    ("type", Str),
    ("datasource", Str),
    ("created_time", Str),
    ("queue_insertion_time", Str),
    ("status", Str),
    ("runner_status", Str),
    ("duration", Long),
    ("location", Str),
    ("host", Str),
    ("plaintext_port", Long),
    ("tls_port", Long),
    ("error_msg", Str),
];

const SUPERVISORS: &[(&str, Kind)] = &[
    ("supervisor_id", Str),
    ("datasource", Str),
    ("state", Str),
    ("detailed_state", Str),
    ("healthy", Long),
    ("type", Str),
    ("source", Str),
    ("suspended", Long),
    ("spec", Str),
];

impl SystemTable {
    /// Every system table, in the order `INFORMATION_SCHEMA.TABLES` lists them.
    pub const ALL: [SystemTable; 8] = [
        SystemTable::Columns,
        SystemTable::Schemata,
        SystemTable::Tables,
        SystemTable::Segments,
        SystemTable::ServerSegments,
        SystemTable::Servers,
        SystemTable::Supervisors,
        SystemTable::Tasks,
    ];

    /// The schema the table is in.
    pub fn schema(self) -> &'static str {
        match self {
            SystemTable::Columns | SystemTable::Schemata | SystemTable::Tables => INFORMATION_SCHEMA,
            _ => SYS_SCHEMA,
        }
    }

    /// The table's name in its schema.
    pub fn name(self) -> &'static str {
        match self {
            SystemTable::Columns => "COLUMNS",
            SystemTable::Schemata => "SCHEMATA",
            SystemTable::Tables => "TABLES",
            SystemTable::Segments => "segments",
            SystemTable::ServerSegments => "server_segments",
            SystemTable::Servers => "servers",
            SystemTable::Supervisors => "supervisors",
            SystemTable::Tasks => "tasks",
        }
    }

    /// `schema.name`, as Druid names the table in messages.
    pub fn qualified_name(self) -> String {
        format!("{}.{}", self.schema(), self.name())
    }

    /// The columns: name and kind, in Druid's order.
    pub fn columns(self) -> &'static [(&'static str, Kind)] {
        match self {
            SystemTable::Columns => COLUMNS,
            SystemTable::Schemata => SCHEMATA,
            SystemTable::Tables => TABLES,
            SystemTable::Segments => SEGMENTS,
            SystemTable::ServerSegments => SERVER_SEGMENTS,
            SystemTable::Servers => SERVERS,
            SystemTable::Supervisors => SUPERVISORS,
            SystemTable::Tasks => TASKS,
        }
    }

    /// The table's Arrow schema (`VARCHAR` as Utf8, `BIGINT` as Int64, all nullable).
    pub fn arrow_schema(self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns()
            .iter()
            .map(|(name, kind)| {
                let dt = match kind {
                    Str => DataType::Utf8,
                    Long => DataType::Int64,
                };
                Field::new(*name, dt, true)
            })
            .collect();
        Arc::new(Schema::new(fields))
    }
}

/// Resolves `schema.table` (no catalog): `Ok(Some)` for a system table, `Ok(None)` for a
/// name outside the system schemas (a datasource, or a name the planner reports as not
/// found), and Calcite's message for a system schema or table named in the wrong case, a
/// table a system schema does not have, or anything in the empty `lookup` and `view`
/// schemas.
pub fn resolve(schema: Option<&str>, table: &str) -> std::result::Result<Option<SystemTable>, String> {
    let Some(schema) = schema else {
        return Ok(None);
    };
    // Datasources and lookup tables (`lookup.<name>`) are the planner's.
    if schema == DRUID_SCHEMA || schema == "lookup" {
        return Ok(None);
    }
    if !SCHEMA_NAMES.contains(&schema) {
        return match SCHEMA_NAMES.iter().find(|s| s.eq_ignore_ascii_case(schema)) {
            Some(s) => Err(format!("Object '{schema}' not found; did you mean '{s}'?")),
            None => Ok(None),
        };
    }
    let in_schema = || SystemTable::ALL.into_iter().filter(move |t| t.schema() == schema);
    if let Some(t) = in_schema().find(|t| t.name() == table) {
        return Ok(Some(t));
    }
    match in_schema().find(|t| t.name().eq_ignore_ascii_case(table)) {
        Some(t) => Err(format!(
            "Object '{table}' not found within '{schema}'; did you mean '{}'?",
            t.name()
        )),
        None => Err(format!("Object '{table}' not found within '{schema}'")),
    }
}

/// What a statement's table references name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct References {
    /// The system tables, each once.
    pub system: Vec<SystemTable>,
    /// Everything else (datasources, or names the planner will not find), as written.
    pub other: Vec<String>,
}

/// Sorts `refs` into system tables and other names; a system schema or table named in the
/// wrong case (or missing from its schema) is Calcite's `Object ... not found` error.
pub fn references(refs: &[TableReference]) -> Result<References> {
    let mut out = References::default();
    for r in refs {
        let system = match r.catalog() {
            Some(_) => None,
            None => resolve(r.schema(), r.table()).map_err(MsqError::Validation)?,
        };
        match system {
            Some(t) if !out.system.contains(&t) => out.system.push(t),
            Some(_) => {}
            None => out.other.push(r.to_string()),
        }
    }
    Ok(out)
}

/// Druid's refusal of system tables by an engine that cannot read them (the task engine is
/// `msq-task`).
pub fn engine_refusal(tables: &[SystemTable], engine: &str) -> String {
    let names: Vec<String> = tables.iter().map(|t| t.qualified_name()).collect();
    format!(
        "Cannot query table(s) [{}] with SQL engine [{engine}]",
        names.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_in_their_exact_case() {
        assert_eq!(
            resolve(Some("INFORMATION_SCHEMA"), "TABLES"),
            Ok(Some(SystemTable::Tables))
        );
        assert_eq!(resolve(Some("sys"), "segments"), Ok(Some(SystemTable::Segments)));
        assert_eq!(resolve(None, "segments"), Ok(None));
        assert_eq!(resolve(Some("druid"), "wikipedia"), Ok(None));
        assert_eq!(resolve(Some("other"), "x"), Ok(None));
        assert_eq!(
            resolve(Some("information_schema"), "tables"),
            Err("Object 'information_schema' not found; did you mean 'INFORMATION_SCHEMA'?".into())
        );
        assert_eq!(
            resolve(Some("INFORMATION_SCHEMA"), "tables"),
            Err("Object 'tables' not found within 'INFORMATION_SCHEMA'; did you mean 'TABLES'?".into())
        );
        assert_eq!(
            resolve(Some("sys"), "nothing"),
            Err("Object 'nothing' not found within 'sys'".into())
        );
        assert_eq!(resolve(Some("lookup"), "x"), Ok(None));
    }

    #[test]
    fn every_table_has_druids_columns() {
        assert_eq!(SystemTable::Segments.arrow_schema().fields().len(), 20);
        assert_eq!(SystemTable::Tasks.arrow_schema().field(8).name(), "duration");
        assert_eq!(SystemTable::Tasks.arrow_schema().field(8).data_type(), &DataType::Int64);
        assert_eq!(SystemTable::Columns.columns()[16].0, "JDBC_TYPE");
        assert_eq!(
            engine_refusal(&[SystemTable::Tables, SystemTable::Segments], "msq-task"),
            "Cannot query table(s) [INFORMATION_SCHEMA.TABLES, sys.segments] with SQL engine [msq-task]"
        );
    }
}
