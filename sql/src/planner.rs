//! Plans a Druid SQL statement into a stage DAG: parse (Druid clauses), plan and optimise
//! with DataFusion, validate ingestion rules, then cut the physical plan into stages.

use crate::functions::time::{parse_iso, Zone};
use crate::guard;
use crate::rewrite::RewriteOptions;
use crate::session::session_context;
use crate::stages::StageBuilder;
use crate::statement::{parse_statement_in_zone, ClusterKey, DruidStatement, Overwrite, StatementKind};
use crate::system::definitions::engine_refusal;
use crate::tables::{DatasourceTable, ExternTable};
use arrow::datatypes::{DataType, Schema, TimeUnit};
use datafusion::common::ScalarValue;
use datafusion::dataframe::DataFrame;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::{cast, col, lit, Expr};
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::DFParserBuilder;
use msq_engine::context::QueryContext;
use msq_engine::granularity::{Granularity, Interval};
use msq_engine::input::{InputFormat, InputSource};
use msq_engine::metadata::MetadataStore;
use msq_engine::signature::{time_data_type, TIME_COLUMN};
use msq_engine::sort::SortColumn;
use msq_engine::stage::{
    PartitionTarget, QueryDefinition, RangeShuffle, SegmentGeneratorSpec, ShuffleSpec, StageDefinition, StageInput,
    StageProcessor, TimeBucket, MAX_COLUMNS,
};
use msq_engine::{MsqError, Result};
use std::sync::Arc;

/// A statement planned into stages.
#[derive(Debug, Clone)]
pub struct PlannedStatement {
    pub kind: StatementKind,
    pub query: QueryDefinition,
    /// Target dataSource of INSERT/REPLACE.
    pub data_source: Option<String>,
    pub granularity: Option<Granularity>,
    /// REPLACE: the OVERWRITE intervals (ETERNITY for ALL).
    pub replace: Option<Vec<Interval>>,
    /// Output columns (SELECT results, or rows written).
    pub output_schema: Arc<Schema>,
    pub cluster_by: Vec<String>,
    /// The parsed statement (for `EXPLAIN`: its `OVERWRITE` and `EXTERN`s as written).
    pub statement: DruidStatement,
    /// The datasources the statement reads, sorted, each once.
    pub read_tables: Vec<String>,
}

fn parse_json_arg<T: serde::de::DeserializeOwned>(v: &serde_json::Value, what: &str) -> Result<T> {
    serde_json::from_value(v.clone()).map_err(|e| MsqError::Validation(format!("Invalid {what} in EXTERN: {e}")))
}

/// Plans `sql` with `context` for query `query_id`, reading table metadata from `metadata`.
///
/// Planning runs on a planner thread with a large stack ([`crate::guard`]): statements past
/// the depth limits are refused with `QueryNotSupported`, and a panic while planning comes
/// back as `UnknownError`.
pub async fn plan_statement(
    sql: &str,
    context: &QueryContext,
    query_id: &str,
    metadata: Arc<dyn MetadataStore>,
) -> Result<PlannedStatement> {
    let (sql, context, query_id) = (sql.to_string(), context.clone(), query_id.to_string());
    guard::on_planner_stack(async move { plan_on_this_thread(&sql, &context, &query_id, metadata).await }).await
}

/// The error for a DataFusion failure while planning: failures to read or allocate stay the
/// system's (`UnknownError`), DataFusion's internal errors mean the statement cannot be planned
/// (`QueryNotSupported`), and everything else (a constant that fails to cast or divides by
/// zero while being folded, ...) is the statement's (`InvalidInput`).
pub(crate) fn planning_error(e: DataFusionError) -> MsqError {
    use DataFusionError as D;
    let internal = matches!(e.find_root(), D::Internal(_));
    let system = matches!(
        e.find_root(),
        D::IoError(_) | D::ObjectStore(_) | D::ParquetError(_) | D::ResourcesExhausted(_) | D::ExecutionJoin(_)
    );
    match MsqError::from(e) {
        MsqError::SqlParse(m) if guard::is_recursion_limit(&m) => guard::too_deep_for_parser(),
        // DataFusion names an unsupported construct by dumping its syntax tree: say what it is.
        MsqError::QueryNotSupported(m) if m.contains("Unsupported ast node") => {
            let place = if m.contains("create_relation") {
                "FROM clause"
            } else {
                "expression"
            };
            MsqError::QueryNotSupported(format!("This {place} uses SQL that msq-rs does not support"))
        }
        MsqError::Unknown(m) if internal => {
            MsqError::QueryNotSupported(format!("msq-rs cannot plan this statement: {m}"))
        }
        MsqError::Unknown(m) if !system => MsqError::Validation(m),
        other => other,
    }
}

