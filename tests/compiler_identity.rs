//! A host whose compiler is not this machine's never puts its objects into a build: before
//! the first job goes there, the wrapper has it compile a probe whose object says which
//! compiler made it (`.comment`, the ELF machine); a foreign one is left out with one
//! warning naming the host, both versions and the fix, and the job compiles elsewhere; the
//! next job leaves that host out without another word. Every object is checked again.

use crate::support::files::readable_temp_dir;
use crate::support::wrapper::hello_args;
use crate::support::{DistfarmServer, IDENTITY_PROBE, Work, is_identity_probe, text, write_script};

/// Marks the object a real gcc made as another gcc's: its `.comment` says version 99.
const ANOTHER_GCC: &str = r#"/usr/bin/gcc "$@" || exit $?
out=; prev=
for arg in "$@"; do [ "$prev" = -o ] && out=$arg; prev=$arg; done
[ -f "$out" ] || exit 0
printf 'GCC: (Elsewhere 99.1.0-1) 99.1.0\0' > "$out.comment"
objcopy --update-section .comment="$out.comment" "$out" && rm -f "$out.comment""#;

/// A server whose gcc is another version, as on a box nobody upgraded.
fn server_with_another_compiler() -> (DistfarmServer, tempfile::TempDir) {
    let bin = readable_temp_dir("other-gcc");
    for name in ["gcc", "x86_64-linux-gnu-gcc"] {
        write_script(&bin.path().join(name), ANOTHER_GCC);
    }
    let path = format!("{}:/usr/bin:/bin", bin.path().display());
    let server = DistfarmServer::builder()
        .env("DISTCCD_PATH", &path)
        .env("PATH", &path)
        .start();
    (server, bin)
}

#[test]
fn a_host_with_another_compiler_is_left_out_with_one_warning_and_the_object_is_right() {
    crate::support::require("objcopy", "binutils");
    let work = Work::new();
    let (other, _bin) = server_with_another_compiler();
    let mut honest = DistfarmServer::start(&[]);
    let hosts = format!("{} {}", other.host_spec(), honest.host_spec());

    let first = work
        .distfarm(Some(&hosts))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/first.o"))
        .run();
    let warning = text(&first.stderr);
    for (what, needle) in [
        ("the host", other.host_spec()),
        ("its compiler", "99.1.0".to_string()),
        ("ours", "GCC:".to_string()),
        (
            "the fix",
            "install the same compiler version there".to_string(),
        ),
    ] {
        assert!(
            warning.contains(&needle),
            "the warning names {what}: {warning}"
        );
    }
    assert_eq!(warning.lines().count(), 1, "one warning: {warning}");
    assert_eq!(work.read("out/first.o"), work.hello_reference());
    let compiled = |server: &DistfarmServer| -> Vec<String> {
        let log = server.log();
        log.lines()
            .filter(|l| l.contains(" COMPILE_OK "))
            .map(String::from)
            .collect()
    };
    other.expect_log(IDENTITY_PROBE);
    let asked = compiled(&other);
    assert!(
        asked.len() == 1 && is_identity_probe(&asked[0]),
        "the other host only compiled the probe, never the job: {asked:?}"
    );
    // The honest host was asked too, then got the job.
    assert_eq!(honest.compile_ok_lines(1).len(), 1, "one job");
    let honest_lines = compiled(&honest);
    assert_eq!(
        honest_lines.iter().filter(|l| is_identity_probe(l)).count(),
        1,
        "{honest_lines:?}"
    );

    let second = work
        .distfarm(Some(&hosts))
        .env("DISTCC_FALLBACK", "0")
        .args(hello_args("out/second.o"))
        .run();
    assert_eq!(text(&second.stderr), "", "no second warning");
    assert_eq!(work.read("out/second.o"), work.hello_reference());
    assert_eq!(
        honest.compile_ok_lines(2).len(),
        2,
        "both jobs on the honest host"
    );
    let honest_lines = compiled(&honest);
    assert_eq!(
        honest_lines.iter().filter(|l| is_identity_probe(l)).count(),
        1,
        "what the honest host's compiler is was remembered: {honest_lines:?}"
    );
    assert_eq!(compiled(&other).len(), 1, "the other host got no job");
}
