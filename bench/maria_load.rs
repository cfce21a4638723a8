//! Load generator for MariaDB/MySQL row-move benchmarks (issue 10). Not shipped: an example.
//!
//! N client threads, for a bounded time (and at most `--max-ops` operations each), alternate
//! a read that cannot prune (`SELECT id, ts, payload FROM t WHERE id = ?`, the table being
//! partitioned by `ts`) and an insert into the current period (`ts = UTC_TIMESTAMP()`,
//! payload `'bench'`). Every operation is its own autocommit transaction. A failed one is
//! counted (and the connection replaced); the largest latency is kept per kind, with the
//! moment it ended. One JSON line is printed at the end. Loopback only.
//!
//! ```sh
//! cargo run --example maria_load -- --port 3306 --db bench --table ev \
//!     --clients 4 --secs 60 --max-id 1000000
//! ```
//!
//! `--mode convert --control ev_control` (issue 13, `bench/maria_convert_load.sh`): each
//! operation is one transaction that inserts a row (`ts = UTC_TIMESTAMP()`), updates a random
//! key (`n = n + 1`, a new payload) or deletes a random key of `--table`, and does the same to
//! the control table, so that the two hold the same rows at the end. Counted as writes.
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mysql::prelude::Queryable;

struct Args {
    port: u16,
    user: String,
    db: String,
    table: String,
    clients: usize,
    secs: u64,
    max_ops: u64,
    max_id: u64,
    mode: String,
    control: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        port: 3306,
        user: "root".into(),
        db: "bench".into(),
        table: "ev".into(),
        clients: 4,
        secs: 60,
        max_ops: 10_000_000,
        max_id: 1_000_000,
        mode: "read_insert".into(),
        control: "ev_control".into(),
    };
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut it = argv.iter();
    while let Some(flag) = it.next() {
        let val = it
            .next()
            .unwrap_or_else(|| panic!("{flag} needs a value"))
            .clone();
        let num = || -> u64 {
            val.parse()
                .unwrap_or_else(|_| panic!("{flag}: not a number: {val}"))
        };
        match flag.as_str() {
            "--port" => a.port = num() as u16,
            "--user" => a.user = val.clone(),
            "--db" => a.db = val.clone(),
            "--table" => a.table = val.clone(),
            "--clients" => a.clients = num().clamp(1, 64) as usize,
            "--secs" => a.secs = num().clamp(1, 3600),
            "--max-ops" => a.max_ops = num().max(1),
            "--max-id" => a.max_id = num().max(1),
            "--mode" => a.mode = val.clone(),
            "--control" => a.control = val.clone(),
            other => panic!("unknown option {other}"),
        }
    }
    a
}

#[derive(Default, Clone)]
struct Stats {
    reads: u64,
    writes: u64,
    failed: u64,
    max_read_ms: f64,
    max_read_at: f64,
    max_write_ms: f64,
    max_write_at: f64,
    first_error: Option<String>,
}

fn epoch() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn connect(args: &Args) -> mysql::Result<mysql::Conn> {
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(args.port)
        .user(Some(args.user.clone()))
        .db_name(Some(args.db.clone()))
        .prefer_socket(false)
        .tcp_connect_timeout(Some(Duration::from_secs(5)))
        .read_timeout(Some(Duration::from_secs(300)))
        .write_timeout(Some(Duration::from_secs(300)));
    mysql::Conn::new(opts)
}

