//! The JSON functions as one DataFusion UDF type, [`JsonFunction`], told apart by [`Kind`].

use super::super::args::invalid;
use super::columns::{json_column, json_item_field, string_item_field, string_lists, values, Row, Strings};
use super::path::{parse_path, PathPart};
pub use super::returning::Returning;
use super::value::{find, java_hash_map, keys, literal_paths, merge, parse, to_text};
use arrow::array::{ArrayRef, AsArray, StringArray};
use arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, TypeSignature, Volatility,
};
use msq_engine::signature::json_field;
use serde_json::Value;
use std::sync::Arc;

/// Which JSON function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Value,
    Query,
    QueryArray,
    Paths,
    Keys,
    Object,
    Merge,
    Parse,
    TryParse,
    ToJsonString,
}

impl Kind {
    /// Every kind, for registration.
    pub const ALL: [Kind; 10] = [
        Kind::Value,
        Kind::Query,
        Kind::QueryArray,
        Kind::Paths,
        Kind::Keys,
        Kind::Object,
        Kind::Merge,
        Kind::Parse,
        Kind::TryParse,
        Kind::ToJsonString,
    ];

    /// The function's (lower-case) SQL name.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Value => "json_value",
            Kind::Query => "json_query",
            Kind::QueryArray => "json_query_array",
            Kind::Paths => "json_paths",
            Kind::Keys => "json_keys",
            Kind::Object => "json_object",
            Kind::Merge => "json_merge",
            Kind::Parse => "parse_json",
            Kind::TryParse => "try_parse_json",
            Kind::ToJsonString => "to_json_string",
        }
    }

    /// Allowed argument counts (min, max).
    fn arity(self) -> (usize, usize) {
        match self {
            Kind::Value => (2, 3),
            Kind::Query | Kind::QueryArray | Kind::Keys => (2, 2),
            Kind::Paths | Kind::Parse | Kind::TryParse | Kind::ToJsonString => (1, 1),
            Kind::Object => (0, usize::MAX),
            Kind::Merge => (2, usize::MAX),
        }
    }
}

/// One of Druid's JSON functions.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct JsonFunction {
    kind: Kind,
    signature: Signature,
}

impl JsonFunction {
    pub fn new(kind: Kind) -> Self {
        JsonFunction {
            kind,
            signature: Signature::one_of(
                vec![TypeSignature::VariadicAny, TypeSignature::Nullary],
                Volatility::Immutable,
            ),
        }
    }

    fn fail(&self, why: impl std::fmt::Display) -> datafusion::error::DataFusionError {
        invalid(format!("Function[{}] {why}", self.kind.name()))
    }

    /// The literal path argument (`args[1]`), parsed.
    fn literal_path(&self, scalar: Option<&ScalarValue>) -> Result<Vec<PathPart>> {
        match scalar.and_then(scalar_text) {
            Some(p) => parse_path(&p).map_err(invalid),
            None => Err(self.fail("second argument [path] must be a literal [STRING] value")),
        }
    }

    fn returning(&self, scalar: Option<&ScalarValue>) -> Result<Returning> {
        let Some(t) = scalar.and_then(scalar_text) else {
            return Err(self.fail("invalid output type: [not a literal]"));
        };
        Returning::parse(&t).ok_or_else(|| self.fail(format!("invalid output type: [{t}]")))
    }
}

/// The text of a string literal.
fn scalar_text(s: &ScalarValue) -> Option<String> {
    match s {
        ScalarValue::Utf8(Some(t)) | ScalarValue::LargeUtf8(Some(t)) | ScalarValue::Utf8View(Some(t)) => {
            Some(t.clone())
        }
        _ => None,
    }
}

