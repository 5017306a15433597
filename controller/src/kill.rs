//! Druid's `kill` task: permanently deletes the unused segments of a dataSource that lie
//! wholly inside an interval — their records from the metadata store, then their files from
//! deep storage. Used segments are never touched.
//!
//! As Druid's `KillUnusedSegmentsTask`, the task first takes an exclusive time-chunk lock on
//! its interval (waiting up to `taskLockTimeout` for running ingestions there), so it never
//! runs beside an INSERT or REPLACE of the same time chunks. The records go in one metadata
//! transaction that checks the lock again and deletes only rows still unused at that moment;
//! files are deleted afterwards (a record never outlives its file), and only a file the
//! segment's id owns (`SegmentId::owns_path`) that no remaining record names. The task is an
//! ordinary task of the Tasks API (type `kill`) with Druid's `killUnusedSegments` report.

use crate::overlord::Overlord;
use msq_engine::context::DEFAULT_TASK_LOCK_TIMEOUT_MS;
use msq_engine::granularity::{format_millis, parse_instant, Interval};
use msq_engine::ids::{validate_datasource, validate_id};
use msq_engine::metadata::store::files_to_delete;
use msq_engine::metadata::{KillRequest, TaskRecord};
use msq_engine::{MsqError, Result};
use serde_json::{json, Map, Value};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Druid's default number of segments per kill batch.
pub const DEFAULT_BATCH_SIZE: u64 = 100;

/// A validated `kill` task spec.
#[derive(Debug, Clone, PartialEq)]
pub struct KillSpec {
    pub id: String,
    pub data_source: String,
    pub interval: Interval,
    pub batch_size: u64,
    pub limit: Option<u64>,
    /// ISO instant, as stored in `used_status_last_updated`.
    pub max_used_status_last_updated: Option<String>,
    pub context: Map<String, Value>,
}

fn invalid(msg: impl Into<String>) -> MsqError {
    MsqError::Validation(msg.into())
}

/// An interval as Druid's APIs take it: `<start>/<end>` in ISO-8601 (URLs use `_` for `/`),
/// with the end not before the start.
pub fn parse_interval(text: &str) -> Result<Interval> {
    let iv = Interval::parse(text.trim()).ok_or_else(|| {
        invalid(format!(
            "Invalid interval [{text}]: expected <start>/<end> in ISO-8601, e.g. 2015-09-12/2015-09-13"
        ))
    })?;
    if iv.end < iv.start {
        return Err(invalid(format!(
            "Invalid interval [{text}]: the end instant must be greater than the start instant"
        )));
    }
    Ok(iv)
}

/// Druid's generated task id: `[<prefix>_]kill_<dataSource>_<random>_<start>_<end>_<now>`.
pub fn new_task_id(prefix: Option<&str>, data_source: &str, interval: Interval) -> String {
    let random: String = uuid::Uuid::new_v4().as_bytes()[..8]
        .iter()
        .map(|b| char::from(b'a' + (b & 0x0F)))
        .collect();
    let (start, end) = interval
        .to_iso()
        .split_once('/')
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .unwrap_or_default();
    let now = format_millis(chrono::Utc::now().timestamp_millis());
    let mut parts: Vec<&str> = prefix.into_iter().collect();
    parts.extend([
        "kill",
        data_source,
        random.as_str(),
        start.as_str(),
        end.as_str(),
        now.as_str(),
    ]);
    parts.join("_")
}

/// An optional positive integer field.
fn positive(spec: &Value, field: &str) -> Result<Option<u64>> {
    match spec.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(n) if n > 0 && n <= i64::from(i32::MAX) => Ok(Some(n as u64)),
            _ => Err(invalid(format!("{field}[{v}] must be a positive integer."))),
        },
    }
}

/// A required or optional string field.
fn text<'a>(spec: &'a Value, field: &str) -> Result<Option<&'a str>> {
    match spec.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.as_str())),
        Some(v) => Err(invalid(format!(
            "Invalid value for field [{field}]: expected a string, got {v}"
        ))),
    }
}

