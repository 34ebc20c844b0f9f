//! One client connection, start to finish: read the request, check it, wait for a job slot,
//! compile, answer, and log one summary line.

use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::cache::{JobInput, Lookup, ResultCache, TreeDigest};
use super::client_stats::{ClientStats, Served};
use super::compilers::Resolved;
use super::confinement::ConfinementMode;
use super::header_store::HeaderStore;
use super::job::{self, JobDir, Outcome};
use super::job_root::JobRoot;
use super::pump_request::{TreeError, read_tree};
use super::refusal::Refusal;
use super::settings::ServerSettings;
use super::stats::JobStats;
use crate::exit_code::ExitCode;
use crate::protocol::{ProtocolError, RequestHeader, Response, TokenReader, TokenWriter, request};
use crate::transport::counted::{ByteCounts, Counted};

/// Who is on the other end, for the access check and the log.
#[derive(Debug, Clone, Copy)]
pub enum Peer {
    Tcp(SocketAddr),
    /// stdin/stdout that is not a socket: a job started by sshd (or a pipe).
    NotSocket,
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::NotSocket => f.write_str("NOTSOCKET"),
        }
    }
}

/// distccd's result classes, as they appear in the summary line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultClass {
    CompileOk,
    CompileError,
    CompileTimeout,
    ClientDisconnect,
    BadRequest,
    Refused,
    Other,
}

impl fmt::Display for ResultClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResultClass::CompileOk => "COMPILE_OK",
            ResultClass::CompileError => "COMPILE_ERROR",
            ResultClass::CompileTimeout => "COMPILE_TIMEOUT",
            ResultClass::ClientDisconnect => "CLI_DISCONN",
            ResultClass::BadRequest => "REJ_BAD_REQ",
            ResultClass::Refused | ResultClass::Other => "OTHER",
        })
    }
}

/// Shared by every connection of one server.
pub struct ServerContext {
    pub settings: ServerSettings,
    pub job_slots: Semaphore,
    /// distccd's counters, for `--stats`.
    pub stats: std::sync::Arc<JobStats>,
    /// Per client address, for `--stats`'s `GET /clients` (`distfarm mon --server`).
    pub clients: std::sync::Arc<ClientStats>,
    /// Session servers: contents sent before, so a distfarm client sends each header once.
    pub header_store: Option<HeaderStore>,
    /// `--cache`: answers kept for jobs sent again.
    pub cache: Option<ResultCache>,
    /// Cancelled when the server stops: connections still sending their request go.
    pub stopping: CancellationToken,
}

impl ServerContext {
    pub fn new(settings: ServerSettings) -> Self {
        let job_slots = Semaphore::new(settings.jobs.max(1));
        ServerContext {
            settings,
            job_slots,
            stats: Default::default(),
            clients: Default::default(),
            header_store: None,
            cache: None,
            stopping: CancellationToken::new(),
        }
    }

    /// Takes pump trees by content hash (`NHSH`), keeping up to `limit` bytes of contents.
    pub fn with_header_store(mut self, limit: u64) -> Self {
        self.header_store = Some(HeaderStore::new(limit));
        self
    }

    /// With a result cache (opened by the caller, as the server's own user).
    pub fn with_cache(mut self, cache: Option<ResultCache>) -> Self {
        if let Some(cache) = &cache {
            self.stats.show_cache(cache.counters());
        }
        self.cache = cache;
        self
    }
}

