//! Druid row signatures (`[{"name","type"}]`) and their mapping to Arrow types.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Druid's name for the primary timestamp column.
pub const TIME_COLUMN: &str = "__time";

/// Field metadata key naming an Arrow extension type.
pub const EXTENSION_NAME_KEY: &str = "ARROW:extension:name";
/// Field metadata key of an Arrow extension type's parameters.
pub const EXTENSION_METADATA_KEY: &str = "ARROW:extension:metadata";
/// The canonical Arrow extension type of JSON text (`arrow.json`): Druid's `COMPLEX<json>`.
pub const JSON_EXTENSION: &str = "arrow.json";

/// A nullable Utf8 field holding JSON text, marked as `arrow.json` (Druid `COMPLEX<json>`).
pub fn json_field(name: impl Into<String>) -> Field {
    Field::new(name, DataType::Utf8, true).with_metadata(json_metadata())
}

/// The field metadata marking a string column as JSON text.
pub fn json_metadata() -> std::collections::HashMap<String, String> {
    [
        (EXTENSION_NAME_KEY.to_string(), JSON_EXTENSION.to_string()),
        (EXTENSION_METADATA_KEY.to_string(), String::new()),
    ]
    .into()
}

/// Whether `field` is a string column of JSON text (`COMPLEX<json>`).
pub fn is_json_field(field: &Field) -> bool {
    field.metadata().get(EXTENSION_NAME_KEY).map(String::as_str) == Some(JSON_EXTENSION)
        && matches!(
            field.data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        )
}

/// A Druid column type as it appears in signatures.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ColumnType {
    String,
    Long,
    Float,
    Double,
    /// `ARRAY<...>`
    Array(Box<ColumnType>),
    /// `COMPLEX<name>`
    Complex(String),
    /// A multi-value string: Druid type STRING holding 0..n strings per row, an Arrow list
    /// of strings whose item field is named [`MULTI_VALUE_ITEM`] (see [`multi_value_type`]).
    /// Its type text is `STRING`; signatures stored with segments spell it `MULTI_VALUE_STRING`.
    MultiValueString,
}

/// The item field name that marks an Arrow list of strings as a Druid multi-value string.
pub const MULTI_VALUE_ITEM: &str = "druid_mv";

/// The Arrow type of a multi-value string column.
pub fn multi_value_type() -> DataType {
    DataType::List(Arc::new(Field::new(MULTI_VALUE_ITEM, DataType::Utf8, true)))
}

/// Whether `dt` is a multi-value string ([`multi_value_type`], any list flavour).
pub fn is_multi_value(dt: &DataType) -> bool {
    matches!(dt, DataType::List(f) | DataType::LargeList(f) if f.name() == MULTI_VALUE_ITEM)
}

impl ColumnType {
    /// Parses Druid's type text (`STRING`, `long`, `ARRAY<STRING>`, `COMPLEX<json>`).
    pub fn parse(s: &str) -> Option<Self> {
        let t = s.trim();
        let upper = t.to_ascii_uppercase();
        if let Some(inner) = upper.strip_prefix("ARRAY<").and_then(|r| r.strip_suffix('>')) {
            return Some(ColumnType::Array(Box::new(ColumnType::parse(inner)?)));
        }
        if upper == "MULTI_VALUE_STRING" {
            return Some(ColumnType::MultiValueString);
        }
        if upper.starts_with("COMPLEX<") && upper.ends_with('>') {
            return Some(ColumnType::Complex(t[8..t.len() - 1].to_string()));
        }
        Some(match upper.as_str() {
            "STRING" | "VARCHAR" => ColumnType::String,
            "LONG" | "BIGINT" | "INTEGER" | "INT" | "TIMESTAMP" | "BOOLEAN" => ColumnType::Long,
            "FLOAT" | "REAL" => ColumnType::Float,
            "DOUBLE" | "DECIMAL" => ColumnType::Double,
            _ => return None,
        })
    }

    /// Druid's type text.
    pub fn name(&self) -> String {
        match self {
            ColumnType::String | ColumnType::MultiValueString => "STRING".into(),
            ColumnType::Long => "LONG".into(),
            ColumnType::Float => "FLOAT".into(),
            ColumnType::Double => "DOUBLE".into(),
            ColumnType::Array(inner) => format!("ARRAY<{}>", inner.name()),
            ColumnType::Complex(n) => format!("COMPLEX<{n}>"),
        }
    }

