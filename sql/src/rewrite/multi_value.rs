//! Druid's multi-value string semantics on the logical plan (where types are known), and
//! `arrayIngestMode` on the rows an INSERT / REPLACE writes.
//!
//! * `GROUP BY mv` groups by each value of the multi-value string column `mv` (one group per
//!   value; a NULL or empty row is the NULL group), as Druid's `groupByEnableMultiValueUnnesting`
//!   does; with that flag off it fails as Druid does.
//! * A filter `mv = 'x'` matches a row if any value is `x` (`mv <> 'x'`: none is), and
//!   `mv IN ('x', 'y')` if any value is in the list.

use crate::functions::array::array_udf;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result as DfResult};
use datafusion::dataframe::DataFrame;
use datafusion::logical_expr::expr::{InList, ScalarFunction};
use datafusion::logical_expr::{Aggregate, BinaryExpr, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Operator};
use msq_engine::context::ArrayIngestMode;
use msq_engine::signature::{is_multi_value, ColumnType};
use msq_engine::{MsqError, Result};
use std::sync::Arc;

/// Applies the multi-value rules to every node of `plan`.
pub fn rewrite_multi_value(plan: LogicalPlan, unnesting: bool) -> Result<LogicalPlan> {
    if !unnesting {
        if let Some(column) = first_multi_value_group_key(&plan) {
            return Err(MsqError::Unknown(format!(
                "Encountered multi-value dimension [{column}] that cannot be processed with \
                 'groupByEnableMultiValueUnnesting' set to false."
            )));
        }
    }
    // Once a node changed, the schemas of the nodes above it are computed afresh.
    let changed = std::cell::Cell::new(false);
    let rewritten = plan.transform_up(|node| {
        let t = rewrite_node(node, changed.get())?;
        changed.set(changed.get() || t.transformed);
        Ok(t)
    });
    match rewritten {
        Ok(t) => Ok(t.data),
        Err(e) => Err(plan_error(e)),
    }
}

