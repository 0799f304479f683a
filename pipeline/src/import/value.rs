//! Typed values of one canonical row, after parsing.

/// One parsed column value.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Value {
    /// No value.
    Null,
    /// Text.
    Text(String),
    /// Days since the Unix epoch.
    Date(i32),
    /// Money as the unscaled `Decimal128(18, 4)` integer.
    Money(i128),
    /// Rate as the unscaled `Decimal128(18, 10)` integer.
    Rate(i128),
    /// Whole number.
    Int(i32),
    /// Boolean.
    Bool(bool),
}

impl Value {
    /// The text, if this is text.
    pub fn text(&self) -> Option<&str> {
        match self {
            Value::Text(s) => Some(s),
            _ => None,
        }
    }

    /// The date, if this is a date.
    pub fn date(&self) -> Option<i32> {
        match self {
            Value::Date(d) => Some(*d),
            _ => None,
        }
    }

    /// The stored money, if this is money.
    pub fn money(&self) -> Option<i128> {
        match self {
            Value::Money(m) => Some(*m),
            _ => None,
        }
    }
}
