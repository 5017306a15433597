//! The work-order wire format against real plans: every statement of `tests/sql/core.sqltest`
//! (plus extra shapes: joins, windows, UDAFs, VALUES, UNNEST, ...) is planned, each stage's
//! work orders are encoded and decoded and must come back identical; and decoded fragments,
//! run stage by stage through the shuffle, must give the answers counted from the raw data.

mod common;

use common::*;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::execution::TaskContext;
use datafusion::physical_plan::{displayable, ExecutionPlan};
use datafusion::prelude::SessionConfig;
use msq_engine::context::QueryContext;
use msq_engine::counters::StageCounters;
use msq_engine::input::assign_splits;
use msq_engine::keystats::RangePartitions;
use msq_engine::metadata::SegmentId;
use msq_engine::protocol::{InputStageLocation, OutputLocation, WorkOrder, WorkerSettings};
use msq_engine::stage::{ShuffleSpec, StageDefinition, StageProcessor};
use msq_rows::exec::{ExecContext, ExternalScanExec};
use msq_rows::input::ListSplits;
use msq_rows::shuffle::{InProcessShuffle, ShuffleFetcher, ShuffleWriter, ShuffleWriterConfig};
use msq_rows::wire::WireCodec;
use msq_sql::planner::{plan_statement, PlannedStatement};
use msq_sql::statement::StatementKind;
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Int64Type};
use arrow::record_batch::RecordBatch;

/// A statement to plan: name, context, SQL and whether it must plan (cases expecting an
/// error may fail planning).
struct Statement {
    name: String,
    context: Value,
    sql: String,
    must_plan: bool,
}

/// Every case of a `.sqltest` file.
fn sqltest_statements(text: &str) -> Vec<Statement> {
    let testdata = testdata("").display().to_string();
    let testdata = testdata.trim_end_matches('/').to_string();
    let mut out = Vec::new();
    for block in text.split("\n=== ").skip(1) {
        let mut lines = block.lines();
        let name = lines.next().unwrap().trim().to_string();
        let (mut context, mut sql, mut in_sql, mut must_plan) = (json!({}), String::new(), false, true);
        for line in lines {
            if let Some(c) = line.strip_prefix("context:") {
                context = serde_json::from_str(c.trim()).unwrap();
            } else if line.trim() == "sql:" {
                in_sql = true;
            } else if ["expect:", "written:", "error:"].iter().any(|p| line.starts_with(p)) {
                in_sql = false;
                must_plan &= !line.starts_with("error:");
            } else if in_sql {
                sql.push_str(&line.replace("{testdata}", &testdata));
                sql.push('\n');
            }
        }
        out.push(Statement {
            name,
            context,
            sql,
            must_plan,
        });
    }
    out
}

fn wiki_extern() -> String {
    format!(
        r#"TABLE(EXTERN('{{"type":"local","files":["{}"]}}', '{{"type":"json"}}', '[{{"name":"time","type":"string"}},{{"name":"channel","type":"string"}},{{"name":"page","type":"string"}},{{"name":"user","type":"string"}},{{"name":"added","type":"long"}}]'))"#,
        wiki_path()
    )
}

