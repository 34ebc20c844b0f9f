//! How fast protocol-2 bodies are compressed and decompressed, on a real preprocessed source.
//!
//! cargo run --release --example lzo_speed -- FILE.i
use std::time::Instant;

fn main() {
    let path = std::env::args().nth(1).expect("usage: lzo_speed FILE");
    let data = std::fs::read(&path).expect("read the file");
    let rounds = 20;
    let started = Instant::now();
    let mut packed = Vec::new();
    for _ in 0..rounds {
        packed = distfarm::protocol::lzo::compress(&data);
    }
    let compress = started.elapsed() / rounds;
    let started = Instant::now();
    for _ in 0..rounds {
        let back =
            distfarm::protocol::lzo::decompress("DOTI", &packed, u64::MAX).expect("decompress");
        assert_eq!(back.len(), data.len());
    }
    let decompress = started.elapsed() / rounds;
    let mb = data.len() as f64 / 1e6;
    println!(
        "{path}: {:.0} KB → {:.0} KB; compress {:.2} ms ({:.0} MB/s), decompress {:.2} ms ({:.0} MB/s)",
        data.len() as f64 / 1e3,
        packed.len() as f64 / 1e3,
        compress.as_secs_f64() * 1e3,
        mb / compress.as_secs_f64(),
        decompress.as_secs_f64() * 1e3,
        mb / decompress.as_secs_f64()
    );
}
