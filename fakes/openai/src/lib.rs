//! A fake OpenAI Images API (`/v1/images/generations`, `/v1/images/edits`) for tests and the
//! demo: OpenAI's real request and response shapes, with programmable failures (rate limits,
//! server errors, hangs, moderation refusals, malformed bodies) and a record of every call.
//!
//! Behaviour is chosen per request: a script registered for a substring of the prompt first
//! (stable under concurrency), then the global queue, then the default.

mod png;
mod server;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

/// What the fake does with one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Behavior {
    /// 200 with a base64 PNG.
    Ok,
    /// Wait, then 200.
    Latency(Duration),
    /// 500, as OpenAI's "The server had an error while processing your request".
    ServerError,
    /// 429 with a `Retry-After` header.
    RateLimited { retry_after_s: u64 },
    /// Never answer (until a ten-minute cap): the client's timeout must fire.
    Hang,
    /// 400 `moderation_blocked`: the safety system refused the prompt.
    Moderation,
    /// 400 `invalid_image_format`.
    InvalidImage,
    /// 400 with this message.
    BadRequest(String),
    /// 200 whose body is not JSON.
    MalformedBody,
    /// 200 with a URL to the image instead of base64.
    UrlResult,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    Generations,
    Edits,
}

/// The uploaded source image of an edit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadedImage {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub len: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordedCall {
    pub endpoint: Endpoint,
    pub authorized: bool,
    pub model: Option<String>,
    pub prompt: Option<String>,
    pub quality: Option<String>,
    pub size: Option<String>,
    pub n: Option<u64>,
    pub image: Option<UploadedImage>,
    pub behavior: Behavior,
}

#[derive(Default)]
struct Script {
    queue: VecDeque<Behavior>,
    by_prompt: Vec<(String, VecDeque<Behavior>)>,
    default: Option<Behavior>,
    latency: Duration,
    calls: Vec<RecordedCall>,
    files: Vec<(String, Vec<u8>)>,
}

pub(crate) struct State {
    api_key: String,
    base: String,
    script: Mutex<Script>,
    called: Notify,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl State {
    fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
        self.script.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Picks the behaviour for a prompt and the latency to apply before it.
    pub(crate) fn next(&self, prompt: Option<&str>) -> (Behavior, Duration) {
        let mut s = self.lock();
        let scripted = prompt.and_then(|p| {
            s.by_prompt
                .iter_mut()
                .find(|(needle, q)| p.contains(needle.as_str()) && !q.is_empty())
                .and_then(|(_, q)| q.pop_front())
        });
        let behavior = scripted
            .or_else(|| s.queue.pop_front())
            .or_else(|| s.default.clone())
            .unwrap_or(Behavior::Ok);
        (behavior, s.latency)
    }

    pub(crate) fn record(&self, call: RecordedCall) {
        self.lock().calls.push(call);
        self.called.notify_waiters();
    }

    pub(crate) fn store_file(&self, bytes: Vec<u8>) -> String {
        let mut s = self.lock();
        let id = format!("img{}", s.files.len() + 1);
        s.files.push((id.clone(), bytes));
        format!("{}/files/{id}.png", self.base)
    }

    pub(crate) fn file(&self, id: &str) -> Option<Vec<u8>> {
        self.lock()
            .files
            .iter()
            .find(|(f, _)| f == id)
            .map(|(_, b)| b.clone())
    }

    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        InFlight(self.clone())
    }
}

/// Counts a request in flight for as long as it lives (also when the client hangs up).
pub(crate) struct InFlight(Arc<State>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A running fake, serving on a loopback port until dropped.
pub struct FakeOpenAi {
    state: Arc<State>,
    url: String,
    server: tokio::task::JoinHandle<()>,
}

impl FakeOpenAi {
    /// Binds 127.0.0.1 on a free port and serves.
    pub async fn start() -> std::io::Result<FakeOpenAi> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let base = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(State {
            api_key: "sk-test-fake-openai".into(),
            base: base.clone(),
            script: Mutex::new(Script::default()),
            called: Notify::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        });
        let app = server::router(state.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake OpenAI server stopped");
            }
        });
        Ok(FakeOpenAi {
            state,
            url: format!("{base}/v1"),
            server,
        })
    }

    /// The base URL, as OPENAI_BASE_URL takes it (ends in `/v1`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The key the fake accepts in `Authorization: Bearer`.
    pub fn api_key(&self) -> &str {
        &self.state.api_key
    }

    pub fn enqueue(&self, behavior: Behavior) {
        self.state.lock().queue.push_back(behavior);
    }

    pub fn enqueue_many(&self, behaviors: impl IntoIterator<Item = Behavior>) {
        self.state.lock().queue.extend(behaviors);
    }

    /// Requests whose prompt contains `needle` take these behaviours first, in order.
    pub fn script_prompt(&self, needle: &str, behaviors: impl IntoIterator<Item = Behavior>) {
        self.state
            .lock()
            .by_prompt
            .push((needle.to_string(), behaviors.into_iter().collect()));
    }

    pub fn set_default(&self, behavior: Behavior) {
        self.state.lock().default = Some(behavior);
    }

    /// Added before every answer (a benchmark's "1 s per image").
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().latency = latency;
    }

    pub fn calls(&self) -> Vec<RecordedCall> {
        self.state.lock().calls.clone()
    }

    /// Waits until at least `n` calls were recorded, or `timeout`.
    pub async fn wait_for_calls(&self, n: usize, timeout: Duration) -> Vec<RecordedCall> {
        let wait = async {
            loop {
                let notified = self.state.called.notified();
                let calls = self.calls();
                if calls.len() >= n {
                    return calls;
                }
                notified.await;
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| self.calls())
    }

    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
