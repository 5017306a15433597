//! Druid's SQL result formats (`resultFormat`): `object`, `array`, `objectLines`,
//! `arrayLines` and `csv`, with the optional header rows (`header`, `typesHeader`,
//! `sqlTypesHeader`), written batch by batch so a large answer is never held whole.
//!
//! The bytes are Druid's (its `ResultFormat` writers): compact JSON; `object` and `array`
//! end with a line feed after the closing bracket; `objectLines` and `arrayLines` put one
//! JSON value per line and end with an empty line; `csv` quotes only fields holding a quote,
//! comma or line break (quotes doubled), writes null as an empty field, quotes a row that
//! would otherwise be blank, and ends with an empty line.

use crate::values::batch_values;
use arrow::datatypes::Schema;
use arrow::record_batch::RecordBatch;
use msq_engine::signature::ColumnType;
use serde_json::Value;

/// A `resultFormat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Object,
    Array,
    ObjectLines,
    ArrayLines,
    Csv,
}

impl ResultFormat {
    /// Parses a format name as Druid does (in any case: `object`, `ARRAYLINES`, ...).
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "object" => ResultFormat::Object,
            "array" => ResultFormat::Array,
            "objectlines" => ResultFormat::ObjectLines,
            "arraylines" => ResultFormat::ArrayLines,
            "csv" => ResultFormat::Csv,
            _ => return None,
        })
    }

    /// Druid's name of the format.
    pub fn name(self) -> &'static str {
        match self {
            ResultFormat::Object => "object",
            ResultFormat::Array => "array",
            ResultFormat::ObjectLines => "objectLines",
            ResultFormat::ArrayLines => "arrayLines",
            ResultFormat::Csv => "csv",
        }
    }

    /// The `Content-Type` of an answer in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            ResultFormat::Object | ResultFormat::Array => "application/json",
            ResultFormat::ObjectLines | ResultFormat::ArrayLines => "text/plain",
            ResultFormat::Csv => "text/csv",
        }
    }

    /// Druid's error message for a format name it does not know.
    pub fn unknown_message(name: &str) -> String {
        format!(
            "Cannot deserialize value of type `org.apache.druid.sql.http.ResultFormat` from String \"{name}\": \
             not one of the values accepted for Enum class: [OBJECT, ARRAY, OBJECTLINES, ARRAYLINES, CSV]"
        )
    }
}

/// Which header rows to write: `typesHeader` and `sqlTypesHeader` count only with `header`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HeaderOptions {
    pub header: bool,
    pub types_header: bool,
    pub sql_types_header: bool,
}

/// One result column: its name, Druid native type (`STRING`, `LONG`, ...) and SQL type
/// (`VARCHAR`, `BIGINT`, `TIMESTAMP`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResultColumn {
    pub name: String,
    pub native_type: String,
    pub sql_type: String,
}

impl ResultColumn {
    /// The columns of an Arrow schema, typed as Druid reports them.
    pub fn from_schema(schema: &Schema) -> Vec<ResultColumn> {
        schema
            .fields()
            .iter()
            .map(|f| ResultColumn {
                name: f.name().clone(),
                native_type: ColumnType::from_field(f).name(),
                sql_type: ColumnType::sql_type_name_of(f).to_string(),
            })
            .collect()
    }
}

/// Writes one answer: [`ResultWriter::start`], then [`ResultWriter::write_batch`] per batch,
/// then [`ResultWriter::finish`]; each appends its bytes to the given buffer.
pub struct ResultWriter {
    format: ResultFormat,
    columns: Vec<ResultColumn>,
    /// Each column name as a JSON string followed by `:` (object formats).
    keys: Vec<String>,
    options: HeaderOptions,
    /// Whether a value (header or row) was written: the separator before the next one.
    wrote_any: bool,
}

impl ResultWriter {
    /// A writer of `columns` in `format`.
    pub fn new(format: ResultFormat, columns: Vec<ResultColumn>, options: HeaderOptions) -> Self {
        let keys = columns.iter().map(|c| format!("{}:", json_string(&c.name))).collect();
        ResultWriter {
            format,
            columns,
            keys,
            options,
            wrote_any: false,
        }
    }

