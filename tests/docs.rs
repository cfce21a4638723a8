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

// ---------------------------------------------------------------------------
// examples/: every file is parsed, and every partctl command in it exists
// ---------------------------------------------------------------------------

fn examples() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/examples"))
}

fn read_example(path: &str) -> String {
    std::fs::read_to_string(examples().join(path))
        .unwrap_or_else(|e| panic!("examples/{path}: {e}"))
}

/// The options a help text lists: `--policies` -> takes a value.
fn help_options(help: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    for line in help
        .lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with('-'))
    {
        let words: Vec<&str> = line.split_whitespace().collect();
        let value = words.iter().any(|w| w.starts_with('<'));
        for w in words.iter().take_while(|w| w.starts_with('-')) {
            out.push((w.trim_end_matches(',').to_string(), value));
        }
    }
    out
}

/// The subcommands `partctl --help` lists.
fn help_commands() -> Vec<String> {
    let top = run(&["--help"], &[]);
    top.stdout
        .split("Commands:")
        .nth(1)
        .expect("a Commands section")
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Check one partctl command line (the words after `partctl`): the command is one `partctl
/// --help` lists, and every option is one that `partctl COMMAND --help` lists (its own, and
/// the global ones it uses).
fn check_invocation(words: &[String], commands: &[String], what: &str) -> String {
    let top = help_options(&run(&["--help"], &[]).stdout);
    let mut i = 0;
    let mut before = Vec::new();
    while i < words.len() && words[i].starts_with('-') {
        let (flag, _) = words[i].split_once('=').unwrap_or((&words[i], ""));
        let takes = top
            .iter()
            .find(|(f, _)| f == flag)
            .unwrap_or_else(|| panic!("{what}: `{flag}` is not a partctl option: {words:?}"))
            .1;
        before.push(flag.to_string());
        i += if takes && !words[i].contains('=') {
            2
        } else {
            1
        };
    }
    let command = words
        .get(i)
        .unwrap_or_else(|| panic!("{what}: no command in {words:?}"));
    assert!(
        commands.contains(command),
        "{what}: `{command}` is not a partctl command: {words:?}"
    );
    let own = help_options(&run(&[command, "--help"], &[]).stdout);
    let known = |flag: &str| own.iter().find(|(f, _)| f == flag).map(|(_, v)| *v);
    for flag in &before {
        assert!(
            known(flag).is_some(),
            "{what}: `{flag}` is not listed by `partctl {command} --help`: {words:?}"
        );
    }
    let mut j = i + 1;
    while j < words.len() {
        let w = &words[j];
        if w.starts_with('-') {
            let (flag, _) = w.split_once('=').unwrap_or((w, ""));
            let takes = known(flag).unwrap_or_else(|| {
                panic!("{what}: `{flag}` is not listed by `partctl {command} --help`: {words:?}")
            });
            j += if takes && !w.contains('=') { 2 } else { 1 };
        } else {
            j += 1;
        }
    }
    command.clone()
}

/// The partctl commands in shell text: `partctl` (or `.../partctl`) as a command's first word,
/// its words up to a redirection or the next command. Comment lines are skipped.
fn shell_invocations(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with('#') {
            continue;
        }
        let t = t.strip_prefix("ExecStart=").unwrap_or(t);
        let words: Vec<String> = t
            .split_whitespace()
            .map(|w| w.trim_matches('"').to_string())
            .collect();
        let mut start = true;
        let mut k = 0;
        // A crontab schedule: five fields before the command.
        if words.len() > 5
            && words[0]
                .chars()
                .next()
                .is_some_and(|c| c == '*' || c.is_ascii_digit())
            && !words[0].contains('=')
        {
            k = 5;
        }
        while k < words.len() {
            let w = &words[k];
            if start && (w == "partctl" || w.ends_with("/partctl")) {
                let rest: Vec<String> = words[k + 1..]
                    .iter()
                    .take_while(|w| {
                        !w.contains('>') && !["|", "||", "&&", ";"].contains(&w.as_str())
                    })
                    .cloned()
                    .collect();
                if !rest.is_empty() {
                    out.push(rest);
                }
            }
            start = ["|", "||", "&&", ";", "-", "then", "do"].contains(&w.as_str());
            k += 1;
        }
    }
    out
}

fn yaml(path: &str) -> Vec<yaml_rust2::Yaml> {
    yaml_rust2::YamlLoader::load_from_str(&read_example(path))
        .unwrap_or_else(|e| panic!("examples/{path} is not YAML: {e}"))
}

/// Every string in a YAML document under the given keys (`run`, `script`, ...), recursively.
fn yaml_strings(y: &yaml_rust2::Yaml, keys: &[&str], out: &mut Vec<String>) {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Hash(h) => {
            for (k, v) in h {
                let key = k.as_str().unwrap_or_default();
                if keys.contains(&key) {
                    match v {
                        Yaml::String(s) => out.push(s.clone()),
                        Yaml::Array(a) => {
                            out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_string)))
                        }
                        _ => {}
                    }
                }
                yaml_strings(v, keys, out);
            }
        }
        Yaml::Array(a) => a.iter().for_each(|x| yaml_strings(x, keys, out)),
        _ => {}
    }
}

