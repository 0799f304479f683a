//! The invoice collection status (seed 003, DESIGN §2.2) and the only place that decides which change is
//! allowed. Paid and credited are not statuses: they come from the ledger snapshot, and a document whose balance
//! is 0 accepts no outcome at all.

use std::fmt;

use serde::Serialize;

/// Where an open document stands in collection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Chase it: reminders and calls apply.
    Normal,
    /// The customer promised to pay by a date; not chased until the promise is kept or broken.
    Promise,
    /// The customer says it has paid; not chased while the payment is being credited.
    PaymentReported,
    /// The customer disputes it; routed to a department, not chased until resolved.
    Dispute,
}

impl Status {
    /// Every status.
    pub const ALL: [Status; 4] = [Status::Normal, Status::Promise, Status::PaymentReported, Status::Dispute];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Normal => "normal",
            Status::Promise => "promise",
            Status::PaymentReported => "payment_reported",
            Status::Dispute => "dispute",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Everything that can change a document's status: the five contact outcomes of seed 003, and what follows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    /// Outcome 1: the customer promises to pay by a date.
    PromiseToPay,
    /// Outcome 2: the customer acknowledges the debt but commits to nothing.
    NoCommitment,
    /// Outcome 3: the customer says it has already paid.
    ReportedPaid,
    /// Outcome 4: the customer disputes the document.
    Dispute,
    /// Outcome 5: nobody could be reached.
    NoContact,
    /// The promised amount was not applied by the promised date + grace (the daily tick).
    PromiseBroken,
    /// The promised amount was applied in time (the daily tick).
    PromiseKept,
    /// A collector withdraws a promise recorded by mistake or renegotiated.
    PromiseCancelled,
    /// The reported payment has not arrived: back to collection (after the reported-not-credited alarm).
    ReportReopened,
    /// The reported payment was credited in the ledger (the daily tick).
    ReportCredited,
    /// The department resolved the dispute (credit note, corrected invoice, rejected).
    DisputeResolved,
}

impl Transition {
    /// Every transition.
    pub const ALL: [Transition; 11] = [
        Transition::PromiseToPay,
        Transition::NoCommitment,
        Transition::ReportedPaid,
        Transition::Dispute,
        Transition::NoContact,
        Transition::PromiseBroken,
        Transition::PromiseKept,
        Transition::PromiseCancelled,
        Transition::ReportReopened,
        Transition::ReportCredited,
        Transition::DisputeResolved,
    ];

    /// The event kind it writes.
    pub fn as_str(self) -> &'static str {
        match self {
            Transition::PromiseToPay => "promise_to_pay",
            Transition::NoCommitment => "no_commitment",
            Transition::ReportedPaid => "reported_paid",
            Transition::Dispute => "dispute",
            Transition::NoContact => "no_contact",
            Transition::PromiseBroken => "promise_broken",
            Transition::PromiseKept => "promise_kept",
            Transition::PromiseCancelled => "promise_cancelled",
            Transition::ReportReopened => "report_reopened",
            Transition::ReportCredited => "report_credited",
            Transition::DisputeResolved => "dispute_resolved",
        }
    }
}

impl fmt::Display for Transition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// A change the state machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{transition} is not allowed on a document in status `{from}`: {hint}")]
pub struct IllegalTransition {
    /// Status the document is in.
    pub from: Status,
    /// What was asked.
    pub transition: Transition,
    /// Why not, and what to do instead.
    pub hint: &'static str,
}

