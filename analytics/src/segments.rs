//! Customer segment rules (DESIGN §5) as data: `data/strategies/segments.toml`, validated on load, compiled into
//! the SQL of the `segments` view. Each compiled rule also writes its own explanation, so every row of `segments`
//! carries the rule that fired and the values that made it fire.
//!
//! Fields are checked against [`FIELDS`] (columns of `customer_behaviour`) and values are finite numbers, so the
//! SQL built here never contains text from the file other than validated names.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, LazyLock};

use serde::Deserialize;

/// The built-in rules, the ones shipped in `data/strategies/segments.toml`.
pub const BUILTIN_TOML: &str = include_str!("../../data/strategies/segments.toml");

/// Fields of `customer_behaviour` a rule may test, with the decimals its value is shown with in reasons.
pub const FIELDS: &[(&str, u32)] = &[
    ("settled_count", 0),
    ("paid_late_count", 0),
    ("share_paid_late", 4),
    ("share_paid_late_amount", 4),
    ("avg_days_late", 2),
    ("wadl", 2),
    ("p90_days_late", 0),
    ("max_days_late", 0),
    ("avg_days_to_settle", 2),
    ("trend_days_late", 2),
    ("issued_count", 0),
    ("dispute_share", 4),
    ("broken_promises_90d", 0),
    ("open_balance_rc", 2),
    ("past_due_balance_rc", 2),
    ("oldest_days_past_due", 0),
    ("credit_limit_rc", 2),
    ("exposure_ratio", 4),
];

/// Why a rules file was refused. Every message names the file, and the rule and field where there is one.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RulesError {
    /// The file cannot be read.
    #[error("cannot read segment rules {path}: {message}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        message: String,
    },
    /// Not valid TOML, or a key that is unknown or of the wrong type.
    #[error("segment rules {path}: {message}")]
    Parse {
        /// File.
        path: String,
        /// The TOML parser's message, with line and column.
        message: String,
    },
    /// A rule that parses but makes no sense.
    #[error("segment rules {path}: {rule}: {message}")]
    Invalid {
        /// File.
        path: String,
        /// `segment "new"`, `overlay "critical"`, `[queue]`, ...
        rule: String,
        /// What is wrong and what to do.
        message: String,
    },
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Op {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
    /// `=`
    #[serde(rename = "=")]
    Eq,
    /// `<>`
    #[serde(rename = "<>")]
    Ne,
}

impl Op {
    fn sql(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "=",
            Op::Ne => "<>",
        }
    }
}

/// One test of one field.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// A field of `customer_behaviour` (one of [`FIELDS`]).
    pub field: String,
    /// The comparison.
    pub op: Op,
    /// The number compared with.
    pub value: f64,
}

/// A base segment: it holds when all its conditions hold.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SegmentRule {
    /// Segment name (lower case, digits, `_`).
    pub name: String,
    /// What the segment means.
    #[serde(default)]
    pub description: String,
    /// Conditions that must all hold; none means "everyone left".
    #[serde(default)]
    pub all: Vec<Condition>,
}

/// An overlay: raised when any of its conditions holds.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverlayRule {
    /// Overlay name.
    pub name: String,
    /// What it means.
    #[serde(default)]
    pub description: String,
    /// Conditions, one of which must hold.
    pub any: Vec<Condition>,
}

/// The work queue's scoring knobs (see the comments in `segments.toml`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueConfig {
    /// Not yet due but due within this many days is actionable.
    pub due_soon_days: i64,
    /// Urgency grows by 1 every this many days past due.
    pub urgency_days: i64,
    /// Weight of the portfolio rate in p_late, in invoices.
    pub prior_weight: f64,
    /// Score multiplier for a promise broken in the last 90 days.
    pub broken_promise_boost: f64,
    /// Score multiplier when an overlay is raised.
    pub overlay_boost: f64,
    /// Days a reported payment blocks its invoices.
    pub payment_report_hold_days: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RulesFile {
    #[serde(default)]
    segment: Vec<SegmentRule>,
    #[serde(default)]
    overlay: Vec<OverlayRule>,
    queue: QueueConfig,
}

/// Validated segment rules and queue settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentRules {
    /// Base segments, in the order they are tried.
    pub segments: Vec<SegmentRule>,
    /// Overlays, in order.
    pub overlays: Vec<OverlayRule>,
    /// Queue scoring.
    pub queue: QueueConfig,
    /// Where the rules came from (a path, or `built-in data/strategies/segments.toml`).
    pub source: String,
}

static BUILTIN: LazyLock<Arc<SegmentRules>> = LazyLock::new(|| {
    // The built-in file is checked by a unit test and by every CLI test; should it ever fail to load, every
    // customer is `unclassified` with the error as its reason rather than the program stopping.
    Arc::new(
        SegmentRules::parse(BUILTIN_TOML, "built-in data/strategies/segments.toml")
            .unwrap_or_else(|e| SegmentRules::broken(&e.to_string())),
    )
});

impl SegmentRules {
    /// The rules built into the binary.
    pub fn builtin() -> Arc<SegmentRules> {
        BUILTIN.clone()
    }

