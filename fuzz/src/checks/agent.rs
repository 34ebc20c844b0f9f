//! The agent's unix socket, both ways. The agent reads the first token and then a job
//! request (`AGNT`), an include-scan request (`SCAN`), a report (`REPT`, JSON), a monitor's
//! `VIEW` or a zeroconf browse request (`BRWS`, JSON), and after an engine's `OPEN` the
//! Action (`ACTN`), and on a scan's connection the tree requests (`TALL`, `THSH`); a wrapper
//! reads `PICK`+`SLOT`/`NONE`, then `OPEN`+`STOR`/`FAIL`, the scan's answer (`TREE` and its
//! listing, or `GIVE`), a tree request's answer (`WROT`, `TBYT`, `FAIL`) or an engine job's
//! end (`DONE` …, or `RERR`, JSON), and a monitor the `VIEW` JSON. Everything the writers
//! produce reads back equal; a local peer sending garbage gets an error, never a panic.

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arbitrary::Arbitrary;
use distfarm::protocol::agent::{self, AgentRequest, BrowseRequest, Channel, JobRequest, Pick};
use distfarm::protocol::agent_engine::{self, ActionRequest};
use distfarm::protocol::agent_scan::{ScanAnswer, ScanRequest, TreeAnswer, TreeRequest};
use distfarm::protocol::hashed_tree::Listing;
use distfarm::protocol::packed_tree::{OutgoingEntry, PackedFile};
use distfarm::protocol::token::HEADER_LEN;
use distfarm::protocol::{ProtocolError, TokenWriter};
use distfarm::reapi::error::ReapiError;
use distfarm::reapi::run::{Finished, ResultSource};

use super::memory::bounded;
use super::wire::{Corruption, block_on, corrupt, reader};

#[derive(Arbitrary, Debug)]
pub enum Input {
    Request {
        message: Message,
        corruptions: Vec<Corruption>,
    },
    Answer {
        answer: Answer,
        corruptions: Vec<Corruption>,
    },
}

#[derive(Arbitrary, Debug)]
pub enum Message {
    Job {
        ssh_config: String,
        auth_sock: String,
        backoff: u32,
        slot_held: bool,
        pid: u32,
        file: String,
        hosts: Vec<String>,
    },
    Scan {
        cwd: Vec<u8>,
        argv: Vec<String>,
        path: Vec<u8>,
        variables: Vec<(String, Vec<u8>)>,
    },
    Report(Vec<u8>),
    View(u32),
    Action {
        timeout: u32,
        blobs: Vec<Vec<u8>>,
    },
    Browse {
        distcc_dir: Vec<u8>,
        path: Option<Vec<u8>>,
    },
    /// A `BRWS` body that may not be JSON at all.
    BrowseText(Vec<u8>),
    /// A tree request on a scan's connection: the whole tree, or these contents.
    Tree(Option<Vec<[u8; 32]>>),
    Other([u8; 4], u32),
}

