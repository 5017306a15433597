//! `csv` and `tsv` reading with Druid's row semantics (`DelimitedValueReader`).
//!
//! * Input is read one line at a time (as Druid does: a quoted field cannot span lines). The
//!   first `skipHeaderRows` lines are skipped, then with `findColumnsFromHeader` the next line
//!   names the columns; otherwise `columns` does.
//! * CSV follows RFC 4180 (Druid's `RFC4180Parser`): a field starting with `"` is quoted, `""`
//!   inside it is a quote. An empty unquoted field is null, a quoted empty field (`""`) is the
//!   empty string. A quoted field left open at the end of the line is a parse error: the row is
//!   reported as a [`ParseWarning`] and skipped.
//! * TSV (and any other `delimiter`) splits on the delimiter without quoting; empty fields are
//!   null.
//! * Columns map to the EXTERN signature by name: signature columns the data lacks are null.
//!   Like Druid's `Utils.zipMapPartial`, a row with fewer fields than columns has nulls for the
//!   rest and extra fields are ignored (neither is an error).
//! * Values: STRING columns take the text as-is (including any `listDelimiter`); ARRAY columns
//!   split it on `listDelimiter` (Druid's default Ctrl-A); LONG/FLOAT/DOUBLE columns parse it,
//!   and text that is not a number becomes null (a fractional number in a LONG column is
//!   truncated).
//! * Blank lines are skipped; a leading UTF-8 BOM is ignored; `\r\n` line ends are accepted.

use super::bytes::SplitBytes;
use super::split_reader::{ByteCounter, ParseWarning, ReadStats, SplitReader};
use arrow::array::{
    new_null_array, ArrayRef, Float32Builder, Float64Builder, Int64Builder, ListBuilder, StringBuilder,
};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::error::{MsqError, Result};
use msq_engine::input::format::{InputFormat, DEFAULT_LIST_DELIMITER};
use msq_engine::input::source::InputSplit;
use std::collections::HashMap;
use std::io::BufRead;
use std::sync::Arc;

/// Longest row text quoted in a parse error.
const MAX_ROW_IN_MESSAGE: usize = 1000;

/// How fields are separated.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Splitting {
    /// RFC 4180 comma-separated values.
    Csv,
    /// Split on a delimiter, no quoting.
    Delimiter(String),
}

/// The options a [`DelimitedSplitReader`] reads with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelimitedOptions {
    splitting: Splitting,
    columns: Vec<String>,
    list_delimiter: String,
    find_columns_from_header: bool,
    skip_header_rows: u64,
}

impl DelimitedOptions {
    /// The options of a `csv` or `tsv` format; `None` for other formats.
    pub fn from_format(format: &InputFormat) -> Option<Self> {
        match format {
            InputFormat::Csv(c) => Some(DelimitedOptions {
                splitting: Splitting::Csv,
                columns: c.columns.clone(),
                list_delimiter: c
                    .list_delimiter
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LIST_DELIMITER.into()),
                find_columns_from_header: c.find_columns_from_header,
                skip_header_rows: c.skip_header_rows,
            }),
            InputFormat::Tsv(t) => Some(DelimitedOptions {
                splitting: Splitting::Delimiter(t.delimiter.clone()),
                columns: t.columns.clone(),
                list_delimiter: t
                    .list_delimiter
                    .clone()
                    .unwrap_or_else(|| DEFAULT_LIST_DELIMITER.into()),
                find_columns_from_header: t.find_columns_from_header,
                skip_header_rows: t.skip_header_rows,
            }),
            _ => None,
        }
    }
}

