//! SDK errors sorted into the ports' two kinds: worth a retry, or refused.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use breakglass_core::ports::PortError;
use canonical_policies::Quoted;

/// Error codes AWS uses for throttling, and 4xx codes whose documentation says to try again (a
/// conflicting operation in flight, a request that timed out); anything else in 4xx but 429 is a
/// refusal.
const THROTTLING: [&str; 13] = [
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
    "RequestThrottled",
    "KMSThrottlingException",
    "KMSThrottling",
    "OperationAborted",
    "ConditionalRequestConflict",
    "ConcurrentModification",
    "RequestTimeout",
];

/// Credentials that expired in use (a long run, clock skew): not a refusal of the request. Another
/// try, with the credentials the provider refreshes or the next invocation brings, can work; the
/// caller must not report the call as refused (a remediation "refused" would be a false alarm).
const EXPIRED: [&str; 3] = ["ExpiredToken", "ExpiredTokenException", "RequestExpired"];

/// Sorts an SDK error into retryable (throttling, 5xx, expired credentials, transport) and refused
/// (everything else).
pub fn classify_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("unknown");
            let mut text = format!("{operation}: {code}: {}", e.message().unwrap_or("no message"));
            // S3 answers a request sent to another Region than the bucket's with these; the SDK does
            // not follow them. Said once, in the words that fix it.
            if matches!(code, "PermanentRedirect" | "IllegalLocationConstraintException")
                || (code == "AuthorizationHeaderMalformed" && text.contains("region"))
            {
                text.push_str(" (the bucket is in another Region: set its `region` in the config)");
            }
            let status = service.raw().status();
            if THROTTLING.contains(&code)
                || EXPIRED.contains(&code)
                || status.is_server_error()
                || status.as_u16() == 429
            {
                PortError::Retryable(text)
            } else {
                PortError::Refused(text)
            }
        }
        // Timeouts, connection failures, unreadable responses: worth another try. A timeout says
        // where nothing answered, since its cause is there (a proxy, a firewall, an endpoint).
        SdkError::TimeoutError(_) => PortError::Retryable(timed_out::<E>(operation, &err)),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            PortError::Retryable(timed_out::<E>(operation, &err))
        }
        // The request never left because its credentials could not be had. When a provider was
        // asked and failed (STS throttled, unreachable or 5xx for an assume-role provider), another
        // try can work; when there are none, or STS refused the role, it cannot.
        SdkError::DispatchFailure(d) if d.is_other() && credentials_may_come(&err) == Some(true) => {
            PortError::Retryable(format!("{operation}: {}", error_chain(&err)))
        }
        // The connection failed under the request (a connection closed before its answer: hyper's
        // `IncompleteMessage`, which the SDK files as `other`, not `io`). Another try can work; a
        // refusal here would leave a ClosedAccess write untried (found by the tampering storm).
        SdkError::DispatchFailure(d)
            if d.is_other() && credentials_may_come(&err).is_none() && connection_failed(&err) =>
        {
            PortError::Retryable(format!("{operation}: {}", error_chain(&err)))
        }
        // The request never left: credentials, the Region, the endpoint or the profile are wrong
        // (the SDK files them as `other` or `user` connector errors, or as a construction
        // failure). Trying again unchanged cannot help.
        SdkError::DispatchFailure(d) if !d.is_io() => {
            PortError::Refused(format!("{operation}: {}", error_chain(&err)))
        }
        SdkError::ConstructionFailure(_) => PortError::Refused(format!("{operation}: {}", error_chain(&err))),
        _ => PortError::Retryable(format!("{operation}: {}", error_chain(&err))),
    }
}

