//! What partctl says about itself: shell completions, the man page and the help.

mod common;

use common::run;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A tool the test needs, or a failure that names the command installing it.
fn tool(name: &str, package: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/bin".into(), "/bin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed; install it with: apt-get install -y {package}")
        })
}

/// Run `program args` with `input` on stdin: (exit code, stdout, stderr).
fn pipe(
    program: &PathBuf,
    args: &[&str],
    env: &[(&str, &str)],
    input: &[u8],
) -> (i32, String, String) {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// What bash's completion function offers for the words of `line` (the last one being
/// completed), with the script `partctl completions bash` prints sourced.
fn bash_completes(script: &str, words: &[&str]) -> Vec<String> {
    let bash = tool("bash", "bash");
    let words_q: Vec<String> = words.iter().map(|w| format!("'{w}'")).collect();
    let line = words.join(" ");
    let driver = format!(
        r#"set -e
source /dev/stdin
spec=$(complete -p partctl)
fn=$(printf '%s\n' "$spec" | sed -n 's/.* -F \([^ ]*\) .*/\1/p')
test -n "$fn" || {{ echo "no completion function in: $spec" >&2; exit 9; }}
COMP_WORDS=({words})
COMP_CWORD={cword}
COMP_LINE='{line}'
COMP_POINT=${{#COMP_LINE}}
COMP_TYPE=9
"$fn" partctl '{cur}' '{prev}'
printf '%s\n' "${{COMPREPLY[@]}}"
"#,
        words = words_q.join(" "),
        cword = words.len() - 1,
        cur = words[words.len() - 1],
        prev = words[words.len().saturating_sub(2)],
    );
    let (code, out, err) = pipe(
        &bash,
        &["--norc", "--noprofile", "-c", &driver],
        &[],
        script.as_bytes(),
    );
    assert_eq!(code, 0, "bash completion driver failed: {err}");
    out.lines().map(str::to_string).collect()
}

#[test]
fn bash_completion_offers_subcommands_and_options() {
    let r = run(&["completions", "bash"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let all = bash_completes(&r.stdout, &["partctl", ""]);
    for c in [
        "validate",
        "plan",
        "apply",
        "check",
        "run",
        "completions",
        "man",
    ] {
        assert!(
            all.contains(&c.to_string()),
            "`partctl <TAB>` lacks {c}: {all:?}"
        );
    }
    assert_eq!(bash_completes(&r.stdout, &["partctl", "ap"]), vec!["apply"]);
    // A command's own options, and the global ones after it.
    let plan = bash_completes(&r.stdout, &["partctl", "plan", "--"]);
    for o in ["--out", "--catalog", "--database-url", "--now"] {
        assert!(
            plan.contains(&o.to_string()),
            "`partctl plan --<TAB>` lacks {o}: {plan:?}"
        );
    }
    // The values of an enumerated option.
    let shells = bash_completes(&r.stdout, &["partctl", "completions", ""]);
    for s in ["bash", "zsh", "fish", "powershell", "elvish"] {
        assert!(shells.contains(&s.to_string()), "{shells:?}");
    }
}

#[test]
fn every_shell_gets_a_script() {
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef partctl"),
        ("fish", "complete -c partctl"),
        ("powershell", "Register-ArgumentCompleter"),
        ("elvish", "edit:completion:arg-completer[partctl]"),
    ] {
        let r = run(&["completions", shell], &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "{shell} script lacks {marker:?}");
        assert!(
            r.stdout.contains("apply"),
            "{shell} script lacks the subcommands"
        );
    }
    let r = run(&["completions", "tcsh"], &[]);
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("possible values"), "{}", r.stderr);
}

#[test]
fn man_page_renders_without_warnings() {
    let r = run(&["man"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("\n.TH PARTCTL 1 "),
        "{}",
        &r.stdout[..80.min(r.stdout.len())]
    );
    // groff with every warning on: nothing to say.
    let groff = tool("groff", "groff-base");
    let (code, _, err) = pipe(
        &groff,
        &["-man", "-Tutf8", "-ww", "-z"],
        &[],
        r.stdout.as_bytes(),
    );
    assert_eq!(code, 0, "groff: {err}");
    assert_eq!(err, "", "groff warns about the man page");
    // man renders it as a reader sees it.
    let man = tool("man", "man-db");
    let (code, page, err) = pipe(
        &man,
        &["--warnings", "-l", "-"],
        &[
            ("MANWIDTH", "100"),
            ("MANPAGER", "cat"),
            ("PAGER", "cat"),
            ("LC_ALL", "C.UTF-8"),
        ],
        r.stdout.as_bytes(),
    );
    assert_eq!(code, 0, "man -l -: {err}");
    assert_eq!(err, "", "man warns about the page");
    for s in [
        "SYNOPSIS",
        "GLOBAL OPTIONS",
        "--database-url",
        "partctl plan",
        "--catalog",
        "partctl completions <SHELL>",
        "EXIT STATUS",
        "DATABASE_URL",
    ] {
        assert!(page.contains(s), "the rendered page lacks {s:?}:\n{page}");
    }
}

#[test]
fn help_separates_global_options_and_describes_every_option() {
    let top = run(&["--help"], &[]);
    assert_eq!(top.code, 0);
    assert!(top.stdout.contains("Global options:"), "{}", top.stdout);
    // validate reads no database: its help does not offer one, nor --table, --format, --jobs.
    let validate = run(&["validate", "--help"], &[]);
    for absent in [
        "--database-url",
        "--table",
        "--targets",
        "--jobs",
        "--format",
        "--quiet",
    ] {
        assert!(
            !validate.stdout.contains(absent),
            "validate --help lists {absent}:\n{}",
            validate.stdout
        );
    }
    assert!(
        validate.stdout.contains("--policies"),
        "{}",
        validate.stdout
    );
    // ... yet they are still accepted there, as before.
    let policies = concat!(env!("CARGO_MANIFEST_DIR"), "/policies");
    let r = run(
        &[
            "validate",
            "-p",
            policies,
            "-d",
            "postgres://x@h/db",
            "-f",
            "json",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    // Every option of every command says what it does.
    for c in [
        "validate",
        "plan",
        "apply",
        "verify",
        "show",
        "snapshot",
        "check",
        "run",
        "completions",
        "man",
    ] {
        let h = run(&[c, "--help"], &[]);
        assert_eq!(h.code, 0, "{c} --help");
        for line in h.stdout.lines().filter(|l| l.trim_start().starts_with('-')) {
            let words: Vec<&str> = line.split_whitespace().collect();
            // `--out <FILE>  Write ...`: more than the flag and its value.
            let described = words
                .iter()
                .skip_while(|w| w.starts_with('-') || w.starts_with('<') || w.ends_with(','))
                .count();
            assert!(
                described > 0,
                "{c} --help: an option without a description: {line:?}"
            );
        }
    }
}
