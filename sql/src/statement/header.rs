//! The statement header: `INSERT INTO <table>`, `REPLACE INTO <table> OVERWRITE ...`, or none
//! for a plain query.

use super::export::{is_export_target, parse_export_target, ExportSpec};
use super::model::{Overwrite, StatementKind};
use super::overwrite_where::parse_overwrite_where_in_zone;
use super::tokens::{
    depth0_indices, is_query_start, matching_paren, next_nonws, nonws, text_of, trim, unexpected, Tok,
};
use crate::functions::time::Zone;
use msq_engine::{MsqError, Result};
use sqlparser::tokenizer::Token;

/// The statement header: the statement's kind, its target and `OVERWRITE`, and where the
/// rest of the statement starts.
pub(super) struct Header {
    pub(super) kind: StatementKind,
    pub(super) target: Option<String>,
    pub(super) overwrite: Option<Overwrite>,
    /// `INSERT INTO EXTERN(...) AS <format>`: the export destination.
    pub(super) export: Option<ExportSpec>,
    /// The index of the first token after the header.
    pub(super) body_start: usize,
}

/// Parses the header starting at token `first`: `INSERT INTO <table>`, `REPLACE INTO <table>
/// OVERWRITE ...`, or nothing before a query.
pub(super) fn parse_header(toks: &[Tok], first: usize, zone: &Zone) -> Result<Header> {
    if let Some(into) = export_into(toks, first) {
        if toks[first].is_kw("REPLACE") {
            return Err(MsqError::Validation(
                "REPLACE operations do not support EXTERN destinations. Use INSERT statements to write to an external destination."
                    .to_string(),
            ));
        }
        let (spec, next) = parse_export_target(toks, into + 1)?;
        Ok(Header {
            kind: StatementKind::Insert,
            target: None,
            overwrite: None,
            export: Some(spec),
            body_start: next,
        })
    } else if toks[first].is_kw("INSERT") {
        let (name, next) = parse_target(toks, first, "INSERT")?;
        Ok(Header {
            kind: StatementKind::Insert,
            target: Some(name),
            overwrite: None,
            export: None,
            body_start: next,
        })
    } else if toks[first].is_kw("REPLACE") {
        let (name, after_target) = parse_target(toks, first, "REPLACE")?;
        let (overwrite, next) = parse_overwrite(toks, after_target, zone)?;
        Ok(Header {
            kind: StatementKind::Replace,
            target: Some(name),
            overwrite: Some(overwrite),
            export: None,
            body_start: next,
        })
    } else if is_query_start(&toks[first]) {
        Ok(Header {
            kind: StatementKind::Select,
            target: None,
            overwrite: None,
            export: None,
            body_start: first,
        })
    } else {
        Err(unexpected(
            Some(&toks[first]),
            "\"SELECT\", \"WITH\", \"INSERT\", \"REPLACE\"",
        ))
    }
}

/// The `INTO` of `INSERT INTO EXTERN(...)` at `first` (`REPLACE INTO EXTERN(...)` is refused,
/// as in Druid: only INSERT exports).
fn export_into(toks: &[Tok], first: usize) -> Option<usize> {
    let into = next_nonws(toks, first + 1).filter(|&i| toks[i].is_kw("INTO"))?;
    let insert = toks[first].is_kw("INSERT") || toks[first].is_kw("REPLACE");
    (insert && is_export_target(toks, into + 1)).then_some(into)
}

/// Parses `INTO <table>` after the `INSERT` / `REPLACE` at `keyword` (no target column list);
/// returns the table and the next index.
fn parse_target(toks: &[Tok], keyword: usize, op: &str) -> Result<(String, usize)> {
    match next_nonws(toks, keyword + 1) {
        Some(i) if toks[i].is_kw("INTO") => {
            let (name, next) = parse_table_name(toks, i + 1, op)?;
            reject_column_list(toks, next, op, &name)?;
            Ok((name, next))
        }
        other => Err(unexpected(other.map(|i| &toks[i]), "\"INTO\"")),
    }
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
