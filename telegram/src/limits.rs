//! The limits Telegram documents for bots, as sliding windows: "at most `count` messages in any
//! `per`" ([`Rate`]), overall, per chat and per group.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// At most `count` messages in any window of length `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Messages allowed in a window (at least 1).
    pub count: u32,
    /// The window's length (more than zero).
    pub per: Duration,
}

impl Rate {
    /// `count` messages per `per`; `None` when either is zero (no limit).
    pub fn new(count: u32, per: Duration) -> Option<Rate> {
        (count > 0 && !per.is_zero()).then_some(Rate { count, per })
    }
}

/// A rate that is not `N/<duration>` (`30/1s`, `20/60s`, `5/500ms`) or `off`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a rate: expected N/<duration> such as 30/1s, 20/60s or 5/500ms, or off")]
pub struct BadRate(pub String);

/// A rate as written in the configuration: `30/1s`, `3/3s`, `5/500ms`, or `off` (no limit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl FromStr for RateSetting {
    type Err = BadRate;

    fn from_str(s: &str) -> Result<Self, BadRate> {
        let bad = || BadRate(s.to_string());
        let t = s.trim();
        if t.eq_ignore_ascii_case("off") {
            return Ok(RateSetting(None));
        }
        let (count, per) = t.split_once('/').ok_or_else(bad)?;
        let count: u32 = count.trim().parse().map_err(|_| bad())?;
        let per = per.trim();
        let per = if let Some(ms) = per.strip_suffix("ms") {
            Duration::from_millis(ms.parse().map_err(|_| bad())?)
        } else if let Some(secs) = per.strip_suffix('s') {
            Duration::from_secs(secs.parse().map_err(|_| bad())?)
        } else {
            return Err(bad());
        };
        Rate::new(count, per)
            .map(|r| RateSetting(Some(r)))
            .ok_or_else(bad)
    }
}

impl fmt::Display for RateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(r) if r.per.subsec_millis() == 0 => write!(f, "{}/{}s", r.count, r.per.as_secs()),
            Some(r) => write!(f, "{}/{}ms", r.count, r.per.as_millis()),
        }
    }
}

/// What the bot keeps to; `None` is no limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// All messages of the bot token (Telegram: about 30 per second).
    pub overall: Option<Rate>,
    /// Messages to one chat (Telegram: about one per second, short bursts allowed).
    pub chat: Option<Rate>,
    /// Messages to one group, supergroup or channel (Telegram: 20 per minute), on top of `chat`.
    pub group: Option<Rate>,
}

impl Limits {
    /// No limit at all; a 429 is still honoured.
    pub const NONE: Limits = Limits {
        overall: None,
        chat: None,
        group: None,
    };

    /// Telegram's documented limits (<https://core.telegram.org/bots/faq#my-bot-is-hitting-limits-how-do-i-avoid-this>):
    /// 30 messages per second overall, one per second in a chat with bursts of 3 allowed (3 in
    /// any 3 s), 20 per minute in a group.
    pub const TELEGRAM: Limits = Limits {
        overall: Some(Rate {
            count: 30,
            per: Duration::from_secs(1),
        }),
        chat: Some(Rate {
            count: 3,
            per: Duration::from_secs(3),
        }),
        group: Some(Rate {
            count: 20,
            per: Duration::from_secs(60),
        }),
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::TELEGRAM
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_and_print_back() {
        for s in ["30/1s", "3/3s", "20/60s", "5/500ms", "off"] {
            let r: RateSetting = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
        }
        assert_eq!(
            "30/1s".parse::<RateSetting>().unwrap().0,
            Limits::TELEGRAM.overall
        );
        for bad in ["", "30", "30/", "x/1s", "30/1", "0/1s", "30/0s", "-1/1s"] {
            assert!(bad.parse::<RateSetting>().is_err(), "{bad:?}");
        }
    }
}
