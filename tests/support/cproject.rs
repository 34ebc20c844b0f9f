//! Real C and C++ sources to compile in tests: Lua 5.4 (from the `lua-src` crate), zstd (from
//! `zstd-sys`), both dev-dependencies so cargo has already downloaded them, and the small C++
//! project in tests/fixtures/cxx.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::compile;
use super::process::Cmd;
use super::programs::{fixture_path, manifest_dir};

/// One translation unit: a source path relative to the project root (every compile runs
/// with the root as working directory) and the flags this file needs (`-I`, `-D`, `-std`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unit {
    pub source: PathBuf,
    pub flags: Vec<String>,
}

/// A set of sources that each compile with `<compiler> <flags> -c <source>`.
#[derive(Clone, Debug)]
pub struct CProject {
    pub name: &'static str,
    /// `gcc` or `g++`.
    pub compiler: &'static str,
    root: PathBuf,
    units: Vec<Unit>,
}

impl CProject {
    /// Lua 5.4.7, the library sources (31 files, no `main`). Flags as Lua's own makefile:
    /// `-std=gnu99 -DLUA_COMPAT_5_3 -DLUA_USE_LINUX`; clean under `-Wall`.
    pub fn lua() -> CProject {
        let root = crate_source_dir("lua-src").join("lua-5.4.7");
        let flags = ["-std=gnu99", "-DLUA_COMPAT_5_3", "-DLUA_USE_LINUX"];
        CProject::from_dirs("lua", "gcc", root, &["."], &flags)
    }

    /// zstd 1.5.7 `lib/`: common, compress, decompress and dictBuilder (~30 files; the
    /// legacy and deprecated directories and the x86-64 assembly are left out). Flags:
    /// `-I. -Icommon -DZSTD_DISABLE_ASM`; clean under `-Wall`.
    pub fn zstd() -> CProject {
        let root = crate_source_dir("zstd-sys").join("zstd/lib");
        let flags = ["-I.", "-Icommon", "-DZSTD_DISABLE_ASM"];
        CProject::from_dirs(
            "zstd",
            "gcc",
            root,
            &["common", "compress", "decompress", "dictBuilder"],
            &flags,
        )
    }

    /// tests/fixtures/cxx: three .cpp files with a class hierarchy, templates, `<vector>`,
    /// `<string>`, `<map>` and `<memory>`; `-std=c++17`.
    pub fn cxx_sample() -> CProject {
        CProject::from_dirs("cxx", "g++", fixture_path("cxx"), &["."], &["-std=c++17"])
    }

    fn from_dirs(
        name: &'static str,
        compiler: &'static str,
        root: PathBuf,
        dirs: &[&str],
        flags: &[&str],
    ) -> CProject {
        let extension = if compiler == "g++" { "cpp" } else { "c" };
        let mut units = Vec::new();
        for dir in dirs {
            let entries = std::fs::read_dir(root.join(dir)).unwrap_or_else(|e| {
                panic!(
                    "{name} sources: cannot list {}: {e}",
                    root.join(dir).display()
                )
            });
            for entry in entries {
                let path = entry.expect("directory entry").path();
                if path.extension().is_some_and(|e| e == extension) {
                    let source = Path::new(dir).join(path.file_name().unwrap());
                    let source = source
                        .strip_prefix(".")
                        .map(Path::to_path_buf)
                        .unwrap_or(source);
                    units.push(Unit {
                        source,
                        flags: flags.iter().map(|f| f.to_string()).collect(),
                    });
                }
            }
        }
        units.sort_by(|a, b| a.source.cmp(&b.source));
        assert!(
            !units.is_empty(),
            "no {name} sources under {}",
            root.display()
        );
        CProject {
            name,
            compiler,
            root,
            units,
        }
    }

    /// The directory every compile runs in; unit sources are relative to it.
    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn units(&self) -> &[Unit] {
        &self.units
    }

    pub fn unit(&self, source: &str) -> &Unit {
        self.units
            .iter()
            .find(|u| u.source == Path::new(source))
            .unwrap_or_else(|| panic!("{} has no unit {source}", self.name))
    }

    /// The same project with only the first `n` units (a quicker build).
    pub fn first(&self, n: usize) -> CProject {
        CProject {
            units: self.units.iter().take(n).cloned().collect(),
            ..self.clone()
        }
    }

    /// The same project checked out again under `dir` (its root's tree copied there), as
    /// another person's checkout elsewhere.
    pub fn checked_out_in(&self, dir: &Path) -> CProject {
        copy_tree(&self.root, dir);
        CProject {
            root: dir.to_path_buf(),
            ..self.clone()
        }
    }

