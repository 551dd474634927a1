//! Local HTTP servers the tests put between a client and moto or CloudFormation: the fault proxy
//! (injected failures, `ListBuckets` pages, a record of what went over the wire) and the catcher of
//! the custom resource's answer.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use serde_json::Value;

/// A proxy in front of moto that answers one kind of request with an injected failure and forwards
/// everything else: how the tests make exactly S3's *write* fail.
pub struct FaultProxy {
    pub endpoint: String,
    /// Every request that passed: request line, headers and body (how tests count AssumeRole calls).
    requests: Arc<Mutex<Vec<String>>>,
}

/// Rewrites an upstream response (request line, raw HTTP response) before the client sees it.
pub(crate) type Rewrite = dyn Fn(&str, Vec<u8>) -> Vec<u8> + Send + Sync;

/// What a proxy does with one request, given its request line, headers and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    Forward,
    /// Forwarded after a delay (added latency).
    ForwardAfter(std::time::Duration),
    /// Answered by the proxy with this raw HTTP response; moto never sees the request.
    Respond(Vec<u8>),
    /// The connection is closed without an answer (a reset, as a load balancer may do).
    Close,
    /// Forwarded with these header lines added (each ending in `\r\n`).
    ForwardWith(String),
    /// Read and never answered: the connection is held open this long, then closed (an endpoint
    /// that hangs; moto never sees the request).
    Hang(std::time::Duration),
    /// Forwarded, and moto's answer thrown away: the connection is closed as if the response had
    /// been lost on the way back, after the request took effect.
    ForwardThenDrop,
}

/// Decides the [`Action`] for (request line, headers, body).
pub(crate) type Decide = dyn Fn(&str, &str, &[u8]) -> Action + Send + Sync;

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
        rewrite: fn(&str, Vec<u8>) -> Vec<u8>,
    ) -> FaultProxy {
        let decide = move |request_line: &str, _: &str, _: &[u8]| {
            if fail(request_line) {
                let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>{code}</Code><Message>injected by the test</Message></Error>");
                Action::Respond(
                    format!("HTTP/1.1 {status} Injected\r\nContent-Type: application/xml\r\nContent-Length: {}\r\n\r\n{xml}", xml.len())
                        .into_bytes(),
                )
            } else {
                Action::Forward
            }
        };
        let (endpoint, requests) = serve(upstream, Arc::new(decide), Arc::new(rewrite));
        FaultProxy { endpoint, requests }
    }

    /// AWS Organizations' delegated administration, which moto lacks: the organisation's read calls
    /// (`Describe*`, `List*`) are answered as to the `management` account, which AWS does for a
    /// delegated administrator (docs/deploy.md, organisation mode, step 1); moto answers them only
    /// in the management account. Everything else is forwarded as it is.
    pub fn delegated_administrator(upstream: &str, management: &str) -> FaultProxy {
        let header = format!("x-moto-account-id: {management}\r\n");
        let decide = move |_: &str, head: &str, _: &[u8]| {
            let head = head.to_ascii_lowercase();
            let read = ["describe", "list"]
                .iter()
                .any(|verb| head.contains(&format!("x-amz-target: awsorganizationsv20161128.{verb}")));
            if read {
                Action::ForwardWith(header.clone())
            } else {
                Action::Forward
            }
        };
        let (endpoint, requests) = serve(upstream, Arc::new(decide), Arc::new(|_: &str, r| r));
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
pub(crate) fn page_list_buckets(request_line: &str, response: Vec<u8>) -> Vec<u8> {
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

/// A proxy on a free loopback port in front of `upstream`: each request is handled as `decide`
/// says and recorded. Returns its endpoint and the record.
pub(crate) fn serve(
    upstream: &str,
    decide: Arc<Decide>,
    rewrite: Arc<Rewrite>,
) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let upstream = upstream.trim_start_matches("http://").to_owned();
    let requests = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&requests);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let upstream = upstream.clone();
            let log = Arc::clone(&log);
            let decide = Arc::clone(&decide);
            let rewrite = Arc::clone(&rewrite);
            std::thread::spawn(move || proxy_connection(client, &upstream, &*decide, &*rewrite, &log));
        }
    });
    (endpoint, requests)
}

fn proxy_connection(
    client: TcpStream,
    upstream: &str,
    decide: &Decide,
    rewrite: &Rewrite,
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
        let mut close = false;
        loop {
            // Forwarded upstream one request per connection, so keep-alive is answered here.
            if line.to_ascii_lowercase().starts_with("connection:") {
                // A client that closes (another proxy in front of this one) reads to the end.
                close = line.to_ascii_lowercase().contains("close");
            } else {
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
        let forward = |extra: &str| {
            let mut up = TcpStream::connect(upstream).unwrap();
            up.write_all(head.as_bytes()).unwrap();
            up.write_all(extra.as_bytes()).unwrap();
            up.write_all(b"Connection: close\r\n\r\n").unwrap();
            up.write_all(&body).unwrap();
            let mut response = Vec::new();
            up.read_to_end(&mut response).unwrap();
            rewrite(&request_line, response)
        };
        let response = match decide(&request_line, &head, &body) {
            Action::Forward => forward(""),
            Action::ForwardAfter(delay) => {
                std::thread::sleep(delay);
                forward("")
            }
            Action::ForwardWith(extra) => forward(&extra),
            Action::Respond(response) => response,
            Action::Close => return,
            Action::Hang(held) => {
                std::thread::sleep(held);
                return;
            }
            Action::ForwardThenDrop => {
                let _ = forward("");
                return;
            }
        };
        if out.write_all(&response).is_err() || close {
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
