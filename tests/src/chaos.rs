//! Faults on demand (issue 23): a proxy in front of moto that answers a share of the requests as AWS
//! does when it is busy or broken, in each service's own error shape, so that the SDK's standard
//! retries, the functions' error paths and Lambda's retries meet what a deployment meets.
//!
//! - **throttling**: S3 `503 SlowDown`; the JSON services (EventBridge, KMS, SQS, Organizations)
//!   `400` with `ThrottlingException`; the query services (SNS, STS, IAM, CloudFormation) `400`
//!   with `Throttling`: the codes the SDK's standard retry strategy treats as throttling;
//! - **server errors**: `500 InternalError` / `InternalFailure`;
//! - **resets**: the connection closed without an answer;
//! - **latency**: the request forwarded after a delay;
//! - **hangs**: the request read and never answered (the connection held for [`HANG`]), which
//!   only the client's own attempt timeout ends;
//! - **lost answers**: the request forwarded and done, its answer thrown away (the connection
//!   closed), so that the client retries something that already took effect;
//! - **expired credentials**: `ExpiredToken` in the service's shape, which the SDK does not retry;
//!   the function must fail the invocation (Lambda tries again) rather than report a refusal;
//! - **stale reads**: after a bucket policy (or versioning, lifecycle or replication) is written,
//!   the next reads of it still return what was read before the write, as S3's eventually
//!   consistent bucket configuration may.
//!
//! Which request is faulted is decided from a seed and the request's number, so a failing run can
//! be repeated; moto never sees a faulted request (but a lost answer's), so a fault never
//! half-applies a write.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::proxy::{serve, Action};

/// How often, and how, requests fail. Rates are per mille of all requests (of the services in
/// `services`, or of all when it is empty).
#[derive(Debug, Clone)]
pub struct Faults {
    pub seed: u64,
    pub throttle_per_mille: u64,
    pub server_error_per_mille: u64,
    pub reset_per_mille: u64,
    pub latency_per_mille: u64,
    pub latency: Duration,
    /// Requests never answered (see [`HANG`]); 0 unless a test sets it.
    pub hang_per_mille: u64,
    /// Requests done but their answer lost; 0 unless a test sets it.
    pub lost_answer_per_mille: u64,
    /// Requests answered "expired credentials"; 0 unless a test sets it.
    pub expired_per_mille: u64,
    /// Signing names (`s3`, `sns`, `events`, `kms`, `sts`, …); empty: every service.
    pub services: Vec<&'static str>,
    /// How many `GetBucketPolicy` after a `PutBucketPolicy` of the same bucket still answer with
    /// the policy last read before the write (0: always consistent, as moto is).
    pub stale_policy_reads: u64,
    /// The same for the bucket's versioning, lifecycle and replication settings.
    pub stale_settings_reads: u64,
}

impl Faults {
    /// `per_mille` of every service's requests faulted, spread over the four kinds.
    pub fn everywhere(per_mille: u64, seed: u64) -> Faults {
        let share = per_mille / 4;
        Faults {
            seed,
            throttle_per_mille: share,
            server_error_per_mille: share,
            reset_per_mille: share,
            latency_per_mille: per_mille - 3 * share,
            latency: Duration::from_millis(200),
            hang_per_mille: 0,
            lost_answer_per_mille: 0,
            expired_per_mille: 0,
            services: Vec::new(),
            stale_policy_reads: 0,
            stale_settings_reads: 0,
        }
    }

    /// No fault, every request of every service forwarded after `delay`: the round trip of a real
    /// Region rather than of loopback (the benchmarks' "AWS latency").
    pub fn latency(delay: Duration) -> Faults {
        Faults { latency_per_mille: 1000, latency: delay, ..Faults::everywhere(0, 0) }
    }
}

/// How long a hung request's connection is held before the proxy lets it go: far longer than any
/// client should wait.
pub const HANG: Duration = Duration::from_secs(120);

