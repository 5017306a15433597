//! Datasource strings are read as `Utf8View` (see [`crate::tables::segment_arrow_type`]); a
//! SELECT's answer leaves the plan with plain `Utf8` strings, so the result writers, durable
//! pages and every consumer after the plan see the types they always did. Ingestion gets the
//! same from its storage-type casts.

use arrow::datatypes::{DataType, FieldRef};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::cast;
use datafusion::physical_expr::expressions::{CastExpr, Column};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::replace_children_if_necessary;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::ExecutionPlan;
use std::sync::Arc;

/// `dt` with every `Utf8View` (also inside lists) as `Utf8`; `None` when it has none.
fn plain(dt: &DataType) -> Option<DataType> {
    let item = |f: &FieldRef| plain(f.data_type()).map(|t| Arc::new(f.as_ref().clone().with_data_type(t)));
    match dt {
        DataType::Utf8View => Some(DataType::Utf8),
        DataType::List(f) => item(f).map(DataType::List),
        DataType::LargeList(f) => item(f).map(DataType::LargeList),
        _ => None,
    }
}

/// `df` with its `Utf8View` output columns cast to `Utf8` (unchanged when it has none).
pub(crate) fn plain_strings(df: DataFrame) -> datafusion::error::Result<DataFrame> {
    crate::answer_columns::map_columns(df, |c, t| plain(t).map(|t| cast(c, t)))
}

/// The physical plan of [`plain_strings`]'s answer with its casts moved below the final
/// gather (and sort, and limit), where the optimizer may have lifted them: the stage cutter
/// recognises a plan that ends in a sorted merge or a gather
/// (`StageBuilder::plan_select`), and a projection above it would cost one more stage.
pub(crate) fn casts_below_gather(root: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    let Some(p) = root.downcast_ref::<ProjectionExec>() else {
        return Ok(root);
    };
    // Only a projection keeping every column in place: a column, or a cast of it.
    let in_place = p.expr().iter().enumerate().all(|(i, e)| {
        let inner = match e.expr.downcast_ref::<CastExpr>() {
            Some(c) => c.expr(),
            None => &e.expr,
        };
        inner.downcast_ref::<Column>().is_some_and(|c| c.index() == i)
    }) && p.expr().len() == p.input().schema().fields().len();
    let movable = |n: &Arc<dyn ExecutionPlan>| {
        n.downcast_ref::<SortPreservingMergeExec>().is_some() || n.downcast_ref::<CoalescePartitionsExec>().is_some()
    };
    if !in_place || !movable(p.input()) {
        return Ok(root);
    }
    push_below(p, p.input().clone())
}

/// `node` with the projection `p` applied under its gathers, limits and sort.
fn push_below(p: &ProjectionExec, node: Arc<dyn ExecutionPlan>) -> datafusion::error::Result<Arc<dyn ExecutionPlan>> {
    let passes = node.downcast_ref::<SortPreservingMergeExec>().is_some()
        || node.downcast_ref::<CoalescePartitionsExec>().is_some()
        || node.downcast_ref::<GlobalLimitExec>().is_some()
        || node.downcast_ref::<LocalLimitExec>().is_some();
    if passes {
        let child = push_below(p, node.children()[0].clone())?;
        return replace_children_if_necessary(node, vec![child]);
    }
    if node.downcast_ref::<SortExec>().is_some() {
        let child = replace_children_if_necessary(Arc::new(p.clone()), vec![node.children()[0].clone()])?;
        return replace_children_if_necessary(node, vec![child]);
    }
    replace_children_if_necessary(Arc::new(p.clone()), vec![node])
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::Field;

    #[test]
    fn views_become_plain_strings_also_in_lists() {
        assert_eq!(plain(&DataType::Utf8View), Some(DataType::Utf8));
        assert_eq!(plain(&DataType::Utf8), None);
        assert_eq!(plain(&DataType::Int64), None);
        let mv = Field::new("druid_mv", DataType::Utf8View, true);
        let Some(DataType::List(item)) = plain(&DataType::List(Arc::new(mv))) else {
            panic!("a list stays a list");
        };
        assert_eq!((item.name().as_str(), item.data_type()), ("druid_mv", &DataType::Utf8));
    }
}
