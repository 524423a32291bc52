//! What the proxy reads of an X.509 certificate itself: the DNS names it is for and its
//! validity period. rustls checks the certificate's signature and key; this is a small DER
//! walk over the `tbsCertificate` (RFC 5280 §4.1), bounds-checked at every step, so a
//! malformed certificate is an error, never a panic.

/// The names and validity of one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Facts {
    /// The subjectAltName DNS names, or the subject's common name when there is no
    /// subjectAltName extension; lowercase.
    pub(crate) names: Vec<String>,
    /// The start of the validity period, in seconds since the Unix epoch.
    pub(crate) not_before: i64,
    /// The end of the validity period, in seconds since the Unix epoch.
    pub(crate) not_after: i64,
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const BOOLEAN: u8 = 0x01;
const OCTET_STRING: u8 = 0x04;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xa0;
const EXTENSIONS: u8 = 0xa3;
const DNS_NAME: u8 = 0x82;
/// 2.5.29.17, subjectAltName.
const SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x11];
/// 2.5.4.3, commonName.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// Reads the names and validity of a DER certificate.
///
/// # Errors
///
/// What part of the certificate is malformed.
pub(crate) fn facts(der: &[u8]) -> Result<Facts, &'static str> {
    let (certificate, _) = expect(der, SEQUENCE, "not a certificate")?;
    let (tbs, _) = expect(certificate, SEQUENCE, "no tbsCertificate")?;
    let mut rest = tbs;
    if rest.first() == Some(&VERSION) {
        rest = tlv(rest)?.2;
    }
    let (_serial, _, rest) = tlv(rest)?;
    let (_signature, rest) = expect(rest, SEQUENCE, "no signature algorithm")?;
    let (_issuer, rest) = expect(rest, SEQUENCE, "no issuer")?;
    let (validity, rest) = expect(rest, SEQUENCE, "no validity")?;
    let (subject, rest) = expect(rest, SEQUENCE, "no subject")?;
    let (_key, mut rest) = expect(rest, SEQUENCE, "no subject public key")?;
    let (not_before, after) = time(validity)?;
    let (not_after, _) = time(after)?;
    let mut alt_names = None;
    while !rest.is_empty() {
        let (tag, content, next) = tlv(rest)?;
        if tag == EXTENSIONS {
            alt_names = subject_alt_names(content)?;
        }
        rest = next;
    }
    let names = match alt_names {
        Some(names) => names,
        None => common_name(subject)?.into_iter().collect(),
    };
    Ok(Facts { names, not_before, not_after })
}

/// The DNS names of the subjectAltName extension, if the certificate has one.
fn subject_alt_names(extensions: &[u8]) -> Result<Option<Vec<String>>, &'static str> {
    let (mut list, _) = expect(extensions, SEQUENCE, "malformed extensions")?;
    while !list.is_empty() {
        let (extension, next) = expect(list, SEQUENCE, "malformed extension")?;
        list = next;
        let (oid, mut rest) = expect(extension, OID, "malformed extension")?;
        if oid != SUBJECT_ALT_NAME {
            continue;
        }
        if rest.first() == Some(&BOOLEAN) {
            rest = tlv(rest)?.2;
        }
        let (value, _) = expect(rest, OCTET_STRING, "malformed subjectAltName")?;
        let (mut general, _) = expect(value, SEQUENCE, "malformed subjectAltName")?;
        let mut names = Vec::new();
        while !general.is_empty() {
            let (tag, content, next) = tlv(general)?;
            if tag == DNS_NAME {
                names.push(text(content)?);
            }
            general = next;
        }
        return Ok(Some(names));
    }
    Ok(None)
}

/// The subject's (last) common name, if it has one.
fn common_name(mut subject: &[u8]) -> Result<Option<String>, &'static str> {
    let mut found = None;
    while !subject.is_empty() {
        let (mut set, next) = expect(subject, SET, "malformed subject")?;
        subject = next;
        while !set.is_empty() {
            let (pair, after) = expect(set, SEQUENCE, "malformed subject")?;
            set = after;
            let (oid, value) = expect(pair, OID, "malformed subject")?;
            if oid == COMMON_NAME {
                found = Some(text(tlv(value)?.1)?);
            }
        }
    }
    Ok(found)
}

fn text(bytes: &[u8]) -> Result<String, &'static str> {
    std::str::from_utf8(bytes).map(str::to_ascii_lowercase).map_err(|_| "a name is not text")
}

