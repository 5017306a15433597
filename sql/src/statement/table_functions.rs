//! Druid's table functions other than `EXTERN`, at `TABLE(<function>(...))`:
//!
//! - `APPEND('t1', 't2', ...)`: the rows of several tables, columns matched by name.
//! - The input-source functions `LOCALFILES`, `HTTP`, `INLINE` and `S3`, with named SQL
//!   arguments (`files => ARRAY['a.csv']`, `format => 'csv'`, ...) and a required
//!   `EXTEND (col TYPE, ...)`: each makes exactly the `inputSource` / `inputFormat` JSON an
//!   `EXTERN` would take, so it is read (and checked) as that `EXTERN`.
//!
//! Any other function there gets a short error naming it.

use super::external::parse_extend;
use super::model::{AppendSpec, ExternSpec};
use super::tokens::{matching_paren, next_nonws, nonws, split_commas, text_of, trim, unexpected, Tok};
use msq_engine::signature::Signature;
use msq_engine::{MsqError, Result};
use serde_json::{json, Map, Value};
use sqlparser::tokenizer::Token;

/// A table function found in the query body.
#[derive(Debug)]
pub(super) enum TableFunction {
    /// An input-source function, as the `EXTERN` it stands for.
    Input(ExternSpec),
    Append(AppendSpec),
}

/// The input-source functions and their own parameters (besides the format's).
const INPUT_FUNCTIONS: [(&str, &[&str]); 4] = [
    ("LOCALFILES", &["baseDir", "filter", "files"]),
    ("HTTP", &["uris", "userName", "password", "passwordEnvVar"]),
    ("INLINE", &["data"]),
    (
        "S3",
        &[
            "uris",
            "prefixes",
            "bucket",
            "paths",
            "accessKeyId",
            "secretAccessKey",
            "assumeRoleArn",
        ],
    ),
];

/// The parameters of the input format, for every input-source function.
const FORMAT_PARAMS: [&str; 4] = ["format", "listDelimiter", "skipHeaderRows", "delimiter"];

/// Parses `TABLE(<function>(...))` at `i` (the `TABLE` token) for every function but `EXTERN`;
/// `counts` are the externs and appends found so far (for the replacement names). `None` when
/// `TABLE` is not followed by `(`; an error when the parenthesis holds no function call.
pub(super) fn try_table_function(
    toks: &[Tok],
    i: usize,
    counts: (usize, usize),
) -> Result<Option<(TableFunction, usize)>> {
    let Some(open_table) = next_nonws(toks, i + 1).filter(|&o| matches!(toks[o].token, Token::LParen)) else {
        return Ok(None);
    };
    let call = next_nonws(toks, open_table + 1)
        .filter(|&f| toks[f].word().is_some())
        .and_then(|f| {
            next_nonws(toks, f + 1)
                .filter(|&o| matches!(toks[o].token, Token::LParen))
                .map(|o| (f, o))
        });
    let Some((f, open)) = call else {
        // `TABLE(<not a call>)`: DataFusion would answer with its syntax tree.
        let inner = matching_paren(toks, open_table).map_or(&toks[open_table + 1..], |c| &toks[open_table + 1..c]);
        let shown: String = text_of(trim(inner)).chars().take(80).collect();
        return Err(MsqError::Validation(format!(
            "TABLE(...) takes a table function call such as TABLE(APPEND('t1', 't2')) or TABLE(EXTERN(...)), got TABLE({shown})"
        )));
    };
    let name = toks[f].word().unwrap_or_default().to_ascii_uppercase();
    let Some(close) = matching_paren(toks, open) else {
        return Err(MsqError::SqlParse(format!("Unbalanced parentheses in {name}(...)")));
    };
    let close_table = match next_nonws(toks, close + 1) {
        Some(c) if matches!(toks[c].token, Token::RParen) => c,
        other => return Err(unexpected(other.map(|k| &toks[k]), "\")\"")),
    };
    let args = &toks[open + 1..close];
    if name == "APPEND" {
        let spec = AppendSpec {
            table_name: format!("__append_{}", counts.1),
            tables: append_tables(args)?,
        };
        return Ok(Some((TableFunction::Append(spec), close_table + 1)));
    }
    let Some((_, params)) = INPUT_FUNCTIONS.iter().find(|(n, _)| *n == name) else {
        return Err(MsqError::Validation(format!(
            "Unknown table function [{}]: msq-rs has EXTERN, APPEND, LOCALFILES, HTTP, INLINE and S3",
            toks[f].text
        )));
    };
    let args = NamedArgs::parse(&name, args, params)?;
    let (extend, end) = parse_extend(toks, close_table + 1)?;
    let signature = match extend {
        Some(s) if !s.0.is_empty() => s,
        Some(_) => {
            return Err(MsqError::Validation(format!(
                "{name}: the row signature has no columns"
            )))
        }
        None => {
            return Err(MsqError::Validation(format!(
                "{name} requires an EXTEND clause with the columns to read, e.g. EXTEND (x VARCHAR, y BIGINT)"
            )))
        }
    };
    let spec = ExternSpec {
        table_name: format!("__extern_{}", counts.0),
        input_source: input_source(&name, &args)?,
        input_format: input_format(&name, &args, &signature)?,
        signature,
    };
    Ok(Some((TableFunction::Input(spec), end)))
}

