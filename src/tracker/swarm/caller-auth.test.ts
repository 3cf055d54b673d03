// The replay cache behind signed swarm calls, on an injected clock: a nonce is refused while its
// call could still pass the time check, forgotten after, and a full cache refuses (429) rather
// than forgetting nonces that could then be replayed.
import { expect, it } from 'vitest'
import type { IncomingMessage } from 'node:http'
import { createCallerAuth } from './caller-auth.ts'
import { signCall } from '../../identity/swarm-call-signature.ts'
import { newTab } from './swarm-test-kit.ts'

const PATH = '/api/campaigns/0123456789abcdef0123456789abcdef/heartbeat'

it('refuses a replay inside the window, a call outside it, and new calls once the cache is full', async () => {
  let now = 1_000_000
  const auth = createCallerAuth({ now: () => now, skewMs: 1000, maxNonces: 2 })
  const tab = await newTab()
  const body = { peerId: tab.id }
  const req = async (time = now): Promise<IncomingMessage> => ({ method: 'POST', headers: await signCall(tab.key, { method: 'POST', path: PATH, peerId: tab.id, time, body }) }) as unknown as IncomingMessage
  const first = await req()
  expect(await auth.authenticate(first, PATH, body)).toBe(tab.id)
  await expect(auth.authenticate(first, PATH, body)).rejects.toMatchObject({ status: 401 })
  await expect(auth.authenticate(await req(now - 1500), PATH, body)).rejects.toMatchObject({ status: 401 })
  // The same signature on another path, or for another body, is not valid.
  await expect(auth.authenticate(await req(), PATH.replace('heartbeat', 'leave'), body)).rejects.toMatchObject({ status: 401 })
  expect(await auth.authenticate(await req(), PATH, body)).toBe(tab.id)
  await expect(auth.authenticate(await req(), PATH, body)).rejects.toMatchObject({ status: 429 })
  // Two windows later the old nonces are gone (their calls would be stale anyway): room again.
  now += 2001
  expect(await auth.authenticate(await req(), PATH, body)).toBe(tab.id)
})
