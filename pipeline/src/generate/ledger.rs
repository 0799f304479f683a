//! The invoice loop: for each invoice, its credit or debit note, and the payments and allocations that settle
//! it, written as they are drawn. Nothing is kept per invoice, so memory does not grow with the ledger.

use super::GenerateError;
use super::calendar::{DateTable, weekday};
use super::customers::{AMOUNT_SIGMA, Customer, Method};
use super::sampling::{AliasTable, Stream};
use super::sink::CsvSink;

/// Share of invoices flagged disputed by the ERP.
pub(crate) const DISPUTE_RATE: f64 = 0.03;
/// Disputed invoices are paid late at least this often, with extra days for the dispute to be resolved.
const DISPUTED_P_LATE: f64 = 0.60;
/// Credit-note rate of undisputed and disputed invoices (about 2 % overall).
const CREDIT_NOTE_RATE: [f64; 2] = [0.015, 0.20];
/// Share of credit notes that credit the whole invoice.
const FULL_CREDIT_SHARE: f64 = 0.30;
/// Share of invoices followed by a debit note (a surcharge or price correction).
const DEBIT_NOTE_RATE: f64 = 0.005;
/// Share of paid documents settled in two payments.
const SPLIT_RATE: f64 = 0.10;
/// Share of allocations applied 1–3 days after the money arrived.
const LATE_APPLICATION_RATE: f64 = 0.05;
/// Share of final payments that overpay (the excess stays unapplied).
const OVERPAY_RATE: f64 = 0.005;
/// Share of settled documents followed by an on-account payment that is never applied.
const ON_ACCOUNT_RATE: f64 = 0.005;
/// Share of payments whose reference quotes the document number (the rest carry a bank reference).
const REFERENCE_QUOTES_DOCUMENT: f64 = 0.60;
/// Days after a defaulter's stop day from which most of its new orders are refused (credit hold).
const CREDIT_HOLD_AFTER: i32 = 60;
/// Chance that an order picked for a customer on credit hold is given to another customer instead.
const CREDIT_HOLD_REDRAW: f64 = 0.80;
/// Smallest and largest invoice, in cents.
const AMOUNT_RANGE_CENTS: (u64, u64) = (100, 200_000_000);
/// Digits of document and payment numbers (more are used past 9,999,999).
const ID_WIDTH: usize = 7;

/// What the loop has written so far.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Counts {
    pub(crate) invoices: u64,
    pub(crate) credit_notes: u64,
    pub(crate) debit_notes: u64,
    pub(crate) payments: u64,
    pub(crate) allocations: u64,
    pub(crate) unapplied_payments: u64,
}

/// A document number with its prefix.
#[derive(Clone, Copy)]
struct DocId {
    prefix: &'static [u8],
    number: u64,
}

impl DocId {
    fn write(self, out: &mut CsvSink<'_>) {
        out.padded(self.prefix, self.number, ID_WIDTH);
    }
}

/// A credit or debit note to write.
struct NoteRow {
    note: DocId,
    kind: &'static [u8],
    issue: i32,
    due: i32,
    amount: u64,
}

/// One document waiting for its payments.
struct Open {
    customer: u64,
    doc: DocId,
    issue: i32,
    due: i32,
    disputed: bool,
    /// Cents still to pay after any credit note.
    remaining: u64,
    /// No payment before this day (the credit note's day).
    not_before: i32,
}

/// Customers picked per block (see [`Picks`]).
const PICK_BLOCK: usize = 256;

/// The customer of each invoice, drawn from the alias table on a stream of its own, a block at a time.
///
/// With a million customers both the alias slot and the customer record of a pick are cache misses. Drawn
/// one by one inside the invoice loop, each miss stalls it; drawn in a tight loop, the misses overlap. The
/// picks are the same either way (they have their own stream), so the block size does not change the output.
pub(crate) struct Picks {
    stream: Stream,
    block: [u32; PICK_BLOCK],
    next: usize,
}

impl Picks {
    pub(crate) fn new(seed: u64) -> Self {
        Self { stream: Stream::new(seed, "picks"), block: [0; PICK_BLOCK], next: PICK_BLOCK }
    }

    #[inline]
    fn next(&mut self, alias: &AliasTable, customers: &[Customer]) -> usize {
        if self.next == PICK_BLOCK {
            for slot in &mut self.block {
                *slot = alias.sample(&mut self.stream) as u32;
            }
            // Load each picked record's cache line now, while the loads can still overlap.
            let touched = self.block.iter().fold(0i32, |acc, &c| acc ^ customers[c as usize].stop_day);
            std::hint::black_box(touched);
            self.next = 0;
        }
        self.next += 1;
        self.block[self.next - 1] as usize
    }
}

/// The three ledger files and the state that numbers their rows.
pub(crate) struct Ledger<'a, 'scope> {
    pub(crate) stream: Stream,
    pub(crate) picks: Picks,
    pub(crate) customers: &'a [Customer],
    pub(crate) alias: &'a AliasTable,
    pub(crate) dates: &'a DateTable,
    pub(crate) start_weekday: u32,
    /// The extract date as a day offset: nothing dated later is written.
    pub(crate) extract: i32,
    pub(crate) documents: CsvSink<'scope>,
    pub(crate) payments: CsvSink<'scope>,
    pub(crate) allocations: CsvSink<'scope>,
    pub(crate) counts: Counts,
}

