//! Harness for the end-to-end tests: moto as the local AWS (started on a free loopback port,
//! stopped on drop), SDK clients against it, a Lambda Runtime API server that runs the real
//! `enforcer` and `notifier` binaries, provisioning of what template.yaml provisions, and
//! CloudTrail-shaped events for the S3 calls the tests make (moto's S3 emits none).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_debug_implementations
)]

pub use proofs::{config, config_text, root};
use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_sdk_s3::config::{Credentials, Region};
use serde_json::{json, Value};

pub const REGION: &str = "eu-central-1";
/// The Service Catalog products of the example deployment, and who may provision them.
pub const OPEN_PRODUCT: &str = "prod-openlogaccess1";
pub const CLOSE_PRODUCT: &str = "prod-closelogaccess";
pub const REQUEST_PRODUCT: &str = "prod-requestlogacce";
pub const CATALOG_PRINCIPAL: &str = "arn:aws:iam::111122223333:role/LogTeam";
/// A session of [`CATALOG_PRINCIPAL`], as Service Catalog records the provisioning principal.
pub const OPERATOR_SESSION: &str = "arn:aws:sts::111122223333:assumed-role/LogTeam/alice@example.com";
pub const ACCOUNT: &str = "111122223333";

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// moto in server mode, from the project's `.venv` (`scripts/venv.sh`).
pub struct Moto {
    child: Child,
    pub endpoint: String,
}

impl Moto {
    /// `None` (with a notice) when moto is not installed, except under `CI=true`, where it fails.
    pub fn start() -> Option<Moto> {
        let server = root().join(".venv/bin/moto_server");
        if !server.exists() {
            assert!(!ci(), "moto is not installed at {} (run scripts/venv.sh)", server.display());
            eprintln!("notice: moto not installed ({}); run scripts/venv.sh. Skipping.", server.display());
            return None;
        }
        let port = free_port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let endpoint = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not start on port {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(Moto { child, endpoint })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A proxy in front of moto that answers one kind of request with an injected failure and forwards
/// everything else: how the tests make exactly S3's *write* fail.
pub struct FaultProxy {
    pub endpoint: String,
    /// Every request that passed: request line, headers and body (how tests count AssumeRole calls).
    requests: Arc<Mutex<Vec<String>>>,
}

/// Rewrites an upstream response (request line, raw HTTP response) before the client sees it.
type Rewrite = fn(&str, Vec<u8>) -> Vec<u8>;

impl FaultProxy {
    /// Requests whose request line satisfies `fail` get `status` with an S3-style error `code`.
    pub fn start(upstream: &str, fail: fn(&str) -> bool, status: u16, code: &'static str) -> FaultProxy {
        FaultProxy::with_rewrite(upstream, fail, status, code, |_, r| r)
    }

    /// S3 `ListBuckets` answered in pages of [`BUCKET_PAGE`] with a continuation token, as AWS pages
    /// it: moto returns every bucket at once and no token, which would leave a client's page loop
    /// unexercised. Everything else is forwarded as it is.
    pub fn paging_list_buckets(upstream: &str) -> FaultProxy {
        FaultProxy::with_rewrite(upstream, |_| false, 500, "Unused", page_list_buckets)
    }

    fn with_rewrite(
        upstream: &str,
        fail: fn(&str) -> bool,
        status: u16,
        code: &'static str,
        rewrite: Rewrite,
    ) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let upstream = upstream.trim_start_matches("http://").to_owned();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let upstream = upstream.clone();
                let log = Arc::clone(&log);
                std::thread::spawn(move || {
                    proxy_connection(client, &upstream, fail, status, code, rewrite, &log)
                });
            }
        });
        FaultProxy { endpoint, requests }
    }

    /// A proxy that fails nothing and only records.
    pub fn recording(upstream: &str) -> FaultProxy {
        FaultProxy::start(upstream, |_| false, 500, "Unused")
    }

    /// How many requests so far contain `needle` (in the request line, a header or the body).
    pub fn count(&self, needle: &str) -> usize {
        self.with(needle).len()
    }

    /// The requests so far that contain `needle`, each as request line, headers and body.
    pub fn with(&self, needle: &str) -> Vec<String> {
        self.requests.lock().unwrap().iter().filter(|r| r.contains(needle)).cloned().collect()
    }
}

/// Buckets per page of [`FaultProxy::paging_list_buckets`].
pub const BUCKET_PAGE: usize = 2;

