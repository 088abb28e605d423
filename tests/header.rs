//! The checked-in C header must be exactly what cbindgen generates from the sources.

#[test]
fn checked_in_header_matches_a_fresh_generation() {
    let dir = env!("CARGO_MANIFEST_DIR");
    let config =
        cbindgen::Config::from_file(format!("{dir}/cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(dir)
        .with_config(config)
        .generate()
        .expect("cbindgen cannot generate the header");
    let mut fresh = Vec::new();
    bindings.write(&mut fresh);
    let path = format!("{dir}/include/smoothcache.h");
    if std::env::var_os("SSC_UPDATE_HEADER").is_some() {
        std::fs::write(&path, &fresh).expect("cannot write the header");
        return;
    }
    let checked_in = std::fs::read(&path).unwrap_or_default();
    assert!(
        checked_in == fresh,
        "include/smoothcache.h is out of date with src/ffi: run `make header` and commit it"
    );
}

#[test]
fn every_name_in_the_header_is_prefixed() {
    let header = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/include/smoothcache.h"
    ))
    .unwrap();
    for line in header.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("#define ") {
            let name = rest.split_whitespace().next().unwrap();
            assert!(
                name.starts_with("SSC_") || name == "SMOOTHCACHE_H",
                "unprefixed constant {name}"
            );
        }
        if line.starts_with("typedef ") && !line.ends_with('{') {
            let name = match line.split_once("(*") {
                Some((_, rest)) => rest.split(')').next().unwrap(),
                None => line
                    .trim_end_matches(';')
                    .rsplit(|c: char| !c.is_alphanumeric() && c != '_')
                    .next()
                    .unwrap(),
            };
            assert!(name.starts_with("ssc_"), "unprefixed type in {line}");
        }
        if line.contains('(')
            && !line.starts_with('/')
            && !line.starts_with('#')
            && !line.starts_with("typedef")
            && !line.starts_with('*')
        {
            let before = line.split('(').next().unwrap();
            if let Some(name) = before.rsplit([' ', '*']).find(|w| !w.is_empty()) {
                if before.contains(' ') {
                    assert!(name.starts_with("ssc_"), "unprefixed function {name}");
                }
            }
        }
    }
}
