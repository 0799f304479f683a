//! The workflow configuration (`data/strategies/workflow.toml`): dispute routing and deadlines, the company's
//! calendar, promise grace, alarm thresholds, delay-reason codes and collection objectives. Validated on load;
//! every error names the file, the section and the field.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::{Datelike, Months, NaiveDate};
use cobro_domain::BusinessCalendar;
use rust_decimal::Decimal;
use serde::Deserialize;

/// The built-in configuration, the one shipped in `data/strategies/workflow.toml`.
pub const BUILTIN_TOML: &str = include_str!("../../data/strategies/workflow.toml");
/// How the built-in configuration is named in messages.
pub const BUILTIN_SOURCE: &str = "built-in data/strategies/workflow.toml";

/// Why a configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error("cannot read workflow configuration {path}: {message}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        message: String,
    },
    /// Not valid TOML, or an unknown key or a wrong type.
    #[error("workflow configuration {path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// Parses, but makes no sense.
    #[error("workflow configuration {path}: [{section}] {field}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// Section, e.g. `dispute_types.delivery`.
        section: String,
        /// Field.
        field: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// `[company]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Company {
    /// Who decides on customers past the action date and receives escalations.
    pub ar_manager: String,
    /// Their address.
    #[serde(default)]
    pub ar_manager_email: Option<String>,
    /// The company's IANA time zone (for customers without one).
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The name customers know the company by (messages sign with it).
    #[serde(default = "default_company_name")]
    pub name: String,
    /// The accounts-receivable address: the sender of every message and where replies go.
    #[serde(default = "default_company_email")]
    pub email: String,
    /// The account customers pay into, quoted in reminders.
    #[serde(default)]
    pub bank_account: String,
    /// Late-payment interest, % a year (simple interest, actual days / 365), quoted in the late-interest notice.
    #[serde(default)]
    pub late_interest_annual_percent: Decimal,
    /// Language of internal messages, and of customer messages when the customer has none (`es`, `en`).
    #[serde(default = "default_language")]
    pub language: String,
    /// Where cobro's UI is reached; internal messages link to the account card under it.
    #[serde(default = "default_base_url")]
    pub base_url: String,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

fn default_company_name() -> String {
    "cobro".to_owned()
}

fn default_company_email() -> String {
    "ar@example.com".to_owned()
}

fn default_language() -> String {
    "en".to_owned()
}

fn default_base_url() -> String {
    "http://127.0.0.1:8080".to_owned()
}

/// A person inside the company (collector, sales rep, AR manager) who receives internal emails.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Person {
    /// Their email address.
    pub email: String,
}

/// `[dunning]`: how strategy runs are released.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DunningRules {
    /// `true`: `cobro dunning run` sends only the actions of a plan someone approved (plan → approve → run).
    #[serde(default)]
    pub approval_required: bool,
}

/// The outbox's delivery channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelKind {
    /// Writes each email as an `.eml` file (the embedded default: nothing leaves the machine).
    #[default]
    File,
    /// Sends through an SMTP server.
    Smtp,
    /// POSTs each message as JSON (SMS gateways and other providers).
    Webhook,
}

/// `[delivery]`: how queued messages leave.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeliveryRules {
    /// The channel.
    #[serde(default)]
    pub channel: ChannelKind,
    /// `file`: the folder for the `.eml` files; relative paths are under the data directory.
    #[serde(default = "default_outbox_dir")]
    pub dir: String,
    /// `smtp`: the server as a URL, `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS) or
    /// `smtps://user@host:465` (TLS); the password is read from `$COBRO_SMTP_PASSWORD`, never from this file.
    #[serde(default)]
    pub smtp_url: Option<String>,
    /// `webhook`: the URL the JSON is POSTed to; each request is signed with HMAC-SHA256 of the body under
    /// `$COBRO_WEBHOOK_SECRET` when it is set (header `X-Cobro-Signature`).
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Attempts before a message is given up as failed.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The first retry waits this long; each next one four times longer, at most 6 hours.
    #[serde(default = "default_backoff")]
    pub backoff_seconds: u64,
    /// How long a worker holds a message it is sending before another worker may take it over (a crash leaves
    /// the message claimed until then).
    #[serde(default = "default_lease")]
    pub lease_seconds: u64,
    /// Seconds a connection or request may take.
    #[serde(default = "default_send_timeout")]
    pub timeout_seconds: u64,
}

