//! TLS for both engines: libpq's `sslmode` for PostgreSQL (rustls), MySQL's `ssl-mode` mapped
//! onto the `mysql` crate's URL parameters.

/// A TLS setting that cannot be used (a bad `ssl-mode`, an unreadable CA file).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TlsError(pub String);

/// How to secure a PostgreSQL connection, following libpq's `sslmode`: `disable` = plain;
/// `allow`, `prefer` (the default) and `require` = encrypted without checking the server's
/// certificate, as libpq does; `verify-ca` and `verify-full` = the certificate must chain to
/// the public roots or to `sslrootcert`, and name the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PgTls {
    Disable,
    Encrypt,
    Verify { root: Option<String> },
}

/// Split libpq's TLS parameters off the URL: the driver understands only `sslmode=disable |
/// prefer | require` and refuses other options.
pub fn pg_tls_mode(raw: &str) -> (String, PgTls) {
    let Some((base, query)) = raw.split_once('?') else {
        return (raw.to_string(), PgTls::Encrypt);
    };
    let mut mode = "prefer".to_string();
    let mut root = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("sslmode", v)) => mode = v.to_string(),
            Some(("sslrootcert", v)) => root = Some(percent_decode(v)),
            _ => kept.push(kv.to_string()),
        }
    }
    let (driver_mode, tls) = match mode.as_str() {
        "disable" => ("disable", PgTls::Disable),
        "verify-ca" | "verify-full" => ("require", PgTls::Verify { root }),
        "require" => ("require", PgTls::Encrypt),
        // allow, prefer, and anything the driver will reject with its own message
        other => (
            if other == "allow" { "prefer" } else { other },
            PgTls::Encrypt,
        ),
    };
    let driver_mode = driver_mode.to_string();
    kept.push(format!("sslmode={driver_mode}"));
    (format!("{base}?{}", kept.join("&")), tls)
}

fn percent_decode(s: &str) -> String {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn provider() -> std::sync::Arc<rustls::crypto::CryptoProvider> {
    std::sync::Arc::new(rustls::crypto::ring::default_provider())
}

/// Encrypt, accept any certificate (libpq's `require`), but still check the handshake's
/// signatures.
pub fn rustls_encrypt_only() -> Result<rustls::ClientConfig, TlsError> {
    let p = provider();
    Ok(rustls::ClientConfig::builder_with_provider(p.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(EncryptOnly(p)))
        .with_no_client_auth())
}

/// Verify the certificate against the public roots and `sslrootcert`.
pub fn rustls_verifying(root: Option<&str>) -> Result<rustls::ClientConfig, TlsError> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots =
        rustls::RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = root {
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| TlsError(format!("sslrootcert {path}: {e}")))?;
        for c in certs {
            roots
                .add(c.map_err(|e| TlsError(format!("sslrootcert {path}: {e}")))?)
                .map_err(|e| TlsError(format!("sslrootcert {path}: {e}")))?;
        }
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The verifier of the modes that do not verify (`allow`, `prefer`, `require`): like libpq,
/// it takes any certificate, whatever its version or extensions (Citus turns TLS on with a
/// self-signed X.509 **v1** certificate, which webpki refuses to parse). The handshake's
/// signature is still checked, with the public key read straight out of the certificate, so
/// the peer must hold the key of the certificate it sent.
#[derive(Debug)]
struct EncryptOnly(std::sync::Arc<rustls::crypto::CryptoProvider>);

fn bad_cert(what: &str) -> rustls::Error {
    rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
        std::sync::Arc::new(TlsError(format!(
            "the server's certificate cannot be read: {what}"
        ))),
    )))
}

/// One DER element read off the front of an input.
struct Der<'a> {
    tag: u8,
    contents: &'a [u8],
    /// The element with its tag and length.
    whole: &'a [u8],
    rest: &'a [u8],
}

/// The DER element at the start of `input`.
fn der_element(input: &[u8]) -> Option<Der<'_>> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = input.len() - rest.len();
    Some(Der {
        tag,
        contents: &rest[..len],
        whole: &input[..header + len],
        rest: &rest[len..],
    })
}