impl KillSpec {
    /// Parses and validates a `kill` task spec; `id_prefix` names who issued it when the spec
    /// has no `id` (`api-issued` for the coordinator's DELETE).
    pub fn parse(spec: &Value, id_prefix: Option<&str>) -> Result<KillSpec> {
        if !spec.is_object() {
            return Err(invalid("A task spec must be a JSON object"));
        }
        let data_source = text(spec, "dataSource")?.ok_or_else(|| invalid("Missing required field [dataSource]"))?;
        validate_datasource("dataSource", data_source)?;
        let interval =
            parse_interval(text(spec, "interval")?.ok_or_else(|| invalid("Missing required field [interval]"))?)?;
        if spec.get("markAsUnused").and_then(Value::as_bool) == Some(true) {
            return Err(MsqError::QueryNotSupported(
                "markAsUnused is not supported by kill tasks; mark segments unused first with POST /druid/coordinator/v1/datasources/{dataSource}/markUnused or DELETE /druid/coordinator/v1/datasources/{dataSource}".into(),
            ));
        }
        let id = match text(spec, "id")? {
            Some(id) => {
                validate_id("id", id)?;
                id.to_string()
            }
            None => new_task_id(id_prefix, data_source, interval),
        };
        let max_used_status_last_updated = match text(spec, "maxUsedStatusLastUpdatedTime")? {
            None => None,
            Some(t) => Some(format_millis(parse_instant(t).ok_or_else(|| {
                invalid(format!(
                    "Invalid maxUsedStatusLastUpdatedTime [{t}]: expected an ISO-8601 instant"
                ))
            })?)),
        };
        let context = match spec.get("context") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(m)) => m.clone(),
            Some(v) => {
                return Err(invalid(format!(
                    "Invalid value for field [context]: expected an object, got {v}"
                )))
            }
        };
        Ok(KillSpec {
            id,
            data_source: data_source.to_string(),
            interval,
            batch_size: positive(spec, "batchSize")?.unwrap_or(DEFAULT_BATCH_SIZE),
            limit: positive(spec, "limit")?,
            max_used_status_last_updated,
            context,
        })
    }

    /// The task payload the Tasks API shows.
    pub fn payload(&self) -> Value {
        json!({
            "type": "kill",
            "id": self.id,
            "groupId": self.id,
            "dataSource": self.data_source,
            "interval": self.interval.to_iso(),
            "context": self.context,
            "batchSize": self.batch_size,
            "limit": self.limit,
            "maxUsedStatusLastUpdatedTime": self.max_used_status_last_updated,
        })
    }

    /// How long to wait for the exclusive lock: the context's `taskLockTimeout` (Druid's
    /// default 5 minutes).
    fn lock_timeout(&self) -> Duration {
        let ms = match self.context.get("taskLockTimeout") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Duration::from_millis(ms.unwrap_or(DEFAULT_TASK_LOCK_TIMEOUT_MS as u64))
    }
}

/// What a kill did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KillStats {
    pub segments_killed: usize,
    pub files_deleted: usize,
    pub batches: usize,
}

/// Records the kill task and starts it; returns its id (the task runs on).
pub async fn submit(overlord: &Overlord, spec: KillSpec) -> Result<String> {
    let md = overlord.metadata.clone();
    let id = spec.id.clone();
    let exists = msq_engine::blocking(move || md.get_task(&id)).await?.is_some();
    if exists {
        return Err(invalid(format!("Task [{}] already exists", spec.id)));
    }
    let now = format_millis(chrono::Utc::now().timestamp_millis());
    let record = TaskRecord {
        id: spec.id.clone(),
        group_id: spec.id.clone(),
        task_type: "kill".into(),
        data_source: spec.data_source.clone(),
        created_time: now.clone(),
        queue_insertion_time: now,
        status: "RUNNING".into(),
        runner_status: "WAITING".into(),
        duration_ms: -1,
        error_msg: None,
        location: overlord.location(),
        payload: spec.payload(),
        report: None,
        opaque_id: None,
    };
    let md = overlord.metadata.clone();
    msq_engine::blocking(move || md.insert_task(&record)).await?;
    let (o, id) = (overlord.clone(), spec.id.clone());
    tokio::spawn(async move { run(&o, &spec).await });
    Ok(id)
}

/// Runs a recorded kill task to the end: its status, report and log are stored, its lock
/// released, whatever happens.
pub async fn run(o: &Overlord, spec: &KillSpec) {
    let started = Instant::now();
    let log = |line: String| {
        let _ = o.metadata.append_task_log(&spec.id, &line);
    };
    log(format!(
        "Task [{}] started: kill unused segments of dataSource [{}] in interval [{}]",
        spec.id,
        spec.data_source,
        spec.interval.to_iso()
    ));
    let outcome = kill(o, spec).await;
    let _ = o.metadata.release_locks(&spec.id);
    let Ok(Some(mut rec)) = o.metadata.get_task(&spec.id) else {
        return;
    };
    rec.duration_ms = started.elapsed().as_millis() as i64;
    rec.runner_status = "NONE".into();
    let stats = match &outcome {
        Ok(s) => {
            rec.status = "SUCCESS".into();
            log(format!(
                "Deleted [{}] unused segments ({} files) in [{}] batches",
                s.segments_killed, s.files_deleted, s.batches
            ));
            *s
        }
        Err(e) => {
            rec.status = "FAILED".into();
            rec.error_msg = Some(format!("{}: {e}", e.error_code()));
            log(format!("Task failed: {}: {e}", e.error_code()));
            KillStats::default()
        }
    };
    let _ = o.metadata.update_task(&rec);
    let _ = o.metadata.set_task_report(&spec.id, &report(&spec.id, &stats));
}

