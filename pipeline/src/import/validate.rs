//! Turning one raw input row into one valid canonical row, or into a reason it is refused. Field-level checks
//! (types, formats, currencies) come first, then the table's rules, then the checks against what came before
//! (duplicate ids, unknown customers, documents and sources, over-application).

use std::collections::hash_map::Entry;
use std::hash::{Hash, Hasher};

use cobro_domain::tables::{ColumnType, DOCUMENT_KINDS, RATE_PRECISION, RATE_SCALE, Table};
use cobro_domain::{Currency, Money, ids, money};
use rust_decimal::Decimal;

use crate::import::index::{CustomerEntry, DocumentEntry, Index, Origin, PaymentEntry, key, ns};
use crate::import::value::Value;
use crate::mapping::{CheckedMapping, Defaults};
use crate::parse;

/// Why a row is refused: the column at fault (if one is), the value, and the reason.
#[derive(Debug, Clone)]
pub struct Problem {
    /// Canonical column.
    pub column: Option<&'static str>,
    /// The value as read.
    pub value: Option<String>,
    /// What is wrong and what to do.
    pub reason: String,
}

impl Problem {
    fn at(column: &'static str, value: Option<&str>, reason: impl Into<String>) -> Self {
        Self { column: Some(column), value: value.map(str::to_owned), reason: reason.into() }
    }
}

/// What became of a valid row.
#[derive(Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A new row for the table.
    Accepted,
    /// An identical repeat of a derived row, merged into the first one.
    Merged,
}

/// Checks rows against the canonical tables and what was accepted before.
pub struct Validator {
    defaults: Defaults,
    default_currency: Option<Currency>,
    index: Index,
    files: Vec<String>,
}

fn money_scale_ok(d: Decimal, column: &'static str, text: &str) -> Result<i128, Problem> {
    let limit = Decimal::from(10_i64.pow(u32::from(cobro_domain::MONEY_PRECISION) - cobro_domain::MONEY_SCALE));
    if d.abs() >= limit {
        return Err(Problem::at(
            column,
            Some(text),
            format!("{text} is too large: money holds at most 14 digits before the decimal point"),
        ));
    }
    if d.normalize().scale() > cobro_domain::MONEY_SCALE {
        return Err(Problem::at(
            column,
            Some(text),
            format!("{text} has more than {} decimal places", cobro_domain::MONEY_SCALE),
        ));
    }
    Ok(money::to_stored(d))
}

impl Validator {
    /// A validator for one import.
    pub fn new(mapping: &CheckedMapping) -> Self {
        Self {
            defaults: mapping.raw.defaults.clone(),
            default_currency: mapping.default_currency,
            index: Index::default(),
            files: Vec::new(),
        }
    }

    /// Parses the next rows with `mapping`'s options (an appending import reads the staged rows with the
    /// canonical ones, then the new inputs with their own mapping's).
    pub fn set_parsing(&mut self, mapping: &CheckedMapping) {
        self.defaults.clone_from(&mapping.raw.defaults);
        self.default_currency = mapping.default_currency;
    }

    /// Makes room in the index for about `rows` more rows of `table`, so the hash tables grow once instead of
    /// doubling (and briefly holding both copies) again and again.
    pub fn reserve(&mut self, table: Table, rows: usize) {
        match table {
            Table::Customers => self.index.customers.reserve(rows),
            Table::Documents => self.index.documents.reserve(rows),
            Table::Payments => self.index.payments.reserve(rows),
            Table::Allocations | Table::FxRates => {}
        }
    }

    /// Registers an input file name and returns its number, for origins.
    pub fn add_file(&mut self, name: &str) -> u32 {
        self.files.push(name.to_owned());
        u32::try_from(self.files.len() - 1).unwrap_or(u32::MAX)
    }

    fn where_(&self, o: Origin) -> String {
        format!("{} line {}", self.files.get(o.file() as usize).map_or("?", String::as_str), o.line())
    }

