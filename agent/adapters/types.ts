// The one interface every CLI adapter implements: how to find, install and start the CLI,
// which environment it needs to reach our proxy, how to talk to it and how to read its output.
import type { OutputEvent, TokenUsage } from '../../protocol/index.ts'

export interface AdapterSession {
  model: string
  /** The server's /api/remote/llm-proxy base URL. */
  proxyBaseUrl: string
  /** Short-lived proxy token, used by the CLI as its API key. */
  proxyToken: string
  projectPath: string
  /** A private directory for files the adapter writes (e.g. OpenClaw's config). */
  sessionDir: string
  permissionMode?: string
  resumeCliSessionId?: string
}

/** What one output line meant: structured events, and this turn's token usage if it ended. */
export interface ParsedLine {
  events: OutputEvent[]
  /** Usage of the turn that just ended (never cumulative across turns). */
  usage?: TokenUsage
  /** The CLI's own session id, once it says it. */
  cliSessionId?: string
  /**
   * The line is progress only (a partial message): its events are kept, its raw text is not,
   * since the complete message follows and repeats it.
   */
  transient?: boolean
}

export interface OutputParser {
  line(text: string): ParsedLine
  /** Called when the process exits: for CLIs that print one document at the end. */
  end?(): ParsedLine
}

export interface CliAdapter {
  /** Canonical tool name used in session.start's cli_tool. */
  readonly name: string
  /** Other spellings accepted for cli_tool (e.g. the installer's 'qwen-code-cli'). */
  readonly aliases: readonly string[]
  readonly executable: string
  /** Shell-free argv that installs the CLI. */
  readonly installCommand: readonly string[]
  /**
   * Why this CLI cannot take up a conversation again in a new process (a stopped session cannot
   * be continued); absent: it resumes the conversation named by resumeCliSessionId.
   */
  readonly cannotResume?: string
  /** long-lived: one process per session fed over stdin; per-message: one process per turn. */
  readonly mode: 'long-lived' | 'per-message'
  env(session: AdapterSession): Record<string, string>
  /** argv after the executable; `message` is set for per-message CLIs. */
  args(session: AdapterSession, message?: string): string[]
  /** Writes files the CLI needs before it starts (called once per process). */
  prepare?(session: AdapterSession): Promise<void>
  /** Lines written to stdin right after start (e.g. the stream-json initialize request). */
  startupLines?(): string[]
  /** The stdin line carrying a user message (long-lived CLIs). */
  userMessage?(text: string): string
  /** The stdin line answering a permission request; `input` is what the CLI asked with. */
  permissionAnswer?(requestId: string, allow: boolean, input: unknown): string
  /** The stdin line interrupting the current turn; absent = interrupt with SIGINT. */
  interrupt?(): string
  /** A parser for one process's output; `session` lets per-message CLIs carry state across processes. */
  createParser(session?: AdapterSession): OutputParser
}
