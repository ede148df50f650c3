//! Nook patch: log lines of bounded length. libunftp logs paths, user names, whole command
//! lines and errors as the client sent them, so one client could write lines of 4 KiB (the
//! control line limit) and more into the server's log. [`Bounded`] cuts the message and each
//! key-value to a few hundred bytes, then hands the line to the inner drain (the `log` crate
//! bridge by default).

use slog::{BorrowedKV, Drain, KV, Key, OwnedKVList, Record, RecordStatic, Serializer};
use std::fmt::{self, Write};

/// Longest message logged, in bytes.
const MAX_MESSAGE: usize = 400;
/// Longest key-value value logged, in bytes.
const MAX_VALUE: usize = 100;
/// Longest line (message and key-values) logged, in bytes.
const MAX_LINE: usize = 900;

/// A drain that bounds each record's length before `inner` sees it.
pub(crate) struct Bounded<D>(pub D);

/// Cuts `s` to at most `max` bytes (on a character boundary), marking the cut with `…`.
fn cut(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push('…');
    }
}

/// Writes key-values as `, key: value` (as slog-stdlog does), each value cut.
struct Pairs<'a>(&'a mut String);

impl Serializer for Pairs<'_> {
    fn emit_arguments(&mut self, key: Key, val: &fmt::Arguments) -> slog::Result {
        let mut value = String::new();
        let _ = value.write_fmt(*val);
        cut(&mut value, MAX_VALUE);
        let _ = write!(self.0, ", {key}: {value}");
        Ok(())
    }
}

impl<D: Drain> Drain for Bounded<D> {
    type Ok = D::Ok;
    type Err = D::Err;

    fn log(&self, record: &Record, values: &OwnedKVList) -> Result<D::Ok, D::Err> {
        let mut line = String::new();
        let _ = line.write_fmt(*record.msg());
        cut(&mut line, MAX_MESSAGE);
        let mut pairs = String::new();
        let _ = values.serialize(record, &mut Pairs(&mut pairs));
        let _ = record.kv().serialize(record, &mut Pairs(&mut pairs));
        line.push_str(&pairs);
        cut(&mut line, MAX_LINE);
        let info = RecordStatic {
            location: record.location(),
            tag: record.tag(),
            level: record.level(),
        };
        self.0
            .log(&Record::new(&info, &format_args!("{line}"), BorrowedKV(&())), &OwnedKVList::from(slog::o!()))
    }
}

/// The default logger: slog-stdlog behind [`Bounded`].
pub(crate) fn default_logger() -> slog::Logger {
    slog::Logger::root(Bounded(slog_stdlog::StdLog {}).fuse(), slog::o!())
}
