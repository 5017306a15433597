//! `druid_tasks` and `druid_tasklogs`: task records, their reports and log lines.

use super::{message, Arg, SqlRow, SqlTx};
use msq_engine::error::{MsqError, Result};
use msq_engine::metadata::store::{now_iso, TaskFilter, TaskRecord};

/// Columns read into a `TaskRecord`, in order.
const TASK_COLUMNS: &str = r#"id, group_id, "type", data_source, created_time, queue_insertion_time, status,
    runner_status, duration_ms, error_msg, location, payload, report, opaque_id"#;

/// How often a log append is tried when another process took the same sequence number.
const LOG_APPEND_ATTEMPTS: usize = 5;

/// A row of [`TASK_COLUMNS`].
fn task_from_row(row: &SqlRow) -> Result<TaskRecord> {
    Ok(TaskRecord {
        id: row.text(0)?,
        group_id: row.text(1)?,
        task_type: row.text(2)?,
        data_source: row.text(3)?,
        created_time: row.text(4)?,
        queue_insertion_time: row.text(5)?,
        status: row.text(6)?,
        runner_status: row.text(7)?,
        duration_ms: row.int(8)?,
        error_msg: row.opt_text(9)?,
        location: row.json(10)?,
        payload: row.json(11)?,
        report: row.opt_json(12)?,
        opaque_id: row.opt_text(13)?,
    })
}

fn not_found(task_id: &str) -> MsqError {
    MsqError::Metadata(format!("task [{task_id}] not found"))
}

/// Inserts a new task (fails when the id exists).
pub fn insert(tx: &mut dyn SqlTx, t: &TaskRecord) -> Result<()> {
    let args: Vec<Arg> = vec![
        t.id.as_str().into(),
        t.group_id.as_str().into(),
        t.task_type.as_str().into(),
        t.data_source.as_str().into(),
        t.created_time.as_str().into(),
        t.queue_insertion_time.as_str().into(),
        t.status.as_str().into(),
        t.runner_status.as_str().into(),
        t.duration_ms.into(),
        (&t.error_msg).into(),
        serde_json::to_string(&t.location)?.into(),
        serde_json::to_string(&t.payload)?.into(),
        t.report.as_ref().map(serde_json::to_string).transpose()?.into(),
        (&t.opaque_id).into(),
        now_iso().into(),
    ];
    tx.exec(
        &format!(
            "INSERT INTO druid_tasks ({TASK_COLUMNS}, updated_time)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)"
        ),
        &args,
    )
    .map_err(|e| MsqError::Metadata(format!("cannot insert task [{}]: {}", t.id, message(e))))?;
    Ok(())
}

/// Updates a task's status, location and timing (and its report when `t` has one).
pub fn update(tx: &mut dyn SqlTx, t: &TaskRecord) -> Result<()> {
    let n = tx.exec(
        "UPDATE druid_tasks SET status = ?1, runner_status = ?2, duration_ms = ?3, error_msg = ?4,
             location = ?5, report = COALESCE(?6, report), updated_time = ?7
         WHERE id = ?8",
        &[
            t.status.as_str().into(),
            t.runner_status.as_str().into(),
            t.duration_ms.into(),
            (&t.error_msg).into(),
            serde_json::to_string(&t.location)?.into(),
            t.report.as_ref().map(serde_json::to_string).transpose()?.into(),
            now_iso().into(),
            t.id.as_str().into(),
        ],
    )?;
    if n == 0 {
        return Err(not_found(&t.id));
    }
    Ok(())
}

/// Stores a task's report.
pub fn set_report(tx: &mut dyn SqlTx, task_id: &str, report: &serde_json::Value) -> Result<()> {
    let n = tx.exec(
        "UPDATE druid_tasks SET report = ?1, updated_time = ?2 WHERE id = ?3",
        &[serde_json::to_string(report)?.into(), now_iso().into(), task_id.into()],
    )?;
    if n == 0 {
        return Err(not_found(task_id));
    }
    Ok(())
}

/// One task by id.
pub fn get(tx: &mut dyn SqlTx, task_id: &str) -> Result<Option<TaskRecord>> {
    let sql = format!("SELECT {TASK_COLUMNS} FROM druid_tasks WHERE id = ?1");
    tx.query_opt(&sql, &[task_id.into()], task_from_row)
}

/// The query of the tasks `filter` selects, newest first; `None` when it selects none (so
/// the stores answer without touching the database).
pub fn list_query(filter: &TaskFilter) -> Option<(String, Vec<Arg>)> {
    let (sql, args) = filter.to_sql(TASK_COLUMNS, |n| format!("?{n}"))?;
    Some((sql, args.into_iter().map(Into::into).collect()))
}

/// Runs a [`list_query`].
pub fn list(tx: &mut dyn SqlTx, (sql, args): &(String, Vec<Arg>)) -> Result<Vec<TaskRecord>> {
    tx.query_as(sql, args, task_from_row)
}

/// Appends one line to a task's log (outside a transaction: the append is retried when
/// another process appending to the same task took the same sequence number).
pub fn append_log(tx: &mut dyn SqlTx, task_id: &str, line: &str) -> Result<()> {
    tx.exec_retrying_unique(
        "INSERT INTO druid_tasklogs (task_id, seq, line)
         SELECT ?1, COALESCE(MAX(seq), -1) + 1, ?2 FROM druid_tasklogs WHERE task_id = ?1",
        &[task_id.into(), line.into()],
        LOG_APPEND_ATTEMPTS,
    )?;
    Ok(())
}

/// A task's log, one line per appended line, each ending in a newline.
pub fn log(tx: &mut dyn SqlTx, task_id: &str) -> Result<String> {
    let lines = tx.query_as(
        "SELECT line FROM druid_tasklogs WHERE task_id = ?1 ORDER BY seq",
        &[task_id.into()],
        |r| r.text(0),
    )?;
    let mut out = String::new();
    for line in lines {
        out.push_str(&line);
        out.push('\n');
    }
    Ok(out)
}

/// [`msq_engine::metadata::MetadataStore::delete_completed_tasks_before`] inside a
/// transaction: deletes finished tasks created before the cutoff, and their logs.
pub fn delete_completed_before(tx: &mut dyn SqlTx, cutoff_iso: &str) -> Result<usize> {
    tx.exec(
        "DELETE FROM druid_tasklogs WHERE task_id IN
             (SELECT id FROM druid_tasks WHERE status <> 'RUNNING' AND created_time < ?1)",
        &[cutoff_iso.into()],
    )?;
    tx.exec(
        "DELETE FROM druid_tasks WHERE status <> 'RUNNING' AND created_time < ?1",
        &[cutoff_iso.into()],
    )
}
