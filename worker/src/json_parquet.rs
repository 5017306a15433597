//! Parquet writing of `COMPLEX<json>` columns: Utf8 columns marked `arrow.json` get Parquet's
//! JSON logical type, so other engines (DuckDB, Spark, ...) read them as JSON. The Arrow schema
//! stored in the file keeps the mark for this engine.

use object_store::buffered::BufWriter;
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::{ArrowSchemaConverter, AsyncArrowWriter};
use parquet::basic::LogicalType;
use parquet::errors::Result;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::{SchemaDescriptor, Type};
use std::sync::Arc;

/// An Arrow writer of `schema` whose JSON columns carry Parquet's JSON logical type.
pub fn json_aware_writer(
    sink: BufWriter,
    schema: arrow::datatypes::SchemaRef,
    props: WriterProperties,
) -> Result<AsyncArrowWriter<BufWriter>> {
    let is_json = |f: &arrow::datatypes::FieldRef| msq_engine::signature::is_json_field(f);
    if !schema.fields().iter().any(is_json) {
        return AsyncArrowWriter::try_new(sink, schema, Some(props));
    }
    let descr = ArrowSchemaConverter::new()
        .with_coerce_types(props.coerce_types())
        .convert(&schema)?;
    let root = descr.root_schema();
    let mut fields = Vec::with_capacity(root.get_fields().len());
    for (t, f) in root.get_fields().iter().zip(schema.fields()) {
        if is_json(f) && t.is_primitive() {
            let json = Type::primitive_type_builder(t.name(), t.get_physical_type())
                .with_repetition(t.get_basic_info().repetition())
                .with_logical_type(Some(LogicalType::Json))
                .build()?;
            fields.push(Arc::new(json));
        } else {
            fields.push(t.clone());
        }
    }
    let root = Type::group_type_builder(root.name()).with_fields(fields).build()?;
    let options = ArrowWriterOptions::new()
        .with_properties(props)
        .with_parquet_schema(SchemaDescriptor::new(Arc::new(root)));
    AsyncArrowWriter::try_new_with_options(sink, schema, options)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, AsArray, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::record_batch::RecordBatch;
    use object_store::memory::InMemory;
    use object_store::path::Path as ObjectPath;
    use object_store::ObjectStoreExt;
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

    #[tokio::test]
    async fn json_columns_carry_parquet_json_type() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("s", DataType::Utf8, true),
            msq_engine::signature::json_field("n"),
        ]));
        let cols: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from(vec![Some("a"), None])),
            Arc::new(StringArray::from(vec![Some(r#"{"x":1}"#), None])),
        ];
        let batch = RecordBatch::try_new(schema.clone(), cols).unwrap();
        let store = Arc::new(InMemory::new());
        let path = ObjectPath::from("seg.parquet");
        let sink = BufWriter::new(store.clone(), path.clone());
        let mut w = json_aware_writer(sink, schema, WriterProperties::default()).unwrap();
        w.write(&batch).await.unwrap();
        w.close().await.unwrap();
        let bytes = store.get(&path).await.unwrap().bytes().await.unwrap();
        let reader = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
        let descr = reader.parquet_schema();
        assert_eq!(descr.column(1).logical_type_ref(), Some(&LogicalType::Json));
        assert_eq!(descr.column(0).logical_type_ref(), Some(&LogicalType::String));
        // The Arrow schema stored in the file keeps the COMPLEX<json> mark.
        assert!(msq_engine::signature::is_json_field(reader.schema().field(1)));
        let back = reader.build().unwrap().next().unwrap().unwrap();
        assert_eq!(back.column(1).as_string::<i32>().value(0), r#"{"x":1}"#);
    }
}
