//! The overlord of one msq-rs installation (Druid's Overlord, in one process): the metadata
//! store, deep storage and scratch space, how queries get workers, and the task lifecycle
//! (plan, record, run, store report) that `msq run` and the server share.

use crate::driver::{run_query, QueryEnv, QueryOutcome};
use crate::launcher::{Runner, RunnerKind};
use crate::report::{LiveReport, ReportState};
use crate::worker_protocol::ControllerHub;
use msq_engine::context::{QueryContext, SelectDestination};
use msq_engine::granularity::format_millis;
use msq_engine::metadata::{MetadataStore, TaskRecord};
use msq_engine::signature::ColumnType;
use msq_engine::{MsqError, Result};
use msq_metadata::SqliteMetadataStore;
use msq_rows::rpc::ClusterAuth;
use msq_rows::wire::WireCodec;
use msq_sql::explain::Explanation;
use msq_sql::planner::{plan_statement, PlannedStatement};
use msq_sql::statement::{parse_request, SqlRequest, StatementKind};
use object_store::local::LocalFileSystem;
use object_store::ObjectStore;
use serde_json::{json, Map, Value};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::sync::watch;

/// Metadata, deep storage, scratch space and task runner of one msq-rs installation.
#[derive(Clone)]
pub struct Overlord {
    pub metadata: Arc<dyn MetadataStore>,
    pub deep_storage: Arc<dyn ObjectStore>,
    pub data_dir: PathBuf,
    /// `host:port` reported as task location and in error reports.
    pub host: String,
    /// How queries get workers (embedded by default).
    pub runner: Runner,
    /// Routes messages of HTTP workers to running queries.
    pub hub: Arc<ControllerHub>,
    /// Base URL of the controller endpoints HTTP workers post to.
    pub controller_url: Option<String>,
    /// Temporary storage per task in bytes (0: no limit; default
    /// [`msq_rows::scratch::DEFAULT_MAX_TEMP_STORAGE_BYTES`]).
    pub max_temp_storage_bytes: u64,
    /// Most SELECT result rows a task keeps in memory (none: all; the server keeps what its
    /// reports show).
    pub max_result_rows: Option<usize>,
    /// Where `INSERT INTO EXTERN(...)` exports may write (none configured: refused).
    pub export: crate::export::ExportConfig,
}

/// A statement that passed validation and is ready to run as a task.
pub struct PreparedTask {
    pub task_id: String,
    pub planned: PlannedStatement,
    pub context: QueryContext,
    pub sql: String,
}

impl Overlord {
    /// Opens (creating) the embedded defaults under `data_dir`: SQLite metadata in
    /// `metadata.db`, deep storage in `segments/`, spill files in `tmp/`.
    pub fn open_local(data_dir: &Path) -> Result<Overlord> {
        std::fs::create_dir_all(data_dir.join("segments"))?;
        let metadata = SqliteMetadataStore::open(&data_dir.join("metadata.db"))?;
        let deep = LocalFileSystem::new_with_prefix(data_dir.join("segments"))?;
        Overlord::open(data_dir, Arc::new(metadata), Arc::new(deep))
    }

    /// Runs queries' workers with `runner`. HTTP workers post to `controller_url`; without
    /// one (`msq run`), the controller endpoints are served on an ephemeral loopback port.
    pub async fn use_runner(&mut self, mut runner: Runner, controller_url: Option<String>) -> Result<()> {
        runner.ensure_cluster_secret()?;
        if runner.kind != RunnerKind::Embedded && runner.codec.is_none() {
            runner.codec = Some(WireCodec::new(msq_sql::registry::function_registry()));
        }
        if runner.deep_storage_uri.is_empty() {
            runner.deep_storage_uri = self.data_dir.join("segments").display().to_string();
        }
        self.hub = ControllerHub::with_limits(runner.auth.clone(), runner.registry.clone(), runner.limits);
        self.controller_url = match (controller_url, &runner.kind) {
            (Some(u), _) => Some(u),
            (None, RunnerKind::Embedded) => None,
            (None, _) => Some(crate::worker_protocol::endpoints::serve(self.hub.clone(), "127.0.0.1:0").await?),
        };
        self.runner = runner;
        Ok(())
    }

