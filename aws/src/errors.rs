//! SDK errors sorted into the ports' two kinds: worth a retry, or refused.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use breakglass_core::ports::PortError;
use canonical_policies::Quoted;

/// Error codes AWS uses for throttling; anything else in 4xx is a refusal.
const THROTTLING: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
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
            let text = format!("{operation}: {code}: {}", e.message().unwrap_or("no message"));
            if THROTTLING.contains(&code)
                || EXPIRED.contains(&code)
                || service.raw().status().is_server_error()
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
}
