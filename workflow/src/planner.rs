//! The dunning planner (DESIGN §6): a pure function of the ledger rows, the case statuses, the strategies, what
//! was already sent and the run's instant. It returns every action to take and every item it did not act on,
//! with the reason. It does no IO and reads no clock, so the same inputs always give the same plan.
//!
//! - Each (document, step, anchor date) fires at most once: its *step key* is recorded when the executor sends,
//!   and a key already in `sent_keys` never fires again. A moved due date is a new anchor, so a new key.
//! - Catch-up (`catch_up = "latest"`): of the steps due and not yet fired, only the latest fires; the earlier ones
//!   are returned as `superseded` so the executor records them and they never fire late.
//! - A blocked document (paid, credited, promised, reported paid, disputed, paused, stale feed) consumes no key:
//!   when it is unblocked the strategy resumes where the calendar is.
//! - One message per customer × recipient × template × currency, listing every document at that step, with the
//!   total; its idempotency key is derived from the step keys it carries.
//! - Customer messages go out in the customer's send window, on business days, in the customer's time zone
//!   (DST-safe), at most `max_customer_messages_per_day` per local day; the rest wait for the next run.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use cobro_domain::BusinessCalendar;
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::ledger::LedgerDocument;
use crate::status::Status;
use crate::strategy::{ActionKind, Anchor, CatchUp, CustomerProfile, Recipient, Step, Strategy, StrategySet};

/// A customer as the planner sees it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PlanCustomer {
    /// Id.
    pub customer_id: String,
    /// Email address.
    pub email: Option<String>,
    /// IANA time zone (the company's when empty or unknown).
    pub timezone: Option<String>,
    /// No automatic customer messages.
    pub vip: bool,
    /// Dunning paused by a person.
    pub paused: bool,
    /// Its email address bounced: no customer emails until the ERP has another one.
    pub email_bounced: bool,
    /// Account group.
    pub account_group: Option<String>,
    /// Effective segment.
    pub segment: Option<String>,
    /// Payment terms.
    pub payment_terms_days: Option<i64>,
    /// Open balance in the reporting currency.
    pub open_balance_rc: Decimal,
    /// Collector.
    pub collector_id: Option<String>,
    /// Sales rep.
    pub sales_rep_id: Option<String>,
}

/// The payment feed's state, from the snapshot manifest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feed {
    /// Latest payment received on or before the snapshot date.
    pub latest_payment_date: Option<NaiveDate>,
    /// Whether the snapshot's control totals tie out.
    pub control_totals_ok: bool,
}

/// Everything the planner reads.
#[derive(Debug, Clone)]
pub struct PlanInputs<'a> {
    /// The run's instant.
    pub now: DateTime<Utc>,
    /// The company's time zone (for customers without one).
    pub company_tz: Tz,
    /// The company calendar.
    pub calendar: &'a BusinessCalendar,
    /// Open receivables, and recently settled ones (so their skips are shown).
    pub documents: &'a [LedgerDocument],
    /// Customers by id.
    pub customers: &'a BTreeMap<String, PlanCustomer>,
    /// Live collection statuses (documents absent are `normal`).
    pub statuses: &'a BTreeMap<String, Status>,
    /// Step keys already fired or superseded.
    pub sent_keys: &'a BTreeSet<String>,
    /// Customer messages already sent per customer on its local date.
    pub sent_per_day: &'a BTreeMap<(String, NaiveDate), u32>,
    /// Unapplied cash and credits per (customer, currency).
    pub unapplied: &'a BTreeMap<(String, String), Decimal>,
    /// The payment feed.
    pub feed: Feed,
    /// Who the AR manager is.
    pub ar_manager: &'a str,
}

