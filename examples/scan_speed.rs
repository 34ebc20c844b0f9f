//! How long a warm include scan takes (the agent's per-job cost in pump mode): one cold scan
//! to fill the caches, then the same job ROUNDS times on the same `Scanner`.
//!
//! cd zstd/lib && cargo run --release --example scan_speed -- [ROUNDS] gcc -O1 -I. -c x.c -o x.o
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let rounds: u32 = match args.first().and_then(|a| a.parse().ok()) {
        Some(n) => {
            args.remove(0);
            n
        }
        None => 200,
    };
    assert!(
        !args.is_empty(),
        "usage: scan_speed [ROUNDS] COMPILER ARGS..."
    );
    let cwd = std::env::current_dir().expect("the working directory");
    let path = std::env::var_os("PATH");
    let scanner = distfarm::include_scan::Scanner::new();
    let started = Instant::now();
    let first = scanner
        .closure(&cwd, &args, path.as_deref())
        .expect("the scan");
    let cold = started.elapsed();
    let started = Instant::now();
    for _ in 0..rounds {
        let again = scanner
            .closure(&cwd, &args, path.as_deref())
            .expect("the scan");
        assert_eq!(again.files.len(), first.files.len());
    }
    let warm = started.elapsed() / rounds;
    println!(
        "{} files, {} system headers: cold {:?}, warm {:?} per scan ({rounds} rounds)",
        first.files.len(),
        first.system_files.len(),
        cold,
        warm
    );
}
