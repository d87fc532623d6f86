use super::*;
use crate::account::AuthMethod;

const GUID: &str = "9e5f94bc-e8a4-4e73-b8be-63364c29d753";

fn token(n: u32) -> String {
    format!("M.C5{n}_BAY.0.U.-{}", "Abc!*x".repeat(40))
}

fn ok(text: &str, format: ImportFormat) -> ParsedFile {
    let p = parse(text.as_bytes(), format);
    assert!(p.errors.is_empty(), "no errors expected, got {:?}", p.errors);
    p
}

#[test]
fn dash_lines_are_told_apart_by_shape() {
    let t = token(1);
    let text = format!(
        "a@outlook.com----pw1----{t}----{GUID}\n\
         b@hotmail.com----{t}----{GUID}\n\
         c@hotmail.com----{GUID}----{t}\n\
         d@outlook.com----{t}\n\
         e@gmail.com----apppass\n\
         f@example.org:secret:with:colons----mail.example.org----993\n\
         g@example.org----pw----127.0.0.1----10993\n"
    );
    let p = ok(&text, ImportFormat::Auto);
    assert_eq!(p.format, ImportFormat::Dash);
    let r = &p.records;
    assert_eq!(r.len(), 7, "{r:?}");
    assert_eq!(
        (
            r[0].password.as_ref().map(Secret::expose),
            r[0].refresh_token.as_ref().map(Secret::expose),
            r[0].client_id.as_deref()
        ),
        (Some("pw1"), Some(t.as_str()), Some(GUID))
    );
    for x in &r[1..3] {
        assert_eq!(
            (x.refresh_token.as_ref().map(Secret::expose), x.client_id.as_deref()),
            (Some(t.as_str()), Some(GUID)),
            "line {}: swapped order still works",
            x.line
        );
        assert!(x.password.is_none());
    }
    assert!(r[3].client_id.is_none() && r[3].refresh_token.is_some());
    assert_eq!(r[4].password.as_ref().map(Secret::expose), Some("apppass"));
    assert_eq!(r[5].email, "f@example.org");
    assert_eq!(r[5].password.as_ref().map(Secret::expose), Some("secret:with:colons"), "only the first colon splits");
    assert_eq!((r[5].imap_host.as_deref(), r[5].imap_port.as_deref()), (Some("mail.example.org"), Some("993")));
    assert_eq!((r[6].imap_host.as_deref(), r[6].imap_port.as_deref()), (Some("127.0.0.1"), Some("10993")));

    let plans: Vec<_> = r.iter().map(|x| x.plan(&ImportDefaults::default()).unwrap()).collect();
    assert_eq!(plans[1].account.auth, AuthMethod::OAuth2);
    assert_eq!(plans[3].account.client_id.as_deref(), Some(GUID), "the default client id is filled in");
    assert_eq!(plans[4].account.auth, AuthMethod::Password);
    assert_eq!(plans[5].account.imap.to_string(), "mail.example.org:993");
}

#[test]
fn a_malformed_line_never_echoes_its_fields() {
    let text = "user:hunter2secret\nM.C5_token_in_the_first_field----x\n";
    let p = parse(text.as_bytes(), ImportFormat::Dash);
    let reasons: Vec<String> = p
        .errors
        .iter()
        .map(|e| e.reason.clone())
        .chain(p.records.iter().map(|r| r.plan(&ImportDefaults::default()).unwrap_err().reason))
        .collect();
    assert_eq!(reasons.len(), 2, "{reasons:?}");
    for r in &reasons {
        assert!(!r.contains("hunter2") && !r.contains("M.C5"), "a reason printed a field: {r}");
    }
}

#[test]
fn a_refresh_token_on_an_unknown_domain_is_an_outlook_account() {
    let p = ok(&format!("x@supplier-domain.com----{}----{GUID}\n", token(2)), ImportFormat::Dash);
    let plan = p.records[0].plan(&ImportDefaults::default()).unwrap();
    assert_eq!(
        (plan.account.provider, plan.account.imap.host.as_str()),
        (crate::account::Provider::Outlook, "outlook.office365.com")
    );
}