    /// An overlord over the given metadata store and deep storage (e.g. from
    /// `msq_metadata::open_store` and `msq_rows::storage::open_deep_storage`), with
    /// spill files under `data_dir/tmp`.
    pub fn open(
        data_dir: &Path,
        metadata: Arc<dyn MetadataStore>,
        deep_storage: Arc<dyn ObjectStore>,
    ) -> Result<Overlord> {
        std::fs::create_dir_all(data_dir.join("tmp"))?;
        Ok(Overlord {
            metadata,
            deep_storage,
            data_dir: data_dir.to_path_buf(),
            host: "localhost".into(),
            runner: Runner::embedded(),
            hub: ControllerHub::new(ClusterAuth::default(), Default::default()),
            controller_url: None,
            max_temp_storage_bytes: msq_rows::scratch::DEFAULT_MAX_TEMP_STORAGE_BYTES,
            max_result_rows: None,
            export: Default::default(),
        })
    }

    /// The services a query of this overlord runs against.
    pub(crate) fn env(&self) -> QueryEnv {
        QueryEnv {
            metadata: self.metadata.clone(),
            deep_storage: self.deep_storage.clone(),
            spill_dir: self.data_dir.join("tmp"),
            max_temp_storage_bytes: self.max_temp_storage_bytes,
            max_result_rows: self.max_result_rows,
            runner: self.runner.clone(),
            hub: self.hub.clone(),
            controller_url: self.controller_url.clone(),
            result_sink: None,
        }
    }

    /// Validates and plans a statement (errors here are the user's: HTTP 400, no task). `SET`
    /// statements before it set context keys over `context` (as in Druid, a `SET` wins); the
    /// task's SQL is the whole text. `EXPLAIN PLAN FOR` never runs: see [`Overlord::explain`].
    pub async fn prepare(&self, sql: &str, context: &Map<String, Value>) -> Result<PreparedTask> {
        let request = parse_request(sql)?;
        if request.explain {
            return Err(MsqError::QueryNotSupported(
                "EXPLAIN PLAN FOR is answered with the plan; it does not run as a task".into(),
            ));
        }
        self.plan_request(&request, sql, context).await
    }

    /// `EXPLAIN PLAN FOR <statement>` (after any `SET` statements): the statement is planned
    /// as [`Overlord::prepare`] would, and its `sqlQueryId` and Druid's explain row come back;
    /// `None` for a statement without `EXPLAIN`.
    pub async fn explain(&self, sql: &str, context: &Map<String, Value>) -> Result<Option<(String, Explanation)>> {
        let request = parse_request(sql)?;
        if !request.explain {
            return Ok(None);
        }
        let task = self.plan_request(&request, sql, context).await?;
        let explanation = Explanation::new(&task.planned, &task.context);
        Ok(Some((task.planned.query.query_id.clone(), explanation)))
    }

    /// Plans the statement of `request` with its `SET` values over `context`.
    async fn plan_request(
        &self,
        request: &SqlRequest,
        sql: &str,
        context: &Map<String, Value>,
    ) -> Result<PreparedTask> {
        let mut ctx = QueryContext::parse(&request.merged_context(context))?;
        let query_id = ctx
            .sql_query_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let task_id = format!("query-{query_id}");
        let statement = self.delete_as_replace(&request.statement, &ctx).await?;
        let mut planned = plan_statement(&statement, &ctx, &query_id, self.metadata.clone()).await?;
        if let Some(workers) = crate::task_assignment::fewer_workers(&planned, &ctx, &self.metadata).await? {
            // taskAssignment auto: planned again for the fewer workers the input needs.
            ctx.max_num_tasks = workers + 1;
            ctx.sql.max_num_tasks = workers + 1;
            planned = plan_statement(&statement, &ctx, &query_id, self.metadata.clone()).await?;
        }
        if let Some(export) = &planned.statement.export {
            crate::export::check(export, &self.export)?;
        }
        Ok(PreparedTask {
            task_id,
            planned,
            context: ctx,
            sql: sql.to_string(),
        })
    }

