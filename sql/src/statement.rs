//! The Druid statement front end: `INSERT` / `REPLACE` headers, `PARTITIONED BY`,
//! `CLUSTERED BY`, `OVERWRITE`, `TABLE(EXTERN(...))` and `FLOOR(x TO unit)`.
//!
//! Like Druid's own Calcite grammar extension, this works on the token stream at
//! parenthesis depth 0: the Druid-only clauses are recognised and stripped, and the
//! remaining query body is handed on as SQL text that a stock SQL planner understands.

use crate::functions::time::{parse_iso, Zone};
use crate::guard::{too_deep, DepthEstimator, DepthToken, MAX_EXPRESSION_DEPTH, MAX_PARSER_RECURSION};
use msq_engine::granularity::{Granularity, Interval};
use msq_engine::signature::{ColumnSignature, ColumnType, Signature, TIME_COLUMN};
use msq_engine::{MsqError, Result};
use serde_json::Value;
use sqlparser::ast::{
    BinaryOperator, DataType as SqlDataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, UnaryOperator,
    Value as SqlValue,
};
use sqlparser::dialect::GenericDialect;
use sqlparser::parser::Parser;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// The kind of a Druid SQL statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatementKind {
    Select,
    Insert,
    Replace,
}

impl StatementKind {
    /// Druid's name of the operation (`INSERT`, `REPLACE`, `SELECT`).
    pub fn name(&self) -> &'static str {
        match self {
            StatementKind::Select => "SELECT",
            StatementKind::Insert => "INSERT",
            StatementKind::Replace => "REPLACE",
        }
    }
}

/// What a `REPLACE` overwrites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Overwrite {
    /// `OVERWRITE ALL`
    All,
    /// `OVERWRITE WHERE <__time condition>`: the condition as sorted, merged, half-open intervals.
    Where(Vec<Interval>),
}

impl Overwrite {
    /// The intervals replaced (`ETERNITY` for `OVERWRITE ALL`).
    pub fn intervals(&self) -> Vec<Interval> {
        match self {
            Overwrite::All => vec![Interval::eternity()],
            Overwrite::Where(v) => v.clone(),
        }
    }
}

/// One item of a `CLUSTERED BY` clause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterKey {
    /// A column name (case kept exactly, quotes removed).
    Column(String),
    /// A 1-based ordinal into the SELECT list.
    Ordinal(usize),
    /// The SQL text of an arbitrary expression.
    Expr(String),
}

/// One `TABLE(EXTERN(...))` of the query, replaced in the query text by `"<table_name>"`.
#[derive(Debug, Clone, PartialEq)]
pub struct ExternSpec {
    /// The name the construct was replaced by, e.g. `__extern_0`.
    pub table_name: String,
    /// The `inputSource` JSON.
    pub input_source: Value,
    /// The `inputFormat` JSON.
    pub input_format: Value,
    /// The row signature (from the `signature` argument or the `EXTEND` clause).
    pub signature: Signature,
}

/// A parsed Druid SQL statement.
#[derive(Debug, Clone, PartialEq)]
pub struct DruidStatement {
    pub kind: StatementKind,
    /// The dataSource of an `INSERT` / `REPLACE`.
    pub target: Option<String>,
    /// `REPLACE` only (required there).
    pub overwrite: Option<Overwrite>,
    /// Required for `INSERT` / `REPLACE`.
    pub partitioned_by: Option<Granularity>,
    pub clustered_by: Vec<ClusterKey>,
    /// The query body, with every `TABLE(EXTERN(...))` rewritten to `"__extern_N"` and every
    /// `FLOOR/CEIL(x TO unit)` rewritten to `TIME_FLOOR/TIME_CEIL(x, 'period')`.
    pub query_sql: String,
    pub externs: Vec<ExternSpec>,
    /// A top-level `ORDER BY` is present in the query body.
    pub has_order_by: bool,
    /// A top-level `LIMIT` (or `FETCH`) is present in the query body.
    pub has_limit: bool,
    /// A top-level `OFFSET` is present in the query body.
    pub has_offset: bool,
}

