//! `UNNEST(JSON_QUERY_ARRAY(...))`: DataFusion's unnest gives the unnested column the list
//! item's type but not its field metadata, so the `COMPLEX<json>` mark of the items would be
//! lost. [`keep_unnested_json`] puts it back on the logical plan's unnest output fields (and the
//! schemas above it), [`keep_unnested_json_physical`] on the physical plan (the optimizer
//! rebuilds unnests from their input types).

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::{LogicalPlan, Unnest};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::unnest::UnnestExec;
use datafusion::physical_plan::ExecutionPlan;
use msq_engine::signature::is_json_field;
use std::sync::Arc;

/// `plan` with the items' JSON mark on the columns its unnests produce.
pub fn keep_unnested_json(plan: LogicalPlan) -> Result<LogicalPlan> {
    if !plan.exists(|p| Ok(matches!(p, LogicalPlan::Unnest(_))))? {
        return Ok(plan);
    }
    plan.transform_up(|p| {
        let p = p.recompute_schema()?;
        Ok(match p {
            LogicalPlan::Unnest(u) => Transformed::yes(LogicalPlan::Unnest(mark_items(u)?)),
            other => Transformed::yes(other),
        })
    })
    .map(|t| t.data)
}

fn mark_items(mut u: Unnest) -> Result<Unnest> {
    let input = u.input.schema();
    let mut fields: Vec<_> = u.schema.iter().map(|(q, f)| (q.cloned(), Arc::clone(f))).collect();
    let mut changed = false;
    for (index, list) in &u.list_type_columns {
        let item = match input.field(*index).data_type() {
            arrow::datatypes::DataType::List(item) | arrow::datatypes::DataType::LargeList(item) => item,
            _ => continue,
        };
        if list.depth != 1 || !is_json_field(item) {
            continue;
        }
        let name = list.output_column.name();
        for (_, f) in fields.iter_mut().filter(|(_, f)| f.name() == name) {
            if f.data_type() == item.data_type() && !is_json_field(f) {
                *f = Arc::new(f.as_ref().clone().with_metadata(item.metadata().clone()));
                changed = true;
            }
        }
    }
    if changed {
        let schema = DFSchema::new_with_metadata(fields, u.schema.metadata().clone())?;
        u.schema = Arc::new(schema.with_functional_dependencies(u.schema.functional_dependencies().clone())?);
    }
    Ok(u)
}

/// `plan` with the items' JSON mark on the columns its `UnnestExec`s produce (operators above
/// them are rebuilt, so their schemas follow).
pub fn keep_unnested_json_physical(plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
    if !plan.exists(|n| Ok(n.downcast_ref::<UnnestExec>().is_some()))? {
        return Ok(plan);
    }
    plan.transform_up(|node| {
        if let Some(p) = node.downcast_ref::<ProjectionExec>() {
            // A projection keeps the output schema it was planned with: plan it again over
            // its (possibly re-marked) input.
            let again = ProjectionExec::try_new(p.expr().to_vec(), Arc::clone(p.input()))?;
            return Ok(match again.schema() == node.schema() {
                true => Transformed::no(node),
                false => Transformed::yes(Arc::new(again) as Arc<dyn ExecutionPlan>),
            });
        }
        let Some(u) = node.downcast_ref::<UnnestExec>() else {
            return Ok(Transformed::no(node));
        };
        let input = u.input().schema();
        let mut fields: Vec<arrow::datatypes::FieldRef> = u.schema().fields().iter().cloned().collect();
        let mut changed = false;
        for l in u.list_column_indices().iter().filter(|l| l.depth == 1) {
            let item = match input.fields().get(l.index_in_input_schema).map(|f| f.data_type()) {
                Some(arrow::datatypes::DataType::List(item)) | Some(arrow::datatypes::DataType::LargeList(item)) => {
                    item
                }
                _ => continue,
            };
            match fields.get_mut(l.index_in_input_schema) {
                Some(f) if is_json_field(item) && f.data_type() == item.data_type() && !is_json_field(f) => {
                    *f = Arc::new(f.as_ref().clone().with_metadata(item.metadata().clone()));
                    changed = true;
                }
                _ => {}
            }
        }
        if !changed || fields.len() != input.fields().len() {
            return Ok(Transformed::no(node));
        }
        let schema = Arc::new(arrow::datatypes::Schema::new_with_metadata(
            fields,
            u.schema().metadata().clone(),
        ));
        let rebuilt = UnnestExec::new(
            Arc::clone(u.input()),
            u.list_column_indices().to_vec(),
            u.struct_column_indices().to_vec(),
            schema,
            u.options().clone(),
        )?;
        Ok(Transformed::yes(Arc::new(rebuilt) as Arc<dyn ExecutionPlan>))
    })
    .map(|t| t.data)
}
