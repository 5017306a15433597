//! The type `JSON_VALUE` returns: `RETURNING VARCHAR | BIGINT | DOUBLE | DECIMAL` (FLOAT and
//! REAL are DOUBLE; DECIMAL is Arrow `Decimal128(38, 9)`, which Druid reports as native DOUBLE,
//! SQL DECIMAL), or an array of one of them (`RETURNING BIGINT ARRAY`), and its column of values.

use super::value::scalar;
use arrow::array::{ArrayBuilder, Decimal128Array, Decimal128Builder, StringBuilder};
use arrow::array::{ArrayRef, Float64Array, Float64Builder, Int64Array, Int64Builder, ListBuilder, StringArray};
use arrow::datatypes::{DataType, Field};
use serde_json::Value;
use std::sync::Arc;

/// A scalar SQL type `JSON_VALUE` can return.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Base {
    Varchar,
    Bigint,
    Double,
    Decimal,
}

/// Precision and scale of `RETURNING DECIMAL`.
const DECIMAL: (u8, i8) = (38, 9);

/// The `RETURNING` type of `JSON_VALUE` (its optional third argument, a type name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Returning {
    pub base: Base,
    /// `RETURNING <base> ARRAY`: an array of literals.
    pub array: bool,
}

impl Returning {
    /// The default: VARCHAR.
    pub const VARCHAR: Returning = Returning {
        base: Base::Varchar,
        array: false,
    };

    /// A SQL type name as written after `RETURNING` (`BIGINT`, `VARCHAR ARRAY`, `ARRAY<DOUBLE>`).
    pub fn parse(name: &str) -> Option<Self> {
        let upper = name.trim().to_ascii_uppercase();
        let (inner, array) = match (upper.strip_suffix("ARRAY"), upper.strip_prefix("ARRAY<")) {
            (Some(inner), _) => (inner.trim().to_string(), true),
            (None, Some(rest)) => (rest.strip_suffix('>')?.trim().to_string(), true),
            (None, None) => (upper, false),
        };
        let base = match inner.split('(').next().unwrap_or_default().trim() {
            "VARCHAR" | "STRING" | "CHAR" | "TEXT" => Base::Varchar,
            "BIGINT" | "LONG" | "INTEGER" | "INT" | "SMALLINT" | "TINYINT" => Base::Bigint,
            "DOUBLE" | "FLOAT" | "REAL" => Base::Double,
            "DECIMAL" | "NUMERIC" => Base::Decimal,
            _ => return None,
        };
        Some(Returning { base, array })
    }

    /// The Arrow type of the answer.
    pub fn data_type(self) -> DataType {
        let base = match self.base {
            Base::Varchar => DataType::Utf8,
            Base::Bigint => DataType::Int64,
            Base::Double => DataType::Float64,
            Base::Decimal => DataType::Decimal128(DECIMAL.0, DECIMAL.1),
        };
        match self.array {
            false => base,
            true => DataType::List(Arc::new(Field::new("item", base, true))),
        }
    }

    /// The answer for the values found at the path (`None`: missing). A literal converts as
    /// Druid casts it (text that is not a number is NULL in a number type); objects and
    /// arrays are NULL, except that an array type takes an array of literals (or one literal
    /// as a one-element array).
    pub fn column<'a>(self, found: impl Iterator<Item = Option<&'a Value>>) -> ArrayRef {
        if self.array {
            return match self.base {
                Base::Varchar => lists(found, StringBuilder::new(), |b, v| b.append_option(varchar(v))),
                Base::Bigint => lists(found, Int64Builder::new(), |b, v| b.append_option(bigint(v))),
                Base::Double => lists(found, Float64Builder::new(), |b, v| b.append_option(double(v))),
                Base::Decimal => {
                    let items = Decimal128Builder::new().with_data_type(self.scalar_type());
                    lists(found, items, |b, v| b.append_option(decimal(v)))
                }
            };
        }
        match self.base {
            Base::Varchar => Arc::new(found.map(|v| v.and_then(varchar)).collect::<StringArray>()),
            Base::Bigint => Arc::new(found.map(|v| v.and_then(bigint)).collect::<Int64Array>()),
            Base::Double => Arc::new(found.map(|v| v.and_then(double)).collect::<Float64Array>()),
            Base::Decimal => Arc::new(
                found
                    .map(|v| v.and_then(decimal))
                    .collect::<Decimal128Array>()
                    .with_precision_and_scale(DECIMAL.0, DECIMAL.1)
                    .expect("valid decimal precision"),
            ),
        }
    }

    fn scalar_type(self) -> DataType {
        Returning { array: false, ..self }.data_type()
    }
}

