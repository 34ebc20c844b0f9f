//! The wrapper preprocesses gcc jobs by running `cc1 -E` itself, from the plan the driver
//! gave once per command shape (`client::cpp_plan`, `client::cpp_plans`): the objects,
//! dependency files and messages must be exactly the driver's, and a compiler changed on
//! disk must be asked again.

use std::path::Path;
use std::time::{Duration, SystemTime};

use crate::support::build::{assert_identical, lua_references, references};
use crate::support::files::{list, read_text, write_script};
use crate::support::process::text;
use crate::support::wrapper::Work;
use crate::support::wrapper_client::{CLIENTS, WrapperClient};
use crate::support::{CProject, Cmd, DistfarmServer};

/// The plan files in a `DISTCC_DIR`, as (name, text).
fn plans(distcc_dir: &Path) -> Vec<(String, String)> {
    let dir = distcc_dir.join("cpp-plans");
    list(&dir)
        .into_iter()
        .map(|name| {
            let body = read_text(&dir.join(&name));
            (name, body)
        })
        .collect()
}

/// Whether a plan file runs a program directly (rather than leaving its shape to the driver).
fn runs_directly(plan: &str, program: &str) -> bool {
    plan.lines()
        .any(|l| l.starts_with("program ") && l.ends_with(&format!("/{program}")))
}

#[test]
fn lua_and_the_cxx_sample_preprocessed_from_plans_match_local_objects() {
    let mut server = DistfarmServer::start(&["--jobs", "2"]);
    let client = WrapperClient::new();
    let lua = CProject::lua();
    let objects = client.build(&server.host_spec(), &lua, &["-O2"]);
    assert_identical(&lua, &objects, lua_references(), "Lua, cc1 -E from a plan");
    let learned = plans(&client.work.distcc_dir());
    assert_eq!(learned.len(), 1, "one shape for all of Lua: {learned:#?}");
    assert!(runs_directly(&learned[0].1, "cc1"), "{learned:#?}");

    let cxx = CProject::cxx_sample();
    let objects = client.build(&server.host_spec(), &cxx, &["-O2"]);
    let local = references(&cxx, &["-O2"], CLIENTS);
    assert_identical(&cxx, &objects, &local, "C++ sample, cc1plus -E from a plan");
    let learned = plans(&client.work.distcc_dir());
    assert_eq!(learned.len(), 2, "{learned:#?}");
    assert!(
        learned.iter().any(|(_, p)| runs_directly(p, "cc1plus")),
        "{learned:#?}"
    );
    let jobs = lua.units().len() + cxx.units().len();
    assert_eq!(
        server.compile_ok_lines(jobs).len(),
        jobs,
        "{}",
        server.log()
    );
}

/// Three sources in three directories, each including hello.h.
fn sources(work: &Work) -> [&'static str; 3] {
    let names = ["a.c", "sub/b.c", "sub/deep/c.c"];
    for name in names {
        let path = work.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let body = "int f(void) { return sizeof(struct counter); }\n";
        std::fs::write(&path, format!("#include \"{}hello.h\"\n{body}", up(name))).unwrap();
    }
    names
}

/// `../` for each directory in `name`.
fn up(name: &str) -> String {
    "../".repeat(name.matches('/').count())
}

#[test]
fn dependency_files_from_a_plan_are_the_drivers() {
    let server = DistfarmServer::start(&[]);
    let client = WrapperClient::new();
    let work = &client.work;
    let names = sources(work);
    let ways: [&[&str]; 4] = [
        &["-MD"],
        &["-MD", "-MF", "out/{stem}.dep", "-MT", "target-{stem}"],
        // gcc's own target for `-Wp,-MD` is the source's base name with `.o` (cc1 names it;
        // the driver does not see the option), wherever `-o` puts the object.
        &["-Wp,-MD,out/.{stem}.Po"],
        &["-MMD", "-MP", "-MQ", "$(obj)/{stem}.o", "-MFout/{stem}.mmd"],
    ];
    for way in ways {
        for name in names {
            let stem = Path::new(name).file_stem().unwrap().to_str().unwrap();
            let object = format!("out/{stem}.o");
            let mut args: Vec<String> = way.iter().map(|a| a.replace("{stem}", stem)).collect();
            args.extend(["-O2", "-c", name, "-o", &object].map(String::from));
            let deps = dependency_file(&args, &object);
            client
                .cmd(&server.host_spec(), "gcc", &args, &work.src())
                .run();
            let (ours, our_object) = (work.read(&deps), work.read(&object));
            std::fs::remove_file(work.path(&deps)).unwrap();
            work.gcc().args(&args).run();
            assert_eq!(
                text(&ours),
                text(&work.read(&deps)),
                "{deps} of `gcc {}` through a plan",
                args.join(" ")
            );
            assert!(our_object == work.read(&object), "{object}: {args:?}");
        }
    }
    let learned = plans(&work.distcc_dir());
    assert_eq!(
        learned.len(),
        2 * ways.len(),
        "one plan per way and source form (`a.c`, `sub/b.c`): {learned:#?}"
    );
    assert!(
        learned.iter().all(|(_, p)| runs_directly(p, "cc1")),
        "{learned:#?}"
    );
}

/// Where gcc writes the dependency file of these arguments.
fn dependency_file(args: &[String], object: &str) -> String {
    let given = args
        .iter()
        .position(|a| a == "-MF")
        .map(|i| args[i + 1].clone());
    let joined = args
        .iter()
        .find_map(|a| a.strip_prefix("-MF").map(String::from));
    let wp = args
        .iter()
        .find_map(|a| a.strip_prefix("-Wp,-MD,").map(String::from));
    given
        .or(joined.filter(|j| !j.is_empty()))
        .or(wp)
        .unwrap_or_else(|| object.replace(".o", ".d"))
}