/// Why something was not acted on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Balance 0, by payments.
    Paid,
    /// Balance 0, by credit notes.
    Credited,
    /// Under a pending promise.
    Promise,
    /// The customer reported it paid.
    PaymentReported,
    /// In dispute.
    Dispute,
    /// VIP: no automatic customer messages.
    Vip,
    /// Dunning paused for the customer.
    Paused,
    /// Below the action's minimum balance.
    BelowThreshold,
    /// The customer's email address bounced; a collector has a task to correct it.
    BouncedAddress,
    /// The customer's unapplied cash or credits cover the overdue amount: ask to apply them, don't chase.
    UnappliedCashCovers,
    /// The payment feed is too old or the control totals do not tie out.
    StaleFeed,
    /// The customer's daily message cap is reached; it waits for the next run.
    RateCap,
    /// This step already fired for this document and anchor date.
    AlreadySent,
    /// An earlier step that a missed run did not send; the later step fired instead.
    Superseded,
    /// No strategy matches the customer (or the customer is unknown).
    NoStrategy,
}

/// An item not acted on.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Skip {
    /// Document.
    pub document_id: String,
    /// Customer.
    pub customer_id: String,
    /// Step, when one was due.
    pub step: Option<String>,
    /// Why.
    pub reason: SkipReason,
    /// The keys the executor records for `superseded` (so they never fire late); empty otherwise.
    pub step_keys: Vec<String>,
}

/// An action to take.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PlannedAction {
    /// When to send (UTC).
    pub send_at: DateTime<Utc>,
    /// The recipient customer's local date of `send_at` (what the daily cap counts against).
    pub send_date: NaiveDate,
    /// Unique key of the message or task.
    pub idempotency_key: String,
    /// Customer.
    pub customer_id: String,
    /// Strategy.
    pub strategy: String,
    /// Step.
    pub step: String,
    /// Email, alert or task.
    pub kind: ActionKind,
    /// For whom.
    pub to: Recipient,
    /// Address or person: the customer's email, the collector, the sales rep, the AR manager.
    pub recipient: Option<String>,
    /// Template.
    pub template: String,
    /// Task kind (tasks).
    pub task: Option<String>,
    /// Currency of the documents.
    pub currency: String,
    /// Documents listed, in due-date order.
    pub documents: Vec<String>,
    /// Σ open balance of the documents.
    pub total: Decimal,
    /// The step keys it fires.
    pub step_keys: Vec<String>,
}

/// The plan.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// Actions, by send time and key.
    pub actions: Vec<PlannedAction>,
    /// Items not acted on, by document.
    pub skipped: Vec<Skip>,
}

/// The key of one action of one (document, step, anchor date): `DOC|STEP|ANCHOR|RECIPIENT:TEMPLATE`. Keyed per
/// action, so that a customer message held back by the daily cap still goes out on the next run although the
/// step's internal task went out today.
pub fn step_key(doc: &LedgerDocument, step: &Step, action: &crate::strategy::Action) -> String {
    let anchor = match step.anchor {
        Anchor::Issue => doc.issue_date,
        Anchor::Due => doc.due_date,
    };
    format!("{}|{}|{anchor}|{:?}:{}", doc.document_id, step.name, action.to, action.template)
}

/// The keys of a step's actions not fired yet.
fn unsent_keys(inputs: &PlanInputs<'_>, doc: &LedgerDocument, step: &Step) -> Vec<String> {
    step.actions.iter().map(|a| step_key(doc, step, a)).filter(|k| !inputs.sent_keys.contains(k)).collect()
}

/// Local date-time to UTC, DST-safe: an ambiguous time (clocks back) takes the earlier instant; a time that does
/// not exist (clocks forward) moves to the first instant after the gap.
fn to_utc(tz: Tz, local: NaiveDateTime) -> DateTime<Utc> {
    let mut t = local;
    for _ in 0..4 {
        if let Some(x) = tz.from_local_datetime(&t).earliest() {
            return x.with_timezone(&Utc);
        }
        t += chrono::Duration::minutes(30);
    }
    Utc.from_utc_datetime(&local)
}

