//! Collection strategies (DESIGN §6): TOML files in `data/strategies/` that say, for the customers they match,
//! which steps fire on which day relative to an invoice's issue or due date, and what each step does (emails to
//! the customer or to people inside, in-app alerts, tasks). Validated on load: every error names the file, the
//! step and the field. Which strategy a customer gets is decided here too; when the steps fire is the planner's.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{Days, NaiveDate, NaiveTime};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The built-in default strategy.
pub const BUILTIN_TOML: &str = include_str!("../../data/strategies/default.toml");
/// How the built-in strategy is named in messages.
pub const BUILTIN_SOURCE: &str = "built-in data/strategies/default.toml";
/// Files of `data/strategies/` that are not strategies.
pub const NOT_STRATEGIES: &[&str] = &["segments.toml", "workflow.toml"];

/// Why a strategy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StrategyError {
    /// The file or directory cannot be read.
    #[error("cannot read strategy {path}: {message}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        message: String,
    },
    /// Not valid TOML, an unknown key, or a wrong type.
    #[error("strategy {path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// Parses, but makes no sense.
    #[error("strategy {path}: {place}: {field}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// `step "d+7"`, `[settings]`, `[match]`, ...
        place: String,
        /// Field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// What a step's offset counts from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anchor {
    /// The invoice's issue date.
    Issue,
    /// The invoice's due date (D).
    Due,
}

/// What an action does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// An email.
    Email,
    /// An in-app alert.
    Alert,
    /// A task for someone.
    Task,
}

/// Who an action is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipient {
    /// The customer (the only one VIP, pause, rate caps and send windows apply to).
    Customer,
    /// The customer's collector.
    Collector,
    /// The customer's sales rep.
    SalesRep,
    /// The AR manager of the workflow configuration.
    ArManager,
}

impl Recipient {
    /// `customer`, `collector`, `sales_rep`, `ar_manager`: as in strategy files and the outbox's recipient_role.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Customer => "customer",
            Self::Collector => "collector",
            Self::SalesRep => "sales_rep",
            Self::ArManager => "ar_manager",
        }
    }
}

/// Kinds of task a step may create.
pub const TASK_KINDS: &[&str] = &["call", "email", "review", "decide_action", "follow_up"];

/// One thing a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    /// Email, alert or task.
    pub kind: ActionKind,
    /// For whom.
    pub to: Recipient,
    /// Template (emails, alerts) or description key (tasks).
    pub template: String,
    /// Task kind (tasks only).
    #[serde(default)]
    pub task: Option<String>,
    /// Only when the customer's open balance in the message's currency is at least this.
    #[serde(default)]
    pub min_balance: Option<Decimal>,
}

/// One step of the ladder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Name, unique in the strategy (it is part of every idempotency key).
    pub name: String,
    /// What the offset counts from.
    pub anchor: Anchor,
    /// Days after the anchor (negative: before).
    pub offset_days: i64,
    /// The last step: nothing automatic after it.
    #[serde(default)]
    pub stop: bool,
    /// What it does.
    pub actions: Vec<Action>,
}

impl Step {
    /// The local date the step is due for an invoice.
    pub fn date(&self, issue: NaiveDate, due: NaiveDate) -> Option<NaiveDate> {
        let base = match self.anchor {
            Anchor::Issue => issue,
            Anchor::Due => due,
        };
        if self.offset_days >= 0 {
            base.checked_add_days(Days::new(self.offset_days.unsigned_abs()))
        } else {
            base.checked_sub_days(Days::new(self.offset_days.unsigned_abs()))
        }
    }
}

/// Local send window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Opens (customer's local time).
    pub start: NaiveTime,
    /// Closes.
    pub end: NaiveTime,
}

/// What happens with steps missed by runs that did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CatchUp {
    /// Only the latest due step fires; the earlier ones are recorded as superseded.
    Latest,
    /// Every missed step fires (still one message per customer × template × currency).
    All,
}

/// `[settings]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// When customer messages may go out.
    pub send_window: Window,
    /// Only on business days of the company calendar.
    pub business_days_only: bool,
    /// Customer messages per customer per local day.
    pub max_customer_messages_per_day: u32,
    /// Missed steps.
    pub catch_up: CatchUp,
    /// Oldest acceptable payment feed, in days.
    pub max_feed_age_days: i64,
}

