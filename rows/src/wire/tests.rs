use super::*;
use crate::exec::{ExecContext, ExternalScanExec, SegmentScanExec, SegmentSlice, ShuffleReaderExec};
use crate::input::ListSplits;
use arrow::array::{Int64Array, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use datafusion::common::ScalarValue;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::Operator;
use datafusion::physical_expr::expressions::{binary, col, lit};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::{collect, displayable};
use datafusion::prelude::SessionConfig;
use msq_engine::counters::{ChannelCounters, SegmentGenerationProgress, SortProgress, StageCounters};
use msq_engine::granularity::{Granularity, Interval};
use msq_engine::input::{
    CsvInputFormat, HttpInputSource, InlineInputSource, InputFormat, InputSource, InputSplit, JsonInputFormat,
    LocalInputSource, PasswordProvider,
};
use msq_engine::keystats::{boundaries_by_count, KeyRange, KeyStatistics, RangePartitions};
use msq_engine::metadata::{SegmentId, SegmentRecord};
use msq_engine::protocol::WorkOrder;
use msq_engine::protocol::{InputStageLocation, OutputLocation, WorkerResult, WorkerSettings};
use msq_engine::signature::{ColumnSignature, ColumnType, Signature};
use msq_engine::sort::SortColumn;
use msq_engine::stage::{
    PartitionTarget, ProcessorKind, RangeShuffle, SegmentGeneratorSpec, ShuffleSpec, StageDefinition, StageInput,
    StageProcessor, TimeBucket,
};
use msq_engine::MsqError;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64};
use std::sync::Arc;
use std::sync::Mutex;

fn codec() -> WireCodec {
    WireCodec::new(Arc::new(TaskContext::default()))
}

fn roundtrip<T: Serialize + DeserializeOwned>(v: &T) -> T {
    serde_json::from_slice(&serde_json::to_vec(v).unwrap()).unwrap()
}

fn text(plan: &Arc<dyn ExecutionPlan>) -> String {
    displayable(plan.as_ref()).indent(true).to_string()
}

fn signature() -> Signature {
    Signature(vec![
        ColumnSignature {
            name: "a".into(),
            column_type: ColumnType::Long,
        },
        ColumnSignature {
            name: "b".into(),
            column_type: ColumnType::String,
        },
    ])
}

const CSV: &str = "1,x\n2,y\n3,z\n4,x\n5,\n";

/// An external scan of inline CSV with its one split assigned.
fn csv_scan(input_number: usize) -> ExternalScanExec {
    let source = InputSource::Inline(InlineInputSource { data: CSV.into() });
    let format = InputFormat::Csv(CsvInputFormat {
        columns: vec!["a".into(), "b".into()],
        ..Default::default()
    });
    let scan = ExternalScanExec::new(source.clone(), format, signature(), 1, None, input_number).unwrap();
    scan.with_splits(vec![source.splits().unwrap()])
}

fn segment_slice(n: u32) -> SegmentSlice {
    let interval = Interval::new(1_442_016_000_000, 1_442_019_600_000);
    SegmentSlice {
        segment_id: format!("ds_2015_v{n}"),
        path: format!("segments/ds/{n}.parquet"),
        size_bytes: 1000 + n as u64,
        num_rows: 10 * n as u64,
        interval,
        visible: vec![Interval::new(interval.start, interval.start + 60_000), interval],
    }
}

fn exec_task_context() -> Arc<TaskContext> {
    let exec = ExecContext {
        counters: Arc::new(Mutex::new(StageCounters::default())),
        fetcher: crate::shuffle::InProcessShuffle::new(),
        deep_storage: Arc::new(object_store::memory::InMemory::new()),
        max_parse_exceptions: 0,
        parse_errors: AtomicU64::new(0),
        batch_size: 2,
        cancelled: Arc::new(AtomicBool::new(false)),
    };
    let config = SessionConfig::new().with_extension(Arc::new(exec));
    Arc::new(TaskContext::default().with_session_config(config))
}

