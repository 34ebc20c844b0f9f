//! The Landlock confinement of the programs a server runs (server/sandbox.rs), entered the
//! way the server enters it: the rules are built in this process and entered by the child
//! between fork and exec. On a kernel without Landlock a test that cannot show anything
//! says `SKIPPED:` (the server itself says at start that its compilers run unconfined).
//! What a whole server does with it is in server_hostile.rs.

use std::os::unix::process::CommandExt;
use std::path::Path;

use distfarm::config::CcacheEnv;
use distfarm::server::sandbox::{self, Confinement};

/// Runs `sh -c script` confined to the job directory `job`; returns (success, stderr).
fn confined(script: &str, job: &Path) -> (bool, String) {
    let confinement = Confinement::for_job(job, Path::new("/bin/sh"), &[], &CcacheEnv::default())
        .expect("Landlock rules for a job");
    let mut command = std::process::Command::new("/bin/sh");
    command.arg("-c").arg(script).current_dir(job);
    let enter = confinement.enter_in_child().expect("a ruleset descriptor");
    // SAFETY: the hook neither allocates nor locks (see server/sandbox.rs).
    unsafe {
        command.pre_exec(enter);
    }
    let out = command.output().expect("/bin/sh runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_start_probe_finds_confinement_where_the_kernel_has_landlock() {
    let tmp = tempfile::tempdir().unwrap();
    assert_eq!(sandbox::works(tmp.path()), sandbox::abi_version() > 0);
    assert_eq!(
        std::fs::read_dir(tmp.path()).unwrap().count(),
        0,
        "probe left files"
    );
}

#[test]
fn a_confined_compiler_reads_the_system_and_its_job_but_nothing_else() {
    let job = tempfile::tempdir().unwrap();
    let abi = sandbox::abi_version();
    if abi < 1 {
        // What such a kernel gets: no confinement, which the server says at start.
        assert!(
            Confinement::for_job(job.path(), Path::new("/bin/sh"), &[], &CcacheEnv::default())
                .is_none()
        );
        eprintln!("SKIPPED: this kernel has no Landlock, so there is no confinement to test");
        return;
    }
    let secret = tempfile::tempdir().unwrap();
    std::fs::write(secret.path().join("secret"), "s3cret").unwrap();
    let (ok, err) = confined(
        "cat /usr/include/stdio.h > out && cat out > /dev/null",
        job.path(),
    );
    assert!(ok, "system headers and the job directory: {err}");
    let (ok, _) = confined(
        &format!("cat {}/secret", secret.path().display()),
        job.path(),
    );
    assert!(!ok, "a file outside the allowed places was read");
    let (ok, _) = confined("cat /etc/passwd", job.path());
    assert!(!ok, "/etc/passwd was read");
    let (ok, _) = confined(
        &format!("echo x > {}/planted", secret.path().display()),
        job.path(),
    );
    assert!(
        !ok && !secret.path().join("planted").exists(),
        "wrote outside the job"
    );
    // Landlock knows truncation from ABI 3 on; before that, only opening for writing.
    if abi < 3 {
        eprintln!(
            "SKIPPED: truncate(2) outside the job: Landlock ABI {abi} cannot deny it (ABI 3 can)"
        );
        return;
    }
    // truncate(2) by path, which opens nothing (coreutils' truncate opens for writing).
    let (ok, _) = confined(
        &format!(
            "perl -e 'truncate(\"{}/secret\", 0) or exit 1'",
            secret.path().display()
        ),
        job.path(),
    );
    let intact = std::fs::read_to_string(secret.path().join("secret")).unwrap() == "s3cret";
    assert!(!ok && intact, "truncated a file outside the job");
}
