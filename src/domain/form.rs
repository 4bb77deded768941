//! Field errors of a submitted form, shown beside the fields they concern.

/// Messages keyed by form field name, in the order they were found.
#[derive(Debug, Default, Clone)]
pub struct FieldErrors(Vec<(&'static str, String)>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: &'static str, message: impl Into<String>) {
        if self.get(field).is_none() {
            self.0.push((field, message.into()));
        }
    }

    /// Records `result`'s error, if any, against `field`.
    pub fn check(&mut self, field: &'static str, result: Result<(), &'static str>) {
        if let Err(message) = result {
            self.add(field, message);
        }
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(name, _)| *name == field)
            .map(|(_, message)| message.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &str)> {
        self.0
            .iter()
            .map(|(name, message)| (*name, message.as_str()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_message_per_field() {
        let mut errors = FieldErrors::new();
        errors.check("name", Err("first"));
        errors.check("name", Err("second"));
        errors.check("email", Ok(()));
        assert_eq!(errors.get("name"), Some("first"));
        assert_eq!(errors.get("email"), None);
        assert!(!errors.is_empty());
    }
}
