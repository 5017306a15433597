//! `EXPLAIN PLAN FOR`: Druid's one row of three VARCHAR columns for a planned statement.
//!
//! - `PLAN`: a JSON array of one `{query, signature, columnMappings}` object, as Druid's
//!   native explain has it; `query` is this engine's stage DAG (`queryType` `msq`, every stage
//!   definition as the task report shows it: inputs, processor, signature, shuffle spec).
//! - `RESOURCES`: `[{name, type}]` sorted by name: each datasource read or written
//!   (`DATASOURCE`) and `EXTERNAL` when the statement reads `EXTERN` input.
//! - `ATTRIBUTES`: `statementType`, and for INSERT / REPLACE `targetDataSource`,
//!   `partitionedBy` (a standard granularity's name, `{"type":"all"}` for ALL), `clusteredBy`
//!   (output column names, when given) and for REPLACE `replaceTimeChunks` (`all`, or the
//!   intervals joined by commas).

use crate::planner::PlannedStatement;
use crate::statement::Overwrite;
use arrow::array::{ArrayRef, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::context::QueryContext;
use msq_engine::granularity::Granularity;
use msq_engine::signature::Signature;
use serde_json::{json, Map, Value};
use std::sync::Arc;

/// Druid's column names of an `EXPLAIN PLAN FOR` answer, in order.
pub const COLUMNS: [&str; 3] = ["PLAN", "RESOURCES", "ATTRIBUTES"];

/// The one row of an `EXPLAIN PLAN FOR` answer: three JSON texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    pub plan: String,
    pub resources: String,
    pub attributes: String,
}

impl Explanation {
    /// The explanation of `planned`, planned with `context`.
    pub fn new(planned: &PlannedStatement, context: &QueryContext) -> Explanation {
        Explanation {
            plan: plan(planned, context).to_string(),
            resources: resources(planned).to_string(),
            attributes: attributes(planned).to_string(),
        }
    }

    /// The row's values in [`COLUMNS`] order.
    pub fn values(&self) -> [&str; 3] {
        [&self.plan, &self.resources, &self.attributes]
    }

    /// The answer as one batch of one row: three non-null VARCHAR columns named [`COLUMNS`].
    pub fn to_batch(&self) -> RecordBatch {
        let columns: Vec<ArrayRef> = self
            .values()
            .iter()
            .map(|v| Arc::new(StringArray::from(vec![*v])) as ArrayRef)
            .collect();
        RecordBatch::try_new(schema(), columns).expect("three strings match the explain schema")
    }
}

/// The schema of an `EXPLAIN PLAN FOR` answer.
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = COLUMNS.iter().map(|c| Field::new(*c, DataType::Utf8, false)).collect();
    Arc::new(Schema::new(fields))
}

/// `PLAN`: the stage DAG as the one query of Druid's explain array.
pub fn plan(planned: &PlannedStatement, context: &QueryContext) -> Value {
    let raw = Value::Object(context.raw.clone());
    let stages: Vec<Value> = planned.query.stages.iter().map(|s| s.to_report_json(&raw)).collect();
    let mappings: Vec<Value> = planned
        .output_schema
        .fields()
        .iter()
        .map(|f| json!({"queryColumn": f.name(), "outputColumn": f.name()}))
        .collect();
    json!([{
        "query": {
            "queryType": "msq",
            "queryId": planned.query.query_id,
            "stages": stages,
            "context": raw,
        },
        "signature": Signature::from_schema(&planned.output_schema),
        "columnMappings": mappings,
    }])
}

/// `RESOURCES`: what the statement reads and writes, sorted by name (as Druid, one entry per
/// read and one for the write, so a datasource both read and written shows twice).
pub fn resources(planned: &PlannedStatement) -> Value {
    let mut out: Vec<(String, &str)> = planned.read_tables.iter().map(|t| (t.clone(), "DATASOURCE")).collect();
    if !planned.statement.externs.is_empty() {
        out.push(("EXTERNAL".to_string(), "EXTERNAL"));
    }
    if let Some(target) = &planned.data_source {
        out.push((target.clone(), "DATASOURCE"));
    }
    out.sort();
    Value::Array(
        out.into_iter()
            .map(|(name, kind)| json!({"name": name, "type": kind}))
            .collect(),
    )
}