impl DruidStatement {
    /// Checks Druid's rule that every `OVERWRITE WHERE` interval is aligned with the
    /// `PARTITIONED BY` granularity (not called by [`parse_statement`]).
    pub fn validate_overwrite_alignment(&self) -> Result<()> {
        let (Some(Overwrite::Where(intervals)), Some(g)) = (&self.overwrite, self.partitioned_by) else {
            return Ok(());
        };
        for iv in intervals {
            let start_ok = iv.start == i64::MIN || g.is_aligned(iv.start);
            let end_ok = iv.end == i64::MAX || g.is_aligned(iv.end);
            if g != Granularity::All && !(start_ok && end_ok) {
                return Err(MsqError::Validation(format!(
                    "OVERWRITE WHERE clause identified interval [{iv}] which is not aligned with PARTITIONED BY granularity [{g}]"
                )));
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Tokens

/// A token with its exact source text and position.
#[derive(Debug, Clone)]
struct Tok {
    token: Token,
    text: String,
    line: u64,
    col: u64,
}

impl Tok {
    fn is_ws(&self) -> bool {
        matches!(self.token, Token::Whitespace(_))
    }

    /// An unquoted word equal (case-insensitively) to `k`.
    fn is_kw(&self, k: &str) -> bool {
        matches!(&self.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
    }

    /// The identifier value of a word (quoted or not).
    fn word(&self) -> Option<&str> {
        match &self.token {
            Token::Word(w) => Some(&w.value),
            _ => None,
        }
    }

    fn string_literal(&self) -> Option<&str> {
        match &self.token {
            Token::SingleQuotedString(s) => Some(s),
            _ => None,
        }
    }
}

fn tokenize(sql: &str) -> Result<Vec<Tok>> {
    let dialect = GenericDialect {};
    let raw = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| MsqError::SqlParse(format!("Unable to parse the SQL: {e}")))?;
    // Token positions only move forward: find each one's byte offset with a cursor that
    // walks the text once (linear even for a statement on one very long line).
    let mut cursor = (0usize, 1u64, 1u64); // (byte, line, column)
    let mut offset = |loc: Location| -> Option<usize> {
        let (byte, line, col) = &mut cursor;
        if (loc.line, loc.column) < (*line, *col) {
            return None;
        }
        while (*line, *col) < (loc.line, loc.column) {
            let c = sql.get(*byte..)?.chars().next()?;
            *byte += c.len_utf8();
            if c == '\n' {
                *line += 1;
                *col = 1;
            } else {
                *col += 1;
            }
        }
        Some(*byte)
    };
    // Slice each token's exact source text; fall back to token Display if spans are unusable.
    let mut out = Vec::with_capacity(raw.len());
    let mut prev_end = 0usize;
    let mut exact = true;
    for t in &raw {
        if matches!(t.token, Token::EOF) {
            continue;
        }
        let (s, e) = (offset(t.span.start), offset(t.span.end));
        let text = match (s, e) {
            (Some(s), Some(e)) if exact && s == prev_end && e >= s => {
                prev_end = e;
                sql[s..e].to_string()
            }
            _ => {
                exact = false;
                t.token.to_string()
            }
        };
        out.push(Tok {
            token: t.token.clone(),
            text,
            line: t.span.start.line,
            col: t.span.start.column,
        });
    }
    Ok(out)
}

fn next_nonws(toks: &[Tok], from: usize) -> Option<usize> {
    (from..toks.len()).find(|&i| !toks[i].is_ws())
}

fn prev_nonws(toks: &[Tok], before: usize) -> Option<usize> {
    (0..before).rev().find(|&i| !toks[i].is_ws())
}

/// The index of the `)` matching the `(` at `open`.
fn matching_paren(toks: &[Tok], open: usize) -> Option<usize> {
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate().skip(open) {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Indices of the tokens at parenthesis depth 0 (relative to the slice start).
fn depth0_indices(toks: &[Tok]) -> Vec<usize> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => {
                if depth == 0 {
                    out.push(i);
                }
                depth += 1;
            }
            Token::RParen => {
                depth -= 1;
                if depth == 0 {
                    out.push(i);
                }
            }
            _ if depth == 0 => out.push(i),
            _ => {}
        }
    }
    out
}

/// Splits a token slice at depth-0 commas.
fn split_commas(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen => depth += 1,
            Token::RParen => depth -= 1,
            Token::Comma if depth == 0 => {
                parts.push(&toks[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&toks[start..]);
    parts
}

/// The slice without leading and trailing whitespace tokens.
fn trim(toks: &[Tok]) -> &[Tok] {
    let s = toks.iter().position(|t| !t.is_ws()).unwrap_or(toks.len());
    let e = toks.iter().rposition(|t| !t.is_ws()).map(|i| i + 1).unwrap_or(s);
    &toks[s..e.max(s)]
}

fn text_of(toks: &[Tok]) -> String {
    toks.iter().map(|t| t.text.as_str()).collect()
}

fn nonws(toks: &[Tok]) -> Vec<&Tok> {
    toks.iter().filter(|t| !t.is_ws()).collect()
}

fn unexpected(tok: Option<&Tok>, expected: &str) -> MsqError {
    match tok {
        Some(t) => MsqError::SqlParse(format!(
            "Received an unexpected token [{}] (line [{}], column [{}]), acceptable options: [{}]",
            t.text.trim(),
            t.line,
            t.col,
            expected
        )),
        None => MsqError::SqlParse(format!(
            "Received an unexpected end of statement, acceptable options: [{expected}]"
        )),
    }
}

// ---------------------------------------------------------------------------------------------
// Statement

/// Parses one Druid SQL statement (`SELECT`, `INSERT INTO ...`, `REPLACE INTO ...`).
pub fn parse_statement(sql: &str) -> Result<DruidStatement> {
    parse_statement_in_zone(sql, &Zone::utc())
}

/// [`parse_statement`] with the `sqlTimeZone` that `OVERWRITE WHERE` time literals are in.
pub fn parse_statement_in_zone(sql: &str, zone: &Zone) -> Result<DruidStatement> {
    let mut toks = tokenize(sql)?;
    check_depth(&toks)?;
    // Strip trailing whitespace and semicolons.
    loop {
        while toks.last().is_some_and(Tok::is_ws) {
            toks.pop();
        }
        if matches!(toks.last().map(|t| &t.token), Some(Token::SemiColon)) {
            toks.pop();
            continue;
        }
        break;
    }
    if let Some(&i) = depth0_indices(&toks)
        .iter()
        .find(|&&i| matches!(toks[i].token, Token::SemiColon))
    {
        return Err(MsqError::SqlParse(format!(
            "Received an unexpected token [;] (line [{}], column [{}]): only one statement is allowed",
            toks[i].line, toks[i].col
        )));
    }
    let Some(first) = next_nonws(&toks, 0) else {
        return Err(MsqError::SqlParse("Received an empty statement".to_string()));
    };

    let mut overwrite = None;
    let mut target = None;
    let (kind, body_start) = if toks[first].is_kw("INSERT") {
        let into = next_nonws(&toks, first + 1);
        match into {
            Some(i) if toks[i].is_kw("INTO") => {
                let (name, next) = parse_table_name(&toks, i + 1, "INSERT")?;
                reject_column_list(&toks, next, "INSERT", &name)?;
                target = Some(name);
                (StatementKind::Insert, next)
            }
            other => return Err(unexpected(other.map(|i| &toks[i]), "\"INTO\"")),
        }
    } else if toks[first].is_kw("REPLACE") {
        let into = next_nonws(&toks, first + 1);
        let after_target = match into {
            Some(i) if toks[i].is_kw("INTO") => {
                let (name, next) = parse_table_name(&toks, i + 1, "REPLACE")?;
                reject_column_list(&toks, next, "REPLACE", &name)?;
                target = Some(name);
                next
            }
            other => return Err(unexpected(other.map(|i| &toks[i]), "\"INTO\"")),
        };
        let (ow, next) = parse_overwrite(&toks, after_target, zone)?;
        overwrite = Some(ow);
        (StatementKind::Replace, next)
    } else if is_query_start(&toks[first]) {
        (StatementKind::Select, first)
    } else {
        return Err(unexpected(
            Some(&toks[first]),
            "\"SELECT\", \"WITH\", \"INSERT\", \"REPLACE\"",
        ));
    };

    let body = &toks[body_start..];
    // Locate PARTITIONED BY and CLUSTERED BY at depth 0.
    let d0 = depth0_indices(body);
    let mut partitioned: Option<(usize, usize)> = None; // (keyword index, index after BY)
    let mut clustered: Option<(usize, usize)> = None;
    for (n, &i) in d0.iter().enumerate() {
        let is_part = body[i].is_kw("PARTITIONED");
        let is_clus = body[i].is_kw("CLUSTERED");
        if !(is_part || is_clus) {
            continue;
        }
        let by = d0[n + 1..].iter().copied().find(|&j| !body[j].is_ws());
        let Some(by) = by.filter(|&j| body[j].is_kw("BY")) else {
            return Err(unexpected(by.map(|j| &body[j]), "\"BY\""));
        };
        let slot = if is_part { &mut partitioned } else { &mut clustered };
        if slot.is_some() {
            return Err(MsqError::SqlParse(format!(
                "Duplicate {} BY clause (line [{}], column [{}])",
                if is_part { "PARTITIONED" } else { "CLUSTERED" },
                body[i].line,
                body[i].col
            )));
        }
        *slot = Some((i, by + 1));
    }
    if let Some((c, _)) = clustered {
        if partitioned.is_none_or(|(p, _)| c < p) {
            if kind == StatementKind::Select && partitioned.is_none() {
                return Err(MsqError::Validation(
                    "CLUSTERED BY is only allowed in INSERT or REPLACE statements".to_string(),
                ));
            }
            return Err(MsqError::SqlParse(
                "CLUSTERED BY found before PARTITIONED BY, CLUSTERED BY must come after the PARTITIONED BY clause"
                    .to_string(),
            ));
        }
    }
    let query_end = partitioned.map(|(p, _)| p).unwrap_or(body.len());
    let query = trim_trailing_comments(&body[..query_end]);

    let partitioned_by = match partitioned {
        Some((_, after_by)) => {
            if kind == StatementKind::Select {
                return Err(MsqError::Validation(
                    "PARTITIONED BY is only allowed in INSERT or REPLACE statements".to_string(),
                ));
            }
            let end = clustered.map(|(c, _)| c).unwrap_or(body.len());
            Some(parse_granularity(&body[after_by..end])?)
        }
        None => {
            if kind != StatementKind::Select {
                return Err(MsqError::Validation(format!(
                    "Operation [{}] requires a PARTITIONED BY to be explicitly defined, but none was found.",
                    kind.name()
                )));
            }
            None
        }
    };
    let clustered_by = match clustered {
        Some((_, after_by)) => parse_clustered_by(&body[after_by..])?,
        None => Vec::new(),
    };

    match next_nonws(query, 0) {
        Some(i) if is_query_start(&query[i]) => {}
        Some(i) => return Err(unexpected(Some(&query[i]), "\"SELECT\", \"WITH\"")),
        None => {
            return Err(MsqError::SqlParse(format!(
                "Received an unexpected end of statement: the {} statement has no query, acceptable options: [\"SELECT\", \"WITH\"]",
                kind.name()
            )))
        }
    }
    let has_order_by = has_top_level_order_by(query);
    let has_limit = has_top_level_keyword(query, &["LIMIT", "FETCH"]);
    let has_offset = has_top_level_keyword(query, &["OFFSET"]);
    let mut externs = Vec::new();
    let mut query_sql = String::new();
    rewrite(trim(query), &mut externs, &mut query_sql)?;

    Ok(DruidStatement {
        kind,
        target,
        overwrite,
        partitioned_by,
        clustered_by,
        query_sql,
        externs,
        has_order_by,
        has_limit,
        has_offset,
    })
}

/// Refuses statements whose expression trees would nest deeper than
/// [`MAX_EXPRESSION_DEPTH`], estimated from the tokens before anything recursive runs.
fn check_depth(toks: &[Tok]) -> Result<()> {
    let mut depth = DepthEstimator::new();
    for t in toks {
        let class = match &t.token {
            Token::LParen | Token::LBracket => DepthToken::Open,
            Token::RParen | Token::RBracket => DepthToken::Close,
            Token::Comma => DepthToken::Separator,
            Token::Word(w) if w.quote_style.is_none() => {
                const OPERATORS: [&str; 8] = ["AND", "OR", "NOT", "LIKE", "ILIKE", "IS", "BETWEEN", "IN"];
                const CHAINS: [&str; 4] = ["UNION", "INTERSECT", "EXCEPT", "JOIN"];
                const SEPARATORS: [&str; 15] = [
                    "SELECT", "FROM", "WHERE", "GROUP", "HAVING", "ORDER", "LIMIT", "OFFSET", "ON", "USING", "WHEN",
                    "THEN", "ELSE", "END", "WITH",
                ];
                let is = |list: &[&str]| list.iter().any(|k| w.value.eq_ignore_ascii_case(k));
                if is(&OPERATORS) {
                    DepthToken::Operator
                } else if is(&CHAINS) {
                    DepthToken::Chain
                } else if is(&SEPARATORS) {
                    DepthToken::Separator
                } else {
                    DepthToken::Other
                }
            }
            Token::Word(_)
            | Token::Whitespace(_)
            | Token::Number(..)
            | Token::SingleQuotedString(_)
            | Token::DoubleQuotedString(_)
            | Token::NationalStringLiteral(_)
            | Token::EscapedStringLiteral(_)
            | Token::UnicodeStringLiteral(_)
            | Token::HexStringLiteral(_)
            | Token::Period
            | Token::SemiColon
            | Token::Colon
            | Token::DoubleColon
            | Token::Placeholder(_)
            | Token::EOF => DepthToken::Other,
            // Every other token is an operator of some kind.
            _ => DepthToken::Operator,
        };
        let d = depth.push(class);
        if d > MAX_EXPRESSION_DEPTH {
            return Err(too_deep(d));
        }
    }
    Ok(())
}

fn is_query_start(t: &Tok) -> bool {
    t.is_kw("SELECT") || t.is_kw("WITH") || t.is_kw("VALUES") || matches!(t.token, Token::LParen)
}

/// Drops trailing whitespace and comments.
fn trim_trailing_comments(toks: &[Tok]) -> &[Tok] {
    let e = toks.iter().rposition(|t| !t.is_ws()).map(|i| i + 1).unwrap_or(0);
    &toks[..e]
}

/// Parses the dataSource after `INSERT INTO` / `REPLACE INTO`; returns it and the next index.
fn parse_table_name(toks: &[Tok], from: usize, op: &str) -> Result<(String, usize)> {
    const RESERVED: [&str; 8] = [
        "SELECT",
        "WITH",
        "OVERWRITE",
        "PARTITIONED",
        "CLUSTERED",
        "VALUES",
        "ALL",
        "WHERE",
    ];
    let i = next_nonws(toks, from);
    let name_tok = match i {
        Some(i) if matches!(&toks[i].token, Token::Word(w) if w.quote_style.is_some() || !RESERVED.iter().any(|r| w.value.eq_ignore_ascii_case(r))) => {
            i
        }
        other => return Err(unexpected(other.map(|i| &toks[i]), "<identifier>")),
    };
    let mut parts = vec![toks[name_tok].word().unwrap_or_default().to_string()];
    let mut next = name_tok + 1;
    while let Some(p) = next_nonws(toks, next).filter(|&p| matches!(toks[p].token, Token::Period)) {
        match next_nonws(toks, p + 1) {
            Some(w) if toks[w].word().is_some() => {
                parts.push(toks[w].word().unwrap_or_default().to_string());
                next = w + 1;
            }
            other => return Err(unexpected(other.map(|i| &toks[i]), "<identifier>")),
        }
    }
    let name = match parts.len() {
        1 => parts.pop().unwrap_or_default(),
        2 if parts[0].eq_ignore_ascii_case("druid") => parts.pop().unwrap_or_default(),
        _ => {
            return Err(MsqError::Validation(format!(
                "Cannot {op} into [{}] because it is not a Druid datasource.",
                parts.join(".")
            )))
        }
    };
    if name.is_empty() {
        return Err(MsqError::Validation(format!(
            "Cannot {op} into a datasource with an empty name."
        )));
    }
    // The name becomes a deep-storage directory and a metadata key: Druid's id rules
    // (`IdUtils.validateId("table", ...)`) plus msq-rs's reserved names.
    msq_engine::ids::validate_datasource("table", &name)?;
    Ok((name, next))
}

/// Druid rejects SQL-style target column lists (`INSERT INTO t (a, b) SELECT ...`).
fn reject_column_list(toks: &[Tok], from: usize, op: &str, table: &str) -> Result<()> {
    let Some(open) = next_nonws(toks, from).filter(|&o| matches!(toks[o].token, Token::LParen)) else {
        return Ok(());
    };
    let Some(close) = matching_paren(toks, open) else {
        return Ok(());
    };
    let inner = nonws(&toks[open + 1..close]);
    let is_list = !inner.is_empty()
        && inner.iter().enumerate().all(|(k, t)| {
            if k % 2 == 0 {
                t.word().is_some() && !t.is_kw("SELECT") && !t.is_kw("WITH") && !t.is_kw("VALUES")
            } else {
                matches!(t.token, Token::Comma)
            }
        });
    if !is_list {
        return Ok(());
    }
    let columns: Vec<String> = inner
        .iter()
        .filter_map(|t| t.word())
        .map(|w| format!("`{w}`"))
        .collect();
    Err(MsqError::Validation(format!(
        "Operation [{op}] cannot be run with a target column list, given [{table} ({})]",
        columns.join(", ")
    )))
}

/// Parses `OVERWRITE ALL | OVERWRITE WHERE <cond>`; returns it and the index where the query starts.
fn parse_overwrite(toks: &[Tok], from: usize, zone: &Zone) -> Result<(Overwrite, usize)> {
    let missing = || {
        MsqError::Validation(
            "Missing time chunk information in OVERWRITE clause for REPLACE. Use OVERWRITE WHERE <__time based condition> or OVERWRITE ALL to overwrite the entire table."
                .to_string(),
        )
    };
    let i = match next_nonws(toks, from) {
        Some(i) if toks[i].is_kw("OVERWRITE") => i,
        Some(i) if is_query_start(&toks[i]) || toks[i].is_kw("PARTITIONED") => return Err(missing()),
        None => return Err(missing()),
        Some(i) => return Err(unexpected(Some(&toks[i]), "\"OVERWRITE\"")),
    };
    match next_nonws(toks, i + 1) {
        Some(j) if toks[j].is_kw("ALL") => Ok((Overwrite::All, j + 1)),
        Some(j) if toks[j].is_kw("WHERE") => {
            let rest = &toks[j + 1..];
            let end = depth0_indices(rest)
                .into_iter()
                .find(|&k| rest[k].is_kw("SELECT") || rest[k].is_kw("WITH"));
            let Some(end) = end else {
                return Err(MsqError::SqlParse(
                    "Received an unexpected end of statement after OVERWRITE WHERE, acceptable options: [\"SELECT\", \"WITH\"]"
                        .to_string(),
                ));
            };
            // A parenthesised query `OVERWRITE WHERE ... (SELECT ...)` is not supported; the
            // condition ends right before the top-level SELECT/WITH.
            let cond = trim(&rest[..end]);
            if cond.is_empty() {
                return Err(missing());
            }
            let intervals = parse_overwrite_where_in_zone(&text_of(cond), zone)?;
            Ok((Overwrite::Where(intervals), j + 1 + end))
        }
        Some(j) if is_query_start(&toks[j]) => Err(missing()),
        other => Err(unexpected(other.map(|k| &toks[k]), "\"ALL\", \"WHERE\"")),
    }
}

// ---------------------------------------------------------------------------------------------
// PARTITIONED BY

fn invalid_granularity(text: &str) -> MsqError {
    MsqError::Validation(format!(
        "Invalid granularity[{text}] specified after PARTITIONED BY clause. Expected HOUR, DAY, MONTH, YEAR, ALL TIME, FLOOR() or TIME_FLOOR()"
    ))
}

fn parse_granularity(toks: &[Tok]) -> Result<Granularity> {
    let text = text_of(trim(toks));
    let t = nonws(toks);
    if t.is_empty() {
        return Err(MsqError::SqlParse(
            "Received an unexpected end of statement after PARTITIONED BY, acceptable options: [HOUR, DAY, MONTH, YEAR, ALL TIME, FLOOR(), TIME_FLOOR()]"
                .to_string(),
        ));
    }
    let is_time = |t: &Tok| t.word() == Some(TIME_COLUMN);
    let g = match t.as_slice() {
        // HOUR, DAY, ..., ALL
        [w] if matches!(&w.token, Token::Word(word) if word.quote_style.is_none()) => {
            Granularity::from_name(w.word().unwrap_or_default())
        }
        // ALL TIME
        [a, b] if a.is_kw("ALL") && b.is_kw("TIME") => Some(Granularity::All),
        // 'P1D' (or a granularity name as a string)
        [s] if s.string_literal().is_some() => {
            let v = s.string_literal().unwrap_or_default();
            Granularity::from_period(v).or_else(|| Granularity::from_name(v))
        }
        // FLOOR(__time TO DAY)
        [f, l, c, to, unit, r]
            if f.is_kw("FLOOR")
                && matches!(l.token, Token::LParen)
                && is_time(c)
                && to.is_kw("TO")
                && matches!(r.token, Token::RParen) =>
        {
            unit.word().and_then(unit_period).and_then(Granularity::from_period)
        }
        // TIME_FLOOR(__time, 'PT1H')
        [f, l, c, comma, p, r]
            if f.is_kw("TIME_FLOOR")
                && matches!(l.token, Token::LParen)
                && is_time(c)
                && matches!(comma.token, Token::Comma)
                && matches!(r.token, Token::RParen) =>
        {
            p.string_literal().and_then(Granularity::from_period)
        }
        _ => None,
    };
    g.ok_or_else(|| invalid_granularity(&text))
}

/// The ISO period of a `FLOOR(x TO unit)` unit.
fn unit_period(unit: &str) -> Option<&'static str> {
    Some(match unit.to_ascii_uppercase().as_str() {
        "SECOND" => "PT1S",
        "MINUTE" => "PT1M",
        "HOUR" => "PT1H",
        "DAY" => "P1D",
        "WEEK" => "P1W",
        "MONTH" => "P1M",
        "QUARTER" => "P3M",
        "YEAR" => "P1Y",
        _ => return None,
    })
}

// ---------------------------------------------------------------------------------------------
// CLUSTERED BY

fn parse_clustered_by(toks: &[Tok]) -> Result<Vec<ClusterKey>> {
    let mut keys = Vec::new();
    for part in split_commas(toks) {
        let item = trim(part);
        let Some(last) = item.last() else {
            return Err(MsqError::SqlParse(
                "Received an empty item in CLUSTERED BY clause, acceptable options: [<expression>]".to_string(),
            ));
        };
        let item = if last.is_kw("DESC") {
            return Err(MsqError::Validation(format!(
                "Invalid CLUSTERED BY clause [{}]: cannot sort in descending order.",
                text_of(item)
            )));
        } else if last.is_kw("ASC") {
            trim(&item[..item.len() - 1])
        } else {
            item
        };
        let t = nonws(item);
        let key = match t.as_slice() {
            [] => {
                return Err(MsqError::SqlParse(
                    "Received an empty item in CLUSTERED BY clause, acceptable options: [<expression>]".to_string(),
                ))
            }
            [n] if matches!(n.token, Token::Number(_, _)) => {
                let ord: usize = n
                    .text
                    .parse()
                    .map_err(|_| MsqError::Validation(format!("Invalid CLUSTERED BY ordinal [{}]", n.text)))?;
                if ord == 0 {
                    return Err(MsqError::Validation(
                        "Invalid CLUSTERED BY ordinal [0]: ordinals start at 1".to_string(),
                    ));
                }
                ClusterKey::Ordinal(ord)
            }
            [w] if w.word().is_some() => ClusterKey::Column(w.word().unwrap_or_default().to_string()),
            _ => {
                let mut out = String::new();
                let mut ignored = Vec::new();
                rewrite(item, &mut ignored, &mut out)?;
                ClusterKey::Expr(out)
            }
        };
        keys.push(key);
    }
    Ok(keys)
}

// ---------------------------------------------------------------------------------------------
// ORDER BY

/// Whether one of `keywords` appears at depth 0 after the last top-level SELECT.
fn has_top_level_keyword(query: &[Tok], keywords: &[&str]) -> bool {
    let d0 = depth0_indices(query);
    let last_select = d0.iter().rposition(|&i| query[i].is_kw("SELECT")).unwrap_or(0);
    d0[last_select..]
        .iter()
        .any(|&i| keywords.iter().any(|k| query[i].is_kw(k)))
}

fn has_top_level_order_by(query: &[Tok]) -> bool {
    let d0 = depth0_indices(query);
    let last_select = d0.iter().rposition(|&i| query[i].is_kw("SELECT")).unwrap_or(0);
    let rest: Vec<usize> = d0[last_select..]
        .iter()
        .copied()
        .filter(|&i| !query[i].is_ws())
        .collect();
    rest.windows(2)
        .any(|w| query[w[0]].is_kw("ORDER") && query[w[1]].is_kw("BY"))
}

// ---------------------------------------------------------------------------------------------
// Body rewriting: TABLE(EXTERN(...)) and FLOOR/CEIL(x TO unit)

fn rewrite(toks: &[Tok], externs: &mut Vec<ExternSpec>, out: &mut String) -> Result<()> {
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_kw("TABLE") {
            if let Some((spec, next)) = try_extern(toks, i, externs.len())? {
                out.push('"');
                out.push_str(&spec.table_name);
                out.push('"');
                externs.push(spec);
                i = next;
                continue;
            }
        }
        if t.is_kw("FLOOR") || t.is_kw("CEIL") || t.is_kw("CEILING") {
            if let Some(next) = try_floor_to(toks, i, externs, out)? {
                i = next;
                continue;
            }
        }
        out.push_str(&t.text);
        i += 1;
    }
    Ok(())
}

/// Rewrites `FLOOR(<expr> TO <unit>)` at `i`; returns the index after it, or `None` if the
/// call has no `TO <unit>`.
fn try_floor_to(toks: &[Tok], i: usize, externs: &mut Vec<ExternSpec>, out: &mut String) -> Result<Option<usize>> {
    // The name must not be qualified or an identifier in another role (`x.floor`).
    if prev_nonws(toks, i).is_some_and(|p| matches!(toks[p].token, Token::Period)) {
        return Ok(None);
    }
    let Some(open) = next_nonws(toks, i + 1).filter(|&o| matches!(toks[o].token, Token::LParen)) else {
        return Ok(None);
    };
    let Some(close) = matching_paren(toks, open) else {
        return Ok(None);
    };
    let inner = &toks[open + 1..close];
    let d0 = depth0_indices(inner);
    let Some(to) = d0.iter().copied().rfind(|&k| inner[k].is_kw("TO")) else {
        return Ok(None);
    };
    let unit_toks = nonws(&inner[to + 1..]);
    let [unit] = unit_toks.as_slice() else {
        return Err(MsqError::SqlParse(format!(
            "Received an unexpected token after TO in {} (line [{}], column [{}]), acceptable options: [SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR]",
            toks[i].text, toks[i].line, toks[i].col
        )));
    };
    let Some(period) = unit.word().and_then(unit_period) else {
        return Err(MsqError::Validation(format!(
            "Unsupported time unit [{}] in {}(... TO unit): expected SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER or YEAR",
            unit.text,
            toks[i].text.to_ascii_uppercase()
        )));
    };
    let expr = trim(&inner[..to]);
    if expr.is_empty() {
        return Err(unexpected(Some(&inner[to]), "<expression>"));
    }
    out.push_str(if toks[i].is_kw("FLOOR") {
        "TIME_FLOOR("
    } else {
        "TIME_CEIL("
    });
    rewrite(expr, externs, out)?;
    out.push_str(", '");
    out.push_str(period);
    out.push_str("')");
    Ok(Some(close + 1))
}

/// Parses `TABLE(EXTERN(...)) [[EXTEND] (cols)]` at `i`; returns the spec and the index after it.
fn try_extern(toks: &[Tok], i: usize, n: usize) -> Result<Option<(ExternSpec, usize)>> {
    let Some(open_table) = next_nonws(toks, i + 1).filter(|&o| matches!(toks[o].token, Token::LParen)) else {
        return Ok(None);
    };
    let Some(ext) = next_nonws(toks, open_table + 1).filter(|&e| toks[e].is_kw("EXTERN")) else {
        return Ok(None);
    };
    let Some(open_ext) = next_nonws(toks, ext + 1).filter(|&o| matches!(toks[o].token, Token::LParen)) else {
        return Err(unexpected(next_nonws(toks, ext + 1).map(|k| &toks[k]), "\"(\""));
    };
    let Some(close_ext) = matching_paren(toks, open_ext) else {
        return Err(MsqError::SqlParse("Unbalanced parentheses in EXTERN(...)".to_string()));
    };
    let close_table = match next_nonws(toks, close_ext + 1) {
        Some(c) if matches!(toks[c].token, Token::RParen) => c,
        other => return Err(unexpected(other.map(|k| &toks[k]), "\")\"")),
    };

    // Arguments.
    let mut input_source: Option<String> = None;
    let mut input_format: Option<String> = None;
    let mut signature: Option<String> = None;
    let args_toks = &toks[open_ext + 1..close_ext];
    let parts = split_commas(args_toks);
    let mut seen_named = false;
    for (pos, part) in parts.iter().enumerate() {
        let t = nonws(part);
        let (name, lit) = match t.as_slice() {
            [] if parts.len() == 1 => break,
            [s] if s.string_literal().is_some() => {
                if seen_named {
                    return Err(MsqError::Validation(
                        "EXTERN: positional arguments cannot follow named arguments".to_string(),
                    ));
                }
                let name = match pos {
                    0 => "inputSource",
                    1 => "inputFormat",
                    2 => "signature",
                    _ => {
                        return Err(MsqError::Validation(
                            "EXTERN takes at most 3 arguments: inputSource, inputFormat, signature".to_string(),
                        ))
                    }
                };
                (name.to_string(), s.string_literal().unwrap_or_default().to_string())
            }
            [w, arrow, s]
                if w.word().is_some() && matches!(arrow.token, Token::RArrow) && s.string_literal().is_some() =>
            {
                seen_named = true;
                (
                    w.word().unwrap_or_default().to_string(),
                    s.string_literal().unwrap_or_default().to_string(),
                )
            }
            _ => {
                return Err(MsqError::Validation(format!(
                    "EXTERN arguments must be string literals, got [{}]",
                    text_of(trim(part))
                )))
            }
        };
        let slot = match name.to_ascii_lowercase().as_str() {
            "inputsource" => &mut input_source,
            "inputformat" => &mut input_format,
            "signature" => &mut signature,
            _ => {
                return Err(MsqError::Validation(format!(
                    "EXTERN: unknown argument [{name}], expected inputSource, inputFormat and signature"
                )))
            }
        };
        if slot.is_some() {
            return Err(MsqError::Validation(format!("EXTERN: argument [{name}] given twice")));
        }
        *slot = Some(lit);
    }
    let input_source = parse_json_arg("inputSource", input_source)?;
    let input_format = parse_json_arg("inputFormat", input_format)?;

    // Optional EXTEND (cols) / (cols).
    let mut end = close_table + 1;
    let mut extend: Option<Signature> = None;
    if let Some(k) = next_nonws(toks, end) {
        let open = if toks[k].is_kw("EXTEND") {
            match next_nonws(toks, k + 1) {
                Some(o) if matches!(toks[o].token, Token::LParen) => Some(o),
                other => return Err(unexpected(other.map(|x| &toks[x]), "\"(\"")),
            }
        } else if matches!(toks[k].token, Token::LParen) {
            Some(k)
        } else {
            None
        };
        if let Some(open) = open {
            let Some(close) = matching_paren(toks, open) else {
                return Err(MsqError::SqlParse("Unbalanced parentheses in EXTEND(...)".to_string()));
            };
            extend = Some(parse_extend_columns(&toks[open + 1..close])?);
            end = close + 1;
        }
    }
    let signature = match (signature, extend) {
        (Some(_), Some(_)) => {
            return Err(MsqError::Validation(
                "EXTERN requires either a [signature] argument or an EXTEND clause, but not both".to_string(),
            ))
        }
        (None, None) => {
            return Err(MsqError::Validation(
                "EXTERN requires either a [signature] argument or an EXTEND clause".to_string(),
            ))
        }
        (Some(s), None) => {
            let v: Value = serde_json::from_str(&s).map_err(|e| {
                MsqError::Validation(format!("Invalid EXTERN argument [signature]: not valid JSON: {e}"))
            })?;
            serde_json::from_value::<Signature>(v).map_err(|e| {
                MsqError::Validation(format!(
                    "Invalid EXTERN argument [signature]: not a valid row signature: {e}"
                ))
            })?
        }
        (None, Some(s)) => s,
    };
    if signature.0.is_empty() {
        return Err(MsqError::Validation(
            "EXTERN: the row signature has no columns".to_string(),
        ));
    }
    Ok(Some((
        ExternSpec {
            table_name: format!("__extern_{n}"),
            input_source,
            input_format,
            signature,
        },
        end,
    )))
}

fn parse_json_arg(name: &str, value: Option<String>) -> Result<Value> {
    let Some(s) = value else {
        return Err(MsqError::Validation(format!("EXTERN requires the [{name}] argument")));
    };
    let v: Value = serde_json::from_str(&s)
        .map_err(|e| MsqError::Validation(format!("Invalid EXTERN argument [{name}]: not valid JSON: {e}")))?;
    if !v.is_object() {
        return Err(MsqError::Validation(format!(
            "Invalid EXTERN argument [{name}]: expected a JSON object, got [{s}]"
        )));
    }
    Ok(v)
}

/// Parses the column list of `EXTEND (name TYPE, ...)`.
fn parse_extend_columns(toks: &[Tok]) -> Result<Signature> {
    let mut cols = Vec::new();
    for part in split_commas(toks) {
        let t = nonws(part);
        let Some((name, ty)) = t.split_first() else {
            return Err(MsqError::SqlParse(
                "Received an empty column in EXTEND clause".to_string(),
            ));
        };
        let Some(name) = name.word() else {
            return Err(unexpected(Some(name), "<column name>"));
        };
        let column_type = parse_sql_type(ty).ok_or_else(|| {
            let ty_text: Vec<&str> = ty.iter().map(|t| t.text.as_str()).collect();
            MsqError::Validation(format!(
                "Unsupported type [{}] for column [{name}] in EXTEND clause, expected VARCHAR, BIGINT, DOUBLE, FLOAT or <type> ARRAY",
                ty_text.join(" ")
            ))
        })?;
        cols.push(ColumnSignature {
            name: name.to_string(),
            column_type,
        });
    }
    Ok(Signature(cols))
}

/// Maps SQL type tokens (`VARCHAR`, `BIGINT ARRAY`, `TYPE('COMPLEX<json>')`) to a Druid type.
fn parse_sql_type(t: &[&Tok]) -> Option<ColumnType> {
    if let [rest @ .., last] = t {
        if last.is_kw("ARRAY") && !rest.is_empty() {
            return Some(ColumnType::Array(Box::new(parse_sql_type(rest)?)));
        }
    }
    match t {
        [w] => {
            let w = w.word()?;
            Some(match w.to_ascii_uppercase().as_str() {
                "VARCHAR" | "CHAR" | "STRING" => ColumnType::String,
                "BIGINT" | "INTEGER" | "INT" | "SMALLINT" | "TINYINT" | "LONG" | "TIMESTAMP" | "BOOLEAN" => {
                    ColumnType::Long
                }
                "DOUBLE" | "DECIMAL" => ColumnType::Double,
                "FLOAT" | "REAL" => ColumnType::Float,
                _ => return None,
            })
        }
        [w, p] if w.is_kw("DOUBLE") && p.is_kw("PRECISION") => Some(ColumnType::Double),
        [ty, l, s, r] if ty.is_kw("TYPE") && matches!(l.token, Token::LParen) && matches!(r.token, Token::RParen) => {
            ColumnType::parse(s.string_literal()?)
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// OVERWRITE WHERE

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

#[cfg(test)]
mod tests {
    use super::*;
    use msq_engine::granularity::parse_instant;
    use serde_json::json;

    fn ms(s: &str) -> i64 {
        parse_instant(s).unwrap()
    }

    fn validation(sql: &str) -> String {
        match parse_statement(sql) {
            Err(MsqError::Validation(m)) => m,
            other => panic!("expected a validation error for {sql}, got {other:?}"),
        }
    }

    fn parse_error(sql: &str) -> String {
        match parse_statement(sql) {
            Err(MsqError::SqlParse(m)) => m,
            other => panic!("expected a parse error for {sql}, got {other:?}"),
        }
    }

    const DOCS_INSERT: &str = r#"INSERT INTO wikipedia
SELECT TIME_PARSE("timestamp") AS __time, *
FROM TABLE(EXTERN('{"type": "http", "uris": ["https://druid.apache.org/data/wikipedia.json.gz"]}', '{"type": "json"}', '[{"name": "added", "type": "long"}, {"name": "channel", "type": "string"}, {"name": "timestamp", "type": "string"}]'))
PARTITIONED BY DAY"#;

    #[test]
    fn docs_insert_example() {
        let s = parse_statement(DOCS_INSERT).unwrap();
        assert_eq!(s.kind, StatementKind::Insert);
        assert_eq!(s.target.as_deref(), Some("wikipedia"));
        assert_eq!(s.partitioned_by, Some(Granularity::Day));
        assert_eq!(s.overwrite, None);
        assert!(s.clustered_by.is_empty());
        assert!(!s.has_order_by);
        assert_eq!(
            s.query_sql,
            "SELECT TIME_PARSE(\"timestamp\") AS __time, *\nFROM \"__extern_0\""
        );
        assert_eq!(s.externs.len(), 1);
        let e = &s.externs[0];
        assert_eq!(e.table_name, "__extern_0");
        assert_eq!(
            e.input_source,
            json!({"type": "http", "uris": ["https://druid.apache.org/data/wikipedia.json.gz"]})
        );
        assert_eq!(e.input_format, json!({"type": "json"}));
        let names: Vec<_> = e
            .signature
            .0
            .iter()
            .map(|c| (c.name.as_str(), c.column_type.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("added", ColumnType::Long),
                ("channel", ColumnType::String),
                ("timestamp", ColumnType::String)
            ]
        );
    }

    #[test]
    fn replace_overwrite_where_example() {
        let sql = r#"REPLACE INTO "wikipedia"
OVERWRITE WHERE "__time" >= TIMESTAMP '2015-09-12 01:00:00' AND "__time" < TIMESTAMP '2015-09-12 02:00:00'
SELECT __time, channel, added FROM "wikipedia_src" WHERE channel = '#en.wikipedia'
PARTITIONED BY HOUR
CLUSTERED BY channel"#;
        let s = parse_statement(sql).unwrap();
        assert_eq!(s.kind, StatementKind::Replace);
        assert_eq!(s.target.as_deref(), Some("wikipedia"));
        assert_eq!(
            s.overwrite,
            Some(Overwrite::Where(vec![Interval::new(
                ms("2015-09-12T01:00:00Z"),
                ms("2015-09-12T02:00:00Z")
            )]))
        );
        assert_eq!(s.partitioned_by, Some(Granularity::Hour));
        assert_eq!(s.clustered_by, vec![ClusterKey::Column("channel".into())]);
        assert_eq!(
            s.query_sql,
            "SELECT __time, channel, added FROM \"wikipedia_src\" WHERE channel = '#en.wikipedia'"
        );
        assert!(s.validate_overwrite_alignment().is_ok());
    }

    #[test]
    fn replace_overwrite_all() {
        let s = parse_statement("REPLACE INTO dst OVERWRITE ALL SELECT * FROM src PARTITIONED BY ALL TIME;").unwrap();
        assert_eq!(s.kind, StatementKind::Replace);
        assert_eq!(s.overwrite, Some(Overwrite::All));
        assert_eq!(s.overwrite.as_ref().unwrap().intervals(), vec![Interval::eternity()]);
        assert_eq!(s.partitioned_by, Some(Granularity::All));
        assert_eq!(s.query_sql, "SELECT * FROM src");
    }

    #[test]
    fn plain_select_and_with() {
        let s = parse_statement("SELECT 1 + 1 ;  ").unwrap();
        assert_eq!(s.kind, StatementKind::Select);
        assert_eq!(s.target, None);
        assert_eq!(s.partitioned_by, None);
        assert_eq!(s.query_sql, "SELECT 1 + 1");
        let s = parse_statement("  -- leading comment\nWITH x AS (SELECT 1 AS a) SELECT a FROM x").unwrap();
        assert_eq!(s.kind, StatementKind::Select);
        assert_eq!(s.query_sql, "WITH x AS (SELECT 1 AS a) SELECT a FROM x");
    }

    #[test]
    fn insert_requires_partitioned_by() {
        assert_eq!(
            validation("INSERT INTO dst SELECT * FROM src"),
            "Operation [INSERT] requires a PARTITIONED BY to be explicitly defined, but none was found."
        );
        assert_eq!(
            validation("REPLACE INTO dst OVERWRITE ALL SELECT * FROM src"),
            "Operation [REPLACE] requires a PARTITIONED BY to be explicitly defined, but none was found."
        );
    }

    #[test]
    fn partitioned_by_on_select_is_invalid() {
        let m = validation("SELECT * FROM src PARTITIONED BY DAY");
        assert!(m.contains("PARTITIONED BY"), "{m}");
        let m = validation("SELECT * FROM src CLUSTERED BY x");
        assert!(m.contains("CLUSTERED BY"), "{m}");
    }

    #[test]
    fn granularity_forms() {
        let g = |clause: &str| {
            parse_statement(&format!("INSERT INTO t SELECT * FROM s PARTITIONED BY {clause}"))
                .map(|s| s.partitioned_by.unwrap())
        };
        assert_eq!(g("HOUR").unwrap(), Granularity::Hour);
        assert_eq!(g("day").unwrap(), Granularity::Day);
        assert_eq!(g("MONTH").unwrap(), Granularity::Month);
        assert_eq!(g("YEAR").unwrap(), Granularity::Year);
        assert_eq!(g("WEEK").unwrap(), Granularity::Week);
        assert_eq!(g("QUARTER").unwrap(), Granularity::Quarter);
        assert_eq!(g("MINUTE").unwrap(), Granularity::Minute);
        assert_eq!(g("SECOND").unwrap(), Granularity::Second);
        assert_eq!(g("FIVE_MINUTE").unwrap(), Granularity::FiveMinute);
        assert_eq!(g("ALL").unwrap(), Granularity::All);
        assert_eq!(g("ALL TIME").unwrap(), Granularity::All);
        assert_eq!(g("'P1D'").unwrap(), Granularity::Day);
        assert_eq!(g("'PT1H'").unwrap(), Granularity::Hour);
        assert_eq!(g("FLOOR(__time TO DAY)").unwrap(), Granularity::Day);
        assert_eq!(g("FLOOR(\"__time\" TO MONTH)").unwrap(), Granularity::Month);
        assert_eq!(g("TIME_FLOOR(__time, 'PT1H')").unwrap(), Granularity::Hour);
        assert_eq!(g("TIME_FLOOR( __time , 'P1Y' )").unwrap(), Granularity::Year);
    }

    #[test]
    fn invalid_granularities() {
        for bad in [
            "DECADE",
            "'PT2H'",
            "FLOOR(other TO DAY)",
            "TIME_FLOOR(__time, 'PT7H')",
            "DAY LIMIT 10",
            "1",
        ] {
            let m = validation(&format!("INSERT INTO t SELECT * FROM s PARTITIONED BY {bad}"));
            assert_eq!(
                m,
                format!(
                    "Invalid granularity[{bad}] specified after PARTITIONED BY clause. Expected HOUR, DAY, MONTH, YEAR, ALL TIME, FLOOR() or TIME_FLOOR()"
                )
            );
        }
        parse_error("INSERT INTO t SELECT * FROM s PARTITIONED BY");
        parse_error("INSERT INTO t SELECT * FROM s PARTITIONED DAY");
    }

    #[test]
    fn clustered_by_items() {
        let s = parse_statement(
            "INSERT INTO t SELECT * FROM s PARTITIONED BY DAY CLUSTERED BY \"Channel\", page ASC, 2, LOWER(\"user\"), a + 1",
        )
        .unwrap();
        assert_eq!(
            s.clustered_by,
            vec![
                ClusterKey::Column("Channel".into()),
                ClusterKey::Column("page".into()),
                ClusterKey::Ordinal(2),
                ClusterKey::Expr("LOWER(\"user\")".into()),
                ClusterKey::Expr("a + 1".into()),
            ]
        );
        assert_eq!(s.query_sql, "SELECT * FROM s");
    }

    #[test]
    fn clustered_by_desc_is_invalid() {
        assert_eq!(
            validation("INSERT INTO t SELECT * FROM s PARTITIONED BY DAY CLUSTERED BY a, x DESC"),
            "Invalid CLUSTERED BY clause [x DESC]: cannot sort in descending order."
        );
        validation("INSERT INTO t SELECT * FROM s PARTITIONED BY DAY CLUSTERED BY 0");
    }

    #[test]
    fn clustered_before_partitioned_is_an_error() {
        let m = parse_error("INSERT INTO t SELECT * FROM s CLUSTERED BY a PARTITIONED BY DAY");
        assert!(m.contains("CLUSTERED BY found before PARTITIONED BY"), "{m}");
        let m = parse_error("INSERT INTO t SELECT * FROM s CLUSTERED BY a");
        assert!(m.contains("CLUSTERED BY found before PARTITIONED BY"), "{m}");
    }

    #[test]
    fn replace_requires_overwrite() {
        let expected = "Missing time chunk information in OVERWRITE clause for REPLACE. Use OVERWRITE WHERE <__time based condition> or OVERWRITE ALL to overwrite the entire table.";
        assert_eq!(
            validation("REPLACE INTO dst SELECT * FROM src PARTITIONED BY DAY"),
            expected
        );
        assert_eq!(
            validation("REPLACE INTO dst OVERWRITE SELECT * FROM src PARTITIONED BY DAY"),
            expected
        );
        parse_error("REPLACE INTO dst OVERWRITE SOME SELECT * FROM src PARTITIONED BY DAY");
    }

    #[test]
    fn overwrite_where_conditions() {
        let ow = |cond: &str| parse_overwrite_where(cond);
        let day = |d: &str| ms(&format!("{d}T00:00:00Z"));
        assert_eq!(
            ow("__time >= '2015-09-12'").unwrap(),
            vec![Interval::new(day("2015-09-12"), i64::MAX)]
        );
        assert_eq!(
            ow("__time > '2015-09-12'").unwrap(),
            vec![Interval::new(day("2015-09-12") + 1, i64::MAX)]
        );
        assert_eq!(
            ow("__time < '2015-09-12'").unwrap(),
            vec![Interval::new(i64::MIN, day("2015-09-12"))]
        );
        assert_eq!(
            ow("__time <= '2015-09-12'").unwrap(),
            vec![Interval::new(i64::MIN, day("2015-09-12") + 1)]
        );
        assert_eq!(
            ow("__time = '2015-09-12'").unwrap(),
            vec![Interval::new(day("2015-09-12"), day("2015-09-12") + 1)]
        );
        assert_eq!(
            ow("'2015-09-12' <= __time AND TIMESTAMP '2015-09-13T00:00:00Z' > __time").unwrap(),
            vec![Interval::new(day("2015-09-12"), day("2015-09-13"))]
        );
        assert_eq!(
            ow("__time BETWEEN TIMESTAMP '2015-09-12 00:00:00' AND TIMESTAMP '2015-09-12 23:59:59.999'").unwrap(),
            vec![Interval::new(day("2015-09-12"), day("2015-09-13"))]
        );
        assert_eq!(
            ow("__time >= TIME_PARSE('2015-09-12') AND __time < TIME_PARSE('2015-09-13')").unwrap(),
            vec![Interval::new(day("2015-09-12"), day("2015-09-13"))]
        );
        // OR merges adjacent and overlapping ranges and keeps them sorted.
        assert_eq!(
            ow("(__time >= '2015-09-14' AND __time < '2015-09-15') OR (__time >= '2015-09-12' AND __time < '2015-09-13') OR (__time >= '2015-09-13' AND __time < '2015-09-13T12:00:00Z')").unwrap(),
            vec![
                Interval::new(day("2015-09-12"), ms("2015-09-13T12:00:00Z")),
                Interval::new(day("2015-09-14"), day("2015-09-15")),
            ]
        );
        assert_eq!(
            ow("__time >= 1442016000000").unwrap(),
            vec![Interval::new(1442016000000, i64::MAX)]
        );
    }

    #[test]
    fn overwrite_where_errors() {
        assert_eq!(
            validation("REPLACE INTO t OVERWRITE WHERE channel = 'x' SELECT * FROM s PARTITIONED BY DAY"),
            "Only __time column is supported in OVERWRITE WHERE clause"
        );
        assert_eq!(
            validation(
                "REPLACE INTO t OVERWRITE WHERE __time >= '2015-09-12' AND dim > 1 SELECT * FROM s PARTITIONED BY DAY"
            ),
            "Only __time column is supported in OVERWRITE WHERE clause"
        );
        validation("REPLACE INTO t OVERWRITE WHERE NOT __time >= '2015-09-12' SELECT * FROM s PARTITIONED BY DAY");
        validation("REPLACE INTO t OVERWRITE WHERE __time >= 'yesterday' SELECT * FROM s PARTITIONED BY DAY");
        validation("REPLACE INTO t OVERWRITE WHERE __time >= '2015-09-13' AND __time < '2015-09-12' SELECT * FROM s PARTITIONED BY DAY");
        parse_error("REPLACE INTO t OVERWRITE WHERE __time >= SELECT * FROM s PARTITIONED BY DAY");
        let s = parse_statement(
            "REPLACE INTO t OVERWRITE WHERE __time >= '2015-09-12T01:30:00Z' AND __time < '2015-09-12T03:00:00Z' SELECT * FROM s PARTITIONED BY HOUR",
        )
        .unwrap();
        assert!(matches!(s.validate_overwrite_alignment(), Err(MsqError::Validation(_))));
    }

    #[test]
    fn extern_named_arguments_and_alias() {
        let sql = r#"INSERT INTO t SELECT e."x" FROM TABLE(EXTERN(inputSource => '{"type":"inline","data":"a"}', inputFormat => '{"type":"csv","findColumnsFromHeader":false,"columns":["x"]}', signature => '[{"name":"x","type":"string"}]')) AS e PARTITIONED BY ALL"#;
        let s = parse_statement(sql).unwrap();
        assert_eq!(s.query_sql, r#"SELECT e."x" FROM "__extern_0" AS e"#);
        assert_eq!(s.externs[0].input_source, json!({"type":"inline","data":"a"}));
        assert_eq!(s.externs[0].input_format["type"], json!("csv"));
        assert_eq!(s.externs[0].signature.0[0].name, "x");
    }

    #[test]
    fn extern_with_extend_and_escaped_quotes() {
        let sql = r#"INSERT INTO t
SELECT * FROM TABLE(EXTERN('{"type":"inline","data":"it''s"}', '{"type":"json"}'))
  EXTEND ("timestamp" VARCHAR, added BIGINT, delta DOUBLE, ratio FLOAT, tags VARCHAR ARRAY, ids BIGINT ARRAY) ext
JOIN TABLE(EXTERN('{"type":"local","files":["/tmp/b.json"]}', '{"type":"json"}')) (k VARCHAR) b ON ext.added = b.k
PARTITIONED BY DAY"#;
        let s = parse_statement(sql).unwrap();
        assert_eq!(
            s.query_sql,
            "SELECT * FROM \"__extern_0\" ext\nJOIN \"__extern_1\" b ON ext.added = b.k"
        );
        assert_eq!(s.externs.len(), 2);
        assert_eq!(s.externs[0].input_source["data"], json!("it's"));
        let types: Vec<_> = s.externs[0]
            .signature
            .0
            .iter()
            .map(|c| (c.name.clone(), c.column_type.name()))
            .collect();
        assert_eq!(
            types,
            vec![
                ("timestamp".to_string(), "STRING".to_string()),
                ("added".to_string(), "LONG".to_string()),
                ("delta".to_string(), "DOUBLE".to_string()),
                ("ratio".to_string(), "FLOAT".to_string()),
                ("tags".to_string(), "ARRAY<STRING>".to_string()),
                ("ids".to_string(), "ARRAY<LONG>".to_string()),
            ]
        );
        assert_eq!(s.externs[1].table_name, "__extern_1");
        assert_eq!(s.externs[1].signature.0[0].name, "k");
    }

    #[test]
    fn extern_errors() {
        let m = validation(
            r#"SELECT * FROM TABLE(EXTERN('{"type": ', '{"type":"json"}', '[{"name":"x","type":"string"}]'))"#,
        );
        assert!(m.contains("[inputSource]"), "{m}");
        let m =
            validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', 'json', '[{"name":"x","type":"string"}]'))"#);
        assert!(m.contains("[inputFormat]"), "{m}");
        let m = validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}', '[{"name":"x"'))"#);
        assert!(m.contains("[signature]"), "{m}");
        let m = validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}'))"#);
        assert!(m.contains("EXTEND"), "{m}");
        let m = validation(
            r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}', '[{"name":"x","type":"string"}]')) EXTEND (x VARCHAR)"#,
        );
        assert!(m.contains("not both"), "{m}");
        let m =
            validation(r#"SELECT * FROM TABLE(EXTERN('{"type":"inline"}', '{"type":"json"}')) EXTEND (x GEOMETRY)"#);
        assert!(m.contains("GEOMETRY"), "{m}");
    }

    #[test]
    fn order_by_detection() {
        assert!(parse_statement("SELECT a FROM t ORDER BY a").unwrap().has_order_by);
        assert!(
            !parse_statement("SELECT a, ROW_NUMBER() OVER (ORDER BY a) FROM t")
                .unwrap()
                .has_order_by
        );
        assert!(
            !parse_statement("SELECT * FROM (SELECT a FROM t ORDER BY a LIMIT 5)")
                .unwrap()
                .has_order_by
        );
        assert!(
            parse_statement("SELECT a FROM t UNION ALL SELECT b FROM u ORDER BY 1")
                .unwrap()
                .has_order_by
        );
        let s = parse_statement("INSERT INTO x SELECT a FROM t ORDER BY a PARTITIONED BY DAY").unwrap();
        assert!(s.has_order_by);
        assert_eq!(s.query_sql, "SELECT a FROM t ORDER BY a");
    }

    #[test]
    fn floor_and_ceil_to_unit_are_rewritten() {
        let s = parse_statement(
            "INSERT INTO t SELECT FLOOR(__time TO HOUR) AS __time, CEIL(\"ts\" TO MONTH), floor(x), FLOOR(FLOOR(__time TO DAY) TO WEEK) FROM s PARTITIONED BY FLOOR(__time TO DAY) CLUSTERED BY FLOOR(__time TO MINUTE)",
        )
        .unwrap();
        assert_eq!(
            s.query_sql,
            "SELECT TIME_FLOOR(__time, 'PT1H') AS __time, TIME_CEIL(\"ts\", 'P1M'), floor(x), TIME_FLOOR(TIME_FLOOR(__time, 'P1D'), 'P1W') FROM s"
        );
        assert_eq!(s.partitioned_by, Some(Granularity::Day));
        assert_eq!(
            s.clustered_by,
            vec![ClusterKey::Expr("TIME_FLOOR(__time, 'PT1M')".into())]
        );
        validation("SELECT FLOOR(__time TO DECADE) FROM t");
    }

    #[test]
    fn unparsable_headers() {
        let m = parse_error("INSERT wikipedia SELECT * FROM t PARTITIONED BY DAY");
        assert!(
            m.contains("[wikipedia]") && m.contains("INTO") && m.contains("line [1], column [8]"),
            "{m}"
        );
        let m = parse_error("INSERT INTO");
        assert!(m.contains("end of statement"), "{m}");
        let m = parse_error("INSERT INTO SELECT * FROM t PARTITIONED BY DAY");
        assert!(m.contains("[SELECT]"), "{m}");
        parse_error("INSERT INTO t PARTITIONED BY DAY");
        parse_error("DELETE FROM t");
        parse_error("");
        parse_error("SELECT 1; SELECT 2");
        parse_error("SELECT 'unterminated");
        let m = parse_error("REPLACE dst OVERWRITE ALL SELECT 1 PARTITIONED BY DAY");
        assert!(m.contains("[dst]"), "{m}");
    }

    #[test]
    fn target_column_lists_and_zoned_overwrite() {
        assert_eq!(
            validation("INSERT INTO dst (foo, bar) SELECT dim1, dim2 FROM foo PARTITIONED BY ALL TIME"),
            "Operation [INSERT] cannot be run with a target column list, given [dst (`foo`, `bar`)]"
        );
        assert_eq!(
            validation("REPLACE INTO dst (foo) OVERWRITE ALL SELECT dim1 FROM foo PARTITIONED BY ALL TIME"),
            "Operation [REPLACE] cannot be run with a target column list, given [dst (`foo`)]"
        );
        // A parenthesised query is not a column list.
        assert!(parse_statement("INSERT INTO dst (SELECT __time FROM foo) PARTITIONED BY DAY").is_ok());
        let la = Zone::parse("America/Los_Angeles").unwrap();
        let s = parse_statement_in_zone(
            "REPLACE INTO t OVERWRITE WHERE __time >= TIMESTAMP '2015-09-12' AND __time < TIMESTAMP '2015-09-13' SELECT * FROM x PARTITIONED BY DAY",
            &la,
        )
        .unwrap();
        assert_eq!(
            s.overwrite,
            Some(Overwrite::Where(vec![Interval::new(
                ms("2015-09-12T07:00:00Z"),
                ms("2015-09-13T07:00:00Z")
            )]))
        );
    }

    #[test]
    fn target_names() {
        let s = parse_statement("INSERT INTO \"my-ds.v2\" SELECT 1 AS x PARTITIONED BY ALL").unwrap();
        assert_eq!(s.target.as_deref(), Some("my-ds.v2"));
        let s = parse_statement("insert into druid.Wiki select 1 as x partitioned by all").unwrap();
        assert_eq!(s.target.as_deref(), Some("Wiki"));
        validation("INSERT INTO sys.segments SELECT 1 PARTITIONED BY ALL");
        for bad in [
            "\".\"",
            "\"..\"",
            "\"a/b\"",
            "sys",
            "\"__time\"",
            "\"a\u{0}b\"",
            "\".hidden\"",
        ] {
            validation(&format!("INSERT INTO {bad} SELECT 1 AS x PARTITIONED BY ALL"));
            validation(&format!(
                "REPLACE INTO {bad} OVERWRITE ALL SELECT 1 AS x PARTITIONED BY ALL"
            ));
        }
        let s = parse_statement("INSERT INTO \"wiki-2024_v1\" SELECT 1 AS x PARTITIONED BY ALL").unwrap();
        assert_eq!(s.target.as_deref(), Some("wiki-2024_v1"));
    }

    #[test]
    fn unicode_and_comment_hints() {
        let s = parse_statement(
            "INSERT INTO \"wiki-ü\" SELECT 'héllo → ✓' AS x, \"ñame\" FROM s PARTITIONED BY DAY CLUSTERED BY \"ñame\"",
        )
        .unwrap();
        assert_eq!(s.target.as_deref(), Some("wiki-ü"));
        assert_eq!(s.query_sql, "SELECT 'héllo → ✓' AS x, \"ñame\" FROM s");
        assert_eq!(s.clustered_by, vec![ClusterKey::Column("ñame".into())]);
        let s = parse_statement("SELECT /*! hint */ 1 AS x").unwrap();
        assert!(
            s.query_sql.starts_with("SELECT") && s.query_sql.ends_with("1 AS x"),
            "{}",
            s.query_sql
        );
    }

    #[test]
    fn whitespace_and_comments_are_kept() {
        let sql = "INSERT INTO t\r\nSELECT\r\n  a, -- the a column\n  'it''s' AS b /* c */\nFROM s\nPARTITIONED BY DAY -- trailing\n;";
        let s = parse_statement(sql).unwrap();
        assert_eq!(
            s.query_sql,
            "SELECT\r\n  a, -- the a column\n  'it''s' AS b /* c */\nFROM s"
        );
    }
}
