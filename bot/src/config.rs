//! The bot's own configuration (the rest comes with the ledger).

use std::time::Duration;

use tokenbot_ledger::{TelegramId, TokenPackage};

/// How long an invoice stays payable: long enough to find one's Stars, short enough that a
/// forgotten invoice is not paid at a price changed since.
pub const OFFER_TTL: Duration = Duration::from_secs(3600);

/// Who the admins are, what the guide names as support, what is on sale.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// ADMIN_IDS: who may use /admin, /stats, /addtokens, /userinfo, /refund.
    pub admin_ids: Vec<TelegramId>,
    /// Shown in the guide and in `/paysupport`.
    pub support_contact: String,
    /// TOKEN_PACKAGES: the buy screen's packages.
    pub packages: Vec<TokenPackage>,
    /// How long an invoice stays payable ([`OFFER_TTL`]).
    pub offer_ttl: Duration,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            admin_ids: Vec::new(),
            support_contact: "@support_bot".into(),
            packages: TokenPackage::defaults(),
            offer_ttl: OFFER_TTL,
        }
    }
}
