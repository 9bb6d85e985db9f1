//! The resources checked against each other and against the code: both languages define the same
//! messages with the same variables, every message is used, every file on disk is compiled in,
//! and every function renders in every language without a Fluent error (which panics in this
//! crate's tests, see `bundle::report`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fluent_syntax::ast;
use tokenbot_ledger::{
    ChargeId, ImageSize, Quality, Stars, TaskId, TaskKind, TaskStatus, TelegramId, TokenPackage,
    Tokens,
};

use crate::bundle::{loaded, sources};
use crate::test_support::{HOSTILE, assert_valid_html, at};
use crate::*;

/// A charge id with every character HTML cares about.
fn charge() -> ChargeId {
    "stx<&>\"'1".parse().expect("valid")
}

/// What one language's resources define.
#[derive(Default)]
struct Defined {
    /// `message` or `message.attribute` (terms as `-term`) -> (file, variables it uses).
    keys: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Messages and terms that other messages refer to.
    references: BTreeSet<String>,
}

fn defined(lang: Lang) -> Defined {
    let mut out = Defined::default();
    for (file, source) in sources(lang) {
        let resource = fluent_syntax::parser::parse(*source)
            .unwrap_or_else(|(_, errors)| panic!("{file}: {errors:?}"));
        for entry in &resource.body {
            let (id, value, attributes) = match entry {
                ast::Entry::Message(m) => (m.id.name.to_string(), m.value.as_ref(), &m.attributes),
                ast::Entry::Term(t) => (format!("-{}", t.id.name), Some(&t.value), &t.attributes),
                ast::Entry::Junk { content } => panic!("{file}: cannot parse {content:?}"),
                _ => continue,
            };
            let patterns = value.map(|v| (id.clone(), v)).into_iter().chain(
                attributes
                    .iter()
                    .map(|a| (format!("{id}.{}", a.id.name), &a.value)),
            );
            for (key, pattern) in patterns {
                let mut variables = BTreeSet::new();
                walk_pattern(pattern, &mut variables, &mut out.references);
                let previous = out.keys.insert(key.clone(), (file.to_string(), variables));
                assert!(previous.is_none(), "{file}: {key} defined twice");
            }
        }
    }
    out
}

fn walk_pattern(p: &ast::Pattern<&str>, vars: &mut BTreeSet<String>, refs: &mut BTreeSet<String>) {
    for element in &p.elements {
        if let ast::PatternElement::Placeable { expression } = element {
            walk_expression(expression, vars, refs);
        }
    }
}

fn walk_expression(
    e: &ast::Expression<&str>,
    vars: &mut BTreeSet<String>,
    refs: &mut BTreeSet<String>,
) {
    match e {
        ast::Expression::Select { selector, variants } => {
            walk_inline(selector, vars, refs);
            for variant in variants {
                walk_pattern(&variant.value, vars, refs);
            }
        }
        ast::Expression::Inline(inline) => walk_inline(inline, vars, refs),
    }
}

fn walk_inline(
    e: &ast::InlineExpression<&str>,
    vars: &mut BTreeSet<String>,
    refs: &mut BTreeSet<String>,
) {
    match e {
        ast::InlineExpression::VariableReference { id } => {
            vars.insert(id.name.to_string());
        }
        ast::InlineExpression::MessageReference { id, attribute } => {
            refs.insert(match attribute {
                Some(a) => format!("{}.{}", id.name, a.name),
                None => id.name.to_string(),
            });
        }
        ast::InlineExpression::TermReference { id, .. } => {
            refs.insert(format!("-{}", id.name));
        }
        ast::InlineExpression::FunctionReference { arguments, .. } => {
            for argument in arguments
                .positional
                .iter()
                .chain(arguments.named.iter().map(|n| &n.value))
            {
                walk_inline(argument, vars, refs);
            }
        }
        ast::InlineExpression::Placeable { expression } => walk_expression(expression, vars, refs),
        ast::InlineExpression::StringLiteral { .. }
        | ast::InlineExpression::NumberLiteral { .. } => {}
    }
}

#[test]
fn resources_load_cleanly() {
    for lang in Lang::ALL {
        assert_eq!(loaded(lang).problems, Vec::<String>::new(), "{lang:?}");
    }
}