#[test]
fn line_numbers_count_comments_and_blank_lines_and_errors_say_why() {
    let text = format!(
        "# supplier batch 7\r\n\r\nok@outlook.com----{}\r\n   \r\nnot-an-address----pw\r\nnoToken@outlook.com----{GUID}\r\nlonely@example.org\r\nz@example.org----pw\r\n",
        token(3)
    );
    let p = parse(text.as_bytes(), ImportFormat::Auto);
    assert_eq!(p.records.len(), 4, "{:?}", p.records);
    assert_eq!(p.records[0].line, 3);
    assert_eq!(
        p.errors,
        vec![Problem::new("no_refresh_token", "no refresh token").at(6)],
        "a client id alone is refused while parsing"
    );
    let d = ImportDefaults::default();
    let reasons: Vec<(usize, String)> =
        p.records[1..].iter().map(|r| (r.line, r.plan(&d).unwrap_err().reason)).collect();
    assert_eq!(reasons[0].0, 5);
    assert_eq!(reasons[0].1, "the first field is not an email address", "{reasons:?}");
    assert_eq!(reasons[1], (7, "no password or refresh token".into()));
    assert!(reasons[2].1.starts_with("no IMAP server is known for example.org"), "{reasons:?}");
}

#[test]
fn csv_and_tsv_columns_in_any_order_with_quotes_and_bom() {
    let t = token(4);
    let csv = format!(
        "\u{feff}Provider,\"Refresh_Token\",email,imap_port,imap_host,client_id,password\r\n# a comment\r\noutlook,\"{t}\", A@Outlook.com ,,,{GUID},\r\nimap,,b@example.org,10993,127.0.0.1,,\"p,w\"\r\n"
    );
    let p = ok(&csv, ImportFormat::Auto);
    assert_eq!(p.format, ImportFormat::Csv);
    assert_eq!(p.records.len(), 2);
    assert_eq!((p.records[0].line, p.records[0].email.as_str()), (3, "A@Outlook.com"));
    assert_eq!(p.records[0].refresh_token.as_ref().map(Secret::expose), Some(t.as_str()));
    assert_eq!((p.records[1].line, p.records[1].password.as_ref().map(Secret::expose)), (4, Some("p,w")));
    assert_eq!(p.records[1].imap_port.as_deref(), Some("10993"));

    let tsv = "email\tpassword\timap_host\timap_port\nc@example.org\tpw\tmail.example.org\t143\n";
    let p = ok(tsv, ImportFormat::Auto);
    assert_eq!((p.format, p.records[0].imap_host.as_deref()), (ImportFormat::Csv, Some("mail.example.org")));

    let p = parse(b"name,secret\nx,y\n", ImportFormat::Csv);
    assert_eq!(p.errors[0].line, 1);
    assert!(p.errors[0].reason.contains("no email column"), "{:?}", p.errors);
}

#[test]
fn json_entries_carry_the_line_their_object_starts_on() {
    let t = token(5);
    let text = format!(
        "[\n  {{\"email\": \"a@outlook.com\", \"refresh_token\": \"{t}\"}},\n  {{\n    \"email\": \"b@example.org\",\n    \"password\": \"pw\", \"imap_host\": \"127.0.0.1\", \"imap_port\": 993\n  }},\n  {{\"password\": \"x\"}}\n]\n"
    );
    let p = parse(text.as_bytes(), ImportFormat::Auto);
    assert_eq!(p.format, ImportFormat::Json);
    assert_eq!(p.records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2, 3]);
    assert_eq!(p.records[1].imap_port.as_deref(), Some("993"), "numbers are accepted for the port");
    assert_eq!(p.errors, vec![Problem::new("no_email", "no email address").at(7)]);

    let broken = parse(b"[\n{\"email\": \"a@b.com\",\n", ImportFormat::Json);
    assert_eq!(broken.records.len(), 0);
    assert!(broken.errors[0].reason.contains("not valid JSON"), "{:?}", broken.errors);
}

#[test]
fn utf16_and_gbk_files_decode() {
    let text = "张三@qq.com----密码123\n";
    let mut utf16 = vec![0xFF, 0xFE];
    utf16.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    let (gbk, _, _) = encoding_rs::GBK.encode(text);
    for (name, bytes) in [("utf-16le", utf16), ("gbk", gbk.into_owned())] {
        let p = ok_bytes(&bytes);
        assert_eq!(p.records[0].email, "张三@qq.com", "{name}");
        assert_eq!(p.records[0].password.as_ref().map(Secret::expose), Some("密码123"), "{name}");
    }
}

fn ok_bytes(b: &[u8]) -> ParsedFile {
    let p = parse(b, ImportFormat::Auto);
    assert!(p.errors.is_empty(), "{:?}", p.errors);
    p
}

