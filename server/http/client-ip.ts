// The caller's address: the socket's peer, or X-Forwarded-For's first hop when the operator
// says a trusted reverse proxy sits in front (TRUST_PROXY=true).

export interface PeerAddressSource {
  requestIP?(request: Request): { address: string } | null
}

export function clientIp(
  request: Request,
  server: PeerAddressSource | null | undefined,
  trustProxy: boolean,
): string | null {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim()
    if (forwarded) return forwarded
  }
  return server?.requestIP?.(request)?.address ?? null
}
