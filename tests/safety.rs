//! Operator safety: partctl never hangs on a server that does not answer, and never shows a
//! password.

mod common;

use common::{ctl, expect_code, write_policy};
use std::net::TcpListener;
use std::time::{Duration, Instant};

const NOW: &str = "2026-11-21T12:00:00Z";
const CANARY: &str = "Canary-Pa55word";

/// A server that accepts connections and never says a word, for as long as the test runs.
fn blackhole() -> (u16, std::thread::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = std::thread::spawn(move || {
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until && held.len() < 16 {
            match listener.accept() {
                Ok((s, _)) => held.push(s),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    (port, handle)
}

#[test]
fn check_says_unknown_within_the_connect_timeout_when_the_server_never_answers() {
    let (port, _server) = blackhole();
    let policy = write_policy(
        "blackhole",
        "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\n",
    );
    for scheme in ["postgres", "mysql"] {
        let url = format!("{scheme}://app:{CANARY}@127.0.0.1:{port}/app?connect_timeout=2");
        let started = Instant::now();
        let r = ctl(&url, &policy, NOW, &["check"]);
        let took = started.elapsed();
        expect_code(&r, 3, &format!("{scheme}: check against a blackhole"));
        assert!(
            took < Duration::from_secs(3),
            "{scheme}: check took {took:?}, more than connect_timeout + 1 s"
        );
        assert!(r.stdout.starts_with("UNKNOWN - "), "{}", r.stdout);
        assert!(r.stdout.contains("no answer within 2 s"), "{}", r.stdout);

        let started = Instant::now();
        let r = ctl(&url, &policy, NOW, &["plan"]);
        expect_code(&r, 1, &format!("{scheme}: plan against a blackhole"));
        assert!(started.elapsed() < Duration::from_secs(3));
        for out in [&r.stdout, &r.stderr] {
            assert!(
                !out.contains(CANARY),
                "{scheme}: the password leaked: {out}"
            );
        }
    }
}
