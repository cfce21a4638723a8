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
        "schema",
        "init",
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

// ---------------------------------------------------------------------------
// The policy schema
// ---------------------------------------------------------------------------

/// `partctl schema`, checked against the draft-07 meta-schema, as a validator.
fn policy_validator() -> jsonschema::Validator {
    let r = run(&["schema"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let schema: serde_json::Value = serde_json::from_str(&r.stdout).expect("schema is JSON");
    if let Err(e) = jsonschema::draft7::meta::validate(&schema) {
        panic!("partctl schema is not a draft-07 JSON Schema: {e}");
    }
    jsonschema::draft7::new(&schema).expect("a usable schema")
}

/// A TOML document as editors hand it to a JSON Schema: dates and times as strings.
fn toml_to_json(v: &toml::Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        toml::Value::String(s) => J::String(s.clone()),
        toml::Value::Integer(i) => J::from(*i),
        toml::Value::Float(f) => J::from(*f),
        toml::Value::Boolean(b) => J::Bool(*b),
        toml::Value::Datetime(d) => J::String(d.to_string()),
        toml::Value::Array(a) => J::Array(a.iter().map(toml_to_json).collect()),
        toml::Value::Table(t) => J::Object(
            t.iter()
                .map(|(k, v)| (k.clone(), toml_to_json(v)))
                .collect(),
        ),
    }
}

/// The schema's verdict on a policy file's text: Ok, or the errors. Panics on bad TOML.
fn schema_says(v: &jsonschema::Validator, text: &str) -> Result<(), Vec<String>> {
    let doc: toml::Value = toml::from_str(text).expect("TOML");
    let json = toml_to_json(&doc);
    let errors: Vec<String> = v.iter_errors(&json).map(|e| e.to_string()).collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// Every `*.toml` under `dir`, recursively.
fn toml_files(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            toml_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "toml") {
            out.push(p);
        }
    }
}

#[test]
fn every_shipped_policy_is_valid_by_the_schema() {
    let v = policy_validator();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    toml_files(&root.join("policies"), &mut files);
    toml_files(&root.join("examples"), &mut files);
    files.sort();
    let mut checked = 0;
    for f in &files {
        let text = std::fs::read_to_string(f).expect("read");
        // examples/ may hold TOML that is not a policy (a targets file).
        let doc: toml::Value = toml::from_str(&text).expect("TOML");
        if doc.get("table").is_none() && doc.get("defaults").is_none() {
            continue;
        }
        partctl::policy::parse_sources(&[(f.clone(), text.clone())])
            .unwrap_or_else(|e| panic!("{} is not a valid policy: {e}", f.display()));
        if let Err(errors) = schema_says(&v, &text) {
            panic!("{} fails the schema:\n{}", f.display(), errors.join("\n"));
        }
        checked += 1;
    }
    assert!(checked >= 1, "no policy found in policies/ and examples/");
}

/// The policies the integration tests write, pulled out of their source: string literals
/// (raw or escaped) holding a `[[table]]`; `format!` placeholders become a name or nothing.
fn fixture_policies() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut files = Vec::new();
    for e in std::fs::read_dir(&root).expect("tests/").flatten() {
        if e.path().extension().is_some_and(|x| x == "rs") {
            files.push(e.path());
        }
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let src = std::fs::read_to_string(&f).expect("read");
        for (i, lit) in string_literals(&src).into_iter().enumerate() {
            if !lit.contains("[[table]]") || lit.contains("fixture_policies") {
                continue;
            }
            let name = format!("{}#{i}", f.file_name().unwrap().to_string_lossy());
            out.push((name, fill_placeholders(&lit)));
        }
    }
    out
}

/// The string literals of Rust source, unescaped: `"..."` (with `\n`, `\"`, `\\` and line
/// continuations) and `r#"..."#`.
fn string_literals(src: &str) -> Vec<String> {
    let b = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        // Skip comments (a `[[table]]` in a doc comment is no fixture).
        if b[i] == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        if b[i] == b'\'' {
            // A char literal such as '"' must not open a string; lifetimes have no closing quote.
            if b.get(i + 2) == Some(&b'\'') {
                i += 3;
                continue;
            }
            if b.get(i + 1) == Some(&b'\\') && b.get(i + 3) == Some(&b'\'') {
                i += 4;
                continue;
            }
        }
        if b[i] == b'r' && (b.get(i + 1) == Some(&b'#') || b.get(i + 1) == Some(&b'"')) {
            let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
            if b.get(i + 1 + hashes) == Some(&b'"') {
                let start = i + 2 + hashes;
                let end_marker = format!("\"{}", "#".repeat(hashes));
                if let Some(len) = src[start..].find(&end_marker) {
                    out.push(src[start..start + len].to_string());
                    i = start + len + end_marker.len();
                    continue;
                }
            }
        }
        if b[i] == b'"' {
            let mut s = String::new();
            let mut j = i + 1;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    match b.get(j + 1) {
                        Some(b'n') => s.push('\n'),
                        Some(b't') => s.push('\t'),
                        Some(b'\n') => {
                            j += 2;
                            while j < b.len() && (b[j] == b' ' || b[j] == b'\n') {
                                j += 1;
                            }
                            continue;
                        }
                        Some(&c) => s.push(c as char),
                        None => {}
                    }
                    j += 2;
                } else {
                    let ch = src[j..].chars().next().unwrap();
                    s.push(ch);
                    j += ch.len_utf8();
                }
            }
            out.push(s);
            i = j + 1;
            continue;
        }
        i += 1;
    }
    out
}

