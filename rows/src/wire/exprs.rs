//! Protobuf messages (physical expressions, sort orders) as base64 text inside JSON.

use super::plan_codec::MsqPhysicalCodec;
use arrow::datatypes::Schema;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion_proto::physical_plan::from_proto::parse_physical_expr;
use datafusion_proto::physical_plan::to_proto::serialize_physical_expr;
use datafusion_proto::protobuf::PhysicalExprNode;
use prost::Message;
use std::sync::Arc;

/// A protobuf message as base64 text.
pub(crate) fn to_base64<M: Message>(message: &M) -> String {
    STANDARD.encode(message.encode_to_vec())
}

/// Parses a protobuf message from base64 text.
pub(crate) fn from_base64<M: Message + Default>(text: &str) -> Result<M> {
    let bytes = STANDARD
        .decode(text)
        .map_err(|e| DataFusionError::Internal(format!("msq wire codec: bad base64: {e}")))?;
    M::decode(bytes.as_slice()).map_err(|e| DataFusionError::Internal(format!("msq wire codec: bad protobuf: {e}")))
}

/// A physical expression as base64 protobuf.
pub(crate) fn encode_expr(expr: &Arc<dyn PhysicalExpr>) -> Result<String> {
    Ok(to_base64(&serialize_physical_expr(expr, &MsqPhysicalCodec)?))
}

/// Decodes a physical expression over `schema`, resolving functions through `registry`.
pub(crate) fn decode_expr(text: &str, registry: &TaskContext, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
    let node: PhysicalExprNode = from_base64(text)?;
    parse_physical_expr(&node, registry, schema, &MsqPhysicalCodec)
}
