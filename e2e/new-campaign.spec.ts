// A researcher creates a campaign at #/new against the real tracker: invalid input is caught inline
// and creates nothing; a valid manifest gives a share link (copy + QR) that opens the campaign page.
import { createHash } from 'node:crypto'
import { expect, test, type Page } from '@playwright/test'
import { startTrackerProcess, type TrackerProcess } from './tracker-process.ts'

let tracker: TrackerProcess

test.beforeAll(async () => { tracker = await startTrackerProcess() })
test.afterAll(async () => { expect(await tracker.stop('SIGTERM')).toBe(0) })

async function campaignCount (): Promise<number> {
  const res = await fetch(`${tracker.url}/api/campaigns`)
  return ((await res.json()) as { campaigns: unknown[] }).campaigns.length
}

/** The operator opens the sign-in link the tracker printed; it lands on #/new signed in. */
async function signInAsOperator (page: Page): Promise<void> {
  await page.goto(tracker.operatorLink)
  await expect(page.getByTestId('sign-in-notice')).toHaveText(/Creating as this tracker's operator/)
}

async function openForm (page: Page): Promise<void> {
  await page.goto(`${tracker.url}/#/new`)
  await expect(page.getByRole('heading', { name: 'New campaign' })).toBeVisible()
  // The built-in corpus's entry comes from the demo campaign's manifest.
  await expect(page.getByTestId('builtin-dataset')).toContainText('/datasets/sotu-excerpt.txt')
  await expect(page.getByLabel('Dataset name')).not.toHaveValue('')
}

test('invalid fields show inline errors and create nothing', async ({ page }) => {
  const before = await campaignCount()
  await openForm(page)
  // Signed out, the page says what creating needs before anything is filled in.
  await expect(page.getByTestId('sign-in-notice')).toHaveAttribute('data-signed-in', 'false')
  await expect(page.getByTestId('sign-in-notice')).toContainText('Sign in to create a campaign')
  const create = page.getByTestId('create')
  // The name is empty at first, so the form is invalid and says why.
  await expect(create).toBeDisabled()
  await expect(page.getByTestId('error-summary')).toContainText('Campaign name')

  await page.getByLabel('Campaign name').fill('Bad campaign')
  await page.getByLabel('Learning rate').fill('0')
  const lr = page.getByLabel('Learning rate')
  await expect(lr).toHaveAttribute('aria-invalid', 'true')
  const lrError = page.locator('[data-testid="field-error"][data-field="training.lr"]')
  await expect(lrError).toHaveText('Must be greater than 0.')
  await expect(lr).toHaveAttribute('aria-describedby', /nc-training-lr-error/)

  // A cross-field rule from the shared validator: more stages than layers.
  await page.getByLabel('Pipeline stages').fill('5')
  await expect(page.locator('[data-testid="field-error"][data-field="stages"]')).toContainText('Must be at most n_layer (2)')
  await expect(page.getByTestId('model-summary')).toContainText('Fix the model fields')

  await page.getByLabel('Attention heads (n_head)').fill('3')
  await expect(page.locator('[data-testid="field-error"][data-field="model.n_head"]')).toContainText('Must divide d_model (64)')
  await expect(create).toBeDisabled()

  // Enter in a field submits the form: still nothing is sent.
  await lr.press('Enter')
  await expect(page.getByTestId('share')).toHaveCount(0)
  expect(await campaignCount()).toBe(before)

  // Fixing one field clears its error as the user types.
  await lr.fill('0.001')
  await expect(lrError).toHaveCount(0)
  await expect(lr).toHaveAttribute('aria-invalid', 'false')
})

test('a valid campaign on the built-in dataset is created, shared and opens', async ({ browser }) => {
  const context = await browser.newContext({ permissions: ['clipboard-read', 'clipboard-write'] })
  const page = await context.newPage()
  const consoleErrors: string[] = []
  page.on('console', m => { if (m.type() === 'error') consoleErrors.push(m.text()) })
  const before = await campaignCount()
  await signInAsOperator(page)
  await openForm(page)

  const name = `E2E campaign ${Date.now()}`
  await page.getByLabel('Campaign name').fill(name)
  await page.getByLabel('Description (optional)').fill('Created by the new-campaign e2e test.')

  // The small preset: 6 layers over 3 stages, sizes computed live from config.ts and memory.ts.
  await page.getByLabel('Preset').selectOption('small')
  await expect(page.getByLabel('Layers (n_layer)')).toHaveValue('6')
  await page.getByLabel('Pipeline stages').fill('3')
  await expect(page.getByTestId('stage-row')).toHaveCount(3)
  await expect(page.getByTestId('stage-row').nth(0)).toContainText("0–1")
  await expect(page.getByTestId('stage-row').nth(2)).toContainText('4–5')
  // GPT-2 body at d=384, 6 layers, vocab 256, ctx 256 (unpadded count, stageParamCount).
  const d = 384
  const layer = 12 * d * d + 13 * d
  const params = (256 + 256) * d + 6 * layer + 2 * d + 256 * d
  await expect(page.getByTestId('param-count')).toHaveText(params.toLocaleString('en-US'))
  await expect(page.getByTestId('stage-memory').first()).toContainText('MiB')

  await page.getByLabel('Learning-rate schedule').selectOption('cosine')
  await page.getByLabel('Warmup steps').fill('100')
  await page.getByLabel('Optimizer steps').fill('2000')

  const create = page.getByTestId('create')
  await expect(create).toBeEnabled()
  await create.click()

  const link = page.getByTestId('share-link')
  // The link pins the tracker's signing key (campaign/share-link.ts).
  await expect(link).toHaveValue(new RegExp(`^${tracker.url.replace(/[.]/g, '\\.')}/#/c/[0-9a-f]{32}\\?key=[0-9a-f]{32}$`))
  const shareLink = await link.inputValue()
  expect(await campaignCount()).toBe(before + 1)
  await expect(page.getByTestId('share-qr').locator('svg')).toBeVisible()

  await page.getByTestId('copy-link').click()
  await expect(page.getByRole('status')).toContainText('Copied')
  expect(await page.evaluate(async () => await navigator.clipboard.readText())).toBe(shareLink)

  // The campaign page, from the in-app link and from the share link itself.
  await page.getByTestId('campaign-page-link').click()
  await expect(page.getByRole('heading', { level: 1 })).toHaveText(name)
  const fresh = await context.newPage()
  await fresh.goto(shareLink)
  await expect(fresh.getByRole('heading', { level: 1 })).toHaveText(name)
  await expect(fresh.getByTestId('tracker-key')).toHaveAttribute('data-status', 'matches')

  const id = shareLink.split('/').pop()!.split('?')[0]
  // A typed URL without the pin still opens the campaign, in a browser that never saw the
  // link; the page says its key check is unpinned.
  const typed = await browser.newContext()
  const typedPage = await typed.newPage()
  await typedPage.goto(`${tracker.url}/#/c/${id}`)
  await expect(typedPage.getByRole('heading', { level: 1 })).toHaveText(name)
  await expect(typedPage.getByTestId('tracker-key')).toHaveAttribute('data-status', 'unpinned')
  await typed.close()
  const detail = await (await fetch(`${tracker.url}/api/campaigns/${id}`)).json() as { manifest: { stages: number, training: { lr_schedule: string, warmup_steps: number, steps: number }, dataset: { url: string } } }
  expect(detail.manifest.stages).toBe(3)
  expect(detail.manifest.training).toMatchObject({ lr_schedule: 'cosine', warmup_steps: 100, steps: 2000 })
  expect(detail.manifest.dataset.url).toBe('/datasets/sotu-excerpt.txt')

  expect(consoleErrors).toEqual([])
  await context.close()
})

test('a researcher uploads a dataset: its sha256 computed in the browser matches the tracker\'s, and a campaign uses it', async ({ page }) => {
  const text = 'We the People of the United States, in Order to form a more perfect Union. '.repeat(400)
  const sha256 = createHash('sha256').update(text).digest('hex')
  await signInAsOperator(page)
  await openForm(page)
  await page.getByLabel('Campaign name').fill(`Uploaded corpus ${Date.now()}`)
  await page.getByLabel('Upload a file to the tracker').check()
  await expect(page.getByTestId('create')).toBeDisabled()
  await page.getByLabel('File (at most 32 MiB)').setInputFiles({ name: 'preamble.txt', mimeType: 'text/plain', buffer: Buffer.from(text) })
  await expect(page.getByTestId('upload-sha256')).toHaveText(sha256)
  await expect(page.getByLabel('Dataset name')).toHaveValue('preamble.txt')

  // The tracker serves back exactly the bytes that were hashed.
  const served = await fetch(`${tracker.url}/datasets/${sha256}.txt`)
  expect(served.status).toBe(200)
  expect(await served.text()).toBe(text)

  await page.getByTestId('create').click()
  const id = (await page.getByTestId('share-link').inputValue()).split('/').pop()!.split('?')[0]
  const detail = await (await fetch(`${tracker.url}/api/campaigns/${id}`)).json() as { manifest: { dataset: unknown } }
  expect(detail.manifest.dataset).toEqual({ name: 'preamble.txt', url: `/datasets/${sha256}.txt`, sha256, bytes: text.length, format: 'bytes' })
})

test('a GPT-2 preset picks the built-in GPT-2 corpus, which the tracker tokenizes with progress, and the campaign names its tokenizer', async ({ page }) => {
  test.setTimeout(180_000)
  await signInAsOperator(page)
  await openForm(page)
  await page.getByLabel('Campaign name').fill(`GPT-2 campaign ${Date.now()}`)
  await page.getByLabel('Preset').selectOption('gpt2-mini')
  await expect(page.getByLabel('Vocabulary')).toHaveValue('50257')
  await expect(page.locator('input[name="dataset-source"][value="builtin-gpt2"]')).toBeChecked()
  // First use: the tracker tokenizes the whole SOTU corpus in a worker thread, the form shows how far.
  const corpus = page.getByTestId('gpt2-corpus')
  await expect(corpus).toContainText('held out for validation', { timeout: 150_000 })
  await expect(page.getByTestId('flops-per-token')).toContainText('FLOP')
  await expect(page.getByTestId('stage-suggestion')).toContainText('4.00 GiB')

  await page.getByTestId('create').click()
  const link = await page.getByTestId('share-link').inputValue()
  const id = link.split('/').pop()!.split('?')[0]
  const detail = await (await fetch(`${tracker.url}/api/campaigns/${id}`)).json() as { manifest: { model: { vocab: number }, dataset: { url: string, sha256: string, bytes: number, tokenizer: string, validation_tokens: number } } }
  expect(detail.manifest.model.vocab).toBe(50257)
  expect(detail.manifest.dataset).toMatchObject({ format: 'uint16', tokenizer: 'gpt2' })
  expect(detail.manifest.dataset.validation_tokens).toBeGreaterThan(0)
  // The token file is content-addressed: its bytes hash to the name and the manifest's sha256.
  const bin = Buffer.from(await (await fetch(tracker.url + detail.manifest.dataset.url)).arrayBuffer())
  expect(bin.length).toBe(detail.manifest.dataset.bytes)
  expect(createHash('sha256').update(bin).digest('hex')).toBe(detail.manifest.dataset.sha256)
  expect(bin.length).toBeGreaterThan(2 * 1_000_000) // > 1 M tokens from ≥ 5 MB of text
})