    /// Reads and validates a rules file.
    pub fn load(path: &Path) -> Result<SegmentRules, RulesError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| RulesError::Read { path: shown.clone(), message: e.to_string() })?;
        Self::parse(&text, &shown)
    }

    /// Parses and validates rules; `path` only names them in errors.
    pub fn parse(text: &str, path: &str) -> Result<SegmentRules, RulesError> {
        let file: RulesFile =
            toml::from_str(text).map_err(|e| RulesError::Parse { path: path.to_owned(), message: e.to_string() })?;
        let invalid = |rule: String, message: String| RulesError::Invalid { path: path.to_owned(), rule, message };
        if file.segment.is_empty() {
            return Err(invalid("[[segment]]".into(), "there are no segments: add at least one [[segment]]".into()));
        }
        let mut names: Vec<&str> = Vec::new();
        let rules = file
            .segment
            .iter()
            .map(|s| (format!("segment \"{}\"", s.name), s.name.as_str(), &s.all))
            .chain(file.overlay.iter().map(|o| (format!("overlay \"{}\"", o.name), o.name.as_str(), &o.any)));
        for (label, name, conditions) in rules {
            if name.is_empty()
                || !name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
                || name == "unclassified"
            {
                return Err(invalid(
                    label,
                    "a name is lower-case letters, digits and `_` (and `unclassified` is reserved)".into(),
                ));
            }
            if names.contains(&name) {
                return Err(invalid(label, "the name is used twice; segment and overlay names must be unique".into()));
            }
            names.push(name);
            for c in conditions {
                if !FIELDS.iter().any(|(f, _)| *f == c.field) {
                    let known: Vec<&str> = FIELDS.iter().map(|(f, _)| *f).collect();
                    return Err(invalid(
                        label,
                        format!(
                            "field `{}` is not a customer_behaviour field; use one of: {}",
                            c.field,
                            known.join(", ")
                        ),
                    ));
                }
                if !c.value.is_finite() {
                    return Err(invalid(label, format!("field `{}`: the value must be a finite number", c.field)));
                }
            }
        }
        for o in &file.overlay {
            if o.any.is_empty() {
                return Err(invalid(
                    format!("overlay \"{}\"", o.name),
                    "an overlay needs at least one condition in `any`".into(),
                ));
            }
        }
        let q = &file.queue;
        let queue_checks = [
            ("due_soon_days", q.due_soon_days >= 0),
            ("urgency_days", q.urgency_days > 0),
            ("prior_weight", q.prior_weight.is_finite() && q.prior_weight >= 0.0),
            ("broken_promise_boost", q.broken_promise_boost.is_finite() && q.broken_promise_boost >= 1.0),
            ("overlay_boost", q.overlay_boost.is_finite() && q.overlay_boost >= 1.0),
            ("payment_report_hold_days", q.payment_report_hold_days >= 0),
        ];
        if let Some((field, _)) = queue_checks.iter().find(|(_, ok)| !ok) {
            return Err(invalid(
                "[queue]".into(),
                format!("`{field}` is out of range: days are ≥ 0 (urgency_days > 0), prior_weight ≥ 0, boosts ≥ 1"),
            ));
        }
        Ok(SegmentRules { segments: file.segment, overlays: file.overlay, queue: file.queue, source: path.to_owned() })
    }

    /// Rules that classify nobody, saying why.
    fn broken(message: &str) -> SegmentRules {
        SegmentRules {
            segments: Vec::new(),
            overlays: Vec::new(),
            queue: QueueConfig {
                due_soon_days: 7,
                urgency_days: 30,
                prior_weight: 3.0,
                broken_promise_boost: 2.0,
                overlay_boost: 1.5,
                payment_report_hold_days: 10,
            },
            source: format!("broken: {message}"),
        }
    }

    /// `CASE … END` giving the base segment's name.
    pub fn segment_case(&self) -> String {
        let mut sql = String::from("CASE");
        for s in &self.segments {
            let _ = write!(sql, " WHEN {} THEN '{}'", all_of(&s.all), s.name);
        }
        sql.push_str(" ELSE 'unclassified' END");
        sql
    }

    /// `CASE … END` explaining the base segment: its name, then each condition with the customer's value.
    pub fn segment_reason_case(&self) -> String {
        let mut sql = String::from("CASE");
        for s in &self.segments {
            let explained = if s.all.is_empty() {
                "'no other segment matched'".to_owned()
            } else {
                let parts: Vec<String> = s.all.iter().map(explain).collect();
                parts.join(", ', ', ")
            };
            let _ = write!(sql, " WHEN {} THEN concat('{}: ', {explained})", all_of(&s.all), s.name);
        }
        let why = if self.source.starts_with("broken") {
            self.source.replace('\'', "''")
        } else {
            "no segment rule matched".to_owned()
        };
        let _ = write!(sql, " ELSE 'unclassified: {why}' END");
        sql
    }

    /// A comma-separated list of the overlays raised ('' when none).
    pub fn overlays_expr(&self) -> String {
        if self.overlays.is_empty() {
            return "''".to_owned();
        }
        let parts: Vec<String> =
            self.overlays.iter().map(|o| format!("CASE WHEN {} THEN '{}' END", any_of(&o.any), o.name)).collect();
        format!("concat_ws(',', {})", parts.join(", "))
    }

    /// The explanation of the raised overlays: each with the conditions that hold ('' when none).
    pub fn overlay_reasons_expr(&self) -> String {
        if self.overlays.is_empty() {
            return "''".to_owned();
        }
        let parts: Vec<String> = self
            .overlays
            .iter()
            .map(|o| {
                let held: Vec<String> =
                    o.any.iter().map(|c| format!("CASE WHEN {} THEN {} END", condition(c), explain(c))).collect();
                format!(
                    "CASE WHEN {} THEN concat('{}: ', concat_ws(', ', {})) END",
                    any_of(&o.any),
                    o.name,
                    held.join(", ")
                )
            })
            .collect();
        format!("concat_ws('; ', {})", parts.join(", "))
    }
}