impl Default for DeliveryRules {
    fn default() -> Self {
        Self {
            channel: ChannelKind::File,
            dir: default_outbox_dir(),
            smtp_url: None,
            webhook_url: None,
            max_attempts: default_max_attempts(),
            backoff_seconds: default_backoff(),
            lease_seconds: default_lease(),
            timeout_seconds: default_send_timeout(),
        }
    }
}

fn default_outbox_dir() -> String {
    "outbox".to_owned()
}

fn default_max_attempts() -> u32 {
    5
}

fn default_backoff() -> u64 {
    60
}

fn default_lease() -> u64 {
    300
}

fn default_send_timeout() -> u64 {
    30
}

/// `[promises]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PromiseRules {
    /// Days after the promised date before a short payment breaks the promise.
    pub grace_days: i64,
    /// Furthest promised date accepted, in days after the day the promise is made.
    pub max_days_ahead: i64,
}

/// `[outcomes]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeRules {
    /// Default days until the follow-up of a `no_commitment`.
    pub follow_up_days: i64,
}

/// `[payment_reports]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportRules {
    /// Days after which an open payment report is on the "reported but not credited" alarm.
    pub credit_wait_days: i64,
}

/// `[alarms]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlarmRules {
    /// Days past due after which a customer needs a decision (the D+30 action notice).
    pub action_days_past_due: i64,
}

/// `[departments.NAME]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Department {
    /// Who owns the department's disputes.
    pub owner: String,
    /// Where their reminders go.
    #[serde(default)]
    pub email: Option<String>,
}

/// `[dispute_types.NAME]`: routing and deadlines of one dispute type.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeType {
    /// What the type means.
    #[serde(default)]
    pub label: String,
    /// Department it is routed to (a key of `[departments]`).
    pub department: String,
    /// Resolution deadline in business days from the opening.
    pub deadline_business_days: i64,
    /// First-response target in business days from the opening.
    pub response_business_days: i64,
}

/// `[dispute_reminders]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisputeReminders {
    /// Reminders this many business days before the deadline.
    #[serde(default)]
    pub before_deadline_business_days: Vec<i64>,
    /// Reminders this many business days after the deadline.
    #[serde(default)]
    pub after_deadline_business_days: Vec<i64>,
    /// Escalation to the AR manager this many business days after the deadline.
    pub escalate_after_business_days: i64,
}

/// `[[delay_reasons]]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayReason {
    /// Code recorded with outcomes.
    pub code: String,
    /// What it means.
    pub label: String,
}

/// `[[objectives]]` as written.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawObjective {
    id: String,
    #[serde(default)]
    collector: Option<String>,
    #[serde(default)]
    account_group: Option<String>,
    #[serde(default)]
    period: Option<String>,
    #[serde(default)]
    from: Option<NaiveDate>,
    #[serde(default)]
    to: Option<NaiveDate>,
    #[serde(default)]
    collect_target: Option<Decimal>,
    #[serde(default)]
    dso_target: Option<Decimal>,
    #[serde(default)]
    overdue_share_target: Option<Decimal>,
}

/// A collection objective: targets for one collector or account group over a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Objective {
    /// Key.
    pub id: String,
    /// `collector` or `account_group`.
    pub scope_kind: &'static str,
    /// The collector id or account group.
    pub scope: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Amount to collect in the period (reporting currency).
    pub collect_target: Option<Decimal>,
    /// DSO target, days.
    pub dso_target: Option<Decimal>,
    /// Target share of the open balance past due.
    pub overdue_share_target: Option<Decimal>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    company: Company,
    #[serde(default)]
    calendar: BusinessCalendar,
    promises: PromiseRules,
    outcomes: OutcomeRules,
    payment_reports: ReportRules,
    alarms: AlarmRules,
    departments: BTreeMap<String, Department>,
    dispute_types: BTreeMap<String, DisputeType>,
    dispute_reminders: DisputeReminders,
    #[serde(default)]
    delay_reasons: Vec<DelayReason>,
    #[serde(default)]
    objectives: Vec<RawObjective>,
    #[serde(default)]
    people: BTreeMap<String, Person>,
    #[serde(default)]
    dunning: DunningRules,
    #[serde(default)]
    delivery: DeliveryRules,
}