    /// The same project built by another compiler (`clang`, `clang++`).
    pub fn with_compiler(&self, compiler: &'static str) -> CProject {
        CProject {
            compiler,
            ..self.clone()
        }
    }

    /// The compiler arguments after the compiler name: `extra…, flags…, -c SOURCE -o OUTPUT`.
    /// Use the same list for the local reference and the distributed compile.
    pub fn compile_args(&self, unit: &Unit, extra: &[&str], output: &Path) -> Vec<String> {
        let mut args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        args.extend(unit.flags.iter().cloned());
        args.push("-c".into());
        args.push(unit.source.display().to_string());
        args.push("-o".into());
        args.push(output.display().to_string());
        args
    }

    /// The object a local `<compiler> extra… flags… -c SOURCE` makes (run in the root).
    pub fn local_object(&self, unit: &Unit, extra: &[&str]) -> Vec<u8> {
        let args = extra
            .iter()
            .map(|s| s.to_string())
            .chain(unit.flags.iter().cloned());
        compile::local_object(self.compiler, args, &unit.source, &self.root)
    }

    /// The object from a local `-E` then a compile of the preprocessed file: the byte
    /// reference for `-g` builds, which is what distcc's plain mode does.
    pub fn preprocessed_then_compiled(&self, unit: &Unit, extra: &[&str]) -> Vec<u8> {
        let args = extra
            .iter()
            .map(|s| s.to_string())
            .chain(unit.flags.iter().cloned());
        compile::preprocessed_then_compiled(self.compiler, args, &unit.source, &self.root)
    }
}

/// The unpacked source directory of a dependency, at the version Cargo.lock pins, found with
/// `cargo metadata` (falling back to a scan of `$CARGO_HOME/registry/src`).
pub fn crate_source_dir(package: &str) -> PathBuf {
    static METADATA: OnceLock<String> = OnceLock::new();
    let version = locked_version(package);
    let dir_name = format!("{package}-{version}");
    let metadata = METADATA.get_or_init(|| {
        let cargo = std::env::var_os("CARGO")
            .or_else(|| option_env!("CARGO").map(Into::into))
            .unwrap_or_else(|| "cargo".into());
        Cmd::new(cargo)
            .args([
                "metadata",
                "--format-version",
                "1",
                "--offline",
                "--manifest-path",
            ])
            .arg(manifest_dir().join("Cargo.toml"))
            .output()
            .map(|out| String::from_utf8_lossy(&out.stdout).into_owned())
            .unwrap_or_default()
    });
    let from_metadata = metadata
        .split("\"manifest_path\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|manifest| PathBuf::from(manifest.replace("\\\\", "\\")))
        .find(|manifest| {
            manifest
                .parent()
                .and_then(Path::file_name)
                .is_some_and(|n| n == dir_name.as_str())
        })
        .and_then(|manifest| manifest.parent().map(Path::to_path_buf));
    if let Some(dir) = from_metadata.filter(|d| d.is_dir()) {
        return dir;
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .unwrap_or_else(|| "/root/.cargo".into());
    let registries = std::fs::read_dir(cargo_home.join("registry/src"))
        .into_iter()
        .flatten();
    registries
        .filter_map(|r| r.ok())
        .map(|r| r.path().join(&dir_name))
        .find(|d| d.is_dir())
        .unwrap_or_else(|| {
            panic!(
                "the sources of {dir_name} were not found (cargo metadata, {}/registry/src); \
                 run `cargo fetch` in {}",
                cargo_home.display(),
                manifest_dir().display()
            )
        })
}

/// The version of `package` in Cargo.lock.
fn locked_version(package: &str) -> String {
    let lock =
        std::fs::read_to_string(manifest_dir().join("Cargo.lock")).expect("reading Cargo.lock");
    let needle = format!("name = \"{package}\"\nversion = \"");
    let start = lock
        .find(&needle)
        .unwrap_or_else(|| panic!("{package} is not in Cargo.lock"))
        + needle.len();
    lock[start..]
        .split('"')
        .next()
        .expect("version string")
        .to_string()
}

/// Copies the regular files and directories under `from` to `to` (created).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("mkdir {}: {e}", to.display()));
    let entries =
        std::fs::read_dir(from).unwrap_or_else(|e| panic!("listing {}: {e}", from.display()));
    for entry in entries {
        let entry = entry.expect("directory entry");
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("file type");
        if kind.is_dir() {
            copy_tree(&source, &target);
        } else if kind.is_file() {
            std::fs::copy(&source, &target)
                .unwrap_or_else(|e| panic!("copying {}: {e}", source.display()));
        }
    }
}
