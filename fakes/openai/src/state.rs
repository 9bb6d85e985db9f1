//! The fake's shared state: the script of behaviours, the record of calls, the files a
//! `UrlResult` serves, and the count of requests in flight.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use crate::call::{Behavior, RecordedCall};

/// What the test told the fake to do, and what it recorded.
#[derive(Default)]
pub(crate) struct Script {
    pub(crate) queue: VecDeque<Behavior>,
    pub(crate) by_prompt: Vec<(String, VecDeque<Behavior>)>,
    pub(crate) default: Option<Behavior>,
    pub(crate) latency: Duration,
    pub(crate) calls: Vec<RecordedCall>,
    files: Vec<(String, Vec<u8>)>,
}

/// Shared by the handle and every request handler.
pub(crate) struct State {
    pub(crate) api_key: String,
    base: String,
    script: Mutex<Script>,
    pub(crate) called: Notify,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) max_in_flight: AtomicUsize,
}

impl State {
    /// A fresh state for a fake serving at `base` (its `http://host:port`).
    pub(crate) fn new(api_key: &str, base: &str) -> State {
        State {
            api_key: api_key.to_string(),
            base: base.to_string(),
            script: Mutex::new(Script::default()),
            called: Notify::new(),
            in_flight: AtomicUsize::new(0),
            max_in_flight: AtomicUsize::new(0),
        }
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Script> {
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
