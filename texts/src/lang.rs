//! The languages the bot speaks, and which one a Telegram user gets.

use unic_langid::LanguageIdentifier;

/// A language of the bot's texts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lang {
    /// The original bot spoke only Russian, so everybody who is not clearly English gets it.
    #[default]
    Ru,
    /// For users whose Telegram client is set to English.
    En,
}

impl Lang {
    /// Every language, the default first.
    pub const ALL: [Lang; 2] = [Lang::Ru, Lang::En];

    /// Telegram's `language_code` is an IETF tag (`en`, `en-US`, sometimes `en_GB`).
    pub fn from_code(code: Option<&str>) -> Lang {
        let Some(code) = code else { return Lang::Ru };
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        if primary.eq_ignore_ascii_case("en") {
            Lang::En
        } else {
            Lang::Ru
        }
    }

    /// The tag of the language (`ru`, `en`): the folder of its resources, the `language_code`
    /// of its command menu, and what chooses its plural rules.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Ru => "ru",
            Lang::En => "en",
        }
    }

    pub(crate) fn langid(self) -> Result<LanguageIdentifier, unic_langid::LanguageIdentifierError> {
        self.code().parse()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn language_from_telegram_code() {
        assert_eq!(Lang::from_code(Some("en")), Lang::En);
        assert_eq!(Lang::from_code(Some("en-US")), Lang::En);
        assert_eq!(Lang::from_code(Some("EN_gb")), Lang::En);
        assert_eq!(Lang::from_code(Some("ru")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("de")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("eng")), Lang::Ru);
        assert_eq!(Lang::from_code(Some("")), Lang::Ru);
        assert_eq!(Lang::from_code(None), Lang::Ru);
        for lang in Lang::ALL {
            assert!(lang.langid().is_ok(), "{lang:?}");
        }
    }
}
