//! Shared harness for integration tests: throwaway PostgreSQL and MariaDB
//! servers, a `partctl` runner, and scratch directories.
//!
//! Every test binary that declares `mod common;` gets at most one PostgreSQL
//! and one MariaDB server, started lazily on first use. Each call to [`pg`] or
//! [`maria`] creates a fresh, uniquely named database on that server, so tests
//! can run in parallel without seeing each other's tables.
//!
//! Rust test binaries never run static destructors, so cleanup is done by a
//! detached watchdog shell: it polls the test process and, once it is gone,
//! stops the servers and removes all scratch files. Nothing outlives the test
//! process by more than about a second.
//!
//! PostgreSQL refuses to run as root; when the tests run as root the server
//! is run as the unprivileged user `nobody`. MariaDB is run with
//! `--user=root` in that case.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::io::ErrorKind;
use std::net::TcpListener;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const PG_INSTALL_HINT: &str = "apt-get install -y postgresql";
const MARIA_INSTALL_HINT: &str = "apt-get install -y mariadb-server";
const START_ATTEMPTS: usize = 5;
const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);

static COUNTER: AtomicU64 = AtomicU64::new(0);

fn next_id() -> u64 {
    COUNTER.fetch_add(1, Ordering::Relaxed)
}

// ---------------------------------------------------------------------------
// Users and privileges
// ---------------------------------------------------------------------------

/// True when the test process runs with effective uid 0.
pub fn is_root() -> bool {
    static ROOT: OnceLock<bool> = OnceLock::new();
    *ROOT.get_or_init(|| {
        // /proc/self is owned by the effective uid of the calling process.
        if let Ok(meta) = fs::metadata("/proc/self") {
            return meta.uid() == 0;
        }
        Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false)
    })
}

/// The unprivileged account PostgreSQL runs as when the tests run as root.
#[derive(Clone, Debug)]
struct ServiceUser {
    name: String,
    uid: u32,
    gid: u32,
}

fn service_user() -> &'static ServiceUser {
    static USER: OnceLock<ServiceUser> = OnceLock::new();
    USER.get_or_init(|| {
        let name = "nobody";
        let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() >= 4 && f[0] == name {
                if let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse()) {
                    return ServiceUser {
                        name: name.to_string(),
                        uid,
                        gid,
                    };
                }
            }
        }
        ServiceUser {
            name: name.to_string(),
            uid: 65534,
            gid: 65534,
        }
    })
}

/// When running as root, make `cmd` drop privileges to the service user.
fn drop_privileges(cmd: &mut Command) -> &mut Command {
    if is_root() {
        let u = service_user();
        // std calls setgroups([]) itself when dropping from root.
        cmd.uid(u.uid).gid(u.gid);
    }
    cmd
}

/// Shell words that run a command as the service user (empty when not root).
fn run_as_service_user_prefix() -> Vec<String> {
    if !is_root() {
        return Vec::new();
    }
    let u = service_user();
    if let Some(runuser) = find_binary("runuser", &["/usr/sbin", "/sbin", "/usr/bin", "/bin"]) {
        return vec![
            runuser.display().to_string(),
            "-u".into(),
            u.name.clone(),
            "--".into(),
        ];
    }
    if let Some(setpriv) = find_binary("setpriv", &["/usr/bin", "/bin"]) {
        return vec![
            setpriv.display().to_string(),
            format!("--reuid={}", u.uid),
            format!("--regid={}", u.gid),
            "--clear-groups".into(),
        ];
    }
    Vec::new()
}

fn chown_to_service_user(path: &Path) {
    if !is_root() {
        return;
    }
    let u = service_user();
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", u.uid, u.gid))
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("cannot run chown: {e}"));
    assert!(status.success(), "chown -R {} failed", path.display());
}

// ---------------------------------------------------------------------------
// Scratch directories and the cleanup watchdog
// ---------------------------------------------------------------------------

/// Quote a string for POSIX sh.
fn shq(s: impl AsRef<OsStr>) -> String {
    let s = s.as_ref().to_string_lossy();
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Every directory from `path` up to `/` is world-searchable.
fn world_traversable(path: &Path) -> bool {
    path.ancestors().all(|p| {
        fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}

/// Where per-process scratch roots are created.
fn temp_base() -> PathBuf {
    let base = std::env::temp_dir();
    // Unix socket paths are limited to ~107 bytes; PostgreSQL's socket is
    // `<root>/pg-N/.s.PGSQL.<port>`. The unprivileged PostgreSQL user must
    // also be able to reach the directory when we run as root.
    let too_long = base.as_os_str().len() > 60;
    let unreachable = is_root() && !world_traversable(&base);
    if too_long || unreachable {
        PathBuf::from("/tmp")
    } else {
        base
    }
}

/// Per-process scratch root, removed by a watchdog after the process exits.
///
/// Before removal the watchdog runs every `<root>/*/stop.sh`, which is how
/// the database servers get shut down.
fn scratch_root() -> &'static Path {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let base = temp_base();
        let pid = std::process::id();
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut attempt = 0u32;
        let root = loop {
            let candidate = base.join(format!("partctl-test-{pid}-{nanos:x}-{attempt}"));
            match fs::create_dir(&candidate) {
                Ok(()) => break candidate,
                Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt < 100 => attempt += 1,
                Err(e) => panic!("cannot create scratch dir {}: {e}", candidate.display()),
            }
        };
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).expect("chmod scratch root");
        spawn_watchdog(&root);
        root
    })
}