/// How much of a lost request's body is kept: SNS's largest message (256 KiB) and its attributes.
pub const LOST_BODY: usize = 300 * 1024;

/// What the proxy did, per fault kind and service.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FaultCount {
    pub requests: u64,
    /// (kind, service) → how many.
    pub faulted: BTreeMap<(&'static str, String), u64>,
    /// The bodies (their first [`LOST_BODY`] bytes) of the requests done whose answer was lost, by
    /// service: what the client may have done twice.
    pub lost: Vec<(String, String)>,
}

impl FaultCount {
    /// Requests answered with a fault (latency not counted: those were served).
    pub fn failed(&self) -> u64 {
        self.faulted.iter().filter(|((kind, _), _)| *kind != "latency").map(|(_, n)| n).sum()
    }

    /// A scenario's printed record: its own `fields` (a JSON object) with the requests made, how
    /// many were faulted, and how, per kind and service.
    pub fn record(&self, mut fields: serde_json::Value) -> serde_json::Value {
        if let serde_json::Value::Object(m) = &mut fields {
            m.insert("requests".into(), self.requests.into());
            m.insert("faulted".into(), self.failed().into());
            let by_kind: Vec<String> =
                self.faulted.iter().map(|((k, s), n)| format!("{k} {s}: {n}")).collect();
            m.insert("by_kind".into(), by_kind.into());
        }
        fields
    }
}

/// Per bucket and setting (`policy`, `versioning`, …): the last response read, and how many reads
/// are still to get it again.
type LastPolicies = BTreeMap<(String, &'static str), (Vec<u8>, u64)>;

pub struct ChaosProxy {
    pub endpoint: String,
    count: Arc<Mutex<FaultCount>>,
}

impl ChaosProxy {
    pub fn start(upstream: &str, faults: Faults) -> ChaosProxy {
        let count = Arc::new(Mutex::new(FaultCount::default()));
        let counted = Arc::clone(&count);
        let n = AtomicU64::new(0);
        // Per bucket: the last policy response read, and how many reads are still to be stale.
        let policies: Arc<Mutex<LastPolicies>> = Arc::default();
        let seen = Arc::clone(&policies);
        let (policy_reads, settings_reads) = (faults.stale_policy_reads, faults.stale_settings_reads);
        let stale_reads =
            move |setting: &str| if setting == "policy" { policy_reads } else { settings_reads };
        let decide = move |request_line: &str, head: &str, body: &[u8]| {
            let service = signing_name(head);
            let mut c = counted.lock().unwrap();
            c.requests += 1;
            if let Some((method, place)) = config_call(request_line) {
                let stale_reads = stale_reads(place.1);
                let mut p = policies.lock().unwrap();
                match (method, p.get_mut(&place)) {
                    ("PUT" | "DELETE", Some(entry)) if stale_reads > 0 => entry.1 = stale_reads,
                    ("GET", Some((old, left))) if *left > 0 => {
                        *left -= 1;
                        *c.faulted.entry(("stale-read", service)).or_default() += 1;
                        return Action::Respond(old.clone());
                    }
                    _ => {}
                }
            }
            if !faults.services.is_empty() && !faults.services.contains(&service.as_str()) {
                return Action::Forward;
            }
            let roll = mix(faults.seed, n.fetch_add(1, Ordering::Relaxed)) % 1000;
            let mut bound = 0;
            let mut pick = |per_mille: u64| {
                bound += per_mille;
                roll < bound
            };
            let (kind, action) = if pick(faults.throttle_per_mille) {
                ("throttle", Action::Respond(fault_response(&service, head, true)))
            } else if pick(faults.server_error_per_mille) {
                ("server-error", Action::Respond(fault_response(&service, head, false)))
            } else if pick(faults.reset_per_mille) {
                ("reset", Action::Close)
            } else if pick(faults.latency_per_mille) {
                ("latency", Action::ForwardAfter(faults.latency))
            } else if pick(faults.hang_per_mille) {
                ("hang", Action::Hang(HANG))
            } else if pick(faults.lost_answer_per_mille) {
                ("lost-answer", Action::ForwardThenDrop)
            } else if pick(faults.expired_per_mille) {
                ("expired", Action::Respond(expired_response(&service, head)))
            } else {
                return Action::Forward;
            };
            if kind == "lost-answer" {
                let body = String::from_utf8_lossy(&body[..body.len().min(LOST_BODY)]).into_owned();
                c.lost.push((service.clone(), body));
            }
            *c.faulted.entry((kind, service)).or_default() += 1;
            action
        };
        let remember = move |request_line: &str, response: Vec<u8>| {
            if let Some(("GET", place)) = config_call(request_line) {
                let status = response.split(|b| *b == b'\r').next().unwrap_or_default();
                if status.windows(5).any(|w| w == b" 200 ") {
                    let mut p = seen.lock().unwrap();
                    let left = p.get(&place).map_or(0, |(_, left)| *left);
                    p.insert(place, (response.clone(), left));
                }
            }
            response
        };
        let (endpoint, _) = serve(upstream, Arc::new(decide), Arc::new(remember));
        ChaosProxy { endpoint, count }
    }

    /// What was faulted so far.
    pub fn count(&self) -> FaultCount {
        self.count.lock().unwrap().clone()
    }
}

/// `(method, (bucket, setting))` of a path-style request that reads or writes a bucket's policy,
/// versioning, lifecycle or replication.
fn config_call(request_line: &str) -> Option<(&'static str, (String, &'static str))> {
    let mut parts = request_line.split(' ');
    let method = match parts.next()? {
        "GET" => "GET",
        "PUT" => "PUT",
        "DELETE" => "DELETE",
        _ => return None,
    };
    let (path, query) = parts.next()?.split_once('?')?;
    let bucket = path.trim_matches('/');
    let setting = ["policy", "versioning", "lifecycle", "replication"]
        .into_iter()
        .find(|s| query.split('&').any(|q| q == *s || q.strip_prefix(s) == Some("=")))?;
    (!bucket.is_empty() && !bucket.contains('/')).then(|| (method, (bucket.to_owned(), setting)))
}

