//! The sweep's queue (SQS).

use breakglass_core::ports::{PortError, SweepQueue};

use crate::errors::classify_error;

/// The sweep's queue (SQS), sent to ten messages per call, as `SendMessageBatch` allows.
#[derive(Debug, Clone)]
pub struct SqsSweepQueue {
    client: aws_sdk_sqs::Client,
    url: String,
}

impl SqsSweepQueue {
    pub fn new(client: aws_sdk_sqs::Client, url: impl Into<String>) -> Self {
        SqsSweepQueue { client, url: url.into() }
    }
}

/// Tries of a batch entry that failed without the sender's fault (SQS's own, such as throttling):
/// the SDK retries calls, not the entries inside a call that succeeded.
const ENTRY_TRIES: u32 = 3;

impl SweepQueue for SqsSweepQueue {
    /// Every message is tried, also after one failed: a shard not sent does not keep the others
    /// (and the sweep's close) back. An entry that failed through no fault of ours is sent again;
    /// what still failed is the error: refused if any failure was the sender's fault.
    async fn send(&self, bodies: &[String], delay_seconds: u32) -> Result<(), PortError> {
        let delay = i32::try_from(delay_seconds.min(900)).unwrap_or(900);
        let mut failed: Vec<(bool, String)> = Vec::new();
        for chunk in bodies.chunks(10) {
            let mut pending: Vec<(usize, &String)> = chunk.iter().enumerate().collect();
            for attempt in 1..=ENTRY_TRIES {
                let entries = pending
                    .iter()
                    .map(|(i, body)| {
                        aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                            .id(i.to_string())
                            .message_body(*body)
                            .delay_seconds(delay)
                            .build()
                            .map_err(|e| PortError::Refused(format!("sweep message: {e}")))
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                let sent = self
                    .client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
                    .map_err(|e| classify_error("SendMessageBatch", e))?;
                // A batch call succeeds even when entries fail: each failure is a shard not sent.
                let (again, refused): (Vec<_>, Vec<_>) = sent.failed.iter().partition(|f| !f.sender_fault);
                failed.extend(refused.iter().map(|f| (true, describe(f))));
                if again.is_empty() {
                    break;
                }
                if attempt == ENTRY_TRIES {
                    failed.extend(again.iter().map(|f| (false, describe(f))));
                    break;
                }
                pending.retain(|(i, _)| again.iter().any(|f| f.id == i.to_string()));
                tokio::time::sleep(std::time::Duration::from_millis(100 << (2 * attempt))).await;
            }
        }
        let Some((_, first)) = failed.first() else { return Ok(()) };
        let message = format!("{} of {} sweep messages not sent: {first}", failed.len(), bodies.len());
        Err(if failed.iter().any(|(refused, _)| *refused) {
            PortError::Refused(message)
        } else {
            PortError::Retryable(message)
        })
    }
}

fn describe(f: &aws_sdk_sqs::types::BatchResultErrorEntry) -> String {
    format!("{} {}", f.code, f.message.as_deref().unwrap_or_default()).trim_end().to_owned()
}