/// `[match]`: the customers a strategy applies to. Empty lists match everyone.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Match {
    /// Account groups (e.g. retail, wholesale).
    #[serde(default)]
    pub account_groups: Vec<String>,
    /// Effective segments (e.g. chronic, critical).
    #[serde(default)]
    pub segments: Vec<String>,
    /// Smallest open balance (reporting currency).
    #[serde(default)]
    pub min_open_balance: Option<Decimal>,
    /// Largest open balance (reporting currency).
    #[serde(default)]
    pub max_open_balance: Option<Decimal>,
    /// Shortest payment terms, days.
    #[serde(default)]
    pub min_payment_terms_days: Option<i64>,
    /// Longest payment terms, days.
    #[serde(default)]
    pub max_payment_terms_days: Option<i64>,
}

/// A strategy file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Strategy {
    /// Where it came from (set on load).
    #[serde(skip)]
    pub source: String,
    /// Name, unique across the strategies.
    pub name: String,
    /// What it is for.
    #[serde(default)]
    pub description: String,
    /// Lower wins when several match.
    pub priority: i64,
    /// Who it applies to.
    #[serde(default, rename = "match")]
    pub matcher: Match,
    /// How it sends.
    pub settings: Settings,
    /// The ladder, in order.
    pub steps: Vec<Step>,
}

/// What selection looks at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerProfile<'a> {
    /// Account group.
    pub account_group: Option<&'a str>,
    /// Effective segment.
    pub segment: Option<&'a str>,
    /// Open balance, reporting currency.
    pub open_balance: Decimal,
    /// Payment terms, days.
    pub payment_terms_days: Option<i64>,
}

impl Match {
    /// Whether the customer is matched.
    pub fn matches(&self, c: &CustomerProfile<'_>) -> bool {
        let in_list =
            |list: &[String], v: Option<&str>| list.is_empty() || v.is_some_and(|v| list.iter().any(|x| x == v));
        let terms = |bound: Option<i64>, ok: fn(i64, i64) -> bool| match (bound, c.payment_terms_days) {
            (None, _) => true,
            (Some(b), Some(t)) => ok(t, b),
            (Some(_), None) => false,
        };
        in_list(&self.account_groups, c.account_group)
            && in_list(&self.segments, c.segment)
            && self.min_open_balance.is_none_or(|m| c.open_balance >= m)
            && self.max_open_balance.is_none_or(|m| c.open_balance <= m)
            && terms(self.min_payment_terms_days, |t, b| t >= b)
            && terms(self.max_payment_terms_days, |t, b| t <= b)
    }
}

fn code_like(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-+".contains(c))
}

