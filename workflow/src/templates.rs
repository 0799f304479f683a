//! Message templates (DESIGN §6): one TOML file per language (`data/templates/es.toml`, `en.toml`), each template
//! a `subject` and a `body` rendered with MiniJinja. Customer messages are written in the customer's language
//! (the company's when the customer has none, English when neither has templates); internal ones in the company's.
//! Every message lists its documents with per-currency totals, through the shared `_invoices` piece.
//!
//! Templates are checked when loaded (syntax, with the template's name and line) and against the strategies (every
//! email or alert a strategy names must exist in every language), so a missing translation fails the command
//! before anything is queued, not in the middle of a run.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use chrono::NaiveDate;
use minijinja::Environment;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::config::WorkflowConfig;
use crate::ledger::LedgerDocument;
use crate::strategy::{ActionKind, StrategySet};

/// The built-in templates, by language.
pub const BUILTIN: &[(&str, &str)] =
    &[("en", include_str!("../../data/templates/en.toml")), ("es", include_str!("../../data/templates/es.toml"))];
/// How the built-in templates are named in messages.
pub const BUILTIN_SOURCE: &str = "built-in data/templates";
/// The language used when neither the customer's nor the company's has templates.
pub const FALLBACK_LANGUAGE: &str = "en";

/// Why templates were refused or could not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("templates {file}: [{template}] {field}: {message}")]
pub struct TemplateError {
    /// The language file.
    pub file: String,
    /// The template.
    pub template: String,
    /// `subject`, `body`, or what else is wrong.
    pub field: String,
    /// What is wrong (MiniJinja's message carries the line) and what to do.
    pub message: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTemplate {
    #[serde(default)]
    subject: Option<String>,
    body: String,
}

/// A set of templates in one or more languages.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
    /// Template names per language, and the file each language came from.
    names: BTreeMap<String, (String, BTreeSet<String>)>,
}

/// One document line of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DocLine {
    /// Document number.
    pub id: String,
    /// Issue date.
    pub issue_date: NaiveDate,
    /// Due date.
    pub due_date: NaiveDate,
    /// Open amount, two decimals.
    pub open: String,
    /// Currency.
    pub currency: String,
    /// Days past due on the message's day (0 or less: not overdue).
    pub days_overdue: i64,
    /// Late interest accrued to the message's day, two decimals.
    pub interest: String,
}

/// Per-currency totals of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Total {
    /// Currency.
    pub currency: String,
    /// Σ open amount.
    pub open: String,
    /// Σ late interest accrued.
    pub interest: String,
}

/// The company as templates see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanyView {
    /// Name.
    pub name: String,
    /// AR address.
    pub email: String,
    /// Bank account.
    pub bank_account: String,
    /// Late interest, % a year.
    pub late_interest_annual_percent: String,
}

/// The customer as templates see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CustomerView {
    /// Id.
    pub id: String,
    /// Name (the id when the ledger has none).
    pub name: String,
}

/// Everything a template can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageContext {
    /// The company.
    pub company: CompanyView,
    /// The customer the message is about.
    pub customer: CustomerView,
    /// customer, collector, sales_rep, ar_manager.
    pub recipient_role: String,
    /// Strategy step (empty outside a strategy).
    pub step: String,
    /// Strategy (empty outside a strategy).
    pub strategy: String,
    /// The customer's account card in the UI.
    pub account_card_url: String,
    /// The largest days past due among the documents.
    pub days_overdue: i64,
    /// The documents, in the order given.
    pub documents: Vec<DocLine>,
    /// Per-currency totals, in currency order.
    pub totals: Vec<Total>,
}

/// Money with two decimals, half away from zero.
pub fn money(d: Decimal) -> String {
    format!("{:.2}", d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero))
}

