//! `msq`: run Druid SQL ingestion and queries locally (`msq run`) or serve Druid's API (`msq server`).

mod bench;

use arrow::record_batch::RecordBatch;
use clap::{Parser, Subcommand, ValueEnum};
use msq_controller::report::{LiveReport, ReportState};
use msq_controller::Engine;
use serde_json::{Map, Value};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Parser)]
#[command(
    name = "msq",
    version,
    about = "Multi-stage SQL query and ingestion engine speaking Apache Druid's MSQ API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Copy, Clone, ValueEnum)]
enum Format {
    Table,
    Json,
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Run one statement (INSERT, REPLACE or SELECT) in this process on the embedded defaults.
    Run {
        /// The SQL statement (several, separated by `;`, run in order).
        #[arg(long, conflicts_with = "file")]
        sql: Option<String>,
        /// A file holding the SQL statement.
        #[arg(short = 'f', long)]
        file: Option<PathBuf>,
        /// Query context as JSON, e.g. '{"maxNumTasks":3}'.
        #[arg(long, default_value = "{}")]
        context: String,
        /// Write the task report JSON here (of the last statement run).
        #[arg(long)]
        report: Option<PathBuf>,
        /// Output format of SELECT results.
        #[arg(long, value_enum, default_value = "table")]
        format: Format,
        /// Data directory: metadata.db (SQLite), segments/ (deep storage), tmp/ (spill).
        #[arg(long, default_value = "./var", env = "MSQ_DATA_DIR")]
        data_dir: PathBuf,
    },
    /// Benchmark msq-rs against DuckDB and DataFusion on generated wikipedia data.
    Bench {
        /// Rows to generate (the 39,244-row sample replicated over consecutive days).
        #[arg(long, default_value_t = 1_000_000)]
        rows: usize,
        /// Runs of each measure (median and spread are reported).
        #[arg(long, default_value_t = 3)]
        runs: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Worker counts the INSERT is measured with.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        workers: Vec<usize>,
        /// Skip the DuckDB/DataFusion peers.
        #[arg(long)]
        no_peers: bool,
        /// Where BENCHMARKS.md and bench-results.json go.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Serve Druid's SQL task endpoint and Tasks API over HTTP.
    Server {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8888", env = "MSQ_BIND")]
        bind: String,
        /// Data directory: metadata.db (SQLite), segments/ (deep storage), tmp/ (spill).
        #[arg(long, default_value = "./var", env = "MSQ_DATA_DIR")]
        data_dir: PathBuf,
        /// Worker slots shared by running tasks (a task uses maxNumTasks - 1).
        #[arg(long, default_value_t = 4)]
        worker_slots: usize,
        /// Largest request body in bytes (413 beyond).
        #[arg(long, default_value_t = msq_controller::http::DEFAULT_MAX_BODY_BYTES)]
        max_body_bytes: usize,
        /// File of `user:password` lines; when given, every endpoint but /status/health
        /// requires HTTP basic auth.
        #[arg(long, env = "MSQ_AUTH_FILE")]
        auth_file: Option<PathBuf>,
        /// Delete completed tasks (status, report, log) older than this many hours.
        #[arg(long)]
        task_retention_hours: Option<u64>,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_env("MSQ_LOG").unwrap_or_else(|_| "error".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    match cli.command {
        Command::Run {
            sql,
            file,
            context,
            report,
            format,
            data_dir,
        } => rt.block_on(run(sql, file, context, report, format, data_dir)),
        Command::Bench {
            rows,
            runs,
            seed,
            workers,
            no_peers,
            out,
        } => {
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let opts = bench::BenchOptions {
                rows,
                runs,
                seed,
                workers,
                peers: !no_peers,
                out,
                command,
            };
            match rt.block_on(bench::run(opts)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Command::Server {
            bind,
            data_dir,
            worker_slots,
            max_body_bytes,
            auth_file,
            task_retention_hours,
        } => rt.block_on(serve(ServerOptions {
            bind,
            data_dir,
            worker_slots,
            max_body_bytes,
            auth_file,
            task_retention_hours,
        })),
    }
}

async fn run(
    sql: Option<String>,
    file: Option<PathBuf>,
    context: String,
    report_path: Option<PathBuf>,
    format: Format,
    data_dir: PathBuf,
) -> ExitCode {
    let sql = match (sql, file) {
        (Some(s), _) => s,
        (None, Some(f)) => match std::fs::read_to_string(&f) {
            Ok(s) => s,
            Err(e) => return fail(&format!("cannot read {}: {e}", f.display())),
        },
        (None, None) => return fail("give a statement with --sql or -f FILE"),
    };
    let context: Map<String, Value> = match serde_json::from_str::<Value>(&context) {
        Ok(Value::Object(m)) => m,
        _ => return fail("--context must be a JSON object"),
    };
    let engine = match Engine::open_local(&data_dir) {
        Ok(e) => e,
        Err(e) => return fail(&format!("cannot open data directory {}: {e}", data_dir.display())),
    };
    let statements = msq_sql::script::split_statements(&sql);
    if statements.is_empty() {
        return fail("no statement to run");
    }
    for stmt in statements {
        let code = run_one(&engine, &stmt, &context, report_path.as_deref(), format).await;
        if code != ExitCode::SUCCESS {
            return code;
        }
    }
    ExitCode::SUCCESS
}

/// Runs one statement as a task; prints its results or what it wrote.
async fn run_one(
    engine: &Engine,
    sql: &str,
    context: &Map<String, Value>,
    report_path: Option<&std::path::Path>,
    format: Format,
) -> ExitCode {
    let task = match engine.prepare(sql, context).await {
        Ok(t) => t,
        Err(e) => return fail(&format!("{}: {e}", e.error_code())),
    };
    if let Err(e) = engine.record_start(&task) {
        return fail(&e.to_string());
    }
    let report: LiveReport = Arc::new(Mutex::new(ReportState::new(&task.task_id, &engine.host)));
    let (_cancel_tx, cancel_rx) = tokio::sync::watch::channel(false);
    let progress = std::io::stderr().is_terminal().then(|| spawn_progress(report.clone()));
    let result = engine.run(&task, report.clone(), cancel_rx).await;
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
            ExitCode::SUCCESS
        }
        Err(e) => fail(&format!("{}: {e} (task {})", e.error_code(), task.task_id)),
    }
}

struct ServerOptions {
    bind: String,
    data_dir: PathBuf,
    worker_slots: usize,
    max_body_bytes: usize,
    auth_file: Option<PathBuf>,
    task_retention_hours: Option<u64>,
}

async fn serve(o: ServerOptions) -> ExitCode {
    let auth = match &o.auth_file {
        None => None,
        Some(path) => match std::fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|t| msq_controller::http::Credentials::parse(&t).map_err(|e| e.to_string()))
        {
            Ok(c) => Some(c),
            Err(e) => return fail(&format!("cannot use auth file {}: {e}", path.display())),
        },
    };
    let listener = match tokio::net::TcpListener::bind(&o.bind).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {}: {e}", o.bind)),
    };
    let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or(o.bind.clone());
    let mut engine = match Engine::open_local(&o.data_dir) {
        Ok(e) => e,
        Err(e) => return fail(&format!("cannot open data directory {}: {e}", o.data_dir.display())),
    };
    engine.host = addr.clone();
    let tasks = match msq_controller::tasks::TaskManager::new(engine, o.worker_slots) {
        Ok(t) => t,
        Err(e) => return fail(&e.to_string()),
    };
    if let Some(h) = o.task_retention_hours {
        tasks.spawn_retention(Duration::from_secs(h * 3600));
    }
    eprintln!(
        "msq server listening on http://{addr} (data in {})",
        o.data_dir.display()
    );
    match msq_controller::http::serve(tasks, listener, o.max_body_bytes, auth).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("server stopped: {e}")),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("Error: {msg}");
    ExitCode::FAILURE
}

fn print_results(batches: &[RecordBatch], schema: &arrow::datatypes::SchemaRef, format: Format) {
    match format {
        Format::Table => {
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
        Format::Json => {
            let names: Vec<String> = schema.fields().iter().map(|f| f.name().clone()).collect();
            for row in msq_controller::values::rows_json(batches, usize::MAX) {
                let obj: Map<String, Value> = names
                    .iter()
                    .cloned()
                    .zip(row.as_array().cloned().unwrap_or_default())
                    .collect();
                println!("{}", Value::Object(obj));
            }
        }
        Format::Csv => {
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
