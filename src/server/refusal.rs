/// Why the server will not run a request. Sent back to the client as the stderr of a failed
/// job and logged with the client's address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("distfarm server refused {what}: {why}")]
pub struct Refusal {
    pub what: String,
    pub why: String,
}

impl Refusal {
    pub fn new(what: impl Into<String>, why: impl Into<String>) -> Self {
        Refusal {
            what: what.into(),
            why: why.into(),
        }
    }
}
