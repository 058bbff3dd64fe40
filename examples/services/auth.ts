// SPDX-License-Identifier: MIT
// auth service: logout and token checks, sessions and the login rate limit, through the broker.
//
// Replaces the auth service's own Redis code: auth:blacklist:{tokenId}
// written with a TTL until the token expires and read on every request,
// auth:session:{userId} kept for 24 h, and its login counter under
// auth:rate-limit:{ip} over a 15 min window. AuthService keeps the same
// keys, computes the TTLs on the broker's clock, checks a token and its
// user's "log out everywhere" watermark in one round trip, and
// rate-limits with GCRA in one Lua script (no double burst at a window's
// edge) ([auth] in examples/workflow/cachebroker.conf: 15 min window,
// revocation fail-closed, rate limit fail-open).
import {
  Client,
  RevokedBy,
  UnavailableError,
} from "@cachebroker/client";

/** The claims of an access token that the broker needs. */
export interface TokenClaims {
  jti: string; // the token's id
  sub: string; // the user's id
  iat: number; // issued at, Unix seconds
  exp: number; // expires at, Unix seconds
}

/** The session kept for a logged-in user. */
export interface Session {
  roles: string[];
  lastSeen: string;
}

const utf8 = new TextEncoder();
const text = new TextDecoder();

/**
 * allowLogin says whether a login from ip may be tried now: 5 attempts in
 * the configured window (15 min). When it may not, retryAfterMs says when.
 */
export async function allowLogin(
  client: Client,
  ip: string,
): Promise<{ allowed: boolean; retryAfterMs: number }> {
  const r = await client.checkRateLimit({ subject: `login:${ip}`, limit: 5 });
  return { allowed: r.allowed, retryAfterMs: Number(r.retryAfterMs) };
}

/** loggedIn stores the new session (for the default 24 h). */
export async function loggedIn(
  client: Client,
  userId: string,
  session: Session,
): Promise<void> {
  await client.putSession({
    userId,
    data: utf8.encode(JSON.stringify(session)),
  });
}

/**
 * tokenIsValid is the check every authenticated request makes: the
 * token's own revocation and its user's "log out everywhere" in one
 * round trip. With Redis down the broker answers UNAVAILABLE (it is
 * configured fail-closed): the request is refused rather than let through
 * on a token that may have been revoked.
 */
export async function tokenIsValid(
  client: Client,
  t: TokenClaims,
): Promise<boolean> {
  try {
    const r = await client.isTokenRevoked({
      tokenId: t.jti,
      userId: t.sub,
      issuedAt: BigInt(t.iat),
    }, { timeoutMs: 200 });
    return !r.revoked && r.by === RevokedBy.NONE;
  } catch (e) {
    if (e instanceof UnavailableError) {
      return false;
    }
    throw e;
  }
}

/**
 * currentSession returns the user's session and slides its expiry, or null
 * when it has expired or the user logged out.
 */
export async function currentSession(
  client: Client,
  userId: string,
): Promise<Session | null> {
  const r = await client.getSession({ userId });
  if (!r.found) {
    return null;
  }
  await client.touchSession({ userId });
  return JSON.parse(text.decode(r.data)) as Session;
}

/** logout revokes the token until it expires and ends the session. */
export async function logout(client: Client, t: TokenClaims): Promise<void> {
  await client.revokeToken({ tokenId: t.jti, expiresAt: BigInt(t.exp) });
  await client.deleteSession({ userId: t.sub });
}

/**
 * logoutEverywhere revokes every token of the user issued until now (a
 * password change) and ends the session.
 */
export async function logoutEverywhere(
  client: Client,
  userId: string,
): Promise<void> {
  await client.revokeUserTokens({
    userId,
    issuedBefore: BigInt(Math.floor(Date.now() / 1000)),
  });
  await client.deleteSession({ userId });
}
