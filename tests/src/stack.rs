//! What a test does with a provisioned [`Stack`]: SDK calls, bus and queue traffic, reading mail.

use serde_json::{json, Value};

use crate::*;

impl Stack {
    /// [`Stack::function_env`] as the execution role whose session `creds` are (from [`role_env`]):
    /// the role's credentials in place of the default ones.
    pub fn function_env_as(&self, creds: &[(String, String)]) -> Vec<(String, String)> {
        self.function_env()
            .into_iter()
            .map(|(k, v)| {
                let v = creds.iter().find(|(c, _)| *c == k).map_or(v, |(_, c)| c.clone());
                (k, v)
            })
            .collect()
    }

    /// The environment of the two Lambdas, as template.yaml sets it.
    pub fn function_env(&self) -> Vec<(String, String)> {
        let mut env = aws_env(&self.endpoint);
        env.push(("BREAKGLASS_CONFIG".into(), self.config_text.clone()));
        env.push(("BREAKGLASS_EVENT_BUS".into(), self.bus.clone()));
        env.push(("BREAKGLASS_TOPIC_ARN".into(), self.topic_arn.clone()));
        env.push(("BREAKGLASS_AUDIT_BUCKET".into(), self.audit_bucket.clone()));
        env.push((
            "BREAKGLASS_CATALOG_PRODUCTS".into(),
            format!("{OPEN_PRODUCT},{CLOSE_PRODUCT},{REQUEST_PRODUCT}"),
        ));
        env.push(("BREAKGLASS_CATALOG_PRINCIPALS".into(), CATALOG_PRINCIPAL.into()));
        env.push(("BREAKGLASS_ALARM_TOPIC_ARN".into(), self.alarm_topic_arn.clone()));
        env.push(("BREAKGLASS_SUBSCRIPTIONS".into(), self.expected_subscriptions.to_string()));
        env.push(("BREAKGLASS_ALARM_SUBSCRIPTIONS".into(), self.expected_alarm_subscriptions.to_string()));
        env.push(("BREAKGLASS_KEY_ARN".into(), KEY_ARN.into()));
        // As template.yaml sets it, when the config names the records' key (it checks the config's seal).
        if let Some(key) = self.config.audit.as_ref().and_then(|a| a.mac_key.clone()) {
            env.push(("BREAKGLASS_RECORD_KEY".into(), key));
        }
        env
    }

    /// The gate as template.yaml deploys it, behind its function URL: the real `gate` binary with
    /// its execution role under `iam` (and the URL's IAM check), or with the default credentials.
    pub async fn gate(&self, iam: Option<&IamProxy>) -> GateUrl {
        let mut env = self.function_env();
        env.push(("BREAKGLASS_GATE_ROLES".into(), "breakglass-operator".into()));
        match iam {
            Some(iam) => {
                let gate = Function::spawn("gate", &iam.function_env(env, "gate").await);
                GateUrl::start(&self.endpoint, gate, Some(iam.url_check("breakglass-gate")))
            }
            None => GateUrl::start(&self.endpoint, Function::spawn("gate", &env), None),
        }
    }

