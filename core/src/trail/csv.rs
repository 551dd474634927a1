//! The one CSV writer of the files auditors open (`breakglass report --csv`, `history --csv`).
//! Object keys in refused reads are chosen by whoever asked, so every cell is treated as hostile:
//! a cell a spreadsheet would read as a formula is prefixed with `'` (OWASP, CSV injection), and
//! every cell is quoted as RFC 4180 says when it holds a separator, a quote or a line break.

/// The first characters that make a spreadsheet evaluate a cell (tab and CR start one in some).
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One cell, neutralised and quoted.
pub fn cell(s: &str) -> String {
    let s = if s.starts_with(FORMULA_STARTS) { format!("'{s}") } else { s.to_owned() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// One line: the cells, each through [`cell`], comma-separated, ending in a newline.
pub fn row<S: AsRef<str>>(cells: &[S]) -> String {
    let mut line = cells.iter().map(|c| cell(c.as_ref())).collect::<Vec<_>>().join(",");
    line.push('\n');
    line
}