/// Statements beyond core.sqltest, covering more operator and function shapes.
fn extra_statements() -> Vec<Statement> {
    let ext = wiki_extern();
    let sort_merge = json!({"sqlJoinAlgorithm": "sortMerge"});
    [
        ("LATEST/EARLIEST UDAFs", json!({}), "SELECT channel, LATEST(page) AS l, EARLIEST(page, 1024) AS e FROM wikipedia GROUP BY channel".to_string()),
        ("LATEST_BY", json!({}), "SELECT channel, LATEST_BY(page, __time) AS l FROM wikipedia GROUP BY channel ORDER BY channel LIMIT 5".to_string()),
        ("approximate distinct", json!({}), "SELECT APPROX_COUNT_DISTINCT(\"user\"), COUNT(DISTINCT channel) FROM wikipedia".to_string()),
        ("hash join", json!({}), "SELECT a.channel, COUNT(*) FROM wikipedia a JOIN (SELECT channel, MAX(added) AS m FROM wikipedia GROUP BY channel) b ON a.channel = b.channel AND a.added = b.m GROUP BY 1".to_string()),
        ("sort-merge join", sort_merge, "SELECT a.page, b.c FROM wikipedia a LEFT JOIN (SELECT page, COUNT(*) AS c FROM wikipedia GROUP BY page) b ON a.page = b.page WHERE a.added > 1000".to_string()),
        ("window ROW_NUMBER", json!({}), "SELECT channel, page, ROW_NUMBER() OVER (PARTITION BY channel ORDER BY added DESC) AS rn FROM wikipedia".to_string()),
        ("window aggregate", json!({}), "SELECT channel, SUM(added) OVER (PARTITION BY channel) AS s, AVG(added) OVER () AS a FROM wikipedia".to_string()),
        ("VALUES", json!({}), "SELECT x, y FROM (VALUES (1, 'a'), (2, 'b')) AS t(x, y) ORDER BY x".to_string()),
        ("constant row", json!({}), "SELECT 1 + 1, UPPER('a'), TIME_PARSE('2015-09-12T00:00:00Z')".to_string()),
        ("UNNEST", json!({}), "SELECT UNNEST(MAKE_ARRAY(1, 2, 3)) AS x".to_string()),
        ("UNION ALL", json!({}), "SELECT channel FROM wikipedia WHERE added > 5000 UNION ALL SELECT page FROM wikipedia WHERE deleted > 5000".to_string()),
        ("IN subquery", json!({}), "SELECT COUNT(*) FROM wikipedia WHERE channel IN (SELECT channel FROM wikipedia GROUP BY channel ORDER BY COUNT(*) DESC LIMIT 3)".to_string()),
        ("scalar subquery", json!({}), "SELECT COUNT(*) FROM wikipedia WHERE added > (SELECT AVG(added) FROM wikipedia)".to_string()),
        ("string, regex, CASE", json!({}), "SELECT LOWER(channel), REGEXP_LIKE(page, '^W'), CASE WHEN added > 10 THEN 'big' ELSE 'small' END, CONCAT(page, '!'), SUBSTRING(page, 1, 3) FROM wikipedia LIMIT 10".to_string()),
        ("top-k", json!({}), "SELECT page, added FROM wikipedia ORDER BY added DESC, page LIMIT 7".to_string()),
        ("EXTERN with TIME_PARSE", json!({}), format!("SELECT TIME_FLOOR(TIME_PARSE(\"time\"), 'PT1H') AS h, COUNT(*) AS c FROM {ext} GROUP BY 1 ORDER BY 1")),
        ("INSERT from EXTERN clustered", json!({}), format!("INSERT INTO wire_ext SELECT TIME_PARSE(\"time\") AS __time, channel, page, added FROM {ext} PARTITIONED BY DAY CLUSTERED BY channel, page")),
        ("TIME functions", json!({}), "SELECT TIME_FORMAT(__time, 'yyyy-MM-dd HH'), TIME_SHIFT(__time, 'P1D', -1), TIME_CEIL(__time, 'PT6H'), TIME_EXTRACT(__time, 'MINUTE'), TIMESTAMP_TO_MILLIS(__time) FROM wikipedia LIMIT 3".to_string()),
    ]
    .into_iter()
    .map(|(name, context, sql)| Statement {
        name: name.to_string(),
        context,
        sql,
        must_plan: true,
    })
    .collect()
}

fn codec() -> WireCodec {
    WireCodec::new(msq_sql::registry::function_registry())
}

fn text(plan: &Arc<dyn ExecutionPlan>) -> String {
    displayable(plan.as_ref()).indent(true).to_string()
}

fn context_with(base: &Value, max_num_tasks: usize) -> Map<String, Value> {
    let mut c = base.as_object().cloned().unwrap_or_default();
    c.insert("maxNumTasks".into(), json!(max_num_tasks));
    c
}