    /// A stack as Service Catalog leaves it when `principal` provisions `product` with the custom-resource
    /// `properties` its template passes: the `aws:` tags (which only AWS can set on a real stack; moto
    /// lets the test set them) and the product template's parameters with their values. Returns its
    /// StackId.
    pub async fn catalog_stack(&self, product: &str, principal: &str, properties: &Value) -> String {
        let tag = |k: &str, v: &str| aws_sdk_cloudformation::types::Tag::builder().key(k).value(v).build();
        // Service Catalog names a provisioned product's stack after the account it runs in.
        let account =
            self.config.organisation.as_ref().map_or(ACCOUNT.to_owned(), |o| o.admin_account.clone());
        let name = format!(
            "SC-{account}-pp-{}",
            self.stack_counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        let (template, parameters) = product_stack(properties);
        self.clients
            .cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(template)
            .set_parameters(Some(parameters))
            .tags(tag(
                "aws:servicecatalog:productArn",
                &format!("arn:aws:catalog:{REGION}:{ACCOUNT}:product/{product}"),
            ))
            .tags(tag(
                "aws:servicecatalog:provisionedProductArn",
                &format!("arn:aws:servicecatalog:{REGION}:{ACCOUNT}:stack/log-access/pp-1"),
            ))
            .tags(tag("aws:servicecatalog:provisioningPrincipalArn", principal))
            .send()
            .await
            .unwrap()
            .stack_id
            .unwrap()
    }

    /// The product stack `stack_id` as Service Catalog leaves it when the product is updated to the
    /// custom-resource `properties`: its parameters change, its tags stay.
    pub async fn update_catalog_stack(&self, stack_id: &str, properties: &Value) {
        let (template, parameters) = product_stack(properties);
        self.clients
            .cloudformation
            .update_stack()
            .stack_name(stack_id)
            .template_body(template)
            .set_parameters(Some(parameters))
            .send()
            .await
            .unwrap();
    }

    /// Every message waiting in a queue (bodies parsed as JSON).
    pub async fn drain(&self, queue_url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let messages = receive(&self.clients.sqs, queue_url, 10, 1).await;
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body.as_deref().unwrap_or("null")).unwrap_or(Value::Null));
                if let Some(h) = m.receipt_handle {
                    delete(&self.clients.sqs, queue_url, h).await;
                }
            }
        }
    }

    /// Puts a CloudTrail-shaped event for an S3 call on the default bus, as CloudTrail would.
    pub async fn cloudtrail(&self, event: &Value) {
        let r = self
            .clients
            .events
            .put_events()
            .entries(
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(format!(
                        "aws.{}",
                        event["detail"]["eventSource"]
                            .as_str()
                            .unwrap_or("s3")
                            .split('.')
                            .next()
                            .unwrap_or("s3")
                    ))
                    .detail_type("AWS API Call via CloudTrail")
                    .detail(event["detail"].to_string())
                    .build(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.failed_entry_count, 0);
    }

    /// Runs what the rules delivered: S3 calls to the enforcer and the notifier, then breakglass's own
    /// events (remediations) to the notifier, as the template's targets do. Returns the enforcer's
    /// answers.
    pub async fn route(&self, enforcer: &Function, notifier: &Function) -> Vec<Result<Value, String>> {
        let mut answers = Vec::new();
        let mut delivered = self.drain(&self.s3_calls).await;
        delivered.extend(self.drain(&self.control_calls).await);
        for delivered in delivered {
            answers.push(enforcer.invoke(&delivered));
            let _ = notifier.invoke(&delivered);
        }
        for own in self.drain(&self.own_events).await {
            let _ = notifier.invoke(&own);
        }
        answers
    }

    /// Puts `event` on the recorder's queue as the read rule would deliver it, for an event the rule
    /// matches in a way moto's EventBridge does not model, or one it would not deliver at all.
    pub async fn queue_read(&self, event: &Value) {
        self.clients
            .sqs
            .send_message()
            .queue_url(&self.reads)
            .message_body(event.to_string())
            .send()
            .await
            .unwrap();
    }

    /// What the recorder's event source mapping does: the read queue's messages, in batches, to the
    /// recorder; the messages of each batch deleted but those it hands back
    /// (`batchItemFailures`). Returns the recorder's answers.
    pub async fn record_reads(&self, recorder: &Function) -> Vec<Value> {
        let mut answers = Vec::new();
        while let Some(answer) = record_batch(&self.clients.sqs, &self.reads, recorder).await {
            answers.push(answer);
        }
        answers
    }

    /// The audit records under `prefix` (relative to the trail's `breakglass/`), in key order.
    pub async fn audit_under(&self, prefix: &str) -> Vec<(String, Value)> {
        let mut out = Vec::new();
        for key in self.audit_keys(prefix).await {
            let record = self.audit_record(&key).await;
            out.push((key, record));
        }
        out
    }

    /// The keys of the audit trail under `prefix` (relative to its `breakglass/`), in key order.
    pub async fn audit_keys(&self, prefix: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut token = None;
        loop {
            let list = self
                .clients
                .s3
                .list_objects_v2()
                .bucket(&self.audit_bucket)
                .prefix(format!("breakglass/{prefix}"))
                .set_continuation_token(token)
                .send()
                .await
                .unwrap();
            out.extend(list.contents.unwrap_or_default().into_iter().filter_map(|o| o.key));
            token = list.next_continuation_token;
            if token.is_none() {
                return out;
            }
        }
    }

    /// The audit record at `key` (a key of [`Stack::audit_keys`]), as JSON.
    pub async fn audit_record(&self, key: &str) -> Value {
        let body =
            self.clients.s3.get_object().bucket(&self.audit_bucket).key(key).send().await.unwrap().body;
        serde_json::from_slice(&body.collect().await.unwrap().into_bytes()).unwrap()
    }

    /// SNS deliveries waiting in a subscriber queue: (message attributes, the JSON document).
    pub async fn deliveries(&self, queue: &str) -> Vec<(Value, Value)> {
        self.drain(queue)
            .await
            .into_iter()
            .map(|m| {
                let doc =
                    serde_json::from_str(m["Message"].as_str().unwrap_or("null")).unwrap_or(Value::Null);
                (m["MessageAttributes"].clone(), doc)
            })
            .collect()
    }

    /// Every audit record of `bucket` (key, JSON), in key order.
    pub async fn audit_records(&self, bucket: &str) -> Vec<(String, Value)> {
        self.audit_under(&format!("{bucket}/")).await
    }

    /// The ARN of the queue at `url`, as SQS reports it (in the account that owns it).
    pub async fn queue_arn(&self, url: &str) -> String {
        self.clients
            .sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .unwrap()
            .attributes
            .unwrap()[&aws_sdk_sqs::types::QueueAttributeName::QueueArn]
            .clone()
    }

    /// template.yaml's sweep queue and its dead-letter queue (after `attempts` receives); returns the
    /// queue's URL and the dead-letter queue's.
    pub async fn sweep_queue(&self, attempts: u32) -> (String, String) {
        let (dlq, _) = queue(&self.clients, "breakglass-sweep-dead-letters").await;
        let dlq_arn = self.queue_arn(&dlq).await;
        let url = self
            .clients
            .sqs
            .create_queue()
            .queue_name("breakglass-sweep")
            .attributes(aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout, "60")
            .attributes(
                aws_sdk_sqs::types::QueueAttributeName::RedrivePolicy,
                json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": attempts}).to_string(),
            )
            .send()
            .await
            .unwrap()
            .queue_url
            .unwrap();
        (url, dlq)
    }

    /// What the enforcer's event source mapping on the sweep queue does: up to `batch` messages per
    /// invocation with their `ApproximateReceiveCount`, those not handed back deleted; a message
    /// handed back is visible again at once (in place of the visibility timeout) until the redrive
    /// policy moves it to the dead-letter queue. Returns the enforcer's answers.
    pub async fn run_sweep_queue(&self, url: &str, enforcer: &Function, batch: i32) -> Vec<Value> {
        let mut answers = Vec::new();
        loop {
            let messages = receive(&self.clients.sqs, url, batch, 1).await;
            if messages.is_empty() {
                return answers;
            }
            let records: Vec<Value> = messages
                .iter()
                .map(|m| {
                    let count = m
                        .attributes
                        .as_ref()
                        .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                        .cloned()
                        .unwrap_or_else(|| "1".into());
                    json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                        "attributes": {"ApproximateReceiveCount": count}, "messageAttributes": {}, "eventSource": "aws:sqs",
                        "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:breakglass-sweep"), "awsRegion": REGION})
                })
                .collect();
            let answer = enforcer.invoke(&json!({ "Records": records })).unwrap();
            let failed: Vec<String> = answer["batchItemFailures"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned)).collect())
                .unwrap_or_default();
            for m in &messages {
                let handle = m.receipt_handle.clone().unwrap_or_default();
                if failed.iter().any(|f| Some(f.as_str()) == m.message_id.as_deref()) {
                    self.clients
                        .sqs
                        .change_message_visibility()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .visibility_timeout(0)
                        .send()
                        .await
                        .unwrap();
                } else {
                    delete(&self.clients.sqs, url, handle).await;
                }
            }
            answers.push(answer);
        }
    }

    /// Subscribes the queue `queue_arn` to the notification topic (raw SNS envelopes, no filter
    /// policy), as a machine subscriber would.
    pub async fn subscribe_queue(&self, queue_arn: &str) {
        self.clients
            .sns
            .subscribe()
            .topic_arn(&self.topic_arn)
            .protocol("sqs")
            .endpoint(queue_arn)
            .send()
            .await
            .unwrap();
    }

    /// Writes examples/policies/tampered-closed.json over `bucket`'s policy, as an intruder would;
    /// returns the policy written.
    pub async fn tamper(&self, bucket: &str) -> String {
        let tampered =
            std::fs::read_to_string(root().join("examples/policies/tampered-closed.json")).unwrap();
        self.clients.s3.put_bucket_policy().bucket(bucket).policy(&tampered).send().await.unwrap();
        tampered
    }

    pub async fn live_policy(&self, bucket: &str) -> Option<String> {
        self.clients.s3.get_bucket_policy().bucket(bucket).send().await.ok().and_then(|o| o.policy)
    }

    /// The state of `bucket`'s live policy, by the project's canonical check, read from moto itself.
    pub async fn live_state(&self, bucket: &str) -> canonical_policies::State {
        let live = self.live_policy(bucket).await;
        let Some(b) = self.config.bucket(bucket) else { panic!("`{bucket}` is not in the stack's config") };
        canonical_policies::classify(b, live.as_deref().map(str::as_bytes), time::OffsetDateTime::now_utc())
            .state
    }
}

