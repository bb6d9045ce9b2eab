import { describe, expect, it, vi } from 'vitest';
import type { FileListing } from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';
import type { DownloadAnswer, FilesApi, UploadRequest } from './files-api.js';
import { childPath, createFilesStore, uploadTransferId } from './files-store.js';

const DEVICE = 'dev_aaaaaaaaaaaaaaaaaaaa';
/** SHA-256 of the texts the tests send (as `sha256sum` prints them). */
const SHA: Record<string, string> = {
  'hello world': 'b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9',
  abcdefgh: '9c56cc51b374c3ba189210d5b6d4bf57790d351c96c47c02190ecf1e430635ab',
  other: 'd9298a10d1b0735837dc4bd85dac641b0f3cef27a47e5d53a54f2f3f5b2fcffa',
  'HELLO there!': '06c311c9a4f221ccc0e59db469d70dd954463597807830c172c3d4644b1a383e',
};
const sha = (text: string): string => SHA[text] ?? '';
const listing = (path: string, names: string[] = []): FileListing => ({ path, truncated: false, entries: names.map((name) => ({ name, type: 'file', size: 1, mode: 0o644, modifiedAt: 0 })) });

function bodyOf(...parts: string[]): ReadableStream<Uint8Array> {
  return new ReadableStream({
    start(controller) {
      for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
      controller.close();
    },
  });
}

/** A body that gives `part`, then breaks as a dropped connection does. */
function cutAfter(part: string): ReadableStream<Uint8Array> {
  let sent = false;
  return new ReadableStream({
    pull(controller) {
      if (sent) return controller.error(new TypeError('network error'));
      sent = true;
      controller.enqueue(new TextEncoder().encode(part));
    },
  });
}

function fakeApi(overrides: Partial<FilesApi> = {}): FilesApi {
  return {
    list: vi.fn(async (_id: string, path: string) => listing(path)),
    uploadOffset: vi.fn(async () => 0),
    upload: vi.fn(async (r: UploadRequest) => ({ path: '/tmp/x', size: r.file.size, sha256: r.sha256 })),
    download: vi.fn(async (): Promise<DownloadAnswer> => ({ sha256: sha('hello world'), size: 11, start: 0, body: bodyOf('hello ', 'world') })),
    ...overrides,
  };
}

const settle = () => new Promise((r) => setTimeout(r, 0));
async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !check(); i++) await settle();
  expect(check()).toBe(true);
}

