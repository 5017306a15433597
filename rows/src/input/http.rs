//! HTTP `GET`s of whole bodies, streamed: Druid's `http` input source (one split per URI) and
//! the shuffle's fetch of another worker's channel, through one process-wide
//! [`reqwest::blocking`] client.
//!
//! URIs are `http://` or `https://` (rustls with the platform's root certificates). Up to
//! [`MAX_REDIRECTS`] redirects are followed; the `Authorization` header goes only to the host
//! it was given for (reqwest drops it on a redirect elsewhere). Any other non-2xx status is an
//! [`MsqError::InputSource`] error naming the URI and status. Bodies are read as they arrive,
//! never buffered whole here.
//!
//! # Blocking, and why it cannot panic
//!
//! The readers are synchronous and run on blocking threads: tokio's `spawn_blocking` pool,
//! `block_in_place`, rayon or plain threads. The blocking client suits them: its connections
//! run on reqwest's own runtime thread, and the caller only parks until bytes arrive. That
//! client is built on first use and kept in a static, so it is never dropped: no tokio
//! runtime is ever started or dropped on a caller's thread ("Cannot drop a runtime in a
//! context where blocking is not allowed"), and it outlives any runtime the caller runs
//! under. Calling from an async task itself (not a blocking thread) is the one misuse: it
//! would stall that runtime's worker, and debug builds of reqwest panic to say so.

use msq_engine::error::{MsqError, Result};
use msq_engine::input::HttpInputSource;
use reqwest::blocking::{Client, Response};
use reqwest::header::{HeaderName, HeaderValue, AUTHORIZATION};
use std::io::Read;
use std::sync::OnceLock;
use std::time::Duration;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Connect timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the response headers, and for each next bytes of the body.
const READ_TIMEOUT: Duration = Duration::from_secs(300);

/// Fails with an [`MsqError::InputSource`] error for a URI that is not a well-formed URL
/// (a bad host or port), before any split is read. Druid's rule that URIs are `http` or
/// `https` is the input source's own validation.
pub fn check_fetchable(source: &HttpInputSource) -> Result<()> {
    for u in &source.uris {
        reqwest::Url::parse(u).map_err(|e| MsqError::InputSource {
            message: format!("Invalid URI [{u}]: {e}"),
        })?;
    }
    Ok(())
}

/// The process-wide client (see the module doc for why it lives in a static).
fn client() -> Result<&'static Client> {
    static CLIENT: OnceLock<std::result::Result<Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            Client::builder()
                .user_agent("msq-rs")
                .connect_timeout(CONNECT_TIMEOUT)
                // In the blocking client this bounds each wait: for the headers, then for
                // each read of the body.
                .timeout(READ_TIMEOUT)
                .redirect(reqwest::redirect::Policy::limited(MAX_REDIRECTS))
                // A connection per body, as bodies are long streams: none sits idle in a
                // pool to go stale.
                .pool_max_idle_per_host(0)
                .build()
                .map_err(|e| error_chain(&e))
        })
        .as_ref()
        .map_err(|e| MsqError::InputSource {
            message: format!("Unable to start the HTTP client: {e}"),
        })
}

/// An open response body, read as it arrives.
pub(crate) struct HttpBody {
    response: Response,
    /// Body bytes still expected, when the server sent a `Content-Length`.
    remaining: Option<u64>,
}

impl HttpBody {
    /// `Content-Length`, when the server sent one (and no chunking).
    pub(crate) fn content_length(&self) -> Option<u64> {
        self.response.content_length()
    }
}

impl Read for HttpBody {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.response.read(buf) {
            Ok(n) => {
                if let Some(r) = &mut self.remaining {
                    *r = r.saturating_sub(n as u64);
                }
                Ok(n)
            }
            Err(e) => {
                let mut message = error_chain(&e);
                if let Some(r) = self.remaining.filter(|r| *r > 0) {
                    message.push_str(&format!(" (connection lost with {r} bytes of the body missing)"));
                }
                Err(std::io::Error::new(e.kind(), message))
            }
        }
    }
}