/// One batch of the recorder's queue (`reads`, up to 100 messages) to the recorder, as its event
/// source mapping gathers it; the messages deleted but those it hands back (`batchItemFailures`).
/// The recorder's answer, or `None` when the queue was empty.
/// One message of the read queue `breakglass-reads` of `account` in `region`, as the event source
/// mapping hands it to the recorder.
pub fn sqs_record(id: &str, receipt: &str, body: &str, account: &str, region: &str) -> Value {
    json!({"messageId": id, "receiptHandle": receipt, "body": body, "attributes": {}, "messageAttributes": {},
        "eventSource": "aws:sqs", "eventSourceARN": format!("arn:aws:sqs:{region}:{account}:breakglass-reads"),
        "awsRegion": region})
}

pub async fn record_batch(sqs: &aws_sdk_sqs::Client, reads: &str, recorder: &Function) -> Option<Value> {
    let mut batch = Vec::new();
    // SQS hands out 10 at a time; the mapping gathers a batch from several receives.
    while batch.len() < 100 {
        let messages = receive(sqs, reads, 10, if batch.is_empty() { 1 } else { 0 }).await;
        if messages.is_empty() {
            break;
        }
        batch.extend(messages);
    }
    if batch.is_empty() {
        return None;
    }
    let records: Vec<Value> = batch
        .iter()
        .map(|m| {
            let (id, receipt) = (m.message_id.as_deref(), m.receipt_handle.as_deref());
            sqs_record(
                id.unwrap_or_default(),
                receipt.unwrap_or_default(),
                m.body.as_deref().unwrap_or_default(),
                ACCOUNT,
                REGION,
            )
        })
        .collect();
    let answer = recorder.invoke(&json!({ "Records": records })).unwrap();
    let failed: Vec<&str> = answer["batchItemFailures"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["itemIdentifier"].as_str()).collect())
        .unwrap_or_default();
    for m in &batch {
        if !failed.contains(&m.message_id.as_deref().unwrap_or_default()) {
            delete(sqs, reads, m.receipt_handle.clone().unwrap_or_default()).await;
        }
    }
    Some(answer)
}

/// A product stack's template and parameters for the custom-resource `properties` (the catalog's map
/// of parameters to properties, which a core test ties to catalog/products): unknown actions and
/// absent properties give no parameter and an empty one.
fn product_stack(properties: &Value) -> (String, Vec<aws_sdk_cloudformation::types::Parameter>) {
    let action = properties["Action"].as_str().unwrap_or_default();
    let pairs = breakglass_core::access::catalog::product_parameters(action).unwrap_or_default();
    let mut declared = serde_json::Map::new();
    let mut parameters = Vec::new();
    for (property, parameter) in pairs {
        declared.insert((*parameter).to_owned(), json!({"Type": "String"}));
        parameters.push(
            aws_sdk_cloudformation::types::Parameter::builder()
                .parameter_key(*parameter)
                .parameter_value(properties[*property].as_str().unwrap_or_default())
                .build(),
        );
    }
    let template = json!({
        "Parameters": declared,
        "Resources": {"Handle": {"Type": "AWS::CloudFormation::WaitConditionHandle"}},
    });
    (template.to_string(), parameters)
}
