//! Command-line definitions. Nothing else in the crate reads argv.
