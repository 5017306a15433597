//! The small blocking HTTP/1.1 client that reads Druid's `http` input source.
//!
//! Each URI is one split, read with a `GET` over a plain TCP connection (`http://` only;
//! `https://` is refused with a clear error). Bodies are streamed, with `Content-Length` or
//! chunked transfer encoding, after following up to [`MAX_REDIRECTS`] redirects; any other
//! non-2xx status is an [`MsqError::InputSource`] error naming the URI and status.

use msq_engine::error::{MsqError, Result};
use msq_engine::input::HttpInputSource;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// Redirects followed before giving up.
pub const MAX_REDIRECTS: usize = 5;
/// Connect timeout per address.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest wait for the next bytes of a response.
const READ_TIMEOUT: Duration = Duration::from_secs(300);
/// Longest status line or header line accepted.
const MAX_HEADER_LINE: usize = 64 * 1024;
/// Most header lines accepted in one response.
const MAX_HEADERS: usize = 256;

/// Fails with an [`MsqError::InputSource`] error for a URI this build cannot fetch
/// (`https://`, a bad host or port).
pub fn check_fetchable(source: &HttpInputSource) -> Result<()> {
    for u in &source.uris {
        HttpUrl::parse(u).map_err(|message| MsqError::InputSource { message })?;
    }
    Ok(())
}

/// A parsed `http://` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct HttpUrl {
    pub(crate) host: String,
    pub(crate) port: u16,
    /// Path and query, starting with `/`.
    pub(crate) path: String,
}

impl HttpUrl {
    pub(crate) fn parse(uri: &str) -> std::result::Result<Self, String> {
        let Some((scheme, rest)) = uri.split_once("://") else {
            return Err(format!("Invalid URI [{uri}]: no scheme"));
        };
        if !scheme.eq_ignore_ascii_case("http") {
            return Err(format!(
                "Unsupported protocol [{scheme}] of URI [{uri}]: only http URIs are supported by the http inputSource here"
            ));
        }
        let rest = rest.split('#').next().unwrap_or("");
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = if path.starts_with('?') {
            format!("/{path}")
        } else {
            path.to_string()
        };
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("Invalid URI [{uri}]: bad host"))?;
            (h.to_string(), after.strip_prefix(':'))
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (h.to_string(), Some(p)),
                None => (authority.to_string(), None),
            }
        };
        if host.is_empty() {
            return Err(format!("Invalid URI [{uri}]: no host"));
        }
        let port = match port {
            None | Some("") => 80,
            Some(p) => p.parse().map_err(|_| format!("Invalid URI [{uri}]: bad port [{p}]"))?,
        };
        Ok(HttpUrl { host, port, path })
    }

    /// The `Host` header value.
    fn host_header(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == 80 {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    /// Resolves a `Location` header against this URL.
    fn join(&self, location: &str) -> std::result::Result<String, String> {
        if location.contains("://") {
            return Ok(location.to_string());
        }
        let base = format!("http://{}", self.host_header());
        if let Some(rest) = location.strip_prefix("//") {
            return Ok(format!("http://{rest}"));
        }
        if location.starts_with('/') {
            return Ok(format!("{base}{location}"));
        }
        let path = self.path.split('?').next().unwrap_or("/");
        let dir = &path[..path.rfind('/').map_or(0, |i| i + 1)];
        Ok(format!("{base}{dir}{location}"))
    }
}

/// An open response body.
pub(crate) struct HttpBody {
    pub(crate) reader: Box<dyn Read + Send>,
    /// `Content-Length`, when the server sent one (and no chunking).
    pub(crate) content_length: Option<u64>,
}

/// `GET`s `uri`, following redirects, and returns the body stream of a 2xx response.
pub(crate) fn http_get(uri: &str, authorization: Option<&str>, headers: &[(String, String)]) -> Result<HttpBody> {
    let first = HttpUrl::parse(uri).map_err(|message| MsqError::InputSource { message })?;
    let mut url = first.clone();
    for _ in 0..=MAX_REDIRECTS {
        // Credentials go only to the host they were given for.
        let same_origin = url.host == first.host && url.port == first.port;
        let auth = authorization.filter(|_| same_origin);
        let response = request(&url, auth, headers).map_err(|e| MsqError::InputSource {
            message: format!("Unable to fetch [{uri}]: {e}"),
        })?;
        match response.status {
            200..=299 => {
                return response.into_body().map_err(|e| MsqError::InputSource {
                    message: format!("Unable to fetch [{uri}]: {e}"),
                })
            }
            301 | 302 | 303 | 307 | 308 => {
                let Some(location) = response.header("location") else {
                    return Err(MsqError::InputSource {
                        message: format!(
                            "Unable to fetch [{uri}]: HTTP status {} without a Location header",
                            response.status
                        ),
                    });
                };
                let next = url
                    .join(location)
                    .map_err(|message| MsqError::InputSource { message })?;
                url = HttpUrl::parse(&next).map_err(|e| MsqError::InputSource {
                    message: format!("Unable to fetch [{uri}]: redirected to {e}"),
                })?;
            }
            status => {
                return Err(MsqError::InputSource {
                    message: format!(
                        "Unable to fetch [{uri}]: HTTP status {status}{}",
                        if response.reason.is_empty() {
                            String::new()
                        } else {
                            format!(" {}", response.reason)
                        }
                    ),
                })
            }
        }
    }
    Err(MsqError::InputSource {
        message: format!("Unable to fetch [{uri}]: more than {MAX_REDIRECTS} redirects"),
    })
}

struct Response {
    status: u16,
    reason: String,
    headers: Vec<(String, String)>,
    stream: BufReader<TcpStream>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn into_body(self) -> std::io::Result<HttpBody> {
        let chunked = self
            .header("transfer-encoding")
            .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        let length = match self.header("content-length") {
            Some(v) if !chunked => Some(
                v.trim()
                    .parse::<u64>()
                    .map_err(|_| invalid(format!("bad Content-Length [{v}]")))?,
            ),
            _ => None,
        };
        let reader: Box<dyn Read + Send> = if chunked {
            Box::new(ChunkedReader {
                inner: self.stream,
                remaining: 0,
                done: false,
                first: true,
            })
        } else if let Some(n) = length {
            Box::new(LengthReader {
                inner: self.stream,
                remaining: n,
            })
        } else {
            Box::new(self.stream)
        };
        Ok(HttpBody {
            reader,
            content_length: length,
        })
    }
}

fn invalid(msg: impl Into<String>) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, msg.into())
}

