//! Closed sets of codes that are stored as text: one macro writes the enum, its
//! text, the parser and the list of every value from a single table, so a new
//! code is one line and the text is spelled in one place only.

use std::fmt;

/// A stored text that names no code of its kind: a database written by a newer
/// or a broken version. Reading it is an error, never a silent default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCode {
    /// The kind of code (`AuditAction`, …).
    pub kind: &'static str,
    pub value: String,
}

impl fmt::Display for UnknownCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unknown {} {:?}", self.kind, self.value)
    }
}

impl std::error::Error for UnknownCode {}

/// Declares `enum $name` with `as_str`, `FromStr` (an unknown text is an
/// [`UnknownCode`]), `Display`, `ALL` (every value, in the table's order) and
/// the conversions to `&'static str` and from `String` that serde's `into` and
/// `try_from` attributes ask for:
///
/// ```text
/// text_codes! {
///     /// What a row records.
///     pub enum Color {
///         Red = "red",
///         Green = "green",
///     }
/// }
/// ```
macro_rules! text_codes {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$variant_meta:meta])* $variant:ident = $text:literal, )+
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        $vis enum $name {
            $( $(#[$variant_meta])* $variant, )+
        }

        impl $name {
            /// Every value, in the order the table lists them.
            pub const ALL: [Self; [$($text),+].len()] = [$(Self::$variant),+];

            /// The stored text.
            pub fn as_str(self) -> &'static str {
                match self {
                    $( Self::$variant => $text, )+
                }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::domain::codes::UnknownCode;

            fn from_str(s: &str) -> Result<Self, $crate::domain::codes::UnknownCode> {
                match s {
                    $( $text => Ok(Self::$variant), )+
                    _ => Err($crate::domain::codes::UnknownCode {
                        kind: stringify!($name),
                        value: s.to_owned(),
                    }),
                }
            }
        }

        impl ::std::convert::TryFrom<String> for $name {
            type Error = $crate::domain::codes::UnknownCode;

            fn try_from(s: String) -> Result<Self, $crate::domain::codes::UnknownCode> {
                s.parse()
            }
        }

        impl ::std::convert::From<$name> for &'static str {
            fn from(code: $name) -> Self {
                code.as_str()
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use text_codes;
