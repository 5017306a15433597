//! Decoding plans with the field metadata of UDF results. DataFusion's protobuf form keeps a
//! scalar function's return type but not its field metadata, so a worker would see a
//! `COMPLEX<json>` result (Utf8 marked `arrow.json`) as a plain string. [`UdfFieldConverter`]
//! decodes as DataFusion does, then asks each decoded UDF call for its return field again
//! (from its decoded arguments) and keeps that field when it carries metadata.

use arrow::datatypes::{FieldRef, Schema};
use datafusion::common::Result;
use datafusion::logical_expr::ReturnFieldArgs;
use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
use datafusion::physical_plan::expressions::Literal;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::from_proto::parse_physical_expr_with_converter;
use datafusion_proto::physical_plan::to_proto::serialize_physical_expr_with_converter;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalPlanNodeExt, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf;
use std::sync::Arc;

/// DataFusion's protobuf conversion, restoring UDF result field metadata on decode.
pub struct UdfFieldConverter;

impl PhysicalProtoConverterExtension for UdfFieldConverter {
    fn proto_to_execution_plan(
        &self,
        proto: &protobuf::PhysicalPlanNode,
        ctx: &PhysicalPlanDecodeContext<'_>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        proto.try_into_physical_plan_with_context(ctx, self)
    }

    fn execution_plan_to_proto(
        &self,
        plan: &Arc<dyn ExecutionPlan>,
        codec: &dyn PhysicalExtensionCodec,
    ) -> Result<protobuf::PhysicalPlanNode> {
        protobuf::PhysicalPlanNode::try_from_physical_plan_with_converter(Arc::clone(plan), codec, self)
    }

    fn proto_to_physical_expr(
        &self,
        proto: &protobuf::PhysicalExprNode,
        input_schema: &Schema,
        ctx: &PhysicalPlanDecodeContext<'_>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let expr = parse_physical_expr_with_converter(proto, input_schema, ctx, self)?;
        Ok(with_udf_field(expr, input_schema).unwrap_or_else(|e| e))
    }

    fn physical_expr_to_proto(
        &self,
        expr: &Arc<dyn PhysicalExpr>,
        codec: &dyn PhysicalExtensionCodec,
    ) -> Result<protobuf::PhysicalExprNode> {
        serialize_physical_expr_with_converter(expr, codec, self)
    }
}

/// `expr` with its UDF return field recomputed when that field has metadata (`Ok`), or
/// `expr` unchanged (`Err`).
fn with_udf_field(
    expr: Arc<dyn PhysicalExpr>,
    input_schema: &Schema,
) -> std::result::Result<Arc<dyn PhysicalExpr>, Arc<dyn PhysicalExpr>> {
    let Some(call) = expr.downcast_ref::<ScalarFunctionExpr>() else {
        return Err(expr);
    };
    let arg_fields: Vec<FieldRef> = match call.args().iter().map(|a| a.return_field(input_schema)).collect() {
        Ok(f) => f,
        Err(_) => return Err(expr),
    };
    let literals: Vec<Option<&datafusion::common::ScalarValue>> = call
        .args()
        .iter()
        .map(|a| a.downcast_ref::<Literal>().map(|l| l.value()))
        .collect();
    let args = ReturnFieldArgs {
        arg_fields: &arg_fields,
        scalar_arguments: &literals,
    };
    let field = match call.fun().return_field_from_args(args) {
        Ok(f) if !f.metadata().is_empty() && f.data_type() == call.return_type() => f,
        _ => return Err(expr),
    };
    let old = call.return_field(input_schema).map_err(|_| Arc::clone(&expr))?;
    let field = Arc::new(
        field
            .as_ref()
            .clone()
            .with_name(old.name())
            .with_nullable(old.is_nullable()),
    );
    let rebuilt = ScalarFunctionExpr::new(
        call.name(),
        Arc::new(call.fun().clone()),
        call.args().to_vec(),
        field,
        Arc::new(call.config_options().clone()),
    );
    Ok(Arc::new(rebuilt))
}

#[cfg(test)]
mod tests {
    use super::super::WireCodec;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::Result;
    use datafusion::logical_expr::{
        ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility,
    };
    use datafusion::physical_expr::{PhysicalExpr, ScalarFunctionExpr};
    use datafusion::physical_plan::empty::EmptyExec;
    use datafusion::physical_plan::expressions::Column;
    use datafusion::physical_plan::projection::ProjectionExec;
    use datafusion::physical_plan::ExecutionPlan;
    use std::collections::HashMap;
    use std::sync::Arc;

    /// A UDF whose result field carries metadata (as `COMPLEX<json>` functions do).
    #[derive(Debug, PartialEq, Eq, Hash)]
    struct Marked(Signature);

    impl ScalarUDFImpl for Marked {
        fn name(&self) -> &str {
            "marked"
        }
        fn signature(&self) -> &Signature {
            &self.0
        }
        fn return_type(&self, _: &[DataType]) -> Result<DataType> {
            Ok(DataType::Utf8)
        }
        fn return_field_from_args(&self, _: ReturnFieldArgs) -> Result<arrow::datatypes::FieldRef> {
            let meta = HashMap::from([("ARROW:extension:name".to_string(), "arrow.json".to_string())]);
            Ok(Arc::new(Field::new("marked", DataType::Utf8, true).with_metadata(meta)))
        }
        fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
            Ok(args.args[0].clone())
        }
    }

    #[test]
    fn decoded_udf_calls_keep_their_field_metadata() {
        let udf = Arc::new(ScalarUDF::new_from_impl(Marked(Signature::any(
            1,
            Volatility::Immutable,
        ))));
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, true)]));
        let input: Arc<dyn ExecutionPlan> = Arc::new(EmptyExec::new(schema.clone()));
        let call = ScalarFunctionExpr::try_new(
            udf.clone(),
            vec![Arc::new(Column::new("s", 0))],
            &schema,
            Default::default(),
        )
        .unwrap();
        assert!(!call.return_field(&schema).unwrap().metadata().is_empty());
        let plan: Arc<dyn ExecutionPlan> =
            Arc::new(ProjectionExec::try_new(vec![(Arc::new(call) as _, "j".to_string())], input).unwrap());
        let sc = datafusion::prelude::SessionContext::new();
        sc.register_udf(udf.as_ref().clone());
        let codec = WireCodec::new(sc.task_ctx());
        let back = codec.decode_plan(&codec.encode_plan(&plan).unwrap()).unwrap();
        let field = back.schema().field(0).clone();
        assert_eq!(field.name(), "j");
        assert_eq!(
            field.metadata().get("ARROW:extension:name").map(String::as_str),
            Some("arrow.json")
        );
    }
}
