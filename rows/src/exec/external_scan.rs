//! Leaf operator that reads `EXTERN` input: each partition reads the input splits assigned to it.

use super::context::ExecContext;
use super::leaf::{leaf_execution_plan, leaf_properties, LeafExec};
use crate::input::open_split;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, PlanProperties, SendableRecordBatchStream};
use msq_engine::counters::update;
use msq_engine::input::{InputFormat, InputSource, InputSplit};
use msq_engine::signature::Signature;
use msq_engine::MsqError;
use std::sync::Arc;

/// Reads external input splits; partition `p` reads `splits[p]`. The controller assigns the
/// splits when the stage starts (`with_splits`), as Druid's controller slices inputs.
#[derive(Debug, Clone)]
pub struct ExternalScanExec {
    pub source: InputSource,
    pub format: InputFormat,
    pub signature: Signature,
    pub partitions: usize,
    pub splits: Option<Vec<Vec<InputSplit>>>,
    /// Full schema of the external signature.
    pub table_schema: SchemaRef,
    /// Columns of `table_schema` to produce (all when `None`).
    pub projection: Option<Vec<usize>>,
    pub input_number: usize,
    schema: SchemaRef,
    props: Arc<PlanProperties>,
}

impl ExternalScanExec {
    /// A scan of `source` over `partitions` partitions with optional projection.
    pub fn new(
        source: InputSource,
        format: InputFormat,
        signature: Signature,
        partitions: usize,
        projection: Option<Vec<usize>>,
        input_number: usize,
    ) -> datafusion::error::Result<Self> {
        let table_schema = signature.to_arrow_schema();
        let schema = match &projection {
            Some(p) => Arc::new(table_schema.project(p)?),
            None => table_schema.clone(),
        };
        let props = leaf_properties(schema.clone(), partitions);
        Ok(ExternalScanExec {
            source,
            format,
            signature,
            partitions,
            splits: None,
            table_schema,
            projection,
            input_number,
            schema,
            props,
        })
    }
}

impl ExternalScanExec {
    /// The same scan with input splits assigned to its partitions.
    pub fn with_splits(&self, splits: Vec<Vec<InputSplit>>) -> Self {
        let mut s = self.clone();
        s.splits = Some(splits);
        s
    }

    /// The same scan reporting as input number `n`.
    pub fn with_input_number(&self, n: usize) -> Self {
        let mut s = self.clone();
        s.input_number = n;
        s
    }
}

impl DisplayAs for ExternalScanExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        let files: usize = self.splits.iter().flatten().map(|s| s.len()).sum();
        write!(
            f,
            "ExternalScanExec: partitions={}, splits={}, columns=[",
            self.partitions, files
        )?;
        let names: Vec<&str> = self.schema.fields().iter().map(|f| f.name().as_str()).collect();
        write!(f, "{}]", names.join(", "))
    }
}

leaf_execution_plan!(ExternalScanExec);

impl LeafExec for ExternalScanExec {
    const NAME: &'static str = "ExternalScanExec";

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn open(&self, partition: usize, ctx: Arc<ExecContext>) -> datafusion::error::Result<SendableRecordBatchStream> {
        let Some(all_splits) = &self.splits else {
            return Err(datafusion::error::DataFusionError::Internal(
                "external input splits were not assigned before execution".into(),
            ));
        };
        let splits = all_splits.get(partition).cloned().unwrap_or_default();
        let format = self.format.clone();
        let out_schema = self.schema.clone();
        // Read only the projected columns; with none projected (COUNT(*)), read one and drop it.
        let read_schema: SchemaRef = if out_schema.fields().is_empty() && !self.table_schema.fields().is_empty() {
            Arc::new(Schema::new(vec![self.table_schema.field(0).clone()]))
        } else {
            out_schema.clone()
        };
        let input = self.input_number;
        let (tx, rx) = tokio::sync::mpsc::channel::<datafusion::error::Result<RecordBatch>>(2);
        let schema_for_task = out_schema.clone();
        let task = move || {
            update(&ctx.counters, |c| {
                c.input_mut(input).set_total_files(0, splits.len() as u64);
            });
            for split in &splits {
                let mut reader = match open_split(split, &format, read_schema.clone(), ctx.batch_size) {
                    Ok(r) => r,
                    Err(e) => {
                        let _ = tx.blocking_send(Err(e.into()));
                        return;
                    }
                };
                let (mut last_rows, mut last_bytes) = (0u64, 0u64);
                loop {
                    if let Err(e) = ctx.check_cancelled() {
                        let _ = tx.blocking_send(Err(e.into()));
                        return;
                    }
                    let next = reader.next_batch(&mut |w| ctx.parse_warning(w.message));
                    let stats = reader.stats();
                    update(&ctx.counters, |c| {
                        c.inputs[input].add_rows(0, stats.rows - last_rows, stats.bytes - last_bytes);
                    });
                    (last_rows, last_bytes) = (stats.rows, stats.bytes);
                    match next {
                        None => break,
                        Some(Err(e)) => {
                            let _ = tx.blocking_send(Err(e.into()));
                            return;
                        }
                        Some(Ok(batch)) => {
                            let batch = if schema_for_task.fields().is_empty() {
                                RecordBatch::try_new_with_options(
                                    schema_for_task.clone(),
                                    vec![],
                                    &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
                                )
                                .map_err(MsqError::from)
                            } else {
                                Ok(batch)
                            };
                            if tx.blocking_send(batch.map_err(Into::into)).is_err() {
                                return;
                            }
                        }
                    }
                }
                update(&ctx.counters, |c| c.inputs[input].add_file(0));
            }
        };
        tokio::task::spawn_blocking(task);
        Ok(crate::shuffle::store::receiver_stream(out_schema, rx))
    }
}
