//! A gRPC channel to one endpoint, as its host entry describes it: plain or TLS (the
//! system's roots, or the entry's `tls-ca`), a client certificate, and the API key read from
//! its file and sent as a header on every call. One [`Engine`] per endpoint is meant to be
//! kept (the agent's job): a channel multiplexes every job's calls.

use std::path::Path;
use std::time::Duration;

use tonic::metadata::{Ascii, MetadataKey, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use super::bytestream_proto::byte_stream_client::ByteStreamClient;
use super::error::ReapiError;
use super::proto::action_cache_client::ActionCacheClient;
use super::proto::content_addressable_storage_client::ContentAddressableStorageClient;
use super::proto::execution_client::ExecutionClient;
use crate::hosts::GrpcEndpoint;

/// The largest message we accept from an engine. Outputs larger than a batch come by
/// ByteStream in chunks, so this only bounds what a misbehaving engine can make us hold.
const MAX_DECODED: usize = 64 << 20;

/// A connected endpoint: its channel, instance name and key header.
#[derive(Clone)]
pub struct Engine {
    /// `grpc://HOST:PORT` (or `grpcs://`), for messages.
    pub name: String,
    pub instance: String,
    channel: Channel,
    key: KeyHeader,
}

/// Adds the entry's key header to every call.
#[derive(Clone, Default)]
pub struct KeyHeader(Option<(MetadataKey<Ascii>, MetadataValue<Ascii>)>);

impl Interceptor for KeyHeader {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some((name, value)) = &self.0 {
            request.metadata_mut().insert(name.clone(), value.clone());
        }
        Ok(request)
    }
}

/// A channel with the key header on every call.
pub type Authed = InterceptedService<Channel, KeyHeader>;

impl Engine {
    /// Connects to `endpoint` within `timeout`, reading the files its entry names.
    pub async fn connect(endpoint: &GrpcEndpoint, timeout: Duration) -> Result<Engine, ReapiError> {
        let name = endpoint.name();
        let connect_error = |message: String| ReapiError::Connect {
            endpoint: name.clone(),
            message,
        };
        let mut target = Endpoint::from_shared(endpoint.uri())
            .map_err(|e| connect_error(e.to_string()))?
            .connect_timeout(timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(30))
            .keep_alive_timeout(Duration::from_secs(20));
        if endpoint.tls {
            let tls = tls_config(endpoint, &name)?;
            target = target
                .tls_config(tls)
                .map_err(|e| connect_error(format!("TLS setup: {e}")))?;
        }
        let key = key_header(endpoint, &name)?;
        let channel = tokio::time::timeout(timeout, target.connect())
            .await
            .map_err(|_| connect_error(format!("no connection within {} s", timeout.as_secs())))?
            .map_err(|e| connect_error(error_chain(&e)))?;
        Ok(Engine {
            name,
            instance: endpoint.instance.clone(),
            channel,
            key,
        })
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.key.clone())
    }

    pub fn action_cache(&self) -> ActionCacheClient<Authed> {
        ActionCacheClient::new(self.authed()).max_decoding_message_size(MAX_DECODED)
    }

    pub fn cas(&self) -> ContentAddressableStorageClient<Authed> {
        ContentAddressableStorageClient::new(self.authed()).max_decoding_message_size(MAX_DECODED)
    }

    pub fn execution(&self) -> ExecutionClient<Authed> {
        ExecutionClient::new(self.authed()).max_decoding_message_size(MAX_DECODED)
    }

    pub fn byte_stream(&self) -> ByteStreamClient<Authed> {
        ByteStreamClient::new(self.authed()).max_decoding_message_size(MAX_DECODED)
    }
}

/// The system's roots, or only the entry's `tls-ca`; the client certificate if given.
fn tls_config(endpoint: &GrpcEndpoint, name: &str) -> Result<ClientTlsConfig, ReapiError> {
    let mut tls = ClientTlsConfig::new().domain_name(endpoint.host.clone());
    tls = match &endpoint.tls_ca {
        Some(ca) => tls.ca_certificate(Certificate::from_pem(read(name, "tls-ca", ca)?)),
        None => tls.with_native_roots(),
    };
    if let Some(client) = &endpoint.client_cert {
        let cert = read(name, "tls-cert", &client.cert)?;
        let key = read(name, "tls-key", &client.key)?;
        tls = tls.identity(Identity::from_pem(cert, key));
    }
    Ok(tls)
}

/// The `key-file`'s content (surrounding white space trimmed) under `key-header`.
fn key_header(endpoint: &GrpcEndpoint, name: &str) -> Result<KeyHeader, ReapiError> {
    let Some(key) = &endpoint.key else {
        return Ok(KeyHeader::default());
    };
    let bad = |message: &str| ReapiError::EntryFile {
        endpoint: name.to_string(),
        option: "key-file".into(),
        path: key.file.clone(),
        message: message.to_string(),
    };
    let bytes = read(name, "key-file", &key.file)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| bad("it is not text"))?
        .trim();
    if text.is_empty() {
        return Err(bad("it is empty"));
    }
    let value = MetadataValue::try_from(text)
        .map_err(|_| bad("it holds characters a header cannot carry (one line of text)"))?;
    // The grammar checked the name (`hosts_grpc.rs`).
    let header = MetadataKey::from_bytes(key.header.as_bytes())
        .map_err(|_| bad("its key-header is not a header name"))?;
    Ok(KeyHeader(Some((header, value))))
}

fn read(name: &str, option: &str, path: &Path) -> Result<Vec<u8>, ReapiError> {
    std::fs::read(path).map_err(|e| ReapiError::EntryFile {
        endpoint: name.to_string(),
        option: option.to_string(),
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// An error with its causes: tonic's own message alone is often "transport error".
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
