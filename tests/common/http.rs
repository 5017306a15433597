//! A raw HTTP/1.1 client for the integration tests: the request goes on the wire exactly as
//! given (paths are not normalised, bodies may be any bytes) and the whole answer is read.

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    /// The body as JSON (panics, showing it, when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    /// A header's value, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Druid's `errorMessage` of an error body.
    pub fn message(&self) -> String {
        self.json()["errorMessage"].as_str().unwrap_or_default().to_string()
    }
}

/// Parses a whole HTTP/1.1 answer (chunked bodies joined).
pub fn parse_response(raw: &[u8]) -> Resp {
    let text = String::from_utf8_lossy(raw).to_string();
    let (head, rest) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP answer (connection dropped?): {text:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    let body = if chunked { dechunk(rest) } else { rest.to_string() };
    Resp { status, headers, body }
}

/// The payload of a chunked body.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest.get(n + 2..).unwrap_or("");
    }
    out
}

/// One request with `headers` and a body of any bytes (`Content-Length` added); the server
/// may answer and close before reading it all.
pub async fn request_bytes(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Resp {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    let _ = s.write_all(&bytes).await;
    let mut raw = Vec::new();
    let _ = s.read_to_end(&mut raw).await;
    parse_response(&raw)
}

/// One request with a text body (none: empty).
pub async fn request(addr: &str, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Resp {
    request_bytes(addr, method, path, headers, body.unwrap_or("").as_bytes()).await
}

/// `GET path` without credentials.
pub async fn get(addr: &str, path: &str) -> Resp {
    request(addr, "GET", path, &[], None).await
}

/// `POST path` with a JSON body, without credentials.
pub async fn post_json(addr: &str, path: &str, body: &Value) -> Resp {
    let headers = [("Content-Type", "application/json")];
    request(addr, "POST", path, &headers, Some(&body.to_string())).await
}

/// Polls `GET /druid/indexer/v1/task/{id_in_path}/status` every 50 ms until the task is no
/// longer RUNNING, failing the test after `limit`; returns the whole status answer.
pub async fn wait_task_done(addr: &str, id_in_path: &str, limit: std::time::Duration) -> Value {
    let start = std::time::Instant::now();
    loop {
        let r = get(addr, &format!("/druid/indexer/v1/task/{id_in_path}/status")).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let v = r.json();
        if v["status"]["status"] != "RUNNING" {
            return v;
        }
        assert!(start.elapsed() < limit, "task {id_in_path} did not finish");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A server of Druid's API over `engine` on an ephemeral loopback port.
pub struct Server {
    pub addr: String,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

/// Serves `engine` (its `host` set to the bound address) with `slots` worker slots.
pub async fn start_server(
    mut engine: msq_controller::Overlord,
    slots: usize,
    max_body: usize,
    auth: Option<msq_controller::druid_api::Credentials>,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    engine.host = addr.clone();
    let tasks = msq_controller::tasks::TaskManager::new(engine, slots).unwrap();
    let handle = tokio::spawn(msq_controller::druid_api::serve(tasks, listener, max_body, auth));
    Server { addr, handle }
}

/// The `Authorization` value of HTTP basic auth for `user` and `password` (standard base64
/// with padding, RFC 4648).
pub fn basic_auth(user: &str, password: &str) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::from("Basic ");
    for chunk in format!("{user}:{password}").as_bytes().chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, &b)| acc | (b as u32) << (16 - 8 * i));
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                ABC[(n >> (18 - 6 * i) & 63) as usize] as char
            } else {
                '='
            });
        }
    }
    out
}
