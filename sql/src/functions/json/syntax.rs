//! Druid's special syntax of the JSON functions, turned into plain calls before planning:
//! `JSON_OBJECT(KEY k VALUE v, ...)` and `JSON_OBJECT(k: v, ...)` become
//! `JSON_OBJECT(k, v, ...)` (on the statement's tokens, since the SQL parser does not read
//! them), and `JSON_VALUE(x, path RETURNING type)` becomes `JSON_VALUE(x, path, 'TYPE')`.
//!
//! Without `RETURNING`, `JSON_VALUE` is VARCHAR unless its context asks for a number (as Druid
//! infers the type from the context): an operand of arithmetic, compared with (or `BETWEEN`,
//! `IN`) numeric literals, or the argument of `SUM`/`AVG`/... is DOUBLE.

use super::udf::Returning;
use datafusion::sql::parser::Statement as DFStatement;
use datafusion::sql::sqlparser::ast::{
    visit_expressions_mut, BinaryOperator, Expr, FunctionArg, FunctionArgExpr, FunctionArgumentClause,
    FunctionArguments, ObjectNamePart, UnaryOperator, Value,
};
use msq_engine::{MsqError, Result};
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};
use std::borrow::Cow;
use std::ops::ControlFlow;

/// `sql` with `JSON_OBJECT`'s `KEY ... VALUE ...` and `k: v` pairs as plain arguments, and
/// `JSON_VALUE(x, path RETURNING type ARRAY)` as `JSON_VALUE(x, path, 'TYPE ARRAY')` (forms the
/// SQL parser does not read). Text without them (or that does not tokenize) is returned as is.
pub fn rewrite_json_syntax(sql: &str) -> Cow<'_, str> {
    let upper = sql.to_ascii_uppercase();
    if !upper.contains("JSON_OBJECT") && !upper.contains("RETURNING") {
        return Cow::Borrowed(sql);
    }
    let Some(tokens) = significant_tokens(sql) else {
        return Cow::Borrowed(sql);
    };
    // Replacements as (byte range of the source, text); everything else is kept as written.
    let mut edits: Vec<(std::ops::Range<usize>, String)> = Vec::new();
    let mut depth = 0usize;
    // Paren depths of the open JSON_OBJECT / JSON_VALUE calls (`true`: JSON_OBJECT).
    let mut calls: Vec<(usize, bool)> = Vec::new();
    for pos in 0..tokens.len() {
        let at = |p: usize| tokens.get(p).map(|t| &t.0);
        let (prev, t, next) = (pos.checked_sub(1).and_then(at), &tokens[pos].0, at(pos + 1));
        let call = calls.last().filter(|c| c.0 == depth).map(|c| c.1);
        let span = tokens[pos].1.clone();
        match t {
            Token::LParen => {
                depth += 1;
                match prev {
                    Some(p) if is_kw(p, "JSON_OBJECT") => calls.push((depth, true)),
                    Some(p) if is_kw(p, "JSON_VALUE") => calls.push((depth, false)),
                    _ => {}
                }
            }
            Token::RParen => {
                if call.is_some() {
                    calls.pop();
                }
                depth = depth.saturating_sub(1);
            }
            Token::Colon if call == Some(true) => edits.push((span, ",".into())),
            _ if call == Some(true) && is_kw(t, "KEY") && at_arg_start(prev) && !ends_arg(next) => {
                edits.push((span, String::new()))
            }
            _ if call == Some(true) && is_kw(t, "VALUE") && !at_arg_start(prev) => edits.push((span, ",".into())),
            _ if call == Some(false) && is_kw(t, "RETURNING") && at(pos + 2).is_some_and(|a| is_kw(a, "ARRAY")) => {
                if let Some(Token::Word(w)) = next {
                    let end = tokens[pos + 2].1.end;
                    edits.push((span.start..end, format!(", '{} ARRAY'", w.value.to_ascii_uppercase())));
                }
            }
            _ => {}
        }
    }
    if edits.is_empty() {
        return Cow::Borrowed(sql);
    }
    let mut out = String::with_capacity(sql.len());
    let mut done = 0usize;
    for (range, text) in edits {
        if range.start < done {
            continue;
        }
        out.push_str(&sql[done..range.start]);
        out.push_str(&text);
        done = range.end;
    }
    out.push_str(&sql[done..]);
    Cow::Owned(out)
}

/// The tokens of `sql` other than whitespace and comments, each with its byte range in `sql`
/// (`None` when the text does not tokenize or positions cannot be mapped).
fn significant_tokens(sql: &str) -> Option<Vec<(Token, std::ops::Range<usize>)>> {
    let tokens = Tokenizer::new(&GenericDialect {}, sql).tokenize_with_location().ok()?;
    // Locations (line, column in characters) only move forward: map them to byte offsets
    // with one cursor over the text.
    let (mut byte, mut line, mut col) = (0usize, 1u64, 1u64);
    let mut offset = |l: Location| -> Option<usize> {
        while (line, col) < (l.line, l.column) {
            let c = sql.get(byte..)?.chars().next()?;
            byte += c.len_utf8();
            if c == '\n' {
                (line, col) = (line + 1, 1);
            } else {
                col += 1;
            }
        }
        ((line, col) == (l.line, l.column)).then_some(byte)
    };
    let mut out = Vec::new();
    for t in tokens {
        if matches!(t.token, Token::Whitespace(_) | Token::EOF) {
            continue;
        }
        let start = offset(t.span.start)?;
        let end = offset(t.span.end)?;
        out.push((t.token, start..end));
    }
    Some(out)
}

