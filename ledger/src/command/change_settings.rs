//! A user's image defaults (model, quality, size). Only what differs is recorded.

use super::{Command, Output, View, fingerprint};
use crate::account::{self, Settings};
use crate::error::LedgerError;
use crate::events::SettingsChanged;
use crate::ids::TelegramId;
use crate::pricing::LedgerConfig;
use crate::stream::StreamId;

/// Records the user's new defaults; choosing the current value again appends nothing.
#[derive(Debug, Clone)]
pub struct ChangeSettings {
    /// Whose settings.
    pub telegram_id: TelegramId,
    /// The values the user picked (absent: unchanged).
    pub wanted: SettingsChanged,
}

impl Output for Settings {
    const STORED_AS: &'static str = "Settings";
}

impl Command for ChangeSettings {
    const NAME: &'static str = "change_settings";
    type Output = Settings;

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::account(self.telegram_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &(&self.telegram_id, &self.wanted))
    }

    fn decide(&self, view: &mut View<'_>, config: &LedgerConfig) -> Result<Settings, LedgerError> {
        let stream = StreamId::account(self.telegram_id);
        let state = view.account(&stream)?;
        let events =
            account::decide_settings(&state, self.telegram_id, self.wanted.clone(), config)?;
        view.append(&stream, view.current(&stream), events)?;
        Ok(view.account(&stream)?.settings)
    }
}
