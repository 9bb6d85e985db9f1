//! One Bot API request as the methods read it, whatever its encoding (JSON, form, multipart).

use std::collections::HashMap;

use bytes::Bytes;
use serde_json::{Map, Value};

/// A file part of a multipart request.
#[derive(Debug, Clone)]
pub(crate) struct Upload {
    pub file_name: Option<String>,
    pub content_type: Option<String>,
    pub bytes: Bytes,
}

/// One Bot API request, whatever its encoding (JSON, form, multipart).
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    pub method: String,
    pub params: Map<String, Value>,
    /// File parts by the parameter they fill (an `attach://name` already resolved).
    pub files: HashMap<String, Upload>,
}

// Telegram takes every parameter as a string too (forms, multipart), so the accessors
// accept both spellings.
impl Request {
    pub fn str(&self, key: &str) -> Option<&str> {
        self.params.get(key)?.as_str()
    }

    pub fn i64(&self, key: &str) -> Option<i64> {
        match self.params.get(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    pub fn bool(&self, key: &str) -> bool {
        match self.params.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s == "true" || s == "1",
            Some(Value::Number(n)) => n.as_i64().is_some_and(|n| n != 0),
            _ => false,
        }
    }

    /// An object or array parameter, also when sent as a JSON string.
    pub fn json(&self, key: &str) -> Option<Value> {
        match self.params.get(key)? {
            Value::String(s) => serde_json::from_str(s).ok(),
            Value::Null => None,
            v => Some(v.clone()),
        }
    }
}
