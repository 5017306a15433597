//! Druid scalar forms (`TIMESTAMPADD`, `DATE_TRUNC`, `TIME_IN_INTERVAL`, `REGEXP_EXTRACT`, ...),
//! the `sqlTimeZone` of time functions and timestamp literals, and a fixed `CURRENT_TIMESTAMP`.

use super::ast::{
    args_mut, as_int_lit, as_string_lit, as_unit, call, ident_name, null_lit, number_lit, plain_args, string_lit,
    timestamp_lit,
};
use super::options::RewriteOptions;
use crate::functions::time::{parse_iso, shift, Period, Unit, Zone};
use crate::units::calcite_unit_period;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, BinaryOperator, DataType as SqlDataType, DateTimeField, Expr, Function, FunctionArg,
    FunctionArgExpr, Ident, ObjectName, ObjectNamePart, Value,
};
use msq_engine::{MsqError, Result};
use std::ops::ControlFlow;

/// Rewrites Druid scalar forms and applies the time zone and current time of `opts`.
pub fn rewrite_druid_functions(stmt: &mut DFStatement, opts: &RewriteOptions) -> Result<()> {
    let DFStatement::Statement(inner) = stmt else {
        return Ok(());
    };
    let res = visit_expressions_mut(inner.as_mut(), |e: &mut Expr| match rewrite_expr(e, opts) {
        Ok(()) => ControlFlow::Continue(()),
        Err(err) => ControlFlow::Break(err),
    });
    match res {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn rewrite_expr(e: &mut Expr, opts: &RewriteOptions) -> Result<()> {
    let zoned = !opts.zone.is_utc();
    let zone = || string_lit(&opts.zone.name());
    match e {
        Expr::TypedString(ts) => {
            let Value::SingleQuotedString(text) = &ts.value.value else {
                return Ok(());
            };
            let (kind, format) = match ts.data_type {
                SqlDataType::Timestamp(..) => ("TIMESTAMP", "yyyy-MM-dd HH:mm:ss"),
                SqlDataType::Datetime(_) => ("DATETIME", "yyyy-MM-dd HH:mm:ss"),
                SqlDataType::Date => ("DATE", "yyyy-MM-dd"),
                _ => return Ok(()),
            };
            let Some(ms) = parse_iso(text, &opts.zone) else {
                return Err(MsqError::Validation(format!(
                    "Illegal {kind} literal '{text}': not in format '{format}'"
                )));
            };
            // Outside 1677-2262 a timestamp does not fit DataFusion's nanosecond literals;
            // as epoch millis (Druid's own unit) it does.
            let fits_nanos = (NANOS_MIN_MILLIS..=NANOS_MAX_MILLIS).contains(&ms);
            if zoned || (kind != "DATE" && !fits_nanos) {
                *e = timestamp_lit(ms);
            }
        }
        Expr::Extract { field, expr, .. } => {
            let unit = match field {
                DateTimeField::Week(_) => "WEEK".to_string(),
                DateTimeField::DayOfWeek => "DOW".to_string(),
                DateTimeField::DayOfYear => "DOY".to_string(),
                DateTimeField::Millenium => "MILLENNIUM".to_string(),
                other => other.to_string().to_ascii_uppercase(),
            };
            if Unit::parse(&unit).is_some() {
                let mut args = vec![(**expr).clone(), string_lit(&unit)];
                if zoned {
                    args.push(zone());
                }
                *e = call("TIME_EXTRACT", args);
            }
        }
        Expr::Cast {
            expr,
            data_type: SqlDataType::Date,
            ..
        } if zoned => {
            // Druid's DATE is the start of the day in sqlTimeZone, not in UTC.
            *e = call(
                "TIME_FLOOR",
                vec![(**expr).clone(), string_lit("P1D"), null_lit(), zone()],
            );
        }
        Expr::Function(f) => {
            if let Some(replacement) = rewrite_call(f, opts)? {
                *e = replacement;
            }
        }
        _ => {}
    }
    Ok(())
}

/// Earliest and latest instants (epoch millis) of DataFusion's nanosecond timestamps.
const NANOS_MIN_MILLIS: i64 = i64::MIN / 1_000_000 + 1;
const NANOS_MAX_MILLIS: i64 = i64::MAX / 1_000_000 - 1;

/// Functions whose second argument is a regular expression.
const REGEX_FUNCTIONS: [&str; 7] = [
    "REGEXP_LIKE",
    "REGEXP_EXTRACT",
    "REGEXP_REPLACE",
    "REGEXP_MATCH",
    "REGEXP_COUNT",
    "REGEXP_INSTR",
    "REGEXP_SUBSTR",
];

/// A literal pattern of a regular-expression function must compile (an invalid one is the
/// user's mistake, found before any task runs).
fn check_regex_literal(name: &str, f: &Function) -> Result<()> {
    if !REGEX_FUNCTIONS.contains(&name) {
        return Ok(());
    }
    let Some(pattern) = plain_args(f).and_then(|a| a.get(1).and_then(|p| as_string_lit(p))) else {
        return Ok(());
    };
    regex::Regex::new(pattern).map(|_| ()).map_err(|e| {
        MsqError::Validation(format!(
            "Function [{name}] has an invalid regular expression [{pattern}]: {}",
            e.to_string().lines().last().unwrap_or_default().trim()
        ))
    })
}

/// Rewrites one call; returns a replacement expression when the call is replaced whole.
fn rewrite_call(f: &mut Function, opts: &RewriteOptions) -> Result<Option<Expr>> {
    let name = ident_name(&f.name);
    check_regex_literal(&name, f)?;
    let n_args = plain_args(f).map(|a| a.len());
    if add_time_zone(f, &name, n_args, opts) {
        return Ok(None);
    }
    match (name.as_str(), n_args) {
        ("CURRENT_TIMESTAMP" | "LOCALTIMESTAMP" | "NOW", Some(0)) => Ok(Some(timestamp_lit(opts.now_millis))),
        ("CURRENT_DATE", Some(0)) => Ok(Some(call(
            "TIME_FLOOR",
            vec![
                timestamp_lit(opts.now_millis),
                string_lit("P1D"),
                null_lit(),
                zone_lit(opts),
            ],
        ))),
        ("TIMESTAMPADD", Some(3)) => timestampadd(&args(f), opts).map(Some),
        ("TIMESTAMPDIFF", Some(3)) => timestampdiff(&args(f), opts).map(Some),
        ("DATE_TRUNC", Some(2)) => date_trunc(&args(f), opts),
        ("TIME_IN_INTERVAL", Some(2)) => time_in_interval(&args(f), opts).map(Some),
        ("CONCAT", Some(n)) if n > 0 => rename(f, "druid_concat"),
        ("TEXTCAT", Some(2)) => rename(f, "druid_concat"),
        ("TEXTCAT", Some(n)) => Err(MsqError::Validation(format!(
            "Function [TEXTCAT] expects 2 arguments, got {n}"
        ))),
        ("STRLEN", Some(1)) => rename(f, "character_length"),
        ("MOD", Some(2)) => {
            let a = args(f);
            Ok(Some(Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(a[0].clone()),
                op: BinaryOperator::Modulo,
                right: Box::new(a[1].clone()),
            }))))
        }
        ("REGEXP_EXTRACT", Some(2 | 3)) => regexp_extract(&args(f)).map(Some),
        _ => Ok(None),
    }
}

