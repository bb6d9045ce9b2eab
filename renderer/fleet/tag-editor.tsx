import { useState } from 'react';
import { escapeControlCharacters as visible, type Tags } from '../../protocol/index.js';
import { toUiError } from '../api/ui-error.js';
import type { DevicesApi } from './devices-api.js';
import { parseTagAssignments, parseTagKeys } from './tag-input.js';

/**
 * Adds and removes tags on a set of devices (one device in the details view, the selection in the
 * bulk bar). The change reaches the table through the backend's fleet event, like anyone else's.
 */
export function TagEditor({ ids, tags, api, testId }: { ids: readonly string[]; tags?: Tags; api: DevicesApi; testId: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (change: { set?: Tags; remove?: string[] }): Promise<boolean> => {
    setBusy(true);
    setError(null);
    try {
      await api.editTags({ ids: [...ids], ...change });
      return true;
    } catch (err) {
      setError(toUiError(err).message);
      return false;
    } finally {
      setBusy(false);
    }
  };
  const add = async (): Promise<void> => {
    const parsed = parseTagAssignments(text);
    if (!parsed.ok) return setError(parsed.error);
    if (await run({ set: parsed.tags })) setText('');
  };
  const remove = async (keys: string[]): Promise<void> => {
    if (keys.length === 0) return setError('Type the tag keys to remove');
    if (await run({ remove: keys })) setText('');
  };

  return (
    <div className="tag-editor" data-testid={testId}>
      {tags !== undefined && (
        <ul className="tags">
          {Object.entries(tags).map(([key, value]) => (
            <li key={key} className="tag" data-testid="tag-chip">
              {visible(value === '' ? key : `${key}=${value}`)}{' '}
              <button type="button" className="link" aria-label={`Remove tag ${visible(key)}`} data-testid="tag-remove" disabled={busy} onClick={() => void remove([key])}>
                ×
              </button>
            </li>
          ))}
        </ul>
      )}
      <form
        className="tag-editor-form"
        onSubmit={(event) => {
          event.preventDefault();
          void add();
        }}
      >
        <input value={text} onChange={(e) => setText(e.target.value)} placeholder="key=value" aria-label="Tags" data-testid={`${testId}-input`} disabled={busy} />
        <button type="submit" data-testid={`${testId}-add`} disabled={busy}>
          Add tag
        </button>
        {tags === undefined && (
          <button type="button" data-testid={`${testId}-remove`} disabled={busy} onClick={() => void remove(parseTagKeys(text))}>
            Remove tag
          </button>
        )}
      </form>
      {error !== null && (
        <p className="form-error" role="alert" data-testid={`${testId}-error`}>
          {error}
        </p>
      )}
    </div>
  );
}
