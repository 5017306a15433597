//! The JSON form of a work order. Plain parts use their own serde; the plan fragment is
//! base64 protobuf and hash-shuffle keys are base64 protobuf expressions over the stage's
//! output schema.

use super::codec::{wire_error, WireCodec};
use arrow::datatypes::Schema;
use msq_engine::protocol::{InputStageLocation, SegmentSlot, WorkOrder, WorkerSettings};
use msq_engine::sort::SortColumn;
use msq_engine::stage::{
    ProcessorKind, RangeShuffle, SegmentGeneratorSpec, ShuffleSpec, StageDefinition, StageInput, StageProcessor,
};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;

/// Version of the work order JSON; decoding refuses other versions.
pub const WIRE_VERSION: u32 = 1;

/// A [`WorkOrder`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireWorkOrder {
    pub wire_version: u32,
    pub query_id: String,
    pub stage: WireStage,
    pub worker_number: usize,
    pub worker_count: usize,
    pub partitions: Vec<usize>,
    pub segments: Vec<SegmentSlot>,
    pub settings: WorkerSettings,
    pub inputs: BTreeMap<usize, InputStageLocation>,
    pub attempt: u32,
}

/// A [`StageDefinition`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WireStage {
    pub stage_number: usize,
    pub id: String,
    pub inputs: Vec<StageInput>,
    pub broadcast: Vec<usize>,
    pub processor: WireProcessor,
    pub schema: Schema,
    pub shuffle: Option<WireShuffle>,
    pub max_worker_count: usize,
}

/// A [`StageProcessor`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub(crate) enum WireProcessor {
    /// `plan`: base64 protobuf `PhysicalPlanNode`.
    Plan {
        kind: ProcessorKind,
        plan: String,
    },
    SegmentGenerator {
        spec: SegmentGeneratorSpec,
    },
}

/// A [`ShuffleSpec`] on the wire.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub(crate) enum WireShuffle {
    Mix,
    /// `keys`: base64 protobuf `PhysicalExprNode`s over the stage's output schema.
    Hash {
        keys: Vec<String>,
        key_names: Vec<String>,
        partitions: usize,
    },
    SortedGather {
        sort: Vec<SortColumn>,
    },
    Range {
        range: RangeShuffle,
    },
}

impl WireWorkOrder {
    /// The wire form of `order`.
    pub fn from_order(order: &WorkOrder, codec: &WireCodec) -> msq_engine::Result<Self> {
        Ok(WireWorkOrder {
            wire_version: WIRE_VERSION,
            query_id: order.query_id.clone(),
            stage: WireStage::from_stage(&order.stage, codec)?,
            worker_number: order.worker_number,
            worker_count: order.worker_count,
            partitions: order.partitions.clone(),
            segments: order.segments.clone(),
            settings: order.settings.clone(),
            inputs: order.inputs.clone(),
            attempt: order.attempt,
        })
    }

    /// The work order this wire form describes.
    pub fn into_order(self, codec: &WireCodec) -> msq_engine::Result<WorkOrder> {
        if self.wire_version != WIRE_VERSION {
            return Err(msq_engine::MsqError::Unknown(format!(
                "wire format: work order version {} is not supported (expected {WIRE_VERSION})",
                self.wire_version
            )));
        }
        Ok(WorkOrder {
            query_id: self.query_id,
            stage: Arc::new(self.stage.into_stage(codec)?),
            worker_number: self.worker_number,
            worker_count: self.worker_count,
            partitions: self.partitions,
            segments: self.segments,
            settings: self.settings,
            inputs: self.inputs,
            attempt: self.attempt,
        })
    }
}

impl WireStage {
    fn from_stage(stage: &StageDefinition, codec: &WireCodec) -> msq_engine::Result<Self> {
        let processor = match &stage.processor {
            StageProcessor::Plan { kind, plan } => WireProcessor::Plan {
                kind: *kind,
                plan: codec.plan_to_text(plan)?,
            },
            StageProcessor::SegmentGenerator(spec) => WireProcessor::SegmentGenerator { spec: spec.clone() },
        };
        let shuffle = match &stage.shuffle {
            None => None,
            Some(ShuffleSpec::Mix) => Some(WireShuffle::Mix),
            Some(ShuffleSpec::Hash {
                keys,
                key_names,
                partitions,
            }) => Some(WireShuffle::Hash {
                keys: keys
                    .iter()
                    .map(|k| codec.expr_to_text(k))
                    .collect::<msq_engine::Result<_>>()?,
                key_names: key_names.clone(),
                partitions: *partitions,
            }),
            Some(ShuffleSpec::SortedGather { sort }) => Some(WireShuffle::SortedGather { sort: sort.clone() }),
            Some(ShuffleSpec::Range(range)) => Some(WireShuffle::Range { range: range.clone() }),
        };
        Ok(WireStage {
            stage_number: stage.stage_number,
            id: stage.id.clone(),
            inputs: stage.inputs.clone(),
            broadcast: stage.broadcast.clone(),
            processor,
            schema: stage.schema.as_ref().clone(),
            shuffle,
            max_worker_count: stage.max_worker_count,
        })
    }

    fn into_stage(self, codec: &WireCodec) -> msq_engine::Result<StageDefinition> {
        let schema = Arc::new(self.schema);
        let processor = match self.processor {
            WireProcessor::Plan { kind, plan } => StageProcessor::Plan {
                kind,
                plan: codec.plan_from_text(&plan)?,
            },
            WireProcessor::SegmentGenerator { spec } => StageProcessor::SegmentGenerator(spec),
        };
        let shuffle = match self.shuffle {
            None => None,
            Some(WireShuffle::Mix) => Some(ShuffleSpec::Mix),
            Some(WireShuffle::Hash {
                keys,
                key_names,
                partitions,
            }) => Some(ShuffleSpec::Hash {
                keys: keys
                    .iter()
                    .map(|k| codec.expr_from_text(k, &schema))
                    .collect::<msq_engine::Result<_>>()?,
                key_names,
                partitions,
            }),
            Some(WireShuffle::SortedGather { sort }) => Some(ShuffleSpec::SortedGather { sort }),
            Some(WireShuffle::Range { range }) => Some(ShuffleSpec::Range(range)),
        };
        Ok(StageDefinition {
            stage_number: self.stage_number,
            id: self.id,
            inputs: self.inputs,
            broadcast: self.broadcast,
            processor,
            schema,
            shuffle,
            max_worker_count: self.max_worker_count,
        })
    }
}

/// Work orders on the wire.
impl WireCodec {
    /// A work order as JSON bytes (the plan inside as base64 protobuf).
    pub fn encode_work_order(&self, order: &WorkOrder) -> msq_engine::Result<Vec<u8>> {
        let wire = WireWorkOrder::from_order(order, self)?;
        serde_json::to_vec(&wire).map_err(|e| wire_error("cannot encode work order", e))
    }

    /// The work order of JSON bytes made by [`WireCodec::encode_work_order`].
    pub fn decode_work_order(&self, bytes: &[u8]) -> msq_engine::Result<WorkOrder> {
        let wire: WireWorkOrder =
            serde_json::from_slice(bytes).map_err(|e| wire_error("cannot decode work order", e))?;
        wire.into_order(self)
    }
}