/// Simple late interest: `open × rate % × days / 365`, exact, rounded to cents; nothing before the due date.
pub fn late_interest(open: Decimal, annual_percent: Decimal, days: i64) -> Decimal {
    if days <= 0 || open <= Decimal::ZERO {
        return Decimal::ZERO;
    }
    (open * annual_percent * Decimal::from(days) / Decimal::from(36_500))
        .round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

impl MessageContext {
    /// The context of a message about `documents` of one customer, on the local date `today`.
    pub fn new(
        config: &WorkflowConfig,
        customer: (&str, &str),
        documents: &[&LedgerDocument],
        today: NaiveDate,
        recipient_role: &str,
        strategy_step: (&str, &str),
    ) -> Self {
        let c = &config.company;
        let rate = c.late_interest_annual_percent;
        let mut totals: BTreeMap<&str, (Decimal, Decimal)> = BTreeMap::new();
        let lines: Vec<DocLine> = documents
            .iter()
            .map(|d| {
                let days = (today - d.due_date).num_days();
                let interest = late_interest(d.balance, rate, days);
                let t = totals.entry(d.currency.as_str()).or_default();
                t.0 += d.balance;
                t.1 += interest;
                DocLine {
                    id: d.document_id.clone(),
                    issue_date: d.issue_date,
                    due_date: d.due_date,
                    open: money(d.balance),
                    currency: d.currency.clone(),
                    days_overdue: days,
                    interest: money(interest),
                }
            })
            .collect();
        let (id, name) = customer;
        Self {
            company: CompanyView {
                name: c.name.clone(),
                email: c.email.clone(),
                bank_account: c.bank_account.clone(),
                late_interest_annual_percent: rate.normalize().to_string(),
            },
            customer: CustomerView { id: id.to_owned(), name: if name.is_empty() { id } else { name }.to_owned() },
            recipient_role: recipient_role.to_owned(),
            step: strategy_step.1.to_owned(),
            strategy: strategy_step.0.to_owned(),
            account_card_url: format!("{}/ui/customers/{id}", c.base_url.trim_end_matches('/')),
            days_overdue: lines.iter().map(|l| l.days_overdue).max().unwrap_or(0),
            totals: totals
                .into_iter()
                .map(|(cur, (open, interest))| Total {
                    currency: cur.to_owned(),
                    open: money(open),
                    interest: money(interest),
                })
                .collect(),
            documents: lines,
        }
    }
}

/// MiniJinja's message, led by the line of the template it is about.
fn with_line(e: &minijinja::Error) -> String {
    match e.line() {
        Some(l) => format!("line {l}: {e}"),
        None => e.to_string(),
    }
}

fn key(lang: &str, name: &str, field: &str) -> String {
    format!("{lang}/{name}.{field}")
}

impl Templates {
    /// The built-in templates (checked by a unit test, so this cannot fail in a released binary).
    pub fn builtin() -> Self {
        let sources =
            BUILTIN.iter().map(|(l, t)| ((*l).to_owned(), (*t).to_owned(), format!("{BUILTIN_SOURCE}/{l}.toml")));
        match Self::from_sources(sources) {
            Ok(t) => t,
            Err(e) => panic!("the built-in templates are checked by a unit test: {e}"),
        }
    }

    /// Every `<language>.toml` of a directory.
    pub fn load_dir(dir: &Path) -> Result<Self, TemplateError> {
        let err = |m: String| TemplateError {
            file: dir.display().to_string(),
            template: String::new(),
            field: String::new(),
            message: m,
        };
        let mut sources = Vec::new();
        let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot read the directory: {e}")))?;
        for e in entries {
            let path = e.map_err(|e| err(e.to_string()))?.path();
            if path.extension().is_some_and(|x| x == "toml") {
                let lang = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
                let text = std::fs::read_to_string(&path).map_err(|e| err(format!("{}: {e}", path.display())))?;
                sources.push((lang, text, path.display().to_string()));
            }
        }
        if sources.is_empty() {
            return Err(err("no <language>.toml files (for example es.toml, en.toml)".into()));
        }
        sources.sort();
        Self::from_sources(sources)
    }

    fn from_sources(sources: impl IntoIterator<Item = (String, String, String)>) -> Result<Self, TemplateError> {
        let mut env = Environment::new();
        env.set_keep_trailing_newline(true);
        // `{% include "_invoices" %}` means the piece of the including template's language.
        env.set_path_join_callback(|name, parent| {
            if name.starts_with('_') {
                let lang = parent.split('/').next().unwrap_or_default();
                key(lang, name, "body").into()
            } else {
                name.into()
            }
        });
        let mut names = BTreeMap::new();
        for (lang, text, file) in sources {
            let err = |template: &str, field: &str, message: String| TemplateError {
                file: file.clone(),
                template: template.to_owned(),
                field: field.to_owned(),
                message,
            };
            let raw: BTreeMap<String, RawTemplate> = toml::from_str(&text).map_err(|e| err("", "", e.to_string()))?;
            for (name, t) in &raw {
                if !name.starts_with('_') && t.subject.as_deref().is_none_or(|s| s.trim().is_empty()) {
                    return Err(err(name, "subject", "missing: every message needs a subject".into()));
                }
                for (field, src) in [("subject", t.subject.as_deref()), ("body", Some(t.body.as_str()))] {
                    if let Some(src) = src {
                        env.add_template_owned(key(&lang, name, field), src.trim_start_matches('\n').to_owned())
                            .map_err(|e| err(name, field, with_line(&e)))?;
                    }
                }
            }
            names.insert(lang, (file, raw.into_keys().collect()));
        }
        Ok(Self { env, names })
    }

    /// Checks that every email and alert template a strategy names exists in every language, and renders each
    /// once with a sample message so that a template that cannot render fails here, not mid-run.
    pub fn check(&self, strategies: &StrategySet, config: &WorkflowConfig) -> Result<(), TemplateError> {
        let sample = LedgerDocument {
            document_id: "INV-1".into(),
            customer_id: "C1".into(),
            kind: "invoice".into(),
            currency: "EUR".into(),
            amount: Decimal::ONE_HUNDRED,
            balance: Decimal::ONE_HUNDRED,
            issue_date: NaiveDate::MIN,
            due_date: NaiveDate::MIN,
            paid: Decimal::ZERO,
            credited: Decimal::ZERO,
        };
        let ctx = MessageContext::new(config, ("C1", "Sample"), &[&sample], NaiveDate::MIN, "customer", ("s", "x"));
        for s in &strategies.strategies {
            for step in &s.steps {
                for a in step.actions.iter().filter(|a| a.kind != ActionKind::Task) {
                    for (lang, (file, names)) in &self.names {
                        if !names.contains(&a.template) {
                            return Err(TemplateError {
                                file: file.clone(),
                                template: a.template.clone(),
                                field: String::new(),
                                message: format!(
                                    "strategy `{}` step `{}` sends `{}`, which has no {lang} template; add [{}] to {file}",
                                    s.name, step.name, a.template, a.template
                                ),
                            });
                        }
                        self.render(lang, &a.template, &ctx)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The language to write in: the wanted one when it has templates, else the company's, else English.
    pub fn language<'a>(&'a self, wanted: Option<&str>, company: &'a str) -> &'a str {
        let has = |l: &str| self.names.contains_key(l);
        let wanted = wanted.map(|w| w.split(['-', '_']).next().unwrap_or(w).to_ascii_lowercase());
        match wanted {
            Some(w) if has(&w) => self.names.get_key_value(w.as_str()).map_or(FALLBACK_LANGUAGE, |(k, _)| k.as_str()),
            _ if has(company) => company,
            _ => FALLBACK_LANGUAGE,
        }
    }

    /// Renders a template: (subject, body).
    pub fn render(&self, lang: &str, name: &str, ctx: &MessageContext) -> Result<(String, String), TemplateError> {
        let file = self.names.get(lang).map(|(f, _)| f.clone()).unwrap_or_else(|| format!("{lang}.toml"));
        let one = |field: &str| -> Result<String, TemplateError> {
            let err = |message: String| TemplateError {
                file: file.clone(),
                template: name.to_owned(),
                field: field.to_owned(),
                message,
            };
            let t = self.env.get_template(&key(lang, name, field)).map_err(|_| {
                err(format!("no template `{name}` in language `{lang}`; add [{name}] with a {field} to {file}"))
            })?;
            t.render(ctx).map_err(|e| err(with_line(&e)))
        };
        Ok((one("subject")?.trim().to_owned(), one("body")?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, cur: &str, balance: &str, due: &str) -> LedgerDocument {
        LedgerDocument {
            document_id: id.into(),
            customer_id: "C1".into(),
            kind: "invoice".into(),
            currency: cur.into(),
            amount: balance.parse().unwrap(),
            balance: balance.parse().unwrap(),
            issue_date: "2026-01-01".parse().unwrap(),
            due_date: due.parse().unwrap(),
            paid: Decimal::ZERO,
            credited: Decimal::ZERO,
        }
    }

    #[test]
    fn builtin_templates_cover_the_builtin_strategy_in_both_languages() {
        let t = Templates::builtin();
        t.check(&StrategySet::builtin(), &WorkflowConfig::builtin()).unwrap();
        assert_eq!(t.names.keys().collect::<Vec<_>>(), ["en", "es"]);
        assert_eq!(t.language(Some("es-ES"), "en"), "es");
        assert_eq!(t.language(Some("fr"), "es"), "es");
        assert_eq!(t.language(None, "de"), "en");
    }

    /// The late-interest notice with its day count and interest, worked by hand: 10.15 % a year.
    /// A1: 1,000.00 EUR, due 2026-02-01, on 2026-02-15 = 14 days → 1000 × 10.15 × 14 / 36500 = 3.893… → 3.89.
    /// A2: 250.50 EUR, due 2026-01-20 = 26 days → 250.50 × 10.15 × 26 / 36500 = 1.8111… → 1.81.
    /// B1: 99.99 USD, due 2026-02-10 = 5 days → 99.99 × 10.15 × 5 / 36500 = 0.1390… → 0.14.
    /// Totals: EUR 1,250.50 open, 5.70 interest; USD 99.99 open, 0.14 interest.
    #[test]
    fn late_interest_notice_lists_days_interest_and_per_currency_totals() {
        let t = Templates::builtin();
        let config = WorkflowConfig::builtin();
        let (a1, a2, b1) = (
            doc("A1", "EUR", "1000.00", "2026-02-01"),
            doc("A2", "EUR", "250.50", "2026-01-20"),
            doc("B1", "USD", "99.99", "2026-02-10"),
        );
        let on: NaiveDate = "2026-02-15".parse().unwrap();
        let ctx =
            MessageContext::new(&config, ("C1", "Acme SL"), &[&a2, &a1, &b1], on, "customer", ("default", "d+14"));
        let (subject, body) = t.render("en", "late_interest_notice", &ctx).unwrap();
        assert_eq!(subject, "Third reminder: late-payment interest on 3 invoice(s), 26 days overdue");
        insta::assert_snapshot!(body, @r"
        Dear Acme SL,

        Despite our previous reminders, the following invoice(s) remain unpaid:

        Invoice | Issued | Due | Days late | Open amount
        A2 | 2026-01-01 | 2026-01-20 | 26 | 250.50 EUR
        A1 | 2026-01-01 | 2026-02-01 | 14 | 1000.00 EUR
        B1 | 2026-01-01 | 2026-02-10 | 5 | 99.99 USD
        Total EUR: 1250.50
        Total USD: 99.99

        Late-payment interest accrues at 10.15% a year from the day after the due date
        (simple interest, actual days / 365). To date:
          A2: 26 days × 250.50 EUR = 1.81 EUR
          A1: 14 days × 1000.00 EUR = 3.89 EUR
          B1: 5 days × 99.99 USD = 0.14 USD
          Interest accrued EUR: 5.70
          Interest accrued USD: 0.14

        From today your account is handled by our accounts-receivable department.

        Please pay by bank transfer to ES91 2100 0418 4502 0005 1332, quoting the invoice number.
        If you have already paid, please ignore this message or reply with the remittance advice.

        Kind regards,
        Cobro Demo S.L. · Accounts receivable · cobros@example.com
        ");
        let (subject, body) = t.render("es", "late_interest_notice", &ctx).unwrap();
        assert!(subject.starts_with("Tercer aviso"), "{subject}");
        assert!(body.contains("A2: 26 días × 250.50 EUR = 1.81 EUR"), "{body}");
        assert!(body.contains("Intereses devengados EUR: 5.70"), "{body}");
    }

    #[test]
    fn a_missing_translation_or_a_broken_template_names_file_template_and_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("en.toml"), "[due_today]\nsubject = \"x\"\nbody = \"y\"\n").unwrap();
        let t = Templates::load_dir(dir.path()).unwrap();
        let e = t.check(&StrategySet::builtin(), &WorkflowConfig::builtin()).unwrap_err().to_string();
        assert!(e.contains("en.toml") && e.contains("new_invoice") && e.contains("step `issue`"), "{e}");
        std::fs::write(dir.path().join("en.toml"), "[x]\nsubject = \"{{ oops\"\nbody = \"y\"\n").unwrap();
        let e = Templates::load_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("en.toml: [x] subject:") && e.contains("line 1"), "{e}");
        std::fs::write(dir.path().join("en.toml"), "[x]\nbody = \"y\"\n").unwrap();
        let e = Templates::load_dir(dir.path()).unwrap_err().to_string();
        assert!(e.contains("[x] subject: missing"), "{e}");
    }
}
