//! The IMAP command model: what a parsed client command means.
//!
//! The parser ([`crate::parse`]) produces these values and the session
//! executes them; nothing here knows about sockets or the store. Strings are
//! kept as the client sent them (mailbox names undecoded: the session turns
//! modified UTF-7 into UTF-8 unless the client enabled UTF8=ACCEPT).

use chrono::{DateTime, FixedOffset, NaiveDate};

/// A command with the tag the client gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tagged {
    /// The client's tag, echoed in the completion response.
    pub tag: String,
    /// What the client asked for.
    pub command: Command,
}

/// One end of a sequence range: a number or `*` (the largest in use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqNum {
    /// A message sequence number or UID (never 0).
    Value(u32),
    /// `*`: the highest number in the mailbox.
    Star,
}

/// A sequence set such as `1:5,7,9:*`, as ranges in the order given.
/// Each range may be written high-to-low (`5:1`); users normalise it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceSet(pub Vec<(SeqNum, SeqNum)>);

/// STORE's way of applying the flag list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// `FLAGS`: replace.
    Replace,
    /// `+FLAGS`: add.
    Add,
    /// `-FLAGS`: remove.
    Remove,
}

/// The text part of a BODY[...] section specification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SectionText {
    /// `HEADER`
    Header,
    /// `HEADER.FIELDS (..)` or, with `not`, `HEADER.FIELDS.NOT (..)`; field
    /// names as the client wrote them (they are echoed back so).
    HeaderFields {
        /// `.NOT` form.
        not: bool,
        /// Field names.
        fields: Vec<String>,
    },
    /// `TEXT`
    Text,
    /// `MIME` (only after a part number).
    Mime,
}

/// A BODY[...] section: part path (empty = the whole message) and text spec.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Section {
    /// Part numbers, 1-based (`1.2.3` is `[1, 2, 3]`).
    pub part: Vec<u32>,
    /// HEADER, TEXT, ...; `None` is the whole part.
    pub text: Option<SectionText>,
}

/// A `<origin.count>` partial range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Partial {
    /// First octet, 0-based.
    pub origin: u32,
    /// Octets wanted.
    pub count: u32,
}

/// One FETCH data item (macros ALL/FAST/FULL are expanded by the parser).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchAttr {
    /// `FLAGS`
    Flags,
    /// `INTERNALDATE`
    InternalDate,
    /// `RFC822.SIZE`
    Rfc822Size,
    /// `ENVELOPE`
    Envelope,
    /// `BODY` (non-extensible body structure)
    Body,
    /// `BODYSTRUCTURE`
    BodyStructure,
    /// `UID`
    Uid,
    /// `MODSEQ` (CONDSTORE)
    ModSeq,
    /// `RFC822` (= BODY[], sets \Seen)
    Rfc822,
    /// `RFC822.HEADER` (= BODY.PEEK[HEADER])
    Rfc822Header,
    /// `RFC822.TEXT` (= BODY[TEXT], sets \Seen)
    Rfc822Text,
    /// `BODY[section]<partial>` or `BODY.PEEK[...]`
    BodySection {
        /// `.PEEK`: do not set \Seen.
        peek: bool,
        /// Which part.
        section: Section,
        /// Octet range.
        partial: Option<Partial>,
    },
    /// `BINARY[part]<partial>` or `BINARY.PEEK[...]` (RFC 3516)
    Binary {
        /// `.PEEK`
        peek: bool,
        /// Part numbers.
        part: Vec<u32>,
        /// Octet range.
        partial: Option<Partial>,
    },
    /// `BINARY.SIZE[part]`
    BinarySize {
        /// Part numbers.
        part: Vec<u32>,
    },
}

/// FETCH modifiers (RFC 7162).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FetchModifiers {
    /// `CHANGEDSINCE n`
    pub changed_since: Option<u64>,
    /// `VANISHED` (only with UID FETCH and CHANGEDSINCE)
    pub vanished: bool,
}

/// A STATUS data item (also used by LIST RETURN (STATUS ...)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusItem {
    /// `MESSAGES`
    Messages,
    /// `RECENT` (rev1 only)
    Recent,
    /// `UIDNEXT`
    UidNext,
    /// `UIDVALIDITY`
    UidValidity,
    /// `UNSEEN`
    Unseen,
    /// `DELETED` (rev2)
    Deleted,
    /// `SIZE` (rev2 / STATUS=SIZE)
    Size,
    /// `HIGHESTMODSEQ` (CONDSTORE)
    HighestModSeq,
}

/// A date/time of a search or an APPEND.
pub type ImapDate = NaiveDate;