/// One page of a `ListBuckets` answer: the buckets from the offset in `continuation-token` on, and
/// the next token when more are left.
fn page_list_buckets(request_line: &str, response: Vec<u8>) -> Vec<u8> {
    if !(request_line.starts_with("GET /?") && request_line.contains("x-id=ListBuckets")) {
        return response;
    }
    let text = String::from_utf8(response).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(!head.to_ascii_lowercase().contains("chunked"), "the paging proxy reads whole bodies only");
    let offset: usize = request_line
        .split(['?', '&', ' '])
        .find_map(|p| p.strip_prefix("continuation-token="))
        .map_or(0, |t| t.parse().unwrap());
    let (before, rest) = body.split_once("<Buckets>").unwrap_or((body, "</Buckets>"));
    let (list, after) = rest.split_once("</Buckets>").unwrap();
    let all: Vec<String> =
        list.split("</Bucket>").filter(|b| b.contains("<Bucket>")).map(|b| format!("{b}</Bucket>")).collect();
    let page: String = all.iter().skip(offset).take(BUCKET_PAGE).cloned().collect();
    let next = offset + BUCKET_PAGE;
    let token = if next < all.len() {
        format!("<ContinuationToken>{next}</ContinuationToken>")
    } else {
        String::new()
    };
    let body = format!("{before}<Buckets>{page}</Buckets>{token}{after}");
    let head: String = head
        .lines()
        .map(|l| {
            if l.to_ascii_lowercase().starts_with("content-length:") {
                format!("Content-Length: {}", body.len())
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\r\n");
    format!("{head}\r\n\r\n{body}").into_bytes()
}

fn proxy_connection(
    client: TcpStream,
    upstream: &str,
    fail: fn(&str) -> bool,
    status: u16,
    code: &str,
    rewrite: Rewrite,
    log: &Mutex<Vec<String>>,
) {
    let mut reader = BufReader::new(client.try_clone().unwrap());
    let mut out = client;
    loop {
        let mut head = String::new();
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let request_line = line.clone();
        let mut length = 0usize;
        loop {
            // Forwarded upstream one request per connection, so keep-alive is answered here.
            if !line.to_ascii_lowercase().starts_with("connection:") {
                head.push_str(&line);
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    length = v.trim().parse().unwrap_or(0);
                }
            }
            line.clear();
            if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                break;
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        log.lock().unwrap().push(format!("{head}\r\n{}", String::from_utf8_lossy(&body)));
        let response = if fail(&request_line) {
            let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test</Message></Error>");
            format!("HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{xml}", xml.len()).into_bytes()
        } else {
            let mut up = TcpStream::connect(upstream).unwrap();
            up.write_all(head.as_bytes()).unwrap();
            up.write_all(b"Connection: close\r\n\r\n").unwrap();
            up.write_all(&body).unwrap();
            let mut response = Vec::new();
            up.read_to_end(&mut response).unwrap();
            rewrite(&request_line, response)
        };
        if out.write_all(&response).is_err() {
            return;
        }
    }
}

/// A local HTTP server in place of CloudFormation's pre-signed ResponseURL: records every request
/// (method, headers, body) and answers with `status`.
pub struct ResponseCatcher {
    pub url: String,
    received: Arc<Mutex<Vec<(String, String, Value)>>>,
}

impl ResponseCatcher {
    pub fn start(status: u16) -> ResponseCatcher {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url =
            format!("http://{}/cloudformation-response?X-Amz-Signature=abc", listener.local_addr().unwrap());
        let received: Arc<Mutex<Vec<(String, String, Value)>>> = Arc::default();
        let sink = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let mut reader = BufReader::new(conn.try_clone().unwrap());
                let mut out = conn;
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
                    continue;
                }
                let (mut headers, mut length, mut line) = (String::new(), 0usize, String::new());
                while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.trim().is_empty() {
                    if let Some((k, v)) = line.split_once(':') {
                        if k.eq_ignore_ascii_case("content-length") {
                            length = v.trim().parse().unwrap_or(0);
                        }
                    }
                    headers.push_str(&line.to_ascii_lowercase());
                    line.clear();
                }
                let mut body = vec![0u8; length];
                let _ = reader.read_exact(&mut body);
                let method = request_line.split(' ').next().unwrap_or_default().to_owned();
                sink.lock().unwrap().push((
                    method,
                    headers,
                    serde_json::from_slice(&body).unwrap_or(Value::Null),
                ));
                let _ = out.write_all(
                    format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                );
            }
        });
        ResponseCatcher { url, received }
    }

    /// Everything received so far: (method, lowercased headers, JSON body).
    pub fn take(&self) -> Vec<(String, String, Value)> {
        std::mem::take(&mut *self.received.lock().unwrap())
    }
}

/// The variables every process talking to moto needs.
pub fn aws_env(endpoint: &str) -> Vec<(String, String)> {
    [
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "testing"),
        ("AWS_REGION", REGION),
        ("AWS_DEFAULT_REGION", REGION),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

#[derive(Debug, Clone)]
pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub sns: aws_sdk_sns::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub events: aws_sdk_eventbridge::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
    pub iam: aws_sdk_iam::Client,
    pub kms: aws_sdk_kms::Client,
}

pub async fn clients(endpoint: &str) -> Clients {
    Clients::from_shared(&base_config(endpoint, REGION).await)
}

async fn base_config(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "e2e"))
        .endpoint_url(endpoint)
        .load()
        .await
}

