//! `msq`: run Druid SQL ingestion and queries locally (`msq run`) or serve Druid's API (`msq server`).

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

/// How queries get their workers.
#[derive(clap::Args, Clone)]
struct ClusterArgs {
    /// Task runner: `embedded` (workers in this process), `process` (one `msq worker` child
    /// process per worker), `remote` (registered `msq worker` processes on other hosts).
    #[arg(long, default_value = "embedded", env = "MSQ_RUNNER")]
    runner: msq_controller::launcher::RunnerKind,
    /// Shared secret between the server and its workers: every internal endpoint requires
    /// `Authorization: Bearer <secret>`. The process runner generates a random one when none
    /// is given; the remote runner requires it; the embedded runner has no internal endpoints.
    #[arg(long, env = "MSQ_CLUSTER_SECRET", hide_env_values = true)]
    cluster_secret: Option<String>,
    /// The `msq` executable the process runner starts (default: this one).
    #[arg(long)]
    worker_command: Option<PathBuf>,
    /// Metadata store: a SQLite file path or postgresql://user:pass@host/db
    /// (default: <data-dir>/metadata.db).
    #[arg(long, env = "MSQ_METADATA")]
    metadata: Option<String>,
    /// Deep storage: a directory, file:///dir or s3://bucket/prefix (default: <data-dir>/segments).
    #[arg(long, env = "MSQ_DEEP_STORAGE")]
    deep_storage: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Body limits of the internal endpoints (413 beyond); the process runner passes them on to
/// its worker processes.
#[derive(clap::Args, Clone)]
struct LimitArgs {
    /// Largest body of small internal messages (counters, phase changes, errors,
    /// registration, cleanup).
    #[arg(long, default_value_t = msq_engine::rpc::BodyLimits::DEFAULT_MESSAGE_BYTES)]
    max_internal_message_bytes: usize,
    /// Largest key statistics (and partition boundaries) body: about a fifth of the biggest
    /// `workerMemoryBytes` of a query that range-partitions many distinct keys.
    #[arg(long, default_value_t = msq_engine::rpc::BodyLimits::DEFAULT_KEY_STATISTICS_BYTES)]
    max_key_statistics_bytes: usize,
    /// Largest work order body, and of the results a worker reports (an entry per segment).
    #[arg(long, default_value_t = msq_engine::rpc::BodyLimits::DEFAULT_WORK_ORDER_BYTES)]
    max_work_order_bytes: usize,
    /// Body bytes all internal requests of this process may buffer at once (others wait).
    #[arg(long, default_value_t = msq_engine::rpc::BodyLimits::DEFAULT_BUFFERED_BYTES)]
    max_internal_buffered_bytes: usize,
}

impl LimitArgs {
    fn limits(&self) -> msq_engine::rpc::BodyLimits {
        msq_engine::rpc::BodyLimits {
            message_bytes: self.max_internal_message_bytes,
            key_statistics_bytes: self.max_key_statistics_bytes,
            work_order_bytes: self.max_work_order_bytes,
            buffered_bytes: self.max_internal_buffered_bytes,
        }
    }
}

impl ClusterArgs {
    fn runner(&self, data_dir: &std::path::Path) -> Result<msq_controller::launcher::Runner, String> {
        let mut r = msq_controller::launcher::Runner::embedded();
        r.kind = self.runner.clone();
        r.auth = msq_engine::rpc::ClusterAuth::new(self.cluster_secret.clone()).map_err(|e| e.to_string())?;
        r.limits = self.limits.limits();
        r.worker_command = self
            .worker_command
            .clone()
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("msq"));
        r.tmp_dir = data_dir.join("tmp").join("workers");
        if let Some(d) = &self.deep_storage {
            r.deep_storage_uri = d.clone();
        }
        Ok(r)
    }

