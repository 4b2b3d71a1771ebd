//! OCI API Gateway `ApiSpecification` types and validation. Pure: no I/O.
