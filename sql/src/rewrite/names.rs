//! Output column names: Calcite's `EXPR$n` for unaliased expressions, and the canonical text
//! of select items for matching `CLUSTERED BY` expressions.

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{Expr, Ident, SelectItem, SetExpr, Statement};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// An expression's text in a canonical form (reparsed, upper-cased) for matching CLUSTERED BY
/// expressions against SELECT items; `None` if it does not parse.
pub fn canonical_expression(text: &str) -> Option<String> {
    let dialect = GenericDialect {};
    let e = Parser::new(&dialect).try_with_sql(text).ok()?.parse_expr().ok()?;
    Some(e.to_string().to_uppercase())
}

/// The outermost SELECT's items as (canonical expression text, output column name), where
/// unaliased expressions get Calcite's `EXPR$<position>`.
pub fn output_expressions(stmt: &DFStatement) -> Vec<(String, String)> {
    let DFStatement::Statement(inner) = stmt else {
        return vec![];
    };
    let Statement::Query(q) = inner.as_ref() else {
        return vec![];
    };
    let SetExpr::Select(select) = q.body.as_ref() else {
        return vec![];
    };
    select
        .projection
        .iter()
        .enumerate()
        .filter_map(|(i, item)| match item {
            SelectItem::ExprWithAlias { expr, alias } => Some((expr.to_string().to_uppercase(), alias.value.clone())),
            SelectItem::UnnamedExpr(e @ Expr::Identifier(id)) => Some((e.to_string().to_uppercase(), id.value.clone())),
            SelectItem::UnnamedExpr(e) => Some((e.to_string().to_uppercase(), format!("EXPR${i}"))),
            _ => None,
        })
        .collect()
}

/// Names unaliased expressions of the outermost SELECT `EXPR$<position>`, as Druid (Calcite)
/// does, so results and ingested columns get Druid's names.
pub fn name_unaliased_columns(stmt: &mut DFStatement) {
    let DFStatement::Statement(inner) = stmt else {
        return;
    };
    let Statement::Query(q) = inner.as_mut() else {
        return;
    };
    let SetExpr::Select(select) = q.body.as_mut() else {
        return;
    };
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(e) = item {
            if !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) {
                let expr = e.clone();
                *item = SelectItem::ExprWithAlias {
                    expr,
                    alias: Ident::with_quote('"', format!("EXPR${i}")),
                };
            }
        }
    }
}
