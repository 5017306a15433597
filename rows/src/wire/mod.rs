//! The wire format of work orders, so workers can run in other processes.
//!
//! A work order travels as JSON ([`WireCodec::encode_work_order`]): plain parts (inputs,
//! settings, segment generation specs, range shuffles, ...) through their own serde, the
//! plan fragment as base64 protobuf (datafusion-proto, with [`MsqPhysicalCodec`] for our
//! leaf operators) and hash-shuffle keys as base64 protobuf expressions over the stage's
//! output schema. Functions travel by name; decoding resolves them through the registry the
//! caller gives [`WireCodec::new`] (for msq-rs plans: `msq_sql::registry::function_registry`).

mod codec;
mod exprs;
mod plan_codec;
mod proto_text;
mod udf_fields;
mod work_order;

#[cfg(test)]
mod tests;

pub use codec::WireCodec;
pub use plan_codec::MsqPhysicalCodec;
pub use work_order::WIRE_VERSION;
