//! ISO 4217 currencies and their minor units.

use std::fmt;

use serde::{Deserialize, Serialize};

/// An ISO 4217 currency that cobro knows (active codes; funds and precious metals are left out).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_units: u8,
}

/// Why a string is not a known currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{code}` is not an ISO 4217 currency code that cobro knows (expected three letters such as EUR, USD, GBP, MXN)"
)]
pub struct CurrencyError {
    /// The text that was given.
    pub code: String,
}

/// Active ISO 4217 codes with their minor units (decimal places).
const ISO_4217: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

impl Currency {
    /// Looks up a code, case-insensitively, ignoring surrounding whitespace.
    pub fn parse(raw: &str) -> Result<Self, CurrencyError> {
        // No allocation: this runs for every ledger row.
        let trimmed = raw.trim().as_bytes();
        let code = match trimmed {
            [a, b, c] => [a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()],
            _ => return Err(CurrencyError { code: raw.to_owned() }),
        };
        ISO_4217
            .binary_search_by(|(c, _)| c.as_bytes().cmp(&code[..]))
            .ok()
            .and_then(|i| ISO_4217.get(i))
            .map(|(c, minor_units)| {
                let b = c.as_bytes();
                Currency { code: [b[0], b[1], b[2]], minor_units: *minor_units }
            })
            .ok_or(CurrencyError { code: raw.to_owned() })
    }

    /// The three-letter code.
    pub fn code(&self) -> &str {
        // The code comes from the ASCII table above.
        std::str::from_utf8(&self.code).unwrap_or("XXX")
    }

    /// Decimal places of the currency's minor unit (2 for EUR, 0 for JPY, 3 for KWD).
    pub fn minor_units(&self) -> u32 {
        u32::from(self.minor_units)
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = CurrencyError;
    fn try_from(s: String) -> Result<Self, CurrencyError> {
        Self::parse(&s)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_table_is_sorted_so_binary_search_works() {
        assert!(ISO_4217.windows(2).all(|w| w[0].0 < w[1].0));
    }

    #[test]
    fn known_codes_parse_with_their_minor_units() {
        let eur = Currency::parse(" eur ").expect("EUR");
        assert_eq!((eur.code(), eur.minor_units()), ("EUR", 2));
        assert_eq!(Currency::parse("JPY").map(|c| c.minor_units()), Ok(0));
        assert_eq!(Currency::parse("KWD").map(|c| c.minor_units()), Ok(3));
    }

    #[test]
    fn unknown_codes_are_refused() {
        assert!(Currency::parse("EURO").is_err());
        assert!(Currency::parse("XYZ").is_err());
        assert!(Currency::parse("").is_err());
    }
}
