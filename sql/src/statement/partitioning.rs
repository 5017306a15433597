//! `PARTITIONED BY <granularity>` and `CLUSTERED BY <keys>`: where they are in the body and
//! what they say.

use super::body::rewrite;
use super::model::{ClusterKey, StatementKind};
use super::tokens::{depth0_indices, nonws, split_commas, text_of, trim, unexpected, Tok};
use crate::units::floor_unit_period;
use msq_engine::granularity::Granularity;
use msq_engine::signature::TIME_COLUMN;
use msq_engine::{MsqError, Result};
use sqlparser::tokenizer::Token;

/// Where `PARTITIONED BY` and `CLUSTERED BY` are in the statement body, each as (index of the
/// keyword, index after `BY`).
pub(super) struct Clauses {
    partitioned: Option<(usize, usize)>,
    clustered: Option<(usize, usize)>,
}

impl Clauses {
    /// Locates both clauses at depth 0 of `body`: a missing `BY`, a clause given twice and
    /// `CLUSTERED BY` before (or without) `PARTITIONED BY` are errors.
    pub(super) fn locate(body: &[Tok], kind: StatementKind) -> Result<Clauses> {
        let d0 = depth0_indices(body);
        let mut partitioned: Option<(usize, usize)> = None;
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
        Ok(Clauses { partitioned, clustered })
    }

    /// Where the query ends in a body of `body_len` tokens: at `PARTITIONED BY`, else at the end.
    pub(super) fn query_end(&self, body_len: usize) -> usize {
        self.partitioned.map(|(p, _)| p).unwrap_or(body_len)
    }

    /// The `PARTITIONED BY` granularity: required for `INSERT` / `REPLACE`, refused for `SELECT`.
    pub(super) fn partitioned_by(&self, body: &[Tok], kind: StatementKind) -> Result<Option<Granularity>> {
        match self.partitioned {
            Some((_, after_by)) => {
                if kind == StatementKind::Select {
                    return Err(MsqError::Validation(
                        "PARTITIONED BY is only allowed in INSERT or REPLACE statements".to_string(),
                    ));
                }
                let end = self.clustered.map(|(c, _)| c).unwrap_or(body.len());
                Ok(Some(parse_granularity(&body[after_by..end])?))
            }
            None => {
                if kind != StatementKind::Select {
                    return Err(MsqError::Validation(format!(
                        "Operation [{}] requires a PARTITIONED BY to be explicitly defined, but none was found.",
                        kind.name()
                    )));
                }
                Ok(None)
            }
        }
    }

    /// The `CLUSTERED BY` keys (none without the clause).
    pub(super) fn clustered_by(&self, body: &[Tok]) -> Result<Vec<ClusterKey>> {
        match self.clustered {
            Some((_, after_by)) => parse_clustered_by(&body[after_by..]),
            None => Ok(Vec::new()),
        }
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
            unit.word()
                .and_then(floor_unit_period)
                .and_then(Granularity::from_period)
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
