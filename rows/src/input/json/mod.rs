//! Newline-delimited JSON reading with Druid's row semantics.
//!
//! Lines are gathered into a chunk of up to `batch_size` rows and decoded in one pass by
//! [`FlatDecoder`], a decoder for the common case (one flat object per line, the values plain
//! strings, numbers, booleans and nulls) that produces exactly what arrow-json would. A chunk it
//! does not take (anything unusual: nested values, escaped keys, numbers a LONG column would
//! truncate, invalid JSON, ...) is decoded in one call to arrow-json's decoder, and only when
//! that fails is the chunk decoded line by line to find the bad line(s), which are reported as
//! [`ParseWarning`]s and skipped.
//!
//! Value semantics (arrow-json with `coerce_primitive` and `ignore_type_conflicts`):
//! * STRING columns take JSON strings, and numbers/booleans as their text (`true`, `12.50` as
//!   written).
//! * LONG/FLOAT/DOUBLE columns take numbers (a fractional number in a LONG column is truncated)
//!   and strings holding a number of that type.
//! * A value that does not fit its column (`"abc"` in a LONG column, a boolean in a LONG column,
//!   an object or array in a STRING column, a scalar in an ARRAY column) becomes **null**; it does
//!   not fail the row.
//! * A STRING column the planner found JSON arrays in is a multi-value string
//!   ([`multi_value`]): arrays are its values, a single value is one value.
//! * Fields not in the schema are ignored; missing fields are null.
//! * A line that is not valid JSON, is not a JSON object, or holds more or less than one value
//!   is a parse error (reported and skipped). Blank lines are skipped; a leading UTF-8 BOM is
//!   ignored.

mod flat;
pub mod multi_value;
mod nested;
mod scan;

use super::bytes::SplitBytes;
use super::split_reader::{ByteCounter, ParseWarning, ReadStats, SplitReader};
use arrow::datatypes::SchemaRef;
use arrow::json::reader::{Decoder, ReaderBuilder};
use arrow::record_batch::RecordBatch;
use flat::{FlatDecoder, MAX_FLAT_DECLINES};
use msq_engine::error::{MsqError, Result};
use msq_engine::input::source::InputSplit;
pub(super) use nested::{json_text_column, TextAsJson};
use nested::{JsonColumns, NestedRow};
use std::io::BufRead;

/// Longest row text quoted in a parse error.
const MAX_ROW_IN_MESSAGE: usize = 1000;
/// A chunk stops growing past this many bytes even if it has fewer than `batch_size` lines.
const MAX_CHUNK_BYTES: usize = 64 * 1024 * 1024;
/// Rows the single-line probe decoder may hold (2, so a line with two values is caught).
const PROBE_BATCH: usize = 2;

/// Where one line sits in the chunk buffer.
#[derive(Debug, Clone, Copy)]
struct LineSpan {
    start: usize,
    end: usize,
    number: u64,
}

/// Reads one split of newline-delimited JSON.
pub struct JsonSplitReader {
    input: Box<dyn BufRead + Send>,
    counter: ByteCounter,
    /// File path or `inline`, for warnings.
    source: String,
    /// Druid's `Path:` (a `file:` URI) for messages; none for inline data.
    uri: Option<String>,
    schema: SchemaRef,
    batch_size: usize,
    decoder: Decoder,
    probe: Option<Decoder>,
    /// The fast path, while the schema allows it and chunks keep taking it.
    flat: Option<FlatDecoder>,
    /// The `COMPLEX<json>` columns, read apart from arrow-json.
    nested: Option<JsonColumns>,
    /// The multi-value string columns (see [`multi_value`]).
    multi_value: Vec<String>,
    chunk: Vec<u8>,
    lines: Vec<LineSpan>,
    good: Vec<usize>,
    /// Physical lines read so far.
    line_number: u64,
    /// Rows produced so far.
    rows: u64,
    eof: bool,
    finished: bool,
}

fn build_decoder(schema: &SchemaRef, batch_size: usize) -> Result<Decoder> {
    ReaderBuilder::new(schema.clone())
        .with_batch_size(batch_size)
        .with_coerce_primitive(true)
        .with_ignore_type_conflicts(true)
        .build_decoder()
        .map_err(|e| MsqError::Validation(format!("Cannot read JSON into the EXTERN signature: {e}")))
}

