// Dataset upload from the browser: the file's sha256 computed here, the bytes sent raw to the
// tracker's POST /api/datasets with progress (fetch has no upload progress, XMLHttpRequest does).
import type { DatasetJobView, UploadedDataset } from '../../../tracker/dataset-routes.ts'
import type { TokenizerName } from '../../../tokenizer/tokenizer.ts'

export type { DatasetJobView, UploadedDataset }

/** What POST /api/datasets answers: the stored file, or (text with a tokenizer) the stored text and its tokenization job. */
export type UploadAnswer = UploadedDataset | { text: UploadedDataset, job: DatasetJobView }

/** The tracker's default limit (MAX_DATASET_BYTES in src/tracker/dataset-routes.ts), checked here before sending. */
export const MAX_UPLOAD_BYTES = 32 * 1024 * 1024

export async function sha256Hex (file: Blob): Promise<string> {
  // crypto.subtle exists only in secure contexts (https, localhost).
  if (globalThis.crypto?.subtle == null) throw new Error('this page is not a secure context (https or localhost), so the browser cannot hash the file')
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()))
  return [...digest].map(b => b.toString(16).padStart(2, '0')).join('')
}

export async function uploadDataset (file: File, onProgress: (loaded: number, total: number) => void, { signal, tokenizer }: { signal?: AbortSignal, tokenizer?: TokenizerName } = {}): Promise<UploadAnswer> {
  return await new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest()
    xhr.open('POST', '/api/datasets')
    xhr.setRequestHeader('content-type', 'application/octet-stream')
    xhr.setRequestHeader('x-filename', encodeURIComponent(file.name))
    if (tokenizer != null && tokenizer !== 'bytes') xhr.setRequestHeader('x-tokenizer', tokenizer)
    xhr.responseType = 'json'
    xhr.upload.onprogress = e => { onProgress(e.loaded, e.lengthComputable ? e.total : file.size) }
    xhr.onload = () => {
      const body = xhr.response as (UploadAnswer & { error?: string }) | null
      if ((xhr.status === 201 || xhr.status === 202) && body != null) resolve(body)
      else reject(new Error(body?.error ?? `the tracker answered HTTP ${xhr.status}`))
    }
    xhr.onerror = () => { reject(new Error('the upload failed (network error, or the tracker closed the connection)')) }
    xhr.onabort = () => { reject(new DOMException('upload cancelled', 'AbortError')) }
    signal?.addEventListener('abort', () => { xhr.abort() }, { once: true })
    xhr.send(file)
  })
}

/** Polls a tokenization job on the tracker until it is done; progress after each answer. */
export async function waitForJob (job: DatasetJobView, onProgress: (job: DatasetJobView) => void, { signal, everyMs = 500 }: { signal?: AbortSignal, everyMs?: number } = {}): Promise<UploadedDataset> {
  let j = job
  for (;;) {
    onProgress(j)
    if (j.status === 'done' && j.dataset != null) return j.dataset
    if (j.status === 'error') throw new Error(`tokenizing failed: ${j.error ?? 'unknown error'}`)
    await new Promise(resolve => setTimeout(resolve, everyMs))
    signal?.throwIfAborted()
    const res = await fetch(`/api/datasets/jobs/${j.id}`, { signal })
    if (!res.ok) throw new Error(`the tracker answered HTTP ${res.status} about the tokenization`)
    j = await res.json() as DatasetJobView
  }
}
