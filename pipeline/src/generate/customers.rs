//! The customer master: who the customers are (customers.csv), how they pay (customers_truth.csv and the
//! in-memory [`Customer`] model), and how much they buy (the Pareto weights behind the alias table).
//!
//! Customers are drawn twice from the same stream: pass 1 keeps only the compact [`Customer`] model and the
//! weights; pass 2 replays the stream to write the rows, now that the total weight (needed for the credit
//! limit) is known. Memory stays at a few dozen bytes per customer.

use super::GenerateError;
use super::sampling::Stream;
use super::sink::CsvSink;

/// Pareto shape of customer size: the top 20 % of customers get about 80 % of the invoices.
pub(crate) const SIZE_ALPHA: f64 = 1.16;
/// Log-scale spread of one customer's invoice amounts around its own median.
pub(crate) const AMOUNT_SIGMA: f64 = 0.7;
/// Payment terms in days and their shares.
const TERMS: [(u16, f64); 4] = [(30, 0.50), (45, 0.25), (60, 0.15), (90, 0.10)];

/// The behaviour class a customer was generated with (customers_truth.csv).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// Pays by the due date; at most a few percent late, by a few days.
    Prompt,
    /// Pays 18–40 % of invoices late, by one to three weeks.
    Occasional,
    /// Pays 70–95 % of invoices late, by roughly 20–90 days.
    Chronic,
    /// Pays late, then stops paying altogether from a stop day on.
    Defaulter,
}

/// Class shares, in [`Class`] order.
pub(crate) const CLASS_SHARE: [f64; 4] = [0.55, 0.25, 0.15, 0.05];

impl Class {
    const ALL: [Class; 4] = [Class::Prompt, Class::Occasional, Class::Chronic, Class::Defaulter];

    /// The name written to customers_truth.csv.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Class::Prompt => "prompt",
            Class::Occasional => "occasional",
            Class::Chronic => "chronic",
            Class::Defaulter => "defaulter",
        }
    }
}

/// Invoice currencies; the reporting currency is EUR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Currency {
    Eur,
    Usd,
    Gbp,
}

impl Currency {
    pub(crate) fn code(self) -> &'static [u8] {
        match self {
            Currency::Eur => b"EUR",
            Currency::Usd => b"USD",
            Currency::Gbp => b"GBP",
        }
    }
}

/// How a customer pays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    BankTransfer,
    /// Collected by the seller on the due date: never early.
    DirectDebit,
    Card,
    Cheque,
}

impl Method {
    pub(crate) fn name(self) -> &'static [u8] {
        match self {
            Method::BankTransfer => b"bank_transfer",
            Method::DirectDebit => b"direct_debit",
            Method::Card => b"card",
            Method::Cheque => b"cheque",
        }
    }
}

/// What the invoice loop needs to know about a customer (kept in memory, one per customer).
#[derive(Debug, Clone)]
pub(crate) struct Customer {
    pub(crate) terms: u16,
    pub(crate) currency: Currency,
    pub(crate) method: Method,
    /// Probability that an undisputed document is paid after its due date.
    pub(crate) p_late: f32,
    /// Median days late when late (lognormal).
    pub(crate) late_median: f32,
    /// Log-scale spread of days late.
    pub(crate) late_sigma: f32,
    /// Mean days early when on time (exponential).
    pub(crate) early_mean: f32,
    /// Median invoice amount in the customer's currency (lognormal with [`AMOUNT_SIGMA`]).
    pub(crate) amount_median: f32,
    /// First day (offset from the start) on which a defaulter pays nothing more; `i32::MAX` otherwise.
    pub(crate) stop_day: i32,
}

struct Locale {
    country: &'static str,
    currency: Currency,
    language: &'static str,
    timezones: &'static [&'static str],
    phone_prefix: &'static str,
    /// Random digits after the prefix (fictional ranges where the country has one: US 555-01xx, UK 020 7946 0xxx).
    phone_digits: u32,
    legal_forms: &'static [&'static str],
    cities: &'static [&'static str],
    share: f64,
}

