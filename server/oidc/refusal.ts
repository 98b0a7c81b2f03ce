// Why an OpenID Connect sign-in was refused: one code per case, which the callback hands to the
// login page (/login?error=<code>) and the UI shows in words; the reason goes to the audit log.

export const OIDC_ERROR_CODES = [
  'oidc_state_invalid',
  'oidc_code_invalid',
  'oidc_token_invalid',
  'oidc_denied',
  'oidc_provider_error',
  'oidc_unavailable',
  'oidc_email_unverified',
  'oidc_domain_not_allowed',
  'oidc_group_required',
  'oidc_tenant_unknown',
  'oidc_account_disabled',
] as const
export type OidcErrorCode = (typeof OIDC_ERROR_CODES)[number]

export class OidcRefusal extends Error {
  constructor(
    readonly code: OidcErrorCode,
    /** For the audit log and the server's log: what exactly did not hold. Never a token. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${code}: ${reason}`, options)
  }
}
