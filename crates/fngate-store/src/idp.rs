//! Stored idp. Owned by the idp work.