/// Countries, with currency 70 % EUR / 20 % USD / 10 % GBP.
const LOCALES: [Locale; 7] = [
    Locale {
        country: "ES",
        currency: Currency::Eur,
        language: "es",
        timezones: &["Europe/Madrid", "Europe/Madrid", "Europe/Madrid", "Atlantic/Canary"],
        phone_prefix: "+34 9",
        phone_digits: 8,
        legal_forms: &["S.L.", "S.A.", "S.L.U."],
        cities: &["Madrid", "Barcelona", "Valencia", "Sevilla", "Bilbao", "Zaragoza"],
        share: 0.58,
    },
    Locale {
        country: "PT",
        currency: Currency::Eur,
        language: "en",
        timezones: &["Europe/Lisbon"],
        phone_prefix: "+351 2",
        phone_digits: 8,
        legal_forms: &["Lda.", "S.A."],
        cities: &["Lisboa", "Porto"],
        share: 0.04,
    },
    Locale {
        country: "FR",
        currency: Currency::Eur,
        language: "en",
        timezones: &["Europe/Paris"],
        phone_prefix: "+33 1",
        phone_digits: 8,
        legal_forms: &["SARL", "SAS"],
        cities: &["Paris", "Lyon", "Toulouse"],
        share: 0.04,
    },
    Locale {
        country: "DE",
        currency: Currency::Eur,
        language: "en",
        timezones: &["Europe/Berlin"],
        phone_prefix: "+49 30",
        phone_digits: 8,
        legal_forms: &["GmbH", "AG"],
        cities: &["Berlin", "Hamburg", "München"],
        share: 0.04,
    },
    Locale {
        country: "US",
        currency: Currency::Usd,
        language: "en",
        timezones: &["America/New_York", "America/New_York", "America/Chicago", "America/Los_Angeles"],
        phone_prefix: "+1 212 555 01",
        phone_digits: 2,
        legal_forms: &["Inc.", "LLC", "Corp."],
        cities: &["New York", "Chicago", "Houston", "Miami"],
        share: 0.13,
    },
    Locale {
        country: "MX",
        currency: Currency::Usd,
        language: "es",
        timezones: &["America/Mexico_City"],
        phone_prefix: "+52 55",
        phone_digits: 8,
        legal_forms: &["S.A. de C.V.", "S. de R.L."],
        cities: &["Ciudad de México", "Monterrey", "Guadalajara"],
        share: 0.07,
    },
    Locale {
        country: "GB",
        currency: Currency::Gbp,
        language: "en",
        timezones: &["Europe/London"],
        phone_prefix: "+44 20 7946 0",
        phone_digits: 3,
        legal_forms: &["Ltd", "PLC", "LLP"],
        cities: &["London", "Manchester", "Leeds", "Bristol"],
        share: 0.10,
    },
];

const NAME_STEMS: [&str; 20] = [
    "Atlas",
    "Iberia",
    "Norte",
    "Meridian",
    "Cobalt",
    "Brisa",
    "Granite",
    "Solano",
    "Harbor",
    "Delta",
    "Aurora",
    "Vértice",
    "Pinnacle",
    "Alameda",
    "Summit",
    "Horizonte",
    "Orion",
    "Cedro",
    "Lighthouse",
    "Tajo",
];
const SECTORS_ES: [&str; 10] = [
    "Logística",
    "Alimentación",
    "Construcciones",
    "Distribuciones",
    "Textil",
    "Farma",
    "Energía",
    "Motor",
    "Hostelería",
    "Sistemas",
];
const SECTORS_EN: [&str; 10] = [
    "Logistics",
    "Foods",
    "Construction",
    "Distribution",
    "Textiles",
    "Pharma",
    "Energy",
    "Motors",
    "Hospitality",
    "Systems",
];

/// Account groups and shares among non-VIP customers.
const GROUPS: [(&str, f64); 3] = [("retail", 0.62), ("wholesale", 0.30), ("public_sector", 0.08)];

/// Every random choice about one customer, in draw order. Pass 1 and pass 2 draw these identically.
struct Draft {
    weight: f64,
    class: Class,
    behaviour: (f32, f32, f32, f32),
    stop_day: i32,
    terms: u16,
    locale: usize,
    timezone: usize,
    group: usize,
    vip: bool,
    amount_median: f64,
    method: Method,
    limit_multiplier: f64,
    collector: u64,
    sales_rep: u64,
    supplier: bool,
    name: (usize, usize, usize, usize),
    phone: u64,
}