/// Clients that act in `account` (organisation mode: a logging account) in `region`, through the
/// SDK's assume-role provider as the adapters do: moto answers AssumeRole into another account's
/// role with credentials of that account.
pub async fn account_clients(endpoint: &str, account: &str, region: &str) -> Clients {
    Clients::from_shared(&account_config(endpoint, account, region).await)
}

/// A bucket of `account` in `region` (its location constraint set, as outside us-east-1), tagged
/// with `tags` when there are any; the S3 client that made it.
pub async fn account_bucket(
    endpoint: &str,
    account: &str,
    region: &str,
    name: &str,
    tags: &[(&str, &str)],
) -> aws_sdk_s3::Client {
    let s3 = account_clients(endpoint, account, region).await.s3;
    bucket_in(&s3, name, region, false).await;
    if !tags.is_empty() {
        let mut set = aws_sdk_s3::types::Tagging::builder();
        for (k, v) in tags {
            set = set.tag_set(aws_sdk_s3::types::Tag::builder().key(*k).value(*v).build().unwrap());
        }
        s3.put_bucket_tagging().bucket(name).tagging(set.build().unwrap()).send().await.unwrap();
    }
    s3
}

/// The SDK configuration that acts in `account` (through an assumed role, as on AWS), for the
/// clients [`Clients`] does not hold.
pub async fn account_config(endpoint: &str, account: &str, region: &str) -> aws_config::SdkConfig {
    let base = base_config(endpoint, region).await;
    let provider = assume(&base, &format!("arn:aws:iam::{account}:role/e2e-setup"), "e2e-setup").await;
    base.into_builder()
        .credentials_provider(aws_sdk_s3::config::SharedCredentialsProvider::new(provider))
        .build()
}

async fn assume(
    base: &aws_config::SdkConfig,
    role: &str,
    session: &str,
) -> aws_config::sts::AssumeRoleProvider {
    aws_config::sts::AssumeRoleProvider::builder(role).session_name(session).configure(base).build().await
}

/// The environment of a Lambda function whose execution role is `role` (of any account): as Lambda
/// does, the role's session credentials in `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and
/// `AWS_SESSION_TOKEN`, so the function (or a person's CLI, as session `session`) acts in the role's
/// account.
pub async fn role_env(endpoint: &str, role: &str, session: &str) -> Vec<(String, String)> {
    use aws_sdk_s3::config::ProvideCredentials;
    let creds = assume(&base_config(endpoint, REGION).await, role, session)
        .await
        .provide_credentials()
        .await
        .unwrap();
    let mut env = aws_env(endpoint);
    for (k, v) in env.iter_mut() {
        match k.as_str() {
            "AWS_ACCESS_KEY_ID" => *v = creds.access_key_id().to_owned(),
            "AWS_SECRET_ACCESS_KEY" => *v = creds.secret_access_key().to_owned(),
            "AWS_SESSION_TOKEN" => *v = creds.session_token().unwrap_or_default().to_owned(),
            _ => {}
        }
    }
    env
}

impl Clients {
    fn from_shared(shared: &aws_config::SdkConfig) -> Clients {
        let s3 = aws_sdk_s3::config::Builder::from(shared).force_path_style(true).build();
        Clients {
            s3: aws_sdk_s3::Client::from_conf(s3),
            sns: aws_sdk_sns::Client::new(shared),
            sqs: aws_sdk_sqs::Client::new(shared),
            events: aws_sdk_eventbridge::Client::new(shared),
            cloudformation: aws_sdk_cloudformation::Client::new(shared),
            iam: aws_sdk_iam::Client::new(shared),
            kms: aws_sdk_kms::Client::new(shared),
        }
    }
}

// ------------------------------------------------------------------------------------------------
// The Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), enough of
// it for lambda_runtime: `next`, `response`, `error`, `init/error`.

#[derive(Default)]
struct RuntimeState {
    queue: VecDeque<(String, String)>,
    results: HashMap<String, Result<String, String>>,
    init_error: Option<String>,
    first_poll: Option<Instant>,
}

#[derive(Clone)]
pub struct RuntimeApi {
    pub addr: String,
    state: Arc<(Mutex<RuntimeState>, Condvar)>,
    next_id: Arc<Mutex<u64>>,
}