    /// The Arrow type external data of this type is read as.
    pub fn to_arrow(&self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Long => DataType::Int64,
            ColumnType::Float => DataType::Float32,
            ColumnType::Double => DataType::Float64,
            ColumnType::Array(inner) => DataType::List(Arc::new(Field::new("item", inner.to_arrow(), true))),
            ColumnType::Complex(_) => DataType::Utf8,
            ColumnType::MultiValueString => multi_value_type(),
        }
    }

    /// Whether this is Druid's `COMPLEX<json>`.
    pub fn is_json(&self) -> bool {
        matches!(self, ColumnType::Complex(n) if n.eq_ignore_ascii_case("json"))
    }

    /// The Arrow field external data of this type is read into (JSON text is marked as such).
    pub fn to_field(&self, name: &str) -> Field {
        if self.is_json() {
            return json_field(name);
        }
        Field::new(name, self.to_arrow(), true)
    }

    /// The Druid type of an Arrow field: [`ColumnType::from_arrow`], and `COMPLEX<json>` for
    /// JSON text (also inside lists).
    pub fn from_field(field: &Field) -> Self {
        if is_json_field(field) {
            return ColumnType::Complex("json".into());
        }
        match field.data_type() {
            dt if is_multi_value(dt) => ColumnType::MultiValueString,
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                ColumnType::Array(Box::new(ColumnType::from_field(f)))
            }
            dt => ColumnType::from_arrow(dt),
        }
    }

    /// The SQL type name of an Arrow field ([`ColumnType::sql_type_name`]); JSON text is
    /// `OTHER`, the SQL type Druid reports for `COMPLEX<json>` (`sqlTypeNames`).
    pub fn sql_type_name_of(field: &Field) -> &'static str {
        if is_json_field(field) {
            return "OTHER";
        }
        ColumnType::sql_type_name(field.data_type())
    }

    /// The Druid type of an Arrow column (timestamps are Druid LONGs).
    pub fn from_arrow(dt: &DataType) -> Self {
        match dt {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Dictionary(_, _) => {
                ColumnType::String
            }
            DataType::Boolean
            | DataType::Int8
            | DataType::Int16
            | DataType::Int32
            | DataType::Int64
            | DataType::UInt8
            | DataType::UInt16
            | DataType::UInt32
            | DataType::UInt64
            | DataType::Timestamp(_, _)
            | DataType::Date32
            | DataType::Date64 => ColumnType::Long,
            DataType::Float16 | DataType::Float32 => ColumnType::Float,
            DataType::Float64 | DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => ColumnType::Double,
            dt if is_multi_value(dt) => ColumnType::MultiValueString,
            DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
                ColumnType::Array(Box::new(ColumnType::from_arrow(f.data_type())))
            }
            DataType::Binary | DataType::LargeBinary | DataType::BinaryView => ColumnType::Complex("binary".into()),
            DataType::Struct(_) | DataType::Map(_, _) => ColumnType::Complex("json".into()),
            _ => ColumnType::String,
        }
    }

    /// The SQL type name Druid reports for this column (`sqlTypeNames`).
    pub fn sql_type_name(dt: &DataType) -> &'static str {
        match dt {
            dt if is_multi_value(dt) => "VARCHAR",
            DataType::Timestamp(_, _) => "TIMESTAMP",
            DataType::Date32 | DataType::Date64 => "DATE",
            DataType::Boolean => "BOOLEAN",
            DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => "INTEGER",
            DataType::Int64 | DataType::UInt32 | DataType::UInt64 => "BIGINT",
            DataType::Float16 | DataType::Float32 => "FLOAT",
            DataType::Float64 => "DOUBLE",
            DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => "DECIMAL",
            DataType::List(_) | DataType::LargeList(_) | DataType::FixedSizeList(_, _) => "ARRAY",
            DataType::Struct(_) | DataType::Map(_, _) => "COMPLEX<json>",
            _ => "VARCHAR",
        }
    }
}

impl Serialize for ColumnType {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            ColumnType::MultiValueString => s.serialize_str("MULTI_VALUE_STRING"),
            other => s.serialize_str(&other.name()),
        }
    }
}

impl<'de> Deserialize<'de> for ColumnType {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        ColumnType::parse(&s).ok_or_else(|| serde::de::Error::custom(format!("unknown column type [{s}]")))
    }
}

