//! Rewrites of Druid-only SQL forms into functions the planner knows, on the parsed AST:
//! Druid aggregates, Druid scalar forms (`TIMESTAMPADD(HOUR, ...)`, `DATE_TRUNC`,
//! `TIME_IN_INTERVAL`, `EXTRACT`, `REGEXP_EXTRACT`, `CONCAT` with Druid's NULL rule, ...),
//! the `sqlTimeZone` of time functions and timestamp literals, a fixed `CURRENT_TIMESTAMP`,
//! Calcite's `EXPR$n` column names, and the checks for constructs MSQ does not support.

use crate::functions::time::{parse_iso, shift, Period, Unit, Zone};
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    visit_expressions, visit_expressions_mut, BinaryOperator, DataType as SqlDataType, DateTimeField, Expr, Function,
    FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, GroupByExpr, Ident, JoinOperator,
    ObjectName, ObjectNamePart, Query, SelectItem, SetExpr, Statement, TableAlias, TableFactor, TableWithJoins, Value,
    Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;
use msq_engine::{MsqError, Result};
use std::ops::ControlFlow;

/// What the rewrites depend on: the statement's context.
#[derive(Debug, Clone)]
pub struct RewriteOptions {
    /// `sqlTimeZone`: the default zone of time functions and timestamp literals.
    pub zone: Zone,
    /// The statement's `CURRENT_TIMESTAMP` in epoch millis (fixed for the whole statement).
    pub now_millis: i64,
    /// `finalizeAggregations`.
    pub finalize_aggregations: bool,
    /// `useApproximateCountDistinct`: COUNT(DISTINCT) is a sketch aggregation.
    pub approximate_count_distinct: bool,
}

impl Default for RewriteOptions {
    fn default() -> Self {
        RewriteOptions {
            zone: Zone::utc(),
            now_millis: 0,
            finalize_aggregations: true,
            approximate_count_distinct: true,
        }
    }
}