/// Sizes of the collector and sales-rep teams.
pub(crate) struct Staff {
    pub(crate) collectors: u64,
    pub(crate) sales_reps: u64,
}

impl Staff {
    /// One collector per 2,000 customers (at least 3), one sales rep per 800 (at least 5).
    pub(crate) fn for_customers(customers: u64) -> Self {
        Self { collectors: customers.div_ceil(2_000).max(3), sales_reps: customers.div_ceil(800).max(5) }
    }
}

fn draw(s: &mut Stream, span_days: u32, staff: &Staff) -> Draft {
    let weight = s.pareto(SIZE_ALPHA);
    let class = Class::ALL[s.pick(&CLASS_SHARE)];
    // (p_late, late_median, late_sigma, early_mean); see docs/generator.md.
    let behaviour = match class {
        Class::Prompt => (s.uniform(0.0, 0.04), s.uniform(2.0, 6.0), 0.5, s.uniform(0.5, 6.0)),
        Class::Occasional => (s.uniform(0.18, 0.40), s.uniform(7.0, 20.0), 0.6, s.uniform(0.0, 4.0)),
        Class::Chronic => (s.uniform(0.70, 0.95), s.uniform(25.0, 55.0), 0.45, s.uniform(0.0, 2.0)),
        Class::Defaulter => (s.uniform(0.55, 0.85), s.uniform(20.0, 45.0), 0.5, s.uniform(0.0, 2.0)),
    };
    let stop_fraction = s.uniform(0.45, 0.85);
    let stop_day = if class == Class::Defaulter { (f64::from(span_days) * stop_fraction) as i32 } else { i32::MAX };
    let terms = TERMS[s.pick(&TERMS.map(|t| t.1))].0;
    let locale = s.pick(&LOCALES.each_ref().map(|l| l.share));
    let timezone = s.index(LOCALES[locale].timezones.len());
    // The largest 2 % of customers (weight above the 98th percentile, 0.02^(-1/alpha)) are VIP 40 % of the
    // time, the rest 2 %: about 3 % VIP overall.
    let vip = s.chance(if weight > 0.02f64.powf(-1.0 / SIZE_ALPHA) { 0.40 } else { 0.02 });
    let group = s.pick(&GROUPS.map(|g| g.1));
    // Bigger customers place somewhat bigger orders (weight^0.1 is ×1 to ×3).
    let amount_median = (450.0 * (0.9 * s.normal()).exp() * weight.powf(0.1)).clamp(20.0, 200_000.0);
    let method = match (class, s.pick(&[0.60, 0.25, 0.08, 0.07])) {
        (_, 0) => Method::BankTransfer,
        (Class::Prompt, 1) => Method::DirectDebit,
        (_, 1) => Method::BankTransfer,
        (_, 2) => Method::Card,
        _ => Method::Cheque,
    };
    // 5 % of customers get a tight limit they will exceed; the rest 2–4 months of sales, more for long terms.
    let limit_multiplier =
        if s.chance(0.05) { s.uniform(0.5, 1.2) } else { s.uniform(2.0, 4.0) + f64::from(terms) / 30.0 - 1.0 };
    let collector = s.index(staff.collectors as usize) as u64 + 1;
    let sales_rep = s.index(staff.sales_reps as usize) as u64 + 1;
    let supplier = s.chance(0.04);
    let locale_ref = &LOCALES[locale];
    let name = (
        s.index(NAME_STEMS.len()),
        s.index(SECTORS_EN.len()),
        s.index(locale_ref.legal_forms.len()),
        s.index(locale_ref.cities.len()),
    );
    let phone = s.int(0, 999_999_999) as u64;
    Draft {
        weight,
        class,
        behaviour: (behaviour.0 as f32, behaviour.1 as f32, behaviour.2 as f32, behaviour.3 as f32),
        stop_day,
        terms,
        locale,
        timezone,
        group,
        vip,
        amount_median,
        method,
        limit_multiplier,
        collector,
        sales_rep,
        supplier,
        name,
        phone,
    }
}