    /// The opening bracket and the header rows asked for.
    pub fn start(&mut self, out: &mut Vec<u8>) {
        if matches!(self.format, ResultFormat::Object | ResultFormat::Array) {
            out.push(b'[');
        }
        if !self.options.header {
            return;
        }
        match self.format {
            ResultFormat::Object | ResultFormat::ObjectLines => {
                let header = self.object_header();
                self.value(out, &header);
            }
            ResultFormat::Array | ResultFormat::ArrayLines => {
                for row in self.header_rows() {
                    let row = Value::Array(row.into_iter().map(Value::String).collect());
                    self.value(out, &row.to_string());
                }
            }
            ResultFormat::Csv => {
                for row in self.header_rows() {
                    csv_row(out, row.iter().map(String::as_str));
                }
            }
        }
    }

    /// The rows of `batch`.
    pub fn write_batch(&mut self, batch: &RecordBatch, out: &mut Vec<u8>) {
        let cols = batch_values(batch);
        let mut text = String::new();
        for r in 0..batch.num_rows() {
            self.write_row(cols.iter().map(|c| &c[r]), &mut text, out);
        }
    }

    /// One row given as its JSON values (as a task report holds them), in column order.
    pub fn write_values(&mut self, row: &[Value], out: &mut Vec<u8>) {
        self.write_row(row.iter(), &mut String::new(), out);
    }

    /// One row; `text` is scratch space.
    fn write_row<'a>(&mut self, values: impl Iterator<Item = &'a Value>, text: &mut String, out: &mut Vec<u8>) {
        text.clear();
        match self.format {
            ResultFormat::Object | ResultFormat::ObjectLines => {
                text.push('{');
                for (i, v) in values.enumerate().take(self.keys.len()) {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(&self.keys[i]);
                    text.push_str(&v.to_string());
                }
                text.push('}');
                let row = std::mem::take(text);
                self.value(out, &row);
                *text = row;
            }
            ResultFormat::Array | ResultFormat::ArrayLines => {
                text.push('[');
                for (i, v) in values.enumerate() {
                    if i > 0 {
                        text.push(',');
                    }
                    text.push_str(&v.to_string());
                }
                text.push(']');
                let row = std::mem::take(text);
                self.value(out, &row);
                *text = row;
            }
            ResultFormat::Csv => {
                let fields: Vec<String> = values.map(csv_text).collect();
                csv_row(out, fields.iter().map(String::as_str));
            }
        }
    }

    /// The closing bracket and a line feed, or the empty line that ends a lines or csv answer
    /// (also after no rows at all, so a cut-off answer can be told from a complete one).
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        match self.format {
            ResultFormat::Object | ResultFormat::Array => out.extend_from_slice(b"]\n"),
            ResultFormat::ObjectLines | ResultFormat::ArrayLines => out.extend_from_slice(b"\n\n"),
            ResultFormat::Csv => out.push(b'\n'),
        }
    }

    /// One JSON value (a header or a row) with the separator before it.
    fn value(&mut self, out: &mut Vec<u8>, json: &str) {
        if self.wrote_any {
            out.push(match self.format {
                ResultFormat::Object | ResultFormat::Array => b',',
                _ => b'\n',
            });
        }
        out.extend_from_slice(json.as_bytes());
        self.wrote_any = true;
    }

    /// `{"col":null,...}`, or `{"col":{"type":..,"sqlType":..},...}` with types.
    fn object_header(&self) -> String {
        let o = &self.options;
        let mut text = String::from("{");
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(&self.keys[i]);
            if !o.types_header && !o.sql_types_header {
                text.push_str("null");
                continue;
            }
            text.push('{');
            if o.types_header {
                text.push_str("\"type\":");
                text.push_str(&json_string(&c.native_type));
            }
            if o.sql_types_header {
                if o.types_header {
                    text.push(',');
                }
                text.push_str("\"sqlType\":");
                text.push_str(&json_string(&c.sql_type));
            }
            text.push('}');
        }
        text.push('}');
        text
    }

    /// The names, then the native types and SQL types when asked for.
    fn header_rows(&self) -> Vec<Vec<String>> {
        let mut rows = vec![self.columns.iter().map(|c| c.name.clone()).collect()];
        if self.options.types_header {
            rows.push(self.columns.iter().map(|c| c.native_type.clone()).collect());
        }
        if self.options.sql_types_header {
            rows.push(self.columns.iter().map(|c| c.sql_type.clone()).collect());
        }
        rows
    }
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

