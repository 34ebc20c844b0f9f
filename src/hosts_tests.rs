//! Unit tests of the host-list grammar (kept beside `hosts.rs` to keep that file about the grammar).
use super::*;
use std::path::Path;

fn one(token: &str) -> HostSpec {
    let list = parse(token, ENV_ORIGIN).unwrap();
    assert_eq!(list.hosts.len(), 1, "{token}");
    list.hosts.into_iter().next().unwrap()
}

fn problem(text: &str) -> Problem {
    match parse(text, ENV_ORIGIN) {
        Err(HostsError::Syntax { problem, .. }) => problem,
        other => panic!("{text}: expected a syntax error, got {other:?}"),
    }
}

fn tcp(host: &str, port: u16) -> HostKind {
    HostKind::Tcp {
        host: host.into(),
        port,
    }
}

fn ssh(user: Option<&str>, host: &str, command: Option<&str>) -> HostKind {
    HostKind::Ssh {
        user: user.map(Into::into),
        host: host.into(),
        remote: RemoteEnd::Program(command.unwrap_or("distccd").into()),
    }
}

#[test]
fn manual_example_parses_like_distcc() {
    // `distcc --show-hosts` prints the four tokens verbatim; `distcc -j` prints 22.
    let text = "localhost/2 @bigman/16:/opt/bin/distccd oldmachine:4200/1 distant/3,lzo";
    let list = parse(text, ENV_ORIGIN).unwrap();
    let kinds: Vec<_> = list
        .hosts
        .iter()
        .map(|h| (h.kind.clone(), h.limit, h.lzo))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (HostKind::Local, 2, false),
            (ssh(None, "bigman", Some("/opt/bin/distccd")), 16, false),
            (tcp("oldmachine", 4200), 1, false),
            (tcp("distant", DEFAULT_PORT), 3, true),
        ]
    );
    assert_eq!(
        list.show_hosts().collect::<Vec<_>>(),
        text.split(' ').collect::<Vec<_>>()
    );
    assert_eq!(list.total_slots(), 22);
    assert!(list.warnings.is_empty());
    assert_eq!(list.hosts[3].protocol_version(), 2);
}

#[test]
fn defaults_are_four_slots_remote_two_localhost_and_port_3632() {
    assert_eq!(one("host").limit, 4);
    assert_eq!(one("host").kind, tcp("host", 3632));
    assert_eq!(one("localhost").limit, 2);
    assert_eq!(one("@host").limit, 4);
    let list = parse("host", ENV_ORIGIN).unwrap();
    assert_eq!(
        (list.local_slots, list.local_slots_cpp, list.randomize),
        (4, 8, false)
    );
}

#[test]
fn localhost_takes_a_limit() {
    let h = one("localhost/6");
    assert_eq!((h.kind, h.limit), (HostKind::Local, 6));
}

#[test]
fn localhost_with_port_or_options_is_a_tcp_host() {
    assert_eq!(one("localhost:3632").kind, tcp("localhost", 3632));
    let h = one("localhost,lzo");
    assert_eq!((h.kind, h.lzo), (tcp("localhost", 3632), true));
}

#[test]
fn options_on_localhost_are_ignored_with_a_warning() {
    // distcc: `localhost/4,lzo` is a local entry with 4 slots (-j prints 4).
    let list = parse("localhost/4,lzo", ENV_ORIGIN).unwrap();
    assert_eq!(
        (
            list.hosts[0].kind.clone(),
            list.hosts[0].limit,
            list.hosts[0].lzo
        ),
        (HostKind::Local, 4, false)
    );
    assert_eq!(list.warnings.len(), 1);
    assert!(
        list.warnings[0].contains("localhost/4,lzo"),
        "{:?}",
        list.warnings
    );
}

#[test]
fn tcp_limit_and_port_in_either_order() {
    let a = one("host:4000/3");
    let b = one("host/3:4000");
    assert_eq!((a.kind.clone(), a.limit), (tcp("host", 4000), 3));
    assert_eq!((b.kind, b.limit), (a.kind, 3));
}

