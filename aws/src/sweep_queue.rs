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

impl SweepQueue for SqsSweepQueue {
    async fn send(&self, bodies: &[String], delay_seconds: u32) -> Result<(), PortError> {
        let delay = i32::try_from(delay_seconds.min(900)).unwrap_or(900);
        for chunk in bodies.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, body)| {
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(i.to_string())
                        .message_body(body)
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
            if let Some(f) = sent.failed.first() {
                let message = format!(
                    "{} of {} sweep messages not sent: {} {}",
                    sent.failed.len(),
                    chunk.len(),
                    f.code,
                    f.message.as_deref().unwrap_or_default()
                );
                return Err(if f.sender_fault {
                    PortError::Refused(message)
                } else {
                    PortError::Retryable(message)
                });
            }
        }
        Ok(())
    }
}