impl JsonSplitReader {
    pub(crate) fn new(split: &InputSplit, input: SplitBytes, schema: SchemaRef, batch_size: usize) -> Result<Self> {
        let decoder = build_decoder(&schema, batch_size)?;
        let nested = JsonColumns::new(&schema);
        let flat = if nested.is_some() {
            None
        } else {
            FlatDecoder::new(&schema)
        };
        let multi_value = schema
            .fields()
            .iter()
            .filter(|f| msq_engine::signature::is_multi_value(f.data_type()))
            .map(|f| f.name().clone())
            .collect();
        Ok(JsonSplitReader {
            input: input.reader,
            counter: input.counter,
            source: split.describe(),
            uri: split.uri(),
            schema,
            batch_size,
            decoder,
            probe: None,
            flat,
            nested,
            multi_value,
            chunk: Vec::new(),
            lines: Vec::with_capacity(batch_size.min(1 << 16)),
            good: Vec::new(),
            line_number: 0,
            rows: 0,
            eof: false,
            finished: false,
        })
    }

    /// Rewrites the chunk's lines so each multi-value column holds an array
    /// ([`multi_value::wrap_scalars`]); line numbers stay those of the input.
    fn wrap_multi_value(&mut self) {
        let mut chunk = Vec::with_capacity(self.chunk.len() + self.lines.len() * 4);
        for span in &mut self.lines {
            let start = chunk.len();
            let line = &self.chunk[span.start..span.end];
            match multi_value::wrap_scalars(line, &self.multi_value) {
                Some(wrapped) => chunk.extend_from_slice(&wrapped),
                None => chunk.extend_from_slice(line),
            }
            span.start = start;
            span.end = chunk.len();
        }
        self.chunk = chunk;
    }

    /// Fills `chunk`/`lines` with the next non-blank lines (up to `batch_size`).
    fn fill_chunk(&mut self) -> Result<()> {
        self.chunk.clear();
        self.lines.clear();
        while !self.eof && self.lines.len() < self.batch_size && self.chunk.len() < MAX_CHUNK_BYTES {
            let start = self.chunk.len();
            let n = self
                .input
                .read_until(b'\n', &mut self.chunk)
                .map_err(|e| MsqError::InputSource {
                    message: format!("Error reading [{}]: {e}", self.source),
                })?;
            if n == 0 {
                self.eof = true;
                break;
            }
            self.line_number += 1;
            if self.line_number == 1 && self.chunk[start..].starts_with(b"\xEF\xBB\xBF") {
                self.chunk.drain(start..start + 3);
            }
            if self.chunk[start..].iter().all(u8::is_ascii_whitespace) {
                self.chunk.truncate(start);
                continue;
            }
            self.lines.push(LineSpan {
                start,
                end: self.chunk.len(),
                number: self.line_number,
            });
        }
        Ok(())
    }

    /// Decodes the whole chunk at once; `None` if anything about it is off.
    fn decode_bulk(&mut self) -> Option<RecordBatch> {
        let expected = self.lines.len();
        let consumed = self.decoder.decode(&self.chunk).ok()?;
        if consumed != self.chunk.len() || self.decoder.has_partial_record() || self.decoder.len() != expected {
            return None;
        }
        self.decoder.flush().ok().flatten().filter(|b| b.num_rows() == expected)
    }

    /// Whether `line` decodes on its own to exactly one row.
    fn probe_line(&mut self, line: &[u8]) -> Result<bool> {
        let probe = match &mut self.probe {
            Some(p) => p,
            None => self.probe.insert(build_decoder(&self.schema, PROBE_BATCH)?),
        };
        let ok = match probe.decode(line) {
            Ok(n) if n == line.len() && !probe.has_partial_record() && probe.len() == 1 => {
                matches!(probe.flush(), Ok(Some(b)) if b.num_rows() == 1)
            }
            _ => false,
        };
        if !ok {
            // The decoder's state is unknown after a failure: start afresh.
            self.probe = None;
        }
        Ok(ok)
    }

