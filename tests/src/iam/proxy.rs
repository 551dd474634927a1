//! The IAM proxy: the sessions it hands out, the requests it authorises, what it records.

use std::collections::{BTreeSet, HashMap};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, RwLock};

use canonical_policies::Policy;

use super::{calls_of, Call, Deployment};
use crate::chaos::{protocol, response, signing_name, Protocol};
use crate::proxy::{serve, Action};

/// Whether a role (its name) may call a function URL, as IAM would decide it.
pub type UrlCheck = dyn Fn(&str) -> Result<(), String> + Send + Sync;

/// Access key → (role ARN, the function whose execution role the session plays, if any).
type Sessions = HashMap<String, (String, Option<String>)>;

/// moto's default account, where the harness creates the topics, queues, bus and keys with its
/// `testing` key: it stands in for the stack's account.
const MOTO_ACCOUNT: &str = "123456789012";

/// The IAM proxy: hands out sessions of breakglass's roles and authorises what they sign.
///
/// The harness names some things otherwise than the template does (moto's default account for the
/// stack's, the config's audit bucket for the stack's `breakglass-audit-<account>-<region>`); the
/// proxy asks IAM about the template's names, which a deployment has.
pub struct IamProxy {
    pub endpoint: String,
    deployment: Arc<RwLock<Deployment>>,
    upstream: String,
    account: String,
    /// Access key → (role ARN, the function whose execution role the session plays, if any).
    sessions: Arc<Mutex<Sessions>>,
    used: Arc<Mutex<BTreeSet<(String, String, String)>>>,
    refused: Arc<Mutex<Vec<String>>>,
    expected: std::sync::atomic::AtomicBool,
}

