// The UI's Content-Security-Policy as a response header. SvelteKit (kit.csp in
// ui-svelte/vite.config.ts) writes the policy, with the hash of its one inline bootstrap script,
// into a <meta> of the built index.html; a <meta> policy cannot say frame-ancestors, and
// `curl -I` cannot see it, so the server sends the same policy as a header, plus that directive.

/** What the UI may load when a build carries no policy of its own (older builds): same origin only. */
export const UI_BASE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'"
/** The page shown when the UI is not built: no script, its own inline style only. */
export const NOT_BUILT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"

const META_CSP = /<meta\s+http-equiv="content-security-policy"\s+content="([^"]*)"/i

const decodeAttribute = (value: string) =>
  value.replaceAll('&#39;', "'").replaceAll('&quot;', '"').replaceAll('&amp;', '&')

/** The header for an HTML page of the build: its own <meta> policy, never framed. */
export function pagePolicy(html: Uint8Array): string {
  const match = META_CSP.exec(new TextDecoder().decode(html))
  const policy = match ? decodeAttribute(match[1]!) : UI_BASE_CSP
  return `${policy}; frame-ancestors 'none'`
}