/// A 64-bit mix of the seed and the request number (SplitMix64): the same run faults the same
/// requests.
fn mix(seed: u64, n: u64) -> u64 {
    let mut z = seed.wrapping_add(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The service a request is signed for: the fourth part of SigV4's credential scope
/// (`Credential=AKID/20261205/eu-central-1/s3/aws4_request`).
pub(crate) fn signing_name(head: &str) -> String {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(3))
        .unwrap_or("unknown")
        .to_owned()
}

/// The protocol a request speaks, from its content type: JSON (`X-Amz-Target`), query (form
/// encoded) or S3's REST-XML.
pub(crate) enum Protocol {
    Json,
    Query,
    RestXml,
}

pub(crate) fn protocol(service: &str, head: &str) -> Protocol {
    let lower = head.to_ascii_lowercase();
    if service == "s3" {
        Protocol::RestXml
    } else if lower.contains("x-amz-target:") || lower.contains("application/x-amz-json") {
        Protocol::Json
    } else {
        Protocol::Query
    }
}

pub(crate) fn response(status: &str, content_type: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\n{extra}Content-Length: {}\r\nx-amzn-RequestId: chaos\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// What AWS answers a throttled request (`throttle`) or one it failed, in the request's protocol:
/// the codes the SDK's standard retry strategy knows.
/// Credentials that expired in use, in the service's own error shape (not retried by the SDK:
/// the caller must try again with fresh credentials, as Lambda's next attempt brings).
fn expired_response(service: &str, head: &str) -> Vec<u8> {
    let (status, content_type, extra, body) = match protocol(service, head) {
        Protocol::RestXml => (
            "400 Bad Request",
            "application/xml",
            "",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>ExpiredToken</Code><Message>The provided token has expired.</Message><RequestId>chaos</RequestId></Error>",
        ),
        Protocol::Json => (
            "400 Bad Request",
            "application/x-amz-json-1.1",
            "x-amzn-ErrorType: ExpiredTokenException\r\n",
            "{\"__type\":\"ExpiredTokenException\",\"message\":\"The security token included in the request is expired\"}",
        ),
        Protocol::Query => (
            "403 Forbidden",
            "text/xml",
            "",
            "<ErrorResponse><Error><Type>Sender</Type><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error><RequestId>chaos</RequestId></ErrorResponse>",
        ),
    };
    response(status, content_type, extra, body)
}

fn fault_response(service: &str, head: &str, throttle: bool) -> Vec<u8> {
    let (status, content_type, extra, body) = match (protocol(service, head), throttle) {
        (Protocol::RestXml, true) => (
            "503 Slow Down",
            "application/xml",
            "",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message><RequestId>chaos</RequestId></Error>",
        ),
        (Protocol::RestXml, false) => (
            "500 Internal Server Error",
            "application/xml",
            "",
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>InternalError</Code><Message>We encountered an internal error. Please try again.</Message><RequestId>chaos</RequestId></Error>",
        ),
        (Protocol::Json, true) => (
            "400 Bad Request",
            "application/x-amz-json-1.1",
            "x-amzn-ErrorType: ThrottlingException\r\n",
            "{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}",
        ),
        (Protocol::Json, false) => (
            "500 Internal Server Error",
            "application/x-amz-json-1.1",
            "x-amzn-ErrorType: InternalFailure\r\n",
            "{\"__type\":\"InternalFailure\",\"message\":\"internal failure\"}",
        ),
        (Protocol::Query, true) => (
            "400 Bad Request",
            "text/xml",
            "",
            "<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>chaos</RequestId></ErrorResponse>",
        ),
        (Protocol::Query, false) => (
            "500 Internal Server Error",
            "text/xml",
            "",
            "<ErrorResponse><Error><Type>Receiver</Type><Code>InternalFailure</Code><Message>internal failure</Message></Error><RequestId>chaos</RequestId></ErrorResponse>",
        ),
    };
    response(status, content_type, extra, body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signing_name_comes_from_the_credential_scope() {
        let head = "POST / HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261205/eu-central-1/events/aws4_request, SignedHeaders=host, Signature=x\r\n";
        assert_eq!(signing_name(head), "events");
        assert_eq!(signing_name("GET / HTTP/1.1\r\n"), "unknown");
    }

    #[test]
    fn bucket_configuration_calls_are_told_apart() {
        for (line, expected) in [
            ("GET /acme-logs?policy HTTP/1.1", Some(("GET", "policy"))),
            ("PUT /acme-logs?policy&x-id=PutBucketPolicy HTTP/1.1", Some(("PUT", "policy"))),
            ("GET /acme-logs/?policy HTTP/1.1", Some(("GET", "policy"))),
            ("GET /acme-logs/key?policy HTTP/1.1", None),
            ("GET /acme-logs?policyStatus HTTP/1.1", None),
            ("GET /acme-logs?versioning HTTP/1.1", Some(("GET", "versioning"))),
            ("DELETE /acme-logs?lifecycle HTTP/1.1", Some(("DELETE", "lifecycle"))),
        ] {
            let expected = expected.map(|(method, setting)| (method, ("acme-logs".to_owned(), setting)));
            assert_eq!(config_call(line), expected, "{line}");
        }
    }

    #[test]
    fn a_seed_faults_the_same_requests_at_about_the_rate() {
        let picks = |seed| (0..10_000u64).filter(|n| mix(seed, *n) % 1000 < 100).collect::<Vec<_>>();
        assert_eq!(picks(7), picks(7));
        let n = picks(7).len();
        assert!((900..1100).contains(&n), "{n}");
    }
}
