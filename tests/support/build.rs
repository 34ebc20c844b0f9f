//! Building a [`CProject`] unit by unit through a compiler command under test, a few at a
//! time, and comparing the objects with local references.

use std::path::Path;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::cproject::{CProject, Unit};
use super::files::read;

/// `f(0..n)` on `workers` threads, results in index order.
pub fn parallel_map<T: Send>(n: usize, workers: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let mut slots: Vec<Option<T>> = (0..n).map(|_| None).collect();
    let chunks: Vec<Vec<(usize, T)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers.max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= n {
                            return done;
                        }
                        done.push((i, f(i)));
                    }
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    });
    for (i, value) in chunks.into_iter().flatten() {
        slots[i] = Some(value);
    }
    slots
        .into_iter()
        .map(|s| s.expect("every index ran"))
        .collect()
}

/// `dir/file.c` → `dir_file.c.o`: one flat output directory for a whole project.
pub fn object_name(unit: &Unit) -> String {
    format!("{}.o", unit.source.display().to_string().replace('/', "_"))
}

/// Compiles every unit of `project`, `workers` at a time: `compile(unit, args)` must run the
/// command under test with `args` (`project.compile_args` with `extra`, writing
/// `out_dir/<object_name>`) in `project.root()`, and check how it went. Returns the objects
/// in unit order.
pub fn build(
    project: &CProject,
    extra: &[&str],
    out_dir: &Path,
    workers: usize,
    compile: impl Fn(&Unit, &[String]) + Sync,
) -> Vec<Vec<u8>> {
    let units = project.units();
    parallel_map(units.len(), workers, |i| {
        let unit = &units[i];
        let object = out_dir.join(object_name(unit));
        let _ = std::fs::remove_file(&object);
        compile(unit, &project.compile_args(unit, extra, &object));
        read(&object)
    })
}

/// Local objects for every unit, `workers` at a time.
pub fn references(project: &CProject, extra: &[&str], workers: usize) -> Vec<Vec<u8>> {
    parallel_map(project.units().len(), workers, |i| {
        project.local_object(&project.units()[i], extra)
    })
}

/// Local `gcc -O2 <lua flags> -c FILE` objects for all of Lua, computed once per test binary.
pub fn lua_references() -> &'static [Vec<u8>] {
    static REFS: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    REFS.get_or_init(|| references(&CProject::lua(), &["-O2"], 2))
}

/// Every object is the byte-for-byte twin of its reference; `how` names the way it was built.
#[track_caller]
pub fn assert_identical(project: &CProject, built: &[Vec<u8>], references: &[Vec<u8>], how: &str) {
    assert_eq!(built.len(), references.len());
    let differing: Vec<String> = project
        .units()
        .iter()
        .zip(built.iter().zip(references))
        .filter(|(_, (object, reference))| object != reference)
        .map(|(unit, (object, reference))| {
            format!(
                "{} ({} bytes remote, {} bytes local)",
                unit.source.display(),
                object.len(),
                reference.len()
            )
        })
        .collect();
    assert!(
        differing.is_empty(),
        "{how}: {} of {} {} objects differ from a local `{}` compile: {differing:#?}",
        differing.len(),
        built.len(),
        project.name,
        project.compiler
    );
}
