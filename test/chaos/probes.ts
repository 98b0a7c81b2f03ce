// Hostile inputs for the bad-input suite: bodies (malformed JSON, wrong types, a huge body,
// unicode edge cases, CR/LF injection, SQL-looking strings) and path parameter values.

/** Over the LLM proxy body limit (10 MB) and the 4 MB agent frame limit; quick to build. */
const HUGE_BODY_BYTES = 12 * 1024 * 1024

const EDGE_STRINGS = [
  '\uD800', // lone high surrogate
  'a\uDC00b', // lone low surrogate
  'nul\u0000byte',
  '\u202Eevil\u202C', // RTL override
  '👩‍👩‍👧‍👦🔥',
  'name\r\nSet-Cookie: pwned=1',
  'x\nX-Injected: yes',
  "'; DROP TABLE users; --",
  "' OR '1'='1",
  '../../../../etc/passwd',
  '',
  ' ',
]
const WRONG_VALUES: unknown[] = [
  null,
  123,
  -1,
  1.5,
  true,
  [],
  {},
  ['x'],
  { $ne: null },
  2 ** 64,
  'x'.repeat(10_000),
]
/** Field names the app's bodies use, each given a hostile value. */
const FIELDS = [
  'username',
  'password',
  'role',
  'tenant_id',
  'machine_name',
  'key_name',
  'api_key',
  'provider',
  'base_url',
  'content',
  'machine_id',
  'project_path',
  'cli_tool',
  'user_id',
  'permission',
  'registration_token',
  'hostname',
  'title',
  'daily_token_limit',
  'monthly_token_limit',
  'events',
  'request_id',
  'allow',
]
export const PARAM_VALUES = [
  '0',
  '-1',
  '99999999999999999999',
  '00000000-0000-4000-8000-000000000000',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  "1'%20OR%20'1'%3D'1",
  '%F0%9F%94%A5',
  '%00',
  '%0d%0aX-Injected:%20yes',
]

export interface Probe {
  label: string
  body?: string
  contentType?: string
}

let probesCache: Probe[] | undefined
export function bodyProbes(): Probe[] {
  if (probesCache) return probesCache
  const probes: Probe[] = [
    { label: 'truncated JSON', body: '{"username": "a", ' },
    { label: 'not JSON', body: 'hello=world&<xml/>' },
    { label: 'JSON null', body: 'null' },
    { label: 'JSON array', body: '[1,2,3]' },
    { label: 'JSON number', body: '42' },
    { label: 'JSON string', body: '"text"' },
    { label: 'deep nesting', body: `${'['.repeat(5000)}${']'.repeat(5000)}` },
    { label: 'lone surrogate escape', body: '{"username":"\\ud800","content":"\\udc00"}' },
    { label: 'wrong content type', body: '{}', contentType: 'text/plain' },
    { label: 'huge body', body: JSON.stringify({ content: 'x'.repeat(HUGE_BODY_BYTES) }) },
  ]
  const everyField = (value: unknown) => JSON.stringify(Object.fromEntries(FIELDS.map((f) => [f, value])))
  for (const [i, value] of WRONG_VALUES.entries())
    probes.push({ label: `wrong types #${i}`, body: everyField(value) })
  for (const [i, value] of EDGE_STRINGS.entries())
    probes.push({ label: `edge string #${i}`, body: everyField(value) })
  probesCache = probes
  return probes
}
