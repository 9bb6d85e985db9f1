//! The bot's own configuration (the rest comes with the ledger).

use tokenbot_ledger::TelegramId;

/// Who the admins are, and what the guide names as support.
#[derive(Debug, Clone)]
pub struct BotConfig {
    /// ADMIN_IDS: who may use /admin, /stats, /addtokens, /userinfo.
    pub admin_ids: Vec<TelegramId>,
    /// Shown in the guide.
    pub support_contact: String,
}

impl Default for BotConfig {
    fn default() -> Self {
        Self {
            admin_ids: Vec::new(),
            support_contact: "@support_bot".into(),
        }
    }
}