#[test]
fn exports_read_back_as_the_same_accounts() {
    let t = token(6);
    let text =
        format!("a@outlook.com----{t}----{GUID}\nb@example.org----pw----mail.example.org----143\nc@gmail.com----app\n");
    let d = ImportDefaults::default();
    let plans: Vec<_> = ok(&text, ImportFormat::Dash).records.iter().map(|r| r.plan(&d).unwrap()).collect();
    let records: Vec<ExportRecord> =
        plans.iter().map(|p| ExportRecord::new(&p.account, Some(p.secret.clone()))).collect();
    for format in [ImportFormat::Dash, ImportFormat::Csv, ImportFormat::Json] {
        let out = write_export(&records, format);
        let back = ok(&out, ImportFormat::Auto);
        assert_eq!(back.format, format, "{out}");
        let again: Vec<_> = back.records.iter().map(|r| r.plan(&d).unwrap()).collect();
        for (a, b) in plans.iter().zip(&again) {
            assert_eq!(a.account, b.account, "{format} round trip:\n{out}");
            assert_eq!(a.secret, b.secret, "{format} keeps the secret");
        }
    }
    let without: Vec<ExportRecord> = plans.iter().map(|p| ExportRecord::new(&p.account, None)).collect();
    for format in [ImportFormat::Dash, ImportFormat::Csv, ImportFormat::Json] {
        let out = write_export(&without, format);
        assert!(
            !out.contains(&t) && !out.contains("----pw") && !out.contains("app"),
            "no secret without asking:\n{out}"
        );
    }
}

/// Every sample file in `tests/fixtures/import/` against its `NAME.expected.json`: the format
/// detected, each usable line's account (no secrets), and each unusable line's reason.
/// `MAILWATCH_BLESS=1` rewrites the expectations.
#[test]
fn sample_files_match_their_expectations() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/import");
    let mut ran = 0;
    let mut mismatches = Vec::new();
    let mut entries: Vec<_> =
        std::fs::read_dir(&dir).expect("the fixtures folder exists").map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries.iter().filter(|p| !p.to_string_lossy().ends_with(".expected.json")) {
        let parsed = parse(&std::fs::read(path).unwrap(), ImportFormat::Auto);
        let mut accounts = Vec::new();
        let mut errors = parsed.errors.clone();
        for r in &parsed.records {
            match r.plan(&ImportDefaults::default()) {
                Ok(p) => accounts.push(serde_json::json!({
                    "line": p.line,
                    "email": p.account.email,
                    "provider": p.account.provider,
                    "auth": p.account.auth,
                    "imap": p.account.imap.to_string(),
                    "tls": p.account.imap.tls,
                    "clientId": p.account.client_id,
                })),
                Err(problem) => errors.push(problem.at(r.line)),
            }
        }
        errors.sort_by_key(|e| e.line);
        let got = serde_json::json!({"format": parsed.format, "accounts": accounts, "errors": errors});
        let expected_path = dir.join(format!("{}.expected.json", path.file_name().unwrap().to_string_lossy()));
        let got_text = serde_json::to_string_pretty(&got).unwrap() + "\n";
        if std::env::var_os("MAILWATCH_BLESS").is_some() {
            std::fs::write(&expected_path, &got_text).unwrap();
        }
        let expected = std::fs::read_to_string(&expected_path).unwrap_or_default();
        if expected != got_text {
            mismatches.push(format!("{}:\n--- expected\n{expected}\n--- got\n{got_text}", path.display()));
        }
        ran += 1;
    }
    assert!(ran >= 6, "the sample files ran ({ran})");
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn csv_rows_longer_or_shorter_than_the_header_are_refused_with_their_line() {
    let t = token(7);
    // Line 3 has an unquoted comma in the password, which would push the token into the
    // client id column; line 4 lost its last field.
    let csv = format!(
        "email,password,refresh_token,client_id\nok@outlook.com,,{t},{GUID}\nlong@outlook.com,p,w,{t},{GUID}\nshort@outlook.com,,{t}\n"
    );
    let p = parse(csv.as_bytes(), ImportFormat::Csv);
    assert_eq!(p.records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![2], "{:?}", p.errors);
    let lines: Vec<usize> = p.errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, vec![3, 4], "{:?}", p.errors);
    assert!(p.errors[0].reason.contains("5 fields but the header has 4"), "{:?}", p.errors);
    assert!(p.errors[1].reason.contains("3 fields but the header has 4"), "{:?}", p.errors);
    for e in &p.errors {
        assert!(!e.reason.contains("M.C5") && !e.reason.contains("long@"), "a reason printed a field: {e}");
    }
}

