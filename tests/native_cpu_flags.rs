//! `-march=native` and friends: the wrapper sends the options they mean on this machine, so
//! such a job distributes, and its object is byte for byte what a local `-march=native`
//! compile makes (vector code at -O3, where the CPU's features show). With debug info the
//! job stays local, as with distcc (gcc records the switches in the driver's order).

use std::path::Path;

use crate::support::{DistfarmServer, Work, local_object, text};

const VECTOR_CODE: &str = "\
float dot(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}
void scale(int *v, int n, int k) { for (int i = 0; i < n; i++) v[i] *= k; }
";

fn vector_work() -> Work {
    let work = Work::new();
    std::fs::write(work.path("vec.c"), VECTOR_CODE).unwrap();
    work
}

#[track_caller]
fn assert_distributed_and_identical(flags: &[&str]) {
    let work = vector_work();
    let mut server = DistfarmServer::start(&[]);
    let out = work
        .distfarm(Some(&server.host_spec()))
        .env("DISTCC_FALLBACK", "0")
        .arg("gcc")
        .args(flags)
        .args(["-c", "vec.c", "-o", "out/vec.o"])
        .run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    server.compile_ok_lines(1);
    let local = local_object(
        "gcc",
        flags.iter().copied(),
        Path::new("vec.c"),
        &work.src(),
    );
    assert!(
        work.read("out/vec.o") == local,
        "{flags:?}: the distributed object differs from a local compile"
    );
    assert_eq!(
        std::fs::read_dir(work.distcc_dir().join("native"))
            .unwrap()
            .count(),
        flags.iter().filter(|f| f.ends_with("=native")).count(),
        "each native flag was asked once and cached"
    );
}

#[test]
fn march_native_job_is_distributed_and_identical_to_a_local_native_build() {
    assert_distributed_and_identical(&["-O3", "-march=native"]);
}

#[test]
fn mtune_native_after_an_explicit_march_keeps_that_march() {
    assert_distributed_and_identical(&["-O3", "-march=haswell", "-mtune=native"]);
}

#[test]
fn march_native_with_debug_info_stays_local_and_identical() {
    let work = vector_work();
    let server = DistfarmServer::start(&[]);
    let flags = ["-O2", "-g", "-march=native"];
    let out = work
        .distfarm(Some(&server.host_spec()))
        .env("DISTCC_FALLBACK", "0")
        .env("DISTCC_VERBOSE", "1")
        .arg("gcc")
        .args(flags)
        .args(["-c", "vec.c", "-o", "out/vec.o"])
        .run();
    assert!(
        text(&out.stderr).contains("-march=native"),
        "the log says why it stayed here: {}",
        text(&out.stderr)
    );
    let local = local_object("gcc", flags, Path::new("vec.c"), &work.src());
    assert!(work.read("out/vec.o") == local);
    assert!(!server.log().contains("COMPILE_OK"), "{}", server.log());
}
