//! `PlmnId` and `Fqdn`: the identifier bugs real cores have shipped (3-digit MNCs, dropped leading
//! zeros, case and trailing dots) and the messages users read.

use pathsec::{Fqdn, PlmnId};

fn plmn(text: &str) -> PlmnId {
    text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
}

#[test]
fn mnc_digit_count_is_part_of_the_identity() {
    assert_ne!(plmn("31041"), plmn("310410"));
    assert_ne!(plmn("31070"), plmn("310070"));
    assert_eq!(plmn("310070").mnc(), 70);
    assert_eq!(plmn("310070").mnc_digits(), 3);
    assert_eq!(plmn("31070").mnc_digits(), 2);
    assert_eq!(plmn("310070").to_string(), "310070");
    assert_eq!(plmn("31070").to_string(), "31070");
    assert_eq!(plmn("310070").mnc_string(), "070");
}

#[test]
fn leading_zeros_survive() {
    let test_network = plmn("00101");
    assert_eq!((test_network.mcc(), test_network.mnc(), test_network.mnc_digits()), (1, 1, 2));
    assert_eq!(test_network.to_string(), "00101");
    assert_eq!(test_network.mcc_string(), "001");
    assert_eq!(plmn("001001").to_string(), "001001");
    assert_ne!(plmn("00101"), plmn("001001"));
}

#[test]
fn parts_and_packed_forms_agree() {
    assert_eq!(PlmnId::from_parts("310", "410"), Ok(plmn("310410")));
    assert_eq!(PlmnId::from_parts("208", "01"), Ok(plmn("20801")));
    assert_eq!(PlmnId::new(310, 70, 3), Ok(plmn("310070")));
    assert_eq!(PlmnId::new(310, 70, 2), Ok(plmn("31070")));
}

#[test]
fn malformed_plmn_ids_are_refused_with_the_input_named() {
    let expected = "expected MCC (3 digits) + MNC (2 or 3 digits)";
    for input in ["", "3101", "3104100", "31O410", " 310410", "310410 ", "+31041", "31041\n", "３１０４１０"] {
        let error = input.parse::<PlmnId>().expect_err(input);
        assert_eq!(error.to_string(), format!("`{input}` is not a PLMN-ID: {expected}"));
    }
    let mcc = PlmnId::from_parts("31", "410").expect_err("short MCC");
    assert_eq!(mcc.to_string(), "`31` is not an MCC: expected 3 digits");
    let mnc = PlmnId::from_parts("310", "4100").expect_err("long MNC");
    assert_eq!(mnc.to_string(), "`4100` is not an MNC: expected 2 or 3 digits, as a string");
    assert!(PlmnId::from_parts("310", "4").is_err());
    assert!(PlmnId::from_parts("310", "-10").is_err());
    assert_eq!(
        PlmnId::new(310, 100, 2).expect_err("MNC 100 in 2 digits").to_string(),
        "`100` is not an MNC: expected 2 or 3 digits, as a string"
    );
    assert_eq!(PlmnId::new(310, 10, 4).expect_err("4 digits").to_string(), "an MNC has 2 or 3 digits, not 4");
    assert!(PlmnId::new(1000, 10, 2).is_err());
}

