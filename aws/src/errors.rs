//! SDK errors sorted into the ports' two kinds: worth a retry, or refused.

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use breakglass_core::ports::PortError;

/// Error codes AWS uses for throttling; anything else in 4xx is a refusal.
const THROTTLING: [&str; 6] = [
    "Throttling",
    "ThrottlingException",
    "SlowDown",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "ServiceUnavailable",
];

/// Sorts an SDK error into retryable (throttling, 5xx, transport) and refused (everything else).
pub(crate) fn classify_error<E>(operation: &str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            let code = e.code().unwrap_or("unknown");
            let text = format!("{operation}: {code}: {}", e.message().unwrap_or("no message"));
            if THROTTLING.contains(&code) || service.raw().status().is_server_error() {
                PortError::Retryable(text)
            } else {
                PortError::Refused(text)
            }
        }
        // Timeouts, connection failures, unreadable responses: worth another try.
        _ => PortError::Retryable(format!("{operation}: {}", error_chain(&err))),
    }
}

pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
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
