//! Integration tests: real containers, real kernel.
