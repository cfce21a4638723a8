//! `partctl man`: one man page (roff) from the same clap command as `--help`: the name,
//! synopsis, description and global options as clap_mangen renders them, then a section per
//! command with its own options, the exit statuses, the environment and where to read more.

use clap_mangen::Man;
use roff::{bold, italic, roman, Roff};
use std::io::{self, Write};

/// Write the page.
pub fn render(cmd: clap::Command, w: &mut dyn Write) -> io::Result<()> {
    let man = Man::new(cmd.clone());
    // Each piece is rendered on its own: keep roff's prelude (the `Aq` string) once, and write
    // the title with an empty date (roff would drop an empty argument, shifting the others).
    let mut page = Vec::new();
    man.render_name_section(&mut page)?;
    let mut r = Roff::new();
    r.control("SH", ["SYNOPSIS"]);
    r.text([
        bold("partctl"),
        roman(" ["),
        italic("GLOBAL OPTIONS"),
        roman("] "),
        italic("COMMAND"),
        roman(" ["),
        italic("OPTIONS"),
        roman("]"),
    ]);
    r.control("SH", ["DESCRIPTION"]);
    paragraphs(&mut r, DESCRIPTION);
    r.to_writer(&mut page)?;
    // Only the global options live at the top; each command's own follow with the command.
    man.render_options_section(&mut page)?;

    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        command(&mut r, sub);
    }
    r.control("SH", ["EXIT STATUS"]);
    if let Some(text) = cmd.get_after_long_help().or_else(|| cmd.get_after_help()) {
        paragraphs(&mut r, &text.to_string());
    }
    r.control("SH", ["ENVIRONMENT"]);
    r.control("TP", []);
    r.text([bold("DATABASE_URL")]);
    r.text([roman(
        "The database when neither --database-url nor --targets is given.",
    )]);
    r.control("SH", ["FILES"]);
    r.control("TP", []);
    r.text([italic("policies/")]);
    r.text([roman(
        "The policy files read by default: every *.toml in the directory, by name. `partctl schema` prints their JSON Schema, for editors.",
    )]);
    r.control("SH", ["SEE ALSO"]);
    r.text([roman(
        "The README of partctl, which describes every command, the policy keys and the plan in full.",
    )]);
    r.to_writer(&mut page)?;
    let page = String::from_utf8_lossy(&page);
    let prelude = [".ie \\n(.g .ds Aq \\(aq", ".el .ds Aq '"];
    let mut out = prelude.join("\n");
    out.push_str(&format!(
        "\n.TH PARTCTL 1 \"\" \"partctl {}\" \"partctl manual\"\n",
        env!("CARGO_PKG_VERSION")
    ));
    for line in page.lines().filter(|l| !prelude.contains(l)) {
        out.push_str(line);
        out.push('\n');
    }
    w.write_all(out.as_bytes())
}

/// What partctl is, for the page's DESCRIPTION.
const DESCRIPTION: &str = "partctl runs the whole lifecycle of partitioned tables on PostgreSQL and MySQL/MariaDB: it creates future partitions ahead of time, retires expired ones (detach, drop or archive), and moves rows that landed in a catch-all partition into the partitions made for them, without losing a row.

Each table is described once in a TOML policy. `partctl plan` compares the policies with the live catalog and shows every step it would take, with its SQL and the lock it holds; `partctl apply` carries the steps out, one transaction per step, under a lock timeout, with retries and row counts checked. `partctl run` does the same from cron for the tables that are due, and `partctl check` reports to monitoring.";

/// `.SS partctl NAME`, what it does, and its own options.
fn command(r: &mut Roff, sub: &clap::Command) {
    let mut usage = format!("partctl {}", sub.get_name());
    for a in sub.get_arguments().filter(|a| a.is_positional()) {
        usage.push_str(&format!(" <{}>", value_name(a)));
    }
    r.control("SS", [usage.as_str()]);
    if let Some(about) = sub.get_long_about().or_else(|| sub.get_about()) {
        paragraphs(r, &about.to_string());
    }
    for a in sub.get_arguments().filter(|a| !a.is_hide_set()) {
        r.control("TP", []);
        let mut head = Vec::new();
        if a.is_positional() {
            head.push(italic(format!("<{}>", value_name(a))));
        } else {
            if let Some(s) = a.get_short() {
                head.push(bold(format!("-{s}")));
                head.push(roman(", "));
            }
            if let Some(l) = a.get_long() {
                head.push(bold(format!("--{l}")));
            }
            if a.get_action().takes_values() {
                head.push(roman(" "));
                head.push(italic(format!("<{}>", value_name(a))));
            }
        }
        r.text(head);
        let mut body = a
            .get_long_help()
            .or_else(|| a.get_help())
            .map(|h| h.to_string())
            .unwrap_or_default();
        let values: Vec<String> = a
            .get_possible_values()
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| v.get_name().to_string())
            .collect();
        if !values.is_empty() && a.get_action().takes_values() {
            if !body.is_empty() && !body.ends_with('.') {
                body.push('.');
            }
            body.push_str(&format!(" One of: {}.", values.join(", ")));
        }
        r.text([roman(body.trim())]);
    }
}

/// A value's name as help shows it (`FILE`), else its id in capitals.
fn value_name(a: &clap::Arg) -> String {
    a.get_value_names()
        .and_then(|v| v.first())
        .map(|v| v.to_string())
        .unwrap_or_else(|| a.get_id().as_str().to_uppercase())
}

/// Text with blank lines between paragraphs.
fn paragraphs(r: &mut Roff, text: &str) {
    for (i, p) in text.split("\n\n").enumerate() {
        if i > 0 {
            r.control("PP", []);
        }
        r.text([roman(p.replace('\n', " "))]);
    }
}
