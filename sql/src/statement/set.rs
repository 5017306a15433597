//! `SET key = value;` statements before a request's statement (Druid 32+): each assigns one
//! query context key a SQL literal: a string, a (signed) number, `TRUE` / `FALSE` or `NULL`.

use super::tokens::{next_nonws, unexpected, Tok};
use msq_engine::{MsqError, Result};
use serde_json::{Map, Number, Value};
use sqlparser::tokenizer::Token;

/// Parses the `SET` statements starting at token `from`; returns the context they assign (a
/// later `SET` of a key wins) and the index of the first token after the last one's `;`.
pub(super) fn parse_set_statements(toks: &[Tok], from: usize) -> Result<(Map<String, Value>, usize)> {
    let mut context = Map::new();
    let mut next = from;
    while let Some(set) = next_nonws(toks, next).filter(|&i| toks[i].is_kw("SET")) {
        let (key, value, end) = parse_one(toks, set)?;
        context.insert(key, value);
        next = end;
    }
    Ok((context, next))
}

/// Whether the statement text starts with `SET` (comments and whitespace aside).
pub fn is_set_statement(sql: &str) -> bool {
    super::tokens::tokenize(sql)
        .ok()
        .and_then(|toks| next_nonws(&toks, 0).map(|i| toks[i].is_kw("SET")))
        .unwrap_or(false)
}

/// One `SET <identifier> = <literal> ;` at `set`: the key, its value and the index after `;`.
fn parse_one(toks: &[Tok], set: usize) -> Result<(String, Value, usize)> {
    let key_at = next_nonws(toks, set + 1);
    let key = match key_at.map(|i| &toks[i].token) {
        Some(Token::Word(w)) if !w.value.is_empty() => w.value.clone(),
        _ => return Err(unexpected(key_at.map(|i| &toks[i]), "<identifier>")),
    };
    let key_at = key_at.unwrap_or(set);
    let eq = next_nonws(toks, key_at + 1);
    if !eq.is_some_and(|i| matches!(toks[i].token, Token::Eq)) {
        return Err(unexpected(eq.map(|i| &toks[i]), "\"=\""));
    }
    let (value, after) = parse_literal(toks, eq.unwrap_or(key_at) + 1, set)?;
    let semi = next_nonws(toks, after);
    match semi {
        Some(i) if matches!(toks[i].token, Token::SemiColon) => Ok((key, value, i + 1)),
        Some(i) => Err(unexpected(Some(&toks[i]), "\";\"")),
        // A SET must be followed by the statement it sets context for.
        None => Err(MsqError::Validation(format!(
            "Invalid sql statement list[{}] - statement list must end with a statement that is not a SET",
            statement_text(toks, set, toks.len())
        ))),
    }
}

/// The literal starting at or after token `from`, and the index after it.
fn parse_literal(toks: &[Tok], from: usize, set: usize) -> Result<(Value, usize)> {
    let Some(i) = next_nonws(toks, from) else {
        return Err(unexpected(None, "<literal>"));
    };
    let value = match &toks[i].token {
        Token::SingleQuotedString(s) | Token::UnicodeStringLiteral(s) | Token::NationalStringLiteral(s) => {
            Value::String(s.clone())
        }
        Token::Number(n, _) => number(n, false, &toks[i])?,
        Token::Minus | Token::Plus => {
            let negative = matches!(toks[i].token, Token::Minus);
            match next_nonws(toks, i + 1).map(|j| (j, &toks[j].token)) {
                Some((j, Token::Number(n, _))) => return Ok((number(n, negative, &toks[j])?, j + 1)),
                other => return Err(unexpected(other.map(|(j, _)| &toks[j]), "<number>")),
            }
        }
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("TRUE") => Value::Bool(true),
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("FALSE") => Value::Bool(false),
        Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("NULL") => Value::Null,
        // An identifier (or any other expression) is not a literal: Druid's own message.
        Token::Word(_) => {
            let end = (i..toks.len())
                .find(|&k| matches!(toks[k].token, Token::SemiColon))
                .unwrap_or(toks.len());
            return Err(MsqError::Validation(format!(
                "Assigned value must be a literal for SET statement[{}]",
                statement_text(toks, set, end)
            )));
        }
        _ => return Err(unexpected(Some(&toks[i]), "<literal>")),
    };
    Ok((value, i + 1))
}

/// A numeric literal as a JSON number: an integer when it is one that fits 64 bits, else a
/// double.
fn number(text: &str, negative: bool, tok: &Tok) -> Result<Value> {
    let signed = if negative { format!("-{text}") } else { text.to_string() };
    if let Ok(n) = signed.parse::<i64>() {
        return Ok(Value::Number(n.into()));
    }
    signed
        .parse::<f64>()
        .ok()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| unexpected(Some(tok), "<number>"))
}

/// The source text of tokens `from..to`, trimmed.
fn statement_text(toks: &[Tok], from: usize, to: usize) -> String {
    super::tokens::text_of(&toks[from..to]).trim().to_string()
}