/// The customer models and the invoice-picking weights, in customer order.
pub(crate) struct Population {
    pub(crate) customers: Vec<Customer>,
    pub(crate) weights: Vec<f64>,
}

/// Pass 1: draws every customer's model and weight.
pub(crate) fn draw_population(seed: u64, count: u64, span_days: u32, staff: &Staff) -> Population {
    let mut s = Stream::new(seed, "customers");
    let mut customers = Vec::with_capacity(count as usize);
    let mut weights = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let d = draw(&mut s, span_days, staff);
        weights.push(d.weight);
        customers.push(Customer {
            terms: d.terms,
            currency: LOCALES[d.locale].currency,
            method: d.method,
            p_late: d.behaviour.0,
            late_median: d.behaviour.1,
            late_sigma: d.behaviour.2,
            early_mean: d.behaviour.3,
            amount_median: d.amount_median as f32,
            stop_day: d.stop_day,
        });
    }
    Population { customers, weights }
}

/// What pass 2 needs to turn a weight into an expected monthly sales figure.
pub(crate) struct Volume {
    pub(crate) invoices: u64,
    pub(crate) months: u32,
    pub(crate) total_weight: f64,
}

/// Pass 2: replays the customer stream and writes customers.csv and customers_truth.csv.
pub(crate) fn write_customers(
    seed: u64,
    count: u64,
    span_days: u32,
    staff: &Staff,
    volume: &Volume,
    master: &mut CsvSink<'_>,
    truth: &mut CsvSink<'_>,
) -> Result<(), GenerateError> {
    let mut s = Stream::new(seed, "customers");
    let mean_factor = (AMOUNT_SIGMA * AMOUNT_SIGMA / 2.0).exp();
    for i in 1..=count {
        let d = draw(&mut s, span_days, staff);
        let locale = &LOCALES[d.locale];
        let expected_invoices = volume.invoices as f64 * d.weight / volume.total_weight;
        let monthly_sales = expected_invoices / f64::from(volume.months) * d.amount_median * mean_factor;
        let limit_thousands = (monthly_sales * d.limit_multiplier / 1000.0).ceil().max(1.0) as u64;

        master.padded(b"C", i, 6);
        master.sep();
        let (stem, sector, form, city) = d.name;
        let name = if GROUPS[d.group].0 == "public_sector" && !d.vip {
            if locale.language == "es" {
                format!("Ayuntamiento de {}", locale.cities[city])
            } else {
                format!("{} City Council", locale.cities[city])
            }
        } else if locale.language == "es" {
            format!("{} {} {}", NAME_STEMS[stem], SECTORS_ES[sector], locale.legal_forms[form])
        } else {
            format!("{} {} {}", NAME_STEMS[stem], SECTORS_EN[sector], locale.legal_forms[form])
        };
        master.text(&name);
        master.sep();
        master.raw(locale.country.as_bytes());
        master.sep();
        master.raw(locale.currency.code());
        master.sep();
        master.raw(if d.vip { b"VIP" } else { GROUPS[d.group].0.as_bytes() });
        master.sep();
        master.uint(u64::from(d.terms));
        master.sep();
        master.cents(limit_thousands * 100_000);
        master.sep();
        master.padded(b"COL", d.collector, 2);
        master.sep();
        master.padded(b"REP", d.sales_rep, 2);
        master.sep();
        master.raw(if locale.language == "es" { b"facturas." } else { b"accounts." });
        master.padded(b"c", i, 6);
        master.raw(b"@example.com");
        master.sep();
        master.raw(locale.phone_prefix.as_bytes());
        master.padded(b"", d.phone % 10u64.pow(locale.phone_digits), locale.phone_digits as usize);
        master.sep();
        master.raw(locale.language.as_bytes());
        master.sep();
        master.raw(locale.timezones[d.timezone].as_bytes());
        master.sep();
        master.boolean(d.vip);
        master.sep();
        if d.supplier {
            master.padded(b"V", i, 6);
        }
        master.end_row()?;

        truth.padded(b"C", i, 6);
        truth.sep();
        truth.raw(d.class.name().as_bytes());
        truth.end_row()?;
    }
    Ok(())
}