#[test]
fn msq_error_roundtrips_every_shape() {
    let errors = vec![
        MsqError::SqlParse("bad".into()),
        MsqError::Canceled,
        MsqError::InsertTimeNull { detail: None },
        MsqError::InsertTimeNull {
            detail: Some("row 3".into()),
        },
        MsqError::TooManyWarnings {
            max_warnings: 2,
            root_error_code: "CannotParseExternalData".into(),
            root_error: Box::new(MsqError::CannotParseExternalData {
                message: "Unable to parse row [x]".into(),
            }),
        },
        MsqError::TooManyClusteredByColumns {
            num_columns: 1501,
            max_columns: 1500,
            stage: 2,
        },
        MsqError::InvalidNullByte {
            source_name: "file:/a".into(),
            row_number: 7,
            column: "c".into(),
            value: "a\0b".into(),
            position: 1,
        },
        MsqError::Io("disk".into()),
    ];
    for e in errors {
        let back: MsqError = roundtrip(&e);
        assert_eq!(back, e);
        assert_eq!(back.error_code(), e.error_code());
        assert_eq!(back.to_fault(), e.to_fault());
        assert_eq!(back.to_string(), e.to_string());
    }
    // The boxed root error keeps its own code and message.
    let v = serde_json::to_value(MsqError::TooManyWarnings {
        max_warnings: 0,
        root_error_code: "CannotParseExternalData".into(),
        root_error: Box::new(MsqError::CannotParseExternalData { message: "m".into() }),
    })
    .unwrap();
    assert_eq!(v["type"], "TooManyWarnings");
    assert_eq!(v["fields"]["root_error"]["type"], "CannotParseExternalData");
    assert_eq!(v["fields"]["root_error"]["fields"]["message"], "m");
}

#[test]
fn key_statistics_and_partitions_roundtrip() {
    let mut stats = KeyStatistics::new(32);
    for i in 0..1000u32 {
        stats.add(i64::from(i % 3), format!("k{:05}", (i * 7919) % 1000).as_bytes());
    }
    assert!(!stats.is_exact());
    let back: KeyStatistics = roundtrip(&stats);
    assert_eq!(back.total_rows(), 1000);
    assert_eq!(back.buckets().collect::<Vec<_>>(), vec![(0, 334), (1, 333), (2, 333)]);
    assert_eq!(back.retained_keys(), stats.retained_keys());
    for b in 0..3 {
        assert_eq!(back.weighted_keys(b), stats.weighted_keys(b));
    }
    assert_eq!(boundaries_by_count(&back, 4), boundaries_by_count(&stats, 4));

    let parts = RangePartitions {
        ranges: vec![
            KeyRange {
                bucket: 0,
                start: None,
                end: Some(b"m".to_vec()),
            },
            KeyRange {
                bucket: 0,
                start: Some(b"m".to_vec()),
                end: None,
            },
            KeyRange::full(5),
        ],
    };
    let back: RangePartitions = roundtrip(&parts);
    assert_eq!(back, parts);
    assert_eq!(back.partition_for(0, b"z"), 1);
    assert_eq!(roundtrip(&RangePartitions::single()), RangePartitions::single());
}

