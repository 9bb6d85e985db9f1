//! Answering a request: record it, then a programmed failure, a long poll (getUpdates waits
//! until an update comes, its timeout passes, or a newer poll or a webhook ends it), or the
//! method itself.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::methods;
use crate::records::Failure;
use crate::request::Request;
use crate::state::{Inner, State};
use crate::wire::{ApiError, Reply};

struct Poll {
    generation: u64,
    limit: usize,
    deadline: Instant,
}

enum Step {
    Done(Reply),
    Poll(Poll),
}

impl State {
    /// Records one Bot API request and answers it.
    pub async fn handle(&self, req: Request, authorized: bool) -> Reply {
        let (step, delay, chat) = {
            let mut inner = self.lock();
            let chat = inner.record(&req, authorized);
            let index = inner.calls.len() - 1;
            let delay = inner.flood.delay(&req);
            if delay.is_some() {
                inner.flood.hold();
            }
            let step = if !authorized {
                Step::Done(Err(ApiError::unauthorized()))
            } else if let Some(f) = inner.take_failure(&req.method) {
                Step::Done(Err(ApiError::from(&f)))
            } else if let Some(after) = inner.flood.admit(&req, index) {
                Step::Done(Err(ApiError::from(&Failure::retry_after(after))))
            } else if req.method == "getUpdates" {
                start_poll(&mut inner, &req)
            } else {
                Step::Done(methods::handle(&mut inner, &req))
            };
            (step, delay, chat)
        };
        self.recorded(chat);
        // Any call may change what a waiting poll answers (a webhook set, a newer poll).
        self.updates_changed();
        if let Some(d) = delay {
            tokio::time::sleep(d).await;
            self.lock().flood.release();
        }
        match step {
            Step::Done(reply) => reply,
            Step::Poll(poll) => self.long_poll(poll).await,
        }
    }

    async fn long_poll(&self, poll: Poll) -> Reply {
        let mut changed = self.updates_changed.subscribe();
        loop {
            {
                let mut inner = self.lock();
                if inner.poll_generation != poll.generation {
                    return Err(ApiError::conflict(
                        "terminated by other getUpdates request; make sure that only one bot instance is running",
                    ));
                }
                if inner.webhook.is_some() {
                    return Err(webhook_conflict());
                }
                let batch = inner.pending(poll.limit);
                if !batch.is_empty() || Instant::now() >= poll.deadline {
                    inner.polls_answered += 1;
                    inner.updates_handed_out += batch.len() as u64;
                    return Ok(Value::Array(batch));
                }
            }
            match tokio::time::timeout_at(poll.deadline, changed.changed()).await {
                Ok(Ok(())) | Err(_) => {}
                Ok(Err(_)) => return Ok(json!([])),
            }
        }
    }
}

fn webhook_conflict() -> ApiError {
    ApiError::conflict(
        "can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first",
    )
}

fn start_poll(inner: &mut Inner, req: &Request) -> Step {
    if inner.webhook.is_some() {
        return Step::Done(Err(webhook_conflict()));
    }
    if let Some(offset) = req.i64("offset") {
        inner.confirm(offset);
    }
    if let Some(kinds) = req
        .json("allowed_updates")
        .and_then(|v| v.as_array().cloned())
    {
        inner.allowed_updates = kinds
            .iter()
            .filter_map(|k| k.as_str().map(str::to_owned))
            .collect();
    }
    inner.poll_generation += 1;
    let limit = req.i64("limit").unwrap_or(100).clamp(1, 100) as usize;
    let timeout = req.i64("timeout").unwrap_or(0).max(0) as u64;
    Step::Poll(Poll {
        generation: inner.poll_generation,
        limit,
        deadline: Instant::now() + Duration::from_secs(timeout),
    })
}