/// The plain arguments of a call whose arity was checked.
fn args(f: &Function) -> Vec<&Expr> {
    plain_args(f).unwrap_or_default()
}

/// The `sqlTimeZone` as a string literal.
fn zone_lit(opts: &RewriteOptions) -> Expr {
    string_lit(&opts.zone.name())
}

/// Time functions called without a time zone argument take `sqlTimeZone` (when it is not
/// UTC): appends it to `f` and returns whether `f` was such a call.
fn add_time_zone(f: &mut Function, name: &str, n_args: Option<usize>, opts: &RewriteOptions) -> bool {
    if opts.zone.is_utc() {
        return false;
    }
    let extra = match (name, n_args) {
        ("TIME_FLOOR" | "TIME_CEIL", Some(2)) => vec![null_lit(), zone_lit(opts)],
        ("TIME_FLOOR" | "TIME_CEIL", Some(3)) => vec![zone_lit(opts)],
        ("TIME_SHIFT", Some(3)) => vec![zone_lit(opts)],
        ("TIME_EXTRACT", Some(2)) => vec![zone_lit(opts)],
        ("TIME_FORMAT" | "TIME_PARSE", Some(1)) => vec![null_lit(), zone_lit(opts)],
        ("TIME_FORMAT" | "TIME_PARSE", Some(2)) => vec![zone_lit(opts)],
        _ => return false,
    };
    if let Some(a) = args_mut(f) {
        a.extend(
            extra
                .into_iter()
                .map(|x| FunctionArg::Unnamed(FunctionArgExpr::Expr(x))),
        );
    }
    true
}

/// `TIMESTAMPADD(unit, n, t)` → `TIME_SHIFT(t, 'period', n[, zone])`.
fn timestampadd(a: &[&Expr], opts: &RewriteOptions) -> Result<Expr> {
    let Some(period) = as_unit(a[0]).as_deref().and_then(calcite_unit_period) else {
        return Err(MsqError::Validation(format!(
            "TIMESTAMPADD: unsupported time unit [{}]",
            a[0]
        )));
    };
    let mut args = vec![a[2].clone(), string_lit(period), a[1].clone()];
    if !opts.zone.is_utc() {
        args.push(zone_lit(opts));
    }
    Ok(call("TIME_SHIFT", args))
}