/// Every rewrite and check, in order, on one parsed statement.
pub fn rewrite_statement(stmt: &mut DFStatement, opts: &RewriteOptions) -> Result<()> {
    reject_unsupported(stmt)?;
    check_group_by(stmt)?;
    rewrite_lateral_unnest(stmt)?;
    rewrite_druid_aggregates(stmt);
    rewrite_druid_functions(stmt, opts)?;
    name_unaliased_columns(stmt);
    if !opts.finalize_aggregations {
        check_unfinalized_aggregates(stmt, opts)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// AST helpers

fn ident_name(name: &ObjectName) -> String {
    match name.0.last() {
        Some(ObjectNamePart::Identifier(i)) => i.value.to_ascii_uppercase(),
        _ => name.to_string().to_ascii_uppercase(),
    }
}

fn string_lit(s: &str) -> Expr {
    Expr::value(Value::SingleQuotedString(s.to_string()))
}

fn number_lit(n: i64) -> Expr {
    Expr::value(Value::Number(n.to_string(), false))
}

fn null_lit() -> Expr {
    Expr::value(Value::Null)
}

/// `name(args...)`.
fn call(name: &str, args: Vec<Expr>) -> Expr {
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
fn timestamp_lit(millis: i64) -> Expr {
    call("MILLIS_TO_TIMESTAMP", vec![number_lit(millis)])
}

/// The plain positional arguments of a call, or `None` if any is named/wildcard.
fn plain_args(f: &Function) -> Option<Vec<&Expr>> {
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

fn args_mut(f: &mut Function) -> Option<&mut Vec<FunctionArg>> {
    match &mut f.args {
        FunctionArguments::List(list) => Some(&mut list.args),
        _ => None,
    }
}

fn as_string_lit(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        Expr::Nested(inner) => as_string_lit(inner),
        _ => None,
    }
}

fn as_int_lit(e: &Expr) -> Option<i64> {
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
fn as_unit(e: &Expr) -> Option<String> {
    match e {
        Expr::Identifier(i) if i.quote_style.is_none() => Some(i.value.to_ascii_uppercase()),
        _ => as_string_lit(e).map(|s| s.to_ascii_uppercase()),
    }
}

// ---------------------------------------------------------------------------------------------
// Unsupported constructs

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

// ---------------------------------------------------------------------------------------------
// Aggregates

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
fn check_unfinalized_aggregates(stmt: &DFStatement, opts: &RewriteOptions) -> Result<()> {
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

// ---------------------------------------------------------------------------------------------
// Scalar functions and the time zone

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

/// The ISO period of a Calcite time unit name (`HOUR`, `SQL_TSI_HOUR`, `hour`).
fn unit_period(unit: &str) -> Option<&'static str> {
    let u = unit.trim().to_ascii_uppercase();
    let u = u.strip_prefix("SQL_TSI_").unwrap_or(&u);
    Some(match u.trim_end_matches('S') {
        "MILLISECOND" | "MICROSECOND" => "PT0.001S",
        "SECOND" => "PT1S",
        "MINUTE" => "PT1M",
        "HOUR" => "PT1H",
        "DAY" => "P1D",
        "WEEK" => "P1W",
        "MONTH" => "P1M",
        "QUARTER" => "P3M",
        "YEAR" => "P1Y",
        "DECADE" => "P10Y",
        "CENTURY" => "P100Y",
        "MILLENNIUM" | "MILLENIUM" => "P1000Y",
        _ => return None,
    })
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
    let zoned = !opts.zone.is_utc();
    let zone = || string_lit(&opts.zone.name());
    let push = |f: &mut Function, extra: Vec<Expr>| {
        if let Some(a) = args_mut(f) {
            a.extend(
                extra
                    .into_iter()
                    .map(|x| FunctionArg::Unnamed(FunctionArgExpr::Expr(x))),
            );
        }
    };
    let n_args = plain_args(f).map(|a| a.len());
    match (name.as_str(), n_args) {
        // Time functions without a time zone argument take sqlTimeZone.
        ("TIME_FLOOR" | "TIME_CEIL", Some(2)) if zoned => push(f, vec![null_lit(), zone()]),
        ("TIME_FLOOR" | "TIME_CEIL", Some(3)) if zoned => push(f, vec![zone()]),
        ("TIME_SHIFT", Some(3)) if zoned => push(f, vec![zone()]),
        ("TIME_EXTRACT", Some(2)) if zoned => push(f, vec![zone()]),
        ("TIME_FORMAT" | "TIME_PARSE", Some(1)) if zoned => push(f, vec![null_lit(), zone()]),
        ("TIME_FORMAT" | "TIME_PARSE", Some(2)) if zoned => push(f, vec![zone()]),
        ("CURRENT_TIMESTAMP" | "LOCALTIMESTAMP" | "NOW", Some(0)) => return Ok(Some(timestamp_lit(opts.now_millis))),
        ("CURRENT_DATE", Some(0)) => {
            return Ok(Some(call(
                "TIME_FLOOR",
                vec![timestamp_lit(opts.now_millis), string_lit("P1D"), null_lit(), zone()],
            )))
        }
        ("TIMESTAMPADD", Some(3)) => {
            let a = plain_args(f).unwrap_or_default();
            let Some(period) = as_unit(a[0]).as_deref().and_then(unit_period) else {
                return Err(MsqError::Validation(format!(
                    "TIMESTAMPADD: unsupported time unit [{}]",
                    a[0]
                )));
            };
            let mut args = vec![a[2].clone(), string_lit(period), a[1].clone()];
            if zoned {
                args.push(zone());
            }
            return Ok(Some(call("TIME_SHIFT", args)));
        }
        ("TIMESTAMPDIFF", Some(3)) => {
            let a = plain_args(f).unwrap_or_default();
            let Some(unit) = as_unit(a[0]) else {
                return Err(MsqError::Validation(format!(
                    "TIMESTAMPDIFF: unsupported time unit [{}]",
                    a[0]
                )));
            };
            let mut args = vec![string_lit(&unit), a[1].clone(), a[2].clone()];
            if zoned {
                args.push(zone());
            }
            return Ok(Some(call("timestampdiff", args)));
        }
        ("DATE_TRUNC", Some(2)) => {
            let a = plain_args(f).unwrap_or_default();
            let Some(unit) = as_string_lit(a[0]) else {
                return Ok(None);
            };
            let Some(period) = unit_period(unit) else {
                return Err(MsqError::Validation(format!("DATE_TRUNC: unsupported unit [{unit}]")));
            };
            return Ok(Some(call(
                "TIME_FLOOR",
                vec![a[1].clone(), string_lit(period), null_lit(), zone()],
            )));
        }
        ("TIME_IN_INTERVAL", Some(2)) => {
            let a = plain_args(f).unwrap_or_default();
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
            return Ok(Some(Expr::Nested(Box::new(Expr::BinaryOp {
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
            }))));
        }
        ("CONCAT", Some(n)) if n > 0 => rename(f, "druid_concat"),
        ("TEXTCAT", Some(2)) => rename(f, "druid_concat"),
        ("TEXTCAT", Some(n)) => {
            return Err(MsqError::Validation(format!(
                "Function [TEXTCAT] expects 2 arguments, got {n}"
            )))
        }
        ("STRLEN", Some(1)) => rename(f, "character_length"),
        ("MOD", Some(2)) => {
            let a = plain_args(f).unwrap_or_default();
            return Ok(Some(Expr::Nested(Box::new(Expr::BinaryOp {
                left: Box::new(a[0].clone()),
                op: BinaryOperator::Modulo,
                right: Box::new(a[1].clone()),
            }))));
        }
        ("REGEXP_EXTRACT", Some(2 | 3)) => {
            let a = plain_args(f).unwrap_or_default();
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
            return Ok(Some(call("array_element", vec![matched, number_lit(index + 1)])));
        }
        _ => {}
    }
    Ok(None)
}

fn rename(f: &mut Function, to: &str) {
    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new(to))]);
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

// ---------------------------------------------------------------------------------------------
// UNNEST

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

// ---------------------------------------------------------------------------------------------
// Column names

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

    fn rewrite_with(sql: &str, opts: &RewriteOptions) -> Result<String> {
        let mut s = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        rewrite_statement(&mut s, opts)?;
        Ok(s.to_string())
    }

    fn rewrite(sql: &str) -> String {
        rewrite_with(sql, &RewriteOptions::default()).unwrap()
    }

    fn la() -> RewriteOptions {
        RewriteOptions {
            zone: Zone::parse("America/Los_Angeles").unwrap(),
            now_millis: 1442016000000,
            ..RewriteOptions::default()
        }
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

    #[test]
    fn time_zone_is_applied() {
        let o = la();
        assert_eq!(
            rewrite_with("SELECT TIME_FLOOR(__time, 'P1D') AS d FROM t", &o).unwrap(),
            "SELECT TIME_FLOOR(__time, 'P1D', NULL, 'America/Los_Angeles') AS d FROM t"
        );
        assert_eq!(
            rewrite_with("SELECT TIME_FORMAT(__time) AS d FROM t", &o).unwrap(),
            "SELECT TIME_FORMAT(__time, NULL, 'America/Los_Angeles') AS d FROM t"
        );
        // An explicit zone wins.
        assert_eq!(
            rewrite_with("SELECT TIME_FLOOR(__time, 'P1D', NULL, 'UTC') AS d FROM t", &o).unwrap(),
            "SELECT TIME_FLOOR(__time, 'P1D', NULL, 'UTC') AS d FROM t"
        );
        // 2015-09-12 00:00 in Los Angeles (PDT, -07:00) is 07:00 UTC.
        assert_eq!(
            rewrite_with("SELECT x FROM t WHERE __time >= TIMESTAMP '2015-09-12 00:00:00'", &o).unwrap(),
            "SELECT x FROM t WHERE __time >= MILLIS_TO_TIMESTAMP(1442041200000)"
        );
        assert_eq!(
            rewrite_with("SELECT EXTRACT(HOUR FROM __time) AS h FROM t", &o).unwrap(),
            "SELECT TIME_EXTRACT(__time, 'HOUR', 'America/Los_Angeles') AS h FROM t"
        );
        // UTC leaves literals alone, unless they do not fit nanoseconds.
        assert_eq!(
            rewrite("SELECT x FROM t WHERE __time >= TIMESTAMP '2015-09-12 00:00:00'"),
            "SELECT x FROM t WHERE __time >= TIMESTAMP '2015-09-12 00:00:00'"
        );
        assert_eq!(
            rewrite("SELECT TIMESTAMP '9999-12-31 23:59:59' AS __time"),
            "SELECT MILLIS_TO_TIMESTAMP(253402300799000) AS __time"
        );
        let e = rewrite_with("SELECT TIMESTAMP 'not a time' AS t", &o).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
        assert_eq!(
            e.to_string(),
            "Illegal TIMESTAMP literal 'not a time': not in format 'yyyy-MM-dd HH:mm:ss'"
        );
        let e = rewrite_with("SELECT DATE '2020-13-45' AS t", &RewriteOptions::default()).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
    }

    #[test]
    fn druid_scalar_forms() {
        let o = RewriteOptions {
            now_millis: 5,
            ..RewriteOptions::default()
        };
        assert_eq!(
            rewrite_with("SELECT CURRENT_TIMESTAMP AS n", &o).unwrap(),
            "SELECT MILLIS_TO_TIMESTAMP(5) AS n"
        );
        assert_eq!(
            rewrite("SELECT TIMESTAMPADD(HOUR, 2, __time) AS a, TIMESTAMPDIFF(DAY, a, b) AS d FROM t"),
            "SELECT TIME_SHIFT(__time, 'PT1H', 2) AS a, timestampdiff('DAY', a, b) AS d FROM t"
        );
        assert_eq!(
            rewrite("SELECT DATE_TRUNC('month', __time) AS m FROM t"),
            "SELECT TIME_FLOOR(__time, 'P1M', NULL, 'UTC') AS m FROM t"
        );
        assert_eq!(
            rewrite("SELECT x FROM t WHERE TIME_IN_INTERVAL(__time, '2015-09-12/P1D')"),
            "SELECT x FROM t WHERE (__time >= MILLIS_TO_TIMESTAMP(1442016000000) AND __time < MILLIS_TO_TIMESTAMP(1442102400000))"
        );
        assert_eq!(
            rewrite("SELECT CONCAT(a, 'x') AS c, TEXTCAT(a, b) AS d, STRLEN(a) AS l FROM t"),
            "SELECT druid_concat(a, 'x') AS c, druid_concat(a, b) AS d, character_length(a) AS l FROM t"
        );
        assert_eq!(
            rewrite("SELECT REGEXP_EXTRACT(page, 'a(b+)', 1) AS r FROM t"),
            "SELECT array_element(regexp_match(page, '(a(b+))'), 2) AS r FROM t"
        );
        let e = rewrite_with("SELECT REGEXP_LIKE(page, '((') FROM t", &o).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
        assert!(
            e.to_string()
                .starts_with("Function [REGEXP_LIKE] has an invalid regular expression [((]"),
            "{e}"
        );
        rewrite_with("SELECT REGEXP_LIKE(page, '^a(b|c)$') FROM t", &o).unwrap();
        let e = rewrite_with("SELECT TIME_IN_INTERVAL(__time, x) FROM t", &o).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
        let e = rewrite_with("SELECT TIMESTAMPADD(FORTNIGHT, 1, __time) FROM t", &o).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
    }

    #[test]
    fn unsupported_and_unfinalized() {
        for sql in [
            "SELECT a, COUNT(*) FROM t GROUP BY GROUPING SETS ((a), ())",
            "SELECT a, COUNT(*) FROM t GROUP BY ROLLUP (a)",
            "SELECT a, COUNT(*) FROM t GROUP BY CUBE (a)",
        ] {
            let e = rewrite_with(sql, &RewriteOptions::default()).unwrap_err();
            assert_eq!(e.error_code(), "QueryNotSupported", "{sql}");
        }
        let raw = RewriteOptions {
            finalize_aggregations: false,
            ..RewriteOptions::default()
        };
        let e = rewrite_with("SELECT a, APPROX_COUNT_DISTINCT(b) AS u FROM t GROUP BY a", &raw).unwrap_err();
        assert_eq!(e.error_code(), "QueryNotSupported");
        assert!(e.to_string().contains("Column [u]"), "{e}");
        let e = rewrite_with("SELECT a, COUNT(DISTINCT b) FROM t GROUP BY a", &raw).unwrap_err();
        assert!(e.to_string().contains("Column [EXPR$1]"), "{e}");
        rewrite_with("SELECT a, COUNT(*) AS c, SUM(b) AS s FROM t GROUP BY a", &raw).unwrap();
        let e = rewrite_with("SELECT a, COUNT(*) AS c FROM t GROUP BY 1, 2", &raw).unwrap_err();
        assert_eq!(e.error_code(), "InvalidInput");
        rewrite_with("SELECT a, RANK() OVER (ORDER BY a) FROM t GROUP BY 1", &raw).unwrap();
    }

    #[test]
    fn select_list_names() {
        let s = DFParser::parse_sql("SELECT a, LOWER(b) AS lb, UPPER(c) FROM t")
            .unwrap()
            .pop_front()
            .unwrap();
        assert_eq!(
            output_expressions(&s),
            vec![
                ("A".to_string(), "a".to_string()),
                ("LOWER(B)".to_string(), "lb".to_string()),
                ("UPPER(C)".to_string(), "EXPR$2".to_string())
            ]
        );
        assert_eq!(canonical_expression("lower( b )").as_deref(), Some("LOWER(B)"));
    }

    #[test]
    fn lateral_unnest() {
        assert_eq!(
            rewrite("SELECT d3 FROM nested_data, UNNEST(MV_TO_ARRAY(dim3)) AS example_table(d3)"),
            "SELECT d3 FROM (SELECT *, unnest(MV_TO_ARRAY(dim3)) AS d3 FROM nested_data) AS nested_data"
        );
        assert_eq!(
            rewrite("SELECT u.x, t.k FROM t AS t CROSS JOIN UNNEST(t.arr) AS u(x) WHERE u.x > 1"),
            "SELECT t.x, t.k FROM (SELECT *, unnest(t.arr) AS x FROM t AS t) AS t WHERE t.x > 1"
        );
        // A standalone UNNEST is left to the planner.
        assert_eq!(
            rewrite("SELECT * FROM UNNEST(ARRAY[1, 2, 3]) AS ud(d1)"),
            "SELECT * FROM UNNEST(ARRAY[1, 2, 3]) AS ud (d1)"
        );
    }

    #[test]
    fn intervals() {
        let z = Zone::utc();
        assert_eq!(
            parse_interval("2016-06-27/2016-06-28", &z),
            Some((1466985600000, 1467072000000))
        );
        assert_eq!(
            parse_interval("P1D/2016-06-28", &z),
            Some((1466985600000, 1467072000000))
        );
        assert_eq!(parse_interval("2016-06-28/2016-06-27", &z), None);
        assert_eq!(parse_interval("nonsense", &z), None);
    }
}