#[test]
fn both_languages_define_the_same_messages_with_the_same_variables() {
    let (ru, en) = (defined(Lang::Ru), defined(Lang::En));
    let ru_keys: BTreeSet<&String> = ru.keys.keys().collect();
    let en_keys: BTreeSet<&String> = en.keys.keys().collect();
    assert_eq!(
        ru_keys.difference(&en_keys).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "only in Russian"
    );
    assert_eq!(
        en_keys.difference(&ru_keys).collect::<Vec<_>>(),
        Vec::<&&String>::new(),
        "only in English"
    );
    for (key, (file, variables)) in &ru.keys {
        let (en_file, en_variables) = &en.keys[key];
        assert_eq!(
            file.replacen("ru/", "", 1),
            en_file.replacen("en/", "", 1),
            "{key}"
        );
        assert_eq!(variables, en_variables, "{key}: variables differ");
    }
}

/// The Rust sources of this crate, to find the keys they name.
fn rust_sources() -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut all = String::new();
    for entry in std::fs::read_dir(&dir).expect("src is readable") {
        let path = entry.expect("a directory entry").path();
        if path.extension().is_some_and(|e| e == "rs") {
            all.push_str(&std::fs::read_to_string(&path).expect("a readable source"));
        }
    }
    all
}

#[test]
fn every_message_is_used() {
    let code = rust_sources();
    let defined = defined(Lang::Ru);
    let dead: Vec<&String> = defined
        .keys
        .keys()
        .filter(|key| !code.contains(&format!("\"{key}\"")) && !defined.references.contains(*key))
        .collect();
    assert_eq!(dead, Vec::<&String>::new(), "messages nothing uses");
    let unknown: Vec<&String> = defined
        .references
        .iter()
        .filter(|r| !defined.keys.contains_key(*r))
        .collect();
    assert_eq!(unknown, Vec::<&String>::new(), "references to nothing");
}

#[test]
fn every_file_on_disk_is_compiled_in() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("locales");
    for lang in Lang::ALL {
        let mut on_disk: Vec<String> = std::fs::read_dir(root.join(lang.code()))
            .expect("the language's folder")
            .map(|e| {
                format!(
                    "{}/{}",
                    lang.code(),
                    e.expect("an entry").file_name().display()
                )
            })
            .collect();
        on_disk.sort();
        let mut compiled: Vec<String> = sources(lang).iter().map(|(n, _)| n.to_string()).collect();
        compiled.sort();
        assert_eq!(on_disk, compiled);
    }
    let mut languages: Vec<String> = std::fs::read_dir(&root)
        .expect("locales")
        .map(|e| e.expect("an entry").file_name().display().to_string())
        .collect();
    languages.sort();
    assert_eq!(languages, ["en", "ru"]);
}

/// Every HTML message of `lang`, with arguments that exercise every branch.
fn html_texts(lang: Lang) -> Vec<String> {
    let t = Tokens::from_const(1056);
    let id = TaskId::from_uuid(uuid::Uuid::from_u128(7));
    let mut texts = vec![
        welcome_new(lang, t),
        welcome_back(lang, t),
        main_menu_title(lang),
        help(lang),
        cancel_done(lang),
        cancel_nothing(lang),
        unknown_command(lang),
        error_generic(lang),
        user_not_found(lang),
        rate_limited(lang, 20),
        guide(lang, 10, HOSTILE),
        guide(lang, 0, ""),
        balance(
            lang,
            t,
            &model_label(lang, "gpt-image-1"),
            Quality::Medium,
            ImageSize::Square,
        ),
        generate_ask_prompt(lang),
        prompt_non_text(lang),
        prompt_empty(lang),
        edit_prompt_empty(lang),
        prompt_too_long(lang, 2000),
        edit_ask_image(lang),
        edit_photo_received(lang),
        edit_document_received(lang),
        edit_unsupported_format(lang),
        edit_need_image(lang),
        edit_ask_prompt_error_non_text(lang),
        session_lost(lang),
        insufficient(lang, t, Tokens::ZERO),
        task_created(lang, id, TaskKind::Generate, Some(HOSTILE)),
        task_created(lang, id, TaskKind::Edit, None),
        cancelled(lang, TaskKind::Generate),
        cancelled(lang, TaskKind::Edit),
        templates_list(lang),
        template_cancelled(lang),
        template_not_found(lang),
        model_screen(lang, &model_label(lang, "gpt-image-1.5")),
        model_info(lang, HOSTILE, HOSTILE),
        model_info(lang, "x", ""),
        history_caption(lang, HOSTILE, Quality::High, ImageSize::Portrait, at()),
        buy_tokens(lang, t, &TokenPackage::defaults()),
        payment_receipt(lang, t, Stars::from_telegram(50), t, &charge()),
        payment_returned(lang, Stars::from_telegram(1), &charge()),
        payment_stuck(lang, &charge()),
        payment_refunded_notice(lang, &charge(), Stars::from_telegram(1), t, t),
        paysupport(lang, HOSTILE),
        refund_usage(lang),
        refund_done(
            lang,
            TelegramId::new(5).expect("valid"),
            Stars::from_telegram(1),
            t,
            t,
            false,
        ),
        refund_done(
            lang,
            TelegramId::new(5).expect("valid"),
            Stars::from_telegram(1),
            t,
            t,
            true,
        ),
        refund_spent(lang, t, Tokens::ZERO),
        refund_not_found(lang, &charge()),
        refund_telegram_failed(lang, &charge(), HOSTILE),
        no_access(lang),
        admin_panel(lang),
        addtokens_usage(lang),
        addtokens_not_numbers(lang),
        addtokens_not_positive(lang),
        addtokens_too_large(lang, t),
        user_not_found_id(lang, -5),
        userinfo_usage(lang),
        userinfo_not_number(lang),
        top_users(lang, &[(HOSTILE.into(), 1)]),
        top_users(lang, &[]),
        model_usage(lang, &[(HOSTILE.into(), 1)]),
        model_usage(lang, &[]),
    ];
    texts.extend(screens(lang));
    texts
}