/// A validated workflow configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkflowConfig {
    /// Where it came from (a path, or [`BUILTIN_SOURCE`]).
    pub source: String,
    /// `[company]`.
    pub company: Company,
    /// The company's working calendar.
    pub calendar: BusinessCalendar,
    /// `[promises]`.
    pub promises: PromiseRules,
    /// `[outcomes]`.
    pub outcomes: OutcomeRules,
    /// `[payment_reports]`.
    pub payment_reports: ReportRules,
    /// `[alarms]`.
    pub alarms: AlarmRules,
    /// Departments by name.
    pub departments: BTreeMap<String, Department>,
    /// Dispute types by name.
    pub dispute_types: BTreeMap<String, DisputeType>,
    /// `[dispute_reminders]`.
    pub dispute_reminders: DisputeReminders,
    /// Delay-reason codes, in file order.
    pub delay_reasons: Vec<DelayReason>,
    /// Collection objectives.
    pub objectives: Vec<Objective>,
    /// People inside the company by id (collectors, sales reps, the AR manager), for internal emails.
    pub people: BTreeMap<String, Person>,
    /// `[dunning]`.
    pub dunning: DunningRules,
    /// `[delivery]`.
    pub delivery: DeliveryRules,
}

impl WorkflowConfig {
    /// The built-in configuration.
    pub fn builtin() -> Self {
        // The shipped file is checked by a unit test, so this cannot fail in a released binary.
        Self::parse(BUILTIN_TOML, BUILTIN_SOURCE)
            .unwrap_or_else(|e| panic!("the built-in workflow.toml is invalid: {e}"))
    }

