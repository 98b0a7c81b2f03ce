// The LLM providers a key can be stored for, with their badge colour and usual base URL.
export const PROVIDERS = [
  { id: 'openai', label: 'OpenAI', color: '#10a37f', defaultBaseUrl: 'https://api.openai.com/v1' },
  { id: 'anthropic', label: 'Anthropic', color: '#c2410c', defaultBaseUrl: 'https://api.anthropic.com' },
  {
    id: 'google',
    label: 'Google',
    color: '#2563eb',
    defaultBaseUrl: 'https://generativelanguage.googleapis.com',
  },
] as const
export type Provider = (typeof PROVIDERS)[number]['id']

export function providerInfo(id: string) {
  return PROVIDERS.find((p) => p.id === id) ?? { id, label: id, color: '#6b7280', defaultBaseUrl: '' }
}
