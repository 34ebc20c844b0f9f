//! What an earlier build leaves in a client's `DISTCC_DIR`: a host's compiler known to be
//! this machine's `gcc`, so that the next job goes there without asking first (see
//! `client/identity.rs`). For tests that count exactly what one job sends.

use std::path::Path;

use distfarm::client::identity;

use super::test_path;

/// Records `host` (the entry as written in the host list) as running this machine's gcc.
pub fn gcc_known_on(distcc_dir: &Path, host: &str) {
    let cache = distcc_dir.join("identity");
    let path = test_path();
    let gcc = distfarm::executables::find_on_path("gcc", &path).expect("gcc is installed");
    let local = identity::local(&gcc, &[], Some(&path), 0, &cache, identity::Asked::Compiled)
        .expect("gcc's identity");
    identity::remember_same(&cache, host, &local);
}
