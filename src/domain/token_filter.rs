//! The administrator's token inventory query: filters, sort order and keyset
//! cursor, parsed from (and written back to) the URL.

use chrono::{DateTime, Datelike as _, NaiveDateTime};

use super::codes::text_codes;
use super::token::TokenKind;

/// Rows per page of the inventory.
pub const PAGE_SIZE: usize = 50;

/// The inventory counts the tokens a filter matches up to this many; beyond,
/// it says "10,000+" (the confirmation page counts exactly).
pub const COUNT_CAP: i64 = 10_000;

/// A count that stops at a cap: exact below it, "at least the cap" above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CappedCount {
    pub value: i64,
    /// True when there are more than `value`.
    pub more: bool,
}

impl CappedCount {
    pub fn exact(value: usize) -> Self {
        Self {
            value: value as i64,
            more: false,
        }
    }

    /// From a count of at most `cap + 1` rows.
    pub fn from_probe(counted: i64, cap: i64) -> Self {
        if counted > cap {
            Self {
                value: cap,
                more: true,
            }
        } else {
            Self {
                value: counted,
                more: false,
            }
        }
    }

    /// `value` matches were seen; `more_possible` if not every row was looked at.
    pub fn at_least(value: i64, more_possible: bool, cap: i64) -> Self {
        if value > cap {
            Self {
                value: cap,
                more: true,
            }
        } else {
            Self {
                value,
                more: more_possible,
            }
        }
    }

    pub fn is_one(&self) -> bool {
        self.value == 1 && !self.more
    }
}

/// `1234567` as `1,234,567`.
pub fn thousands(value: i64) -> String {
    let digits = value.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if value < 0 {
        grouped.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(c);
    }
    grouped
}

impl std::fmt::Display for CappedCount {
    /// `1,234` or `10,000+`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&thousands(self.value))?;
        if self.more {
            f.write_str("+")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Tab {
    /// Every non-session token.
    #[default]
    Api,
    /// Mobile sessions.
    Sessions,
}

impl Tab {
    /// The kinds the tab's kind filter offers, in the order it lists them.
    pub fn kind_choices(self) -> &'static [TokenKind] {
        match self {
            Self::Api => &[TokenKind::Personal, TokenKind::Client, TokenKind::Api],
            Self::Sessions => &[],
        }
    }
}

text_codes! {
    /// The inventory's status filter, as the URL spells it; declared in the
    /// order the filter lists them.
    pub enum StatusFilter {
        Active = "active",
        Disabled = "disabled",
        Expired = "expired",
        Expiring = "expiring",
        Revoked = "revoked",
        RefusedUse = "refused_use",
    }
}

impl StatusFilter {
    pub fn label(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::Disabled => "Disabled",
            Self::Expired => "Expired",
            Self::Revoked => "Revoked",
            Self::Expiring => "Expiring within 7 days",
            Self::RefusedUse => "Presented while not valid (last 7 days)",
        }
    }

    /// Whether it keeps few tokens, found through an index of their own
    /// (`tokens_refused_use`), so that a search among them needs no window
    /// and counting them is cheap.
    pub fn is_few(self) -> bool {
        self == Self::RefusedUse
    }
}

/// The column the inventory is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortColumn {
    Created,
    /// Nullable: a token without expiry counts as expiring latest.
    Expires,
    /// Nullable: a never-used token counts as used least recently.
    LastUsed,
}

/// Which way the sort column runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// The inventory's order: a column, a direction, and the id as tie-break in the
/// same direction. Rows whose column is NULL form a segment of their own,
/// ordered by id (oldest first), which comes where NULL belongs: after every
/// expiry (so first when expiring latest first), before every last use (so
/// first when least recently used first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: SortColumn,
    pub direction: Direction,
}

impl Default for Sort {
    /// Newest first.
    fn default() -> Self {
        Self::ALL[0]
    }
}

impl Sort {
    const fn new(column: SortColumn, direction: Direction) -> Self {
        Self { column, direction }
    }

