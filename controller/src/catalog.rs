//! System-table queries of interactive SQL (`POST /druid/v2/sql`): a SELECT reading
//! `INFORMATION_SCHEMA` or `sys` tables is answered here, in-process, from a snapshot of the
//! metadata store taken when it is planned ([`msq_sql::system`]), as Druid's Broker answers
//! them; the stage engine never sees it.

use crate::overlord::Overlord;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use msq_engine::context::QueryContext;
use msq_engine::Result;
use msq_sql::statement::parse_request;
use msq_sql::system::{CatalogSnapshot, ServerInfo, SystemQuery};
use serde_json::{Map, Value};
use std::sync::LazyLock;

/// The version `sys.servers` reports.
const VERSION: &str = env!("CARGO_PKG_VERSION");

static STARTED: LazyLock<String> = LazyLock::new(msq_engine::metadata::store::now_iso);

/// When this node started serving (fixed at the first call: the server makes it when it
/// builds its routes).
pub fn node_started() -> &'static str {
    STARTED.as_str()
}

/// The answer of a system-table query.
pub struct SystemAnswer {
    /// The context's `sqlQueryId` (or a `SET` of it), else a new one.
    pub query_id: String,
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
}

/// Answers `sql` (after any `SET` statements) when it is a SELECT of system tables; `None`
/// for every other statement, `EXPLAIN` included.
pub async fn system_query(
    overlord: &Overlord,
    sql: &str,
    context: &Map<String, Value>,
) -> Result<Option<SystemAnswer>> {
    if !may_name_system_tables(sql) {
        return Ok(None);
    }
    let request = parse_request(sql)?;
    if request.explain {
        return Ok(None);
    }
    let ctx = QueryContext::parse(&request.merged_context(context))?;
    let Some(query) = SystemQuery::parse(&request.statement, &ctx).await? else {
        return Ok(None);
    };
    let query_id = ctx
        .sql_query_id
        .clone()
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let server = ServerInfo::broker(&overlord.host, node_started(), VERSION);
    let (metadata, tables) = (overlord.metadata.clone(), query.tables.clone());
    let snapshot = msq_engine::blocking(move || CatalogSnapshot::take(metadata.as_ref(), &tables, server)).await?;
    let (schema, batches) = query.run(snapshot).await?;
    Ok(Some(SystemAnswer {
        query_id,
        schema,
        batches,
    }))
}

/// Whether `sql` could name a system table (its schema's name appears in it, in any case):
/// other statements skip parsing here and go straight to the stage engine.
fn may_name_system_tables(sql: &str) -> bool {
    let lower = sql.to_ascii_lowercase();
    lower.contains("sys") || lower.contains("information_schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_statements_naming_a_system_schema_are_parsed_here() {
        assert!(may_name_system_tables("SELECT * FROM INFORMATION_SCHEMA.TABLES"));
        assert!(may_name_system_tables("select * from \"SYS\".segments"));
        assert!(!may_name_system_tables("SELECT COUNT(*) FROM wikipedia"));
    }
}
