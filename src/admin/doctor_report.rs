//! The doctor's report for people (one line per host, then its problems, each with the next
//! step) and for scripts (`--json`).

use std::fmt::Write;

use super::doctor::{HostReport, Problem, Report};
use super::doctor_zeroconf::ZeroconfReport;

/// The report as text.
pub fn text(report: &Report) -> String {
    let mut out = String::new();
    for host in &report.hosts {
        let _ = writeln!(out, "{}: {}", host.host, summary(host));
        problems(&mut out, &host.problems);
    }
    for flag in &report.native_flags {
        let meaning = match &flag.explicit {
            Some(explicit) => format!("means {} here", explicit.join(" ")),
            None => "gcc cannot say what it means here".into(),
        };
        let _ = writeln!(
            out,
            "{}: {} {meaning}{}",
            flag.origin,
            flag.flag,
            if flag.with_debug_info {
                ""
            } else {
                "; distfarm sends those flags instead, so the jobs distribute"
            }
        );
    }
    if let Some(zeroconf) = &report.zeroconf {
        zeroconf_text(&mut out, zeroconf);
    }
    problems(&mut out, &report.problems);
    match report.problem_count() {
        0 => out.push_str("everything looks right\n"),
        1 => out.push_str("1 problem\n"),
        n => {
            let _ = writeln!(out, "{n} problems");
        }
    }
    out
}

fn zeroconf_text(out: &mut String, zeroconf: &ZeroconfReport) {
    let ours = match &zeroconf.compiler {
        Ok(cc) => format!("this machine's cc is {} for {}", cc.version, cc.machine),
        Err(e) => e.clone(),
    };
    let _ = writeln!(
        out,
        "+zeroconf: {ours}; {} server(s) announced",
        zeroconf.servers.len()
    );
    for server in &zeroconf.servers {
        let _ = writeln!(
            out,
            "  {} {} ({}cc {}): {}",
            server.name,
            server.entry.as_deref().unwrap_or("(no address)"),
            server
                .software
                .as_deref()
                .map(|s| format!("{s}, "))
                .unwrap_or_default(),
            server.compiler,
            match &server.not_used {
                None => "used".to_string(),
                Some(why) => format!("not used: {why}"),
            }
        );
    }
}

fn problems(out: &mut String, problems: &[Problem]) {
    for problem in problems {
        let _ = writeln!(out, "  problem: {}", problem.what);
        let _ = writeln!(out, "     next: {}", problem.next);
    }
}

fn summary(host: &HostReport) -> String {
    let mut parts = Vec::new();
    let yes_no = |value: Option<bool>, yes: &str, no: &str| {
        value.map(|v| if v { yes } else { no }.to_string())
    };
    parts.extend(yes_no(host.reachable, "reachable", "UNREACHABLE"));
    parts.extend(yes_no(host.authenticated, "logged in", "NOT LOGGED IN"));
    parts.extend(yes_no(
        host.host_key_pinned,
        "host key pinned",
        "HOST KEY NOT PINNED",
    ));
    if let Some(server) = &host.server {
        parts.push(server.clone());
    }
    if let Some(why) = &host.compilers_unchecked {
        parts.push(format!("compilers not checked: {why}"));
    } else if !host.compilers.is_empty() {
        let same = host.compilers.iter().filter(|c| c.same).count();
        let differ: Vec<&str> = host
            .compilers
            .iter()
            .filter(|c| !c.same)
            .map(|c| c.name.as_str())
            .collect();
        if differ.is_empty() {
            parts.push(format!("compilers: all {same} the same"));
        } else {
            parts.push(format!(
                "compilers: {same} of {} the same, {} not",
                host.compilers.len(),
                differ.join(", ")
            ));
        }
    }
    parts.join(", ")
}

