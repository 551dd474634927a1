//! Reads that `bucketName` does not name (issue 22): a copy reads its source, which is another bucket
//! than the one it writes, and a read through an access point names the access point's alias. Both
//! are attributed by the source and the event's `resources` ARNs.

use breakglass_core::inbound::reads::{self, Unreadable};
use breakglass_core::testing::{example_config as config, Bus, Log};
use breakglass_core::trail::audit::Trail;
use breakglass_core::trail::recorder::{self, SLOT};
use serde_json::{json, Value};
use time::macros::datetime;

const PROTECTED: &str = "acme-cloudtrail-logs";
const ELSEWHERE: &str = "acme-case-4711-evidence";

fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/data-events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `bucket/key` of every object the event's `resources` name.
fn objects(event: &Value) -> Vec<String> {
    event["detail"]["resources"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["type"] == "AWS::S3::Object")
        .map(|r| r["ARN"].as_str().unwrap().trim_start_matches("arn:aws:s3:::").to_owned())
        .collect()
}

#[test]
fn a_copy_out_of_a_protected_bucket_is_a_read_of_its_source_object() {
    let copy = fixture("copyobject.json");
    let source = objects(&copy).into_iter().find(|o| o.starts_with(PROTECTED)).unwrap();
    let r = reads::parse(&copy.to_string(), &config()).unwrap();
    assert_eq!(r.call, "CopyObject");
    assert_eq!(r.bucket, PROTECTED, "the source, not the target {ELSEWHERE}");
    assert_eq!(format!("{}/{}", r.bucket, r.key.as_deref().unwrap()), source);
    assert_eq!(r.version_id.as_deref(), Some("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"), "URL-decoded");
    assert_eq!(r.role.as_deref(), Some("arn:aws:iam::111122223333:role/investigations/LogInvestigator"));

    // UploadPartCopy reads its source the same way; a source with a leading slash, an encoded key
    // and no `resources` still names it.
    let mut part = copy.clone();
    part["detail"]["eventName"] = json!("UploadPartCopy");
    part["detail"]["requestParameters"]["x-amz-copy-source"] =
        json!(format!("/{PROTECTED}/AWSLogs%2Fa%20b%3F.gz"));
    part["detail"]["resources"] = json!([]);
    let r = reads::parse(&part.to_string(), &config()).unwrap();
    assert_eq!((r.call.as_str(), r.bucket.as_str()), ("UploadPartCopy", PROTECTED));
    assert_eq!((r.key.as_deref(), r.version_id), (Some("AWSLogs/a b?.gz"), None));

    // Through an access point the copy source is the access point's ARN: the protected object
    // among the `resources` that is not the target is the source.
    let mut via_ap = copy;
    via_ap["detail"]["requestParameters"]["x-amz-copy-source"] = json!(
        "arn%3Aaws%3As3%3Aeu-central-1%3A111122223333%3Aaccesspoint%2Flogs-readers%2Fobject%2FAWSLogs%2Fx.gz"
    );
    let r = reads::parse(&via_ap.to_string(), &config()).unwrap();
    assert_eq!(format!("{}/{}", r.bucket, r.key.as_deref().unwrap()), source);
}

#[test]
fn a_copy_into_a_protected_bucket_is_no_read_of_it() {
    let mut into = fixture("copyobject.json");
    let key = into["detail"]["requestParameters"]["key"].as_str().unwrap().to_owned();
    let d = &mut into["detail"];
    d["requestParameters"]["bucketName"] = json!(PROTECTED);
    d["requestParameters"]["x-amz-copy-source"] = json!(format!("{ELSEWHERE}/{key}"));
    d["resources"] = json!([
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{PROTECTED}/{key}")},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{PROTECTED}")},
        {"type": "AWS::S3::Object", "ARN": format!("arn:aws:s3:::{ELSEWHERE}/{key}")},
        {"accountId": "111122223333", "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{ELSEWHERE}")}]);
    assert_eq!(reads::parse(&into.to_string(), &config()), Err(Unreadable::CopyInto(ELSEWHERE.to_owned())));
}

#[test]
fn a_read_through_an_access_point_is_attributed_by_the_resources_arn() {
    let via_ap = fixture("getobject-access-point.json");
    let alias = via_ap["detail"]["requestParameters"]["bucketName"].as_str().unwrap();
    assert!(alias.ends_with("-s3alias") && config().bucket(alias).is_none());
    let r = reads::parse(&via_ap.to_string(), &config()).unwrap();
    assert_eq!((r.call.as_str(), r.bucket.as_str()), ("GetObject", PROTECTED));
    assert_eq!(format!("{}/{}", r.bucket, r.key.as_deref().unwrap()), objects(&via_ap)[0]);
}

#[tokio::test]
async fn the_recorder_writes_a_copy_under_its_source_bucket() {
    let config = config();
    let trail = Trail { log: Log::default(), config: config.audit.clone().unwrap(), config_sha256: None };
    let messages = [("m1", "copyobject.json"), ("m2", "getobject-access-point.json")].map(|(id, f)| {
        breakglass_core::inbound::event::QueueMessage {
            id: id.into(),
            body: fixture(f).to_string(),
            receive_count: 1,
        }
    });
    let now = datetime!(2026-12-01 22:43:10 UTC);
    let done = recorder::record(&config, &trail, &Bus::default(), &messages, now, SLOT).await;
    assert_eq!((done.reads, done.unreadable, done.failed.len()), (2, 0, 0), "{done:?}");
    let records = trail.log.under(&format!("breakglass/_reads/{PROTECTED}/"));
    assert_eq!(records.len(), 1, "one record for the one bucket both read: {records:?}");
    assert!(trail.log.under(&format!("breakglass/_reads/{ELSEWHERE}/")).is_empty());
    let calls: Vec<&str> =
        records[0].1["reads"].as_array().unwrap().iter().map(|r| r["call"].as_str().unwrap()).collect();
    assert!(calls.contains(&"CopyObject") && calls.contains(&"GetObject"), "{calls:?}");
}