/// A value as CSV text: strings as they are, null empty, anything else as JSON.
fn csv_text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// One CSV line. A field is quoted when it holds a quote, comma or line break (quotes
/// doubled); a line of one empty field is written `""` so it is not a blank line.
fn csv_row<'a>(out: &mut Vec<u8>, fields: impl Iterator<Item = &'a str>) {
    let fields: Vec<&str> = fields.collect();
    let quote_all = fields.len() == 1 && fields[0].is_empty();
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        if quote_all || f.contains(['"', ',', '\n', '\r']) {
            out.push(b'"');
            out.extend_from_slice(f.replace('"', "\"\"").as_bytes());
            out.push(b'"');
        } else {
            out.extend_from_slice(f.as_bytes());
        }
    }
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Float64Array, Int64Array, StringArray, TimestampMillisecondArray};
    use arrow::datatypes::{DataType, Field, TimeUnit};
    use std::sync::Arc;

    fn batch() -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("__time", DataType::Timestamp(TimeUnit::Millisecond, None), false),
            Field::new("channel", DataType::Utf8, true),
            Field::new("edits", DataType::Int64, false),
            Field::new("ratio", DataType::Float64, true),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(TimestampMillisecondArray::from(vec![1442018873259, 0])),
            Arc::new(StringArray::from(vec![Some("#en, \"wiki\""), None])),
            Arc::new(Int64Array::from(vec![3, 1])),
            Arc::new(Float64Array::from(vec![Some(0.5), None])),
        ];
        RecordBatch::try_new(schema, cols).unwrap()
    }

    /// The whole answer, with the rows split into two batches.
    fn render(format: &str, header: bool, types: bool, sql_types: bool) -> String {
        let b = batch();
        let options = HeaderOptions {
            header,
            types_header: types,
            sql_types_header: sql_types,
        };
        let mut w = ResultWriter::new(
            ResultFormat::parse(format).unwrap(),
            ResultColumn::from_schema(&b.schema()),
            options,
        );
        let mut out = Vec::new();
        w.start(&mut out);
        w.write_batch(&b.slice(0, 1), &mut out);
        w.write_batch(&b.slice(1, 0), &mut out);
        w.write_batch(&b.slice(1, 1), &mut out);
        w.finish(&mut out);
        String::from_utf8(out).unwrap()
    }

    const ROW0_OBJECT: &str =
        r##"{"__time":"2015-09-12T00:47:53.259Z","channel":"#en, \"wiki\"","edits":3,"ratio":0.5}"##;
    const ROW1_OBJECT: &str = r#"{"__time":"1970-01-01T00:00:00.000Z","channel":null,"edits":1,"ratio":null}"#;
    const ROW0_ARRAY: &str = r##"["2015-09-12T00:47:53.259Z","#en, \"wiki\"",3,0.5]"##;
    const ROW1_ARRAY: &str = r#"["1970-01-01T00:00:00.000Z",null,1,null]"#;

    #[test]
    fn object() {
        assert_eq!(
            render("object", false, false, false),
            format!("[{ROW0_OBJECT},{ROW1_OBJECT}]\n")
        );
        assert_eq!(
            render("object", true, false, false),
            format!(r#"[{{"__time":null,"channel":null,"edits":null,"ratio":null}},{ROW0_OBJECT},{ROW1_OBJECT}]"#)
                + "\n"
        );
        let typed = r#"{"__time":{"type":"LONG","sqlType":"TIMESTAMP"},"channel":{"type":"STRING","sqlType":"VARCHAR"},"edits":{"type":"LONG","sqlType":"BIGINT"},"ratio":{"type":"DOUBLE","sqlType":"DOUBLE"}}"#;
        assert_eq!(
            render("object", true, true, true),
            format!("[{typed},{ROW0_OBJECT},{ROW1_OBJECT}]\n")
        );
        let only_sql = r#"{"__time":{"sqlType":"TIMESTAMP"},"channel":{"sqlType":"VARCHAR"},"edits":{"sqlType":"BIGINT"},"ratio":{"sqlType":"DOUBLE"}}"#;
        assert_eq!(
            render("object", true, false, true),
            format!("[{only_sql},{ROW0_OBJECT},{ROW1_OBJECT}]\n")
        );
        // Types without `header` write nothing.
        assert_eq!(
            render("object", false, true, true),
            format!("[{ROW0_OBJECT},{ROW1_OBJECT}]\n")
        );
    }

    #[test]
    fn array() {
        assert_eq!(
            render("array", false, false, false),
            format!("[{ROW0_ARRAY},{ROW1_ARRAY}]\n")
        );
        assert_eq!(
            render("ARRAY", true, true, true),
            format!(
                r#"[["__time","channel","edits","ratio"],["LONG","STRING","LONG","DOUBLE"],["TIMESTAMP","VARCHAR","BIGINT","DOUBLE"],{ROW0_ARRAY},{ROW1_ARRAY}]"#
            ) + "\n"
        );
        assert_eq!(
            render("array", true, false, true),
            format!(
                r#"[["__time","channel","edits","ratio"],["TIMESTAMP","VARCHAR","BIGINT","DOUBLE"],{ROW0_ARRAY},{ROW1_ARRAY}]"#
            ) + "\n"
        );
    }

    #[test]
    fn lines_end_with_an_empty_line() {
        assert_eq!(
            render("objectLines", false, false, false),
            format!("{ROW0_OBJECT}\n{ROW1_OBJECT}\n\n")
        );
        assert_eq!(
            render("objectLines", true, true, false),
            r#"{"__time":{"type":"LONG"},"channel":{"type":"STRING"},"edits":{"type":"LONG"},"ratio":{"type":"DOUBLE"}}"#
                .to_string()
                + "\n"
                + ROW0_OBJECT
                + "\n"
                + ROW1_OBJECT
                + "\n\n"
        );
        assert_eq!(
            render("arrayLines", true, true, false),
            format!(
                "[\"__time\",\"channel\",\"edits\",\"ratio\"]\n[\"LONG\",\"STRING\",\"LONG\",\"DOUBLE\"]\n{ROW0_ARRAY}\n{ROW1_ARRAY}\n\n"
            )
        );
        assert_eq!(
            render("arraylines", false, false, false),
            format!("{ROW0_ARRAY}\n{ROW1_ARRAY}\n\n")
        );
    }

    #[test]
    fn csv() {
        let rows = "2015-09-12T00:47:53.259Z,\"#en, \"\"wiki\"\"\",3,0.5\n1970-01-01T00:00:00.000Z,,1,\n";
        assert_eq!(render("csv", false, false, false), format!("{rows}\n"));
        assert_eq!(
            render("csv", true, true, true),
            format!("__time,channel,edits,ratio\nLONG,STRING,LONG,DOUBLE\nTIMESTAMP,VARCHAR,BIGINT,DOUBLE\n{rows}\n")
        );
        assert_eq!(
            render("csv", true, false, true),
            format!("__time,channel,edits,ratio\nTIMESTAMP,VARCHAR,BIGINT,DOUBLE\n{rows}\n")
        );
    }

    #[test]
    fn csv_quotes_what_needs_it_and_never_writes_a_blank_row() {
        let mut out = Vec::new();
        csv_row(&mut out, [""].into_iter());
        csv_row(&mut out, ["a\nb", "c\rd", "plain", ""].into_iter());
        assert_eq!(String::from_utf8(out).unwrap(), "\"\"\n\"a\nb\",\"c\rd\",plain,\n");
    }

    #[test]
    fn no_rows() {
        let schema = Schema::new(vec![Field::new("x", DataType::Int64, false)]);
        let answer = |format: &str, header: bool| {
            let opts = HeaderOptions {
                header,
                ..Default::default()
            };
            let mut w = ResultWriter::new(
                ResultFormat::parse(format).unwrap(),
                ResultColumn::from_schema(&schema),
                opts,
            );
            let mut out = Vec::new();
            w.start(&mut out);
            w.finish(&mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(answer("object", false), "[]\n");
        assert_eq!(answer("array", true), "[[\"x\"]]\n");
        assert_eq!(answer("objectLines", false), "\n\n");
        assert_eq!(answer("arrayLines", true), "[\"x\"]\n\n");
        assert_eq!(answer("csv", false), "\n");
        assert_eq!(answer("csv", true), "x\n\n");
    }

    #[test]
    fn names_and_content_types() {
        for f in ["object", "array", "objectLines", "arrayLines", "csv"] {
            assert_eq!(ResultFormat::parse(f).unwrap().name(), f);
        }
        assert_eq!(ResultFormat::parse("bogus"), None);
        assert_eq!(ResultFormat::Csv.content_type(), "text/csv");
        assert_eq!(ResultFormat::ArrayLines.content_type(), "text/plain");
        assert_eq!(ResultFormat::Object.content_type(), "application/json");
    }
}
