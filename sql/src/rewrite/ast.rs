//! Small helpers to read and build SQL AST nodes.

use datafusion::sql::sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident, ObjectName,
    ObjectNamePart, Value,
};

pub(super) fn ident_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.value.to_ascii_uppercase(),
        _ => name.to_string().to_ascii_uppercase(),
    }
}

pub(super) fn string_lit(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_string()))
}

pub(super) fn number_lit(n: i64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

pub(super) fn null_lit() -> Expr {
    Expr::value(Value::Null)
}

/// `name(args...)`.
pub(super) fn call(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

/// The instant `millis` as a timestamp expression (constant-folded by the planner).
pub(super) fn timestamp_lit(millis: i64) -> Expr {
    call("MILLIS_TO_TIMESTAMP", vec![number_lit(millis)])
}

/// The plain positional arguments of a call, or `None` if any is named/wildcard.
pub(super) fn plain_args(f: &Function) -> Option<Vec<&Expr>> {
    match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e),
                _ => None,
            })
            .collect(),
        FunctionArguments::None => Some(vec![]),
        FunctionArguments::Subquery(_) => None,
    }
}

pub(super) fn args_mut(f: &mut Function) -> Option<&mut Vec<FunctionArg>> {
    match &mut f.args {
        FunctionArguments::List(list) => Some(&mut list.args),
        _ => None,
    }
}

pub(super) fn as_string_lit(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        Expr::Nested(inner) => as_string_lit(inner),
        _ => None,
    }
}

pub(super) fn as_int_lit(e: &Expr) -> Option<i64> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::Number(n, _) => n.parse().ok(),
            _ => None,
        },
        Expr::UnaryOp {
            op: datafusion::sql::sqlparser::ast::UnaryOperator::Minus,
            expr,
        } => as_int_lit(expr).map(|n| -n),
        Expr::Nested(inner) => as_int_lit(inner),
        _ => None,
    }
}

/// A unit written as a bare word (`HOUR`) or a string (`'hour'`).
pub(super) fn as_unit(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) if i.quote_style.is_none() => Some(i.value.to_ascii_uppercase()),
        _ => as_string_lit(e).map(|s| s.to_ascii_uppercase()),
    }
}