#[test]
fn counters_and_worker_results_roundtrip() {
    let mut c = StageCounters::with_inputs(2);
    c.inputs[0].add_rows(0, 10, 100);
    c.inputs[0].add_file(0);
    c.inputs[0].set_total_files(0, 3);
    c.inputs[1].add_frame(2, 5, 50);
    c.output.add_frame(1, 7, 70);
    c.shuffle = Some(ChannelCounters::default());
    c.sort_progress = Some(SortProgress {
        runs: 4,
        spilled_runs: 1,
        merged_runs: 2,
        intermediate_runs: 0,
        partitions: 3,
        done: false,
    });
    c.segment_generation = Some(SegmentGenerationProgress {
        rows_processed: 9,
        rows_persisted: 8,
        rows_merged: 7,
        rows_pushed: 6,
    });
    c.warnings.insert("CannotParseExternalData".into(), 2);
    let back: StageCounters = roundtrip(&c);
    assert_eq!(back, c);
    assert_eq!(back.to_report_json(), c.to_report_json());

    let id = SegmentId::new("wiki", Interval::new(0, 3_600_000), "2024-01-01T00:00:00.000Z", 2);
    let record = SegmentRecord {
        id: id.clone(),
        used: false,
        is_tombstone: false,
        num_rows: 12,
        size_bytes: 345,
        path: "segments/wiki/x.parquet".into(),
        signature: signature(),
        min_time: Some(5),
        max_time: Some(3_599_999),
        created_date: "2024-01-01T00:00:00.000Z".into(),
        used_status_last_updated: "2024-01-01T00:00:00.000Z".into(),
        shard_spec: serde_json::json!({"type": "numbered", "partitionNum": 2, "partitions": 0}),
    };
    for location in [
        None,
        Some(OutputLocation::Local),
        Some(OutputLocation::Http {
            url: "http://w1:8091".into(),
            worker: 1,
        }),
        Some(OutputLocation::Durable {
            prefix: "shuffle/q/1".into(),
        }),
    ] {
        let r = WorkerResult {
            partition_rows: vec![3, 0, 9],
            segments: vec![record.clone()],
            location: location.clone(),
        };
        let back: WorkerResult = roundtrip(&r);
        assert_eq!(back.partition_rows, vec![3, 0, 9]);
        assert_eq!(back.segments, vec![record.clone()]);
        assert_eq!(back.location, location);
    }
}

