// The OpenID Connect relying party, on openid-client (v6): the provider's metadata (discovered
// once per server instance, again after a failure), the authorization request (code flow, PKCE
// S256, state and nonce), the code exchange with every check openid-client makes (issuer,
// audience, signature, expiry, nonce, state), and the provider's logout URL.
import * as oidc from 'openid-client'
import type { OidcConfig } from '../config.ts'
import type { AppContext } from '../context/index.ts'
import { OidcRefusal } from './refusal.ts'

/** How long a call to the provider (discovery, token, userinfo) may take. */
const PROVIDER_TIMEOUT_SECONDS = 15

/** The provider's discovered configuration on this instance (ctx.state.oidcDiscovery). */
export interface OidcDiscovery {
  pending: Promise<oidc.Configuration> | undefined
}

export const createOidcDiscovery = (): OidcDiscovery => ({ pending: undefined })

async function discover(settings: OidcConfig): Promise<oidc.Configuration> {
  const issuer = new URL(settings.issuerUrl)
  return oidc.discovery(
    issuer,
    settings.clientId,
    settings.clientSecret,
    settings.clientSecret ? undefined : oidc.None(),
    {
      timeout: PROVIDER_TIMEOUT_SECONDS,
      // Config only lets plain http through for a provider on loopback (config.ts).
      execute: issuer.protocol === 'http:' ? [oidc.allowInsecureRequests] : [],
    },
  )
}

/** The provider's configuration; a failed discovery is not cached, so the next sign-in retries. */
export function providerConfiguration(ctx: AppContext, settings: OidcConfig): Promise<oidc.Configuration> {
  const discovery = ctx.state.oidcDiscovery
  discovery.pending ??= discover(settings).catch((cause) => {
    discovery.pending = undefined
    throw new OidcRefusal('oidc_unavailable', `discovery at ${settings.issuerUrl} failed`, { cause })
  })
  return discovery.pending
}

export interface AuthorizationRequest {
  url: URL
  state: string
  nonce: string
  codeVerifier: string
}

export async function authorizationRequest(
  configuration: oidc.Configuration,
  settings: OidcConfig,
  redirectUri: string,
): Promise<AuthorizationRequest> {
  const state = oidc.randomState()
  const nonce = oidc.randomNonce()
  const codeVerifier = oidc.randomPKCECodeVerifier()
  const url = oidc.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: settings.scopes,
    code_challenge: await oidc.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  })
  return { url, state, nonce, codeVerifier }
}

export interface SignedIn {
  /** The ID token's claims, completed from the userinfo endpoint (the ID token wins). */
  claims: Record<string, unknown> & { sub: string; iss: string }
  idToken: string
}

/** The callback's code exchanged and verified; every failure is an OidcRefusal with its code. */
export async function exchangeCode(
  configuration: oidc.Configuration,
  callbackUrl: URL,
  checks: { state: string; nonce: string; codeVerifier: string },
): Promise<SignedIn> {
  let tokens: Awaited<ReturnType<typeof oidc.authorizationCodeGrant>>
  try {
    tokens = await oidc.authorizationCodeGrant(configuration, callbackUrl, {
      pkceCodeVerifier: checks.codeVerifier,
      expectedState: checks.state,
      expectedNonce: checks.nonce,
      idTokenExpected: true,
    })
  } catch (error) {
    throw refusalOf(error)
  }
  const idClaims = tokens.claims()
  if (!idClaims || !tokens.id_token) throw new OidcRefusal('oidc_token_invalid', 'no ID token in the answer')
  let userinfo: Record<string, unknown> = {}
  if (configuration.serverMetadata().userinfo_endpoint && tokens.access_token) {
    try {
      userinfo = await oidc.fetchUserInfo(configuration, tokens.access_token, idClaims.sub)
    } catch (error) {
      throw refusalOf(error)
    }
  }
  return {
    claims: { ...userinfo, ...idClaims } as SignedIn['claims'],
    idToken: tokens.id_token,
  }
}

/** The provider's own error, a refused code, an unreachable provider, or a token that failed a check. */
function refusalOf(error: unknown): OidcRefusal {
  if (error instanceof OidcRefusal) return error
  if (error instanceof oidc.AuthorizationResponseError) {
    const code = error.error === 'access_denied' ? 'oidc_denied' : 'oidc_provider_error'
    return new OidcRefusal(code, `provider answered ${error.error}: ${error.error_description ?? ''}`.trim())
  }
  if (error instanceof oidc.ResponseBodyError) {
    const code = error.error === 'invalid_grant' ? 'oidc_code_invalid' : 'oidc_provider_error'
    return new OidcRefusal(
      code,
      `token endpoint answered ${error.error}: ${error.error_description ?? ''}`.trim(),
    )
  }
  // openid-client's own error wraps the check that failed, which names the claim (aud, iss, nonce).
  const cause = error instanceof Error ? error.cause : undefined
  const message =
    (error instanceof Error ? error.message : String(error)) +
    (cause instanceof Error && cause.message !== (error as Error).message ? `: ${cause.message}` : '')
  // fetch's own failures (refused connection, timeout) are TypeError / AbortError / TimeoutError.
  if (error instanceof TypeError || (error instanceof Error && /abort|timeout/i.test(error.name))) {
    return new OidcRefusal('oidc_unavailable', `provider unreachable: ${message}`, { cause: error })
  }
  return new OidcRefusal('oidc_token_invalid', message, { cause: error })
}

/** Where the browser ends its sign-in at the provider, or null when it offers no logout endpoint. */
export function endSessionUrl(
  configuration: oidc.Configuration,
  idToken: string,
  postLogoutRedirectUri: string,
): string | null {
  if (!configuration.serverMetadata().end_session_endpoint) return null
  return oidc.buildEndSessionUrl(configuration, {
    id_token_hint: idToken,
    post_logout_redirect_uri: postLogoutRedirectUri,
  }).href
}
