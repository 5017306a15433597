//! Rewriting the query body: every `TABLE(EXTERN(...))` (and input table function such as
//! `TABLE(LOCALFILES(...))`) becomes `"__extern_N"`, every `TABLE(APPEND(...))` becomes
//! `"__append_N"` and every `FLOOR/CEIL(x TO unit)` becomes `TIME_FLOOR/TIME_CEIL(x, 'period')`.

use super::external::try_extern;
use super::model::{AppendSpec, ExternSpec};
use super::table_functions::{try_table_function, TableFunction};
use super::tokens::{depth0_indices, matching_paren, next_nonws, nonws, prev_nonws, trim, unexpected, Tok};
use crate::units::floor_unit_period;
use msq_engine::{MsqError, Result};
use sqlparser::tokenizer::Token;

/// The table functions a rewrite found.
#[derive(Debug, Default)]
pub(super) struct Found {
    pub(super) externs: Vec<ExternSpec>,
    pub(super) appends: Vec<AppendSpec>,
}

/// [`rewrite_found`] collecting only the externs (for expressions outside the query body).
pub(super) fn rewrite(toks: &[Tok], externs: &mut Vec<ExternSpec>, out: &mut String) -> Result<()> {
    let mut found = Found {
        externs: std::mem::take(externs),
        appends: Vec::new(),
    };
    let result = rewrite_found(toks, &mut found, out);
    *externs = found.externs;
    result
}

/// Rewrites `toks` into `out`, collecting the table functions into `found`.
pub(super) fn rewrite_found(toks: &[Tok], found: &mut Found, out: &mut String) -> Result<()> {
    let mut i = 0;
    while i < toks.len() {
        let t = &toks[i];
        if t.is_kw("TABLE") {
            if let Some((spec, next)) = try_extern(toks, i, found.externs.len())? {
                push_name(out, &spec.table_name);
                found.externs.push(spec);
                i = next;
                continue;
            }
            let ns = (found.externs.len(), found.appends.len());
            if let Some((function, next)) = try_table_function(toks, i, ns)? {
                match function {
                    TableFunction::Input(spec) => {
                        push_name(out, &spec.table_name);
                        found.externs.push(spec);
                    }
                    TableFunction::Append(spec) => {
                        push_name(out, &spec.table_name);
                        found.appends.push(spec);
                    }
                }
                i = next;
                continue;
            }
        }
        if t.is_kw("FLOOR") || t.is_kw("CEIL") || t.is_kw("CEILING") {
            if let Some(next) = try_floor_to(toks, i, found, out)? {
                i = next;
                continue;
            }
        }
        out.push_str(&t.text);
        i += 1;
    }
    Ok(())
}

/// Writes a quoted table name.
fn push_name(out: &mut String, name: &str) {
    out.push('"');
    out.push_str(name);
    out.push('"');
}

/// Rewrites `FLOOR(<expr> TO <unit>)` at `i`; returns the index after it, or `None` if the
/// call has no `TO <unit>`.
fn try_floor_to(toks: &[Tok], i: usize, found: &mut Found, out: &mut String) -> Result<Option<usize>> {
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
    let Some(period) = unit.word().and_then(floor_unit_period) else {
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
    rewrite_found(expr, found, out)?;
    out.push_str(", '");
    out.push_str(period);
    out.push_str("')");
    Ok(Some(close + 1))
}