/// Whether the error's chain shows the connection failing: an io error anywhere in it, or hyper's
/// words for a connection that closed or reset under the request (its error types are not ours).
fn connection_failed(err: &(dyn std::error::Error + 'static)) -> bool {
    const WORDS: [&str; 4] =
        ["connection closed before message completed", "connection reset", "broken pipe", "(SendRequest)"];
    let mut next = Some(err);
    while let Some(e) = next {
        if e.downcast_ref::<std::io::Error>().is_some() {
            return true;
        }
        let text = e.to_string();
        if WORDS.iter().any(|w| text.contains(w)) {
            return true;
        }
        next = e.source();
    }
    false
}

/// Whether credentials that could not be had may come on another try: `Some(false)` for none at
/// all, a provider misconfigured, or STS refusing the role (`AccessDenied`); `Some(true)` for a
/// provider that failed otherwise (throttled, timed out, unreachable); `None` when the failure is
/// not the credentials'.
fn credentials_may_come(err: &(dyn std::error::Error + 'static)) -> Option<bool> {
    use aws_credential_types::provider::error::CredentialsError;
    use aws_sdk_sts::operation::assume_role::AssumeRoleError;
    let mut found = None;
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(sts) = e.downcast_ref::<SdkError<AssumeRoleError, HttpResponse>>() {
            let refused = sts.as_service_error().is_some_and(|s| {
                let status = sts.raw_response().map(|r| r.status().as_u16());
                !matches!(status, Some(429 | 500..=599))
                    && !THROTTLING.contains(&s.code().unwrap_or_default())
            });
            return Some(!refused);
        }
        if let Some(c) = e.downcast_ref::<CredentialsError>() {
            found = Some(!matches!(
                c,
                CredentialsError::CredentialsNotLoaded(_) | CredentialsError::InvalidConfiguration(_)
            ));
        } else if found.is_none() && e.to_string().contains("identity resolver timed out") {
            // The identity cache's load timeout (its error type is private; this is its text).
            found = Some(true);
        }
        next = e.source();
    }
    found
}

/// Where the clients send their requests, set once by [`crate::Clients::load`]: the endpoint, or
/// the Region where the SDK resolves each service's own.
static REACHED: std::sync::OnceLock<Reached> = std::sync::OnceLock::new();

#[derive(Debug)]
struct Reached {
    endpoint: Option<String>,
    region: Option<String>,
}

pub(crate) fn reached(endpoint: Option<&str>, region: Option<&str>) {
    // The first configuration of the process is the one its clients use; later loads (tests) keep it.
    let _ = REACHED.set(Reached { endpoint: endpoint.map(str::to_owned), region: region.map(str::to_owned) });
}

/// One line for a timed-out call: the operation, where it went, and which timeout ended it (the
/// SDK's own words, e.g. `HTTP read timeout occurred after 10s`).
fn timed_out<E: 'static>(operation: &str, err: &dyn std::error::Error) -> String {
    // The SDK crate of the error names the service: `aws_sdk_s3::operation::…` is `s3`.
    let crate_name = std::any::type_name::<E>().split("::").next().unwrap_or_default();
    let service = crate_name.strip_prefix("aws_sdk_").unwrap_or(crate_name);
    let place = match REACHED.get() {
        Some(Reached { endpoint: Some(url), .. }) => Quoted(url).to_string(),
        Some(Reached { region: Some(region), .. }) => {
            format!("the {} endpoint of Region {}", Quoted(service), Quoted(region))
        }
        _ => format!("the {} endpoint", Quoted(service)),
    };
    format!("{operation}: timed out: no answer from {place}: {}", error_chain(err))
}

pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        // Some errors repeat their source's text in their own: say each cause once.
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    // Errors are one line (the credential chain lists its providers on lines of their own).
    let lines: Vec<&str> = out.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    lines.join("; ").replace(":; ", ": ")
}

/// The service error code of an SDK error, if it is one.
pub(crate) fn code_of<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<&str> {
    e.as_service_error().and_then(|s| s.code())
}

/// A call whose answer the port does not need: done, or its error sorted by [`classify_error`].
pub(crate) trait Sent {
    fn done(self, operation: &str) -> Result<(), PortError>;
}