/// The widest SELECT list of a parsed statement (cheap: no planning), for Druid's
/// `TooManyColumns` limit before a huge projection is planned.
fn widest_select_list(stmt: &datafusion::sql::parser::Statement) -> usize {
    use datafusion::sql::sqlparser::ast::{Query, SetExpr, Visit, Visitor};
    use std::ops::ControlFlow;
    struct Widest(usize);
    impl Visitor for Widest {
        type Break = ();
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<()> {
            let mut todo: Vec<&SetExpr> = vec![q.body.as_ref()];
            while let Some(body) = todo.pop() {
                match body {
                    SetExpr::Select(s) => self.0 = self.0.max(s.projection.len()),
                    SetExpr::SetOperation { left, right, .. } => {
                        todo.push(left.as_ref());
                        todo.push(right.as_ref());
                    }
                    SetExpr::Values(v) => {
                        self.0 = self.0.max(v.rows.iter().map(|r| r.content.len()).max().unwrap_or(0))
                    }
                    _ => {}
                }
            }
            ControlFlow::Continue(())
        }
    }
    let datafusion::sql::parser::Statement::Statement(inner) = stmt else {
        return 0;
    };
    let mut v = Widest(0);
    let _ = inner.visit(&mut v);
    v.0
}

/// Fails with `TooManyColumns` past Druid's 2,000 columns.
fn check_columns(n: usize) -> Result<()> {
    if n > MAX_COLUMNS {
        return Err(MsqError::TooManyColumns {
            num_columns: n,
            max_columns: MAX_COLUMNS,
        });
    }
    Ok(())
}

async fn plan_on_this_thread(
    sql: &str,
    context: &QueryContext,
    query_id: &str,
    metadata: Arc<dyn MetadataStore>,
) -> Result<PlannedStatement> {
    let rewrite_options = rewrite_options(context)?;
    let stmt = parse_statement_in_zone(sql, &rewrite_options.zone)?;
    validate_statement(&stmt)?;
    let workers = context.worker_count();
    if workers > MAX_WORKERS {
        return Err(MsqError::TooManyWorkers {
            workers,
            max_workers: MAX_WORKERS,
        });
    }
    let sc = session_context(context);
    let scans = scan_partitions(workers);
    register_externs(&sc, &stmt, scans)?;

    let mut parsed = parse_query(&stmt.query_sql)?;
    check_columns(widest_select_list(&parsed))?;
    let select_list = crate::rewrite::output_expressions(&parsed);
    crate::rewrite::rewrite_statement(&mut parsed, &rewrite_options)?;
    let state = sc.state();
    let read_tables = register_datasources(&sc, &parsed, &stmt, metadata.clone(), scans).await?;
    let logical = state.statement_to_plan(parsed).await.map_err(planning_error)?;
    let logical = crate::rewrite::rewrite_multi_value(logical, context.sql.group_by_enable_multi_value_unnesting)?;
    let logical = crate::functions::json::keep_unnested_json(logical).map_err(planning_error)?;
    let logical = crate::lookups::bind(logical, &metadata).await?;
    check_columns(logical.schema().fields().len())?;
    let df = DataFrame::new(state.clone(), logical);

    let mut planned = match stmt.kind {
        StatementKind::Select => plan_select(df, &stmt, query_id, workers, &rewrite_options.zone).await,
        StatementKind::Insert | StatementKind::Replace => plan_ingest(df, &stmt, &select_list, context, query_id).await,
    }?;
    planned.read_tables = read_tables;
    Ok(planned)
}

