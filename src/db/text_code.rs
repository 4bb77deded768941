//! The one conversion between a text code of `domain` (declared with
//! `text_codes!`) and a TEXT column, on both backends: written as its
//! `as_str()`, read back through its `FromStr`, so a value the code does not
//! know is a deserialization error rather than a silent default.

/// Lets each listed code type be compared with, written to and loaded from a
/// `Text` (or `Nullable<Text>`) column.
macro_rules! stored_as_text {
    ($($code:ty),+ $(,)?) => {$(
        impl ::diesel::deserialize::FromSql<::diesel::sql_types::Text, $crate::db::Db> for $code {
            fn from_sql(
                bytes: <$crate::db::Db as ::diesel::backend::Backend>::RawValue<'_>,
            ) -> ::diesel::deserialize::Result<Self> {
                let text = <String as ::diesel::deserialize::FromSql<
                    ::diesel::sql_types::Text,
                    $crate::db::Db,
                >>::from_sql(bytes)?;
                Ok(text.parse::<$code>()?)
            }
        }

        // Generic over the backend: `eq_any` binds the values as one array
        // on PostgreSQL.
        impl<DB> ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB> for $code
        where
            DB: ::diesel::backend::Backend,
            str: ::diesel::serialize::ToSql<::diesel::sql_types::Text, DB>,
        {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, DB>,
            ) -> ::diesel::serialize::Result {
                self.as_str().to_sql(out)
            }
        }

        impl ::diesel::deserialize::Queryable<::diesel::sql_types::Text, $crate::db::Db> for $code {
            type Row = Self;

            fn build(row: Self) -> ::diesel::deserialize::Result<Self> {
                Ok(row)
            }
        }

        impl ::diesel::expression::AsExpression<::diesel::sql_types::Text> for $code {
            type Expression =
                <&'static str as ::diesel::expression::AsExpression<::diesel::sql_types::Text>>::Expression;

            fn as_expression(self) -> Self::Expression {
                ::diesel::expression::AsExpression::<::diesel::sql_types::Text>::as_expression(
                    self.as_str(),
                )
            }
        }

        impl<'x> ::diesel::expression::AsExpression<::diesel::sql_types::Text> for &'x $code {
            type Expression =
                <&'x str as ::diesel::expression::AsExpression<::diesel::sql_types::Text>>::Expression;

            fn as_expression(self) -> Self::Expression {
                ::diesel::expression::AsExpression::<::diesel::sql_types::Text>::as_expression(
                    self.as_str(),
                )
            }
        }

        impl ::diesel::expression::AsExpression<
            ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
        > for $code {
            type Expression = <&'static str as ::diesel::expression::AsExpression<
                ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
            >>::Expression;

            fn as_expression(self) -> Self::Expression {
                ::diesel::expression::AsExpression::<
                    ::diesel::sql_types::Nullable<::diesel::sql_types::Text>,
                >::as_expression(self.as_str())
            }
        }
    )+};
}

pub(crate) use stored_as_text;

#[cfg(test)]
mod tests {
    use diesel::prelude::*;
    use diesel::sql_types::Text;

    use crate::db::schema::tokens;
    use crate::domain::token::{TokenKind, TokenStatus};

    fn memory() -> crate::db::DbConn {
        crate::db::DbConn::Sqlite(SqliteConnection::establish(":memory:").unwrap())
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
        assert!(
            format!("{err:?}").contains(r#"UnknownCode { kind: "TokenKind", value: "robot" }"#),
            "{err:?}"
        );
        // The column itself takes the enum in filters.
        let _ = tokens::table.filter(tokens::kind.eq(TokenKind::Api));
    }
}
