//! Physical expressions as base64 protobuf text.

use super::plan_codec::MsqPhysicalCodec;
use super::proto_text::{from_base64, to_base64};
use arrow::datatypes::Schema;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion_proto::physical_plan::from_proto::parse_physical_expr;
use datafusion_proto::physical_plan::to_proto::serialize_physical_expr;
use datafusion_proto::protobuf::PhysicalExprNode;
use std::sync::Arc;

/// A physical expression as base64 protobuf.
pub(crate) fn encode_expr(expr: &Arc<dyn PhysicalExpr>) -> Result<String> {
    Ok(to_base64(&serialize_physical_expr(expr, &MsqPhysicalCodec)?))
}

/// Decodes a physical expression over `schema`, resolving functions through `registry`.
pub(crate) fn decode_expr(text: &str, registry: &TaskContext, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    let node: PhysicalExprNode = from_base64(text)?;
    parse_physical_expr(&node, registry, schema, &MsqPhysicalCodec)
}