/// Partitions of a leaf scan (input files, segments): each of the `workers` runs its share on
/// as many threads as this machine gives it, `workers × max(1, cores / workers)`, as Druid's
/// workers run several processors at once. A stage never has more workers than `workers`.
pub fn scan_partitions(workers: usize) -> usize {
    // Read once: on Linux the answer comes from the affinity mask and cgroup files.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    let cores = *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    workers * (cores / workers.max(1)).max(1)
}

/// Registers each `TABLE(EXTERN(...))` of the statement as a table under its `__extern_N` name.
fn register_externs(sc: &SessionContext, stmt: &DruidStatement, partitions: usize) -> Result<()> {
    for e in &stmt.externs {
        let source: InputSource = parse_json_arg(&e.input_source, "inputSource")?;
        let format: InputFormat = parse_json_arg(&e.input_format, "inputFormat")?;
        sc.register_table(
            e.table_name.as_str(),
            Arc::new(ExternTable {
                // A STRING column holding JSON arrays is a multi-value string, as in Druid.
                signature: msq_rows::input::json::multi_value::detect_multi_value(&source, &format, &e.signature),
                source,
                format,
                partitions,
            }),
        )?;
    }
    Ok(())
}

/// Parses the query body (Druid clauses already stripped) as exactly one statement.
pub(crate) fn parse_query(query_sql: &str) -> Result<datafusion::sql::parser::Statement> {
    let query_sql = crate::functions::json::rewrite_json_syntax(query_sql);
    let mut statements = DFParserBuilder::new(query_sql.as_ref())
        .with_recursion_limit(guard::MAX_PARSER_RECURSION)
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| {
            let m = e.to_string();
            if guard::is_recursion_limit(&m) {
                guard::too_deep_for_parser()
            } else {
                MsqError::SqlParse(m)
            }
        })?;
    if statements.len() != 1 {
        return Err(MsqError::SqlParse(format!(
            "Expected exactly one statement, found {}",
            statements.len()
        )));
    }
    let Some(parsed) = statements.pop_front() else {
        return Err(MsqError::SqlParse("Received an empty statement".into()));
    };
    Ok(parsed)
}

/// Registers every datasource the statement reads (other than its externs) with its used
/// segments and returns their names (sorted, each once); an unknown, qualified or invalid
/// name is `Object not found`.
async fn register_datasources(
    sc: &SessionContext,
    parsed: &datafusion::sql::parser::Statement,
    stmt: &DruidStatement,
    metadata: Arc<dyn MetadataStore>,
    partitions: usize,
) -> Result<Vec<String>> {
    let state = sc.state();
    let refs = state.resolve_table_references(parsed).map_err(planning_error)?;
    // System tables are the Broker's: the task engine refuses them, as Druid's does.
    let system = crate::system::definitions::references(&refs)?.system;
    if !system.is_empty() {
        return Err(MsqError::Validation(engine_refusal(&system, "msq-task")));
    }
    let mut names = std::collections::BTreeSet::new();
    for r in refs {
        let name = r.table().to_string();
        if stmt.externs.iter().any(|e| e.table_name == name) || stmt.appends.iter().any(|a| a.table_name == name) {
            continue;
        }
        if crate::lookups::is_lookup_table(&r) {
            crate::lookups::register_table(sc, &r, &metadata, partitions).await?;
            continue;
        }
        // Datasources live in the default schema only, and a name that breaks Druid's id
        // rules cannot be one (it never reaches the metadata store).
        let qualified = r.catalog().is_some() || r.schema().is_some_and(|s| s != "druid");
        if qualified || msq_engine::ids::validate_id("dataSource", &name).is_err() {
            return Err(MsqError::Validation(format!("Object '{r}' not found")));
        }
        let segments = {
            let md = metadata.clone();
            let n = name.clone();
            msq_engine::blocking(move || md.used_segments(&n, None)).await?
        };
        if segments.is_empty() {
            return Err(MsqError::Validation(format!("Object '{name}' not found")));
        }
        sc.register_table(
            name.as_str(),
            Arc::new(DatasourceTable::new(name.clone(), segments, partitions)),
        )?;
        names.insert(name);
    }
    let appends: Vec<(String, Vec<String>)> = stmt
        .appends
        .iter()
        .map(|a| (a.table_name.clone(), a.tables.clone()))
        .collect();
    names.extend(crate::append::register(sc, &appends, &metadata, partitions).await?);
    Ok(names.into_iter().collect())
}

