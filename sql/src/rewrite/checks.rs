//! Checks for constructs MSQ does not support: `GROUPING SETS`, `CUBE`, `ROLLUP` and aggregates
//! in `GROUP BY`.

use super::ast::{as_int_lit, ident_name};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::Visit;
use datafusion::sql::sqlparser::ast::{
    visit_expressions, Expr, Function, GroupByExpr, Query, SelectItem, SetExpr, Visitor,
};
use msq_engine::{MsqError, Result};
use std::ops::ControlFlow;

/// `GROUPING SETS`, `CUBE` and `ROLLUP` are not implemented by MSQ (Druid's known issues:
/// `QueryNotSupported`).
pub fn reject_unsupported(stmt: &DFStatement) -> Result<()> {
    let DFStatement::Statement(inner) = stmt else {
        return Ok(());
    };
    let found = visit_expressions(inner.as_ref(), |e: &Expr| match e {
        Expr::GroupingSets(_) => ControlFlow::Break("GROUPING SETS"),
        Expr::Cube(_) => ControlFlow::Break("CUBE"),
        Expr::Rollup(_) => ControlFlow::Break("ROLLUP"),
        Expr::Function(f) if ident_name(&f.name) == "GROUPING" => ControlFlow::Break("GROUPING()"),
        _ => ControlFlow::Continue(()),
    });
    match found {
        ControlFlow::Break(what) => Err(MsqError::QueryNotSupported(format!(
            "{what} is not supported by the multi-stage query engine"
        ))),
        ControlFlow::Continue(()) => Ok(()),
    }
}

/// Aggregate function names (for the GROUP BY check; window calls are not aggregates).
fn is_aggregate_call(f: &Function) -> bool {
    if f.over.is_some() {
        return false;
    }
    let n = ident_name(&f.name);
    matches!(
        n.as_str(),
        "COUNT"
            | "SUM"
            | "MIN"
            | "MAX"
            | "AVG"
            | "ANY_VALUE"
            | "ARRAY_AGG"
            | "STRING_AGG"
            | "LISTAGG"
            | "BIT_AND"
            | "BIT_OR"
            | "BIT_XOR"
            | "BOOL_AND"
            | "BOOL_OR"
            | "VARIANCE"
    ) || ["APPROX_", "LATEST", "EARLIEST", "DS_", "STDDEV", "VAR_"]
        .iter()
        .any(|p| n.starts_with(p))
}

fn has_aggregate(e: &Expr) -> bool {
    visit_expressions(e, |x: &Expr| match x {
        Expr::Function(f) if is_aggregate_call(f) => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    })
    .is_break()
}

/// Calcite's rule: a GROUP BY item (directly or through an ordinal) may not be an aggregate.
pub fn check_group_by(stmt: &DFStatement) -> Result<()> {
    struct V;
    impl Visitor for V {
        type Break = MsqError;
        fn pre_visit_query(&mut self, q: &Query) -> ControlFlow<MsqError> {
            let SetExpr::Select(select) = q.body.as_ref() else {
                return ControlFlow::Continue(());
            };
            let GroupByExpr::Expressions(items, _) = &select.group_by else {
                return ControlFlow::Continue(());
            };
            for item in items {
                let target = match as_int_lit(item) {
                    Some(n) if n >= 1 => match select.projection.get(n as usize - 1) {
                        Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. }) => e,
                        _ => continue,
                    },
                    _ => item,
                };
                if has_aggregate(target) {
                    return ControlFlow::Break(MsqError::Validation(format!(
                        "Aggregate expression is illegal in GROUP BY clause: [{target}]"
                    )));
                }
            }
            ControlFlow::Continue(())
        }
    }
    let DFStatement::Statement(inner) = stmt else {
        return Ok(());
    };
    match inner.as_ref().visit(&mut V) {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}
