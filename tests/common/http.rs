//! A raw HTTP/1.1 client for the integration tests (so requests can be
//! malformed on purpose) and its response parser.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

/// A raw HTTP/1.1 request.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Send the body chunked, in chunks of this size.
    pub chunked: Option<usize>,
    /// Add `Content-Length` for the body (unless chunked).
    pub auto_length: bool,
}

impl Req {
    pub fn new(method: &str, target: &str) -> Req {
        Req {
            method: method.into(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            chunked: None,
            auto_length: true,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Removes every header called `name`.
    pub fn without(mut self, name: &str) -> Req {
        self.headers.retain(|(k, _)| !k.eq_ignore_ascii_case(name));
        self
    }

    /// Replaces header `name`.
    pub fn set(self, name: &str, value: &str) -> Req {
        self.without(name).header(name, value)
    }

    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Req {
        self.body = body.into();
        self
    }

    pub fn json(self, v: &Value) -> Req {
        self.body(serde_json::to_vec(v).unwrap())
    }

    pub fn chunked(mut self, size: usize) -> Req {
        self.chunked = Some(size);
        self
    }

    pub fn target(mut self, target: &str) -> Req {
        self.target = target.into();
        self
    }

    pub fn method(mut self, method: &str) -> Req {
        self.method = method.into();
        self
    }

    /// The bytes on the wire (always with `Connection: close`).
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = format!("{} {} HTTP/1.1\r\nHost: hsgate.test\r\n", self.method, self.target).into_bytes();
        for (k, v) in &self.headers {
            out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
        }
        out.extend_from_slice(b"Connection: close\r\n");
        match self.chunked {
            Some(_) => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
            None if self.auto_length && (!self.body.is_empty() || self.method != "GET") => {
                out.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
            }
            None => {}
        }
        out.extend_from_slice(b"\r\n");
        match self.chunked {
            Some(size) => {
                for chunk in self.body.chunks(size.max(1)) {
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            None => out.extend_from_slice(&self.body),
        }
        out
    }
}

/// A parsed HTTP response.
#[derive(Clone, Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Everything received, head included.
    pub raw: Vec<u8>,
    /// Our end of the connection.
    pub local: SocketAddr,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.text()))
    }

    pub fn error_code(&self) -> String {
        self.json()["ResponseStatus"]["ErrorCode"].as_str().unwrap_or_default().to_owned()
    }

    pub fn request_id(&self) -> String {
        self.header("x-request-id").unwrap_or_default().to_owned()
    }
}

/// Reads a whole response from `stream` (the server closes after it).
pub async fn read_response(mut stream: TcpStream) -> Resp {
    let local = stream.local_addr().unwrap();
    let mut raw = Vec::new();
    let read = async {
        let mut buf = [0u8; 16384];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
                // A reset after the answer (unread request bytes) still leaves the answer.
                Err(e) if !raw.is_empty() => {
                    let _ = e;
                    break;
                }
                Err(e) => panic!("reading the response failed: {e}"),
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("no complete response in time");
    parse_response(raw, local)
}

pub fn parse_response(raw: Vec<u8>, local: SocketAddr) -> Resp {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no response head in {:?}", String::from_utf8_lossy(&raw)));
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("status line");
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let find = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
    let body = if find("transfer-encoding").is_some_and(|v| v.to_ascii_lowercase().contains("chunked")) {
        let mut body = Vec::new();
        let mut at = 0;
        loop {
            let line_end = at + rest[at..].windows(2).position(|w| w == b"\r\n").expect("chunk size line");
            let size_text = String::from_utf8_lossy(&rest[at..line_end]).into_owned();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).expect("chunk size");
            at = line_end + 2;
            if size == 0 {
                break;
            }
            body.extend_from_slice(&rest[at..at + size]);
            at += size + 2;
        }
        body
    } else if let Some(len) = find("content-length") {
        let len: usize = len.parse().unwrap();
        assert!(rest.len() >= len, "short body: {} of {len} bytes", rest.len());
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Resp { status, headers, body, raw, local }
}

/// Connects, sends `bytes`, reads the answer.
pub async fn exchange(addr: SocketAddr, bytes: &[u8]) -> Resp {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    read_response(stream).await
}

/// `GET path` on `addr`.
pub async fn get(addr: SocketAddr, path: &str) -> Resp {
    exchange(addr, &Req::new("GET", path).to_bytes()).await
}

/// Reads until the peer closes (EOF or reset), at most `WAIT`; returns what arrived.
pub async fn until_closed<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let mut got = Vec::new();
    let read = async {
        let mut buf = [0u8; 16384];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("the gateway kept the connection open");
    got
}

/// Reads exactly one answer (head and Content-Length body) from a keep-alive
/// connection, at most `WAIT`; panics if more than that one answer arrives.
pub async fn read_one_answer<S: tokio::io::AsyncRead + Unpin>(stream: &mut S) -> Vec<u8> {
    let read = async {
        let mut raw = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0, "closed before the answer: {:?}", String::from_utf8_lossy(&raw));
            raw.extend_from_slice(&buf[..n]);
            if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .map(|v| v.trim().parse().unwrap())
                    .expect("content-length");
                assert!(raw.len() <= end + 4 + len, "more than one answer arrived");
                if raw.len() == end + 4 + len {
                    return raw;
                }
            }
        }
    };
    tokio::time::timeout(WAIT, read).await.expect("no answer in time")
}