/// Plans a `SELECT`: its physical plan cut into stages.
async fn plan_select(
    df: DataFrame,
    stmt: &DruidStatement,
    query_id: &str,
    workers: usize,
    zone: &Zone,
) -> Result<PlannedStatement> {
    let mut builder = StageBuilder::new(query_id, workers);
    let df = crate::string_views::plain_strings(check_row_size(df)?).map_err(planning_error)?;
    let df = crate::result_zone::in_zone(df, zone).map_err(planning_error)?;
    let output_schema = Arc::new(df.schema().as_arrow().clone());
    let physical = df.create_physical_plan().await.map_err(planning_error)?;
    let physical = crate::functions::json::keep_unnested_json_physical(physical).map_err(planning_error)?;
    let physical = crate::string_views::casts_below_gather(physical).map_err(planning_error)?;
    builder.plan_select(physical)?;
    Ok(PlannedStatement {
        kind: stmt.kind,
        query: finish(query_id, builder)?,
        data_source: None,
        granularity: None,
        replace: None,
        output_schema,
        cluster_by: vec![],
        statement: stmt.clone(),
        read_tables: Vec::new(),
    })
}

/// Plans an `INSERT` / `REPLACE`: the query's stages, a range shuffle by time chunk and
/// clustering key, and a segment generator stage.
async fn plan_ingest(
    df: DataFrame,
    stmt: &DruidStatement,
    select_list: &[(String, String)],
    context: &QueryContext,
    query_id: &str,
) -> Result<PlannedStatement> {
    let workers = context.worker_count();
    let mut builder = StageBuilder::new(query_id, workers);
    let granularity = stmt.partitioned_by.expect("validated");
    let df = shape_ingest_columns(df, granularity)?;
    let df = crate::rewrite::apply_array_ingest_mode(df, context.sql.array_ingest_mode)?;
    let df = check_row_size(df)?;
    let output_schema = Arc::new(df.schema().as_arrow().clone());
    let cluster_by = resolve_cluster_by(stmt, &output_schema, select_list)?;
    let order = IngestOrder::new(&output_schema, &cluster_by, context)?;
    let replace = replace_intervals(stmt, granularity)?;
    let physical = df.create_physical_plan().await.map_err(planning_error)?;
    let physical = crate::functions::json::keep_unnested_json_physical(physical).map_err(planning_error)?;
    let rows = builder.cut_ingest_root(physical)?;
    let data_source = stmt.target.clone().expect("validated");
    let pre = builder.add_plan_stage(
        rows,
        ShuffleSpec::Range(RangeShuffle {
            sort: order.sort,
            key: order.key,
            bucket: Some(TimeBucket {
                column: order.time_index,
                granularity,
            }),
            target: PartitionTarget::RowsPerPartition(context.rows_per_segment),
        }),
    )?;
    builder.add_stage(StageDefinition {
        stage_number: 0,
        id: String::new(),
        inputs: vec![StageInput::Stage { stage: pre }],
        broadcast: vec![],
        processor: StageProcessor::SegmentGenerator(SegmentGeneratorSpec {
            data_source: data_source.clone(),
            granularity,
            columns: output_schema.fields().iter().map(|f| f.name().clone()).collect(),
            cluster_by: cluster_by.clone(),
            sort_order: order.sort_order,
            rows_per_segment: context.rows_per_segment,
            max_rows_in_memory: context.max_rows_in_memory,
            replace: replace.clone(),
            max_num_workers: workers,
        }),
        schema: Arc::new(Schema::empty()),
        shuffle: None,
        max_worker_count: workers,
    });
    Ok(PlannedStatement {
        kind: stmt.kind,
        query: finish(query_id, builder)?,
        data_source: Some(data_source),
        granularity: Some(granularity),
        replace,
        output_schema,
        cluster_by,
        statement: stmt.clone(),
        read_tables: Vec::new(),
    })
}

