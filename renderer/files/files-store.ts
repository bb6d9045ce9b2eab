import { sha256 as sha256Hasher } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { createStore, type StoreApi } from 'zustand/vanilla';
import { UPLOAD_TRANSFER_ID_CHARS, uploadTransferSeed, type FileListing } from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';
import { toUiError, type UiError } from '../api/ui-error.js';
import type { FilesApi } from './files-api.js';

/**
 * Largest file the console downloads: it holds the file in memory until its hash is checked, then
 * hands it to the browser. Larger files: `tether cp`. Uploads have no such bound.
 */
export const MAX_BROWSER_DOWNLOAD_BYTES = 512 * 1024 * 1024;

/**
 * Files up to this size are hashed whole by Web Crypto (native, ~10× faster). Larger ones are read
 * in slices into an incremental SHA-256 (@noble/hashes; Web Crypto has none, and the console's CSP
 * allows no WebAssembly), so the console's memory stays flat whatever the file's size.
 */
export const WHOLE_HASH_MAX_BYTES = 256 * 1024 * 1024;

/** Where a listing starts when nothing else is known: a root every agent allows by default. */
export const DEFAULT_DIRECTORY = '/tmp';

export type TransferState = 'hashing' | 'running' | 'verifying' | 'done' | 'failed' | 'cancelled';

/** One upload or download as the view shows it. */
export interface Transfer {
  id: number;
  direction: 'upload' | 'download';
  name: string;
  /** The device path. */
  path: string;
  /** Whole size in bytes (0 until a download's answer says it). */
  size: number;
  /** Bytes the device (upload) or the console (download) holds. */
  done: number;
  /** Bytes per second over the last moments; 0 when unknown. */
  speed: number;
  state: TransferState;
  error: UiError | null;
  /** A cancelled or failed transfer that Resume takes up where it stopped. */
  resumable: boolean;
}

export interface FilesState {
  deviceId: string;
  /** The directory shown (as the device resolved it), or the one being asked for. */
  path: string;
  listing: FileListing | null;
  loading: boolean;
  listError: UiError | null;
  transfers: readonly Transfer[];

  open(path: string): Promise<void>;
  reload(): Promise<void>;
  upload(files: readonly File[]): void;
  download(name: string): void;
  cancel(id: number): void;
  resume(id: number): void;
  dismiss(id: number): void;
  /** Stops every transfer (the view is closing). */
  dispose(): void;
}

export type FilesStore = StoreApi<FilesState>;

export interface FilesDeps {
  api: FilesApi;
  deviceId: string;
  /** The directory listed first ({@link DEFAULT_DIRECTORY} when not given or not absolute). */
  initialPath?: string;
  /** Injected for tests; Web Crypto by default. */
  sha256?(data: BufferSource): Promise<string>;
  /** Injected for tests; {@link WHOLE_HASH_MAX_BYTES} by default. */
  wholeHashMaxBytes?: number;
  /** Hands a verified download to the user; an object URL and `<a download>` by default. */
  save?(blob: Blob, name: string): void;
  now?(): number;
}

/** Store updates at most this often per transfer (XHR and stream reads fire far more often). */
const PROGRESS_EVERY_MS = 100;

async function webSha256(data: BufferSource): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', data));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