#[test]
fn each_field_must_have_its_shape_and_reasons_name_the_field_not_the_value() {
    let t = token(8);
    let rows = [
        ("email,refresh_token\nx@outlook.com,hunter2-not-a-token\n", "refresh_token", "hunter2"),
        (&*format!("email,refresh_token,client_id\nx@outlook.com,{t},{t}\n"), "client_id", "M.C5"),
        ("email,password,provider\nx@example.org,pw,secret-provider\n", "provider", "secret-provider"),
        ("email,password,imap_host,imap_port\nx@example.org,pw,mail.example.org,99999\n", "imap_port", "99999"),
        ("email,password,imap_host,imap_port\nx@example.org,pw,mail.example.org,12ab\n", "imap_port", "12ab"),
        ("email,password,imap_host\nx@example.org,pw,not a host\n", "imap_host", "not a host"),
    ];
    for (csv, field, value) in rows {
        let p = ok(csv, ImportFormat::Csv);
        let reason = p.records[0].plan(&ImportDefaults::default()).unwrap_err().reason;
        assert!(reason.contains(field), "the reason names {field}: {reason}");
        assert!(!reason.contains(value), "the reason must not echo the value of {field}: {reason}");
    }
    // JSON goes through the same checks.
    let json = r#"[{"email": "j@outlook.com", "refresh_token": "short", "client_id": "9e5f94bc-e8a4-4e73-b8be-63364c29d753"}]"#;
    let p = ok(json, ImportFormat::Json);
    let reason = p.records[0].plan(&ImportDefaults::default()).unwrap_err().reason;
    assert!(reason.contains("refresh_token") && !reason.contains("short"), "{reason}");
    // And good shapes still pass: a Google-style client id and a port in range.
    let good = format!(
        "email,refresh_token,client_id,imap_host,imap_port\ng@gmail.com,1//{},123-abc.apps.googleusercontent.com,imap.gmail.com,993\n",
        "x".repeat(40)
    );
    let p = ok(&good, ImportFormat::Csv);
    let plan = p.records[0].plan(&ImportDefaults::default()).expect("a well-shaped row plans");
    assert_eq!(plan.account.client_id.as_deref(), Some("123-abc.apps.googleusercontent.com"));
}

/// Found by fuzzing: a CSV line whose `#` has spaces before it was read as a row, and the
/// line number of that row and of the next one skipped ahead to the next line. Such a line
/// is a comment, as in dash files and to the format detection, and every row keeps its line.
#[test]
fn csv_comments_with_spaces_before_the_hash_are_skipped_and_lines_stay_right() {
    let csv = "  # supplier notes, batch 7\nemail,password\n  # x@example.org,hunter2\nb@example.org,pw\n\n   \n\t#c@example.org,pw\nd@example.org,pw\n";
    let p = ok(csv, ImportFormat::Auto);
    assert_eq!(p.format, ImportFormat::Csv);
    let got: Vec<(usize, &str)> = p.records.iter().map(|r| (r.line, r.email.as_str())).collect();
    assert_eq!(got, vec![(4, "b@example.org"), (8, "d@example.org")]);

    // A comment at the first column, and blank lines, still count for the lines after them.
    let p = ok("email,password\n\n# c\r\n\r\ne@example.org,pw\n", ImportFormat::Csv);
    assert_eq!(p.records.iter().map(|r| r.line).collect::<Vec<_>>(), vec![5]);
}