/// How ingested rows are ordered: the segment sort order and the shuffle's sort and key.
struct IngestOrder {
    /// `segmentSortOrder`, else `__time` then the CLUSTERED BY columns.
    sort_order: Vec<String>,
    sort: Vec<SortColumn>,
    /// The CLUSTERED BY columns, then `__time` if not among them.
    key: Vec<SortColumn>,
    time_index: usize,
}

impl IngestOrder {
    fn new(output_schema: &Schema, cluster_by: &[String], context: &QueryContext) -> Result<IngestOrder> {
        let sort_order = match &context.segment_sort_order {
            Some(order) => order.clone(),
            None => {
                let mut o = vec![TIME_COLUMN.to_string()];
                o.extend(cluster_by.iter().filter(|c| c.as_str() != TIME_COLUMN).cloned());
                o
            }
        };
        let index = |name: &str| -> Result<usize> {
            output_schema.index_of(name).map_err(|_| {
                MsqError::Validation(format!(
                    "Column [{name}] in segmentSortOrder is not in the query output"
                ))
            })
        };
        let asc = |i: usize| SortColumn {
            index: i,
            descending: false,
            nulls_first: true,
        };
        let sort: Vec<SortColumn> = sort_order.iter().map(|c| index(c).map(asc)).collect::<Result<_>>()?;
        let time_index = index(TIME_COLUMN)?;
        let mut key: Vec<SortColumn> = cluster_by.iter().map(|c| index(c).map(asc)).collect::<Result<_>>()?;
        if !key.iter().any(|k| k.index == time_index) {
            key.push(asc(time_index));
        }
        Ok(IngestOrder {
            sort_order,
            sort,
            key,
            time_index,
        })
    }
}

/// The intervals a `REPLACE` overwrites (aligned with `granularity`); `None` for `INSERT`.
fn replace_intervals(stmt: &DruidStatement, granularity: Granularity) -> Result<Option<Vec<Interval>>> {
    Ok(match (&stmt.kind, &stmt.overwrite) {
        (StatementKind::Replace, Some(Overwrite::All)) => Some(vec![Interval::eternity()]),
        (StatementKind::Replace, Some(Overwrite::Where(iv))) => {
            validate_overwrite_alignment(iv, granularity)?;
            Some(iv.clone())
        }
        _ => None,
    })
}

/// Druid's hard limit on the workers of one stage (`TooManyWorkers`).
pub const MAX_WORKERS: usize = 1000;

/// The rewrite settings of a context: `sqlTimeZone`, `sqlCurrentTimestamp` (else now),
/// `finalizeAggregations` and `useApproximateCountDistinct`.
pub(crate) fn rewrite_options(context: &QueryContext) -> Result<RewriteOptions> {
    let bad = |key: &str, v: &str, expected: &str| {
        MsqError::Validation(format!(
            "Invalid value [{v}] for query context parameter [{key}]: expected {expected}"
        ))
    };
    let zone = match &context.sql.time_zone {
        None => Zone::utc(),
        Some(z) => Zone::parse(z).ok_or_else(|| {
            bad(
                "sqlTimeZone",
                z,
                "a time zone name such as America/Los_Angeles or an offset such as -08:00",
            )
        })?,
    };
    let now_millis = match &context.sql.current_timestamp {
        None => chrono::Utc::now().timestamp_millis(),
        Some(t) => parse_iso(t, &Zone::utc()).ok_or_else(|| bad("sqlCurrentTimestamp", t, "an ISO-8601 timestamp"))?,
    };
    Ok(RewriteOptions {
        zone,
        now_millis,
        finalize_aggregations: context.finalize_aggregations,
        approximate_count_distinct: context.sql.use_approximate_count_distinct,
    })
}

/// Filters the output through [`crate::functions::limits::ROW_FITS`] over its variable-width columns, so a row larger
/// than a frame fails with `RowTooLarge` (fixed-width columns cannot reach the limit).
fn check_row_size(df: DataFrame) -> Result<DataFrame> {
    let wide: Vec<Expr> = df
        .schema()
        .iter()
        .filter(|(_, f)| {
            matches!(
                f.data_type(),
                DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::List(_) | DataType::LargeList(_)
            )
        })
        .map(|(q, f)| Expr::Column(datafusion::common::Column::new(q.cloned(), f.name())))
        .collect();
    if wide.is_empty() {
        return Ok(df);
    }
    let udf = Arc::new(crate::functions::limits::row_fits_udf());
    df.filter(udf.call(wide)).map_err(planning_error)
}

