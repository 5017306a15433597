//! The partial half of a GROUP BY on string views: DataFusion's `AggregateExec` in `Partial`
//! mode, with group ids found through [`ViewKeyedGroupValues`] (rows numbered by their keys'
//! view bits before any string is hashed). A worker swaps it in for the `AggregateExec` of
//! its fragment ([`with_view_grouping`]); the output (group keys, then each aggregate's
//! state) is exactly that `AggregateExec`'s, so the final aggregation after the shuffle is
//! unchanged.
//!
//! Like DataFusion's partial aggregation it never spills: when the memory pool refuses to
//! grow, the groups so far are emitted as they are (a partial result may be emitted in several
//! pieces; the final aggregation merges them) and aggregation starts afresh.

use super::view_group_values::{worth_it, ViewKeyedGroupValues};
use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::Result;
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{EmitTo, GroupsAccumulator};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::group_values::GroupValues;
use datafusion::physical_plan::aggregates::{aggregate_expressions, evaluate_group_by, AggregateExec, AggregateMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode, PlanProperties,
    ReplaceChildrenOptions, SendableRecordBatchStream,
};
use futures::StreamExt;
use std::collections::VecDeque;
use std::sync::Arc;

/// `plan` with every `AggregateExec` that [`PartialAggregateExec`] can run replaced by one.
pub fn with_view_grouping(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    plan.transform_up(swapped).map(|t| t.data)
}

/// `node` as a [`PartialAggregateExec`] when it is an `AggregateExec` that one can run.
fn swapped(node: Arc<dyn ExecutionPlan>) -> Result<Transformed<Arc<dyn ExecutionPlan>>> {
    let ours = match node.downcast_ref::<AggregateExec>() {
        Some(agg) => PartialAggregateExec::try_new(agg)?,
        None => None,
    };
    Ok(match ours {
        Some(p) => Transformed::yes(Arc::new(p)),
        None => Transformed::no(node),
    })
}

/// A partial `AggregateExec` over string-view keys, grouping through view bits.
#[derive(Debug, Clone)]
pub struct PartialAggregateExec {
    agg: Arc<AggregateExec>,
}

impl PartialAggregateExec {
    /// The operator for `agg`, when it is a plain partial aggregation this operator runs the
    /// same way: `Partial` mode, one grouping set, no limit or dynamic filter, unordered input,
    /// aggregates with group accumulators and no ORDER BY, and keys worth numbering by bits.
    pub fn try_new(agg: &AggregateExec) -> Result<Option<Self>> {
        let input_schema = agg.input().schema();
        let plain = matches!(agg.mode(), AggregateMode::Partial)
            && agg.group_expr().is_single()
            && !agg.group_expr().expr().is_empty()
            && agg.limit_options().is_none()
            && agg.dynamic_expressions_produced().is_empty()
            && matches!(agg.input_order_mode(), InputOrderMode::Linear)
            && agg
                .aggr_expr()
                .iter()
                .all(|a| a.groups_accumulator_supported() && a.order_bys().is_empty());
        if !plain {
            return Ok(None);
        }
        let group_schema = agg.group_expr().group_schema(&input_schema)?;
        let types: Vec<_> = group_schema.fields().iter().map(|f| f.data_type().clone()).collect();
        Ok(worth_it(&types).then(|| PartialAggregateExec {
            agg: Arc::new(agg.clone()),
        }))
    }
}

impl DisplayAs for PartialAggregateExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "PartialAggregateExec(view keys): ")?;
        self.agg.fmt_as(t, f)
    }
}

