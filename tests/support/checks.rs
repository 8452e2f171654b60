//! What must hold for any input text, shared by the fuzz targets (`fuzz/`, which include this file)
//! and the regression tests that replay what fuzzing found (`tests/fuzz_regressions.rs`). Each check
//! panics on a violation; an input that is merely invalid must give an error naming it.

use pathsec::{
    Fqdn, PlmnId,
    cases::CaseFile,
    files::{FactsFile, RequestFile},
};

/// PLMN-IDs and FQDNs: whatever parses round-trips exactly — the MNC keeps its digit count ("31041"
/// ≠ "310410") and its leading zeros ("070" ≠ "70"); an FQDN is the same name in any case and with or
/// without its trailing dot.
pub fn identifiers(text: &str) {
    if let Ok(plmn) = text.parse::<PlmnId>() {
        assert_eq!(plmn.to_string(), text, "the packed form is the text it came from");
        assert_eq!(PlmnId::from_key(plmn.key()), Some(plmn));
        assert_eq!(PlmnId::from_parts(&plmn.mcc_string(), &plmn.mnc_string()), Ok(plmn));
        assert_eq!(usize::from(plmn.mnc_digits()), plmn.mnc_string().len());
    }
    if let Some((mcc, mnc)) = text.split_once(',')
        && let Ok(plmn) = PlmnId::from_parts(mcc, mnc)
    {
        assert_eq!((plmn.mcc_string().as_str(), plmn.mnc_string().as_str()), (mcc, mnc));
    }
    if let Ok(fqdn) = text.parse::<Fqdn>() {
        assert_eq!(fqdn.as_str().parse::<Fqdn>().as_ref(), Ok(&fqdn), "a name parses as itself");
        assert_eq!(text.to_ascii_uppercase().parse::<Fqdn>().as_ref(), Ok(&fqdn), "case does not matter");
        let name = fqdn.as_str();
        assert!(!name.ends_with('.') && name == name.to_ascii_lowercase(), "`{name}` is normalised");
        assert_eq!(format!("{name}.").parse::<Fqdn>().as_ref(), Ok(&fqdn), "a trailing dot does not matter");
    }
}

/// Facts and request files, read as TOML and as JSON: a facts file that reads writes back to the same
/// facts (identifiers keep their exact form); an error names the input.
pub fn facts_file(text: &str) {
    for name in ["input.toml", "input.json"] {
        match FactsFile::parse(name, text) {
            Ok(facts) => {
                let lists = facts.builder().build();
                assert!(lists.path_a().len() <= facts.lists.path_a.len(), "List 1 only loses duplicates");
                let written = if name.ends_with(".json") {
                    serde_json::to_string(&facts).expect("facts serialise")
                } else {
                    toml::to_string(&facts).expect("facts serialise")
                };
                let again = FactsFile::parse(name, &written);
                assert_eq!(again.as_ref().ok(), Some(&facts), "written as {written:?}: {again:?}");
                if let Ok(request) = RequestFile::parse(name, text) {
                    let _ = request.resolve(&facts, &mut facts.builder(), name, "request").map_err(|e| e.to_string());
                }
            }
            Err(error) => named(name, &error.to_string()),
        }
        if let Err(error) = RequestFile::parse(name, text) {
            named(name, &error.to_string());
        }
    }
}

