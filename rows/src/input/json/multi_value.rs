//! JSON arrays in STRING columns, read as Druid reads them: as multi-value strings.
//!
//! Druid's STRING type holds one or several values per row, decided row by row at read time;
//! here a column's Arrow type is fixed when the statement is planned. So [`detect_multi_value`]
//! looks at the start of the input (the first split of a `local` or `inline` source, at most
//! [`SAMPLE_LINES`] lines / [`SAMPLE_BYTES`] bytes) and types a STRING column that holds a
//! JSON array there as a multi-value string; sources read over the network, other formats,
//! and columns without arrays in the sample keep their types (an array past the sample in a
//! STRING column is NULL, as any value that does not fit its column).
//!
//! The reader then gives such a column every row's values ([`wrap_scalars`]): an array as its
//! values (numbers and booleans as text), a single value as one value, and an empty array or
//! NULL as a NULL row (Druid does not tell them apart). A line holding such a column is
//! rewritten as JSON, so a number in another STRING column of that line reads as serde_json
//! prints it (`1.50` as `1.5`).

use crate::input::list::ListSplits;
use msq_engine::input::{InputFormat, InputSource};
use msq_engine::signature::{ColumnType, Signature};
use serde_json::Value;
use std::io::BufRead as _;

/// Lines of the input sampled at planning.
pub const SAMPLE_LINES: usize = 1000;
/// Bytes of the input sampled at planning.
pub const SAMPLE_BYTES: usize = 1 << 20;

/// `signature` with each STRING column that holds a JSON array in the sampled input typed
/// as a multi-value string (JSON input from `local` or `inline` sources only).
pub fn detect_multi_value(source: &InputSource, format: &InputFormat, signature: &Signature) -> Signature {
    let strings: Vec<&str> = signature
        .0
        .iter()
        .filter(|c| c.column_type == ColumnType::String)
        .map(|c| c.name.as_str())
        .collect();
    let sampled = matches!(format, InputFormat::Json(_))
        && matches!(source, InputSource::Local(_) | InputSource::Inline(_))
        && !strings.is_empty();
    if !sampled {
        return signature.clone();
    }
    let arrays = array_columns(source, &strings);
    let mut out = signature.clone();
    for c in &mut out.0 {
        if c.column_type == ColumnType::String && arrays.iter().any(|a| a == &c.name) {
            c.column_type = ColumnType::MultiValueString;
        }
    }
    out
}

/// The columns among `names` holding a JSON array in the first lines of the source's first
/// split (none when it cannot be read: reading it later reports the problem).
fn array_columns(source: &InputSource, names: &[&str]) -> Vec<String> {
    let Ok(splits) = source.splits() else {
        return vec![];
    };
    let Some(first) = splits.first() else {
        return vec![];
    };
    let Ok(bytes) = crate::input::bytes::open_bytes(first) else {
        return vec![];
    };
    let mut found: Vec<String> = Vec::new();
    // Bounded in bytes before lines are cut: a huge line is never read whole here.
    let sample = std::io::Read::take(bytes.reader, SAMPLE_BYTES as u64);
    for line in std::io::BufReader::new(sample).lines().take(SAMPLE_LINES) {
        let Ok(line) = line else {
            break;
        };
        if let Ok(Value::Object(row)) = serde_json::from_str::<Value>(&line) {
            for n in names {
                if matches!(row.get(*n), Some(Value::Array(_))) && !found.iter().any(|f| f == n) {
                    found.push(n.to_string());
                }
            }
        }
        if found.len() == names.len() {
            break;
        }
    }
    found
}

/// The line rewritten so each of the multi-value columns `names` holds an array (a single
/// value as a one-element array, an empty array as NULL); `None` when nothing changes or
/// the line is not a JSON object (it is then read, or reported, as it is).
pub(crate) fn wrap_scalars(line: &[u8], names: &[String]) -> Option<Vec<u8>> {
    let Ok(Value::Object(mut row)) = serde_json::from_slice::<Value>(line) else {
        return None;
    };
    let mut changed = false;
    for n in names {
        if let Some(v) = row.get_mut(n) {
            match v {
                Value::String(_) | Value::Number(_) | Value::Bool(_) => {
                    *v = Value::Array(vec![v.take()]);
                    changed = true;
                }
                Value::Array(a) if a.is_empty() => {
                    *v = Value::Null;
                    changed = true;
                }
                _ => {}
            }
        }
    }
    if !changed {
        return None;
    }
    let mut out = serde_json::to_vec(&Value::Object(row)).ok()?;
    out.push(b'\n');
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use msq_engine::input::InlineInputSource;

    fn sig(json: &str) -> Signature {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn string_columns_with_arrays_become_multi_value() {
        let source = InputSource::Inline(InlineInputSource {
            data: "{\"a\":\"x\",\"b\":\"y\",\"n\":1}\n{\"a\":[\"p\",\"q\"],\"b\":\"z\",\"n\":[1]}\n".into(),
        });
        let format: InputFormat = serde_json::from_str(r#"{"type":"json"}"#).unwrap();
        let s = sig(r#"[{"name":"a","type":"string"},{"name":"b","type":"string"},{"name":"n","type":"long"}]"#);
        let out = detect_multi_value(&source, &format, &s);
        assert_eq!(out.0[0].column_type, ColumnType::MultiValueString);
        assert_eq!(out.0[1].column_type, ColumnType::String);
        assert_eq!(out.0[2].column_type, ColumnType::Long);
        let csv: InputFormat = serde_json::from_str(r#"{"type":"csv","columns":["a","b","n"]}"#).unwrap();
        assert_eq!(detect_multi_value(&source, &csv, &s), s);
    }

    #[test]
    fn scalars_are_wrapped_and_empty_arrays_are_null() {
        let names = vec!["t".to_string()];
        let w = |l: &str| wrap_scalars(l.as_bytes(), &names).map(|b| String::from_utf8(b).unwrap());
        assert_eq!(w(r#"{"t":"x","o":1}"#).as_deref(), Some("{\"t\":[\"x\"],\"o\":1}\n"));
        assert_eq!(w(r#"{"t":5}"#).as_deref(), Some("{\"t\":[5]}\n"));
        assert_eq!(w(r#"{"t":[]}"#).as_deref(), Some("{\"t\":null}\n"));
        assert_eq!(w(r#"{"t":["a","b"]}"#), None);
        assert_eq!(w(r#"{"o":1}"#), None);
        assert_eq!(w("not json"), None);
        assert_eq!(w("[1,2]"), None);
    }
}