/// A SEARCH key. A bare list of keys is [`SearchKey::And`].
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum SearchKey {
    All,
    Answered,
    Bcc(String),
    Before(ImapDate),
    Body(String),
    Cc(String),
    Deleted,
    Draft,
    Flagged,
    From(String),
    /// `HEADER field-name string`
    Header(String, String),
    Keyword(String),
    Larger(u64),
    New,
    Not(Box<SearchKey>),
    Old,
    On(ImapDate),
    Or(Box<SearchKey>, Box<SearchKey>),
    Recent,
    Seen,
    SentBefore(ImapDate),
    SentOn(ImapDate),
    SentSince(ImapDate),
    Since(ImapDate),
    Smaller(u64),
    Subject(String),
    Text(String),
    To(String),
    /// `UID sequence-set`
    Uid(SequenceSet),
    Unanswered,
    Undeleted,
    Undraft,
    Unflagged,
    Unkeyword(String),
    Unseen,
    /// A bare sequence set (message sequence numbers).
    SequenceSet(SequenceSet),
    /// A parenthesised list, or the top-level list of keys.
    And(Vec<SearchKey>),
    /// `MODSEQ [entry-name entry-type] n` (CONDSTORE); only the number is kept.
    ModSeq(u64),
    /// `OLDER n` (WITHIN, seconds)
    Older(u64),
    /// `YOUNGER n` (WITHIN, seconds)
    Younger(u64),
}

/// ESEARCH `RETURN (...)` options (RFC 4731 / RFC 9051).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SearchReturn {
    /// `MIN`
    pub min: bool,
    /// `MAX`
    pub max: bool,
    /// `ALL`
    pub all: bool,
    /// `COUNT`
    pub count: bool,
    /// `SAVE` (accepted, answered as if not given)
    pub save: bool,
}

/// A SORT criterion (RFC 5256, RFC 5957).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKey {
    /// `ARRIVAL`
    Arrival,
    /// `CC`
    Cc,
    /// `DATE`
    Date,
    /// `FROM`
    From,
    /// `SIZE`
    Size,
    /// `SUBJECT`
    Subject,
    /// `TO`
    To,
    /// `DISPLAYFROM`
    DisplayFrom,
    /// `DISPLAYTO`
    DisplayTo,
}

/// A sort key with its direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortCriterion {
    /// `REVERSE` given before the key.
    pub reverse: bool,
    /// The key.
    pub key: SortKey,
}

/// THREAD algorithms (RFC 5256).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadAlgorithm {
    /// `ORDEREDSUBJECT`
    OrderedSubject,
    /// `REFERENCES`
    References,
}

/// LIST selection options (RFC 5258, RFC 6154).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ListSelect {
    /// `SUBSCRIBED`
    pub subscribed: bool,
    /// `REMOTE` (no remote mailboxes here; accepted)
    pub remote: bool,
    /// `RECURSIVEMATCH`
    pub recursive_match: bool,
    /// `SPECIAL-USE`
    pub special_use: bool,
}

/// LIST return options (RFC 5258, RFC 5819, RFC 6154).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListReturn {
    /// `SUBSCRIBED`
    pub subscribed: bool,
    /// `CHILDREN`
    pub children: bool,
    /// `SPECIAL-USE`
    pub special_use: bool,
    /// `STATUS (...)`
    pub status: Option<Vec<StatusItem>>,
}

/// One message of an APPEND (several with MULTIAPPEND).
#[derive(Debug, Clone, PartialEq)]
pub struct AppendMessage {
    /// Flags to set.
    pub flags: Vec<String>,
    /// INTERNALDATE to set.
    pub date: Option<DateTime<FixedOffset>>,
    /// The message bytes.
    pub data: Vec<u8>,
    /// Sent as a `literal8` (`~{n}`), so NUL octets are allowed.
    pub binary: bool,
}

/// SELECT / EXAMINE parameters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectParams {
    /// `(CONDSTORE)`
    pub condstore: bool,
    /// `(QRESYNC (uidvalidity modseq [known-uids [seq-match]]))`
    pub qresync: Option<QresyncParams>,
}

/// QRESYNC parameters of SELECT / EXAMINE (RFC 7162).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QresyncParams {
    /// The UIDVALIDITY the client knows.
    pub uid_validity: u32,
    /// The last MODSEQ the client knows.
    pub modseq: u64,
    /// The UIDs the client knows.
    pub known_uids: Option<SequenceSet>,
    /// Known sequence numbers and the matching UIDs.
    pub seq_match: Option<(SequenceSet, SequenceSet)>,
}

