//! A TCP proxy between the code under test and Postgres that breaks connections at the moment
//! that matters most to a writer: around `COMMIT`.
//!
//! Why a proxy rather than `pg_terminate_backend`: a terminated backend tells its client and
//! rolls back, so it never produces the hard case, a `COMMIT` that the server received (and
//! applied) but whose answer the client never got. The proxy reads enough of the Postgres wire
//! protocol to see message boundaries: the startup preamble (an `SSLRequest` is declined by the
//! proxy itself, since it must read the messages; a `GSSENCRequest` is passed on and its one-byte
//! answer returned, and a server that agrees to encrypt turns the connection into a plain pipe),
//! then typed messages both ways. tokio-postgres sends `COMMIT`
//! as a simple Query (`Q`) message, which is where a [`Cut`] acts (see [`CutPoint`]).
//!
//! ```ignore
//! let proxy = PgProxy::start(db.url()).await?;
//! let database = Database::connect(&proxy.url(db.url()), 8).await?;
//! let cut = proxy.arm(Cut::at(CutPoint::AfterCommitSent).when_sent("TokensGranted"));
//! // ... a grant through `database` ...
//! cut.wait(Duration::from_secs(10)).await.expect("cut");
//! ```
//!
//! A cut may also take the proxy down for a while afterwards ([`Cut::then_down_for`],
//! [`PgProxy::down_for`]): every open connection is severed and new ones are closed at once, as
//! when Postgres is unreachable.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{oneshot, watch};
use tokio::task::JoinSet;

/// Protocol codes of the preamble (first message, no type byte).
const SSL_REQUEST: u32 = 80_877_103;
const GSSENC_REQUEST: u32 = 80_877_104;
/// Largest message accepted (Postgres' own limit for most messages is 1 GiB; tests send far less).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// What one connection remembers of its current transaction to match [`Cut::when_sent`]: enough
/// for a batch of 64 commands many times over. Bytes past it are not searched.
const MAX_REMEMBERED_BYTES: usize = 8 * 1024 * 1024;
/// How long the proxy keeps reading from a server after cutting its client, so that the server
/// sees an orderly end (FIN, not RST) after everything the proxy forwarded.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);

/// Where a [`Cut`] breaks the connection, relative to the client's `COMMIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CutPoint {
    /// `COMMIT` is not forwarded; both sides are closed. The server sees the connection end
    /// inside the transaction and rolls back.
    BeforeCommit,
    /// `COMMIT` is forwarded, then the client's side is closed at once and the server's side is
    /// closed after it (the server reads the `COMMIT` first, so it commits); its answer is lost.
    AfterCommitSent,
    /// The server's answer to `COMMIT` (and the `ReadyForQuery` after it) reaches the client;
    /// then both sides are closed, so whatever the client pipelined after `COMMIT` (a `NOTIFY`,
    /// say) fails.
    AfterCommitReply,
    /// The client's side is closed before `COMMIT`; the server's side stays open and silent
    /// until the proxy is dropped, as in a network partition: the server keeps the transaction
    /// open ("idle in transaction") until someone terminates its backend.
    BeforeCommitServerUnaware,
}

/// One planned cut: the next `COMMIT` (of a transaction that sent [`Cut::when_sent`], if set)
/// on any connection through the proxy.
#[derive(Debug, Clone)]
pub struct Cut {
    /// Where in the COMMIT's round trip the connection is severed.
    pub at: CutPoint,
    /// Only a transaction that sent these bytes since its `BEGIN` (in a query's text or a bound
    /// parameter, e.g. an event type of the ledger's write) is cut.
    pub when_sent: Option<Vec<u8>>,
    /// After the cut, the proxy is down for this long (see [`PgProxy::down_for`]).
    pub then_down_for: Duration,
}

impl Cut {
    /// A cut of the next COMMIT of any transaction, at `at`, with no outage after it.
    pub fn at(at: CutPoint) -> Cut {
        Cut {
            at,
            when_sent: None,
            then_down_for: Duration::ZERO,
        }
    }

    /// Narrows the cut to a transaction that sent `needle` (e.g. `b"TaskRequested"`), so a test
    /// can cut the write it is about and not a checkpoint or a relay's read.
    pub fn when_sent(mut self, needle: impl AsRef<[u8]>) -> Cut {
        self.when_sent = Some(needle.as_ref().to_vec());
        self
    }

    /// Keeps the proxy down for `outage` after the cut, as a Postgres restart would.
    pub fn then_down_for(mut self, outage: Duration) -> Cut {
        self.then_down_for = outage;
        self
    }
}

/// Resolves when the armed cut has happened.
pub struct CutDone(oneshot::Receiver<()>);

/// The armed cut did not happen in time (or the proxy was dropped).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the armed cut did not happen within {0:?}")]
pub struct NotCut(pub Duration);

