//! `TABLE(EXTERN(inputSource, inputFormat[, signature])) [[EXTEND] (columns)]`: an external
//! table read by the query.

use super::model::ExternSpec;
use super::tokens::{matching_paren, next_nonws, nonws, split_commas, text_of, trim, unexpected, Tok};
use msq_engine::signature::{ColumnSignature, ColumnType, Signature};
use msq_engine::{MsqError, Result};
use serde_json::Value;
use sqlparser::tokenizer::Token;

/// Parses `TABLE(EXTERN(...)) [[EXTEND] (cols)]` at `i`; returns the spec and the index after it.
pub(super) fn try_extern(toks: &[Tok], i: usize, n: usize) -> Result<Option<(ExternSpec, usize)>> {
    let Some((open_ext, close_ext, close_table)) = extern_call(toks, i)? else {
        return Ok(None);
    };
    let args = ExternArgs::parse(&toks[open_ext + 1..close_ext])?;
    let input_source = parse_json_arg("inputSource", args.input_source)?;
    let input_format = parse_json_arg("inputFormat", args.input_format)?;
    let (extend, end) = parse_extend(toks, close_table + 1)?;
    let signature = row_signature(args.signature, extend)?;
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

/// Locates `TABLE(EXTERN(...))` at `i`: the indices of the `(` and `)` of `EXTERN` and of the
/// `)` closing `TABLE`; `None` if `TABLE` is not followed by `(EXTERN`.
fn extern_call(toks: &[Tok], i: usize) -> Result<Option<(usize, usize, usize)>> {
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
    Ok(Some((open_ext, close_ext, close_table)))
}

/// The string-literal arguments of `EXTERN`.
#[derive(Default)]
struct ExternArgs {
    input_source: Option<String>,
    input_format: Option<String>,
    signature: Option<String>,
}

impl ExternArgs {
    /// Parses the arguments between the parentheses of `EXTERN`: positional (`'...'`, in the
    /// order inputSource, inputFormat, signature) then named (`name => '...'`).
    fn parse(args_toks: &[Tok]) -> Result<ExternArgs> {
        let mut args = ExternArgs::default();
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
            args.set(&name, lit)?;
        }
        Ok(args)
    }

    /// Sets the argument `name` (case-insensitive) once.
    fn set(&mut self, name: &str, lit: String) -> Result<()> {
        let slot = match name.to_ascii_lowercase().as_str() {
            "inputsource" => &mut self.input_source,
            "inputformat" => &mut self.input_format,
            "signature" => &mut self.signature,
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
        Ok(())
    }
}

/// Parses the optional `EXTEND (cols)` or `(cols)` starting at `from` (right after
/// `TABLE(...)`); returns its columns and the index after it (`from` without one).
pub(super) fn parse_extend(toks: &[Tok], from: usize) -> Result<(Option<Signature>, usize)> {
    let Some(k) = next_nonws(toks, from) else {
        return Ok((None, from));
    };
    let open = if toks[k].is_kw("EXTEND") {
        match next_nonws(toks, k + 1) {
            Some(o) if matches!(toks[o].token, Token::LParen) => o,
            other => return Err(unexpected(other.map(|x| &toks[x]), "\"(\"")),
        }
    } else if matches!(toks[k].token, Token::LParen) {
        k
    } else {
        return Ok((None, from));
    };
    let Some(close) = matching_paren(toks, open) else {
        return Err(MsqError::SqlParse("Unbalanced parentheses in EXTEND(...)".to_string()));
    };
    Ok((Some(parse_extend_columns(&toks[open + 1..close])?), close + 1))
}

/// The row signature, from exactly one of the `signature` argument and the `EXTEND` clause;
/// it must have columns.
fn row_signature(signature: Option<String>, extend: Option<Signature>) -> Result<Signature> {
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
    Ok(signature)
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
