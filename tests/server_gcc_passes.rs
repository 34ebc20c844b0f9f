//! The server runs gcc's passes itself from the plan the driver gives once per command shape
//! (`server::gcc_passes`): asked here of the real gcc, confined as a job's compiler is.

use distfarm::server::confinement::{ConfinementMode, JobConfinement};
use distfarm::server::gcc_passes::{ASSEMBLY_FILE, PassPlans};

#[tokio::test]
async fn gcc_plans_once_per_command_shape_and_each_job_gets_its_own_directory() {
    let plans = PassPlans::default();
    let path = distfarm::config::ServerEnv::from_env()
        .unwrap()
        .compiler_path;
    let gcc = distfarm::executables::find_on_path("gcc", path.as_deref().unwrap())
        .expect("gcc is installed");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().to_str().unwrap();
        let args: Vec<String> = [
            "-O2",
            "-c",
            &format!("{d}/input.i"),
            "-o",
            &format!("{d}/output.o"),
        ]
        .map(String::from)
        .to_vec();
        let passes = plans
            .for_job(
                &gcc,
                &args,
                &dir.path().join("output.o"),
                dir.path(),
                path.as_deref(),
                || {
                    JobConfinement::for_job(
                        ConfinementMode::Landlock,
                        dir.path(),
                        &gcc,
                        &[],
                        &Default::default(),
                    )
                },
            )
            .await
            .expect("gcc's plan is plain, also when asked confined");
        assert!(passes.compile.args.contains(&format!("{d}/input.i")));
        let (assemble, file) = passes.assemble.clone().unwrap();
        assert_eq!(file, dir.path().join(ASSEMBLY_FILE));
        assert!(assemble.args.contains(&format!("{d}/output.o")));
        let every_arg = passes.compile.args.iter().chain(&assemble.args);
        assert!(
            every_arg.clone().all(|a| !a.contains("job-dir")),
            "the plan's placeholder for the job directory is replaced by this job's: {passes:?}"
        );
        seen.push(passes);
    }
    assert_eq!(plans.shapes(), 1, "one shape, one plan");
    assert_ne!(seen[0], seen[1]);
}
