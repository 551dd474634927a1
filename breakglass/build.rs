//! The commit `breakglass --version` names: `git rev-parse --short HEAD`, or `unknown` where there
//! is no git or no repository (a source tarball). Cargo reruns this only when HEAD or the branch it
//! points at moves, so the commit stays fresh without a rebuild on every build.

use std::path::Path;
use std::process::Command;

fn main() {
    let commit = git(&["rev-parse", "--short", "HEAD"]).unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=BREAKGLASS_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // `--git-path` resolves HEAD in a worktree and a ref in the common directory; a path that does
    // not exist would make cargo rerun this every time, so only existing ones are named.
    let mut watched = vec![git(&["rev-parse", "--git-path", "HEAD"])];
    if let Some(branch) =
        git(&["rev-parse", "--symbolic-full-name", "HEAD"]).filter(|r| r.starts_with("refs/"))
    {
        watched.push(git(&["rev-parse", "--git-path", &branch]));
    }
    watched.push(git(&["rev-parse", "--git-path", "packed-refs"]));
    for path in watched.into_iter().flatten().filter(|p| Path::new(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
}

/// A git command's trimmed output, `None` when git is missing, fails, or says nothing.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_owned();
    (out.status.success() && !text.is_empty()).then_some(text)
}
