//! The catalogs administrators keep: departments, user types (named scope sets)
//! and the scope catalog. Field rules, the case-insensitive name comparison and
//! the rule that says when a department or user type may be deleted.

use super::form::FieldErrors;
use super::scopes::ScopeSet;

/// Longest department or user type name, in characters.
pub const NAME_MAX: usize = 100;
/// Longest department or user type description, in characters.
pub const DESCRIPTION_MAX: usize = 500;
/// Longest scope name, in characters.
pub const SCOPE_NAME_MAX: usize = 64;
/// Longest resource label of a scope, in characters.
pub const RESOURCE_MAX: usize = 40;
/// Longest scope description, in characters.
pub const SCOPE_DESCRIPTION_MAX: usize = 200;

/// The comparison key of a name that must be unique case-insensitively.
///
/// Full Unicode lowercasing, so that the rule is the same on both backends
/// (SQLite's `lower()` only folds ASCII; PostgreSQL's folds everything).
pub fn fold(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The existing name that `name` clashes with (case-insensitively), if any.
pub fn find_clash<'a>(name: &str, existing: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let key = fold(name);
    existing.into_iter().find(|other| fold(other) == key)
}

/// A department or user type name: 1 to 100 characters, no control characters.
pub fn check_name(value: &str) -> Result<(), &'static str> {
    check_label(
        value,
        NAME_MAX,
        "Enter a name.",
        "Use at most 100 characters.",
    )
}

/// A one-line label: not blank, at most `max` characters, no control characters;
/// `blank` and `too_long` say what is wrong.
fn check_label(
    value: &str,
    max: usize,
    blank: &'static str,
    too_long: &'static str,
) -> Result<(), &'static str> {
    if value.trim().is_empty() {
        Err(blank)
    } else if value.chars().count() > max {
        Err(too_long)
    } else if value.chars().any(char::is_control) {
        Err("Remove control characters.")
    } else {
        Ok(())
    }
}

/// An optional description of at most `max` characters; line breaks and tabs are
/// fine, other control characters are not.
pub fn check_description(value: &str, max: usize) -> Result<(), String> {
    if value.chars().count() > max {
        Err(format!("Use at most {max} characters."))
    } else if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        Err("Remove control characters.".into())
    } else {
        Ok(())
    }
}

/// A scope name: `^[a-z][a-z0-9_.-]*(:[a-z][a-z0-9_.-]*)?$`, at most 64 characters.
pub fn check_scope_name(value: &str) -> Result<(), &'static str> {
    fn is_part(part: &str) -> bool {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
            })
    }
    if value.is_empty() {
        Err("Enter a scope name.")
    } else if value.chars().count() > SCOPE_NAME_MAX {
        Err("Use at most 64 characters.")
    } else {
        let valid = match value.split_once(':') {
            Some((resource, action)) => is_part(resource) && is_part(action),
            None => is_part(value),
        };
        if valid {
            Ok(())
        } else {
            Err(
                "Use lowercase letters, digits, '_', '.' and '-', starting with a letter, \
                 optionally followed by ':' and another such word (like devices:read).",
            )
        }
    }
}

/// A scope's resource label ("Device"): 1 to 40 characters, no control characters.
pub fn check_resource(value: &str) -> Result<(), &'static str> {
    check_label(
        value,
        RESOURCE_MAX,
        "Enter the resource this scope belongs to, like Device.",
        "Use at most 40 characters.",
    )
}

/// Trims a department's or user type's name and description and checks them.
fn check_name_and_description(name: &mut String, description: &mut String) -> FieldErrors {
    *name = name.trim().to_owned();
    *description = description.trim().to_owned();
    let mut errors = FieldErrors::new();
    errors.check("name", check_name(name));
    if let Err(message) = check_description(description, DESCRIPTION_MAX) {
        errors.add("description", message);
    }
    errors
}

/// The fields of a department form.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct DepartmentForm {
    pub name: String,
    pub description: String,
}

impl DepartmentForm {
    /// Trims the fields and checks them.
    pub fn validate(&mut self) -> FieldErrors {
        check_name_and_description(&mut self.name, &mut self.description)
    }
}

/// The fields of a user type form; `scopes` is the repeated checkbox.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct UserTypeForm {
    pub name: String,
    pub description: String,
    pub scopes: Vec<String>,
}

