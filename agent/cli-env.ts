// The environment a CLI subprocess gets: the machine's environment minus every LLM, cloud and
// git credential (and anything that would redirect or weaken the CLI's LLM traffic), plus the
// adapter's variables. Keys stay on the server; the CLI only ever sees its proxy token.
/** Variables from these families are dropped whole: provider keys, base URLs, cloud logins. */
const SCRUBBED_PREFIXES = [
  'OPENAI_',
  'ANTHROPIC_',
  'CLAUDE_',
  'GEMINI_',
  'GOOGLE_',
  'VERTEX',
  'QWEN_',
  'DASHSCOPE_',
  'AZURE_',
  'AWS_',
  'GCP_',
  'GCLOUD_',
  'CLOUDSDK_',
  'BEDROCK_',
  'MISTRAL_',
  'COHERE_',
  'GROQ_',
  'DEEPSEEK_',
  'TOGETHER_',
  'OPENROUTER_',
  'XAI_',
  'HF_',
  'HUGGINGFACE',
  'REPLICATE_',
  'PERPLEXITY_',
  'FIREWORKS_',
  'MOONSHOT_',
  'ZHIPU',
  'MINIMAX_',
  'LITELLM_',
  'OLLAMA_',
  'OPENCLAW_',
  'OPENACE_',
  'GITHUB_',
  'GH_',
  'GITLAB_',
  'BITBUCKET_',
  'GIT_ASKPASS',
  'GIT_CREDENTIAL',
  'SSH_ASKPASS',
  'DIGITALOCEAN_',
  'CLOUDFLARE_',
  'VERCEL_',
  'NETLIFY_',
  'HEROKU_',
  'ALIBABA_CLOUD_',
  'ALICLOUD_',
  'TENCENTCLOUD_',
  'OCI_',
  'ARM_CLIENT',
]
/** Any variable whose name contains one of these is a credential whatever its prefix. */
const SCRUBBED_WORDS = /TOKEN|SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIAL|AUTH/i
/** Switches that turn off TLS verification; never passed on, whoever sets them. */
const TLS_DISABLING = [
  'NODE_TLS_REJECT_UNAUTHORIZED',
  'QWEN_TLS_INSECURE',
  'PYTHONHTTPSVERIFY',
  'GIT_SSL_NO_VERIFY',
]
/** Switches that stop every CLI we run from phoning home. */
export const NO_TRACKING_ENV = { DO_NOT_TRACK: '1' } as const

export function isScrubbed(name: string): boolean {
  const upper = name.toUpperCase()
  return (
    SCRUBBED_PREFIXES.some((p) => upper.startsWith(p)) ||
    SCRUBBED_WORDS.test(upper) ||
    TLS_DISABLING.includes(upper)
  )
}

/**
 * machine env (scrubbed) + extra env from the session (scrubbed of TLS switches) + the
 * adapter's variables, which win. Returns a fresh object; the inputs are not changed.
 */
export function buildCliEnv(
  machineEnv: Record<string, string | undefined>,
  adapterEnv: Record<string, string>,
  sessionEnv: Record<string, string> = {},
): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(machineEnv)) if (v !== undefined && !isScrubbed(k)) out[k] = v
  for (const [k, v] of Object.entries(sessionEnv)) if (!TLS_DISABLING.includes(k.toUpperCase())) out[k] = v
  return { ...out, ...NO_TRACKING_ENV, ...adapterEnv }
}
