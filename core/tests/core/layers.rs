//! The house rules of `breakglass-core`, checked from the source rather than by eye: its modules
//! import each other in no circle, a room imports only the rooms below it ([`CORE_ROOMS`]), and
//! the bus events (`events`) import nothing of the crate. The same reading of the source finds
//! circles among the top-level modules of the workspace's other crates ([`OTHER_CRATES`]).
//!
//! A reference is any `crate::`, `super::` or `self::` path (in a `use`, grouped or not, or
//! inline) and any path through a child module that the file declares (`mod x;` then `x::…`);
//! comments are not read. Inline modules (`mod tests { use super::*; }`) resolve their paths from
//! where they are, so a file's own tests do not make it import its parent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The rooms of `core/src`, lowest first, and the top-level modules in each. A room may import
/// itself and the rooms before it, never one after it.
const CORE_ROOMS: &[(&str, &[&str])] = &[
    ("ground", &["time", "guarded", "events", "notice", "metrics", "command", "ports"]),
    ("inbound", &["inbound"]),
    ("organisation", &["organisation"]),
    ("trail", &["trail"]),
    ("access", &["access"]),
    ("guard", &["guard"]),
    ("notify", &["notify"]),
    ("runtime", &["runtime"]),
    // The fakes of the ports (feature `test-util`), for tests only.
    ("testing", &["testing"]),
];

/// Folders whose files may import each other in a circle inside the folder: none (a parent that
/// dispatches to its children keeps its shared helpers in a child of its own, as `notify/mail.rs`).
const CIRCLES_TOLERATED_INSIDE: &[&str] = &[];

/// Modules that must import nothing of the crate outside themselves.
const CORE_LEAVES: &[&str] = &["events", "notice", "metrics", "command"];

/// The other crates' sources, from the workspace root, whose top-level modules must not import each
/// other in a circle (the Lambda mains are one file each).
const OTHER_CRATES: &[&str] =
    &["canonical-policies/src", "config/src", "aws/src", "breakglass/src", "tests/src", "proofs/src"];

/// A module's path inside its crate, `""` for the crate root.
type Module = String;

fn core_src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

#[test]
fn core_modules_import_each_other_in_no_circle() {
    let graph = Graph::read(&core_src());
    let inside = |dir: &str, m: &str| m == dir || m.starts_with(&format!("{dir}::"));
    let circles: Vec<Circle> = graph
        .circles(usize::MAX)
        .into_iter()
        .filter(|c| !CIRCLES_TOLERATED_INSIDE.iter().any(|dir| c.members.iter().all(|m| inside(dir, m))))
        .collect();
    assert!(circles.is_empty(), "circles among core's modules:\n{}", show(&circles));
}

#[test]
fn core_rooms_import_only_rooms_below() {
    let graph = Graph::read(&core_src());
    let room = |m: &str| -> Option<usize> {
        let top = m.split("::").next().unwrap_or(m);
        CORE_ROOMS.iter().position(|(_, tops)| tops.contains(&top))
    };
    let mut unhoused = BTreeSet::new();
    let mut upward = Vec::new();
    for (from, tos) in &graph.edges {
        if from.is_empty() {
            continue; // lib.rs declares the rooms
        }
        let Some(lower) = room(from) else {
            unhoused.insert(from.clone());
            continue;
        };
        for to in tos.iter().filter(|t| !t.is_empty()) {
            match room(to) {
                Some(higher) if higher > lower => {
                    upward.push(format!(
                        "{from} ({}) imports {to} ({})",
                        CORE_ROOMS[lower].0, CORE_ROOMS[higher].0
                    ));
                }
                Some(_) => {}
                None => {
                    unhoused.insert(to.clone());
                }
            }
        }
    }
    assert!(unhoused.is_empty(), "modules in no room of CORE_ROOMS (give them one): {unhoused:?}");
    assert!(upward.is_empty(), "imports running up:\n{}", upward.join("\n"));
}

#[test]
fn core_leaves_import_nothing_of_the_crate() {
    let graph = Graph::read(&core_src());
    let inside = |leaf: &str, m: &str| m == leaf || m.starts_with(&format!("{leaf}::"));
    for leaf in CORE_LEAVES {
        let out: Vec<String> = graph
            .edges
            .iter()
            .filter(|(from, _)| inside(leaf, from))
            .flat_map(|(from, tos)| {
                tos.iter().filter(|t| !inside(leaf, t)).map(move |t| format!("{from} imports {t}"))
            })
            .collect();
        assert!(out.is_empty(), "`{leaf}` must be a leaf:\n{}", out.join("\n"));
    }
}