/// `GET`s `uri`, following redirects, and returns the body stream of a 2xx response.
pub(crate) fn http_get(uri: &str, authorization: Option<&str>, headers: &[(String, String)]) -> Result<HttpBody> {
    let fail = |message: String| MsqError::InputSource {
        message: format!("Unable to fetch [{uri}]: {message}"),
    };
    let mut request = client()?.get(uri);
    if let Some(a) = authorization {
        let mut value = HeaderValue::from_str(a).map_err(|_| fail("invalid Authorization header".into()))?;
        value.set_sensitive(true);
        request = request.header(AUTHORIZATION, value);
    }
    for (k, v) in headers {
        let name = HeaderName::from_bytes(k.as_bytes()).map_err(|_| fail(format!("invalid request header [{k}]")))?;
        let value = HeaderValue::from_str(v).map_err(|_| fail(format!("invalid value of request header [{k}]")))?;
        request = request.header(name, value);
    }
    let response = request.send().map_err(|e| {
        if e.is_redirect() {
            fail(format!("more than {MAX_REDIRECTS} redirects"))
        } else {
            fail(error_chain(&e.without_url()))
        }
    })?;
    let status = response.status();
    if !status.is_success() {
        let reason = status.canonical_reason().map(|r| format!(" {r}")).unwrap_or_default();
        return Err(fail(format!("HTTP status {}{reason}", status.as_u16())));
    }
    let remaining = response.content_length();
    Ok(HttpBody { response, remaining })
}

/// An error and its sources, `: `-separated (reqwest's own message alone says little).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A server answering every request with `body` (Content-Length), one per connection.
    fn serve(body: &'static [u8]) -> String {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut conn) = conn else { continue };
                std::thread::spawn(move || {
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    // Up to the end of the headers, or a TLS handshake's first byte.
                    while !head.ends_with(b"\r\n\r\n") && head != [0x16] && conn.read(&mut byte).unwrap_or(0) == 1 {
                        head.push(byte[0]);
                    }
                    let mut out = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
                    out.extend_from_slice(body);
                    let _ = conn.write_all(&out);
                });
            }
        });
        base
    }

    fn fetch(uri: &str) -> Vec<u8> {
        let mut body = http_get(uri, Some("Basic dTpw"), &[("X-Test".into(), "1".into())]).unwrap();
        assert_eq!(body.content_length(), Some(5));
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        out
    }

    /// The paths that run under tokio: `spawn_blocking` on both runtime flavours,
    /// `block_in_place`, and plain threads before and after those runtimes are gone.
    #[test]
    fn fetches_from_blocking_threads_of_any_runtime() {
        let uri = format!("{}/x", serve(b"hello"));
        for multi in [false, true] {
            let rt = if multi {
                tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
            } else {
                tokio::runtime::Builder::new_current_thread().enable_all().build()
            }
            .unwrap();
            let u = uri.clone();
            let got = rt.block_on(async move { tokio::task::spawn_blocking(move || fetch(&u)).await.unwrap() });
            assert_eq!(got, b"hello");
            if multi {
                let u = uri.clone();
                let got = rt.block_on(async move {
                    tokio::spawn(async move { tokio::task::block_in_place(|| fetch(&u)) })
                        .await
                        .unwrap()
                });
                assert_eq!(got, b"hello");
            }
            // A body opened under the runtime, read and dropped after it is gone.
            let u = uri.clone();
            let mut body = rt.block_on(async move {
                tokio::task::spawn_blocking(move || http_get(&u, None, &[]).unwrap())
                    .await
                    .unwrap()
            });
            drop(rt);
            let mut out = Vec::new();
            body.read_to_end(&mut out).unwrap();
            assert_eq!(out, b"hello");
        }
        let u = uri.clone();
        assert_eq!(std::thread::spawn(move || fetch(&u)).join().unwrap(), b"hello");
    }

    #[test]
    fn bad_uris_and_headers() {
        let source = |uri: &str| HttpInputSource {
            uris: vec![uri.to_string()],
            ..Default::default()
        };
        assert!(check_fetchable(&source("https://h/x")).is_ok());
        for bad in ["http://h:xx/", "http://[::1/", "nope"] {
            match check_fetchable(&source(bad)) {
                Err(MsqError::InputSource { message }) => assert!(message.contains(bad), "{message}"),
                other => panic!("{other:?}"),
            }
        }
        let uri = format!("{}/x", serve(b"hello"));
        // https is spoken (here to a plain-HTTP server, so the TLS handshake fails).
        let tls = uri.replace("http://", "https://");
        match http_get(&tls, None, &[]) {
            Err(MsqError::InputSource { message }) => {
                assert!(message.starts_with(&format!("Unable to fetch [{tls}]: ")), "{message}")
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
        match http_get(&uri, None, &[("Bad:Name".into(), "v".into())]) {
            Err(MsqError::InputSource { message }) => {
                assert_eq!(
                    message,
                    format!("Unable to fetch [{uri}]: invalid request header [Bad:Name]")
                )
            }
            other => panic!("{:?}", other.map(|_| ())),
        }
    }
}