async fn plan(t: &TestEngine, sql: &str, context: &Map<String, Value>) -> msq_engine::Result<PlannedStatement> {
    let ctx = QueryContext::parse(context)?;
    plan_statement(sql, &ctx, "wire-test", t.engine.metadata.clone()).await
}

/// Assigns input splits to the external scans of a fragment, as the controller does.
fn assign_inputs(plan: Arc<dyn ExecutionPlan>) -> Arc<dyn ExecutionPlan> {
    plan.transform_up(|p| {
        Ok(match p.downcast_ref::<ExternalScanExec>() {
            Some(e) => {
                let splits = assign_splits(e.source.splits().unwrap(), e.partitions, None);
                Transformed::yes(Arc::new(e.with_splits(splits)) as Arc<dyn ExecutionPlan>)
            }
            None => Transformed::no(p),
        })
    })
    .unwrap()
    .data
}

/// The work orders of one stage, one per worker, shaped as the controller makes them.
fn work_orders(query: &PlannedStatement, stage: &Arc<StageDefinition>, workers: usize) -> Vec<WorkOrder> {
    let (stage, partitions) = match &stage.processor {
        StageProcessor::Plan { kind, plan } => {
            let mut def = (**stage).clone();
            def.processor = StageProcessor::Plan {
                kind: *kind,
                plan: assign_inputs(plan.clone()),
            };
            (
                Arc::new(def),
                plan.properties().output_partitioning().partition_count().max(1),
            )
        }
        StageProcessor::SegmentGenerator(_) => (stage.clone(), 3),
    };
    let wc = partitions.min(workers).max(1);
    let inputs: BTreeMap<usize, InputStageLocation> = stage
        .input_stages()
        .into_iter()
        .map(|n| {
            let s = &query.query.stages[n];
            let location = InputStageLocation {
                schema: s.schema.clone(),
                partition_count: s.shuffle.as_ref().and_then(|x| x.fixed_partition_count()).unwrap_or(2),
                sort: s.shuffle.as_ref().and_then(|x| x.sort()).map(|x| x.to_vec()),
                sources: (0..wc)
                    .map(|w| OutputLocation::Http {
                        url: format!("http://worker{w}:8091"),
                        worker: w,
                    })
                    .collect(),
            };
            (n, location)
        })
        .collect();
    (0..wc)
        .map(|w| {
            let parts: Vec<usize> = (0..partitions).filter(|p| p % wc == w).collect();
            let segments = match &stage.processor {
                StageProcessor::SegmentGenerator(spec) => parts
                    .iter()
                    .map(|p| {
                        let iv = msq_engine::granularity::Interval::new(0, 86_400_000);
                        msq_engine::protocol::SegmentSlot {
                            partition: *p,
                            id: SegmentId::new(spec.data_source.clone(), iv, "2024-01-01T00:00:00.000Z", *p as u32),
                            rows: None,
                        }
                    })
                    .collect(),
                StageProcessor::Plan { .. } => vec![],
            };
            WorkOrder {
                query_id: query.query.query_id.clone(),
                stage: stage.clone(),
                worker_number: w,
                worker_count: wc,
                partitions: parts,
                segments,
                settings: WorkerSettings {
                    memory_budget: 64 << 20,
                    output_budget: None,
                    batch_size: 4096,
                    max_parse_exceptions: 10,
                    spill_dir: "/tmp/msq-wire".into(),
                    durable_shuffle: false,
                    max_temp_storage_bytes: 0,
                },
                inputs: inputs.clone(),
                attempt: 0,
            }
        })
        .collect()
}

