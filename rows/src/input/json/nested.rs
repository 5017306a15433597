//! `COMPLEX<json>` columns of the JSON reader. Such a column holds the canonical JSON text of
//! the row's value at that key (an object, an array or a scalar; JSON null and a missing key
//! are NULL), read with serde_json apart from arrow-json (which only sees it as a string
//! column and is overruled). A line whose nesting is deeper than serde_json's limit (128) is
//! a parse error like any invalid line. [`json_text_column`] does the same for other formats'
//! columns (Parquet structs, lists and maps).

use crate::input::split_reader::{ParseWarning, ReadStats, SplitReader};
use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use msq_engine::error::{MsqError, Result};
use msq_engine::signature::is_json_field;
use serde_json::{Map, Value};
use std::sync::Arc;

/// The JSON columns of a schema: their positions and names.
pub(super) struct JsonColumns {
    columns: Vec<(usize, String)>,
}

/// The JSON column values of one line (one entry per JSON column).
pub(super) type NestedRow = Vec<Option<String>>;

impl JsonColumns {
    /// The JSON columns of `schema`; `None` when it has none.
    pub(super) fn new(schema: &SchemaRef) -> Option<Self> {
        let columns: Vec<(usize, String)> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(_, f)| is_json_field(f))
            .map(|(i, f)| (i, f.name().clone()))
            .collect();
        (!columns.is_empty()).then_some(JsonColumns { columns })
    }

    /// The JSON column values of `line`; `None` when the line is not one JSON object.
    pub(super) fn extract(&self, line: &[u8]) -> Option<NestedRow> {
        let mut map: Map<String, Value> = serde_json::from_slice(line).ok()?;
        Some(
            self.columns
                .iter()
                .map(|(_, name)| match map.remove(name) {
                    None | Some(Value::Null) => None,
                    Some(v) => serde_json::to_string(&v).ok(),
                })
                .collect(),
        )
    }

    /// The values of every line, or `None` if any line is not a JSON object.
    pub(super) fn extract_all<'a>(&self, lines: impl Iterator<Item = &'a [u8]>) -> Option<Vec<NestedRow>> {
        lines.map(|l| self.extract(l)).collect()
    }

    /// `batch` with its JSON columns replaced by `rows` (one per batch row).
    pub(super) fn attach(&self, batch: RecordBatch, rows: &[NestedRow]) -> Result<RecordBatch> {
        let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
        for (k, (i, _)) in self.columns.iter().enumerate() {
            let values: StringArray = rows.iter().map(|r| r[k].as_deref()).collect();
            columns[*i] = Arc::new(values);
        }
        RecordBatch::try_new(batch.schema(), columns)
            .map_err(|e| MsqError::Unknown(format!("Cannot attach JSON columns: {e}")))
    }
}