    /// A `DELETE FROM ds WHERE cond` as the `REPLACE` that deletes its rows (see
    /// [`msq_sql::statement::delete_as_replace`]); any other statement as it is.
    async fn delete_as_replace(&self, statement: &str, ctx: &QueryContext) -> Result<String> {
        let Some(delete) = msq_sql::statement::parse_delete(statement)? else {
            return Ok(statement.to_string());
        };
        let (md, table) = (self.metadata.clone(), delete.table.clone());
        let segments = msq_engine::blocking(move || md.used_segments(&table, None)).await?;
        msq_sql::statement::delete_as_replace(&delete, &segments, ctx)
    }

    /// Records a task that failed while it was being planned (a panic caught in planning:
    /// a bug, not a mistake in the request) as FAILED with `error`, so the submitter sees a
    /// failed task with the message instead of an HTTP error.
    pub fn record_failed_planning(
        &self,
        task_id: &str,
        sql: &str,
        context: &Map<String, Value>,
        opaque_id: Option<String>,
        error: MsqError,
    ) -> Result<()> {
        let now = format_millis(chrono::Utc::now().timestamp_millis());
        self.metadata.insert_task(&TaskRecord {
            id: task_id.to_string(),
            group_id: task_id.to_string(),
            task_type: "query_controller".into(),
            data_source: "__query_select".into(),
            created_time: now.clone(),
            queue_insertion_time: now,
            status: "RUNNING".into(),
            runner_status: "NONE".into(),
            duration_ms: 0,
            error_msg: None,
            location: self.location(),
            payload: json!({
                "type": "query_controller",
                "id": task_id,
                "sqlQuery": sql,
                "sqlQueryContext": context,
                "context": context,
                "groupId": task_id,
                "dataSource": "__query_select",
            }),
            report: None,
            opaque_id,
        })?;
        let report: LiveReport = Arc::new(Mutex::new(ReportState::new(task_id, &self.host)));
        self.fail_task(task_id, &report, error, "Task failed while planning")
    }

    /// The task payload Druid shows for a `query_controller` task.
    pub fn payload(task: &PreparedTask) -> Value {
        let ds = task.planned.data_source.clone();
        let fields = task.planned.output_schema.fields();
        json!({
            "type": "query_controller",
            "id": task.task_id,
            "spec": {
                "query": {"queryType": "msq", "stages": task.planned.query.stages.len()},
                "columnMappings": fields.iter().map(|f| json!({"queryColumn": f.name(), "outputColumn": f.name()})).collect::<Vec<_>>(),
                "destination": match task.planned.kind {
                    StatementKind::Select if task.planned.statement.export.is_some() => {
                        task.planned.statement.export.as_ref().map(|e| e.destination_json()).unwrap_or_default()
                    }
                    StatementKind::Select if task.context.sql.select_destination == SelectDestination::DurableStorage => {
                        json!({"type": "durableStorage"})
                    }
                    StatementKind::Select => json!({"type": "taskReport"}),
                    _ => json!({
                        "type": "dataSource",
                        "dataSource": ds,
                        "segmentGranularity": task.planned.granularity.map(|g| g.name()),
                        "replaceTimeChunks": task.planned.replace.as_ref().map(|v| v.iter().map(|i| i.to_iso()).collect::<Vec<_>>()),
                    }),
                },
                "tuningConfig": {
                    "maxNumWorkers": task.context.worker_count(),
                    "maxRowsInMemory": task.context.max_rows_in_memory,
                    "rowsPerSegment": task.context.rows_per_segment,
                }
            },
            "sqlQuery": task.sql,
            "sqlQueryContext": task.context.raw,
            "sqlTypeNames": fields.iter().map(|f| ColumnType::sql_type_name_of(f)).collect::<Vec<_>>(),
            "nativeTypeNames": fields.iter().map(|f| ColumnType::from_field(f).name()).collect::<Vec<_>>(),
            "context": task.context.raw,
            "groupId": task.task_id,
            "dataSource": ds.unwrap_or_else(|| "__query_select".into()),
        })
    }