/// One time of the validity period, in seconds since the epoch, and what follows it.
fn time(input: &[u8]) -> Result<(i64, &[u8]), &'static str> {
    let (tag, content, rest) = tlv(input)?;
    let digits = std::str::from_utf8(content).map_err(|_| "malformed validity")?;
    let digits = digits.strip_suffix('Z').ok_or("a validity time is not in UTC")?;
    // ASCII digits only: the slicing below is then on character boundaries.
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("malformed validity");
    }
    let (year, rest_digits) = match tag {
        UTC_TIME if digits.len() == 12 => {
            let yy = number(&digits[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &digits[2..])
        }
        GENERALIZED_TIME if digits.len() == 14 => (number(&digits[..4])?, &digits[4..]),
        _ => return Err("malformed validity"),
    };
    let field = |at: usize| number(&rest_digits[at..at + 2]);
    let (month, day) = (field(0)?, field(2)?);
    let (hour, minute, second) = (field(4)?, field(6)?, field(8)?);
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return Err("malformed validity");
    }
    let days = days_from_civil(year, month, day);
    Ok((days * 86_400 + hour * 3600 + minute * 60 + second, rest))
}

fn number(digits: &str) -> Result<i64, &'static str> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("malformed validity");
    }
    digits.parse().map_err(|_| "malformed validity")
}

/// Days from 1970-01-01 to a date of the proleptic Gregorian calendar (Howard Hinnant's
/// `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// A TLV of tag `tag`: its content and what follows it.
fn expect<'a>(
    input: &'a [u8],
    tag: u8,
    what: &'static str,
) -> Result<(&'a [u8], &'a [u8]), &'static str> {
    match tlv(input) {
        Ok((found, content, rest)) if found == tag => Ok((content, rest)),
        _ => Err(what),
    }
}

/// One DER tag-length-value: its tag, content and what follows it.
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), &'static str> {
    const TRUNCATED: &str = "truncated DER";
    let (&tag, rest) = input.split_first().ok_or(TRUNCATED)?;
    let (&first, mut rest) = rest.split_first().ok_or(TRUNCATED)?;
    let length = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return Err(TRUNCATED);
        }
        let (bytes, after) = rest.split_at(count);
        rest = after;
        bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
    };
    if rest.len() < length {
        return Err(TRUNCATED);
    }
    let (content, rest) = rest.split_at(length);
    Ok((tag, content, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn certificate(names: &[&str], cn: &str, years: (i32, i32)) -> Vec<u8> {
        let mut params = rcgen::CertificateParams::new(
            names.iter().map(|n| (*n).to_owned()).collect::<Vec<_>>(),
        )
        .unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, cn);
        params.not_before = rcgen::date_time_ymd(years.0, 1, 2);
        params.not_after = rcgen::date_time_ymd(years.1, 12, 31);
        let key = rcgen::KeyPair::generate().unwrap();
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn names_from_the_subject_alt_names() {
        let der = certificate(&["A.test", "*.b.test"], "ignored.test", (2001, 2049));
        let facts = facts(&der).unwrap();
        assert_eq!(facts.names, ["a.test", "*.b.test"]);
        assert_eq!(facts.not_before, 978_393_600, "2001-01-02T00:00:00Z");
        assert_eq!(facts.not_after, 2_524_521_600, "2049-12-31T00:00:00Z");
    }

    #[test]
    fn the_common_name_without_subject_alt_names() {
        let der = certificate(&[], "Only.test", (2051, 2052));
        let facts = facts(&der).unwrap();
        assert_eq!(facts.names, ["only.test"]);
        assert_eq!(facts.not_before, 2_556_230_400, "2051-01-02 (GeneralizedTime)");
    }

    #[test]
    fn malformed_input_is_an_error() {
        let der = certificate(&["a.test"], "a", (2001, 2030));
        for cut in [0, 1, 2, 10, der.len() / 2, der.len() - 1] {
            assert!(facts(&der[..cut]).is_err(), "cut at {cut}");
        }
        assert!(facts(b"\x30\x84\xff\xff\xff\xff").is_err());
    }

    #[test]
    fn a_time_with_non_ascii_text_is_an_error() {
        // Twelve bytes before the `Z`, the second character two bytes long.
        assert_eq!(time(b"\x17\x0d1\xc3\xa9101000000Z"), Err("malformed validity"));
    }

    /// Every byte changed in turn, to several values: an error or some facts, never a panic.
    #[test]
    fn corrupted_certificates_never_panic() {
        let der = certificate(&["a.test", "*.b.test"], "a", (2001, 2030));
        for at in 0..der.len() {
            for value in [0x00, 0x7f, 0x80, 0x84, 0xc3, 0xff, der[at] ^ 0x01] {
                let mut bad = der.clone();
                bad[at] = value;
                let _ = facts(&bad);
            }
        }
    }
}
