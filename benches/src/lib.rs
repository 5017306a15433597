//! msq-rs benchmark harness pieces (see `benches/README.md`).
//!
//! * [`generate`] — scales Druid's 39,244-row wikipedia sample to N rows over consecutive days,
//!   written as newline-delimited JSON (optionally gzipped) and as Parquet, streaming.
//! * [`sql`] — the exact statements of each measure, for msq-rs and as the peers ask them.
//! * [`suite`] — `msq bench`: runs the measures on msq-rs and the peers and writes the report.
//! * [`PEER_SCRIPT`], [`SETUP_SCRIPT`] — where the Python peer script and its setup live.

pub mod generate;
pub mod prng;
pub mod sql;
pub mod suite;

pub use generate::{generate, generate_parts, GeneratedData, SAMPLE_DATE, SAMPLE_ROWS};

use std::path::{Path, PathBuf};

/// This crate's directory (`<workspace>/benches`).
pub fn benches_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `benches/peers/peer.py`: `--engine duckdb|datafusion --json FILE --parquet FILE --out DIR --runs K`.
pub fn peer_script() -> PathBuf {
    benches_dir().join("peers").join("peer.py")
}

/// `benches/setup.sh`: creates `benches/.venv` with the pinned peers; prints its python path.
pub fn setup_script() -> PathBuf {
    benches_dir().join("setup.sh")
}

/// Relative paths of the two scripts inside `benches/`.
pub const PEER_SCRIPT: &str = "peers/peer.py";
pub const SETUP_SCRIPT: &str = "setup.sh";

/// The wikiticker sample in the workspace's `testdata/` (the same file as
/// `/work/shared/data/wikiticker-2015-09-12-sampled.json.gz`).
pub fn default_source(workspace_root: &Path) -> PathBuf {
    workspace_root
        .join("testdata")
        .join("wikiticker-2015-09-12-sampled.json.gz")
}