impl Ledger<'_, '_> {
    /// Draws and writes one invoice issued on `issue`, and everything that follows from it.
    pub(crate) fn invoice(&mut self, issue: i32) -> Result<(), GenerateError> {
        let mut index = self.picks.next(self.alias, self.customers);
        for _ in 0..3 {
            let held = self.customers[index].stop_day.saturating_add(CREDIT_HOLD_AFTER) <= issue;
            if !(held && self.stream.chance(CREDIT_HOLD_REDRAW)) {
                break;
            }
            index = self.picks.next(self.alias, self.customers);
        }
        let s = &mut self.stream;
        let customer = &self.customers[index];
        let customer_no = index as u64 + 1;
        let amount = ((s.lognormal(f64::from(customer.amount_median), AMOUNT_SIGMA) * 100.0).round() as u64)
            .clamp(AMOUNT_RANGE_CENTS.0, AMOUNT_RANGE_CENTS.1);
        let due = issue + i32::from(customer.terms);
        let disputed = s.chance(DISPUTE_RATE);
        let po_number = s.int(0, 999_999) as u64;

        self.counts.invoices += 1;
        let invoice = DocId { prefix: b"INV", number: self.counts.invoices };
        let d = &mut self.documents;
        invoice.write(d);
        d.sep();
        d.padded(b"C", customer_no, 6);
        d.raw(b",invoice,");
        d.date(self.dates, issue);
        d.sep();
        d.date(self.dates, due);
        d.sep();
        d.raw(customer.currency.code());
        d.sep();
        d.cents(amount);
        d.sep();
        d.padded(b"PO-", po_number, 6);
        d.sep();
        d.boolean(disputed);
        d.end_row()?;

        let mut remaining = amount;
        let mut not_before = issue;
        let s = &mut self.stream;
        if s.chance(CREDIT_NOTE_RATE[usize::from(disputed)]) {
            // Undisputed: a correction a few days later. Disputed: the dispute's resolution, later.
            let day = issue + if disputed { s.int(7, 40) } else { s.int(1, 10) } as i32;
            let credit = if s.chance(FULL_CREDIT_SHARE) {
                amount
            } else {
                ((amount as f64 * s.uniform(0.05, 0.5)).round() as u64).clamp(1, amount)
            };
            if day <= self.extract {
                self.counts.credit_notes += 1;
                let note = DocId { prefix: b"CN", number: self.counts.credit_notes };
                let row = NoteRow { note, kind: b"credit_note", issue: day, due: day, amount: credit };
                self.note_row(&row, customer_no, customer, invoice)?;
                let a = &mut self.allocations;
                note.write(a);
                a.sep();
                invoice.write(a);
                a.sep();
                a.date(self.dates, day);
                a.sep();
                a.cents(credit);
                a.end_row()?;
                self.counts.allocations += 1;
                remaining -= credit;
                not_before = day;
            }
        }
        if remaining > 0 {
            let open = Open { customer: customer_no, doc: invoice, issue, due, disputed, remaining, not_before };
            self.settle(customer, &open)?;
        }

        let s = &mut self.stream;
        if s.chance(DEBIT_NOTE_RATE) {
            let day = issue + s.int(5, 30) as i32;
            let charge = ((amount as f64 * s.uniform(0.01, 0.10)).round() as u64).max(500);
            if day <= self.extract {
                self.counts.debit_notes += 1;
                let note = DocId { prefix: b"DN", number: self.counts.debit_notes };
                let due = day + i32::from(customer.terms);
                let row = NoteRow { note, kind: b"debit_note", issue: day, due, amount: charge };
                self.note_row(&row, customer_no, customer, invoice)?;
                let open = Open {
                    customer: customer_no,
                    doc: note,
                    issue: day,
                    due,
                    disputed: false,
                    remaining: charge,
                    not_before: day,
                };
                self.settle(customer, &open)?;
            }
        }
        Ok(())
    }

    /// Writes a credit or debit note row; its reference is the invoice it corrects.
    fn note_row(
        &mut self,
        row: &NoteRow,
        customer_no: u64,
        customer: &Customer,
        invoice: DocId,
    ) -> Result<(), GenerateError> {
        let d = &mut self.documents;
        row.note.write(d);
        d.sep();
        d.padded(b"C", customer_no, 6);
        d.sep();
        d.raw(row.kind);
        d.sep();
        d.date(self.dates, row.issue);
        d.sep();
        d.date(self.dates, row.due);
        d.sep();
        d.raw(customer.currency.code());
        d.sep();
        d.cents(row.amount);
        d.sep();
        invoice.write(d);
        d.raw(b",false");
        d.end_row()
    }