/// `TIMESTAMPDIFF(unit, t1, t2)` → `timestampdiff('UNIT', t1, t2[, zone])`.
fn timestampdiff(a: &[&Expr], opts: &RewriteOptions) -> Result<Expr> {
    let Some(unit) = as_unit(a[0]) else {
        return Err(MsqError::Validation(format!(
            "TIMESTAMPDIFF: unsupported time unit [{}]",
            a[0]
        )));
    };
    let mut args = vec![string_lit(&unit), a[1].clone(), a[2].clone()];
    if !opts.zone.is_utc() {
        args.push(zone_lit(opts));
    }
    Ok(call("timestampdiff", args))
}

/// `DATE_TRUNC('unit', t)` → `TIME_FLOOR(t, 'period', NULL, zone)`; `None` for a unit that is
/// not a string literal.
fn date_trunc(a: &[&Expr], opts: &RewriteOptions) -> Result<Option<Expr>> {
    let Some(unit) = as_string_lit(a[0]) else {
        return Ok(None);
    };
    let Some(period) = calcite_unit_period(unit) else {
        return Err(MsqError::Validation(format!("DATE_TRUNC: unsupported unit [{unit}]")));
    };
    Ok(Some(call(
        "TIME_FLOOR",
        vec![a[1].clone(), string_lit(period), null_lit(), zone_lit(opts)],
    )))
}

/// `TIME_IN_INTERVAL(t, 'start/end')` → `(t >= start AND t < end)`.
fn time_in_interval(a: &[&Expr], opts: &RewriteOptions) -> Result<Expr> {
    let Some(text) = as_string_lit(a[1]) else {
        return Err(MsqError::Validation(
            "TIME_IN_INTERVAL: the interval must be a string literal, e.g. '2015-09-12/2015-09-13'".into(),
        ));
    };
    let (start, end) = parse_interval(text, &opts.zone).ok_or_else(|| {
        MsqError::Validation(format!(
            "TIME_IN_INTERVAL: invalid ISO-8601 interval [{text}], expected <start>/<end>, <start>/<period> or <period>/<end>"
        ))
    })?;
    let ts = a[0].clone();
    Ok(Expr::Nested(Box::new(Expr::BinaryOp {
        left: Box::new(Expr::BinaryOp {
            left: Box::new(ts.clone()),
            op: BinaryOperator::GtEq,
            right: Box::new(timestamp_lit(start)),
        }),
        op: BinaryOperator::And,
        right: Box::new(Expr::BinaryOp {
            left: Box::new(ts),
            op: BinaryOperator::Lt,
            right: Box::new(timestamp_lit(end)),
        }),
    })))
}

/// `REGEXP_EXTRACT(s, pattern[, index])` → `array_element(regexp_match(s, '(pattern)'), index + 1)`.
fn regexp_extract(a: &[&Expr]) -> Result<Expr> {
    let index = match a.get(2) {
        None => 0,
        Some(x) => as_int_lit(x).filter(|n| *n >= 0).ok_or_else(|| {
            MsqError::Validation(format!(
                "REGEXP_EXTRACT: the index must be a non-negative integer literal, got [{x}]"
            ))
        })?,
    };
    // Group 0 (the whole match) becomes group 1 of the wrapped pattern.
    let pattern = match as_string_lit(a[1]) {
        Some(p) => string_lit(&format!("({p})")),
        None => call("druid_concat", vec![string_lit("("), a[1].clone(), string_lit(")")]),
    };
    let matched = call("regexp_match", vec![a[0].clone(), pattern]);
    Ok(call("array_element", vec![matched, number_lit(index + 1)]))
}

/// Renames the call `f` to `to`, keeping its arguments (no replacement expression).
fn rename(f: &mut Function, to: &str) -> Result<Option<Expr>> {
    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(to))]);
    Ok(None)
}

/// Parses an ISO-8601 interval (`start/end`, `start/period`, `period/end`) with times local
/// to `zone` unless they carry an offset; half-open `[start, end)` in epoch millis.
pub fn parse_interval(text: &str, zone: &Zone) -> Option<(i64, i64)> {
    let (a, b) = text.trim().split_once('/')?;
    let (start, end) = match (Period::parse(a), Period::parse(b)) {
        (None, None) => (parse_iso(a, zone)?, parse_iso(b, zone)?),
        (None, Some(p)) => {
            let s = parse_iso(a, zone)?;
            (s, shift(s, &p, 1, zone)?)
        }
        (Some(p), None) => {
            let e = parse_iso(b, zone)?;
            (shift(e, &p, -1, zone)?, e)
        }
        (Some(_), Some(_)) => return None,
    };
    (start <= end).then_some((start, end))
}