    /// Reads and validates a file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::Read { path: path.display().to_string(), message: e.to_string() })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Parses and validates TOML text; `source` names it in errors.
    pub fn parse(text: &str, source: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig =
            toml::from_str(text).map_err(|e| ConfigError::Parse { path: source.to_owned(), message: e.to_string() })?;
        let invalid = |section: &str, field: &str, message: String| ConfigError::Invalid {
            path: source.to_owned(),
            section: section.to_owned(),
            field: field.to_owned(),
            message,
        };
        let non_negative = |section: &str, field: &str, v: i64| {
            if v < 0 { Err(invalid(section, field, format!("{v} is negative; use 0 or more days"))) } else { Ok(()) }
        };
        raw.calendar.validate().map_err(|m| invalid("calendar", "weekend", m))?;
        non_negative("promises", "grace_days", raw.promises.grace_days)?;
        if raw.promises.max_days_ahead < 1 {
            return Err(invalid("promises", "max_days_ahead", "must be at least 1 day".into()));
        }
        non_negative("outcomes", "follow_up_days", raw.outcomes.follow_up_days)?;
        non_negative("payment_reports", "credit_wait_days", raw.payment_reports.credit_wait_days)?;
        non_negative("alarms", "action_days_past_due", raw.alarms.action_days_past_due)?;
        if raw.company.timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "company",
                "timezone",
                format!("`{}` is not an IANA time zone (e.g. Europe/Madrid)", raw.company.timezone),
            ));
        }
        if !matches!(raw.company.language.as_str(), "es" | "en") {
            return Err(invalid(
                "company",
                "language",
                format!("`{}` has no templates; use `es` or `en`", raw.company.language),
            ));
        }
        if raw.company.late_interest_annual_percent < Decimal::ZERO {
            return Err(invalid("company", "late_interest_annual_percent", "is negative".into()));
        }
        for (id, p) in &raw.people {
            if !p.email.contains('@') {
                return Err(invalid(
                    &format!("people.{id}"),
                    "email",
                    format!("`{}` is not an email address", p.email),
                ));
            }
        }
        let d = &raw.delivery;
        if d.max_attempts == 0 {
            return Err(invalid("delivery", "max_attempts", "must be at least 1".into()));
        }
        if d.lease_seconds == 0 || d.timeout_seconds == 0 {
            return Err(invalid("delivery", "lease_seconds", "lease and timeout must be at least 1 second".into()));
        }
        if d.lease_seconds <= d.timeout_seconds {
            return Err(invalid(
                "delivery",
                "lease_seconds",
                format!(
                    "{} s is not longer than timeout_seconds ({} s): a slow send would be taken over while still going",
                    d.lease_seconds, d.timeout_seconds
                ),
            ));
        }
        if raw.company.ar_manager.trim().is_empty() {
            return Err(invalid("company", "ar_manager", "must name someone".into()));
        }
        for (name, d) in &raw.departments {
            check_code(name).map_err(|m| invalid(&format!("departments.{name}"), "name", m))?;
            if d.owner.trim().is_empty() {
                return Err(invalid(&format!("departments.{name}"), "owner", "must name someone".into()));
            }
        }
        if raw.dispute_types.is_empty() {
            return Err(invalid("dispute_types", "", "at least one dispute type is needed".into()));
        }
        for (name, t) in &raw.dispute_types {
            let section = format!("dispute_types.{name}");
            check_code(name).map_err(|m| invalid(&section, "name", m))?;
            if !raw.departments.contains_key(&t.department) {
                let known: Vec<&str> = raw.departments.keys().map(String::as_str).collect();
                return Err(invalid(
                    &section,
                    "department",
                    format!("`{}` is not a department; known: {}", t.department, known.join(", ")),
                ));
            }
            if t.deadline_business_days < 1 {
                return Err(invalid(&section, "deadline_business_days", "must be at least 1 business day".into()));
            }
            if t.response_business_days < 0 || t.response_business_days > t.deadline_business_days {
                return Err(invalid(
                    &section,
                    "response_business_days",
                    format!("must be between 0 and the deadline ({})", t.deadline_business_days),
                ));
            }
        }
        let r = &raw.dispute_reminders;
        for v in r.before_deadline_business_days.iter().chain(&r.after_deadline_business_days) {
            non_negative("dispute_reminders", "before/after_deadline_business_days", *v)?;
        }
        if r.escalate_after_business_days < 0 {
            return Err(invalid("dispute_reminders", "escalate_after_business_days", "must be 0 or more".into()));
        }
        let mut codes = std::collections::BTreeSet::new();
        for (i, d) in raw.delay_reasons.iter().enumerate() {
            let section = format!("delay_reasons[{}]", i + 1);
            check_code(&d.code).map_err(|m| invalid(&section, "code", m))?;
            if !codes.insert(d.code.clone()) {
                return Err(invalid(&section, "code", format!("`{}` appears twice", d.code)));
            }
        }
        let mut objectives = Vec::new();
        let mut ids = std::collections::BTreeSet::new();
        for (i, o) in raw.objectives.iter().enumerate() {
            let section = format!("objectives[{}]", i + 1);
            if o.id.trim().is_empty() || !ids.insert(o.id.clone()) {
                return Err(invalid(&section, "id", format!("`{}` is empty or appears twice", o.id)));
            }
            let (scope_kind, scope) = match (&o.collector, &o.account_group) {
                (Some(c), None) => ("collector", c.clone()),
                (None, Some(g)) => ("account_group", g.clone()),
                _ => {
                    return Err(invalid(
                        &section,
                        "collector",
                        "give exactly one of collector or account_group".into(),
                    ));
                }
            };
            let (from, to) = match (&o.period, o.from, o.to) {
                (Some(p), None, None) => month_bounds(p)
                    .ok_or_else(|| invalid(&section, "period", format!("`{p}` is not a month (YYYY-MM)")))?,
                (None, Some(f), Some(t)) if f <= t => (f, t),
                (None, Some(_), Some(_)) => return Err(invalid(&section, "to", "is before `from`".into())),
                _ => return Err(invalid(&section, "period", "give period = \"YYYY-MM\", or both from and to".into())),
            };
            if o.collect_target.is_none() && o.dso_target.is_none() && o.overdue_share_target.is_none() {
                return Err(invalid(
                    &section,
                    "collect_target",
                    "an objective needs at least one of collect_target, dso_target, overdue_share_target".into(),
                ));
            }
            for (field, v) in [
                ("collect_target", o.collect_target),
                ("dso_target", o.dso_target),
                ("overdue_share_target", o.overdue_share_target),
            ] {
                if v.is_some_and(|v| v.is_sign_negative()) {
                    return Err(invalid(&section, field, "must not be negative".into()));
                }
            }
            if o.overdue_share_target.is_some_and(|v| v > Decimal::ONE) {
                return Err(invalid(
                    &section,
                    "overdue_share_target",
                    "is a share: between 0 and 1 (0.25 = 25 %)".into(),
                ));
            }
            objectives.push(Objective {
                id: o.id.clone(),
                scope_kind,
                scope,
                from,
                to,
                collect_target: o.collect_target,
                dso_target: o.dso_target,
                overdue_share_target: o.overdue_share_target,
            });
        }
        Ok(Self {
            source: source.to_owned(),
            company: raw.company,
            calendar: raw.calendar,
            promises: raw.promises,
            outcomes: raw.outcomes,
            payment_reports: raw.payment_reports,
            alarms: raw.alarms,
            departments: raw.departments,
            dispute_types: raw.dispute_types,
            dispute_reminders: raw.dispute_reminders,
            delay_reasons: raw.delay_reasons,
            objectives,
            people: raw.people,
            dunning: raw.dunning,
            delivery: raw.delivery,
        })
    }

    /// A dispute type, or an error that lists the known ones.
    pub fn dispute_type(&self, name: &str) -> Result<&DisputeType, String> {
        self.dispute_types.get(name).ok_or_else(|| {
            let known: Vec<&str> = self.dispute_types.keys().map(String::as_str).collect();
            format!("unknown dispute type `{name}`; known: {} (see {})", known.join(", "), self.source)
        })
    }

    /// Checks a delay-reason code.
    pub fn delay_reason(&self, code: &str) -> Result<(), String> {
        if self.delay_reasons.iter().any(|d| d.code == code) {
            Ok(())
        } else {
            let known: Vec<&str> = self.delay_reasons.iter().map(|d| d.code.as_str()).collect();
            Err(format!("unknown delay reason `{code}`; known: {} (see {})", known.join(", "), self.source))
        }
    }
}