#[derive(Arbitrary, Debug)]
pub enum Answer {
    Pick {
        index: u32,
        channel: ChannelAnswer,
    },
    NoHost(String),
    /// The tree's listing: files (name, content) and links (name, target).
    Found {
        files: Vec<(Vec<u8>, Vec<u8>)>,
        links: Vec<(Vec<u8>, Vec<u8>)>,
    },
    GaveUp(String),
    TreeWritten(u32),
    TreeBytes(Vec<u8>),
    TreeFailed(String),
    View(Vec<u8>),
    EngineDone {
        exit_code: i32,
        stdout: Vec<u8>,
        stderr: Vec<u8>,
        object: Option<Vec<u8>>,
        extras: Vec<(String, Vec<u8>)>,
        source: u8,
        uploaded: u32,
    },
    EngineFailed {
        endpoint: String,
        why: String,
    },
    /// An `RERR` body that may not be JSON at all.
    EngineErrorText(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
pub enum ChannelAnswer {
    Open { slot: u32, stores_headers: bool },
    Failed(String),
}

fn path(bytes: &[u8]) -> PathBuf {
    PathBuf::from(OsString::from_vec(bytes.to_vec()))
}

/// The bytes `$write` (an async write to the `TokenWriter` named `$w`) produced.
macro_rules! written {
    ($w:ident => $write:expr) => {{
        let mut $w = TokenWriter::new(Vec::new());
        block_on($write).expect("well-formed input encodes");
        $w.into_inner()
    }};
}

pub fn fuzz(bytes: &[u8]) {
    super::structured(bytes, check);
}

pub fn check(input: Input) {
    match input {
        Input::Request {
            message,
            corruptions,
        } => request(message, &corruptions),
        Input::Answer {
            answer,
            corruptions,
        } => answer_read(answer, &corruptions),
    }
}

fn request(message: Message, corruptions: &[Corruption]) {
    let mut w = TokenWriter::new(Vec::new());
    let expected = match message {
        Message::Job {
            ssh_config,
            auth_sock,
            backoff,
            slot_held,
            pid,
            file,
            hosts,
        } => {
            let job = JobRequest {
                ssh_config: Some(ssh_config).filter(|s| !s.is_empty()),
                auth_sock: Some(auth_sock).filter(|s| !s.is_empty()),
                backoff: Duration::from_secs(backoff.into()),
                slot_held,
                pid,
                file,
                hosts,
            };
            block_on(job.write(&mut w)).expect("to memory");
            // The agent takes at most 1,000 hosts.
            (job.hosts.len() <= 1000).then_some(AgentRequest::Job(job))
        }
        Message::Scan {
            cwd,
            argv,
            path: path_var,
            variables,
        } => {
            let scan = ScanRequest {
                cwd: path(&cwd),
                argv,
                path: Some(OsString::from_vec(path_var)).filter(|p| !p.is_empty()),
                search_variables: variables
                    .into_iter()
                    .map(|(n, v)| (n, OsString::from_vec(v)))
                    .collect(),
            };
            block_on(scan.write(&mut w)).expect("to memory");
            Some(AgentRequest::Scan(scan))
        }
        Message::Report(json) => {
            w.string(b"REPT", &json).expect("short");
            block_on(w.flush()).expect("to memory");
            None
        }
        Message::View(version) => {
            w.int(b"VIEW", version);
            block_on(w.flush()).expect("to memory");
            (version == agent::VIEW_VERSION).then_some(AgentRequest::View)
        }
        Message::Browse { distcc_dir, path } => {
            let browse = BrowseRequest {
                distcc_dir: OsString::from_vec(distcc_dir),
                path: path.map(OsString::from_vec),
            };
            let json = serde_json::to_vec(&browse).expect("plain data serializes");
            w.string(b"BRWS", &json).expect("short");
            block_on(w.flush()).expect("to memory");
            Some(AgentRequest::Browse(browse))
        }
        Message::BrowseText(body) => {
            w.string(b"BRWS", &body).expect("short");
            block_on(w.flush()).expect("to memory");
            None
        }
        Message::Action { timeout, blobs } => {
            let action = ActionRequest {
                timeout: Duration::from_secs(timeout.into()),
                blobs,
            };
            let sent = corrupt(written!(w => action.write(&mut w)), corruptions);
            let got = bounded("engine action", sent.len(), || {
                block_on(ActionRequest::read(&mut reader(&sent)))
            });
            // An Action and its Command at least.
            let readable = action.blobs.len() >= 2;
            if corruptions.is_empty() && readable {
                assert_eq!(got.expect("a well-formed Action reads back"), Some(action));
            }
            return;
        }
        Message::Tree(hashes) => {
            let request = match hashes {
                None => TreeRequest::Whole,
                Some(hashes) => TreeRequest::Contents(hashes),
            };
            let sent = corrupt(request.encode().expect("short"), corruptions);
            let got = bounded("tree request", sent.len(), || {
                let header: [u8; HEADER_LEN] = sent.get(..HEADER_LEN)?.try_into().ok()?;
                let mut rest = reader(&sent[HEADER_LEN..]);
                Some(block_on(TreeRequest::read_after(&header, &mut rest)))
            });
            if corruptions.is_empty() {
                let got = got
                    .expect("a header")
                    .expect("a well-formed request reads back");
                assert_eq!(got, request);
            }
            return;
        }
        Message::Other(token, value) => {
            w.int(&token, value);
            block_on(w.flush()).expect("to memory");
            None
        }
    };
    let sent = corrupt(w.into_inner(), corruptions);
    let got = bounded("agent request", sent.len(), || {
        block_on(AgentRequest::read(&mut reader(&sent)))
    });
    if let (Some(expected), true) = (expected, corruptions.is_empty()) {
        assert_eq!(got.expect("a well-formed request reads back"), expected);
    }
}

fn answer_read(answer: Answer, corruptions: &[Corruption]) {
    match answer {
        Answer::Pick { index, channel } => {
            let pick = Pick::Host {
                index: index as usize,
                slot: index,
            };
            let channel = match channel {
                ChannelAnswer::Open {
                    slot,
                    stores_headers,
                } => Channel::Open {
                    slot,
                    stores_headers,
                },
                ChannelAnswer::Failed(message) => Channel::Failed { message },
            };
            let mut sent = written!(w => pick.write(&mut w));
            sent.extend(written!(w => channel.write(&mut w)));
            let sent = corrupt(sent, corruptions);
            let got = bounded("agent answer", sent.len(), || {
                block_on(async {
                    let mut r = reader(&sent);
                    let pick = Pick::read(&mut r).await?;
                    Ok::<_, ProtocolError>((pick, Channel::read(&mut r).await?))
                })
            });
            if corruptions.is_empty() {
                let long_failure =
                    matches!(&channel, Channel::Failed { message } if message.len() > 65536);
                if !long_failure {
                    assert_eq!(got.expect("reads back"), (pick, channel));
                }
            }
        }
        Answer::NoHost(message) => {
            let pick = Pick::NoHost { message };
            let sent = corrupt(written!(w => pick.write(&mut w)), corruptions);
            let got = bounded("agent answer", sent.len(), || {
                block_on(Pick::read(&mut reader(&sent)))
            });
            if corruptions.is_empty() {
                assert_eq!(got.expect("reads back"), pick);
            }
        }
        Answer::Found { files, links } => {
            let files = files
                .into_iter()
                .map(|(name, content)| OutgoingEntry::File {
                    name,
                    packed: Arc::new(PackedFile::of(&content)),
                });
            let links = links
                .into_iter()
                .map(|(name, target)| OutgoingEntry::Link { name, target });
            let entries: Vec<_> = files.chain(links).collect();
            scan_answer(ScanAnswer::Found(Listing::of(&entries)), corruptions);
        }
        Answer::GaveUp(why) => scan_answer(ScanAnswer::GaveUp(why), corruptions),
        Answer::TreeWritten(n) => tree_answer(TreeAnswer::Written(n), corruptions),
        Answer::TreeBytes(bytes) => tree_answer(TreeAnswer::Bytes(bytes), corruptions),
        Answer::TreeFailed(why) => tree_answer(TreeAnswer::Failed(why), corruptions),
        Answer::EngineDone {
            exit_code,
            stdout,
            stderr,
            object,
            extras,
            source,
            uploaded,
        } => {
            let source = ResultSource::from_number(u32::from(source % 3)).expect("0, 1 or 2");
            engine_answer(
                Ok(Finished {
                    exit_code,
                    stdout,
                    stderr,
                    object,
                    extras,
                    source,
                    uploaded: uploaded as usize,
                }),
                corruptions,
            );
        }
        Answer::EngineFailed { endpoint, why } => {
            engine_answer(Err(ReapiError::Engine { endpoint, why }), corruptions)
        }
        Answer::EngineErrorText(body) => {
            let mut w = TokenWriter::new(Vec::new());
            w.string(b"RERR", &body).expect("short");
            block_on(w.flush()).expect("to memory");
            let sent = corrupt(w.into_inner(), corruptions);
            let _ = bounded("engine answer", sent.len(), || {
                block_on(agent_engine::read_answer(&mut reader(&sent)))
            });
        }
        Answer::View(json) => {
            let mut w = TokenWriter::new(Vec::new());
            w.string(b"VIEW", &json).expect("short");
            block_on(w.flush()).expect("to memory");
            let sent = corrupt(w.into_inner(), corruptions);
            let _ = bounded("agent view", sent.len(), || {
                block_on(agent::read_view(&mut reader(&sent)))
            });
        }
    }
}

fn scan_answer(answer: ScanAnswer, corruptions: &[Corruption]) {
    let sent = corrupt(written!(w => answer.write(&mut w)), corruptions);
    let got = bounded("scan answer", sent.len(), || {
        block_on(ScanAnswer::read(&mut reader(&sent)))
    });
    if corruptions.is_empty() {
        let long = matches!(&answer, ScanAnswer::GaveUp(why) if why.len() > 65536);
        if !long {
            assert_eq!(got.expect("reads back"), answer);
        }
    }
}

fn tree_answer(answer: TreeAnswer, corruptions: &[Corruption]) {
    let sent = corrupt(written!(w => answer.write(&mut w)), corruptions);
    let got = bounded("tree answer", sent.len(), || {
        block_on(TreeAnswer::read(&mut reader(&sent)))
    });
    if corruptions.is_empty() {
        let long = matches!(&answer, TreeAnswer::Failed(why) if why.len() > 65536);
        if !long {
            assert_eq!(got.expect("reads back"), answer);
        }
    }
}

fn engine_answer(answer: Result<Finished, ReapiError>, corruptions: &[Corruption]) {
    let sent = corrupt(
        written!(w => agent_engine::write_answer(&mut w, &answer)),
        corruptions,
    );
    let got = bounded("engine answer", sent.len(), || {
        block_on(agent_engine::read_answer(&mut reader(&sent)))
    });
    if corruptions.is_empty() {
        // ReapiError is compared by what it says: it holds no PartialEq.
        assert_eq!(
            format!("{:?}", got.expect("reads back")),
            format!("{answer:?}")
        );
    }
}
