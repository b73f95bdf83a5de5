//! Real MTA tools from Debian (`tests/fetch-mta-tools.sh` puts them under target/): Postfix's
//! smtp-sink and smtp-source, and swaks with Net::SSLeay.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

#[derive(Clone)]
pub struct Tools {
    pub root: PathBuf,
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

impl Tools {
    /// The tools, fetched on first use when the test command has not fetched them; `None`
    /// (after printing why) only when fetching failed.
    pub fn get(test: &str) -> Option<Tools> {
        static FETCHED: OnceLock<Result<PathBuf, String>> = OnceLock::new();
        let result = FETCHED.get_or_init(|| {
            let dir = std::env::var_os("SIGSYNC_MTA_TOOLS")
                .map(PathBuf::from)
                .unwrap_or_else(|| workspace().join("target/mta-tools"));
            if !dir.join("READY").exists() {
                let _ = Command::new("bash")
                    .arg(workspace().join("tests/fetch-mta-tools.sh"))
                    .status();
            }
            if dir.join("READY").exists() {
                Ok(dir.join("root"))
            } else {
                Err(std::fs::read_to_string(dir.join("FAILED"))
                    .unwrap_or_else(|_| "fetch script did not run".into()))
            }
        });
        match result {
            Ok(root) => Some(Tools { root: root.clone() }),
            Err(why) => {
                eprintln!(
                    "SKIPPED {test}: the Debian MTA tools are not available: {}",
                    why.trim()
                );
                None
            }
        }
    }

    fn postfix(&self, name: &str) -> Command {
        let mut c = Command::new(self.root.join("usr/sbin").join(name));
        c.env("LD_LIBRARY_PATH", self.root.join("usr/lib/postfix"));
        c
    }

    /// smtp-sink on a free loopback port with `args` (before the address).
    pub fn sink(&self, args: &[&str]) -> Sink {
        let addr = free_port();
        let mut c = self.postfix("smtp-sink");
        if is_root() {
            c.args(["-u", "nobody"]);
        }
        c.args(args).arg(addr.to_string()).arg("64");
        let child = c
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("smtp-sink starts");
        wait_listening(addr);
        Sink { child, addr }
    }

    /// smtp-source with `args`.
    pub fn source(&self) -> Command {
        self.postfix("smtp-source")
    }

    /// swaks run by perl with the extracted Net::SSLeay.
    pub fn swaks(&self) -> Command {
        let mut c = Command::new("perl");
        let lib = std::fs::read_dir(self.root.join("usr/lib/x86_64-linux-gnu/perl5"))
            .ok()
            .and_then(|mut d| d.next())
            .and_then(|e| e.ok())
            .map(|e| e.path())
            .unwrap_or_default();
        c.env("PERL5LIB", lib).arg(self.root.join("usr/bin/swaks"));
        c
    }
}

pub struct Sink {
    child: Child,
    pub addr: SocketAddr,
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| o.stdout.starts_with(b"0"))
        .unwrap_or(false)
}

pub fn free_port() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn wait_listening(addr: SocketAddr) {
    let start = Instant::now();
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "{addr} never listened"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
