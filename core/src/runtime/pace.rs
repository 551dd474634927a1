//! Mail pacing. SNS suspends an email subscription whose endpoint receives more than 10 messages a
//! second, and a suspended subscription is silence: the works council would no longer hear of a
//! break-glass. Every message an email subscription may receive is therefore published at most
//! [`EMAIL_PER_SECOND`] a second by one notifier (template.yaml runs one at a time: reserved
//! concurrency 1). Messages marked `digested` reach machine subscribers only and are not paced.

use std::time::{Duration, Instant};

use crate::ports::{Notification, PortError, Publisher};

/// Below SNS's 10 a second for email endpoints, with room for clock jitter between SNS's count and ours.
pub const EMAIL_PER_SECOND: u32 = 8;
/// SNS's documented limit, which [`EMAIL_PER_SECOND`] stays under.
pub const SNS_EMAIL_LIMIT_PER_SECOND: u32 = 10;

/// A publisher that spaces the messages an email subscription may receive at least `interval` apart.
#[derive(Debug)]
pub struct Paced<P> {
    inner: P,
    interval: Duration,
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl<P> Paced<P> {
    /// At most [`EMAIL_PER_SECOND`] mail-bound messages a second.
    pub fn new(inner: P) -> Self {
        Paced::every(inner, Duration::from_secs(1) / EMAIL_PER_SECOND)
    }

    pub fn every(inner: P, interval: Duration) -> Self {
        Paced { inner, interval, last: tokio::sync::Mutex::new(None) }
    }
}

/// Whether an email subscription may receive `n`: all but those marked as part of a digest.
fn mail_bound(n: &Notification) -> bool {
    !n.attributes.iter().any(|(k, _)| k == "digested")
}

impl<P: Publisher + Send> Publisher for Paced<P> {
    async fn publish(&self, n: &Notification) -> Result<String, PortError> {
        if !mail_bound(n) {
            return self.inner.publish(n).await;
        }
        // Held across the publish: two tasks of one process never publish mail at once.
        let mut last = self.last.lock().await;
        if let Some(at) = *last {
            let next = at + self.interval;
            let now = Instant::now();
            if next > now {
                tokio::time::sleep(next - now).await;
            }
        }
        let sent = self.inner.publish(n).await;
        *last = Some(Instant::now());
        sent
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Default)]
    struct Clock(Mutex<Vec<Instant>>);

    impl Publisher for Clock {
        async fn publish(&self, _: &Notification) -> Result<String, PortError> {
            self.0.lock().map_err(|_| PortError::Retryable("lock".into()))?.push(Instant::now());
            Ok("id".into())
        }
    }

    fn note(digested: bool) -> Notification {
        Notification {
            subject: "s".into(),
            default: serde_json::Value::Null,
            email: String::new(),
            attributes: if digested { vec![("digested".into(), "d".into())] } else { vec![] },
            second_channel: false,
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn mail_is_spaced_and_machine_messages_are_not() {
        let paced = Paced::every(Clock::default(), Duration::from_millis(20));
        let start = Instant::now();
        for _ in 0..20 {
            paced.publish(&note(true)).await.unwrap();
        }
        assert!(start.elapsed() < Duration::from_millis(100), "digested messages are not paced");
        for _ in 0..6 {
            paced.publish(&note(false)).await.unwrap();
        }
        let times = paced.inner.0.lock().unwrap().clone();
        let mail = &times[20..];
        for pair in mail.windows(2) {
            assert!(pair[1] - pair[0] >= Duration::from_millis(20), "{:?}", pair[1] - pair[0]);
        }
        assert!(
            Duration::from_secs(1) / EMAIL_PER_SECOND > Duration::from_secs(1) / SNS_EMAIL_LIMIT_PER_SECOND
        );
    }
}