#[test]
fn leaf_operators_roundtrip() {
    let codec = codec();
    // External scan with assigned splits and a projection.
    let source = InputSource::Http(Box::new(HttpInputSource {
        uris: vec!["http://h/a.json".into(), "http://h/b.json.gz".into()],
        http_authentication_username: Some("u".into()),
        http_authentication_password: Some(PasswordProvider::Environment { variable: "PW".into() }),
        request_headers: BTreeMap::from([("X-A".to_string(), "1".to_string())]),
    }));
    let ext = ExternalScanExec::new(source, InputFormat::json(), signature(), 2, Some(vec![1]), 3)
        .unwrap()
        .with_splits(vec![
            vec![InputSplit::http("http://h/a.json")],
            vec![InputSplit::file("/x/b.json", 7)],
        ]);
    let plan: Arc<dyn ExecutionPlan> = Arc::new(ext.clone());
    let back = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap();
    let e = back.downcast_ref::<ExternalScanExec>().expect("an external scan");
    assert_eq!(e.source, ext.source);
    assert_eq!(e.format, ext.format);
    assert_eq!(e.signature, ext.signature);
    assert_eq!(e.splits, ext.splits);
    assert_eq!(e.projection, Some(vec![1]));
    assert_eq!(e.input_number, 3);
    assert_eq!(back.schema(), plan.schema());
    assert_eq!(back.properties().output_partitioning().partition_count(), 2);
    assert_eq!(text(&back), text(&plan));

    // Segment scan.
    let table: SchemaRef = Arc::new(Schema::new(vec![
        Field::new("__time", msq_engine::signature::time_data_type(), false),
        Field::new("channel", DataType::Utf8, true),
        Field::new("added", DataType::Int64, true),
    ]));
    let seg = SegmentScanExec::new(
        "ds".into(),
        vec![vec![segment_slice(1), segment_slice(2)], vec![], vec![segment_slice(3)]],
        table.clone(),
        Some(vec![0, 2]),
        1,
    )
    .unwrap();
    let plan: Arc<dyn ExecutionPlan> = Arc::new(seg.clone());
    let back = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap();
    let s = back.downcast_ref::<SegmentScanExec>().expect("a segment scan");
    assert_eq!(s.data_source, "ds");
    assert_eq!(s.segments, seg.segments);
    assert_eq!(s.table_schema, table);
    assert_eq!(s.projection, Some(vec![0, 2]));
    assert_eq!(s.input_number, 1);
    assert_eq!(back.schema(), plan.schema());
    assert_eq!(text(&back), text(&plan));

    // Shuffle reader with an ordering (descending, nulls last on the second column).
    let schema = table.clone();
    let ordering = LexOrdering::new(vec![
        PhysicalSortExpr::new_default(col("channel", &schema).unwrap())
            .desc()
            .nulls_last(),
        PhysicalSortExpr::new_default(col("__time", &schema).unwrap()),
    ])
    .unwrap();
    let reader = ShuffleReaderExec::new(4, 2, schema.clone(), 5, Some(ordering.clone()));
    let plan: Arc<dyn ExecutionPlan> = Arc::new(SortExec::new(ordering.clone(), Arc::new(reader)));
    let back = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap();
    assert_eq!(text(&back), text(&plan));
    let r = back.children()[0]
        .downcast_ref::<ShuffleReaderExec>()
        .expect("a shuffle reader");
    assert_eq!((r.stage, r.input_number, r.partitions), (4, 2, 5));
    assert_eq!(r.ordering.as_ref().map(|o| o.to_string()), Some(ordering.to_string()));
    assert_eq!(
        back.children()[0].properties().output_ordering().map(|o| o.to_string()),
        Some(ordering.to_string())
    );
    // Without ordering.
    let plan: Arc<dyn ExecutionPlan> = Arc::new(ShuffleReaderExec::new(0, 0, schema, 1, None));
    let back = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap();
    assert!(back.downcast_ref::<ShuffleReaderExec>().unwrap().ordering.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decoded_fragment_executes_like_the_original() {
    let scan: Arc<dyn ExecutionPlan> = Arc::new(csv_scan(0));
    let schema = scan.schema();
    let predicate = binary(
        col("a", &schema).unwrap(),
        Operator::GtEq,
        lit(ScalarValue::Int64(Some(2))),
        &schema,
    )
    .unwrap();
    let filter: Arc<dyn ExecutionPlan> = Arc::new(FilterExec::try_new(predicate, scan).unwrap());
    let times_ten = binary(
        col("a", &schema).unwrap(),
        Operator::Multiply,
        lit(ScalarValue::Int64(Some(10))),
        &schema,
    )
    .unwrap();
    let plan: Arc<dyn ExecutionPlan> = Arc::new(
        ProjectionExec::try_new(
            vec![
                (times_ten, "a10".to_string()),
                (col("b", &schema).unwrap(), "b".to_string()),
            ],
            filter,
        )
        .unwrap(),
    );
    let codec = codec();
    let back = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap();
    assert_eq!(text(&back), text(&plan));

    let got = collect(back, exec_task_context()).await.unwrap();
    let want = collect(plan, exec_task_context()).await.unwrap();
    let got = arrow::compute::concat_batches(&got[0].schema(), &got).unwrap();
    let want = arrow::compute::concat_batches(&want[0].schema(), &want).unwrap();
    assert_eq!(got, want);
    // Independently: rows with a >= 2 of the CSV, a times ten (the empty string is null).
    let expected = RecordBatch::try_new(
        got.schema(),
        vec![
            Arc::new(Int64Array::from(vec![20, 30, 40, 50])),
            Arc::new(StringArray::from(vec![Some("y"), Some("z"), Some("x"), None])),
        ],
    )
    .unwrap();
    assert_eq!(got, expected);
}

fn settings() -> WorkerSettings {
    WorkerSettings {
        memory_budget: 1 << 26,
        output_budget: Some(1 << 20),
        batch_size: 512,
        max_parse_exceptions: -1,
        spill_dir: "/tmp/msq-spill".into(),
        durable_shuffle: true,
        max_temp_storage_bytes: 1 << 30,
    }
}

/// Asserts every field of two work orders is the same (plans by their display text).
fn assert_same_order(a: &WorkOrder, b: &WorkOrder) {
    assert_eq!(a.query_id, b.query_id);
    assert_eq!(a.worker_number, b.worker_number);
    assert_eq!(a.worker_count, b.worker_count);
    assert_eq!(a.partitions, b.partitions);
    assert_eq!(a.segments, b.segments);
    assert_eq!(
        serde_json::to_value(&a.settings).unwrap(),
        serde_json::to_value(&b.settings).unwrap()
    );
    assert_eq!(a.inputs, b.inputs);
    assert_eq!(a.attempt, b.attempt);
    let (s, t) = (&a.stage, &b.stage);
    assert_eq!(s.stage_number, t.stage_number);
    assert_eq!(s.id, t.id);
    assert_eq!(s.inputs, t.inputs);
    assert_eq!(s.broadcast, t.broadcast);
    assert_eq!(s.schema, t.schema);
    assert_eq!(s.max_worker_count, t.max_worker_count);
    match (&s.processor, &t.processor) {
        (StageProcessor::Plan { kind: k1, plan: p1 }, StageProcessor::Plan { kind: k2, plan: p2 }) => {
            assert_eq!(k1, k2);
            assert_eq!(text(p1), text(p2));
            assert_eq!(p1.schema(), p2.schema());
        }
        (StageProcessor::SegmentGenerator(x), StageProcessor::SegmentGenerator(y)) => assert_eq!(x, y),
        (x, y) => panic!("processors differ: {x:?} vs {y:?}"),
    }
    match (&s.shuffle, &t.shuffle) {
        (None, None) | (Some(ShuffleSpec::Mix), Some(ShuffleSpec::Mix)) => {}
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
            let show = |k: &[Arc<dyn PhysicalExpr>]| k.iter().map(|e| format!("{e:?}")).collect::<Vec<_>>();
            assert_eq!(show(k1), show(k2));
            assert_eq!((n1, p1), (n2, p2));
        }
        (Some(ShuffleSpec::SortedGather { sort: x }), Some(ShuffleSpec::SortedGather { sort: y })) => assert_eq!(x, y),
        (Some(ShuffleSpec::Range(x)), Some(ShuffleSpec::Range(y))) => assert_eq!(x, y),
        (x, y) => panic!("shuffles differ: {x:?} vs {y:?}"),
    }
}

#[test]
fn work_orders_roundtrip_every_stage_shape() {
    let codec = codec();
    let scan: Arc<dyn ExecutionPlan> = Arc::new(csv_scan(0));
    let schema = scan.schema();
    let a_plus_one = binary(
        col("a", &schema).unwrap(),
        Operator::Plus,
        lit(ScalarValue::Int64(Some(1))),
        &schema,
    )
    .unwrap();
    let inputs = vec![
        StageInput::External {
            input_source: InputSource::Local(LocalInputSource {
                base_dir: Some("/data".into()),
                filter: Some("*.json.gz".into()),
                files: vec!["/x.json".into()],
            }),
            input_format: InputFormat::Json(JsonInputFormat {
                keep_null_columns: true,
                ..Default::default()
            }),
            signature: signature(),
        },
        StageInput::Stage { stage: 3 },
        StageInput::Table {
            data_source: "wiki".into(),
            intervals: vec![Interval::new(0, 10), Interval::new(20, 30)],
        },
    ];
    let shuffles = vec![
        None,
        Some(ShuffleSpec::Mix),
        Some(ShuffleSpec::Hash {
            keys: vec![col("b", &schema).unwrap(), a_plus_one],
            key_names: vec!["b".into(), "a + 1".into()],
            partitions: 7,
        }),
        Some(ShuffleSpec::SortedGather {
            sort: vec![SortColumn {
                index: 1,
                descending: true,
                nulls_first: false,
            }],
        }),
        Some(ShuffleSpec::Range(RangeShuffle {
            sort: vec![SortColumn {
                index: 0,
                descending: false,
                nulls_first: true,
            }],
            key: vec![SortColumn {
                index: 1,
                descending: false,
                nulls_first: true,
            }],
            bucket: Some(TimeBucket {
                column: 0,
                granularity: Granularity::Hour,
            }),
            target: PartitionTarget::RowsPerPartition(3_000_000),
        })),
        Some(ShuffleSpec::Range(RangeShuffle {
            sort: vec![],
            key: vec![],
            bucket: None,
            target: PartitionTarget::Count(4),
        })),
    ];
    let location = InputStageLocation {
        schema: schema.clone(),
        partition_count: 3,
        sort: Some(vec![SortColumn {
            index: 0,
            descending: false,
            nulls_first: true,
        }]),
        sources: vec![
            OutputLocation::Local,
            OutputLocation::Http {
                url: "http://w:1".into(),
                worker: 1,
            },
        ],
    };
    for (i, shuffle) in shuffles.into_iter().enumerate() {
        let stage = StageDefinition {
            stage_number: 4,
            id: "q_4".into(),
            inputs: inputs.clone(),
            broadcast: vec![1],
            processor: StageProcessor::Plan {
                kind: ProcessorKind::GroupByPreShuffle,
                plan: scan.clone(),
            },
            schema: schema.clone(),
            shuffle,
            max_worker_count: 3,
        };
        let order = WorkOrder {
            query_id: "q".into(),
            stage: Arc::new(stage),
            worker_number: 1,
            worker_count: 3,
            partitions: vec![1, 4],
            segments: vec![],
            settings: settings(),
            inputs: BTreeMap::from([(3, location.clone())]),
            attempt: i as u32,
        };
        let bytes = codec.encode_work_order(&order).unwrap();
        let back = codec.decode_work_order(&bytes).unwrap();
        assert_same_order(&order, &back);
        // The wire form is JSON with a versioned envelope.
        let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(v["wireVersion"], WIRE_VERSION);
        assert_eq!(v["stage"]["processor"]["kind"], "groupByPreShuffle");
    }

    // Segment generation.
    let spec = SegmentGeneratorSpec {
        data_source: "wiki".into(),
        granularity: Granularity::Day,
        columns: vec!["__time".into(), "channel".into()],
        cluster_by: vec!["channel".into()],
        sort_order: vec!["__time".into(), "channel".into()],
        rows_per_segment: 5,
        max_rows_in_memory: 6,
        replace: Some(vec![Interval::new(0, 86_400_000)]),
        max_num_workers: 2,
    };
    let order = WorkOrder {
        query_id: "q".into(),
        stage: Arc::new(StageDefinition {
            stage_number: 2,
            id: "q_2".into(),
            inputs: vec![StageInput::Stage { stage: 1 }],
            broadcast: vec![],
            processor: StageProcessor::SegmentGenerator(spec),
            schema: Arc::new(Schema::empty()),
            shuffle: None,
            max_worker_count: 2,
        }),
        worker_number: 0,
        worker_count: 2,
        partitions: vec![0, 2],
        segments: vec![
            msq_engine::protocol::SegmentSlot {
                partition: 0,
                id: SegmentId::new("wiki", Interval::new(0, 86_400_000), "v1", 0),
                rows: Some(7),
            },
            msq_engine::protocol::SegmentSlot {
                partition: 2,
                id: SegmentId::new("wiki", Interval::new(0, 86_400_000), "v1", 1),
                rows: None,
            },
        ],
        settings: settings(),
        inputs: BTreeMap::new(),
        attempt: 2,
    };
    let back = codec
        .decode_work_order(&codec.encode_work_order(&order).unwrap())
        .unwrap();
    assert_same_order(&order, &back);
}

#[test]
fn decoded_hash_keys_hash_rows_like_the_originals() {
    let codec = codec();
    let scan: Arc<dyn ExecutionPlan> = Arc::new(csv_scan(0));
    let schema = scan.schema();
    let keys = vec![
        col("b", &schema).unwrap(),
        binary(
            col("a", &schema).unwrap(),
            Operator::Modulo,
            lit(ScalarValue::Int64(Some(2))),
            &schema,
        )
        .unwrap(),
    ];
    let order = WorkOrder {
        query_id: "q".into(),
        stage: Arc::new(StageDefinition {
            stage_number: 0,
            id: "q_0".into(),
            inputs: vec![],
            broadcast: vec![],
            processor: StageProcessor::Plan {
                kind: ProcessorKind::Scan,
                plan: scan,
            },
            schema: schema.clone(),
            shuffle: Some(ShuffleSpec::Hash {
                keys: keys.clone(),
                key_names: vec!["b".into(), "a % 2".into()],
                partitions: 3,
            }),
            max_worker_count: 1,
        }),
        worker_number: 0,
        worker_count: 1,
        partitions: vec![0],
        segments: vec![],
        settings: settings(),
        inputs: BTreeMap::new(),
        attempt: 0,
    };
    let back = codec
        .decode_work_order(&codec.encode_work_order(&order).unwrap())
        .unwrap();
    let Some(ShuffleSpec::Hash { keys: decoded, .. }) = &back.stage.shuffle else {
        panic!("hash shuffle expected");
    };
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3, 4, 5, 6])),
            Arc::new(StringArray::from(vec![
                Some("x"),
                Some("y"),
                None,
                Some("x"),
                Some("y"),
                Some("z"),
            ])),
        ],
    )
    .unwrap();
    let want = crate::shuffle::partitioner::hash_partitions(&batch, &keys, 3).unwrap();
    let got = crate::shuffle::partitioner::hash_partitions(&batch, decoded, 3).unwrap();
    assert_eq!(got, want);
    assert!(want.iter().all(|p| *p < 3));
}