fn check_code(name: &str) -> Result<(), String> {
    if !name.is_empty() && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-') {
        Ok(())
    } else {
        Err(format!("`{name}` must be lower-case letters, digits, `_` or `-`"))
    }
}

/// First and last day of a `YYYY-MM` month.
fn month_bounds(p: &str) -> Option<(NaiveDate, NaiveDate)> {
    let first = NaiveDate::parse_from_str(&format!("{p}-01"), "%Y-%m-%d").ok()?;
    if format!("{:04}-{:02}", first.year(), first.month()) != p {
        return None;
    }
    let last = first.checked_add_months(Months::new(1))?.pred_opt()?;
    Some((first, last))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_configuration_is_valid() {
        let c = WorkflowConfig::builtin();
        assert_eq!(c.dispute_type("delivery").unwrap().department, "logistics");
        assert_eq!(c.dispute_type("billing_error").unwrap().department, "accounting");
        assert_eq!(c.dispute_type("breakdown").unwrap().department, "technical");
        assert!(c.dispute_type("weather").unwrap_err().contains("known: billing_error, breakdown, delivery, price"));
    }

    #[test]
    fn errors_name_the_section_and_the_field() {
        let bad = BUILTIN_TOML.replace("department = \"logistics\"", "department = \"warehouse\"");
        let e = WorkflowConfig::parse(&bad, "w.toml").unwrap_err().to_string();
        assert_eq!(
            e,
            "workflow configuration w.toml: [dispute_types.delivery] department: `warehouse` is not a department; \
             known: accounting, logistics, sales, technical"
        );
        let bad = BUILTIN_TOML.replace("grace_days = 3", "grace_days = 3\ngrace = 1");
        let e = WorkflowConfig::parse(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.contains("unknown field `grace`") && e.contains("line"), "{e}");
        let bad = format!(
            "{BUILTIN_TOML}\n[[objectives]]\nid = \"o\"\ncollector = \"C\"\nperiod = \"2024-13\"\ndso_target = 40\n"
        );
        let e = WorkflowConfig::parse(&bad, "w.toml").unwrap_err().to_string();
        assert!(e.contains("[objectives[1]] period: `2024-13` is not a month"), "{e}");
    }

    #[test]
    fn objectives_take_a_month_or_a_range() {
        let text = format!(
            "{BUILTIN_TOML}\n[[objectives]]\nid = \"a\"\ncollector = \"C1\"\nperiod = \"2024-02\"\ncollect_target = \"100.50\"\n\
             [[objectives]]\nid = \"b\"\naccount_group = \"retail\"\nfrom = \"2024-01-01\"\nto = \"2024-03-31\"\noverdue_share_target = 0.25\n"
        );
        let c = WorkflowConfig::parse(&text, "t").unwrap();
        assert_eq!(c.objectives[0].to, NaiveDate::from_ymd_opt(2024, 2, 29).unwrap());
        assert_eq!(c.objectives[1].scope_kind, "account_group");
    }
}
