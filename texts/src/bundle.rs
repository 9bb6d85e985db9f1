//! The Fluent side: the resources compiled in, one bundle per language, and [`tr!`], which
//! formats a message (or `message.attribute`) with named arguments.
//!
//! Fluent would wrap every argument in Unicode isolation marks (U+2068 ... U+2069) for
//! right-to-left safety; the bot speaks no right-to-left language and its texts must match the
//! original's byte for byte, so isolation is off.

use std::borrow::Cow;
use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use tokenbot_ledger::{ChargeId, Stars, TaskId, TelegramId, Tokens};

use crate::lang::Lang;

/// `(name, source)` of each resource of a language, embedded at compile time.
macro_rules! resources {
    ($lang:literal) => {
        resources!($lang: "labels.ftl", "menu.ftl", "create.ftl", "browse.ftl", "admin.ftl",
            "worker.ftl", "buttons.ftl", "payments.ftl")
    };
    ($lang:literal: $($file:literal),+) => {
        [$((
            concat!($lang, "/", $file),
            include_str!(concat!("../locales/", $lang, "/", $file)),
        )),+]
    };
}

static RU_SOURCES: [(&str, &str); 8] = resources!("ru");
static EN_SOURCES: [(&str, &str); 8] = resources!("en");

/// The resources of `lang` as compiled in: `(path under locales/, source)`.
pub(crate) fn sources(lang: Lang) -> &'static [(&'static str, &'static str)] {
    match lang {
        Lang::Ru => &RU_SOURCES,
        Lang::En => &EN_SOURCES,
    }
}

/// A language's bundle and whatever went wrong building it (empty unless a resource is broken,
/// which the tests refuse).
pub(crate) struct Loaded {
    pub bundle: FluentBundle<FluentResource>,
    /// Logged when found; kept for the tests, which refuse any.
    #[cfg_attr(not(test), allow(dead_code))]
    pub problems: Vec<String>,
}

static RU: LazyLock<Loaded> = LazyLock::new(|| load(Lang::Ru));
static EN: LazyLock<Loaded> = LazyLock::new(|| load(Lang::En));

pub(crate) fn loaded(lang: Lang) -> &'static Loaded {
    match lang {
        Lang::Ru => &RU,
        Lang::En => &EN,
    }
}

/// Builds a bundle. A broken resource keeps what parsed, so one bad message cannot take every
/// text of a language with it; each problem is logged.
fn load(lang: Lang) -> Loaded {
    let mut problems = Vec::new();
    let langid = lang.langid().unwrap_or_else(|e| {
        problems.push(format!("language tag {}: {e}", lang.code()));
        Default::default()
    });
    let mut bundle = FluentBundle::new_concurrent(vec![langid]);
    bundle.set_use_isolating(false);
    for (name, source) in sources(lang) {
        let resource =
            FluentResource::try_new((*source).to_string()).unwrap_or_else(|(partial, errors)| {
                problems.extend(errors.iter().map(|e| format!("{name}: {e}")));
                partial
            });
        if let Err(errors) = bundle.add_resource(resource) {
            problems.extend(errors.iter().map(|e| format!("{name}: {e}")));
        }
    }
    for problem in &problems {
        tracing::error!(lang = lang.code(), problem, "a text resource is broken");
    }
    Loaded { bundle, problems }
}

/// Formats `key` (`message` or `message.attribute`). A missing message shows its key and a
/// formatting error shows Fluent's best effort, both logged: a wrong text is better than none.
pub(crate) fn format(lang: Lang, key: &str, args: &FluentArgs<'_>) -> String {
    let bundle = &loaded(lang).bundle;
    let (id, attribute) = match key.split_once('.') {
        Some((id, attribute)) => (id, Some(attribute)),
        None => (key, None),
    };
    let message = bundle.get_message(id);
    let pattern = match attribute {
        Some(name) => message
            .and_then(|m| m.get_attribute(name))
            .map(|a| a.value()),
        None => message.and_then(|m| m.value()),
    };
    let Some(pattern) = pattern else {
        report(lang, key, "no such message");
        return key.to_string();
    };
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(args), &mut errors);
    if !errors.is_empty() {
        let problem = errors.iter().map(ToString::to_string).collect::<Vec<_>>();
        report(lang, key, &problem.join("; "));
    }
    text.into_owned()
}

fn report(lang: Lang, key: &str, problem: &str) {
    tracing::error!(
        lang = lang.code(),
        key,
        problem,
        "a text could not be formatted"
    );
    // This crate's tests render every text in every language: a problem there is a bug.
    if cfg!(test) {
        panic!("{}: {key}: {problem}", lang.code());
    }
}

/// A number that chooses a plural form ("1 задача", "2 задачи", "5 задач"). Every other value
/// goes to Fluent as text, exactly as its `Display` writes it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Count(pub u64);

/// What a message argument can be made of.
pub(crate) trait Arg<'a> {
    fn value(self) -> FluentValue<'a>;
}

impl<'a> Arg<'a> for &'a str {
    fn value(self) -> FluentValue<'a> {
        FluentValue::String(Cow::Borrowed(self))
    }
}

impl<'a> Arg<'a> for &'a String {
    fn value(self) -> FluentValue<'a> {
        FluentValue::String(Cow::Borrowed(self.as_str()))
    }
}

impl<'a> Arg<'a> for String {
    fn value(self) -> FluentValue<'a> {
        FluentValue::String(Cow::Owned(self))
    }
}

impl<'a> Arg<'a> for Count {
    fn value(self) -> FluentValue<'a> {
        FluentValue::from(self.0)
    }
}

/// Shown as written, never as a Fluent number (which would go through `f64`).
macro_rules! displayed {
    ($($t:ty),+) => {$(
        impl<'a> Arg<'a> for $t {
            fn value(self) -> FluentValue<'a> {
                FluentValue::String(Cow::Owned(self.to_string()))
            }
        }
    )+};
}

displayed!(Tokens, TelegramId, TaskId, Stars, u64, i64, usize);

impl<'a> Arg<'a> for &ChargeId {
    fn value(self) -> FluentValue<'a> {
        // Printable ASCII without spaces, but `<`, `>` and `&` are printable: escaped for HTML.
        FluentValue::String(Cow::Owned(crate::markup::escape(self.as_str())))
    }
}

/// `tr!(lang, "key", name = value, ...)`: the message `key` in `lang` with the named arguments.
macro_rules! tr {
    ($lang:expr, $key:expr $(, $name:ident = $value:expr)* $(,)?) => {{
        #[allow(unused_mut)]
        let mut args = ::fluent_bundle::FluentArgs::new();
        $(args.set(stringify!($name), $crate::bundle::Arg::value($value));)*
        $crate::bundle::format($lang, $key, &args)
    }};
}

pub(crate) use tr;