/// The bodies `pathsec serve` decodes (a decision request, a batch, lists, the related decisions'
/// requests), as it decodes them: never a panic; an error names the input, and a field or a line
/// when it is about one; a request that reads is checked (`subject`) without a panic, and writes back
/// to itself.
pub fn service_request(text: &str) {
    use pathsec::files::{ListsFile, parse_named};
    use pathsec::related::files::{AccessFile, AdmissionFile, LocationFile, MediaFile, NameFile, TriggerFile};

    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Batch {
        requests: Vec<RequestFile>,
    }

    let name = "request.json";
    let described = |error: pathsec::files::FileError| {
        let message = error.to_string();
        named(name, &message);
        message
    };
    match RequestFile::parse(name, text) {
        Ok(request) => {
            let _ = request.subject(name, "").map_err(described);
            let written = serde_json::to_string(&request).expect("a request serialises");
            assert_eq!(RequestFile::parse(name, &written).ok().as_ref(), Some(&request), "written as {written}");
        }
        Err(error) => drop(described(error)),
    }
    match parse_named::<Batch>(name, text) {
        Ok(batch) => {
            for (index, request) in batch.requests.iter().enumerate() {
                let _ = request.subject(name, &format!("requests[{index}]")).map_err(described);
            }
        }
        Err(error) => drop(described(error)),
    }
    let _ = parse_named::<ListsFile>(name, text).map_err(described);
    if let Ok(trigger) = parse_named::<TriggerFile>(name, text) {
        let _ = trigger.request(pathsec::ServerId::from_raw(0));
    }
    let _ = parse_named::<AdmissionFile>(name, text).map_err(described);
    let _ = parse_named::<AccessFile>(name, text).map(|file| file.request()).map_err(described);
    let _ = parse_named::<MediaFile>(name, text).map(|file| file.request(b"")).map_err(described);
    let _ = parse_named::<LocationFile>(name, text).map_err(described);
    let _ = parse_named::<NameFile>(name, text).map(|file| file.request()).map_err(described);
}

/// Policy test-case files, read as TOML and as JSON: an error names the input.
pub fn case_file(text: &str) {
    for name in ["input.toml", "input.json"] {
        if let Err(error) = CaseFile::parse(name, text) {
            named(name, &error.to_string());
        }
    }
}

fn named(name: &str, message: &str) {
    assert!(message.contains(name), "the error names the input `{name}`: {message}");
}

/// The registration exchange's wire form (reports and indications, JSON and CBOR): any bytes give a
/// message or an error naming the kind of message, never a panic; whatever is read is written back
/// and read again as itself, in both formats.
pub fn wire(bytes: &[u8]) {
    use pathsec::exchange::{Format, Indication, Report};
    for format in [Format::Json, Format::Cbor] {
        match Report::decode(format, bytes) {
            Ok(report) => {
                for again in [Format::Json, Format::Cbor] {
                    assert_eq!(Report::decode(again, &report.encode(again)).as_ref(), Ok(&report), "{again}");
                }
                // The digest's text has one line per field whatever the fields hold, so two reports
                // cannot share it by moving text between fields.
                let canonical = report.canonical();
                assert_eq!(canonical.lines().count(), 11, "{canonical:?}");
                assert!(canonical.starts_with("pathsec-report 2\ndevice "), "{canonical:?}");
            }
            Err(error) => assert!(error.to_string().starts_with("report"), "the error names the message: {error}"),
        }
        match Indication::decode(format, bytes) {
            Ok(indication) => {
                for again in [Format::Json, Format::Cbor] {
                    assert_eq!(
                        Indication::decode(again, &indication.encode(again)).as_ref(),
                        Ok(&indication),
                        "{again}"
                    );
                }
            }
            Err(error) => {
                assert!(error.to_string().starts_with("indication"), "the error names the message: {error}")
            }
        }
    }
}

/// An error's message and its `source()` chain: no message repeats the text of its source (a reporter
/// that prints the chain would print the cause twice). An error either carries its cause in its message
/// and returns no source, or leaves it out of the message and returns it. The chain's messages, outermost
/// first.
pub fn cause_once(error: &dyn std::error::Error) -> Vec<String> {
    let mut messages = vec![error.to_string()];
    let mut current = error;
    while let Some(source) = current.source() {
        let (outer, inner) = (current.to_string(), source.to_string());
        assert!(!inner.is_empty() && !outer.contains(&inner), "`{outer}` repeats its source `{inner}`");
        messages.push(inner);
        current = source;
    }
    messages
}
