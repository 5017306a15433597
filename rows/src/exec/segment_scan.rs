//! Leaf operator that reads a datasource's segments (Parquet files in deep storage).

use super::context::ExecContext;
use super::leaf::{leaf_execution_plan, leaf_properties, LeafExec};
use arrow::array::{new_null_array, Array, ArrayRef, BooleanArray, TimestampMillisecondArray};
use arrow::compute::{cast, filter_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::stats::Precision;
use datafusion::common::Statistics;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, PlanProperties, SendableRecordBatchStream};
use futures::StreamExt;
use msq_engine::counters::update;
use msq_engine::granularity::Interval;
use msq_engine::signature::TIME_COLUMN;
use msq_engine::MsqError;
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions};
#[allow(deprecated)] // the replacement (a hand-written AsyncFileReader) buys nothing here yet
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::{ParquetRecordBatchStreamBuilder, ProjectionMask};
use std::sync::Arc;

/// One segment to read, with the parts of its interval that are visible (not overshadowed).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SegmentSlice {
    pub segment_id: String,
    pub path: String,
    pub size_bytes: u64,
    pub num_rows: u64,
    pub interval: Interval,
    pub visible: Vec<Interval>,
}

impl SegmentSlice {
    fn fully_visible(&self) -> bool {
        self.visible.len() == 1 && self.visible[0] == self.interval
    }
}

/// Reads segments; partition `p` reads `segments[p]`.
#[derive(Debug, Clone)]
pub struct SegmentScanExec {
    pub data_source: String,
    pub segments: Vec<Vec<SegmentSlice>>,
    pub table_schema: SchemaRef,
    pub projection: Option<Vec<usize>>,
    pub input_number: usize,
    schema: SchemaRef,
    props: Arc<PlanProperties>,
}

impl SegmentScanExec {
    /// A scan of `segments` (one list per partition).
    pub fn new(
        data_source: String,
        segments: Vec<Vec<SegmentSlice>>,
        table_schema: SchemaRef,
        projection: Option<Vec<usize>>,
        input_number: usize,
    ) -> datafusion::error::Result<Self> {
        let schema = match &projection {
            Some(p) => Arc::new(table_schema.project(p)?),
            None => table_schema.clone(),
        };
        let props = leaf_properties(schema.clone(), segments.len());
        Ok(SegmentScanExec {
            data_source,
            segments,
            table_schema,
            projection,
            input_number,
            schema,
            props,
        })
    }
}

impl SegmentScanExec {
    /// The same scan reporting as input number `n`.
    pub fn with_input_number(&self, n: usize) -> Self {
        let mut s = self.clone();
        s.input_number = n;
        s
    }

    /// Intervals this scan reads (for the report).
    pub fn intervals(&self) -> Vec<Interval> {
        let mut v: Vec<Interval> = self.segments.iter().flatten().flat_map(|s| s.visible.clone()).collect();
        v.sort();
        v.dedup();
        v
    }
}

impl DisplayAs for SegmentScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let n: usize = self.segments.iter().map(|s| s.len()).sum();
        write!(
            f,
            "SegmentScanExec: dataSource={}, partitions={}, segments={}",
            self.data_source,
            self.segments.len(),
            n
        )
    }
}

leaf_execution_plan!(SegmentScanExec);

impl LeafExec for SegmentScanExec {
    const NAME: &'static str = "SegmentScanExec";

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    /// The exact row count when every segment read is wholly visible (a segment's row count
    /// is recorded at publishing), so `COUNT(*)` needs no read; else nothing.
    fn statistics(&self, partition: Option<usize>) -> Statistics {
        let mut stats = Statistics::new_unknown(&self.schema);
        let slices: Vec<&SegmentSlice> = match partition {
            Some(p) => self.segments.get(p).into_iter().flatten().collect(),
            None => self.segments.iter().flatten().collect(),
        };
        if slices.iter().all(|s| s.fully_visible()) {
            let rows: u64 = slices.iter().map(|s| s.num_rows).sum();
            stats.num_rows = Precision::Exact(usize::try_from(rows).unwrap_or(usize::MAX));
        }
        stats
    }

    fn open(&self, partition: usize, ctx: Arc<ExecContext>) -> datafusion::error::Result<SendableRecordBatchStream> {
        let segments = self.segments.get(partition).cloned().unwrap_or_default();
        let schema = self.schema.clone();
        let input = self.input_number;
        let (tx, rx) = tokio::sync::mpsc::channel::<datafusion::error::Result<RecordBatch>>(2);
        let task_schema = schema.clone();
        tokio::spawn(async move {
            update(&ctx.counters, |c| {
                c.input_mut(input).set_total_files(0, segments.len() as u64);
            });
            for seg in &segments {
                let mut stream = match open_segment(ctx.deep_storage.clone(), seg, &task_schema, ctx.batch_size).await {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                };
                while let Some(b) = stream.next().await {
                    if let Err(e) = ctx.check_cancelled() {
                        let _ = tx.send(Err(e.into())).await;
                        return;
                    }
                    let b = b.and_then(|b| adapt_batch(b, seg, &task_schema));
                    if let Ok(b) = &b {
                        update(&ctx.counters, |c| {
                            c.inputs[input].add_rows(0, b.num_rows() as u64, msq_engine::counters::frame_bytes(b))
                        });
                    }
                    if tx.send(b.map_err(Into::into)).await.is_err() {
                        return;
                    }
                }
                update(&ctx.counters, |c| c.inputs[input].add_file(0));
            }
        });
        Ok(crate::shuffle::store::receiver_stream(schema, rx))
    }
}

type BatchStream = futures::stream::BoxStream<'static, msq_engine::Result<RecordBatch>>;

