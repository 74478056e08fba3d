/**
 * Which of the claims the gateway needs an ID token left out, and the claims to use once UserInfo
 * has answered. Providers that follow OpenID Connect Core §5.4 strictly (oidc-provider's default,
 * recent Authelia, some Keycloak and Entra setups) serve scope-requested claims such as email only
 * from UserInfo whenever an access token is issued, which is always the case in the code flow.
 */
export type Claims = Record<string, unknown>;

/** The claims the gateway reads that are absent from `claims`: email, email_verified and the groups claim if one is configured. */
export function absentIdentityClaims(claims: Claims, groupsClaim?: string): string[] {
  const wanted = ['email', 'email_verified', ...(groupsClaim ? [groupsClaim] : [])];
  return wanted.filter((name) => claims[name] === undefined || claims[name] === null);
}

/**
 * The ID token's claims with the absent ones filled in from UserInfo. The ID token's own values
 * win: it is signed, while UserInfo is trusted only because its `sub` was checked to be the same.
 */
export function withUserInfoClaims(idTokenClaims: Claims, userInfo: Claims, groupsClaim?: string): Claims {
  const merged: Claims = { ...idTokenClaims };
  for (const name of absentIdentityClaims(idTokenClaims, groupsClaim)) {
    if (userInfo[name] !== undefined && userInfo[name] !== null) merged[name] = userInfo[name];
  }
  return merged;
}