/// The report as one JSON object.
pub fn json(report: &Report) -> String {
    let mut out = String::from("{\n  \"ok\": ");
    out.push_str(if report.ok() { "true" } else { "false" });
    out.push_str(",\n  \"hosts\": [");
    for (i, host) in report.hosts.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        out.push_str(&host_json(host));
    }
    out.push_str("\n  ],\n  \"native_flags\": [");
    for (i, flag) in report.native_flags.iter().enumerate() {
        out.push_str(if i == 0 { "\n    " } else { ",\n    " });
        let _ = write!(
            out,
            "{{\"origin\": {}, \"flag\": {}, \"explicit\": {}, \"with_debug_info\": {}}}",
            string(&flag.origin),
            string(&flag.flag),
            flag.explicit
                .as_ref()
                .map(|e| strings(e))
                .unwrap_or_else(|| "null".into()),
            flag.with_debug_info
        );
    }
    out.push_str("\n  ],\n  \"zeroconf\": ");
    match &report.zeroconf {
        None => out.push_str("null"),
        Some(zeroconf) => out.push_str(&zeroconf_json(zeroconf)),
    }
    let _ = write!(
        out,
        ",\n  \"problems\": {}\n}}\n",
        problems_json(&report.problems)
    );
    out
}

fn host_json(host: &HostReport) -> String {
    let compilers: Vec<String> = host
        .compilers
        .iter()
        .map(|c| {
            format!(
                "{{\"name\": {}, \"here\": {}, \"there\": {}, \"same\": {}}}",
                string(&c.name),
                identity(&c.here),
                c.there
                    .as_ref()
                    .map(identity)
                    .unwrap_or_else(|| "null".into()),
                c.same
            )
        })
        .collect();
    format!(
        "{{\"host\": {}, \"kind\": {}, \"reachable\": {}, \"authenticated\": {}, \
         \"host_key_pinned\": {}, \"server\": {}, \"compilers\": [{}], \
         \"compilers_unchecked\": {}, \"problems\": {}}}",
        string(&host.host),
        string(host.kind),
        optional_bool(host.reachable),
        optional_bool(host.authenticated),
        optional_bool(host.host_key_pinned),
        host.server
            .as_deref()
            .map(string)
            .unwrap_or_else(|| "null".into()),
        compilers.join(", "),
        host.compilers_unchecked
            .as_deref()
            .map(string)
            .unwrap_or_else(|| "null".into()),
        problems_json(&host.problems)
    )
}

fn identity(id: &super::doctor_compilers::Identity) -> String {
    format!(
        "{{\"version\": {}, \"machine\": {}}}",
        string(&id.version),
        string(&id.machine)
    )
}

fn problems_json(problems: &[Problem]) -> String {
    let items: Vec<String> = problems
        .iter()
        .map(|p| {
            format!(
                "{{\"problem\": {}, \"next\": {}}}",
                string(&p.what),
                string(&p.next)
            )
        })
        .collect();
    format!("[{}]", items.join(", "))
}

fn optional_bool(value: Option<bool>) -> &'static str {
    match value {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    }
}

fn strings(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| string(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A JSON string literal.
fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn zeroconf_json(zeroconf: &ZeroconfReport) -> String {
    let optional = |value: Option<&str>| value.map(string).unwrap_or_else(|| "null".into());
    let servers: Vec<String> = zeroconf
        .servers
        .iter()
        .map(|s| {
            format!(
                "{{\"name\": {}, \"entry\": {}, \"software\": {}, \"compiler\": {}, \"used\": {}, \"why_not\": {}}}",
                string(&s.name),
                optional(s.entry.as_deref()),
                optional(s.software.as_deref()),
                string(&s.compiler),
                s.not_used.is_none(),
                optional(s.not_used.as_deref())
            )
        })
        .collect();
    format!(
        "{{\"compiler\": {}, \"servers\": [{}]}}",
        match &zeroconf.compiler {
            Ok(cc) => string(&format!("{} for {}", cc.version, cc.machine)),
            Err(e) => format!("{{\"error\": {}}}", string(e)),
        },
        servers.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
    }
}
