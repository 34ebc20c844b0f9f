//! The compiler wrapper pipeline.
