use super::*;

#[test]
fn compiles_literals_and_variables() {
    let p = Program::compile("[$time_local] $remote_addr \"${request}\" $foo$").unwrap();
    assert_eq!(&*p.lead, b"[");
    let vars: Vec<_> = p.fields.iter().map(|f| f.var).collect();
    assert_eq!(
        vars,
        [
            Some(Var::TimeLocal),
            Some(Var::RemoteAddr),
            Some(Var::Request),
            None
        ]
    );
    let terms: Vec<&[u8]> = p.fields.iter().map(|f| &*f.term).collect();
    assert_eq!(terms, [&b"] "[..], b" \"", b"\" ", b"$"]);
}

#[test]
fn compile_errors_name_the_problem() {
    let err = Program::compile("$remote_addr$status").unwrap_err();
    assert_eq!(
        err,
        FormatError::AdjacentVariables("remote_addr".into(), "status".into())
    );
    assert!(err
        .to_string()
        .contains("$remote_addr directly followed by $status"));
    assert_eq!(
        Program::compile("$status $request").unwrap_err(),
        FormatError::NoRemoteAddr
    );
    assert_eq!(
        Program::compile("$remote_addr ${status").unwrap_err(),
        FormatError::UnclosedBrace
    );
}

#[test]
fn runs_fields_and_ignores_trailing_text() {
    let p = Program::compile("$remote_addr [$time_local] $status").unwrap();
    let f = p.run(b"1.2.3.4 [x y] 200 extra stuff").unwrap();
    assert_eq!(f.get(Var::RemoteAddr), b"1.2.3.4");
    assert_eq!(f.get(Var::TimeLocal), b"x y");
    assert_eq!(f.get(Var::Status), b"200");
    assert!(p.run(b"1.2.3.4 (x y) 200").is_err());
    assert!(p.run(b"1.2.3.4 [x y").is_err());
}

#[test]
fn escaped_quotes_stay_in_the_field() {
    let p = Program::compile("$remote_addr \"$http_user_agent\" $status").unwrap();
    let f = p.run(br#"::1 "a \"b\" c\\" 404"#).unwrap();
    assert_eq!(f.get(Var::HttpUserAgent), br#"a \"b\" c\\"#);
    assert_eq!(f.get(Var::Status), b"404");
}

#[test]
fn list_values_keep_their_spaces() {
    let p = Program::compile("$remote_addr $upstream_response_time $http_x_forwarded_for $status")
        .unwrap();
    let f = p
        .run(b"1.1.1.1 0.002, 0.004 : 0.001 9.9.9.9, 8.8.8.8 200")
        .unwrap();
    assert_eq!(f.get(Var::UpstreamResponseTime), b"0.002, 0.004 : 0.001");
    assert_eq!(f.get(Var::HttpXForwardedFor), b"9.9.9.9, 8.8.8.8");
    assert_eq!(f.get(Var::Status), b"200");
}

#[test]
fn short_end_only_at_its_boundary() {
    let p = Program::compile("$remote_addr $status \"$http_referer\" \"$http_user_agent\"")
        .unwrap()
        .with_short_end(2);
    let f = p.run(b"1.1.1.1 200").unwrap();
    assert!(f.short);
    assert_eq!(f.get(Var::Status), b"200");
    assert!(p.run(b"1.1.1.1 200 \r\n").unwrap().short);
    assert!(p.run(b"1.1.1.1 200 junk").is_err());
    assert!(p.run(b"1.1.1.1 200 \"ref").is_err());
    assert!(!p.run(b"1.1.1.1 200 \"r\" \"u\"").unwrap().short);
}
