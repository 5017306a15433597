//! A datafusion-proto extension codec for msq-rs's own leaf operators: `ExternalScanExec`,
//! `SegmentScanExec` and `ShuffleReaderExec` travel as JSON inside the protobuf extension
//! node; everything else in a fragment is DataFusion's own protobuf (a bound `LOOKUP` carries
//! its map as the function's definition).

use super::proto_text;
use crate::exec::{ExternalScanExec, SegmentScanExec, SegmentSlice, ShuffleReaderExec};
use arrow::datatypes::Schema;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::LexOrdering;
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::physical_plan::from_proto::parse_physical_sort_exprs;
use datafusion_proto::physical_plan::to_proto::serialize_physical_sort_exprs;
use datafusion_proto::physical_plan::{
    PhysicalExtensionCodec, PhysicalPlanDecodeContext, PhysicalProtoConverterExtension,
};
use datafusion_proto::protobuf::PhysicalSortExprNodeCollection;
use msq_engine::input::{InputFormat, InputSource, InputSplit};
use msq_engine::signature::Signature;
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Encodes msq-rs leaf operators as JSON extension nodes; functions go by name (the default),
/// resolved on decoding through the caller's registry.
#[derive(Debug, Default, Clone, Copy)]
pub struct MsqPhysicalCodec;

/// The JSON body of one extension node.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "exec", rename_all = "camelCase", rename_all_fields = "camelCase")]
enum LeafNode {
    ExternalScan {
        source: InputSource,
        format: InputFormat,
        signature: Signature,
        partitions: usize,
        splits: Option<Vec<Vec<InputSplit>>>,
        projection: Option<Vec<usize>>,
        input_number: usize,
    },
    SegmentScan {
        data_source: String,
        segments: Vec<Vec<SegmentSlice>>,
        table_schema: Schema,
        projection: Option<Vec<usize>>,
        input_number: usize,
    },
    ShuffleReader {
        stage: usize,
        input_number: usize,
        partitions: usize,
        schema: Schema,
        /// Base64 protobuf `PhysicalSortExprNodeCollection` over `schema`.
        ordering: Option<String>,
    },
}

fn codec_error(msg: impl Into<String>) -> DataFusionError {
    DataFusionError::Internal(format!("msq wire codec: {}", msg.into()))
}

impl LeafNode {
    fn from_plan(
        node: &dyn ExecutionPlan,
        codec: &dyn PhysicalExtensionCodec,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Self> {
        if let Some(e) = node.downcast_ref::<ExternalScanExec>() {
            // Decoding rebuilds the scan from its signature: refuse scans that would not come back.
            if e.table_schema != e.signature.to_arrow_schema() {
                return Err(codec_error(
                    "ExternalScanExec whose table schema differs from its signature",
                ));
            }
            return Ok(LeafNode::ExternalScan {
                source: e.source.clone(),
                format: e.format.clone(),
                signature: e.signature.clone(),
                partitions: e.partitions,
                splits: e.splits.clone(),
                projection: e.projection.clone(),
                input_number: e.input_number,
            });
        }
        if let Some(s) = node.downcast_ref::<SegmentScanExec>() {
            return Ok(LeafNode::SegmentScan {
                data_source: s.data_source.clone(),
                segments: s.segments.clone(),
                table_schema: s.table_schema.as_ref().clone(),
                projection: s.projection.clone(),
                input_number: s.input_number,
            });
        }
        if let Some(r) = node.downcast_ref::<ShuffleReaderExec>() {
            let ordering = match &r.ordering {
                Some(o) => {
                    let nodes = serialize_physical_sort_exprs(o.iter().cloned(), codec, converter)?;
                    let collection = PhysicalSortExprNodeCollection {
                        physical_sort_expr_nodes: nodes,
                    };
                    Some(proto_text::to_base64(&collection))
                }
                None => None,
            };
            return Ok(LeafNode::ShuffleReader {
                stage: r.stage,
                input_number: r.input_number,
                partitions: r.partitions,
                schema: r.schema().as_ref().clone(),
                ordering,
            });
        }
        Err(DataFusionError::NotImplemented(format!(
            "msq wire codec: cannot serialize operator {}",
            node.name()
        )))
    }

    fn into_plan(
        self,
        ctx: &TaskContext,
        codec: &dyn PhysicalExtensionCodec,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(match self {
            LeafNode::ExternalScan {
                source,
                format,
                signature,
                partitions,
                splits,
                projection,
                input_number,
            } => {
                let scan = ExternalScanExec::new(source, format, signature, partitions, projection, input_number)?;
                match splits {
                    Some(s) => Arc::new(scan.with_splits(s)),
                    None => Arc::new(scan),
                }
            }
            LeafNode::SegmentScan {
                data_source,
                segments,
                table_schema,
                projection,
                input_number,
            } => Arc::new(SegmentScanExec::new(
                data_source,
                segments,
                Arc::new(table_schema),
                projection,
                input_number,
            )?),
            LeafNode::ShuffleReader {
                stage,
                input_number,
                partitions,
                schema,
                ordering,
            } => {
                let ordering = match ordering {
                    Some(text) => {
                        let collection: PhysicalSortExprNodeCollection = proto_text::from_base64(&text)?;
                        let decode_ctx = PhysicalPlanDecodeContext::new(ctx, codec);
                        let sort = parse_physical_sort_exprs(
                            &collection.physical_sort_expr_nodes,
                            &decode_ctx,
                            &schema,
                            converter,
                        )?;
                        Some(LexOrdering::new(sort).ok_or_else(|| codec_error("empty ShuffleReaderExec ordering"))?)
                    }
                    None => None,
                };
                Arc::new(ShuffleReaderExec::new(
                    stage,
                    input_number,
                    Arc::new(schema),
                    partitions,
                    ordering,
                ))
            }
        })
    }
}

impl PhysicalExtensionCodec for MsqPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !inputs.is_empty() {
            return Err(codec_error(format!(
                "leaf operator encoded with {} inputs",
                inputs.len()
            )));
        }
        let node: LeafNode =
            serde_json::from_slice(buf).map_err(|e| codec_error(format!("bad extension node JSON: {e}")))?;
        node.into_plan(ctx, self, proto_converter)
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        proto_converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        let leaf = LeafNode::from_plan(node.as_ref(), self, proto_converter)?;
        serde_json::to_writer(buf, &leaf).map_err(|e| codec_error(format!("cannot write extension node: {e}")))
    }

    /// A bound `LOOKUP` carries its map ([`crate::lookup`]); other functions go by name.
    fn try_encode_udf(&self, node: &datafusion::logical_expr::ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        crate::lookup::LookupFn::encode(node, buf)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<datafusion::logical_expr::ScalarUDF>> {
        if name == crate::lookup::LOOKUP_FN && !buf.is_empty() {
            return crate::lookup::LookupFn::decode(buf);
        }
        Err(codec_error(format!("unknown scalar function [{name}]")))
    }
}