/// Splits one CSV line into `out` (fields as byte ranges of `buf`, `None` for null). `Err` when
/// a quoted field is not closed.
fn split_csv(line: &str, buf: &mut String, out: &mut Vec<Option<(usize, usize)>>) -> std::result::Result<(), ()> {
    buf.clear();
    out.clear();
    let bytes = line.as_bytes();
    let mut i = 0;
    loop {
        let start = buf.len();
        if i < bytes.len() && bytes[i] == b'"' {
            // Quoted field.
            i += 1;
            let mut closed = false;
            while i < bytes.len() {
                let rest = &line[i..];
                let next_quote = rest.find('"').map(|p| i + p);
                match next_quote {
                    None => {
                        buf.push_str(rest);
                        i = bytes.len();
                    }
                    Some(q) => {
                        buf.push_str(&line[i..q]);
                        if bytes.get(q + 1) == Some(&b'"') {
                            buf.push('"');
                            i = q + 2;
                        } else {
                            i = q + 1;
                            closed = true;
                            break;
                        }
                    }
                }
            }
            if !closed {
                return Err(());
            }
            // Text between the closing quote and the separator is kept, leniently.
            let end = line[i..].find(',').map_or(bytes.len(), |p| i + p);
            buf.push_str(&line[i..end]);
            i = end;
            out.push(Some((start, buf.len())));
        } else {
            let end = line[i..].find(',').map_or(bytes.len(), |p| i + p);
            buf.push_str(&line[i..end]);
            out.push((end > i).then_some((start, buf.len())));
            i = end;
        }
        if i >= bytes.len() {
            return Ok(());
        }
        // Skip the separator; a trailing separator leaves one more (empty) field.
        i += 1;
        if i == bytes.len() {
            out.push(None);
            return Ok(());
        }
    }
}

/// Splits one line on `delimiter` (no quoting); empty fields are null.
fn split_delimited(line: &str, delimiter: &str, buf: &mut String, out: &mut Vec<Option<(usize, usize)>>) {
    buf.clear();
    out.clear();
    buf.push_str(line);
    let mut start = 0;
    for (pos, _) in line.match_indices(delimiter) {
        out.push((pos > start).then_some((start, pos)));
        start = pos + delimiter.len();
    }
    out.push((line.len() > start).then_some((start, line.len())));
}

/// Druid's conversion of text to a LONG: an integer, or a number truncated; else null.
fn parse_long(s: &str) -> Option<i64> {
    s.parse::<i64>()
        .ok()
        .or_else(|| s.parse::<f64>().ok().filter(|d| d.is_finite()).map(|d| d as i64))
}

/// One output column being built.
enum Column {
    Str(StringBuilder),
    Long(Int64Builder),
    Float(Float32Builder),
    Double(Float64Builder),
    StrList(ListBuilder<StringBuilder>),
    LongList(ListBuilder<Int64Builder>),
    FloatList(ListBuilder<Float32Builder>),
    DoubleList(ListBuilder<Float64Builder>),
    /// A type text cannot be read as: all null.
    Null(DataType, usize),
}

impl Column {
    fn new(dt: &DataType, capacity: usize) -> Self {
        match dt {
            DataType::Utf8 => Column::Str(StringBuilder::with_capacity(capacity, capacity * 16)),
            DataType::Int64 => Column::Long(Int64Builder::with_capacity(capacity)),
            DataType::Float32 => Column::Float(Float32Builder::with_capacity(capacity)),
            DataType::Float64 => Column::Double(Float64Builder::with_capacity(capacity)),
            DataType::List(f) => {
                let field = f.clone();
                match f.data_type() {
                    DataType::Utf8 => Column::StrList(ListBuilder::new(StringBuilder::new()).with_field(field)),
                    DataType::Int64 => Column::LongList(ListBuilder::new(Int64Builder::new()).with_field(field)),
                    DataType::Float32 => Column::FloatList(ListBuilder::new(Float32Builder::new()).with_field(field)),
                    DataType::Float64 => Column::DoubleList(ListBuilder::new(Float64Builder::new()).with_field(field)),
                    _ => Column::Null(dt.clone(), 0),
                }
            }
            _ => Column::Null(dt.clone(), 0),
        }
    }