/// An unquoted word equal (case-insensitively) to `k`.
fn is_kw(t: &Token, k: &str) -> bool {
    matches!(t, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
}

fn at_arg_start(prev: Option<&Token>) -> bool {
    matches!(prev, Some(Token::LParen) | Some(Token::Comma))
}

fn ends_arg(next: Option<&Token>) -> bool {
    matches!(
        next,
        Some(Token::Comma) | Some(Token::RParen) | Some(Token::Colon) | None
    )
}

/// Rewrites `JSON_VALUE(x, path RETURNING type)` into `JSON_VALUE(x, path, 'TYPE')`.
pub fn rewrite_json_returning(stmt: &mut DFStatement) -> Result<()> {
    let DFStatement::Statement(inner) = stmt else {
        return Ok(());
    };
    let res = visit_expressions_mut(inner.as_mut(), |e: &mut Expr| match rewrite_one(e) {
        Ok(()) => ControlFlow::Continue(()),
        Err(err) => ControlFlow::Break(err),
    });
    match res {
        ControlFlow::Break(e) => Err(e),
        ControlFlow::Continue(()) => Ok(()),
    }
}

fn rewrite_one(e: &mut Expr) -> Result<()> {
    infer_from_context(e);
    let Expr::Function(f) = e else {
        return Ok(());
    };
    let FunctionArguments::List(list) = &mut f.args else {
        return Ok(());
    };
    let Some(at) = list
        .clauses
        .iter()
        .position(|c| matches!(c, FunctionArgumentClause::JsonReturningClause(_)))
    else {
        return Ok(());
    };
    let is_json_value =
        matches!(f.name.0.last(), Some(ObjectNamePart::Identifier(i)) if i.value.eq_ignore_ascii_case("JSON_VALUE"));
    let FunctionArgumentClause::JsonReturningClause(r) = list.clauses.remove(at) else {
        return Ok(());
    };
    let type_name = r.data_type.to_string();
    if !is_json_value {
        return Err(MsqError::SqlParse(format!(
            "RETURNING [{type_name}] is only supported in JSON_VALUE, not in {}",
            f.name
        )));
    }
    let base = type_name
        .split('(')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_uppercase();
    if Returning::parse(&base).is_none() {
        return Err(MsqError::Validation(format!(
            "Function[json_value] invalid output type: [{type_name}], expected VARCHAR, BIGINT, DOUBLE or DECIMAL"
        )));
    }
    list.args.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(
        Value::SingleQuotedString(base),
    ))));
    Ok(())
}

/// Aggregates whose argument is numeric.
const NUMERIC_AGGREGATES: [&str; 9] = [
    "SUM",
    "AVG",
    "STDDEV",
    "STDDEV_POP",
    "STDDEV_SAMP",
    "VARIANCE",
    "VAR_POP",
    "VAR_SAMP",
    "VAR",
];

/// Types the untyped `JSON_VALUE` operands of `e` as DOUBLE where `e` asks for a number.
fn infer_from_context(e: &mut Expr) {
    use BinaryOperator as B;
    match e {
        Expr::BinaryOp { left, op, right } => match op {
            B::Plus | B::Minus | B::Multiply | B::Divide | B::Modulo => {
                as_double(left);
                as_double(right);
            }
            B::Eq | B::NotEq | B::Lt | B::LtEq | B::Gt | B::GtEq => {
                if is_number(right) {
                    as_double(left);
                }
                if is_number(left) {
                    as_double(right);
                }
            }
            _ => {}
        },
        Expr::Between { expr, low, high, .. } if is_number(low) || is_number(high) => as_double(expr),
        Expr::InList { expr, list, .. } if !list.is_empty() && list.iter().all(is_number) => as_double(expr),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => as_double(expr),
        Expr::Function(f) if NUMERIC_AGGREGATES.iter().any(|a| is_named(&f.name, a)) => {
            if let FunctionArguments::List(list) = &mut f.args {
                for a in &mut list.args {
                    if let FunctionArg::Unnamed(FunctionArgExpr::Expr(x)) = a {
                        as_double(x);
                    }
                }
            }
        }
        _ => {}
    }
}

fn is_named(name: &datafusion::sql::sqlparser::ast::ObjectName, want: &str) -> bool {
    matches!(name.0.last(), Some(ObjectNamePart::Identifier(i)) if i.value.eq_ignore_ascii_case(want))
}

