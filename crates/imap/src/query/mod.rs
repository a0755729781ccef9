//! SEARCH, SORT and THREAD evaluation.
//!
//! - [`seqset`]: sequence-set membership and resolution, and the compact
//!   rendering of number lists;
//! - [`content`]: the decoded message text the other parts look at;
//! - [`search`]: evaluating a [`SearchKey`](crate::types::SearchKey) on one
//!   message;
//! - [`subject`]: RFC 5256 base subjects;
//! - [`sort`]: SORT (RFC 5256, RFC 5957);
//! - [`thread`]: THREAD=ORDEREDSUBJECT and THREAD=REFERENCES.
//!
//! The caller reads a message's file only when [`needs_content`] says so,
//! and only its header when [`needs_body`] does not.

pub mod content;
pub mod search;
pub mod seqset;
pub mod sort;
pub mod subject;
pub mod thread;

pub use content::{Content, Mailbox, SentDate};
pub use search::{MessageFacts, SearchContext, matches, needs_body, needs_content};
pub use seqset::{SeqError, compress, resolve_seqs, resolve_uids};
pub use sort::{SortItem, SortKeys, sort};
pub use subject::base_subject;
pub use thread::{ThreadItem, ThreadKeys, thread};
