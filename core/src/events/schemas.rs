//! Each event's schema, the default when a reader meets a record written without one.

/// The schema of a window report (its detail-type is `WINDOW_REPORT`).
pub const WINDOW_REPORT_SCHEMA: &str = "breakglass.window-report/1";

pub fn request() -> String {
    "breakglass.request/1".into()
}
pub fn remediation() -> String {
    "breakglass.remediation/1".into()
}
pub fn exposure() -> String {
    "breakglass.exposure/1".into()
}
pub fn repair() -> String {
    "breakglass.repair/1".into()
}
pub fn misrouted() -> String {
    "breakglass.misrouted/1".into()
}
pub fn config() -> String {
    "breakglass.config/1".into()
}
pub fn read_alert() -> String {
    "breakglass.read-alert/1".into()
}
pub fn denied() -> String {
    "breakglass.denied/1".into()
}
pub fn refused_calls() -> String {
    "breakglass.refused-calls/1".into()
}
pub fn unreadable() -> String {
    "breakglass.unreadable/1".into()
}
pub fn access_request() -> String {
    "breakglass.access-request/1".into()
}
pub fn decision() -> String {
    "breakglass.decision/1".into()
}
pub fn remediation_digest() -> String {
    "breakglass.remediation-digest/1".into()
}
pub fn sweep_incomplete() -> String {
    "breakglass.sweep-incomplete/1".into()
}
pub fn discovery() -> String {
    "breakglass.discovery/1".into()
}
pub fn window_report() -> String {
    WINDOW_REPORT_SCHEMA.into()
}