/// The status after `t`, or why `t` is not allowed from `from`.
pub fn next(from: Status, t: Transition) -> Result<Status, IllegalTransition> {
    use Status as S;
    use Transition as T;
    let deny = |hint| Err(IllegalTransition { from, transition: t, hint });
    match (from, t) {
        (S::Normal, T::PromiseToPay) => Ok(S::Promise),
        (S::Normal, T::NoCommitment | T::NoContact) => Ok(S::Normal),
        (S::Normal | S::Promise, T::ReportedPaid) => Ok(S::PaymentReported),
        (S::Normal | S::Promise | S::PaymentReported, T::Dispute) => Ok(S::Dispute),
        (S::Promise, T::PromiseBroken | T::PromiseKept | T::PromiseCancelled) => Ok(S::Normal),
        (S::PaymentReported, T::ReportReopened | T::ReportCredited) => Ok(S::Normal),
        (S::Dispute, T::DisputeResolved) => Ok(S::Normal),

        (S::Promise, T::PromiseToPay) => {
            deny("it already has a pending promise; cancel it first (`cobro case cancel-promise`) to record a new one")
        }
        (S::Promise, T::NoCommitment | T::NoContact) => {
            deny("it is under a pending promise and is not chased until the promise is kept or broken")
        }
        (S::PaymentReported, T::PromiseToPay | T::NoCommitment | T::NoContact) => deny(
            "the customer reported it paid; wait for the payment, or reopen the report (`cobro case reopen-report`) if it never arrives",
        ),
        (S::PaymentReported, T::ReportedPaid) => deny("a payment report is already open for it"),
        (S::Dispute, T::PromiseToPay | T::NoCommitment | T::NoContact | T::ReportedPaid) => deny(
            "it is in dispute; the department must resolve the dispute (`cobro case resolve`) before it is chased again",
        ),
        (S::Dispute, T::Dispute) => deny("it is already in dispute; one dispute at a time per document"),
        (_, T::PromiseBroken | T::PromiseKept | T::PromiseCancelled) => deny("it has no pending promise"),
        (_, T::ReportReopened | T::ReportCredited) => deny("it has no open payment report"),
        (_, T::DisputeResolved) => deny("it has no open dispute"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every status × every transition, legal and illegal, as one table: `→ status` where allowed, `✗` where not.
    #[test]
    fn every_transition_from_every_status() {
        let mut table = String::new();
        for from in Status::ALL {
            for t in Transition::ALL {
                let cell = match next(from, t) {
                    Ok(to) => format!("→ {to}"),
                    Err(e) => {
                        assert_eq!((e.from, e.transition), (from, t));
                        assert!(!e.hint.is_empty());
                        "✗".to_owned()
                    }
                };
                table.push_str(&format!("{from:<16} {t:<17} {cell}\n"));
            }
        }
        insta::assert_snapshot!(table, @r"
        normal           promise_to_pay    → promise
        normal           no_commitment     → normal
        normal           reported_paid     → payment_reported
        normal           dispute           → dispute
        normal           no_contact        → normal
        normal           promise_broken    ✗
        normal           promise_kept      ✗
        normal           promise_cancelled ✗
        normal           report_reopened   ✗
        normal           report_credited   ✗
        normal           dispute_resolved  ✗
        promise          promise_to_pay    ✗
        promise          no_commitment     ✗
        promise          reported_paid     → payment_reported
        promise          dispute           → dispute
        promise          no_contact        ✗
        promise          promise_broken    → normal
        promise          promise_kept      → normal
        promise          promise_cancelled → normal
        promise          report_reopened   ✗
        promise          report_credited   ✗
        promise          dispute_resolved  ✗
        payment_reported promise_to_pay    ✗
        payment_reported no_commitment     ✗
        payment_reported reported_paid     ✗
        payment_reported dispute           → dispute
        payment_reported no_contact        ✗
        payment_reported promise_broken    ✗
        payment_reported promise_kept      ✗
        payment_reported promise_cancelled ✗
        payment_reported report_reopened   → normal
        payment_reported report_credited   → normal
        payment_reported dispute_resolved  ✗
        dispute          promise_to_pay    ✗
        dispute          no_commitment     ✗
        dispute          reported_paid     ✗
        dispute          dispute           ✗
        dispute          no_contact        ✗
        dispute          promise_broken    ✗
        dispute          promise_kept      ✗
        dispute          promise_cancelled ✗
        dispute          report_reopened   ✗
        dispute          report_credited   ✗
        dispute          dispute_resolved  → normal
        ");
    }

    #[test]
    fn an_illegal_transition_says_why_and_what_to_do() {
        let e = next(Status::Dispute, Transition::PromiseToPay).unwrap_err();
        assert_eq!(
            e.to_string(),
            "promise_to_pay is not allowed on a document in status `dispute`: it is in dispute; the department must \
             resolve the dispute (`cobro case resolve`) before it is chased again"
        );
    }
}
