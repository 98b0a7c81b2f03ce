// /api/remote/machines: registration tokens, listing, detail, assignments, sessions, token
// rotation and deregistration. Permissions follow the seed's table (see access.ts).
import { Elysia, t } from 'elysia'
import { LOG_TAIL_MAX_LINES } from '../../protocol/commands.ts'
import { authGuard } from '../auth/guard.ts'
import type { AppContext } from '../context/index.ts'
import { ErrorSchema } from '../errors.ts'
import { publicBaseUrl } from '../http/public-url.ts'
import { subscribeLive } from '../live/bus.ts'
import { liveListRoute } from '../live/stream.ts'
import { TenantFilterQuery } from '../tenants/model.ts'
import { browseMachine } from './browse.ts'
import { deleteMachine, type EndMachineSessions, revokeAgentToken } from './lifecycle.ts'
import { machineChangeFilter } from './live.ts'
import { machineLogTail } from './log.ts'
import {
  AssignAnswer,
  AssignBody,
  BrowseAnswer,
  BrowseQuery,
  DEFAULT_MACHINE_SESSIONS_PAGE,
  DeleteMachineAnswer,
  FleetVersions,
  MachineAnswer,
  MachineDetail,
  MachineIdParams,
  MachineList,
  MachineSessions,
  MachineSessionsQuery,
  MachineSettingsBody,
  MachineUserParams,
  MachineUsers,
  RegisterTokenBody,
  RegistrationTokenAnswer,
  RevokeTokenAnswer,
  RotateTokenAnswer,
  RotateTokenQuery,
  UnassignAnswer,
} from './model.ts'
import { createRegistrationToken } from './registration.ts'
import { rotateAgentToken } from './rotation.ts'
import {
  assignUser,
  getMachine,
  listMachineSessions,
  listMachines,
  listMachineUsers,
  unassignUser,
} from './service.ts'
import { updateMachineSettings } from './settings.ts'
import { fleetVersions } from './versions.ts'

