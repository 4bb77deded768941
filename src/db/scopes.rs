//! The scope catalog.

use diesel::prelude::*;

use super::DbConn;
use super::schema::scopes;

/// Every scope that is not retired, as (name, resource, description), in catalog order.
pub fn active_catalog(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String)>> {
    scopes::table
        .filter(scopes::retired_at.is_null())
        .order(scopes::id.asc())
        .select((scopes::name, scopes::resource, scopes::description))
        .load(conn)
}