    /// Every order the inventory offers; each column's usual direction first.
    pub const ALL: [Sort; 6] = [
        Self::new(SortColumn::Created, Direction::Desc),
        Self::new(SortColumn::Created, Direction::Asc),
        Self::new(SortColumn::Expires, Direction::Asc),
        Self::new(SortColumn::Expires, Direction::Desc),
        Self::new(SortColumn::LastUsed, Direction::Desc),
        Self::new(SortColumn::LastUsed, Direction::Asc),
    ];

    /// The `sort=` value: the column's name for its usual direction (as
    /// before), with `_asc` or `_desc` for the other one.
    pub fn as_str(self) -> &'static str {
        use {
            Direction::{Asc, Desc},
            SortColumn::{Created, Expires, LastUsed},
        };
        match (self.column, self.direction) {
            (Created, Desc) => "created",
            (Created, Asc) => "created_asc",
            (Expires, Asc) => "expires",
            (Expires, Desc) => "expires_desc",
            (LastUsed, Desc) => "last_used",
            (LastUsed, Asc) => "last_used_asc",
        }
    }

    pub fn label(self) -> &'static str {
        use {
            Direction::{Asc, Desc},
            SortColumn::{Created, Expires, LastUsed},
        };
        match (self.column, self.direction) {
            (Created, Desc) => "Newest first",
            (Created, Asc) => "Oldest first",
            (Expires, Asc) => "Expiring first",
            (Expires, Desc) => "Expiring last (never-expiring first)",
            (LastUsed, Desc) => "Recently used first",
            (LastUsed, Asc) => "Least recently used first (never used first)",
        }
    }

    /// Reads a `sort=` value: one of [`Self::as_str`]'s, or a column's name
    /// with an explicit `_asc` or `_desc` (`created_desc`, `expires_asc`).
    fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| {
            let column = match f.column {
                SortColumn::Created => "created",
                SortColumn::Expires => "expires",
                SortColumn::LastUsed => "last_used",
            };
            let direction = match f.direction {
                Direction::Asc => "asc",
                Direction::Desc => "desc",
            };
            f.as_str() == s
                || s.strip_prefix(column)
                    .and_then(|rest| rest.strip_prefix('_'))
                    == Some(direction)
        })
    }

    /// Newest first: the order a URL need not name.
    pub fn is_default(self) -> bool {
        self == Self::default()
    }

    pub fn is_desc(self) -> bool {
        self.direction == Direction::Desc
    }

    /// Whether the rows whose (nullable) column is NULL come first.
    pub fn nulls_first(self) -> bool {
        matches!(
            (self.column, self.direction),
            (SortColumn::Expires, Direction::Desc) | (SortColumn::LastUsed, Direction::Asc)
        )
    }
}

/// Where a page starts: after this sort value and id. `value: None` means the
/// trailing segment of rows whose sort column is NULL (ordered by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub value: Option<NaiveDateTime>,
    pub id: i64,
}

impl Cursor {
    /// `1700000000123456.42` (microseconds since the epoch, id) or `null.42`.
    pub fn encode(&self) -> String {
        match self.value {
            Some(at) => format!("{}.{}", at.and_utc().timestamp_micros(), self.id),
            None => format!("null.{}", self.id),
        }
    }

    pub fn decode(s: &str) -> Option<Self> {
        let (value, id) = s.split_once('.')?;
        let id = id.parse().ok()?;
        let value = match value {
            "null" => None,
            micros => Some(DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc()),
        };
        // No row has a time outside years 1 to 9999, and PostgreSQL refuses
        // some that chrono accepts (before 4713 BC).
        if value.is_some_and(|at| !(1..=9999).contains(&at.year())) {
            return None;
        }
        Some(Self { value, id })
    }
}

impl Cursor {
    /// The cursor one row further in `sort`'s order (`forward`) or one row
    /// back, as far as ids go: "after" the cursor one row back includes this
    /// row, "before" the one a row further does too. (Rows with an equal value
    /// run by id in the sort's direction; the NULL segment by id, ascending.)
    /// `None` past the ends of the id range.
    pub fn step(&self, sort: Sort, forward: bool) -> Option<Self> {
        let up = !(self.value.is_some() && sort.is_desc());
        let id = if up == forward {
            self.id.checked_add(1)?
        } else {
            self.id.checked_sub(1)?
        };
        Some(Self { id, ..*self })
    }
}

