//! The fast path of the JSON reader: [`FlatDecoder`] decodes chunks of one flat object per
//! line in one pass, exactly as arrow-json would, or declines them.

use super::scan::{hex4, is_blank, next_special, number_end, parse_i64, same_bytes, skip_blank, string_end};
use arrow::array::builder::NullBufferBuilder;
use arrow::array::{ArrayRef, Float32Array, Float64Array, Int64Array, StringBuilder};
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use std::sync::Arc;

/// Chunks the fast path may decline before a reader stops trying it.
pub(super) const MAX_FLAT_DECLINES: u32 = 4;

/// How [`FlatDecoder`] builds one column.
pub(super) enum FlatColumn {
    Utf8(StringBuilder),
    Int64(Vec<i64>, NullBufferBuilder),
    Float64(Vec<f64>, NullBufferBuilder),
    Float32(Vec<f32>, NullBufferBuilder),
}

impl FlatColumn {
    /// A builder for `rows` values; strings reserve `text_bytes` of text.
    pub(super) fn new(data_type: &DataType, rows: usize, text_bytes: usize) -> Option<Self> {
        Some(match data_type {
            DataType::Utf8 => FlatColumn::Utf8(StringBuilder::with_capacity(rows, text_bytes)),
            DataType::Int64 => FlatColumn::Int64(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            DataType::Float64 => FlatColumn::Float64(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            DataType::Float32 => FlatColumn::Float32(Vec::with_capacity(rows), NullBufferBuilder::new(rows)),
            _ => return None,
        })
    }

    pub(super) fn append_null(&mut self) {
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
    pub(super) fn text_bytes(&self) -> usize {
        match self {
            FlatColumn::Utf8(b) => b.values_slice().len(),
            _ => 0,
        }
    }

    pub(super) fn finish(self) -> ArrayRef {
        match self {
            FlatColumn::Utf8(mut b) => Arc::new(b.finish()),
            FlatColumn::Int64(v, mut n) => Arc::new(Int64Array::new(v.into(), n.finish())),
            FlatColumn::Float64(v, mut n) => Arc::new(Float64Array::new(v.into(), n.finish())),
            FlatColumn::Float32(v, mut n) => Arc::new(Float32Array::new(v.into(), n.finish())),
        }
    }
}

/// A JSON value as the fast path reads it (strings borrow the chunk, or the unescape buffer).
pub(super) enum FlatValue {
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
pub(super) struct FlatDecoder {
    /// Name of each schema column.
    pub(super) names: Vec<Box<[u8]>>,
    pub(super) types: Vec<DataType>,
    /// Key order learnt from earlier rows: the key at position `k` of a row, and the column
    /// it names (`u32::MAX`: none). Rows usually repeat their keys in the same order.
    pub(super) order: Vec<(Box<[u8]>, u32)>,
    /// Unescaped string values.
    pub(super) scratch: Vec<u8>,
    /// Chunks declined in a row.
    pub(super) declined: u32,
    /// Text bytes per row of each column in the last chunk taken, to size the next chunk's
    /// builders: batches go into memory-budgeted buffers as they are, so capacity beyond
    /// what they hold would be memory the budget does not see.
    pub(super) text_per_row: Vec<f64>,
}

pub(super) const NO_COLUMN: u32 = u32::MAX;

impl FlatDecoder {
    /// A decoder for `schema`, if the fast path supports it.
    pub(super) fn new(schema: &SchemaRef) -> Option<Self> {
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
    pub(super) fn decode(&mut self, chunk: &[u8], lines: usize, schema: &SchemaRef) -> Option<RecordBatch> {
        let out = self.try_decode(chunk, lines, schema);
        if out.is_some() {
            self.declined = 0;
        } else {
            self.declined += 1;
        }
        out
    }

    pub(super) fn try_decode(&mut self, chunk: &[u8], lines: usize, schema: &SchemaRef) -> Option<RecordBatch> {
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
    pub(super) fn column_of(&mut self, k: usize, key: &[u8]) -> u32 {
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
    pub(super) fn value(&mut self, chunk: &[u8], pos: &mut usize) -> Option<FlatValue> {
        let start = *pos;
        match *chunk.get(start)? {
            b'"' => self.string(chunk, pos),
            b'n' => literal(chunk, pos, b"null", FlatValue::Null),
            b't' => literal(chunk, pos, b"true", FlatValue::Bool(true)),
            b'f' => literal(chunk, pos, b"false", FlatValue::Bool(false)),
            b'-' | b'0'..=b'9' => {
                let end = number_end(chunk, start)?;
                *pos = end;
                Some(FlatValue::Number(start, end))
            }
            _ => None, // objects, arrays, invalid JSON
        }
    }

    /// Reads the string starting at `pos` (its opening quote): borrowed from the chunk when
    /// it has no escapes, else decoded into the scratch buffer.
    #[inline]
    pub(super) fn string(&mut self, chunk: &[u8], pos: &mut usize) -> Option<FlatValue> {
        let body = *pos + 1;
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
        self.scratch.clear();
        self.scratch.extend_from_slice(&chunk[body..i]);
        self.unescape(chunk, i, pos)
    }

    /// Decodes the rest of a string from its first escape at `i` into the scratch buffer.
    pub(super) fn unescape(&mut self, chunk: &[u8], mut i: usize, pos: &mut usize) -> Option<FlatValue> {
        loop {
            match *chunk.get(i)? {
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
                            let ch = unicode_escape(chunk, &mut i)?;
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

    /// Appends `value` to `col` as arrow-json would; `None` when it is a case left to it.
    #[inline]
    pub(super) fn append(&self, col: &mut FlatColumn, chunk: &[u8], value: FlatValue) -> Option<()> {
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

/// The literal `text` (`null`, `true`, `false`) at `pos` as `value`, moving past it.
#[inline]
pub(super) fn literal(chunk: &[u8], pos: &mut usize, text: &[u8], value: FlatValue) -> Option<FlatValue> {
    if chunk.get(*pos..*pos + text.len())? == text {
        *pos += text.len();
        Some(value)
    } else {
        None
    }
}

/// The character of the `\uXXXX` escape whose hex digits start at `i` (a surrogate pair
/// takes a second escape), moving `i` past it; `None` for invalid or lone surrogates.
pub(super) fn unicode_escape(chunk: &[u8], i: &mut usize) -> Option<char> {
    let hi = hex4(chunk.get(*i..*i + 4)?)?;
    *i += 4;
    let code = if (0xD800..0xDC00).contains(&hi) {
        if chunk.get(*i..*i + 2)? != b"\\u" {
            return None;
        }
        let lo = hex4(chunk.get(*i + 2..*i + 6)?)?;
        if !(0xDC00..0xE000).contains(&lo) {
            return None;
        }
        *i += 6;
        0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
    } else {
        hi
    };
    char::from_u32(code) // lone low surrogates fail here
}