#[test]
fn other_crates_have_no_circles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    for krate in OTHER_CRATES {
        let graph = Graph::read(&root.join(krate));
        assert!(graph.edges.len() > 1, "{krate}: no modules read");
        let circles = graph.circles(1);
        assert!(circles.is_empty(), "circles among the top-level modules of {krate}:\n{}", show(&circles));
    }
}

#[test]
fn the_reader_finds_what_it_should() {
    let src = "
        use crate::{a::{b, c::D}, e};
        use super::f::G as H;
        // use crate::commented::Out;
        mod kid;
        fn x() { crate::i::j(); kid::k(); let s = \"crate::in_string\"; }
        #[cfg(test)]
        mod tests { use super::*; use super::super::up::Z; }
    ";
    let refs = references(src, "m::n", &["m::n::kid"].map(String::from).into_iter().collect());
    let want = ["a::b", "a::c::D", "e", "m::f::G", "i::j", "m::n::kid::k", "m::n", "m::up::Z"];
    assert_eq!(refs, want.map(String::from).into_iter().collect::<BTreeSet<_>>());
    let mut g = Graph { edges: BTreeMap::new() };
    for (a, b) in [("x", "y"), ("y", "z::w"), ("z::w", "x"), ("q", "x")] {
        g.edges.entry(a.into()).or_default().insert(b.into());
    }
    let cycles = |depth| g.circles(depth).into_iter().map(|c| c.cycle).collect::<Vec<_>>();
    assert_eq!(cycles(usize::MAX), vec![vec!["x".to_owned(), "y".into(), "z::w".into()]]);
    assert_eq!(cycles(1), vec![vec!["x".to_owned(), "y".into(), "z".into()]]);
}

fn show(circles: &[Circle]) -> String {
    let line = |c: &Circle| format!("  {} -> {} (all of: {:?})", c.cycle.join(" -> "), c.cycle[0], c.members);
    circles.iter().map(line).collect::<Vec<_>>().join("\n")
}

/// Modules that reach each other, and one cycle through them.
#[derive(Debug, PartialEq)]
struct Circle {
    members: BTreeSet<Module>,
    cycle: Vec<Module>,
}

/// Which module references which, among a crate's file modules.
struct Graph {
    edges: BTreeMap<Module, BTreeSet<Module>>,
}

impl Graph {
    /// Every `.rs` under `src` (a crate's source folder, holding `lib.rs` or `main.rs`).
    fn read(src: &Path) -> Graph {
        let mut files = Vec::new();
        walk(src, &mut files);
        let modules: BTreeMap<Module, PathBuf> =
            files.iter().filter_map(|f| module_of(src, f).map(|m| (m, f.clone()))).collect();
        let known: BTreeSet<Module> = modules.keys().cloned().collect();
        let mut edges = BTreeMap::new();
        for (m, file) in &modules {
            let text = std::fs::read_to_string(file).unwrap();
            let refs = references(&text, m, &known);
            let to: BTreeSet<Module> =
                refs.iter().filter_map(|r| owner(r, &known)).filter(|t| t != m && !m.is_empty()).collect();
            edges.insert(m.clone(), to);
        }
        Graph { edges }
    }

    /// The circles among modules cut to their first `depth` segments (1: top-level modules): each
    /// set of modules that reach each other (a strongly connected component), least first, shown
    /// by one cycle through its least module.
    fn circles(&self, depth: usize) -> Vec<Circle> {
        let cut = |m: &str| m.split("::").take(depth).collect::<Vec<_>>().join("::");
        let mut g: BTreeMap<Module, BTreeSet<Module>> = BTreeMap::new();
        for (from, tos) in &self.edges {
            let f = cut(from);
            let entry = g.entry(f.clone()).or_default();
            entry.extend(tos.iter().map(|t| cut(t)).filter(|t| *t != f && !t.is_empty()));
        }
        g.retain(|k, _| !k.is_empty());
        let reach = |from: &str| -> BTreeSet<Module> {
            let mut seen = BTreeSet::new();
            let mut todo = vec![from.to_owned()];
            while let Some(at) = todo.pop() {
                for next in g.get(&at).into_iter().flatten() {
                    if seen.insert(next.clone()) {
                        todo.push(next.clone());
                    }
                }
            }
            seen
        };
        let reaches: BTreeMap<&Module, BTreeSet<Module>> = g.keys().map(|k| (k, reach(k))).collect();
        let mut found = Vec::new();
        let mut done: BTreeSet<Module> = BTreeSet::new();
        for (start, from_start) in &reaches {
            if done.contains(*start) || !from_start.contains(*start) {
                continue;
            }
            let members: BTreeSet<Module> = from_start
                .iter()
                .filter(|m| reaches.get(m).is_some_and(|r| r.contains(*start)))
                .cloned()
                .collect();
            done.extend(members.iter().cloned());
            let cycle = cycle_through(&g, start).unwrap_or_else(|| members.iter().cloned().collect());
            found.push(Circle { members, cycle });
        }
        found
    }
}

/// The shortest cycle from `start` back to itself (breadth first), rotated to begin at its least
/// module so that the same circle is reported the same way.
fn cycle_through(g: &BTreeMap<Module, BTreeSet<Module>>, start: &str) -> Option<Vec<Module>> {
    let mut parent: BTreeMap<Module, Module> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([start.to_owned()]);
    while let Some(at) = queue.pop_front() {
        for next in g.get(&at).into_iter().flatten() {
            if next == start {
                let mut path = vec![at.clone()];
                while let Some(p) = parent.get(path.last().unwrap()) {
                    path.push(p.clone());
                }
                path.reverse();
                let least = path.iter().enumerate().min_by_key(|(_, m)| (*m).clone()).map_or(0, |(i, _)| i);
                path.rotate_left(least);
                return Some(path);
            }
            if next != start && !parent.contains_key(next) {
                parent.insert(next.clone(), at.clone());
                queue.push_back(next.clone());
            }
        }
    }
    None
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            walk(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `lib.rs`/`main.rs` → `""`, `a/mod.rs` → `a`, `a/b.rs` → `a::b`; `None` for `bin/` and the like
/// (separate crates).
fn module_of(src: &Path, file: &Path) -> Option<Module> {
    let rel = file.strip_prefix(src).ok()?;
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.first().is_some_and(|p| p == "bin") {
        return None;
    }
    let last = parts.pop()?;
    let stem = last.strip_suffix(".rs")?;
    if parts.is_empty() && (stem == "lib" || stem == "main") {
        return Some(String::new());
    }
    if stem != "mod" {
        parts.push(stem.to_owned());
    }
    Some(parts.join("::"))
}

/// The known module a path (from the crate root) lands in: its longest known prefix.
fn owner(path: &str, known: &BTreeSet<Module>) -> Option<Module> {
    let segs: Vec<&str> = path.split("::").collect();
    (1..=segs.len()).rev().map(|n| segs[..n].join("::")).find(|p| known.contains(p))
}

/// Every path of the crate that `text` (the file of module `module`) references, from the crate
/// root. `known` are the file modules, so that `mod x;` children are recognised.
fn references(text: &str, module: &str, known: &BTreeSet<Module>) -> BTreeSet<String> {
    let tokens = tokenize(text);
    let base: Vec<String> =
        if module.is_empty() { vec![] } else { module.split("::").map(String::from).collect() };
    // Inline modules open a scope: (its path, the brace depth at which it closes).
    let mut scopes: Vec<(Vec<String>, usize)> = vec![(base.clone(), 0)];
    let mut depth = 0usize;
    let mut out = BTreeSet::new();
    let mut i = 0;
    let children = |here: &[String]| -> BTreeSet<String> {
        let prefix = here.join("::");
        known
            .iter()
            .filter_map(|k| {
                let rest =
                    if prefix.is_empty() { Some(k.as_str()) } else { k.strip_prefix(&format!("{prefix}::")) };
                rest.filter(|r| !r.is_empty() && !r.contains("::")).map(String::from)
            })
            .collect()
    };
    while i < tokens.len() {
        let here = scopes.last().map(|s| s.0.clone()).unwrap_or_default();
        let t = tokens[i].as_str();
        match t {
            "{" => depth += 1,
            "}" => {
                depth = depth.saturating_sub(1);
                if scopes.len() > 1 && scopes.last().is_some_and(|s| s.1 == depth) {
                    scopes.pop();
                }
            }
            "mod" if tokens.get(i + 2).is_some_and(|t| t == "{") => {
                let mut inner = here.clone();
                inner.push(tokens[i + 1].clone());
                scopes.push((inner, depth));
                depth += 1;
                i += 3;
                continue;
            }
            "mod" => {
                i += 3; // `mod x;`: a declaration, not a use
                continue;
            }
            "use" => {
                let end = tokens[i..].iter().position(|t| t == ";").map_or(tokens.len(), |p| i + p);
                for path in expand_use(&tokens[i + 1..end]) {
                    if let Some(full) = resolve(&path, &here, &children(&here)) {
                        out.insert(full);
                    }
                }
                i = end + 1;
                continue;
            }
            _ if is_ident(t) && tokens.get(i + 1).is_some_and(|n| n == "::") && !prev_is_path(&tokens, i) => {
                let mut path = vec![t.to_owned()];
                let mut j = i + 1;
                while tokens.get(j).is_some_and(|n| n == "::")
                    && tokens.get(j + 1).is_some_and(|n| is_ident(n))
                {
                    path.push(tokens[j + 1].clone());
                    j += 2;
                }
                if let Some(full) = resolve(&path, &here, &children(&here)) {
                    out.insert(full);
                }
                i = j;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

fn prev_is_path(tokens: &[String], i: usize) -> bool {
    i > 0 && tokens[i - 1] == "::"
}

/// A path written in module `here` (segments), from the crate root; `None` when it starts outside
/// the crate (`std::`, another crate, a local name).
fn resolve(path: &[String], here: &[String], children: &BTreeSet<String>) -> Option<String> {
    let mut at: Vec<String> = here.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            at.clear();
            rest = &rest[1..];
        }
        Some("super") | Some("self") => {
            while let Some(s) = rest.first().map(String::as_str) {
                match s {
                    "super" => {
                        at.pop()?;
                    }
                    "self" => {}
                    _ => break,
                }
                rest = &rest[1..];
            }
        }
        Some(first) if children.contains(first) => {}
        _ => return None,
    }
    at.extend(rest.iter().filter(|s| *s != "*" && *s != "self").cloned());
    Some(at.join("::"))
}

/// `a::{b, c::{d, e as f}}` → `a::b`, `a::c::d`, `a::c::e` (segments each).
fn expand_use(tokens: &[String]) -> Vec<Vec<String>> {
    fn tree(tokens: &[String], i: &mut usize, prefix: &[String], out: &mut Vec<Vec<String>>) {
        let mut path = prefix.to_vec();
        while *i < tokens.len() {
            match tokens[*i].as_str() {
                "::" => *i += 1,
                "{" => {
                    *i += 1;
                    loop {
                        tree(tokens, i, &path, out);
                        match tokens.get(*i).map(String::as_str) {
                            Some(",") => *i += 1,
                            Some("}") => {
                                *i += 1;
                                break;
                            }
                            _ => break,
                        }
                        if tokens.get(*i).is_some_and(|t| t == "}") {
                            *i += 1;
                            break;
                        }
                    }
                    return;
                }
                "," | "}" => break,
                "as" => *i += 2,
                t => {
                    path.push(t.to_owned());
                    *i += 1;
                }
            }
        }
        out.push(path);
    }
    let mut out = Vec::new();
    tree(tokens, &mut 0, &[], &mut out);
    out.retain(|p| !p.is_empty());
    out
}

fn is_ident(t: &str) -> bool {
    t.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_alphanumeric() || c == '_')
}

/// Identifiers, `::`, and single punctuation; comments (doc comments too: a doc link is not an
/// import), string and char literals dropped.
fn tokenize(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && chars.get(i + 1) == Some(&'*') {
            let mut nest = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    nest += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    nest -= 1;
                    i += 2;
                    if nest == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            // Raw strings: r"…", r#"…"#, br"…".
            if (word == "r" || word == "br") && i < chars.len() && (chars[i] == '"' || chars[i] == '#') {
                let mut hashes = 0;
                while i < chars.len() && chars[i] == '#' {
                    hashes += 1;
                    i += 1;
                }
                if i < chars.len() && chars[i] == '"' {
                    i += 1;
                    let close: String =
                        std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
                    let close: Vec<char> = close.chars().collect();
                    while i < chars.len() && !chars[i..].starts_with(&close) {
                        i += 1;
                    }
                    i += close.len();
                    continue;
                }
            }
            out.push(word);
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\'') or a lifetime ('a): skip the literal, keep nothing.
            if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else if chars.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else {
                i += 1;
            }
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            out.push("::".into());
            i += 2;
        } else if c.is_whitespace() {
            i += 1;
        } else {
            out.push(c.to_string());
            i += 1;
        }
    }
    out
}