#[test]
fn preprocessor_messages_from_a_plan_read_as_gccs() {
    let server = DistfarmServer::start(&[]);
    let client = WrapperClient::new();
    let work = &client.work;
    let hosts = server.host_spec();
    let args = |source: &str| ["-O2", "-c", source].map(String::from).to_vec();
    client
        .cmd(&hosts, "gcc", &args("hello.c"), &work.src())
        .run();
    assert!(runs_directly(&plans(&work.distcc_dir())[0].1, "cc1"));

    // A `#warning` comes from cc1 itself and is shown with the remote result.
    std::fs::write(work.path("warns.c"), "#warning \"look here\"\nint x;\n").unwrap();
    let ours = client
        .cmd(&hosts, "gcc", &args("warns.c"), &work.src())
        .run();
    let gcc = work.gcc().args(args("warns.c")).run();
    assert_eq!(text(&ours.stderr), text(&gcc.stderr));
    assert!(text(&gcc.stderr).contains("look here"));

    // A missing header: the same message and status as gcc's (the job is compiled here).
    std::fs::write(work.path("missing.c"), "#include \"nowhere.h\"\nint x;\n").unwrap();
    let ours = work
        .distfarm(Some(&hosts))
        .arg("gcc")
        .args(args("missing.c"))
        .output_unchecked()
        .unwrap();
    let gcc = work
        .gcc()
        .args(args("missing.c"))
        .output_unchecked()
        .unwrap();
    assert_eq!(text(&ours.stderr), text(&gcc.stderr));
    assert_eq!(ours.status.code(), gcc.status.code());
    assert!(text(&gcc.stderr).contains("nowhere.h"));
    assert_eq!(plans(&work.distcc_dir()).len(), 1, "one shape");
}

#[test]
fn later_jobs_skip_the_driver_and_a_compiler_changed_on_disk_is_asked_again() {
    let server = DistfarmServer::start(&[]);
    let client = WrapperClient::new();
    let work = &client.work;
    let names = sources(work);
    // A `gcc` that notes each run, before the real one on PATH.
    let bin = work.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let runs = work.root().join("gcc-runs");
    let real_gcc = distfarm::executables::find_on_path("gcc", &crate::support::test_path())
        .expect("gcc is installed");
    write_script(
        &bin.join("gcc"),
        &format!(
            "printf '%s\\n' \"$*\" >> {}\nexec {} \"$@\"",
            runs.display(),
            real_gcc.display()
        ),
    );
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&crate::support::test_path())),
    )
    .unwrap();
    let compile = |name: &str| {
        let args = ["-O2", "-c", name, "-o", "out/x.o"].map(String::from);
        let cmd: Cmd = client
            .cmd(&server.host_spec(), "gcc", &args, &work.src())
            .env("PATH", &path)
            .env("DISTCC_NO_REWRITE_CROSS", "1");
        cmd.run();
        let object = work.read("out/x.o");
        let local = work.gcc().args(args).run();
        assert!(local.status.success());
        assert!(object == work.read("out/x.o"), "{name}");
    };
    let runs_with = |option: &str| {
        std::fs::read_to_string(&runs)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split(' ').any(|w| w == option))
            .count()
    };

    // Two sources named the same way (`dir/file.c`): one shape.
    let [_, b, c] = names;
    compile(b);
    assert_eq!(runs_with("-###"), 2, "the first job asks the driver twice");
    assert_eq!(runs_with("-E"), 3, "and preprocesses through it");
    compile(c);
    compile(b);
    assert_eq!(runs_with("-###"), 2, "later jobs do not ask again");
    assert_eq!(runs_with("-E"), 3, "nor run the driver to preprocess");
    assert_eq!(plans(&work.distcc_dir()).len(), 1);

    // Closed at once: a script open for writing cannot be run ("Text file busy").
    std::fs::File::options()
        .write(true)
        .open(bin.join("gcc"))
        .and_then(|script| script.set_modified(SystemTime::now() - Duration::from_secs(3600)))
        .unwrap();
    compile(c);
    assert_eq!(runs_with("-###"), 4, "a changed compiler is asked again");
    assert_eq!(plans(&work.distcc_dir()).len(), 2, "under a new key");
    compile(b);
    assert_eq!(runs_with("-###"), 4);
    assert_eq!(runs_with("-E"), 6);
}

/// A planned pass that ends as no preprocessor ends (an internal compiler error's status, a
/// signal) is run again through the driver; status 1 is a preprocessing error as it stands.
#[tokio::test]
async fn a_planned_pass_that_ends_strangely_leaves_the_job_to_the_driver() {
    use distfarm::client::preprocess::{Route, start};
    use distfarm::driver_report::Pass;
    let work = Work::new();
    let path = crate::support::test_path();
    let gcc = distfarm::executables::find_on_path("gcc", &path).expect("gcc is installed");
    let hello = work.path("hello.c").display().to_string();
    let args = ["-O2", "-E", hello.as_str()].map(String::from);
    let driver = work.gcc().args(&args).run().stdout;
    let ending = |how: &str| {
        let script = work.root().join(format!("cc1-{}", how.replace(' ', "-")));
        write_script(&script, how);
        Route::Plan(Pass {
            program: script,
            args: Vec::new(),
            env: Vec::new(),
        })
    };
    for how in ["exit 4", "kill -SEGV $$"] {
        let ran = start(&gcc, &args, Some(&path), 0, ending(how)).await;
        assert_eq!(
            ran.map(|p| p.text).ok(),
            Some(driver.clone()),
            "a pass that ends with `{how}`"
        );
    }
    let failed = start(&gcc, &args, Some(&path), 0, ending("exit 1")).await;
    assert!(failed.is_err(), "status 1 is the preprocessor's answer");
}
