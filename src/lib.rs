//! hull: an OCI-compliant low-level container runtime.
