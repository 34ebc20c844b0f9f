//! The DISTCC_HOSTS grammar (pure).
