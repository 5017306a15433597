//! [`WireCodec`]: plans and expressions to and from bytes and text.

use super::exprs;
use super::plan_codec::MsqPhysicalCodec;
use arrow::datatypes::Schema;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::bytes::physical_plan_to_bytes_with_extension_codec;
use msq_engine::{MsqError, Result};
use std::fmt;
use std::sync::Arc;

/// Encodes/decodes plans and work orders; `registry` resolves functions by name when decoding.
#[derive(Clone)]
pub struct WireCodec {
    registry: Arc<TaskContext>,
}

impl fmt::Debug for WireCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WireCodec").finish_non_exhaustive()
    }
}

/// A wire-format failure: `what` failed because of `e`.
pub(super) fn wire_error(what: &str, e: impl fmt::Display) -> MsqError {
    MsqError::Unknown(format!("wire format: {what}: {e}"))
}

impl WireCodec {
    /// A codec decoding functions through `registry` (a task context holding every UDF and
    /// UDAF plans may name).
    pub fn new(registry: Arc<TaskContext>) -> Self {
        WireCodec { registry }
    }

    /// A plan as protobuf bytes.
    pub fn encode_plan(&self, plan: &Arc<dyn ExecutionPlan>) -> Result<Vec<u8>> {
        physical_plan_to_bytes_with_extension_codec(plan.clone(), &MsqPhysicalCodec)
            .map(|b| b.to_vec())
            .map_err(|e| wire_error("cannot encode plan", e))
    }

    /// The plan of protobuf bytes made by [`WireCodec::encode_plan`].
    pub fn decode_plan(&self, bytes: &[u8]) -> Result<Arc<dyn ExecutionPlan>> {
        // Decoded with the field metadata of UDF results (COMPLEX<json>), which protobuf drops.
        let converter = super::udf_fields::UdfFieldConverter;
        datafusion_proto::bytes::physical_plan_from_bytes_with_proto_converter(
            bytes,
            &self.registry,
            &MsqPhysicalCodec,
            &converter,
        )
        .map_err(|e| wire_error("cannot decode plan", e))
    }

    pub(super) fn plan_to_text(&self, plan: &Arc<dyn ExecutionPlan>) -> Result<String> {
        Ok(STANDARD.encode(self.encode_plan(plan)?))
    }

    pub(super) fn plan_from_text(&self, text: &str) -> Result<Arc<dyn ExecutionPlan>> {
        let bytes = STANDARD.decode(text).map_err(|e| wire_error("plan is not base64", e))?;
        self.decode_plan(&bytes)
    }

    pub(super) fn expr_to_text(&self, expr: &Arc<dyn PhysicalExpr>) -> Result<String> {
        exprs::encode_expr(expr).map_err(|e| wire_error(&format!("cannot encode expression {expr}"), e))
    }

    pub(super) fn expr_from_text(&self, text: &str, schema: &Schema) -> Result<Arc<dyn PhysicalExpr>> {
        exprs::decode_expr(text, &self.registry, schema).map_err(|e| wire_error("cannot decode expression", e))
    }
}