fn rewrite_node(node: LogicalPlan, below_changed: bool) -> DfResult<Transformed<LogicalPlan>> {
    let node = if below_changed
        && matches!(
            node,
            LogicalPlan::Projection(_)
                | LogicalPlan::SubqueryAlias(_)
                | LogicalPlan::Window(_)
                | LogicalPlan::Join(_)
                | LogicalPlan::Aggregate(_)
                | LogicalPlan::Filter(_)
        ) {
        node.recompute_schema()?
    } else {
        node
    };
    match node {
        LogicalPlan::Aggregate(agg) => unnest_group_keys(agg),
        LogicalPlan::Filter(mut f) => {
            let schema = f.input.schema().clone();
            let t = f.predicate.clone().transform_up(|e| any_value_match(e, &schema))?;
            if !t.transformed {
                return Ok(Transformed::no(LogicalPlan::Filter(f)));
            }
            f.predicate = t.data;
            Ok(Transformed::yes(LogicalPlan::Filter(f).recompute_schema()?))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// The first multi-value string column an aggregate of `plan` groups by.
fn first_multi_value_group_key(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    let _ = plan.apply(|node| {
        if let LogicalPlan::Aggregate(agg) = node {
            found = multi_value_keys(agg).into_iter().next().map(|c| c.name);
        }
        Ok(if found.is_some() {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    });
    found
}

/// The group keys of `agg` that are multi-value string columns of its input.
fn multi_value_keys(agg: &Aggregate) -> Vec<Column> {
    let schema = agg.input.schema();
    agg.group_expr
        .iter()
        .filter_map(|g| match g {
            Expr::Column(c)
                if schema
                    .field_with_name(c.relation.as_ref(), &c.name)
                    .is_ok_and(|f| is_multi_value(f.data_type())) =>
            {
                Some(c.clone())
            }
            _ => None,
        })
        .collect()
}

/// An aggregate grouping by multi-value string columns, over its input with those columns
/// unnested (each on its own, so several give every combination, as in Druid).
fn unnest_group_keys(agg: Aggregate) -> DfResult<Transformed<LogicalPlan>> {
    let keys = multi_value_keys(&agg);
    if keys.is_empty() {
        return Ok(Transformed::no(LogicalPlan::Aggregate(agg)));
    }
    let input_schema = agg.input.schema().clone();
    let group_values = array_udf("druid_mv_group_values");
    let exprs: Vec<Expr> = input_schema
        .iter()
        .map(|(q, f)| {
            let c = Column::new(q.cloned(), f.name());
            if keys.contains(&c) {
                Expr::ScalarFunction(ScalarFunction::new_udf(group_values.clone(), vec![Expr::Column(c)]))
                    .alias_qualified(q.cloned(), f.name())
            } else {
                Expr::Column(c)
            }
        })
        .collect();
    let mut builder = LogicalPlanBuilder::from(Arc::unwrap_or_clone(agg.input)).project(exprs)?;
    for k in &keys {
        builder = builder.unnest_column(k.clone())?;
    }
    // Unnesting drops the columns' qualifiers: give them back.
    let unnested = builder.build()?;
    let requalified: Vec<Expr> = unnested
        .schema()
        .iter()
        .map(|(q, f)| {
            let c = Expr::Column(Column::new(q.cloned(), f.name()));
            match keys.iter().find(|k| q.is_none() && &k.name == f.name()) {
                Some(k) => c.alias_qualified(k.relation.clone(), f.name()),
                None => c,
            }
        })
        .collect();
    let input = Arc::new(LogicalPlanBuilder::from(unnested).project(requalified)?.build()?);
    let agg = Aggregate::try_new(input, agg.group_expr, agg.aggr_expr)?;
    Ok(Transformed::yes(LogicalPlan::Aggregate(agg)))
}

fn is_mv_expr(e: &Expr, schema: &DFSchema) -> bool {
    e.get_type(schema).is_ok_and(|t| is_multi_value(&t))
}

fn contains(mv: Expr, value: Expr) -> Expr {
    Expr::ScalarFunction(ScalarFunction::new_udf(array_udf("mv_contains"), vec![mv, value]))
}

/// `mv = x` → `MV_CONTAINS(mv, x)`, `mv <> x` → `NOT MV_CONTAINS(mv, x)`, `mv IN (...)` → any.
fn any_value_match(e: Expr, schema: &DFSchema) -> DfResult<Transformed<Expr>> {
    match e {
        Expr::BinaryExpr(BinaryExpr { left, op, right })
            if matches!(op, Operator::Eq | Operator::NotEq)
                && (is_mv_expr(&left, schema) != is_mv_expr(&right, schema)) =>
        {
            let (mv, value) = if is_mv_expr(&left, schema) {
                (*left, *right)
            } else {
                (*right, *left)
            };
            let test = contains(mv, value);
            Ok(Transformed::yes(if op == Operator::Eq {
                test
            } else {
                Expr::Not(Box::new(test))
            }))
        }
        Expr::InList(InList { expr, list, negated }) if is_mv_expr(&expr, schema) && !list.is_empty() => {
            let any = list
                .into_iter()
                .map(|v| contains((*expr).clone(), v))
                .reduce(|a, b| a.or(b))
                .expect("non-empty");
            Ok(Transformed::yes(if negated { Expr::Not(Box::new(any)) } else { any }))
        }
        other => Ok(Transformed::no(other)),
    }
}

/// `arrayIngestMode` on the rows to write: `array` stores arrays as they are, `mvd` stores
/// string arrays as multi-value strings and refuses numeric arrays, `none` refuses any array
/// (multi-value strings, e.g. from `ARRAY_TO_MV`, are stored in every mode).
pub fn apply_array_ingest_mode(df: DataFrame, mode: ArrayIngestMode) -> Result<DataFrame> {
    let schema = df.schema().clone();
    let mut changed = false;
    let mut exprs = Vec::with_capacity(schema.fields().len());
    for (q, f) in schema.iter() {
        let c = Expr::Column(datafusion::common::Column::new(q.cloned(), f.name()));
        let element = match f.data_type() {
            t if is_multi_value(t) => None,
            datafusion::arrow::datatypes::DataType::List(item) => Some(item.data_type().clone()),
            _ => None,
        };
        let Some(element) = element else {
            exprs.push(c);
            continue;
        };
        let strings = element == datafusion::arrow::datatypes::DataType::Utf8;
        let mode_name = match mode {
            ArrayIngestMode::Array => "array",
            ArrayIngestMode::Mvd => "mvd",
            ArrayIngestMode::None => "none",
        };
        match (mode, strings) {
            (ArrayIngestMode::Array, _) => exprs.push(c),
            (ArrayIngestMode::Mvd, true) => {
                changed = true;
                exprs.push(
                    Expr::ScalarFunction(ScalarFunction::new_udf(array_udf("array_to_mv"), vec![c])).alias(f.name()),
                );
            }
            (ArrayIngestMode::None, true) => {
                return Err(MsqError::Validation(format!(
                    "String arrays can not be ingested when 'arrayIngestMode' is set to 'none'. Set \
                     'arrayIngestMode' in query context to 'array' to ingest the string array as an array, or \
                     ingest it as an MVD by explicitly casting the array to an MVD with the ARRAY_TO_MV function. \
                     Column [{}] is [{}].",
                    f.name(),
                    ColumnType::from_arrow(f.data_type()).name()
                )))
            }
            (_, false) => {
                return Err(MsqError::Validation(format!(
                    "Numeric arrays can only be ingested when 'arrayIngestMode' is set to 'array'. \
                     Current value of the parameter is[{mode_name}]. Column [{}] is [{}].",
                    f.name(),
                    ColumnType::from_arrow(f.data_type()).name()
                )))
            }
        }
    }
    if !changed {
        return Ok(df);
    }
    df.select(exprs).map_err(plan_error)
}

/// A DataFusion failure while rewriting: the statement's (`InvalidInput`) unless it says
/// otherwise.
fn plan_error(e: datafusion::error::DataFusionError) -> MsqError {
    match MsqError::from(e) {
        MsqError::Unknown(m) => MsqError::Validation(m),
        other => other,
    }
}