impl RuntimeApi {
    pub fn start() -> RuntimeApi {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let api = RuntimeApi { addr, state: Arc::default(), next_id: Arc::default() };
        let server = api.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let conn = server.clone();
                std::thread::spawn(move || conn.serve(stream));
            }
        });
        api
    }

    fn serve(&self, stream: TcpStream) {
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut out = stream;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let mut parts = line.split_whitespace();
            let (method, path) =
                (parts.next().unwrap_or("").to_owned(), parts.next().unwrap_or("").to_owned());
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 {
                    return;
                }
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            let mut body = vec![0u8; length];
            if reader.read_exact(&mut body).is_err() {
                return;
            }
            let body = String::from_utf8_lossy(&body).into_owned();
            let response = self.route(&method, &path, body);
            if out.write_all(response.as_bytes()).is_err() {
                return;
            }
        }
    }

    fn route(&self, method: &str, path: &str, body: String) -> String {
        let (lock, cvar) = &*self.state;
        if method == "GET" && path.ends_with("/runtime/invocation/next") {
            let mut s = lock.lock().unwrap();
            s.first_poll.get_or_insert_with(Instant::now);
            cvar.notify_all();
            loop {
                if let Some((id, event)) = s.queue.pop_front() {
                    let deadline = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis()
                        + 30_000;
                    return format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {id}\r\nLambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:{REGION}:{ACCOUNT}:function:e2e\r\nLambda-Runtime-Trace-Id: Root=1-00000000-000000000000000000000000\r\nContent-Length: {}\r\n\r\n{event}",
                        event.len()
                    );
                }
                s = cvar.wait(s).unwrap();
            }
        }
        let mut s = lock.lock().unwrap();
        if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
            if let Some(id) = rest.strip_suffix("/response") {
                s.results.insert(id.to_owned(), Ok(body));
            } else if let Some(id) = rest.strip_suffix("/error") {
                s.results.insert(id.to_owned(), Err(body));
            }
        } else if path.ends_with("/runtime/init/error") {
            s.init_error = Some(body);
        }
        cvar.notify_all();
        "HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\nContent-Type: application/json\r\n\r\n{}".to_owned()
    }

    /// Queues an event and waits for the function's answer: `Ok(response)` or `Err(error body)`.
    pub fn invoke(&self, event: &Value) -> Result<Value, String> {
        let id = {
            let mut n = self.next_id.lock().unwrap();
            *n += 1;
            format!("req-{n}")
        };
        let (lock, cvar) = &*self.state;
        let mut s = lock.lock().unwrap();
        s.queue.push_back((id.clone(), event.to_string()));
        cvar.notify_all();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(r) = s.results.remove(&id) {
                return r.map(|b| serde_json::from_str(&b).unwrap_or(Value::String(b)));
            }
            if let Some(e) = &s.init_error {
                return Err(format!("init error: {e}"));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(!left.is_zero(), "function did not answer {id}");
            s = cvar.wait_timeout(s, left).unwrap().0;
        }
    }

    /// Waits until the function polls for its first event: the end of its cold start.
    pub fn wait_ready(&self) -> Instant {
        let (lock, cvar) = &*self.state;
        let mut s = lock.lock().unwrap();
        loop {
            if let Some(t) = s.first_poll {
                return t;
            }
            assert!(s.init_error.is_none(), "init error: {:?}", s.init_error);
            s = cvar.wait_timeout(s, Duration::from_secs(30)).unwrap().0;
        }
    }
}

/// A Lambda binary running against its own Runtime API; killed on drop.
pub struct Function {
    child: Child,
    pub api: RuntimeApi,
    pub started: Instant,
}

/// Path of a workspace binary (built by `make test` before the tests run).
pub fn binary(name: &str) -> PathBuf {
    // Tests run from target/<profile>/deps, binaries such as the demo from target/<profile>.
    let exe = std::env::current_exe().unwrap();
    let dirs: Vec<PathBuf> = exe.ancestors().skip(1).take(2).map(PathBuf::from).collect();
    dirs.iter().map(|d| d.join(name)).find(|p| p.exists()).unwrap_or_else(|| {
        panic!("{name} is not built next to {}: run `cargo build -p {name}` (make test does)", exe.display())
    })
}