/** `endSessions`: how a deregistration ends the machine's sessions (sessions/lifecycle.ts). */
export function machinesRoutes(ctx: AppContext, endSessions: EndMachineSessions) {
  return new Elysia({ name: 'machines', seed: ctx.id, prefix: '/api/remote/machines' })
    .use(authGuard(ctx))
    .post(
      '/register',
      ({ body, actor, request }) =>
        createRegistrationToken(ctx, actor, body.tenant_id, publicBaseUrl(ctx.config, request)),
      {
        auth: 'system_admin',
        body: RegisterTokenBody,
        response: { 200: RegistrationTokenAnswer },
        detail: { summary: 'Create a one-time registration token' },
      },
    )
    .get('/versions', () => fleetVersions(ctx), {
      auth: 'system_admin',
      response: { 200: FleetVersions },
      detail: { summary: 'Agent versions across the fleet, and the version this server serves' },
    })
    .get(
      '/',
      async ({ user, query }) => ({ machines: await listMachines(ctx, user, { tenantId: query.tenant_id }) }),
      {
        auth: true,
        query: TenantFilterQuery,
        response: { 200: MachineList },
        detail: { summary: 'List machines (admins: all, or one tenant; users: assigned)' },
      },
    )
    .get(
      '/available',
      async ({ user, query }) => ({
        machines: await listMachines(ctx, user, { onlineOnly: true, tenantId: query.tenant_id }),
      }),
      {
        auth: true,
        query: TenantFilterQuery,
        response: { 200: MachineList },
        detail: { summary: 'Machines the caller may use that are online' },
      },
    )
    .get(
      '/events',
      ...liveListRoute(ctx, {
        subscribe: (listener) =>
          subscribeLive(ctx, (change) => change.topic === 'machines' && listener(change)),
        filter: machineChangeFilter(ctx),
        summary:
          'Live machine list (SSE): `ready`, then `changed {kind, ids, registration_id?}` for each machine the caller may see; refetch on either',
      }),
    )
    .get('/:id', async ({ user, params }) => ({ machine: await getMachine(ctx, user, params.id) }), {
      auth: true,
      params: MachineIdParams,
      response: { 200: MachineDetail },
      detail: { summary: 'Machine detail' },
    })
    .patch(
      '/:id/settings',
      async ({ actor, user, params, body }) => ({
        machine: await updateMachineSettings(ctx, actor, user, params.id, {
          ...(body.allowed_cli_tools !== undefined ? { allowedCliTools: body.allowed_cli_tools } : {}),
          ...(body.required_isolation ? { requiredIsolation: body.required_isolation } : {}),
          ...(body.auto_update !== undefined ? { autoUpdate: body.auto_update } : {}),
          ...(body.update_window !== undefined ? { updateWindow: body.update_window } : {}),
          ...(body.labels !== undefined ? { labels: body.labels } : {}),
          ...(body.max_sessions !== undefined ? { maxSessions: body.max_sessions } : {}),
        }),
      }),
      {
        auth: 'system_admin',
        params: MachineIdParams,
        body: MachineSettingsBody,
        response: { 200: MachineAnswer },
        detail: {
          summary:
            "Set a machine's allowed CLI tools, required isolation, agent update policy, labels and session limit",
        },
      },
    )
    .delete('/:id', ({ actor, params }) => deleteMachine(ctx, actor, params.id, endSessions), {
      auth: 'system_admin',
      params: MachineIdParams,
      response: { 200: DeleteMachineAnswer },
      detail: { summary: 'Deregister a machine' },
    })
    .post(
      '/:id/assign',
      ({ actor, user, params, body }) =>
        assignUser(ctx, actor, user, params.id, { userId: body.user_id, permission: body.permission }),
      {
        auth: true,
        params: MachineIdParams,
        body: AssignBody,
        response: { 200: AssignAnswer },
        detail: { summary: 'Assign a user to a machine' },
      },
    )
    .delete(
      '/:id/assign/:user_id',
      ({ actor, user, params }) => unassignUser(ctx, actor, user, params.id, params.user_id),
      {
        auth: true,
        params: MachineUserParams,
        response: { 200: UnassignAnswer },
        detail: { summary: "Revoke a user's access to a machine" },
      },
    )
    .get(
      '/:id/users',
      async ({ actor, user, params }) => ({ users: await listMachineUsers(ctx, actor, user, params.id) }),
      {
        auth: true,
        params: MachineIdParams,
        response: { 200: MachineUsers },
        detail: { summary: 'Users assigned to a machine' },
      },
    )
    .get(
      '/:id/sessions',
      ({ user, params, query }) =>
        listMachineSessions(ctx, user, params.id, {
          status: query.status,
          limit: query.limit ?? DEFAULT_MACHINE_SESSIONS_PAGE,
          cursor: query.cursor,
        }),
      {
        auth: true,
        params: MachineIdParams,
        query: MachineSessionsQuery,
        response: { 200: MachineSessions },
        detail: {
          summary:
            'Sessions on a machine, newest first: ?status= (a status, live or ended), ?limit=, next page with ?cursor=next_cursor',
        },
      },
    )
    .get(
      '/:id/log',
      ({ actor, user, params, query }) => machineLogTail(ctx, actor, user, params.id, query.lines),
      {
        auth: true,
        params: MachineIdParams,
        query: t.Object({ lines: t.Optional(t.Integer({ minimum: 1, maximum: LOG_TAIL_MAX_LINES })) }),
        response: {
          200: t.Object({ machine_id: t.String(), lines: t.Array(t.String()) }),
          403: ErrorSchema,
          404: ErrorSchema,
          409: ErrorSchema,
          504: ErrorSchema,
        },
        detail: {
          summary: "The agent's recent log lines, oldest first (machine admins; secrets masked by the agent)",
        },
      },
    )
    .get(
      '/:id/browse',
      ({ actor, user, params, query }) => browseMachine(ctx, actor, user, params.id, query.path),
      {
        auth: true,
        params: MachineIdParams,
        query: BrowseQuery,
        response: { 200: BrowseAnswer },
        detail: { summary: 'List a directory on the machine' },
      },
    )
    .post(
      '/:id/token/rotate',
      ({ actor, params, query }) => rotateAgentToken(ctx, actor, params.id, { immediate: query.immediate }),
      {
        auth: 'system_admin',
        params: MachineIdParams,
        query: RotateTokenQuery,
        response: { 200: RotateTokenAnswer },
        detail: {
          summary:
            "Replace a machine's agent token: sent to the agent over its channel, the old one works until the agent switches (or the grace period ends); ?immediate=true cuts the old one at once",
        },
      },
    )
    .post('/:id/token/revoke', ({ actor, params }) => revokeAgentToken(ctx, actor, params.id), {
      auth: 'system_admin',
      params: MachineIdParams,
      response: { 200: RevokeTokenAnswer },
      detail: { summary: "Revoke a machine's agent token" },
    })
}
