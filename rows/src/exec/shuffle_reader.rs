//! Leaf operator that reads an earlier stage's output partitions through the shuffle.

use super::context::ExecContext;
use super::leaf::{leaf_execution_plan, leaf_properties, LeafExec};
use arrow::datatypes::SchemaRef;
use datafusion::physical_expr::{EquivalenceProperties, LexOrdering};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, PlanProperties, SendableRecordBatchStream};
use futures::StreamExt;
use msq_engine::counters::update;
use std::sync::Arc;

/// Reads partition `p` of stage `stage` when executed for partition `p`.
#[derive(Debug, Clone)]
pub struct ShuffleReaderExec {
    pub stage: usize,
    /// Index of this input among the reading stage's inputs (`inputN` counters).
    pub input_number: usize,
    pub partitions: usize,
    pub ordering: Option<LexOrdering>,
    schema: SchemaRef,
    props: Arc<PlanProperties>,
}

impl ShuffleReaderExec {
    /// A reader of `partitions` partitions of `stage`, sorted by `ordering` when given.
    pub fn new(
        stage: usize,
        input_number: usize,
        schema: SchemaRef,
        partitions: usize,
        ordering: Option<LexOrdering>,
    ) -> Self {
        let mut props = (*leaf_properties(schema.clone(), partitions)).clone();
        if let Some(o) = &ordering {
            let mut eq = EquivalenceProperties::new(schema.clone());
            eq.add_ordering(o.iter().cloned());
            props = props.with_eq_properties(eq);
        }
        ShuffleReaderExec {
            stage,
            input_number,
            partitions,
            ordering,
            schema,
            props: Arc::new(props),
        }
    }
}

impl ShuffleReaderExec {
    /// The same reader reporting as input number `n`.
    pub fn with_input_number(&self, n: usize) -> Self {
        let mut s = self.clone();
        s.input_number = n;
        s
    }
}

impl DisplayAs for ShuffleReaderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "ShuffleReaderExec: stage={}, partitions={}",
            self.stage, self.partitions
        )?;
        if let Some(o) = &self.ordering {
            write!(f, ", ordering=[{o}]")?;
        }
        Ok(())
    }
}

leaf_execution_plan!(ShuffleReaderExec);

impl LeafExec for ShuffleReaderExec {
    const NAME: &'static str = "ShuffleReaderExec";

    fn plan_properties(&self) -> &Arc<PlanProperties> {
        &self.props
    }

    fn open(&self, partition: usize, ctx: Arc<ExecContext>) -> datafusion::error::Result<SendableRecordBatchStream> {
        let stream = ctx.fetcher.read_partition(self.stage, partition, ctx.batch_size)?;
        let input = self.input_number;
        let counted = stream.map(move |b| {
            if let Ok(b) = &b {
                update(&ctx.counters, |c| {
                    c.input_mut(input)
                        .add_frame(partition, b.num_rows() as u64, msq_engine::counters::frame_bytes(b))
                });
            }
            b
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.schema.clone(), counted)))
    }
}