    /// Parses the texts of one row (one per table column, `None` when empty) into typed values.
    pub fn parse_row(
        &self,
        table: Table,
        texts: &mut [Option<String>],
        date_formats: &[&str],
    ) -> Result<Vec<Value>, Problem> {
        let mut row = Vec::with_capacity(texts.len());
        for ((spec, text), fmt) in table.columns().iter().zip(texts.iter_mut()).zip(date_formats) {
            let name = spec.name;
            // The texts are moved into the values: no copy per field on the hot path.
            let text = match (text.take(), name) {
                (None, "currency") => self.default_currency.map(|c| c.code().to_owned()),
                (t, _) => t,
            };
            let Some(text) = text else {
                if spec.required {
                    return Err(Problem::at(name, None, format!("`{name}` is empty but required ({})", spec.doc)));
                }
                row.push(Value::Null);
                continue;
            };
            let t = text.as_str();
            let v = match spec.ty {
                ColumnType::Text if name.ends_with("_id") => {
                    let trimmed = match ids::parse_id(t) {
                        Ok(id) if id.len() == t.len() => None,
                        Ok(id) => Some(id.to_owned()),
                        Err(e) => return Err(Problem::at(name, Some(t), e.to_string())),
                    };
                    Value::Text(trimmed.unwrap_or(text))
                }
                ColumnType::Text if name == "currency" => Value::Text(
                    Currency::parse(t).map_err(|e| Problem::at(name, Some(t), e.to_string()))?.code().to_owned(),
                ),
                ColumnType::Text => Value::Text(text),
                ColumnType::Date => {
                    Value::Date(parse::date32(parse::parse_date(t, fmt).map_err(|e| Problem::at(name, Some(t), e))?))
                }
                ColumnType::Money => {
                    let d = parse::parse_decimal(t, self.defaults.decimal_separator, self.defaults.thousands_separator)
                        .map_err(|e| Problem::at(name, Some(t), e))?;
                    Value::Money(money_scale_ok(d, name, t)?)
                }
                ColumnType::Rate => {
                    let mut d =
                        parse::parse_decimal(t, self.defaults.decimal_separator, self.defaults.thousands_separator)
                            .map_err(|e| Problem::at(name, Some(t), e))?;
                    if d <= Decimal::ZERO {
                        return Err(Problem::at(name, Some(t), format!("the rate {t} must be greater than zero")));
                    }
                    if d.normalize().scale() > RATE_SCALE
                        || d >= Decimal::from(10_i64.pow(u32::from(RATE_PRECISION) - RATE_SCALE))
                    {
                        return Err(Problem::at(
                            name,
                            Some(t),
                            format!("the rate {t} needs more than {RATE_SCALE} decimals or 8 integer digits"),
                        ));
                    }
                    d.rescale(RATE_SCALE);
                    Value::Rate(d.mantissa())
                }
                ColumnType::Int => Value::Int(parse::parse_int(t).map_err(|e| Problem::at(name, Some(t), e))?),
                ColumnType::Bool => Value::Bool(
                    parse::parse_bool(t, &self.defaults.true_values, &self.defaults.false_values)
                        .map_err(|e| Problem::at(name, Some(t), e))?,
                ),
            };
            row.push(v);
        }
        Ok(row)
    }

    /// Applies the table's rules and the cross-row checks; on success the row is remembered.
    pub fn check(&mut self, table: Table, row: &mut [Value], origin: Origin) -> Result<Outcome, Problem> {
        match table {
            Table::Customers => self.check_customer(row, origin),
            Table::Documents => self.check_document(row, origin),
            Table::Payments => self.check_payment(row, origin),
            Table::Allocations => self.check_allocation(row, origin),
            Table::FxRates => self.check_fx(row, origin),
        }
    }