    fn append(&mut self, value: Option<&str>, list_delimiter: &str) {
        match self {
            Column::Str(b) => b.append_option(value),
            Column::Long(b) => b.append_option(value.and_then(parse_long)),
            Column::Float(b) => b.append_option(value.and_then(|v| v.parse::<f32>().ok())),
            Column::Double(b) => b.append_option(value.and_then(|v| v.parse::<f64>().ok())),
            Column::StrList(b) => match value {
                None => b.append_null(),
                Some(v) => {
                    for part in v.split(list_delimiter) {
                        b.values().append_value(part);
                    }
                    b.append(true);
                }
            },
            Column::LongList(b) => match value {
                None => b.append_null(),
                Some(v) => {
                    for part in v.split(list_delimiter) {
                        b.values().append_option(parse_long(part));
                    }
                    b.append(true);
                }
            },
            Column::FloatList(b) => match value {
                None => b.append_null(),
                Some(v) => {
                    for part in v.split(list_delimiter) {
                        b.values().append_option(part.parse::<f32>().ok());
                    }
                    b.append(true);
                }
            },
            Column::DoubleList(b) => match value {
                None => b.append_null(),
                Some(v) => {
                    for part in v.split(list_delimiter) {
                        b.values().append_option(part.parse::<f64>().ok());
                    }
                    b.append(true);
                }
            },
            Column::Null(_, n) => *n += 1,
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Column::Str(b) => Arc::new(b.finish()),
            Column::Long(b) => Arc::new(b.finish()),
            Column::Float(b) => Arc::new(b.finish()),
            Column::Double(b) => Arc::new(b.finish()),
            Column::StrList(b) => Arc::new(b.finish()),
            Column::LongList(b) => Arc::new(b.finish()),
            Column::FloatList(b) => Arc::new(b.finish()),
            Column::DoubleList(b) => Arc::new(b.finish()),
            Column::Null(dt, n) => {
                let a = new_null_array(dt, *n);
                *n = 0;
                a
            }
        }
    }
}

/// Reads one split of CSV or TSV.
pub struct DelimitedSplitReader {
    input: Box<dyn BufRead + Send>,
    counter: ByteCounter,
    source: String,
    uri: Option<String>,
    schema: SchemaRef,
    batch_size: usize,
    options: DelimitedOptions,
    /// For each schema column, the index of the input field it takes (once columns are known).
    mapping: Option<Vec<Option<usize>>>,
    columns: Vec<Column>,
    line: Vec<u8>,
    field_buf: String,
    spans: Vec<Option<(usize, usize)>>,
    line_number: u64,
    skipped: u64,
    rows: u64,
    finished: bool,
}

impl DelimitedSplitReader {
    pub(crate) fn new(
        split: &InputSplit,
        input: SplitBytes,
        schema: SchemaRef,
        batch_size: usize,
        options: DelimitedOptions,
    ) -> Self {
        let mapping = (!options.find_columns_from_header).then(|| map_columns(&schema, &options.columns));
        let columns = schema
            .fields()
            .iter()
            .map(|f| Column::new(f.data_type(), batch_size.min(1 << 16)))
            .collect();
        DelimitedSplitReader {
            input: input.reader,
            counter: input.counter,
            source: split.describe(),
            uri: split.uri(),
            schema,
            batch_size,
            options,
            mapping,
            columns,
            line: Vec::new(),
            field_buf: String::new(),
            spans: Vec::new(),
            line_number: 0,
            skipped: 0,
            rows: 0,
            finished: false,
        }
    }

    /// Splits `text` into `field_buf`/`spans`; `false` on a quoting error.
    fn split(&mut self, text: &str) -> bool {
        match &self.options.splitting {
            Splitting::Csv => split_csv(text, &mut self.field_buf, &mut self.spans).is_ok(),
            Splitting::Delimiter(d) => {
                split_delimited(text, d, &mut self.field_buf, &mut self.spans);
                true
            }
        }
    }

    fn warning(&self, text: &str, record: u64) -> ParseWarning {
        let row = match text.char_indices().nth(MAX_ROW_IN_MESSAGE) {
            Some((i, _)) => &text[..i],
            None => text,
        };
        let message = match &self.uri {
            Some(uri) => format!(
                "Unable to parse row [{row}] (Path: {uri}, Record: {record}, Line: {})",
                self.line_number
            ),
            None => format!(
                "Unable to parse row [{row}] (Record: {record}, Line: {})",
                self.line_number
            ),
        };
        ParseWarning {
            source: self.source.clone(),
            line: self.line_number,
            message,
        }
    }

