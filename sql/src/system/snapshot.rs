//! What the system tables show, read once from the metadata store when a query is planned:
//! the datasources with used segments (and those segments, when a table needs them), the
//! lookups, the tasks, and this node.

use super::definitions::SystemTable;
use msq_engine::metadata::{MetadataStore, SegmentRecord, TaskFilter, TaskRecord};
use msq_engine::Result;
use std::collections::BTreeMap;

/// This node as `sys.servers` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    /// `host:port`.
    pub server: String,
    pub host: String,
    /// -1 when unknown.
    pub plaintext_port: i64,
    /// -1: no TLS.
    pub tls_port: i64,
    /// Druid's service type (`BROKER`: the node that answers SQL).
    pub server_type: String,
    /// ISO instant the node started.
    pub start_time: String,
    pub version: String,
}

impl ServerInfo {
    /// The node serving at `host_port` (`host:port`, or a bare host when the port is not
    /// known), answering SQL as Druid's Broker does.
    pub fn broker(host_port: &str, start_time: &str, version: &str) -> ServerInfo {
        let (host, port) = match host_port.rsplit_once(':') {
            Some((h, p)) => match p.parse::<i64>() {
                Ok(p) => (h.to_string(), p),
                Err(_) => (host_port.to_string(), -1),
            },
            None => (host_port.to_string(), -1),
        };
        ServerInfo {
            server: host_port.to_string(),
            host,
            plaintext_port: port,
            tls_port: -1,
            server_type: "BROKER".into(),
            start_time: start_time.to_string(),
            version: version.to_string(),
        }
    }
}

/// The state the system tables of one query are built from.
#[derive(Debug, Clone)]
pub struct CatalogSnapshot {
    /// Every datasource with used segments, by name, with its used segments (left empty when
    /// the query's tables need only the names).
    pub datasources: BTreeMap<String, Vec<SegmentRecord>>,
    /// The lookups of the `__default` tier (tables `lookup.<name>`), by name.
    pub lookups: Vec<String>,
    /// Every task, newest first (empty unless `sys.tasks` is read).
    pub tasks: Vec<TaskRecord>,
    pub server: ServerInfo,
}

impl CatalogSnapshot {
    /// Reads what `tables` show (blocking: call from a blocking thread).
    pub fn take(metadata: &dyn MetadataStore, tables: &[SystemTable], server: ServerInfo) -> Result<CatalogSnapshot> {
        use SystemTable as T;
        let needs = |wanted: &[SystemTable]| tables.iter().any(|t| wanted.contains(t));
        let mut datasources = BTreeMap::new();
        if needs(&[T::Tables, T::Columns, T::Segments, T::ServerSegments]) {
            let with_segments = needs(&[T::Columns, T::Segments, T::ServerSegments]);
            for name in metadata.data_sources()? {
                let segments = if with_segments {
                    metadata.used_segments(&name, None)?
                } else {
                    Vec::new()
                };
                datasources.insert(name, segments);
            }
        }
        let lookups = if needs(&[T::Tables, T::Columns]) {
            let default = msq_engine::metadata::lookup::DEFAULT_TIER;
            let all = metadata.lookups()?;
            all.into_iter().filter(|r| r.tier == default).map(|r| r.name).collect()
        } else {
            Vec::new()
        };
        let tasks = if needs(&[T::Tasks]) {
            metadata.list_tasks(&TaskFilter::default())?
        } else {
            Vec::new()
        };
        Ok(CatalogSnapshot {
            datasources,
            lookups,
            tasks,
            server,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_node_from_its_address() {
        let s = ServerInfo::broker("127.0.0.1:8888", "2024-01-01T00:00:00.000Z", "1.0");
        assert_eq!((s.host.as_str(), s.plaintext_port, s.tls_port), ("127.0.0.1", 8888, -1));
        assert_eq!(s.server, "127.0.0.1:8888");
        let s = ServerInfo::broker("localhost", "", "");
        assert_eq!((s.host.as_str(), s.plaintext_port), ("localhost", -1));
    }
}
