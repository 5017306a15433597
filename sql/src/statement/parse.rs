//! The statement as a whole: tokens, header, Druid clauses and query body, in that order.

use super::body::{rewrite_found, Found};
use super::header::parse_header;
use super::model::{DruidStatement, StatementKind};
use super::partitioning::Clauses;
use super::tokens::{
    depth0_indices, is_query_start, next_nonws, tokenize, trim, trim_trailing_comments, unexpected, Tok,
};
use crate::functions::time::Zone;
use crate::guard::{too_deep, DepthEstimator, DepthToken, MAX_EXPRESSION_DEPTH};
use msq_engine::{MsqError, Result};
use sqlparser::tokenizer::Token;

/// Parses one Druid SQL statement (`SELECT`, `INSERT INTO ...`, `REPLACE INTO ...`).
pub fn parse_statement(sql: &str) -> Result<DruidStatement> {
    parse_statement_in_zone(sql, &Zone::utc())
}

/// [`parse_statement`] with the `sqlTimeZone` that `OVERWRITE WHERE` time literals are in.
pub fn parse_statement_in_zone(sql: &str, zone: &Zone) -> Result<DruidStatement> {
    let toks = statement_tokens(sql)?;
    let Some(first) = next_nonws(&toks, 0) else {
        return Err(MsqError::SqlParse("Received an empty statement".to_string()));
    };
    let header = parse_header(&toks, first, zone)?;
    let body = &toks[header.body_start..];
    // An export is planned as the SELECT whose rows it writes.
    let kind = match header.export {
        Some(_) => {
            super::export::refuse_partitioning(body)?;
            StatementKind::Select
        }
        None => header.kind,
    };
    let clauses = Clauses::locate(body, kind)?;
    let query = trim_trailing_comments(&body[..clauses.query_end(body.len())]);
    let partitioned_by = clauses.partitioned_by(body, kind)?;
    let clustered_by = clauses.clustered_by(body)?;
    check_query_start(query, kind)?;

    let has_order_by = has_top_level_order_by(query);
    let has_limit = has_top_level_keyword(query, &["LIMIT", "FETCH"]);
    let has_offset = has_top_level_keyword(query, &["OFFSET"]);
    let mut found = Found::default();
    let mut query_sql = String::new();
    rewrite_found(trim(query), &mut found, &mut query_sql)?;
    let Found { externs, appends } = found;

    Ok(DruidStatement {
        kind,
        target: header.target,
        overwrite: header.overwrite,
        partitioned_by,
        clustered_by,
        query_sql,
        externs,
        appends,
        has_order_by,
        has_limit,
        has_offset,
        export: header.export,
    })
}

/// The tokens of exactly one statement: too deep a statement is refused, trailing whitespace
/// and semicolons are dropped, and a second statement is an error.
fn statement_tokens(sql: &str) -> Result<Vec<Tok>> {
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
    Ok(toks)
}

/// The query (what is left of the body before `PARTITIONED BY`) must start like one.
fn check_query_start(query: &[Tok], kind: StatementKind) -> Result<()> {
    match next_nonws(query, 0) {
        Some(i) if is_query_start(&query[i]) => Ok(()),
        Some(i) => Err(unexpected(Some(&query[i]), "\"SELECT\", \"WITH\"")),
        None => Err(MsqError::SqlParse(format!(
            "Received an unexpected end of statement: the {} statement has no query, acceptable options: [\"SELECT\", \"WITH\"]",
            kind.name()
        ))),
    }
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

// ---------------------------------------------------------------------------------------------
// ORDER BY, LIMIT, OFFSET

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