/// Every difference between two work orders (plans compared by display text and schema).
fn differences(a: &WorkOrder, b: &WorkOrder) -> Vec<String> {
    let mut d = Vec::new();
    let check = |d: &mut Vec<String>, what: &str, same: bool| {
        if !same {
            d.push(what.to_string());
        }
    };
    check(&mut d, "query_id", a.query_id == b.query_id);
    check(&mut d, "worker_number", a.worker_number == b.worker_number);
    check(&mut d, "worker_count", a.worker_count == b.worker_count);
    check(&mut d, "partitions", a.partitions == b.partitions);
    check(&mut d, "segments", a.segments == b.segments);
    check(
        &mut d,
        "settings",
        serde_json::to_value(&a.settings).unwrap() == serde_json::to_value(&b.settings).unwrap(),
    );
    check(&mut d, "inputs", a.inputs == b.inputs);
    check(&mut d, "attempt", a.attempt == b.attempt);
    let (s, t) = (&a.stage, &b.stage);
    check(&mut d, "stage_number", s.stage_number == t.stage_number);
    check(&mut d, "id", s.id == t.id);
    check(&mut d, "stage inputs", s.inputs == t.inputs);
    check(&mut d, "broadcast", s.broadcast == t.broadcast);
    check(&mut d, "schema", s.schema == t.schema);
    check(&mut d, "max_worker_count", s.max_worker_count == t.max_worker_count);
    match (&s.processor, &t.processor) {
        (StageProcessor::Plan { kind: k1, plan: p1 }, StageProcessor::Plan { kind: k2, plan: p2 }) => {
            check(&mut d, "processor kind", k1 == k2);
            if text(p1) != text(p2) {
                d.push(format!("plan text:\n{}\nvs\n{}", text(p1), text(p2)));
            }
            check(&mut d, "plan schema", p1.schema() == p2.schema());
            check(
                &mut d,
                "plan partitions",
                p1.properties().output_partitioning().partition_count()
                    == p2.properties().output_partitioning().partition_count(),
            );
        }
        (StageProcessor::SegmentGenerator(x), StageProcessor::SegmentGenerator(y)) => {
            check(&mut d, "segment generator", x == y)
        }
        _ => d.push("processor variant".into()),
    }
    let same_shuffle = match (&s.shuffle, &t.shuffle) {
        (None, None) | (Some(ShuffleSpec::Mix), Some(ShuffleSpec::Mix)) => true,
        (
            Some(ShuffleSpec::Hash {
                keys: k1,
                key_names: n1,
                partitions: p1,
            }),
            Some(ShuffleSpec::Hash {
                keys: k2,
                key_names: n2,
                partitions: p2,
            }),
        ) => {
            let show = |k: &[Arc<dyn datafusion::physical_expr::PhysicalExpr>]| {
                k.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>()
            };
            show(k1) == show(k2) && n1 == n2 && p1 == p2
        }
        (Some(ShuffleSpec::SortedGather { sort: x }), Some(ShuffleSpec::SortedGather { sort: y })) => x == y,
        (Some(ShuffleSpec::Range(x)), Some(ShuffleSpec::Range(y))) => x == y,
        _ => false,
    };
    check(&mut d, "shuffle", same_shuffle);
    d
}

