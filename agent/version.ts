// The agent's version, stamped at build time by scripts/build-agent.ts (`--define`), so the
// compiled binary reports exactly what it was built from; a source run reports 'dev'.
declare const OPENACE_AGENT_VERSION: string | undefined

export const AGENT_VERSION: string = typeof OPENACE_AGENT_VERSION === 'string' ? OPENACE_AGENT_VERSION : 'dev'
