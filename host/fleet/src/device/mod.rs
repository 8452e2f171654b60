//! Device configuration delivery (next).