#[test]
fn tcp_limit_given_twice_uses_the_last_with_a_warning() {
    // distcc -j prints 5 for `h/2:3633/5`.
    let list = parse("h/2:3633/5", ENV_ORIGIN).unwrap();
    assert_eq!(list.hosts[0].limit, 5);
    assert_eq!(list.warnings.len(), 1);
}

#[test]
fn ipv6_tcp_host_in_brackets() {
    let h = one("[::1]:3633/2,lzo");
    assert_eq!(
        (h.kind.clone(), h.limit, h.lzo),
        (tcp("::1", 3633), 2, true)
    );
    assert_eq!(one("[fe80::1]").kind, tcp("fe80::1", 3632));
    assert_eq!(h.lock_name(0), "cpu_tcp_::1_3633_0");
}

#[test]
fn ipv6_without_closing_bracket_is_an_error() {
    assert_eq!(problem("[::1"), Problem::UnclosedIpv6);
    assert_eq!(problem("[::1/4]"), Problem::UnclosedIpv6);
}

#[test]
fn bare_ipv6_address_has_no_hostname() {
    // distcc: "hostname is required in tcp host specification".
    assert_eq!(problem("::1"), Problem::MissingHostname);
}

#[test]
fn ssh_forms() {
    assert_eq!(one("@host").kind, ssh(None, "host", None));
    assert_eq!(one("me@host").kind, ssh(Some("me"), "host", None));
    let h = one("me@host/8:/usr/local/bin/distccd,lzo");
    assert_eq!(
        (h.kind.clone(), h.limit, h.lzo),
        (
            ssh(Some("me"), "host", Some("/usr/local/bin/distccd")),
            8,
            true
        )
    );
    assert_eq!(
        h.ssh_remote(),
        Some(&RemoteEnd::Program("/usr/local/bin/distccd".into()))
    );
    assert_eq!(
        one("@host").ssh_remote(),
        Some(&RemoteEnd::Program("distccd".into()))
    );
    assert_eq!(one("@host,lzo").kind, ssh(None, "host", None));
}

#[test]
fn ssh_limit_after_the_command_is_part_of_the_command() {
    // distcc -j prints 3 for `@h/3:cmd/4`.
    let h = one("@h/3:cmd/4");
    assert_eq!((h.kind, h.limit), (ssh(None, "h", Some("cmd/4")), 3));
}

#[test]
fn ssh_tcp_command_names_a_daemon_behind_the_connection() {
    let daemon = |host: &str, port| RemoteEnd::Daemon {
        host: host.into(),
        port,
    };
    let remote = |text| one(text).ssh_remote().cloned();
    assert_eq!(remote("@h:tcp:3632"), Some(daemon("127.0.0.1", 3632)));
    assert_eq!(
        remote("@h/4:tcp:localhost:4000,lzo"),
        Some(daemon("localhost", 4000))
    );
    assert_eq!(remote("@h:tcp:[::1]:4000"), Some(daemon("[::1]", 4000)));
    assert_eq!(problem("@h:tcp:x"), Problem::BadPort("x".into()));
    assert_eq!(problem("@h:tcp:0"), Problem::BadPort("0".into()));
    assert_eq!(problem("@h:tcp::4000"), Problem::MissingHostname);
}

#[test]
fn ssh_empty_command_means_the_default() {
    assert_eq!(one("@h:").kind, ssh(None, "h", None));
}

#[test]
fn ssh_without_hostname_is_an_error() {
    assert_eq!(problem("user@"), Problem::MissingHostname);
    assert_eq!(problem("@"), Problem::MissingHostname);
    assert_eq!(problem("@/4"), Problem::MissingHostname);
}

#[test]
fn ssh_ipv6_brackets_are_refused() {
    assert_eq!(problem("@[::1]"), Problem::Ipv6InSsh);
}