fn spawn_watchdog(root: &Path) {
    const SCRIPT: &str = r#"
p=$1; d=$2
while kill -0 "$p" 2>/dev/null; do sleep 0.5; done
for s in "$d"/*/stop.sh; do
    [ -f "$s" ] && sh "$s" >/dev/null 2>&1
done
rm -rf "$d" 2>/dev/null || { sleep 1; rm -rf "$d" 2>/dev/null; }
"#;
    // Deliberately never waited for: it must outlive this process.
    #[allow(clippy::zombie_processes)]
    Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("partctl-test-watchdog")
        .arg(std::process::id().to_string())
        .arg(root)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Own process group: a Ctrl-C aimed at the test run must not kill
        // the watchdog before it has cleaned up.
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot spawn cleanup watchdog: {e}"));
}

/// A fresh, empty directory, removed automatically after the test process
/// exits.
pub fn temp_dir(hint: &str) -> PathBuf {
    let hint: String = hint
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    let dir = scratch_root().join(format!("{hint}-{}", next_id()));
    fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    dir
}

/// The bound cache directory (`PARTCTL_CACHE_DIR`) of every partctl this test process runs,
/// instead of the user's `~/.cache/partctl`: one per process, removed with the other temp
/// dirs; its files are keyed by each test's own server and database.
pub fn cache_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| temp_dir("bound-cache"))
}

/// Write `toml` to `policy.toml` in a fresh temp dir and return the file path.
pub fn write_policy(dir_name_hint: &str, toml: &str) -> PathBuf {
    let path = temp_dir(&format!("policy-{dir_name_hint}")).join("policy.toml");
    fs::write(&path, toml).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    path
}

// ---------------------------------------------------------------------------
// Misc helpers
// ---------------------------------------------------------------------------

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("<cannot read {}: {e}>", path.display()))
}

fn tail(s: &str, lines: usize) -> String {
    let v: Vec<&str> = s.lines().collect();
    v[v.len().saturating_sub(lines)..].join("\n")
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

fn find_binary(name: &str, extra_dirs: &[&str]) -> Option<PathBuf> {
    find_in_path(name).or_else(|| {
        extra_dirs
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.is_file())
    })
}

/// Remove environment variables with any of the given prefixes.
fn scrub_env(cmd: &mut Command, prefixes: &[&str]) {
    for (k, _) in std::env::vars_os() {
        let k_str = k.to_string_lossy();
        if prefixes.iter().any(|p| k_str.starts_with(p)) {
            cmd.env_remove(&k);
        }
    }
}

fn file_stdio(path: &Path) -> Stdio {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map(Stdio::from)
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display()))
}

fn append_file(path: &Path, text: &str) {
    use std::io::Write;
    fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .unwrap_or_else(|e| panic!("cannot append to {}: {e}", path.display()));
}

fn write_stop_script(dir: &Path, body: &str) {
    let path = dir.join("stop.sh");
    fs::write(&path, body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

// ---------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------

struct PgServer {
    /// The server's self-signed certificate, to verify it with `sslrootcert`.
    ca: PathBuf,
    port: u16,
}

/// A fresh database on the shared throwaway PostgreSQL server.
#[derive(Clone, Debug)]
pub struct PgDb {
    /// `postgres://postgres@127.0.0.1:<port>/<dbname>`
    pub url: String,
    pub dbname: String,
}

fn pg_bindir() -> PathBuf {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();

    if let Some(dir) = std::env::var_os("PARTCTL_TEST_PG_BINDIR") {
        let dir = PathBuf::from(dir);
        assert!(
            has_tools(&dir),
            "PARTCTL_TEST_PG_BINDIR={} has no initdb/pg_ctl",
            dir.display()
        );
        return dir;
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        if out.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
            if has_tools(&dir) {
                return dir;
            }
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.split('.').next()?.parse().ok()?;
            let bin = e.path().join("bin");
            has_tools(&bin).then_some((v, bin))
        })
        .collect();
    versioned.sort();
    if let Some((_, dir)) = versioned.pop() {
        return dir;
    }
    if let Some(initdb) = find_in_path("initdb") {
        // Resolve symlinks like /usr/local/bin/initdb -> .../15/bin/initdb.
        let initdb = fs::canonicalize(&initdb).unwrap_or(initdb);
        if let Some(dir) = initdb.parent() {
            if has_tools(dir) {
                return dir.to_path_buf();
            }
        }
    }
    panic!(
        "PostgreSQL server binaries (initdb, pg_ctl) not found via `pg_config --bindir`, \
         /usr/lib/postgresql/*/bin or PATH. Install them with:\n\n    {PG_INSTALL_HINT}\n"
    );
}

