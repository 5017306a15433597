//! The web console: plain ES modules under `web/` (no framework, no build step), embedded in
//! the binary by `build.rs` and served at `/` and Druid's `/unified-console.html`, each asset
//! with an ETag (`Cache-Control: no-cache`: the browser revalidates and gets 304s). The
//! console uses only the public API (statements, tasks, coordinator endpoints), so it works
//! exactly as a curl user's session does, basic auth included.

use axum::extract::Path;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// One embedded file.
pub struct Asset {
    /// Path under the console root, e.g. `js/main.js`.
    pub path: &'static str,
    pub content_type: &'static str,
    pub etag: &'static str,
    pub bytes: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/assets.rs"));

/// The embedded file at `path`.
pub fn asset(path: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.path == path)
}

/// The console's routes: the page at `/` and `/unified-console.html`, its files under
/// `/console/`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(|h: HeaderMap| async move { serve("index.html", &h) }))
        .route(
            "/unified-console.html",
            get(|h: HeaderMap| async move { serve("index.html", &h) }),
        )
        .route(
            "/console/{*path}",
            get(|Path(p): Path<String>, h: HeaderMap| async move { serve(&p, &h) }),
        )
}

/// The asset with its type and ETag; 304 when the browser has it; 404 when there is none.
fn serve(path: &str, headers: &HeaderMap) -> Response {
    let Some(a) = asset(path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let cached = headers
        .get(IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == a.etag));
    let mut resp = if cached {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(CONTENT_TYPE, HeaderValue::from_static(a.content_type))], a.bytes).into_response()
    };
    let h = resp.headers_mut();
    h.insert(ETAG, HeaderValue::from_static(a.etag));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_modules_are_embedded() {
        let index = asset("index.html").expect("index.html");
        assert!(index.content_type.starts_with("text/html"));
        let text = std::str::from_utf8(index.bytes).unwrap();
        assert!(text.contains("/console/js/main.js"), "{text}");
        assert!(asset("js/main.js").unwrap().content_type.starts_with("text/javascript"));
        assert!(asset("../Cargo.toml").is_none());
        // Every relative import of every module names an embedded file.
        for a in ASSETS.iter().filter(|a| a.path.ends_with(".js")) {
            let text = std::str::from_utf8(a.bytes).unwrap();
            for line in text.lines().filter(|l| l.trim_start().starts_with("import ")) {
                let Some(spec) = line.split(['\'', '"']).nth(1) else {
                    continue;
                };
                if !spec.starts_with('.') {
                    continue;
                }
                let base = a.path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
                let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(
                    asset(&target).is_some(),
                    "{}: import {spec} -> {target} is not embedded",
                    a.path
                );
            }
        }
    }
}
