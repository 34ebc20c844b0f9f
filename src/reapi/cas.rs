//! Blobs to and from the engine's CAS: only what it is missing goes up (batched, or by
//! ByteStream past the message limit), and every blob that comes down is checked against
//! its digest before anyone uses it.

use std::collections::HashMap;

use super::bytestream_proto::{ReadRequest, WriteRequest};
use super::connect::Engine;
use super::digest;
use super::error::ReapiError;
use super::proto::{
    BatchReadBlobsRequest, BatchUpdateBlobsRequest, Digest, FindMissingBlobsRequest,
    batch_update_blobs_request,
};

/// The most one batch call carries: gRPC's default 4 MiB message limit, less room for the
/// digests and framing around the data. A larger blob goes by ByteStream.
pub const BATCH_BYTES: usize = (4 << 20) - (64 << 10);
/// ByteStream chunk size.
const CHUNK: usize = 1 << 20;

/// Uploads the blobs the engine does not have; returns how many went up.
pub async fn upload_missing(
    engine: &Engine,
    blobs: &[(Digest, Vec<u8>)],
) -> Result<usize, ReapiError> {
    let mut unique: Vec<&(Digest, Vec<u8>)> = Vec::with_capacity(blobs.len());
    for blob in blobs {
        if !unique.iter().any(|b| b.0 == blob.0) {
            unique.push(blob);
        }
    }
    let request = FindMissingBlobsRequest {
        instance_name: engine.instance.clone(),
        blob_digests: unique.iter().map(|b| b.0.clone()).collect(),
        ..Default::default()
    };
    let missing = engine
        .cas()
        .find_missing_blobs(request)
        .await
        .map_err(|s| call(engine, "FindMissingBlobs", s))?
        .into_inner()
        .missing_blob_digests;
    let missing: Vec<&(Digest, Vec<u8>)> = unique
        .into_iter()
        .filter(|b| missing.contains(&b.0))
        .collect();
    let (large, small): (Vec<_>, Vec<_>) = missing.iter().partition(|b| b.1.len() > BATCH_BYTES);
    for batch in batches(&small) {
        update_batch(engine, &batch).await?;
    }
    for blob in &large {
        write(engine, &blob.0, &blob.1).await?;
    }
    Ok(missing.len())
}

/// Groups blobs into calls of at most [`BATCH_BYTES`] of data each.
fn batches<'b>(blobs: &[&'b (Digest, Vec<u8>)]) -> Vec<Vec<&'b (Digest, Vec<u8>)>> {
    let mut out: Vec<Vec<&(Digest, Vec<u8>)>> = Vec::new();
    let mut size = 0;
    for blob in blobs {
        match out.last_mut() {
            Some(batch) if size + blob.1.len() <= BATCH_BYTES => batch.push(blob),
            _ => {
                out.push(vec![blob]);
                size = 0;
            }
        }
        size += blob.1.len();
    }
    out
}