fn client(args: Arc<Args>, seed: u64, deadline: Instant) -> Stats {
    let mut st = Stats::default();
    let mut rng = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let table = format!("`{}`", args.table.replace('`', "``"));
    let read_sql = format!("SELECT id, ts, payload FROM {table} WHERE id = ?");
    let write_sql = format!("INSERT INTO {table} (ts, payload) VALUES (UTC_TIMESTAMP(), 'bench')");
    let control = format!("`{}`", args.control.replace('`', "``"));
    let convert_mode = args.mode == "convert";
    let mut conn: Option<mysql::Conn> = None;
    let mut ops = 0u64;
    while Instant::now() < deadline && ops < args.max_ops {
        ops += 1;
        let c = match conn.as_mut() {
            Some(c) => c,
            None => match connect(&args) {
                Ok(c) => conn.insert(c),
                Err(e) => {
                    st.failed += 1;
                    st.first_error.get_or_insert_with(|| e.to_string());
                    thread::sleep(Duration::from_millis(100));
                    continue;
                }
            },
        };
        let read = ops % 2 == 1 && !convert_mode;
        let t0 = Instant::now();
        let res = if convert_mode {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let id = 1 + rng % args.max_id;
            let stmts = match ops % 3 {
                0 => vec![
                    format!("INSERT INTO {table} (ts, payload) VALUES (UTC_TIMESTAMP(), 'bench')"),
                    format!(
                        "INSERT INTO {control} SELECT * FROM {table} WHERE id = LAST_INSERT_ID()"
                    ),
                ],
                1 => vec![
                    format!("UPDATE {table} SET n = n + 1, payload = 'upd {rng}' WHERE id = {id}"),
                    format!(
                        "UPDATE {control} SET n = n + 1, payload = 'upd {rng}' WHERE id = {id}"
                    ),
                ],
                _ => vec![
                    format!("DELETE FROM {table} WHERE id = {id}"),
                    format!("DELETE FROM {control} WHERE id = {id}"),
                ],
            };
            let r = (|| -> mysql::Result<()> {
                c.query_drop("START TRANSACTION")?;
                for s in &stmts {
                    c.query_drop(s)?;
                }
                c.query_drop("COMMIT")
            })();
            if r.is_err() {
                let _ = c.query_drop("ROLLBACK");
            }
            r
        } else if read {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            let id = 1 + rng % args.max_id;
            c.exec_drop(&read_sql, (id,))
        } else {
            c.query_drop(&write_sql)
        };
        let ms = t0.elapsed().as_secs_f64() * 1000.0;
        match res {
            Ok(()) if read => {
                st.reads += 1;
                if ms > st.max_read_ms {
                    st.max_read_ms = ms;
                    st.max_read_at = epoch();
                }
            }
            Ok(()) => {
                st.writes += 1;
                if ms > st.max_write_ms {
                    st.max_write_ms = ms;
                    st.max_write_at = epoch();
                }
            }
            Err(e) => {
                st.failed += 1;
                st.first_error.get_or_insert_with(|| e.to_string());
                conn = None;
            }
        }
    }
    st
}

fn main() {
    let args = Arc::new(parse_args());
    let start = Instant::now();
    let deadline = start + Duration::from_secs(args.secs);
    let handles: Vec<_> = (0..args.clients)
        .map(|i| {
            let a = Arc::clone(&args);
            thread::spawn(move || client(a, i as u64 + 1, deadline))
        })
        .collect();
    let mut total = Stats::default();
    for h in handles {
        let s = h.join().expect("client thread panicked");
        total.reads += s.reads;
        total.writes += s.writes;
        total.failed += s.failed;
        if s.max_read_ms > total.max_read_ms {
            total.max_read_ms = s.max_read_ms;
            total.max_read_at = s.max_read_at;
        }
        if s.max_write_ms > total.max_write_ms {
            total.max_write_ms = s.max_write_ms;
            total.max_write_at = s.max_write_at;
        }
        if total.first_error.is_none() {
            total.first_error = s.first_error;
        }
    }
    let summary = serde_json::json!({
        "clients": args.clients,
        "seconds": (start.elapsed().as_secs_f64() * 100.0).round() / 100.0,
        "reads": total.reads,
        "writes": total.writes,
        "failed": total.failed,
        "max_read_ms": (total.max_read_ms * 10.0).round() / 10.0,
        "max_read_at_epoch": (total.max_read_at * 100.0).round() / 100.0,
        "max_write_ms": (total.max_write_ms * 10.0).round() / 10.0,
        "max_write_at_epoch": (total.max_write_at * 100.0).round() / 100.0,
        "max_latency_ms": (total.max_read_ms.max(total.max_write_ms) * 10.0).round() / 10.0,
        "first_error": total.first_error,
    });
    println!("{summary}");
}
