//! Keys, scopes, account patterns, the rate limit, and requests that must change nothing.

use std::time::Duration;

use mailwatch_api::keys::{self, Scope};
use serde_json::json;

use super::{Server, test_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_scopes_and_account_patterns_are_enforced() {
    let mut s = Server::start(test_config()).await;
    let admin = s.all_key().await;
    assert_eq!(s.add_account(&admin, "dee@example.com", "pw-dee").await.status, 201);
    assert_eq!(s.add_account(&admin, "eve@other.example", "pw-eve").await.status, 201);

    let none = s.get(None, "/api/v1/accounts").await;
    assert_eq!((none.status, none.error_code().as_str()), (401, "missing_key"), "{none:?}");
    let wrong = s.get(Some("mwk_not-a-key"), "/api/v1/accounts").await;
    assert_eq!((wrong.status, wrong.error_code().as_str()), (401, "invalid_key"), "{wrong:?}");
    let in_query = s.get(None, &format!("/api/v1/accounts?access_token={admin}")).await;
    assert_eq!(in_query.status, 401, "a key in the query counts only for the streams: {in_query:?}");

    let codes_only = s.key(&[Scope::CodesRead], &[]).await;
    let scoped = s.get(Some(&codes_only), "/api/v1/accounts").await;
    assert_eq!((scoped.status, scoped.error_code().as_str()), (403, "forbidden_scope"), "{scoped:?}");
    assert!(scoped.json()["error"]["message"].as_str().unwrap().contains("accounts:read"), "{scoped:?}");

    let limited = s.key(&[Scope::AccountsRead, Scope::CodesRead, Scope::MailRead], &["*@example.com"]).await;
    let list = s.get(Some(&limited), "/api/v1/accounts").await.json();
    assert_eq!(list["total"], 1, "a limited key lists only its accounts: {list}");
    assert_eq!(list["accounts"][0]["email"], "dee@example.com");
    for path in [
        "/api/v1/accounts/eve@other.example",
        "/api/v1/accounts/eve@other.example/code",
        "/api/v1/accounts/eve@other.example/messages",
    ] {
        let hidden = s.get(Some(&limited), path).await;
        let unknown = s.get(Some(&admin), &path.replace("eve@other.example", "nobody@other.example")).await;
        assert_eq!((hidden.status, hidden.error_code().as_str()), (404, "unknown_account"), "{path}: {hidden:?}");
        assert_eq!(
            hidden.json()["error"]["message"].as_str().unwrap().replace("eve@", "nobody@"),
            unknown.json()["error"]["message"].as_str().unwrap(),
            "an account the key may not see reads exactly like one that does not exist"
        );
    }
    let seen = s.get(Some(&limited), "/api/v1/accounts/DEE@example.com").await;
    assert_eq!(seen.status, 200, "{seen:?}");

    let id = keys::list(&s.engine).await.unwrap().into_iter().find(|k| k.accounts.len() == 1).unwrap().id;
    keys::revoke(&s.engine, &id).await.unwrap();
    // The server reads the keys again at most a second later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let r = s.get(Some(&limited), "/api/v1/accounts").await;
        if r.status == 401 {
            assert_eq!(r.error_code(), "invalid_key", "{r:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "a revoked key is still accepted: {r:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stored = s.engine.setting(keys::SETTING).await.unwrap().unwrap().to_string();
    for k in &s.secrets {
        assert!(!stored.contains(k.as_str()), "only hashes of keys are stored");
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_the_error_shape_and_change_nothing() {
    let mut config = test_config();
    config.api.max_body_bytes = 4096;
    let mut s = Server::start(config).await;
    let key = s.all_key().await;
    assert_eq!(s.add_account(&key, "fay@example.com", "pw-fay").await.status, 201);
    let before = s.get(Some(&key), "/api/v1/accounts").await.json();

    let raw = |body: &'static str| {
        s.http.post(s.url("/api/v1/accounts")).bearer_auth(&key).header("content-type", "application/json").body(body)
    };
    let bad_json = s.finish(raw("{\"email\": ").send().await.unwrap()).await;
    assert_eq!((bad_json.status, bad_json.error_code().as_str()), (400, "invalid_input"), "{bad_json:?}");
    let unknown_field = s.post_json(&key, "/api/v1/accounts", &json!({"email": "g@example.com", "pasword": "x"})).await;
    assert_eq!(unknown_field.status, 400, "unknown fields are refused: {unknown_field:?}");
    assert!(unknown_field.text.contains("pasword"), "{unknown_field:?}");
    let no_secret = s.post_json(&key, "/api/v1/accounts", &json!({"email": "g@example.com"})).await;
    assert_eq!(no_secret.status, 400, "{no_secret:?}");
    let big = "x".repeat(10_000);
    let too_large = s.post_json(&key, "/api/v1/accounts", &json!({"email": "g@example.com", "password": big})).await;
    assert_eq!((too_large.status, too_large.error_code().as_str()), (413, "body_too_large"), "{too_large:?}");
    let import_big = s.http.post(s.url("/api/v1/accounts/import")).bearer_auth(&key).body(big.clone()).send().await;
    assert_eq!(s.finish(import_big.unwrap()).await.status, 413);
    let bad_query = s.get(Some(&key), "/api/v1/accounts/fay@example.com/code?wait=soon").await;
    assert_eq!(bad_query.status, 400, "{bad_query:?}");
    let unknown_query = s.get(Some(&key), "/api/v1/accounts?color=red").await;
    assert_eq!(unknown_query.status, 400, "{unknown_query:?}");
    let unknown = s.http.delete(s.url("/api/v1/accounts/nobody@example.com")).bearer_auth(&key).send().await;
    let unknown = s.finish(unknown.unwrap()).await;
    assert_eq!((unknown.status, unknown.error_code().as_str()), (404, "unknown_account"), "{unknown:?}");
    let nowhere = s.get(Some(&key), "/api/v2/anything").await;
    assert_eq!((nowhere.status, nowhere.error_code().as_str()), (404, "not_found"), "{nowhere:?}");

    let dry = s
        .http
        .post(s.url("/api/v1/accounts/import?dryRun=true"))
        .bearer_auth(&key)
        .body("new@example.com:pw-new\nbroken line\n")
        .send()
        .await;
    let dry = s.finish(dry.unwrap()).await;
    assert_eq!(dry.status, 200, "{dry:?}");
    assert_eq!(dry.json()["dry_run"].as_bool().or(dry.json()["dryRun"].as_bool()), Some(true), "{dry:?}");
    assert_eq!(s.get(Some(&key), "/api/v1/accounts").await.json(), before, "nothing above changed the accounts");

    let removed = s.http.delete(s.url("/api/v1/accounts/fay@example.com")).bearer_auth(&key).send().await;
    assert_eq!(s.finish(removed.unwrap()).await.status, 204);
    assert_eq!(s.get(Some(&key), "/api/v1/accounts").await.json()["total"], 0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_over_its_rate_gets_429_with_retry_after() {
    let mut config = test_config();
    config.api.rate_limit = 0.2;
    config.api.rate_burst = 3;
    let mut s = Server::start(config).await;
    let key = s.all_key().await;
    let other = s.all_key().await;
    for i in 0..3 {
        let r = s.get(Some(&key), "/api/v1/accounts").await;
        assert_eq!(r.status, 200, "request {i} is within the burst: {r:?}");
    }
    let limited = s.get(Some(&key), "/api/v1/accounts").await;
    assert_eq!((limited.status, limited.error_code().as_str()), (429, "rate_limited"), "{limited:?}");
    let retry: u64 = limited.headers.get("retry-after").expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert_eq!(retry, 5, "one request every 5 s at 0.2 a second");
    assert_eq!(s.get(Some(&other), "/api/v1/accounts").await.status, 200, "each key has its own limit");
    assert_eq!(s.hub.counters().snapshot().rate_limited, 1);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_apps_key_lives_in_the_keyring_and_renewing_it_locks_the_old_one_out() {
    let mut s = Server::start(test_config()).await;
    assert!(keys::stored_app_key(&s.engine).await.unwrap().is_none(), "no app key until the app asks for one");
    let first = keys::app_key(&s.engine).await.expect("the app's key is made");
    s.secrets.push(first.key.clone());
    let again = keys::app_key(&s.engine).await.unwrap();
    assert_eq!(again.id, first.id, "the key kept in the keyring is used again, not a new one each time");
    assert!(again.key == first.key, "the same key comes back from the keyring");
    let listed = keys::list(&s.engine).await.unwrap();
    let info = listed.iter().find(|k| k.id == first.id).expect("the app's key is listed like any key");
    assert_eq!(info.name, keys::APP_KEY_NAME);
    assert_eq!(
        info.scopes,
        vec![Scope::AccountsRead, Scope::CodesRead, Scope::MailRead, Scope::StatsRead],
        "every read scope"
    );
    let stored = s.engine.setting(keys::SETTING).await.unwrap().unwrap().to_string();
    assert!(!stored.contains(&first.key), "only the key's hash is in the settings");
    assert_eq!(s.get(Some(&first.key), "/api/v1/accounts").await.status, 200);

    let renewed = keys::renew_app_key(&s.engine).await.expect("the key is renewed");
    s.secrets.push(renewed.key.clone());
    assert_ne!(renewed.id, first.id);
    assert!(renewed.key != first.key, "a new key");
    let stored = keys::stored_app_key(&s.engine).await.unwrap().expect("the new key is in the keyring");
    assert_eq!(stored.id, renewed.id);
    assert!(
        keys::list(&s.engine).await.unwrap().iter().any(|k| k.id == first.id && k.revoked.is_some()),
        "the old key is revoked"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut old = s.get(Some(&first.key), "/api/v1/accounts").await;
    while old.status != 401 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        old = s.get(Some(&first.key), "/api/v1/accounts").await;
    }
    assert_eq!(old.status, 401, "the renewed key's predecessor is refused: {old:?}");
    assert_eq!(s.get(Some(&renewed.key), "/api/v1/accounts").await.status, 200);
    s.stop().await;
}