    /// Reads up to a batch of rows; `Ok(0)` only at the end of input.
    fn fill(&mut self, warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Result<usize> {
        let mut produced = 0;
        while produced < self.batch_size {
            self.line.clear();
            let n = self
                .input
                .read_until(b'\n', &mut self.line)
                .map_err(|e| MsqError::InputSource {
                    message: format!("Error reading [{}]: {e}", self.source),
                })?;
            if n == 0 {
                break;
            }
            self.line_number += 1;
            let mut bytes = self.line.as_slice();
            if self.line_number == 1 {
                bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
            }
            bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
            bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
            let text = String::from_utf8_lossy(bytes).into_owned();
            if self.skipped < self.options.skip_header_rows {
                self.skipped += 1;
                continue;
            }
            if text.is_empty() {
                continue;
            }
            if self.mapping.is_none() {
                if !self.split(&text) {
                    return Err(MsqError::CannotParseExternalData {
                        message: format!(
                            "Unable to parse header row [{text}] of [{}] (Line: {})",
                            self.source, self.line_number
                        ),
                    });
                }
                let names: Vec<String> = self
                    .spans
                    .iter()
                    .map(|s| s.map(|(a, b)| self.field_buf[a..b].to_string()).unwrap_or_default())
                    .collect();
                self.mapping = Some(map_columns(&self.schema, &names));
                continue;
            }
            if !self.split(&text) {
                warnings(self.warning(&text, self.rows + produced as u64 + 1))?;
                continue;
            }
            let mapping = self.mapping.as_ref().expect("columns known");
            for (col, idx) in self.columns.iter_mut().zip(mapping) {
                let value = idx
                    .and_then(|i| self.spans.get(i).copied().flatten())
                    .map(|(a, b)| &self.field_buf[a..b]);
                col.append(value, &self.options.list_delimiter);
            }
            produced += 1;
        }
        Ok(produced)
    }
}

/// For each schema column, the position of the same-named input column (the last, if repeated).
fn map_columns(schema: &SchemaRef, names: &[String]) -> Vec<Option<usize>> {
    let by_name: HashMap<&str, usize> = names.iter().enumerate().map(|(i, n)| (n.as_str(), i)).collect();
    schema
        .fields()
        .iter()
        .map(|f| by_name.get(f.name().as_str()).copied())
        .collect()
}

impl SplitReader for DelimitedSplitReader {
    fn next_batch(&mut self, warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Option<Result<RecordBatch>> {
        if self.finished {
            return None;
        }
        let n = match self.fill(warnings) {
            Ok(0) => {
                self.finished = true;
                return None;
            }
            Ok(n) => n,
            Err(e) => {
                self.finished = true;
                return Some(Err(e));
            }
        };
        self.rows += n as u64;
        let arrays: Vec<ArrayRef> = self.columns.iter_mut().map(Column::finish).collect();
        let batch = RecordBatch::try_new_with_options(
            self.schema.clone(),
            arrays,
            &arrow::record_batch::RecordBatchOptions::new().with_row_count(Some(n)),
        )
        .map_err(MsqError::from);
        if batch.is_err() {
            self.finished = true;
        }
        Some(batch)
    }

    fn stats(&self) -> ReadStats {
        ReadStats {
            rows: self.rows,
            bytes: self.counter.get(),
            files: 1,
        }
    }
}

#[cfg(test)]
mod split_tests {
    use super::*;

    fn csv(line: &str) -> Option<Vec<Option<String>>> {
        let (mut buf, mut spans) = (String::new(), Vec::new());
        split_csv(line, &mut buf, &mut spans).ok()?;
        Some(spans.iter().map(|s| s.map(|(a, b)| buf[a..b].to_string())).collect())
    }

    fn s(v: &str) -> Option<String> {
        Some(v.to_string())
    }

    #[test]
    fn csv_fields() {
        assert_eq!(csv("a,b,c").unwrap(), vec![s("a"), s("b"), s("c")]);
        assert_eq!(csv("a,,\"\"").unwrap(), vec![s("a"), None, s("")]);
        assert_eq!(csv("a,").unwrap(), vec![s("a"), None]);
        assert_eq!(csv(",").unwrap(), vec![None, None]);
        assert_eq!(csv("\"x, \"\"y\"\"\",z\"q").unwrap(), vec![s("x, \"y\""), s("z\"q")]);
        assert_eq!(csv("\"é\"").unwrap(), vec![s("é")]);
        assert!(csv("a,\"open").is_none());
        assert!(csv("\"a\"\"").is_none());
    }

    #[test]
    fn delimited_fields() {
        let (mut buf, mut spans) = (String::new(), Vec::new());
        split_delimited("a\t\tc\t", "\t", &mut buf, &mut spans);
        assert_eq!(spans, vec![Some((0, 1)), None, Some((3, 4)), None]);
        split_delimited("a||b", "||", &mut buf, &mut spans);
        assert_eq!(spans, vec![Some((0, 1)), Some((3, 4))]);
        assert_eq!(parse_long("12"), Some(12));
        assert_eq!(parse_long("12.9"), Some(12));
        assert_eq!(parse_long("x"), None);
    }
}