fn condition(c: &Condition) -> String {
    format!("({} {} {})", c.field, c.op.sql(), literal(c.value))
}

fn all_of(conditions: &[Condition]) -> String {
    if conditions.is_empty() {
        return "true".to_owned();
    }
    let parts: Vec<String> = conditions.iter().map(condition).collect();
    format!("({})", parts.join(" AND "))
}

fn any_of(conditions: &[Condition]) -> String {
    let parts: Vec<String> = conditions.iter().map(condition).collect();
    format!("({})", parts.join(" OR "))
}

/// `concat('field ', value, ' op limit')`, the value shown with the field's decimals.
fn explain(c: &Condition) -> String {
    let decimals = FIELDS.iter().find(|(f, _)| *f == c.field).map_or(4, |(_, d)| *d);
    let value = if decimals == 0 {
        format!("CAST(CAST({} AS BIGINT) AS VARCHAR)", c.field)
    } else {
        format!("CAST(round(CAST({} AS DOUBLE), {decimals}) AS VARCHAR)", c.field)
    };
    format!("concat('{} ', COALESCE({value}, 'null'), ' {} {}')", c.field, c.op.sql(), literal(c.value))
}

/// A number as SQL: whole numbers without a fraction, others as Rust prints them (always finite here).
fn literal(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 { format!("{}", v as i64) } else { format!("{v}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_rules_load() {
        let rules = SegmentRules::parse(BUILTIN_TOML, "built-in");
        let names: Vec<String> = rules.iter().flat_map(|r| r.segments.iter().map(|s| s.name.clone())).collect();
        assert_eq!(names, ["new", "prompt", "occasional", "chronic"]);
        assert_eq!(SegmentRules::builtin().overlays[0].name, "critical");
    }

    #[test]
    fn bad_rules_are_refused_naming_the_rule_and_field() {
        let queue = "[queue]\ndue_soon_days = 7\nurgency_days = 30\nprior_weight = 3.0\nbroken_promise_boost = 2.0\n\
                     overlay_boost = 1.5\npayment_report_hold_days = 10\n";
        let cases: &[(&str, &str)] = &[
            (
                "[[segment]]\nname = \"slow\"\nall = [{ field = \"lateness\", op = \">\", value = 1 }]\n",
                "segment \"slow\": field `lateness` is not a customer_behaviour field",
            ),
            ("[[segment]]\nname = \"a\"\n[[segment]]\nname = \"a\"\n", "segment \"a\": the name is used twice"),
            ("[[segment]]\nname = \"Bad Name\"\n", "segment \"Bad Name\": a name is lower-case"),
            ("[[segment]]\nname = \"a\"\n[[overlay]]\nname = \"b\"\nany = []\n", "overlay \"b\": an overlay needs"),
            (
                "[[segment]]\nname = \"a\"\nall = [{ field = \"wadl\", op = \"=>\", value = 1 }]\n",
                "unknown variant `=>`",
            ),
            ("[[segment]]\nname = \"a\"\ncolour = \"red\"\n", "unknown field `colour`"),
            ("", "there are no segments"),
        ];
        for (body, expected) in cases {
            let err = SegmentRules::parse(&format!("{body}{queue}"), "rules.toml").err().map(|e| e.to_string());
            let err = err.unwrap_or_default();
            assert!(err.starts_with("segment rules rules.toml: "), "{err}");
            assert!(err.contains(expected), "expected `{expected}` in: {err}");
        }
        let bad_queue = queue.replace("urgency_days = 30", "urgency_days = 0");
        let err = SegmentRules::parse(&format!("[[segment]]\nname = \"a\"\n{bad_queue}"), "q.toml").err();
        assert!(err.map(|e| e.to_string()).unwrap_or_default().contains("[queue]: `urgency_days` is out of range"));
    }

    #[test]
    fn rules_compile_to_sql_with_their_own_explanations() {
        let rules = SegmentRules::builtin();
        assert!(rules.segment_case().starts_with("CASE WHEN ((settled_count < 3)) THEN 'new'"));
        assert!(rules.segment_reason_case().contains("' <= 0.1'"));
        assert!(rules.overlays_expr().contains("(exposure_ratio > 1)"));
    }
}