impl Strategy {
    /// Parses and validates one strategy; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, StrategyError> {
        let mut s: Strategy = toml::from_str(text)
            .map_err(|e| StrategyError::Parse { path: source.to_owned(), message: e.to_string() })?;
        s.source = source.to_owned();
        s.validate()?;
        Ok(s)
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, StrategyError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| StrategyError::Read { path: path.display().to_string(), message: e.to_string() })?;
        Self::parse(&text, &path.display().to_string())
    }

    fn invalid(&self, place: &str, field: &str, message: impl Into<String>) -> StrategyError {
        StrategyError::Invalid {
            path: self.source.clone(),
            place: place.to_owned(),
            field: field.to_owned(),
            message: message.into(),
        }
    }

    fn validate(&self) -> Result<(), StrategyError> {
        if !code_like(&self.name) {
            return Err(self.invalid(
                "strategy",
                "name",
                format!("`{}` must be lower-case letters, digits, `_`, `-`, `+`", self.name),
            ));
        }
        let st = &self.settings;
        if st.send_window.start >= st.send_window.end {
            return Err(self.invalid(
                "[settings]",
                "send_window",
                format!("start {} must be before end {}", st.send_window.start, st.send_window.end),
            ));
        }
        if st.max_customer_messages_per_day == 0 {
            return Err(self.invalid("[settings]", "max_customer_messages_per_day", "must be at least 1"));
        }
        if st.max_feed_age_days < 0 {
            return Err(self.invalid("[settings]", "max_feed_age_days", "must be 0 or more"));
        }
        let m = &self.matcher;
        if let (Some(a), Some(b)) = (m.min_open_balance, m.max_open_balance)
            && a > b
        {
            return Err(self.invalid("[match]", "min_open_balance", format!("{a} is more than max_open_balance {b}")));
        }
        if let (Some(a), Some(b)) = (m.min_payment_terms_days, m.max_payment_terms_days)
            && a > b
        {
            return Err(self.invalid(
                "[match]",
                "min_payment_terms_days",
                format!("{a} is more than max_payment_terms_days {b}"),
            ));
        }
        if self.steps.is_empty() {
            return Err(self.invalid("strategy", "steps", "a strategy needs at least one step"));
        }
        let mut names = BTreeSet::new();
        let mut last_due: Option<i64> = None;
        for (i, step) in self.steps.iter().enumerate() {
            let place = format!("step \"{}\"", step.name);
            if !code_like(&step.name) {
                return Err(self.invalid(
                    &format!("step {}", i + 1),
                    "name",
                    format!("`{}` must be lower-case letters, digits, `_`, `-`, `+`", step.name),
                ));
            }
            if !names.insert(step.name.as_str()) {
                return Err(self.invalid(
                    &place,
                    "name",
                    "appears twice; step names are part of idempotency keys and must be unique",
                ));
            }
            if step.offset_days.abs() > 3650 {
                return Err(self.invalid(
                    &place,
                    "offset_days",
                    format!("{} is more than ten years", step.offset_days),
                ));
            }
            if step.anchor == Anchor::Due {
                if last_due.is_some_and(|l| step.offset_days <= l) {
                    return Err(self.invalid(
                        &place,
                        "offset_days",
                        "due-date steps must come in increasing offset order",
                    ));
                }
                last_due = Some(step.offset_days);
            }
            if step.stop && i + 1 != self.steps.len() {
                return Err(self.invalid(&place, "stop", "only the last step can stop the reminders"));
            }
            if step.actions.is_empty() {
                return Err(self.invalid(&place, "actions", "a step needs at least one action"));
            }
            for (j, a) in step.actions.iter().enumerate() {
                let field = |f: &str| format!("actions[{}].{f}", j + 1);
                if !code_like(&a.template) {
                    return Err(self.invalid(
                        &place,
                        &field("template"),
                        format!("`{}` must be lower-case letters, digits, `_`, `-`", a.template),
                    ));
                }
                match (a.kind, &a.task) {
                    (ActionKind::Task, None) => {
                        return Err(self.invalid(
                            &place,
                            &field("task"),
                            format!("a task action needs `task`: one of {}", TASK_KINDS.join(", ")),
                        ));
                    }
                    (ActionKind::Task, Some(t)) if !TASK_KINDS.contains(&t.as_str()) => {
                        return Err(self.invalid(
                            &place,
                            &field("task"),
                            format!("`{t}` is not one of {}", TASK_KINDS.join(", ")),
                        ));
                    }
                    (ActionKind::Email | ActionKind::Alert, Some(_)) => {
                        return Err(self.invalid(&place, &field("task"), "only task actions take `task`"));
                    }
                    _ => {}
                }
                if a.to == Recipient::Customer && a.kind != ActionKind::Email {
                    return Err(self.invalid(
                        &place,
                        &field("to"),
                        "the customer only receives emails; alerts and tasks are for people inside",
                    ));
                }
                if a.min_balance.is_some_and(|b| b.is_sign_negative()) {
                    return Err(self.invalid(&place, &field("min_balance"), "must not be negative"));
                }
            }
        }
        Ok(())
    }
}

/// Every strategy in use, in selection order (priority, then name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategySet {
    /// The strategies.
    pub strategies: Vec<Strategy>,
}

impl StrategySet {
    /// The built-in default strategy alone.
    pub fn builtin() -> Self {
        // Checked by a unit test, so this cannot fail in a released binary.
        let s = Strategy::parse(BUILTIN_TOML, BUILTIN_SOURCE)
            .unwrap_or_else(|e| panic!("the built-in strategy is invalid: {e}"));
        Self { strategies: vec![s] }
    }

    /// Every `*.toml` of a directory except the segment rules and the workflow configuration.
    pub fn load_dir(dir: &Path) -> Result<Self, StrategyError> {
        let read = |e: std::io::Error| StrategyError::Read { path: dir.display().to_string(), message: e.to_string() };
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(read)?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .filter(|p| p.file_name().and_then(|n| n.to_str()).is_none_or(|n| !NOT_STRATEGIES.contains(&n)))
            .collect();
        files.sort();
        let strategies = files.iter().map(|p| Strategy::load(p)).collect::<Result<Vec<_>, _>>()?;
        Self::new(strategies, &dir.display().to_string())
    }

    /// A set from strategies; names must be unique and there must be at least one.
    pub fn new(mut strategies: Vec<Strategy>, source: &str) -> Result<Self, StrategyError> {
        if strategies.is_empty() {
            return Err(StrategyError::Read {
                path: source.to_owned(),
                message: "no strategy files (*.toml) found".into(),
            });
        }
        strategies.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        for w in strategies.windows(2) {
            if w[0].name == w[1].name {
                return Err(StrategyError::Invalid {
                    path: w[1].source.clone(),
                    place: "strategy".into(),
                    field: "name".into(),
                    message: format!("`{}` is also the name of {}", w[1].name, w[0].source),
                });
            }
        }
        Ok(Self { strategies })
    }

