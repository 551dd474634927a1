//! Durations as the config writes them (`12h`, `1h30m`); shown back with
//! [`canonical_policies::HumanDuration`].

use time::Duration;

/// The longest duration anyone may write: a hundred years (the longest audit retention too). Without
/// a bound on the total, `100000d` written thirty times added to now leaves the years a time can
/// hold, and that addition panics.
pub const MAX_DURATION: Duration = Duration::days(36_500);

/// Parses `12h`, `30m`, `1h30m`, `2d`, `45s`: one or more number-unit pairs, total greater than zero
/// and at most [`MAX_DURATION`].
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
    (digits.is_empty() && total > Duration::ZERO && total <= MAX_DURATION).then_some(total)
}
