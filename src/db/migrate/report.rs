//! What a run reports: each migration applied or reverted, and the lines of
//! `migrate status`.

use std::fmt;

use crate::timestamp::Timestamp;

/// What a run did to one migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: &'static str,
    /// How long its SQL took.
    pub duration_ms: i64,
}

/// One line of `migrate status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    /// The version.
    pub version: i64,
    /// The name.
    pub name: String,
    /// When it was applied, if it was.
    pub applied_at: Option<Timestamp>,
    /// Known to this binary.
    pub known: bool,
    /// Applied with SQL other than this binary's.
    pub drifted: bool,
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match (&self.applied_at, self.known, self.drifted) {
            (_, false, _) => "UNKNOWN (applied by a newer binary)".to_owned(),
            (Some(_), _, true) => "DRIFTED (file changed after it was applied)".to_owned(),
            (Some(at), _, false) => format!("applied {at}"),
            (None, _, _) => "pending".to_owned(),
        };
        write!(f, "{} {:<32} {state}", self.version, self.name)
    }
}
