//! A fake OpenAI Images API (`/v1/images/generations`, `/v1/images/edits`) for tests and the
//! demo: OpenAI's real request and response shapes, with programmable failures (rate limits,
//! server errors, hangs, moderation refusals, malformed bodies) and a record of every call.
//!
//! Behaviour is chosen per request: a script registered for a substring of the prompt first
//! (stable under concurrency), then the global queue, then the default.

mod call;
mod png;
mod server;
mod state;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use call::{Behavior, Endpoint, RecordedCall, UploadedImage};
use state::State;

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
        let state = Arc::new(State::new("sk-test-fake-openai", &base));
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

    /// The next request (not matched by a prompt script) does this; queued behaviours run in order
    /// before the default.
    pub fn enqueue(&self, behavior: Behavior) {
        self.state.lock().queue.push_back(behavior);
    }

    /// Queues several behaviours at once, in order (e.g. two failures, then a success).
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

    /// What every request does once the queues are empty (`Behavior::Ok` unless set), e.g. a
    /// whole benchmark against a failing provider.
    pub fn set_default(&self, behavior: Behavior) {
        self.state.lock().default = Some(behavior);
    }

    /// Added before every answer (a benchmark's "1 s per image").
    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().latency = latency;
    }

    /// Every call so far, in arrival order, refused ones included.
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

    /// Requests being answered right now (hung ones included): how a test sees a client that
    /// gave up, or the worker's concurrency.
    pub fn in_flight(&self) -> usize {
        self.state.in_flight.load(Ordering::SeqCst)
    }

    /// The most requests ever in flight at once: a test's check that the worker respects its
    /// concurrency limit.
    pub fn max_in_flight(&self) -> usize {
        self.state.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        self.server.abort();
    }
}
