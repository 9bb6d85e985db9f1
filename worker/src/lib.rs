//! The image worker. So far: the image provider ([`provider`]) with its OpenAI implementation;
//! the JetStream consumer, retries, refunds and delivery come with the worker issue.

pub mod provider;