/// The SubjectPublicKeyInfo of an X.509 certificate of any version (v1 has no `[0] version`
/// field and no extensions): Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version
/// OPTIONAL, serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo, ... },
/// ... }.
pub fn certificate_spki(cert: &[u8]) -> Option<&[u8]> {
    const SEQUENCE: u8 = 0x30;
    const INTEGER: u8 = 0x02;
    let certificate = der_element(cert).filter(|e| e.tag == SEQUENCE)?;
    let tbs = der_element(certificate.contents).filter(|e| e.tag == SEQUENCE)?;
    let mut field = der_element(tbs.contents)?;
    if field.tag == 0xa0 {
        // [0] EXPLICIT version (v2, v3): the serial number follows.
        field = der_element(field.rest)?;
    }
    if field.tag != INTEGER {
        return None;
    }
    // signature, issuer, validity, subject: four SEQUENCEs, then the key.
    for _ in 0..5 {
        field = der_element(field.rest).filter(|e| e.tag == SEQUENCE)?;
    }
    Some(field.whole)
}

/// A handshake signature the certificate's key does not verify.
fn signature_error(e: webpki::Error) -> rustls::Error {
    match e {
        webpki::Error::InvalidSignatureForPublicKey => {
            rustls::Error::InvalidCertificate(rustls::CertificateError::BadSignature)
        }
        other => bad_cert(&format!("{other:?}")),
    }
}

