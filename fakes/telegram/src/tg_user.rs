//! Who talks to the bot: a Telegram user and their client's language.

/// A Telegram user writing to the bot in a private chat (whose id is the user's id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TgUser {
    /// The user's Telegram id, and their private chat's.
    pub id: i64,
    /// Shown in `from.first_name`; the bot greets users by it.
    pub first_name: String,
    /// The @username without the `@`, if the user has one.
    pub username: Option<String>,
    /// The client's language (`ru`, `en`...): picks the bot's language.
    pub language_code: Option<String>,
}

impl TgUser {
    /// `User{id}`, no username, Russian client.
    pub fn new(id: i64) -> TgUser {
        TgUser {
            id,
            first_name: format!("User{id}"),
            username: None,
            language_code: Some("ru".into()),
        }
    }

    /// A client in this language (`en`, `en-GB`, `de`...).
    pub fn lang(mut self, language_code: &str) -> TgUser {
        self.language_code = Some(language_code.into());
        self
    }

    /// A client that reports no language, as some do.
    pub fn no_lang(mut self) -> TgUser {
        self.language_code = None;
        self
    }

    /// A user with this @username (without the `@`).
    pub fn username(mut self, username: &str) -> TgUser {
        self.username = Some(username.into());
        self
    }

    /// A user with this first name.
    pub fn first_name(mut self, first_name: &str) -> TgUser {
        self.first_name = first_name.into();
        self
    }
}