#[test]
fn crontab_and_systemd_examples_use_real_commands() {
    let commands = help_commands();
    let cron = shell_invocations(&read_example("crontab"));
    let used: Vec<String> = cron
        .iter()
        .map(|w| check_invocation(w, &commands, "crontab"))
        .collect();
    assert_eq!(used, vec!["run", "check"], "{cron:?}");

    let mut units = Vec::new();
    for path in [
        "systemd/partctl.service",
        "systemd/partctl.timer",
        "prometheus/partctl-check.service",
        "prometheus/partctl-check.timer",
    ] {
        let text = read_example(path);
        for inv in shell_invocations(&text) {
            check_invocation(&inv, &commands, path);
        }
        units.push((path, text));
    }
    let service = &units[0].1;
    assert!(
        service.contains("Type=oneshot") && service.contains("ExecStart="),
        "{service}"
    );
    assert!(units[1].1.contains("OnCalendar="), "{}", units[1].1);
    // systemd checks the units itself when it is here (the binary path pointed at this build).
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
    else {
        // Parsed above: sections, ExecStart, OnCalendar.
        for (path, text) in &units {
            assert!(text.contains("[Unit]"), "{path}");
        }
        return;
    };
    let dir = common::temp_dir("systemd");
    let mut args = vec!["verify".to_string()];
    for (path, text) in &units {
        let name = PathBuf::from(path).file_name().unwrap().to_owned();
        let text = text
            .replace("/usr/local/bin/partctl", env!("CARGO_BIN_EXE_partctl"))
            .replace(
                "EnvironmentFile=/etc/partctl/env",
                "EnvironmentFile=-/etc/partctl/env",
            );
        std::fs::write(dir.join(&name), text).unwrap();
        args.push(dir.join(&name).display().to_string());
    }
    let out = Command::new(analyze)
        .args(&args)
        .output()
        .expect("systemd-analyze");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "systemd-analyze verify: {err}");
    assert!(!err.contains("Unknown"), "systemd-analyze verify: {err}");
}

#[test]
fn kubernetes_example_runs_and_checks_as_separate_cronjobs() {
    let commands = help_commands();
    let docs = yaml("kubernetes/cronjob.yaml");
    assert_eq!(docs.len(), 2, "a run CronJob and a check CronJob");
    let mut used = Vec::new();
    for d in &docs {
        assert_eq!(d["kind"].as_str(), Some("CronJob"));
        assert_eq!(d["spec"]["concurrencyPolicy"].as_str(), Some("Forbid"));
        let c = &d["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"][0];
        let env = c["env"].as_vec().expect("env");
        assert!(
            env.iter()
                .any(|e| e["name"].as_str() == Some("DATABASE_URL")
                    && e["valueFrom"]["secretKeyRef"]["name"].as_str().is_some()),
            "DATABASE_URL from a Secret"
        );
        let args: Vec<String> = c["args"]
            .as_vec()
            .expect("args")
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        used.push(check_invocation(&args, &commands, "kubernetes"));
    }
    assert_eq!(used, vec!["run", "check"]);
}