/// One column of a signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ColumnSignature {
    pub name: String,
    #[serde(rename = "type")]
    pub column_type: ColumnType,
}

/// A row signature, as Druid prints it: `[{"name":"x","type":"STRING"}, ...]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Signature(pub Vec<ColumnSignature>);

impl Signature {
    /// The signature of an Arrow schema, as Druid reports it (a multi-value string is `STRING`).
    pub fn from_schema(schema: &Schema) -> Self {
        Signature::for_storage(schema).as_reported()
    }

    /// This signature as Druid reports it (a multi-value string is `STRING`).
    pub fn as_reported(&self) -> Signature {
        Signature(
            self.0
                .iter()
                .map(|c| ColumnSignature {
                    name: c.name.clone(),
                    column_type: match &c.column_type {
                        ColumnType::MultiValueString => ColumnType::String,
                        t => t.clone(),
                    },
                })
                .collect(),
        )
    }

    /// The signature of an Arrow schema as stored with a segment: multi-value strings are
    /// `MULTI_VALUE_STRING`, so the segment's columns are read back as they were written.
    pub fn for_storage(schema: &Schema) -> Self {
        Signature(
            schema
                .fields()
                .iter()
                .map(|f| ColumnSignature {
                    name: f.name().clone(),
                    column_type: ColumnType::from_field(f),
                })
                .collect(),
        )
    }

    /// The Arrow schema external rows with this signature are read into (all columns nullable).
    pub fn to_arrow_schema(&self) -> SchemaRef {
        Arc::new(Schema::new(
            self.0
                .iter()
                .map(|c| c.column_type.to_field(&c.name))
                .collect::<Vec<_>>(),
        ))
    }
}

/// The Arrow type of `__time` inside the engine: millisecond timestamps without zone (UTC).
pub fn time_data_type() -> DataType {
    DataType::Timestamp(TimeUnit::Millisecond, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_signature_json() {
        let s: Signature =
            serde_json::from_str(r#"[{"name":"time","type":"string"},{"name":"added","type":"long"},{"name":"tags","type":"ARRAY<STRING>"}]"#)
                .unwrap();
        assert_eq!(s.0[1].column_type, ColumnType::Long);
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"[{"name":"time","type":"STRING"},{"name":"added","type":"LONG"},{"name":"tags","type":"ARRAY<STRING>"}]"#
        );
        assert_eq!(s.to_arrow_schema().field(1).data_type(), &DataType::Int64);
    }

    #[test]
    fn multi_value_strings() {
        let mv = ColumnType::from_arrow(&multi_value_type());
        assert_eq!(mv, ColumnType::MultiValueString);
        assert_eq!(mv.name(), "STRING");
        assert_eq!(ColumnType::sql_type_name(&multi_value_type()), "VARCHAR");
        let text = serde_json::to_string(&mv).unwrap();
        assert_eq!(serde_json::from_str::<ColumnType>(&text).unwrap(), mv);
        assert_eq!(mv.to_arrow(), multi_value_type());
        let plain = DataType::List(Arc::new(Field::new("item", DataType::Utf8, true)));
        assert!(!is_multi_value(&plain));
        assert_eq!(ColumnType::from_arrow(&plain).name(), "ARRAY<STRING>");
        let schema = Schema::new(vec![Field::new("tags", multi_value_type(), true)]);
        let reported = serde_json::to_string(&Signature::from_schema(&schema)).unwrap();
        assert_eq!(reported, r#"[{"name":"tags","type":"STRING"}]"#);
        let stored = Signature::for_storage(&schema);
        assert_eq!(
            serde_json::to_string(&stored).unwrap(),
            r#"[{"name":"tags","type":"MULTI_VALUE_STRING"}]"#
        );
        assert_eq!(stored.to_arrow_schema().field(0).data_type(), &multi_value_type());
    }

    #[test]
    fn json_columns_keep_their_type() {
        let s: Signature = serde_json::from_str(r#"[{"name":"n","type":"COMPLEX<json>"}]"#).unwrap();
        let schema = s.to_arrow_schema();
        assert!(is_json_field(schema.field(0)));
        assert_eq!(Signature::from_schema(&schema), s);
        assert_eq!(ColumnType::sql_type_name_of(schema.field(0)), "OTHER");
    }
}
