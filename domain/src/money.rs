//! Exact money: a decimal amount with its currency. Never `f64`.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::currency::Currency;

/// Decimal places every money column is stored with (Arrow/Parquet `Decimal128(18, 4)`). Four places hold every
/// ISO currency's minor unit; a value is still checked against its own currency's minor units on the way in.
pub const MONEY_SCALE: u32 = 4;
/// Total digits of a stored money value.
pub const MONEY_PRECISION: u8 = 18;

/// An exact amount in a currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

/// Why an amount cannot be money in its currency.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// More decimal places than the currency has.
    #[error(
        "{amount} has {scale} decimal places but {currency} has {minor} (round it in the ERP export, or check the decimal separator)"
    )]
    TooManyDecimals {
        /// The amount given.
        amount: Decimal,
        /// Its decimal places.
        scale: u32,
        /// The currency.
        currency: Currency,
        /// The currency's minor units.
        minor: u32,
    },
    /// Too large to store in `Decimal128(18, 4)`.
    #[error("{amount} is too large: money is stored with at most 14 digits before the decimal point")]
    TooLarge {
        /// The amount given.
        amount: Decimal,
    },
}

impl Money {
    /// Builds money, checking the amount against the currency's minor units and the storage precision.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let amount = amount.normalize();
        let minor = currency.minor_units();
        if amount.scale() > minor {
            return Err(MoneyError::TooManyDecimals { amount, scale: amount.scale(), currency, minor });
        }
        let limit = Decimal::from(10_i64.pow(u32::from(MONEY_PRECISION) - MONEY_SCALE));
        if amount.abs() >= limit {
            return Err(MoneyError::TooLarge { amount });
        }
        Ok(Self { amount, currency })
    }

    /// The amount.
    pub fn amount(&self) -> Decimal {
        self.amount
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as the unscaled integer of a `Decimal128(18, 4)` column.
    pub fn to_stored(&self) -> i128 {
        to_stored(self.amount)
    }
}

/// An exact decimal as the unscaled integer of a `Decimal128(_, 4)` column. Callers check range first
/// ([`Money::new`]); values beyond 4 places are rounded half-even.
pub fn to_stored(amount: Decimal) -> i128 {
    let mut d = amount.round_dp_with_strategy(MONEY_SCALE, rust_decimal::RoundingStrategy::MidpointNearestEven);
    d.rescale(MONEY_SCALE);
    d.mantissa()
}

/// The inverse of [`to_stored`].
pub fn from_stored(unscaled: i128) -> Decimal {
    Decimal::try_from_i128_with_scale(unscaled, MONEY_SCALE).unwrap_or(Decimal::MAX)
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut a = self.amount;
        a.rescale(self.currency.minor_units());
        write!(f, "{a} {}", self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn eur() -> Currency {
        Currency::parse("EUR").expect("EUR")
    }

    #[test]
    fn amounts_with_more_decimals_than_the_currency_are_refused() {
        let jpy = Currency::parse("JPY").expect("JPY");
        assert!(Money::new(Decimal::new(1050, 2), jpy).is_err());
        assert!(Money::new(Decimal::new(10123, 3), eur()).is_err());
        // Trailing zeros are not extra precision.
        assert!(Money::new(Decimal::new(10500, 3), eur()).is_ok());
    }

    #[test]
    fn too_large_amounts_are_refused() {
        assert!(Money::new(Decimal::from(100_000_000_000_000_i64), eur()).is_err());
        assert!(Money::new(Decimal::from(99_999_999_999_999_i64), eur()).is_ok());
    }

    #[test]
    fn display_uses_the_currency_minor_units() {
        let m = Money::new(Decimal::new(559, 1), eur()).expect("money");
        assert_eq!(m.to_string(), "55.90 EUR");
    }

    proptest! {
        #[test]
        fn stored_form_round_trips(cents in -99_999_999_999_999_i64..99_999_999_999_999_i64) {
            let d = Decimal::new(cents, 2);
            prop_assert_eq!(from_stored(to_stored(d)), d);
        }
    }
}