impl IamProxy {
    /// Says the test means some of its calls to be refused (it asserts on [`IamProxy::refused`]).
    pub fn expect_refusals(&self) {
        self.expected.store(true, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn refusals_expected(&self) -> bool {
        self.expected.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// member.yaml deployed in `account` from now on, as StackSets deploys it in an account that
    /// joins a logging OU (organisation mode).
    pub fn deploy_member(&self, account: &str) {
        self.deployment.write().unwrap().add_member(account);
    }

    /// The proxy for `deployment`, with the harness's audit bucket `audit_bucket` standing in for the
    /// stack's.
    pub fn start(upstream: &str, deployment: Deployment, audit_bucket: &str) -> IamProxy {
        let account = deployment.account.clone();
        let stand_ins = vec![
            (format!(":{MOTO_ACCOUNT}:"), format!(":{account}:")),
            (
                format!("arn:aws:s3:::{audit_bucket}"),
                format!("arn:aws:s3:::breakglass-audit-{account}-{}", deployment.region),
            ),
        ];
        let sessions: Arc<Mutex<Sessions>> = Arc::default();
        let used: Arc<Mutex<BTreeSet<(String, String, String)>>> = Arc::default();
        let refused: Arc<Mutex<Vec<String>>> = Arc::default();
        let (s, u, r, up) = (sessions.clone(), used.clone(), refused.clone(), upstream.to_owned());
        let stack_account = account.clone();
        let org = deployment.org.is_some();
        let region = deployment.region.clone();
        let deployment = Arc::new(RwLock::new(deployment));
        let shared = Arc::clone(&deployment);
        let decide = move |request_line: &str, head: &str, body: &[u8]| {
            let Some((role, function)) = access_key(head).and_then(|k| s.lock().unwrap().get(&k).cloned())
            else {
                return Action::Forward;
            };
            // The session's account, and the Region the request is signed for.
            let account = role.split(':').nth(4).unwrap_or(&stack_account).to_owned();
            let region = signing_region(head).unwrap_or_else(|| region.clone());
            let deployment = deployment.read().unwrap();
            // moto holds the organisation's accounts as themselves; a single-account stack in its default.
            let in_moto = org.then_some(account.as_str());
            let verdict = calls_of(request_line, head, body, &account, &region).and_then(|calls| {
                let mut authorised = Vec::new();
                for mut call in calls {
                    // The bucket's policy in the account that owns it.
                    let policy = bucket_of(&call.resource).and_then(|b| {
                        let owner = deployment.owner_of(b).unwrap_or(&account);
                        live_bucket_policy(&up, org.then_some(owner), b)
                    });
                    // IAM names a role by name; AWS authorises against its ARN, path included.
                    if let Some(name) = call.resource.strip_prefix(&format!("arn:aws:iam::{account}:role/")) {
                        if let Some(arn) = role_arn(&up, in_moto, &account, name) {
                            call.resource = arn;
                        }
                    }
                    for (harness, template) in &stand_ins {
                        call.resource = call.resource.replace(harness.as_str(), template);
                    }
                    deployment.authorise(&role, function.as_deref(), &call, policy.as_ref(), &region)?;
                    authorised.push(call);
                }
                Ok(authorised)
            });
            match verdict {
                Ok(calls) => {
                    let mut used = u.lock().unwrap();
                    for call in calls {
                        used.insert((role.clone(), call.action, call.resource));
                    }
                    Action::Forward
                }
                Err(why) => {
                    r.lock().unwrap().push(why.clone());
                    Action::Respond(access_denied(&signing_name(head), head, &why))
                }
            }
        };
        // A session of a role the deployment defines, got by AssumeRole through this proxy (the
        // enforcer's in a logging account's member role), is checked as that role from then on.
        let (s, d) = (sessions.clone(), Arc::clone(&shared));
        let assumed = move |_: &str, response: Vec<u8>| {
            if let Some((key, account, name)) = assumed_role(&response) {
                if let Some(arn) = d.read().unwrap().role_named(&account, &name) {
                    s.lock().unwrap().insert(key, (arn, None));
                }
            }
            response
        };
        let (endpoint, _) = serve(upstream, Arc::new(decide), Arc::new(assumed));
        IamProxy {
            endpoint,
            deployment: shared,
            upstream: upstream.to_owned(),
            account,
            sessions,
            used,
            refused,
            expected: false.into(),
        }
    }

    /// The environment `env` (a function's, as [`crate::Stack::function_env`] gives it) as the
    /// function `function` running with its execution role `role` (the name in template.yaml),
    /// through this proxy: the role's credentials from moto's STS, the proxy as endpoint.
    pub async fn env_as(
        &self,
        env: Vec<(String, String)>,
        role: &str,
        function: &str,
    ) -> Vec<(String, String)> {
        self.session_env(env, role, function, Some(function)).await
    }

    /// The environment of a person (the CLI) in a session `session` of role `role` (its name),
    /// through this proxy.
    pub async fn person_env(&self, role: &str, session: &str) -> Vec<(String, String)> {
        self.session_env(crate::aws_env(&self.upstream), role, session, None).await
    }

    async fn session_env(
        &self,
        env: Vec<(String, String)>,
        role: &str,
        session: &str,
        function: Option<&str>,
    ) -> Vec<(String, String)> {
        // A single-account stack lives in moto's default account; an organisation's accounts as themselves.
        let org = self.deployment.read().unwrap().org.is_some();
        let in_moto = if org { self.account.as_str() } else { MOTO_ACCOUNT };
        let moto_role = format!("arn:aws:iam::{in_moto}:role/{role}");
        let creds = crate::role_env(&self.upstream, &moto_role, session).await;
        let key = creds.iter().find(|(k, _)| k == "AWS_ACCESS_KEY_ID").map(|(_, v)| v.clone()).unwrap();
        let arn = format!("arn:aws:iam::{}:role/{role}", self.account);
        self.sessions.lock().unwrap().insert(key, (arn, function.map(str::to_owned)));
        env.into_iter()
            .map(|(k, v)| {
                if k == "AWS_ENDPOINT_URL" {
                    (k, self.endpoint.clone())
                } else {
                    let v = creds.iter().find(|(c, _)| *c == k).map_or(v, |(_, c)| c.clone());
                    (k, v)
                }
            })
            .collect()
    }

    /// The function `name` (`enforcer`, `notifier`, `recorder`, `catalog`) of `stack`, as Lambda
    /// runs it: with its execution role `breakglass-<name>`, through this proxy.
    pub async fn spawn(&self, stack: &crate::Stack, name: &str) -> crate::Function {
        crate::Function::spawn(name, &self.function_env(stack.function_env(), name).await)
    }

    /// `env` for the function `name` running as its execution role through this proxy.
    pub async fn function_env(&self, env: Vec<(String, String)>, name: &str) -> Vec<(String, String)> {
        let role = format!("breakglass-{name}");
        self.env_as(env, &role, &role).await
    }

    /// What Lambda asks IAM before it runs function `function` for a call to its function URL
    /// (`AuthType: AWS_IAM`) signed by a session of role `role` (its name): both
    /// `lambda:InvokeFunctionUrl` and `lambda:InvokeFunction` through the URL. The tests hand the
    /// function the URL's event through the Runtime API, so this is where the caller's grants are
    /// checked and counted.
    pub fn invoke_url(&self, role: &str, function: &str) -> Result<(), String> {
        let role_arn = format!("arn:aws:iam::{}:role/{role}", self.account);
        if !self.deployment.read().unwrap().defines(&role_arn) {
            return Err(format!("{role_arn} lambda:InvokeFunctionUrl: not a role of the deployment"));
        }
        self.url_check(function)(role)
    }

    /// [`IamProxy::invoke_url`] for the function `function`, shareable with a server thread: `Ok`
    /// for a role the deployment does not define (an administrator's own policies may allow the
    /// URL; the gate itself refuses every role but the operators').
    pub fn url_check(&self, function: &str) -> Arc<UrlCheck> {
        let (d, used, refused) =
            (Arc::clone(&self.deployment), Arc::clone(&self.used), Arc::clone(&self.refused));
        let function = function.to_owned();
        Arc::new(move |role: &str| {
            let d = d.read().unwrap();
            let role = format!("arn:aws:iam::{}:role/{role}", d.account);
            if !d.defines(&role) {
                return Ok(());
            }
            let arn = format!("arn:aws:lambda:{}:{}:function:{function}", d.region, d.account);
            for (action, key, value) in [
                ("lambda:InvokeFunctionUrl", "lambda:FunctionUrlAuthType", "AWS_IAM"),
                ("lambda:InvokeFunction", "lambda:InvokedViaFunctionUrl", "true"),
            ] {
                let call = Call {
                    operation: "InvokeFunctionUrl".into(),
                    action: action.into(),
                    resource: arn.clone(),
                    context: vec![(key.into(), value.into())],
                };
                if let Err(why) = d.authorise(&role, None, &call, None, &d.region) {
                    refused.lock().unwrap().push(why.clone());
                    return Err(why);
                }
                used.lock().unwrap().insert((role.clone(), call.action, call.resource));
            }
            Ok(())
        })
    }

    /// What AWS would have refused so far, one line each (role, action, resource, why).
    pub fn refused(&self) -> Vec<String> {
        self.refused.lock().unwrap().clone()
    }

    /// The (role, action, resource) triples used so far.
    pub fn used(&self) -> BTreeSet<(String, String, String)> {
        self.used.lock().unwrap().clone()
    }
}

/// Where each proxy leaves the (role, action, resource) triples its test used, one file per proxy,
/// for `target/debug/grants` to hold against what the template grants.
pub fn used_dir() -> std::path::PathBuf {
    crate::root().join("target/iam-used")
}

impl Drop for IamProxy {
    /// A test that passed while AWS would have refused one of its calls has not shown what it claims.
    fn drop(&mut self) {
        let used = self.used();
        if !used.is_empty() {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let text: String = used.iter().map(|(r, a, res)| format!("{r}\t{a}\t{res}\n")).collect();
            let _ = std::fs::create_dir_all(used_dir());
            let _ = std::fs::write(used_dir().join(format!("{}-{n}.tsv", std::process::id())), text);
        }
        // The heartbeat's read of its canary key is refused by design: AWS's refusal is the signal.
        let refused: Vec<String> = self
            .refused()
            .into_iter()
            .filter(|r| !r.contains("s3:GetObject on arn:aws:s3:::") || !r.contains("/breakglass-heartbeat:"))
            .collect();
        if !refused.is_empty() && !std::thread::panicking() && !self.refusals_expected() {
            panic!(
                "AWS would have refused {} call(s) this test made:\n{}",
                refused.len(),
                refused.join("\n")
            );
        }
    }
}

/// The access key a request is signed with (SigV4's credential scope).
fn access_key(head: &str) -> Option<String> {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .and_then(|c| c.split('/').next())
        .map(str::to_owned)
}

fn bucket_of(resource: &str) -> Option<&str> {
    let rest = resource.strip_prefix("arn:aws:s3:::")?;
    Some(rest.split('/').next().unwrap_or(rest))
}

/// One request to moto outside the proxy (moto checks no signature; the `testing` key selects its
/// default account): the body of a 200 answer.
pub(crate) fn ask_moto(upstream: &str, request_line: &str, headers: &str, body: &str) -> Option<String> {
    let host = upstream.trim_start_matches("http://");
    let mut conn = TcpStream::connect(host).ok()?;
    let request = format!(
        "{request_line}\r\nHost: {host}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes()).ok()?;
    let mut response = Vec::new();
    conn.read_to_end(&mut response).ok()?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200").then(|| body.to_owned())
}

/// moto's account header for `account` (`None`: its default account).
fn moto_account(account: Option<&str>) -> String {
    account.map(|a| format!("x-moto-account-id: {a}\r\n")).unwrap_or_default()
}

/// The bucket's policy as moto holds it now, in `account` (`None`: moto's default account).
fn live_bucket_policy(upstream: &str, account: Option<&str>, bucket: &str) -> Option<Policy> {
    let body = ask_moto(upstream, &format!("GET /{bucket}?policy HTTP/1.1"), &moto_account(account), "")?;
    Policy::parse(body.as_bytes()).ok()
}

/// The ARN of the role named `name` as IAM in moto has it (its path included), as a role of
/// `account`; moto is asked in `in_moto` (`None`: its default account).
fn role_arn(upstream: &str, in_moto: Option<&str>, account: &str, name: &str) -> Option<String> {
    let body = ask_moto(
        upstream,
        "POST / HTTP/1.1",
        &format!("Content-Type: application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20261205/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\n{}", moto_account(in_moto)),
        &format!("Action=GetRole&Version=2010-05-08&RoleName={name}"),
    )?;
    let arn = body.split("<Arn>").nth(1)?.split("</Arn>").next()?;
    let (_, path_and_name) = arn.split_once(":role/")?;
    Some(format!("arn:aws:iam::{account}:role/{path_and_name}"))
}

/// The Region a request is signed for (SigV4's credential scope).
fn signing_region(head: &str) -> Option<String> {
    head.lines()
        .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
        .and_then(|l| l.split("Credential=").nth(1))
        .and_then(|c| c.split('/').nth(2))
        .map(str::to_owned)
}

/// From an `AssumeRole` answer: the session's access key, and the account and name of its role.
fn assumed_role(response: &[u8]) -> Option<(String, String, String)> {
    let text = String::from_utf8_lossy(response);
    if !text.contains("<AssumeRoleResponse") {
        return None;
    }
    let between = |open: &str, close: &str| -> Option<String> {
        Some(text.split(open).nth(1)?.split(close).next()?.trim().to_owned())
    };
    let key = between("<AccessKeyId>", "</AccessKeyId>")?;
    let user = between("<AssumedRoleUser>", "</AssumedRoleUser>")?;
    // arn:aws:sts::<account>:assumed-role/<name>/<session>
    let arn = user.split("<Arn>").nth(1)?.split("</Arn>").next()?;
    let account = arn.split(':').nth(4)?.to_owned();
    let name = arn.split(":assumed-role/").nth(1)?.split('/').next()?.to_owned();
    Some((key, account, name))
}

/// AWS's refusal in the request's protocol.
fn access_denied(service: &str, head: &str, why: &str) -> Vec<u8> {
    let why = why.replace(['<', '>', '&', '"'], " ");
    match protocol(service, head) {
        Protocol::RestXml => response(
            "403 Forbidden",
            "application/xml",
            "",
            &format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>{why}</Message><RequestId>iam</RequestId></Error>"),
        ),
        Protocol::Json => response(
            "400 Bad Request",
            "application/x-amz-json-1.1",
            "x-amzn-ErrorType: AccessDeniedException\r\n",
            &format!("{{\"__type\":\"AccessDeniedException\",\"message\":\"{why}\"}}"),
        ),
        Protocol::Query => response(
            "403 Forbidden",
            "text/xml",
            "",
            &format!("<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>{why}</Message></Error><RequestId>iam</RequestId></ErrorResponse>"),
        ),
    }
}
