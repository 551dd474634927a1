//! Every `breakglass …` command line of README.md and docs/*.md, put through the CLI's own clap
//! parser, so that the docs cannot drift from the flags. Fenced code blocks (lines continued with
//! `\`, `$ ` prompts, `# comments` and `$(breakglass …)` substitutions) and inline spans with a flag
//! are read; a span without one names a command or an event (`breakglass request`) and is left out.
//! In a block without a language (diagrams, sample output) only `$ ` lines count. Synopses are
//! read as one of their forms: `[x | y]` as `x`, `closed|open` as `closed`, `…` dropped unless
//! it stands for a flag's value. Placeholders (`ID`, `<bucket>`) are fine as values, also where clap checks the type.

use std::path::{Path, PathBuf};

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::Parser;

use super::Cli;

fn doc_files() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// (line number, command text) of every `breakglass` command in a markdown text.
fn commands(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fenced = false;
    // In a block without a language (diagrams, sample output) only `$ ` lines are commands.
    let mut prompted_only = false;
    let mut pending: Option<(usize, String)> = None;
    let mut prose = String::new();
    let mut prose_start = 1;
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        if line.trim_start().starts_with("```") {
            if !fenced {
                out.extend(inline_commands(&prose, prose_start));
                prose.clear();
            }
            fenced = !fenced;
            prompted_only = line.trim() == "```";
            prose_start = n + 1;
            continue;
        }
        if !fenced {
            prose.push_str(line);
            prose.push('\n');
            continue;
        }
        let (start, mut joined) = pending.take().unwrap_or((n, String::new()));
        if let Some(head) = line.trim_end().strip_suffix('\\') {
            joined.push_str(head);
            joined.push(' ');
            pending = Some((start, joined));
            continue;
        }
        joined.push_str(line);
        if prompted_only && !joined.trim_start().starts_with("$ ") {
            continue;
        }
        out.extend(shell_commands(&joined).into_iter().map(|c| (start, c)));
    }
    out.extend(inline_commands(&prose, prose_start));
    out
}

/// The `breakglass …` commands of one shell line: at its start (after a `$ ` prompt) or in `$(…)`.
fn shell_commands(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let trimmed = line.trim_start();
    let trimmed = trimmed.strip_prefix("$ ").unwrap_or(trimmed);
    if trimmed.starts_with("breakglass ") {
        out.push(trimmed.to_owned());
    }
    let mut rest = line;
    while let Some(at) = rest.find("$(breakglass ") {
        let inner = rest.get(at + 2..).unwrap_or_default();
        let end = inner.find(')').unwrap_or(inner.len());
        out.push(inner.get(..end).unwrap_or_default().to_owned());
        rest = inner.get(end..).unwrap_or_default();
    }
    out
}

/// Inline spans of prose that are a `breakglass` command with at least one flag (a span may wrap).
fn inline_commands(prose: &str, first_line: usize) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut parts = prose.split('`');
    let mut line = first_line;
    let mut inside = false;
    while let Some(part) = parts.next() {
        if inside {
            let span = part.split_whitespace().collect::<Vec<_>>().join(" ");
            if span.starts_with("breakglass ") && span.contains(" -") {
                out.push((line, span));
            }
        }
        line += part.matches('\n').count();
        inside = !inside;
        if parts.clone().next().is_none() {
            break;
        }
    }
    out
}

/// One form of a synopsis: `[x | y]` as `x`, `a|b` as `a`, `…` dropped, stopped at a comment or pipe.
fn one_form(command: &str) -> String {
    let mut out = String::new();
    let mut depth = 0usize;
    let mut skipping_at: Option<usize> = None;
    let mut chars = command.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' => depth += 1,
            ']' => {
                if skipping_at == Some(depth) {
                    skipping_at = None;
                }
                depth = depth.saturating_sub(1);
            }
            ' ' if depth > 0 && skipping_at.is_none() && chars.peek() == Some(&'|') => {
                // ` | ` inside brackets: the alternatives after the first are skipped.
                skipping_at = Some(depth);
            }
            _ if skipping_at.is_some() => {}
            _ => out.push(c),
        }
    }
    out
}

