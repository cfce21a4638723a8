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

/// The free space of `dir`, the data directory of a server reached at `addr` listening on
/// `port`; `Unknown` when the server is elsewhere, the directory is not visible here, or its
/// `postmaster.pid` (when readable) names another port.
pub fn local_free_space(dir: &str, addr: &str, port: &str) -> FreeSpace {
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
    if let Ok(pid) = std::fs::read_to_string(path.join("postmaster.pid")) {
        if pid.lines().nth(3).is_some_and(|p| p.trim() != port.trim()) {
            return FreeSpace::Unknown(format!(
                "{dir} on this machine belongs to another server than the one connected to"
            ));
        }
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
            local_free_space("/", "10.0.0.5", "5432"),
            FreeSpace::Unknown(m) if m.contains("not on this machine")
        ));
        assert!(matches!(
            local_free_space("/no/such/partctl/dir", "", "5432"),
            FreeSpace::Unknown(m) if m.contains("not visible")
        ));
        assert!(matches!(
            local_free_space("/", "127.0.0.1", "5432"),
            FreeSpace::Known { bytes, .. } if bytes > 0
        ));
    }
}
