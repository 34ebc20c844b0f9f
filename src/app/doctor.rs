//! `distfarm doctor`: the host list, this machine's compilers and flags gathered from the
//! environment, every host checked (see `admin::doctor`), the report printed as text or JSON.
//! Exits 1 when anything is wrong.

use std::path::Path;

use crate::admin::doctor::{self, DoctorSettings, Problem, Report};
use crate::admin::{doctor_compilers, doctor_flags, doctor_report};
use crate::cli::DoctorArgs;
use crate::config::{ClientEnv, DoctorEnv, SshEnv};

/// Portage's configuration, where Gentoo builds take their flags.
const MAKE_CONF: &str = "/etc/portage/make.conf";

pub fn main(args: &DoctorArgs) -> i32 {
    crate::logging::init(tracing::Level::ERROR, crate::logging::Sink::Stderr);
    let report = report();
    if args.json {
        print!("{}", doctor_report::json(&report));
    } else {
        print!("{}", doctor_report::text(&report));
    }
    if report.ok() { 0 } else { 1 }
}

fn report() -> Report {
    let mut report = Report::default();
    let client = match ClientEnv::from_env() {
        Ok(client) => client,
        Err(e) => {
            report.problems.push(Problem {
                what: e.to_string(),
                next: "fix DISTCC_IO_TIMEOUT".into(),
            });
            return report;
        }
    };
    let path = crate::config::search_path();
    let mut list_read = true;
    let hosts = match crate::config::load_hosts(&client) {
        Ok(list) => {
            if list.zeroconf.is_some() {
                look_at_zeroconf(&mut report, &client);
            }
            list.hosts
        }
        Err(e) => {
            list_read = false;
            report.problems.push(Problem {
                what: e.to_string(),
                next: "set the host list with `distfarm config --set-hosts LIST` or DISTCC_HOSTS"
                    .into(),
            });
            Vec::new()
        }
    };
    let flags_env = DoctorEnv::from_env();
    let sources = doctor_flags::sources(
        flags_env.cflags.as_deref(),
        flags_env.cxxflags.as_deref(),
        Path::new(MAKE_CONF),
    );
    let gcc = crate::executables::find_on_path("gcc", &path);
    report.native_flags = doctor_flags::native_flags(
        &sources,
        gcc.as_deref(),
        Some(&path),
        &client.distcc_dir.join("native"),
    );
    report
        .problems
        .extend(doctor::native_flag_problems(&report.native_flags));
    if hosts.is_empty() {
        if list_read {
            report.problems.push(Problem {
                what: "the host list is empty: every job compiles here".into(),
                next: "set it with `distfarm config --set-hosts LIST` or DISTCC_HOSTS".into(),
            });
        }
        return report;
    }
    let settings = DoctorSettings {
        hosts,
        ssh: SshEnv::from_env().settings(),
        compilers: doctor_compilers::local_compilers(&path),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    report.hosts = runtime.block_on(doctor::check_hosts(settings));
    report
}

/// `+zeroconf` in the list: who announces what, and why each server is used or not.
fn look_at_zeroconf(report: &mut Report, client: &ClientEnv) {
    use crate::admin::doctor_zeroconf;
    use crate::zeroconf::identity::CompilerIdentity;
    let compiler = CompilerIdentity::of_cc(client.path.as_deref());
    match doctor_zeroconf::look(compiler) {
        Ok(seen) => {
            report.problems.extend(doctor_zeroconf::problems(&seen));
            report.zeroconf = Some(seen);
        }
        Err(e) => report.problems.push(Problem {
            what: format!("+zeroconf: {e}"),
            next: "mDNS needs a network interface with multicast on".into(),
        }),
    }
}
