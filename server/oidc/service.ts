// The two halves of an OpenID Connect sign-in, without Elysia types: `beginSignIn` keeps the
// request's secrets (state, nonce, PKCE verifier) server-side, single use, so any instance can
// finish it; `finishSignIn` takes them back once, exchanges the code and signs the user in.
import { and, eq, gt } from 'drizzle-orm'
import type { Actor } from '../audit/service.ts'
import { type ClientInfo, startSession } from '../auth/service.ts'
import { hashToken } from '../auth/tokens.ts'
import type { OidcConfig } from '../config.ts'
import type { AppContext } from '../context/index.ts'
import { oidcLoginStates } from '../db/schema/index.ts'
import { resolveUser } from './accounts.ts'
import { authorizationRequest, endSessionUrl, exchangeCode, providerConfiguration } from './client.ts'
import { OidcRefusal } from './refusal.ts'

/** How long a sign-in may stay at the provider before its state is refused. */
export const SIGN_IN_TTL_SECONDS = 600
export const CALLBACK_PATH = '/api/auth/oidc/callback'
export const DEFAULT_NEXT_PATH = '/workspace'

/** Only same-site paths outside the login page and the API, so a crafted ?next= goes nowhere else. */
export function safeNextPath(next: string | undefined): string {
  if (!next?.startsWith('/') || next.startsWith('//') || next.includes('\\')) return DEFAULT_NEXT_PATH
  if (/^\/(login|api)(\/|\?|$)/.test(next)) return DEFAULT_NEXT_PATH
  return next.slice(0, 1024)
}

export async function beginSignIn(ctx: AppContext, settings: OidcConfig, baseUrl: string, next: string) {
  const configuration = await providerConfiguration(ctx, settings)
  const request = await authorizationRequest(configuration, settings, `${baseUrl}${CALLBACK_PATH}`)
  const now = ctx.now()
  await ctx.db.insert(oidcLoginStates).values({
    stateHash: hashToken(request.state),
    nonce: request.nonce,
    codeVerifier: request.codeVerifier,
    nextPath: safeNextPath(next),
    createdAt: now,
    expiresAt: new Date(now.getTime() + SIGN_IN_TTL_SECONDS * 1000),
  })
  return { redirectTo: request.url.href, state: request.state }
}

/**
 * The provider sent the browser back: the state must be the one this browser started with (its
 * cookie) and still pending (taken once, here), then the code is exchanged and verified.
 */
export async function finishSignIn(
  ctx: AppContext,
  settings: OidcConfig,
  input: { baseUrl: string; search: string; state: string | undefined; cookieState: string | undefined },
  client: ClientInfo,
) {
  const { state, cookieState } = input
  if (!state) throw new OidcRefusal('oidc_state_invalid', 'the callback carries no state')
  if (!cookieState) throw new OidcRefusal('oidc_state_invalid', 'this browser started no sign-in')
  if (cookieState !== state) {
    throw new OidcRefusal('oidc_state_invalid', 'the state is not the one this browser started with')
  }
  const [pending] = await ctx.db
    .delete(oidcLoginStates)
    .where(and(eq(oidcLoginStates.stateHash, hashToken(state)), gt(oidcLoginStates.expiresAt, ctx.now())))
    .returning()
  if (!pending) throw new OidcRefusal('oidc_state_invalid', 'the state is unknown, expired or already used')
  const configuration = await providerConfiguration(ctx, settings)
  const callbackUrl = new URL(`${input.baseUrl}${CALLBACK_PATH}${input.search}`)
  const signedIn = await exchangeCode(configuration, callbackUrl, {
    state,
    nonce: pending.nonce,
    codeVerifier: pending.codeVerifier,
  })
  const actor: Actor = {
    type: 'anonymous',
    name: `oidc:${String(signedIn.claims.sub).slice(0, 64)}`,
    ip: client.ip,
  }
  const { user, how } = await resolveUser(ctx, settings, signedIn.claims, actor)
  const session = await startSession(ctx, user, client, {
    method: 'oidc',
    idToken: signedIn.idToken,
    details: { issuer: signedIn.claims.iss, subject: signedIn.claims.sub, account: how },
  })
  return { session, nextPath: pending.nextPath }
}

/** The provider's logout URL for a session signed in with this ID token (null: none offered). */
export async function providerLogoutUrl(
  ctx: AppContext,
  settings: OidcConfig,
  idToken: string,
  baseUrl: string,
): Promise<string | null> {
  try {
    const configuration = await providerConfiguration(ctx, settings)
    return endSessionUrl(configuration, idToken, `${baseUrl}/login`)
  } catch (error) {
    // Our session has ended either way; the provider's may outlive it when it cannot be reached.
    ctx.log.warn('OpenID Connect provider logout URL unavailable', { error })
    return null
  }
}