impl Function {
    pub fn spawn(name: &str, env: &[(String, String)]) -> Function {
        let api = RuntimeApi::start();
        let started = Instant::now();
        let child = Command::new(binary(name))
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", &api.addr)
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "e2e")
            .env("RUST_LOG", "info")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(if std::env::var_os("E2E_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            .stderr(if std::env::var_os("E2E_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() })
            .spawn()
            .unwrap();
        Function { child, api, started }
    }

    pub fn invoke(&self, event: &Value) -> Result<Value, String> {
        self.api.invoke(event)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ------------------------------------------------------------------------------------------------
// What template.yaml provisions, on moto.

pub struct Stack {
    pub clients: Clients,
    /// The config the functions get (`BREAKGLASS_CONFIG`).
    pub config_text: String,
    /// The audit trail's bucket (Object Lock, compliance mode).
    pub audit_bucket: String,
    pub endpoint: String,
    pub topic_arn: String,
    pub bus: String,
    /// SNS → SQS in place of email: stakeholders (every change and attempt) and security (warnings up).
    pub stakeholders: String,
    pub security: String,
    /// EventBridge rule targets in place of the Lambdas: CloudTrail S3 calls, breakglass's own events.
    pub s3_calls: String,
    pub own_events: String,
    /// The control-plane rule's target: guarded IAM, KMS, SNS, Lambda and CloudFormation calls.
    pub control_calls: String,
    /// The recorder's queue (template.yaml's ReadQueue): object reads from the read rule.
    pub reads: String,
    /// The second channel: the alarm topic, and an SQS queue subscribed to it in place of email.
    pub alarm_topic_arn: String,
    pub alarms: String,
    /// The subscriptions of the notification topic, as the enforcer must find them.
    pub expected_subscriptions: Value,
    stack_counter: std::sync::atomic::AtomicUsize,
}

/// moto, the provisioned stack, and the enforcer and notifier running against it: what most
/// end-to-end tests start from.
pub struct Env {
    pub _moto: Moto,
    pub stack: Stack,
    pub enforcer: Function,
    pub notifier: Function,
}

/// [`Env`], or `None` when moto is not installed (outside CI).
pub async fn setup() -> Option<Env> {
    let moto = Moto::start()?;
    let stack = provision(&moto.endpoint).await;
    let enforcer = Function::spawn("enforcer", &stack.function_env());
    let notifier = Function::spawn("notifier", &stack.function_env());
    Some(Env { _moto: moto, stack, enforcer, notifier })
}

/// breakglass's KMS key, as the notifier is told it (`BREAKGLASS_KEY_ARN`).
pub const KEY_ARN: &str = "arn:aws:kms:eu-central-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab";

/// The EventBridge pattern of a rule in template.yaml, with `!Ref ProtectedBuckets` filled in.
pub fn rule_pattern(rule: &str, buckets: &[String]) -> Value {
    let text = std::fs::read_to_string(root().join("template.yaml")).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let pattern = &doc["Resources"][rule]["Properties"]["EventPattern"];
    fn convert(v: &serde_norway::Value, buckets: &[String]) -> Value {
        match v {
            serde_norway::Value::Tagged(t)
                if t.tag == "Ref" && t.value.as_str() == Some("ProtectedBuckets") =>
            {
                json!(buckets)
            }
            serde_norway::Value::Mapping(m) => Value::Object(
                m.iter().map(|(k, v)| (k.as_str().unwrap().to_owned(), convert(v, buckets))).collect(),
            ),
            serde_norway::Value::Sequence(s) => Value::Array(s.iter().map(|v| convert(v, buckets)).collect()),
            serde_norway::Value::String(s) => json!(s),
            serde_norway::Value::Bool(b) => json!(b),
            other => panic!("unexpected yaml in pattern: {other:?}"),
        }
    }
    convert(pattern, buckets)
}

async fn queue(c: &Clients, name: &str) -> (String, String) {
    let url = c.sqs.create_queue().queue_name(name).send().await.unwrap().queue_url.unwrap();
    let arn = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}");
    (url, arn)
}

