//! Scopes: permission strings, stored space-separated, and the rule that makes a
//! token's effective permissions: its own scopes intersected with what its
//! owner holds at the moment of use.

use std::collections::BTreeSet;

use super::codes::text_codes;

text_codes! {
    /// The scopes the code itself asks for (`Bearer::require`). Every other
    /// scope is data of the catalog, which administrators edit.
    pub enum Scope {
        TokensRead = "tokens:read",
        TokensWrite = "tokens:write",
        Introspect = "introspect",
        Metrics = "metrics",
    }
}

/// A set of scope names, ordered for stable display and storage.
pub type ScopeSet = BTreeSet<String>;

/// Parses a space-separated scope list (the storage format and OAuth's `scope`).
pub fn parse(list: &str) -> ScopeSet {
    list.split_whitespace().map(str::to_owned).collect()
}

/// The storage and wire format: names joined by single spaces.
pub fn join(scopes: &ScopeSet) -> String {
    scopes.iter().cloned().collect::<Vec<_>>().join(" ")
}

/// What a token's owner holds right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Holdings {
    /// Administrators hold every scope.
    Everything,
    /// Everyone else holds the union of their memberships' user types (or, for a
    /// token tied to one membership, that membership's user type).
    Only(ScopeSet),
}

impl Holdings {
    pub fn contains(&self, scope: &str) -> bool {
        match self {
            Holdings::Everything => true,
            Holdings::Only(set) => set.contains(scope),
        }
    }

    /// `wanted` narrowed to what is held.
    pub fn intersect(&self, wanted: &ScopeSet) -> ScopeSet {
        wanted
            .iter()
            .filter(|s| self.contains(s))
            .cloned()
            .collect()
    }
}

/// The scopes in `wanted` that are not held (for "you cannot grant X" errors).
pub fn beyond(wanted: &ScopeSet, held: &Holdings) -> Vec<String> {
    wanted
        .iter()
        .filter(|s| !held.contains(s))
        .cloned()
        .collect()
}

/// The first of `wanted` that is not in `catalog` (the active scope names).
pub fn first_unknown<'a>(
    wanted: impl IntoIterator<Item = &'a String>,
    catalog: &ScopeSet,
) -> Option<&'a String> {
    wanted.into_iter().find(|s| !catalog.contains(*s))
}

/// The resource label of a scope name (`devices:read` → "Device" via the catalog),
/// used to group checkboxes.
#[derive(Debug, Clone)]
pub struct ScopeGroup {
    pub resource: String,
    pub scopes: Vec<(String, String)>,
}

/// Groups `(name, resource, description)` triples by resource, keeping order.
pub fn group_by_resource(catalog: &[(String, String, String)]) -> Vec<ScopeGroup> {
    let mut groups: Vec<ScopeGroup> = Vec::new();
    for (name, resource, description) in catalog {
        match groups.iter_mut().find(|g| &g.resource == resource) {
            Some(group) => group.scopes.push((name.clone(), description.clone())),
            None => groups.push(ScopeGroup {
                resource: resource.clone(),
                scopes: vec![(name.clone(), description.clone())],
            }),
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_join_round_trip() {
        let set = parse("  devices:read collections:read devices:read ");
        assert_eq!(join(&set), "collections:read devices:read");
        assert!(parse("").is_empty());
    }

    #[test]
    fn intersection_with_holdings() {
        let wanted = parse("devices:read devices:write");
        assert_eq!(Holdings::Everything.intersect(&wanted), wanted);
        let held = Holdings::Only(parse("devices:read users:read"));
        assert_eq!(held.intersect(&wanted), parse("devices:read"));
        assert_eq!(beyond(&wanted, &held), vec!["devices:write".to_owned()]);
    }

    #[test]
    fn unknown_scopes_are_found() {
        let catalog = parse("devices:read devices:write");
        assert_eq!(first_unknown(&parse("devices:read"), &catalog), None);
        let wanted = parse("devices:read bogus:scope");
        assert_eq!(
            first_unknown(&wanted, &catalog).map(String::as_str),
            Some("bogus:scope")
        );
    }

    #[test]
    fn groups_keep_catalog_order() {
        let catalog = vec![
            (
                "collections:read".into(),
                "Collection".into(),
                String::new(),
            ),
            ("devices:read".into(), "Device".into(), String::new()),
            (
                "collections:write".into(),
                "Collection".into(),
                String::new(),
            ),
        ];
        let groups = group_by_resource(&catalog);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].resource, "Collection");
        assert_eq!(groups[0].scopes.len(), 2);
    }
}
