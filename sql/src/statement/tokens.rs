//! Tokens with their exact source text and position, and the depth-0 helpers every clause
//! parser works with.

use msq_engine::{MsqError, Result};
use sqlparser::dialect::GenericDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

/// A token with its exact source text and position.
#[derive(Debug, Clone)]
pub(super) struct Tok {
    pub(super) token: Token,
    pub(super) text: String,
    pub(super) line: u64,
    pub(super) col: u64,
}

impl Tok {
    pub(super) fn is_ws(&self) -> bool {
        matches!(self.token, Token::Whitespace(_))
    }

    /// An unquoted word equal (case-insensitively) to `k`.
    pub(super) fn is_kw(&self, k: &str) -> bool {
        matches!(&self.token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case(k))
    }

    /// The identifier value of a word (quoted or not).
    pub(super) fn word(&self) -> Option<&str> {
        match &self.token {
            Token::Word(w) => Some(&w.value),
            _ => None,
        }
    }

    pub(super) fn string_literal(&self) -> Option<&str> {
        match &self.token {
            Token::SingleQuotedString(s) => Some(s),
            _ => None,
        }
    }
}

pub(super) fn tokenize(sql: &str) -> Result<Vec<Tok>> {
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

pub(super) fn next_nonws(toks: &[Tok], from: usize) -> Option<usize> {
    (from..toks.len()).find(|&i| !toks[i].is_ws())
}

pub(super) fn prev_nonws(toks: &[Tok], before: usize) -> Option<usize> {
    (0..before).rev().find(|&i| !toks[i].is_ws())
}

/// The index of the `)` matching the `(` at `open`.
pub(super) fn matching_paren(toks: &[Tok], open: usize) -> Option<usize> {
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
pub(super) fn depth0_indices(toks: &[Tok]) -> Vec<usize> {
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

/// Splits a token slice at depth-0 commas (parentheses and brackets both nest).
pub(super) fn split_commas(toks: &[Tok]) -> Vec<&[Tok]> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, t) in toks.iter().enumerate() {
        match t.token {
            Token::LParen | Token::LBracket => depth += 1,
            Token::RParen | Token::RBracket => depth -= 1,
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
pub(super) fn trim(toks: &[Tok]) -> &[Tok] {
    let s = toks.iter().position(|t| !t.is_ws()).unwrap_or(toks.len());
    let e = toks.iter().rposition(|t| !t.is_ws()).map(|i| i + 1).unwrap_or(s);
    &toks[s..e.max(s)]
}

pub(super) fn text_of(toks: &[Tok]) -> String {
    toks.iter().map(|t| t.text.as_str()).collect()
}

pub(super) fn nonws(toks: &[Tok]) -> Vec<&Tok> {
    toks.iter().filter(|t| !t.is_ws()).collect()
}

pub(super) fn unexpected(tok: Option<&Tok>, expected: &str) -> MsqError {
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

pub(super) fn is_query_start(t: &Tok) -> bool {
    t.is_kw("SELECT") || t.is_kw("WITH") || t.is_kw("VALUES") || matches!(t.token, Token::LParen)
}

/// Drops trailing whitespace and comments.
pub(super) fn trim_trailing_comments(toks: &[Tok]) -> &[Tok] {
    let e = toks.iter().rposition(|t| !t.is_ws()).map(|i| i + 1).unwrap_or(0);
    &toks[..e]
}