fn pg_command(bin: &Path, base: &Path) -> Command {
    let mut cmd = Command::new(bin);
    scrub_env(&mut cmd, &["PG"]);
    cmd.current_dir(base)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .process_group(0);
    drop_privileges(&mut cmd);
    cmd
}

fn start_pg() -> PgServer {
    start_pg_with(false)
}

/// A PostgreSQL server; `v1_cert`: with a self-signed X.509 **v1** certificate (no extensions),
/// as `CREATE EXTENSION citus` installs, instead of one signed by a private CA.
fn start_pg_with(v1_cert: bool) -> PgServer {
    let bindir = pg_bindir();
    let base = temp_dir("pg");
    let data = base.join("data");
    let log = base.join("postgres.log");
    let tool_log = base.join("tools.log");
    let pg_ctl = bindir.join("pg_ctl");

    // Registered before anything is started, so a half-started server is
    // stopped too. Root must stop it as the user that owns the data dir.
    let mut stop = String::new();
    let prefix = run_as_service_user_prefix();
    let _ = writeln!(
        stop,
        "[ -f {pid} ] || exit 0",
        pid = shq(data.join("postmaster.pid"))
    );
    let _ = writeln!(
        stop,
        "{prefix} {pg_ctl} -D {data} stop -m immediate -w -t 20",
        prefix = prefix.iter().map(shq).collect::<Vec<_>>().join(" "),
        pg_ctl = shq(&pg_ctl),
        data = shq(&data),
    );
    // Fallback in case pg_ctl could not be run as the owning user.
    let _ = writeln!(
        stop,
        "if [ -f {pid} ]; then kill -QUIT \"$(head -n1 {pid})\"; sleep 0.5; fi",
        pid = shq(data.join("postmaster.pid"))
    );
    write_stop_script(&base, &stop);

    chown_to_service_user(&base);

    let status = pg_command(&bindir.join("initdb"), &base)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        ])
        .stdout(file_stdio(&tool_log))
        .stderr(file_stdio(&tool_log))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}/initdb: {e}", bindir.display()));
    assert!(
        status.success(),
        "initdb failed ({status}):\n{}",
        tail(&read_lossy(&tool_log), 40)
    );

    let socket_dir = base.to_string_lossy().replace('\'', "''");
    append_file(
        &data.join("postgresql.conf"),
        &format!(
            "\n# partctl test harness\n\
             listen_addresses = '127.0.0.1'\n\
             unix_socket_directories = '{socket_dir}'\n\
             fsync = off\n\
             full_page_writes = off\n\
             synchronous_commit = off\n\
             max_connections = 200\n\
             timezone = 'UTC'\n"
        ),
    );

    // TLS with a certificate for localhost and 127.0.0.1 from a private CA, as many real servers
    // have (Debian's default is ssl = on with a snakeoil certificate): every test then connects
    // encrypted, and TLS tests verify the server against `pg_ca_cert()`.
    let openssl = find_binary("openssl", &[]).unwrap_or_else(|| {
        panic!("openssl is not installed; install it with: apt-get install -y openssl")
    });
    let ssl = |args: &[&OsStr]| {
        let status = Command::new(&openssl)
            .args(args)
            .current_dir(&base)
            .stdout(file_stdio(&tool_log))
            .stderr(file_stdio(&tool_log))
            .status()
            .expect("run openssl");
        assert!(
            status.success(),
            "openssl failed:\n{}",
            tail(&read_lossy(&tool_log), 20)
        );
    };
    let o = OsStr::new;
    if v1_cert {
        // `x509 -req -signkey` without extensions makes a self-signed version 1 certificate.
        ssl(&[
            o("req"),
            o("-new"),
            o("-newkey"),
            o("rsa:2048"),
            o("-nodes"),
            o("-subj"),
            o("/CN=localhost"),
            o("-keyout"),
            data.join("server.key").as_os_str(),
            o("-out"),
            o("server.csr"),
        ]);
        ssl(&[
            o("x509"),
            o("-req"),
            o("-in"),
            o("server.csr"),
            o("-signkey"),
            data.join("server.key").as_os_str(),
            o("-days"),
            o("2"),
            o("-out"),
            data.join("server.crt").as_os_str(),
        ]);
        fs::copy(data.join("server.crt"), base.join("ca.crt")).expect("copy server.crt");
    } else {
        // A private CA, and a server certificate it signs.
        ssl(&[
            o("req"),
            o("-x509"),
            o("-newkey"),
            o("rsa:2048"),
            o("-nodes"),
            o("-days"),
            o("2"),
            o("-subj"),
            o("/CN=partctl test CA"),
            o("-keyout"),
            o("ca.key"),
            o("-out"),
            o("ca.crt"),
        ]);
        fs::write(
            base.join("san.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1\n",
        )
        .expect("san.ext");
        ssl(&[
            o("req"),
            o("-newkey"),
            o("rsa:2048"),
            o("-nodes"),
            o("-subj"),
            o("/CN=localhost"),
            o("-keyout"),
            data.join("server.key").as_os_str(),
            o("-out"),
            o("server.csr"),
        ]);
        ssl(&[
            o("x509"),
            o("-req"),
            o("-in"),
            o("server.csr"),
            o("-CA"),
            o("ca.crt"),
            o("-CAkey"),
            o("ca.key"),
            o("-CAcreateserial"),
            o("-days"),
            o("2"),
            o("-extfile"),
            o("san.ext"),
            o("-out"),
            data.join("server.crt").as_os_str(),
        ]);
    }
    fs::set_permissions(data.join("server.key"), fs::Permissions::from_mode(0o600))
        .expect("chmod server.key");
    chown_to_service_user(&data);
    append_file(
        &data.join("postgresql.conf"),
        "ssl = on\nssl_cert_file = 'server.crt'\nssl_key_file = 'server.key'\n",
    );

    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        // Appending keeps the file's owner; the last `port` line wins.
        append_file(&data.join("postgresql.conf"), &format!("port = {port}\n"));

        let status = pg_command(&pg_ctl, &base)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdout(file_stdio(&tool_log))
            .stderr(file_stdio(&tool_log))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", pg_ctl.display()));
        if status.success() {
            return PgServer {
                port,
                ca: base.join("ca.crt"),
            };
        }
        let server_log = read_lossy(&log);
        if attempt < START_ATTEMPTS && server_log.contains("could not bind") {
            continue; // Lost the race for the port; pick another.
        }
        panic!(
            "PostgreSQL failed to start ({status}).\n--- pg_ctl/initdb output ---\n{}\n--- server log ---\n{}",
            tail(&read_lossy(&tool_log), 20),
            tail(&server_log, 40)
        );
    }
    unreachable!()
}