/// Where a page of the inventory starts, from the URL: the start of the list,
/// after a cursor (`after`, "Next"), or before one (`before`, "Previous").
/// The row number comes along when the link knew it (`from`: of the first
/// row after the cursor; `to`: of the last row before it), so that the page
/// can say "Rows 51–100" without counting the rows before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Position {
    #[default]
    Start,
    After(Cursor, Option<i64>),
    Before(Cursor, Option<i64>),
}

/// Row numbers a link may carry: 1 up to a trillion (more is nonsense).
fn row_number(s: &str) -> Option<i64> {
    s.trim()
        .parse()
        .ok()
        .filter(|n| (1..=1_000_000_000_000).contains(n))
}

impl Position {
    /// From `after`/`from` or `before`/`to` (`after` wins when both come);
    /// a cursor that does not parse is ignored: the start of the list.
    pub fn from_query(q: &FilterQuery) -> Self {
        if let Some(cursor) = Cursor::decode(q.after.trim()) {
            Self::After(cursor, row_number(&q.from))
        } else if let Some(cursor) = Cursor::decode(q.before.trim()) {
            Self::Before(cursor, row_number(&q.to))
        } else {
            Self::Start
        }
    }

    /// The query parameters that come back to this position (for the bulk
    /// form's hidden fields), in URL order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        match *self {
            Self::Start => Vec::new(),
            Self::After(cursor, from) => std::iter::once(("after", cursor.encode()))
                .chain(from.map(|n| ("from", n.to_string())))
                .collect(),
            Self::Before(cursor, to) => std::iter::once(("before", cursor.encode()))
                .chain(to.map(|n| ("to", n.to_string())))
                .collect(),
        }
    }
}

/// The URL query of `/admin/tokens` as it arrives.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct FilterQuery {
    #[serde(default)]
    pub tab: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub user: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub unused_days: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub after: String,
    /// The row number of the first row after `after`.
    #[serde(default)]
    pub from: String,
    #[serde(default)]
    pub before: String,
    /// The row number of the last row before `before`.
    #[serde(default)]
    pub to: String,
}

/// The URL query of Token Management (`/profile/tokens?status=expiring`):
/// only the tokens that expire within 7 days, where the banner leads. Any
/// other value shows everything.
#[derive(Debug, Default, Clone, serde::Deserialize)]
pub struct ProfileQuery {
    #[serde(default)]
    pub status: String,
}

impl ProfileQuery {
    pub fn expiring_only(&self) -> bool {
        matches!(self.status.trim().parse(), Ok(StatusFilter::Expiring))
    }
}

/// A validated filter. Unknown values are ignored rather than refused, so a
/// hand-edited URL still shows a sensible page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    pub tab: Tab,
    /// Name (substring, any case) or display prefix (start).
    pub q: Option<String>,
    /// Part of the owner's username, display name or email (any case).
    pub user: Option<String>,
    pub department_id: Option<i64>,
    /// One of the tab's [`Tab::kind_choices`].
    pub kind: Option<TokenKind>,
    pub status: Option<StatusFilter>,
    /// Unused (or never used and created) more than this many days ago.
    pub unused_days: Option<i64>,
    pub sort: Sort,
}

impl TokenFilter {
    pub fn from_query(q: &FilterQuery) -> (Self, Position) {
        let text = |s: &str| {
            Some(s.trim().to_owned()).filter(|s| !s.is_empty() && s.chars().count() <= 200)
        };
        let tab = if q.tab == "sessions" {
            Tab::Sessions
        } else {
            Tab::Api
        };
        let kind = q
            .kind
            .parse()
            .ok()
            .filter(|kind| tab.kind_choices().contains(kind));
        let filter = Self {
            tab,
            q: text(&q.q),
            user: text(&q.user),
            department_id: q.department.trim().parse().ok(),
            kind,
            status: q.status.trim().parse().ok(),
            unused_days: q
                .unused_days
                .trim()
                .parse()
                .ok()
                .filter(|d| (1..=3650).contains(d)),
            sort: Sort::parse(q.sort.trim()).unwrap_or_default(),
        };
        (filter, Position::from_query(q))
    }