    /// Opens the engine: embedded defaults under `data_dir` unless a metadata store or deep
    /// storage is named.
    fn open_engine(&self, data_dir: &std::path::Path) -> Result<Engine, String> {
        if self.metadata.is_none() && self.deep_storage.is_none() {
            return Engine::open_local(data_dir)
                .map_err(|e| format!("cannot open data directory {}: {e}", data_dir.display()));
        }
        let metadata_uri = self
            .metadata
            .clone()
            .unwrap_or_else(|| data_dir.join("metadata.db").display().to_string());
        let deep_uri = self
            .deep_storage
            .clone()
            .unwrap_or_else(|| data_dir.join("segments").display().to_string());
        let metadata = msq_engine::metadata::open_store(&metadata_uri)
            .map_err(|e| format!("cannot open metadata store {metadata_uri}: {e}"))?;
        let deep = msq_engine::storage::open_deep_storage(&deep_uri)
            .map_err(|e| format!("cannot open deep storage {deep_uri}: {e}"))?;
        std::fs::create_dir_all(data_dir).map_err(|e| e.to_string())?;
        Engine::open(data_dir, metadata, deep).map_err(|e| e.to_string())
    }
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
        /// Write this process's peak resident memory (KiB, from /proc) here when done (`msq bench`).
        #[arg(long, hide = true)]
        peak_rss_to: Option<PathBuf>,
        /// Data directory: metadata.db (SQLite), segments/ (deep storage), tmp/ (spill).
        #[arg(long, default_value = "./var", env = "MSQ_DATA_DIR")]
        data_dir: PathBuf,
        #[command(flatten)]
        cluster: ClusterArgs,
    },
    /// Run a worker process: takes work orders from controllers over HTTP and serves its
    /// shuffle output to other workers.
    Worker {
        /// Address to listen on (port 0 picks a free port).
        #[arg(long, default_value = "127.0.0.1:0", env = "MSQ_WORKER_BIND")]
        bind: String,
        /// URL other nodes reach this worker at (default: http://<bound address>).
        #[arg(long)]
        advertise_url: Option<String>,
        /// Register with (and heartbeat to) the server at this URL (remote runner).
        #[arg(long, env = "MSQ_CONTROLLER_URL")]
        controller_url: Option<String>,
        /// Deep storage: a directory, file:///dir or s3://bucket/prefix (same as the server's).
        #[arg(long, default_value = "./var/segments", env = "MSQ_DEEP_STORAGE")]
        deep_storage: String,
        /// Scratch directory for spills.
        #[arg(long, default_value = "./var/worker-tmp")]
        tmp_dir: PathBuf,
        /// Shared secret (required): every endpoint but /status/health refuses requests
        /// without `Authorization: Bearer <secret>`, and the worker presents it to others.
        #[arg(long, env = "MSQ_CLUSTER_SECRET", hide_env_values = true)]
        cluster_secret: Option<String>,
        #[command(flatten)]
        limits: LimitArgs,
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
        /// Worker counts the INSERT (and the scale table) is measured with.
        #[arg(long, value_delimiter = ',', default_value = "1,2,4")]
        workers: Vec<usize>,
        /// Files the generated JSON is split into (each worker reads whole files).
        #[arg(long, default_value_t = 4)]
        json_files: usize,
        /// Tiny SELECTs submitted through the HTTP API per mode (0 skips the latency measure).
        #[arg(long, default_value_t = 200)]
        http_runs: usize,
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
        /// Temporary (spill) storage per task, e.g. 512MiB or 20GiB (0: no limit); past it a
        /// task fails with NotEnoughTemporaryStorage (Druid's tmpStorageBytesPerTask).
        #[arg(long, default_value = "20GiB", env = "MSQ_MAX_TEMP_STORAGE", value_parser = msq_engine::scratch::parse_bytes)]
        max_temp_storage: u64,
        #[command(flatten)]
        cluster: ClusterArgs,
        /// URL workers reach this server at (default: http://<bound address>).
        #[arg(long, env = "MSQ_ADVERTISE_URL")]
        advertise_url: Option<String>,
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
            peak_rss_to,
            data_dir,
            cluster,
        } => {
            let code = rt.block_on(run(sql, file, context, report, format, data_dir, cluster));
            if let Some(path) = peak_rss_to {
                let _ = std::fs::write(path, msq_benches::suite::own_peak_rss_kib().to_string());
            }
            code
        }
        Command::Worker {
            bind,
            advertise_url,
            controller_url,
            deep_storage,
            tmp_dir,
            cluster_secret,
            limits,
        } => rt.block_on(worker(
            bind,
            advertise_url,
            controller_url,
            deep_storage,
            tmp_dir,
            cluster_secret,
            limits.limits(),
        )),
        Command::Bench {
            rows,
            runs,
            seed,
            workers,
            json_files,
            http_runs,
            no_peers,
            out,
        } => {
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            let opts = msq_benches::suite::BenchOptions {
                rows,
                runs,
                seed,
                workers,
                json_files,
                http_runs,
                peers: !no_peers,
                out,
                command,
            };
            match rt.block_on(msq_benches::suite::run(opts)) {
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
            max_temp_storage,
            cluster,
            advertise_url,
        } => rt.block_on(serve(ServerOptions {
            bind,
            data_dir,
            worker_slots,
            max_body_bytes,
            auth_file,
            task_retention_hours,
            max_temp_storage,
            cluster,
            advertise_url,
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
    cluster: ClusterArgs,
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
    let mut engine = match cluster.open_engine(&data_dir) {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    let runner = match cluster.runner(&data_dir) {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot use the cluster secret: {e}")),
    };
    if let Err(e) = engine.use_runner(runner, None).await {
        return fail(&format!("cannot start the {} runner: {e}", cluster_name(&cluster)));
    }
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
    max_temp_storage: u64,
    cluster: ClusterArgs,
    advertise_url: Option<String>,
}

fn cluster_name(c: &ClusterArgs) -> &'static str {
    match c.runner {
        msq_controller::launcher::RunnerKind::Embedded => "embedded",
        msq_controller::launcher::RunnerKind::Process => "process",
        msq_controller::launcher::RunnerKind::Remote => "remote",
    }
}

/// `msq worker`: serves worker endpoints until the process ends.
async fn worker(
    bind: String,
    advertise_url: Option<String>,
    controller_url: Option<String>,
    deep_storage: String,
    tmp_dir: PathBuf,
    cluster_secret: Option<String>,
    limits: msq_engine::rpc::BodyLimits,
) -> ExitCode {
    let Some(secret) = cluster_secret.filter(|s| !s.is_empty()) else {
        return fail(
            "msq worker needs the cluster secret its controller uses (--cluster-secret or MSQ_CLUSTER_SECRET): \
             its endpoints accept nothing else",
        );
    };
    let secret = match msq_engine::rpc::ClusterSecret::new(secret) {
        Ok(s) => s,
        Err(e) => return fail(&format!("cannot use the cluster secret: {e}")),
    };
    let store = match msq_engine::storage::open_deep_storage(&deep_storage) {
        Ok(s) => s,
        Err(e) => return fail(&format!("cannot open deep storage {deep_storage}: {e}")),
    };
    let listener = match tokio::net::TcpListener::bind(&bind).await {
        Ok(l) => l,
        Err(e) => return fail(&format!("cannot listen on {bind}: {e}")),
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => return fail(&e.to_string()),
    };
    let url = advertise_url.unwrap_or_else(|| format!("http://{addr}"));
    let auth = msq_engine::rpc::ClusterAuth::from(secret.clone());
    let config = msq_worker::server::WorkerServiceConfig {
        advertise_url: url.clone(),
        secret,
        limits,
        deep_storage: store,
        tmp_dir,
        codec: msq_engine::wire::WireCodec::new(msq_sql::registry::function_registry()),
    };
    let service = msq_worker::server::WorkerService::new(config);
    if let Some(c) = controller_url {
        tokio::spawn(msq_worker::server::register_loop(c, url.clone(), auth));
    }
    // The process runner reads this line to learn the port.
    println!("msq worker listening on {url}");
    match axum::serve(listener, msq_worker::server::router(service)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&format!("worker stopped: {e}")),
    }
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
    let mut engine = match o.cluster.open_engine(&o.data_dir) {
        Ok(e) => e,
        Err(e) => return fail(&e),
    };
    engine.host = addr.clone();
    engine.max_temp_storage_bytes = o.max_temp_storage;
    let controller_url = o.advertise_url.clone().unwrap_or_else(|| format!("http://{addr}"));
    let runner = match o.cluster.runner(&o.data_dir) {
        Ok(r) => r,
        Err(e) => return fail(&format!("cannot use the cluster secret: {e}")),
    };
    if let Err(e) = engine.use_runner(runner, Some(controller_url)).await {
        return fail(&format!("cannot start the {} runner: {e}", cluster_name(&o.cluster)));
    }
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
