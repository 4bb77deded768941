//! What a bulk revocation did, and how the page reports it.

/// The outcome of one bulk revocation (one transaction).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RevokeOutcome {
    /// Tokens this revocation revoked.
    pub revoked: usize,
    /// Chosen tokens that were revoked already (by someone else since the
    /// confirmation page, say).
    pub already_revoked: usize,
    /// Chosen ids that no token has (any more).
    pub missing: usize,
}

impl RevokeOutcome {
    /// `Revoked 3 tokens.`, then what was skipped, if anything:
    /// `Revoked 3 tokens. 1 was already revoked; 2 no longer exist.`
    pub fn summary(&self) -> String {
        let mut out = format!(
            "Revoked {} {}.",
            self.revoked,
            if self.revoked == 1 { "token" } else { "tokens" }
        );
        let mut skipped = Vec::with_capacity(2);
        if self.already_revoked > 0 {
            skipped.push(format!(
                "{} {} already revoked",
                self.already_revoked,
                if self.already_revoked == 1 {
                    "was"
                } else {
                    "were"
                }
            ));
        }
        if self.missing > 0 {
            skipped.push(format!(
                "{} no longer {}",
                self.missing,
                if self.missing == 1 { "exists" } else { "exist" }
            ));
        }
        if !skipped.is_empty() {
            out.push(' ');
            out.push_str(&skipped.join("; "));
            out.push('.');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries_say_what_was_skipped() {
        let outcome = |revoked, already_revoked, missing| RevokeOutcome {
            revoked,
            already_revoked,
            missing,
        };
        assert_eq!(outcome(3, 0, 0).summary(), "Revoked 3 tokens.");
        assert_eq!(outcome(1, 0, 0).summary(), "Revoked 1 token.");
        assert_eq!(outcome(0, 0, 0).summary(), "Revoked 0 tokens.");
        assert_eq!(
            outcome(3, 1, 0).summary(),
            "Revoked 3 tokens. 1 was already revoked."
        );
        assert_eq!(
            outcome(3, 0, 1).summary(),
            "Revoked 3 tokens. 1 no longer exists."
        );
        assert_eq!(
            outcome(0, 2, 5).summary(),
            "Revoked 0 tokens. 2 were already revoked; 5 no longer exist."
        );
    }
}
