//! Side-by-side latency of one job through `distccd --inetd` (distcc 3.4) and
//! `distfarm serve --inetd`: the same preprocessed request on stdin, time until the whole
//! answer has arrived and until the server process has exited.
//!
//! cargo run --release --example bench_inetd [-- ROUNDS]

use std::process::Stdio;
use std::time::{Duration, Instant};

use distfarm::protocol::{
    Limits, Request, RequestHeader, Response, TokenReader, TokenWriter, Version,
};
use tokio::process::Command;

const SOURCE: &str = "int add(int a, int b) { return a + b; }\n";

#[tokio::main]
async fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10);
    let distccd = which("distccd").expect("distccd not found: apt-get install -y distcc");
    let distfarm = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .join("distfarm");
    assert!(
        distfarm.exists(),
        "build the binary first: cargo build --release"
    );

    let servers: [(&str, Vec<String>); 2] = [
        (
            "distccd --inetd (3.4)",
            vec![distccd, "--inetd".into(), "--enable-tcp-insecure".into()],
        ),
        (
            "distfarm serve --inetd",
            vec![
                distfarm.display().to_string(),
                "serve".into(),
                "--inetd".into(),
            ],
        ),
    ];
    println!("{rounds} rounds of one small compile (protocol 1) per server\n");
    println!("{:<26} {:>14} {:>14}", "server", "answer (ms)", "exit (ms)");
    let mut answers = Vec::new();
    for (name, argv) in &servers {
        let mut answer_total = Duration::ZERO;
        let mut exit_total = Duration::ZERO;
        for _ in 0..rounds {
            let (answer, exit) = one_job(argv).await;
            answer_total += answer;
            exit_total += exit;
        }
        let answer_ms = answer_total.as_secs_f64() * 1000.0 / rounds as f64;
        let exit_ms = exit_total.as_secs_f64() * 1000.0 / rounds as f64;
        println!("{name:<26} {answer_ms:>14.1} {exit_ms:>14.1}");
        answers.push(answer_ms);
    }
    println!(
        "\nratio distfarm / distccd (answer): {:.3}",
        answers[1] / answers[0]
    );
}

async fn one_job(argv: &[String]) -> (Duration, Duration) {
    let started = Instant::now();
    let mut child = Command::new(&argv[0])
        .args(&argv[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .env("TMPDIR", "/tmp")
        .kill_on_drop(true)
        .spawn()
        .expect("start server");
    let request = Request {
        header: RequestHeader::new(
            Version::V1,
            ["gcc", "-O2", "-c", "add.c", "-o", "add.o"]
                .iter()
                .map(|a| a.as_bytes().to_vec())
                .collect(),
        ),
        source: SOURCE.as_bytes().to_vec(),
    };
    let mut writer = TokenWriter::new(child.stdin.take().unwrap());
    request.write(&mut writer).await.expect("send request");
    let mut reader = TokenReader::new(child.stdout.take().unwrap(), Limits::default());
    let response = Response::read(&mut reader, 1, Version::V1)
        .await
        .expect("read answer");
    assert!(
        response.succeeded(),
        "compile failed: {}",
        String::from_utf8_lossy(&response.stderr)
    );
    let answer = started.elapsed();
    drop(writer);
    child.wait().await.expect("server exit");
    (answer, started.elapsed())
}

fn which(program: &str) -> Option<String> {
    std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join(program))
        .find(|p| p.exists())
        .map(|p| p.display().to_string())
}
