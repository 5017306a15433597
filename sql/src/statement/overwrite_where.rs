//! `OVERWRITE WHERE <condition on __time>` as sorted, merged, half-open intervals.

use crate::functions::time::{parse_iso, Zone};
use crate::guard::MAX_PARSER_RECURSION;
use msq_engine::granularity::Interval;
use msq_engine::signature::TIME_COLUMN;
use msq_engine::{MsqError, Result};
use sqlparser::ast::{
    BinaryOperator, DataType as SqlDataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
    Value as SqlValue,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::Token;

/// Parses an `OVERWRITE WHERE` condition on `__time` into sorted, merged, half-open intervals.
pub fn parse_overwrite_where(condition: &str) -> Result<Vec<Interval>> {
    parse_overwrite_where_in_zone(condition, &Zone::utc())
}

/// [`parse_overwrite_where`] with time literals local to `zone` (`sqlTimeZone`).
pub fn parse_overwrite_where_in_zone(condition: &str, zone: &Zone) -> Result<Vec<Interval>> {
    let dialect = GenericDialect {};
    let mut parser = Parser::new(&dialect)
        .with_recursion_limit(MAX_PARSER_RECURSION)
        .try_with_sql(condition)
        .map_err(|e| MsqError::SqlParse(format!("Invalid OVERWRITE WHERE clause: {e}")))?;
    let expr = parser
        .parse_expr()
        .map_err(|e| MsqError::SqlParse(format!("Invalid OVERWRITE WHERE clause: {e}")))?;
    let next = parser.peek_token();
    if next.token != Token::EOF {
        return Err(MsqError::SqlParse(format!(
            "Invalid OVERWRITE WHERE clause: unexpected token [{}] (line [{}], column [{}])",
            next.token, next.span.start.line, next.span.start.column
        )));
    }
    let intervals = condition_intervals(&expr, zone)?;
    if intervals.is_empty() {
        return Err(MsqError::Validation(format!(
            "The OVERWRITE WHERE clause [{condition}] does not match any time interval"
        )));
    }
    Ok(intervals)
}

fn condition_intervals(e: &Expr, zone: &Zone) -> Result<Vec<Interval>> {
    match e {
        Expr::Nested(inner) => condition_intervals(inner, zone),
        Expr::BinaryOp { left, op, right } => match op {
            BinaryOperator::And => Ok(intersect(
                &condition_intervals(left, zone)?,
                &condition_intervals(right, zone)?,
            )),
            BinaryOperator::Or => {
                let mut v = condition_intervals(left, zone)?;
                v.extend(condition_intervals(right, zone)?);
                Ok(merge(v))
            }
            BinaryOperator::Gt
            | BinaryOperator::GtEq
            | BinaryOperator::Lt
            | BinaryOperator::LtEq
            | BinaryOperator::Eq
            | BinaryOperator::NotEq => {
                let (t, op) = if is_time_ref(left)? {
                    (time_literal(right, zone)?, op.clone())
                } else if is_time_ref(right)? {
                    let flipped = match op {
                        BinaryOperator::Gt => BinaryOperator::Lt,
                        BinaryOperator::GtEq => BinaryOperator::LtEq,
                        BinaryOperator::Lt => BinaryOperator::Gt,
                        BinaryOperator::LtEq => BinaryOperator::GtEq,
                        other => other.clone(),
                    };
                    (time_literal(left, zone)?, flipped)
                } else {
                    return Err(only_time());
                };
                let (min, max) = (i64::MIN, i64::MAX);
                Ok(merge(match op {
                    BinaryOperator::Gt => vec![Interval::new(t.saturating_add(1), max)],
                    BinaryOperator::GtEq => vec![Interval::new(t, max)],
                    BinaryOperator::Lt => vec![Interval::new(min, t)],
                    BinaryOperator::LtEq => vec![Interval::new(min, t.saturating_add(1))],
                    BinaryOperator::Eq => vec![Interval::new(t, t.saturating_add(1))],
                    _ => vec![Interval::new(min, t), Interval::new(t.saturating_add(1), max)],
                }))
            }
            other => Err(unsupported_where(&format!("operator [{other}]"))),
        },
        Expr::Between {
            expr,
            negated,
            low,
            high,
        } => {
            if !is_time_ref(expr)? {
                return Err(only_time());
            }
            if *negated {
                return Err(unsupported_where("NOT BETWEEN"));
            }
            let (lo, hi) = (time_literal(low, zone)?, time_literal(high, zone)?);
            Ok(merge(vec![Interval::new(lo, hi.saturating_add(1))]))
        }
        Expr::UnaryOp {
            op: UnaryOperator::Not, ..
        } => Err(unsupported_where("NOT")),
        other => {
            if expr_mentions_other_column(other) {
                Err(only_time())
            } else {
                Err(unsupported_where(&format!("expression [{other}]")))
            }
        }
    }
}

fn only_time() -> MsqError {
    MsqError::Validation("Only __time column is supported in OVERWRITE WHERE clause".to_string())
}

fn unsupported_where(what: &str) -> MsqError {
    MsqError::Validation(format!(
        "Unsupported {what} in OVERWRITE WHERE clause: use conditions on __time combined with AND / OR (>, >=, <, <=, =, BETWEEN)"
    ))
}

fn expr_mentions_other_column(e: &Expr) -> bool {
    match e {
        Expr::Identifier(id) => id.value != TIME_COLUMN,
        Expr::CompoundIdentifier(ids) => ids.last().is_some_and(|id| id.value != TIME_COLUMN),
        Expr::IsNull(inner) | Expr::IsNotNull(inner) | Expr::Nested(inner) => expr_mentions_other_column(inner),
        Expr::InList { expr, .. } | Expr::Like { expr, .. } | Expr::ILike { expr, .. } => {
            expr_mentions_other_column(expr)
        }
        _ => false,
    }
}

/// Whether `e` is a reference to `__time`; other columns are an error.
fn is_time_ref(e: &Expr) -> Result<bool> {
    match e {
        Expr::Identifier(id) if id.value == TIME_COLUMN => Ok(true),
        Expr::CompoundIdentifier(ids) if ids.last().is_some_and(|id| id.value == TIME_COLUMN) => Ok(true),
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => Err(only_time()),
        Expr::Nested(inner) => is_time_ref(inner),
        Expr::Cast { expr, .. } if matches!(**expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_)) => {
            is_time_ref(expr)
        }
        _ => Ok(false),
    }
}

