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
    if !owner.matches(path) {
        return FreeSpace::Unknown(format!(
            "{dir} on this machine belongs to another server than the one connected to"
        ));
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

/// How a data directory seen here is known to be the connected server's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// PostgreSQL: `postmaster.pid`'s fourth line, when readable, is the server's port.
    PostgresPort(String),
    /// MySQL/MariaDB: the server's pid file (`@@pid_file`, relative to the data directory
    /// when not absolute), when readable, names a process running here.
    PidFile(String),
}

impl Owner {
    fn matches(&self, dir: &Path) -> bool {
        match self {
            Owner::PostgresPort(port) => std::fs::read_to_string(dir.join("postmaster.pid"))
                .map_or(true, |pid| {
                    pid.lines().nth(3).is_none_or(|p| p.trim() == port.trim())
                }),
            Owner::PidFile(file) => std::fs::read_to_string(dir.join(file)).map_or(true, |pid| {
                let pid = pid.trim();
                // Another machine's (or container's) server: its pid is no process here.
                !Path::new("/proc/self").exists()
                    || (!pid.is_empty() && Path::new("/proc").join(pid).exists())
            }),
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
        assert!(matches!(
            local_free_space("/", "127.0.0.1", pg("5432")),
            FreeSpace::Known { bytes, .. } if bytes > 0
        ));
    }

    fn pg(port: &str) -> Owner {
        Owner::PostgresPort(port.into())
    }

    #[test]
    fn a_directory_owned_by_another_server_is_unknown() {
        let dir = std::env::temp_dir().join(format!("partctl-disk-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.to_str().unwrap();
        std::fs::write(dir.join("postmaster.pid"), "123\n/data\n1700000000\n5433\n").unwrap();
        assert!(matches!(local_free_space(d, "", pg("5432")),
            FreeSpace::Unknown(m) if m.contains("another server")));
        assert!(matches!(
            local_free_space(d, "", pg("5433")),
            FreeSpace::Known { .. }
        ));
        // A pid file naming no process here; then this process.
        std::fs::write(dir.join("my.pid"), "999999999\n").unwrap();
        assert!(
            matches!(local_free_space(d, "localhost", Owner::PidFile("my.pid".into())),
            FreeSpace::Unknown(m) if m.contains("another server"))
        );
        std::fs::write(dir.join("my.pid"), format!("{}\n", std::process::id())).unwrap();
        assert!(matches!(
            local_free_space(
                d,
                "localhost",
                Owner::PidFile(dir.join("my.pid").display().to_string())
            ),
            FreeSpace::Known { .. }
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
