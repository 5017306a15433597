//! Reading stage outputs wherever the controller says they are: this process's store, another
//! worker over HTTP (Arrow IPC stream), or durable shuffle storage (Arrow IPC files in an
//! object store). Readers merge the sorted streams of all workers of a stage.

use super::run::Run;
use super::store::{stream_runs, InProcessShuffle, ShuffleFetcher};
use crate::rpc::ClusterAuth;
use datafusion::physical_plan::SendableRecordBatchStream;
use msq_engine::protocol::{InputStageLocation, OutputLocation};
use msq_engine::{MsqError, Result};
use object_store::ObjectStore;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Object-store path of one worker attempt's durable output of a stage.
pub fn durable_prefix(query_id: &str, stage: usize, worker: usize, attempt: u32) -> String {
    format!(
        "{}/stage_{stage}/worker_{worker}_{attempt}",
        durable_query_prefix(query_id)
    )
}

/// Object-store prefix of everything a query wrote to durable shuffle storage.
pub fn durable_query_prefix(query_id: &str) -> String {
    format!("shuffle/{query_id}")
}

/// Durable file of one partition under a worker's stage prefix.
pub fn durable_partition_path(prefix: &str, partition: usize) -> String {
    format!("{prefix}/partition_{partition}.arrow")
}

/// HTTP path of a worker's channel: one output partition of one stage.
pub fn channel_path(query_id: &str, worker: usize, stage: usize, partition: usize) -> String {
    format!("/druid/worker/v1/channels/{query_id}/{worker}/{stage}/{partition}")
}

/// A [`ShuffleFetcher`] over the input locations of one work order.
#[derive(Debug)]
pub struct LocatedFetcher {
    pub query_id: String,
    pub inputs: BTreeMap<usize, InputStageLocation>,
    /// Outputs of embedded workers of this process.
    pub local: Arc<InProcessShuffle>,
    /// Durable shuffle storage, when the query uses it.
    pub durable: Option<Arc<dyn ObjectStore>>,
    /// Credentials for other workers' channels.
    pub auth: ClusterAuth,
    /// Where durable partitions are staged while read.
    pub scratch: PathBuf,
}

impl LocatedFetcher {
    fn location(&self, stage: usize) -> Result<&InputStageLocation> {
        self.inputs
            .get(&stage)
            .ok_or_else(|| MsqError::Unknown(format!("work order has no location for input stage {stage}")))
    }
}

impl ShuffleFetcher for LocatedFetcher {
    fn read_partition(&self, stage: usize, partition: usize, batch_size: usize) -> Result<SendableRecordBatchStream> {
        let Ok(loc) = self.location(stage) else {
            return self.local.read_partition(stage, partition, batch_size);
        };
        if loc.sources.iter().all(|s| *s == OutputLocation::Local) {
            return self.local.read_partition(stage, partition, batch_size);
        }
        let schema = loc.schema.clone();
        let mut runs = Vec::new();
        for source in &loc.sources {
            match source {
                OutputLocation::Local => runs.extend(self.local.partition_runs(stage, partition)),
                OutputLocation::Http { url, worker } => runs.push(Run::Http {
                    url: format!(
                        "{}{}",
                        url.trim_end_matches('/'),
                        channel_path(&self.query_id, *worker, stage, partition)
                    ),
                    authorization: self.auth.authorization(),
                }),
                OutputLocation::Durable { prefix } => {
                    let store = self.durable.clone().ok_or_else(|| {
                        MsqError::Unknown("input is in durable shuffle storage, which is not configured".into())
                    })?;
                    runs.push(Run::Object {
                        store,
                        path: durable_partition_path(prefix, partition),
                        scratch: self.scratch.clone(),
                    });
                }
            }
        }
        Ok(stream_runs(schema, runs, loc.sort.clone(), batch_size))
    }

    fn partition_count(&self, stage: usize) -> Result<usize> {
        match self.location(stage) {
            Ok(loc) => Ok(loc.partition_count),
            Err(_) => self.local.partition_count(stage),
        }
    }
}
