//! Notifications through an SNS topic.

use aws_sdk_sns::types::MessageAttributeValue;
use breakglass_core::ports::{Notification, PortError, Publisher};

use crate::errors::classify_error;

/// Notifications through one SNS topic, `MessageStructure=json`, with message attributes.
#[derive(Debug, Clone)]
pub struct SnsPublisher {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

impl SnsPublisher {
    pub fn new(client: aws_sdk_sns::Client, topic_arn: impl Into<String>) -> Self {
        SnsPublisher { client, topic_arn: topic_arn.into() }
    }
}

impl Publisher for SnsPublisher {
    async fn publish(&self, n: &Notification) -> Result<String, PortError> {
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(&n.subject)
            .message_structure("json")
            .message(n.message_json());
        for (name, value) in &n.attributes {
            let attribute = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::Refused(format!("Publish: message attribute `{name}`: {e}")))?;
            request = request.message_attributes(name, attribute);
        }
        let out = request.send().await.map_err(|e| classify_error("Publish", e))?;
        Ok(out.message_id.unwrap_or_default())
    }
}