/// Druid's kill task report.
pub fn report(task_id: &str, s: &KillStats) -> Value {
    json!({"killUnusedSegments": {
        "type": "killUnusedSegments",
        "taskId": task_id,
        "payload": {
            "numSegmentsKilled": s.segments_killed,
            "numBatchesProcessed": s.batches,
            "numSegmentsMarkedAsUnused": 0,
        }
    }})
}

/// Takes the lock, deletes the records, then the files.
async fn kill(o: &Overlord, spec: &KillSpec) -> Result<KillStats> {
    let (_keep, cancel) = watch::channel(false);
    let now_version = format_millis(chrono::Utc::now().timestamp_millis());
    crate::locking::lock_for_replace(
        &o.metadata,
        &spec.id,
        &spec.data_source,
        &[spec.interval],
        &now_version,
        spec.lock_timeout(),
        &cancel,
    )
    .await?;
    if let Ok(Some(mut rec)) = o.metadata.get_task(&spec.id) {
        rec.runner_status = "RUNNING".into();
        let _ = o.metadata.update_task(&rec);
    }
    let req = KillRequest {
        data_source: spec.data_source.clone(),
        interval: spec.interval,
        task_id: Some(spec.id.clone()),
        limit: spec.limit.map(|l| l as usize),
        max_used_status_last_updated: spec.max_used_status_last_updated.clone(),
    };
    let md = o.metadata.clone();
    let result = msq_engine::blocking(move || md.kill_unused_segments(&req)).await?;
    let files = files_to_delete(&result);
    let batch = spec.batch_size.max(1) as usize;
    let mut deleted = 0;
    for chunk in files.chunks(batch) {
        deleted += crate::recovery::delete_files(o.deep_storage.clone(), chunk.to_vec()).await;
    }
    Ok(KillStats {
        segments_killed: result.killed.len(),
        files_deleted: deleted,
        batches: result.killed.len().div_ceil(batch),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_like_druids() {
        let s = KillSpec::parse(
            &json!({"type": "kill", "id": "k1", "dataSource": "wiki", "interval": "2015-09-12/2015-09-13", "batchSize": 5}),
            None,
        )
        .unwrap();
        assert_eq!(s.id, "k1");
        assert_eq!(s.interval.to_iso(), "2015-09-12T00:00:00.000Z/2015-09-13T00:00:00.000Z");
        assert_eq!((s.batch_size, s.limit), (5, None));
        let s = KillSpec::parse(
            &json!({"dataSource": "wiki", "interval": "2015-09-12/2015-09-13"}),
            Some("api-issued"),
        )
        .unwrap();
        assert!(s.id.starts_with("api-issued_kill_wiki_"), "{}", s.id);
        assert!(
            s.id.contains("_2015-09-12T00:00:00.000Z_2015-09-13T00:00:00.000Z_"),
            "{}",
            s.id
        );
        assert_eq!(s.batch_size, DEFAULT_BATCH_SIZE);
        for (bad, msg) in [
            (
                json!({"interval": "2015-09-12/2015-09-13"}),
                "Missing required field [dataSource]",
            ),
            (json!({"dataSource": "wiki"}), "Missing required field [interval]"),
            (
                json!({"dataSource": "a/b", "interval": "2015-09-12/2015-09-13"}),
                "cannot contain '/'",
            ),
            (
                json!({"dataSource": "wiki", "interval": "yesterday"}),
                "Invalid interval [yesterday]",
            ),
            (
                json!({"dataSource": "wiki", "interval": "2015-09-13/2015-09-12"}),
                "must be greater",
            ),
            (
                json!({"dataSource": "wiki", "interval": "2015-09-12/2015-09-13", "batchSize": 0}),
                "batchSize[0] must be a positive integer.",
            ),
            (
                json!({"dataSource": "wiki", "interval": "2015-09-12/2015-09-13", "limit": -1}),
                "limit[-1] must be a positive integer.",
            ),
            (
                json!({"dataSource": "wiki", "interval": "2015-09-12/2015-09-13", "id": "../x"}),
                "cannot start with '.'",
            ),
            (
                json!({"dataSource": "wiki", "interval": "2015-09-12/2015-09-13", "markAsUnused": true}),
                "markAsUnused",
            ),
            (json!([1]), "must be a JSON object"),
        ] {
            let e = KillSpec::parse(&bad, None).unwrap_err().to_string();
            assert!(e.contains(msg), "{bad}: {e}");
        }
    }

    #[test]
    fn lock_timeout_from_context() {
        let s = KillSpec::parse(&json!({"dataSource": "w", "interval": "2015-09-12/2015-09-13"}), None).unwrap();
        assert_eq!(s.lock_timeout(), Duration::from_secs(300));
        let s = KillSpec::parse(
            &json!({"dataSource": "w", "interval": "2015-09-12/2015-09-13", "context": {"taskLockTimeout": 250}}),
            None,
        )
        .unwrap();
        assert_eq!(s.lock_timeout(), Duration::from_millis(250));
    }
}