impl ScalarUDFImpl for JsonFunction {
    fn name(&self) -> &str {
        self.kind.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(match self.kind {
            Kind::Value | Kind::ToJsonString => DataType::Utf8,
            Kind::QueryArray => DataType::List(Arc::new(json_item_field())),
            Kind::Paths | Kind::Keys => DataType::List(Arc::new(string_item_field())),
            _ => DataType::Utf8,
        })
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let (min, max) = self.kind.arity();
        let n = args.arg_fields.len();
        if n < min || n > max {
            return Err(self.fail(match (min, max) {
                (a, b) if a == b => format!("requires {a} argument(s), got {n}"),
                (a, usize::MAX) => format!("requires at least {a} arguments, got {n}"),
                (a, b) => format!("requires {a} to {b} arguments, got {n}"),
            }));
        }
        if self.kind == Kind::Object && !n.is_multiple_of(2) {
            return Err(self.fail("must have an even number of arguments"));
        }
        // A literal path is checked here; JSON_KEYS needs one, the others also take a column.
        let literal = args.scalar_arguments.get(1).copied().flatten();
        if self.kind == Kind::Keys
            || (literal.is_some() && matches!(self.kind, Kind::Query | Kind::QueryArray | Kind::Value))
        {
            self.literal_path(literal)?;
        }
        let name = self.kind.name();
        let field = match self.kind {
            Kind::Value if n == 3 => Field::new(name, self.returning(args.scalar_arguments[2])?.data_type(), true),
            Kind::Query | Kind::Object | Kind::Merge | Kind::Parse | Kind::TryParse => json_field(name),
            _ => Field::new(name, self.return_type(&[])?, true),
        };
        Ok(Arc::new(field))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let fields = args.arg_fields.clone();
        let path_arg = match args.args.get(1) {
            Some(ColumnarValue::Scalar(s)) => Some(s.clone()),
            _ => None,
        };
        let returning = match (self.kind, args.args.get(2)) {
            (Kind::Value, Some(ColumnarValue::Scalar(s))) => self.returning(Some(s))?,
            _ => Returning::VARCHAR,
        };
        invoke_rows(&args, |arrays, rows| match self.kind {
            Kind::Object => self.object(arrays, &fields, rows),
            Kind::Merge => {
                let cols = arrays
                    .iter()
                    .zip(&fields)
                    .map(|(a, f)| values(a, f, Strings::Parse))
                    .collect::<Result<Vec<_>>>()?;
                Ok(json_column((0..rows).map(|r| {
                    let row: Option<Vec<Value>> = cols.iter().map(|c| c[r].clone()).collect();
                    row.map(merge)
                })))
            }
            Kind::Parse | Kind::TryParse => self.parse_json(&arrays[0]),
            Kind::ToJsonString => {
                let input = values(&arrays[0], &fields[0], Strings::AsText)?;
                Ok(Arc::new(
                    input
                        .into_iter()
                        .map(|v| v.map(|v| to_text(&v)))
                        .collect::<StringArray>(),
                ) as ArrayRef)
            }
            Kind::Paths => {
                let input = values(&arrays[0], &fields[0], Strings::AsText)?;
                let rows = input
                    .into_iter()
                    .map(|v| v.map(|v| literal_paths(&v).into_iter().map(Some).collect()));
                Ok(string_lists(rows, &string_item_field()))
            }
            _ => {
                let paths = match path_arg.as_ref() {
                    Some(literal) => Paths::One(self.literal_path(Some(literal))?),
                    None if self.kind == Kind::Keys => {
                        return Err(self.fail("second argument [path] must be a literal [STRING] value"))
                    }
                    None => Paths::per_row(&arrays[1])?,
                };
                let input = values(&arrays[0], &fields[0], Strings::AsText)?;
                Ok(self.at_path(input, &paths, returning))
            }
        })
    }
}

impl JsonFunction {
    /// `JSON_VALUE`, `JSON_QUERY`, `JSON_QUERY_ARRAY` and `JSON_KEYS` of each row at `path`.
    fn at_path(&self, input: Vec<Row>, paths: &Paths, returning: Returning) -> ArrayRef {
        let found = input
            .iter()
            .enumerate()
            .map(|(i, v)| v.as_ref().zip(paths.get(i)).and_then(|(v, p)| find(v, p)));
        match self.kind {
            Kind::Query => json_column(found.map(|v| v.cloned())),
            Kind::QueryArray => {
                let rows = found.map(|v| match v {
                    None | Some(Value::Null) => None,
                    Some(Value::Array(items)) => Some(items.iter().map(json_text).collect()),
                    Some(other) => Some(vec![json_text(other)]),
                });
                string_lists(rows, &json_item_field())
            }
            Kind::Keys => {
                let rows = input.iter().enumerate().map(|(i, v)| {
                    v.as_ref()
                        .zip(paths.get(i))
                        .and_then(|(v, p)| keys(v, p))
                        .map(|k| k.into_iter().map(Some).collect())
                });
                string_lists(rows, &string_item_field())
            }
            _ => returning.column(found),
        }
    }

