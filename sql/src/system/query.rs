//! A SELECT that reads system tables, answered in-process by DataFusion over the tables of
//! one [`CatalogSnapshot`] (as Druid's Broker answers them itself, never through a task).

use super::definitions::{references, SystemTable};
use super::rows::table_batch;
use super::snapshot::CatalogSnapshot;
use crate::guard;
use crate::planner::{parse_query, planning_error, rewrite_options};
use crate::session::session_context;
use crate::statement::{parse_statement_in_zone, StatementKind};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::catalog::MemorySchemaProvider;
use datafusion::common::TableReference;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::sql::parser::Statement;
use msq_engine::context::QueryContext;
use msq_engine::{MsqError, Result};
use std::sync::Arc;

/// The table references of a parsed statement (common table expressions left out).
pub fn statement_references(parsed: &Statement) -> Result<Vec<TableReference>> {
    let (tables, _ctes) = datafusion::sql::resolve::resolve_table_references(parsed, false).map_err(planning_error)?;
    Ok(tables)
}

/// A SELECT of system tables, parsed and ready to run.
pub struct SystemQuery {
    parsed: Statement,
    context: QueryContext,
    /// The system tables it reads.
    pub tables: Vec<SystemTable>,
}

impl SystemQuery {
    /// The system-table query `sql` is, if it is one: `None` for anything but a SELECT
    /// reading system tables. A SELECT reading system tables and datasources together is
    /// refused (the system tables live on this node, datasources are read by the stage
    /// engine: query them separately).
    /// Parsing runs on the planner's thread, as planning does ([`crate::guard`]).
    pub async fn parse(sql: &str, context: &QueryContext) -> Result<Option<SystemQuery>> {
        let (sql, context) = (sql.to_string(), context.clone());
        guard::on_planner_stack(async move { Self::parse_here(&sql, &context) }).await
    }

    fn parse_here(sql: &str, context: &QueryContext) -> Result<Option<SystemQuery>> {
        let options = rewrite_options(context)?;
        let stmt = parse_statement_in_zone(sql, &options.zone)?;
        if stmt.kind != StatementKind::Select {
            return Ok(None);
        }
        let mut parsed = parse_query(&stmt.query_sql)?;
        let refs = references(&statement_references(&parsed)?)?;
        if refs.system.is_empty() {
            return Ok(None);
        }
        if !refs.other.is_empty() {
            let system: Vec<String> = refs.system.iter().map(|t| t.qualified_name()).collect();
            return Err(MsqError::QueryNotSupported(format!(
                "Cannot query system table(s) [{}] together with datasource(s) [{}]: system tables \
                 are answered by the Broker and datasources by the query engine; query them separately",
                system.join(", "),
                refs.other.join(", ")
            )));
        }
        crate::rewrite::rewrite_statement(&mut parsed, &options)?;
        Ok(Some(SystemQuery {
            parsed,
            context: context.clone(),
            tables: refs.system,
        }))
    }

    /// Runs the query over the tables of `snapshot` (on the planner's thread, whose stack
    /// takes deep statements): the output schema and rows.
    pub async fn run(self, snapshot: CatalogSnapshot) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        guard::on_planner_stack(async move { self.run_here(&snapshot).await }).await
    }

    async fn run_here(self, snapshot: &CatalogSnapshot) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let sc = session_context(&self.context);
        let state = sc.state();
        let catalog_name = state.config_options().catalog.default_catalog.clone();
        let catalog = sc
            .catalog(&catalog_name)
            .ok_or_else(|| MsqError::Unknown(format!("no catalog [{catalog_name}]")))?;
        for t in &self.tables {
            if catalog.schema(t.schema()).is_none() {
                catalog.register_schema(t.schema(), Arc::new(MemorySchemaProvider::new()))?;
            }
            let batch = table_batch(*t, snapshot)?;
            let table = MemTable::try_new(batch.schema(), vec![vec![batch]])?;
            sc.register_table(TableReference::partial(t.schema(), t.name()), Arc::new(table))?;
        }
        let state = sc.state();
        let logical = state.statement_to_plan(self.parsed).await.map_err(planning_error)?;
        let df = DataFrame::new(state, logical);
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = df.collect().await?;
        Ok((schema, batches))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::system::snapshot::ServerInfo;
    use msq_engine::metadata::{SegmentId, SegmentRecord};
    use std::collections::BTreeMap;

    fn context() -> QueryContext {
        QueryContext::parse(&serde_json::Map::new()).unwrap()
    }

    fn snapshot() -> CatalogSnapshot {
        let seg = |start: i64, rows: u64| SegmentRecord {
            id: SegmentId::new("w", msq_engine::granularity::Interval::new(start, start + 10), "v1", 0),
            used: true,
            is_tombstone: false,
            num_rows: rows,
            size_bytes: rows,
            path: String::new(),
            signature: Default::default(),
            min_time: None,
            max_time: None,
            created_date: String::new(),
            used_status_last_updated: String::new(),
            shard_spec: serde_json::Value::Null,
        };
        CatalogSnapshot {
            datasources: BTreeMap::from([("w".to_string(), vec![seg(0, 4), seg(10, 6)])]),
            lookups: vec![],
            tasks: vec![],
            server: ServerInfo::broker("localhost:8082", "", ""),
        }
    }

    #[tokio::test]
    async fn only_selects_of_system_tables_are_answered_here() {
        let ctx = context();
        let q = SystemQuery::parse("SELECT * FROM sys.segments s JOIN sys.servers v ON TRUE", &ctx)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(q.tables, [SystemTable::Segments, SystemTable::Servers]);
        for not_system in [
            "SELECT * FROM wikipedia",
            "SELECT 1",
            "WITH segments AS (SELECT 1 AS x) SELECT * FROM segments",
            "INSERT INTO w SELECT * FROM sys.segments PARTITIONED BY ALL",
        ] {
            assert!(
                SystemQuery::parse(not_system, &ctx).await.unwrap().is_none(),
                "{not_system}"
            );
        }
        let mixed = SystemQuery::parse("SELECT * FROM sys.segments, druid.w", &ctx).await;
        assert!(
            matches!(mixed, Err(MsqError::QueryNotSupported(m)) if m.contains("[sys.segments]") && m.contains("[druid.w]"))
        );
        let misspelt = SystemQuery::parse("SELECT * FROM Sys.segments", &ctx).await;
        assert!(matches!(misspelt, Err(MsqError::Validation(m)) if m == "Object 'Sys' not found; did you mean 'sys'?"));
    }

    #[tokio::test]
    async fn queries_run_over_the_snapshot() {
        let q = SystemQuery::parse(
            "SELECT datasource, COUNT(*) AS n, SUM(num_rows) AS r FROM sys.segments GROUP BY datasource",
            &context(),
        )
        .await
        .unwrap()
        .unwrap();
        let (schema, batches) = q.run(snapshot()).await.unwrap();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["datasource", "n", "r"]);
        let text = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string();
        assert!(text.contains("| w          | 2 | 10 |"), "{text}");
    }
}
