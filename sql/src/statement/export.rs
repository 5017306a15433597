//! Druid's export statement: `INSERT INTO EXTERN(<destination>(name => 'value', ...)) AS
//! CSV | PARQUET SELECT ...` (Parquet is an msq-rs extension). The destination is `LOCAL`
//! (`exportPath`) or `S3` (`bucket`, `prefix`); where it may point is the server's to check
//! (msq-controller's `export` module), this only reads what was written.

use super::tokens::{depth0_indices, matching_paren, next_nonws, nonws, split_commas, text_of, trim, unexpected, Tok};
use msq_engine::{MsqError, Result};
use serde_json::{json, Value};
use sqlparser::tokenizer::Token;

/// Where exported files go, as the statement names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportDestination {
    /// `LOCAL(exportPath => '...')`: a directory on the server, inside its export base directory.
    Local { export_path: String },
    /// `S3(bucket => '...', prefix => '...')`.
    S3 { bucket: String, prefix: String },
}

/// The file format of exported rows (`AS CSV`, `AS PARQUET`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Csv,
    Parquet,
}

impl ExportFormat {
    /// The file extension and Druid's `resultFormat` name (`csv`, `parquet`).
    pub fn name(&self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Parquet => "parquet",
        }
    }
}

/// The destination and format of an export statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExportSpec {
    pub destination: ExportDestination,
    pub format: ExportFormat,
}

impl ExportSpec {
    /// Druid's `destination` of the task payload (`ExportMSQDestination`).
    pub fn destination_json(&self) -> Value {
        let provider = match &self.destination {
            ExportDestination::Local { export_path } => json!({"type": "local", "exportPath": export_path}),
            ExportDestination::S3 { bucket, prefix } => json!({"type": "s3", "bucket": bucket, "prefix": prefix}),
        };
        json!({"type": "export", "exportStorageProvider": provider, "resultFormat": self.format.name()})
    }
}

/// Whether the tokens after `INTO` (from `from`) start an `EXTERN(` destination.
pub(super) fn is_export_target(toks: &[Tok], from: usize) -> bool {
    let Some(i) = next_nonws(toks, from).filter(|&i| toks[i].is_kw("EXTERN")) else {
        return false;
    };
    next_nonws(toks, i + 1).is_some_and(|o| matches!(toks[o].token, Token::LParen))
}

/// Parses `EXTERN(<fn>(args)) AS <format>` starting at or after `from`; returns the spec and
/// the index after the format.
pub(super) fn parse_export_target(toks: &[Tok], from: usize) -> Result<(ExportSpec, usize)> {
    let ext = next_nonws(toks, from).unwrap_or(from);
    let open = next_nonws(toks, ext + 1).unwrap_or(ext);
    let close = matching_paren(toks, open).ok_or_else(|| unexpected(None, "\")\""))?;
    let destination = parse_destination(&toks[open + 1..close])?;
    let as_kw = next_nonws(toks, close + 1);
    let Some(as_kw) = as_kw.filter(|&a| toks[a].is_kw("AS")) else {
        return Err(MsqError::Validation(
            "Exporting rows into an EXTERN destination requires an AS clause to specify the format, e.g. AS CSV"
                .to_string(),
        ));
    };
    let fmt = next_nonws(toks, as_kw + 1);
    let format = match fmt.map(|f| &toks[f]) {
        Some(t) if t.is_kw("CSV") => ExportFormat::Csv,
        Some(t) if t.is_kw("PARQUET") => ExportFormat::Parquet,
        Some(t) if t.word().is_some() => {
            return Err(MsqError::Validation(format!(
                "The export format [{}] is not supported: use CSV (or PARQUET, an msq-rs extension)",
                t.text
            )))
        }
        other => return Err(unexpected(other, "\"CSV\", \"PARQUET\"")),
    };
    Ok((ExportSpec { destination, format }, fmt.unwrap_or(as_kw) + 1))
}

/// Parses `LOCAL(exportPath => '...')` or `S3(bucket => '...', prefix => '...')`.
fn parse_destination(inner: &[Tok]) -> Result<ExportDestination> {
    let inner = trim(inner);
    let name_at = next_nonws(inner, 0);
    let Some(n) = name_at.filter(|&n| inner[n].word().is_some()) else {
        return Err(unexpected(name_at.map(|n| &inner[n]), "\"LOCAL\", \"S3\""));
    };
    let open = next_nonws(inner, n + 1).filter(|&o| matches!(inner[o].token, Token::LParen));
    let close = open.and_then(|o| matching_paren(inner, o));
    let (Some(open), Some(close)) = (open, close) else {
        return Err(MsqError::Validation(format!(
            "EXTERN destination [{}] must be a call such as LOCAL(exportPath => '...')",
            text_of(inner)
        )));
    };
    if next_nonws(inner, close + 1).is_some() {
        return Err(unexpected(next_nonws(inner, close + 1).map(|i| &inner[i]), "\")\""));
    }
    let args = named_args(&inner[open + 1..close])?;
    let get = |key: &str| -> Result<String> {
        args.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.clone())
            .ok_or_else(|| MsqError::Validation(format!("Missing required argument [{key}] of the export destination")))
    };
    let known = |keys: &[&str]| -> Result<()> {
        match args
            .iter()
            .find(|(k, _)| !keys.iter().any(|x| x.eq_ignore_ascii_case(k)))
        {
            Some((k, _)) => Err(MsqError::Validation(format!(
                "Unknown argument [{k}] of the export destination; expected {}",
                keys.join(", ")
            ))),
            None => Ok(()),
        }
    };
    let function = inner[n].word().unwrap_or_default().to_ascii_uppercase();
    match function.as_str() {
        "LOCAL" => {
            known(&["exportPath"])?;
            Ok(ExportDestination::Local {
                export_path: get("exportPath")?,
            })
        }
        "S3" => {
            known(&["bucket", "prefix"])?;
            Ok(ExportDestination::S3 {
                bucket: get("bucket")?,
                prefix: get("prefix")?,
            })
        }
        other => Err(MsqError::Validation(format!(
            "Export destination [{other}] is not supported: use LOCAL(exportPath => '...') or S3(bucket => '...', prefix => '...')"
        ))),
    }
}

