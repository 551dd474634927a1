//! Durations as the config writes them (`12h`, `1h30m`); shown back with
//! [`canonical_policies::HumanDuration`].

use time::Duration;

/// Parses `12h`, `30m`, `1h30m`, `2d`, `45s`: one or more number-unit pairs, total greater than zero.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().ok().filter(|n| *n <= 100_000)?;
        digits.clear();
        total += match c {
            'd' => Duration::days(n),
            'h' => Duration::hours(n),
            'm' => Duration::minutes(n),
            's' => Duration::seconds(n),
            _ => return None,
        };
    }
    (digits.is_empty() && total > Duration::ZERO).then_some(total)
}