/// Parsed Parquet footers of segments read recently. A segment file never changes once
/// published (a new version gets a new path), so its footer is read and parsed once, not on
/// every query: for small queries over many segments that was most of the I/O.
mod metadata_cache {
    use parquet::arrow::arrow_reader::ArrowReaderMetadata;
    use std::collections::{HashMap, VecDeque};
    use std::sync::Mutex;

    /// Deep storage (its `Display`), path, size.
    pub type Key = (String, String, u64);

    /// Bytes of parsed footers kept; the oldest go first.
    const MAX_BYTES: usize = 64 << 20;

    #[derive(Default)]
    struct Cache {
        entries: HashMap<Key, (ArrowReaderMetadata, usize)>,
        order: VecDeque<Key>,
        bytes: usize,
    }

    static CACHE: Mutex<Option<Cache>> = Mutex::new(None);

    pub fn get(key: &Key) -> Option<ArrowReaderMetadata> {
        let guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        guard.as_ref()?.entries.get(key).map(|(m, _)| m.clone())
    }

    pub fn put(key: Key, metadata: ArrowReaderMetadata) {
        let size = metadata.metadata().memory_size() + key.0.len() + key.1.len();
        if size > MAX_BYTES {
            return;
        }
        let mut guard = CACHE.lock().unwrap_or_else(|e| e.into_inner());
        let cache = guard.get_or_insert_with(Cache::default);
        if cache.entries.contains_key(&key) {
            return;
        }
        while cache.bytes + size > MAX_BYTES {
            let Some(old) = cache.order.pop_front() else { break };
            if let Some((_, n)) = cache.entries.remove(&old) {
                cache.bytes -= n;
            }
        }
        cache.order.push_back(key.clone());
        cache.entries.insert(key, (metadata, size));
        cache.bytes += size;
    }
}

/// Opens one segment file, reading the columns of `schema` it has (plus `__time` when rows
/// must be filtered to the visible intervals).
async fn open_segment(
    store: Arc<dyn ObjectStore>,
    seg: &SegmentSlice,
    schema: &SchemaRef,
    batch_size: usize,
) -> msq_engine::Result<BatchStream> {
    let key = (store.to_string(), seg.path.clone(), seg.size_bytes);
    #[allow(deprecated)]
    let mut reader =
        ParquetObjectReader::new(store, ObjectPath::from(seg.path.as_str())).with_file_size(seg.size_bytes);
    let metadata = match metadata_cache::get(&key) {
        Some(m) => m,
        None => {
            let m = ArrowReaderMetadata::load_async(&mut reader, ArrowReaderOptions::new()).await?;
            let m = with_string_views(m);
            metadata_cache::put(key, m.clone());
            m
        }
    };
    let builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, metadata);
    let file_schema = builder.schema().clone();
    let mut wanted: Vec<usize> = schema
        .fields()
        .iter()
        .filter_map(|f| file_schema.index_of(f.name()).ok())
        .collect();
    if !seg.fully_visible() {
        if let Ok(t) = file_schema.index_of(TIME_COLUMN) {
            wanted.push(t);
        }
    }
    wanted.sort_unstable();
    wanted.dedup();
    let mask = ProjectionMask::roots(builder.parquet_schema(), wanted);
    let stream = builder.with_projection(mask).with_batch_size(batch_size).build()?;
    Ok(stream.map(|r| r.map_err(MsqError::from)).boxed())
}

/// The same footer reading plain string columns as `Utf8View` (a dictionary page's values
/// are then shared by views, not copied once per row). JSON columns (marked by field
/// metadata) stay `Utf8`; a footer the hint does not fit is kept as it is.
fn with_string_views(m: ArrowReaderMetadata) -> ArrowReaderMetadata {
    let plain_string = |f: &Field| f.data_type() == &DataType::Utf8 && f.metadata().is_empty();
    let schema = m.schema();
    if !schema.fields().iter().any(|f| plain_string(f)) {
        return m;
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match plain_string(f) {
            true => f.as_ref().clone().with_data_type(DataType::Utf8View),
            false => f.as_ref().clone(),
        })
        .collect();
    let hint = Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()));
    ArrowReaderMetadata::try_new(m.metadata().clone(), ArrowReaderOptions::new().with_schema(hint)).unwrap_or(m)
}

/// Keeps visible rows and shapes a segment batch to the scan schema (missing columns → nulls).
fn adapt_batch(batch: RecordBatch, seg: &SegmentSlice, schema: &SchemaRef) -> msq_engine::Result<RecordBatch> {
    let batch = if seg.fully_visible() {
        batch
    } else {
        let idx = batch.schema().index_of(TIME_COLUMN).map_err(MsqError::from)?;
        let t = cast(batch.column(idx), &DataType::Timestamp(TimeUnit::Millisecond, None))?;
        let t = t
            .as_any()
            .downcast_ref::<TimestampMillisecondArray>()
            .expect("ms timestamps");
        let keep: BooleanArray = (0..t.len())
            .map(|i| Some(!t.is_null(i) && seg.visible.iter().any(|v| v.contains(t.value(i)))))
            .collect();
        filter_record_batch(&batch, &keep)?
    };
    let rows = batch.num_rows();
    let cols: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|f| match batch.schema().index_of(f.name()) {
            Ok(i) => {
                let c = batch.column(i);
                if c.data_type() == f.data_type() {
                    Ok(c.clone())
                } else {
                    cast(c, f.data_type()).map_err(MsqError::from)
                }
            }
            Err(_) => Ok(new_null_array(f.data_type(), rows)),
        })
        .collect::<msq_engine::Result<_>>()?;
    Ok(RecordBatch::try_new_with_options(
        schema.clone(),
        cols,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )?)
}
