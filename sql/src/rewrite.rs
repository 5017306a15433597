//! Rewrites of Druid-only SQL forms into functions the planner knows, on the parsed AST.

use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, ObjectName, ObjectNamePart,
    SelectItem, SetExpr, Statement,
};
use std::ops::ControlFlow;

/// `LATEST(x[, maxBytes])` → `latest_by(x, "__time")`, `EARLIEST` likewise, and the optional
/// `maxBytes` argument of `LATEST_BY`/`EARLIEST_BY` dropped (strings are not truncated).
pub fn rewrite_druid_aggregates(stmt: &mut DFStatement) {
    let DFStatement::Statement(inner) = stmt else {
        return;
    };
    let _ = visit_expressions_mut(inner.as_mut(), |e: &mut Expr| {
        if let Expr::Function(f) = e {
            let name = f.name.to_string().to_ascii_uppercase();
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

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::sql::parser::DFParser;

    fn rewrite(sql: &str) -> String {
        let mut s = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        rewrite_druid_aggregates(&mut s);
        name_unaliased_columns(&mut s);
        s.to_string()
    }

    #[test]
    fn latest_and_names() {
        assert_eq!(
            rewrite("SELECT channel, LATEST(page, 128), COUNT(*) AS n FROM t GROUP BY channel"),
            r#"SELECT channel, latest_by(page, "__time") AS "EXPR$1", COUNT(*) AS n FROM t GROUP BY channel"#
        );
        assert_eq!(
            rewrite("SELECT EARLIEST_BY(a, b, 10) FROM t"),
            r#"SELECT earliest_by(a, b) AS "EXPR$0" FROM t"#
        );
    }
}