    fn currency_of(row: &[Value], i: usize) -> Result<Currency, Problem> {
        let text = row[i].text().unwrap_or_default();
        Currency::parse(text).map_err(|e| Problem::at("currency", Some(text), e.to_string()))
    }

    fn positive_money(row: &[Value], i: usize, column: &'static str, currency: Currency) -> Result<i64, Problem> {
        let stored = row[i].money().unwrap_or(0);
        let amount = money::from_stored(stored);
        // Fast path: positive, fits, and no digits below the currency's minor unit.
        let unit = 10_i128.pow(cobro_domain::MONEY_SCALE.saturating_sub(currency.minor_units()));
        if stored > 0
            && stored % unit == 0
            && let Ok(small) = i64::try_from(stored)
        {
            return Ok(small);
        }
        if stored <= 0 {
            return Err(Problem::at(
                column,
                Some(&amount.normalize().to_string()),
                format!(
                    "`{column}` must be greater than zero; record refunds and corrections as a credit note (kind credit_note), never as a negative amount"
                ),
            ));
        }
        Money::new(amount, currency)
            .map_err(|e| Problem::at(column, Some(&amount.normalize().to_string()), e.to_string()))?;
        i64::try_from(stored).map_err(|_| Problem::at(column, Some(&amount.to_string()), "the amount is too large"))
    }

    fn known_customer(&self, row: &[Value], i: usize) -> Result<(), Problem> {
        let id = row[i].text().unwrap_or_default();
        if self.index.customers.contains_key(&key(ns::CUSTOMER, id)) {
            Ok(())
        } else {
            Err(Problem::at(
                "customer_id",
                Some(id),
                format!(
                    "unknown customer `{id}`: it is not in the customers table; export the customer master too, or check the id (leading zeros count)"
                ),
            ))
        }
    }

    fn check_customer(&mut self, row: &mut [Value], origin: Origin) -> Result<Outcome, Problem> {
        // columns: customer_id, name, country, currency, account_group, payment_terms_days, credit_limit, ...
        if let Value::Int(days) = row[5]
            && !(0..=3650).contains(&days)
        {
            return Err(Problem::at(
                "payment_terms_days",
                Some(&days.to_string()),
                "payment terms must be between 0 and 3650 days",
            ));
        }
        if let Value::Money(limit) = row[6] {
            let currency = Self::currency_of(row, 3)?;
            let amount = money::from_stored(limit);
            if limit < 0 {
                return Err(Problem::at(
                    "credit_limit",
                    Some(&amount.to_string()),
                    "the credit limit cannot be negative",
                ));
            }
            Money::new(amount, currency)
                .map_err(|e| Problem::at("credit_limit", Some(&amount.to_string()), e.to_string()))?;
        }
        if let Value::Text(email) = &row[9]
            && !email.contains('@')
        {
            return Err(Problem::at("email", Some(email), "not an e-mail address (no @)"));
        }
        if let Value::Text(tz) = &row[12]
            && tz.parse::<chrono_tz::Tz>().is_err()
        {
            return Err(Problem::at(
                "timezone",
                Some(tz),
                "not an IANA time zone; use names such as Europe/Madrid or America/New_York",
            ));
        }
        let id = row[0].text().unwrap_or_default().to_owned();
        let mut h = std::collections::hash_map::DefaultHasher::new();
        row.hash(&mut h);
        let row_hash = h.finish();
        match self.index.customers.entry(key(ns::CUSTOMER, &id)) {
            Entry::Vacant(v) => {
                v.insert(CustomerEntry { origin, row_hash });
                Ok(Outcome::Accepted)
            }
            Entry::Occupied(o) => {
                let first = *o.get();
                if first.row_hash == row_hash {
                    Ok(Outcome::Merged)
                } else {
                    Err(Problem::at(
                        "customer_id",
                        Some(&id),
                        format!(
                            "duplicate customer_id `{id}` with different values (first seen at {}); keep one row per customer",
                            self.where_(first.origin)
                        ),
                    ))
                }
            }
        }
    }

