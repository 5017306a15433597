//! `msq`: run Druid SQL ingestion and queries locally (`msq run`) or serve Druid's API (`msq server`).
//! This file only parses the command line; the commands' wiring lives in the crates that own
//! them (`msq_controller::commands`, `msq_worker::process`, `msq_benches::suite`).

use clap::{Parser, Subcommand, ValueEnum};
use msq_controller::commands::run::{self, OutputFormat, RunOptions};
use msq_controller::commands::server::{self, ServerOptions};
use msq_controller::commands::ClusterOptions;
use msq_worker::process::WorkerProcessOptions;
use std::path::PathBuf;
use std::process::ExitCode;

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
    /// Directory `INSERT INTO EXTERN(LOCAL(exportPath => ...))` exports may write inside
    /// (Druid's druid.export.storage.baseDir; default: none, LOCAL export refused).
    #[arg(long, env = "MSQ_EXPORT_BASE_DIR")]
    export_base_dir: Option<PathBuf>,
    /// Comma-separated s3://bucket/prefix/ that S3 exports may write under (Druid's
    /// druid.export.storage.s3.allowedExportPaths; default: none, S3 export refused).
    #[arg(long, env = "MSQ_EXPORT_ALLOWED_S3_PATHS", value_delimiter = ',')]
    export_allowed_s3_paths: Vec<String>,
    #[command(flatten)]
    limits: LimitArgs,
}

/// Body limits of the internal endpoints (413 beyond); the process runner passes them on to
/// its worker processes.
#[derive(clap::Args, Clone)]
struct LimitArgs {
    /// Largest body of small internal messages (counters, phase changes, errors,
    /// registration, cleanup).
    #[arg(long, default_value_t = msq_rows::rpc::BodyLimits::DEFAULT_MESSAGE_BYTES)]
    max_internal_message_bytes: usize,
    /// Largest key statistics (and partition boundaries) body: about a fifth of the biggest
    /// `workerMemoryBytes` of a query that range-partitions many distinct keys.
    #[arg(long, default_value_t = msq_rows::rpc::BodyLimits::DEFAULT_KEY_STATISTICS_BYTES)]
    max_key_statistics_bytes: usize,
    /// Largest work order body, and of the results a worker reports (an entry per segment).
    #[arg(long, default_value_t = msq_rows::rpc::BodyLimits::DEFAULT_WORK_ORDER_BYTES)]
    max_work_order_bytes: usize,
    /// Body bytes all internal requests of this process may buffer at once (others wait).
    #[arg(long, default_value_t = msq_rows::rpc::BodyLimits::DEFAULT_BUFFERED_BYTES)]
    max_internal_buffered_bytes: usize,
}

impl LimitArgs {
    fn limits(&self) -> msq_rows::rpc::BodyLimits {
        msq_rows::rpc::BodyLimits {
            message_bytes: self.max_internal_message_bytes,
            key_statistics_bytes: self.max_key_statistics_bytes,
            work_order_bytes: self.max_work_order_bytes,
            buffered_bytes: self.max_internal_buffered_bytes,
        }
    }
}