impl UserTypeForm {
    pub fn has_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }

    /// The chosen scopes as a set.
    pub fn scope_set(&self) -> ScopeSet {
        self.scopes.iter().map(|s| s.trim().to_owned()).collect()
    }

    /// Trims the fields and checks them; every chosen scope must be in the
    /// active catalog (`active`). No scope at all is allowed (a type that grants
    /// nothing).
    pub fn validate(&mut self, active: &ScopeSet) -> FieldErrors {
        let mut errors = check_name_and_description(&mut self.name, &mut self.description);
        if let Some(unknown) = self.scope_set().iter().find(|s| !active.contains(*s)) {
            let shown: String = unknown.chars().take(SCOPE_NAME_MAX).collect();
            errors.add(
                "scopes",
                format!("There is no active scope called “{shown}”."),
            );
        }
        errors
    }
}

/// The fields of a scope form. `name` is only read when adding a scope: a
/// scope's name never changes, since tokens and user types refer to it.
#[derive(Debug, Default, Clone, serde::Deserialize)]
#[serde(default)]
pub struct ScopeForm {
    pub name: String,
    pub resource: String,
    pub description: String,
}

impl ScopeForm {
    /// Trims the fields and checks them (`new`: the name too).
    pub fn validate(&mut self, new: bool) -> FieldErrors {
        self.name = self.name.trim().to_owned();
        self.resource = self.resource.trim().to_owned();
        self.description = self.description.trim().to_owned();
        let mut errors = FieldErrors::new();
        if new {
            errors.check("name", check_scope_name(&self.name));
        }
        errors.check("resource", check_resource(&self.resource));
        if let Err(message) = check_description(&self.description, SCOPE_DESCRIPTION_MAX) {
            errors.add("description", message);
        }
        errors
    }
}

/// What still refers to a department or a user type. For a department only live
/// tokens count (deleting it clears the department of revoked ones); for a user
/// type revoked tokens count too, since their record names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    pub memberships: i64,
    pub live_tokens: i64,
    pub revoked_tokens: i64,
}

impl Usage {
    pub fn is_unused(&self) -> bool {
        self.memberships == 0 && self.live_tokens == 0 && self.revoked_tokens == 0
    }

    /// Why `what` ("department", "user type") cannot be deleted, or `None` when it can.
    pub fn blocker(&self, what: &str) -> Option<String> {
        if self.is_unused() {
            return None;
        }
        let mut uses = Vec::new();
        let mut steps = Vec::new();
        if self.memberships > 0 {
            uses.push(plural(self.memberships, "membership", "memberships"));
            steps.push("remove the memberships");
        }
        if self.live_tokens > 0 {
            uses.push(plural(self.live_tokens, "live token", "live tokens"));
            steps.push("revoke the tokens");
        }
        if self.revoked_tokens > 0 {
            uses.push(plural(
                self.revoked_tokens,
                "revoked token",
                "revoked tokens",
            ));
            steps.push("wait until revoked tokens are purged after the retention period");
        }
        let verb = if self.memberships + self.live_tokens + self.revoked_tokens == 1 {
            "refers"
        } else {
            "refer"
        };
        Some(format!(
            "This {what} cannot be deleted: {} still {verb} to it. To delete it, first {}.",
            join_and(&uses),
            join_and(&steps),
        ))
    }
}

/// "a", "a and b", "a, b and c".
fn join_and(items: &[impl AsRef<str>]) -> String {
    match items {
        [] => String::new(),
        [one] => one.as_ref().to_owned(),
        [rest @ .., last] => format!(
            "{} and {}",
            rest.iter()
                .map(AsRef::as_ref)
                .collect::<Vec<_>>()
                .join(", "),
            last.as_ref()
        ),
    }
}

