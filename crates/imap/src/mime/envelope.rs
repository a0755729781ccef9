//! The ENVELOPE data item (RFC 3501 §7.4.2, RFC 9051 §7.5.2):
//! `(date subject from sender reply-to to cc bcc in-reply-to message-id)`.
//!
//! Strings are the unfolded raw header values (encoded-words untouched);
//! address lists come from [`super::address`].

use super::address::{Item, parse_address_list};
use super::tree::Entity;
use crate::wire::{push_nstring, push_string};

/// Appends the ENVELOPE of the message whose top entity is `e`.
pub(crate) fn write_envelope(out: &mut Vec<u8>, raw: &[u8], e: &Entity) {
    let value = |name: &str| e.field_value(raw, name);
    let addresses = |name: &str| value(name).map(|v| parse_address_list(&v)).unwrap_or_default();
    out.push(b'(');
    push_nstring(out, value("date").as_deref());
    out.push(b' ');
    push_nstring(out, value("subject").as_deref());
    let from = addresses("from");
    let mut sender = addresses("sender");
    if sender.is_empty() {
        sender = from.clone();
    }
    let mut reply_to = addresses("reply-to");
    if reply_to.is_empty() {
        reply_to = from.clone();
    }
    for list in [&from, &sender, &reply_to, &addresses("to"), &addresses("cc"), &addresses("bcc")] {
        out.push(b' ');
        push_address_list(out, list);
    }
    out.push(b' ');
    push_nstring(out, value("in-reply-to").as_deref());
    out.push(b' ');
    push_nstring(out, value("message-id").as_deref());
    out.push(b')');
}

/// Host shown for an address written without a domain.
const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

/// `((name adl mailbox host)...)` with no separators, or NIL when empty.
fn push_address_list(out: &mut Vec<u8>, items: &[Item]) {
    if items.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for item in items {
        out.push(b'(');
        match item {
            Item::Mailbox(a) => {
                push_nstring(out, a.name.as_deref());
                out.push(b' ');
                push_nstring(out, a.adl.as_deref());
                out.push(b' ');
                push_string(out, &a.mailbox);
                out.push(b' ');
                // A NIL host would mark a group (RFC 3501 7.4.2), so an
                // address without a domain gets a visible placeholder.
                push_string(out, a.host.as_deref().unwrap_or(MISSING_DOMAIN));
            }
            Item::GroupStart(name) => {
                out.extend_from_slice(b"NIL NIL ");
                push_string(out, name);
                out.extend_from_slice(b" NIL");
            }
            Item::GroupEnd => out.extend_from_slice(b"NIL NIL NIL NIL"),
        }
        out.push(b')');
    }
    out.push(b')');
}
