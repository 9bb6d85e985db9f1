//! A small HTTP proxy on loopback handing each request to the next of several backends in turn,
//! as a load balancer in front of several webhook bot processes does.
//!
//! A backend that refuses the connection (a killed process) is skipped, so the request goes to
//! the next. A backend that fails mid-request (killed while handling it) gets a 502 back to the
//! caller, which resends, as Telegram does with an update whose webhook answered non-2xx.
//! Requests are forwarded one per backend connection (`Connection: close`), so that every
//! request of a kept-alive client connection is balanced, not only its first.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head or body the proxy accepts (a Telegram update is a few kB).
const MAX_REQUEST: usize = 1024 * 1024;

#[derive(Debug)]
struct Shared {
    backends: Vec<SocketAddr>,
    next: AtomicUsize,
    forwarded: AtomicU64,
    refused: AtomicU64,
    failed: AtomicU64,
}

/// The proxy; it stops when dropped.
#[derive(Debug)]
pub struct RoundRobin {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl RoundRobin {
    /// Listens on a free loopback port and forwards to `backends` in turn.
    ///
    /// Panics when it cannot listen.
    pub async fn start(backends: Vec<SocketAddr>) -> RoundRobin {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))
            .await
            .unwrap_or_else(|e| panic!("testkit: round-robin proxy cannot listen: {e}"));
        let addr = listener
            .local_addr()
            .unwrap_or_else(|e| panic!("testkit: round-robin proxy has no address: {e}"));
        let shared = Arc::new(Shared {
            backends,
            next: AtomicUsize::new(0),
            forwarded: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        });
        let accepting = Arc::clone(&shared);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(serve(client, Arc::clone(&accepting)));
            }
        });
        RoundRobin { addr, shared, task }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its base URL (`http://127.0.0.1:port`).
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests answered by a backend.
    pub fn forwarded(&self) -> u64 {
        self.shared.forwarded.load(Ordering::Relaxed)
    }

    /// Connections a backend refused (and the next one was tried).
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Requests answered 502: every backend refused, or the chosen one failed mid-request.
    pub fn failed(&self) -> u64 {
        self.shared.failed.load(Ordering::Relaxed)
    }
}

impl Drop for RoundRobin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves one client connection: each request to the next backend, until the client closes.
async fn serve(client: TcpStream, shared: Arc<Shared>) {
    let (read, mut write) = client.into_split();
    let mut read = BufReader::new(read);
    while let Some(request) = read_request(&mut read).await {
        let answer = match forward(&request, &shared).await {
            Some(response) => {
                shared.forwarded.fetch_add(1, Ordering::Relaxed);
                response
            }
            None => {
                shared.failed.fetch_add(1, Ordering::Relaxed);
                b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n".to_vec()
            }
        };
        if write.write_all(&answer).await.is_err() {
            return;
        }
    }
}

/// One request with `Connection: close` in place of the client's own connection header; None
/// at the end of the connection or on a malformed request.
async fn read_request<R: tokio::io::AsyncBufRead + Unpin>(read: &mut R) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await.ok()? == 0 || head.len() > MAX_REQUEST {
            return None;
        }
        if line == "\r\n" {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if let Some(value) = lower.strip_prefix("content-length:") {
            length = value.trim().parse().ok()?;
        }
        if !lower.starts_with("connection:") {
            head.extend_from_slice(line.as_bytes());
        }
    }
    if length > MAX_REQUEST {
        return None;
    }
    head.extend_from_slice(b"connection: close\r\n\r\n");
    let mut body = vec![0; length];
    read.read_exact(&mut body).await.ok()?;
    head.extend_from_slice(&body);
    Some(head)
}

/// The response of the next backend that accepts the connection; None when all refuse or the
/// chosen one fails before its response is complete.
async fn forward(request: &[u8], shared: &Shared) -> Option<Vec<u8>> {
    let n = shared.backends.len();
    let first = shared.next.fetch_add(1, Ordering::Relaxed);
    for k in 0..n {
        let backend = shared.backends[(first + k) % n];
        let Ok(mut stream) = TcpStream::connect(backend).await else {
            shared.refused.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        stream.write_all(request).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        return complete(&response).then_some(response);
    }
    None
}

/// Whether `response` is a whole HTTP response: a status line, the end of the head, and as
/// many body bytes as its content-length says (a backend killed mid-answer leaves less).
fn complete(response: &[u8]) -> bool {
    let text = String::from_utf8_lossy(response);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    if !head.starts_with("HTTP/1.") {
        return false;
    }
    let length = head.lines().find_map(|l| {
        let lower = l.to_ascii_lowercase();
        lower
            .strip_prefix("content-length:")
            .and_then(|v| v.trim().parse::<usize>().ok())
    });
    // Without a content-length the body ends with the connection, which read_to_end saw.
    length.is_none_or(|n| body.len() >= n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cut_response_is_not_complete() {
        assert!(complete(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
        assert!(!complete(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nok"));
        assert!(!complete(b""));
        assert!(!complete(b"HTTP/1.1 200 OK\r\ncontent-le"));
    }

    #[tokio::test]
    async fn requests_go_round_and_skip_a_refusing_backend() {
        let mut backends = Vec::new();
        for tag in ["a", "b"] {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            backends.push(listener.local_addr().unwrap());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let mut read = BufReader::new(stream);
                    read_request(&mut read).await.unwrap();
                    let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n{tag}");
                    read.get_mut().write_all(answer.as_bytes()).await.unwrap();
                }
            });
        }
        // A port nothing listens on: the dead backend.
        backends.push(SocketAddr::from((Ipv4Addr::LOCALHOST, crate::free_port())));
        let proxy = RoundRobin::start(backends).await;
        let mut answers = Vec::new();
        for _ in 0..6 {
            let mut stream = TcpStream::connect(proxy.addr()).await.unwrap();
            stream
                .write_all(b"POST /webhook HTTP/1.1\r\ncontent-length: 2\r\n\r\n{}")
                .await
                .unwrap();
            let mut read = BufReader::new(stream);
            let mut response = vec![0; 39];
            read.read_exact(&mut response).await.unwrap();
            answers.push(String::from_utf8_lossy(&response[38..]).to_string());
        }
        assert_eq!(answers, ["a", "b", "a", "a", "b", "a"]);
        assert_eq!(
            (proxy.forwarded(), proxy.refused(), proxy.failed()),
            (6, 2, 0)
        );
    }
}