#[test]
fn ci_examples_plan_on_changes_and_keep_the_snapshot() {
    let commands = help_commands();
    let gh = &yaml("github-actions/partctl-plan.yml")[0];
    assert!(
        !gh["on"]["pull_request"].is_badvalue(),
        "runs on pull requests"
    );
    let steps = gh["jobs"]["plan"]["steps"].as_vec().expect("steps");
    let mut runs = Vec::new();
    yaml_strings(&gh["jobs"], &["run"], &mut runs);
    let used: Vec<String> = runs
        .iter()
        .flat_map(|r| shell_invocations(r))
        .map(|w| check_invocation(&w, &commands, "github-actions"))
        .collect();
    assert_eq!(used, vec!["validate", "snapshot", "plan"]);
    assert!(runs
        .iter()
        .any(|r| r.contains("snapshot --out catalog.json")));
    assert!(runs
        .iter()
        .any(|r| r.contains("--format markdown plan --catalog catalog.json")));
    let uses = |s: &yaml_rust2::Yaml| s["uses"].as_str().unwrap_or_default().to_string();
    let artifact = steps
        .iter()
        .find(|s| uses(s).starts_with("actions/upload-artifact"))
        .expect("the snapshot is an artifact");
    assert_eq!(artifact["with"]["path"].as_str(), Some("catalog.json"));
    let script = steps
        .iter()
        .find(|s| uses(s).starts_with("actions/github-script"))
        .and_then(|s| s["with"]["script"].as_str())
        .expect("a github-script step posts the plan");
    // One comment, found by its marker and updated, created only when missing.
    for s in [
        "<!-- partctl-plan -->",
        "listComments",
        "updateComment",
        "createComment",
        "plan.md",
    ] {
        assert!(script.contains(s), "the comment script lacks {s}");
    }

    let gl = &yaml("gitlab-ci/gitlab-ci.yml")[0];
    let mut scripts = Vec::new();
    yaml_strings(gl, &["script"], &mut scripts);
    let used: Vec<String> = scripts
        .iter()
        .flat_map(|r| shell_invocations(r))
        .map(|w| check_invocation(&w, &commands, "gitlab-ci"))
        .collect();
    assert_eq!(used, vec!["validate", "snapshot", "plan", "plan", "apply"]);
    let paths: Vec<&str> = gl["partctl-plan"]["artifacts"]["paths"]
        .as_vec()
        .expect("artifacts")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert!(
        paths.contains(&"plan.md") && paths.contains(&"catalog.json"),
        "{paths:?}"
    );
}

#[test]
fn prometheus_alerts_use_metrics_partctl_writes() {
    let rules = &yaml("prometheus/alerts.yml")[0]["groups"][0]["rules"];
    let exprs: Vec<&str> = rules
        .as_vec()
        .expect("rules")
        .iter()
        .map(|r| r["expr"].as_str().expect("expr"))
        .collect();
    assert!(exprs.contains(&"partctl_check_status == 2"), "{exprs:?}");
    assert!(
        exprs.contains(&"partctl_future_partitions < partctl_premake"),
        "{exprs:?}"
    );
    let writer = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/check/prometheus.rs"
    ))
    .unwrap();
    for e in &exprs {
        for metric in e
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|w| w.starts_with("partctl_"))
        {
            // The name as a whole word of the writer's source.
            let word = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
            let written = writer.match_indices(metric).any(|(i, _)| {
                !word(writer[i + metric.len()..].chars().next())
                    && !word(writer[..i].chars().last())
            });
            assert!(written, "{metric} is not a metric partctl writes");
        }
    }
}