/// A connection that has not sent its command line yet, as the daemon sees it: it may be
/// told to go (the server is stopping, or full and this is its oldest such connection),
/// which it does only while it is still waiting for that command line.
#[derive(Clone, Default)]
pub struct HeaderWait {
    pub go: CancellationToken,
    /// Set once the command line is in (or the connection has ended).
    pub past: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl HeaderWait {
    pub fn is_past(&self) -> bool {
        self.past.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn pass(&self) {
        self.past.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Serves one job on `stream`, counts it in the statistics and returns how it ended.
pub async fn serve<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: Peer,
    ctx: &ServerContext,
) -> ResultClass {
    let wait = HeaderWait {
        go: ctx.stopping.clone(),
        ..Default::default()
    };
    serve_unless_told(stream, peer, ctx, &wait).await
}

/// `serve`, leaving before its command line is in if `wait.go` is cancelled.
pub async fn serve_unless_told<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: Peer,
    ctx: &ServerContext,
    wait: &HeaderWait,
) -> ResultClass {
    let started = Instant::now();
    let mut learned = Learned::default();
    let bytes = std::sync::Arc::new(ByteCounts::default());
    let stream = Counted::new(stream, bytes.clone());
    let class = serve_job(stream, peer, ctx, wait, started, &mut learned).await;
    wait.pass();
    let job = learned
        .job
        .as_ref()
        .map(|(c, s): &(String, String)| (c.as_str(), s.as_str()));
    ctx.stats.record(class, job, started, Instant::now());
    let served = Served {
        class,
        refusal: learned.refused.as_deref(),
        cache_hit: learned.cache_hit,
        bytes_received: bytes.received(),
        bytes_sent: bytes.sent(),
        time: started.elapsed(),
    };
    ctx.clients.record(peer, served);
    class
}

/// What `serve_job` learns about its connection, for the counters.
#[derive(Default)]
struct Learned {
    /// The compiler and source file, once the request names them.
    job: Option<(String, String)>,
    /// Why the job was refused, when it was.
    refused: Option<String>,
    /// The answer came from the result cache.
    cache_hit: bool,
}

/// `serve`, which fills in `learned` as it goes.
async fn serve_job<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    peer: Peer,
    ctx: &ServerContext,
    wait: &HeaderWait,
    started: Instant,
    learned: &mut Learned,
) -> ResultClass {
    let refused = &mut learned.refused;
    let (read_half, write_half) = tokio::io::split(stream);
    let mut reader = TokenReader::new(read_half, ctx.settings.limits);
    let mut writer = TokenWriter::new(write_half);

    let header = tokio::select! {
        read = tokio::time::timeout(ctx.settings.header_timeout, RequestHeader::read(&mut reader)) => read,
        _ = wait.go.cancelled() => {
            let why = if ctx.stopping.is_cancelled() {
                "the server is stopping"
            } else {
                "the server is full and this was its oldest connection without a request"
            };
            tracing::info!("client: {peer} dropped before its command line: {why}");
            return ResultClass::ClientDisconnect;
        }
    };
    wait.pass();
    let header = match header {
        Ok(Ok(header)) => header,
        Ok(Err(e)) => return bad_request(peer, &e),
        Err(_) => {
            tracing::warn!(
                "client: {peer} sent no complete request within {} s; dropped",
                ctx.settings.header_timeout.as_secs()
            );
            return ResultClass::BadRequest;
        }
    };
    let dir = match JobDir::create(&ctx.settings) {
        Ok(dir) => dir,
        Err(e) => {
            let refusal = Refusal::new(
                "the job",
                format!(
                    "cannot create a job directory in {}: {e}",
                    ctx.settings.tmpdir.display()
                ),
            );
            return refuse(peer, &header, refusal, &mut writer, refused).await;
        }
    };
    // A pump-mode tree is hashed as it arrives when there is a cache to key.
    let mut tree_digest = ctx.cache.as_ref().map(|_| TreeDigest::default());
    // The whole request within DISTCC_IO_TIMEOUT: a sender that trickles a byte now and
    // then makes progress on every read, and would otherwise hold its connection for ever.
    let request_time = ctx.settings.limits.io_timeout;
    let read_input = async {
        match &header.cwd {
            None => request::read_source(&mut reader, header.version)
                .await
                .map(Input::Preprocessed)
                .map_err(TreeError::Protocol),
            Some(cwd) => read_tree(
                &mut reader,
                &mut writer,
                cwd,
                dir.path(),
                ctx.header_store.as_ref(),
                tree_digest.as_mut(),
            )
            .await
            .map(|(root, workdir)| Input::Tree(root, workdir)),
        }
    };
    let input = match tokio::time::timeout_at((started + request_time).into(), read_input).await {
        Ok(Ok(input)) => input,
        Ok(Err(TreeError::Protocol(e))) => return bad_request(peer, &e),
        Ok(Err(TreeError::Refused(refusal))) => {
            return refuse(peer, &header, refusal, &mut writer, refused).await;
        }
        Err(_) => {
            tracing::warn!(
                "client: {peer} sent no complete request within {} s (DISTCC_IO_TIMEOUT); dropped",
                request_time.as_secs()
            );
            return ResultClass::BadRequest;
        }
    };
    let argv = match utf8_argv(&header) {
        Ok(argv) => argv,
        Err(refusal) => return refuse(peer, &header, refusal, &mut writer, refused).await,
    };
    // Pump-mode jobs say so in the summary line, before the command (whose last word is
    // the source, as in distccd's line).
    let mode = if header.cwd.is_some() {
        "mode:pump "
    } else {
        ""
    };
    let summary_cmd = || format!("{mode}{} {}", header.compiler(), source_name(&argv));
    learned.job = Some((
        header.compiler().to_string(),
        source_name(&argv).to_string(),
    ));

    let admitted = match &input {
        Input::Preprocessed(source) => job::admit(&argv, source, dir.path(), &ctx.settings),
        // Without confinement the compiler would open whatever the sent files name
        // (`#include "/etc/passwd"`) and show it in its messages.
        Input::Tree(..) if ctx.settings.confinement == ConfinementMode::Unconfined => {
            Err(Refusal::new(
                "a pump-mode job (protocol 3)",
                "this server runs compilers unconfined, and a compiler that \
             preprocesses could read the server's files into its messages; use ',lzo' \
             without ',cpp' for this host",
            ))
        }
        Input::Tree(root, workdir) => {
            job::admit_pump(&argv, root, workdir.clone(), dir.path(), &ctx.settings)
        }
    };
    let (compiler, prepared) = match admitted {
        Ok((Resolved::Program(compiler), prepared)) => (compiler, prepared),
        Ok((Resolved::Missing { name, why }, _)) => {
            tracing::warn!("client: {peer} cannot run compiler {name:?}: {why}");
            let response = job::compiler_missing(&name, &why);
            let class = match response
                .write(&mut writer, header.wire_version, header.version)
                .await
            {
                Ok(()) => ResultClass::CompileError,
                Err(_) => ResultClass::ClientDisconnect,
            };
            log_summary(peer, class, response.status, started, &summary_cmd());
            return class;
        }
        Err(refusal) => return refuse(peer, &header, refusal, &mut writer, refused).await,
    };

    // A cached answer needs no job slot; an identical job being compiled is waited for.
    let mut leader = None;
    let cache_input = match (&input, &header.cwd) {
        (Input::Preprocessed(source), _) => Some(JobInput::Preprocessed(source)),
        (Input::Tree(..), Some(cwd)) => tree_digest
            .and_then(TreeDigest::finish)
            .map(|digest| JobInput::Tree { cwd, digest }),
        (Input::Tree(..), None) => None,
    };
    if let (Some(cache), Some(cache_input)) = (&ctx.cache, cache_input)
        && let Some(key) = cache
            .key(&compiler, &prepared, cache_input, dir.path(), &ctx.settings)
            .await
    {
        match cache.lookup(key).await {
            Lookup::Hit(response) => {
                let class = match send(peer, &response, &header, &mut writer).await {
                    true => ResultClass::CompileOk,
                    false => ResultClass::ClientDisconnect,
                };
                let command = format!("cache:hit {}", summary_cmd());
                log_summary(peer, class, response.status, started, &command);
                learned.cache_hit = true;
                return class;
            }
            Lookup::Miss(l) => leader = Some(l),
        }
    }
    let summary_cmd = || match &leader {
        Some(_) => format!("cache:miss {}", summary_cmd()),
        None => summary_cmd(),
    };

    let _slot = ctx
        .job_slots
        .acquire()
        .await
        .expect("the semaphore is never closed");
    let mut read_half = reader.into_inner();
    let client_gone = async move {
        // A distcc client sends nothing after DOTI; end of stream means it hung up.
        let mut byte = [0u8; 64];
        while let Ok(n) = read_half.read(&mut byte).await {
            if n == 0 {
                break;
            }
        }
    };
    let outcome = job::run(
        &compiler,
        &prepared,
        input.source(),
        &dir,
        &ctx.settings,
        client_gone,
    )
    .await;
    // Still there for the cache's own look at the job (see `Leader::store`): kept, or
    // removed only when `dir` goes at the end of this function.
    let job_dir = dir.path().to_path_buf();
    if ctx.settings.save_temps {
        dir.keep();
    }
    let (class, response) = match outcome {
        Outcome::Compiled(r) if r.succeeded() => (ResultClass::CompileOk, r),
        Outcome::Compiled(r) => (ResultClass::CompileError, r),
        Outcome::TimedOut(r) => (ResultClass::CompileTimeout, r),
        Outcome::Failed(r) => (ResultClass::Other, r),
        Outcome::ClientGone => {
            log_summary(
                peer,
                ResultClass::ClientDisconnect,
                ExitCode::IoError.as_wait_status(),
                started,
                &summary_cmd(),
            );
            return ResultClass::ClientDisconnect;
        }
    };
    let compiled = class == ResultClass::CompileOk;
    let class = match send(peer, &response, &header, &mut writer).await {
        true => class,
        false => ResultClass::ClientDisconnect,
    };
    log_summary(peer, class, response.status, started, &summary_cmd());
    // After the answer: the client does not wait for the disk. Identical jobs wait until
    // the leader is dropped here (without storing when the compile failed).
    if let (Some(leader), true) = (leader, compiled) {
        leader
            .store(&response, &compiler, &prepared, &job_dir, &ctx.settings)
            .await;
    }
    class
}

/// Sends `response`; false when the client could not be sent it.
async fn send<W: AsyncWrite + Unpin>(
    peer: Peer,
    response: &Response,
    header: &RequestHeader,
    writer: &mut TokenWriter<W>,
) -> bool {
    match response
        .write(writer, header.wire_version, header.version)
        .await
    {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!("client: {peer} could not be sent the answer: {e}");
            false
        }
    }
}