/// A double as `Decimal128(38, 9)` (NULL when it does not fit).
fn decimal(v: &Value) -> Option<i128> {
    let d = double(v)?;
    let scaled = (d * 1e9).round();
    (scaled.is_finite() && scaled.abs() < 1e37).then_some(scaled as i128)
}

fn varchar(v: &Value) -> Option<String> {
    scalar(v).map(|s| s.to_varchar())
}

fn bigint(v: &Value) -> Option<i64> {
    scalar(v).and_then(|s| s.to_bigint())
}

fn double(v: &Value) -> Option<f64> {
    scalar(v).and_then(|s| s.to_double())
}

/// A list column: an array of literals (nulls kept) or one literal per row; else NULL.
fn lists<'a, B: ArrayBuilder>(
    found: impl Iterator<Item = Option<&'a Value>>,
    items: B,
    append: impl Fn(&mut B, &Value),
) -> ArrayRef {
    let mut b = ListBuilder::new(items);
    for v in found {
        match v {
            Some(Value::Array(a)) if a.iter().all(|e| !e.is_object() && !e.is_array()) => {
                for e in a {
                    append(b.values(), e);
                }
                b.append(true);
            }
            Some(v) if !v.is_null() && !v.is_object() && !v.is_array() => {
                append(b.values(), v);
                b.append(true);
            }
            _ => b.append(false),
        }
    }
    Arc::new(b.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::util::display::{ArrayFormatter, FormatOptions};

    fn show(r: Returning, json: &str) -> String {
        let v: Value = serde_json::from_str(json).unwrap();
        let col = r.column(std::iter::once(Some(&v)));
        let opts = FormatOptions::default().with_null("NULL");
        let text = ArrayFormatter::try_new(col.as_ref(), &opts)
            .unwrap()
            .value(0)
            .to_string();
        text
    }

    #[test]
    fn types_and_arrays() {
        assert_eq!(
            Returning::parse("bigint"),
            Some(Returning {
                base: Base::Bigint,
                array: false
            })
        );
        assert_eq!(Returning::parse("DECIMAL(10, 2)").unwrap().base, Base::Decimal);
        assert_eq!(show(Returning::parse("DECIMAL").unwrap(), "417.12"), "417.120000000");
        assert_eq!(
            show(Returning::parse("DECIMAL ARRAY").unwrap(), "[1.5, null]"),
            "[1.500000000, NULL]"
        );
        assert_eq!(
            Returning::parse("VARCHAR ARRAY"),
            Some(Returning {
                base: Base::Varchar,
                array: true
            })
        );
        assert_eq!(
            Returning::parse("ARRAY<BIGINT>"),
            Some(Returning {
                base: Base::Bigint,
                array: true
            })
        );
        assert_eq!(Returning::parse("DATE"), None);
        let longs = Returning::parse("BIGINT ARRAY").unwrap();
        assert_eq!(show(longs, r#"[1, "2", 3.7, null, "x"]"#), "[1, 2, 3, NULL, NULL]");
        assert_eq!(show(longs, "5"), "[5]");
        assert_eq!(show(longs, r#"[{"a":1}]"#), "NULL");
        assert_eq!(
            show(Returning::parse("VARCHAR ARRAY").unwrap(), r#"["a", 1.5, true]"#),
            "[a, 1.5, 1]"
        );
        assert_eq!(show(Returning::VARCHAR, "[1]"), "NULL");
        assert_eq!(show(Returning::parse("DOUBLE").unwrap(), r#""2.5""#), "2.5");
    }
}
