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
//! * Fields not in the schema are ignored; missing fields are null.
//! * A line that is not valid JSON, is not a JSON object, or holds more or less than one value
//!   is a parse error (reported and skipped). Blank lines are skipped; a leading UTF-8 BOM is
//!   ignored.

use super::reader::{ByteCounter, ParseWarning, ReadStats, SplitBytes, SplitReader};
use msq_engine::input::source::InputSplit;
use msq_engine::error::{MsqError, Result};
use arrow::array::builder::NullBufferBuilder;
use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::json::reader::{Decoder, ReaderBuilder};
use arrow::record_batch::RecordBatch;
use std::io::BufRead;
use std::sync::Arc;

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
        let flat = FlatDecoder::new(&schema);
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
            chunk: Vec::new(),
            lines: Vec::with_capacity(batch_size.min(1 << 16)),
            good: Vec::new(),
            line_number: 0,
            rows: 0,
            eof: false,
            finished: false,
        })
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
            self.rows += batch.num_rows() as u64;
            return Ok(Some(batch));
        }
        self.decoder = build_decoder(&self.schema, self.batch_size)?;
        self.good.clear();
        for i in 0..self.lines.len() {
            let span = self.lines[i];
            let line = std::mem::take(&mut self.chunk);
            let ok = self.probe_line(&line[span.start..span.end]);
            self.chunk = line;
            if ok? {
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
        self.rows += batch.num_rows() as u64;
        Ok(Some(batch))
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

/// Chunks the fast path may decline before a reader stops trying it.
const MAX_FLAT_DECLINES: u32 = 4;

/// How [`FlatDecoder`] builds one column.
enum FlatColumn {
    Utf8(StringBuilder),
    Int64(Vec<i64>, NullBufferBuilder),
    Float64(Vec<f64>, NullBufferBuilder),
    Float32(Vec<f32>, NullBufferBuilder),
}

impl FlatColumn {
    /// A builder for `rows` values; strings reserve `text_bytes` of text.
    fn new(data_type: &DataType, rows: usize, text_bytes: usize) -> Option<Self> {
        Some(match data_type {
            DataType::Utf8 => FlatColumn::Utf8(StringBuilder::with_capacity(rows, text_bytes)),
            DataType::Int64 => FlatColumn::Int64(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            DataType::Float64 => FlatColumn::Float64(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            DataType::Float32 => FlatColumn::Float32(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            _ => return None,
        })
    }

    fn append_null(&mut self) {
        match self {
            FlatColumn::Utf8(b) => b.append_null(),
            FlatColumn::Int64(v, n) => {
                v.push(0);
                n.append_null();
            }
            FlatColumn::Float64(v, n) => {
                v.push(0.0);
                n.append_null();
            }
            FlatColumn::Float32(v, n) => {
                v.push(0.0);
                n.append_null();
            }
        }
    }

    /// Bytes of string text appended so far (0 for numeric columns).
    fn text_bytes(&self) -> usize {
        match self {
            FlatColumn::Utf8(b) => b.values_slice().len(),
            _ => 0,
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            FlatColumn::Utf8(mut b) => Arc::new(b.finish()),
            FlatColumn::Int64(v, mut n) => Arc::new(Int64Array::new(v.into(), n.finish())),
            FlatColumn::Float64(v, mut n) => Arc::new(Float64Array::new(v.into(), n.finish())),
            FlatColumn::Float32(v, mut n) => Arc::new(Float32Array::new(v.into(), n.finish())),
        }
    }
}

/// A JSON value as the fast path reads it (strings borrow the chunk, or the unescape buffer).
enum FlatValue {
    Null,
    Bool(bool),
    /// The number's text as written, `start..end` in the chunk.
    Number(usize, usize),
    /// A string without escapes, `start..end` in the chunk.
    Str(usize, usize),
    /// A string with escapes, decoded into the scratch buffer.
    Escaped,
}

/// Decodes chunks of newline-delimited JSON made of one flat object per line, exactly as
/// arrow-json (with `coerce_primitive` and `ignore_type_conflicts`) decodes them, in one pass
/// and without arrow-json's intermediate tape. It takes a chunk only when every line is an
/// object whose values are strings, numbers, booleans or nulls and where nothing needs
/// arrow-json's judgement; anything else (a nested value, an escaped or repeated key, a
/// number or string a numeric column would convert, a string in a numeric column, invalid
/// JSON, two values on a line, an object over several lines, invalid UTF-8, a lone surrogate,
/// a control character in a string) declines the whole chunk, which then takes the general
/// path. Only STRING, LONG, FLOAT and DOUBLE columns are supported.
struct FlatDecoder {
    /// Name of each schema column.
    names: Vec<Box<[u8]>>,
    types: Vec<DataType>,
    /// Key order learnt from earlier rows: the key at position `k` of a row, and the column
    /// it names (`u32::MAX`: none). Rows usually repeat their keys in the same order.
    order: Vec<(Box<[u8]>, u32)>,
    /// Unescaped string values.
    scratch: Vec<u8>,
    /// Chunks declined in a row.
    declined: u32,
    /// Text bytes per row of each column in the last chunk taken, to size the next chunk's
    /// builders: batches go into memory-budgeted buffers as they are, so capacity beyond
    /// what they hold would be memory the budget does not see.
    text_per_row: Vec<f64>,
}

const NO_COLUMN: u32 = u32::MAX;

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t' || b == b'\r'
}

impl FlatDecoder {
    /// A decoder for `schema`, if the fast path supports it.
    fn new(schema: &SchemaRef) -> Option<Self> {
        let fields = schema.fields();
        if fields.is_empty() || fields.len() > 64 {
            return None;
        }
        let mut names: Vec<Box<[u8]>> = Vec::with_capacity(fields.len());
        for f in fields {
            let supported = matches!(
                f.data_type(),
                DataType::Utf8 | DataType::Int64 | DataType::Float64 | DataType::Float32
            );
            if !supported || !f.is_nullable() || names.iter().any(|n| &**n == f.name().as_bytes()) {
                return None;
            }
            names.push(f.name().as_bytes().into());
        }
        Some(FlatDecoder {
            names,
            types: fields.iter().map(|f| f.data_type().clone()).collect(),
            order: Vec::new(),
            text_per_row: vec![16.0; fields.len()],
            scratch: Vec::new(),
            declined: 0,
        })
    }

    /// Decodes `chunk` (`lines` non-blank lines) into a batch of `schema`; `None` declines it.
    fn decode(&mut self, chunk: &[u8], lines: usize, schema: &SchemaRef) -> Option<RecordBatch> {
        let out = self.try_decode(chunk, lines, schema);
        if out.is_some() {
            self.declined = 0;
        } else {
            self.declined += 1;
        }
        out
    }

    fn try_decode(&mut self, chunk: &[u8], lines: usize, schema: &SchemaRef) -> Option<RecordBatch> {
        // UTF-8: everything outside strings must be one of the ASCII tokens below, and every
        // string (key or value) holding non-ASCII bytes is validated, so a chunk is taken only
        // when it is valid UTF-8 as a whole (arrow-json's condition).
        let mut cols: Vec<FlatColumn> = self
            .types
            .iter()
            .zip(&self.text_per_row)
            .map(|(t, per_row)| FlatColumn::new(t, lines, (lines as f64 * per_row * 1.125) as usize + 64))
            .collect::<Option<_>>()?;
        let n = chunk.len();
        let mut pos = 0usize;
        let mut rows = 0usize;
        loop {
            // Between rows: blank lines and whitespace.
            while pos < n && (is_blank(chunk[pos]) || chunk[pos] == b'\n') {
                pos += 1;
            }
            if pos == n {
                break;
            }
            if chunk[pos] != b'{' {
                return None;
            }
            pos += 1;
            let mut seen = 0u64;
            let mut k = 0usize;
            skip_blank(chunk, &mut pos);
            if chunk.get(pos) == Some(&b'}') {
                pos += 1;
            } else {
                loop {
                    // The key.
                    if chunk.get(pos) != Some(&b'"') {
                        return None;
                    }
                    let key_start = pos + 1;
                    let key_end = string_end(chunk, key_start)?; // escaped keys: arrow-json's
                    pos = key_end + 1;
                    skip_blank(chunk, &mut pos);
                    if chunk.get(pos) != Some(&b':') {
                        return None;
                    }
                    pos += 1;
                    skip_blank(chunk, &mut pos);
                    let column = self.column_of(k, &chunk[key_start..key_end]);
                    k += 1;
                    let value = self.value(chunk, &mut pos)?;
                    if column != NO_COLUMN {
                        let bit = 1u64 << column;
                        if seen & bit != 0 {
                            return None; // a repeated key: arrow-json keeps the last one
                        }
                        seen |= bit;
                        self.append(&mut cols[column as usize], chunk, value)?;
                    }
                    skip_blank(chunk, &mut pos);
                    match chunk.get(pos) {
                        Some(b',') => {
                            pos += 1;
                            skip_blank(chunk, &mut pos);
                        }
                        Some(b'}') => {
                            pos += 1;
                            break;
                        }
                        _ => return None,
                    }
                }
            }
            // Nothing but blanks after the object on its line.
            skip_blank(chunk, &mut pos);
            if pos < n && chunk[pos] != b'\n' {
                return None;
            }
            for (c, col) in cols.iter_mut().enumerate() {
                if seen & (1u64 << c) == 0 {
                    col.append_null();
                }
            }
            rows += 1;
        }
        if rows != lines || rows == 0 {
            return None;
        }
        for (per_row, col) in self.text_per_row.iter_mut().zip(&cols) {
            *per_row = col.text_bytes() as f64 / rows as f64;
        }
        let arrays: Vec<ArrayRef> = cols.into_iter().map(FlatColumn::finish).collect();
        RecordBatch::try_new(schema.clone(), arrays).ok()
    }

    /// The column named by the `k`-th key of a row.
    #[inline]
    fn column_of(&mut self, k: usize, key: &[u8]) -> u32 {
        if let Some((name, c)) = self.order.get(k) {
            if same_bytes(name, key) {
                return *c;
            }
        }
        let c = self
            .names
            .iter()
            .position(|n| same_bytes(n, key))
            .map_or(NO_COLUMN, |c| c as u32);
        let entry = (Box::<[u8]>::from(key), c);
        if k < self.order.len() {
            self.order[k] = entry;
        } else if k == self.order.len() {
            self.order.push(entry);
        }
        c
    }

    /// Reads the value at `pos` (which it moves past the value).
    #[inline]
    fn value(&mut self, chunk: &[u8], pos: &mut usize) -> Option<FlatValue> {
        let start = *pos;
        match *chunk.get(start)? {
            b'"' => {
                let body = start + 1;
                let mut i = body;
                let mut non_ascii = false;
                loop {
                    i = next_special(chunk, i);
                    let b = *chunk.get(i)?;
                    if b == b'"' {
                        if non_ascii {
                            std::str::from_utf8(&chunk[body..i]).ok()?;
                        }
                        *pos = i + 1;
                        return Some(FlatValue::Str(body, i));
                    }
                    if b == b'\\' {
                        break;
                    }
                    if b < 0x20 {
                        return None;
                    }
                    non_ascii = true;
                    i += 1;
                }
                // Escapes: decode into the scratch buffer.
                self.scratch.clear();
                self.scratch.extend_from_slice(&chunk[body..i]);
                loop {
                    let b = *chunk.get(i)?;
                    match b {
                        b'"' => {
                            std::str::from_utf8(&self.scratch).ok()?;
                            *pos = i + 1;
                            return Some(FlatValue::Escaped);
                        }
                        b'\\' => {
                            let e = *chunk.get(i + 1)?;
                            i += 2;
                            let c = match e {
                                b'"' => b'"',
                                b'\\' => b'\\',
                                b'/' => b'/',
                                b'b' => 0x08,
                                b'f' => 0x0C,
                                b'n' => b'\n',
                                b'r' => b'\r',
                                b't' => b'\t',
                                b'u' => {
                                    let hi = hex4(chunk.get(i..i + 4)?)?;
                                    i += 4;
                                    let code = if (0xD800..0xDC00).contains(&hi) {
                                        if chunk.get(i..i + 2)? != b"\\u" {
                                            return None;
                                        }
                                        let lo = hex4(chunk.get(i + 2..i + 6)?)?;
                                        if !(0xDC00..0xE000).contains(&lo) {
                                            return None;
                                        }
                                        i += 6;
                                        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
                                    } else {
                                        hi
                                    };
                                    let ch = char::from_u32(code)?; // lone low surrogates fail here
                                    let mut buf = [0u8; 4];
                                    self.scratch.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                                    continue;
                                }
                                _ => return None,
                            };
                            self.scratch.push(c);
                        }
                        b if b < 0x20 => return None,
                        b => {
                            self.scratch.push(b);
                            i += 1;
                        }
                    }
                }
            }
            b'n' => {
                if chunk.get(start..start + 4)? == b"null" {
                    *pos = start + 4;
                    Some(FlatValue::Null)
                } else {
                    None
                }
            }
            b't' => {
                if chunk.get(start..start + 4)? == b"true" {
                    *pos = start + 4;
                    Some(FlatValue::Bool(true))
                } else {
                    None
                }
            }
            b'f' => {
                if chunk.get(start..start + 5)? == b"false" {
                    *pos = start + 5;
                    Some(FlatValue::Bool(false))
                } else {
                    None
                }
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(chunk, start)?;
                *pos = end;
                Some(FlatValue::Number(start, end))
            }
            _ => None, // objects, arrays, invalid JSON
        }
    }

    /// Appends `value` to `col` as arrow-json would; `None` when it is a case left to it.
    #[inline]
    fn append(&self, col: &mut FlatColumn, chunk: &[u8], value: FlatValue) -> Option<()> {
        // SAFETY (all from_utf8_unchecked below): the chunk is valid UTF-8 and every slice
        // starts and ends at an ASCII delimiter; the scratch buffer holds decoded chars.
        match (col, value) {
            (col, FlatValue::Null) => col.append_null(),
            (FlatColumn::Utf8(b), FlatValue::Str(s, e)) | (FlatColumn::Utf8(b), FlatValue::Number(s, e)) => {
                b.append_value(unsafe { std::str::from_utf8_unchecked(&chunk[s..e]) })
            }
            (FlatColumn::Utf8(b), FlatValue::Escaped) => {
                b.append_value(unsafe { std::str::from_utf8_unchecked(&self.scratch) })
            }
            (FlatColumn::Utf8(b), FlatValue::Bool(v)) => b.append_value(if v { "true" } else { "false" }),
            (FlatColumn::Int64(v, nulls), FlatValue::Number(s, e)) => {
                v.push(parse_i64(&chunk[s..e])?);
                nulls.append_non_null();
            }
            (FlatColumn::Float64(v, nulls), FlatValue::Number(s, e)) => {
                let x: f64 = unsafe { std::str::from_utf8_unchecked(&chunk[s..e]) }.parse().ok()?;
                if !x.is_finite() {
                    return None;
                }
                v.push(x);
                nulls.append_non_null();
            }
            (FlatColumn::Float32(v, nulls), FlatValue::Number(s, e)) => {
                let x: f32 = unsafe { std::str::from_utf8_unchecked(&chunk[s..e]) }.parse().ok()?;
                if !x.is_finite() {
                    return None;
                }
                v.push(x);
                nulls.append_non_null();
            }
            // Strings and booleans in numeric columns: arrow-json's call.
            _ => return None,
        }
        Some(())
    }
}

/// From `i`, the index of the first byte that is `"`, a backslash, a control character or non-ASCII
/// (`chunk.len()` if none), eight bytes at a time.
#[inline]
fn next_special(chunk: &[u8], mut i: usize) -> usize {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    while i + 8 <= chunk.len() {
        let x = u64::from_le_bytes(chunk[i..i + 8].try_into().expect("8 bytes"));
        let q = x ^ (LO * u64::from(b'"'));
        let e = x ^ (LO * u64::from(b'\\'));
        // Zero bytes of q/e, bytes below 0x20 and bytes with the high bit set; the lowest
        // flagged byte is always a real one (borrows only travel upwards from a real one).
        let m = ((q.wrapping_sub(LO) & !q) | (e.wrapping_sub(LO) & !e) | (x.wrapping_sub(LO * 0x20) & !x) | x) & HI;
        if m != 0 {
            return i + (m.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < chunk.len() {
        let b = chunk[i];
        if b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b) {
            return i;
        }
        i += 1;
    }
    i
}

/// The closing quote of the string whose text starts at `start`, when the string has no
/// escape and no control character (its UTF-8 checked when it is not ASCII).
#[inline]
fn string_end(chunk: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    let mut non_ascii = false;
    loop {
        i = next_special(chunk, i);
        match *chunk.get(i)? {
            b'"' => {
                if non_ascii {
                    std::str::from_utf8(&chunk[start..i]).ok()?;
                }
                return Some(i);
            }
            b if b >= 0x80 => {
                non_ascii = true;
                i += 1;
            }
            _ => return None,
        }
    }
}

/// Byte equality of short strings, inline (keys are compared once per value).
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 8 <= a.len() {
        let x = u64::from_ne_bytes(a[i..i + 8].try_into().expect("8 bytes"));
        let y = u64::from_ne_bytes(b[i..i + 8].try_into().expect("8 bytes"));
        if x != y {
            return false;
        }
        i += 8;
    }
    // A byte loop: slice equality would call memcmp for a few bytes.
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

#[inline]
fn skip_blank(chunk: &[u8], pos: &mut usize) {
    while *pos < chunk.len() && is_blank(chunk[*pos]) {
        *pos += 1;
    }
}

/// Four hex digits.
fn hex4(h: &[u8]) -> Option<u32> {
    h.iter()
        .try_fold(0u32, |acc, &b| Some(acc * 16 + (b as char).to_digit(16)?))
}

/// End of the JSON number starting at `start` (`-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`),
/// which must be followed by a delimiter.
fn number_end(chunk: &[u8], start: usize) -> Option<usize> {
    let digits = |i: usize| chunk[i..].iter().take_while(|b| b.is_ascii_digit()).count();
    let mut i = start;
    if chunk[i] == b'-' {
        i += 1;
    }
    let d = digits(i);
    if d == 0 || (d > 1 && chunk[i] == b'0') {
        return None;
    }
    i += d;
    if chunk.get(i) == Some(&b'.') {
        let f = digits(i + 1);
        if f == 0 {
            return None;
        }
        i += 1 + f;
    }
    if matches!(chunk.get(i), Some(b'e') | Some(b'E')) {
        i += 1;
        if matches!(chunk.get(i), Some(b'+') | Some(b'-')) {
            i += 1;
        }
        let x = digits(i);
        if x == 0 {
            return None;
        }
        i += x;
    }
    match chunk.get(i) {
        None | Some(b',' | b'}' | b' ' | b'\t' | b'\r' | b'\n') => Some(i),
        _ => None,
    }
}

/// An integer literal of at most 18 digits (exact in i64); `None` for anything else
/// (fractions and exponents, which arrow-json truncates or rounds, are left to it).
fn parse_i64(s: &[u8]) -> Option<i64> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 18 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = digits.iter().fold(0i64, |acc, &b| acc * 10 + i64::from(b - b'0'));
    Some(if neg { -v } else { v })
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
mod flat_tests {
    use super::*;
    use arrow::datatypes::{Field, Schema};

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            Field::new("l", DataType::Int64, true),
            Field::new("d", DataType::Float64, true),
            Field::new("f", DataType::Float32, true),
            Field::new("t", DataType::Utf8, true),
        ]))
    }

    /// What arrow-json makes of `text` (one batch), or `None` if it fails or the row count
    /// does not match the lines.
    fn arrow_json(text: &str, lines: usize) -> Option<RecordBatch> {
        let mut d = build_decoder(&schema(), 1024).unwrap();
        let consumed = d.decode(text.as_bytes()).ok()?;
        if consumed != text.len() || d.has_partial_record() || d.len() != lines {
            return None;
        }
        d.flush().ok().flatten()
    }

    fn lines_of(text: &str) -> usize {
        text.split('\n')
            .filter(|l| !l.bytes().all(|b| b.is_ascii_whitespace()))
            .count()
    }

    fn flat(text: &str) -> Option<RecordBatch> {
        let mut f = FlatDecoder::new(&schema()).unwrap();
        f.decode(text.as_bytes(), lines_of(text), &schema())
    }

    #[test]
    fn takes_flat_objects_exactly_as_arrow_json_decodes_them() {
        let cases = [
            r#"{"s":"a","l":1,"d":1.5,"f":2.25,"t":"x"}"#,
            "{\"s\":\"a\"}\n\n  \n{\"l\":-42}\r\n{}\n",
            r#"{"s":12.50,"t":true,"l":0,"d":-0.0,"f":1e3}"#,
            r#"{"s":false,"t":null,"l":null,"d":null,"f":null}"#,
            r#"  { "s" : "sp aces" , "extra" : {"ignored": "no"} }"#,
            r#"{"extra":[1,2],"s":"x"}"#,
            r#"{"s":"esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00 end","l":-9223372036854775}"#,
            r#"{"s":"ünïcödé ✓","t":"日本","other":"x"}"#,
            r#"{"d":123456789012345678901234567890,"f":-1.5E-3,"s":1e-7}"#,
            r#"{"unknown":1,"s":"a","unknown2":"b","l":7}"#,
            r#"{"s":"\u0000"}"#,
        ];
        for text in cases {
            let lines = lines_of(text);
            let want = arrow_json(text, lines);
            let got = flat(text);
            if text.contains("ignored") || text.contains("[1,2]") {
                assert!(got.is_none(), "nested values are arrow-json's: {text}");
                assert!(want.is_some());
                continue;
            }
            assert!(want.is_some(), "arrow-json takes {text}");
            assert_eq!(got, want, "{text}");
        }
    }

    #[test]
    fn leaves_the_unusual_to_arrow_json() {
        for text in [
            r#"{"l":1.5}"#,                  // truncated by arrow-json
            r#"{"l":"12"}"#,                 // a string in a LONG column
            r#"{"l":true}"#,                 // a boolean in a LONG column
            r#"{"l":12345678901234567890}"#, // out of range
            r#"{"s":"a","s":"b"}"#,          // a repeated key
            r#"{"s\u0041":"a"}"#,            // an escaped key
            r#"{"s":"a"} {"s":"b"}"#,        // two values on a line
            "{\"s\":\n\"a\"}",               // an object over two lines
            r#"{"s":"a""#,                   // unterminated
            r#"{"s":01}"#,                   // not JSON
            r#"{"s":"\ud800"}"#,             // a lone surrogate
            r#"{"s":"\udc00x"}"#,
            "{\"s\":\"tab\there\"}", // a control character
            r#"["s","a"]"#,
            r#"{"d":1e999}"#,
            "{\"s\":\"a\"}\n\u{c}\n", // form feed line
        ] {
            assert!(flat(text).is_none(), "{text}");
        }
        let mut f = FlatDecoder::new(&schema()).unwrap();
        assert!(f
            .decode(&[b'{', b'"', b's', b'"', b':', b'"', 0xFF, b'"', b'}'], 1, &schema())
            .is_none());
        assert_eq!(f.declined, 1);
        assert!(f.decode(br#"{"s":"ok"}"#, 1, &schema()).is_some());
        assert_eq!(f.declined, 0);
    }

    #[test]
    fn only_flat_types_and_nullable_columns() {
        let list = Arc::new(Schema::new(vec![Field::new(
            "a",
            DataType::List(Arc::new(Field::new("item", DataType::Utf8, true))),
            true,
        )]));
        assert!(FlatDecoder::new(&list).is_none());
        let required = Arc::new(Schema::new(vec![Field::new("a", DataType::Utf8, false)]));
        assert!(FlatDecoder::new(&required).is_none());
        assert!(FlatDecoder::new(&schema()).is_some());
    }

    #[test]
    fn finds_special_bytes_like_a_byte_loop() {
        let mut text: Vec<u8> = b"plain text, then \"quoted\\ and \x01 and \xc3\xa9 \x7f~ end".to_vec();
        text.extend(std::iter::repeat_n(b'a', 40));
        for start in 0..text.len() {
            let want = (start..text.len())
                .find(|&i| matches!(text[i], b'"' | b'\\') || text[i] < 0x20 || text[i] >= 0x80)
                .unwrap_or(text.len());
            assert_eq!(next_special(&text, start), want, "from {start}");
        }
        assert!(same_bytes(b"countryName", b"countryName"));
        assert!(!same_bytes(b"countryName", b"countryNamf"));
        assert!(!same_bytes(b"channel", b"channels"));
    }

    #[test]
    fn learns_key_order_and_follows_changes() {
        let text = "{\"s\":\"a\",\"l\":1}\n{\"l\":2,\"s\":\"b\"}\n{\"t\":\"c\",\"s\":\"d\",\"l\":3}\n";
        assert_eq!(flat(text), arrow_json(text, 3));
    }
}
