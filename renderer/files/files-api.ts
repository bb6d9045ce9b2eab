import { FILE_SHA256_HEADER, FILE_SIZE_HEADER, FileListing, FileResult, Sha256Hex, UploadStatus } from '../../protocol/index.js';
import { ApiError } from '../api/api-client.js';
import { apiErrorOf, createJsonRequest } from '../api/json-request.js';

/** What an upload sends: the whole file's size and hash, and the part from `offset` on. */
export interface UploadRequest {
  deviceId: string;
  path: string;
  transfer: string;
  file: Blob;
  sha256: string;
  offset: number;
  /** Bytes of this request's body sent so far (not counting `offset`). */
  onProgress(sent: number): void;
  signal: AbortSignal;
}

/** A download's answer before its body is read: the whole file's hash and size, and the bytes from `from` on. */
export interface DownloadAnswer {
  sha256: string;
  size: number;
  /** Where `body` starts: `from` when the backend honoured the range, 0 when it sent the whole file. */
  start: number;
  /** This version of the file, for a resume's `ifRange` (absent from devices before etags). */
  etag?: string;
  body: ReadableStream<Uint8Array>;
}

/** The file-transfer part of the REST API (docs/files.md), same-origin with the session cookie. */
export interface FilesApi {
  list(deviceId: string, path: string): Promise<FileListing>;
  /** How many bytes of an interrupted upload the device holds. */
  uploadOffset(deviceId: string, path: string, transfer: string): Promise<number>;
  upload(request: UploadRequest): Promise<FileResult>;
  /** The bytes from `from` on, if the file is still the version `ifRange` names; else the whole file (`start` 0). */
  download(deviceId: string, path: string, from: number, signal: AbortSignal, ifRange?: string): Promise<DownloadAnswer>;
}

/** An upload with no progress for this long is given up (the backend's own idle bound is 60 s). */
export const UPLOAD_IDLE_MS = 90_000;

const filesPath = (deviceId: string, tail: string, query: Record<string, string>): string =>
  `/api/v1/devices/${encodeURIComponent(deviceId)}/files${tail}?${new URLSearchParams(query).toString()}`;

function parseJson(text: string): unknown {
  try {
    return text === '' ? undefined : (JSON.parse(text) as unknown);
  } catch {
    return undefined;
  }
}

/**
 * PUT with XMLHttpRequest: fetch has no upload progress (a streamed request body needs HTTP/2
 * and half-duplex support the backend's HTTP/1.1 does not give).
 */
function xhrUpload(url: string, request: UploadRequest): Promise<FileResult> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    let idle: ReturnType<typeof setTimeout> | undefined;
    const stillAlive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => {
        xhr.abort();
        reject(new ApiError('REQUEST_TIMEOUT', 'The upload made no progress', 0));
      }, UPLOAD_IDLE_MS);
    };
    const done = () => {
      clearTimeout(idle);
      request.signal.removeEventListener('abort', onAbort);
    };
    const onAbort = () => {
      done();
      xhr.abort();
      reject(request.signal.reason instanceof Error ? request.signal.reason : new DOMException('Cancelled', 'AbortError'));
    };
    xhr.open('PUT', url);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('accept', 'application/json');
    xhr.upload.onprogress = (event) => {
      stillAlive();
      request.onProgress(event.loaded);
    };
    xhr.onload = () => {
      done();
      const body = parseJson(xhr.responseText);
      if (xhr.status < 200 || xhr.status >= 300) return reject(apiErrorOf(xhr.status, body));
      const parsed = FileResult.safeParse(body);
      if (parsed.success) resolve(parsed.data);
      else reject(new ApiError('BAD_RESPONSE', 'Unexpected answer to the upload', xhr.status));
    };
    xhr.onerror = () => {
      done();
      reject(new ApiError('NETWORK', 'The connection broke during the upload', 0));
    };
    if (request.signal.aborted) return onAbort();
    request.signal.addEventListener('abort', onAbort);
    stillAlive();
    xhr.send(request.file.slice(request.offset));
  });
}

export function createFilesApi(options: { fetch?: typeof fetch; timeoutMs?: number } = {}): FilesApi {
  const doFetch = options.fetch ?? globalThis.fetch.bind(globalThis);
  const call = createJsonRequest({ fetch: options.fetch, timeoutMs: options.timeoutMs, prefix: '' });
  return {
    list: (deviceId, path) => call(FileListing, 'GET', filesPath(deviceId, '', { path })),
    uploadOffset: async (deviceId, path, transfer) => (await call(UploadStatus, 'GET', filesPath(deviceId, '/upload', { path, transfer }))).offset,
    upload: (request) =>
      xhrUpload(
        filesPath(request.deviceId, '/content', {
          path: request.path,
          transfer: request.transfer,
          size: String(request.file.size),
          sha256: request.sha256,
          offset: String(request.offset),
        }),
        request,
      ),
    download: async (deviceId, path, from, signal, ifRange) => {
      // The first byte waits for the device to hash the file (about 2 s per GB): a bound on the
      // headers only, since a timeout signal on the fetch would also cut a long body.
      const headers = new AbortController();
      const timer = setTimeout(() => headers.abort(new ApiError('REQUEST_TIMEOUT', 'The device did not start the download', 0)), options.timeoutMs ?? 120_000);
      let response: Response;
      try {
        response = await doFetch(filesPath(deviceId, '/content', { path }), {
          credentials: 'same-origin',
          headers: from > 0 ? { range: `bytes=${from}-`, ...(ifRange === undefined ? {} : { 'if-range': ifRange }) } : {},
          signal: AbortSignal.any([signal, headers.signal]),
        });
      } catch (cause) {
        if (signal.aborted) throw cause;
        if (headers.signal.aborted) throw headers.signal.reason;
        throw new ApiError('NETWORK', `Cannot reach the backend (${cause instanceof Error ? cause.message : String(cause)})`, 0);
      } finally {
        clearTimeout(timer);
      }
      if (!response.ok) throw apiErrorOf(response.status, parseJson(await response.text().catch(() => '')));
      const sha256 = Sha256Hex.safeParse(response.headers.get(FILE_SHA256_HEADER));
      const size = Number(response.headers.get(FILE_SIZE_HEADER));
      if (!sha256.success || !Number.isSafeInteger(size) || response.body === null) throw new ApiError('BAD_RESPONSE', 'The download came without its hash and size', response.status);
      const etag = response.headers.get('etag');
      return { sha256: sha256.data, size, start: response.status === 206 ? from : 0, ...(etag === null ? {} : { etag }), body: response.body };
    },
  };
}