fn connect(url: &HttpUrl) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in (url.host.as_str(), url.port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, "no address for host")))
}

fn request(url: &HttpUrl, authorization: Option<&str>, headers: &[(String, String)]) -> std::io::Result<Response> {
    let stream = connect(url)?;
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_nodelay(true)?;
    let mut req = format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: msq-rs\r\nAccept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n",
        url.path,
        url.host_header()
    );
    if let Some(a) = authorization {
        req.push_str(&format!("Authorization: {a}\r\n"));
    }
    for (k, v) in headers {
        if k.contains(['\r', '\n', ':']) || v.contains(['\r', '\n']) {
            return Err(invalid(format!("invalid request header [{k}]")));
        }
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    (&stream).write_all(req.as_bytes())?;
    let mut reader = BufReader::with_capacity(64 * 1024, stream);
    loop {
        let status_line = read_line(&mut reader)?;
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/") {
            return Err(invalid(format!("not an HTTP response: [{status_line}]")));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| invalid(format!("bad status line [{status_line}]")))?;
        let reason = parts.next().unwrap_or("").to_string();
        let mut headers = Vec::new();
        loop {
            let line = read_line(&mut reader)?;
            if line.is_empty() {
                break;
            }
            if headers.len() >= MAX_HEADERS {
                return Err(invalid("too many response headers"));
            }
            if let Some((k, v)) = line.split_once(':') {
                headers.push((k.trim().to_string(), v.trim().to_string()));
            }
        }
        // Interim 1xx responses precede the real one.
        if (100..200).contains(&status) {
            continue;
        }
        return Ok(Response {
            status,
            reason,
            headers,
            stream: reader,
        });
    }
}

/// One CRLF- (or LF-) terminated line, without the terminator.
fn read_line(r: &mut impl BufRead) -> std::io::Result<String> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_HEADER_LINE as u64 + 1)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "connection closed before the response headers ended",
        ));
    }
    if !buf.ends_with(b"\n") {
        return Err(invalid("response header line too long or truncated"));
    }
    buf.pop();
    if buf.ends_with(b"\r") {
        buf.pop();
    }
    String::from_utf8(buf).map_err(|_| invalid("response header is not UTF-8"))
}

/// A body of known length; ending early is an error.
struct LengthReader<R> {
    inner: R,
    remaining: u64,
}

impl<R: Read> Read for LengthReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let max = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!("connection closed with {} bytes of the body missing", self.remaining),
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

/// A `Transfer-Encoding: chunked` body.
struct ChunkedReader<R> {
    inner: R,
    remaining: u64,
    done: bool,
    first: bool,
}

impl<R: BufRead> Read for ChunkedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        if self.remaining == 0 {
            if !self.first {
                // The CRLF after the previous chunk's data.
                let line = read_line(&mut self.inner)?;
                if !line.is_empty() {
                    return Err(invalid("malformed chunked body: missing CRLF after chunk"));
                }
            }
            self.first = false;
            let line = read_line(&mut self.inner)?;
            let size = line.split(';').next().unwrap_or("").trim();
            let size = u64::from_str_radix(size, 16)
                .map_err(|_| invalid(format!("malformed chunked body: bad chunk size [{line}]")))?;
            if size == 0 {
                // Trailers, up to the blank line.
                while !read_line(&mut self.inner)?.is_empty() {}
                self.done = true;
                return Ok(0);
            }
            self.remaining = size;
        }
        let max = buf.len().min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "connection closed in the middle of a chunk",
            ));
        }
        self.remaining -= n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod url_tests {
    use super::*;
    use msq_engine::input::http::basic_auth;

    #[test]
    fn parse_and_join() {
        let u = HttpUrl::parse("http://Example.com:8080/a/b.json?x=1#frag").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("Example.com", 8080, "/a/b.json?x=1")
        );
        assert_eq!(u.join("c.json").unwrap(), "http://Example.com:8080/a/c.json");
        assert_eq!(u.join("/z").unwrap(), "http://Example.com:8080/z");
        assert_eq!(u.join("http://o/p").unwrap(), "http://o/p");
        let u = HttpUrl::parse("http://h").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        let u = HttpUrl::parse("http://user:pw@[::1]:99?q").unwrap();
        assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("::1", 99, "/?q"));
        assert!(HttpUrl::parse("https://h/x").unwrap_err().contains("only http"));
        assert!(HttpUrl::parse("nope").is_err());
        assert!(HttpUrl::parse("http://h:xx/").is_err());
        assert_eq!(
            basic_auth("Aladdin", "open sesame"),
            "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="
        );
    }
}