#[test]
fn malformed_input_is_a_clear_error() {
    let codec = codec();
    let e = codec.decode_plan(b"\xff\xff\xff").unwrap_err();
    assert_eq!(e.error_code(), "UnknownError");
    assert!(e.to_string().starts_with("wire format: cannot decode plan"), "{e}");

    let e = codec.decode_work_order(b"{not json").unwrap_err();
    assert!(
        e.to_string().starts_with("wire format: cannot decode work order"),
        "{e}"
    );

    // A future version is refused.
    let order = WorkOrder {
        query_id: "q".into(),
        stage: Arc::new(StageDefinition {
            stage_number: 0,
            id: "q_0".into(),
            inputs: vec![],
            broadcast: vec![],
            processor: StageProcessor::Plan {
                kind: ProcessorKind::Scan,
                plan: Arc::new(csv_scan(0)),
            },
            schema: signature().to_arrow_schema(),
            shuffle: Some(ShuffleSpec::Mix),
            max_worker_count: 1,
        }),
        worker_number: 0,
        worker_count: 1,
        partitions: vec![0],
        segments: vec![],
        settings: settings(),
        inputs: BTreeMap::new(),
        attempt: 0,
    };
    let mut v: serde_json::Value = serde_json::from_slice(&codec.encode_work_order(&order).unwrap()).unwrap();
    v["wireVersion"] = serde_json::json!(WIRE_VERSION + 1);
    let e = codec.decode_work_order(&serde_json::to_vec(&v).unwrap()).unwrap_err();
    assert!(e.to_string().contains("version 2 is not supported"), "{e}");

    // A plan naming a function the registry does not hold.
    let udf = datafusion::logical_expr::ScalarUDF::from(NotRegistered::default());
    let schema = signature().to_arrow_schema();
    let expr: Arc<dyn PhysicalExpr> = Arc::new(
        datafusion::physical_expr::ScalarFunctionExpr::try_new(
            Arc::new(udf),
            vec![col("a", &schema).unwrap()],
            &schema,
            Arc::new(datafusion::common::config::ConfigOptions::default()),
        )
        .unwrap(),
    );
    let scan: Arc<dyn ExecutionPlan> = Arc::new(csv_scan(0));
    let plan: Arc<dyn ExecutionPlan> = Arc::new(ProjectionExec::try_new(vec![(expr, "x".to_string())], scan).unwrap());
    let e = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap_err();
    assert!(e.to_string().contains("not_registered"), "{e}");
}

/// A scalar function no registry holds.
#[derive(Debug, PartialEq, Eq, Hash)]
struct NotRegistered {
    signature: datafusion::logical_expr::Signature,
}

impl Default for NotRegistered {
    fn default() -> Self {
        NotRegistered {
            signature: datafusion::logical_expr::Signature::any(1, datafusion::logical_expr::Volatility::Immutable),
        }
    }
}

impl datafusion::logical_expr::ScalarUDFImpl for NotRegistered {
    fn name(&self) -> &str {
        "not_registered"
    }

    fn signature(&self) -> &datafusion::logical_expr::Signature {
        &self.signature
    }

    fn return_type(&self, arg_types: &[DataType]) -> datafusion::error::Result<DataType> {
        Ok(arg_types[0].clone())
    }

    fn invoke_with_args(
        &self,
        args: datafusion::logical_expr::ScalarFunctionArgs,
    ) -> datafusion::error::Result<datafusion::logical_expr::ColumnarValue> {
        Ok(args.args[0].clone())
    }
}
