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

        impl ::diesel::serialize::ToSql<::diesel::sql_types::Text, $crate::db::Db> for $code {
            fn to_sql<'b>(
                &'b self,
                out: &mut ::diesel::serialize::Output<'b, '_, $crate::db::Db>,
            ) -> ::diesel::serialize::Result {
                <str as ::diesel::serialize::ToSql<::diesel::sql_types::Text, $crate::db::Db>>::to_sql(
                    self.as_str(),
                    out,
                )
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