/// When a customer message may go out: now if inside the window on a business day, else the next window start.
fn send_time(now: DateTime<Utc>, tz: Tz, s: &Strategy, cal: &BusinessCalendar) -> (DateTime<Utc>, NaiveDate) {
    let local = now.with_timezone(&tz).naive_local();
    let w = s.settings.send_window;
    let open_day = |d: NaiveDate| !s.settings.business_days_only || cal.is_business_day(d);
    let today = local.date();
    if open_day(today) && local.time() >= w.start && local.time() < w.end {
        return (now, today);
    }
    let mut day = if open_day(today) && local.time() < w.start { today } else { today + Days::new(1) };
    while !open_day(day) {
        day = day + Days::new(1);
    }
    (to_utc(tz, day.and_time(w.start)), day)
}

/// Plans one run.
pub fn plan(inputs: &PlanInputs<'_>, strategies: &StrategySet) -> Plan {
    let mut out = Plan::default();
    // Totals that do not tie out stop everything; the feed's age is checked against each strategy's limit below.
    let stale = !inputs.feed.control_totals_ok;
    // Per customer × currency: overdue balance (for the unapplied-cash rule) and open balance (for thresholds).
    let mut overdue: BTreeMap<(&str, &str), Decimal> = BTreeMap::new();
    let mut open: BTreeMap<(&str, &str), Decimal> = BTreeMap::new();
    for d in inputs.documents.iter().filter(|d| d.balance > Decimal::ZERO) {
        let key = (d.customer_id.as_str(), d.currency.as_str());
        *open.entry(key).or_default() += d.balance;
        let tz = tz_of(inputs, &d.customer_id);
        if d.due_date < inputs.now.with_timezone(&tz).date_naive() {
            *overdue.entry(key).or_default() += d.balance;
        }
    }
    // (customer, to, template, currency, step, strategy, kind, task) → documents firing it.
    type Group = (String, Recipient, String, String, String, String, ActionKind, Option<String>);
    let mut groups: BTreeMap<Group, Vec<(&LedgerDocument, String)>> = BTreeMap::new();
    let mut docs: Vec<&LedgerDocument> = inputs.documents.iter().collect();
    docs.sort_by(|a, b| {
        (&a.customer_id, a.due_date, &a.document_id).cmp(&(&b.customer_id, b.due_date, &b.document_id))
    });
    for d in docs {
        let skip = |step: Option<&str>, reason, keys: Vec<String>| Skip {
            document_id: d.document_id.clone(),
            customer_id: d.customer_id.clone(),
            step: step.map(str::to_owned),
            reason,
            step_keys: keys,
        };
        let Some(c) = inputs.customers.get(&d.customer_id) else {
            out.skipped.push(skip(None, SkipReason::NoStrategy, Vec::new()));
            continue;
        };
        let profile = CustomerProfile {
            account_group: c.account_group.as_deref(),
            segment: c.segment.as_deref(),
            open_balance: c.open_balance_rc,
            payment_terms_days: c.payment_terms_days,
        };
        let Some(s) = strategies.select(&profile) else {
            out.skipped.push(skip(None, SkipReason::NoStrategy, Vec::new()));
            continue;
        };
        let tz = tz_of(inputs, &d.customer_id);
        let today = inputs.now.with_timezone(&tz).date_naive();
        let due: Vec<&Step> =
            s.steps.iter().filter(|st| st.date(d.issue_date, d.due_date).is_some_and(|x| x <= today)).collect();
        let Some(latest) = due.last() else { continue };
        // A step before one that already fired (in part) never fires: the ladder only moves forward, whatever
        // order another run records its keys in.
        let touched =
            due.iter().rposition(|st| st.actions.iter().any(|a| inputs.sent_keys.contains(&step_key(d, st, a))));
        let unsent: Vec<&Step> = due
            .iter()
            .enumerate()
            .filter(|(i, st)| touched.is_none_or(|t| *i >= t) && !unsent_keys(inputs, d, st).is_empty())
            .map(|(_, st)| *st)
            .collect();
        let Some(fire) = unsent.last().copied() else {
            out.skipped.push(skip(Some(&latest.name), SkipReason::AlreadySent, Vec::new()));
            continue;
        };
        // Why this document is not chased at all now (nothing is consumed).
        let feed_age = inputs.feed.latest_payment_date.map(|p| (today - p).num_days());
        let blocked = if d.balance <= Decimal::ZERO {
            Some(if d.settled_how() == "credited" { SkipReason::Credited } else { SkipReason::Paid })
        } else {
            match inputs.statuses.get(&d.document_id) {
                Some(Status::Promise) => Some(SkipReason::Promise),
                Some(Status::PaymentReported) => Some(SkipReason::PaymentReported),
                Some(Status::Dispute) => Some(SkipReason::Dispute),
                _ if c.paused => Some(SkipReason::Paused),
                _ if stale || feed_age.is_none_or(|a| a > s.settings.max_feed_age_days) => Some(SkipReason::StaleFeed),
                _ => None,
            }
        };
        if let Some(reason) = blocked {
            out.skipped.push(skip(Some(&fire.name), reason, Vec::new()));
            continue;
        }
        if s.settings.catch_up == CatchUp::Latest {
            for st in &unsent[..unsent.len() - 1] {
                out.skipped.push(skip(Some(&st.name), SkipReason::Superseded, unsent_keys(inputs, d, st)));
            }
        }
        let firing: Vec<&Step> = if s.settings.catch_up == CatchUp::Latest { vec![fire] } else { unsent.clone() };
        for st in firing {
            let pair = (d.customer_id.as_str(), d.currency.as_str());
            let covered = st.anchor == Anchor::Due
                && d.due_date < today
                && inputs
                    .unapplied
                    .get(&(d.customer_id.clone(), d.currency.clone()))
                    .is_some_and(|u| overdue.get(&pair).is_some_and(|o| *o > Decimal::ZERO && u >= o));
            if covered {
                out.skipped.push(skip(Some(&st.name), SkipReason::UnappliedCashCovers, Vec::new()));
                continue;
            }
            for a in &st.actions {
                let key = step_key(d, st, a);
                if inputs.sent_keys.contains(&key) {
                    continue;
                }
                if a.to == Recipient::Customer && c.vip {
                    out.skipped.push(skip(Some(&st.name), SkipReason::Vip, Vec::new()));
                    continue;
                }
                if a.to == Recipient::Customer && a.kind == ActionKind::Email && c.email_bounced {
                    out.skipped.push(skip(Some(&st.name), SkipReason::BouncedAddress, Vec::new()));
                    continue;
                }
                if a.min_balance.is_some_and(|m| open.get(&pair).copied().unwrap_or_default() < m) {
                    out.skipped.push(skip(Some(&st.name), SkipReason::BelowThreshold, Vec::new()));
                    continue;
                }
                let g = (
                    d.customer_id.clone(),
                    a.to,
                    a.template.clone(),
                    d.currency.clone(),
                    st.name.clone(),
                    s.name.clone(),
                    a.kind,
                    a.task.clone(),
                );
                groups.entry(g).or_default().push((d, key.clone()));
            }
        }
    }
    // Turn groups into actions; customer messages respect the send window and the daily cap.
    let mut planned_per_day: BTreeMap<(String, NaiveDate), u32> = BTreeMap::new();
    for ((customer_id, to, template, currency, step, strategy, kind, task), members) in groups {
        let Some(c) = inputs.customers.get(&customer_id) else { continue };
        let Some(s) = strategies.strategies.iter().find(|x| x.name == strategy) else { continue };
        let tz = tz_of(inputs, &customer_id);
        let (send_at, day) = if to == Recipient::Customer {
            send_time(inputs.now, tz, s, inputs.calendar)
        } else {
            (inputs.now, inputs.now.with_timezone(&tz).date_naive())
        };
        if to == Recipient::Customer {
            let sent = inputs.sent_per_day.get(&(customer_id.clone(), day)).copied().unwrap_or(0);
            let planned = planned_per_day.entry((customer_id.clone(), day)).or_insert(0);
            if sent + *planned >= s.settings.max_customer_messages_per_day {
                for (d, _) in &members {
                    out.skipped.push(Skip {
                        document_id: d.document_id.clone(),
                        customer_id: customer_id.clone(),
                        step: Some(step.clone()),
                        reason: SkipReason::RateCap,
                        step_keys: Vec::new(),
                    });
                }
                continue;
            }
            *planned += 1;
        }
        let mut step_keys: Vec<String> = members.iter().map(|(_, k)| k.clone()).collect();
        step_keys.sort();
        step_keys.dedup();
        let recipient = match to {
            Recipient::Customer => c.email.clone(),
            Recipient::Collector => c.collector_id.clone(),
            Recipient::SalesRep => c.sales_rep_id.clone(),
            Recipient::ArManager => Some(inputs.ar_manager.to_owned()),
        };
        let mut hasher = Sha256::new();
        hasher.update(format!("{customer_id}|{to:?}|{template}|{currency}|{}", step_keys.join(",")));
        let digest = hasher.finalize();
        let short: String = digest.iter().take(12).map(|b| format!("{b:02x}")).collect();
        out.actions.push(PlannedAction {
            send_at,
            send_date: day,
            idempotency_key: format!("{customer_id}:{step}:{template}:{currency}:{short}"),
            customer_id: customer_id.clone(),
            strategy,
            step,
            kind,
            to,
            recipient,
            template,
            task,
            currency,
            documents: members.iter().map(|(d, _)| d.document_id.clone()).collect(),
            total: members.iter().map(|(d, _)| d.balance).sum(),
            step_keys,
        });
    }
    out.actions.sort();
    out.skipped.sort();
    out.skipped.dedup();
    out
}