fn pg_server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(start_pg)
}

fn pg_url(port: u16, db: &str) -> String {
    format!("postgres://postgres@127.0.0.1:{port}/{db}")
}

fn pg_error(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => db.to_string(),
        None => format!("{e:?}"),
    }
}

/// Create a fresh database on the shared PostgreSQL server (started on
/// first use).
/// The private CA that signed the test server's certificate (SAN localhost and 127.0.0.1).
pub fn pg_ca_cert() -> PathBuf {
    pg_server().ca.clone()
}

pub fn pg() -> PgDb {
    pg_on(pg_server())
}

/// A fresh database on a second throwaway PostgreSQL server whose TLS certificate is a
/// self-signed X.509 v1 certificate, like the one Citus installs (started on first use).
pub fn pg_v1_cert() -> PgDb {
    pg_on(pg_v1_server())
}

fn pg_v1_server() -> &'static PgServer {
    static SERVER: OnceLock<PgServer> = OnceLock::new();
    SERVER.get_or_init(|| start_pg_with(true))
}

/// The self-signed v1 certificate of [`pg_v1_cert`]'s server.
pub fn pg_v1_cert_file() -> PathBuf {
    pg_v1_server().ca.clone()
}

fn pg_on(server: &PgServer) -> PgDb {
    let dbname = format!("t_{}_{}", std::process::id(), next_id());
    let admin_url = pg_url(server.port, "postgres");
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect {admin_url}: {}", pg_error(&e)));
    admin
        .batch_execute(&format!("CREATE DATABASE \"{dbname}\""))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {dbname}: {}", pg_error(&e)));
    PgDb {
        url: pg_url(server.port, &dbname),
        dbname,
    }
}

impl PgDb {
    pub fn port(&self) -> u16 {
        pg_server().port
    }

    pub fn client(&self) -> postgres::Client {
        postgres::Client::connect(&self.url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect {}: {}", self.url, pg_error(&e)))
    }

    /// Run one or more statements; panics with the SQL on error.
    pub fn exec(&self, sql: &str) {
        if let Err(e) = self.client().batch_execute(sql) {
            panic!("PostgreSQL error: {}\n--- SQL ---\n{sql}", pg_error(&e));
        }
    }

    /// Text results of every row of every statement in `sql`.
    pub fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let msgs = self
            .client()
            .simple_query(sql)
            .unwrap_or_else(|e| panic!("PostgreSQL error: {}\n--- SQL ---\n{sql}", pg_error(&e)));
        msgs.iter()
            .filter_map(|m| match m {
                postgres::SimpleQueryMessage::Row(row) => Some(
                    (0..row.len())
                        .map(|i| row.get(i).map(str::to_string))
                        .collect(),
                ),
                _ => None,
            })
            .collect()
    }

    /// First column of the first row, as an integer.
    pub fn query_i64(&self, sql: &str) -> i64 {
        first_i64(self.query_strings(sql), sql)
    }
}

fn first_i64(rows: Vec<Vec<Option<String>>>, sql: &str) -> i64 {
    let cell = rows
        .into_iter()
        .next()
        .and_then(|r| r.into_iter().next())
        .unwrap_or_else(|| panic!("query returned no rows/columns: {sql}"))
        .unwrap_or_else(|| panic!("query returned NULL: {sql}"));
    cell.trim()
        .parse()
        .unwrap_or_else(|e| panic!("not an integer {cell:?} ({e}): {sql}"))
}

