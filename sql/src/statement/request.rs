//! A request's SQL text as Druid's HTTP API takes it: zero or more `SET key = value;`
//! statements, then one statement, optionally under `EXPLAIN PLAN FOR`.

use super::set::parse_set_statements;
use super::tokens::{next_nonws, tokenize, unexpected, Tok};
use msq_engine::{MsqError, Result};
use serde_json::{Map, Value};

/// The parts of a request's SQL text.
#[derive(Debug, Clone, PartialEq)]
pub struct SqlRequest {
    /// The query context keys its `SET` statements assign (a later `SET` of a key wins).
    pub context: Map<String, Value>,
    /// `EXPLAIN PLAN FOR <statement>`: the statement is planned and described, never run.
    pub explain: bool,
    /// The statement: the request's text with the `SET` statements and `EXPLAIN PLAN FOR`
    /// blanked out (line breaks kept, so positions in later errors are the request's own).
    pub statement: String,
}

impl SqlRequest {
    /// `base` (the request's `context`) with the `SET` values over it: as in Druid, a `SET`
    /// wins over the same key in the request's context.
    pub fn merged_context(&self, base: &Map<String, Value>) -> Map<String, Value> {
        let mut out = base.clone();
        for (k, v) in &self.context {
            out.insert(k.clone(), v.clone());
        }
        out
    }
}

/// Splits a request's SQL text into its `SET` context, `EXPLAIN PLAN FOR` and the statement
/// (which is not parsed here: [`parse_statement`](super::parse_statement) does that).
pub fn parse_request(sql: &str) -> Result<SqlRequest> {
    let plain = || SqlRequest {
        context: Map::new(),
        explain: false,
        statement: sql.to_string(),
    };
    let toks = tokenize(sql)?;
    let Some(first) = next_nonws(&toks, 0) else {
        return Ok(plain());
    };
    if !toks[first].is_kw("SET") && !toks[first].is_kw("EXPLAIN") {
        return Ok(plain());
    }
    let (context, after_sets) = parse_set_statements(&toks, first)?;
    let (explain, body) = match explain_prefix(&toks, after_sets)? {
        Some(next) => (true, next),
        None => (false, after_sets),
    };
    if next_nonws(&toks, after_sets).is_none() {
        return Err(MsqError::Validation(format!(
            "Invalid sql statement list[{}] - statement list must end with a statement that is not a SET",
            sql.trim()
        )));
    }
    let offset = match toks.get(body) {
        Some(t) => byte_offset(sql, t.line, t.col),
        None => sql.len(),
    };
    let blanked: String = sql[..offset]
        .chars()
        .map(|c| if c == '\n' { '\n' } else { ' ' })
        .collect();
    Ok(SqlRequest {
        context,
        explain,
        statement: blanked + &sql[offset..],
    })
}

/// `EXPLAIN PLAN FOR` at or after token `from`: the index after `FOR`, or `None` without one.
fn explain_prefix(toks: &[Tok], from: usize) -> Result<Option<usize>> {
    let Some(explain) = next_nonws(toks, from).filter(|&i| toks[i].is_kw("EXPLAIN")) else {
        return Ok(None);
    };
    let mut at = explain;
    for keyword in ["PLAN", "FOR"] {
        match next_nonws(toks, at + 1) {
            Some(i) if toks[i].is_kw(keyword) => at = i,
            other => return Err(unexpected(other.map(|i| &toks[i]), &format!("\"{keyword}\""))),
        }
    }
    Ok(Some(at + 1))
}

/// The byte offset of 1-based `line` and `col` (counted in characters) in `sql`.
fn byte_offset(sql: &str, line: u64, col: u64) -> usize {
    let (mut l, mut c) = (1u64, 1u64);
    for (offset, ch) in sql.char_indices() {
        if (l, c) >= (line, col) {
            return offset;
        }
        if ch == '\n' {
            l += 1;
            c = 1;
        } else {
            c += 1;
        }
    }
    sql.len()
}
