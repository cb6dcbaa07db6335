//! Fuzzes the strict query-string parser of `GET /api/v1/users` and the
//! cursor decoder: never a panic, accepted values always in range, and every
//! issued cursor decodes back to its id.

#![no_main]

use backend::http::cursor;
use backend::http::query::MAX_LIMIT;
use backend::users::input::ListQuery;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(query) = ListQuery::parse(Some(text)) {
        assert!((1..=MAX_LIMIT).contains(&query.limit));
        if let Some(after) = query.after {
            assert_eq!(cursor::decode(&cursor::encode(after)), Some(after));
        }
    }
    if let Some(id) = cursor::decode(text) {
        assert_eq!(cursor::encode(id), text);
    }
});
