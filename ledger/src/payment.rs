//! What buying tokens with Telegram Stars is made of: the packages on sale, Stars amounts and
//! Telegram's charge ids, each its own type so that a Stars amount is never read as tokens and a
//! charge id is checked once, where it comes in.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::tokens::Tokens;

/// The currency of Telegram Stars (`XTR`), the only one the bot sells in: digital goods inside
/// Telegram are sold for Stars, with no payment provider token.
pub const STARS_CURRENCY: &str = "XTR";

/// A number of Telegram Stars (a price, a payment, a refund). Never zero for a price.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Stars(u32);

/// The highest price configurable: Telegram refuses Stars invoices above 10 000 (as of Bot API
/// 9), and a price it refuses is better refused at start than at the first sale.
pub const MAX_STARS_PRICE: u32 = 10_000;

impl Stars {
    /// A price of `amount` Stars: 1 to [`MAX_STARS_PRICE`].
    pub fn price(amount: u32) -> Result<Self, InvalidPackage> {
        if (1..=MAX_STARS_PRICE).contains(&amount) {
            Ok(Self(amount))
        } else {
            Err(InvalidPackage(format!(
                "a price in Stars is 1 to {MAX_STARS_PRICE}, got {amount}"
            )))
        }
    }

    /// An amount as Telegram reports it (`total_amount` of a payment or a pre-checkout query).
    pub fn from_telegram(amount: u32) -> Self {
        Self(amount)
    }

    /// The number.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Stars {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A package's id (`pack_50k`): 1 to 24 of `a-z 0-9 _`, so that it fits callback data and an
/// invoice payload beside a purchase id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PackageId(String);

impl PackageId {
    /// The id as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for PackageId {
    type Error = InvalidPackage;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let ok = (1..=24).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if ok {
            Ok(Self(raw))
        } else {
            Err(InvalidPackage(format!(
                "a package id is 1 to 24 of a-z, 0-9 and _, got {raw:?}"
            )))
        }
    }
}

impl From<PackageId> for String {
    fn from(id: PackageId) -> String {
        id.0
    }
}

impl FromStr for PackageId {
    type Err = InvalidPackage;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.trim().to_string())
    }
}

impl fmt::Display for PackageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A package or price that cannot be sold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidPackage(pub String);

/// One package on sale: so many tokens for so many Stars.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPackage {
    /// Its id, in buttons and invoices.
    pub id: PackageId,
    /// Tokens granted when paid (never zero).
    pub tokens: Tokens,
    /// Its price.
    pub stars: Stars,
}

impl TokenPackage {
    /// The original bot's three packages (50 000 / 150 000 / 500 000 tokens for 99 / 249 / 699
    /// roubles), priced in Stars at about two roubles a Star, what users pay for Stars in the
    /// app: 50 / 125 / 350 Stars (see docs/operations.md, "Payments").
    pub fn defaults() -> Vec<TokenPackage> {
        [
            ("pack_50k", 50_000, 50),
            ("pack_150k", 150_000, 125),
            ("pack_500k", 500_000, 350),
        ]
        .into_iter()
        .map(|(id, tokens, stars)| TokenPackage {
            id: PackageId(id.to_string()),
            tokens: Tokens::from_const(tokens),
            stars: Stars(stars),
        })
        .collect()
    }

    /// `TOKEN_PACKAGES`: `id:tokens:stars` entries separated by commas, e.g.
    /// `pack_50k:50000:50,pack_150k:150000:125`. Ids are unique; tokens and Stars positive.
    pub fn parse_list(raw: &str) -> Result<Vec<TokenPackage>, InvalidPackage> {
        let mut out: Vec<TokenPackage> = Vec::new();
        for entry in raw.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = |why: &str| InvalidPackage(format!("{entry:?}: {why}"));
            let parts: Vec<&str> = entry.split(':').map(str::trim).collect();
            let [id, tokens, stars] = parts[..] else {
                return Err(bad("expected id:tokens:stars"));
            };
            let id: PackageId = id.parse().map_err(|e: InvalidPackage| bad(&e.0))?;
            let tokens: Tokens = tokens
                .parse()
                .map_err(|_| bad("tokens must be a whole number"))?;
            if tokens.is_zero() {
                return Err(bad("a package grants at least one token"));
            }
            let stars: u32 = stars
                .parse()
                .map_err(|_| bad("the price in Stars must be a whole number"))?;
            let stars = Stars::price(stars).map_err(|e| bad(&e.0))?;
            if out.iter().any(|p| p.id == id) {
                return Err(bad("the id is used twice"));
            }
            out.push(TokenPackage { id, tokens, stars });
        }
        if out.is_empty() {
            return Err(InvalidPackage("at least one package is needed".into()));
        }
        if out.len() > 10 {
            return Err(InvalidPackage(
                "at most 10 packages fit the buy screen".into(),
            ));
        }
        Ok(out)
    }
}

/// Telegram's id of one payment (`telegram_payment_charge_id`): the key a purchase is granted
/// and refunded under. 1 to 180 printable ASCII characters without spaces (Telegram's are far
/// shorter; the bound keeps `payment:<id>` within an idempotency key's 200).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChargeId(String);

/// Text that is not a charge id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a payment charge id is 1 to 180 printable characters without spaces, got {0:?}")]
pub struct InvalidChargeId(pub String);

impl ChargeId {
    /// The id as Telegram gave it.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChargeId {
    type Error = InvalidChargeId;
    fn try_from(raw: String) -> Result<Self, Self::Error> {
        let ok = (1..=180).contains(&raw.len()) && raw.chars().all(|c| c.is_ascii_graphic());
        if ok {
            Ok(Self(raw))
        } else {
            Err(InvalidChargeId(raw))
        }
    }
}

impl From<ChargeId> for String {
    fn from(id: ChargeId) -> String {
        id.0
    }
}

impl FromStr for ChargeId {
    type Err = InvalidChargeId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::try_from(s.trim().to_string())
    }
}

impl fmt::Display for ChargeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_parse_and_refuse_with_reasons() {
        let list = TokenPackage::parse_list("a:10:1, b_2:20:2").expect("valid");
        assert_eq!(list.len(), 2);
        assert_eq!(list[1].tokens, Tokens::from_const(20));
        assert_eq!(list[1].stars.get(), 2);
        for bad in [
            "",
            "a:10",
            "a:0:1",
            "a:10:0",
            "A:1:1",
            "a:1:1,a:2:2",
            "a:x:1",
            "a:1:-1",
        ] {
            assert!(TokenPackage::parse_list(bad).is_err(), "{bad}");
        }
        let defaults = TokenPackage::defaults();
        assert_eq!(defaults[0].tokens, Tokens::from_const(50_000));
        assert_eq!(defaults[2].tokens, Tokens::from_const(500_000));
    }

    #[test]
    fn charge_ids_are_checked_once() {
        assert!("stxABC-123_x".parse::<ChargeId>().is_ok());
        assert!("".parse::<ChargeId>().is_err());
        assert!("a b".parse::<ChargeId>().is_err());
        assert!(serde_json::from_str::<ChargeId>("\"\"").is_err());
    }
}
