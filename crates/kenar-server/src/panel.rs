//! Operations of the panel shared by the administration API and `kenar-events dev`.

use crate::domain::credentials::{self, Kind};
use crate::domain::pseudonym::PseudonymKey;
use crate::domain::time::now_ms;
use crate::domain::{Permission, ScopeSet, Secret, UserId};
use crate::store::{ApiKeyRecord, AppRecord, NewAccessToken, NewApiKey, Store, StoreResult};

/// Issues an API key; the plaintext is returned here and never again.
pub async fn issue_api_key(
    store: &Store,
    app: &AppRecord,
    name: &str,
    permissions: &[Permission],
) -> StoreResult<(Secret, ApiKeyRecord)> {
    let issued = credentials::issue(Kind::ApiKey);
    let record = store
        .create_api_key(NewApiKey {
            app_id: app.id,
            lookup: &issued.lookup,
            secret_hash: &issued.hash,
            name,
            permissions,
            now: now_ms(),
        })
        .await?;
    Ok((issued.plaintext, record))
}

/// An access token just minted.
#[derive(Debug)]
pub struct Minted {
    pub access_token: Secret,
    pub grant_id: i64,
    /// The user's id as the app sees it.
    pub app_user_id: String,
}

/// Records a grant of `scopes` by `user` to `app` and issues its first access token.
pub async fn mint_access_token(
    store: &Store,
    pseudonyms: &PseudonymKey,
    app: &AppRecord,
    user: &UserId,
    scopes: &ScopeSet,
    lifetime_seconds: i64,
) -> StoreResult<Minted> {
    let issued = credentials::issue(Kind::AccessToken);
    let now = now_ms();
    let grant_id = store
        .create_grant_with_token(NewAccessToken {
            app_id: app.id,
            user_id: user.as_str(),
            scopes,
            lookup: &issued.lookup,
            secret_hash: &issued.hash,
            now,
            expires_at: now.saturating_add(lifetime_seconds.saturating_mul(1000)),
        })
        .await?;
    Ok(Minted {
        access_token: issued.plaintext,
        grant_id,
        app_user_id: pseudonyms.user_id_for_app(app.id, user),
    })
}