function saveWithLink(blob: Blob, name: string): void {
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = name;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has taken the blob by the time the click returns in Chromium; a margin for the others.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

/** The id `tether cp` gives the same upload (by the local file's name, size and time), so either resumes the other's part file. */
export async function uploadTransferId(deviceId: string, path: string, file: { name: string; size: number; lastModified: number }, hash: (data: BufferSource) => Promise<string> = webSha256): Promise<string> {
  const seed = uploadTransferSeed(deviceId, path, { name: file.name, size: file.size, modifiedAtMs: file.lastModified });
  return (await hash(new TextEncoder().encode(seed))).slice(0, UPLOAD_TRANSFER_ID_CHARS);
}

/** SHA-256 of a file read in slices, reporting the bytes hashed so far. */
async function slicedSha256(file: Blob, onProgress: (done: number) => void, signal: AbortSignal): Promise<string> {
  const hasher = sha256Hasher.create();
  const reader = file.stream().getReader();
  let done = 0;
  try {
    for (;;) {
      signal.throwIfAborted();
      const chunk = await reader.read();
      if (chunk.done) break;
      hasher.update(chunk.value);
      done += chunk.value.byteLength;
      onProgress(done);
    }
  } finally {
    // Stops reading the file when hashing was cancelled (after the end it does nothing).
    await reader.cancel();
  }
  return bytesToHex(hasher.digest());
}

/** `/a/b` + `c` → `/a/b/c`; `/` + `c` → `/c`. */
export function childPath(directory: string, name: string): string {
  return `${directory.replace(/\/+$/, '')}/${name}`;
}

const isAbort = (error: unknown): boolean => error instanceof DOMException && error.name === 'AbortError';

const tooLarge = (): UiError => ({
  code: 'BAD_REQUEST',
  message: `Files over ${MAX_BROWSER_DOWNLOAD_BYTES / 1024 / 1024} MB are not downloaded by the console (it holds them in memory); use \`tether cp\``,
});

/** What the view keeps of a transfer beyond what it shows: how to stop it, and what a resume needs. */
interface Running {
  abort: AbortController | null;
  file?: File;
  sha256?: string;
  transfer?: string;
  /** A download's bytes so far, and the hash and version (etag) its first answer announced. */
  chunks?: Uint8Array[];
  expected?: string;
  etag?: string;
}

/** A device's file browser and its transfers: one store per opened Files view. */
export function createFilesStore(deps: FilesDeps): FilesStore {
  const { api, deviceId } = deps;
  const hash = deps.sha256 ?? webSha256;
  const save = deps.save ?? saveWithLink;
  const now = deps.now ?? (() => performance.now());
  const running = new Map<number, Running>();
  let nextId = 1;
  let listSeq = 0;

  const store = createStore<FilesState>()((set, get) => {
    const patch = (id: number, change: Partial<Transfer>) => set((s) => ({ transfers: s.transfers.map((t) => (t.id === id ? { ...t, ...change } : t)) }));
    const transfer = (id: number) => get().transfers.find((t) => t.id === id);

    /** Progress into the store at most every PROGRESS_EVERY_MS, with a speed over the span since the last update. */
    const progress = (id: number, startDone: number) => {
      let last = { at: now(), done: startDone };
      let speed = 0;
      return (done: number, force = false) => {
        const at = now();
        if (!force && at - last.at < PROGRESS_EVERY_MS) return;
        const span = (at - last.at) / 1000;
        if (span > 0) speed = speed === 0 ? (done - last.done) / span : 0.7 * speed + (0.3 * (done - last.done)) / span;
        last = { at, done };
        patch(id, { done, speed: Math.max(0, speed) });
      };
    };

    const fail = (id: number, error: unknown) => {
      const resumable = running.has(id);
      if (isAbort(error)) patch(id, { state: 'cancelled', speed: 0, resumable });
      else patch(id, { state: 'failed', speed: 0, error: toUiError(error), resumable });
    };

    const runUpload = async (id: number) => {
      const job = running.get(id);
      const shown = transfer(id);
      if (!job?.file || !shown) return;
      const abort = new AbortController();
      job.abort = abort;
      try {
        if (job.sha256 === undefined || job.transfer === undefined) {
          patch(id, { state: 'hashing', done: 0, error: null, resumable: false });
          const { file } = job;
          job.sha256 = file.size <= (deps.wholeHashMaxBytes ?? WHOLE_HASH_MAX_BYTES) ? await hash(await file.arrayBuffer()) : await slicedSha256(file, progress(id, 0), abort.signal);
          job.transfer = await uploadTransferId(deviceId, shown.path, file, hash);
        }
        abort.signal.throwIfAborted();
        patch(id, { state: 'running', error: null, resumable: false });
        const offset = await api.uploadOffset(deviceId, shown.path, job.transfer);
        abort.signal.throwIfAborted();
        const report = progress(id, offset);
        report(offset, true);
        await api.upload({ deviceId, path: shown.path, transfer: job.transfer, file: job.file, sha256: job.sha256, offset, signal: abort.signal, onProgress: (sent) => report(offset + sent) });
        patch(id, { state: 'done', done: job.file.size, speed: 0 });
        running.delete(id);
        const { path, listing } = get();
        if (listing !== null && shown.path === childPath(path, shown.name)) void get().reload();
      } catch (error) {
        fail(id, error);
      }
    };

    const runDownload = async (id: number) => {
      const job = running.get(id);
      const shown = transfer(id);
      if (!job || !shown) return;
      const abort = new AbortController();
      job.abort = abort;
      const chunks = (job.chunks ??= []);
      let held = chunks.reduce((n, c) => n + c.byteLength, 0);
      try {
        patch(id, { state: 'running', error: null, resumable: false });
        // The rest of the version we hold part of; the backend sends the whole file when it changed.
        let answer = await api.download(deviceId, shown.path, held, abort.signal, held > 0 ? job.etag : undefined);
        if (answer.start > 0 && job.expected !== undefined && job.expected !== answer.sha256) {
          // The rest of another version (a device without etags): ask for the whole file.
          await answer.body.cancel();
          answer = await api.download(deviceId, shown.path, 0, abort.signal);
        }
        if (answer.start === 0) {
          chunks.length = 0;
          held = 0;
        }
        job.expected = answer.sha256;
        job.etag = answer.etag;
        if (answer.size > MAX_BROWSER_DOWNLOAD_BYTES) {
          await answer.body.cancel();
          patch(id, { state: 'failed', size: answer.size, error: tooLarge() });
          running.delete(id);
          return;
        }
        patch(id, { size: answer.size });
        const report = progress(id, held);
        report(held, true);
        const reader = answer.body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          chunks.push(value);
          held += value.byteLength;
          report(held);
        }
        report(held, true);
        patch(id, { state: 'verifying', speed: 0 });
        const blob = new Blob(chunks as BlobPart[]);
        const sha256 = await hash(await blob.arrayBuffer());
        running.delete(id);
        if (sha256 !== answer.sha256 || blob.size !== answer.size) {
          // Nothing is saved: the bytes are not the file the device announced.
          patch(id, { state: 'failed', error: toUiError(new ApiError('CHECKSUM_MISMATCH', '', 422)) });
          return;
        }
        save(blob, shown.name);
        patch(id, { state: 'done' });
      } catch (error) {
        // A stream cut by the cancel surfaces as the abort's reason or as a TypeError: the user's cancel decides.
        fail(id, abort.signal.aborted ? new DOMException('Cancelled', 'AbortError') : error);
      }
    };

    const start = (direction: Transfer['direction'], name: string, path: string, size: number, job: Running) => {
      const id = nextId++;
      running.set(id, job);
      set((s) => ({ transfers: [...s.transfers, { id, direction, name, path, size, done: 0, speed: 0, state: 'running', error: null, resumable: false }] }));
      return id;
    };

    return {
      deviceId,
      path: deps.initialPath?.startsWith('/') ? deps.initialPath : DEFAULT_DIRECTORY,
      listing: null,
      loading: false,
      listError: null,
      transfers: [],

      open: async (path) => {
        const seq = ++listSeq;
        set({ path, loading: true, listError: null });
        try {
          const listing = await api.list(deviceId, path);
          if (seq === listSeq) set({ listing, path: listing.path, loading: false });
        } catch (error) {
          if (seq === listSeq) set({ listing: null, loading: false, listError: toUiError(error) });
        }
      },
      reload: () => get().open(get().path),

      upload: (files) => {
        for (const file of files) {
          const path = childPath(get().path, file.name);
          const id = start('upload', file.name, path, file.size, { abort: null, file });
          void runUpload(id);
        }
      },
      download: (name) => {
        const id = start('download', name, childPath(get().path, name), 0, { abort: null });
        void runDownload(id);
      },
      cancel: (id) => running.get(id)?.abort?.abort(),
      resume: (id) => {
        const shown = transfer(id);
        if (!shown?.resumable || !running.has(id)) return;
        void (shown.direction === 'upload' ? runUpload(id) : runDownload(id));
      },
      dispose: () => {
        for (const job of running.values()) job.abort?.abort();
        running.clear();
      },
      dismiss: (id) => {
        running.get(id)?.abort?.abort();
        running.delete(id);
        set((s) => ({ transfers: s.transfers.filter((t) => t.id !== id) }));
      },
    };
  });
  return store;
}