#[test]
fn options_lzo_cpp_down_and_protocol_versions() {
    assert_eq!(one("h").protocol_version(), 1);
    assert_eq!(one("h,lzo").protocol_version(), 2);
    let h = one("h,cpp,lzo");
    assert_eq!((h.cpp, h.lzo, h.protocol_version()), (true, true, 3));
    assert_eq!(one("h,lzo,cpp").protocol_version(), 3);
    let d = one("h/3,down");
    assert!(d.down && !d.lzo);
    assert_eq!(d.limit, 3);
    assert_eq!(one("@h/2:cmd,cpp,lzo,down").protocol_version(), 3);
}

#[test]
fn cpp_without_lzo_is_an_error() {
    assert_eq!(problem("h,cpp"), Problem::CppWithoutLzo);
    assert_eq!(problem("@h,cpp"), Problem::CppWithoutLzo);
}

#[test]
fn auth_option_is_refused_clearly() {
    assert_eq!(problem("h,auth"), Problem::AuthNotSupported);
    assert_eq!(problem("h,lzo,auth=principal"), Problem::AuthNotSupported);
    let msg = parse("h,auth", ENV_ORIGIN).unwrap_err().to_string();
    assert!(
        msg.contains("not supported") && msg.contains("h,auth") && msg.contains("$DISTCC_HOSTS"),
        "{msg}"
    );
}

#[test]
fn unknown_option_and_trailing_comma_are_errors() {
    assert_eq!(problem("h,zzz"), Problem::UnknownOption("zzz".into()));
    assert_eq!(problem("h,lzo,"), Problem::UnknownOption(String::new()));
}

#[test]
fn text_after_an_option_is_ignored_with_a_warning() {
    // distcc matches options by prefix: `h,lzofoo` is `h,lzo`.
    let list = parse("h,lzofoo", ENV_ORIGIN).unwrap();
    assert!(list.hosts[0].lzo);
    assert_eq!(list.warnings.len(), 1);
    // `host,down/3`: the `/3` is ignored (distcc -j prints 4).
    let list = parse("host,down/3", ENV_ORIGIN).unwrap();
    assert_eq!(list.hosts[0].limit, 4);
    assert_eq!(list.warnings.len(), 1);
}

#[test]
fn text_after_a_limit_is_ignored_with_a_warning() {
    let list = parse("host/4x", ENV_ORIGIN).unwrap();
    assert_eq!(list.hosts[0].limit, 4);
    assert!(list.warnings[0].contains("\"x\""), "{:?}", list.warnings);
}

#[test]
fn zero_limit_is_an_error() {
    assert_eq!(problem("host/0"), Problem::BadLimit("/0".into()));
    assert_eq!(problem("localhost/"), Problem::BadLimit("/".into()));
    assert_eq!(problem("@h/0:cmd"), Problem::BadLimit("/0".into()));
}

#[test]
fn signed_or_huge_limit_is_an_error() {
    // distcc's atoi gives -3 slots for `host/-3` (-j prints -3) and reads `/+4:3633` as
    // 4 slots while silently dropping the port.
    assert_eq!(problem("host/-3"), Problem::BadLimit("/-3".into()));
    assert_eq!(problem("host/+4:3633"), Problem::BadLimit("/+4".into()));
    assert_eq!(
        problem("host/99999999999"),
        Problem::BadLimit("/99999999999".into())
    );
}

#[test]
fn bad_ports_are_errors() {
    // distcc accepts `host:` (port 0), `host:-1` and `host:99999`; it refuses `host:12x`.
    assert_eq!(problem("host:"), Problem::BadPort(String::new()));
    assert_eq!(problem("host:-1"), Problem::BadPort("-1".into()));
    assert_eq!(problem("host:99999"), Problem::BadPort("99999".into()));
    assert_eq!(problem("host:0"), Problem::BadPort("0".into()));
    assert_eq!(problem("host:12x"), Problem::BadPort("12x".into()));
    assert_eq!(problem("host:+80"), Problem::BadPort("+80".into()));
}

#[test]
fn equals_in_a_hostname_is_an_error() {
    // distcc makes TCP hosts named `localhost=4` and `host=4`.
    assert_eq!(problem("localhost=4"), Problem::EqualsInHostname);
    assert_eq!(problem("host=4"), Problem::EqualsInHostname);
}