impl<T, E> Sent for Result<T, SdkError<E, HttpResponse>>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    fn done(self, operation: &str) -> Result<(), PortError> {
        self.map(|_| ()).map_err(|e| classify_error(operation, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::put_bucket_policy::PutBucketPolicyError;
    use aws_sdk_s3::primitives::SdkBody;

    fn answered(status: u16, code: &str) -> PortError {
        let err = PutBucketPolicyError::generic(ErrorMetadata::builder().code(code).message("m").build());
        let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
        classify_error("PutBucketPolicy", SdkError::service_error(err, raw))
    }

    #[test]
    fn expired_credentials_are_worth_another_try_and_a_refusal_is_not() {
        for code in EXPIRED {
            assert!(matches!(answered(400, code), PortError::Retryable(_)), "{code}");
        }
        assert!(matches!(answered(503, "SlowDown"), PortError::Retryable(_)));
        assert!(matches!(answered(403, "AccessDenied"), PortError::Refused(_)));
    }

    /// Codes AWS documents as "try again", and 429 whatever its code. Regression: a 409
    /// `OperationAborted` on the ClosedAccess write was a refusal, alerted and not retried.
    #[test]
    fn documented_try_again_codes_and_429_are_worth_another_try() {
        for code in
            ["OperationAborted", "ConditionalRequestConflict", "ConcurrentModification", "RequestTimeout"]
        {
            assert!(matches!(answered(409, code), PortError::Retryable(_)), "{code}");
        }
        assert!(matches!(answered(429, "SomethingNew"), PortError::Retryable(_)));
        assert!(matches!(answered(409, "BucketAlreadyOwnedByYou"), PortError::Refused(_)));
    }

    /// A connection closed under the request is worth another try. Regression: hyper's
    /// `IncompleteMessage` (filed as `other`) was a refusal, so the enforcer reported its
    /// ClosedAccess write as refused and left the bucket open (the tampering storm, 1 run in 7).
    #[test]
    fn a_connection_closed_under_the_request_is_worth_another_try() {
        use aws_sdk_s3::error::ConnectorError;
        #[derive(Debug)]
        struct Closed;
        impl std::fmt::Display for Closed {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("client error (SendRequest): connection closed before message completed")
            }
        }
        impl std::error::Error for Closed {}
        let err: SdkError<PutBucketPolicyError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(Closed), None));
        assert!(matches!(classify_error("PutBucketPolicy", err), PortError::Retryable(_)));
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "reset");
        let err: SdkError<PutBucketPolicyError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(io), None));
        assert!(matches!(classify_error("PutBucketPolicy", err), PortError::Retryable(_)));
    }

    /// A bucket of another Region than the one asked: S3's redirect, which the SDK does not
    /// follow, says how to fix it (regression: "PermanentRedirect" alone, on every event).
    #[test]
    fn a_bucket_in_another_region_says_to_set_its_region() {
        let PortError::Refused(text) = answered(301, "PermanentRedirect") else { panic!() };
        assert!(text.ends_with("set its `region` in the config)"), "{text}");
        let PortError::Refused(text) = answered(403, "AccessDenied") else { panic!() };
        assert!(!text.contains("region"), "{text}");
    }

    fn without_credentials(cause: aws_credential_types::provider::error::CredentialsError) -> PortError {
        use aws_sdk_s3::error::ConnectorError;
        let err: SdkError<PutBucketPolicyError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(Box::new(cause), None));
        classify_error("PutBucketPolicy", err)
    }

    /// Regression: any failure to get credentials was a refusal, so a throttled or unreachable STS
    /// behind a member account's assume-role provider made the enforcer report its ClosedAccess write
    /// as refused, and not try it again.
    #[test]
    fn a_provider_that_failed_is_worth_another_try_and_no_credentials_are_not() {
        use aws_credential_types::provider::error::CredentialsError;
        use aws_sdk_sts::operation::assume_role::AssumeRoleError;
        let sts = |status: u16, code: &str| {
            let err = AssumeRoleError::generic(ErrorMetadata::builder().code(code).message("m").build());
            let raw = HttpResponse::new(status.try_into().unwrap(), SdkBody::empty());
            CredentialsError::provider_error(SdkError::service_error(err, raw))
        };
        assert!(matches!(without_credentials(sts(400, "Throttling")), PortError::Retryable(_)));
        assert!(matches!(without_credentials(sts(503, "ServiceUnavailable")), PortError::Retryable(_)));
        assert!(matches!(
            without_credentials(CredentialsError::provider_timed_out(std::time::Duration::from_secs(5))),
            PortError::Retryable(_)
        ));
        assert!(matches!(without_credentials(sts(403, "AccessDenied")), PortError::Refused(_)));
        assert!(matches!(
            without_credentials(CredentialsError::not_loaded("no profile")),
            PortError::Refused(_)
        ));
    }
}