/// "1 membership", "3 memberships".
pub fn plural(n: i64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::scopes::parse;

    #[test]
    fn names_clash_case_insensitively_beyond_ascii() {
        assert_eq!(
            find_clash("finance", ["Field Ops", "FINANCE"]),
            Some("FINANCE")
        );
        assert_eq!(find_clash("  Équipe ", ["équipe"]), Some("équipe"));
        assert_eq!(find_clash("Finance 2", ["Finance"]), None);
        assert_eq!(find_clash("x", []), None);
    }

    #[test]
    fn name_rules() {
        assert!(check_name("Field Ops").is_ok());
        assert!(check_name("   ").is_err());
        assert!(check_name(&"x".repeat(100)).is_ok());
        assert!(check_name(&"x".repeat(101)).is_err());
        assert!(
            check_name(&"é".repeat(100)).is_ok(),
            "characters, not bytes"
        );
        assert!(check_name("a\u{0}b").is_err());
        assert!(check_name("<img src=x onerror=alert(1)>").is_ok());
    }

    #[test]
    fn description_rules() {
        assert!(check_description("", 10).is_ok());
        assert!(check_description("two\nlines", 10).is_ok());
        assert!(check_description(&"x".repeat(11), 10).is_err());
        assert!(check_description("bell\u{7}", 10).is_err());
    }

    #[test]
    fn scope_name_rules() {
        for good in [
            "devices:read",
            "introspect",
            "a",
            "reports.v2:read-all",
            "x_y:z9",
        ] {
            assert!(check_scope_name(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Devices:read",
            "devices:",
            ":read",
            "a:b:c",
            "1abc",
            "devices read",
            "devices:Read",
            "dévices",
            "a:_b",
        ] {
            assert!(check_scope_name(bad).is_err(), "{bad:?}");
        }
        assert!(check_scope_name(&"a".repeat(64)).is_ok());
        assert!(check_scope_name(&"a".repeat(65)).is_err());
    }

    #[test]
    fn resource_rules() {
        assert!(check_resource("Device").is_ok());
        assert!(check_resource("").is_err());
        assert!(check_resource(&"r".repeat(40)).is_ok());
        assert!(check_resource(&"r".repeat(41)).is_err());
    }

    #[test]
    fn forms_trim_and_report_per_field() {
        let mut form = DepartmentForm {
            name: "  Finance ".into(),
            description: " Money ".into(),
        };
        assert!(form.validate().is_empty());
        assert_eq!(
            (form.name.as_str(), form.description.as_str()),
            ("Finance", "Money")
        );

        let mut form = DepartmentForm {
            name: "n".repeat(10_000),
            description: "d".repeat(501),
        };
        let errors = form.validate();
        assert!(errors.get("name").is_some() && errors.get("description").is_some());

        let active = parse("devices:read devices:write");
        let mut form = UserTypeForm {
            name: "Reader".into(),
            description: String::new(),
            scopes: vec!["devices:read".into()],
        };
        assert!(form.validate(&active).is_empty());
        assert!(form.has_scope("devices:read") && !form.has_scope("devices:write"));
        form.scopes.push("users:write".into());
        assert!(
            form.validate(&active)
                .get("scopes")
                .unwrap()
                .contains("users:write")
        );
        form.scopes.clear();
        assert!(form.validate(&active).is_empty(), "no scopes is allowed");

        let mut form = ScopeForm {
            name: " reports:read ".into(),
            resource: " Report ".into(),
            description: "d".repeat(201),
        };
        let errors = form.validate(true);
        assert_eq!(form.name, "reports:read");
        assert!(errors.get("name").is_none() && errors.get("resource").is_none());
        assert!(errors.get("description").is_some());
        let mut form = ScopeForm {
            name: "BAD NAME".into(),
            resource: "Report".into(),
            description: String::new(),
        };
        assert!(form.validate(false).is_empty(), "the name is not edited");
        assert!(form.validate(true).get("name").is_some());
    }

    #[test]
    fn deletion_is_refused_while_in_use() {
        assert_eq!(Usage::default().blocker("department"), None);
        let one = Usage {
            memberships: 1,
            ..Usage::default()
        };
        let message = one.blocker("department").unwrap();
        assert_eq!(
            message,
            "This department cannot be deleted: 1 membership still refers to it. \
             To delete it, first remove the memberships."
        );
        let all = Usage {
            memberships: 2,
            live_tokens: 1,
            revoked_tokens: 3,
        };
        let message = all.blocker("user type").unwrap();
        assert!(
            message.starts_with(
                "This user type cannot be deleted: 2 memberships, 1 live token and \
                 3 revoked tokens still refer to it."
            ),
            "{message}"
        );
        assert!(message.contains("remove the memberships, revoke the tokens and wait"));
        let tokens = Usage {
            live_tokens: 2,
            ..Usage::default()
        };
        assert!(
            tokens
                .blocker("department")
                .unwrap()
                .contains("2 live tokens still refer to it")
        );
    }
}
