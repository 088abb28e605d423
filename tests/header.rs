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