    /// Druid's task `location` for this process: `{"host","port","tlsPort"}`.
    pub fn location(&self) -> Value {
        match self
            .host
            .rsplit_once(':')
            .and_then(|(h, p)| p.parse::<i64>().ok().map(|p| (h, p)))
        {
            Some((h, p)) => json!({"host": h, "port": p, "tlsPort": -1}),
            None => json!({"host": self.host, "port": -1, "tlsPort": -1}),
        }
    }

    /// Records the task as RUNNING in the metadata store.
    pub fn record_start(&self, task: &PreparedTask) -> Result<()> {
        self.record_start_as(task, "RUNNING", None)
    }

    /// Records the task with a runner status (`WAITING` until it gets workers) and the
    /// caller's `X-Opaque-Id`.
    pub fn record_start_as(&self, task: &PreparedTask, runner_status: &str, opaque_id: Option<String>) -> Result<()> {
        let now = format_millis(chrono::Utc::now().timestamp_millis());
        self.metadata.insert_task(&TaskRecord {
            id: task.task_id.clone(),
            group_id: task.task_id.clone(),
            task_type: "query_controller".into(),
            data_source: task
                .planned
                .data_source
                .clone()
                .unwrap_or_else(|| "__query_select".into()),
            created_time: now.clone(),
            queue_insertion_time: now,
            status: "RUNNING".into(),
            runner_status: runner_status.into(),
            duration_ms: -1,
            error_msg: None,
            location: self.location(),
            payload: Overlord::payload(task),
            report: None,
            opaque_id,
        })
    }