/// Whether a fragment evaluates a scalar subquery whose `ScalarSubqueryExec` sits in another
/// stage (the stage cutter separates them on several workers: a planner limitation, which
/// fails in-process too with "ScalarSubqueryExpr evaluated before the subquery was executed").
fn has_orphan_scalar_subquery(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let t = text(plan);
    t.contains("scalar_subquery(") && !t.contains("ScalarSubqueryExec")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_planned_stage_roundtrips() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let codec = codec();
    let core = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sql/core.sqltest"))
        .unwrap();
    let mut cases = sqltest_statements(&core);
    let core_cases = cases.len();
    let core_must_plan = cases.iter().filter(|c| c.must_plan).count();
    assert!(
        core_must_plan >= 15,
        "only {core_must_plan} planned cases in core.sqltest"
    );
    cases.extend(extra_statements());

    let (mut planned, mut core_planned, mut orders, mut orphans) = (0, 0, 0, 0);
    let mut operators: BTreeMap<String, usize> = BTreeMap::new();
    let mut shuffles: BTreeMap<&str, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let mut kind = None;
        // One, two and three workers.
        for max_num_tasks in [2, 3, 4] {
            let ctx = context_with(&case.context, max_num_tasks);
            let p = match plan(&t, &case.sql, &ctx).await {
                Ok(p) => p,
                Err(e) => {
                    if case.must_plan {
                        failures.push(format!("{} (maxNumTasks {max_num_tasks}) did not plan: {e}", case.name));
                    }
                    continue;
                }
            };
            planned += 1;
            if i < core_cases {
                core_planned += 1;
            }
            kind = Some(p.kind);
            for stage in &p.query.stages {
                let mut orphan = false;
                if let StageProcessor::Plan { plan, .. } = &stage.processor {
                    orphan = has_orphan_scalar_subquery(plan);
                    plan.apply(|n| {
                        *operators.entry(n.name().to_string()).or_default() += 1;
                        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
                    })
                    .unwrap();
                } else {
                    *operators.entry("SegmentGenerator".into()).or_default() += 1;
                }
                *shuffles
                    .entry(match &stage.shuffle {
                        None => "none",
                        Some(ShuffleSpec::Mix) => "mix",
                        Some(ShuffleSpec::Hash { .. }) => "hash",
                        Some(ShuffleSpec::SortedGather { .. }) => "sortedGather",
                        Some(ShuffleSpec::Range(_)) => "range",
                    })
                    .or_default() += 1;
                let at = format!(
                    "{} (maxNumTasks {max_num_tasks}) stage {}",
                    case.name, stage.stage_number
                );
                for order in work_orders(&p, stage, max_num_tasks - 1) {
                    orders += 1;
                    let result = codec
                        .encode_work_order(&order)
                        .and_then(|bytes| codec.decode_work_order(&bytes));
                    match (result, orphan) {
                        (Ok(back), false) => {
                            let d = differences(&order, &back);
                            if !d.is_empty() {
                                failures.push(format!("{at} worker {}: {}", order.worker_number, d.join("; ")));
                            }
                        }
                        (Err(e), false) => failures.push(format!("{at}: {e}")),
                        (Err(e), true) => {
                            orphans += 1;
                            let msg = e.to_string();
                            if !msg.starts_with("wire format: cannot decode plan")
                                || !msg.contains("ScalarSubqueryExpr can only be deserialized as part of a surrounding ScalarSubqueryExec")
                            {
                                failures.push(format!("{at}: unexpected error {msg}"));
                            }
                        }
                        (Ok(_), true) => failures.push(format!("{at}: an orphan scalar subquery decoded")),
                    }
                }
            }
        }
        // Ingestions change what later statements can read: run them for real.
        if matches!(kind, Some(StatementKind::Insert) | Some(StatementKind::Replace)) {
            let ctx = case.context.as_object().cloned().unwrap_or_default();
            let (_, res, _) = t.engine.run_statement(&case.sql, &ctx).await;
            if case.must_plan {
                if let Err(e) = res {
                    failures.push(format!("{}: ingestion failed: {e}", case.name));
                }
            }
        }
    }
    eprintln!(
        "planned {planned} statements ({core_planned} from core.sqltest), {orders} work orders \
         ({orphans} with orphan scalar subqueries); operators: {operators:?}; shuffles: {shuffles:?}"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    assert!(
        core_planned >= 3 * core_must_plan,
        "{core_planned} < 3 * {core_must_plan}"
    );
    assert_eq!(
        orphans, 0,
        "a scalar subquery stays in the fragment of its ScalarSubqueryExec"
    );
    // The statements exercised every kind of leaf and shuffle and the DataFusion operators the
    // planner emits.
    for op in [
        "ExternalScanExec",
        "SegmentScanExec",
        "ShuffleReaderExec",
        "AggregateExec",
        "SortExec",
        "SortExec(TopK)",
        "ProjectionExec",
        "FilterExec",
        "GlobalLimitExec",
        "LocalLimitExec",
        "CooperativeExec",
        "HashJoinExec",
        "SortMergeJoinExec",
        "BoundedWindowAggExec",
        "WindowAggExec",
        "UnionExec",
        "UnnestExec",
        "PlaceholderRowExec",
        "DataSourceExec",
        "ScalarSubqueryExec",
        "SegmentGenerator",
    ] {
        assert!(operators.contains_key(op), "no {op} planned: {operators:?}");
    }
    for s in ["mix", "hash", "sortedGather", "range", "none"] {
        assert!(shuffles.contains_key(s), "no {s} shuffle planned: {shuffles:?}");
    }
}

