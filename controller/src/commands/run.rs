//! `msq run`: statements run one after another as tasks in this process; SELECT results and
//! what an ingestion wrote are printed, the last task report optionally written to a file.

use super::ClusterOptions;
use crate::overlord::Overlord;
use crate::report::{LiveReport, ReportState};
use arrow::record_batch::RecordBatch;
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How SELECT results are printed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Table,
    Json,
    Csv,
}

/// What `msq run` runs, and where.
pub struct RunOptions {
    /// The statements (several, separated by `;`; `SET key = value;` statements set context
    /// keys for the statement after them).
    pub sql: String,
    /// Query context as a JSON object.
    pub context: String,
    /// Where the report of the last statement run is written.
    pub report: Option<PathBuf>,
    pub format: OutputFormat,
    pub data_dir: PathBuf,
    pub cluster: ClusterOptions,
    /// A file of Druid's lookups config JSON, loaded into the metadata store before the
    /// statements run.
    pub lookups: Option<PathBuf>,
}

/// Runs the statements in order, stopping at the first that fails (its message is the error).
pub async fn run(o: RunOptions) -> Result<(), String> {
    let context: Map<String, Value> = match serde_json::from_str::<Value>(&o.context) {
        Ok(Value::Object(m)) => m,
        _ => return Err("--context must be a JSON object".into()),
    };
    let overlord = o.cluster.start(&o.data_dir, None).await?;
    if let Some(path) = o.lookups.clone() {
        let md = overlord.metadata.clone();
        tokio::task::spawn_blocking(move || crate::lookups::load_lookups_file(md.as_ref(), &path))
            .await
            .map_err(|e| e.to_string())??;
    }
    let statements = msq_sql::script::split_requests(&o.sql);
    if statements.is_empty() {
        return Err("no statement to run".into());
    }
    for stmt in statements {
        run_one(&overlord, &stmt, &context, o.report.as_deref(), o.format).await?;
    }
    Ok(())
}

/// Runs one statement as a task; prints its results or what it wrote (for `EXPLAIN PLAN
/// FOR`, the plan row: nothing runs).
async fn run_one(
    overlord: &Overlord,
    sql: &str,
    context: &Map<String, Value>,
    report_path: Option<&std::path::Path>,
    format: OutputFormat,
) -> Result<(), String> {
    let user_error = |e: msq_engine::MsqError| format!("{}: {e}", e.error_code());
    if let Some((_, explanation)) = overlord.explain(sql, context).await.map_err(user_error)? {
        let batch = explanation.to_batch();
        print_results(std::slice::from_ref(&batch), &batch.schema(), format);
        return Ok(());
    }
    let task = overlord.prepare(sql, context).await.map_err(user_error)?;
    overlord.record_start(&task).map_err(|e| e.to_string())?;
    let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&task.task_id, &overlord.host)));
    let (_cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let progress = std::io::stderr().is_terminal().then(|| spawn_progress(report.clone()));
    let result = overlord.run(&task, report.clone(), cancel_rx).await;
    if let Some(p) = progress {
        p.abort();
        eprint!("\r\x1b[2K");
    }
    let json = ReportState::lock(&report).to_json();
    if let Some(path) = report_path {
        if let Err(e) = std::fs::write(path, serde_json::to_string_pretty(&json).unwrap_or_default()) {
            eprintln!("cannot write report to {}: {e}", path.display());
        }
    }
    match result {
        Ok(outcome) => {
            if let Some(batches) = outcome.results {
                print_results(&batches, &task.planned.output_schema, format);
            } else if let Some(export) = &task.planned.statement.export {
                let to = &export.destination_json()["exportStorageProvider"];
                println!("{} rows exported to {to} (task {})", outcome.rows_written, task.task_id);
            } else {
                let data: Vec<_> = outcome.segments.iter().filter(|s| !s.is_tombstone).collect();
                let tomb = outcome.segments.len() - data.len();
                println!(
                    "{} rows written to dataSource [{}] in {} segments{} (task {})",
                    outcome.rows_written,
                    task.planned.data_source.clone().unwrap_or_default(),
                    data.len(),
                    if tomb > 0 {
                        format!(" and {tomb} tombstones")
                    } else {
                        String::new()
                    },
                    task.task_id
                );
            }
            Ok(())
        }
        Err(e) => Err(format!("{}: {e} (task {})", e.error_code(), task.task_id)),
    }
}

fn print_results(batches: &[RecordBatch], schema: &arrow::datatypes::SchemaRef, format: OutputFormat) {
    match format {
        OutputFormat::Table => {
            let b = if batches.is_empty() {
                vec![RecordBatch::new_empty(schema.clone())]
            } else {
                batches.to_vec()
            };
            match arrow::util::pretty::pretty_format_batches(&b) {
                Ok(t) => println!("{t}"),
                Err(e) => eprintln!("cannot format results: {e}"),
            }
        }
        OutputFormat::Json => {
            let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            for row in crate::values::rows_json(batches, usize::MAX) {
                let obj: Map<String, Value> = names
                    .iter()
                    .cloned()
                    .zip(row.as_array().cloned().unwrap_or_default())
                    .collect();
                println!("{}", Value::Object(obj));
            }
        }
        OutputFormat::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(std::io::stdout());
            if batches.is_empty() {
                let _ = w.write(&RecordBatch::new_empty(schema.clone()));
            }
            for b in batches {
                if let Err(e) = w.write(b) {
                    eprintln!("cannot write CSV: {e}");
                    return;
                }
            }
        }
    }
}

fn spawn_progress(report: LiveReport) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.enable_steady_tick(Duration::from_millis(120));
        loop {
            let line = {
                let r = ReportState::lock(&report);
                let stages: Vec<String> = r
                    .stages
                    .iter()
                    .enumerate()
                    .map(|(n, s)| {
                        let rows: u64 = r
                            .counters
                            .get(&n)
                            .map(|w| w.values().map(|c| c.output.total_rows()).sum())
                            .unwrap_or(0);
                        format!("stage {n} {} {rows} rows", s.phase.name())
                    })
                    .collect();
                stages.join(" | ")
            };
            bar.set_message(line);
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
}
