//! Programs some tests start themselves (PgBouncer, HAProxy, Redis): found
//! on the PATH or in the sbin folders Debian installs them to.

use std::path::PathBuf;

/// The program `name`; `None` (the test skips, with one line saying so) when
/// it is missing — but with `CI=true` or `BACKEND_REQUIRE_PRIVATE_PG=1`
/// (.ci/run), where `make install` must have installed it, a missing program
/// fails the test instead.
pub fn installed(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join(name))
        .find(|bin| bin.is_file());
    if found.is_none() {
        let required = std::env::var("CI").is_ok_and(|v| v == "true")
            || std::env::var("BACKEND_REQUIRE_PRIVATE_PG").is_ok_and(|v| v == "1");
        assert!(
            !required,
            "{name} is not installed: `make install` installs it (Debian: apt-get install {name})"
        );
        eprintln!("skipped: {name} is not installed (`make install`, or apt-get install {name})");
    }
    found
}