/// Runs a planned SELECT with one worker from *decoded* work orders, stage by stage through an
/// in-process shuffle; returns the final stage's single output partition.
async fn run_decoded(t: &TestEngine, p: &PlannedStatement) -> RecordBatch {
    let codec = codec();
    let shuffle = InProcessShuffle::new();
    let spill = tempfile::tempdir().unwrap();
    for stage in &p.query.stages {
        let order = work_orders(p, stage, 1).remove(0);
        let order = codec
            .decode_work_order(&codec.encode_work_order(&order).unwrap())
            .unwrap();
        let StageProcessor::Plan { plan, .. } = &order.stage.processor else {
            panic!("SELECT stages run plans");
        };
        let exec = Arc::new(ExecContext {
            counters: Arc::new(Mutex::new(StageCounters::default())),
            fetcher: shuffle.clone(),
            deep_storage: t.engine.deep_storage.clone(),
            max_parse_exceptions: 0,
            parse_errors: AtomicU64::new(0),
            batch_size: 4096,
            cancelled: Arc::new(AtomicBool::new(false)),
        });
        let config = SessionConfig::new().with_batch_size(4096).with_extension(exec.clone());
        let ctx = Arc::new(TaskContext::default().with_session_config(config));
        let spec = order.stage.shuffle.clone().unwrap_or(ShuffleSpec::Mix);
        let config = ShuffleWriterConfig {
            spill_dir: spill.path().to_path_buf(),
            ..Default::default()
        };
        let prefix = format!("s{}", stage.stage_number);
        let mut writer = ShuffleWriter::new(spec, plan.schema(), config, exec.counters.clone(), prefix).unwrap();
        for part in &order.partitions {
            let batches = datafusion::physical_plan::common::collect(plan.execute(*part, ctx.clone()).unwrap())
                .await
                .unwrap();
            for b in batches {
                tokio::task::block_in_place(|| writer.write(b)).unwrap();
            }
        }
        if writer.finish_reading().unwrap().is_some() {
            writer.apply_boundaries(&RangePartitions::single()).unwrap();
        }
        shuffle.put(stage.stage_number, 0, writer.finish().unwrap());
    }
    let last = p.query.final_stage();
    let schema = last.schema.clone();
    let stream = shuffle.read_partition(last.stage_number, 0, 4096).unwrap();
    let batches = datafusion::physical_plan::common::collect(stream).await.unwrap();
    arrow::compute::concat_batches(&schema, &batches).unwrap()
}

fn strings(batch: &RecordBatch, col: usize) -> Vec<Option<String>> {
    let c = cast(batch.column(col), &DataType::Utf8).unwrap();
    let c = c.as_string::<i32>();
    (0..c.len())
        .map(|i| c.is_valid(i).then(|| c.value(i).to_string()))
        .collect()
}