/// The screens built from views, in each of their shapes.
fn screens(lang: Lang) -> Vec<String> {
    let mut texts = Vec::new();
    let template = ConfirmKind::Template {
        name: HOSTILE,
        description: HOSTILE,
    };
    for kind in [ConfirmKind::Generate, ConfirmKind::Edit, template] {
        for (cost, second_step, expensive) in [(1, false, false), (4000, true, true)] {
            texts.push(confirm_screen(
                lang,
                &ConfirmView {
                    kind,
                    prompt: HOSTILE,
                    model: "m",
                    quality: Quality::High,
                    size: ImageSize::Landscape,
                    cost: Tokens::from_const(cost),
                    balance: Tokens::from_const(1000),
                    second_step,
                    expensive,
                },
            ));
        }
    }
    let statuses = [
        TaskStatus::Pending,
        TaskStatus::Processing,
        TaskStatus::Succeeded,
    ];
    let recent: Vec<ProfileTask<'_>> = statuses
        .into_iter()
        .chain([TaskStatus::Delivered, TaskStatus::Failed])
        .map(|status| ProfileTask {
            kind: TaskKind::Edit,
            status,
            created_at: at(),
            prompt: HOSTILE,
        })
        .collect();
    for recent in [&recent[..], &[]] {
        let view = ProfileView {
            balance: Tokens::ZERO,
            model: "m",
            quality: Quality::Low,
            size: ImageSize::Square,
            total_tasks: 5,
            done_tasks: 1,
            recent,
        };
        texts.push(profile(lang, &view));
    }
    texts.extend(admin_screens(lang));
    texts
}

fn admin_screens(lang: Lang) -> Vec<String> {
    let by_status = [(HOSTILE.to_string(), 2)];
    let mut texts = Vec::new();
    for tasks_by_status in [&by_status[..], &[]] {
        let view = AdminStatsView {
            total_users: 1,
            users_today: 1,
            active_users_today: 1,
            total_tasks: 2,
            tasks_today: 2,
            tasks_by_status,
            total_tokens_spent: 1_000_000,
            stars: 1_000_000,
            stars_today: 0,
            paying_users: 1,
            updated_at: at(),
        };
        texts.push(admin_stats(lang, &view));
    }
    let id = TelegramId::new(42).expect("a valid id");
    let t = Tokens::from_const(5);
    texts.push(tokens_added(lang, HOSTILE, id, t, t, t));
    for (username, first_name) in [(Some(HOSTILE), Some(HOSTILE)), (None, None)] {
        let view = UserInfoView {
            telegram_id: id,
            username,
            first_name,
            balance: t,
            model: "m",
            quality: Quality::Low,
            size: ImageSize::Portrait,
            tasks_total: 1,
            tasks_done: 1,
            tasks_failed: 0,
            registered_at: at(),
        };
        texts.push(userinfo(lang, &view));
    }
    texts
}