impl ClusterArgs {
    fn options(&self) -> ClusterOptions {
        ClusterOptions {
            runner: self.runner.clone(),
            cluster_secret: self.cluster_secret.clone(),
            worker_command: self.worker_command.clone(),
            metadata: self.metadata.clone(),
            deep_storage: self.deep_storage.clone(),
            limits: self.limits.limits(),
            export: msq_controller::export::ExportConfig {
                base_dir: self.export_base_dir.clone(),
                allowed_s3_paths: self.export_allowed_s3_paths.clone(),
                s3_options: Vec::new(),
            },
        }
    }
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => OutputFormat::Table,
            Format::Json => OutputFormat::Json,
            Format::Csv => OutputFormat::Csv,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run one statement (INSERT, REPLACE or SELECT) in this process on the embedded defaults.
    Run {
        /// The SQL statement (several, separated by `;`, run in order; `SET key = value;`
        /// sets a context key for the statement after it; `EXPLAIN PLAN FOR` prints the plan).
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
        /// Lookups for LOOKUP() and lookup.<name>: a file of Druid's lookups config JSON
        /// ({tier: {name: {version, lookupExtractorFactory}}}), stored in the data directory.
        #[arg(long)]
        lookups: Option<PathBuf>,
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
        /// Measure only a large SELECT answer's server memory (1/10 of --rows and all of
        /// them) and print that section; nothing is written.
        #[arg(long)]
        only_stream: bool,
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
        #[arg(long, default_value_t = msq_controller::druid_api::DEFAULT_MAX_BODY_BYTES)]
        max_body_bytes: usize,
        /// File of `user:password` lines; when given, every endpoint but /status/health
        /// requires HTTP basic auth.
        #[arg(long, env = "MSQ_AUTH_FILE")]
        auth_file: Option<PathBuf>,
        /// Delete completed tasks (status, report, log) older than this many hours.
        #[arg(long)]
        task_retention_hours: Option<u64>,
        /// Delete SELECT results written to deep storage (`selectDestination:
        /// durableStorage`) this many hours after they were written (Druid keeps them 6).
        #[arg(long, default_value_t = 6.0)]
        query_results_retention_hours: f64,
        /// Temporary (spill) storage per task, e.g. 512MiB or 20GiB (0: no limit); past it a
        /// task fails with NotEnoughTemporaryStorage (Druid's tmpStorageBytesPerTask).
        #[arg(long, default_value = "20GiB", env = "MSQ_MAX_TEMP_STORAGE", value_parser = msq_rows::scratch::parse_bytes)]
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
    match dispatch(cli.command, &rt) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

/// Runs a command to its end; the error is the message to print.
fn dispatch(command: Command, rt: &tokio::runtime::Runtime) -> Result<(), String> {
    match command {
        Command::Run {
            sql,
            file,
            context,
            report,
            format,
            peak_rss_to,
            data_dir,
            lookups,
            cluster,
        } => {
            let result = read_sql(sql, file).and_then(|sql| {
                rt.block_on(run::run(RunOptions {
                    sql,
                    context,
                    report,
                    format: format.into(),
                    data_dir,
                    cluster: cluster.options(),
                    lookups,
                }))
            });
            if let Some(path) = peak_rss_to {
                let _ = std::fs::write(path, msq_benches::suite::own_peak_rss_kib().to_string());
            }
            result
        }
        Command::Worker {
            bind,
            advertise_url,
            controller_url,
            deep_storage,
            tmp_dir,
            cluster_secret,
            limits,
        } => rt.block_on(msq_worker::process::run(WorkerProcessOptions {
            bind,
            advertise_url,
            controller_url,
            deep_storage,
            tmp_dir,
            cluster_secret,
            limits: limits.limits(),
            codec: msq_rows::wire::WireCodec::new(msq_sql::registry::function_registry()),
        })),
        Command::Bench {
            rows,
            runs,
            seed,
            workers,
            json_files,
            http_runs,
            no_peers,
            only_stream,
            out,
        } => {
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            rt.block_on(msq_benches::suite::run(msq_benches::suite::BenchOptions {
                rows,
                runs,
                seed,
                workers,
                json_files,
                http_runs,
                peers: !no_peers,
                only_stream,
                out,
                command,
            }))
        }
        Command::Server {
            bind,
            data_dir,
            worker_slots,
            max_body_bytes,
            auth_file,
            task_retention_hours,
            query_results_retention_hours,
            max_temp_storage,
            cluster,
            advertise_url,
        } => rt.block_on(server::serve(ServerOptions {
            bind,
            data_dir,
            worker_slots,
            max_body_bytes,
            auth_file,
            task_retention_hours,
            query_results_retention: std::time::Duration::try_from_secs_f64(query_results_retention_hours * 3600.0)
                .map_err(|e| format!("--query-results-retention-hours: {e}"))?,
            max_temp_storage,
            cluster: cluster.options(),
            advertise_url,
        })),
    }
}

/// The statement text of `msq run`: `--sql`, or the file `-f` names.
fn read_sql(sql: Option<String>, file: Option<PathBuf>) -> Result<String, String> {
    match (sql, file) {
        (Some(s), _) => Ok(s),
        (None, Some(f)) => std::fs::read_to_string(&f).map_err(|e| format!("cannot read {}: {e}", f.display())),
        (None, None) => Err("give a statement with --sql or -f FILE".into()),
    }
}

fn fail(msg: &str) -> ExitCode {
    eprintln!("Error: {msg}");
    ExitCode::FAILURE
}