impl ExecutionPlan for PartialAggregateExec {
    fn name(&self) -> &str {
        "PartialAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.agg.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.agg.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.agg.apply_expressions(f)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        let options = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
        let agg = self.agg.clone().replace_children(children, options)?;
        Ok(swapped(agg)?.data)
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        let input = self.agg.input().execute(partition, context.clone())?;
        let table = Table::try_new(&self.agg, context.session_config().batch_size())?;
        let reservation = MemoryConsumer::new(format!("PartialAggregateExec[{partition}]"))
            .with_can_spill(true)
            .register(context.memory_pool());
        let state = State {
            input: Some(input),
            table,
            reservation,
            ready: VecDeque::new(),
        };
        let schema = self.agg.schema();
        let stream = futures::stream::try_unfold(state, |mut s| async move {
            loop {
                if let Some(b) = s.ready.pop_front() {
                    return Ok(Some((b, s)));
                }
                let Some(input) = s.input.as_mut() else {
                    return Ok(None);
                };
                match input.next().await {
                    Some(batch) => {
                        s.table.aggregate(&batch?)?;
                        if s.reservation.try_resize(s.table.size()).is_err() {
                            // The pool refuses more: hand over what is grouped so far.
                            s.ready = s.table.emit()?;
                            s.reservation.free();
                        }
                    }
                    None => {
                        s.input = None;
                        s.ready = s.table.emit()?;
                        s.reservation.free();
                    }
                }
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
    }
}

/// One partition's run: its input, groups and emitted batches not yet taken.
struct State {
    input: Option<SendableRecordBatchStream>,
    table: Table,
    reservation: MemoryReservation,
    ready: VecDeque<RecordBatch>,
}

/// Groups and their aggregates' partial states.
struct Table {
    group_by: datafusion::physical_plan::aggregates::PhysicalGroupBy,
    arguments: Vec<Vec<Arc<dyn PhysicalExpr>>>,
    filters: Vec<Option<Arc<dyn PhysicalExpr>>>,
    accumulators: Vec<Box<dyn GroupsAccumulator>>,
    groups: ViewKeyedGroupValues,
    group_ids: Vec<usize>,
    schema: SchemaRef,
    batch_size: usize,
}

impl Table {
    fn try_new(agg: &AggregateExec, batch_size: usize) -> Result<Self> {
        let input_schema = agg.input().schema();
        let arguments = aggregate_expressions(agg.aggr_expr(), agg.mode(), agg.group_expr().num_group_exprs())?;
        let accumulators = agg
            .aggr_expr()
            .iter()
            .map(|a| a.create_groups_accumulator())
            .collect::<Result<_>>()?;
        Ok(Table {
            group_by: agg.group_expr().clone(),
            arguments,
            filters: agg.filter_expr().to_vec(),
            accumulators,
            groups: ViewKeyedGroupValues::try_new(agg.group_expr().group_schema(&input_schema)?)?,
            group_ids: Vec::new(),
            schema: agg.schema(),
            batch_size: batch_size.max(1),
        })
    }

    fn aggregate(&mut self, batch: &RecordBatch) -> Result<()> {
        let rows = batch.num_rows();
        let mut keys = evaluate_group_by(&self.group_by, batch)?;
        let keys = keys.pop().unwrap_or_default();
        self.groups.intern(&keys, &mut self.group_ids)?;
        let total = self.groups.len();
        for ((acc, args), filter) in self.accumulators.iter_mut().zip(&self.arguments).zip(&self.filters) {
            let values: Vec<ArrayRef> = args
                .iter()
                .map(|e| e.evaluate(batch).and_then(|v| v.into_array(rows)))
                .collect::<Result<_>>()?;
            let filter = filter
                .as_ref()
                .map(|f| f.evaluate(batch).and_then(|v| v.into_array(rows)))
                .transpose()?;
            acc.update_batch(&values, &self.group_ids, filter.as_ref().map(|f| f.as_boolean()), total)?;
        }
        Ok(())
    }

    fn size(&self) -> usize {
        self.groups.size() + self.accumulators.iter().map(|a| a.size()).sum::<usize>()
    }

    /// Every group so far with its aggregates' states, in batches of at most `batch_size`
    /// rows; the table is empty afterwards.
    fn emit(&mut self) -> Result<VecDeque<RecordBatch>> {
        if self.groups.is_empty() {
            return Ok(VecDeque::new());
        }
        let mut columns = self.groups.emit(EmitTo::All)?;
        for acc in &mut self.accumulators {
            columns.extend(acc.state(EmitTo::All)?);
        }
        self.groups.clear_shrink(0);
        let all = RecordBatch::try_new(self.schema.clone(), columns)?;
        let mut out = VecDeque::new();
        let mut offset = 0;
        while offset < all.num_rows() {
            let len = self.batch_size.min(all.num_rows() - offset);
            out.push_back(all.slice(offset, len));
            offset += len;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::compute::cast;
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::common::tree_node::TreeNode;
    use datafusion::datasource::MemTable;
    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_plan::execution_plan::reset_plan_states;
    use datafusion::physical_plan::{collect, displayable};
    use datafusion::prelude::{SessionConfig, SessionContext};

    /// Rows like a segment's: `channel` in sorted runs (clustered), `namespace` random over a
    /// few values, both read as views through a dictionary; `x` with nulls.
    fn batches(n_batches: usize, rows: usize) -> (SchemaRef, Vec<RecordBatch>) {
        let schema = Arc::new(Schema::new(vec![
            Field::new("channel", DataType::Utf8View, true),
            Field::new("namespace", DataType::Utf8View, true),
            Field::new("x", DataType::Int64, true),
        ]));
        let dict = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        let as_views = |values: Vec<Option<String>>| {
            let d = cast(&StringArray::from(values), &dict).unwrap();
            cast(&d, &DataType::Utf8View).unwrap()
        };
        let mut rng = crate::test_rng::Rng(17);
        let mut out = Vec::new();
        for b in 0..n_batches {
            let channels: Vec<Option<String>> = (0..rows)
                .map(|i| {
                    let k = (b * rows + i) / 37 % 60;
                    (k != 5).then(|| format!("#channel-{k}.wikipedia"))
                })
                .collect();
            let namespaces: Vec<Option<String>> = (0..rows)
                .map(|_| match rng.below(9) {
                    0 => None,
                    k => Some(format!("ns{k}")),
                })
                .collect();
            let x: Int64Array = (0..rows)
                .map(|_| match rng.below(50) {
                    0 => None,
                    k => Some(k as i64 - 20),
                })
                .collect();
            out.push(
                RecordBatch::try_new(
                    schema.clone(),
                    vec![as_views(channels), as_views(namespaces), Arc::new(x)],
                )
                .unwrap(),
            );
        }
        (schema, out)
    }

    async fn run(sql: &str, pool_bytes: Option<usize>, swap: bool) -> (String, String) {
        let (text, shown, _) = run_plan(sql, pool_bytes, swap).await;
        (text, shown)
    }

    /// The answer, the plan, and the rows of the plan's partial aggregation alone.
    async fn run_plan(sql: &str, pool_bytes: Option<usize>, swap: bool) -> (String, String, usize) {
        let (schema, data) = batches(12, 4096);
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(bytes) = pool_bytes {
            runtime = runtime.with_memory_pool(Arc::new(FairSpillPool::new(bytes)));
        }
        let mut config = SessionConfig::new().with_target_partitions(2).with_batch_size(1000);
        config.options_mut().execution.sort_spill_reservation_bytes = 64 << 10;
        let ctx = SessionContext::new_with_config_rt(config, runtime.build_arc().unwrap());
        let parts = vec![data[..6].to_vec(), data[6..].to_vec()];
        ctx.register_table("t", Arc::new(MemTable::try_new(schema, parts).unwrap()))
            .unwrap();
        let plan = ctx.sql(sql).await.unwrap().create_physical_plan().await.unwrap();
        let plan = if swap { with_view_grouping(plan).unwrap() } else { plan };
        let shown = displayable(plan.as_ref()).indent(false).to_string();
        let mut partial: Option<Arc<dyn ExecutionPlan>> = None;
        plan.apply(|n| {
            let plain_partial = n
                .downcast_ref::<AggregateExec>()
                .is_some_and(|a| matches!(a.mode(), AggregateMode::Partial));
            if n.name() == "PartialAggregateExec" || plain_partial {
                partial = Some(n.clone());
            }
            Ok(TreeNodeRecursion::Continue)
        })
        .unwrap();
        let partial_rows = match partial {
            Some(p) => collect(reset_plan_states(p).unwrap(), ctx.task_ctx())
                .await
                .unwrap()
                .iter()
                .map(|b| b.num_rows())
                .sum(),
            None => 0,
        };
        let rows = collect(reset_plan_states(plan).unwrap(), ctx.task_ctx()).await.unwrap();
        (pretty_format_batches(&rows).unwrap().to_string(), shown, partial_rows)
    }

    const QUERIES: [&str; 4] = [
        "SELECT channel, SUM(x) AS s, COUNT(*) AS c, AVG(x) AS a, MIN(namespace) AS m FROM t GROUP BY channel ORDER BY channel NULLS FIRST",
        "SELECT channel, namespace, COUNT(*) AS c, COUNT(x) FILTER (WHERE x > 0) AS p, MAX(x) AS mx FROM t GROUP BY channel, namespace ORDER BY channel NULLS FIRST, namespace NULLS FIRST",
        "SELECT namespace, x, COUNT(*) AS c FROM t GROUP BY namespace, x ORDER BY namespace NULLS FIRST, x NULLS FIRST",
        "SELECT COUNT(DISTINCT namespace) AS n FROM t",
    ];

    #[tokio::test]
    async fn answers_equal_datafusions_own_aggregation() {
        for sql in QUERIES {
            let (theirs, plain) = run(sql, None, false).await;
            let (ours, swapped) = run(sql, None, true).await;
            assert!(!plain.contains("PartialAggregateExec"), "{plain}");
            assert!(swapped.contains("PartialAggregateExec"), "{sql}: {swapped}");
            assert_eq!(ours, theirs, "{sql}");
        }
    }

    #[tokio::test]
    async fn a_small_memory_pool_emits_early_and_answers_the_same() {
        // About 27,000 groups; 3 MiB for everything: the partial tables hand over their groups
        // several times, so the partial output has more rows than there are groups. (No
        // ORDER BY: a sort would not fit; the answer's lines are compared sorted.)
        let sql = "SELECT channel, namespace, x, COUNT(*) AS c, SUM(x) AS s FROM t GROUP BY channel, namespace, x";
        let sorted = |(text, shown, n): (String, String, usize)| {
            let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
            lines.sort();
            (lines, shown, n)
        };
        let (theirs, _, _) = sorted(run_plan(sql, None, false).await);
        let (unbounded, _, whole) = sorted(run_plan(sql, None, true).await);
        let (ours, shown, pieces) = sorted(run_plan(sql, Some(3 << 20), true).await);
        assert!(shown.contains("PartialAggregateExec"), "{shown}");
        assert_eq!(unbounded, theirs);
        assert_eq!(ours, theirs);
        assert!(pieces > whole, "{pieces} rows emitted, {whole} without a memory limit");
    }

    #[test]
    fn numeric_keys_and_final_modes_keep_datafusions_operator() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (_, shown) = rt.block_on(run("SELECT x, COUNT(*) FROM t GROUP BY x", None, true));
        assert!(!shown.contains("PartialAggregateExec"), "{shown}");
        // The final half of a view-keyed GROUP BY stays DataFusion's.
        let (_, shown) = rt.block_on(run(QUERIES[0], None, true));
        assert!(shown.contains("mode=FinalPartitioned"), "{shown}");
    }
}
