//! `grpc://HOST:PORT[/N][,OPTION…]` and `grpcs://HOST[:PORT][/N][,OPTION…]`: a Remote
//! Execution API (REAPI v2) endpoint as a host (distfarm's form, accepted only from the
//! distfarm-only list: `DISTFARM_HOSTS` or `$DISTCC_DIR/distfarm-hosts`).
//!
//! Options follow distcc's `,option` style; those with a value are written `name=value`, and
//! a value runs to the next `,` (so it holds no `,`, space or `#`):
//!
//! | option | meaning |
//! |---|---|
//! | `instance=NAME` | the REAPI instance name (default: empty) |
//! | `key-file=PATH` | an absolute path to a file whose content (trimmed) is sent as a header on every call: an API key never appears in a host list or on a command line |
//! | `key-header=NAME` | that header's name (default `authorization`, whose value is then e.g. `Bearer TOKEN`) |
//! | `tls-ca=PATH` | grpcs only: trust this PEM bundle instead of the system's roots |
//! | `tls-cert=PATH`, `tls-key=PATH` | grpcs only: a client certificate and its key (PEM), both or neither |
//! | `prop=NAME=VALUE` | a platform property the engine's workers need (repeatable) |
//! | `cpp` | pump mode, as distcc's `,cpp`: the client does not preprocess; the Action's input root is the source and its header closure (found by the agent's include scanner) at their absolute paths, the worker's compiler brings the system headers |
//! | `down` | listed but never given work, as for any host |

use std::path::PathBuf;

use super::{Problem, leading_number, take_until};

/// Plain gRPC entries start with this.
pub const GRPC_PREFIX: &str = "grpc://";
/// gRPC over TLS entries start with this.
pub const GRPCS_PREFIX: &str = "grpcs://";
/// The port of a `grpcs://` entry without one.
pub const DEFAULT_GRPCS_PORT: u16 = 443;
/// The header that carries the key of `key-file=` without `key-header=`.
pub const DEFAULT_KEY_HEADER: &str = "authorization";

/// One REAPI endpoint as its host entry describes it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GrpcEndpoint {
    /// `grpcs://`: TLS, checked against the system's roots or `tls-ca`.
    pub tls: bool,
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// `instance=`: the engine's instance name ("" when not given).
    pub instance: String,
    /// `key-file=` and `key-header=`.
    pub key: Option<ApiKey>,
    /// `tls-ca=`: the roots to trust instead of the system's.
    pub tls_ca: Option<PathBuf>,
    /// `tls-cert=` and `tls-key=`: the client certificate and its private key.
    pub client_cert: Option<ClientCert>,
    /// `prop=NAME=VALUE`, in the order given (later ones win over earlier ones and over the
    /// properties distfarm sets itself).
    pub properties: Vec<(String, String)>,
    /// `,cpp`: jobs go as their source and header closure (pump mode), not preprocessed.
    pub pump: bool,
}

/// A header whose value is read from a file when the endpoint is first used.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ApiKey {
    /// A gRPC metadata name (lowercase).
    pub header: String,
    pub file: PathBuf,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl GrpcEndpoint {
    /// The endpoint as messages name it: `grpc://HOST:PORT` or `grpcs://HOST:PORT`.
    pub fn name(&self) -> String {
        let scheme = if self.tls { GRPCS_PREFIX } else { GRPC_PREFIX };
        format!("{scheme}{}:{}", self.host, self.port)
    }

    /// `http://HOST:PORT` or `https://HOST:PORT`, as a gRPC channel is addressed.
    pub fn uri(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Whether `token` is written as a gRPC entry (checked before any other form).
pub fn is_grpc(token: &str) -> bool {
    token.starts_with(GRPC_PREFIX) || token.starts_with(GRPCS_PREFIX)
}

/// The entry after its scheme: the endpoint, the `/N` limit if given, and `,down`.
pub fn parse(token: &str) -> Result<(GrpcEndpoint, Option<u32>, bool), Problem> {
    let (tls, rest) = match token.strip_prefix(GRPCS_PREFIX) {
        Some(rest) => (true, rest),
        None => (false, token.strip_prefix(GRPC_PREFIX).unwrap_or(token)),
    };
    let (address, options) = take_until(rest, &[',']);
    let (host_port, limit) = match address.split_once('/') {
        Some((host_port, n)) => {
            let bad = || Problem::BadLimit(format!("/{n}"));
            match leading_number(n) {
                Some((n, "")) if n > 0 => (host_port, Some(n)),
                _ => return Err(bad()),
            }
        }
        None => (address, None),
    };
    let (host, port) = host_and_port(host_port)?;
    let port = match (port, tls) {
        (Some(port), _) => port,
        (None, true) => DEFAULT_GRPCS_PORT,
        (None, false) => return Err(Problem::GrpcNeedsPort),
    };
    let mut endpoint = GrpcEndpoint {
        tls,
        host: host.to_string(),
        port,
        instance: String::new(),
        key: None,
        tls_ca: None,
        client_cert: None,
        properties: Vec::new(),
        pump: false,
    };
    let down = apply_options(options, &mut endpoint)?;
    Ok((endpoint, limit, down))
}

/// `HOST:PORT`, `HOST`, `[V6]:PORT` or `[V6]`.
fn host_and_port(s: &str) -> Result<(&str, Option<u16>), Problem> {
    let (host, port) = if let Some(v6) = s.strip_prefix('[') {
        let (addr, rest) = v6.split_once(']').ok_or(Problem::UnclosedIpv6)?;
        let port = match rest {
            "" => None,
            _ => Some(
                rest.strip_prefix(':')
                    .ok_or(Problem::BadPort(rest.into()))?,
            ),
        };
        (addr, port)
    } else {
        match s.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (s, None),
        }
    };
    if host.is_empty() {
        return Err(Problem::MissingHostname);
    }
    if host.contains('=') {
        return Err(Problem::EqualsInHostname);
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Some(n),
            _ => return Err(Problem::BadPort(p.to_string())),
        },
    };
    Ok((host, port))
}

