//! Protobuf messages as base64 text inside JSON.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use datafusion::error::{DataFusionError, Result};
use prost::Message;

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