/// A parsed IMAP command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// `CAPABILITY`
    Capability,
    /// `NOOP`
    Noop,
    /// `LOGOUT`
    Logout,
    /// `STARTTLS`
    StartTls,
    /// `LOGIN user password`
    Login {
        /// User name.
        user: String,
        /// Password.
        password: String,
    },
    /// `AUTHENTICATE mechanism [initial-response]`
    Authenticate {
        /// SASL mechanism, upper-cased.
        mechanism: String,
        /// SASL-IR initial response, still base64 (`=` means empty).
        initial: Option<String>,
    },
    /// `ENABLE cap...`
    Enable(Vec<String>),
    /// `SELECT mailbox [(params)]`
    Select {
        /// Mailbox name as sent.
        mailbox: String,
        /// CONDSTORE / QRESYNC.
        params: SelectParams,
    },
    /// `EXAMINE mailbox [(params)]`
    Examine {
        /// Mailbox name as sent.
        mailbox: String,
        /// CONDSTORE / QRESYNC.
        params: SelectParams,
    },
    /// `CREATE mailbox [(USE (...))]`
    Create {
        /// Mailbox name as sent.
        mailbox: String,
        /// CREATE-SPECIAL-USE attributes.
        special_use: Vec<String>,
    },
    /// `DELETE mailbox`
    Delete(String),
    /// `RENAME from to`
    Rename {
        /// Existing name.
        from: String,
        /// New name.
        to: String,
    },
    /// `SUBSCRIBE mailbox`
    Subscribe(String),
    /// `UNSUBSCRIBE mailbox`
    Unsubscribe(String),
    /// `LIST [(select)] reference pattern(s) [RETURN (...)]`
    List {
        /// Reference name.
        reference: String,
        /// One or more patterns (LIST-EXTENDED allows a list).
        patterns: Vec<String>,
        /// Selection options.
        select: ListSelect,
        /// Return options.
        ret: ListReturn,
    },
    /// `LSUB reference pattern`
    Lsub {
        /// Reference name.
        reference: String,
        /// Pattern.
        pattern: String,
    },
    /// `NAMESPACE`
    Namespace,
    /// `STATUS mailbox (items)`
    Status {
        /// Mailbox name as sent.
        mailbox: String,
        /// Items asked for.
        items: Vec<StatusItem>,
    },
    /// `APPEND mailbox [flags] [date] literal` (repeated with MULTIAPPEND)
    Append {
        /// Mailbox name as sent.
        mailbox: String,
        /// The messages, in order.
        messages: Vec<AppendMessage>,
    },
    /// `IDLE`
    Idle,
    /// `CHECK`
    Check,
    /// `CLOSE`
    Close,
    /// `UNSELECT`
    Unselect,
    /// `EXPUNGE`
    Expunge,
    /// `UID EXPUNGE set`
    UidExpunge(SequenceSet),
    /// `[UID] SEARCH [RETURN (...)] [CHARSET x] keys`
    Search {
        /// UID form.
        uid: bool,
        /// ESEARCH return options; `None` for a classic SEARCH.
        ret: Option<SearchReturn>,
        /// Charset named, if any (upper-cased).
        charset: Option<String>,
        /// The criteria ([`SearchKey::And`] at the top).
        key: SearchKey,
    },
    /// `[UID] FETCH set items [(modifiers)]`
    Fetch {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Items asked for (UID is added by the session for UID FETCH).
        attrs: Vec<FetchAttr>,
        /// CHANGEDSINCE / VANISHED.
        modifiers: FetchModifiers,
    },
    /// `[UID] STORE set [(UNCHANGEDSINCE n)] [+|-]FLAGS[.SILENT] (flags)`
    Store {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Replace, add or remove.
        mode: StoreMode,
        /// `.SILENT`
        silent: bool,
        /// The flags, as written (system flags keep their backslash).
        flags: Vec<String>,
        /// `UNCHANGEDSINCE n`
        unchanged_since: Option<u64>,
    },
    /// `[UID] COPY set mailbox`
    Copy {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination, as sent.
        mailbox: String,
    },
    /// `[UID] MOVE set mailbox`
    Move {
        /// UID form.
        uid: bool,
        /// Messages.
        set: SequenceSet,
        /// Destination, as sent.
        mailbox: String,
    },
    /// `ID NIL` or `ID (field value ...)`
    Id(Option<Vec<(String, Option<String>)>>),
    /// `GETQUOTA root`
    GetQuota(String),
    /// `GETQUOTAROOT mailbox`
    GetQuotaRoot(String),
    /// `SETQUOTA root (...)` (refused: quotas are set by the admin)
    SetQuota(String),
    /// `[UID] SORT (criteria) charset keys`
    Sort {
        /// UID form.
        uid: bool,
        /// Criteria in order.
        criteria: Vec<SortCriterion>,
        /// Charset (upper-cased).
        charset: String,
        /// The search criteria.
        key: SearchKey,
    },
    /// `[UID] THREAD algorithm charset keys`
    Thread {
        /// UID form.
        uid: bool,
        /// Algorithm.
        algorithm: ThreadAlgorithm,
        /// Charset (upper-cased).
        charset: String,
        /// The search criteria.
        key: SearchKey,
    },
    /// `COMPRESS mechanism`
    Compress(String),
}