impl CutDone {
    /// Waits for the cut, at most `within`: a test that armed a cut must know it happened
    /// before it asserts what the cut did.
    pub async fn wait(self, within: Duration) -> Result<(), NotCut> {
        match tokio::time::timeout(within, self.0).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(NotCut(within)),
        }
    }
}

struct Armed {
    cut: Cut,
    done: oneshot::Sender<()>,
}

struct Shared {
    upstream: SocketAddr,
    armed: Mutex<Option<Armed>>,
    cuts: AtomicU64,
    /// True while the proxy is down.
    down: watch::Sender<bool>,
    /// Bumped by each outage, so that an older outage's end does not end a newer one early.
    outages: AtomicU64,
    /// Server sides kept open by [`CutPoint::BeforeCommitServerUnaware`].
    held: Mutex<Vec<(BufReader<OwnedReadHalf>, OwnedWriteHalf)>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Shared {
    /// Takes the armed cut if this transaction qualifies.
    fn take_cut(&self, sent: &[u8]) -> Option<Armed> {
        let mut armed = lock(&self.armed);
        let qualifies = armed.as_ref().is_some_and(|a| match &a.cut.when_sent {
            None => true,
            Some(needle) => contains(sent, needle),
        });
        if qualifies { armed.take() } else { None }
    }

    fn go_down_for(self: &Arc<Self>, outage: Duration) {
        if outage.is_zero() {
            return;
        }
        let generation = self.outages.fetch_add(1, Ordering::SeqCst) + 1;
        self.down.send_replace(true);
        let shared = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(outage).await;
            if shared.outages.load(Ordering::SeqCst) == generation {
                shared.down.send_replace(false);
            }
        });
    }
}

/// The proxy: listens on a free loopback port until dropped (dropping it closes every
/// connection through it).
pub struct PgProxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
}

impl Drop for PgProxy {
    fn drop(&mut self) {
        self.accept.abort();
        lock(&self.shared.held).clear();
    }
}

impl PgProxy {
    /// Starts a proxy to the server of `database_url` (a `postgres://` URL with a TCP host).
    pub async fn start(database_url: &str) -> io::Result<PgProxy> {
        let upstream = upstream_of(database_url)?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            armed: Mutex::new(None),
            cuts: AtomicU64::new(0),
            down: watch::channel(false).0,
            outages: AtomicU64::new(0),
            held: Mutex::new(Vec::new()),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(PgProxy {
            addr,
            shared,
            accept,
        })
    }

    /// The proxy's loopback address, where clients connect instead of the server.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `database_url` with its host and port replaced by the proxy's.
    pub fn url(&self, database_url: &str) -> String {
        let Some((scheme, rest)) = database_url.split_once("://") else {
            panic!("testkit: {database_url:?} is not a postgres:// URL");
        };
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        let userinfo = authority
            .rsplit_once('@')
            .map(|(u, _)| format!("{u}@"))
            .unwrap_or_default();
        format!("{scheme}://{userinfo}{}{path}", self.addr)
    }

    /// Plans a cut (replacing one planned before and not yet done).
    pub fn arm(&self, cut: Cut) -> CutDone {
        let (done, rx) = oneshot::channel();
        *lock(&self.shared.armed) = Some(Armed { cut, done });
        CutDone(rx)
    }

    /// Withdraws a planned cut; true if one was planned.
    pub fn disarm(&self) -> bool {
        lock(&self.shared.armed).take().is_some()
    }

    /// Cuts done so far.
    pub fn cuts(&self) -> u64 {
        self.shared.cuts.load(Ordering::SeqCst)
    }

    /// Severs every connection now and closes new ones at once, for `outage`.
    pub fn down_for(&self, outage: Duration) {
        self.shared.go_down_for(outage);
    }

    /// Whether the proxy is refusing connections now (during an outage).
    pub fn is_down(&self) -> bool {
        *self.shared.down.borrow()
    }