/// `ATTRIBUTES`: the statement's type and, for ingestion, where and how it writes.
pub fn attributes(planned: &PlannedStatement) -> Value {
    let mut m = Map::new();
    m.insert("statementType".into(), json!(planned.kind.name()));
    if let Some(target) = &planned.data_source {
        m.insert("targetDataSource".into(), json!(target));
    }
    if let Some(g) = planned.granularity {
        m.insert("partitionedBy".into(), granularity_json(g));
    }
    if !planned.cluster_by.is_empty() {
        m.insert("clusteredBy".into(), json!(planned.cluster_by));
    }
    match &planned.statement.overwrite {
        Some(Overwrite::All) => {
            m.insert("replaceTimeChunks".into(), json!("all"));
        }
        Some(Overwrite::Where(intervals)) => {
            let text: Vec<String> = intervals.iter().map(|i| i.to_iso()).collect();
            m.insert("replaceTimeChunks".into(), json!(text.join(",")));
        }
        None => {}
    }
    Value::Object(m)
}

/// A granularity as Druid writes one: a standard period granularity by name (`"DAY"`),
/// `ALL` as `{"type":"all"}`.
pub fn granularity_json(g: Granularity) -> Value {
    match g {
        Granularity::All => json!({"type": "all"}),
        g => json!(g.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::parse_statement;
    use arrow::datatypes::TimeUnit;
    use msq_engine::granularity::Interval;
    use msq_engine::stage::QueryDefinition;

    /// What the planner makes of `sql` for `EXPLAIN`'s purposes: kind, target, granularity,
    /// clustering (as the planner resolves it), the statement and the tables read.
    fn planned(sql: &str, cluster_by: &[&str], read_tables: &[&str]) -> PlannedStatement {
        let statement = parse_statement(sql).unwrap();
        let output_schema = Arc::new(Schema::new(vec![
            Field::new("__time", DataType::Timestamp(TimeUnit::Millisecond, None), false),
            Field::new("channel", DataType::Utf8, true),
            Field::new("added", DataType::Int64, true),
        ]));
        PlannedStatement {
            kind: statement.kind,
            query: QueryDefinition {
                query_id: "q1".into(),
                stages: vec![],
            },
            data_source: statement.target.clone(),
            granularity: statement.partitioned_by,
            replace: statement.overwrite.as_ref().map(|o| o.intervals()),
            output_schema,
            cluster_by: cluster_by.iter().map(|c| c.to_string()).collect(),
            read_tables: read_tables.iter().map(|c| c.to_string()).collect(),
            statement,
        }
    }

    const EXTERN: &str = r#"TABLE(EXTERN('{"type":"local","baseDir":"testdata","filter":"wikiticker-*.json.gz"}', '{"type":"json"}', '[{"name":"time","type":"string"},{"name":"channel","type":"string"},{"name":"added","type":"long"}]'))"#;

    #[test]
    fn insert_attributes_and_resources() {
        let sql = format!(
            "INSERT INTO wikipedia SELECT TIME_PARSE(\"time\") AS __time, channel, added FROM {EXTERN} PARTITIONED BY HOUR CLUSTERED BY channel"
        );
        let p = planned(&sql, &["channel"], &[]);
        let e = Explanation::new(&p, &QueryContext::default());
        assert_eq!(
            e.attributes,
            r#"{"statementType":"INSERT","targetDataSource":"wikipedia","partitionedBy":"HOUR","clusteredBy":["channel"]}"#
        );
        assert_eq!(
            e.resources,
            r#"[{"name":"EXTERNAL","type":"EXTERNAL"},{"name":"wikipedia","type":"DATASOURCE"}]"#
        );
        let plan: Value = serde_json::from_str(&e.plan).unwrap();
        assert_eq!(plan[0]["query"]["queryType"], "msq");
        assert_eq!(plan[0]["query"]["queryId"], "q1");
        assert_eq!(
            plan[0]["signature"],
            json!([{"name":"__time","type":"LONG"},{"name":"channel","type":"STRING"},{"name":"added","type":"LONG"}])
        );
        assert_eq!(
            plan[0]["columnMappings"][1],
            json!({"queryColumn":"channel","outputColumn":"channel"})
        );
        assert_eq!(
            e.values(),
            [e.plan.as_str(), e.resources.as_str(), e.attributes.as_str()]
        );
    }

    #[test]
    fn insert_without_clustering_reading_a_table() {
        let p = planned(
            "INSERT INTO wiki2 SELECT __time, channel, added FROM wikipedia PARTITIONED BY ALL TIME",
            &[],
            &["wikipedia"],
        );
        assert_eq!(
            attributes(&p).to_string(),
            r#"{"statementType":"INSERT","targetDataSource":"wiki2","partitionedBy":{"type":"all"}}"#
        );
        assert_eq!(
            resources(&p).to_string(),
            r#"[{"name":"wiki2","type":"DATASOURCE"},{"name":"wikipedia","type":"DATASOURCE"}]"#
        );
    }

    #[test]
    fn replace_time_chunks() {
        let all = planned(
            "REPLACE INTO wikipedia OVERWRITE ALL SELECT * FROM wikipedia PARTITIONED BY DAY CLUSTERED BY 2",
            &["channel"],
            &["wikipedia"],
        );
        assert_eq!(
            attributes(&all).to_string(),
            r#"{"statementType":"REPLACE","targetDataSource":"wikipedia","partitionedBy":"DAY","clusteredBy":["channel"],"replaceTimeChunks":"all"}"#
        );
        // Read and written: one entry each, as Druid lists them.
        assert_eq!(
            resources(&all).to_string(),
            r#"[{"name":"wikipedia","type":"DATASOURCE"},{"name":"wikipedia","type":"DATASOURCE"}]"#
        );
        let some = planned(
            "REPLACE INTO w OVERWRITE WHERE (__time >= TIMESTAMP '2015-09-12' AND __time < TIMESTAMP '2015-09-13') OR (__time >= TIMESTAMP '2015-09-14' AND __time < TIMESTAMP '2015-09-15') SELECT * FROM wikipedia PARTITIONED BY DAY",
            &[],
            &["wikipedia"],
        );
        assert_eq!(
            attributes(&some)["replaceTimeChunks"],
            "2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z,2015-09-14T00:00:00.000Z/2015-09-15T00:00:00.000Z"
        );
        assert_eq!(
            some.replace,
            Some(vec![
                Interval::parse("2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z").unwrap(),
                Interval::parse("2015-09-14T00:00:00.000Z/2015-09-15T00:00:00.000Z").unwrap(),
            ])
        );
    }

    #[test]
    fn select_has_only_its_type() {
        let p = planned(
            "SELECT channel, COUNT(*) FROM wikipedia GROUP BY channel",
            &[],
            &["wikipedia"],
        );
        assert_eq!(attributes(&p).to_string(), r#"{"statementType":"SELECT"}"#);
        assert_eq!(
            resources(&p).to_string(),
            r#"[{"name":"wikipedia","type":"DATASOURCE"}]"#
        );
        let batch = Explanation::new(&p, &QueryContext::default()).to_batch();
        assert_eq!(batch.num_rows(), 1);
        let names: Vec<String> = batch.schema().fields().iter().map(|f| f.name().clone()).collect();
        assert_eq!(names, COLUMNS);
    }

    #[test]
    fn granularities_as_druid_writes_them() {
        assert_eq!(granularity_json(Granularity::Day), json!("DAY"));
        assert_eq!(granularity_json(Granularity::FifteenMinute), json!("FIFTEEN_MINUTE"));
        assert_eq!(granularity_json(Granularity::All), json!({"type": "all"}));
    }
}
