//! The scope catalog.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::DbConn;
use super::schema::scopes;
use crate::domain::scopes::ScopeSet;

/// Every scope that is not retired, as (name, resource, description), in catalog order.
pub fn active_catalog(conn: &mut DbConn) -> QueryResult<Vec<(String, String, String)>> {
    scopes::table
        .filter(scopes::retired_at.is_null())
        .order(scopes::id.asc())
        .select((scopes::name, scopes::resource, scopes::description))
        .load(conn)
}

/// The names of every scope that is not retired.
pub fn active_names(conn: &mut DbConn) -> QueryResult<ScopeSet> {
    scopes::table
        .filter(scopes::retired_at.is_null())
        .select(scopes::name)
        .load::<String>(conn)
        .map(|names| names.into_iter().collect())
}

/// One scope of the catalog, retired or not.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = scopes)]
pub struct Scope {
    pub id: i64,
    pub name: String,
    pub resource: String,
    pub description: String,
    pub retired_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

impl Scope {
    pub fn is_retired(&self) -> bool {
        self.retired_at.is_some()
    }
}

/// The whole catalog, retired scopes included, in catalog order.
pub fn all(conn: &mut DbConn) -> QueryResult<Vec<Scope>> {
    scopes::table
        .order(scopes::id.asc())
        .select(Scope::as_select())
        .load(conn)
}

pub fn find(conn: &mut DbConn, id: i64) -> QueryResult<Scope> {
    scopes::table
        .find(id)
        .select(Scope::as_select())
        .first(conn)
}

/// Whether a scope of this name exists (retired or not).
pub fn name_exists(conn: &mut DbConn, name: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        scopes::table.filter(scopes::name.eq(name)),
    ))
    .get_result(conn)
}

/// Adds an active scope to the catalog.
pub fn create(
    conn: &mut DbConn,
    name: &str,
    resource: &str,
    description: &str,
) -> QueryResult<i64> {
    diesel::insert_into(scopes::table)
        .values((
            scopes::name.eq(name),
            scopes::resource.eq(resource),
            scopes::description.eq(description),
            scopes::created_at.eq(super::now()),
        ))
        .returning(scopes::id)
        .get_result(conn)
}

/// Changes a scope's resource label and description (never its name).
pub fn update(conn: &mut DbConn, id: i64, resource: &str, description: &str) -> QueryResult<usize> {
    diesel::update(scopes::table.find(id))
        .set((
            scopes::resource.eq(resource),
            scopes::description.eq(description),
        ))
        .execute(conn)
}

/// Retires an active scope; returns 0 if it already was retired (or is gone).
pub fn retire(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(
        scopes::table
            .filter(scopes::id.eq(id))
            .filter(scopes::retired_at.is_null()),
    )
    .set(scopes::retired_at.eq(Some(super::now())))
    .execute(conn)
}

/// Brings a retired scope back; returns 0 if it was not retired (or is gone).
pub fn restore(conn: &mut DbConn, id: i64) -> QueryResult<usize> {
    diesel::update(
        scopes::table
            .filter(scopes::id.eq(id))
            .filter(scopes::retired_at.is_not_null()),
    )
    .set(scopes::retired_at.eq(None::<NaiveDateTime>))
    .execute(conn)
}