    /// The query string that reproduces this filter (without a cursor).
    pub fn to_query(&self) -> String {
        let mut pairs: Vec<(&str, String)> = vec![(
            "tab",
            match self.tab {
                Tab::Api => "api".into(),
                Tab::Sessions => "sessions".into(),
            },
        )];
        if let Some(q) = &self.q {
            pairs.push(("q", q.clone()));
        }
        if let Some(user) = &self.user {
            pairs.push(("user", user.clone()));
        }
        if let Some(id) = self.department_id {
            pairs.push(("department", id.to_string()));
        }
        if let Some(kind) = self.kind {
            pairs.push(("kind", kind.to_string()));
        }
        if let Some(status) = self.status {
            pairs.push(("status", status.as_str().into()));
        }
        if let Some(days) = self.unused_days {
            pairs.push(("unused_days", days.to_string()));
        }
        if self.sort != Sort::default() {
            pairs.push(("sort", self.sort.as_str().into()));
        }
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }

    /// What `q` asks for, if anything.
    pub fn text(&self) -> Option<TextQuery<'_>> {
        self.q.as_deref().map(TextQuery::parse)
    }

    /// Whether anything narrows the tab's full list.
    pub fn is_narrowed(&self) -> bool {
        self.q.is_some()
            || self.user.is_some()
            || self.department_id.is_some()
            || self.kind.is_some()
            || self.status.is_some()
            || self.unused_days.is_some()
    }
}