    /// The strategy a customer gets: the first by priority whose `[match]` holds; `None` when none does.
    pub fn select(&self, c: &CustomerProfile<'_>) -> Option<&Strategy> {
        self.strategies.iter().find(|s| s.matcher.matches(c))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn the_builtin_strategy_is_the_seed_ladder() {
        let set = StrategySet::builtin();
        let s = &set.strategies[0];
        let ladder: Vec<(String, Option<NaiveDate>)> =
            s.steps.iter().map(|st| (st.name.clone(), st.date(d("2024-11-01"), d("2024-12-01")))).collect();
        insta::assert_snapshot!(format!("{ladder:?}"), @r#"[("issue", Some(2024-11-01)), ("d-3", Some(2024-11-28)), ("d+0", Some(2024-12-01)), ("d+7", Some(2024-12-08)), ("d+14", Some(2024-12-15)), ("d+30", Some(2024-12-31))]"#);
        assert!(s.steps.last().is_some_and(|st| st.stop));
        let d7 = &s.steps[3];
        assert_eq!(d7.actions[1].min_balance, Some(Decimal::from(5000)));
        assert_eq!(d7.actions[2].task.as_deref(), Some("call"));
    }

    #[test]
    fn errors_name_the_file_the_step_and_the_field() {
        let e = |from: &str, to: &str| {
            Strategy::parse(&BUILTIN_TOML.replacen(from, to, 1), "s.toml").unwrap_err().to_string()
        };
        assert_eq!(
            e("offset_days = 7", "offset_days = -5"),
            "strategy s.toml: step \"d+7\": offset_days: due-date steps must come in increasing offset order"
        );
        assert_eq!(
            e("task = \"call\"", "task = \"sing\""),
            "strategy s.toml: step \"d+7\": actions[3].task: `sing` is not one of call, email, review, decide_action, follow_up"
        );
        assert_eq!(
            e("name = \"d+14\"", "name = \"d+7\""),
            "strategy s.toml: step \"d+7\": name: appears twice; step names are part of idempotency keys and must be unique"
        );
        assert_eq!(
            e(
                "{ kind = \"alert\", to = \"collector\", template = \"invoice_due\" }",
                "{ kind = \"alert\", to = \"customer\", template = \"invoice_due\" }"
            ),
            "strategy s.toml: step \"d+0\": actions[2].to: the customer only receives emails; alerts and tasks are for people inside"
        );
        assert_eq!(
            e("start = \"09:00\"", "start = \"19:00\""),
            "strategy s.toml: [settings]: send_window: start 19:00:00 must be before end 18:00:00"
        );
        let parse = e("catch_up = \"latest\"", "catch_up = \"newest\"");
        assert!(parse.starts_with("strategy s.toml: TOML parse error at line") && parse.contains("newest"), "{parse}");
        let unknown = e("stop = true", "stop = true\nhalt = true");
        assert!(unknown.contains("unknown field `halt`"), "{unknown}");
    }

    #[test]
    fn selection_takes_the_first_match_by_priority() {
        let vip = BUILTIN_TOML
            .replacen("name = \"default\"", "name = \"chronic-big\"", 1)
            .replacen("priority = 1000", "priority = 10", 1)
            .replacen("segments = []", "segments = [\"chronic\", \"critical\"]\nmin_open_balance = \"10000\"", 1);
        let set = StrategySet::new(
            vec![Strategy::parse(BUILTIN_TOML, "a").unwrap(), Strategy::parse(&vip, "b").unwrap()],
            "test",
        )
        .unwrap();
        let profile = |segment, balance: i64| CustomerProfile {
            account_group: Some("retail"),
            segment: Some(segment),
            open_balance: Decimal::from(balance),
            payment_terms_days: Some(30),
        };
        assert_eq!(set.select(&profile("chronic", 20_000)).map(|s| s.name.as_str()), Some("chronic-big"));
        assert_eq!(set.select(&profile("chronic", 5_000)).map(|s| s.name.as_str()), Some("default"));
        assert_eq!(set.select(&profile("prompt", 20_000)).map(|s| s.name.as_str()), Some("default"));
        let dup = StrategySet::new(
            vec![Strategy::parse(BUILTIN_TOML, "a").unwrap(), Strategy::parse(BUILTIN_TOML, "b").unwrap()],
            "test",
        );
        assert!(dup.unwrap_err().to_string().contains("`default` is also the name of a"));
    }

    #[test]
    fn the_repository_strategies_directory_loads() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/strategies");
        let set = StrategySet::load_dir(&dir).unwrap();
        assert_eq!(set.strategies.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["default"]);
    }
}