    /// Decodes the chunk: in bulk, or line by line when the bulk decode fails. Returns `None`
    /// when no line of the chunk was good.
    fn decode_chunk(&mut self, warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Result<Option<RecordBatch>> {
        if !self.multi_value.is_empty() {
            self.wrap_multi_value();
        }
        if let Some(flat) = &mut self.flat {
            match flat.decode(&self.chunk, self.lines.len(), &self.schema) {
                Some(batch) => {
                    self.rows += batch.num_rows() as u64;
                    return Ok(Some(batch));
                }
                None if flat.declined >= MAX_FLAT_DECLINES => self.flat = None,
                None => {}
            }
        }
        if let Some(batch) = self.decode_bulk() {
            if let Some(batch) = self.with_nested(batch, None)? {
                self.rows += batch.num_rows() as u64;
                return Ok(Some(batch));
            }
        }
        self.decoder = build_decoder(&self.schema, self.batch_size)?;
        self.good.clear();
        let mut nested_rows: Vec<NestedRow> = Vec::new();
        for i in 0..self.lines.len() {
            let span = self.lines[i];
            let line = std::mem::take(&mut self.chunk);
            let ok = self.probe_line(&line[span.start..span.end]);
            let nested = match (&self.nested, &ok) {
                (Some(n), Ok(true)) => n.extract(&line[span.start..span.end]),
                _ => Some(Vec::new()),
            };
            self.chunk = line;
            if ok? && nested.is_some() {
                nested_rows.extend(nested.filter(|_| self.nested.is_some()));
                self.good.push(i);
            } else {
                // Druid's record number counts rows parsed before this one, plus one.
                let record = self.rows + self.good.len() as u64 + 1;
                warnings(self.warning(span, record))?;
            }
        }
        if self.good.is_empty() {
            return Ok(None);
        }
        for &i in &self.good {
            let span = self.lines[i];
            self.decoder
                .decode(&self.chunk[span.start..span.end])
                .map_err(|e| self.internal_error(span, e))?;
        }
        let last = self.lines[*self.good.last().expect("non-empty")];
        let batch = self
            .decoder
            .flush()
            .map_err(|e| self.internal_error(last, e))?
            .ok_or_else(|| self.internal_error(last, "no rows decoded"))?;
        let batch = self
            .with_nested(batch, Some(nested_rows))?
            .ok_or_else(|| self.internal_error(last, "JSON columns not decoded"))?;
        self.rows += batch.num_rows() as u64;
        Ok(Some(batch))
    }

    /// `batch` with its `COMPLEX<json>` columns filled from `rows` (one per batch row), or
    /// from every line of the chunk when `rows` is `None`; `None` if a line is not an object.
    fn with_nested(&self, batch: RecordBatch, rows: Option<Vec<NestedRow>>) -> Result<Option<RecordBatch>> {
        let Some(nested) = &self.nested else {
            return Ok(Some(batch));
        };
        let rows = match rows {
            Some(r) => r,
            None => match nested.extract_all(self.lines.iter().map(|s| &self.chunk[s.start..s.end])) {
                Some(r) => r,
                None => return Ok(None),
            },
        };
        nested.attach(batch, &rows).map(Some)
    }

    fn internal_error(&self, span: LineSpan, e: impl std::fmt::Display) -> MsqError {
        MsqError::CannotParseExternalData {
            message: format!(
                "Unable to parse rows of [{}] near line {}: {e}",
                self.source, span.number
            ),
        }
    }

    fn warning(&self, span: LineSpan, record: u64) -> ParseWarning {
        let raw = &self.chunk[span.start..span.end];
        let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        let text = String::from_utf8_lossy(raw);
        let row = truncate_chars(&text, MAX_ROW_IN_MESSAGE);
        let message = match &self.uri {
            Some(uri) => format!(
                "Unable to parse row [{row}] (Path: {uri}, Record: {record}, Line: {})",
                span.number
            ),
            None => format!("Unable to parse row [{row}] (Record: {record}, Line: {})", span.number),
        };
        ParseWarning {
            source: self.source.clone(),
            line: span.number,
            message,
        }
    }
}

/// The first `max` characters of `s`.
fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

impl SplitReader for JsonSplitReader {
    fn next_batch(&mut self, warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Option<Result<RecordBatch>> {
        while !self.finished {
            if let Err(e) = self.fill_chunk() {
                self.finished = true;
                return Some(Err(e));
            }
            if self.lines.is_empty() {
                if self.eof {
                    self.finished = true;
                }
                continue;
            }
            match self.decode_chunk(warnings) {
                Ok(Some(batch)) => return Some(Ok(batch)),
                Ok(None) => continue,
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e));
                }
            }
        }
        None
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
mod tests;