#[test]
fn groups_come_from_headers_or_columns_and_proxies_from_any_format() {
    let t = token(1);
    let text = format!(
        "#group shop-A\n\
         a@outlook.com----{t}----{GUID}----socks5://u-{{session}}:s3cret@127.0.0.1:1080\n\
         b@outlook.com----pw----{t}----{GUID}----10.1.2.3:8000:bob:hunter2\n\
         #group\n\
         c@example.org----pw----127.0.0.1----10993\n\
         d@example.org:pw----proxy.example.net:1080\n"
    );
    let p = ok(&text, ImportFormat::Auto);
    let groups: Vec<Option<&str>> = p.records.iter().map(|r| r.group.as_deref()).collect();
    assert_eq!(groups, vec![Some("shop-A"), Some("shop-A"), None, None], "`#group` alone ends the group");
    assert!(p.records[3].proxy.is_some(), "`email:password----host:port` has a proxy");
    let defaults = ImportDefaults { imap_host: Some("127.0.0.1".into()), ..Default::default() };
    let planned: Vec<PlannedAccount> = p.records.iter().map(|r| r.plan(&defaults).unwrap()).collect();
    assert_eq!(planned[0].account.proxy.as_deref(), Some("socks5h://u-{session}@127.0.0.1:1080"));
    assert_eq!(
        planned[0].proxy_secret.as_ref().map(|(k, s)| (k.as_str(), s.expose())),
        Some(("proxy:socks5h://u-{session}@127.0.0.1:1080", "s3cret"))
    );
    assert_eq!(planned[1].account.proxy.as_deref(), Some("socks5h://bob@10.1.2.3:8000"), "the colon form is SOCKS5");
    assert_eq!((planned[2].account.proxy.as_ref(), planned[2].account.imap.port), (None, 10993));
    assert_eq!(planned[3].account.proxy.as_deref(), Some("socks5h://proxy.example.net:1080"));
    for p in &planned {
        let shown = format!("{:?}", p.account);
        assert!(
            !shown.contains("s3cret") && !shown.contains("hunter2"),
            "an account never holds a proxy password: {shown}"
        );
    }

    let csv = "email,password,group,tags,proxy\n\
               d@example.org,pw,team 1,\"new;vip\",http://u:pw@127.0.0.1:8888\n\
               e@example.org,pw,,old,\n";
    let defaults = ImportDefaults {
        imap_host: Some("127.0.0.1".into()),
        tags: vec!["batch-7".into()],
        group: Some("fallback".into()),
        ..Default::default()
    };
    let planned: Vec<Account> =
        ok(csv, ImportFormat::Auto).records.iter().map(|r| r.plan(&defaults).unwrap().account).collect();
    assert_eq!(planned[0].group.as_deref(), Some("team 1"));
    assert_eq!(planned[0].tags, vec!["batch-7", "new", "vip"], "tags are split, merged with the defaults and sorted");
    assert_eq!(planned[0].proxy.as_deref(), Some("http://u@127.0.0.1:8888"));
    assert_eq!((planned[1].group.as_deref(), planned[1].proxy.as_ref()), (Some("fallback"), None));

    let json = r#"[{"email": "f@example.org", "password": "pw", "group": "g", "tags": ["x", "y"], "proxy": "socks5h://127.0.0.1:1080"}]"#;
    let a = ok(json, ImportFormat::Auto).records[0].plan(&defaults).unwrap().account;
    assert_eq!(
        (a.group.as_deref(), a.tags.len(), a.proxy.as_deref()),
        (Some("g"), 3, Some("socks5h://127.0.0.1:1080"))
    );

    let bad = "email,password,proxy\ng@example.org,pw,ftp://u:hunter2@h:1\n";
    let err = ok(bad, ImportFormat::Auto).records[0].plan(&defaults).unwrap_err();
    assert_eq!(err.code, "bad_proxy");
    assert!(!err.reason.contains("hunter2"), "{}", err.reason);
}

#[test]
fn exports_carry_group_tags_and_proxy_and_read_back() {
    let mut a = Account::from_spec(
        &AccountSpec { email: "a@example.org".into(), imap_host: Some("127.0.0.1".into()), ..Default::default() },
        false,
    )
    .unwrap();
    a.group = Some("g1".into());
    a.tags = vec!["t1".into(), "t2".into()];
    a.proxy = Some("socks5h://u@127.0.0.1:1080".into());
    let mut with_pw = ExportRecord::new(&a, Some(Secret::new("pw")));
    let without = ExportRecord::new(&a, None);
    with_pw.add_proxy_password(Secret::new("pr0xy"));
    for format in [ImportFormat::Csv, ImportFormat::Json, ImportFormat::Dash] {
        let text = write_export(std::slice::from_ref(&without), format);
        assert!(text.contains("socks5h://u@127.0.0.1:1080"), "{format}: {text}");
        let text = write_export(std::slice::from_ref(&with_pw), format);
        assert!(text.contains("pr0xy"), "{format} with secrets has the proxy password: {text}");
        let back = ok(&text, format).records[0].plan(&ImportDefaults::default()).unwrap();
        assert_eq!(back.account.group.as_deref(), Some("g1"), "{format}: {text}");
        assert_eq!(back.account.proxy, a.proxy, "{format}");
        assert_eq!(back.proxy_secret.map(|(_, s)| s.expose().to_string()).as_deref(), Some("pr0xy"), "{format}");
        if format != ImportFormat::Dash {
            assert_eq!(back.account.tags, a.tags, "{format}");
        }
    }
}