fn longs(batch: &RecordBatch, col: usize) -> Vec<i64> {
    let c = cast(batch.column(col), &DataType::Int64).unwrap();
    c.as_primitive::<Int64Type>().values().to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_fragments_compute_known_answers() {
    let t = engine();
    run_ok(&t.engine, &insert_wikipedia_sql("wikipedia"), json!({})).await;
    let rows = wiki_rows();
    assert_eq!(rows.len(), 39244);

    // GROUP BY over segments on two workers: partial aggregation, hash shuffle, final aggregation, sort.
    let p = plan(
        &t,
        "SELECT channel, COUNT(*) AS c, SUM(added) AS s FROM wikipedia GROUP BY channel ORDER BY channel",
        &context_with(&json!({}), 3),
    )
    .await
    .unwrap();
    assert!(p.query.stages.len() >= 2, "{:#?}", p.query.stages);
    assert!(p
        .query
        .stages
        .iter()
        .any(|s| matches!(s.shuffle, Some(ShuffleSpec::Hash { .. }))));
    let out = run_decoded(&t, &p).await;
    let mut want: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for r in &rows {
        let e = want.entry(r["channel"].as_str().unwrap().to_string()).or_default();
        e.0 += 1;
        e.1 += r["added"].as_i64().unwrap_or(0);
    }
    let got: BTreeMap<String, (i64, i64)> = strings(&out, 0)
        .into_iter()
        .zip(longs(&out, 1).into_iter().zip(longs(&out, 2)))
        .map(|(c, v)| (c.unwrap(), v))
        .collect();
    assert_eq!(out.num_rows(), 51);
    assert_eq!(got, want);
    assert_eq!(got["#en.wikipedia"].0, 11549);
    // Sorted by channel.
    let names: Vec<String> = strings(&out, 0).into_iter().map(Option::unwrap).collect();
    assert!(names.windows(2).all(|w| w[0] < w[1]));

    // EXTERN + TIME_PARSE/TIME_FLOOR (UDFs resolved by name through the registry).
    let sql = format!(
        "SELECT TIME_FLOOR(TIME_PARSE(\"time\"), 'PT1H') AS h, COUNT(*) AS c FROM {} GROUP BY 1 ORDER BY 1",
        wiki_extern()
    );
    let p = plan(&t, &sql, &context_with(&json!({}), 3)).await.unwrap();
    let out = run_decoded(&t, &p).await;
    let mut want: BTreeMap<i64, i64> = BTreeMap::new();
    for r in &rows {
        let ms = chrono::DateTime::parse_from_rfc3339(r["time"].as_str().unwrap())
            .unwrap()
            .timestamp_millis();
        *want.entry(ms - ms.rem_euclid(3_600_000)).or_default() += 1;
    }
    let got: Vec<(i64, i64)> = longs(&out, 0).into_iter().zip(longs(&out, 1)).collect();
    assert_eq!(got, want.into_iter().collect::<Vec<_>>());
    assert_eq!(got.len(), 24);

    // LATEST_BY (a UDAF resolved by name): the page at each channel's latest __time.
    let sql = "SELECT channel, LATEST_BY(page, __time) AS l, MAX(__time) AS t FROM wikipedia \
               WHERE channel IN ('#de.wikipedia', '#fr.wikipedia', '#ja.wikipedia') GROUP BY channel ORDER BY channel";
    let p = plan(&t, sql, &context_with(&json!({}), 3)).await.unwrap();
    let out = run_decoded(&t, &p).await;
    let mut latest: HashMap<&str, (String, Vec<&str>)> = HashMap::new();
    for r in &rows {
        let ch = r["channel"].as_str().unwrap();
        if !["#de.wikipedia", "#fr.wikipedia", "#ja.wikipedia"].contains(&ch) {
            continue;
        }
        let time = r["time"].as_str().unwrap().to_string();
        let page = r["page"].as_str().unwrap();
        let e = latest.entry(ch).or_insert_with(|| (time.clone(), vec![]));
        if time > e.0 {
            *e = (time, vec![page]);
        } else if time == e.0 {
            e.1.push(page);
        }
    }
    let channels = strings(&out, 0);
    let pages = strings(&out, 1);
    assert_eq!(
        channels,
        vec![
            Some("#de.wikipedia".into()),
            Some("#fr.wikipedia".into()),
            Some("#ja.wikipedia".into())
        ]
    );
    for (c, page) in channels.iter().zip(&pages) {
        let (_, candidates) = &latest[c.as_deref().unwrap()];
        assert!(
            candidates.contains(&page.as_deref().unwrap()),
            "{c:?}: {page:?} not among {candidates:?}"
        );
    }
}