fn utf8_argv(header: &RequestHeader) -> Result<Vec<String>, Refusal> {
    header
        .argv
        .iter()
        .enumerate()
        .map(|(i, a)| {
            String::from_utf8(a.clone())
                .map_err(|_| Refusal::new(format!("argument {i}"), "it is not valid UTF-8"))
        })
        .collect()
}

fn source_name(argv: &[String]) -> &str {
    argv.iter()
        .skip(1)
        .find(|a| !a.starts_with('-') && crate::source_names::preprocessed_extension(a).is_some())
        .map(String::as_str)
        .unwrap_or("")
}

fn bad_request(peer: Peer, e: &ProtocolError) -> ResultClass {
    tracing::warn!("client: {peer} sent a bad request: {e}");
    ResultClass::BadRequest
}

/// What a request brings to compile.
enum Input {
    /// Plain modes: the preprocessed source.
    Preprocessed(Vec<u8>),
    /// Pump mode: the client's files in a job root, and the mirrored working directory.
    Tree(JobRoot, std::path::PathBuf),
}

impl Input {
    fn source(&self) -> &[u8] {
        match self {
            Input::Preprocessed(source) => source,
            Input::Tree(..) => &[],
        }
    }
}

/// Answers a refused request with a failed job whose stderr says why, so that the client
/// shows the reason (and a distcc client recompiles locally).
async fn refuse<W: AsyncWrite + Unpin>(
    peer: Peer,
    header: &RequestHeader,
    refusal: Refusal,
    writer: &mut TokenWriter<W>,
    refused: &mut Option<String>,
) -> ResultClass {
    tracing::warn!("client: {peer} {refusal}");
    *refused = Some(format!("{}: {}", refusal.what, refusal.why));
    let response = Response::failure(
        ExitCode::AccessDenied.as_wait_status(),
        format!("{refusal}\n").into_bytes(),
    );
    if let Err(e) = response
        .write(writer, header.wire_version, header.version)
        .await
    {
        tracing::debug!("client: {peer} left before the refusal was sent: {e}");
    }
    ResultClass::Refused
}

fn log_summary(peer: Peer, class: ResultClass, status: u32, started: Instant, command: &str) {
    let exit = (status >> 8) & 0xff;
    let sig = status & 0x7f;
    let core = (status >> 7) & 1;
    tracing::info!(
        "client: {peer} {class} exit:{exit} sig:{sig} core:{core} ret:{ret} time:{ms}ms {command}",
        ret = if class == ResultClass::CompileOk {
            0
        } else {
            exit
        },
        ms = started.elapsed().as_millis(),
    );
}
