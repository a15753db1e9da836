//! The delivery naming rule: every file name in a package uses only `[A-Za-z0-9._-]`. One place
//! for the rule, used by npack (the packager) and the hub's domain alike, with no dependencies of
//! its own beyond serde.

use std::fmt;

/// Where a name breaks the delivery rule.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct NameIssue {
    /// The offending character.
    pub character: char,
    /// Its position in the name, counted in characters from 0.
    pub position: usize,
}

impl fmt::Display for NameIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "character {:?} (U+{:04X}) at position {} is outside the delivery rule [A-Za-z0-9._-]",
            self.character, self.character as u32, self.position
        )
    }
}

/// True for the characters the delivery rule allows.
pub fn is_allowed_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')
}

/// Checks a bare file name against the delivery rule, pointing at the first offending character.
pub fn check_delivery_name(name: &str) -> Result<(), NameIssue> {
    match name.chars().enumerate().find(|(_, c)| !is_allowed_char(*c)) {
        Some((position, character)) => Err(NameIssue { character, position }),
        None => Ok(()),
    }
}

/// Renders the name with a caret under the offending character, for terminal reports.
pub fn point_at(name: &str, issue: &NameIssue) -> String {
    let pad: String = name.chars().take(issue.position).map(|_| ' ').collect();
    format!("{name}\n{pad}^")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_rule() {
        assert!(check_delivery_name("shot010.0086400.dpx").is_ok());
        assert!(check_delivery_name("A-b_c.9").is_ok());
    }

    #[test]
    fn points_at_the_first_bad_character() {
        let issue = check_delivery_name("shot 010.dpx").unwrap_err();
        assert_eq!(issue, NameIssue { character: ' ', position: 4 });
        let issue = check_delivery_name("café.dpx").unwrap_err();
        assert_eq!(issue, NameIssue { character: 'é', position: 3 });
        assert_eq!(point_at("café.dpx", &issue), "café.dpx\n   ^");
        assert!(issue.to_string().contains("U+00E9"));
    }
}
