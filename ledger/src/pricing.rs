//! Prices, models and limits. All configuration: OpenAI retires image models within months and
//! prices follow. The defaults are the original bot's (reference: seed-features §2).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::error::DomainError;
use crate::image::{ImageSize, ModelId, Quality};
use crate::tokens::Tokens;

/// Tokens per image by quality and size (before any template multiplier).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    prices: BTreeMap<(Quality, ImageSize), Tokens>,
}

/// A price table that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid price table {0:?}: expected `low:272/408/400,medium:1056/1584/1568,high:4160/6240/6208` (sizes in the order 1024x1024/1024x1536/1536x1024)"
)]
pub struct InvalidPriceTable(pub String);

impl PriceTable {
    /// OpenAI's published output-image token counts for gpt-image-1, as the original charged them.
    pub fn seed_default() -> Self {
        Self::parse("low:272/408/400,medium:1056/1584/1568,high:4160/6240/6208")
            .unwrap_or_else(|_| unreachable!("the built-in table parses"))
    }

    /// Parses `quality:square/portrait/landscape,...`; every quality must be present.
    pub fn parse(raw: &str) -> Result<Self, InvalidPriceTable> {
        let bad = || InvalidPriceTable(raw.to_string());
        let mut prices = BTreeMap::new();
        for part in raw.split(',') {
            let (quality, amounts) = part.trim().split_once(':').ok_or_else(bad)?;
            let quality: Quality = quality.trim().parse().map_err(|_| bad())?;
            let amounts: Vec<Tokens> = amounts
                .split('/')
                .map(|a| a.trim().parse::<Tokens>())
                .collect::<Result<_, _>>()
                .map_err(|_| bad())?;
            if amounts.len() != ImageSize::ALL.len() || amounts.iter().any(|a| a.is_zero()) {
                return Err(bad());
            }
            for (size, amount) in ImageSize::ALL.into_iter().zip(amounts) {
                prices.insert((quality, size), amount);
            }
        }
        if prices.len() != Quality::ALL.len() * ImageSize::ALL.len() {
            return Err(bad());
        }
        Ok(Self { prices })
    }

    /// The price of one image.
    pub fn price(&self, quality: Quality, size: ImageSize) -> Tokens {
        // Construction guarantees every cell is present.
        self.prices
            .get(&(quality, size))
            .copied()
            .unwrap_or(Tokens::ZERO)
    }
}

/// Everything the ledger's rules depend on.
#[derive(Debug, Clone)]
pub struct LedgerConfig {
    /// Tokens per image by quality and size.
    pub prices: PriceTable,
    /// Offered models, the first is the default for new users.
    pub models: Vec<ModelId>,
    /// INITIAL_TOKENS x price of one medium square image (the original's 10 x 1056 = 10 560).
    pub initial_grant: Tokens,
    /// Cost at or above which the bot asks twice (HIGH_COST_THRESHOLD).
    pub high_cost_threshold: Tokens,
    /// Tasks one user may request in any rolling hour (MAX_TASKS_PER_USER_PER_HOUR); 0 = no limit.
    pub max_tasks_per_hour: u32,
    /// The largest single grant an admin may make, so a typo cannot mint billions.
    pub max_grant: Tokens,
    /// Attempts a task gets before it fails and is refunded (the original: 3).
    pub max_attempts: u32,
    /// Template id -> price multiplier ("Идеи и тренды"; all 1 in the original).
    pub templates: BTreeMap<String, u32>,
    /// How long a batch whose `COMMIT` went unanswered keeps asking Postgres whether it
    /// committed before its commands get [`crate::LedgerError::OutcomeUnknown`].
    pub commit_outcome_wait: Duration,
}

/// Default of [`LedgerConfig::commit_outcome_wait`]: long enough for a restarting server or a
/// failover to answer again, short enough for an HTTP caller to wait.
pub const COMMIT_OUTCOME_WAIT: Duration = Duration::from_secs(10);

/// The largest MAX_TASKS_PER_USER_PER_HOUR that may be configured.
pub const RATE_WINDOW_CAPACITY: u32 = 1000;