fn finish(query_id: &str, builder: StageBuilder) -> Result<QueryDefinition> {
    for s in &builder.stages {
        s.check_limits()?;
    }
    Ok(QueryDefinition {
        query_id: query_id.to_string(),
        stages: builder.stages.into_iter().map(Arc::new).collect(),
    })
}

/// Statement-level rules Druid checks before planning.
fn validate_statement(stmt: &DruidStatement) -> Result<()> {
    match stmt.kind {
        StatementKind::Select => Ok(()),
        StatementKind::Insert | StatementKind::Replace => {
            let op = if stmt.kind == StatementKind::Insert {
                "INSERT"
            } else {
                "REPLACE"
            };
            if stmt.has_order_by {
                return Err(MsqError::Validation(format!(
                    "Cannot use an ORDER BY clause on a Query of type [{op}], use CLUSTERED BY instead"
                )));
            }
            if stmt.has_limit && stmt.partitioned_by != Some(Granularity::All) {
                return Err(MsqError::Validation(
                    "INSERT and REPLACE queries cannot have a LIMIT unless PARTITIONED BY is \"ALL\".".into(),
                ));
            }
            if stmt.has_offset {
                return Err(MsqError::Validation(
                    "INSERT and REPLACE queries cannot have an OFFSET.".into(),
                ));
            }
            let target = stmt.target.as_deref().unwrap_or("");
            if target.is_empty() {
                return Err(MsqError::SqlParse(format!("{op} requires a target dataSource")));
            }
            if stmt.partitioned_by.is_none() {
                return Err(MsqError::Validation(format!(
                    "Operation [{op}] requires a PARTITIONED BY to be explicitly defined, but none was found."
                )));
            }
            Ok(())
        }
    }
}

/// OVERWRITE WHERE intervals must line up with the PARTITIONED BY granularity.
fn validate_overwrite_alignment(intervals: &[Interval], granularity: Granularity) -> Result<()> {
    if granularity == Granularity::All {
        if intervals.iter().any(|i| !i.is_eternity()) {
            return Err(MsqError::Validation(
                "OVERWRITE WHERE clause only supports intervals aligned with the PARTITIONED BY granularity; \
                 with PARTITIONED BY ALL TIME use OVERWRITE ALL"
                    .into(),
            ));
        }
        return Ok(());
    }
    for i in intervals {
        let ok_start = i.start == i64::MIN || granularity.is_aligned(i.start);
        let ok_end = i.end == i64::MAX || granularity.is_aligned(i.end);
        if !ok_start || !ok_end {
            return Err(MsqError::Validation(format!(
                "OVERWRITE WHERE clause identified interval [{}] which is not aligned with PARTITIONED BY granularity [{}]",
                i.to_iso(),
                granularity.name()
            )));
        }
    }
    Ok(())
}

/// The Druid storage type of an output column (Druid stores no booleans, small ints, ...).
fn storage_type(name: &str, dt: &DataType) -> Result<DataType> {
    if name == TIME_COLUMN {
        return match dt {
            DataType::Timestamp(_, _) | DataType::Int64 | DataType::Date32 | DataType::Date64 => Ok(time_data_type()),
            DataType::Null => Ok(time_data_type()),
            other => Err(MsqError::Validation(format!(
                "Field [__time] was the wrong type [{}], expected TIMESTAMP",
                msq_engine::signature::ColumnType::sql_type_name(other)
            ))),
        };
    }
    Ok(match dt {
        DataType::Boolean
        | DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64
        | DataType::Timestamp(_, _)
        | DataType::Date32
        | DataType::Date64 => DataType::Int64,
        DataType::Float16 => DataType::Float32,
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => DataType::Float64,
        DataType::Utf8View | DataType::LargeUtf8 | DataType::Dictionary(_, _) | DataType::Null => DataType::Utf8,
        DataType::Utf8 | DataType::Int64 | DataType::Float32 | DataType::Float64 => dt.clone(),
        dt if msq_engine::signature::is_multi_value(dt) => msq_engine::signature::multi_value_type(),
        DataType::List(f) | DataType::LargeList(f) if !f.data_type().is_nested() => DataType::List(Arc::new(
            arrow::datatypes::Field::new_list_field(storage_type("", f.data_type())?, true),
        )),
        other => {
            return Err(MsqError::ColumnTypeNotSupported {
                column_name: name.to_string(),
                column_type: other.to_string(),
            })
        }
    })
}