/// A bucket in `region` (its location constraint set, as outside us-east-1), with Object Lock
/// enabled when `locked` (as the log buckets and the audit bucket are).
async fn bucket_in(s3: &aws_sdk_s3::Client, name: &str, region: &str, locked: bool) {
    s3.create_bucket()
        .bucket(name)
        .set_object_lock_enabled_for_bucket(locked.then_some(true))
        .create_bucket_configuration(
            aws_sdk_s3::types::CreateBucketConfiguration::builder()
                .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// The shared corpus (`BREAKGLASS_CORPUS`, else `../shared/corpus`), or `None` with a notice when it
/// is absent; absent under `CI=true` is a failure.
pub fn corpus_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("BREAKGLASS_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("../shared/corpus"));
    if dir.join("events").is_dir() {
        return Some(dir);
    }
    assert!(!ci(), "corpus missing at {} under CI=true", dir.display());
    eprintln!("notice: corpus not found at {}; skipping", dir.display());
    None
}

/// Runs the `breakglass` CLI against `endpoint`: (exit code, stdout, stderr).
pub fn breakglass(endpoint: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("breakglass"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(aws_env(endpoint))
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs the `breakglass` CLI against `endpoint` with the environment `env` (e.g. a person's role
/// session from [`role_env`]): (exit code, stdout, stderr).
pub fn breakglass_as(env: &[(String, String)], endpoint: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(binary("breakglass"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(env.iter().cloned())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// [`breakglass_as`], started and not waited for (a command that waits for something the test
/// must do meanwhile, such as routing events to the notifier).
pub fn spawn_breakglass_as(env: &[(String, String)], endpoint: &str, args: &[&str]) -> std::process::Child {
    Command::new(binary("breakglass"))
        .args(args)
        .args(["--endpoint-url", endpoint])
        .envs(env.iter().cloned())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap()
}

/// The stack most tests start from: the example config with the two-person rule off, so that one
/// operator opens and closes (the flows those tests are about). The two-person rule's own tests
/// provision the example as it is (`provision_config(endpoint, config_text())`).
pub async fn provision(endpoint: &str) -> Stack {
    provision_config(endpoint, single_operator_text()).await
}

/// The example config with `two_person = false`: one operator may open.
pub fn single_operator_text() -> String {
    let text = config_text();
    assert!(text.contains("two_person = true"), "the example config turns the two-person rule on");
    text.replace("two_person = true", "two_person = false")
}

/// A file with [`single_operator_text`], for the CLI's `--config` (one per call: tests run at once).
pub fn single_operator_path() -> String {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = root().join("target/e2e-configs");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("single-operator-{}-{n}.toml", std::process::id()));
    std::fs::write(&path, single_operator_text()).unwrap();
    path.display().to_string()
}

/// What template.yaml provisions for the config `text`. In organisation mode the protected buckets
/// and investigator roles are created in their own (logging) accounts and Regions, everything else
/// in the administrative account.
pub async fn provision_config(endpoint: &str, text: String) -> Stack {
    let config = canonical_policies::Config::from_toml(&text).unwrap();
    let c = match &config.organisation {
        Some(o) => account_clients(endpoint, &o.admin_account, &o.home_region).await,
        None => clients(endpoint).await,
    };
    let org = config.organisation.is_some();
    for b in &config.buckets {
        let region = b.region.as_deref().unwrap_or(REGION);
        let s3 = if org { account_clients(endpoint, &b.account, region).await.s3 } else { c.s3.clone() };
        bucket_in(&s3, &b.name, region, true).await;
        s3.put_bucket_policy()
            .bucket(&b.name)
            .policy(b.closed_policy().to_pretty_json())
            .send()
            .await
            .unwrap();
    }
    // The audit trail: Object Lock (which turns on versioning) with a compliance-mode default, as
    // template.yaml creates it. The notifier also sets each record's own retention.
    let audit = config.audit.clone().unwrap();
    bucket_in(&c.s3, &audit.bucket, REGION, true).await;
    c.s3.put_object_lock_configuration()
        .bucket(&audit.bucket)
        .object_lock_configuration(
            aws_sdk_s3::types::ObjectLockConfiguration::builder()
                .object_lock_enabled(aws_sdk_s3::types::ObjectLockEnabled::Enabled)
                .rule(
                    aws_sdk_s3::types::ObjectLockRule::builder()
                        .default_retention(
                            aws_sdk_s3::types::DefaultRetention::builder()
                                .mode(aws_sdk_s3::types::ObjectLockRetentionMode::Compliance)
                                .days(1)
                                .build(),
                        )
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .unwrap();
    let topic_arn =
        c.sns.create_topic().name("breakglass-notifications").send().await.unwrap().topic_arn.unwrap();
    let (stakeholders, stakeholders_arn) = queue(&c, "stakeholders").await;
    let (security, security_arn) = queue(&c, "security").await;
    let mut expected_subscriptions = Vec::new();
    for (arn, filter) in [
        (
            &stakeholders_arn,
            json!({"kind": ["change", "attempt", "request", "expiry", "access", "approval"], "digested": [{"exists": false}]}),
        ),
        (&security_arn, json!({"severity": ["warning", "critical"], "digested": [{"exists": false}]})),
    ] {
        expected_subscriptions.push(json!({"protocol": "sqs", "endpoint": arn, "filter_policy": filter}));
        c.sns
            .subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(arn)
            .attributes("FilterPolicy", filter.to_string())
            .send()
            .await
            .unwrap();
    }
    // The records' HMAC key under the alias the config names (template.yaml's RecordKey).
    if let Some(alias) = audit.mac_key.as_deref() {
        let key = c
            .kms
            .create_key()
            .key_spec(aws_sdk_kms::types::KeySpec::Hmac256)
            .key_usage(aws_sdk_kms::types::KeyUsageType::GenerateVerifyMac)
            .send()
            .await
            .unwrap()
            .key_metadata
            .unwrap()
            .key_id;
        c.kms.create_alias().alias_name(alias).target_key_id(key).send().await.unwrap();
    }
    // The second channel: its own topic, no filter.
    let alarm_topic_arn =
        c.sns.create_topic().name("breakglass-alarms").send().await.unwrap().topic_arn.unwrap();
    let (alarms, alarms_arn) = queue(&c, "alarms").await;
    c.sns.subscribe().topic_arn(&alarm_topic_arn).protocol("sqs").endpoint(&alarms_arn).send().await.unwrap();
    // The investigator roles exist with the trust their [[investigator]] tables give them.
    for i in &config.investigators {
        let path = i.role.split_once(":role").map(|(_, r)| r.trim_end_matches(i.role_name())).unwrap_or("/");
        let account = i.role.split(':').nth(4).unwrap_or_default();
        let iam = if org { account_clients(endpoint, account, REGION).await.iam } else { c.iam.clone() };
        iam.create_role()
            .role_name(i.role_name())
            .path(path)
            .assume_role_policy_document(i.trust_policy_json())
            .send()
            .await
            .unwrap();
    }
    let bus = c.events.create_event_bus().name("breakglass").send().await.unwrap();
    let _ = bus;
    let (s3_calls, s3_calls_arn) = queue(&c, "s3-calls").await;
    let (own_events, own_events_arn) = queue(&c, "own-events").await;
    let (control_calls, control_calls_arn) = queue(&c, "control-calls").await;
    let (reads, reads_arn) = queue(&c, "breakglass-reads").await;
    let buckets: Vec<String> = config.buckets.iter().map(|b| b.name.clone()).collect();
    let read_rule = if org { ("ForwardedReadsRule", "breakglass") } else { ("ObjectReadsRule", "default") };
    for (rule, bus, arn) in [
        ("S3ChangesRule", "default", &s3_calls_arn),
        ("ControlPlaneRule", "default", &control_calls_arn),
        ("OwnEventsRule", "breakglass", &own_events_arn),
        (read_rule.0, read_rule.1, &reads_arn),
    ] {
        c.events
            .put_rule()
            .name(rule)
            .event_bus_name(bus)
            .event_pattern(rule_pattern(rule, &buckets).to_string())
            .send()
            .await
            .unwrap();
        c.events
            .put_targets()
            .rule(rule)
            .event_bus_name(bus)
            .targets(aws_sdk_eventbridge::types::Target::builder().id("q").arn(arn).build().unwrap())
            .send()
            .await
            .unwrap();
    }
    Stack {
        clients: c,
        config_text: text,
        audit_bucket: audit.bucket,
        endpoint: endpoint.to_owned(),
        topic_arn,
        bus: "breakglass".into(),
        stakeholders,
        security,
        s3_calls,
        own_events,
        control_calls,
        reads,
        alarm_topic_arn,
        alarms,
        expected_subscriptions: Value::Array(expected_subscriptions),
        stack_counter: std::sync::atomic::AtomicUsize::new(1),
    }
}

impl Stack {
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
        env.push(("BREAKGLASS_KEY_ARN".into(), KEY_ARN.into()));
        env
    }

    /// A stack as Service Catalog leaves it when `principal` provisions `product`: the `aws:` tags
    /// (which only AWS can set on a real stack; moto lets the test set them). Returns its StackId.
    pub async fn catalog_stack(&self, product: &str, principal: &str) -> String {
        let tag = |k: &str, v: &str| aws_sdk_cloudformation::types::Tag::builder().key(k).value(v).build();
        let name = format!(
            "SC-{ACCOUNT}-pp-{}",
            self.stack_counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
        );
        self.clients
            .cloudformation
            .create_stack()
            .stack_name(name)
            .template_body(r#"{"Resources":{"Handle":{"Type":"AWS::CloudFormation::WaitConditionHandle"}}}"#)
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

    /// Every message waiting in a queue (bodies parsed as JSON).
    pub async fn drain(&self, queue_url: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let r = self
                .clients
                .sqs
                .receive_message()
                .queue_url(queue_url)
                .max_number_of_messages(10)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let messages = r.messages.unwrap_or_default();
            if messages.is_empty() {
                return out;
            }
            for m in messages {
                out.push(serde_json::from_str(m.body.as_deref().unwrap_or("null")).unwrap_or(Value::Null));
                if let Some(h) = m.receipt_handle {
                    self.clients
                        .sqs
                        .delete_message()
                        .queue_url(queue_url)
                        .receipt_handle(h)
                        .send()
                        .await
                        .unwrap();
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

    /// What the recorder's event source mapping does: the read queue's messages, in batches, to the
    /// recorder; the messages of each batch deleted but those it hands back
    /// (`batchItemFailures`). Returns the recorder's answers.
    pub async fn record_reads(&self, recorder: &Function) -> Vec<Value> {
        let mut answers = Vec::new();
        loop {
            let mut batch = Vec::new();
            // SQS hands out 10 at a time; the mapping gathers a batch from several receives.
            while batch.len() < 100 {
                let r = self
                    .clients
                    .sqs
                    .receive_message()
                    .queue_url(&self.reads)
                    .max_number_of_messages(10)
                    .wait_time_seconds(if batch.is_empty() { 1 } else { 0 })
                    .send()
                    .await
                    .unwrap();
                let messages = r.messages.unwrap_or_default();
                if messages.is_empty() {
                    break;
                }
                batch.extend(messages);
            }
            if batch.is_empty() {
                return answers;
            }
            let records: Vec<Value> = batch
                .iter()
                .map(|m| {
                    json!({"messageId": m.message_id, "receiptHandle": m.receipt_handle, "body": m.body,
                        "attributes": {}, "messageAttributes": {}, "eventSource": "aws:sqs",
                        "eventSourceARN": format!("arn:aws:sqs:{REGION}:{ACCOUNT}:breakglass-reads"), "awsRegion": REGION})
                })
                .collect();
            let answer = recorder.invoke(&json!({ "Records": records })).unwrap();
            let failed: Vec<&str> = answer["batchItemFailures"]
                .as_array()
                .map(|a| a.iter().filter_map(|f| f["itemIdentifier"].as_str()).collect())
                .unwrap_or_default();
            for m in &batch {
                if failed.contains(&m.message_id.as_deref().unwrap_or_default()) {
                    continue;
                }
                self.clients
                    .sqs
                    .delete_message()
                    .queue_url(&self.reads)
                    .receipt_handle(m.receipt_handle.clone().unwrap_or_default())
                    .send()
                    .await
                    .unwrap();
            }
            answers.push(answer);
        }
    }

    /// The audit records under `prefix` (relative to the trail's `breakglass/`), in key order.
    pub async fn audit_under(&self, prefix: &str) -> Vec<(String, Value)> {
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
            for o in list.contents.unwrap_or_default() {
                let key = o.key.unwrap();
                let body = self
                    .clients
                    .s3
                    .get_object()
                    .bucket(&self.audit_bucket)
                    .key(&key)
                    .send()
                    .await
                    .unwrap()
                    .body;
                out.push((key, serde_json::from_slice(&body.collect().await.unwrap().into_bytes()).unwrap()));
            }
            token = list.next_continuation_token;
            if token.is_none() {
                return out;
            }
        }
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
        let prefix = format!("breakglass/{bucket}/");
        let list = self
            .clients
            .s3
            .list_objects_v2()
            .bucket(&self.audit_bucket)
            .prefix(&prefix)
            .send()
            .await
            .unwrap();
        let mut out = Vec::new();
        for o in list.contents.unwrap_or_default() {
            let key = o.key.unwrap();
            let body =
                self.clients.s3.get_object().bucket(&self.audit_bucket).key(&key).send().await.unwrap().body;
            let bytes = body.collect().await.unwrap().into_bytes();
            out.push((key, serde_json::from_slice(&bytes).unwrap()));
        }
        out
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
            let r = self
                .clients
                .sqs
                .receive_message()
                .queue_url(url)
                .max_number_of_messages(batch)
                .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::All)
                .wait_time_seconds(1)
                .send()
                .await
                .unwrap();
            let messages = r.messages.unwrap_or_default();
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
                    self.clients
                        .sqs
                        .delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .unwrap();
                }
            }
            answers.push(answer);
        }
    }

    pub async fn live_policy(&self, bucket: &str) -> Option<String> {
        self.clients.s3.get_bucket_policy().bucket(bucket).send().await.ok().and_then(|o| o.policy)
    }
}

/// An EventBridge "AWS API Call via CloudTrail" event for an S3 call, shaped like the real ones in the
/// corpus (eventVersion 1.09: `Host` string, `policy: ""`, `bucketPolicy` as an object).
/// A CloudTrail-shaped record of a guarded call outside S3 (IAM, KMS, SNS, Lambda), made by `role`'s
/// session `session`, modelled on the examples in each service's CloudTrail documentation.
pub fn control_event(name: &str, source: &str, params: Value, role: &str, session: &str) -> Value {
    let mut e = cloudtrail_event(name, "unused", role, session, None, None);
    let d = &mut e["detail"];
    d["eventSource"] = json!(source);
    d["requestParameters"] = params;
    d["resources"] = json!([]);
    if source == "iam.amazonaws.com" {
        // IAM is global: CloudTrail records its calls in us-east-1.
        d["awsRegion"] = json!("us-east-1");
    }
    e["source"] = json!(format!("aws.{}", source.split('.').next().unwrap_or("unknown")));
    e
}

pub fn cloudtrail_event(
    name: &str,
    bucket: &str,
    role: &str,
    session: &str,
    policy: Option<&str>,
    error: Option<&str>,
) -> Value {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let role_name = role.rsplit('/').next().unwrap_or(role);
    let mut params = json!({"bucketName": bucket, "Host": format!("{bucket}.s3.{REGION}.amazonaws.com")});
    if let Some(p) = policy {
        params["policy"] = json!("");
        params["bucketPolicy"] = serde_json::from_str(p).unwrap();
    }
    let mut detail = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "AssumedRole",
            "principalId": format!("AROAEXAMPLE:{session}"),
            "arn": format!("arn:aws:sts::{ACCOUNT}:assumed-role/{role_name}/{session}"),
            "accountId": ACCOUNT,
            "sessionContext": {
                "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn": role, "accountId": ACCOUNT, "userName": role_name},
                "attributes": {"creationDate": "2026-11-24T11:00:00Z", "mfaAuthenticated": "true"}
            }
        },
        "eventTime": time::OffsetDateTime::now_utc().replace_nanosecond(0).unwrap().format(&time::format_description::well_known::Rfc3339).unwrap(),
        "eventSource": "s3.amazonaws.com",
        "eventName": name,
        "awsRegion": REGION,
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64",
        "requestParameters": params,
        "responseElements": null,
        "eventID": format!("e2e-{n:08}"),
        "readOnly": false,
        "resources": [{"accountId": ACCOUNT, "type": "AWS::S3::Bucket", "ARN": format!("arn:aws:s3:::{bucket}")}],
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": ACCOUNT,
        "eventCategory": "Management"
    });
    if let Some(code) = error {
        detail["errorCode"] = json!(code);
        detail["errorMessage"] = json!("Access Denied");
    }
    json!({
        "version": "0", "id": format!("eb-{n:08}"), "detail-type": "AWS API Call via CloudTrail", "source": "aws.s3",
        "account": ACCOUNT, "time": detail["eventTime"], "region": REGION, "resources": [], "detail": detail
    })
}
