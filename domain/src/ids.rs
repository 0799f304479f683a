//! Identifiers as newtypes. Ids are opaque strings from the ERP: leading zeros are significant
//! (`0000611365` stays that), surrounding whitespace is not.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a raw string is not a valid identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The value is empty after trimming whitespace.
    #[error("the id is empty; every row needs a non-empty id")]
    Empty,
    /// The value is longer than [`MAX_ID_LEN`] bytes.
    #[error("the id is {len} bytes long; ids are at most {MAX_ID_LEN} bytes")]
    TooLong {
        /// Length in bytes.
        len: usize,
    },
    /// The value holds a control character (tab, newline, NUL...).
    #[error("the id contains a control character; remove tabs, line breaks and other control characters")]
    ControlChar,
}

/// Longest id we accept, in bytes. ERP keys are short; anything longer is almost surely a mapping mistake
/// (a whole description mapped onto an id column).
pub const MAX_ID_LEN: usize = 64;

/// Checks and trims a raw id.
pub fn parse_id(raw: &str) -> Result<&str, IdError> {
    let id = raw.trim();
    if id.is_empty() {
        return Err(IdError::Empty);
    }
    if id.len() > MAX_ID_LEN {
        return Err(IdError::TooLong { len: id.len() });
    }
    if id.chars().any(char::is_control) {
        return Err(IdError::ControlChar);
    }
    Ok(id)
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a raw id (trimmed; see [`parse_id`]).
            pub fn parse(raw: &str) -> Result<Self, IdError> {
                parse_id(raw).map(|id| Self(id.to_owned()))
            }

            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(raw: String) -> Result<Self, IdError> {
                Self::parse(&raw)
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// A customer (the ERP's debtor account).
    CustomerId
);
id_type!(
    /// A ledger document: invoice, credit note or debit note.
    DocumentId
);
id_type!(
    /// A payment received.
    PaymentId
);
id_type!(
    /// A collector (the person who works a portfolio of customers).
    CollectorId
);
id_type!(
    /// A sales representative.
    SalesRepId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leading_zeros_are_kept_and_whitespace_is_trimmed() {
        let id = DocumentId::parse("  0000611365 ").expect("valid id");
        assert_eq!(id.as_str(), "0000611365");
    }

    #[test]
    fn empty_long_and_control_ids_are_refused() {
        assert_eq!(CustomerId::parse("   "), Err(IdError::Empty));
        assert_eq!(CustomerId::parse(&"x".repeat(65)), Err(IdError::TooLong { len: 65 }));
        assert_eq!(CustomerId::parse("a\tb"), Err(IdError::ControlChar));
    }
}