/// The table names of `APPEND('t1', 't2', ...)`: string literals, at least one (Druid's
/// messages for the others).
fn append_tables(args: &[Tok]) -> Result<Vec<String>> {
    let mut tables = Vec::new();
    let parts = split_commas(args);
    for (i, part) in parts.iter().enumerate() {
        let problem = match nonws(part).as_slice() {
            [] if parts.len() == 1 => break,
            [t] if t.string_literal().is_some() => {
                tables.push(t.string_literal().unwrap_or_default().to_string());
                continue;
            }
            [t] if matches!(t.token, Token::Number(..)) || t.is_kw("TRUE") || t.is_kw("FALSE") => "is not string",
            _ => "is not literal",
        };
        return Err(MsqError::Validation(format!(
            "All arguments to APPEND should be literal strings. Argument #{i} {problem}: [{}]",
            text_of(trim(part))
        )));
    }
    if tables.is_empty() {
        return Err(MsqError::Validation("APPEND requires at least one table".into()));
    }
    Ok(tables)
}

/// The value of one named argument.
#[derive(Debug, Clone, PartialEq)]
enum ArgValue {
    Text(String),
    Number(String),
    Bool(bool),
    List(Vec<String>),
}

/// The named arguments of one call (`name => value`), names in their canonical case.
struct NamedArgs(Vec<(&'static str, ArgValue)>);

impl NamedArgs {
    /// Parses `name => value, ...`; each name must be one of `params` or [`FORMAT_PARAMS`].
    fn parse(func: &str, toks: &[Tok], params: &[&'static str]) -> Result<NamedArgs> {
        let mut out: Vec<(&'static str, ArgValue)> = Vec::new();
        for part in split_commas(toks) {
            let t = nonws(part);
            let (name, value) = match t.as_slice() {
                [] => continue,
                [w, arrow, value @ ..] if w.word().is_some() && matches!(arrow.token, Token::RArrow) => {
                    (w.word().unwrap_or_default(), value)
                }
                _ => {
                    return Err(MsqError::Validation(format!(
                        "{func} takes named arguments (name => value), got [{}]",
                        text_of(trim(part))
                    )))
                }
            };
            let Some(canonical) = params
                .iter()
                .chain(FORMAT_PARAMS.iter())
                .find(|p| p.eq_ignore_ascii_case(name))
            else {
                let all: Vec<&str> = params.iter().chain(FORMAT_PARAMS.iter()).copied().collect();
                return Err(MsqError::Validation(format!(
                    "{func} has no parameter [{name}]; its parameters are [{}]",
                    all.join(", ")
                )));
            };
            if out.iter().any(|(n, _)| n == canonical) {
                return Err(MsqError::Validation(format!(
                    "{func}: parameter [{canonical}] given twice"
                )));
            }
            if let Some(v) = arg_value(func, canonical, value)? {
                out.push((canonical, v));
            }
        }
        Ok(NamedArgs(out))
    }

    fn get(&self, name: &str) -> Option<&ArgValue> {
        self.0.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// A text parameter.
    fn text(&self, func: &str, name: &str) -> Result<Option<String>> {
        match self.get(name) {
            None => Ok(None),
            Some(ArgValue::Text(s)) => Ok(Some(s.clone())),
            Some(_) => Err(MsqError::Validation(format!(
                "{func}: parameter [{name}] must be a string"
            ))),
        }
    }

    /// A list parameter: `ARRAY['a', 'b']` or the string `'a, b'` (split at commas).
    fn list(&self, name: &str) -> Option<Vec<String>> {
        match self.get(name)? {
            ArgValue::List(v) => Some(v.clone()),
            ArgValue::Text(s) => Some(
                s.split(',')
                    .map(|x| x.trim().to_string())
                    .filter(|x| !x.is_empty())
                    .collect(),
            ),
            ArgValue::Number(n) => Some(vec![n.clone()]),
            ArgValue::Bool(b) => Some(vec![b.to_string()]),
        }
    }
}

/// Parses one argument value: a string, number or boolean literal, `NULL` (as absent) or
/// `ARRAY['...', ...]`.
fn arg_value(func: &str, name: &str, value: &[&Tok]) -> Result<Option<ArgValue>> {
    let bad = || {
        let text: Vec<&str> = value.iter().map(|t| t.text.as_str()).collect();
        MsqError::Validation(format!(
            "{func}: parameter [{name}] must be a literal or ARRAY['...'], got [{}]",
            text.join(" ")
        ))
    };
    Ok(Some(match value {
        [s] if s.string_literal().is_some() => ArgValue::Text(s.string_literal().unwrap_or_default().to_string()),
        [n] => match &n.token {
            Token::Number(n, _) => ArgValue::Number(n.clone()),
            _ if n.is_kw("TRUE") => ArgValue::Bool(true),
            _ if n.is_kw("FALSE") => ArgValue::Bool(false),
            _ if n.is_kw("NULL") => return Ok(None),
            _ => return Err(bad()),
        },
        [array, open, items @ .., close]
            if array.is_kw("ARRAY")
                && matches!(open.token, Token::LBracket)
                && matches!(close.token, Token::RBracket) =>
        {
            let mut list = Vec::new();
            for item in items.split(|t| matches!(t.token, Token::Comma)) {
                match item {
                    [] if items.is_empty() => {}
                    [s] if s.string_literal().is_some() => {
                        list.push(s.string_literal().unwrap_or_default().to_string())
                    }
                    _ => return Err(bad()),
                }
            }
            ArgValue::List(list)
        }
        _ => return Err(bad()),
    }))
}

/// The `inputSource` JSON of an input-source function.
fn input_source(func: &str, args: &NamedArgs) -> Result<Value> {
    let mut o = Map::new();
    let mut put = |k: &str, v: Option<Value>| {
        if let Some(v) = v {
            o.insert(k.to_string(), v);
        }
    };
    let list = |n: &str| args.list(n).map(|v| json!(v));
    match func {
        "LOCALFILES" => {
            put("type", Some(json!("local")));
            put("baseDir", args.text(func, "baseDir")?.map(Value::from));
            put("filter", args.text(func, "filter")?.map(Value::from));
            put("files", list("files"));
        }
        "HTTP" => {
            put("type", Some(json!("http")));
            put("uris", Some(list("uris").unwrap_or_else(|| json!([]))));
            put(
                "httpAuthenticationUsername",
                args.text(func, "userName")?.map(Value::from),
            );
            let password = match (args.text(func, "password")?, args.text(func, "passwordEnvVar")?) {
                (Some(_), Some(_)) => {
                    return Err(MsqError::Validation(
                        "HTTP: give [password] or [passwordEnvVar], not both".into(),
                    ))
                }
                (Some(p), None) => Some(json!(p)),
                (None, Some(var)) => Some(json!({"type": "environment", "variable": var})),
                (None, None) => None,
            };
            put("httpAuthenticationPassword", password);
        }
        "INLINE" => {
            let data = match args.get("data") {
                Some(ArgValue::List(lines)) => lines.join("\n"),
                Some(ArgValue::Text(s)) => s.clone(),
                Some(_) => {
                    return Err(MsqError::Validation(
                        "INLINE: parameter [data] must be a string or ARRAY['...']".into(),
                    ))
                }
                None => return Err(MsqError::Validation("INLINE requires the [data] parameter".into())),
            };
            put("type", Some(json!("inline")));
            put("data", Some(json!(data)));
        }
        _ => s3_source(args, &mut o)?,
    }
    Ok(Value::Object(o))
}

/// The `s3` input source: `uris`, `prefixes`, or `bucket` with `paths` (as `objects`), and
/// the credentials as `properties`.
fn s3_source(args: &NamedArgs, o: &mut Map<String, Value>) -> Result<()> {
    o.insert("type".into(), json!("s3"));
    if let Some(uris) = args.list("uris") {
        o.insert("uris".into(), json!(uris));
    }
    if let Some(prefixes) = args.list("prefixes") {
        o.insert("prefixes".into(), json!(prefixes));
    }
    match (args.text("S3", "bucket")?, args.list("paths")) {
        (Some(bucket), Some(paths)) => {
            let objects: Vec<Value> = paths.iter().map(|p| json!({"bucket": bucket, "path": p})).collect();
            o.insert("objects".into(), Value::Array(objects));
        }
        (None, None) => {}
        _ => return Err(MsqError::Validation("S3: [bucket] and [paths] go together".into())),
    }
    let mut props = Map::new();
    for key in ["accessKeyId", "secretAccessKey", "assumeRoleArn"] {
        if let Some(v) = args.text("S3", key)? {
            props.insert(key.to_string(), json!(v));
        }
    }
    if !props.is_empty() {
        o.insert("properties".into(), Value::Object(props));
    }
    Ok(())
}

/// The `inputFormat` JSON: `format` with its options; csv and tsv read the EXTEND columns.
fn input_format(func: &str, args: &NamedArgs, signature: &Signature) -> Result<Value> {
    let Some(format) = args.text(func, "format")? else {
        return Err(MsqError::Validation(format!(
            "{func} requires the [format] parameter (csv, tsv, json or parquet)"
        )));
    };
    let format = format.to_ascii_lowercase();
    let mut o = Map::new();
    o.insert("type".into(), json!(format));
    if format == "csv" || format == "tsv" {
        let columns: Vec<&str> = signature.0.iter().map(|c| c.name.as_str()).collect();
        o.insert("columns".into(), json!(columns));
        if let Some(d) = args.text(func, "listDelimiter")? {
            o.insert("listDelimiter".into(), json!(d));
        }
        if format == "tsv" {
            if let Some(d) = args.text(func, "delimiter")? {
                o.insert("delimiter".into(), json!(d));
            }
        }
        match args.get("skipHeaderRows") {
            None => {}
            Some(ArgValue::Number(n)) => {
                let n: i64 = n.parse().map_err(|_| {
                    MsqError::Validation(format!("{func}: [skipHeaderRows] must be an integer, got [{n}]"))
                })?;
                o.insert("skipHeaderRows".into(), json!(n));
            }
            Some(_) => {
                return Err(MsqError::Validation(format!(
                    "{func}: [skipHeaderRows] must be an integer"
                )))
            }
        }
    }
    Ok(Value::Object(o))
}

#[cfg(test)]
mod tests {
    use crate::statement::parse_statement;
    use serde_json::json;

    #[test]
    fn input_functions_make_externs() {
        let s = parse_statement(
            "SELECT * FROM TABLE(INLINE(data => ARRAY['a,1', 'b,2'], format => 'csv')) EXTEND (x VARCHAR, y BIGINT)",
        )
        .unwrap();
        assert_eq!(s.query_sql, "SELECT * FROM \"__extern_0\"");
        assert_eq!(s.externs[0].input_source, json!({"type": "inline", "data": "a,1\nb,2"}));
        assert_eq!(s.externs[0].input_format, json!({"type": "csv", "columns": ["x", "y"]}));
        let s = parse_statement(
            "SELECT * FROM TABLE(localfiles(files => '/tmp/foo.csv, /tmp/bar.csv', format => 'csv')) EXTEND (x VARCHAR)",
        )
        .unwrap();
        assert_eq!(
            s.externs[0].input_source,
            json!({"type": "local", "files": ["/tmp/foo.csv", "/tmp/bar.csv"]})
        );
        let s = parse_statement(
            "SELECT * FROM TABLE(http(userName => 'bob', passwordEnvVar => 'PW', uris => ARRAY['http://h/a.json'], format => 'json')) (x VARCHAR)",
        )
        .unwrap();
        assert_eq!(
            s.externs[0].input_source,
            json!({"type": "http", "uris": ["http://h/a.json"], "httpAuthenticationUsername": "bob",
                   "httpAuthenticationPassword": {"type": "environment", "variable": "PW"}})
        );
        let s = parse_statement(
            "SELECT * FROM TABLE(S3(bucket => 'b', paths => ARRAY['k/1.json'], format => 'json')) EXTEND (x VARCHAR)",
        )
        .unwrap();
        assert_eq!(
            s.externs[0].input_source,
            json!({"type": "s3", "objects": [{"bucket": "b", "path": "k/1.json"}]})
        );
    }

    #[test]
    fn append_and_mistakes() {
        let s = parse_statement("SELECT * FROM TABLE(APPEND('a', 'b')) AS t").unwrap();
        assert_eq!(s.query_sql, "SELECT * FROM \"__append_0\" AS t");
        assert_eq!(s.appends[0].tables, vec!["a", "b"]);
        for bad in [
            "SELECT * FROM TABLE(APPEND())",
            "SELECT * FROM TABLE(APPEND(a))",
            "SELECT * FROM TABLE(NOPE('x'))",
            "SELECT * FROM TABLE(INLINE(data => ARRAY['a'], format => 'csv'))",
            "SELECT * FROM TABLE(INLINE(data => ARRAY['a'])) EXTEND (x VARCHAR)",
            "SELECT * FROM TABLE(INLINE(data => ARRAY['a'], format => 'csv', bogus => 1)) EXTEND (x VARCHAR)",
            "SELECT * FROM TABLE(INLINE('a', 'csv')) EXTEND (x VARCHAR)",
            "SELECT * FROM TABLE(wikipedia)",
            "SELECT * FROM TABLE(1 + 1)",
        ] {
            let e = parse_statement(bad).unwrap_err();
            assert!(e.to_string().len() < 200, "{bad}: {e}");
        }
    }
}
