//! The Lambda Runtime API, enough of it for lambda_runtime, and the real Lambda binaries run
//! against it.

use std::collections::{HashMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::*;

// ------------------------------------------------------------------------------------------------
// The Lambda Runtime API (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html), enough of
// it for lambda_runtime: `next`, `response`, `error`, `init/error`.

#[derive(Default)]
struct RuntimeState {
    queue: VecDeque<(String, String)>,
    results: HashMap<String, Result<String, String>>,
    init_error: Option<String>,
    first_poll: Option<Instant>,
    /// The process ended (how): nothing more will be answered.
    exited: Option<String>,
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
            if let Some(how) = &s.exited {
                return Err(format!("the function exited ({how}) before it answered {id}"));
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
            assert!(s.exited.is_none(), "the function exited ({:?}) during its cold start", s.exited);
            s = cvar.wait_timeout(s, Duration::from_secs(30)).unwrap().0;
        }
    }
}

/// A Lambda binary running against its own Runtime API; killed on drop.
pub struct Function {
    /// Shared with the watcher that tells the Runtime API when the process ends.
    child: Arc<Mutex<Child>>,
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
        let logs = || if std::env::var_os("E2E_LOGS").is_some() { Stdio::inherit() } else { Stdio::null() };
        Function::spawn_to(name, env, logs(), logs())
    }

    /// [`Function::spawn`] with its log lines (standard output) written to the file `log`.
    pub fn spawn_logged(name: &str, env: &[(String, String)], log: &std::path::Path) -> Function {
        let file = std::fs::File::create(log).unwrap();
        Function::spawn_to(name, env, Stdio::from(file), Stdio::null())
    }

    fn spawn_to(name: &str, env: &[(String, String)], stdout: Stdio, stderr: Stdio) -> Function {
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
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap();
        let child = Arc::new(Mutex::new(child));
        // A process that ends (a failed cold start, a crash) fails the invocations waiting on it at
        // once, as Lambda reports them, instead of their 60-second wait.
        let (watched, state) = (Arc::downgrade(&child), Arc::clone(&api.state));
        std::thread::spawn(move || loop {
            std::thread::sleep(Duration::from_millis(100));
            let Some(child) = watched.upgrade() else { return };
            let status = child.lock().unwrap().try_wait();
            match status {
                Ok(None) => continue,
                Ok(Some(how)) => {
                    let (lock, cvar) = &*state;
                    lock.lock().unwrap().exited = Some(how.to_string());
                    cvar.notify_all();
                    return;
                }
                Err(_) => return,
            }
        });
        Function { child, api, started }
    }

    pub fn invoke(&self, event: &Value) -> Result<Value, String> {
        self.api.invoke(event)
    }

    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap().id()
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.lock().unwrap().try_wait(), Ok(None))
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap();
        let _ = child.kill();
        let _ = child.wait();
    }
}
