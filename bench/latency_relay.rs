//! A TCP relay that adds latency, for the fleet benchmark (`bench/fleet.sh`):
//!
//! ```sh
//! cargo run --release --example latency_relay -- 127.0.0.1:5432 20001=100 20002=5 ...
//! ```
//!
//! Each `LISTEN_PORT=RTT_MS` listens on 127.0.0.1:LISTEN_PORT and forwards every connection to
//! the upstream address, delaying each chunk by half the round-trip time in each direction
//! (chunks keep their order and are pipelined, as on a real network: a round trip costs
//! RTT_MS, whatever was sent before it).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

fn pipe(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = thread::spawn(move || {
        for (at, chunk) in rx {
            let due = at + delay;
            let now = Instant::now();
            if due > now {
                thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}

fn serve(listen: u16, upstream: String, rtt: Duration) {
    let listener = TcpListener::bind(("127.0.0.1", listen))
        .unwrap_or_else(|e| panic!("cannot listen on {listen}: {e}"));
    for client in listener.incoming().flatten() {
        let upstream = upstream.clone();
        thread::spawn(move || {
            let Ok(server) = TcpStream::connect(&upstream) else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let half = rtt / 2;
            let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                (Ok(c), Ok(s)) => (c, s),
                _ => return,
            };
            let up = thread::spawn(move || pipe(client, server, half));
            pipe(s2, c2, half);
            let _ = up.join();
        });
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let upstream = args
        .next()
        .expect("usage: latency_relay UPSTREAM LISTEN_PORT=RTT_MS ...");
    let mut handles = Vec::new();
    for spec in args {
        let (port, ms) = spec.split_once('=').expect("LISTEN_PORT=RTT_MS");
        let port: u16 = port.parse().expect("a port");
        let ms: u64 = ms.parse().expect("milliseconds");
        let upstream = upstream.clone();
        handles.push(thread::spawn(move || {
            serve(port, upstream, Duration::from_millis(ms))
        }));
    }
    for h in handles {
        let _ = h.join();
    }
}
