//! The `breakglass` command lines that mails, errors and the CLI print: pasteable as printed, each
//! argument one shell word, `--config` named when the printer knows the path (a mail does not: it
//! tells the reader to set `BREAKGLASS_CONFIG`, which the CLI reads instead). It imports nothing of
//! the crate.

/// `breakglass <words> [--config <config>] <flag> <value>…`, each value one shell word.
pub fn command_line(words: &[&str], config: Option<&str>, flags: &[(&str, &str)]) -> String {
    let mut cmd = String::from("breakglass");
    for w in words {
        cmd.push(' ');
        cmd.push_str(&shell_word(w));
    }
    if let Some(c) = config {
        cmd.push_str(" --config ");
        cmd.push_str(&shell_word(c));
    }
    for (flag, value) in flags {
        cmd.push_str(&format!(" {flag} {}", shell_word(value)));
    }
    cmd
}

/// `w` as one POSIX shell word: bare when it is plain, else single-quoted.
fn shell_word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-:=@+,".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}