/// A `COMPLEX<json>` column (canonical JSON text) of any column: structs and maps become
/// objects, lists arrays, numbers and booleans themselves; strings are JSON strings unless
/// `source` is marked as JSON text, which is parsed (invalid text is NULL).
pub(crate) fn json_text_column(array: &ArrayRef, source: &Field) -> Result<ArrayRef> {
    let err = |e: &dyn std::fmt::Display| MsqError::CannotParseExternalData {
        message: format!("Cannot read column [{}] as COMPLEX<json>: {e}", source.name()),
    };
    if matches!(
        array.data_type(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
    ) {
        let text = arrow::compute::cast(array, &DataType::Utf8).map_err(|e| err(&e))?;
        let text = text.as_string::<i32>();
        let out: StringArray = if is_json_field(source) {
            text.iter()
                .map(|v| {
                    v.and_then(|t| serde_json::from_str::<Value>(t).ok())
                        .and_then(|v| canonical(&v))
                })
                .collect()
        } else {
            text.iter()
                .map(|v| v.and_then(|t| canonical(&Value::from(t))))
                .collect()
        };
        return Ok(Arc::new(out));
    }
    // Everything else through arrow-json's writer: one `{"v":...}` line per row.
    let schema = Arc::new(Schema::new(vec![Field::new("v", array.data_type().clone(), true)]));
    let batch = RecordBatch::try_new(schema, vec![array.clone()]).map_err(|e| err(&e))?;
    let mut buf = Vec::new();
    let mut w = arrow::json::LineDelimitedWriter::new(&mut buf);
    w.write(&batch).map_err(|e| err(&e))?;
    w.finish().map_err(|e| err(&e))?;
    drop(w);
    let mut out = Vec::with_capacity(array.len());
    for (i, line) in buf.split(|b| *b == b'\n').take(array.len()).enumerate() {
        if array.is_null(i) {
            out.push(None);
            continue;
        }
        let mut row: Map<String, Value> = serde_json::from_slice(line).map_err(|e| err(&e))?;
        out.push(row.remove("v").and_then(|v| canonical(&v)));
    }
    Ok(Arc::new(out.into_iter().collect::<StringArray>()))
}

/// A reader of a text format (CSV, TSV) whose `COMPLEX<json>` columns take each field as a
/// JSON string (`"{\"a\":1}"` stays a string), as Druid's text formats do; PARSE_JSON makes
/// JSON of it.
pub(crate) struct TextAsJson {
    inner: Box<dyn SplitReader>,
    columns: Vec<usize>,
}

impl TextAsJson {
    /// `inner`, wrapped when `schema` has JSON columns.
    pub(crate) fn wrap(inner: Box<dyn SplitReader>, schema: &SchemaRef) -> Box<dyn SplitReader> {
        let columns: Vec<usize> = (0..schema.fields().len())
            .filter(|&i| is_json_field(schema.field(i)))
            .collect();
        match columns.is_empty() {
            true => inner,
            false => Box::new(TextAsJson { inner, columns }),
        }
    }
}

impl SplitReader for TextAsJson {
    fn next_batch(&mut self, warnings: &mut dyn FnMut(ParseWarning) -> Result<()>) -> Option<Result<RecordBatch>> {
        let batch = match self.inner.next_batch(warnings)? {
            Ok(b) => b,
            Err(e) => return Some(Err(e)),
        };
        let mut columns = batch.columns().to_vec();
        let text = Field::new("text", DataType::Utf8, true);
        for &i in &self.columns {
            match json_text_column(&columns[i], &text) {
                Ok(c) => columns[i] = c,
                Err(e) => return Some(Err(e)),
            }
        }
        Some(RecordBatch::try_new(batch.schema(), columns).map_err(|e| MsqError::Unknown(e.to_string())))
    }

    fn stats(&self) -> ReadStats {
        self.inner.stats()
    }
}

/// The canonical text of a value; JSON null is NULL.
fn canonical(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| serde_json::to_string(v).ok()).flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::datatypes::{DataType, Field, Schema};
    use msq_engine::signature::json_field;

    #[test]
    fn extracts_canonical_text() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            json_field("n"),
        ]));
        let c = JsonColumns::new(&schema).unwrap();
        assert_eq!(
            c.extract(br#"{"s":"a","n":{"x":1, "y":{"z":"q"}}}"#),
            Some(vec![Some(r#"{"x":1,"y":{"z":"q"}}"#.into())])
        );
        assert_eq!(c.extract(br#"{"n":"text"}"#), Some(vec![Some(r#""text""#.into())]));
        assert_eq!(c.extract(br#"{"n":null}"#), Some(vec![None]));
        assert_eq!(c.extract(br#"{"s":1}"#), Some(vec![None]));
        assert_eq!(c.extract(br#"{"n":1.50}"#), Some(vec![Some("1.5".into())]));
        assert_eq!(c.extract(b"[1]"), None);
        let deep = format!("{{\"n\":{}{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(c.extract(deep.as_bytes()), None);
        assert!(JsonColumns::new(&Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]))).is_none());
    }

    #[test]
    fn nested_arrow_columns_become_json_text() {
        use arrow::array::{Int64Array, ListArray, StructArray};
        use arrow::datatypes::Int64Type;
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), None, Some(3)]));
        let names: ArrayRef = Arc::new(StringArray::from(vec![Some("a"), Some("b"), None]));
        let s: ArrayRef = Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("x", DataType::Int64, true)), ints),
            (Arc::new(Field::new("name", DataType::Utf8, true)), names),
        ]));
        let text = json_text_column(&s, &Field::new("s", s.data_type().clone(), true)).unwrap();
        let text = text.as_string::<i32>();
        assert_eq!(text.value(0), r#"{"x":1,"name":"a"}"#);
        assert_eq!(text.value(1), r#"{"name":"b"}"#);
        assert_eq!(text.value(2), r#"{"x":3}"#);
        let l: ArrayRef = Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(vec![
            Some(vec![Some(1), None]),
            None,
            Some(vec![]),
        ]));
        let text = json_text_column(&l, &Field::new("l", l.data_type().clone(), true)).unwrap();
        let text = text.as_string::<i32>();
        assert_eq!(
            (text.value(0), text.is_null(1), text.value(2)),
            ("[1,null]", true, "[]")
        );
        let strings: ArrayRef = Arc::new(StringArray::from(vec![Some(r#"{"a":1}"#), Some("x y")]));
        let plain = json_text_column(&strings, &Field::new("t", DataType::Utf8, true)).unwrap();
        assert_eq!(plain.as_string::<i32>().value(0), r#""{\"a\":1}""#);
        let parsed = json_text_column(&strings, &json_field("t")).unwrap();
        let parsed = parsed.as_string::<i32>();
        assert_eq!((parsed.value(0), parsed.is_null(1)), (r#"{"a":1}"#, true));
    }

    /// A Parquet file with a struct column, read with the column typed `COMPLEX<json>`.
    #[test]
    fn parquet_structs_read_as_json() {
        use crate::input::read_split;
        use arrow::array::{Int64Array, StructArray};
        use msq_engine::input::{InputFormat, InputSource};
        use msq_engine::signature::Signature;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.parquet");
        let x: ArrayRef = Arc::new(Int64Array::from(vec![Some(1), Some(2)]));
        let y: ArrayRef = Arc::new(StringArray::from(vec![Some("q"), None]));
        let s: ArrayRef = Arc::new(StructArray::from(vec![
            (Arc::new(Field::new("x", DataType::Int64, true)), x),
            (Arc::new(Field::new("y", DataType::Utf8, true)), y),
        ]));
        let t: ArrayRef = Arc::new(StringArray::from(vec!["a", "b"]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("t", DataType::Utf8, false),
            Field::new("n", s.data_type().clone(), true),
        ]));
        let batch = RecordBatch::try_new(schema.clone(), vec![t, s]).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), schema, None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        let format = InputFormat::from_json(r#"{"type":"parquet"}"#).unwrap();
        let source = format!(r#"{{"type":"local","files":["{}"]}}"#, path.display());
        let splits = crate::input::ListSplits::splits(&InputSource::from_json(&source).unwrap()).unwrap();
        let sig: Signature =
            serde_json::from_str(r#"[{"name":"t","type":"string"},{"name":"n","type":"COMPLEX<json>"}]"#).unwrap();
        let (batches, _) = read_split(&splits[0], &format, sig.to_arrow_schema(), 10, &mut |_| Ok(())).unwrap();
        let n = batches[0].column(1).as_string::<i32>();
        assert_eq!((n.value(0), n.value(1)), (r#"{"x":1,"y":"q"}"#, r#"{"x":2}"#));
        assert!(is_json_field(batches[0].schema().field(1)));
    }

    /// Bad lines among good ones: the JSON columns stay aligned with the rows kept.
    #[test]
    fn json_lines_with_bad_rows_keep_json_columns_aligned() {
        use crate::input::read_split;
        use msq_engine::input::{InputFormat, InputSource};
        use msq_engine::signature::Signature;
        let deep = format!("{}{}", "[".repeat(300), "]".repeat(300));
        let data = format!(
            "{{\"t\":1,\"n\":{{\"a\":[1,{{\"b\":null}}]}}}}\nnot json\n{{\"t\":2,\"n\":{deep}}}\n{{\"t\":3,\"n\":\"s\"}}\n{{\"t\":4}}\n"
        );
        let source = serde_json::json!({"type": "inline", "data": data}).to_string();
        let splits = crate::input::ListSplits::splits(&InputSource::from_json(&source).unwrap()).unwrap();
        let format = InputFormat::from_json(r#"{"type":"json"}"#).unwrap();
        let sig: Signature =
            serde_json::from_str(r#"[{"name":"t","type":"long"},{"name":"n","type":"COMPLEX<json>"}]"#).unwrap();
        let mut warnings = 0;
        let (batches, stats) = read_split(&splits[0], &format, sig.to_arrow_schema(), 100, &mut |_| {
            warnings += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((warnings, stats.rows), (2, 3));
        let b = &batches[0];
        let t = b.column(0).as_primitive::<arrow::datatypes::Int64Type>();
        let n = b.column(1).as_string::<i32>();
        assert_eq!((t.value(0), n.value(0)), (1, r#"{"a":[1,{"b":null}]}"#));
        assert_eq!((t.value(1), n.value(1)), (3, r#""s""#));
        assert_eq!((t.value(2), n.is_null(2)), (4, true));
    }

    /// Parquet columns of the JSON logical type (as other engines write JSON) are parsed into
    /// COMPLEX<json>; plain strings are JSON strings.
    #[test]
    fn parquet_json_logical_type_reads_as_json() {
        use crate::input::read_split;
        use msq_engine::input::{InputFormat, InputSource};
        use msq_engine::signature::Signature;
        use parquet::arrow::arrow_writer::ArrowWriterOptions;
        use parquet::arrow::{ArrowSchemaConverter, ArrowWriter};
        use parquet::basic::LogicalType;
        use parquet::schema::types::{SchemaDescriptor, Type};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.parquet");
        let j: ArrayRef = Arc::new(StringArray::from(vec![Some(r#"{"x": [1, 2]}"#), None]));
        let s: ArrayRef = Arc::new(StringArray::from(vec![Some(r#"{"x":1}"#), Some("y")]));
        let schema = Arc::new(Schema::new(vec![
            Field::new("j", DataType::Utf8, true),
            Field::new("s", DataType::Utf8, true),
        ]));
        let descr = ArrowSchemaConverter::new().convert(&schema).unwrap();
        let root = descr.root_schema();
        let mut fields = root.get_fields().to_vec();
        let t = &fields[0];
        fields[0] = Arc::new(
            Type::primitive_type_builder(t.name(), t.get_physical_type())
                .with_repetition(t.get_basic_info().repetition())
                .with_logical_type(Some(LogicalType::Json))
                .build()
                .unwrap(),
        );
        let root = Type::group_type_builder(root.name())
            .with_fields(fields)
            .build()
            .unwrap();
        let options = ArrowWriterOptions::new()
            .with_skip_arrow_metadata(true)
            .with_parquet_schema(SchemaDescriptor::new(Arc::new(root)));
        let file = std::fs::File::create(&path).unwrap();
        let mut w = ArrowWriter::try_new_with_options(file, schema.clone(), options).unwrap();
        w.write(&RecordBatch::try_new(schema, vec![j, s]).unwrap()).unwrap();
        w.close().unwrap();
        let format = InputFormat::from_json(r#"{"type":"parquet"}"#).unwrap();
        let source = format!(r#"{{"type":"local","files":["{}"]}}"#, path.display());
        let splits = crate::input::ListSplits::splits(&InputSource::from_json(&source).unwrap()).unwrap();
        let sig: Signature =
            serde_json::from_str(r#"[{"name":"j","type":"COMPLEX<json>"},{"name":"s","type":"COMPLEX<json>"}]"#)
                .unwrap();
        let (batches, _) = read_split(&splits[0], &format, sig.to_arrow_schema(), 10, &mut |_| Ok(())).unwrap();
        let (j, s) = (
            batches[0].column(0).as_string::<i32>(),
            batches[0].column(1).as_string::<i32>(),
        );
        assert_eq!((j.value(0), j.is_null(1)), (r#"{"x":[1,2]}"#, true));
        assert_eq!((s.value(0), s.value(1)), (r#""{\"x\":1}""#, r#""y""#));
    }
}
