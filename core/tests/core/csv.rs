//! The CSV auditors open: hostile cells (object keys of refused reads, reasons typed by whoever
//! asked) are neutralised against formula injection and quoted, and read back as written.

use breakglass_core::events::ObjectRead;
use breakglass_core::trail::csv::{cell, row};
use breakglass_core::trail::history::{self, Entry, Step};
use breakglass_core::trail::report;
use serde_json::json;
use time::macros::datetime;

/// What a spreadsheet (RFC 4180) reads from `text`: rows of cells.
fn parse(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut cells, mut cell, mut quoted, mut chars) =
        (Vec::new(), Vec::new(), String::new(), false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => cell.push(c),
            (false, '"') if cell.is_empty() => quoted = true,
            (false, ',') => cells.push(std::mem::take(&mut cell)),
            (false, '\n') => {
                cells.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut cells));
            }
            (false, c) => cell.push(c),
        }
    }
    rows
}

const HOSTILE: &[&str] = &[
    "=HYPERLINK(\"http://x\",\"y\")",
    "@SUM(1)",
    "+1",
    "-1",
    "\tx",
    "\rx",
    "a,b",
    "say \"hi\"",
    "line\nbreak",
    "=1,\"2\"\n3",
];

#[test]
fn a_cell_a_spreadsheet_would_evaluate_is_prefixed_and_every_special_cell_quoted() {
    assert_eq!(cell("=HYPERLINK(\"http://x\",\"y\")"), "\"'=HYPERLINK(\"\"http://x\"\",\"\"y\"\")\"");
    assert_eq!(cell("@SUM(1)"), "'@SUM(1)");
    assert_eq!(cell("+1"), "'+1");
    assert_eq!(cell("-1"), "'-1");
    assert_eq!(cell("\tx"), "'\tx");
    assert_eq!(cell("\rx"), "\"'\rx\"");
    assert_eq!(cell("a,b"), "\"a,b\"");
    assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    assert_eq!(cell("line\nbreak"), "\"line\nbreak\"");
    // Harmless cells are left as they are, a formula character inside one included.
    for plain in ["AWSLogs/a.json.gz", "2026-11-30T10:00:00Z", "1048576", "a=b", "x-1", ""] {
        assert_eq!(cell(plain), plain);
    }
    let line = row(HOSTILE);
    let back = parse(&line);
    assert_eq!(back.len(), 1, "one row: {line:?}");
    let expected = [
        "'=HYPERLINK(\"http://x\",\"y\")",
        "'@SUM(1)",
        "'+1",
        "'-1",
        "'\tx",
        "'\rx",
        "a,b",
        "say \"hi\"",
        "line\nbreak",
        "'=1,\"2\"\n3",
    ];
    assert_eq!(back[0], expected);
}

fn denied(key: &str) -> ObjectRead {
    serde_json::from_value(json!({"event_id": "e1", "time": "2026-11-30T10:00:00Z", "call": "GetObject",
        "bucket": "acme-cloudtrail-logs", "key": key, "principal": "arn:aws:iam::999999999999:user/mallory",
        "source_ip": "198.51.100.7", "error": "AccessDenied"}))
    .unwrap()
}

#[test]
fn report_csv_neutralises_the_object_keys_an_attacker_chose() {
    let rows: Vec<(String, ObjectRead)> =
        HOSTILE.iter().map(|k| ("2026-11-30T09:00:00Z".to_owned(), denied(k))).collect();
    let text = report::csv(&rows);
    let back = parse(&text);
    assert_eq!(back.len(), HOSTILE.len() + 1, "{text}");
    let key = back[0].iter().position(|c| c == "key").unwrap();
    for (row, hostile) in back[1..].iter().zip(HOSTILE) {
        assert_eq!(row.len(), back[0].len(), "{row:?}");
        assert!(!row[key].starts_with(['=', '+', '-', '@', '\t', '\r']), "{row:?}");
        assert!(row[key].ends_with(hostile.trim_start_matches(['=', '+', '-', '@', '\t', '\r'])), "{row:?}");
        assert_eq!(row[row.len() - 2], "AccessDenied");
    }
}

fn step(time: time::OffsetDateTime, kind: &str, action: &str, why: &str) -> Step {
    Step {
        time,
        kind: kind.into(),
        action: action.into(),
        who: Some("arn:aws:iam::111122223333:role/Operator".into()),
        why: Some(why.into()),
        ticket: Some("=cmd|' /C calc'!A0".into()),
        readers: vec!["arn:aws:iam::111122223333:role/A".into(), "arn:aws:iam::111122223333:role/B".into()],
        expiry: None,
        summary: "[breakglass] opened, \"for now\"".into(),
        event_ids: vec!["e1".into(), "e2".into()],
        forged: false,
        policy_after: None,
    }
}

#[test]
fn history_csv_has_a_line_per_step_and_neutralises_what_people_typed() {
    let entries = vec![
        Entry::Event(step(datetime!(2026-11-30 12:00:00 UTC), "change", "PutBucketTagging", "+tags")),
        Entry::Window {
            opened: step(datetime!(2026-11-30 10:00:00 UTC), "request", "open", "@incident 42, urgent"),
            extensions: vec![step(datetime!(2026-11-30 10:30:00 UTC), "request", "open", "-more time")],
            closed: Some(step(datetime!(2026-11-30 11:00:00 UTC), "request", "close", "done\nall read")),
        },
    ];
    let text = history::csv(&entries);
    let back = parse(&text);
    assert_eq!(back.len(), 5, "{text}");
    let col = |name: &str| back[0].iter().position(|c| c == name).unwrap();
    let steps: Vec<(&str, &str, &str)> = back[1..]
        .iter()
        .map(|r| (r[col("entry")].as_str(), r[col("step")].as_str(), r[col("why")].as_str()))
        .collect();
    assert_eq!(
        steps,
        [
            ("2026-11-30T12:00:00Z", "event", "'+tags"),
            ("2026-11-30T10:00:00Z", "opened", "'@incident 42, urgent"),
            ("2026-11-30T10:00:00Z", "extended", "'-more time"),
            ("2026-11-30T10:00:00Z", "closed", "done\nall read"),
        ]
    );
    assert!(back[1..].iter().all(|r| r[col("ticket")] == "'=cmd|' /C calc'!A0" && r.len() == back[0].len()));
    assert_eq!(back[1][col("summary")], "[breakglass] opened, \"for now\"");
    assert_eq!(back[1][col("event_ids")], "e1 e2");
}
