//! Token amounts. Balances and amounts are never negative; arithmetic is checked so that an
//! overflow is an error rather than a silently wrapped balance.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A non-negative number of tokens. Stored as `bigint` in Postgres, so the largest amount is
/// `i64::MAX`; construction enforces that so that every value round-trips through the database.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Tokens(u64);

/// A number that is not a token amount.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidTokens {
    /// Below zero.
    #[error("a token amount cannot be negative, got {0}")]
    Negative(i64),
    /// Not a whole number.
    #[error("a token amount is a whole number, got {0:?}")]
    NotANumber(String),
    /// Beyond `i64::MAX`.
    #[error("token arithmetic overflowed")]
    Overflow,
}

impl Tokens {
    /// No tokens.
    pub const ZERO: Tokens = Tokens(0);
    const MAX: u64 = i64::MAX as u64;

    /// Refused beyond `i64::MAX` (the database's `bigint`).
    pub fn new(amount: u64) -> Result<Self, InvalidTokens> {
        if amount > Self::MAX {
            Err(InvalidTokens::Overflow)
        } else {
            Ok(Self(amount))
        }
    }

    /// For constants and tests where the amount is known to fit.
    pub const fn from_const(amount: u32) -> Self {
        Self(amount as u64)
    }

    /// The amount.
    pub fn get(self) -> u64 {
        self.0
    }

    /// True for zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// The sum, or `Overflow`.
    pub fn checked_add(self, other: Tokens) -> Result<Tokens, InvalidTokens> {
        self.0
            .checked_add(other.0)
            .filter(|sum| *sum <= Self::MAX)
            .map(Tokens)
            .ok_or(InvalidTokens::Overflow)
    }

    /// `None` when `other` is larger: the caller decides what "not enough" means.
    pub fn checked_sub(self, other: Tokens) -> Option<Tokens> {
        self.0.checked_sub(other.0).map(Tokens)
    }

    /// The product, or `Overflow`.
    pub fn checked_mul(self, factor: u32) -> Result<Tokens, InvalidTokens> {
        self.0
            .checked_mul(u64::from(factor))
            .filter(|p| *p <= Self::MAX)
            .map(Tokens)
            .ok_or(InvalidTokens::Overflow)
    }
}

impl TryFrom<i64> for Tokens {
    type Error = InvalidTokens;
    fn try_from(raw: i64) -> Result<Self, Self::Error> {
        u64::try_from(raw)
            .map(Tokens)
            .map_err(|_| InvalidTokens::Negative(raw))
    }
}

impl From<Tokens> for i64 {
    fn from(t: Tokens) -> i64 {
        // Construction guarantees the value fits.
        t.0 as i64
    }
}

impl FromStr for Tokens {
    type Err = InvalidTokens;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let raw: i64 = s
            .trim()
            .parse()
            .map_err(|_| InvalidTokens::NotANumber(s.to_string()))?;
        Tokens::try_from(raw)
    }
}

impl fmt::Display for Tokens {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_negative_and_checked() {
        assert_eq!(Tokens::try_from(-1), Err(InvalidTokens::Negative(-1)));
        assert!(serde_json::from_str::<Tokens>("-3").is_err());
        assert_eq!(
            Tokens::from_const(5).checked_sub(Tokens::from_const(6)),
            None
        );
        let max = Tokens::new(i64::MAX as u64).expect("fits");
        assert_eq!(
            max.checked_add(Tokens::from_const(1)),
            Err(InvalidTokens::Overflow)
        );
        assert!(Tokens::new(u64::MAX).is_err());
        assert!("1.5".parse::<Tokens>().is_err());
    }
}
