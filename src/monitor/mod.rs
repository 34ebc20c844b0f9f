//! Monitor state files (distccmon layout).