    /// Waits until the proxy is up again (at most `within`); true if it is.
    pub async fn wait_up(&self, within: Duration) -> bool {
        let mut down = self.shared.down.subscribe();
        tokio::time::timeout(within, down.wait_for(|d| !*d))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

fn upstream_of(database_url: &str) -> io::Result<SocketAddr> {
    let invalid = |why: String| io::Error::new(io::ErrorKind::InvalidInput, why);
    let config = tokio_postgres::Config::from_str(database_url)
        .map_err(|e| invalid(format!("{database_url:?} is not a Postgres URL: {e}")))?;
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => return Err(invalid(format!("{database_url:?} has no TCP host"))),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let host = if host == "localhost" {
        "127.0.0.1".to_string()
    } else {
        host
    };
    format!("{host}:{port}")
        .parse()
        .map_err(|e| invalid(format!("{host}:{port} is not an IP address and port: {e}")))
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Owned here, so that aborting this task (dropping the proxy) ends every connection.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let Ok((client, _)) = listener.accept().await else {
            // Out of file descriptors, say: try again shortly rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if *shared.down.borrow() {
            drop(client);
            continue;
        }
        connections.spawn(relay(client, shared.clone()));
    }
}

/// How a connection ended.
enum End {
    /// One side closed or failed, or the proxy went down: close both.
    Closed,
    /// The armed cut applies here.
    Cut {
        armed: Armed,
        /// The `COMMIT` message, for [`CutPoint::AfterCommitSent`].
        commit: Vec<u8>,
    },
    /// The answer to `COMMIT` reached the client ([`CutPoint::AfterCommitReply`]).
    CutAfterReply(Armed),
}

/// What one connection remembers between its two directions.
#[derive(Default)]
struct Conn {
    /// Prepared statement name -> its SQL, from Parse messages (a Bind names only the statement).
    statements: HashMap<Vec<u8>, Vec<u8>>,
    /// Query texts and bound parameters sent since the transaction began.
    sent: Vec<u8>,
    /// Set when `COMMIT` was forwarded under an [`CutPoint::AfterCommitReply`] cut.
    reply_cut: Option<Armed>,
}

impl Conn {
    fn remember(&mut self, bytes: &[u8]) {
        let room = MAX_REMEMBERED_BYTES.saturating_sub(self.sent.len());
        self.sent.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }
}

async fn relay(client: TcpStream, shared: Arc<Shared>) {
    let Ok(server) = TcpStream::connect(shared.upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_r, mut client_w) = client.into_split();
    let (server_r, mut server_w) = server.into_split();
    let mut client_r = BufReader::new(client_r);
    let mut server_r = BufReader::new(server_r);

    match preamble(&mut client_r, &mut client_w, &mut server_r, &mut server_w).await {
        Ok(true) => {}
        Ok(false) => {
            // Encrypted from here on: nothing to see, just pass bytes.
            let _ = tokio::join!(
                tokio::io::copy(&mut client_r, &mut server_w),
                tokio::io::copy(&mut server_r, &mut client_w),
            );
            return;
        }
        Err(_) => return,
    }

    let conn = Mutex::new(Conn::default());
    let mut down = shared.down.subscribe();
    let end = tokio::select! {
        end = frontend(&mut client_r, &mut server_w, &conn, &shared) => end,
        end = backend(&mut server_r, &mut client_w, &conn) => end,
        _ = down.wait_for(|d| *d) => End::Closed,
    };
    let (armed, forward) = match end {
        End::Closed => return,
        End::Cut { armed, commit } => {
            let forward = (armed.cut.at == CutPoint::AfterCommitSent).then_some(commit);
            (armed, forward)
        }
        End::CutAfterReply(armed) => (armed, None),
    };
    // The client's side goes first: it must never see an answer after this point. The outage
    // starts with the cut, before anyone can ask the server what became of it.
    drop(client_w);
    drop(client_r);
    shared.go_down_for(armed.cut.then_down_for);
    if armed.cut.at == CutPoint::BeforeCommitServerUnaware {
        lock(&shared.held).push((server_r, server_w));
    } else {
        if let Some(commit) = forward {
            let _ = server_w.write_all(&commit).await;
        }
        let _ = server_w.shutdown().await;
        let mut sink = [0u8; 8192];
        let _ = tokio::time::timeout(DRAIN_LIMIT, async {
            while matches!(server_r.read(&mut sink).await, Ok(n) if n > 0) {}
        })
        .await;
    }
    shared.cuts.fetch_add(1, Ordering::SeqCst);
    let _ = armed.done.send(());
}

/// Passes the startup preamble on. Ok(false): the server agreed to encrypt.
async fn preamble(
    client_r: &mut BufReader<OwnedReadHalf>,
    client_w: &mut OwnedWriteHalf,
    server_r: &mut BufReader<OwnedReadHalf>,
    server_w: &mut OwnedWriteHalf,
) -> io::Result<bool> {
    loop {
        // Startup messages have no type byte, and at least a protocol code.
        let body = read_sized(client_r, 8).await?;
        let len = body.len() + 4;
        let code = u32::from_be_bytes([body[0], body[1], body[2], body[3]]);
        if code == SSL_REQUEST {
            // The proxy must read the messages to cut them, so it declines TLS itself (a
            // client with the default sslmode=prefer then speaks plain, as to a server without
            // TLS); the server never sees the request.
            client_w.write_all(b"N").await?;
            continue;
        }
        server_w.write_all(&(len as u32).to_be_bytes()).await?;
        server_w.write_all(&body).await?;
        if code != SSL_REQUEST && code != GSSENC_REQUEST {
            // StartupMessage or CancelRequest: typed messages follow.
            return Ok(true);
        }
        let answer = server_r.read_u8().await?;
        client_w.write_all(&[answer]).await?;
        if answer != b'N' {
            return Ok(false);
        }
    }
}

/// A length (which counts itself, at least `min`) and the body after it.
async fn read_sized(r: &mut BufReader<OwnedReadHalf>, min: usize) -> io::Result<Vec<u8>> {
    let len = r.read_u32().await? as usize;
    if !(min..=MAX_MESSAGE_BYTES).contains(&len) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("a message of {len} bytes"),
        ));
    }
    let mut body = vec![0u8; len - 4];
    r.read_exact(&mut body).await?;
    Ok(body)
}

