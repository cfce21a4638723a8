//! Free disk space where a server keeps its data, when this machine can tell: the server runs
//! here (reached through a Unix socket or the loopback address) and its data directory is
//! visible. The space is what `df -P -k` reports as available (statvfs, less the blocks
//! reserved for root), so that no binding to libc is needed.

use std::path::Path;
use std::process::Command;

/// Free space at the server's data, or why it is not known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FreeSpace {
    /// Bytes available to the server at `path`.
    Known { bytes: u64, path: String },
    /// Why this machine cannot tell.
    Unknown(String),
}

/// Whether an address the server was reached on is this machine (`""`: a Unix socket).
pub fn is_local_address(addr: &str) -> bool {
    matches!(addr, "" | "127.0.0.1" | "::1" | "localhost")
}

/// The free space of `dir`, the data directory of a server reached at `addr`; `Unknown` when
/// the server is elsewhere, the directory is not visible here, or `owner` (what the directory
/// itself says of the server running on it) says it is another server's.
pub fn local_free_space(dir: &str, addr: &str, owner: Owner) -> FreeSpace {
    if !is_local_address(addr) {
        return FreeSpace::Unknown(format!(
            "the server is not on this machine (reached at {addr})"
        ));
    }
    let path = Path::new(dir);
    if dir.is_empty() || !path.is_dir() {
        return FreeSpace::Unknown(format!(
            "the server's data directory {dir} is not visible on this machine"
        ));
    }
    if let Some(why) = owner.disproves(path) {
        return FreeSpace::Unknown(why);
    }
    match Command::new("df")
        .args(["-P", "-k", "--"])
        .arg(dir)
        .output()
    {
        Ok(out) if out.status.success() => match parse_df(&String::from_utf8_lossy(&out.stdout)) {
            Some(bytes) => FreeSpace::Known {
                bytes,
                path: dir.to_string(),
            },
            None => FreeSpace::Unknown(format!("cannot read `df -P -k {dir}`")),
        },
        _ => FreeSpace::Unknown(format!("`df -P -k {dir}` failed")),
    }
}

/// How a data directory seen here is known to be the connected server's: without that proof
/// (an SSH tunnel makes a remote server look local; a directory of the same path may belong to
/// another server), the space is unknown, never this machine's by mistake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// PostgreSQL: `postmaster.pid` names the server's port (line 4) and its start time
    /// (line 3, epoch seconds; `pg_postmaster_start_time()`, within 2 s).
    Postgres { port: String, started: i64 },
    /// MySQL/MariaDB: the server's host name (`@@hostname`) is this machine's, and its pid file
    /// (`@@pid_file`, relative to the data directory when not absolute) names a process here.
    PidFile { file: String, hostname: String },
}

impl Owner {
    /// Why `dir` is not known to be the connected server's, if it is not.
    fn disproves(&self, dir: &Path) -> Option<String> {
        match self {
            Owner::Postgres { port, started } => {
                let file = dir.join("postmaster.pid");
                let Ok(pid) = std::fs::read_to_string(&file) else {
                    return Some(format!(
                        "cannot read {} to confirm it is the connected server's",
                        file.display()
                    ));
                };
                let mut lines = pid.lines().skip(2);
                let at: Option<i64> = lines.next().and_then(|l| l.trim().parse().ok());
                let p = lines.next().map(str::trim);
                if p != Some(port.trim()) || at.is_none_or(|at| (at - started).abs() > 2) {
                    return Some(format!(
                        "{} belongs to another server than the one connected to",
                        dir.display()
                    ));
                }
                None
            }
            Owner::PidFile { file, hostname } => {
                let here = std::fs::read_to_string("/proc/sys/kernel/hostname")
                    .map(|h| h.trim().to_string())
                    .unwrap_or_default();
                if here.is_empty() || !here.eq_ignore_ascii_case(hostname.trim()) {
                    return Some(format!(
                        "the server's host name {hostname} is not this machine's ({here})"
                    ));
                }
                let file = dir.join(file);
                let Ok(pid) = std::fs::read_to_string(&file) else {
                    return Some(format!(
                        "cannot read {} to confirm it is the connected server's",
                        file.display()
                    ));
                };
                let pid = pid.trim();
                if pid.is_empty() || !Path::new("/proc").join(pid).exists() {
                    return Some(format!(
                        "{} belongs to another server than the one connected to",
                        dir.display()
                    ));
                }
                None
            }
        }
    }
}

/// Bytes available from `df -P -k` output (POSIX format: a header, then `filesystem blocks
/// used available capacity mountpoint` in 1024-byte blocks).
pub fn parse_df(out: &str) -> Option<u64> {
    let line = out.lines().nth(1)?;
    let kib: u64 = line.split_whitespace().nth(3)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn df_output_reads_as_bytes() {
        let out = "Filesystem     1024-blocks     Used Available Capacity Mounted on\n/dev/vda        263174212 47185732 202537812      19% /\n";
        assert_eq!(parse_df(out), Some(202_537_812 * 1024));
        assert_eq!(parse_df("Filesystem 1024-blocks Used Available\n"), None);
        assert_eq!(parse_df(""), None);
    }

    #[test]
    fn a_remote_server_or_an_invisible_directory_is_unknown() {
        assert!(matches!(
            local_free_space("/", "10.0.0.5", pg("5432")),
            FreeSpace::Unknown(m) if m.contains("not on this machine")
        ));
        assert!(matches!(
            local_free_space("/no/such/partctl/dir", "", pg("5432")),
            FreeSpace::Unknown(m) if m.contains("not visible")
        ));
    }

    fn pg(port: &str) -> Owner {
        Owner::Postgres {
            port: port.into(),
            started: 1_700_000_000,
        }
    }

    #[test]
    fn a_directory_not_proven_the_servers_is_unknown() {
        let dir = std::env::temp_dir().join(format!("partctl-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        let unknown = |f: FreeSpace, why: &str| {
            assert!(
                matches!(&f, FreeSpace::Unknown(m) if m.contains(why)),
                "{f:?}"
            )
        };
        // No postmaster.pid to read: not proven.
        unknown(local_free_space(d, "", pg("5432")), "cannot read");
        std::fs::write(dir.join("postmaster.pid"), "123\n/data\n1700000001\n5433\n").unwrap();
        unknown(local_free_space(d, "", pg("5432")), "another server");
        let restarted = Owner::Postgres {
            port: "5433".into(),
            started: 1_700_009_000,
        };
        unknown(local_free_space(d, "", restarted), "another server");
        assert!(matches!(
            local_free_space(d, "", pg("5433")),
            FreeSpace::Known { .. }
        ));
        let here = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
        let maria = |file: &str, host: &str| Owner::PidFile {
            file: file.into(),
            hostname: host.into(),
        };
        std::fs::write(dir.join("my.pid"), format!("{}\n", std::process::id())).unwrap();
        // Through an SSH tunnel: another machine's host name.
        unknown(
            local_free_space(d, "127.0.0.1", maria("my.pid", "db-elsewhere")),
            "not this machine's",
        );
        unknown(
            local_free_space(d, "127.0.0.1", maria("none.pid", here.trim())),
            "cannot read",
        );
        std::fs::write(dir.join("gone.pid"), "999999999\n").unwrap();
        unknown(
            local_free_space(d, "127.0.0.1", maria("gone.pid", here.trim())),
            "another server",
        );
        let absolute = dir.join("my.pid").display().to_string();
        assert!(matches!(
            local_free_space(d, "localhost", maria(&absolute, here.trim())),
            FreeSpace::Known { .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