/// A `format!` string as it comes out: `{{`/`}}` halved; a placeholder alone on its line (a
/// TOML fragment) dropped, any other one a plain word.
fn fill_placeholders(text: &str) -> String {
    let is_format = text.contains("{}")
        || text.split('{').skip(1).any(|s| {
            s.split('}').next().is_some_and(|p| {
                !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            })
        });
    if !is_format {
        return text.to_string();
    }
    let mut out = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('{') && t.ends_with('}') && !t.starts_with("{{") {
            out.push('\n');
            continue;
        }
        let mut l = String::new();
        let mut chars = line.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '{' if chars.peek() == Some(&'{') => {
                    chars.next();
                    l.push('{');
                }
                '}' if chars.peek() == Some(&'}') => {
                    chars.next();
                    l.push('}');
                }
                '{' => {
                    for c in chars.by_ref() {
                        if c == '}' {
                            break;
                        }
                    }
                    l.push_str("fixture");
                }
                c => l.push(c),
            }
        }
        out.push_str(&l);
        out.push('\n');
    }
    out
}

#[test]
fn the_schema_agrees_with_the_parser_on_the_tests_policies() {
    let v = policy_validator();
    let fixtures = fixture_policies();
    let (mut accepted, mut unknown_keys) = (0, 0);
    for (name, text) in &fixtures {
        if toml::from_str::<toml::Value>(text).is_err() {
            continue; // deliberately broken TOML, or a fragment.
        }
        let parsed = partctl::policy::parse_sources(&[(PathBuf::from(name), text.clone())]);
        let schema = schema_says(&v, text);
        match parsed {
            Ok(_) => {
                accepted += 1;
                if let Err(errors) = schema {
                    panic!("{name}: the parser accepts it, the schema does not:\n{}\n--- policy ---\n{text}", errors.join("\n"));
                }
            }
            Err(e) if e.to_string().contains("unknown field") => {
                unknown_keys += 1;
                assert!(
                    schema.is_err(),
                    "{name}: an unknown key ({e}) the schema lets through:\n{text}"
                );
            }
            // Refused for what a value means (a bad interval, a cron typo): the schema checks
            // keys, types and bounds only.
            Err(_) => {}
        }
    }
    eprintln!(
        "{} fixture policies: {accepted} accepted, {unknown_keys} with an unknown key",
        fixtures.len()
    );
    // The extraction keeps finding the fixtures.
    assert!(
        accepted >= 60,
        "only {accepted} fixture policies found among {}",
        fixtures.len()
    );
    assert!(
        unknown_keys >= 1,
        "the tests' typo'd policy (premak) was not found"
    );
}

#[test]
fn the_schema_refuses_typos_and_keys_of_another_strategy() {
    let v = policy_validator();
    let ok = "[[table]]\nname = \"public.events\"\npartition_by = \"range\"\ncolumn = \"created_at\"\ninterval = \"1 day\"\npremake = 2\n";
    schema_says(&v, ok).expect("a plain range policy");
    for (bad, why) in [
        (ok.replace("premake", "premak"), "a typo'd key"),
        (
            format!("{ok}[defaults]\nlock_timout = \"2s\"\n"),
            "a typo in [defaults]",
        ),
        (
            format!(
                "{ok}subpartition = {{ partition_by = \"hash\", column = \"t\", modulos = 2 }}\n"
            ),
            "a typo in subpartition",
        ),
        (
            format!("{ok}\n[[table.verify]]\nsql = \"SELECT 1\"\nmax_partition = 1\n"),
            "a typo in [[table.verify]]",
        ),
        (
            ok.replace("interval = \"1 day\"", "modulus = 4"),
            "a range table without interval",
        ),
        (format!("{ok}modulus = 4\n"), "modulus on a range table"),
        (
            ok.replace("partition_by = \"range\"", "partition_by = \"hash\"")
                .replace("interval = \"1 day\"\n", "modulus = 4\n"),
            "premake on a hash table",
        ),
        (ok.replace("premake = 2", "premake = -1"), "premake below 0"),
        (
            format!("{ok}on_expire = \"archive\"\n"),
            "archive without archive_schema",
        ),
        (
            ok.replace("partition_by = \"range\"", "partition_by = \"ranges\""),
            "an unknown strategy",
        ),
    ] {
        assert!(
            schema_says(&v, &bad).is_err(),
            "the schema lets {why} through:\n{bad}"
        );
        assert!(
            partctl::policy::parse_sources(&[(PathBuf::from("p.toml"), bad.clone())]).is_err(),
            "the parser accepts {why}, so the schema must not refuse it:\n{bad}"
        );
    }
}
