//! breakglass's own events on an EventBridge bus.

use breakglass_core::events::BusEvent;
use breakglass_core::ports::{EventBus, PortError};

use crate::errors::classify_error;

/// breakglass's own events on an EventBridge bus (`source: breakglass`).
#[derive(Debug, Clone)]
pub struct EventBridgeBus {
    client: aws_sdk_eventbridge::Client,
    bus_name: String,
}

impl EventBridgeBus {
    pub fn new(client: aws_sdk_eventbridge::Client, bus_name: impl Into<String>) -> Self {
        EventBridgeBus { client, bus_name: bus_name.into() }
    }
}

impl EventBus for EventBridgeBus {
    async fn put(&self, event: &BusEvent) -> Result<(), PortError> {
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
            let why = out
                .entries
                .unwrap_or_default()
                .into_iter()
                .filter_map(|e| e.error_code.map(|c| format!("{c}: {}", e.error_message.unwrap_or_default())))
                .collect::<Vec<_>>()
                .join("; ");
            return Err(PortError::Retryable(format!("PutEvents: entry failed: {why}")));
        }
        Ok(())
    }
}
