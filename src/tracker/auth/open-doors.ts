// The tracker's doors from its environment: TABGRAD_ADMIN_TOKEN (else the token file in the
// data dir, created on first start) and TABGRAD_RESEARCHERS (comma-separated addresses allowed
// to create campaigns; unset: any address signed in with Ethereum).
import { getAddress } from 'ethers'
import { loadOrCreateAdminToken, AdminTokenError } from './admin-token.ts'
import { createDoors, type Doors } from './doors.ts'

export async function openDoors (init: { dataDir: string, env: Record<string, string | undefined> }): Promise<{ doors: Doors, adminToken: string }> {
  const adminToken = await loadOrCreateAdminToken(init.dataDir, init.env.TABGRAD_ADMIN_TOKEN)
  const researchers = (init.env.TABGRAD_RESEARCHERS ?? '').split(',').map(s => s.trim()).filter(s => s !== '').map(a => {
    try { return getAddress(a) } catch { throw new AdminTokenError(`TABGRAD_RESEARCHERS: "${a}" is not an Ethereum address`) }
  })
  return { doors: createDoors({ adminToken, researchers }), adminToken }
}