    /// Draws when (and whether) the customer pays `open`, and writes the payments dated up to the extract.
    fn settle(&mut self, customer: &Customer, open: &Open) -> Result<(), GenerateError> {
        let s = &mut self.stream;
        let p_late =
            if open.disputed { f64::from(customer.p_late).max(DISPUTED_P_LATE) } else { f64::from(customer.p_late) };
        let late = s.chance(p_late);
        let offset = if late {
            let days =
                s.lognormal(f64::from(customer.late_median), f64::from(customer.late_sigma)).round().clamp(1.0, 365.0)
                    as i32;
            days + if open.disputed { s.int(15, 60) as i32 } else { 0 }
        } else if customer.method == Method::DirectDebit {
            0
        } else {
            let max_early = f64::from(customer.terms) - 1.0;
            -(s.exponential(f64::from(customer.early_mean)).round().clamp(0.0, max_early) as i32)
        };
        let settled = (open.due + offset).max(open.not_before).max(open.issue);
        if settled >= customer.stop_day {
            // A defaulter pays nothing from its stop day on; the document stays open.
            return Ok(());
        }
        let settled = self.business_day(settled, settled > open.due, open.issue);
        let split = open.remaining >= 2 && settled - open.issue >= 2 && self.stream.chance(SPLIT_RATE);
        if split {
            let s = &mut self.stream;
            let gap = (settled - open.issue).min(30);
            let first_day = settled - s.int(1, i64::from(gap)) as i32;
            let first_day = self.business_day(first_day, false, open.issue);
            let first =
                ((open.remaining as f64 * self.stream.uniform(0.3, 0.7)).round() as u64).clamp(1, open.remaining - 1);
            self.payment(customer, open, first_day, first, false)?;
            self.payment(customer, open, settled, open.remaining - first, true)
        } else {
            self.payment(customer, open, settled, open.remaining, true)
        }
    }

    /// Moves a weekend day to a business day: back to Friday for on-time payments (so they stay on time),
    /// forward to Monday for late ones, and never before `issue`.
    fn business_day(&self, day: i32, forward: bool, issue: i32) -> i32 {
        let wd = weekday(self.start_weekday, day) as i32;
        if wd < 5 {
            return day;
        }
        let back = day - (wd - 4);
        if forward || back < issue { day + (7 - wd) } else { back }
    }

    /// Writes one payment received on `received` and its allocation to `open`, if dated up to the extract.
    fn payment(
        &mut self,
        customer: &Customer,
        open: &Open,
        received: i32,
        amount: u64,
        last: bool,
    ) -> Result<(), GenerateError> {
        if received > self.extract {
            return Ok(());
        }
        let s = &mut self.stream;
        let overpaid = if last && s.chance(OVERPAY_RATE) {
            ((amount as f64 * s.uniform(0.001, 0.05)).round() as u64).max(1)
        } else {
            0
        };
        let quotes_document = s.chance(REFERENCE_QUOTES_DOCUMENT);
        let bank_reference = s.int(0, 999_999_999) as u64;
        let mut applied = received;
        if s.chance(LATE_APPLICATION_RATE) {
            applied += s.int(1, 3) as i32;
            if received <= open.due {
                // Cash that arrived on time is never booked as late.
                applied = applied.min(open.due);
            }
        }
        let on_account = last && s.chance(ON_ACCOUNT_RATE);
        let on_account_day = received + s.int(0, 10) as i32;
        let on_account_amount = 5_000 * s.int(1, 20) as u64;
        let on_account_reference = s.int(0, 999_999_999) as u64;

        let payment = self.payment_row(open.customer, customer, received, amount + overpaid, |p| {
            if quotes_document { open.doc.write(p) } else { p.padded(b"BNK", bank_reference, 9) }
        })?;
        if overpaid > 0 {
            self.counts.unapplied_payments += 1;
        }
        if applied <= self.extract {
            let a = &mut self.allocations;
            a.padded(b"P", payment, ID_WIDTH);
            a.sep();
            open.doc.write(a);
            a.sep();
            a.date(self.dates, applied);
            a.sep();
            a.cents(amount);
            a.end_row()?;
            self.counts.allocations += 1;
        }
        if on_account {
            let day = self.business_day(on_account_day, true, received);
            if day <= self.extract {
                self.payment_row(open.customer, customer, day, on_account_amount, |p| {
                    p.padded(b"BNK", on_account_reference, 9)
                })?;
                self.counts.unapplied_payments += 1;
            }
        }
        Ok(())
    }

    /// Writes a payment row and returns its number.
    fn payment_row(
        &mut self,
        customer_no: u64,
        customer: &Customer,
        received: i32,
        amount: u64,
        reference: impl FnOnce(&mut CsvSink<'_>),
    ) -> Result<u64, GenerateError> {
        self.counts.payments += 1;
        let number = self.counts.payments;
        let p = &mut self.payments;
        p.padded(b"P", number, ID_WIDTH);
        p.sep();
        p.padded(b"C", customer_no, 6);
        p.sep();
        p.date(self.dates, received);
        p.sep();
        p.raw(customer.currency.code());
        p.sep();
        p.cents(amount);
        p.sep();
        p.raw(customer.method.name());
        p.sep();
        reference(p);
        p.end_row()?;
        Ok(number)
    }
}
