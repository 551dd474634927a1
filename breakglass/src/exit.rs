//! The CLI's exit codes by kind: the one table, printed by `breakglass --help` and copied into
//! README.md (a test ties the copy to this enum).

use std::process::ExitCode;

/// How a command ended. Ordered by severity: when several buckets end differently, the highest
/// wins (a bucket that could not be checked outweighs drift found in another).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// All well: nothing found, everything done.
    Ok,
    /// Something was found: drift, a bucket not lawful, tampering, reads outside a grant.
    Found,
    /// AWS trouble worth retrying: throttling, 5xx, a timeout, the network.
    Retry,
    /// Not worth retrying unchanged: usage, config, credentials, Region, profile, endpoint, or a
    /// resource missing or refused (`NoSuchBucket`, `AccessDenied`).
    Refused,
}

impl Exit {
    pub const ALL: [Exit; 4] = [Exit::Ok, Exit::Retry, Exit::Refused, Exit::Found];

    pub fn code(self) -> u8 {
        match self {
            Exit::Ok => 0,
            Exit::Retry => 1,
            Exit::Refused => 2,
            Exit::Found => 3,
        }
    }

    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "all well: every bucket closed or lawfully open, nothing found, everything done",
            Exit::Retry => "AWS trouble worth retrying: throttling, 5xx, a timeout, the network",
            Exit::Refused => "not worth retrying unchanged: usage, config, credentials, Region, profile, endpoint, or a resource missing or refused (`NoSuchBucket`, `AccessDenied`); one lowercase line on stderr",
            Exit::Found => "something found: drift, a bucket not lawful, a tampered record, a read outside a grant",
        }
    }

    /// The table as README.md has it.
    pub fn markdown() -> String {
        let mut out = String::from("| exit code | meaning |\n|---|---|\n");
        for e in Exit::ALL {
            out.push_str(&format!("| {} | {} |\n", e.code(), e.meaning()));
        }
        out
    }

    /// The table as `breakglass --help` ends.
    pub fn help() -> String {
        let mut out = String::from("Exit codes:\n");
        for e in Exit::ALL {
            out.push_str(&format!("  {}  {}\n", e.code(), e.meaning()));
        }
        out.push_str(
            "`status` and `enforce` check every bucket: the worst outcome wins, 2 over 1 over 3 (a bucket not checked outweighs drift found in another); `enforce` exits 3 when it remediated a bucket (or would, with --dry-run).",
        );
        out
    }
}

impl From<Exit> for ExitCode {
    fn from(e: Exit) -> ExitCode {
        ExitCode::from(e.code())
    }
}

#[cfg(test)]
mod tests {
    use super::Exit;

    /// README.md carries the table word for word.
    #[test]
    fn readme_has_the_exit_code_table() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let readme = std::fs::read_to_string(root.join("README.md")).unwrap_or_default();
        assert!(readme.contains(&Exit::markdown()), "README.md must carry:\n{}", Exit::markdown());
    }
}