/// One typed message: type byte and body (without the length).
async fn read_message(r: &mut BufReader<OwnedReadHalf>) -> io::Result<(u8, Vec<u8>)> {
    let kind = r.read_u8().await?;
    Ok((kind, read_sized(r, 4).await?))
}

fn encode(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 5);
    out.push(kind);
    out.extend_from_slice(&((body.len() + 4) as u32).to_be_bytes());
    out.extend_from_slice(body);
    out
}

/// The text of a simple query, without its terminator, trimmed and upper-cased if short.
fn statement_word(body: &[u8]) -> String {
    let text = body.split(|b| *b == 0).next().unwrap_or_default();
    let text = String::from_utf8_lossy(text);
    let text = text.trim().trim_end_matches(';').trim();
    if text.len() <= 32 {
        text.to_ascii_uppercase()
    } else {
        String::new()
    }
}

/// The client's messages, forwarded one by one until a cut applies.
async fn frontend(
    client_r: &mut BufReader<OwnedReadHalf>,
    server_w: &mut OwnedWriteHalf,
    conn: &Mutex<Conn>,
    shared: &Shared,
) -> End {
    loop {
        let Ok((kind, body)) = read_message(client_r).await else {
            return End::Closed;
        };
        let message = encode(kind, &body);
        match kind {
            b'P' => {
                // Parse: name \0 query \0 ...
                let mut parts = body.splitn(3, |b| *b == 0);
                let name = parts.next().unwrap_or_default().to_vec();
                let query = parts.next().unwrap_or_default().to_vec();
                lock(conn).statements.insert(name, query);
            }
            b'B' => {
                // Bind: portal \0 statement \0 ... parameters
                let mut c = lock(conn);
                let statement = body.split(|b| *b == 0).nth(1).unwrap_or_default();
                let sql = c.statements.get(statement).cloned().unwrap_or_default();
                c.remember(&sql);
                c.remember(&body);
            }
            b'Q' => {
                let word = statement_word(&body);
                if word.starts_with("BEGIN") || word.starts_with("START TRANSACTION") {
                    lock(conn).sent.clear();
                }
                if word == "COMMIT" || word == "END" {
                    let sent = std::mem::take(&mut lock(conn).sent);
                    if let Some(armed) = shared.take_cut(&sent) {
                        match armed.cut.at {
                            CutPoint::AfterCommitReply => lock(conn).reply_cut = Some(armed),
                            _ => {
                                return End::Cut {
                                    armed,
                                    commit: message,
                                };
                            }
                        }
                    }
                } else if word == "ROLLBACK" || word == "ABORT" {
                    lock(conn).sent.clear();
                } else {
                    lock(conn).remember(&body);
                }
            }
            _ => {}
        }
        if server_w.write_all(&message).await.is_err() {
            return End::Closed;
        }
    }
}

/// The server's messages, forwarded one by one; ends after the answer to a `COMMIT` that is to
/// be cut after its reply.
async fn backend(
    server_r: &mut BufReader<OwnedReadHalf>,
    client_w: &mut OwnedWriteHalf,
    conn: &Mutex<Conn>,
) -> End {
    let mut answered = false;
    loop {
        let Ok((kind, body)) = read_message(server_r).await else {
            return End::Closed;
        };
        if client_w.write_all(&encode(kind, &body)).await.is_err() {
            return End::Closed;
        }
        let waiting = lock(conn).reply_cut.is_some();
        if !waiting {
            continue;
        }
        // CommandComplete of COMMIT (or ROLLBACK, if the transaction had failed), then the
        // ReadyForQuery that follows it.
        if kind == b'C' && (body.starts_with(b"COMMIT") || body.starts_with(b"ROLLBACK")) {
            answered = true;
        } else if kind == b'Z'
            && answered
            && let Some(armed) = lock(conn).reply_cut.take()
        {
            return End::CutAfterReply(armed);
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_bytes_and_words() {
        assert!(contains(b"xxTokensGrantedyy", b"TokensGranted"));
        assert!(!contains(b"Tokens", b"TokensGranted"));
        assert_eq!(statement_word(b"commit;\0"), "COMMIT");
        assert_eq!(statement_word(b"  BEGIN \0"), "BEGIN");
    }
}
