//! How the stored codes of `domain` (declared with `text_code!`) travel
//! through their TEXT columns: written as their `as_str`, read back through
//! their `FromStr`. A value no variant names (a row written by a newer build,
//! or by hand) fails the query with a deserialization error rather than
//! turning into some default.
//!
//! The impls are written here, not derived on the enums, so that `domain`
//! stays free of diesel.

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, Queryable};
use diesel::expression::AsExpression;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;

use crate::domain::token::{TokenKind, TokenStatus};

macro_rules! text_column {
    ($($code:ty),+ $(,)?) => {$(
        impl AsExpression<Text> for $code {
            type Expression = <&'static str as AsExpression<Text>>::Expression;

            fn as_expression(self) -> Self::Expression {
                AsExpression::<Text>::as_expression(self.as_str())
            }
        }

        impl AsExpression<Text> for &$code {
            type Expression = <&'static str as AsExpression<Text>>::Expression;

            fn as_expression(self) -> Self::Expression {
                AsExpression::<Text>::as_expression(self.as_str())
            }
        }

        // For `eq_any`, which binds the values as one array on PostgreSQL.
        impl<DB> ToSql<Text, DB> for $code
        where
            DB: Backend,
            str: ToSql<Text, DB>,
        {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl<DB> Queryable<Text, DB> for $code
        where
            DB: Backend,
            String: FromSql<Text, DB>,
        {
            type Row = String;

            fn build(row: String) -> deserialize::Result<Self> {
                Ok(row.parse::<$code>()?)
            }
        }
    )+};
}

text_column!(TokenKind, TokenStatus);

#[cfg(test)]
mod tests {
    use diesel::prelude::*;

    use super::*;
    use crate::db::schema::tokens;

    fn memory() -> SqliteConnection {
        SqliteConnection::establish(":memory:").unwrap()
    }

    #[test]
    fn every_code_reads_back_as_itself() {
        let mut conn = memory();
        for kind in TokenKind::ALL {
            let read: TokenKind = diesel::select(kind.into_sql::<Text>())
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(read, kind);
        }
        for status in TokenStatus::ALL {
            let read: TokenStatus = diesel::select(status.into_sql::<Text>())
                .get_result(&mut conn)
                .unwrap();
            assert_eq!(read, status);
        }
    }

    #[test]
    fn an_unknown_stored_value_is_an_error() {
        let mut conn = memory();
        let err = diesel::select("robot".into_sql::<Text>())
            .get_result::<TokenKind>(&mut conn)
            .unwrap_err();
        assert!(
            matches!(err, diesel::result::Error::DeserializationError(_)),
            "{err:?}"
        );
        assert_eq!(err.to_string(), r#"unknown token kind "robot""#);
        // The column itself takes the enum in filters.
        let _ = tokens::table.filter(tokens::kind.eq(TokenKind::Api));
    }
}
