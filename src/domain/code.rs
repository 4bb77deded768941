//! Stored codes: small closed sets of values kept in TEXT columns (a token's
//! kind and status). [`text_code!`] declares one as an enum with the one
//! table between its variants and their stored spelling; everything else
//! (`FromStr`, `Display`, the database conversion in `db::code`) reads that
//! table, so a new value is one line and the compiler finds every `match`
//! that must learn it.

use std::fmt;

/// A stored or presented value that names no variant of a code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode {
    /// What the value should have named ("token kind").
    pub what: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.what, self.value)
    }
}

impl std::error::Error for UnknownCode {}

/// Declares a code: the enum, `ALL` in declaration order, `as_str` (the
/// stored spelling), `FromStr` (the only way back) and `Display` (as stored).
macro_rules! text_code {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident ($what:literal) {
            $($(#[$vmeta:meta])* $variant:ident = $code:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            pub const ALL: [$name; [$($code),+].len()] = [$(Self::$variant),+];

            /// The value as stored and as URLs and JSON spell it.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $code,)+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::code::UnknownCode;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::ALL
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| $crate::domain::code::UnknownCode {
                        what: $what,
                        value: s.to_owned(),
                    })
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_code;