    /// Marks a task that never started as FAILED with `error` (e.g. cancelled while waiting).
    pub fn finish_unstarted(&self, task: &PreparedTask, error: MsqError) -> Result<()> {
        let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&task.task_id, &self.host)));
        self.fail_task(&task.task_id, &report, error, "Task failed before starting")
    }

    /// Marks a task FAILED with `error` outside the normal end of [`Overlord::run`] (it never
    /// started, or it panicked): the error goes into its `report` and status, its log gets
    /// `what: error`, its pending segments and locks are released, and the segment files it
    /// wrote but never published are deleted.
    pub fn fail_task(&self, task_id: &str, report: &LiveReport, error: MsqError, what: &str) -> Result<()> {
        let report_json = {
            let mut r = ReportState::lock(report);
            r.fail(task_id, &error);
            r.finished.get_or_insert_with(std::time::Instant::now);
            r.to_json()
        };
        self.metadata.set_task_report(task_id, &report_json)?;
        if let Some(mut rec) = self.metadata.get_task(task_id)? {
            rec.status = "FAILED".into();
            rec.runner_status = "NONE".into();
            rec.duration_ms = rec.duration_ms.max(0);
            rec.error_msg = Some(format!("{}: {}", error.error_code(), error));
            self.metadata.update_task(&rec)?;
        }
        // What it wrote and never published goes, as after a crash (paths name the query).
        let files = crate::recovery::forget_unpublished(self.metadata.as_ref(), task_id).unwrap_or_default();
        if !files.is_empty() {
            if let Ok(h) = tokio::runtime::Handle::try_current() {
                h.spawn(crate::recovery::delete_files(self.deep_storage.clone(), files));
            }
        }
        self.metadata
            .append_task_log(task_id, &format!("{what}: {}: {error}", error.error_code()))
    }

    /// Runs a prepared task to the end, storing its final status and report.
    pub async fn run(
        &self,
        task: &PreparedTask,
        report: LiveReport,
        cancel: watch::Receiver<bool>,
    ) -> Result<QueryOutcome> {
        let started = std::time::Instant::now();
        let _ = self
            .metadata
            .append_task_log(&task.task_id, &format!("Task [{}] started", task.task_id));
        let mut env = self.env();
        let export = crate::export::run::ExportRun::start(
            &mut env,
            task.planned.statement.export.as_ref(),
            &self.export,
            &task.task_id,
            task.planned.output_schema.clone(),
            task.context.sql.rows_per_page,
        );
        let durable = match export {
            Some(_) => None,
            None => crate::results::run::DurableResults::start(&mut env, &task.planned, &task.context, &task.task_id),
        };
        let result = run_query(
            &task.planned,
            &task.context,
            &env,
            &task.task_id,
            report.clone(),
            cancel,
        )
        .await;
        drop(env); // closes the result sink, so the page writer sees the end
        let result = match (durable, export) {
            (Some(d), _) => d.settle(result, task.planned.output_schema.clone(), &report).await,
            (None, Some(x)) => x.settle(result, &task.task_id, &report).await,
            (None, None) => result,
        };
        let report_json = ReportState::lock(&report).to_json();
        let duration = started.elapsed().as_millis() as i64;
        let mut rec = self
            .metadata
            .get_task(&task.task_id)?
            .ok_or_else(|| MsqError::Metadata(format!("task [{}] vanished", task.task_id)))?;
        rec.duration_ms = duration;
        rec.runner_status = "NONE".into();
        match &result {
            Ok(o) => {
                rec.status = "SUCCESS".into();
                let line = match task.planned.kind {
                    StatementKind::Select if task.planned.statement.export.is_some() => {
                        format!("Exported {} rows", o.rows_written)
                    }
                    StatementKind::Select => {
                        let kept = o
                            .results
                            .as_ref()
                            .map(|b| b.iter().map(|x| x.num_rows() as u64).sum::<u64>());
                        // Results in deep storage: all pages' rows (the report keeps a sample).
                        let paged = ReportState::lock(&report)
                            .result_pages
                            .as_ref()
                            .map(|p| p.iter().map(|p| p.num_rows).sum::<u64>());
                        format!("Query returned {} rows", paged.or(kept).unwrap_or(0))
                    }
                    _ => format!("Published {} segments with {} rows", o.segments.len(), o.rows_written),
                };
                let _ = self.metadata.append_task_log(&task.task_id, &line);
            }
            Err(e) => {
                rec.status = "FAILED".into();
                rec.error_msg = Some(format!("{}: {}", e.error_code(), e));
                let _ = self
                    .metadata
                    .append_task_log(&task.task_id, &format!("Task failed: {}: {}", e.error_code(), e));
            }
        }
        // The report first: whoever sees the final status finds the report (and its pages).
        self.metadata.set_task_report(&task.task_id, &report_json)?;
        self.metadata.update_task(&rec)?;
        result
    }

    /// Plans and runs `sql` as one task (what `msq run` does): returns the task id, the
    /// outcome and the final report.
    pub async fn run_statement(
        &self,
        sql: &str,
        context: &Map<String, Value>,
    ) -> (Option<String>, Result<QueryOutcome>, Value) {
        let task = match self.prepare(sql, context).await {
            Ok(t) => t,
            Err(e) => return (None, Err(e), Value::Null),
        };
        if let Err(e) = self.record_start(&task) {
            return (Some(task.task_id.clone()), Err(e), Value::Null);
        }
        let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&task.task_id, &self.host)));
        let (_tx, rx) = watch::channel(false);
        let result = self.run(&task, report.clone(), rx).await;
        let json = ReportState::lock(&report).to_json();
        (Some(task.task_id), result, json)
    }
}