// ---------------------------------------------------------------------------
// MariaDB
// ---------------------------------------------------------------------------

struct MariaServer {
    port: u16,
}

/// A fresh database on the shared throwaway MariaDB server.
#[derive(Clone, Debug)]
pub struct MariaDb {
    /// `mysql://root@127.0.0.1:<port>/<dbname>`
    pub url: String,
    pub dbname: String,
}

const MARIA_DIRS: &[&str] = &[
    "/usr/sbin",
    "/usr/bin",
    "/usr/local/sbin",
    "/usr/local/bin",
    "/sbin",
];

fn maria_binaries() -> (PathBuf, PathBuf) {
    let server = find_binary("mariadbd", MARIA_DIRS).or_else(|| find_binary("mysqld", MARIA_DIRS));
    let install = find_binary("mariadb-install-db", MARIA_DIRS)
        .or_else(|| find_binary("mysql_install_db", MARIA_DIRS));
    match (server, install) {
        (Some(s), Some(i)) => (s, i),
        _ => panic!(
            "MariaDB server binaries (mariadbd, mariadb-install-db) not found in PATH or \
             /usr/sbin. Install them with:\n\n    {MARIA_INSTALL_HINT}\n"
        ),
    }
}

fn maria_command(bin: &Path, base: &Path) -> Command {
    let mut cmd = Command::new(bin);
    scrub_env(&mut cmd, &["MYSQL", "MARIADB"]);
    cmd.current_dir(base)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .process_group(0);
    cmd
}

fn maria_try_connect(port: u16) -> Result<(), String> {
    let opts = mysql::OptsBuilder::new()
        .ip_or_hostname(Some("127.0.0.1"))
        .tcp_port(port)
        .user(Some("root"))
        .tcp_connect_timeout(Some(Duration::from_secs(2)));
    use mysql::prelude::Queryable;
    let mut conn = mysql::Conn::new(opts).map_err(|e| e.to_string())?;
    conn.query_drop("SELECT 1").map_err(|e| e.to_string())
}

fn start_maria() -> MariaServer {
    start_maria_with(&["--skip-log-bin"])
}

/// A throwaway MariaDB server started with `replication` (`--skip-log-bin` for the shared one; a
/// binary log and a server id for a replication primary, a server id for its replica).
fn start_maria_with(replication: &[&str]) -> MariaServer {
    let (mariadbd, install_db) = maria_binaries();
    let base = temp_dir("maria");
    let data = base.join("data");
    let error_log = base.join("error.log");
    let tool_log = base.join("install.log");
    let pid_file = base.join("mysqld.pid");
    let pid_record = base.join("server.pid");
    let stop = format!(
        "[ -f {rec} ] || exit 0\nkill -KILL \"$(cat {rec})\"\nsleep 0.3\n",
        rec = shq(&pid_record)
    );
    write_stop_script(&base, &stop);

    // mariadbd refuses to run as root unless told to explicitly. Running as
    // root (rather than as `mysql`) keeps file ownership trivial.
    let user_arg: &[&str] = if is_root() { &["--user=root"] } else { &[] };

    let datadir_arg = format!("--datadir={}", data.display());
    let status = maria_command(&install_db, &base)
        .arg("--no-defaults") // must be the first option
        .arg(&datadir_arg)
        .args([
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            "--skip-name-resolve",
        ])
        .args(user_arg)
        .stdout(file_stdio(&tool_log))
        .stderr(file_stdio(&tool_log))
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", install_db.display()));
    assert!(
        status.success(),
        "{} failed ({status}):\n{}",
        install_db.display(),
        tail(&read_lossy(&tool_log), 40)
    );

    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        let _ = fs::remove_file(&error_log);
        let mut child = maria_command(&mariadbd, &base)
            .arg("--no-defaults") // must be the first option
            .arg(&datadir_arg)
            .arg(format!("--socket={}", base.join("mysqld.sock").display()))
            .arg(format!("--pid-file={}", pid_file.display()))
            .arg(format!("--log-error={}", error_log.display()))
            .arg(format!("--tmpdir={}", base.display()))
            .arg(format!("--port={port}"))
            .args([
                "--bind-address=127.0.0.1",
                "--skip-name-resolve",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                // io_uring/libaio are often unavailable in containers.
                "--innodb-use-native-aio=0",
                "--max-connections=200",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_general_ci",
                "--default-time-zone=+00:00",
            ])
            .args(replication)
            .args(user_arg)
            .stdout(file_stdio(&tool_log))
            .stderr(file_stdio(&tool_log))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", mariadbd.display()));
        fs::write(&pid_record, child.id().to_string()).expect("write server.pid");

        let deadline = Instant::now() + STARTUP_TIMEOUT;
        let mut last_err = String::new();
        let exited = loop {
            if let Ok(Some(status)) = child.try_wait() {
                break Some(status);
            }
            match maria_try_connect(port) {
                Ok(()) => return MariaServer { port },
                Err(e) => last_err = e,
            }
            if Instant::now() >= deadline {
                break None;
            }
            sleep(Duration::from_millis(100));
        };
        let log = read_lossy(&error_log);
        if let Some(status) = exited {
            if attempt < START_ATTEMPTS && log.contains("Address already in use") {
                continue; // Lost the race for the port; pick another.
            }
            panic!(
                "mariadbd exited during startup ({status}).\n--- error log ---\n{}\n--- output ---\n{}",
                tail(&log, 40),
                tail(&read_lossy(&tool_log), 20)
            );
        }
        let _ = child.kill();
        panic!(
            "MariaDB did not accept connections within {}s (last error: {last_err}).\n--- error log ---\n{}",
            STARTUP_TIMEOUT.as_secs(),
            tail(&log, 40)
        );
    }
    unreachable!()
}