/// Toasts, alerts, buttons, labels and the worker's texts: plain text.
fn plain_texts(lang: Lang) -> Vec<String> {
    let mut texts = vec![
        user_not_found_alert(lang),
        stale_button_toast(lang),
        duplicate_request_toast(lang),
        second_confirm_toast(lang),
        invalid_quality_toast(lang),
        invalid_size_toast(lang),
        state_error_toast(lang),
        cancelled_toast(lang),
        template_not_found_toast(lang),
        model_already_selected_toast(lang, "GPT Image 1"),
        model_selected_toast(lang, "GPT Image 1"),
        history_bad_id_toast(lang),
        history_not_found(lang),
        history_unavailable(lang),
        history_send_failed_toast(lang),
        package_unavailable_alert(lang),
        invoice_title(lang, Tokens::from_const(500_000)),
        invoice_description(lang, Tokens::from_const(500_000)),
        invoice_price_label(lang, Tokens::from_const(500_000)),
        precheckout_refusal(lang, PreCheckoutRefusal::Expired),
        precheckout_refusal(lang, PreCheckoutRefusal::AlreadyPaid),
        precheckout_refusal(lang, PreCheckoutRefusal::Invalid),
        precheckout_refusal(lang, PreCheckoutRefusal::Unavailable),
        no_access_toast(lang),
        stats_refreshed_toast(lang),
    ];
    for kind in [TaskKind::Generate, TaskKind::Edit] {
        texts.push(task_started_toast(lang, kind));
        texts.push(task_kind_label(lang, kind));
        texts.push(buttons::history(lang, 3, kind));
        let t = Tokens::from_const(1);
        texts.push(result_caption(
            lang,
            kind,
            HOSTILE,
            Quality::Low,
            ImageSize::Square,
            t,
        ));
    }
    texts.extend(Quality::ALL.map(|q| quality_label(lang, q)));
    texts.extend(ImageSize::ALL.map(|s| size_label(lang, s)));
    let statuses = [
        TaskStatus::Pending,
        TaskStatus::Processing,
        TaskStatus::Succeeded,
    ];
    texts.extend(statuses.map(|s| task_status_label(lang, s)));
    texts.extend([TaskStatus::Delivered, TaskStatus::Failed].map(|s| task_status_label(lang, s)));
    for model in ["gpt-image-1", "gpt-image-1.5"] {
        texts.extend([
            model_name(lang, model),
            model_label_plain(lang, model),
            model_description(lang, model),
        ]);
    }
    texts.extend(
        templates(lang)
            .into_iter()
            .flat_map(|t| [t.name, t.description, t.prompt]),
    );
    texts.extend(worker_texts(lang));
    texts.extend(button_texts(lang));
    texts
}

fn worker_texts(lang: Lang) -> Vec<String> {
    let refusals = [
        Refusal::Moderation,
        Refusal::InvalidImage,
        Refusal::BadRequest,
        Refusal::Configuration,
    ];
    let mut texts: Vec<String> = refusals.map(|r| refusal_reason(lang, r)).into();
    texts.push(failure_refunded(lang, Tokens::from_const(1), None));
    texts.push(failure_refunded(lang, Tokens::from_const(1), Some(HOSTILE)));
    texts
}

fn button_texts(lang: Lang) -> Vec<String> {
    use crate::buttons::*;
    let mut texts = vec![
        back_to_menu(lang),
        back(lang),
        selected(lang, "x"),
        generate(lang),
        edit(lang),
        model(lang),
        profile(lang),
        tokens(lang),
        trends(lang),
        guide(lang),
        confirm(lang),
        cancel(lang),
        buy_package(lang, Tokens::from_const(500_000), Stars::from_telegram(350)),
        admin_stats(lang),
        admin_top_users(lang),
        admin_model_usage(lang),
        admin_refresh(lang),
    ];
    texts.extend(command_menu(lang).into_iter().map(|(_, d)| d));
    texts
}

#[test]
fn every_text_renders_in_every_language() {
    for lang in Lang::ALL {
        for text in html_texts(lang) {
            assert!(!text.trim().is_empty());
            assert_eq!(text.trim(), text, "no stray outer whitespace: {text:?}");
            assert_valid_html(&text);
            assert!(
                !text.contains(['\u{2068}', '\u{2069}']),
                "isolation marks: {text:?}"
            );
        }
        for text in plain_texts(lang) {
            // Telegram cuts callback answers at 200 characters; the longest plain texts are
            // captions (1024) and the template prompts.
            assert!((1..=1024).contains(&text.chars().count()), "{text:?}");
            assert!(
                !text.contains(['\u{2068}', '\u{2069}']),
                "isolation marks: {text:?}"
            );
        }
    }
    assert_ne!(help(Lang::Ru), help(Lang::En));
}

#[test]
fn the_command_menu_fits_telegram() {
    for lang in Lang::ALL {
        let menu = buttons::command_menu(lang);
        let names: Vec<&str> = menu.iter().map(|(c, _)| *c).collect();
        assert_eq!(names, ["start", "balance", "guide", "help", "cancel"]);
        for (_, description) in menu {
            assert!((1..=256).contains(&description.chars().count()));
        }
    }
    assert_eq!(buttons::command_menu(Lang::Ru)[0].1, "Главное меню");
    assert_eq!(buttons::command_menu(Lang::En)[0].1, "Main menu");
}