#[test]
fn missing_tcp_hostname_is_an_error() {
    assert_eq!(problem(":3632"), Problem::MissingHostname);
    assert_eq!(problem("/4"), Problem::MissingHostname);
    assert_eq!(problem(",lzo"), Problem::MissingHostname);
}

#[test]
fn randomize_and_local_slots_are_list_options() {
    let list = parse(
        "--randomize --localslots=3 --localslots_cpp/12 a b",
        ENV_ORIGIN,
    )
    .unwrap();
    assert!(list.randomize);
    assert_eq!((list.local_slots, list.local_slots_cpp), (3, 12));
    assert_eq!(list.show_hosts().collect::<Vec<_>>(), ["a", "b"]);
    let list = parse("--localslots/5", ENV_ORIGIN).unwrap();
    assert_eq!(list.local_slots, 5);
    assert!(list.is_empty());
}

#[test]
fn zero_local_slots_is_an_error_not_a_host() {
    // distcc 3.4 turns `--localslots=0` into a TCP host named "--localslots=0".
    let p = problem("--localslots=0");
    assert_eq!(
        p,
        Problem::BadLocalSlots {
            option: "--localslots",
            value: "0".into()
        }
    );
    assert!(matches!(
        problem("--localslots_cpp=abc h"),
        Problem::BadLocalSlots {
            option: "--localslots_cpp",
            ..
        }
    ));
}

#[test]
fn list_options_without_value_warn_and_change_nothing() {
    let list = parse("--localslots --randomizeX h", ENV_ORIGIN).unwrap();
    assert_eq!(list.local_slots, 4);
    assert!(list.randomize);
    assert_eq!(list.warnings.len(), 2);
}

#[test]
fn unknown_double_dash_token_is_an_error() {
    // distcc makes a TCP host named `--randomise`.
    assert_eq!(problem("--randomise h"), Problem::UnknownListOption);
}

#[test]
fn zeroconf_marks_where_discovered_servers_go() {
    let mut list = parse("a +zeroconf b", ENV_ORIGIN).unwrap();
    assert_eq!(list.zeroconf, Some(1));
    let found = parse("10.0.0.7:3632/8", "zeroconf").unwrap().hosts;
    list.insert_discovered(found);
    assert_eq!(
        list.show_hosts().collect::<Vec<_>>(),
        ["a", "10.0.0.7:3632/8", "b"]
    );
    assert_eq!(list.hosts[1].limit, 8);
}

#[test]
fn zeroconf_twice_warns_and_counts_once() {
    let list = parse("+zeroconf a +zeroconf", ENV_ORIGIN).unwrap();
    assert_eq!(list.zeroconf, Some(0));
    assert_eq!(list.warnings.len(), 1);
}

#[test]
fn without_zeroconf_discovered_servers_are_not_added() {
    let mut list = parse("a", ENV_ORIGIN).unwrap();
    list.insert_discovered(parse("10.0.0.7:3632/8", "zeroconf").unwrap().hosts);
    assert_eq!(list.show_hosts().collect::<Vec<_>>(), ["a"]);
}

#[test]
fn comments_whitespace_and_newlines() {
    let text = "# farm\n h1\th2\r\nh3 # the old one\n\x0c h4#trailing\n#last";
    let list = parse(text, "/etc/distcc/hosts").unwrap();
    assert_eq!(
        list.show_hosts().collect::<Vec<_>>(),
        ["h1", "h2", "h3", "h4"]
    );
    // `#` ends a token even without a space before it (distcc --show-hosts prints "foo").
    assert_eq!(one("foo#bar").kind, tcp("foo", 3632));
}