async fn update_batch(engine: &Engine, batch: &[&(Digest, Vec<u8>)]) -> Result<(), ReapiError> {
    let request = BatchUpdateBlobsRequest {
        instance_name: engine.instance.clone(),
        requests: batch
            .iter()
            .map(|(digest, data)| batch_update_blobs_request::Request {
                digest: Some(digest.clone()),
                data: data.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    let responses = engine
        .cas()
        .batch_update_blobs(request)
        .await
        .map_err(|s| call(engine, "BatchUpdateBlobs", s))?
        .into_inner()
        .responses;
    for (digest, _) in batch {
        let status = responses
            .iter()
            .find(|r| r.digest.as_ref() == Some(digest))
            .map(|r| r.status.clone().unwrap_or_default());
        match status {
            Some(status) if status.code == 0 => {}
            Some(status) => {
                return Err(engine_error(
                    engine,
                    format!(
                        "storing blob {} failed (code {}: {})",
                        digest::display(digest),
                        status.code,
                        status.message
                    ),
                ));
            }
            None => {
                return Err(engine_error(
                    engine,
                    format!(
                        "BatchUpdateBlobs did not answer for blob {}",
                        digest::display(digest)
                    ),
                ));
            }
        }
    }
    Ok(())
}

/// One blob by `ByteStream.Write`, in chunks.
async fn write(engine: &Engine, digest: &Digest, data: &[u8]) -> Result<(), ReapiError> {
    let resource = format!(
        "{}uploads/{}/blobs/{}",
        instance_prefix(&engine.instance),
        upload_id(),
        digest::display(digest)
    );
    let chunks: Vec<WriteRequest> = if data.is_empty() {
        vec![WriteRequest {
            resource_name: resource,
            write_offset: 0,
            finish_write: true,
            data: Vec::new(),
        }]
    } else {
        let count = data.len().div_ceil(CHUNK);
        data.chunks(CHUNK)
            .enumerate()
            .map(|(i, chunk)| WriteRequest {
                // Only the first request needs the name.
                resource_name: if i == 0 {
                    resource.clone()
                } else {
                    String::new()
                },
                write_offset: (i * CHUNK) as i64,
                finish_write: i + 1 == count,
                data: chunk.to_vec(),
            })
            .collect()
    };
    let committed = engine
        .byte_stream()
        .write(tokio_stream::iter(chunks))
        .await
        .map_err(|s| call(engine, "ByteStream.Write", s))?
        .into_inner()
        .committed_size;
    if committed != data.len() as i64 {
        return Err(engine_error(
            engine,
            format!(
                "ByteStream.Write of blob {} committed {committed} bytes",
                digest::display(digest)
            ),
        ));
    }
    Ok(())
}

/// The blobs named by `digests`, each checked against its digest, by hash.
pub async fn download(
    engine: &Engine,
    digests: &[Digest],
) -> Result<HashMap<String, Vec<u8>>, ReapiError> {
    let mut out = HashMap::new();
    let mut small: Vec<&Digest> = Vec::new();
    for d in digests {
        if d.size_bytes == 0 {
            out.insert(d.hash.clone(), Vec::new());
        } else if d.size_bytes as usize > BATCH_BYTES {
            out.insert(d.hash.clone(), read(engine, d).await?);
        } else if !small.contains(&d) {
            small.push(d);
        }
    }
    let owned: Vec<(Digest, Vec<u8>)> = small
        .iter()
        .map(|d| ((*d).clone(), vec![0; d.size_bytes as usize]))
        .collect();
    let refs: Vec<&(Digest, Vec<u8>)> = owned.iter().collect();
    for batch in batches(&refs) {
        let request = BatchReadBlobsRequest {
            instance_name: engine.instance.clone(),
            digests: batch.iter().map(|b| b.0.clone()).collect(),
            ..Default::default()
        };
        let responses = engine
            .cas()
            .batch_read_blobs(request)
            .await
            .map_err(|s| call(engine, "BatchReadBlobs", s))?
            .into_inner()
            .responses;
        for (digest, _) in batch {
            let Some(response) = responses.iter().find(|r| r.digest.as_ref() == Some(digest))
            else {
                return Err(engine_error(
                    engine,
                    format!(
                        "BatchReadBlobs did not answer for blob {}",
                        digest::display(digest)
                    ),
                ));
            };
            let status = response.status.clone().unwrap_or_default();
            if status.code != 0 {
                return Err(engine_error(
                    engine,
                    format!(
                        "reading blob {} failed (code {}: {})",
                        digest::display(digest),
                        status.code,
                        status.message
                    ),
                ));
            }
            checked(engine, digest, &response.data)?;
            out.insert(digest.hash.clone(), response.data.clone());
        }
    }
    Ok(out)
}

/// One blob by `ByteStream.Read`.
async fn read(engine: &Engine, digest: &Digest) -> Result<Vec<u8>, ReapiError> {
    let request = ReadRequest {
        resource_name: format!(
            "{}blobs/{}",
            instance_prefix(&engine.instance),
            digest::display(digest)
        ),
        read_offset: 0,
        read_limit: 0,
    };
    let mut stream = engine
        .byte_stream()
        .read(request)
        .await
        .map_err(|s| call(engine, "ByteStream.Read", s))?
        .into_inner();
    let mut data = Vec::with_capacity(digest.size_bytes as usize);
    while let Some(chunk) = stream
        .message()
        .await
        .map_err(|s| call(engine, "ByteStream.Read", s))?
    {
        data.extend_from_slice(&chunk.data);
        if data.len() as i64 > digest.size_bytes {
            break; // more than the digest says: `checked` refuses it
        }
    }
    checked(engine, digest, &data)?;
    Ok(data)
}

/// Bytes are taken only under the digest they hash to.
pub fn checked(engine: &Engine, digest: &Digest, data: &[u8]) -> Result<(), ReapiError> {
    if digest::matches(digest, data) {
        Ok(())
    } else {
        Err(ReapiError::Untrusted {
            endpoint: engine.name.clone(),
            why: format!(
                "the bytes sent for blob {} are not that blob ({} bytes, hash {})",
                digest::display(digest),
                data.len(),
                digest::of_bytes(data).hash
            ),
        })
    }
}

/// `INSTANCE/` before a ByteStream resource name, nothing for the default instance.
fn instance_prefix(instance: &str) -> String {
    if instance.is_empty() {
        String::new()
    } else {
        format!("{instance}/")
    }
}

/// A version-4 UUID for a ByteStream upload, from the system's random source.
fn upload_id() -> String {
    let mut bytes = [0u8; 16];
    if let Ok(mut random) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = random.read_exact(&mut bytes);
    }
    if bytes == [0; 16] {
        // No random source: unique enough per process and moment.
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        bytes[..8].copy_from_slice(&now.as_nanos().to_le_bytes()[..8]);
        bytes[8..12].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

fn call(engine: &Engine, call: &str, status: tonic::Status) -> ReapiError {
    ReapiError::call(&engine.name, call, &status)
}

fn engine_error(engine: &Engine, why: String) -> ReapiError {
    ReapiError::Engine {
        endpoint: engine.name.clone(),
        why,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_stay_under_the_message_limit() {
        let blob = |n: usize| (digest::of_bytes(&vec![0; n]), vec![0; n]);
        let blobs = [blob(3 << 20), blob(1 << 20), blob(10), blob(2 << 20)];
        let refs: Vec<_> = blobs.iter().collect();
        let sizes: Vec<Vec<usize>> = batches(&refs)
            .iter()
            .map(|b| b.iter().map(|x| x.1.len()).collect())
            .collect();
        assert_eq!(sizes, vec![vec![3 << 20], vec![1 << 20, 10, 2 << 20]]);
        assert!(batches(&[]).is_empty());
    }

    #[test]
    fn upload_ids_are_version_4_uuids() {
        let id = upload_id();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, upload_id());
    }
}