impl EncryptOnly {
    /// Check a handshake signature with the certificate's own key, trying every algorithm the
    /// signature scheme maps to (TLS 1.2 maps one scheme to several, TLS 1.3 to one).
    fn verify(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
        tls13: bool,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        let spki = certificate_spki(cert.as_ref()).ok_or_else(|| bad_cert("not X.509 DER"))?;
        let spki = rustls::pki_types::SubjectPublicKeyInfoDer::from(spki);
        let supported = &self.0.signature_verification_algorithms;
        if tls13 {
            return rustls::crypto::verify_tls13_signature_with_raw_key(
                message, &spki, dss, supported,
            );
        }
        let key =
            webpki::RawPublicKeyEntity::try_from(&spki).map_err(|e| bad_cert(&e.to_string()))?;
        let algs = supported
            .mapping
            .iter()
            .find(|(scheme, _)| *scheme == dss.scheme)
            .map(|(_, algs)| *algs)
            .ok_or(rustls::Error::PeerMisbehaved(
                rustls::PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme,
            ))?;
        let mut last = None;
        for alg in algs {
            match key.verify_signature(*alg, message, dss.signature()) {
                Ok(()) => return Ok(rustls::client::danger::HandshakeSignatureValid::assertion()),
                Err(e @ webpki::Error::UnsupportedSignatureAlgorithmForPublicKeyContext(_)) => {
                    last = Some(e)
                }
                Err(e) => return Err(signature_error(e)),
            }
        }
        Err(last.map_or_else(
            || bad_cert("no signature algorithm for the handshake's scheme"),
            signature_error,
        ))
    }
}
impl rustls::client::danger::ServerCertVerifier for EncryptOnly {
    /// Any certificate, as libpq's `require`: nothing about it is checked here.
    fn verify_server_cert(
        &self,
        _end_entity: &rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[rustls::pki_types::CertificateDer<'_>],
        _server_name: &rustls::pki_types::ServerName<'_>,
        _ocsp: &[u8],
        _now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss, false)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.verify(message, cert, dss, true)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// MySQL's `ssl-mode` (and `sslrootcert`, as for PostgreSQL) in terms of the `mysql` crate's URL
/// parameters: `REQUIRED` encrypts without checking the certificate, `VERIFY_CA` checks it
/// against `sslrootcert`, `VERIFY_IDENTITY` also checks the host name; `DISABLED` and
/// `PREFERRED` connect in plain text (the crate cannot fall back from TLS). The crate's own
/// parameters (`root_cert_path`, ...) pass through.
pub fn my_tls_params(url: &str) -> Result<String, TlsError> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(url.to_string());
    };
    let mut mode = None;
    let mut root = None;
    let mut kept = Vec::new();
    for kv in query.split('&').filter(|kv| !kv.is_empty()) {
        match kv.split_once('=') {
            Some(("ssl-mode" | "ssl_mode" | "sslmode", v)) => mode = Some(v.to_ascii_uppercase()),
            Some(("sslrootcert" | "ssl-ca", v)) => root = Some(v.to_string()),
            _ => kept.push(kv.to_string()),
        }
    }
    match mode.as_deref() {
        None | Some("DISABLED" | "PREFERRED" | "DISABLE" | "PREFER") => {}
        Some("REQUIRED" | "REQUIRE") => kept.push("danger_accept_invalid_certs=true".into()),
        Some("VERIFY_CA" | "VERIFY-CA") => {
            let root = root
                .ok_or_else(|| TlsError("ssl-mode=VERIFY_CA needs sslrootcert=<CA file>".into()))?;
            kept.push(format!("root_cert_path={root}"));
            kept.push("danger_skip_domain_validation=true".into());
        }
        Some("VERIFY_IDENTITY" | "VERIFY-FULL") => {
            if let Some(root) = root {
                kept.push(format!("root_cert_path={root}"));
            }
        }
        Some(other) => {
            return Err(TlsError(format!(
                "ssl-mode={other}: use DISABLED, PREFERRED, REQUIRED, VERIFY_CA or VERIFY_IDENTITY"
            )))
        }
    }
    Ok(if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libpq_ssl_modes_map_onto_the_driver() {
        assert_eq!(pg_tls_mode("postgres://h/d").1, PgTls::Encrypt);
        assert_eq!(
            pg_tls_mode("postgres://h/d?sslmode=disable"),
            ("postgres://h/d?sslmode=disable".into(), PgTls::Disable)
        );
        assert_eq!(
            pg_tls_mode(
                "postgres://h/d?application_name=x&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem"
            ),
            (
                "postgres://h/d?application_name=x&sslmode=require".into(),
                PgTls::Verify {
                    root: Some("/tmp/ca.pem".into())
                }
            )
        );
        assert_eq!(
            pg_tls_mode("postgres://h/d?sslmode=allow").0,
            "postgres://h/d?sslmode=prefer"
        );
    }

    #[test]
    fn mysql_ssl_modes_map_onto_the_crate() {
        assert_eq!(my_tls_params("mysql://h/d").unwrap(), "mysql://h/d");
        assert_eq!(
            my_tls_params("mysql://h/d?ssl-mode=REQUIRED").unwrap(),
            "mysql://h/d?danger_accept_invalid_certs=true"
        );
        assert_eq!(
            my_tls_params("mysql://h/d?ssl-mode=verify_ca&sslrootcert=/ca.pem").unwrap(),
            "mysql://h/d?root_cert_path=/ca.pem&danger_skip_domain_validation=true"
        );
        assert!(my_tls_params("mysql://h/d?ssl-mode=VERIFY_CA").is_err());
        assert!(my_tls_params("mysql://h/d?ssl-mode=bogus").is_err());
    }

    /// A certificate made by openssl in a temp dir: (DER, the public key's SPKI as DER).
    fn openssl_cert(v1: bool) -> (Vec<u8>, Vec<u8>) {
        let dir = tempfile::tempdir().unwrap();
        let run = |args: &[&str]| {
            let out = std::process::Command::new("openssl")
                .args(args)
                .current_dir(dir.path())
                .output()
                .expect("openssl is installed");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        };
        if v1 {
            run(&[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=citus",
                "-keyout",
                "k.pem",
                "-out",
                "r.csr",
            ]);
            run(&[
                "x509", "-req", "-in", "r.csr", "-signkey", "k.pem", "-days", "1", "-outform",
                "DER", "-out", "c.der",
            ]);
        } else {
            run(&[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                "/CN=x",
                "-days",
                "1",
                "-keyout",
                "k.pem",
                "-outform",
                "DER",
                "-out",
                "c.der",
            ]);
        }
        run(&[
            "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "spki.der",
        ]);
        (
            std::fs::read(dir.path().join("c.der")).unwrap(),
            std::fs::read(dir.path().join("spki.der")).unwrap(),
        )
    }

    #[test]
    fn the_key_is_read_out_of_v1_and_v3_certificates() {
        for v1 in [true, false] {
            let (cert, spki) = openssl_cert(v1);
            assert_eq!(certificate_spki(&cert), Some(&spki[..]), "v1: {v1}");
            let der = rustls::pki_types::CertificateDer::from(cert.clone());
            let parsed = webpki::EndEntityCert::try_from(&der);
            if v1 {
                // Why the verifier reads the key itself: webpki refuses v1 outright.
                assert!(matches!(parsed, Err(webpki::Error::UnsupportedCertVersion)));
            } else {
                assert!(parsed.is_ok());
            }
        }
        assert_eq!(certificate_spki(b"not a certificate"), None);
        assert_eq!(certificate_spki(&[0x30, 0x82, 0xff]), None);
    }

    #[test]
    fn only_the_modes_that_do_not_verify_skip_the_certificate() {
        for mode in ["", "?sslmode=allow", "?sslmode=prefer", "?sslmode=require"] {
            assert_eq!(
                pg_tls_mode(&format!("postgres://h/d{mode}")).1,
                PgTls::Encrypt
            );
        }
        for mode in ["verify-ca", "verify-full"] {
            assert!(matches!(
                pg_tls_mode(&format!("postgres://h/d?sslmode={mode}")).1,
                PgTls::Verify { .. }
            ));
        }
    }
}