fn tz_of(inputs: &PlanInputs<'_>, customer_id: &str) -> Tz {
    inputs
        .customers
        .get(customer_id)
        .and_then(|c| c.timezone.as_deref())
        .and_then(|t| t.parse::<Tz>().ok())
        .unwrap_or(inputs.company_tz)
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use proptest::prelude::{ProptestConfig, prop_assert, prop_assert_eq, proptest};
    use proptest::strategy::Strategy as _;

    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn doc(id: &str, customer: &str, issue: &str, due: &str, balance: i64) -> LedgerDocument {
        LedgerDocument {
            document_id: id.into(),
            customer_id: customer.into(),
            kind: "invoice".into(),
            currency: "EUR".into(),
            amount: Decimal::from(balance.max(100)),
            balance: Decimal::from(balance),
            issue_date: d(issue),
            due_date: d(due),
            paid: Decimal::ZERO,
            credited: Decimal::ZERO,
        }
    }

    fn customer(id: &str) -> PlanCustomer {
        PlanCustomer {
            customer_id: id.into(),
            email: Some(format!("{id}@example.com")),
            timezone: Some("Europe/Madrid".into()),
            collector_id: Some("COL1".into()),
            sales_rep_id: Some("REP1".into()),
            open_balance_rc: Decimal::from(1000),
            ..PlanCustomer::default()
        }
    }

    #[derive(Debug)]
    struct World {
        now: DateTime<Utc>,
        documents: Vec<LedgerDocument>,
        customers: BTreeMap<String, PlanCustomer>,
        statuses: BTreeMap<String, Status>,
        sent_keys: BTreeSet<String>,
        sent_per_day: BTreeMap<(String, NaiveDate), u32>,
        unapplied: BTreeMap<(String, String), Decimal>,
        feed: Feed,
        calendar: BusinessCalendar,
    }

    impl World {
        fn new(now: &str) -> Self {
            Self {
                now: at(now),
                documents: Vec::new(),
                customers: BTreeMap::new(),
                statuses: BTreeMap::new(),
                sent_keys: BTreeSet::new(),
                sent_per_day: BTreeMap::new(),
                unapplied: BTreeMap::new(),
                feed: Feed { latest_payment_date: Some(at(now).date_naive()), control_totals_ok: true },
                calendar: BusinessCalendar::default(),
            }
        }

        fn with(mut self, c: PlanCustomer, docs: Vec<LedgerDocument>) -> Self {
            self.customers.insert(c.customer_id.clone(), c);
            self.documents.extend(docs);
            self
        }

        fn plan(&self) -> Plan {
            let inputs = PlanInputs {
                now: self.now,
                company_tz: chrono_tz::Europe::Madrid,
                calendar: &self.calendar,
                documents: &self.documents,
                customers: &self.customers,
                statuses: &self.statuses,
                sent_keys: &self.sent_keys,
                sent_per_day: &self.sent_per_day,
                unapplied: &self.unapplied,
                feed: self.feed,
                ar_manager: "ar-manager",
            };
            plan(&inputs, &StrategySet::builtin())
        }

        /// What the executor does after a run: records the fired and superseded keys and the messages sent.
        fn run(&mut self) {
            let p = self.plan();
            for a in &p.actions {
                self.sent_keys.extend(a.step_keys.iter().cloned());
                if a.to == Recipient::Customer {
                    let tz: Tz = "Europe/Madrid".parse().unwrap();
                    *self
                        .sent_per_day
                        .entry((a.customer_id.clone(), a.send_at.with_timezone(&tz).date_naive()))
                        .or_default() += 1;
                }
            }
            self.sent_keys.extend(p.skipped.iter().flat_map(|s| s.step_keys.iter().cloned()));
        }
    }

    /// A plan as a compact table: one line per action, then one per skip.
    fn table(p: &Plan) -> String {
        let mut t = String::new();
        for a in &p.actions {
            let _ = writeln!(
                t,
                "{} {:<5} {:<10} {:<22} {:<11} {} = {}",
                a.send_at.format("%m-%d %H:%M"),
                a.step,
                format!("{:?}", a.to).to_lowercase(),
                a.template,
                a.customer_id,
                a.documents.join(","),
                a.total
            );
        }
        for s in &p.skipped {
            let _ = writeln!(t, "skip {} {} {:?}", s.document_id, s.step.as_deref().unwrap_or("-"), s.reason);
        }
        t
    }

    #[test]
    fn paid_credited_promised_reported_and_disputed_invoices_are_never_chased() {
        // Tuesday 2024-12-10, 10:00 in Madrid. Every invoice fell due on 2024-12-03: D+7 is today.
        let mut w = World::new("2024-12-10T09:00:00Z").with(
            customer("C1"),
            vec![
                doc("OPEN", "C1", "2024-11-03", "2024-12-03", 100),
                doc("PART", "C1", "2024-11-03", "2024-12-03", 40),
                LedgerDocument { paid: Decimal::from(100), ..doc("PAID", "C1", "2024-11-03", "2024-12-03", 0) },
                LedgerDocument { credited: Decimal::from(100), ..doc("CRED", "C1", "2024-11-03", "2024-12-03", 0) },
                doc("PROM", "C1", "2024-11-03", "2024-12-03", 100),
                doc("REPD", "C1", "2024-11-03", "2024-12-03", 100),
                doc("DISP", "C1", "2024-11-03", "2024-12-03", 100),
            ],
        );
        w.statuses.insert("PROM".into(), Status::Promise);
        w.statuses.insert("REPD".into(), Status::PaymentReported);
        w.statuses.insert("DISP".into(), Status::Dispute);
        insta::assert_snapshot!(table(&w.plan()), @"
            12-10 09:00 d+7   salesrep   call_customer          C1          OPEN,PART = 140
            12-10 09:00 d+7   customer   reminder_terms         C1          OPEN,PART = 140
            skip CRED d+7 Credited
            skip DISP d+7 Dispute
            skip OPEN d+0 Superseded
            skip OPEN d+7 BelowThreshold
            skip OPEN d-3 Superseded
            skip OPEN issue Superseded
            skip PAID d+7 Paid
            skip PART d+0 Superseded
            skip PART d+7 BelowThreshold
            skip PART d-3 Superseded
            skip PART issue Superseded
            skip PROM d+7 Promise
            skip REPD d+7 PaymentReported
        ");
    }

    #[test]
    fn vip_customers_get_no_messages_but_the_team_still_gets_its_tasks() {
        let w = World::new("2024-12-10T09:00:00Z").with(
            PlanCustomer { vip: true, ..customer("VIP") },
            vec![doc("V1", "VIP", "2024-11-03", "2024-12-03", 9000)],
        );
        insta::assert_snapshot!(table(&w.plan()), @"
            12-10 09:00 d+7   salesrep   call_customer          VIP         V1 = 9000
            12-10 09:00 d+7   salesrep   sales_rep_alert        VIP         V1 = 9000
            skip V1 d+0 Superseded
            skip V1 d+7 Vip
            skip V1 d-3 Superseded
            skip V1 issue Superseded
        ");
    }

    #[test]
    fn a_paused_customer_is_not_chased_and_a_bounced_address_gets_no_email_while_the_team_still_acts() {
        let w = World::new("2024-12-10T09:00:00Z")
            .with(
                PlanCustomer { paused: true, ..customer("P") },
                vec![doc("P1", "P", "2024-11-03", "2024-12-03", 9000)],
            )
            .with(
                PlanCustomer { email_bounced: true, ..customer("B") },
                vec![doc("B1", "B", "2024-11-03", "2024-12-03", 9000)],
            );
        insta::assert_snapshot!(table(&w.plan()), @"
            12-10 09:00 d+7   salesrep   call_customer          B           B1 = 9000
            12-10 09:00 d+7   salesrep   sales_rep_alert        B           B1 = 9000
            skip B1 d+0 Superseded
            skip B1 d+7 BouncedAddress
            skip B1 d-3 Superseded
            skip B1 issue Superseded
            skip P1 d+7 Paused
        ");
    }

    #[test]
    fn a_missed_week_sends_one_catch_up_message_not_five() {
        // Nothing ran since before the invoice was issued; on D+14 only the D+14 step fires.
        let mut w = World::new("2024-12-17T09:00:00Z")
            .with(customer("C1"), vec![doc("INV", "C1", "2024-11-03", "2024-12-03", 100)]);
        insta::assert_snapshot!(table(&w.plan()), @"
            12-17 09:00 d+14  armanager  ar_handover            C1          INV = 100
            12-17 09:00 d+14  collector  handover_to_ar         C1          INV = 100
            12-17 09:00 d+14  customer   late_interest_notice   C1          INV = 100
            12-17 09:00 d+14  collector  review_account         C1          INV = 100
            skip INV d+0 Superseded
            skip INV d+7 Superseded
            skip INV d-3 Superseded
            skip INV issue Superseded
        ");
        w.run();
        assert!(w.plan().actions.is_empty(), "{}", table(&w.plan()));
    }

    #[test]
    fn a_due_date_that_moves_is_a_new_anchor() {
        let mut w = World::new("2024-12-10T09:00:00Z")
            .with(customer("C1"), vec![doc("INV", "C1", "2024-11-03", "2024-12-10", 100)]);
        w.run();
        // The ERP moves the due date a week later: D-3 of the new date is due again on 12-14 (a Saturday, so the
        // message waits for Monday's window).
        w.documents[0].due_date = d("2024-12-17");
        w.now = at("2024-12-14T10:00:00Z");
        w.feed.latest_payment_date = Some(d("2024-12-13"));
        insta::assert_snapshot!(table(&w.plan()), @"
            12-16 08:00 d-3   customer   upcoming_due           C1          INV = 100
        ");
    }

    #[test]
    fn a_customer_in_another_time_zone_across_a_dst_change_gets_its_own_window() {
        // New York moved to standard time on Sunday 2024-11-03. At 13:00 UTC on Monday 11-04 it is 08:00 there:
        // before the 09:00 window, so the message waits for 14:00 UTC (09:00 EST), not 13:00 (09:00 EDT).
        let w = World::new("2024-11-04T13:00:00Z").with(
            PlanCustomer { timezone: Some("America/New_York".into()), ..customer("NY") },
            vec![doc("INV", "NY", "2024-10-04", "2024-11-04", 100)],
        );
        insta::assert_snapshot!(table(&w.plan()), @"
            11-04 13:00 d+0   collector  invoice_due            NY          INV = 100
            11-04 14:00 d+0   customer   due_today              NY          INV = 100
            skip INV d-3 Superseded
            skip INV issue Superseded
        ");
    }

    #[test]
    fn the_daily_cap_holds_messages_for_the_next_run_and_a_stale_feed_stops_everything() {
        // Two invoices at different steps: two customer messages, but the cap is one a day.
        let mut w = World::new("2024-12-10T09:00:00Z").with(
            customer("C1"),
            vec![doc("A", "C1", "2024-11-10", "2024-12-10", 100), doc("B", "C1", "2024-11-03", "2024-12-03", 100)],
        );
        insta::assert_snapshot!(table(&w.plan()), @"
            12-10 09:00 d+0   customer   due_today              C1          A = 100
            12-10 09:00 d+0   collector  invoice_due            C1          A = 100
            12-10 09:00 d+7   salesrep   call_customer          C1          B = 100
            skip A d-3 Superseded
            skip A issue Superseded
            skip B d+0 Superseded
            skip B d+7 BelowThreshold
            skip B d+7 RateCap
            skip B d-3 Superseded
            skip B issue Superseded
        ");
        // The next day the held-back reminder goes out, while the call task sent today does not repeat.
        w.run();
        w.now = at("2024-12-11T09:00:00Z");
        w.feed.latest_payment_date = Some(d("2024-12-11"));
        insta::assert_snapshot!(table(&w.plan()), @"
            12-11 09:00 d+7   customer   reminder_terms         C1          B = 100
            skip A d+0 AlreadySent
            skip B d+7 BelowThreshold
        ");
        w.feed.latest_payment_date = Some(d("2024-12-01"));
        insta::assert_snapshot!(table(&w.plan()), @"
            skip A d+0 AlreadySent
            skip B d+7 StaleFeed
        ");
    }

    #[test]
    fn unapplied_cash_that_covers_the_overdue_amount_stops_the_reminders() {
        let mut w = World::new("2024-12-10T09:00:00Z")
            .with(customer("C1"), vec![doc("A", "C1", "2024-11-03", "2024-12-03", 100)]);
        w.unapplied.insert(("C1".into(), "EUR".into()), Decimal::from(100));
        insta::assert_snapshot!(table(&w.plan()), @"
            skip A d+0 Superseded
            skip A d+7 UnappliedCashCovers
            skip A d-3 Superseded
            skip A issue Superseded
        ");
    }

    fn arb_world() -> impl proptest::strategy::Strategy<Value = World> {
        let docs = proptest::collection::vec((0u8..3, 0i64..60, 0i64..3, 0u8..4), 1..8);
        (docs, 0i64..40).prop_map(|(docs, day)| {
            let now = at("2024-11-01T10:00:00Z") + chrono::Duration::days(day);
            let mut w = World::new(&now.to_rfc3339());
            for c in ["C0", "C1", "C2"] {
                w.customers.insert(c.into(), customer(c));
            }
            for (i, (c, due_in, bal, st)) in docs.into_iter().enumerate() {
                let due = d("2024-10-15") + Days::new(due_in.unsigned_abs());
                let mut x = doc(&format!("D{i}"), &format!("C{c}"), "2024-10-01", &due.to_string(), bal * 100);
                x.issue_date = due - Days::new(30);
                if st == 1 {
                    w.statuses.insert(x.document_id.clone(), Status::Promise);
                }
                w.documents.push(x);
            }
            w
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn no_two_actions_share_a_key_and_a_second_plan_after_a_run_sends_no_customer_message(mut w in arb_world()) {
            let p = w.plan();
            let keys: BTreeSet<&String> = p.actions.iter().map(|a| &a.idempotency_key).collect();
            prop_assert_eq!(keys.len(), p.actions.len());
            let mut step_keys = BTreeSet::new();
            for a in p.actions.iter().filter(|a| a.to == Recipient::Customer) {
                for k in &a.step_keys {
                    prop_assert!(step_keys.insert(k.clone()), "step key {} in two customer messages", k);
                }
            }
            w.run();
            let again = w.plan();
            prop_assert!(again.actions.iter().all(|a| a.to != Recipient::Customer || p.skipped.iter().any(|s| s.reason == SkipReason::RateCap)),
                "new customer messages after a run:\n{}", table(&again));
        }
    }
}