    /// `JSON_OBJECT(k1, v1, ...)`: keys must be strings; a NULL value is JSON null.
    fn object(&self, arrays: &[ArrayRef], fields: &[FieldRef], rows: usize) -> Result<ArrayRef> {
        let cols = arrays
            .iter()
            .zip(fields)
            .map(|(a, f)| values(a, f, Strings::AsText))
            .collect::<Result<Vec<_>>>()?;
        for (i, f) in fields.iter().enumerate().step_by(2) {
            if !super::super::args::is_string_type(f.data_type()) && f.data_type() != &DataType::Null {
                return Err(self.fail(format!(
                    "field name must be a STRING, got [{}] at argument {}",
                    f.data_type(),
                    i + 1
                )));
            }
        }
        let mut out = Vec::with_capacity(rows);
        for r in 0..rows {
            let mut pairs = Vec::with_capacity(cols.len() / 2);
            for pair in cols.chunks(2) {
                let Some(Value::String(k)) = &pair[0][r] else {
                    return Err(self.fail("field name must be a STRING, got NULL"));
                };
                pairs.push((k.clone(), pair[1][r].clone().unwrap_or(Value::Null)));
            }
            out.push(Some(java_hash_map(pairs)));
        }
        Ok(json_column(out.into_iter()))
    }

    /// `PARSE_JSON` (invalid text is an error) and `TRY_PARSE_JSON` (NULL).
    fn parse_json(&self, input: &ArrayRef) -> Result<ArrayRef> {
        if !super::super::args::is_string_type(input.data_type()) && input.data_type() != &DataType::Null {
            if self.kind == Kind::TryParse {
                return Ok(json_column((0..input.len()).map(|_| None)));
            }
            return Err(self.fail(format!(
                "invalid input expected STRING but got {} instead",
                input.data_type()
            )));
        }
        let text = arrow::compute::cast(input, &DataType::Utf8)?;
        let text = text.as_string::<i32>();
        let mut out = Vec::with_capacity(input.len());
        for s in text.iter() {
            out.push(match s.map(parse) {
                None => None,
                Some(Ok(v)) => Some(v),
                Some(Err(_)) if self.kind == Kind::TryParse => None,
                Some(Err(e)) => {
                    let shown: String = s.unwrap_or_default().chars().take(100).collect();
                    return Err(self.fail(format!("bad string input [{shown}]: {e}")));
                }
            });
        }
        Ok(json_column(out.into_iter()))
    }
}

/// The path of each row: one literal path, or a column of paths (Druid's JSON_VALUE,
/// JSON_QUERY and JSON_QUERY_ARRAY take either; a NULL path gives NULL).
enum Paths {
    One(Vec<PathPart>),
    PerRow(Vec<Option<Vec<PathPart>>>),
}

impl Paths {
    /// The paths of a column (an invalid one is the user's error).
    fn per_row(column: &ArrayRef) -> Result<Paths> {
        let text = arrow::compute::cast(column, &DataType::Utf8)?;
        let mut out = Vec::with_capacity(text.len());
        for p in text.as_string::<i32>().iter() {
            out.push(p.map(parse_path).transpose().map_err(invalid)?);
        }
        Ok(Paths::PerRow(out))
    }

    fn get(&self, row: usize) -> Option<&[PathPart]> {
        match self {
            Paths::One(p) => Some(p),
            Paths::PerRow(rows) => rows.get(row).and_then(|p| p.as_deref()),
        }
    }
}

/// A JSON value as the text of a `COMPLEX<json>` item (JSON null is NULL).
fn json_text(v: &Value) -> Option<String> {
    (!v.is_null()).then(|| to_text(v))
}

/// Runs `eval` on the arguments as arrays and answers an array of the batch's rows (constant
/// arguments are evaluated once and repeated). Unlike a scalar answer, an array keeps the
/// JSON mark of list items.
fn invoke_rows(
    args: &ScalarFunctionArgs,
    eval: impl FnOnce(&[ArrayRef], usize) -> Result<ArrayRef>,
) -> Result<ColumnarValue> {
    let all_scalar = args.args.iter().all(|a| matches!(a, ColumnarValue::Scalar(_)));
    let len = if all_scalar { 1 } else { args.number_rows };
    let arrays = args.args.iter().map(|a| a.to_array(len)).collect::<Result<Vec<_>>>()?;
    let out = eval(&arrays, len)?;
    if all_scalar && args.number_rows != 1 {
        let zeros = arrow::array::UInt32Array::from(vec![0u32; args.number_rows]);
        return Ok(ColumnarValue::Array(arrow::compute::take(&out, &zeros, None)?));
    }
    Ok(ColumnarValue::Array(out))
}
