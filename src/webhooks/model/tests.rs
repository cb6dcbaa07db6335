use super::*;

const PROD: UrlPolicy = UrlPolicy {
    allow_private_networks: false,
};
const DEV: UrlPolicy = UrlPolicy {
    allow_private_networks: true,
};

#[test]
fn urls_are_kept_as_given() {
    for raw in [
        "https://hooks.example.com/users",
        "http://example.com:8080/a?b=c",
        "HTTPS://Example.COM",
        "https://[2001:db8::1]/x",
    ] {
        assert_eq!(WebhookUrl::parse(raw, PROD).unwrap().as_str(), raw);
    }
}

#[test]
fn bad_urls_say_why() {
    let long = format!("https://example.com/{}", "a".repeat(2048));
    for (raw, why) in [
        ("ftp://example.com", "must be an absolute http or https URL"),
        ("/relative", "must be an absolute http or https URL"),
        ("example.com", "must be an absolute http or https URL"),
        ("https://", "must be an absolute http or https URL"),
        ("https://exa mple.com", "must not contain whitespace"),
        ("https://example.com/#", "must not have a fragment"),
        ("https://example.com/#x", "must not have a fragment"),
        ("https://user:pw@example.com/", "must not contain user info"),
        ("https://user@example.com/", "must not contain user info"),
        (long.as_str(), "must be at most 2048 bytes long"),
    ] {
        assert_eq!(WebhookUrl::parse(raw, DEV), Err(why), "{raw}");
    }
}

#[test]
fn literal_special_hosts_need_the_flag() {
    for raw in [
        "http://127.0.0.1/",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f.1/",
        "http://[::1]:8080/",
        "http://[::ffff:10.0.0.1]/",
        "http://169.254.169.254/latest",
        "http://100.64.1.1/",
    ] {
        assert!(WebhookUrl::parse(raw, PROD).is_err(), "{raw}");
        assert!(WebhookUrl::parse(raw, DEV).is_ok(), "{raw}");
    }
    // Names are checked when delivering, not here.
    assert!(WebhookUrl::parse("http://localhost/", PROD).is_ok());
}

#[test]
fn events_are_distinct_and_known() {
    let ok = Events::parse(&serde_json::json!(["user.deleted", "user.created"])).unwrap();
    assert_eq!(ok.names(), ["user.deleted", "user.created"]);
    for bad in [
        serde_json::json!([]),
        serde_json::json!(["user.created", "user.created"]),
        serde_json::json!(["user.removed"]),
        serde_json::json!("user.created"),
        serde_json::json!([1]),
    ] {
        assert!(Events::parse(&bad).is_err(), "{bad}");
    }
}