/// Adds `__time` for PARTITIONED BY ALL when missing and casts columns to Druid storage types.
fn shape_ingest_columns(df: DataFrame, granularity: Granularity) -> Result<DataFrame> {
    let schema = df.schema().as_arrow().clone();
    let mut names = std::collections::HashSet::new();
    for f in schema.fields() {
        if msq_engine::stage::RESTRICTED_COLUMNS.contains(&f.name().as_str()) {
            return Err(MsqError::ColumnNameRestricted {
                column: f.name().clone(),
            });
        }
        if !names.insert(f.name().clone()) {
            return Err(MsqError::Validation(format!(
                "Duplicate column name [{}] in the query output; give each column a unique alias",
                f.name()
            )));
        }
    }
    let has_time = schema.index_of(TIME_COLUMN).is_ok();
    if !has_time && granularity != Granularity::All {
        return Err(MsqError::Validation(format!(
            "The query output has no [__time] column; PARTITIONED BY {} needs one. \
             Add e.g. TIME_PARSE(\"timestamp\") AS __time, or use PARTITIONED BY ALL",
            granularity.name()
        )));
    }
    let mut exprs: Vec<Expr> = Vec::new();
    if !has_time {
        exprs.push(lit(ScalarValue::TimestampMillisecond(Some(0), None)).alias(TIME_COLUMN));
    }
    for f in schema.fields() {
        let target = storage_type(f.name(), f.data_type())?;
        let c = col(datafusion::common::Column::new_unqualified(f.name()));
        let e = if &target == f.data_type() {
            c
        } else if matches!(f.data_type(), DataType::Timestamp(_, _)) && target == DataType::Int64 {
            // Non-__time timestamps are stored as epoch millis, as Druid stores them as LONG.
            cast(
                cast(c, DataType::Timestamp(TimeUnit::Millisecond, None)),
                DataType::Int64,
            )
        } else {
            cast(c, target)
        };
        exprs.push(e.alias(f.name()));
    }
    df.select(exprs).map_err(planning_error)
}

/// CLUSTERED BY items as output column names; an expression names the SELECT item it repeats
/// (`select_list`: canonical expression text and output name of each item).
fn resolve_cluster_by(stmt: &DruidStatement, schema: &Schema, select_list: &[(String, String)]) -> Result<Vec<String>> {
    stmt.clustered_by
        .iter()
        .map(|k| match k {
            ClusterKey::Column(name) => schema
                .index_of(name)
                .map(|_| name.clone())
                .map_err(|_| MsqError::Validation(format!("Column [{name}] in CLUSTERED BY is not in the query output"))),
            ClusterKey::Ordinal(n) => {
                if *n == 0 || *n > schema.fields().len() {
                    Err(MsqError::Validation(format!(
                        "Ordinal [{n}] in CLUSTERED BY is out of range: the query has {} columns",
                        schema.fields().len()
                    )))
                } else {
                    Ok(schema.field(n - 1).name().clone())
                }
            }
            ClusterKey::Expr(text) => {
                let t = text.trim().trim_matches('"');
                let canonical = crate::rewrite::canonical_expression(text);
                let by_expr = canonical
                    .and_then(|c| select_list.iter().find(|(e, _)| *e == c))
                    .map(|(_, name)| name.as_str());
                by_expr.or(Some(t)).filter(|n| schema.index_of(n).is_ok()).map(str::to_string).ok_or_else(|| {
                    MsqError::Validation(format!(
                        "CLUSTERED BY expression [{text}] is neither a column of the query output nor an expression of its SELECT list"
                    ))
                })
            }
        })
        .collect()
}
