//! moto in server mode from the project's `.venv`, on a free loopback port, stopped on drop.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::*;

pub(crate) fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub(crate) fn free_port() -> u16 {
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

    /// For `make demo` and `make bench`: moto, or one line naming what is missing and exit code 1
    /// (a benchmark or demo without moto has nothing to show).
    pub fn start_for(program: &str) -> Moto {
        Moto::start().unwrap_or_else(|| {
            eprintln!("{program}: moto is not installed: run scripts/venv.sh (make demo and make bench do)");
            std::process::exit(1)
        })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