/// `name => 'value'` pairs separated by commas.
fn named_args(toks: &[Tok]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    for part in split_commas(toks) {
        let t = nonws(part);
        match t.as_slice() {
            [] if out.is_empty() => {}
            [w, arrow, s]
                if w.word().is_some() && matches!(arrow.token, Token::RArrow) && s.string_literal().is_some() =>
            {
                let name = w.word().unwrap_or_default().to_string();
                if out.iter().any(|(k, _)| k.eq_ignore_ascii_case(&name)) {
                    return Err(MsqError::Validation(format!(
                        "Argument [{name}] of the export destination is given twice"
                    )));
                }
                out.push((name, s.string_literal().unwrap_or_default().to_string()));
            }
            _ => {
                return Err(MsqError::Validation(format!(
                    "Export destination arguments must be named string literals (name => 'value'), got [{}]",
                    text_of(trim(part))
                )))
            }
        }
    }
    Ok(out)
}

/// Export statements take no `PARTITIONED BY` / `CLUSTERED BY` (Druid's rule).
pub(super) fn refuse_partitioning(body: &[Tok]) -> Result<()> {
    let d0: Vec<usize> = depth0_indices(body).into_iter().filter(|&i| !body[i].is_ws()).collect();
    let clause = d0
        .windows(2)
        .any(|w| (body[w[0]].is_kw("PARTITIONED") || body[w[0]].is_kw("CLUSTERED")) && body[w[1]].is_kw("BY"));
    if clause {
        return Err(MsqError::Validation(
            "Export statements do not support a PARTITIONED BY or CLUSTERED BY clause.".to_string(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::statement::{parse_statement, StatementKind};

    #[test]
    fn export_statements_parse_as_the_select_they_write() {
        let s = parse_statement(
            "INSERT INTO EXTERN(local(exportPath => '/x/y')) AS csv SELECT a FROM t ORDER BY a LIMIT 3",
        )
        .unwrap();
        assert_eq!(s.kind, StatementKind::Select);
        assert_eq!(s.target, None);
        assert!(s.has_order_by && s.has_limit);
        assert_eq!(
            s.export,
            Some(ExportSpec {
                destination: ExportDestination::Local {
                    export_path: "/x/y".into()
                },
                format: ExportFormat::Csv
            })
        );
        let s3 = parse_statement("INSERT INTO EXTERN(S3(bucket => 'b', prefix => 'p/q')) AS PARQUET SELECT 1").unwrap();
        assert_eq!(
            s3.export.unwrap().destination_json(),
            json!({"type": "export", "exportStorageProvider": {"type": "s3", "bucket": "b", "prefix": "p/q"}, "resultFormat": "parquet"})
        );
        // A table named like the function is still a datasource.
        assert!(parse_statement("INSERT INTO extern SELECT 1 PARTITIONED BY ALL")
            .unwrap()
            .export
            .is_none());
    }

    #[test]
    fn bad_export_statements_get_clear_errors() {
        for (sql, needle) in [
            (
                "INSERT INTO EXTERN(LOCAL(exportPath => '/x')) AS CSV SELECT 1 PARTITIONED BY ALL",
                "PARTITIONED BY",
            ),
            ("INSERT INTO EXTERN(LOCAL(exportPath => '/x')) SELECT 1", "AS clause"),
            (
                "INSERT INTO EXTERN(LOCAL(exportPath => '/x')) AS ORC SELECT 1",
                "[ORC] is not supported",
            ),
            (
                "INSERT INTO EXTERN(LOCAL(path => '/x')) AS CSV SELECT 1",
                "Unknown argument [path]",
            ),
            (
                "INSERT INTO EXTERN(LOCAL()) AS CSV SELECT 1",
                "Missing required argument [exportPath]",
            ),
            (
                "INSERT INTO EXTERN(LOCAL(exportPath => 1)) AS CSV SELECT 1",
                "named string literals",
            ),
            (
                "INSERT INTO EXTERN(S3(bucket => 'b', bucket => 'c', prefix => 'p')) AS CSV SELECT 1",
                "twice",
            ),
            ("INSERT INTO EXTERN('x') AS CSV SELECT 1", "LOCAL"),
            (
                "REPLACE INTO EXTERN(LOCAL(exportPath => '/x')) AS CSV OVERWRITE ALL SELECT 1",
                "Use INSERT",
            ),
        ] {
            let e = parse_statement(sql).unwrap_err();
            assert_eq!(e.error_code(), "InvalidInput", "{sql}");
            assert!(e.to_string().contains(needle), "{sql}: {e}");
        }
    }
}