#[test]
fn empty_or_comment_only_list_has_no_hosts() {
    assert!(parse("", ENV_ORIGIN).unwrap().is_empty());
    assert!(
        parse("  # only a comment\n", ENV_ORIGIN)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn any_error_rejects_the_whole_list() {
    assert!(parse("good1 bad/0 good2", ENV_ORIGIN).is_err());
}

#[test]
fn errors_name_the_token_and_origin() {
    let err = parse("a host/0 b", "/home/me/.distcc/hosts").unwrap_err();
    assert_eq!(
        err,
        HostsError::Syntax {
            origin: "/home/me/.distcc/hosts".into(),
            token: "host/0".into(),
            problem: Problem::BadLimit("/0".into())
        }
    );
    let msg = err.to_string();
    assert!(
        msg.contains("\"host/0\"") && msg.contains("/home/me/.distcc/hosts"),
        "{msg}"
    );
}

#[test]
fn lock_and_backoff_names_match_distcc() {
    assert_eq!(one("box:3633").lock_name(2), "cpu_tcp_box_3633_2");
    assert_eq!(one("box").backoff_name(), "backoff_tcp_box_3632_0");
    assert_eq!(one("me@box/8").lock_name(7), "cpu_ssh_box_7");
    assert_eq!(one("@box").backoff_name(), "backoff_ssh_box_0");
    assert_eq!(one("localhost/4").lock_name(1), "cpu_localhost_1");
    assert_eq!(local_lock_name(5), "cpu_localhost_5");
}

#[test]
fn show_hosts_and_jobs_count_down_hosts_too() {
    let list = parse("a/2,down b/3", ENV_ORIGIN).unwrap();
    assert_eq!(list.total_slots(), 5);
}

#[test]
fn shuffle_reorders_only_with_randomize_and_is_deterministic_per_seed() {
    let text = "a b c d e f g h";
    let mut plain = parse(text, ENV_ORIGIN).unwrap();
    plain.shuffle(42);
    assert_eq!(plain.show_hosts().collect::<String>(), "abcdefgh");
    let mut r1 = parse(&format!("--randomize {text}"), ENV_ORIGIN).unwrap();
    let mut r2 = r1.clone();
    r1.shuffle(42);
    r2.shuffle(42);
    assert_eq!(r1, r2);
    let mut names: Vec<_> = r1.show_hosts().collect();
    assert_ne!(names.concat(), "abcdefgh");
    names.sort();
    assert_eq!(names.concat(), "abcdefgh");
}

#[test]
fn choose_prefers_the_variable_even_when_empty() {
    let files = vec![(PathBuf::from("/d/hosts"), Some("filehost".to_string()))];
    let src = choose(Some(""), &files).unwrap();
    assert_eq!((src.origin.as_str(), src.text), ("$DISTCC_HOSTS", ""));
    assert!(load(Some(""), &files).unwrap().is_empty());
}

#[test]
fn choose_falls_back_to_the_first_readable_file() {
    let files = vec![
        (PathBuf::from("/home/me/.distcc/hosts"), None),
        (
            PathBuf::from("/etc/distcc/hosts"),
            Some("sys1 sys2".to_string()),
        ),
    ];
    let src = choose(None, &files).unwrap();
    assert_eq!(
        (src.origin.as_str(), src.text),
        ("/etc/distcc/hosts", "sys1 sys2")
    );
    let files = vec![
        (PathBuf::from("/home/me/.distcc/hosts"), Some(String::new())),
        (PathBuf::from("/etc/distcc/hosts"), Some("sys1".to_string())),
    ];
    // A readable empty topdir file wins (and yields no hosts), as in distcc.
    assert!(load(None, &files).unwrap().is_empty());
}

#[test]
fn no_source_at_all_is_not_set() {
    let files = vec![
        (PathBuf::from("/a/hosts"), None),
        (PathBuf::from("/etc/distcc/hosts"), None),
    ];
    let err = load(None, &files).unwrap_err();
    assert!(matches!(&err, HostsError::NotSet { tried } if tried.len() == 2));
    assert!(err.to_string().contains("/etc/distcc/hosts"));
}

#[test]
fn socket_entries_name_a_path_a_limit_and_options() {
    let spec = one("unix:/run/user/1000/distfarm/offer-ab.sock/4,lzo");
    assert_eq!(
        spec.kind,
        HostKind::Unix {
            path: "/run/user/1000/distfarm/offer-ab.sock".into()
        }
    );
    assert_eq!((spec.limit, spec.lzo), (4, true));
    assert_eq!(spec.protocol_version(), 2);
    let bare = one("unix:/tmp/d/s.sock");
    assert_eq!(bare.hostname(), "/tmp/d/s.sock");
    assert_eq!(bare.limit, DEFAULT_REMOTE_SLOTS);
    // A socket named by a number needs its limit written out.
    assert_eq!(one("unix:/tmp/d/7/2").hostname(), "/tmp/d/7");
    assert_eq!(one("unix:/tmp/d/s/1").lock_name(0), "cpu_unix__tmp_d_s_0");
}

#[test]
fn unix_without_a_slash_stays_a_tcp_host_and_bad_socket_entries_are_errors() {
    assert_eq!(one("unix:3632").kind, tcp("unix", 3632));
    assert_eq!(problem("unix:/"), Problem::BadSocketPath);
    assert_eq!(problem("unix:/tmp/d/"), Problem::BadSocketPath);
    assert_eq!(problem("unix:/tmp/s/0"), Problem::BadLimit("/0".into()));
    assert_eq!(problem("unix:/tmp/s,auth"), Problem::AuthNotSupported);
}

fn distfarm_one(token: &str) -> HostSpec {
    let list = parse_distfarm(token, DISTFARM_ENV_ORIGIN).unwrap();
    assert_eq!(list.hosts.len(), 1, "{token}");
    list.hosts.into_iter().next().unwrap()
}

fn distfarm_problem(text: &str) -> Problem {
    match parse_distfarm(text, DISTFARM_ENV_ORIGIN) {
        Err(HostsError::Syntax { problem, .. }) => problem,
        other => panic!("{text}: expected a syntax error, got {other:?}"),
    }
}

fn grpc(spec: &HostSpec) -> &GrpcEndpoint {
    match &spec.kind {
        HostKind::Grpc(endpoint) => endpoint,
        other => panic!("{}: expected a grpc entry, got {other:?}", spec.text),
    }
}

#[test]
fn grpc_entries_name_an_endpoint_a_limit_and_options() {
    let spec = distfarm_one(
        "grpcs://remote.example.com/40,instance=projects/p/instances/default,\
         key-file=/home/me/.config/bb.key,key-header=x-buildbuddy-api-key,\
         prop=OSFamily=linux,prop=container-image=docker://gcc@sha256:ab12",
    );
    assert_eq!(spec.limit, 40);
    assert!(!spec.down && !spec.lzo && !spec.cpp);
    let endpoint = grpc(&spec);
    assert_eq!(
        *endpoint,
        GrpcEndpoint {
            tls: true,
            host: "remote.example.com".into(),
            port: 443,
            instance: "projects/p/instances/default".into(),
            key: Some(grpc::ApiKey {
                header: "x-buildbuddy-api-key".into(),
                file: "/home/me/.config/bb.key".into(),
            }),
            tls_ca: None,
            client_cert: None,
            properties: vec![
                ("OSFamily".into(), "linux".into()),
                ("container-image".into(), "docker://gcc@sha256:ab12".into()),
            ],
            pump: false,
        }
    );
    assert_eq!(endpoint.uri(), "https://remote.example.com:443");
    assert_eq!(spec.hostname(), "remote.example.com");
    assert_eq!(spec.lock_name(3), "cpu_grpc_remote.example.com_443_3");
    assert_eq!(spec.backoff_name(), "backoff_grpc_remote.example.com_443_0");
}

#[test]
fn a_grpc_entry_with_cpp_asks_for_pump_mode_inputs() {
    let spec = distfarm_one("grpc://buildbarn:8980/8,cpp,instance=main");
    let endpoint = grpc(&spec);
    assert!(endpoint.pump);
    assert_eq!(endpoint.instance, "main");
    // distcc's own meaning of `,cpp` on a distcc host is not this entry's business.
    assert!(!spec.cpp && !spec.lzo);
    assert!(!grpc(&distfarm_one("grpc://buildbarn:8980")).pump);
    assert_eq!(
        distfarm_problem("grpc://e:1,cpp,cpp"),
        Problem::GrpcOptionTwice("cpp".into())
    );
}

#[test]
fn plain_grpc_needs_a_port_and_has_defaults() {
    let spec = distfarm_one("grpc://buildbarn:8980");
    let endpoint = grpc(&spec);
    assert_eq!((endpoint.tls, endpoint.port), (false, 8980));
    assert_eq!(endpoint.instance, "");
    assert_eq!(
        (endpoint.key.clone(), spec.limit),
        (None, DEFAULT_REMOTE_SLOTS)
    );
    assert_eq!(endpoint.uri(), "http://buildbarn:8980");
    assert_eq!(
        distfarm_problem("grpc://buildbarn/8"),
        Problem::GrpcNeedsPort
    );
    // The key's header defaults to `authorization` (its file then holds `Bearer TOKEN`).
    let keyed = distfarm_one("grpc://e:1,key-file=/k");
    assert_eq!(grpc(&keyed).key.as_ref().unwrap().header, "authorization");
    assert!(distfarm_one("grpc://e:1/2,down").down);
}

#[test]
fn grpc_ipv6_addresses_go_in_brackets() {
    let spec = distfarm_one("grpc://[::1]:8980/2");
    assert_eq!(grpc(&spec).host, "::1");
    assert_eq!(grpc(&spec).uri(), "http://[::1]:8980");
    assert_eq!(grpc(&distfarm_one("grpcs://[fe80::1]")).port, 443);
    assert_eq!(distfarm_problem("grpc://[::1:8980"), Problem::UnclosedIpv6);
}

#[test]
fn grpcs_takes_a_ca_and_a_client_certificate_with_its_key() {
    let spec = distfarm_one("grpcs://e:8980,tls-ca=/ca.pem,tls-cert=/c.pem,tls-key=/k.pem");
    let endpoint = grpc(&spec);
    assert_eq!(endpoint.tls_ca.as_deref(), Some(Path::new("/ca.pem")));
    assert_eq!(
        endpoint.client_cert,
        Some(grpc::ClientCert {
            cert: "/c.pem".into(),
            key: "/k.pem".into()
        })
    );
    assert_eq!(
        distfarm_problem("grpcs://e,tls-cert=/c.pem"),
        Problem::CertWithoutKey
    );
    assert_eq!(
        distfarm_problem("grpcs://e,tls-key=/k.pem"),
        Problem::CertWithoutKey
    );
    assert_eq!(
        distfarm_problem("grpc://e:1,tls-ca=/ca.pem"),
        Problem::TlsOptionWithoutTls
    );
}

#[test]
fn bad_grpc_entries_say_what_is_wrong() {
    let value = |option: &str| match distfarm_problem(&format!("grpc://e:1,{option}")) {
        Problem::GrpcOptionValue { option, .. } => option,
        other => panic!("{option}: {other:?}"),
    };
    // Paths must be absolute: the list is read from whatever directory a build runs in.
    assert_eq!(value("key-file=secret.key"), "key-file");
    assert_eq!(value("tls-ca=ca.pem"), "tls-ca");
    assert_eq!(value("instance"), "instance");
    assert_eq!(value("prop=novalue"), "prop");
    assert_eq!(value("prop==x"), "prop");
    assert_eq!(
        distfarm_problem("grpc://e:1,zstd"),
        Problem::GrpcUnknownOption("zstd".into())
    );
    assert_eq!(
        distfarm_problem("grpc://e:1,lzo"),
        Problem::GrpcDistccOption("lzo".into())
    );
    assert_eq!(
        distfarm_problem("grpc://e:1,instance=a,instance=b"),
        Problem::GrpcOptionTwice("instance".into())
    );
    assert_eq!(
        distfarm_problem("grpc://e:1,key-header=X-Api-Key,key-file=/k"),
        Problem::BadKeyHeader("X-Api-Key".into())
    );
    assert_eq!(
        distfarm_problem("grpc://e:1,key-header=x-api-key"),
        Problem::KeyHeaderWithoutFile
    );
    assert_eq!(
        distfarm_problem("grpc://e:1/0"),
        Problem::BadLimit("/0".into())
    );
    assert_eq!(
        distfarm_problem("grpc://e:1/4x"),
        Problem::BadLimit("/4x".into())
    );
    assert_eq!(distfarm_problem("grpc://e:0"), Problem::BadPort("0".into()));
    assert_eq!(distfarm_problem("grpc://:8980"), Problem::MissingHostname);
    // The message names the token, the list and the way out.
    let err = parse_distfarm("grpc://e:1,key-file=k", DISTFARM_ENV_ORIGIN).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("$DISTFARM_HOSTS"), "{text}");
    assert!(text.contains("\"grpc://e:1,key-file=k\""), "{text}");
    assert!(
        text.contains("key-file=/home/me/.config/engine.key"),
        "{text}"
    );
}

#[test]
fn grpc_entries_are_refused_in_the_distcc_list_with_where_they_go() {
    let err = parse("a/4 grpc://e:8980/8", ENV_ORIGIN).unwrap_err();
    let HostsError::Syntax {
        problem: why,
        token,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(token, "grpc://e:8980/8");
    assert_eq!(*why, Problem::DistfarmOnly("grpc:// and grpcs://"));
    let text = err.to_string();
    assert!(
        text.contains("DISTFARM_HOSTS") && text.contains("distfarm-hosts"),
        "{text}"
    );
    assert_eq!(
        problem("grpcs://e"),
        Problem::DistfarmOnly("grpc:// and grpcs://")
    );
}

#[test]
fn the_distfarm_list_takes_every_host_form_but_no_list_options() {
    let list = parse_distfarm(
        "# engines\ngrpc://e:8980/8 unix:/run/s.sock/2 box/4,lzo @ssh/8",
        "/home/me/.distcc/distfarm-hosts",
    )
    .unwrap();
    assert_eq!(list.hosts.len(), 4);
    assert_eq!(list.origin, "/home/me/.distcc/distfarm-hosts");
    assert_eq!(
        distfarm_problem("grpc://e:1 --randomize"),
        Problem::DistccOnly("a list option")
    );
    assert_eq!(
        distfarm_problem("+zeroconf"),
        Problem::DistccOnly("+zeroconf")
    );
}

#[test]
fn the_distfarm_list_comes_from_its_variable_else_its_file() {
    let file = (
        PathBuf::from("/d/distfarm-hosts"),
        Some("grpc://f:1".to_string()),
    );
    let from_env = load_distfarm(Some("grpc://v:1"), &file).unwrap().unwrap();
    assert_eq!(
        (from_env.origin.as_str(), from_env.hosts[0].hostname()),
        (DISTFARM_ENV_ORIGIN, "v")
    );
    // Set but empty: no distfarm-only hosts, the file is not read (as DISTCC_HOSTS="").
    assert!(load_distfarm(Some(""), &file).unwrap().unwrap().is_empty());
    let from_file = load_distfarm(None, &file).unwrap().unwrap();
    assert_eq!(from_file.hosts[0].hostname(), "f");
    let missing = (PathBuf::from("/d/distfarm-hosts"), None);
    assert_eq!(load_distfarm(None, &missing).unwrap(), None);
}

#[test]
fn appending_the_distfarm_list_keeps_the_distcc_settings_and_one_of_each_entry() {
    let mut list = parse("--localslots=2 a/4 b", ENV_ORIGIN).unwrap();
    list.append(parse_distfarm("grpc://e:1/8 b", DISTFARM_ENV_ORIGIN).unwrap());
    assert_eq!(
        list.show_hosts().collect::<Vec<_>>(),
        vec!["a/4", "b", "grpc://e:1/8"]
    );
    assert_eq!((list.local_slots, list.origin.as_str()), (2, ENV_ORIGIN));
}