impl LedgerConfig {
    /// The original bot's prices, models and limits.
    pub fn seed_default() -> Self {
        let prices = PriceTable::seed_default();
        let initial_grant = prices
            .price(Quality::Medium, ImageSize::Square)
            .checked_mul(10)
            .unwrap_or(Tokens::ZERO);
        let models = ["gpt-image-1", "gpt-image-1.5"]
            .into_iter()
            .filter_map(|m| ModelId::parse(m).ok())
            .collect();
        let templates = ["cyberpunk_portrait", "anime_character", "oil_painting"]
            .into_iter()
            .map(|t| (t.to_string(), 1))
            .collect();
        Self {
            prices,
            models,
            initial_grant,
            high_cost_threshold: Tokens::from_const(4000),
            max_tasks_per_hour: 20,
            max_grant: Tokens::from_const(100_000_000),
            max_attempts: 3,
            templates,
            commit_outcome_wait: COMMIT_OUTCOME_WAIT,
        }
    }

    /// INITIAL_TOKENS is counted in medium-square images, as in the original.
    pub fn initial_grant_for_images(
        &self,
        images: u32,
    ) -> Result<Tokens, crate::tokens::InvalidTokens> {
        self.prices
            .price(Quality::Medium, ImageSize::Square)
            .checked_mul(images)
    }

    /// The model new users start with.
    pub fn default_model(&self) -> Option<&ModelId> {
        self.models.first()
    }

    /// Whether `model` may be asked for.
    pub fn offers_model(&self, model: &ModelId) -> bool {
        self.models.contains(model)
    }

    /// What a task costs: table price times the template's multiplier.
    pub fn cost(
        &self,
        quality: Quality,
        size: ImageSize,
        template_id: Option<&str>,
    ) -> Result<Tokens, DomainError> {
        let multiplier = match template_id {
            None => 1,
            Some(t) => *self
                .templates
                .get(t)
                .ok_or_else(|| DomainError::UnknownTemplate(t.to_string()))?,
        };
        self.prices
            .price(quality, size)
            .checked_mul(multiplier)
            .map_err(|_| DomainError::Overflow)
    }

    /// Whether a task costs enough to ask the user to confirm twice.
    pub fn is_high_cost(&self, cost: Tokens) -> bool {
        cost >= self.high_cost_threshold
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_table_and_grant() {
        let c = LedgerConfig::seed_default();
        assert_eq!(
            c.prices.price(Quality::Low, ImageSize::Square),
            Tokens::from_const(272)
        );
        assert_eq!(
            c.prices.price(Quality::High, ImageSize::Portrait),
            Tokens::from_const(6240)
        );
        assert_eq!(
            c.prices.price(Quality::Medium, ImageSize::Landscape),
            Tokens::from_const(1568)
        );
        assert_eq!(c.initial_grant, Tokens::from_const(10_560));
        // Exactly the three high options need a second confirmation with the defaults.
        let high: Vec<_> = Quality::ALL
            .into_iter()
            .flat_map(|q| ImageSize::ALL.into_iter().map(move |s| (q, s)))
            .filter(|(q, s)| c.is_high_cost(c.prices.price(*q, *s)))
            .collect();
        assert_eq!(high.len(), 3);
        assert!(high.iter().all(|(q, _)| *q == Quality::High));
    }

    #[test]
    fn table_parsing_rejects_partial_tables() {
        assert!(PriceTable::parse("low:1/2/3").is_err());
        assert!(PriceTable::parse("low:1/2/3,medium:1/2/3,high:1/2").is_err());
        assert!(PriceTable::parse("low:1/2/3,medium:1/2/3,high:1/2/0").is_err());
        assert!(PriceTable::parse("low:1/2/3,medium:4/5/6,high:7/8/9").is_ok());
    }

    #[test]
    fn templates_multiply_and_unknown_ones_are_rejected() {
        let mut c = LedgerConfig::seed_default();
        c.templates.insert("double".into(), 2);
        assert_eq!(
            c.cost(Quality::Low, ImageSize::Square, Some("double")),
            Ok(Tokens::from_const(544))
        );
        assert!(
            c.cost(Quality::Low, ImageSize::Square, Some("nope"))
                .is_err()
        );
    }
}
