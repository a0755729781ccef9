//! Shared helpers of the property tests.

pub mod mutate;
