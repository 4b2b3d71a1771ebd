//! Stored functions. Owned by the functions work.
