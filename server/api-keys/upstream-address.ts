// Where a key's base_url may point. The proxy sends the real key and the client's request to
// that address, so a base_url aimed at a cloud metadata service or another host on the server's
// own network would turn the proxy into a way in. LLM_PROXY_PRIVATE_UPSTREAMS decides:
//   none    (default) public addresses only
//   private loopback and private ranges too (a local model server; the tests' fake upstream)
//   all     link-local and metadata addresses too
// Literal addresses and every address a hostname resolves to are checked, when a key is stored
// and again whenever the proxy loads its keys.
import { lookup } from 'node:dns/promises'
import { BlockList, isIP } from 'node:net'
import type { PrivateUpstreamPolicy } from '../config.ts'

export type AddressClass = 'public' | 'private' | 'link-local'

function blockList(v4: string[], v6: string[]): BlockList {
  const list = new BlockList()
  const add = (cidr: string, type: 'ipv4' | 'ipv6') => {
    const [net, bits] = cidr.split('/')
    if (bits === undefined) list.addAddress(net!, type)
    else list.addSubnet(net!, Number(bits), type)
  }
  for (const c of v4) {
    add(c, 'ipv4')
    const [net, bits] = c.split('/')
    // The same range written as an IPv4-mapped IPv6 address (::ffff:a.b.c.d).
    add(`::ffff:${net}${bits === undefined ? '' : `/${96 + Number(bits)}`}`, 'ipv6')
  }
  for (const c of v6) add(c, 'ipv6')
  return list
}

/** Link-local and cloud metadata endpoints (AWS, GCP, Azure, Alibaba, Oracle, AWS IPv6). */
const LINK_LOCAL = blockList(['169.254.0.0/16', '100.100.100.200'], ['fe80::/10', 'fd00:ec2::254'])
/** Loopback, unspecified, private, shared (CGNAT) and unique-local ranges. */
const PRIVATE = blockList(
  ['127.0.0.0/8', '0.0.0.0/8', '10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '100.64.0.0/10'],
  ['::1', '::', 'fc00::/7'],
)

export function classifyAddress(address: string): AddressClass {
  const type = isIP(address) === 6 ? 'ipv6' : 'ipv4'
  if (LINK_LOCAL.check(address, type)) return 'link-local'
  if (PRIVATE.check(address, type)) return 'private'
  return 'public'
}

function allowed(policy: PrivateUpstreamPolicy, kind: AddressClass): boolean {
  if (kind === 'public' || policy === 'all') return true
  return policy === 'private' && kind === 'private'
}

/**
 * Null when the URL's host may be used under the policy, else a sentence saying why not. A host
 * that does not resolve right now is let through (it is checked again each time keys load).
 */
export async function upstreamRefusal(
  policy: PrivateUpstreamPolicy,
  baseUrl: string,
): Promise<string | null> {
  if (policy === 'all') return null
  const host = new URL(baseUrl).hostname.replace(/^\[|\]$/g, '')
  let addresses: string[]
  if (isIP(host)) addresses = [host]
  else {
    try {
      addresses = (await lookup(host, { all: true, verbatim: true })).map((a) => a.address)
    } catch {
      return null
    }
  }
  for (const address of addresses) {
    const kind = classifyAddress(address)
    if (!allowed(policy, kind))
      return kind === 'link-local'
        ? `base_url points at a link-local or cloud metadata address (${address}); refused`
        : `base_url points at a loopback or private address (${address}); set LLM_PROXY_PRIVATE_UPSTREAMS=private to allow it`
  }
  return null
}