    fn check_document(&mut self, row: &mut [Value], origin: Origin) -> Result<Outcome, Problem> {
        // columns: document_id, customer_id, kind, issue_date, due_date, currency, amount, reference, disputed
        self.known_customer(row, 1)?;
        let raw_kind = row[2].text().unwrap_or_default();
        if !DOCUMENT_KINDS.contains(&raw_kind) {
            let kind = raw_kind.trim().to_ascii_lowercase().replace([' ', '-'], "_");
            if !DOCUMENT_KINDS.contains(&kind.as_str()) {
                return Err(Problem::at(
                    "kind",
                    row[2].text(),
                    format!(
                        "unknown document kind; use one of {} (map the ERP's codes with `map = {{ ... }}` in the mapping)",
                        DOCUMENT_KINDS.join(", ")
                    ),
                ));
            }
            row[2] = Value::Text(kind);
        }
        let credit_note = row[2].text() == Some("credit_note");
        let (issue, due) = (row[3].date().unwrap_or_default(), row[4].date().unwrap_or_default());
        if due < issue {
            let show = |d: i32| parse::from_date32(d).map(|d| d.to_string()).unwrap_or_default();
            return Err(Problem::at(
                "due_date",
                Some(&show(due)),
                format!(
                    "the due date {} is before the issue date {}; check the date format (day/month swapped?) or the ERP record",
                    show(due),
                    show(issue)
                ),
            ));
        }
        let currency = Self::currency_of(row, 5)?;
        let amount = Self::positive_money(row, 6, "amount", currency)?;
        let id = row[0].text().unwrap_or_default().to_owned();
        match self.index.documents.entry(key(ns::DOCUMENT, &id)) {
            Entry::Occupied(o) => {
                let first = o.get().origin;
                Err(Problem::at(
                    "document_id",
                    Some(&id),
                    format!(
                        "duplicate document_id `{id}` (first seen at {}); document numbers must be unique",
                        self.where_(first)
                    ),
                ))
            }
            Entry::Vacant(v) => {
                v.insert(DocumentEntry { origin, amount, consumed: 0, currency, credit_note });
                Ok(Outcome::Accepted)
            }
        }
    }

    fn check_payment(&mut self, row: &mut [Value], origin: Origin) -> Result<Outcome, Problem> {
        // columns: payment_id, customer_id, received_date, currency, amount, method, reference
        self.known_customer(row, 1)?;
        let currency = Self::currency_of(row, 3)?;
        let amount = Self::positive_money(row, 4, "amount", currency)?;
        let id = row[0].text().unwrap_or_default().to_owned();
        if let Some(doc) = self.index.documents.get(&key(ns::DOCUMENT, &id))
            && doc.credit_note
        {
            return Err(Problem::at(
                "payment_id",
                Some(&id),
                format!(
                    "payment_id `{id}` is also the number of a credit note ({}); allocations could not tell them apart: give payments their own prefix",
                    self.where_(doc.origin)
                ),
            ));
        }
        match self.index.payments.entry(key(ns::PAYMENT, &id)) {
            Entry::Occupied(o) => {
                let first = o.get().origin;
                Err(Problem::at(
                    "payment_id",
                    Some(&id),
                    format!("duplicate payment_id `{id}` (first seen at {})", self.where_(first)),
                ))
            }
            Entry::Vacant(v) => {
                v.insert(PaymentEntry { origin, amount, used: 0, currency });
                Ok(Outcome::Accepted)
            }
        }
    }

