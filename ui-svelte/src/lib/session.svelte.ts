// Who is logged in, shared by the shell, the guards and the pages.
import type { User } from './api.ts'

export const currentUser: { user: User | null } = $state({ user: null })

export function isSystemAdmin(user: User | null): boolean {
  return user?.role === 'system_admin'
}