describe('files store', () => {
  it('names an upload as tether cp does, so either resumes the other', async () => {
    // The same value cli/file-copy.test.ts pins for the CLI's Node hash.
    expect(await uploadTransferId('dev_x', '/tmp/a', { name: 'a.bin', size: 10, lastModified: 1_700_000_000_000 })).toBe('e85765d70a0f4b8e4e9c2b919dbe939d');
    expect(childPath('/', 'a')).toBe('/a');
    expect(childPath('/tmp/', 'a')).toBe('/tmp/a');
  });

  it('lists a directory, and says FORBIDDEN as a code the view turns into a no-access message', async () => {
    const store = createFilesStore({ deviceId: DEVICE, api: fakeApi({ list: vi.fn(async () => Promise.reject(new ApiError('FORBIDDEN', 'Not allowed', 403))) }) });
    await store.getState().open('/tmp');
    expect(store.getState().listError?.code).toBe('FORBIDDEN');
    const ok = createFilesStore({ deviceId: DEVICE, api: fakeApi() });
    await ok.getState().open('/srv');
    expect(ok.getState().listing?.path).toBe('/srv');
    // The view passes the directory last listed on this device; anything not absolute starts at /tmp.
    expect(createFilesStore({ deviceId: DEVICE, api: fakeApi(), initialPath: '/srv/data' }).getState().path).toBe('/srv/data');
    expect(createFilesStore({ deviceId: DEVICE, api: fakeApi(), initialPath: 'srv' }).getState().path).toBe('/tmp');
  });

  it('uploads from the offset the device holds, with the whole file hash, and resumes after a cancel', async () => {
    let release: (() => void) | null = null;
    const sent: UploadRequest[] = [];
    const api = fakeApi({
      uploadOffset: vi.fn().mockResolvedValueOnce(0).mockResolvedValueOnce(3),
      upload: vi.fn(async (r: UploadRequest) => {
        sent.push(r);
        if (sent.length === 1) {
          await new Promise<void>((resolve, reject) => {
            release = resolve;
            r.signal.addEventListener('abort', () => reject(new DOMException('Cancelled', 'AbortError')));
          });
        }
        r.onProgress(r.file.size - r.offset);
        return { path: '/tmp/a.txt', size: r.file.size, sha256: r.sha256 };
      }),
    });
    const store = createFilesStore({ deviceId: DEVICE, api });
    await store.getState().open('/tmp');
    const file = new File(['abcdefgh'], 'a.txt');
    store.getState().upload([file]);
    await until(() => sent.length === 1);
    expect(sent[0]).toMatchObject({ path: '/tmp/a.txt', offset: 0, sha256: sha('abcdefgh'), transfer: await uploadTransferId(DEVICE, '/tmp/a.txt', file) });
    const [t] = store.getState().transfers;
    store.getState().cancel(t!.id);
    await until(() => store.getState().transfers[0]?.state === 'cancelled');
    expect(store.getState().transfers[0]?.resumable).toBe(true);
    expect(release).not.toBeNull();

    store.getState().resume(t!.id);
    await until(() => store.getState().transfers[0]?.state === 'done');
    expect(sent[1]).toMatchObject({ offset: 3, transfer: sent[0]?.transfer });
    expect(store.getState().transfers[0]).toMatchObject({ done: 8, size: 8 });
    // The directory it landed in is listed again.
    expect(api.list).toHaveBeenCalledTimes(2);
  });

  it('hashes a file over the whole-hash bound in slices, never reading it whole, to the same SHA-256', async () => {
    const parts = Array.from({ length: 40 }, (_, i) => new Uint8Array(64 * 1024).fill(i));
    const file = new File(parts, 'big.bin');
    const whole = vi.spyOn(file, 'arrayBuffer');
    const sent: UploadRequest[] = [];
    const api = fakeApi({ upload: vi.fn(async (r: UploadRequest) => (sent.push(r), { path: '/tmp/big.bin', size: r.file.size, sha256: r.sha256 })) });
    const store = createFilesStore({ deviceId: DEVICE, api, wholeHashMaxBytes: 1024 * 1024 });
    await store.getState().open('/tmp');
    store.getState().upload([file]);
    await until(() => store.getState().transfers[0]?.state === 'done');
    expect(whole).not.toHaveBeenCalled();
    // The same digest Web Crypto gives for the whole file.
    const expected = Array.from(new Uint8Array(await crypto.subtle.digest('SHA-256', await new Blob(parts).arrayBuffer())), (b) => b.toString(16).padStart(2, '0')).join('');
    expect(sent[0]?.sha256).toBe(expected);
    expect(store.getState().transfers[0]).toMatchObject({ done: file.size, size: file.size });
  });

  it('a cancel while a large file is hashed sends nothing, and the upload can be resumed', async () => {
    const api = fakeApi();
    const store = createFilesStore({ deviceId: DEVICE, api, wholeHashMaxBytes: 1024 });
    await store.getState().open('/tmp');
    store.getState().upload([new File(Array.from({ length: 200 }, () => new Uint8Array(64 * 1024)), 'big.bin')]);
    expect(store.getState().transfers[0]?.state).toBe('hashing');
    store.getState().cancel(store.getState().transfers[0]!.id);
    await until(() => store.getState().transfers[0]?.state === 'cancelled');
    expect(store.getState().transfers[0]?.resumable).toBe(true);
    expect(api.uploadOffset).not.toHaveBeenCalled();
    expect(api.upload).not.toHaveBeenCalled();
  });

  it('stops every transfer when the view closes', async () => {
    const api = fakeApi({
      upload: vi.fn(async (r: UploadRequest) => new Promise<never>((_, reject) => r.signal.addEventListener('abort', () => reject(new DOMException('Cancelled', 'AbortError'))))),
    });
    const store = createFilesStore({ deviceId: DEVICE, api });
    await store.getState().open('/tmp');
    store.getState().upload([new File(['abc'], 'a.txt')]);
    await until(() => vi.mocked(api.upload).mock.calls.length === 1);
    store.getState().dispose();
    await until(() => store.getState().transfers[0]?.state === 'cancelled');
    expect(store.getState().transfers[0]?.resumable).toBe(false);
  });

  it('saves a download only when its SHA-256 matches the header; a mismatch is CHECKSUM_MISMATCH and saves nothing', async () => {
    const save = vi.fn();
    const store = createFilesStore({ deviceId: DEVICE, api: fakeApi(), save });
    await store.getState().open('/tmp');
    store.getState().download('hello.txt');
    await until(() => store.getState().transfers[0]?.state === 'done');
    expect(save).toHaveBeenCalledTimes(1);
    expect(save.mock.calls[0]?.[1]).toBe('hello.txt');
    expect(await (save.mock.calls[0]?.[0] as Blob).text()).toBe('hello world');

    const bad = createFilesStore({ deviceId: DEVICE, save, api: fakeApi({ download: vi.fn(async () => ({ sha256: sha('other'), size: 11, start: 0, body: bodyOf('hello world') })) }) });
    await bad.getState().open('/tmp');
    bad.getState().download('hello.txt');
    await until(() => bad.getState().transfers[0]?.state === 'failed');
    expect(bad.getState().transfers[0]?.error?.code).toBe('CHECKSUM_MISMATCH');
    expect(save).toHaveBeenCalledTimes(1);
  });

  it('resumes a download with a range from the bytes it holds', async () => {
    const save = vi.fn();
    const whole = 'hello world';
    const download = vi
      .fn<FilesApi['download']>()
      .mockResolvedValueOnce({ sha256: sha(whole), size: 11, start: 0, etag: '"v1"', body: cutAfter('hello ') })
      .mockResolvedValueOnce({ sha256: sha(whole), size: 11, start: 6, etag: '"v1"', body: bodyOf('world') });
    const store = createFilesStore({ deviceId: DEVICE, save, api: fakeApi({ download }) });
    await store.getState().open('/tmp');
    store.getState().download('hello.txt');
    await until(() => store.getState().transfers[0]?.state === 'failed');
    expect(store.getState().transfers[0]?.error?.code).toBe('UNEXPECTED');
    store.getState().resume(store.getState().transfers[0]!.id);
    await until(() => store.getState().transfers[0]?.state === 'done');
    // The rest of the same version only (If-Range).
    expect(download.mock.calls[1]?.slice(2)).toEqual([6, expect.any(AbortSignal), '"v1"']);
    expect(await (save.mock.calls[0]?.[0] as Blob).text()).toBe(whole);
  });

  it('starts a resumed download over when the file changed: whole from the backend, or asked again when a range of another version came', async () => {
    const before = 'hello world';
    const after = 'HELLO there!';
    for (const changed of [
      // The backend saw the etag was stale and sent the whole file.
      [{ sha256: sha(after), size: 12, start: 0, etag: '"v2"', body: bodyOf(after) }],
      // A device without etags: a range of the new version, refused by its hash, then the whole file.
      [{ sha256: sha(after), size: 12, start: 6, body: bodyOf('there!') }, { sha256: sha(after), size: 12, start: 0, body: bodyOf(after) }],
    ]) {
      const save = vi.fn();
      const download = vi.fn<FilesApi['download']>().mockResolvedValueOnce({ sha256: sha(before), size: 11, start: 0, etag: '"v1"', body: cutAfter('hello ') });
      for (const answer of changed) download.mockResolvedValueOnce(answer);
      const store = createFilesStore({ deviceId: DEVICE, save, api: fakeApi({ download }) });
      await store.getState().open('/tmp');
      store.getState().download('hello.txt');
      await until(() => store.getState().transfers[0]?.state === 'failed');
      store.getState().resume(store.getState().transfers[0]!.id);
      await until(() => store.getState().transfers[0]?.state === 'done');
      expect(download).toHaveBeenCalledTimes(changed.length + 1);
      expect(await (save.mock.calls[0]?.[0] as Blob).text()).toBe(after);
    }
  });
});
