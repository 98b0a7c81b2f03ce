// The address browsers and agents reach this server at, which decides every external URL
// (install commands, the CLI's proxy URL) and the same-origin check. PUBLIC_URL when the
// operator set it. Without it the request's own Host (or X-Forwarded-Host behind TRUST_PROXY)
// is used only when it is trusted: a loopback name or one listed in ALLOWED_HOSTS. Anything else
// could be an attacker's `Host: evil.example`, which would otherwise end up in install commands
// and in the CLI's OPENAI_BASE_URL, and make evil.example pass as "same origin".
import type { Config } from '../config.ts'
import { HttpError } from '../errors.ts'

export type HostTrustConfig = Pick<Config, 'publicUrl' | 'trustProxy' | 'allowedHosts'>

const LOOPBACK = /^(localhost|[\w-]+\.localhost|127(\.\d{1,3}){3}|\[::1\])$/i

/** The hostname of a `host[:port]` value, brackets kept for IPv6. */
const hostnameOf = (host: string) =>
  host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.split(':')[0]!

/** Whether a Host value may name this server: loopback, or listed (with or without its port). */
export function isTrustedHost(config: Pick<Config, 'allowedHosts'>, host: string): boolean {
  const value = host.toLowerCase()
  if (LOOPBACK.test(hostnameOf(value))) return true
  return config.allowedHosts.some((allowed) => allowed === value || allowed === hostnameOf(value))
}

/** The request's own base URL as a client addressed it (Host, or the proxy's forwarded one). */
function requestBaseUrl(config: HostTrustConfig, request: Request): { proto: string; host: string } {
  const url = new URL(request.url)
  const proto =
    (config.trustProxy && request.headers.get('x-forwarded-proto')) || url.protocol.replace(/:$/, '')
  const host =
    (config.trustProxy && request.headers.get('x-forwarded-host')) || request.headers.get('host') || url.host
  return { proto, host }
}

/** The base URL to hand out, or null when the request names a host this server does not trust. */
export function trustedBaseUrl(config: HostTrustConfig, request: Request): string | null {
  if (config.publicUrl) return config.publicUrl
  const { proto, host } = requestBaseUrl(config, request)
  return isTrustedHost(config, host) ? `${proto}://${host}` : null
}

/** The base URL for external links; an untrusted Host is refused with a message saying what to set. */
export function publicBaseUrl(config: HostTrustConfig, request: Request): string {
  const base = trustedBaseUrl(config, request)
  if (base) return base
  throw new HttpError(
    400,
    'This server does not know its public address for this Host: set PUBLIC_URL, or list the host in ALLOWED_HOSTS',
    'untrusted_host',
  )
}

/** The start-up warning when nothing but loopback names can be trusted, or null when configured. */
export function hostTrustWarning(config: HostTrustConfig): string | null {
  if (config.publicUrl) return null
  const listed = config.allowedHosts.length ? `, and ALLOWED_HOSTS (${config.allowedHosts.join(', ')})` : ''
  return `PUBLIC_URL is not set: only loopback Host values${listed} are trusted for install commands, the CLI's proxy URL and the same-origin check. Set PUBLIC_URL to the address users and agents reach this server at.`
}
