//! Embeds every file under `web/` in the binary: writes `$OUT_DIR/assets.rs`, a table of
//! `(path, content type, etag, bytes)` with `include_bytes!` of each file, so a new file is
//! served without being listed anywhere.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let web = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap()).join("web");
    println!("cargo:rerun-if-changed={}", web.display());
    let mut files = Vec::new();
    collect(&web, &mut files);
    files.sort();
    let mut out = String::from(
        "/// Every file of `web/`: (path under `/`, content type, ETag, bytes).\npub static ASSETS: &[Asset] = &[\n",
    );
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let rel = f.strip_prefix(&web).unwrap().to_string_lossy().replace('\\', "/");
        let bytes = std::fs::read(f).unwrap();
        let etag = format!("\"{:016x}-{}\"", fnv1a(&bytes), bytes.len());
        writeln!(
            out,
            "    Asset {{ path: {rel:?}, content_type: {:?}, etag: {etag:?}, bytes: include_bytes!({:?}) }},",
            content_type(&rel),
            f.display().to_string()
        )
        .unwrap();
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var("OUT_DIR").unwrap()).join("assets.rs");
    std::fs::write(dest, out).unwrap();
}

/// Files under `dir`, recursively (dot files skipped).
fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with('.'))
        {
            continue;
        }
        if p.is_dir() {
            println!("cargo:rerun-if-changed={}", p.display());
            collect(&p, out);
        } else {
            out.push(p);
        }
    }
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// FNV-1a 64: a stable content hash for ETags.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}
