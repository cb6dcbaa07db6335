//! Embeds `sql/migrations/*.{up,down}.sql` into the binary: generates a
//! table of `Migration`s with `include_str!`, so a new migration file is
//! picked up by the next build and the binary needs no files at run time.

use std::fmt::Write as _;
use std::path::Path;
use std::{env, fs};

fn main() {
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("sql/migrations");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut ups = Vec::new();
    for entry in fs::read_dir(&dir).expect("sql/migrations exists") {
        let path = entry.expect("readable directory").path();
        let file = path
            .file_name()
            .unwrap()
            .to_str()
            .expect("UTF-8 file name")
            .to_owned();
        println!("cargo:rerun-if-changed={}", path.display());
        if let Some(stem) = file.strip_suffix(".up.sql") {
            ups.push(stem.to_owned());
        } else if !file.ends_with(".down.sql") {
            panic!(
                "unexpected file in sql/migrations: {file} (want <version>_<name>.up.sql / .down.sql)"
            );
        }
    }
    ups.sort();
    let mut code = String::from(
        "/// Every migration embedded at build time, in version order.\n#[allow(clippy::unreadable_literal)] // versions are timestamps: YYYYMMDDHHMMSS\npub static MIGRATIONS: &[Migration] = &[\n",
    );
    let mut last = 0u64;
    for stem in &ups {
        let (version, name) = stem
            .split_once('_')
            .unwrap_or_else(|| panic!("migration {stem} is not <version>_<name>"));
        assert!(
            version.len() == 14 && version.bytes().all(|b| b.is_ascii_digit()),
            "migration {stem}: the version must be a UTC timestamp YYYYMMDDHHMMSS"
        );
        let number: u64 = version.parse().unwrap();
        assert!(number > last, "migration versions must be unique: {stem}");
        last = number;
        let down = dir.join(format!("{stem}.down.sql"));
        assert!(down.exists(), "migration {stem} has no .down.sql");
        let up = dir.join(format!("{stem}.up.sql"));
        writeln!(
            code,
            "    Migration {{ version: {number}, name: {name:?}, up: include_str!({up:?}), down: include_str!({down:?}) }},",
            up = up.display().to_string(),
            down = down.display().to_string(),
        )
        .unwrap();
    }
    code.push_str("];\n");
    let out = Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs");
    fs::write(out, code).unwrap();
}