/// Evaluates a time literal of an `OVERWRITE WHERE` condition to epoch millis.
fn time_literal(e: &Expr, zone: &Zone) -> Result<i64> {
    let bad = || {
        MsqError::Validation(format!(
            "Cannot use [{e}] as a time in OVERWRITE WHERE clause: expected TIMESTAMP '<time>', a string or TIME_PARSE('<time>')"
        ))
    };
    let instant = |s: &str| parse_iso(s.trim(), zone).ok_or_else(bad);
    match e {
        Expr::Nested(inner) => time_literal(inner, zone),
        Expr::TypedString(ts) => match (&ts.data_type, &ts.value.value) {
            (
                SqlDataType::Timestamp(..) | SqlDataType::Date | SqlDataType::Datetime(_),
                SqlValue::SingleQuotedString(s),
            ) => instant(s),
            _ => Err(bad()),
        },
        Expr::Value(v) => match &v.value {
            SqlValue::SingleQuotedString(s) => instant(s),
            SqlValue::Number(n, _) => n.parse::<i64>().map_err(|_| bad()),
            _ => Err(bad()),
        },
        Expr::Cast { expr, .. } => time_literal(expr, zone),
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_uppercase();
            let args: Vec<&Expr> = match &f.args {
                FunctionArguments::List(list) => list
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) => Some(x),
                        _ => None,
                    })
                    .collect(),
                _ => Vec::new(),
            };
            match (name.as_str(), args.as_slice()) {
                ("TIME_PARSE", [x]) => time_literal(x, zone),
                ("MILLIS_TO_TIMESTAMP", [Expr::Value(v)]) => match &v.value {
                    SqlValue::Number(n, _) => n.parse::<i64>().map_err(|_| bad()),
                    _ => Err(bad()),
                },
                _ => Err(bad()),
            }
        }
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => Err(only_time()),
        _ => Err(bad()),
    }
}

/// Sorts and merges overlapping or adjacent intervals, dropping empty ones.
fn merge(mut v: Vec<Interval>) -> Vec<Interval> {
    v.retain(|i| i.start < i.end);
    v.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(v.len());
    for iv in v {
        match out.last_mut() {
            Some(last) if iv.start <= last.end => last.end = last.end.max(iv.end),
            _ => out.push(iv),
        }
    }
    out
}

fn intersect(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    for x in a {
        for y in b {
            let s = x.start.max(y.start);
            let e = x.end.min(y.end);
            if s < e {
                out.push(Interval::new(s, e));
            }
        }
    }
    merge(out)
}
