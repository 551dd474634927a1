//! breakglass's own events on an EventBridge bus.

use breakglass_core::events::BusEvent;
use breakglass_core::ports::{EventBus, PortError};

use crate::errors::classify_error;

/// breakglass's own events on an EventBridge bus (`source: breakglass`).
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
    withheld: bool,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        EventBridgeBus { client, bus_name: bus_name.into(), withheld: false }
    }

    /// The same bus, but nothing is put on it: the CLI's `enforce --dry-run` writes nothing
    /// anywhere, and every mail, audit record and digest starts from an event on this bus.
    pub fn withheld(self) -> Self {
        EventBridgeBus { withheld: true, ..self }
    }
}

impl EventBus for EventBridgeBus {
    async fn put(&self, event: &BusEvent) -> Result<(), PortError> {
        if self.withheld {
            tracing::info!(detail_type = event.detail_type.as_str(), "dry run: not put on the bus");
            return Ok(());
        }
        let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
            .source(breakglass_core::inbound::event::CUSTOM_SOURCE)
            .detail_type(&event.detail_type)
            .detail(event.detail.to_string())
            .event_bus_name(&self.bus_name)
            .build();
        let out = self
            .client
            .put_events()
            .entries(entry)
            .send()
            .await
            .map_err(|e| classify_error("PutEvents", e))?;
        // PutEvents succeeds as a call even when an entry fails; look inside.
        if out.failed_entry_count > 0 {
            let failed: Vec<(String, String)> = out
                .entries
                .unwrap_or_default()
                .into_iter()
                .filter_map(|e| e.error_code.map(|c| (c, e.error_message.unwrap_or_default())))
                .collect();
            let why = failed.iter().map(|(c, m)| format!("{c}: {m}")).collect::<Vec<_>>().join("; ");
            // AWS documents only these entry errors as worth another try; an entry refused for its
            // content or the caller's rights (`AccessDeniedException`, `MalformedDetail`, …) is
            // refused again.
            let again =
                failed.iter().all(|(c, _)| matches!(c.as_str(), "InternalFailure" | "ThrottlingException"));
            let text = format!("PutEvents: entry failed: {why}");
            return Err(if again { PortError::Retryable(text) } else { PortError::Refused(text) });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A withheld bus makes no call: its client points at a closed port, and the put still succeeds.
    #[tokio::test]
    async fn a_withheld_bus_puts_nothing() {
        let conf = aws_sdk_eventbridge::Config::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_sdk_eventbridge::config::Region::new("eu-west-1"))
            .endpoint_url("http://127.0.0.1:9")
            .credentials_provider(aws_sdk_eventbridge::config::Credentials::new("a", "b", None, None, "test"))
            .build();
        let client = aws_sdk_eventbridge::Client::from_conf(conf);
        let event = BusEvent { detail_type: "breakglass remediation".into(), detail: serde_json::json!({}) };
        let live = EventBridgeBus::new(client.clone(), "b");
        assert!(live.put(&event).await.is_err(), "the closed port must refuse a real put");
        assert!(EventBridgeBus::new(client, "b").withheld().put(&event).await.is_ok());
    }
}
