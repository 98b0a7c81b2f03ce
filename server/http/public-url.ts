// The address browsers and agents reach this server at: PUBLIC_URL when the operator set it
// (behind a TLS proxy the request's own URL would be the internal one), else the request's.
import type { Config } from '../config.ts'

export function publicBaseUrl(config: Pick<Config, 'publicUrl' | 'trustProxy'>, request: Request): string {
  if (config.publicUrl) return config.publicUrl
  const url = new URL(request.url)
  const proto =
    (config.trustProxy && request.headers.get('x-forwarded-proto')) || url.protocol.replace(/:$/, '')
  const host =
    (config.trustProxy && request.headers.get('x-forwarded-host')) || request.headers.get('host') || url.host
  return `${proto}://${host}`
}
