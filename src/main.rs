//! `partctl`: see the README and `partctl --help`. The work is in the library; this binary
//! parses arguments, prints results and maps outcomes to exit statuses.

mod cli;

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(cli::main())
}