/// What the text box `q` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextQuery<'a> {
    /// The start of a token, shaped like a display prefix (`tsrp_4Fq0`, or
    /// shorter: `tsrp_4F`): display prefixes that start with it.
    Prefix(&'a str),
    /// Anything else: names that contain it, in any case.
    Name(&'a str),
}

impl<'a> TextQuery<'a> {
    /// Reads `q`. A trailing ellipsis (as pages show display prefixes) is ignored.
    pub fn parse(q: &'a str) -> Self {
        let trimmed = q
            .strip_suffix('…')
            .or_else(|| q.strip_suffix("..."))
            .unwrap_or(q);
        if looks_like_display_prefix(trimmed) {
            TextQuery::Prefix(trimmed)
        } else {
            TextQuery::Name(q)
        }
    }
}

/// `{deployment prefix}{kind}_{up to 4 body characters}`: 1 to 16 lower-case
/// letters or digits, a kind marker (`p`, `c`, `a`, `s`), `_`, then at most as
/// many base62 characters as a display prefix shows.
fn looks_like_display_prefix(q: &str) -> bool {
    let Some((head, body)) = q.split_once('_') else {
        return false;
    };
    let head = head.as_bytes();
    head.len() >= 2
        && head.len() <= 17
        && matches!(head[head.len() - 1], b'p' | b'c' | b'a' | b's')
        && head
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        && body.len() <= crate::domain::token::SHOWN_BODY_CHARS
        && body.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The exclusive upper bound of the strings that start with `prefix` (ASCII
/// letters, digits and `_`, all below `~`): `prefix <= s < prefix~`.
pub fn prefix_upper_bound(prefix: &str) -> String {
    format!("{prefix}~")
}

/// Escapes `%`, `_` and `\` for a LIKE pattern with `ESCAPE '\'`.
pub fn like_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_round_trips() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456)
            .unwrap()
            .naive_utc();
        for cursor in [
            Cursor {
                value: Some(at),
                id: 42,
            },
            Cursor { value: None, id: 7 },
        ] {
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
        for bad in [
            "",
            "x.1",
            "1.x",
            "null",
            "1",
            "-1000000000000000000.1",
            "-9223372036854775808.1",
        ] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn filter_round_trips_through_the_url() {
        let query = FilterQuery {
            tab: "api".into(),
            q: " deploy ".into(),
            user: "ada".into(),
            department: "3".into(),
            kind: "client".into(),
            status: "expiring".into(),
            unused_days: "90".into(),
            sort: "last_used".into(),
            ..Default::default()
        };
        let (filter, position) = TokenFilter::from_query(&query);
        assert_eq!(position, Position::Start);
        assert_eq!(filter.q.as_deref(), Some("deploy"));
        let again: FilterQuery = serde_urlencoded::from_str(&filter.to_query()).unwrap();
        assert_eq!(TokenFilter::from_query(&again).0, filter);
    }

    #[test]
    fn every_order_round_trips_and_the_old_values_keep_their_meaning() {
        let sort_of = |value: &str| {
            TokenFilter::from_query(&FilterQuery {
                sort: value.into(),
                ..Default::default()
            })
            .0
            .sort
        };
        for sort in Sort::ALL {
            assert_eq!(sort_of(sort.as_str()), sort, "{}", sort.as_str());
            let filter = TokenFilter {
                sort,
                ..Default::default()
            };
            let again: FilterQuery = serde_urlencoded::from_str(&filter.to_query()).unwrap();
            assert_eq!(TokenFilter::from_query(&again).0, filter);
        }
        let names: std::collections::HashSet<_> = Sort::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names.len(), Sort::ALL.len());
        // The values that existed before still mean what they meant.
        use {Direction::*, SortColumn::*};
        assert_eq!(sort_of(""), Sort::new(Created, Desc));
        assert_eq!(sort_of("created"), Sort::new(Created, Desc));
        assert_eq!(sort_of("expires"), Sort::new(Expires, Asc));
        assert_eq!(sort_of("last_used"), Sort::new(LastUsed, Desc));
        assert_eq!(sort_of("created_asc"), Sort::new(Created, Asc));
        assert_eq!(sort_of("expires_desc"), Sort::new(Expires, Desc));
        assert_eq!(sort_of("last_used_asc"), Sort::new(LastUsed, Asc));
        // The usual directions may be spelled out too.
        assert_eq!(sort_of("created_desc"), Sort::new(Created, Desc));
        assert_eq!(sort_of("expires_asc"), Sort::new(Expires, Asc));
        assert_eq!(sort_of("last_used_desc"), Sort::new(LastUsed, Desc));
        for unknown in [
            "created_",
            "created_up",
            "asc",
            "expires desc",
            "CREATED_ASC",
        ] {
            assert_eq!(sort_of(unknown), Sort::default(), "{unknown}: ignored");
        }
        // NULL (never expires, never used) sits where it belongs.
        assert!(!Sort::new(Expires, Asc).nulls_first());
        assert!(Sort::new(Expires, Desc).nulls_first());
        assert!(!Sort::new(LastUsed, Desc).nulls_first());
        assert!(Sort::new(LastUsed, Asc).nulls_first());
    }

    #[test]
    fn nonsense_is_ignored() {
        let query = FilterQuery {
            kind: "session".into(),
            status: "bogus".into(),
            department: "x".into(),
            unused_days: "-4".into(),
            sort: "name; drop table".into(),
            ..Default::default()
        };
        let (filter, _) = TokenFilter::from_query(&query);
        assert_eq!(filter, TokenFilter::default());
    }

    #[test]
    fn q_is_a_display_prefix_or_a_name() {
        for prefix in ["tsrp_4Fq0", "tsrp_4F", "tsrp_", "acme9c_Ab", "tsra_x"] {
            assert_eq!(
                TextQuery::parse(prefix),
                TextQuery::Prefix(prefix),
                "{prefix}"
            );
        }
        assert_eq!(
            TextQuery::parse("tsrp_4Fq0…"),
            TextQuery::Prefix("tsrp_4Fq0")
        );
        assert_eq!(
            TextQuery::parse("tsrp_4Fq0..."),
            TextQuery::Prefix("tsrp_4Fq0")
        );
        for name in [
            "deploy",
            "ci-deploy",
            "tsrp_4Fq0x",
            "Tsrp_4F",
            "tsrx_4F",
            "p_ab",
            "backup_script",
            "tsrp_4F-q",
            "ERP sync 12",
        ] {
            assert_eq!(TextQuery::parse(name), TextQuery::Name(name), "{name}");
        }
    }

    #[test]
    fn prefix_ranges_hold_exactly_the_strings_that_start_with_it() {
        let upper = prefix_upper_bound("tsrp_4F");
        for inside in ["tsrp_4F", "tsrp_4F00", "tsrp_4Fzz", "tsrp_4F__"] {
            assert!("tsrp_4F" <= inside && inside < upper.as_str(), "{inside}");
        }
        for outside in ["tsrp_4E", "tsrp_4G", "tsrp_4", "tsrp_5", "tsrq_4F"] {
            assert!(
                !("tsrp_4F" <= outside && outside < upper.as_str()),
                "{outside}"
            );
        }
    }

    #[test]
    fn capped_counts_read_well() {
        assert_eq!(CappedCount::exact(0).to_string(), "0");
        assert_eq!(CappedCount::from_probe(999, 10_000).to_string(), "999");
        assert_eq!(CappedCount::from_probe(1_234, 10_000).to_string(), "1,234");
        assert_eq!(
            CappedCount::from_probe(10_000, 10_000).to_string(),
            "10,000"
        );
        assert_eq!(
            CappedCount::from_probe(10_001, 10_000).to_string(),
            "10,000+"
        );
        assert_eq!(CappedCount::exact(1_000_000).to_string(), "1,000,000");
        assert!(CappedCount::exact(1).is_one());
        assert_eq!(CappedCount::at_least(37, true, 10_000).to_string(), "37+");
        assert_eq!(CappedCount::at_least(37, false, 10_000).to_string(), "37");
        assert_eq!(
            CappedCount::at_least(12_000, false, 10_000).to_string(),
            "10,000+"
        );
    }

    #[test]
    fn positions_come_from_after_or_before_with_their_row_numbers() {
        let at = |after: &str, from: &str, before: &str, to: &str| {
            Position::from_query(&FilterQuery {
                after: after.into(),
                from: from.into(),
                before: before.into(),
                to: to.into(),
                ..Default::default()
            })
        };
        let c = Cursor { value: None, id: 7 };
        assert_eq!(at("", "", "", ""), Position::Start);
        assert_eq!(at("null.7", "51", "", ""), Position::After(c, Some(51)));
        assert_eq!(at("", "", "null.7", "50"), Position::Before(c, Some(50)));
        assert_eq!(
            at("null.7", "51", "null.9", "3"),
            Position::After(c, Some(51))
        );
        for absurd in ["0", "-1", "x", "1000000000001", "99999999999999999999"] {
            assert_eq!(
                at("null.7", absurd, "", ""),
                Position::After(c, None),
                "{absurd}"
            );
        }
        assert_eq!(at("bogus", "51", "", ""), Position::Start);
        for position in [Position::After(c, Some(51)), Position::Before(c, None)] {
            let query: FilterQuery = serde_urlencoded::from_str(
                &serde_urlencoded::to_string(position.to_pairs()).unwrap(),
            )
            .unwrap();
            assert_eq!(Position::from_query(&query), position);
        }
    }

    #[test]
    fn a_step_moves_one_id_along_the_order() {
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_000)
            .unwrap()
            .naive_utc();
        let valued = Cursor {
            value: Some(at),
            id: 10,
        };
        let null = Cursor {
            value: None,
            id: 10,
        };
        let newest = Sort::default();
        let oldest = Sort::ALL[1];
        // Newest first: equal times run by id downwards.
        assert_eq!(valued.step(newest, true).map(|c| c.id), Some(9));
        assert_eq!(valued.step(newest, false).map(|c| c.id), Some(11));
        assert_eq!(valued.step(oldest, true).map(|c| c.id), Some(11));
        // The NULL segment runs by id upwards in every order.
        assert_eq!(null.step(newest, true).map(|c| c.id), Some(11));
        assert_eq!(null.step(newest, false).map(|c| c.id), Some(9));
        assert_eq!(
            Cursor {
                value: None,
                id: i64::MAX
            }
            .step(oldest, true),
            None
        );
    }

    #[test]
    fn token_management_filters_expiring_tokens_only_when_asked() {
        let query = |status: &str| ProfileQuery {
            status: status.into(),
        };
        assert!(query("expiring").expiring_only());
        assert!(query(" expiring ").expiring_only());
        for other in ["", "revoked", "EXPIRING", "expiring;"] {
            assert!(!query(other).expiring_only(), "{other}");
        }
    }

    #[test]
    fn like_patterns_are_escaped() {
        assert_eq!(like_escape("50%_off\\"), "50\\%\\_off\\\\");
    }
}
