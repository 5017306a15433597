//! Druid's lateral `UNNEST`, rewritten to a form DataFusion plans.

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::VisitMut;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, Expr, Ident, JoinOperator, ObjectNamePart, Query, SetExpr, TableAlias, TableFactor,
    TableWithJoins, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use msq_engine::{MsqError, Result};
use std::ops::ControlFlow;

/// Druid's lateral `FROM t, UNNEST(expr) AS u(x)` (or `t CROSS JOIN UNNEST(...)`), which
/// DataFusion cannot plan, becomes `FROM (SELECT *, unnest(expr) AS x FROM t) AS t`; references
/// `u.x` become `t.x`. Rows whose array is NULL or empty produce no rows, as in Druid.
pub fn rewrite_lateral_unnest(stmt: &mut DFStatement) -> Result<()> {
    let DFStatement::Statement(inner) = stmt else {
        return Ok(());
    };
    let mut renames: Vec<(String, Ident)> = Vec::new();
    let mut v = UnnestVisitor { renames: &mut renames };
    if let ControlFlow::Break(e) = inner.as_mut().visit(&mut v) {
        return Err(e);
    }
    if renames.is_empty() {
        return Ok(());
    }
    let _ = visit_expressions_mut(inner.as_mut(), |e: &mut Expr| {
        if let Expr::CompoundIdentifier(ids) = e {
            if ids.len() == 2 {
                if let Some((_, to)) = renames.iter().find(|(from, _)| *from == ids[0].value) {
                    ids[0] = to.clone();
                }
            }
        }
        ControlFlow::<()>::Continue(())
    });
    Ok(())
}

struct UnnestVisitor<'a> {
    renames: &'a mut Vec<(String, Ident)>,
}

impl VisitorMut for UnnestVisitor<'_> {
    type Break = MsqError;

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<MsqError> {
        match unnest_in_set_expr(query.body.as_mut(), self.renames) {
            Ok(()) => ControlFlow::Continue(()),
            Err(e) => ControlFlow::Break(e),
        }
    }
}

fn unnest_in_set_expr(body: &mut SetExpr, renames: &mut Vec<(String, Ident)>) -> Result<()> {
    match body {
        SetExpr::Select(select) => {
            let from = std::mem::take(&mut select.from);
            let mut out: Vec<TableWithJoins> = Vec::with_capacity(from.len());
            for mut twj in from {
                // `t CROSS JOIN UNNEST(...)` inside one FROM item.
                while matches!(twj.joins.first(), Some(j) if is_unnest(&j.relation) && matches!(j.join_operator, JoinOperator::CrossJoin(_)))
                {
                    let join = twj.joins.remove(0);
                    twj.relation = unnest_onto(&twj.relation, &join.relation, renames)?;
                }
                // `t, UNNEST(...)`: a FROM item of its own after `t`.
                let lateral = is_unnest(&twj.relation)
                    && twj.joins.is_empty()
                    && out.last().is_some_and(|prev| prev.joins.is_empty());
                if lateral {
                    let prev = out.pop().expect("checked");
                    let relation = unnest_onto(&prev.relation, &twj.relation, renames)?;
                    out.push(TableWithJoins {
                        relation,
                        joins: vec![],
                    });
                } else {
                    out.push(twj);
                }
            }
            select.from = out;
            Ok(())
        }
        SetExpr::SetOperation { left, right, .. } => {
            unnest_in_set_expr(left, renames)?;
            unnest_in_set_expr(right, renames)
        }
        _ => Ok(()),
    }
}

fn is_unnest(t: &TableFactor) -> bool {
    matches!(t, TableFactor::UNNEST { .. })
}

/// `base` with the UNNEST `unnest` applied to each of its rows, as a derived table named like
/// `base` (its alias, or its table name).
fn unnest_onto(base: &TableFactor, unnest: &TableFactor, renames: &mut Vec<(String, Ident)>) -> Result<TableFactor> {
    let TableFactor::UNNEST { alias, array_exprs, .. } = unnest else {
        unreachable!("checked by is_unnest");
    };
    let [expr] = array_exprs.as_slice() else {
        return Err(MsqError::QueryNotSupported(
            "UNNEST takes exactly one array expression".into(),
        ));
    };
    let qualifier = match base {
        TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => a.name.clone(),
        TableFactor::Table { name, alias: None, .. } => match name.0.last() {
            Some(ObjectNamePart::Identifier(i)) => i.clone(),
            _ => Ident::new("__unnest_base"),
        },
        _ => Ident::new("__unnest_base"),
    };
    let column = alias
        .as_ref()
        .and_then(|a| {
            a.columns
                .first()
                .map(|c| c.name.clone())
                .or_else(|| Some(a.name.clone()))
        })
        .unwrap_or_else(|| Ident::new("EXPR$0"));
    if let Some(a) = alias {
        renames.push((a.name.value.clone(), qualifier.clone()));
    }
    let sql = format!("SELECT *, unnest({expr}) AS {column} FROM {base}");
    let dialect = GenericDialect {};
    let subquery = Parser::new(&dialect)
        .try_with_sql(&sql)
        .and_then(|mut p| p.parse_query())
        .map_err(|e| MsqError::SqlParse(format!("Cannot plan UNNEST: {e}")))?;
    Ok(TableFactor::Derived {
        lateral: false,
        subquery,
        alias: Some(TableAlias {
            explicit: true,
            name: qualifier,
            columns: vec![],
            at: None,
        }),
        sample: None,
    })
}