#[test]
fn plmn_ids_read_from_files_in_both_forms() {
    #[derive(serde::Deserialize)]
    struct File {
        networks: Vec<PlmnId>,
    }
    let file: File =
        toml::from_str(r#"networks = ["310410", { mcc = "310", mnc = "070" }, { mcc = "001", mnc = "01" }]"#)
            .expect("parses");
    assert_eq!(file.networks, vec![plmn("310410"), plmn("310070"), plmn("00101")]);

    let integer_mnc = toml::from_str::<File>(r#"networks = [{ mcc = "310", mnc = 70 }]"#).err().expect("refused");
    assert!(integer_mnc.to_string().contains("MCC and MNC as strings"), "{integer_mnc}");
    let extra_field = toml::from_str::<File>(r#"networks = [{ mcc = "310", mnc = "070", name = "x" }]"#);
    assert!(extra_field.is_err());
}

#[test]
fn plmn_ids_write_the_3gpp_object() {
    #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
    struct File {
        network: PlmnId,
    }
    let file = File { network: plmn("310070") };
    let text = toml::to_string(&file).expect("serialises");
    assert!(text.contains(r#"mcc = "310""#) && text.contains(r#"mnc = "070""#), "{text}");
    assert_eq!(toml::from_str::<File>(&text).expect("reads back"), file);
}

#[test]
fn fqdn_compares_case_insensitively_with_or_without_the_trailing_dot() {
    let canonical: Fqdn = "mtc.example.com".parse().expect("valid");
    for variant in ["MTC.EXAMPLE.COM", "mtc.example.com.", "Mtc.Example.Com.", "mtc.EXAMPLE.com"] {
        assert_eq!(variant.parse::<Fqdn>(), Ok(canonical.clone()), "{variant}");
    }
    assert_eq!(canonical.as_str(), "mtc.example.com");
    assert_ne!("a.mtc.example.com".parse::<Fqdn>(), Ok(canonical.clone()));
    assert_ne!("mtc.example.co".parse::<Fqdn>(), Ok(canonical));
    assert!("localhost".parse::<Fqdn>().is_ok(), "a single label is a valid name");
    assert!("3gpp.example".parse::<Fqdn>().is_ok(), "labels may start with a digit (RFC 1123)");
    assert!("xn--bcher-kva.example".parse::<Fqdn>().is_ok(), "A-labels are accepted");
}

#[test]
fn fqdn_length_limits_follow_rfc_1035() {
    let label63 = "a".repeat(63);
    assert!(format!("{label63}.example").parse::<Fqdn>().is_ok());
    let label64 = "a".repeat(64);
    let error = format!("{label64}.example").parse::<Fqdn>().expect_err("64-character label");
    assert_eq!(
        error.to_string(),
        format!("`{label64}.example` is not a valid FQDN: label `{label64}` is 64 characters long, more than 63")
    );

    // 253 characters is the longest name; a trailing dot does not count.
    let name253 = [&"a".repeat(63), &"b".repeat(63), &"c".repeat(63), &"d".repeat(61)].map(|s| s.as_str()).join(".");
    assert_eq!(name253.len(), 253);
    assert!(name253.parse::<Fqdn>().is_ok());
    assert!(format!("{name253}.").parse::<Fqdn>().is_ok());
    let name254 = format!("{name253}e");
    let error = name254.parse::<Fqdn>().expect_err("254 characters");
    assert!(error.to_string().ends_with("it is 254 characters long, more than 253"), "{error}");
}

#[test]
fn malformed_fqdns_are_refused_with_the_problem_named() {
    for (input, problem) in [
        ("", "it is empty"),
        (".", "it is empty"),
        ("mtc..example.com", "it has an empty label (two dots in a row, or a leading dot)"),
        (".mtc.example.com", "it has an empty label (two dots in a row, or a leading dot)"),
        ("mtc_1.example.com", "label `mtc_1` has `_`: only letters, digits and `-` are allowed"),
        ("mtc example.com", "label `mtc example` has ` `: only letters, digits and `-` are allowed"),
        ("-mtc.example.com", "label `-mtc` starts or ends with `-`"),
        ("mtc-.example.com", "label `mtc-` starts or ends with `-`"),
        ("bücher.example", "it has non-ASCII characters: write internationalised names in their A-label (`xn--`) form"),
        ("mtc.example.com..", "it has an empty label (two dots in a row, or a leading dot)"),
    ] {
        let error = input.parse::<Fqdn>().expect_err(input);
        assert_eq!(error.to_string(), format!("`{input}` is not a valid FQDN: {problem}"));
    }
}

#[test]
fn keys_order_as_plmn_ids_do() {
    // The WIT promises lists sorted by key; the host sorts them as PLMN-IDs.
    let mut networks: Vec<PlmnId> = Vec::new();
    for mcc in [0u16, 1, 208, 310, 999] {
        for (mnc, digits) in
            [(0u16, 2u8), (0, 3), (1, 2), (1, 3), (41, 2), (41, 3), (70, 2), (70, 3), (99, 2), (410, 3), (999, 3)]
        {
            networks.push(PlmnId::new(mcc, mnc, digits).expect("valid"));
        }
    }
    let mut by_id = networks.clone();
    by_id.sort();
    let mut by_key = networks.clone();
    by_key.sort_by_key(|network| network.key());
    assert_eq!(by_id, by_key);
    let mut keys: Vec<u32> = networks.iter().map(|network| network.key()).collect();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!(keys.len(), networks.len(), "keys are unique");
    assert_eq!(plmn("310410").key(), 310 << 16 | 410 << 4 | 3);
    assert_eq!(plmn("31041").key(), 310 << 16 | 41 << 4 | 2);
}