/// `{ "," OPTION }`: fills `endpoint`, says whether `down` was given.
fn apply_options(options: &str, endpoint: &mut GrpcEndpoint) -> Result<bool, Problem> {
    let mut down = false;
    let mut key_file = None;
    let mut key_header = None;
    let mut tls_cert = None;
    let mut tls_key = None;
    let mut instance = None;
    for option in options.split(',').skip(1) {
        let (name, value) = match option.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (option, None),
        };
        let needs = || Problem::GrpcOptionValue {
            option: name.to_string(),
            expected: value_hint(name),
        };
        match (name, value) {
            ("down", None) => down = true,
            ("cpp", None) => {
                if endpoint.pump {
                    return Err(Problem::GrpcOptionTwice(name.to_string()));
                }
                endpoint.pump = true;
            }
            ("instance", Some(v)) => {
                once(&instance, name)?;
                instance = Some(v.to_string());
            }
            ("key-file", Some(v)) => {
                once(&key_file, name)?;
                key_file = Some(absolute(v).ok_or_else(needs)?);
            }
            ("key-header", Some(v)) => {
                once(&key_header, name)?;
                if !is_metadata_name(v) {
                    return Err(Problem::BadKeyHeader(v.to_string()));
                }
                key_header = Some(v.to_string());
            }
            ("tls-ca", Some(v)) => {
                once(&endpoint.tls_ca, name)?;
                endpoint.tls_ca = Some(absolute(v).ok_or_else(needs)?);
            }
            ("tls-cert", Some(v)) => {
                once(&tls_cert, name)?;
                tls_cert = Some(absolute(v).ok_or_else(needs)?);
            }
            ("tls-key", Some(v)) => {
                once(&tls_key, name)?;
                tls_key = Some(absolute(v).ok_or_else(needs)?);
            }
            ("prop", Some(v)) => {
                let (name, value) = v
                    .split_once('=')
                    .filter(|(n, _)| !n.is_empty())
                    .ok_or_else(needs)?;
                endpoint
                    .properties
                    .push((name.to_string(), value.to_string()));
            }
            ("lzo" | "cpp", _) => return Err(Problem::GrpcDistccOption(name.to_string())),
            ("instance" | "key-file" | "key-header" | "tls-ca" | "tls-cert" | "tls-key", None)
            | ("prop", None) => return Err(needs()),
            _ => return Err(Problem::GrpcUnknownOption(option.to_string())),
        }
    }
    endpoint.instance = instance.unwrap_or_default();
    endpoint.key = match (key_file, key_header) {
        (Some(file), header) => Some(ApiKey {
            header: header.unwrap_or_else(|| DEFAULT_KEY_HEADER.to_string()),
            file,
        }),
        (None, Some(_)) => return Err(Problem::KeyHeaderWithoutFile),
        (None, None) => None,
    };
    endpoint.client_cert = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => Some(ClientCert { cert, key }),
        (None, None) => None,
        _ => return Err(Problem::CertWithoutKey),
    };
    if !endpoint.tls && (endpoint.tls_ca.is_some() || endpoint.client_cert.is_some()) {
        return Err(Problem::TlsOptionWithoutTls);
    }
    Ok(down)
}

/// An option that takes a value may be given once.
fn once<T>(slot: &Option<T>, name: &str) -> Result<(), Problem> {
    match slot {
        Some(_) => Err(Problem::GrpcOptionTwice(name.to_string())),
        None => Ok(()),
    }
}

fn value_hint(name: &str) -> &'static str {
    match name {
        "instance" => "a name, as in instance=main",
        "key-header" => "a header name, as in key-header=x-buildbuddy-api-key",
        "prop" => "NAME=VALUE, as in prop=OSFamily=linux",
        "key-file" => "an absolute path, as in key-file=/home/me/.config/engine.key",
        "tls-ca" => "an absolute path, as in tls-ca=/etc/ssl/engine-ca.pem",
        "tls-cert" => "an absolute path, as in tls-cert=/home/me/.config/engine.crt",
        _ => "an absolute path, as in tls-key=/home/me/.config/engine.key.pem",
    }
}

/// Paths in a host list are absolute: the list is read from any directory a build runs in.
fn absolute(value: &str) -> Option<PathBuf> {
    value.starts_with('/').then(|| PathBuf::from(value))
}

/// A gRPC metadata (HTTP/2 header) name for text values: lowercase letters, digits, `-`,
/// `_`, `.`; not `-bin` (binary values), not a pseudo-header.
fn is_metadata_name(name: &str) -> bool {
    !name.is_empty()
        && !name.ends_with("-bin")
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
}