    fn check_allocation(&mut self, row: &mut [Value], _origin: Origin) -> Result<Outcome, Problem> {
        // columns: source_id, document_id, applied_date, amount
        let source_id = row[0].text().unwrap_or_default();
        let document_id = row[1].text().unwrap_or_default();
        let doc_key = key(ns::DOCUMENT, document_id);
        let Some(doc) = self.index.documents.get(&doc_key).copied() else {
            return Err(Problem::at(
                "document_id",
                Some(document_id),
                format!(
                    "allocation to unknown document `{document_id}`: it is not in the documents table; export the document, or check the number"
                ),
            ));
        };
        if doc.credit_note {
            return Err(Problem::at(
                "document_id",
                Some(document_id),
                format!(
                    "`{document_id}` is a credit note; allocations apply payments and credit notes to invoices or debit notes, so put the credit note in source_id"
                ),
            ));
        }
        let pay_key = key(ns::PAYMENT, source_id);
        let src_doc_key = key(ns::DOCUMENT, source_id);
        let (src_amount, src_used, src_currency, src_is_payment) = if let Some(p) = self.index.payments.get(&pay_key) {
            (p.amount, p.used, p.currency, true)
        } else if let Some(cn) = self.index.documents.get(&src_doc_key) {
            if !cn.credit_note {
                return Err(Problem::at(
                    "source_id",
                    Some(source_id),
                    format!(
                        "source `{source_id}` is an invoice or debit note; a source must be a payment or a credit note"
                    ),
                ));
            }
            (cn.amount, cn.consumed, cn.currency, false)
        } else {
            return Err(Problem::at(
                "source_id",
                Some(source_id),
                format!("unknown source `{source_id}`: it is neither a payment nor a credit note in this import"),
            ));
        };
        if src_currency != doc.currency {
            return Err(Problem::at(
                "source_id",
                Some(source_id),
                format!(
                    "source `{source_id}` is in {src_currency} but document `{document_id}` is in {}; cross-currency application is not supported: convert in the ERP first",
                    doc.currency
                ),
            ));
        }
        let amount = Self::positive_money(row, 3, "amount", doc.currency)?;
        let show = |v: i64| {
            format!("{} {}", money::from_stored(i128::from(v)).round_dp(doc.currency.minor_units()), doc.currency)
        };
        if doc.consumed + amount > doc.amount {
            return Err(Problem::at(
                "amount",
                Some(&money::from_stored(i128::from(amount)).normalize().to_string()),
                format!(
                    "allocation over the document amount: `{document_id}` is {}, {} is already applied, so {} more would over-apply by {}",
                    show(doc.amount),
                    show(doc.consumed),
                    show(amount),
                    show(doc.consumed + amount - doc.amount)
                ),
            ));
        }
        if src_used + amount > src_amount {
            return Err(Problem::at(
                "amount",
                Some(&money::from_stored(i128::from(amount)).normalize().to_string()),
                format!(
                    "allocation over the source amount: `{source_id}` is {}, {} is already applied, so {} more would over-apply by {}",
                    show(src_amount),
                    show(src_used),
                    show(amount),
                    show(src_used + amount - src_amount)
                ),
            ));
        }
        if let Some(d) = self.index.documents.get_mut(&doc_key) {
            d.consumed += amount;
        }
        if src_is_payment {
            if let Some(p) = self.index.payments.get_mut(&pay_key) {
                p.used += amount;
            }
        } else if let Some(cn) = self.index.documents.get_mut(&src_doc_key) {
            cn.consumed += amount;
        }
        Ok(Outcome::Accepted)
    }

    fn check_fx(&mut self, row: &mut [Value], origin: Origin) -> Result<Outcome, Problem> {
        let date = row[0].date().unwrap_or_default();
        let currency = Self::currency_of(row, 1)?;
        match self.index.fx.entry((date, currency)) {
            Entry::Occupied(o) => {
                let first = *o.get();
                Err(Problem::at(
                    "date",
                    parse::from_date32(date).map(|d| d.to_string()).as_deref(),
                    format!(
                        "a second {currency} rate for the same date (first seen at {}); keep one rate per currency and date",
                        self.where_(first)
                    ),
                ))
            }
            Entry::Vacant(v) => {
                v.insert(origin);
                Ok(Outcome::Accepted)
            }
        }
    }
}
