//! Druid aggregates: `LATEST` / `EARLIEST` and their `_BY` forms, and the check that no sketch
//! is left unfinalized.

use super::ast::{call, ident_name, number_lit};
use super::options::RewriteOptions;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    visit_expressions, visit_expressions_mut, DuplicateTreatment, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArguments, Ident, ObjectName, ObjectNamePart, SelectItem, SetExpr, Statement,
};
use msq_engine::{MsqError, Result};
use std::ops::ControlFlow;

/// `LATEST(x[, maxBytes])` → `latest_by(x, "__time")`, `EARLIEST` likewise, and the optional
/// `maxBytes` argument of `LATEST_BY`/`EARLIEST_BY` dropped (strings are not truncated);
/// `ARRAY_AGG(x[, maxSizeBytes])` → `druid_array_agg_limit(ARRAY_AGG(x), maxSizeBytes)`, and
/// `ARRAY_CONCAT_AGG` likewise over the flattened arrays ([`limited_array_agg`]).
pub fn rewrite_druid_aggregates(stmt: &mut DFStatement) {
    let DFStatement::Statement(inner) = stmt else {
        return;
    };
    let _ = visit_expressions_mut(inner.as_mut(), |e: &mut Expr| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_uppercase();
            if matches!(name.as_str(), "ARRAY_AGG" | "ARRAY_CONCAT_AGG") && f.over.is_none() {
                *e = limited_array_agg(f, name == "ARRAY_CONCAT_AGG");
                return ControlFlow::Continue(());
            }
            let target = match name.as_str() {
                "LATEST" | "LATEST_BY" => "latest_by",
                "EARLIEST" | "EARLIEST_BY" => "earliest_by",
                _ => return ControlFlow::<()>::Continue(()),
            };
            if let FunctionArguments::List(list) = &mut f.args {
                let by_time = name.ends_with("_BY");
                let keep = if by_time { 2 } else { 1 };
                list.args.truncate(keep);
                if !by_time {
                    list.args
                        .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(
                            Ident::with_quote('"', "__time"),
                        ))));
                }
                f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(target))]);
            }
        }
        ControlFlow::Continue(())
    });
}

/// `ARRAY_AGG(x[, size])` with Druid's size limit; `ARRAY_CONCAT_AGG(arr[, size])` (the
/// non-NULL arrays' elements, distinct and sorted with `DISTINCT`) as the flattened
/// `ARRAY_AGG` of the arrays.
fn limited_array_agg(f: &mut Function, concat: bool) -> Expr {
    let default_size = || number_lit(crate::functions::array_agg::DEFAULT_MAX_SIZE_BYTES);
    let mut distinct = false;
    let size = match &mut f.args {
        FunctionArguments::List(list) => {
            distinct = list.duplicate_treatment == Some(DuplicateTreatment::Distinct);
            if concat {
                list.duplicate_treatment = None;
            }
            match list.args.len() {
                2 => match list.args.pop() {
                    Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(size))) => size,
                    _ => default_size(),
                },
                _ => default_size(),
            }
        }
        _ => default_size(),
    };
    if !concat {
        return call(
            crate::functions::array_agg::ARRAY_AGG_LIMIT,
            vec![Expr::Function(f.clone()), size],
        );
    }
    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("ARRAY_AGG"))]);
    // NULL arrays are ignored.
    let arg = super::ast::plain_args(f).and_then(|a| a.first().map(|e| (*e).clone()));
    if let (None, Some(arg)) = (f.filter.is_some().then_some(()), arg) {
        f.filter = Some(Box::new(Expr::IsNotNull(Box::new(arg))));
    }
    let mut out = call("flatten", vec![Expr::Function(f.clone())]);
    if distinct {
        out = call("array_sort", vec![call("array_distinct", vec![out])]);
    }
    call(crate::functions::array_agg::ARRAY_AGG_LIMIT, vec![out, size])
}

/// Aggregations whose unfinalized form is a sketch (Druid stores the sketch when
/// `finalizeAggregations` is false; msq-rs cannot, and says so rather than finalizing).
fn sketch_aggregate(f: &Function, opts: &RewriteOptions) -> Option<String> {
    let name = ident_name(&f.name);
    let sketch = name.starts_with("APPROX_COUNT_DISTINCT")
        || name.starts_with("APPROX_QUANTILE")
        || name.starts_with("DS_")
        || name == "APPROX_DISTINCT";
    let distinct_count = name == "COUNT"
        && opts.approximate_count_distinct
        && matches!(&f.args, FunctionArguments::List(l) if l.duplicate_treatment == Some(datafusion::sql::sqlparser::ast::DuplicateTreatment::Distinct));
    (sketch || distinct_count).then(|| {
        if distinct_count {
            "COUNT(DISTINCT)".to_string()
        } else {
            name
        }
    })
}

/// With `finalizeAggregations: false`, output columns that would hold a sketch are an error.
pub(super) fn check_unfinalized_aggregates(stmt: &DFStatement, opts: &RewriteOptions) -> Result<()> {
    let DFStatement::Statement(inner) = stmt else {
        return Ok(());
    };
    let Statement::Query(q) = inner.as_ref() else {
        return Ok(());
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return Ok(());
    };
    for item in &select.projection {
        let (expr, name) = match item {
            SelectItem::ExprWithAlias { expr, alias } => (expr, alias.value.clone()),
            SelectItem::UnnamedExpr(e) => (e, e.to_string()),
            _ => continue,
        };
        let found = visit_expressions(expr, |e: &Expr| match e {
            Expr::Function(f) => match sketch_aggregate(f, opts) {
                Some(n) => ControlFlow::Break(n),
                None => ControlFlow::Continue(()),
            },
            _ => ControlFlow::Continue(()),
        });
        if let ControlFlow::Break(func) = found {
            return Err(MsqError::QueryNotSupported(format!(
                "Column [{name}] is an unfinalized {func} sketch: finalizeAggregations is false, but msq-rs cannot \
                 store or return sketches. Set finalizeAggregations to true to store the finalized value"
            )));
        }
    }
    Ok(())
}