fn maria_server() -> &'static MariaServer {
    static SERVER: OnceLock<MariaServer> = OnceLock::new();
    SERVER.get_or_init(start_maria)
}

fn maria_url(port: u16, db: &str) -> String {
    format!("mysql://root@127.0.0.1:{port}/{db}")
}

fn maria_connect(url: &str) -> mysql::Conn {
    let opts = mysql::Opts::from_url(url).unwrap_or_else(|e| panic!("bad MySQL URL {url}: {e}"));
    mysql::Conn::new(opts).unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// Run `sql` (possibly several statements) and collect all rows of all
/// result sets as text. Unlike `query_drop`, errors from any statement of a
/// multi-statement batch are reported.
fn maria_run(conn: &mut mysql::Conn, sql: &str) -> mysql::Result<Vec<Vec<Option<String>>>> {
    use mysql::prelude::Queryable;
    let mut out = Vec::new();
    let mut result = conn.query_iter(sql)?;
    while let Some(set) = result.iter() {
        for row in set {
            let row = row?;
            out.push(
                row.unwrap()
                    .into_iter()
                    .map(maria_value_to_string)
                    .collect(),
            );
        }
    }
    Ok(out)
}

fn maria_value_to_string(v: mysql::Value) -> Option<String> {
    use mysql::Value;
    match v {
        Value::NULL => None,
        Value::Bytes(b) => Some(String::from_utf8_lossy(&b).into_owned()),
        Value::Int(i) => Some(i.to_string()),
        Value::UInt(u) => Some(u.to_string()),
        Value::Float(f) => Some(f.to_string()),
        Value::Double(d) => Some(d.to_string()),
        other => Some(other.as_sql(true).trim_matches('\'').to_string()),
    }
}

/// Create a fresh database on the shared MariaDB server (started on first
/// use).
pub fn maria() -> MariaDb {
    let server = maria_server();
    let dbname = format!("t_{}_{}", std::process::id(), next_id());
    let mut admin = maria_connect(&maria_url(server.port, ""));
    maria_run(&mut admin, &format!("CREATE DATABASE `{dbname}`"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {dbname}: {e}"));
    MariaDb {
        url: maria_url(server.port, &dbname),
        dbname,
    }
}

impl MariaDb {
    pub fn port(&self) -> u16 {
        maria_server().port
    }

    pub fn conn(&self) -> mysql::Conn {
        maria_connect(&self.url)
    }

    /// Run one or more statements; panics with the SQL on error.
    pub fn exec(&self, sql: &str) {
        if let Err(e) = maria_run(&mut self.conn(), sql) {
            panic!("MariaDB error: {e}\n--- SQL ---\n{sql}");
        }
    }

    /// Text results of every row of every statement in `sql`.
    pub fn query_strings(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        maria_run(&mut self.conn(), sql)
            .unwrap_or_else(|e| panic!("MariaDB error: {e}\n--- SQL ---\n{sql}"))
    }

    /// First column of the first row, as an integer.
    pub fn query_i64(&self, sql: &str) -> i64 {
        first_i64(self.query_strings(sql), sql)
    }
}

// ---------------------------------------------------------------------------
// Running the partctl binary
// ---------------------------------------------------------------------------

/// Captured result of a `partctl` invocation.
#[derive(Clone, Debug)]
pub struct Run {
    /// Exit code; -1 if killed by a signal.
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Run the `partctl` binary with `args` and extra environment `env`, stdin
/// closed. Inherited `PARTCTL_*` and `DATABASE_URL` variables are removed so
/// the caller's environment cannot leak into tests.
pub fn partctl(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_partctl"));
    scrub_env(&mut cmd, &["PARTCTL_"]);
    cmd.env("PARTCTL_CACHE_DIR", cache_dir());
    cmd.env_remove("DATABASE_URL")
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run partctl: {e}"))
}

/// [`partctl`], with output decoded as (lossy) UTF-8.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let out = partctl(args, env);
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `partctl --policies POLICY --database-url URL --now NOW ARGS...`
pub fn ctl(url: &str, policy: &Path, now: &str, args: &[&str]) -> Run {
    let mut all = vec![
        "--policies",
        policy.to_str().expect("a UTF-8 path"),
        "--database-url",
        url,
        "--now",
        now,
    ];
    all.extend_from_slice(args);
    run(&all, &[])
}

/// [`ctl`] without waiting: the output captured (read it with `wait_with_output`, which drains
/// both pipes) or, without `capture`, discarded (a child that is killed, or prints more than a
/// pipe holds while nobody reads).
pub fn spawn_ctl(
    url: &str,
    policy: &Path,
    now: &str,
    args: &[&str],
    capture: bool,
) -> std::process::Child {
    let out = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_partctl"));
    scrub_env(&mut cmd, &["PARTCTL_"]);
    cmd.env("PARTCTL_CACHE_DIR", cache_dir());
    cmd.env_remove("DATABASE_URL")
        .arg("--policies")
        .arg(policy)
        .args(["--database-url", url, "--now", now])
        .args(args)
        .stdin(Stdio::null())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run partctl: {e}"))
}

/// Wait for a `convert --replica ... --max-lag 1s` started with [`spawn_ctl`] (capturing): it
/// succeeded, said it waited for the replica, and took at least `held` from `started`.
#[track_caller]
pub fn expect_waited_for_replica(child: std::process::Child, started: Instant, held: Duration) {
    let out = child.wait_with_output().expect("wait for partctl");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("copy: waiting for the replica: lag")
            && stderr.contains("> --max-lag 1.0 s"),
        "{stderr}"
    );
    assert!(started.elapsed() >= held);
}

/// Assert an exit status, showing the output when it differs.
#[track_caller]
pub fn expect_code(r: &Run, code: i32, what: &str) {
    assert_eq!(
        r.code, code,
        "{what}: expected exit {code}, got {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        r.code, r.stdout, r.stderr
    );
}

// ---------------------------------------------------------------------------
// Fleets: several servers of each engine, each on its own port
// ---------------------------------------------------------------------------

/// Start `more` servers with `start` at once (in threads), after the `have` already running.
fn start_more<S: Send + 'static>(servers: &mut Vec<S>, want: usize, start: fn() -> S) {
    let more = want.saturating_sub(servers.len());
    let started: Vec<S> = (0..more)
        .map(|_| std::thread::spawn(start))
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| {
            h.join()
                .unwrap_or_else(|_| panic!("a server failed to start"))
        })
        .collect();
    servers.extend(started);
}

/// A fresh database on each of `n` different PostgreSQL servers (the shared one first, then
/// extra servers started on first need, each on its own port), for fleet tests.
pub fn pg_fleet(n: usize) -> Vec<PgDb> {
    static EXTRA: OnceLock<std::sync::Mutex<Vec<PgServer>>> = OnceLock::new();
    let first = pg();
    let mut out = vec![first];
    if n <= 1 {
        return out;
    }
    let mut extra = EXTRA
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    start_more(&mut extra, n - 1, start_pg);
    for server in extra.iter().take(n - 1) {
        let dbname = format!("t_{}_{}", std::process::id(), next_id());
        let admin_url = pg_url(server.port, "postgres");
        let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect {admin_url}: {}", pg_error(&e)));
        admin
            .batch_execute(&format!("CREATE DATABASE \"{dbname}\""))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {dbname}: {}", pg_error(&e)));
        out.push(PgDb {
            url: pg_url(server.port, &dbname),
            dbname,
        });
    }
    out
}

/// A fresh database on each of `n` different MariaDB servers (the shared one first, then extra
/// servers started on first need, each on its own port), for fleet tests.
pub fn maria_fleet(n: usize) -> Vec<MariaDb> {
    static EXTRA: OnceLock<std::sync::Mutex<Vec<MariaServer>>> = OnceLock::new();
    let mut out = vec![maria()];
    if n <= 1 {
        return out;
    }
    let mut extra = EXTRA
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    start_more(&mut extra, n - 1, start_maria);
    for server in extra.iter().take(n - 1) {
        let dbname = format!("t_{}_{}", std::process::id(), next_id());
        let mut admin = maria_connect(&maria_url(server.port, ""));
        maria_run(&mut admin, &format!("CREATE DATABASE `{dbname}`"))
            .unwrap_or_else(|e| panic!("CREATE DATABASE {dbname}: {e}"));
        out.push(MariaDb {
            url: maria_url(server.port, &dbname),
            dbname,
        });
    }
    out
}

/// The port of a test server's URL (`...@127.0.0.1:<port>/...`).
pub fn url_port(url: &str) -> u16 {
    url.rsplit_once(':')
        .and_then(|(_, rest)| rest.split('/').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {url}"))
}

// ---------------------------------------------------------------------------
// MariaDB with a replica
// ---------------------------------------------------------------------------

/// A fresh database on a throwaway MariaDB primary of its own (binary log on), and the URL of
/// the same database on a replica of it: a second server replicating from the primary's first
/// binary log position (`CHANGE MASTER TO ..., MASTER_USE_GTID = no; START SLAVE`), the database
/// created on the primary once the replica runs. Both stopped by the watchdog.
pub fn maria_with_replica() -> (MariaDb, String) {
    let primary = start_maria_with(&[
        "--log-bin=primary-bin",
        "--server-id=1",
        "--binlog-format=ROW",
    ]);
    let replica = start_maria_with(&["--skip-log-bin", "--server-id=2"]);
    let mut p = maria_connect(&maria_url(primary.port, ""));
    let status = maria_run(&mut p, "SHOW MASTER STATUS").expect("SHOW MASTER STATUS");
    let (file, pos) = match status.first() {
        Some(row) => (
            row[0].clone().expect("binary log file"),
            row[1].clone().expect("binary log position"),
        ),
        None => panic!("the primary has no binary log (SHOW MASTER STATUS is empty)"),
    };
    let mut r = maria_connect(&maria_url(replica.port, ""));
    maria_run(
        &mut r,
        &format!(
            "CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = {port}, MASTER_USER = 'root', \
             MASTER_PASSWORD = '', MASTER_USE_GTID = no, MASTER_LOG_FILE = '{file}', \
             MASTER_LOG_POS = {pos}, MASTER_CONNECT_RETRY = 1; START SLAVE",
            port = primary.port
        ),
    )
    .unwrap_or_else(|e| panic!("starting the replica: {e}"));
    let dbname = format!("t_{}_{}", std::process::id(), next_id());
    maria_run(&mut p, &format!("CREATE DATABASE `{dbname}`"))
        .unwrap_or_else(|e| panic!("CREATE DATABASE {dbname}: {e}"));
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let there = maria_run(
            &mut r,
            &format!(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = '{dbname}'"
            ),
        )
        .expect("reading the replica");
        if there[0][0].as_deref() == Some("1") {
            break;
        }
        if Instant::now() >= deadline {
            let status = maria_run(&mut r, "SHOW SLAVE STATUS").unwrap_or_default();
            panic!("the replica did not replicate CREATE DATABASE in 30 s: {status:?}");
        }
        sleep(Duration::from_millis(50));
    }
    (
        MariaDb {
            url: maria_url(primary.port, &dbname),
            dbname: dbname.clone(),
        },
        maria_url(replica.port, &dbname),
    )
}

// ---------------------------------------------------------------------------
// PostgreSQL with a streaming replica
// ---------------------------------------------------------------------------

/// A fresh database on a throwaway PostgreSQL primary of its own, and the URL of the same
/// database on a streaming replica of it: `pg_basebackup -R` into a temp dir, a second
/// postmaster on a free port (both stopped by the watchdog like every test server).
pub fn pg_with_replica() -> (PgDb, String) {
    let primary = start_pg();
    let db = pg_on(&primary);
    let bindir = pg_bindir();
    let base = temp_dir("pg-replica");
    let data = base.join("data");
    let log = base.join("postgres.log");
    let tool_log = base.join("tools.log");
    let pg_ctl = bindir.join("pg_ctl");
    let prefix = run_as_service_user_prefix();
    write_stop_script(
        &base,
        &format!(
            "[ -f {pid} ] || exit 0\n{prefix} {pg_ctl} -D {data} stop -m immediate -w -t 20\n",
            pid = shq(data.join("postmaster.pid")),
            prefix = prefix.iter().map(shq).collect::<Vec<_>>().join(" "),
            pg_ctl = shq(&pg_ctl),
            data = shq(&data),
        ),
    );
    chown_to_service_user(&base);
    let status = pg_command(&bindir.join("pg_basebackup"), &base)
        .arg("-D")
        .arg(&data)
        .args([
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
            "-h",
            "127.0.0.1",
        ])
        .args(["-p", &primary.port.to_string(), "-U", "postgres"])
        .stdout(file_stdio(&tool_log))
        .stderr(file_stdio(&tool_log))
        .status()
        .unwrap_or_else(|e| panic!("cannot run pg_basebackup: {e}"));
    assert!(
        status.success(),
        "pg_basebackup failed ({status}):\n{}",
        tail(&read_lossy(&tool_log), 20)
    );
    for attempt in 1..=START_ATTEMPTS {
        let port = free_port();
        append_file(
            &data.join("postgresql.conf"),
            &format!("port = {port}\nhot_standby = on\n"),
        );
        let status = pg_command(&pg_ctl, &base)
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", "60", "start"])
            .stdout(file_stdio(&tool_log))
            .stderr(file_stdio(&tool_log))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", pg_ctl.display()));
        if status.success() {
            return (db.clone(), pg_url(port, &db.dbname));
        }
        let server_log = read_lossy(&log);
        if attempt < START_ATTEMPTS && server_log.contains("could not bind") {
            continue;
        }
        panic!(
            "the replica failed to start ({status}).\n{}\n--- server log ---\n{}",
            tail(&read_lossy(&tool_log), 20),
            tail(&server_log, 40)
        );
    }
    unreachable!()
}