/// Shell words, with quotes; a word starting with `#` or a `|`, `;`, `&&` word ends the command.
fn words(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                started = true;
            }
            (None, c) if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut word));
                    started = false;
                }
            }
            (None, c) => {
                word.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(word);
    }
    let end = out.iter().position(|w| w.starts_with('#') || matches!(w.as_str(), "|" | ";" | "&&"));
    out.truncate(end.unwrap_or(out.len()));
    // A `…` after a flag stands for its value; after a value, for "more of the same".
    let mut kept: Vec<String> = Vec::new();
    for w in out {
        let ellipsis = matches!(w.as_str(), "…" | "...");
        if !ellipsis || kept.last().is_some_and(|p| p.starts_with("--")) {
            kept.push(w);
        }
    }
    kept.into_iter()
        .map(|w| match w.split_once('|') {
            Some((first, _)) if !first.is_empty() => first.to_owned(),
            _ => w,
        })
        .collect()
}

/// `ID`, `SECONDS`, `<bucket>`, `o-…`: a value the reader fills in.
fn placeholder(value: &str) -> bool {
    let upper = value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    upper && value.chars().any(|c| c.is_ascii_uppercase()) || value.starts_with('<') || value.contains('…')
}

/// A command line as breakglass prints it, through the CLI's parser (the tests of printed commands).
pub(crate) fn parse_printed(cmd: &str) -> super::Command {
    match Cli::try_parse_from(words(cmd)) {
        Ok(cli) => cli.command,
        Err(e) => panic!("`{cmd}`: {e}"),
    }
}

fn check(command: &str) -> Result<(), String> {
    let argv = words(&one_form(command));
    match Cli::try_parse_from(&argv) {
        Ok(_) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => Ok(()),
        Err(e) if matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) => {
            match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(v)) if placeholder(v) => Ok(()),
                _ => Err(first_line(&e)),
            }
        }
        Err(e) => Err(first_line(&e)),
    }
}

fn first_line(e: &clap::Error) -> String {
    e.render().to_string().lines().next().unwrap_or_default().to_owned()
}

#[test]
fn every_breakglass_command_in_the_docs_parses() {
    let mut broken = Vec::new();
    let mut seen = 0;
    for file in doc_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        for (line, command) in commands(&text) {
            seen += 1;
            if let Err(e) = check(&command) {
                broken.push(format!("{name}:{line}: `{command}`: {e}"));
            }
        }
    }
    // The README's synopsis alone has more than twenty: finding few means the reader broke.
    assert!(seen > 40, "only {seen} commands found");
    assert!(broken.is_empty(), "{} doc command(s) the CLI refuses:\n{}", broken.len(), broken.join("\n"));
}

#[test]
fn the_reader_finds_commands_where_the_docs_put_them() {
    let text = "x `breakglass status\n  --config c.toml` y `breakglass request` event\n```sh\n$ breakglass policy hash \\\n  f.json  # why\nsam deploy --x \"$(breakglass config compact --config b.toml)\"\n```\n";
    let found: Vec<String> = commands(text).into_iter().map(|(_, c)| c).collect();
    for want in [
        "breakglass status --config c.toml",
        "breakglass policy hash    f.json  # why",
        "breakglass config compact --config b.toml",
    ] {
        assert!(found.iter().any(|c| c == want), "{want}: {found:?}");
    }
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(
        words(&one_form("breakglass status --config F [--account ID|ALIAS | --all] [--json] # x")),
        ["breakglass", "status", "--config", "F", "--account", "ID", "--json"]
    );
    assert!(check("breakglass deny ID --config FILE --reason TEXT").is_ok());
    assert!(check("breakglass approve ID --config FILE --wait 60").is_err());
    assert!(check("breakglass notify --config c.toml --event e.json --record").is_err());
}