/// A numeric literal (possibly negated).
fn is_number(e: &Expr) -> bool {
    match e {
        Expr::Value(v) => matches!(v.value, Value::Number(..)),
        Expr::UnaryOp {
            op: UnaryOperator::Minus,
            expr,
        } => is_number(expr),
        Expr::Nested(inner) => is_number(inner),
        _ => false,
    }
}

/// Gives an untyped `JSON_VALUE(x, path)` the type DOUBLE.
fn as_double(e: &mut Expr) {
    let Expr::Function(f) = e else {
        return;
    };
    if !is_named(&f.name, "JSON_VALUE") {
        return;
    }
    if let FunctionArguments::List(list) = &mut f.args {
        if list.args.len() == 2 && list.clauses.is_empty() {
            list.args.push(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::value(
                Value::SingleQuotedString("DOUBLE".into()),
            ))));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_object_pairs() {
        let r = |s: &str| rewrite_json_syntax(s).into_owned();
        assert_eq!(
            r("SELECT JSON_OBJECT(KEY 'a' VALUE x, KEY 'b' VALUE 2) FROM t"),
            "SELECT JSON_OBJECT( 'a' , x,  'b' , 2) FROM t"
        );
        assert_eq!(
            r("SELECT JSON_OBJECT('a': x, 'b':f(1, 2))"),
            "SELECT JSON_OBJECT('a', x, 'b',f(1, 2))"
        );
        assert_eq!(
            r("SELECT json_object('a': JSON_OBJECT(KEY 'b' VALUE 1)) -- c"),
            "SELECT json_object('a', JSON_OBJECT( 'b' , 1)) -- c"
        );
        assert_eq!(r("SELECT 1"), "SELECT 1");
        // A plain call is left alone.
        assert_eq!(r("SELECT JSON_OBJECT('a', 1)"), "SELECT JSON_OBJECT('a', 1)");
        assert_eq!(
            r("SELECT JSON_VALUE(x, '$.a' RETURNING bigint ARRAY), JSON_VALUE(x, '$.b' RETURNING BIGINT)"),
            "SELECT JSON_VALUE(x, '$.a' , 'BIGINT ARRAY'), JSON_VALUE(x, '$.b' RETURNING BIGINT)"
        );
    }

    fn rewritten(sql: &str) -> String {
        let mut stmt = datafusion::sql::parser::DFParserBuilder::new(sql)
            .build()
            .unwrap()
            .parse_statement()
            .unwrap();
        rewrite_json_returning(&mut stmt)
            .map(|_| stmt.to_string())
            .unwrap_or_else(|e| e.to_string())
    }

    #[test]
    fn returning_and_context_types() {
        assert_eq!(
            rewritten("SELECT JSON_VALUE(x, '$.a' RETURNING BIGINT), JSON_VALUE(x, '$.b' RETURNING DECIMAL(10, 2))"),
            "SELECT JSON_VALUE(x, '$.a', 'BIGINT'), JSON_VALUE(x, '$.b', 'DECIMAL')"
        );
        assert_eq!(
            rewritten("SELECT SUM(JSON_VALUE(x, '$.a')) FROM t WHERE JSON_VALUE(x, '$.b') > -1 AND JSON_VALUE(x, '$.c') = 'q'"),
            "SELECT SUM(JSON_VALUE(x, '$.a', 'DOUBLE')) FROM t WHERE JSON_VALUE(x, '$.b', 'DOUBLE') > -1 AND JSON_VALUE(x, '$.c') = 'q'"
        );
        assert_eq!(
            rewritten("SELECT JSON_VALUE(x, '$.a' RETURNING VARCHAR) = 1"),
            "SELECT JSON_VALUE(x, '$.a', 'VARCHAR') = 1"
        );
        assert!(rewritten("SELECT JSON_VALUE(x, '$.a' RETURNING DATE)").contains("invalid output type: [DATE]"));
    }

    /// The token pass leaves everything else exactly as written.
    #[test]
    fn other_text_is_kept() {
        let sql =
            "SELECT JSON_OBJECT('k''s': \"Col\" /* c */, 'é': 1.5e3) -- tail\n, 'it''s', x'00', E'a\\nb' FROM \"t\"\n";
        assert_eq!(
            rewrite_json_syntax(sql),
            "SELECT JSON_OBJECT('k''s', \"Col\" /* c */, 'é', 1.5e3) -- tail\n, 'it''s', x'00', E'a\\nb' FROM \"t\"\n"
        );
        // Unbalanced or untokenizable text is left to the parser's own error.
        assert_eq!(
            rewrite_json_syntax("SELECT JSON_OBJECT('a': 1"),
            "SELECT JSON_OBJECT('a', 1"
        );
        assert_eq!(
            rewrite_json_syntax("SELECT JSON_OBJECT('unterminated"),
            "SELECT JSON_OBJECT('unterminated"
        );
        let deep = format!("SELECT {}JSON_OBJECT('a': 1){}", "(".repeat(50_000), ")".repeat(50_000));
        assert!(rewrite_json_syntax(&deep).contains("JSON_OBJECT('a', 1)"));
    }
}
