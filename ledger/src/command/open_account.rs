//! Registration on `/start`: `AccountOpened` and the welcome grant, once. A second `/start` is
//! "welcome back", not an error.

use serde::{Deserialize, Serialize};

use super::{Command, Output, View, fingerprint};
use crate::account;
use crate::error::LedgerError;
use crate::events::AccountOpened;
use crate::pricing::LedgerConfig;
use crate::stream::{ExpectedVersion, StreamId};
use crate::tokens::Tokens;

/// Opens the account of the user in the profile, unless it is open.
#[derive(Debug, Clone)]
pub struct OpenAccount(pub AccountOpened);

/// What `/start` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenOutcome {
    /// False for a returning user ("welcome back").
    pub newly_opened: bool,
    /// The balance after opening (the welcome grant), or as the returning user left it.
    pub balance: Tokens,
}

impl Output for OpenOutcome {
    const STORED_AS: &'static str = "Opened";
}

impl Command for OpenAccount {
    const NAME: &'static str = "open_account";
    type Output = OpenOutcome;

    fn streams(&self) -> Vec<StreamId> {
        vec![StreamId::account(self.0.telegram_id)]
    }

    fn fingerprint(&self) -> Vec<u8> {
        fingerprint(Self::NAME, &self.0)
    }

    fn decide(
        &self,
        view: &mut View<'_>,
        config: &LedgerConfig,
    ) -> Result<OpenOutcome, LedgerError> {
        let stream = StreamId::account(self.0.telegram_id);
        let state = view.account(&stream)?;
        let Some(events) = account::decide_open(&state, self.0.clone(), config.initial_grant)
        else {
            return Ok(OpenOutcome {
                newly_opened: false,
                balance: state.balance,
            });
        };
        view.append(&stream, ExpectedVersion::NoStream, events)?;
        let balance = view.account(&stream)?.balance;
        debug_assert_eq!(
            balance, config.initial_grant,
            "a new account holds the welcome grant"
        );
        Ok(OpenOutcome {
            newly_opened: true,
            balance,
        })
    }
}
