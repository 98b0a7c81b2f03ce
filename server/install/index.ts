// /api/remote/agent: the one-line installers (from install/) and the prebuilt agent binaries with
// their SHA256SUMS (from AGENT_DIST_DIR), public on purpose: a machine being installed has no
// session yet and nothing served is secret. Plus the two calls the scripts make with the agent
// token: the machine's status as the server sees it, and deregistering it.
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { Elysia, t } from 'elysia'
import { agentGuard } from '../agents/guard.ts'
import type { AppContext } from '../context/index.ts'
import { HttpError } from '../errors.ts'
import { documented } from '../http/schema.ts'
import { serveFile } from '../http/static-file.ts'
import type { EndMachineSessions } from '../machines/lifecycle.ts'
import { MachineDeleted } from '../machines/model.ts'
import { agentSelfStatus, deregisterSelf } from './agent-self.ts'
import {
  AGENT_FILES,
  AgentFileParams,
  AgentSelfStatus,
  CHECKSUMS_FILE,
  INSTALL_SCRIPTS,
  type InstallScript,
} from './model.ts'

const INSTALL_DIR = fileURLToPath(new URL('../../install/', import.meta.url))
/** Scripts and binaries are rebuilt in place: clients may cache but must revalidate with the ETag. */
const DOWNLOAD_CACHE = 'no-cache'

function notBuilt(name: string): HttpError {
  const what = name === CHECKSUMS_FILE ? 'The agent checksums file (SHA256SUMS)' : `The agent binary ${name}`
  return new HttpError(
    404,
    `${what} has not been built on this server. On the server, run: bun run build:agent`,
    'agent_not_built',
  )
}

async function serveScript(request: Request, name: InstallScript): Promise<Response> {
  const response = await serveFile(request, {
    path: join(INSTALL_DIR, name),
    contentType: INSTALL_SCRIPTS[name],
    cacheControl: DOWNLOAD_CACHE,
  })
  if (!response)
    throw new HttpError(404, `Install script ${name} is missing from this server's install/ folder`)
  return response
}

const scriptDetail = (name: InstallScript) => ({ detail: { summary: `Agent installer script ${name}` } })

/** `endSessions`: how deregistering ends the machine's sessions (sessions/lifecycle.ts). */
export function installRoutes(ctx: AppContext, endSessions: EndMachineSessions) {
  const distDir = ctx.config.agentDistDir
  return new Elysia({ name: 'install', seed: ctx.id, prefix: '/api/remote/agent' })
    .use(agentGuard(ctx))
    .get('/install.sh', ({ request }) => serveScript(request, 'install.sh'), scriptDetail('install.sh'))
    .get('/uninstall.sh', ({ request }) => serveScript(request, 'uninstall.sh'), scriptDetail('uninstall.sh'))
    .get('/install.ps1', ({ request }) => serveScript(request, 'install.ps1'), scriptDetail('install.ps1'))
    .get(
      '/uninstall.ps1',
      ({ request }) => serveScript(request, 'uninstall.ps1'),
      scriptDetail('uninstall.ps1'),
    )
    .get(
      '/files/:name',
      async ({ request, params }) => {
        if (!AGENT_FILES.has(params.name)) throw new HttpError(404, `No agent file named ${params.name}`)
        const isSums = params.name === CHECKSUMS_FILE
        const response = await serveFile(request, {
          path: join(distDir, params.name),
          contentType: isSums ? 'text/plain; charset=utf-8' : 'application/octet-stream',
          attachmentName: isSums ? undefined : params.name,
          cacheControl: DOWNLOAD_CACHE,
        })
        if (!response) throw notBuilt(params.name)
        return response
      },
      {
        params: AgentFileParams,
        detail: {
          summary: 'A prebuilt agent binary or SHA256SUMS (supports Range)',
          responses: {
            ...documented(200, 'The whole file: a binary, or SHA256SUMS as text', {
              'application/octet-stream': t.String({ format: 'binary' }),
              'text/plain': t.String({ description: 'SHA256SUMS: `<sha256>  <file name>` per line' }),
            }),
            ...documented(206, 'The byte range asked for with Range (single range)', {
              'application/octet-stream': t.String({ format: 'binary' }),
            }),
          },
        },
      },
    )
    .get('/status', ({ agent }) => agentSelfStatus(ctx, agent), {
      agentAuth: true,
      response: AgentSelfStatus,
      detail: { summary: "This agent's machine as the server sees it (agent token)" },
    })
    .post('/deregister', ({ agent }) => deregisterSelf(ctx, agent, endSessions), {
      agentAuth: true,
      response: MachineDeleted,
      detail: { summary: "Deregister this agent's machine (agent token; used by uninstall scripts)" },
    })
}
